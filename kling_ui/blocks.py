"""The page layout and its event wiring."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr

from kling_demo.catalogue import default_model, models
from kling_demo.runtime import Backend, browser_secret

from .access import KEY_HEADER, AccessPolicy
from .handlers import AXES, Handlers
from .history import caption

ASSETS = Path(__file__).resolve().parent.parent / "assets"
PAGE_JS = (Path(__file__).with_name("page.js")).read_text()
TITLE_JS = """(status) => {
  const base = window.__klingBaseTitle || "Kling image to video";
  const text = (status || "").replace(/[*`_]/g, "");
  let prefix = "";
  if (text.startsWith("✅")) prefix = "✓ Done · ";
  else if (text.startsWith("❌")) prefix = "✗ ";
  else { const m = text.match(/(\\d+:\\d\\d) elapsed/); if (m) prefix = "⏳ " + m[1] + " · "; }
  document.title = prefix + base;
  const canNotify = window.Notification && Notification.permission === "granted";
  if (text.startsWith("✅") && document.hidden && canNotify) {
    new Notification("Your Kling video is ready");
  }
  return [];
}"""
URL_JS = """(id) => {
  const u = new URL(window.location.href);
  if (id) { u.searchParams.set("gen", id); } else { u.searchParams.delete("gen"); }
  window.history.replaceState(null, "", u);
  if (id && window.Notification && Notification.permission === "default") {
    Notification.requestPermission();
  }
  return [];
}"""
CSS = """
#status { min-height: 3.5em; }
#history .grid-container { grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)) !important; }
.gradio-container { max-width: 1200px !important; }
"""


def checked_slider(*args: Any, **kwargs: Any) -> gr.Slider:
    """A slider whose range is checked by our validator, so an API caller's error names the control."""
    slider = gr.Slider(*args, **kwargs)

    def preprocess(payload: float | None) -> float | None:
        return None if payload is None else float(payload)

    slider.preprocess = preprocess  # type: ignore[method-assign]
    return slider


def raw_image(**kwargs: Any) -> gr.Image:
    """An image input that hands our code the file as uploaded, so our checks and fixes (not Pillow's
    defaults in Gradio) decide: transparency, CMYK profiles and non-images all get our own messages."""
    image = gr.Image(type="filepath", image_mode=None, **kwargs)
    plain = image.preprocess

    def preprocess(payload: Any) -> str | None:
        try:
            return plain(payload)
        except Exception:
            path = getattr(payload, "path", None)
            if path:
                return str(path)
            raise

    image.preprocess = preprocess  # type: ignore[method-assign]
    return image


def _examples() -> list[list[Any]]:
    rows = [
        (
            "example-lighthouse.jpg",
            "Slow push-in on the lighthouse, waves rolling, beam sweeping through dusk",
        ),
        ("example-cat-portrait.jpg", "The cat blinks slowly and turns its head toward the camera"),
        ("example-mountains.jpg", "Clouds drift over the peaks, gentle aerial pan to the right"),
    ]
    return [[str(ASSETS / name), prompt] for name, prompt in rows if (ASSETS / name).exists()]


def mode_banner(backend: Backend, public: bool) -> str:
    """Say plainly what this page is connected to."""
    if backend.offline:
        return (
            "🧪 **Offline preview.** No `AIMLAPI_KEY` is set, so videos are animated locally by the built-in "
            "simulator, not by Kling. Nothing is billed. Set `AIMLAPI_KEY` to use the real API."
        )
    who = "this app's key" if backend.server_key_set else "no server key: paste your own below"
    shared = " · public: per-visitor limits apply" if public and backend.server_key_set else ""
    return f"🔑 Connected to `{backend.config.base_url}` using {who}{shared}."


def build_demo(backend: Backend, *, public: bool = False, policy: AccessPolicy | None = None) -> gr.Blocks:
    """The whole page; `generate`, `submit` and `status` are its API endpoints."""
    policy = policy or AccessPolicy(backend, public)
    h = Handlers(backend, policy)
    first = default_model()
    secret = browser_secret(backend.config.data_dir)

    with gr.Blocks(title="Kling image to video", fill_width=False) as demo:
        history = gr.BrowserState([], storage_key="kling-demo-history", secret=secret)
        saved_key = gr.BrowserState("", storage_key="kling-demo-key", secret=secret)
        visitor_key = gr.State("")

        gr.Markdown("# 🎞️ Kling image to video\nTurn a still image and a prompt into a short video.")
        gr.Markdown(mode_banner(backend, public), elem_id="mode-banner")
        with gr.Row(equal_height=False):
            with gr.Column(scale=5):
                image = raw_image(
                    label="Start image",
                    sources=["upload", "clipboard"],
                    height=320,
                    elem_id="start-image",
                )
                image_info = gr.Markdown(elem_id="image-info")
                fit = gr.Radio(
                    ["none", "crop", "pad"],
                    value="none",
                    label="Fit to Kling's 1:2.5–2.5:1",
                    info="Images outside the range are refused unless cropped or padded.",
                )
                fit_view = gr.Image(label="What will be sent", visible=False, interactive=False, height=200)
                prompt = gr.Textbox(
                    label="Prompt",
                    lines=3,
                    max_lines=8,
                    elem_id="prompt",
                    placeholder="Describe the motion: e.g. slow push-in, waves rolling, hair in the wind",
                )
                model = gr.Dropdown(
                    [(m.label, m.id) for m in models()],
                    value=first.id,
                    label="Model",
                    allow_custom_value=True,
                    elem_id="model",
                )
                model_info = gr.Markdown(f"<small>{first.describe()} · `{first.id}`</small>")
                with gr.Row():
                    go = gr.Button("Generate", variant="primary", elem_id="generate-btn", scale=3)
                    stop = gr.Button("Stop waiting", variant="secondary", elem_id="stop-btn", scale=1)
                eta = gr.Markdown(h.eta_text(first.id, first.default_duration), elem_id="eta")
                quota = gr.Markdown(elem_id="quota")
                with gr.Accordion("Advanced", open=False, elem_id="advanced"):
                    duration = gr.Dropdown(
                        list(first.durations),
                        value=first.default_duration,
                        label="Duration (seconds)",
                        allow_custom_value=True,
                    )
                    negative = gr.Textbox(
                        label="Negative prompt",
                        lines=2,
                        placeholder="What to avoid, e.g. blur, distortion, text",
                    )
                    cfg = checked_slider(
                        0, 1, value=0.5, step=0.05, label="cfg_scale (creativity ↔ prompt adherence)"
                    )
                    end_image = raw_image(
                        label="End frame (optional)",
                        height=200,
                        visible=first.end_frame_field is not None,
                    )
                    with gr.Group(visible=first.camera_control is not None) as camera_group:
                        camera = gr.Dropdown(
                            ["none", *(first.camera_control.types if first.camera_control else [])],
                            value="none",
                            label="Camera movement",
                            allow_custom_value=True,
                        )
                        with gr.Row(visible=False) as axes_row:
                            sliders = [
                                checked_slider(-10, 10, value=0, step=0.5, label=f"Camera {axis}")
                                for axis in AXES
                            ]
                    audio = gr.Checkbox(label="Generate audio", value=False, visible=first.has_audio)
                with gr.Accordion("API key", open=False, elem_id="key-panel"):
                    key_box = gr.Textbox(
                        label="Your AI/ML API key",
                        type="password",
                        placeholder="Optional",
                        info="Used only for your session; never stored on the server.",
                    )
                    remember = gr.Checkbox(label="Remember on this device", value=False)
                    with gr.Row():
                        test_key = gr.Button("Test key", size="sm")
                        forget = gr.Button("Forget key", size="sm")
                    key_status = gr.Markdown(f"Using {policy.resolve('', None).label()}.")
            with gr.Column(scale=6):
                status = gr.Markdown(
                    "Upload an image, describe the motion and press **Generate** (Ctrl+Enter).",
                    elem_id="status",
                )
                video = gr.Video(
                    label="Video",
                    autoplay=True,
                    loop=True,
                    interactive=False,
                    elem_id="video",
                    buttons=["download"],
                )
                gen_id = gr.Textbox(
                    label="Generation id", interactive=False, elem_id="gen-id", buttons=["copy"]
                )
                with gr.Accordion("History (this browser only)", open=True):
                    gallery = gr.Gallery(
                        label="Your jobs",
                        columns=4,
                        height=240,
                        allow_preview=False,
                        preview=False,
                        object_fit="cover",
                        elem_id="history",
                    )
                    with gr.Row():
                        rerun = gr.Button("Re-run with these settings", size="sm", interactive=False)
                        clear = gr.Button("Clear history", size="sm")
                    picked = gr.State(None)
                    credits_md = gr.Markdown(elem_id="credits")
        examples = _examples()
        if examples:
            gr.Examples(
                examples,
                [image, prompt],
                cache_examples=False,
                label="Examples (free: nothing runs until you press Generate)",
            )
        gr.Markdown(
            f"<small>API: `generate`, `submit`, `status` endpoints (see *Use via API*). Programs may send "
            f"their own key in the `{KEY_HEADER}` header.</small>"
        )

        inputs = [image, prompt, model, duration, negative, cfg, end_image, camera, *sliders, audio, fit]
        gen_event = go.click(
            h.generate,
            [*inputs, visitor_key],
            [status, video, gen_id],
            api_name="generate",
            validator=h.validate,
            concurrency_limit=None,
            trigger_mode="once",
            show_progress="minimal",
        )
        gen_event.then(h.remember, [gen_id, history], history, api_visibility="private")
        gen_event.then(h.quota_text, visitor_key, quota, api_visibility="private", queue=False)
        demo.load(h.quota_text, visitor_key, quota, api_visibility="private", queue=False)
        submit_btn = gr.Button(visible=False)
        submit_btn.click(
            h.submit, [*inputs, visitor_key], [gen_id, status], api_name="submit", concurrency_limit=None
        )
        status_btn = gr.Button(visible=False)
        status_btn.click(
            h.status, [gen_id, visitor_key], [status, video], api_name="status", concurrency_limit=None
        )
        demo.load(None, None, None, js=PAGE_JS)
        resume_event = demo.load(
            h.resume,
            [history, visitor_key],
            [status, video, gen_id],
            api_visibility="private",
            concurrency_limit=None,
        )
        gen_id.change(None, [gen_id], None, js=URL_JS)
        gen_id.change(h.remember, [gen_id, history], history, api_visibility="private")
        status.change(None, [status], None, js=TITLE_JS)
        stop.click(
            h.stopped,
            [gen_id],
            [status],
            cancels=[gen_event, resume_event],
            api_visibility="private",
            queue=False,
        ).then(
            lambda gid, hist: h.remember(gid, hist, "stopped"),
            [gen_id, history],
            history,
            api_visibility="private",
        )

        image.change(
            h.describe_image, [image, fit], [image_info, fit_view], api_visibility="private", queue=False
        )
        fit.change(
            h.describe_image, [image, fit], [image_info, fit_view], api_visibility="private", queue=False
        )
        model.change(
            h.model_changed,
            [model, duration],
            [duration, negative, cfg, end_image, camera_group, audio, model_info, eta],
            api_visibility="private",
            queue=False,
        )
        duration.change(h.eta_text, [model, duration], eta, api_visibility="private", queue=False)
        camera.change(
            lambda c: gr.update(visible=c == "simple"),
            camera,
            axes_row,
            api_visibility="private",
            queue=False,
        )

        def show_history(items: list[dict[str, Any]] | None) -> tuple[Any, str]:
            items = items or []
            thumbs = [(t, caption(i)) for i in items if (t := h.thumbnail(i.get("id", "")))]
            total = sum(i.get("credits_used") or 0 for i in items)
            return thumbs, (f"Credits used in this history: **{total:g}**" if total else "")

        history.change(show_history, history, [gallery, credits_md], api_visibility="private", queue=False)
        demo.load(show_history, history, [gallery, credits_md], api_visibility="private", queue=False)

        def pick(items: list[dict[str, Any]] | None, evt: gr.SelectData) -> tuple[Any, Any, str]:
            shown = [i for i in items or [] if h.thumbnail(i.get("id", ""))]
            item = shown[evt.index] if 0 <= evt.index < len(shown) else None
            return item, gr.update(interactive=item is not None), item["id"] if item else ""

        open_event = gallery.select(pick, history, [picked, rerun, gen_id], api_visibility="private").then(
            h.follow,
            [gen_id, visitor_key],
            [status, video, gen_id],
            api_visibility="private",
            concurrency_limit=None,
        )
        stop.click(None, None, None, cancels=[open_event], api_visibility="private", queue=False)
        rerun.click(
            h.rerun_values,
            picked,
            [image, prompt, model, duration, negative, cfg, camera, *sliders, audio, fit],
            api_visibility="private",
            queue=False,
        )
        clear.click(lambda: [], None, history, api_visibility="private", queue=False)

        key_box.change(lambda k: k.strip(), key_box, visitor_key, api_visibility="private", queue=False)
        key_box.change(h.key_label, key_box, key_status, api_visibility="private", queue=False)
        remember.change(
            lambda k, r: k.strip() if r else "",
            [key_box, remember],
            saved_key,
            api_visibility="private",
            queue=False,
        )
        demo.load(
            lambda k: (k, k, bool(k)),
            saved_key,
            [visitor_key, key_box, remember],
            api_visibility="private",
            queue=False,
        )
        test_key.click(h.test_key, visitor_key, key_status, api_visibility="private")
        forget.click(
            lambda: ("", "", "", False),
            None,
            [visitor_key, key_box, saved_key, remember],
            api_visibility="private",
            queue=False,
        )
    return demo
