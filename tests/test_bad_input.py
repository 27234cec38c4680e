"""Bad input: a clear message naming the problem and the fix (or a noted automatic fix), never a create."""

from __future__ import annotations

import base64
import io
import struct
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image

from kling_demo.catalogue import get_model, models
from kling_demo.client import KlingClient
from kling_demo.errors import InputError
from kling_demo.eta import EtaBook
from kling_demo.request import CreateRequest, Settings
from kling_demo.service import JobService
from kling_demo.simulator import Simulator, SimulatorConfig
from tests.conftest import RunningApp, make_image, start_app, stop_app
from tests.spec_check import assert_valid_body

V1 = "kling-video/v1/pro/image-to-video"
V16_STANDARD = "kling-video/v1.6/standard/image-to-video"  # no camera control, no end frame
V21_PRO = "kling-video/v2.1/pro/image-to-video"  # camera control, no end frame
V26 = "klingai/video-v2-6-pro-image-to-video"  # prompt required
O1 = "klingai/video-o1-image-to-video"  # no negative prompt
V3 = "klingai/video-v3-standard-image-to-video"  # 3-15 s, tail image, audio
V3_OMNI = "klingai/video-v3-omni-720p-image-to-video"  # an end frame excludes audio
V3_TURBO = "klingai/video-v3-turbo-pro-image-to-video"  # 3072-character prompts


# --- awkward files, drawn with Pillow (or written byte by byte where Pillow will not) ---------------------


def png_bytes(width: int, height: int, bit_depth: int, color_type: int, rows: Iterator[bytes]) -> bytes:
    """A PNG written chunk by chunk, for what Pillow cannot save (16-bit RGBA, 1.6-gigapixel bombs)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(b"\x00" + row) for row in rows) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def blank_bilevel_png(path: Path, side: int) -> Path:
    """A side x side black-and-white PNG of a few hundred KB that decodes to side² pixels."""
    row = bytes((side + 7) // 8)
    path.write_bytes(png_bytes(side, side, 1, 0, (row for _ in range(side))))
    return path


def rgba16_png(path: Path) -> Path:
    """A 16-bit-per-channel RGBA PNG: transparent all round, an opaque red block in the middle."""
    pixels = np.zeros((320, 400, 4), dtype=">u2")
    pixels[80:240, 100:300] = (65535, 0, 0, 65535)
    path.write_bytes(png_bytes(400, 320, 16, 6, (r.tobytes() for r in pixels)))
    return path


def animated_gif(path: Path) -> Path:
    """Two 400x400 frames: red, then blue."""
    frames = [Image.new("RGB", (400, 400), colour) for colour in ("red", "blue")]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    return path


def cmyk_jpeg(path: Path) -> Path:
    """A print-shop CMYK JPEG (orange: no cyan, half magenta, full yellow)."""
    Image.new("CMYK", (640, 480), (0, 128, 255, 0)).save(path, "JPEG")
    return path


def phone_photo(path: Path) -> Path:
    """A 640x480 sensor image with EXIF Orientation 6: upright it is 480x640, red mark top right."""
    img = Image.new("RGB", (640, 480), "white")
    img.paste((255, 0, 0), (0, 0, 100, 100))  # stored top-left = upright top-right after a 90° turn
    exif = Image.Exif()
    exif[0x0112] = 6
    img.save(path, "JPEG", exif=exif, quality=95)
    return path


def truncated(path: Path, fmt: str) -> Path:
    """A real image cut off half-way, as an interrupted download leaves it."""
    buf = io.BytesIO()
    Image.new("RGB", (640, 480), "teal").save(buf, fmt)
    path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    return path


def written(path: Path, data: bytes) -> Path:
    """A file with exactly these bytes."""
    path.write_bytes(data)
    return path


def solid(path: Path, size: tuple[int, int]) -> Path:
    """A plain PNG of a given size."""
    Image.new("RGB", size, "olive").save(path)
    return path


def sent_image(request: CreateRequest) -> Image.Image:
    """The start image exactly as the create body carries it."""
    uri = request.body["image_url"]
    assert uri.startswith("data:image/jpeg;base64,")
    img = Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))
    img.load()
    return img


def near(pixel: Any, expected: tuple[int, int, int], tolerance: int = 12) -> bool:
    """JPEG-tolerant colour comparison."""
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, expected, strict=True))


# --- a simulator behind a JobService, so any create that slips through is counted -------------------------


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulator]:
    """One simulator for the module; tiny renders keep accepted jobs cheap."""
    config = SimulatorConfig(
        data_dir=tmp_path_factory.mktemp("sim"),
        queue_seconds=0.2,
        generate_seconds=0.5,
        video_short_side=16,
        fps=1,
        seed=3,
    )
    with Simulator(config) as running:
        yield running


@pytest.fixture(scope="module")
def service(sim: Simulator, tmp_path_factory: pytest.TempPathFactory) -> JobService:
    """The real prepare-and-submit path, pointed at the simulator."""
    client = KlingClient("bad-input", sim.base_url)
    return JobService(client, tmp_path_factory.mktemp("app"), eta=EtaBook(None, seed=lambda m, d: 2.0))


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A valid 640x360 JPEG."""
    return make_image(tmp_path_factory.mktemp("good") / "good.jpg")


def refuse(sim: Simulator, service: JobService, image: Any, settings: Settings, *needles: str) -> InputError:
    """The input is refused with a message holding every needle, and nothing reaches the API."""
    before = sim.create_count
    with pytest.raises(InputError) as caught:
        service.submit(service.prepare(image, settings), settings)
    assert sim.create_count == before, "a refused input must not send a create request"
    message = caught.value.user_message()
    for needle in needles:
        assert needle in message, f"{needle!r} not in {message!r}"
    return caught.value


def accept(sim: Simulator, service: JobService, image: Any, settings: Settings) -> CreateRequest:
    """The input is accepted: the body matches the verbatim spec and the simulator creates the task."""
    before = sim.create_count
    request = service.prepare(image, settings)
    assert_valid_body(request.body)
    record = service.submit(request, settings)
    assert sim.create_count == before + 1
    assert record.state == "queued" and sim.api.store.get(record.id) is not None
    return request


# --- images ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("image", [None, ""], ids=["none", "empty-string"])
def test_no_image(sim: Simulator, service: JobService, image: Any) -> None:
    error = refuse(sim, service, image, Settings(prompt="waves"), "Add a start image")
    assert error.field == "image"


BAD_FILES: dict[str, tuple[Callable[[Path], Path], tuple[str, ...]]] = {
    "text-named-jpg": (
        lambda d: written(d / "photo.jpg", b"these are not pixels"),
        ("Could not read 'photo.jpg' as an image", "renamed file", "Use a JPEG or PNG"),
    ),
    "pdf-named-png": (
        lambda d: written(d / "scan.png", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj"),
        ("Could not read 'scan.png' as an image", "it is a PDF", "Use a JPEG or PNG"),
    ),
    "svg-named-png": (
        lambda d: written(d / "logo.png", b'<svg xmlns="http://www.w3.org/2000/svg"/>'),
        ("it is an SVG drawing", "export it as PNG"),
    ),
    "truncated-jpeg": (
        lambda d: truncated(d / "cut.jpg", "JPEG"),
        ("'cut.jpg' could not be decoded", "truncated or corrupt", "Re-export or re-download"),
    ),
    "truncated-png": (
        lambda d: truncated(d / "cut.png", "PNG"),
        ("'cut.png' could not be decoded", "truncated or corrupt", "Re-export or re-download"),
    ),
    "zero-bytes": (
        lambda d: written(d / "empty.jpg", b""),
        ("'empty.jpg' is empty (0 bytes)", "Upload the image again"),
    ),
    "decompression-bomb": (
        lambda d: blank_bilevel_png(d / "bomb.png", 30000),
        ("'bomb.png' is 30000x30000 px (900 MP)", "the limit is 80 MP", "downscale it first"),
    ),
    "20000x20000": (
        lambda d: blank_bilevel_png(d / "huge.png", 20000),
        ("'huge.png' is 20000x20000 px (400 MP)", "downscale it first"),
    ),
    "just-over-80-mp": (
        lambda d: blank_bilevel_png(d / "big.png", 9000),
        ("'big.png' is 9000x9000 px (81 MP)", "downscale it first"),
    ),
    "under-300-px": (
        lambda d: solid(d / "small.png", (299, 400)),
        ("at least 300 px on each side", "'small.png' is 299x400 px", "Use a larger image"),
    ),
    "wider-than-2.5": (
        lambda d: solid(d / "banner.png", (1000, 300)),
        ("'banner.png' is 1000x300 px", "3.33:1", "2.5:1 (wide)", "Choose Fit: crop or pad"),
    ),
    "taller-than-2.5": (
        lambda d: solid(d / "strip.png", (300, 1000)),
        ("'strip.png' is 300x1000 px", "1:3.33", "1:2.5 (tall)", "Choose Fit: crop or pad"),
    ),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_image_file_is_refused(sim: Simulator, service: JobService, tmp_path: Path, case: str) -> None:
    build, needles = BAD_FILES[case]
    error = refuse(sim, service, build(tmp_path), Settings(prompt="waves"), *needles)
    assert error.field == "image"


@pytest.mark.parametrize("fit", ["crop", "pad"])
@pytest.mark.parametrize("size", [(1000, 300), (300, 1000)], ids=["wide", "tall"])
def test_out_of_ratio_image_is_accepted_with_fit(
    sim: Simulator, service: JobService, tmp_path: Path, fit: str, size: tuple[int, int]
) -> None:
    request = accept(sim, service, solid(tmp_path / "odd.png", size), Settings(prompt="waves", fit=fit))  # type: ignore[arg-type]
    sent = sent_image(request)
    assert 1 / 2.5 <= sent.width / sent.height <= 2.5
    assert min(sent.size) >= 300
    word = "Cropped to" if fit == "crop" else "Padded to"
    assert any(note.startswith(word) for note in request.notes), request.notes


def test_animated_gif_sends_its_first_frame(sim: Simulator, service: JobService, tmp_path: Path) -> None:
    request = accept(sim, service, animated_gif(tmp_path / "loop.gif"), Settings(prompt="waves"))
    assert "First frame of an animated GIF used" in request.notes
    assert any("Converted from GIF to JPEG" in note for note in request.notes)
    sent = sent_image(request)
    assert near(sent.getpixel((200, 200)), (255, 0, 0)), "not the first (red) frame"


def test_cmyk_jpeg_is_converted_to_rgb(sim: Simulator, service: JobService, tmp_path: Path) -> None:
    request = accept(sim, service, cmyk_jpeg(tmp_path / "print.jpg"), Settings(prompt="waves"))
    assert "Converted from CMYK to RGB" in request.notes
    sent = sent_image(request)
    assert sent.mode == "RGB"
    assert near(sent.getpixel((320, 240)), (255, 127, 0)), sent.getpixel((320, 240))


def test_16_bit_png_with_alpha_is_flattened_on_white(
    sim: Simulator, service: JobService, tmp_path: Path
) -> None:
    request = accept(sim, service, rgba16_png(tmp_path / "deep.png"), Settings(prompt="waves"))
    assert "Transparent areas filled with white" in request.notes
    sent = sent_image(request)
    assert sent.mode == "RGB" and sent.size == (400, 320)
    assert near(sent.getpixel((5, 5)), (255, 255, 255))
    assert near(sent.getpixel((200, 160)), (255, 0, 0))


def test_exif_rotated_phone_photo_is_sent_upright(
    sim: Simulator, service: JobService, tmp_path: Path
) -> None:
    request = accept(sim, service, phone_photo(tmp_path / "IMG_0001.jpg"), Settings(prompt="waves"))
    assert "Rotated upright from EXIF" in request.notes
    sent = sent_image(request)
    assert sent.size == (480, 640), "the portrait photo must be sent portrait"
    assert near(sent.getpixel((470, 10)), (255, 0, 0)), "the mark must end up top right"
    assert near(sent.getpixel((10, 10)), (255, 255, 255))


# --- prompts ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("prompt", ["", "   ", "\x00\x07\u200b"], ids=["empty", "spaces", "only-control"])
def test_empty_prompt_where_required(sim: Simulator, service: JobService, good: Path, prompt: str) -> None:
    settings = Settings(prompt=prompt, model=V26)
    error = refuse(sim, service, good, settings, "Kling 2.6 Pro needs a prompt", "describe the motion")
    assert error.field == "prompt"


def test_empty_prompt_where_optional_is_left_out(sim: Simulator, service: JobService, good: Path) -> None:
    request = accept(sim, service, good, Settings(prompt="", model=V1))
    assert "prompt" not in request.body


@pytest.mark.parametrize(("model", "limit"), [(V1, 2500), (V3_TURBO, 3072)])
def test_prompt_length_limit(sim: Simulator, service: JobService, good: Path, model: str, limit: int) -> None:
    assert get_model(model).prompt_max == limit
    accept(sim, service, good, Settings(prompt="w" * limit, model=model))
    error = refuse(
        sim,
        service,
        good,
        Settings(prompt="w" * (limit + 1), model=model),
        f"The prompt is {limit + 1} characters",
        f"takes at most {limit}",
        "Shorten it",
    )
    assert error.field == "prompt"


def test_control_characters_go_and_emoji_stay(sim: Simulator, service: JobService, good: Path) -> None:
    prompt = "Waves\x00 roll\x07 in 🌊\u200b, gulls 🐦 glide\x1b slowly\ufeff"
    request = accept(sim, service, good, Settings(prompt=prompt))
    sent = request.body["prompt"]
    assert not any(ord(c) < 32 and c not in "\t\n" for c in sent), repr(sent)
    assert "\u200b" not in sent and "\ufeff" not in sent and "\x7f" not in sent
    assert "🌊" in sent and "🐦" in sent
    assert "Removed control characters from the prompt" in request.notes


# --- Kling's guardrails ----------------------------------------------------------------------------------


def test_end_frame_with_camera_control(sim: Simulator, service: JobService, good: Path) -> None:
    settings = Settings(prompt="waves", model=V1, end_image=str(good), camera="down_back")
    refuse(
        sim,
        service,
        good,
        settings,
        "cannot combine an end frame with camera control",
        "Remove the end frame or set Camera to none",
    )


def test_kling_v1_end_frame_only_at_5_seconds(sim: Simulator, service: JobService, good: Path) -> None:
    ten = Settings(prompt="waves", model=V1, duration=10, end_image=str(good))
    error = refuse(sim, service, good, ten, "only for 5-second clips", "Set Duration to 5")
    assert error.field == "duration"
    request = accept(sim, service, good, Settings(prompt="waves", model=V1, duration=5, end_image=str(good)))
    assert request.body["tail_image_url"].startswith("data:image/jpeg;base64,")


def test_end_frame_on_a_model_without_one(sim: Simulator, service: JobService, good: Path) -> None:
    settings = Settings(prompt="waves", model=V21_PRO, end_image=str(good))
    refuse(sim, service, good, settings, "does not take an end frame", "remove it or pick another model")


@pytest.mark.parametrize(
    "axes",
    [{}, {"pan": 0.0, "zoom": 0.0}, {"pan": 5.0, "zoom": -3.0}],
    ids=["no-axis", "all-zero", "two-axes"],
)
def test_simple_camera_needs_exactly_one_axis(
    sim: Simulator, service: JobService, good: Path, axes: dict[str, float]
) -> None:
    settings = Settings(prompt="waves", model=V1, camera="simple", camera_config=axes)
    set_count = sum(1 for v in axes.values() if v)
    refuse(
        sim,
        service,
        good,
        settings,
        "needs exactly one non-zero slider",
        f"({set_count} are set)",
        "set the others to 0",
    )


def test_simple_camera_with_one_axis_is_sent(sim: Simulator, service: JobService, good: Path) -> None:
    settings = Settings(prompt="waves", model=V1, camera="simple", camera_config={"pan": 0, "zoom": 4})
    request = accept(sim, service, good, settings)
    config = request.body["camera_control"]["config"]
    assert config["zoom"] == 4 and all(v == 0 for k, v in config.items() if k != "zoom")


@pytest.mark.parametrize("camera", ["down_back", "simple"])
def test_camera_on_a_model_without_camera_control(
    sim: Simulator, service: JobService, good: Path, camera: str
) -> None:
    settings = Settings(prompt="waves", model=V16_STANDARD, camera=camera, camera_config={"zoom": 2})
    error = refuse(sim, service, good, settings, "has no camera control", "set Camera to none")
    assert error.field == "camera"


def test_v3_omni_end_frame_with_audio(sim: Simulator, service: JobService, good: Path) -> None:
    loud = Settings(prompt="waves", model=V3_OMNI, end_image=str(good), generate_audio=True)
    refuse(sim, service, good, loud, "cannot generate audio with an end frame", "Turn audio off")
    quiet = Settings(prompt="waves", model=V3_OMNI, end_image=str(good), generate_audio=False)
    request = accept(sim, service, good, quiet)
    assert request.body["generate_audio"] is False and "tail_image_url" in request.body


@pytest.mark.parametrize("model", [O1, V3_TURBO])
def test_negative_prompt_on_a_model_without_it(
    sim: Simulator, service: JobService, good: Path, model: str
) -> None:
    settings = Settings(prompt="waves", model=model, negative_prompt="blur")
    error = refuse(sim, service, good, settings, "has no negative prompt", "leave it empty")
    assert error.field == "negative_prompt"


def test_duration_the_model_does_not_offer(sim: Simulator, service: JobService, good: Path) -> None:
    error = refuse(
        sim,
        service,
        good,
        Settings(prompt="waves", model=V1, duration=7),
        "makes clips of 5, 10 seconds",
        "not 7",
    )
    assert error.field == "duration"
    request = accept(sim, service, good, Settings(prompt="waves", model=V3, duration=7))
    assert request.body["duration"] == 7


def test_cfg_scale_out_of_range(sim: Simulator, service: JobService, good: Path) -> None:
    error = refuse(
        sim, service, good, Settings(prompt="waves", cfg_scale=1.5), "cfg_scale must be between 0 and 1"
    )
    assert error.field == "cfg_scale"


@pytest.mark.parametrize("model", [m.id for m in models()])
def test_every_model_accepts_a_plain_request(
    sim: Simulator, service: JobService, good: Path, model: str
) -> None:
    spec = get_model(model)
    request = accept(
        sim, service, good, Settings(prompt="waves roll in", model=model, duration=spec.default_duration)
    )
    assert request.body["model"] == model and request.body["duration"] == spec.default_duration


# --- through the web app's API, with gradio_client ------------------------------------------------------


@pytest.fixture(scope="module")
def web(sim: Simulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningApp, Client]]:
    """The app with a key, pointed at the module's simulator, and a client for its API."""
    app = start_app(
        tmp_path_factory.mktemp("web"), {"AIMLAPI_KEY": "bad-input", "AIMLAPI_BASE_URL": sim.base_url}
    )
    try:
        yield app, Client(app.url, verbose=False, download_files=False)
    finally:
        stop_app(app)


def api_refusal(sim: Simulator, client: Client, api_name: str, *args: Any, **kwargs: Any) -> str:
    """Call an endpoint that must refuse; the error text, after checking nothing was created."""
    before = sim.create_count
    try:
        result = client.predict(*args, api_name=api_name, **kwargs)
    except Exception as exc:  # gradio_client raises several types; the text is what a caller sees
        message = str(exc)
    else:
        pytest.fail(f"{api_name} accepted bad input: {result!r}")
    assert sim.create_count == before, "a refused input must not send a create request"
    return message


BOTH = ["/generate", "/submit"]


@pytest.mark.parametrize("api_name", BOTH)
def test_api_cfg_scale_out_of_range(
    web: tuple[RunningApp, Client], sim: Simulator, good: Path, api_name: str
) -> None:
    _, client = web
    message = api_refusal(sim, client, api_name, handle_file(str(good)), "waves", cfg_scale=5)
    assert "cfg_scale" in message and "between 0 and 1" in message, message


@pytest.mark.parametrize("api_name", BOTH)
def test_api_unknown_model_lists_the_valid_ids(
    web: tuple[RunningApp, Client], sim: Simulator, good: Path, api_name: str
) -> None:
    _, client = web
    message = api_refusal(
        sim, client, api_name, handle_file(str(good)), "waves", model="kling-video/v9/ultra"
    )
    assert "Unknown model 'kling-video/v9/ultra'" in message, message
    assert all(m.id in message for m in models()), message


@pytest.mark.parametrize("api_name", BOTH)
def test_api_no_image(web: tuple[RunningApp, Client], sim: Simulator, api_name: str) -> None:
    _, client = web
    message = api_refusal(sim, client, api_name, None, "waves")
    assert "Add a start image" in message, message


@pytest.mark.parametrize("api_name", BOTH)
@pytest.mark.parametrize("case", ["text-named-jpg", "zero-bytes"])
def test_api_unreadable_file(
    web: tuple[RunningApp, Client], sim: Simulator, tmp_path: Path, api_name: str, case: str
) -> None:
    _, client = web
    build, needles = BAD_FILES[case]
    message = api_refusal(sim, client, api_name, handle_file(str(build(tmp_path))), "waves")
    assert needles[0] in message, message


@pytest.mark.parametrize("case", ["under-300-px", "wider-than-2.5", "truncated-jpeg"])
def test_api_image_problems_are_named(
    web: tuple[RunningApp, Client], sim: Simulator, tmp_path: Path, case: str
) -> None:
    _, client = web
    build, needles = BAD_FILES[case]
    message = api_refusal(sim, client, "/generate", handle_file(str(build(tmp_path))), "waves")
    assert all(n in message for n in needles), message


def test_api_empty_prompt_where_required(web: tuple[RunningApp, Client], sim: Simulator, good: Path) -> None:
    _, client = web
    message = api_refusal(sim, client, "/submit", handle_file(str(good)), "", model=V26)
    assert "needs a prompt" in message, message


def api_sent_image(web: tuple[RunningApp, Client], sim: Simulator, image: Path) -> Image.Image:
    """Submit through the API and return the start image the simulator received."""
    _, client = web
    gen_id, _ = client.predict(handle_file(str(image)), "waves", api_name="/submit")
    task = sim.api.store.get(gen_id)
    assert task is not None
    img = Image.open(sim.api.store.image_path(task))
    img.load()
    return img


def test_api_exif_rotated_photo_arrives_upright(
    web: tuple[RunningApp, Client], sim: Simulator, tmp_path: Path
) -> None:
    sent = api_sent_image(web, sim, phone_photo(tmp_path / "IMG_0002.jpg"))
    assert sent.size == (480, 640)
    assert near(sent.getpixel((470, 10)), (255, 0, 0))


def test_api_transparent_png_is_flattened_on_white(
    web: tuple[RunningApp, Client], sim: Simulator, tmp_path: Path
) -> None:
    sent = api_sent_image(web, sim, rgba16_png(tmp_path / "deep.png"))
    assert near(sent.getpixel((200, 160)), (255, 0, 0))
    assert near(sent.getpixel((5, 5)), (255, 255, 255)), sent.getpixel((5, 5))
