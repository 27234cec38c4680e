"""The baseline: the provider docs' polling loop behind a default Gradio app.

    AIMLAPI_KEY=... AIMLAPI_BASE_URL=http://127.0.0.1:PORT/v2 python benchmarks/baseline_app.py

What one gets by pasting the AI/ML API docs' sample into `gr.Interface`: default queue settings
(concurrency_limit 1, default max_threads), a synchronous function that POSTs the create request,
then `while True: time.sleep(15); GET; if status not in ("queued", "generating"): break`, and
returns the downloaded video. The key and base URL come from the environment, so it can be pointed
at the same standalone simulator as the real app. The loop is capped at MAX_POLLS (20 min) so a
benchmark can never hang on it; the docs' loop has no cap.
"""

from __future__ import annotations

import base64
import os
import tempfile
import time

import gradio as gr
import requests

BASE_URL = os.environ.get("AIMLAPI_BASE_URL", "https://api.aimlapi.com/v2").rstrip("/")
API_KEY = os.environ.get("AIMLAPI_KEY", "")
MODEL = "kling-video/v1/pro/image-to-video"
POLL_SECONDS = 15  # the docs' sample sleeps 15 s between status checks
MAX_POLLS = 80


def docs_loop(image_path: str, prompt: str, on_poll=None) -> dict:
    """The docs' sample: create, then sleep 15 s / GET until the status is neither queued nor generating."""
    headers = {"Authorization": f"Bearer {API_KEY}"}
    with open(image_path, "rb") as fh:
        data_uri = "data:image/jpeg;base64," + base64.b64encode(fh.read()).decode()
    body = {"model": MODEL, "image_url": data_uri, "prompt": prompt, "duration": 5}
    response = requests.post(f"{BASE_URL}/video/generations", json=body, headers=headers)
    response.raise_for_status()
    gen_id = response.json()["id"]
    data: dict = {}
    for _ in range(MAX_POLLS):
        time.sleep(POLL_SECONDS)
        response = requests.get(
            f"{BASE_URL}/video/generations", params={"generation_id": gen_id}, headers=headers
        )
        data = response.json()
        if on_poll:
            on_poll(gen_id, data)
        if data.get("status") not in ("queued", "generating"):
            break
    return data


def generate(image: str, prompt: str) -> str:
    """Run the docs' loop and return the finished video as a local file."""
    data = docs_loop(image, prompt)
    if data.get("status") != "completed":
        raise gr.Error(f"Generation ended with {data.get('status')}: {data.get('error')}")
    video = requests.get(data["video"]["url"])
    video.raise_for_status()
    fd, path = tempfile.mkstemp(suffix=".mp4")
    with os.fdopen(fd, "wb") as out:
        out.write(video.content)
    return path


def build() -> gr.Interface:
    """A plain Interface with every queue setting left at Gradio's default."""
    return gr.Interface(
        generate,
        [gr.Image(type="filepath", label="Start image"), gr.Textbox(label="Prompt")],
        gr.Video(label="Video"),
        title="Kling image to video (docs sample)",
        api_name="generate",
    )


if __name__ == "__main__":
    build().launch()
