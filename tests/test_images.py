"""kling_demo.images on real files of every awkward kind, all generated here with Pillow."""

from __future__ import annotations

import base64
import io
import re
import struct
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageOps

from kling_demo.catalogue import MAX_RATIO, MIN_RATIO, MIN_SIDE
from kling_demo.errors import ImageError, InputError
from kling_demo.images import (
    ImageInfo,
    PreparedImage,
    fit_preview,
    inspect_image,
    prepare_image,
)

RED, GREEN, BLUE, WHITE = (220, 30, 30), (30, 200, 60), (40, 60, 220), (255, 255, 255)


# ---------------------------------------------------------------- helpers


def decoded(p: PreparedImage, max_bytes: int = 2_000_000) -> Image.Image:
    """Decode the data URI and check every Kling limit on what would really be sent."""
    head, _, b64 = p.data_uri.partition(",")
    assert head == "data:image/jpeg;base64" and p.mime == "image/jpeg"
    raw = base64.b64decode(b64, validate=True)
    assert len(raw) == p.nbytes <= max_bytes
    im = Image.open(io.BytesIO(raw))
    im.load()
    assert im.format == "JPEG" and im.mode == "RGB" and not im.info.get("progressive")
    assert im.size == (p.width, p.height)
    assert min(im.size) >= MIN_SIDE and MIN_RATIO <= im.width / im.height <= MAX_RATIO
    assert "exif" not in im.info  # metadata such as GPS is never forwarded
    return im


def pixel(im: Image.Image, fx: float, fy: float) -> tuple[int, ...]:
    """The colour at a fraction of the width and height."""
    return im.getpixel((min(im.width - 1, int(im.width * fx)), min(im.height - 1, int(im.height * fy))))


def close(a: tuple[int, ...], b: tuple[int, ...], tol: int = 12) -> bool:
    return all(abs(x - y) <= tol for x, y in zip(a, b, strict=True))


def save(tmp_path: Path, name: str, im: Image.Image, **kw: object) -> Path:
    path = tmp_path / name
    im.save(path, **kw)
    return path


def thirds(size: tuple[int, int]) -> Image.Image:
    """Red | green | blue columns (or rows, for a tall image)."""
    w, h = size
    im = Image.new("RGB", size, GREEN)
    d = ImageDraw.Draw(im)
    if w >= h:
        d.rectangle((0, 0, w // 3, h), fill=RED)
        d.rectangle((2 * w // 3, 0, w, h), fill=BLUE)
    else:
        d.rectangle((0, 0, w, h // 3), fill=RED)
        d.rectangle((0, 2 * h // 3, w, h), fill=BLUE)
    return im


def png(
    width: int, height: int, depth: int, colour: int, rows: bytes | None = None, stream: int = 0
) -> bytes:
    """A PNG written by hand: rows are raw scanlines (filter bytes added); stream=N repeats a blank row."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    if rows is not None:
        line = len(rows) // height
        idat = zlib.compress(b"".join(b"\0" + rows[i * line : (i + 1) * line] for i in range(height)))
    else:
        comp = zlib.compressobj(1)
        blank = b"\0" * (1 + (width * depth + 7) // 8)
        idat = b"".join(comp.compress(blank * 500) for _ in range(stream // 500)) + comp.flush()
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def noisy(size: tuple[int, int], seed: int = 0) -> Image.Image:
    """A gradient under strong noise: compresses about as badly as a real photo."""
    w, h = size
    ramp = np.linspace(0, 150, w, dtype=np.uint8)[None, :, None]
    noise = np.random.default_rng(seed).integers(0, 100, (h, w, 3), dtype=np.uint8)
    return Image.fromarray(noise + ramp)


# ---------------------------------------------------------------- refusals


def test_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match=r"'nope\.jpg' was not found") as e:
        prepare_image(tmp_path / "nope.jpg")
    assert isinstance(e.value, InputError) and e.value.field == "image"


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"", r"empty \(0 bytes\)"),
        (b"hello, I am a text file pretending to be a PNG\n" * 20, r"Could not read .* as an image"),
        (b"\0\0\0\x18ftypheic\0\0\0\0mif1heic" + b"\0" * 500, "HEIC"),
        (b"%PDF-1.7\n" + b"x" * 500, "PDF"),
        (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>', "SVG"),
    ],
    ids=["zero-bytes", "text-as-png", "heic", "pdf", "svg"],
)
def test_unreadable_files_are_refused(tmp_path: Path, content: bytes, match: str) -> None:
    path = tmp_path / "photo.png"
    path.write_bytes(content)
    with pytest.raises(ImageError, match=match):
        prepare_image(path)
    with pytest.raises(ImageError, match=match):
        inspect_image(content)


def test_truncated_jpeg_is_refused(tmp_path: Path) -> None:
    buf = io.BytesIO()
    noisy((800, 600)).save(buf, "JPEG", quality=90)
    path = tmp_path / "cut.jpg"
    path.write_bytes(buf.getvalue()[: buf.tell() // 2])
    assert inspect_image(path).width == 800  # the header is intact ...
    with pytest.raises(ImageError, match="truncated or corrupt"):  # ... but the pixels are not
        prepare_image(path)


def test_truncated_png_is_refused() -> None:
    data = _png_bytes(noisy((500, 400)))
    with pytest.raises(ImageError, match="truncated or corrupt"):
        prepare_image(data[: len(data) * 2 // 3])


def _png_bytes(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


@pytest.mark.parametrize(
    ("make", "shown"),
    [
        (lambda: png(20000, 20000, 1, 0, stream=20000), "20000x20000 px (400 MP)"),  # real, fully compressed
        (lambda: png(20000, 20000, 8, 2, rows=None, stream=0), "20000x20000 px (400 MP)"),  # tiny IDAT
        (lambda: png(100_000, 100_000, 8, 6, stream=0), "100000x100000 px (10000 MP)"),
        (lambda: png(10_000, 9_500, 8, 0, stream=0), "10000x9500 px (95 MP)"),  # Pillow only warns here
        (lambda: png(9_000, 9_000, 8, 0, stream=0), "9000x9000 px (81 MP)"),  # Pillow would accept it
    ],
    ids=["20k-real", "20k-tiny-idat", "100k", "95MP-warning", "81MP"],
)
def test_decompression_bombs_are_refused_from_the_header(tmp_path: Path, make, shown: str) -> None:
    path = tmp_path / "huge.png"
    path.write_bytes(make())
    start = time.perf_counter()
    for call in (prepare_image, inspect_image, lambda p: fit_preview(p, "crop")):
        with pytest.raises(ImageError) as e:
            call(path)
        assert shown in str(e.value) and "the limit is 80 MP; please downscale it first" in str(e.value)
    assert time.perf_counter() - start < 1.5


def test_oversized_file_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "big.jpg"
    with open(path, "wb") as f:
        f.truncate(51 * 2**20)  # sparse: costs no disk
    with pytest.raises(ImageError, match="the limit is 50 MB"):
        prepare_image(path)


def test_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="folder"):
        prepare_image(tmp_path)


@pytest.mark.parametrize(
    ("size", "shown"), [((250, 400), "250x400"), ((400, 299), "400x299"), ((100, 100), "100x100")]
)
def test_too_small_is_refused(size: tuple[int, int], shown: str) -> None:
    data = _png_bytes(Image.new("RGB", size, RED))
    msg = f"Kling needs at least 300 px on each side; this image is {shown} px. Use a larger image."
    for fit in ("none", "crop", "pad"):
        with pytest.raises(ImageError) as e:
            prepare_image(data, fit=fit)
        assert str(e.value) == msg
    assert not inspect_image(data).fits_size
    assert fit_preview(data, "crop").size == size  # the preview still shows it, at its own size


def test_bad_arguments_are_programming_errors() -> None:
    data = _png_bytes(Image.new("RGB", (400, 400)))
    with pytest.raises(ValueError, match="fit must be"):
        prepare_image(data, fit="stretch")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_long_side"):
        prepare_image(data, max_long_side=200)


# ---------------------------------------------------------------- aspect ratio


@pytest.mark.parametrize(
    ("size", "shown"), [((1600, 400), "4:1"), ((400, 1400), "1:3.5"), ((3000, 1150), "2.61:1")]
)
def test_elongated_is_refused_without_fit(size: tuple[int, int], shown: str) -> None:
    data = _png_bytes(thirds(size))
    assert not inspect_image(data).fits_ratio
    with pytest.raises(ImageError) as e:
        prepare_image(data)
    text = str(e.value)
    assert f"a ratio of {shown}" in text and "1:2.5 (tall) to 2.5:1 (wide)" in text
    assert "Choose Fit: crop or pad" in text


@pytest.mark.parametrize("size", [(1600, 400), (400, 1400), (5000, 1000), (3000, 1150), (301, 2000)])
def test_crop_keeps_the_centre_at_the_nearest_allowed_ratio(size: tuple[int, int]) -> None:
    p = prepare_image(_png_bytes(thirds(size)), fit="crop")
    im = decoded(p)
    wide = size[0] > size[1]
    assert pytest.approx(im.width / im.height, rel=0.01) == (MAX_RATIO if wide else MIN_RATIO)
    assert close(pixel(im, 0.5, 0.5), GREEN)
    assert p.notes[0] == ("Cropped to 2.5:1" if wide else "Cropped to 1:2.5")


@pytest.mark.parametrize("size", [(1600, 400), (400, 1400), (4000, 800)])
def test_pad_keeps_everything_and_fills_the_border(size: tuple[int, int]) -> None:
    p = prepare_image(_png_bytes(thirds(size)), fit="pad")
    im = decoded(p)
    wide = size[0] > size[1]
    assert pytest.approx(im.width / im.height, rel=0.01) == (MAX_RATIO if wide else MIN_RATIO)
    first, last = ((0.02, 0.5), (0.98, 0.5)) if wide else ((0.5, 0.02), (0.5, 0.98))
    assert close(pixel(im, *first), RED) and close(pixel(im, *last), BLUE)  # both ends kept
    border = pixel(im, 0.5, 0.01) if wide else pixel(im, 0.01, 0.5)
    assert not close(border, GREEN, 3) and max(border) < 200  # a dimmed blur, not the content
    assert any(n.startswith("Padded to") for n in p.notes)


def test_boundary_ratio_and_size_are_accepted() -> None:
    for size in ((750, 300), (300, 750)):
        p = prepare_image(_png_bytes(Image.new("RGB", size, RED)))
        assert (p.width, p.height) == size and p.notes == ()


def test_fit_is_a_no_op_when_the_shape_is_already_fine() -> None:
    data = _png_bytes(thirds((800, 600)))
    for fit in ("none", "crop", "pad"):
        p = prepare_image(data, fit=fit)
        assert (p.width, p.height) == (800, 600) and p.notes == ()


# ---------------------------------------------------------------- automatic fixes


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize(
    ("size", "long_side"),
    [((640, 480), 800), ((3200, 2400), 800), ((3200, 2400), 1000)],
    ids=["small", "draft-exact", "draft-threaded"],
)
def test_exif_orientation_matches_pillow_reference(tmp_path: Path, orientation: int, size, long_side) -> None:
    im = thirds(size)
    ImageDraw.Draw(im).rectangle((0, 0, size[0] // 5, size[1] // 5), fill=WHITE)  # marks a corner
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = save(tmp_path, "phone.jpg", im, quality=95, exif=exif.tobytes())
    p = prepare_image(path, max_long_side=long_side)
    out = decoded(p)
    assert max(out.size) == min(long_side, max(size))
    reference = ImageOps.exif_transpose(Image.open(path)).resize(out.size, Image.Resampling.LANCZOS)
    diff = np.abs(np.asarray(out, np.int16) - np.asarray(reference, np.int16))
    assert diff.mean() < 3, diff.mean()
    assert ("Rotated upright from EXIF" in p.notes) == (orientation != 1)


def test_orientation_6_phone_photo_is_upright_with_swapped_axes(tmp_path: Path) -> None:
    # Stored sideways (4000x3000) with the marker at the stored top-left; orientation 6 means
    # "rotate 90 degrees clockwise to display", so upright the marker is at the top-right.
    im = Image.new("RGB", (4000, 3000), GREEN)
    ImageDraw.Draw(im).rectangle((0, 0, 600, 600), fill=RED)
    exif = Image.Exif()
    exif[0x0112] = 6
    path = save(tmp_path, "IMG_0001.jpg", im, quality=90, exif=exif.tobytes())
    info = inspect_image(path)
    assert (info.width, info.height) == (3000, 4000) and info.orientation == "portrait 3:4"
    p = prepare_image(path)
    out = decoded(p)
    assert out.size == (1440, 1920)
    assert close(pixel(out, 0.95, 0.05), RED) and close(pixel(out, 0.05, 0.05), GREEN)
    assert close(pixel(out, 0.95, 0.95), GREEN) and close(pixel(out, 0.05, 0.95), GREEN)
    assert p.notes == ("Rotated upright from EXIF", "Downscaled from 3000x4000 to 1440x1920")


@pytest.mark.parametrize("fmt", ["GIF", "WEBP", "PNG"])
def test_animation_uses_the_first_frame(tmp_path: Path, fmt: str) -> None:
    frames = [Image.new("RGB", (480, 360), c) for c in (RED, GREEN, BLUE)]
    path = save(
        tmp_path, f"anim.{fmt.lower()}", frames[0], format=fmt, save_all=True, append_images=frames[1:]
    )
    info = inspect_image(path)
    assert info.frames == 3 and info.format == fmt
    p = prepare_image(path)
    assert close(pixel(decoded(p), 0.5, 0.5), RED, 20)
    assert f"First frame of an animated {fmt} used" in p.notes


def test_cmyk_jpeg_becomes_rgb(tmp_path: Path) -> None:
    im = Image.new("CMYK", (500, 400), (0, 255, 255, 0))  # pure red ink
    ImageDraw.Draw(im).rectangle((250, 0, 500, 400), fill=(0, 0, 0, 255))  # black ink
    p = prepare_image(save(tmp_path, "print.jpg", im, quality=95))
    out = decoded(p)
    assert close(pixel(out, 0.25, 0.5), (255, 0, 0), 10) and close(pixel(out, 0.75, 0.5), (0, 0, 0), 10)
    assert "Converted from CMYK to RGB" in p.notes and p.original.mode == "CMYK"


def test_16_bit_png_with_alpha_keeps_its_colours() -> None:
    w, h = 400, 300
    a = np.zeros((h, w, 4), ">u2")
    a[:, : w // 2] = (0xFFFF, 0x8000, 0x0000, 0xFFFF)  # opaque orange on the left
    a[:, w // 2 :] = (0x0000, 0x0000, 0xFFFF, 0x0000)  # fully transparent blue on the right
    a[: h // 2, w // 2 :, 3] = 0x8000  # half-transparent blue in the top-right quarter
    p = prepare_image(png(w, h, 16, 6, rows=a.tobytes()))
    out = decoded(p)
    assert close(pixel(out, 0.25, 0.5), (255, 128, 0), 6)
    assert close(pixel(out, 0.75, 0.9), WHITE, 6)
    assert close(pixel(out, 0.75, 0.1), (127, 127, 255), 8)
    assert "Transparent areas filled with white" in p.notes


@pytest.mark.parametrize(
    ("depth", "colour", "value", "expected"),
    [(16, 0, 0x8080, 128), (16, 0, 0x4000, 64), (16, 4, 0xC0C0, 192), (8, 0, 200, 200)],
    ids=["grey16-mid", "grey16-quarter", "grey-alpha16", "grey8"],
)
def test_greyscale_and_16_bit_greyscale_scale_to_8_bit(
    depth: int, colour: int, value: int, expected: int
) -> None:
    w, h = 320, 320
    channels = 2 if colour == 4 else 1
    a = np.full((h, w, channels), value, ">u2" if depth == 16 else "u1")
    if channels == 2:
        a[..., 1] = 0xFFFF
    out = decoded(prepare_image(png(w, h, depth, colour, rows=a.tobytes())))
    assert close(pixel(out, 0.5, 0.5), (expected,) * 3, 3)


@pytest.mark.parametrize("mode", ["I", "F"])
def test_32_bit_and_float_tiff_are_stretched_not_clipped(tmp_path: Path, mode: str) -> None:
    ramp = np.tile(np.linspace(0, 1 if mode == "F" else 100_000, 400, dtype=np.float32), (300, 1))
    im = Image.fromarray(ramp if mode == "F" else ramp.astype(np.int32), mode)
    out = decoded(prepare_image(save(tmp_path, f"sci-{mode}.tif", im)))
    left, mid, right = (pixel(out, x, 0.5)[0] for x in (0.01, 0.5, 0.99))
    assert left < 10 and 110 < mid < 145 and right > 245


def test_palette_png_with_transparency_is_flattened_on_white(tmp_path: Path) -> None:
    im = Image.new("P", (400, 400), 0)
    im.putpalette([0, 0, 0, *RED, *BLUE] + [0] * (256 - 3) * 3)
    ImageDraw.Draw(im).rectangle((0, 0, 199, 399), fill=1)
    ImageDraw.Draw(im).rectangle((200, 0, 399, 199), fill=2)
    path = save(tmp_path, "icon.png", im, transparency=0)
    p = prepare_image(path)
    out = decoded(p)
    assert close(pixel(out, 0.25, 0.5), RED) and close(pixel(out, 0.75, 0.25), BLUE)
    assert close(pixel(out, 0.75, 0.75), WHITE, 2)
    assert p.notes == ("Transparent areas filled with white",)


def test_opaque_rgba_gets_no_transparency_note() -> None:
    p = prepare_image(_png_bytes(Image.new("RGBA", (400, 400), (*RED, 255))))
    assert p.notes == () and close(pixel(decoded(p), 0.5, 0.5), RED)


@pytest.mark.parametrize(("fmt", "ext"), [("WEBP", "webp"), ("BMP", "bmp"), ("TIFF", "tif"), ("GIF", "gif")])
def test_other_formats_are_reencoded_as_jpeg(tmp_path: Path, fmt: str, ext: str) -> None:
    path = save(tmp_path, f"pic.{ext}", thirds((600, 400)), format=fmt)
    p = prepare_image(path)
    out = decoded(p)
    assert close(pixel(out, 0.1, 0.5), RED, 20) and close(pixel(out, 0.9, 0.5), BLUE, 20)
    assert f"Converted from {fmt} to JPEG (Kling takes JPEG or PNG)" in p.notes


def test_large_image_is_downscaled_under_the_byte_limit(tmp_path: Path) -> None:
    path = save(tmp_path, "big.jpg", noisy((5000, 3000)), quality=95)
    p = prepare_image(path)
    out = decoded(p)
    assert out.size == (1920, 1152) and p.nbytes <= 2_000_000
    assert p.notes == ("Downscaled from 5000x3000 to 1920x1152",)
    assert p.original == ImageInfo(5000, 3000, "JPEG", 1, "RGB")


def test_quality_then_size_step_down_to_meet_a_tight_byte_limit() -> None:
    data = _png_bytes(noisy((1200, 900), seed=3))
    p = prepare_image(data, max_bytes=60_000)
    decoded(p, max_bytes=60_000)
    (note,) = p.notes
    assert re.fullmatch(
        rf"JPEG quality lowered to \d+ and size reduced to {p.width}x{p.height} to stay under 60 KB", note
    )
    assert p.width < 1200
    assert min(p.width, p.height) >= MIN_SIDE


def test_short_side_never_drops_below_300_when_downscaling() -> None:
    p = prepare_image(_png_bytes(thirds((2000, 800))), max_long_side=400)
    assert (p.width, p.height) == (750, 300)


def test_bytes_and_path_give_the_same_result(tmp_path: Path) -> None:
    path = save(tmp_path, "same.jpg", thirds((900, 600)), quality=92)
    a, b = prepare_image(path), prepare_image(path.read_bytes())
    assert a.data_uri == b.data_uri and a.original == b.original


def test_repr_leaves_out_the_data_uri() -> None:
    p = prepare_image(_png_bytes(Image.new("RGB", (400, 400), RED)))
    assert "base64" not in repr(p) and "400x400" in p.describe()


# ---------------------------------------------------------------- inspection and preview


@pytest.mark.parametrize(
    ("size", "orientation"),
    [
        ((1920, 1080), "landscape 16:9"),
        ((1900, 1080), "landscape 16:9-ish"),
        ((1080, 1920), "portrait 9:16"),
        ((3000, 4000), "portrait 3:4"),
        ((1000, 1000), "square"),
        ((1010, 1000), "square"),
        ((1000, 710), "landscape"),
        ((2500, 1000), "landscape 5:2"),
    ],
)
def test_orientation_labels(size: tuple[int, int], orientation: str) -> None:
    info = ImageInfo(*size, "JPEG", 1, "RGB")
    assert info.orientation == orientation
    assert info.ratio == size[0] / size[1]


def test_inspect_reads_the_header_only(tmp_path: Path) -> None:
    path = save(tmp_path, "pic.png", Image.new("LA", (640, 360)))
    info = inspect_image(path)
    assert info == ImageInfo(640, 360, "PNG", 1, "LA")
    assert info.fits_ratio and info.fits_size and info.describe() == "640x360 px PNG, landscape 16:9"


@pytest.mark.parametrize("fit", ["crop", "pad"])
def test_fit_preview_is_small_and_shaped_like_the_upload(fit: str) -> None:
    data = _png_bytes(thirds((3000, 600)))
    preview = fit_preview(data, fit)
    assert preview.mode == "RGB" and max(preview.size) == 512
    assert pytest.approx(preview.width / preview.height, rel=0.02) == MAX_RATIO
    sent = prepare_image(data, fit=fit)
    assert pytest.approx(sent.width / sent.height, rel=0.01) == preview.width / preview.height


@pytest.mark.parametrize(
    "name", ["example-lighthouse.jpg", "example-cat-portrait.jpg", "example-mountains.jpg"]
)
def test_shipped_examples_are_sent_unchanged_in_shape(name: str) -> None:
    path = Path(__file__).resolve().parent.parent / "assets" / name
    assert path.stat().st_size < 300_000
    info = inspect_image(path)
    p = prepare_image(path)
    decoded(p)
    assert (p.width, p.height) == (info.width, info.height) and p.notes == ()


@pytest.mark.parametrize("orientation", [1, 6])
@pytest.mark.parametrize(
    ("size", "long_side"), [((4001, 3000), 500), ((3001, 4007), 700), ((2999, 1201), 1000)]
)
def test_draft_scaling_of_odd_sizes_stays_inside_the_image(
    tmp_path: Path, size: tuple[int, int], long_side: int, orientation: int
) -> None:
    # libjpeg's 1/k decode rounds each side up on its own, so the axes scale by slightly different factors.
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = save(tmp_path, "odd.jpg", thirds(size), quality=90, exif=exif.tobytes())
    for fit in ("none", "crop", "pad"):
        out = decoded(prepare_image(path, max_long_side=long_side, fit=fit))
        assert max(out.size) == long_side


def test_mpo_phone_photo_is_treated_as_a_jpeg(tmp_path: Path) -> None:
    first, second = thirds((800, 600)), Image.new("RGB", (800, 600), BLUE)
    path = save(tmp_path, "camera.mpo", first, format="MPO", save_all=True, append_images=[second])
    assert Image.open(path).format == "MPO"
    info = inspect_image(path)
    assert (info.format, info.frames) == ("JPEG", 1)
    p = prepare_image(path)
    assert p.notes == () and close(pixel(decoded(p), 0.1, 0.5), RED)


def test_multipage_tiff_uses_the_first_page(tmp_path: Path) -> None:
    pages = [Image.new("RGB", (500, 400), c) for c in (GREEN, RED)]
    path = save(tmp_path, "scan.tif", pages[0], save_all=True, append_images=pages[1:])
    p = prepare_image(path)
    assert close(pixel(decoded(p), 0.5, 0.5), GREEN)
    assert "First page of a multi-page TIFF used" in p.notes
