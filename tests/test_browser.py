"""The page in a real Chromium (Playwright, sync API) against the app on its built-in simulator.

Each test drives the UI the way a visitor does: upload, type, click, reload, open links, resize.
Two apps are started per run: the default one (jobs take about 2.5 s) and a slow one (about 8.5 s)
for the reload-in-the-middle test. One Chromium serves the whole module; every test gets fresh
browser contexts, so localStorage (and with it the job history) starts empty.

Screenshots of the main screen and the phone layout are always taken; they are copied to docs/
when UPDATE_SCREENSHOTS=1 is set or when docs/ has none yet, so a test run does not dirty the tree.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from tests.browser_util import (
    CHROMIUM,
    LAUNCH_ARGS,
    WAIT_S,
    collect_statuses,
    fill_form,
    gen_id,
    job_files,
    open_app,
    status_text,
    toasts,
    unnamed_controls,
    upload,
    video_ready,
    video_state,
    wait_for,
    wait_for_gen_id,
    wait_for_video,
    wait_until_playing,
    watch,
)
from tests.conftest import ROOT, RunningApp, make_image, start_app, stop_app

pytestmark = pytest.mark.browser

DOCS = ROOT / "docs"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
LIGHTHOUSE = ROOT / "assets" / "example-lighthouse.jpg"
LIGHTHOUSE_PROMPT = "Slow push-in on the lighthouse, waves rolling, beam sweeping through dusk"


# ---- fixtures -------------------------------------------------------------------------------------------
def _unavailable(reason: str) -> None:
    """Browser tests cannot run here: a hard failure on CI, a skip on a developer machine."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true, so the browser tests must run)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Debian Chromium for the whole module."""
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (pip install -r requirements-dev.txt)")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def new_context(browser: Any) -> Iterator[Any]:
    """Makes fresh browser contexts (own localStorage, own cookies); all closed after the test."""
    made: list[Any] = []

    def make(**options: Any) -> Any:
        options.setdefault("viewport", DESKTOP)
        context = browser.new_context(**options)
        context.set_default_timeout(WAIT_S * 1000)
        made.append(context)
        return context

    yield make
    for context in made:
        context.close()


@pytest.fixture
def page(new_context: Any) -> Any:
    """A page in a fresh 1280x900 context."""
    return new_context().new_page()


@pytest.fixture(scope="module")
def slow_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    """The offline app with an 8 s render, long enough to reload the page in the middle of a job."""
    app = start_app(tmp_path_factory.mktemp("slow-app"), {"KLING_SIM_GENERATE_SECONDS": "8"})
    yield app
    stop_app(app)


@pytest.fixture(scope="module")
def image_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A valid 640x360 JPEG shared by the module."""
    return make_image(tmp_path_factory.mktemp("browser-images") / "start.jpg")


def start_job(page: Any, app: RunningApp, image: Path, prompt: str) -> str:
    """Open the app, fill the form, click Generate and return the generation id."""
    open_app(page, app.url)
    fill_form(page, image, prompt)
    page.locator("#generate-btn").click()
    return wait_for_gen_id(page)


def url_gen(page: Any) -> str:
    """The ?gen= value of the page's URL."""
    return parse_qs(urlparse(page.url).query).get("gen", [""])[0]


def scroll_to(page: Any, selector: str) -> None:
    """Scroll so the element's top sits just below the top of the viewport, and let it settle."""
    page.evaluate(
        """(sel) => {
          const top = document.querySelector(sel).getBoundingClientRect().top + window.scrollY;
          window.scrollTo({top: Math.max(0, top - 12), behavior: "instant"});
        }""",
        selector,
    )
    page.wait_for_function("() => new Promise((done) => requestAnimationFrame(() => done(true)))")


def save_screenshot(page: Any, name: str, tmp_path: Path) -> Path:
    """Screenshot the viewport; copy it to docs/ when asked to (or when docs/ has none yet)."""
    shot = tmp_path / name
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000, f"{name} is suspiciously small"
    target = DOCS / name
    if os.environ.get("UPDATE_SCREENSHOTS") == "1" or not target.exists():
        DOCS.mkdir(exist_ok=True)
        shutil.copyfile(shot, target)
    return shot


# ---- 1. the main path -----------------------------------------------------------------------------------
def test_generate_shows_progress_then_a_playing_mp4(
    page: Any, offline_app: RunningApp, image_file: Path
) -> None:
    open_app(page, offline_app.url)
    before = status_text(page)
    fill_form(page, image_file, "waves rolling toward the shore")
    assert "640×360" in page.locator("#image-info").inner_text()
    page.locator("#generate-btn").click()

    seen = collect_statuses(page, lambda: video_ready(page), "the video after clicking Generate")
    changes = [s for s in seen if s != before]
    assert len(changes) >= 2, f"the status changed fewer than twice: {seen}"
    assert any(re.search(r"queued|generating", s, re.I) for s in changes), seen
    assert "Done" in changes[-1], f"the last status is not the done message: {seen}"

    state = video_state(page)
    assert state is not None
    assert state["autoplay"], f"autoplay is off: {state}"
    assert state["error"] is None, f"the video element reports a media error: {state}"
    start, later = wait_until_playing(page)
    assert later > start
    assert not video_state(page)["paused"]

    # The download button hands over a real MP4.
    with page.expect_download() as download_info:
        page.locator("#video [data-testid='download-link']").click()
    download = download_info.value
    data = Path(download.path()).read_bytes()
    assert download.suggested_filename.endswith(".mp4"), download.suggested_filename
    assert len(data) > 1000 and data[4:8] == b"ftyp", f"not an MP4: {data[:16]!r}"
    # ...and so does the <video>'s own source, fetched with the page's cookies.
    response = page.request.get(state["src"])
    assert response.ok, response.status
    assert response.body()[4:8] == b"ftyp"

    gid = gen_id(page)
    assert gid, "no generation id in #gen-id"
    wait_for(lambda: url_gen(page) == gid, f"?gen={gid} in the page URL (now {page.url})")
    assert f"{gid}.json" in job_files(offline_app.data_dir)


# ---- 2. a file that is not an image ---------------------------------------------------------------------
def test_text_file_named_png_is_refused_without_starting_a_job(
    page: Any, offline_app: RunningApp, tmp_path: Path
) -> None:
    bad = tmp_path / "holiday.png"
    bad.write_text("This is a shopping list, not a picture.\n" * 20)
    jobs_before = job_files(offline_app.data_dir)
    open_app(page, offline_app.url)
    upload(page, bad, expect_info=False)
    # Whatever the app makes of the file (a warning, or Gradio's error badge), let it land first.
    watch(lambda: page.locator("#image-info").inner_text().strip(), seconds=10)
    page.locator("#prompt textarea").fill("the sea moves")
    page.locator("#generate-btn").click()

    def messages() -> str:
        return "\n".join([page.locator("#image-info").inner_text(), *toasts(page)])

    unreadable = re.compile(r"(could not read|cannot identify|not an image|unreadable)[^\n]*image", re.I)

    def refusal() -> str:
        text = messages()
        return text if unreadable.search(text) else ""

    text = wait_for(refusal, "a message saying the file is not a readable image", timeout=20)

    # Watch for two seconds: no generation id, no job record, status not "Submitted".
    def job_started() -> str:
        if gen_id(page):
            return f"gen id {gen_id(page)!r}"
        if job_files(offline_app.data_dir) != jobs_before:
            return "a new job record"
        return "Submitted" if "Submitted" in status_text(page) else ""

    started = watch(job_started, seconds=2)
    assert started is None, f"a job started for a text file: {started}"
    assert not url_gen(page)

    # Regression: Gradio's own preprocessing used to answer with an internal error and a server path.
    internals = [w for w in ("preprocess", "UnidentifiedImageError", "/tmp/", "event handler") if w in text]
    assert not internals, f"the refusal leaks Gradio internals {internals}: {text[:300]!r}"
    assert "holiday.png" in text or "JPEG or PNG" in text, text


# ---- 3. reload in the middle of a job -------------------------------------------------------------------
def test_reload_mid_job_resumes_and_shows_the_video(
    page: Any, slow_app: RunningApp, image_file: Path
) -> None:
    gid = start_job(page, slow_app, image_file, "a slow pan across the hills")
    jobs = job_files(slow_app.data_dir)
    wait_for(lambda: url_gen(page) == gid, "?gen= in the URL before the reload")
    assert video_state(page) is None, "the job finished before the reload; the test proves nothing"
    assert "Done" not in status_text(page)

    page.reload()
    page.locator("#generate-btn").wait_for(state="visible")
    seen = collect_statuses(page, lambda: video_ready(page), "the video after the reload")
    assert any(re.search(r"reconnecting|elapsed", s, re.I) for s in seen), (
        f"the status after the reload never said it was reconnecting or how long it has run: {seen}"
    )
    assert "Done" in seen[-1], seen
    assert gen_id(page) == gid
    assert job_files(slow_app.data_dir) == jobs, "the reload started another job"
    wait_until_playing(page)


def test_stop_waiting_is_honest_and_the_job_can_be_checked_later(
    page: Any, slow_app: RunningApp, image_file: Path
) -> None:
    gid = start_job(page, slow_app, image_file, "stop and check later")
    page.locator("#stop-btn").click()
    stopped = wait_for(
        lambda: "Stopped waiting" in status_text(page) and status_text(page), "the stop message"
    )
    assert gid in stopped and "may still finish" in stopped and "bill" in stopped, stopped
    assert video_state(page) is None, "the job finished before the stop; the test proves nothing"
    first = page.locator("#history button.thumbnail-item").first
    wait_for(
        lambda: "stopped" in (first.get_attribute("aria-label") or "") + first.inner_text(), "a stopped badge"
    )
    first.click()  # check it again from the history: polling resumes and the video appears
    wait_for(lambda: video_ready(page), "the video after checking again")
    assert gen_id(page) == gid and "Done" in status_text(page)


# ---- 4. a ?gen= link in another browser -----------------------------------------------------------------
def test_gen_link_shows_the_video_in_a_fresh_context(
    new_context: Any, offline_app: RunningApp, image_file: Path
) -> None:
    first = new_context().new_page()
    gid = start_job(first, offline_app, image_file, "a lighthouse beam sweeping")

    other = new_context().new_page()  # a new context: its own, empty localStorage
    open_app(other, f"{offline_app.url}?gen={gid}")
    wait_for_video(other)
    assert gen_id(other) == gid
    assert "Done" in status_text(other), status_text(other)
    wait_until_playing(other)


# ---- 5. each browser sees only its own history ----------------------------------------------------------
def test_history_shows_only_this_browsers_jobs(
    new_context: Any, offline_app: RunningApp, image_file: Path
) -> None:
    prompts = {"a": "red kite circling over alpha meadow", "b": "blue heron wading in bravo marsh"}
    pages = {who: new_context().new_page() for who in prompts}
    ids = {who: start_job(pages[who], offline_app, image_file, prompts[who]) for who in prompts}
    assert ids["a"] != ids["b"]

    for who, page in pages.items():
        wait_for_video(page)
        gallery = page.locator("#history")
        wait_for(lambda g=gallery: "done" in g.inner_text(), f"a finished job in {who}'s history")
        items = gallery.locator(".gallery-item")
        assert items.count() == 1, f"{who}'s history has {items.count()} items: {gallery.inner_text()!r}"
        shown = gallery.inner_text() + " ".join(
            img.get_attribute("alt") or "" for img in gallery.locator("img").all()
        )
        mine, theirs = prompts[who], prompts["b" if who == "a" else "a"]
        assert mine[:30] in shown, f"{who}'s own prompt is missing from its history: {shown!r}"
        assert theirs[:20] not in shown, f"{who}'s history shows the other browser's job: {shown!r}"


# ---- 6. phone layout ------------------------------------------------------------------------------------
def test_phone_layout_fits_the_screen(new_context: Any, offline_app: RunningApp, tmp_path: Path) -> None:
    context = new_context(viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)
    page = context.new_page()
    open_app(page, offline_app.url)
    fill_form(page, LIGHTHOUSE, LIGHTHOUSE_PROMPT)

    for selector in ("#start-image", "#generate-btn", "#prompt textarea"):
        element = page.locator(selector)
        assert element.is_visible(), f"{selector} is not visible on a phone"
        box = element.bounding_box()
        assert box is not None
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], f"{selector} overflows: {box}"
    widths = page.evaluate("() => [document.documentElement.scrollWidth, document.body.scrollWidth]")
    assert max(widths) <= PHONE["width"] + 1, f"the page scrolls sideways on a phone: scrollWidth {widths}"

    page.locator("#generate-btn").tap()
    wait_for_gen_id(page)
    wait_for_video(page)
    widths = page.evaluate("() => [document.documentElement.scrollWidth, document.body.scrollWidth]")
    assert max(widths) <= PHONE["width"] + 1, f"the finished page scrolls sideways: scrollWidth {widths}"
    video_box = page.locator("#video").bounding_box()
    assert video_box is not None and video_box["x"] + video_box["width"] <= PHONE["width"], video_box

    # The result on a phone: status, video and generation id at the top of the screen.
    scroll_to(page, "#status")
    save_screenshot(page, "screenshot-mobile.png", tmp_path)


# ---- 7. accessible names --------------------------------------------------------------------------------
def test_every_visible_control_has_an_accessible_name(page: Any, offline_app: RunningApp) -> None:
    open_app(page, offline_app.url)
    for panel in ("#advanced", "#key-panel"):  # open the accordions so their controls count too
        page.locator(f"{panel} > button").first.click()
    page.locator("#key-panel input[type='password']").wait_for(state="visible")

    offenders = unnamed_controls(page)
    assert not offenders, "controls without an accessible name:\n" + "\n".join(
        f"- <{o['tag']} type={o['type']!r}> role={o['role']!r} in #{o['owner']}: {o['html']}"
        for o in offenders
    )


# ---- 8. the tab title -----------------------------------------------------------------------------------
def test_tab_title_shows_progress_then_done(page: Any, offline_app: RunningApp, image_file: Path) -> None:
    open_app(page, offline_app.url)
    base = page.title()
    fill_form(page, image_file, "clouds drifting over the bay")
    page.locator("#generate-btn").click()
    titles: list[str] = []

    def done() -> bool:
        title = page.title()
        if not titles or titles[-1] != title:
            titles.append(title)
        return "✓" in title

    wait_for(done, "a ✓ in the tab title", interval=0.1)
    running = [t for t in titles if "⏳" in t or re.search(r"\b\d+:\d\d\b", t)]
    assert running, f"the title never showed progress while the job ran: {titles}"
    assert titles[-1].endswith(base), titles
    wait_for_video(page)


# ---- 9. Ctrl+Enter --------------------------------------------------------------------------------------
def test_ctrl_enter_in_the_prompt_starts_a_job(page: Any, offline_app: RunningApp, image_file: Path) -> None:
    open_app(page, offline_app.url)
    before = status_text(page)
    jobs = job_files(offline_app.data_dir)
    fill_form(page, image_file, "leaves swaying in the breeze")
    prompt = page.locator("#prompt textarea")
    prompt.press("Control+Enter")
    gid = wait_for_gen_id(page)
    assert status_text(page) != before
    new_jobs = job_files(offline_app.data_dir) - jobs
    assert new_jobs == {f"{gid}.json"}, f"Ctrl+Enter should start exactly one job, not {new_jobs}"
    assert prompt.input_value() == "leaves swaying in the breeze", "Ctrl+Enter also typed into the prompt"
    wait_for_video(page)


def test_double_click_sends_one_request(page: Any, offline_app: RunningApp, image_file: Path) -> None:
    open_app(page, offline_app.url)
    jobs = job_files(offline_app.data_dir)
    fill_form(page, image_file, "a double click")
    page.locator("#generate-btn").dblclick()
    gid = wait_for_gen_id(page)
    wait_for_video(page)
    assert job_files(offline_app.data_dir) - jobs == {f"{gid}.json"}, "a double click started two paid jobs"


# ---- the screenshot for the README (runs last) ----------------------------------------------------------
def test_main_screen_screenshot(page: Any, offline_app: RunningApp, tmp_path: Path) -> None:
    """A real 1280x900 screenshot of the main screen after a finished generation."""
    open_app(page, offline_app.url)
    fill_form(page, LIGHTHOUSE, LIGHTHOUSE_PROMPT)
    page.locator("#generate-btn").click()
    wait_for_video(page)
    wait_until_playing(page)
    wait_for(lambda: "done" in page.locator("#history").inner_text(), "the job in the history")
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    page.mouse.move(0, 0)
    scroll_to(page, "body")
    save_screenshot(page, "screenshot.png", tmp_path)
