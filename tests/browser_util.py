"""Helpers for the Playwright tests in test_browser.py: launching Chromium, waiting on the page."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

CHROMIUM = Path(os.environ.get("KLING_TEST_CHROMIUM", "/usr/bin/chromium"))
# Playwright's own browser download is not used: Debian's chromium, headless, with nothing that
# phones home. The autoplay policy is the desktop Chrome default, so "the video plays by itself"
# is tested under the rule real visitors get, not a permissive headless one.
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=document-user-activation-required",
]
WAIT_S = 60.0  # the longest any single wait may take
POLL_S = 0.2

T = TypeVar("T")


def wait_for(check: Callable[[], T], what: str, timeout: float = WAIT_S, interval: float = POLL_S) -> T:
    """Call `check` until it returns something truthy; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def watch(check: Callable[[], T], seconds: float, interval: float = POLL_S) -> T | None:
    """Call `check` for `seconds`; the first truthy value it returns, or None if it never does."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    return None


# ---- reading the page -----------------------------------------------------------------------------------
STATUS_MD = "#status [data-testid='markdown']"
VIDEO_STATE_JS = """() => {
  const v = document.querySelector('#video video');
  if (!v) return null;
  return {readyState: v.readyState, currentTime: v.currentTime, paused: v.paused, autoplay: v.autoplay,
          muted: v.muted, src: v.currentSrc || v.src, error: v.error ? v.error.code : null};
}"""


def status_text(page: Any) -> str:
    """The status Markdown as the visitor reads it (without Gradio's progress timer)."""
    loc = page.locator(STATUS_MD)
    return loc.inner_text().strip() if loc.count() else ""


def gen_id(page: Any) -> str:
    """The value of the Generation id box."""
    return page.locator("#gen-id textarea").input_value().strip()


def video_state(page: Any) -> dict[str, Any] | None:
    """readyState, currentTime, paused, autoplay, muted, src of the result <video>, or None."""
    return page.evaluate(VIDEO_STATE_JS)


def video_ready(page: Any) -> dict[str, Any] | None:
    """The video's state once it has a decodable frame (readyState >= 2), else None."""
    state = video_state(page)
    return state if state and state["readyState"] >= 2 else None


def collect_statuses(page: Any, until: Callable[[], Any], what: str, timeout: float = WAIT_S) -> list[str]:
    """Poll the status every 200 ms until `until()` is truthy; the distinct texts seen, in order."""
    seen: list[str] = []

    def step() -> Any:
        text = status_text(page)
        if text and (not seen or seen[-1] != text):
            seen.append(text)
        return until()

    try:
        wait_for(step, what, timeout)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; statuses seen: {seen}") from None
    text = status_text(page)
    if text and seen[-1:] != [text]:
        seen.append(text)
    return seen


def job_files(data_dir: Path) -> set[str]:
    """Names of the job records the app has written."""
    folder = data_dir / "jobs"
    return {p.name for p in folder.glob("*.json")} if folder.is_dir() else set()


# ---- driving the page -----------------------------------------------------------------------------------
def open_app(page: Any, url: str) -> None:
    """Load the page and wait until Gradio has rendered the form."""
    page.goto(url)
    page.locator("#generate-btn").wait_for(state="visible", timeout=WAIT_S * 1000)


def upload(page: Any, image: Path, *, expect_info: bool = True) -> None:
    """Put a file into the start-image input and wait for the upload; by default also until the app
    has described the image (its size in #image-info)."""
    with page.expect_response(lambda r: "/gradio_api/upload" in r.url, timeout=WAIT_S * 1000):
        page.locator("#start-image input[type='file']").set_input_files(str(image))
    if expect_info:
        wait_for(lambda: "×" in page.locator("#image-info").inner_text(), "the image-info line")


def fill_form(page: Any, image: Path, prompt: str) -> None:
    """Upload the image and type the prompt."""
    upload(page, image)
    page.locator("#prompt textarea").fill(prompt)


def wait_for_gen_id(page: Any, timeout: float = WAIT_S) -> str:
    """Wait until the Generation id box holds an id and return it."""
    return wait_for(lambda: gen_id(page), "a generation id in #gen-id", timeout)


def wait_for_video(page: Any, timeout: float = WAIT_S) -> dict[str, Any]:
    """Wait until the result video can show a frame; its state."""
    return wait_for(lambda: video_ready(page), "the video to reach readyState >= 2", timeout)


def wait_until_playing(page: Any, timeout: float = 20.0) -> tuple[float, float]:
    """Wait until the video's currentTime moves forward by a clear margin; (first, later) times."""
    first = video_state(page)
    assert first is not None, "no <video> in #video"
    start = first["currentTime"]

    def moved() -> float | None:
        state = video_state(page)
        return state["currentTime"] if state and state["currentTime"] > start + 0.3 else None

    try:
        later = wait_for(moved, "the video's currentTime to advance", timeout)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; video state: {video_state(page)}") from None
    return start, later


def toasts(page: Any) -> list[str]:
    """Texts of the Gradio toasts on screen."""
    return [t.strip() for t in page.locator("[data-testid='toast-body']").all_inner_texts()]


# ---- accessibility --------------------------------------------------------------------------------------
MARK_CONTROLS_JS = """() => {
  const out = [];
  let i = 0;
  for (const el of document.querySelectorAll('input, textarea, select, button')) {
    const r = el.getBoundingClientRect();
    const shown = el.checkVisibility({checkOpacity: true, visibilityProperty: true});
    if (!shown || r.width === 0 || r.height === 0) continue;
    el.setAttribute('data-a11y-check', String(i));
    const owner = el.closest('[id]');
    out.push({index: i, tag: el.tagName.toLowerCase(), type: el.getAttribute('type') || '',
              owner: owner ? owner.id : '', html: el.outerHTML.slice(0, 160)});
    i++;
  }
  return out;
}"""


def unnamed_controls(page: Any) -> list[dict[str, Any]]:
    """Visible form controls and buttons whose accessible name (as Chromium computes it) is empty.

    Chromium's own accessibility tree is asked through CDP, so labels, aria-label, aria-labelledby,
    title and button text all count exactly as a screen reader would see them.
    """
    controls = page.evaluate(MARK_CONTROLS_JS)
    cdp = page.context.new_cdp_session(page)
    try:
        root = cdp.send("DOM.getDocument", {"depth": 0})["root"]["nodeId"]
        offenders = []
        for control in controls:
            selector = f"[data-a11y-check='{control['index']}']"
            node_id = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
            nodes = cdp.send("Accessibility.getPartialAXTree", {"nodeId": node_id, "fetchRelatives": False})
            ax = nodes["nodes"][0] if nodes.get("nodes") else {}
            name = (ax.get("name") or {}).get("value", "")
            if not str(name).strip():
                role = (ax.get("role") or {}).get("value", "")
                offenders.append({**control, "role": role})
        return offenders
    finally:
        cdp.detach()
