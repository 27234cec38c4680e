"""Check and prepare the user's image for Kling: readable, big enough, right shape, small JPEG data URI."""

from __future__ import annotations

import base64
import io
import os
import struct
import warnings
from dataclasses import dataclass, field
from typing import Literal

from PIL import ExifTags, Image, ImageFile, UnidentifiedImageError
from PIL.JpegImagePlugin import JpegImageFile

from .catalogue import MAX_RATIO, MIN_RATIO, MIN_SIDE, UPLOAD_FORMATS
from .errors import ImageError
from .image_fit import (
    SWAPS_AXES,
    TRANSPOSE,
    Fit,
    encode_jpeg,
    flatten,
    pad,
    plan_output,
    ratio_label,
    ratio_ok,
    resize_upright,
    stored_box,
    to_working_mode,
)

MAX_FILE_BYTES = 50 * 1024 * 1024  # refuse bigger input files before reading them
MAX_PIXELS = 80_000_000  # refuse bigger images from the header, before decoding a single pixel
KLING_MAX_BYTES = 10_000_000  # Kling's own cap on the uploaded file (API-NOTES §8)
PREVIEW_LONG_SIDE = 512
Source = str | os.PathLike[str] | bytes
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, struct.error)
_COMMON_RATIOS = ((1, 1), (5, 4), (4, 3), (3, 2), (16, 10), (16, 9), (2, 1), (21, 9), (5, 2))


@dataclass(frozen=True)
class ImageInfo:
    """What was uploaded, as displayed (EXIF rotation applied): for the UI's preview."""

    width: int
    height: int
    format: str | None
    frames: int
    mode: str

    @property
    def ratio(self) -> float:
        """Width divided by height."""
        return self.width / self.height

    @property
    def orientation(self) -> str:
        """'landscape 16:9', 'portrait 3:4-ish', 'square' ...; the video comes out in the image's shape."""
        wide = max(self.ratio, 1 / self.ratio)
        if wide < 1.03:
            return "square"
        word = "landscape" if self.ratio > 1 else "portrait"
        a, b = min(_COMMON_RATIOS, key=lambda ab: abs(ab[0] / ab[1] - wide))
        off = abs(a / b - wide) / wide
        if off > 0.04:
            return word
        name = f"{a}:{b}" if word == "landscape" else f"{b}:{a}"
        return f"{word} {name}" if off < 0.005 else f"{word} {name}-ish"

    @property
    def fits_ratio(self) -> bool:
        """Whether the shape is within Kling's 1:2.5 to 2.5:1 without cropping or padding."""
        return ratio_ok(self.width, self.height)

    @property
    def fits_size(self) -> bool:
        """Whether both sides reach Kling's 300 px minimum."""
        return min(self.width, self.height) >= MIN_SIDE

    def describe(self) -> str:
        """One line for the UI, e.g. '6000x4000 px JPEG, landscape 3:2'."""
        frames = f", {self.frames} frames" if self.frames > 1 else ""
        return f"{self.width}x{self.height} px {self.format or 'image'}{frames}, {self.orientation}"


@dataclass(frozen=True)
class PreparedImage:
    """The image as it will be sent: a JPEG data URI within Kling's limits, plus what was changed."""

    data_uri: str = field(repr=False)
    mime: str
    width: int
    height: int
    nbytes: int  # bytes of the encoded JPEG (the data URI is about 4/3 of this)
    original: ImageInfo
    notes: tuple[str, ...]  # one sentence per automatic fix, e.g. "Rotated upright from EXIF"

    def describe(self) -> str:
        """One line for the UI, e.g. 'Sending 1920x1280 JPEG, 412 KB'."""
        return f"Sending {self.width}x{self.height} JPEG, {self.nbytes / 1000:.0f} KB"


def inspect_image(source: Source) -> ImageInfo:
    """Read only the header: size, format, frames; refuses unreadable files and decompression bombs."""
    im, _ = _open(source)
    with im:
        return _info(im, _orientation(im))


def prepare_image(
    source: Source, *, fit: Fit = "none", max_long_side: int = 1920, max_bytes: int = 2_000_000
) -> PreparedImage:
    """Validate, fix and encode an image as a JPEG data URI that Kling accepts, or raise ImageError."""
    if max_long_side < MIN_SIDE or max_bytes < 10_000:
        raise ValueError("max_long_side must be at least 300 and max_bytes at least 10000")
    max_bytes = min(max_bytes, KLING_MAX_BYTES)
    im, label = _open(source)
    with im:
        orientation = _orientation(im)
        info = _info(im, orientation)
        notes, icc = [], _rgb_icc(im)
        out = _render(im, info, orientation, label, fit, max_long_side, MIN_SIDE, notes)
    try:
        data, sent, quality = encode_jpeg(out, max_bytes, icc)
    except ValueError:
        raise ImageError(f"{_cap(label)} could not be compressed below {_size(max_bytes)}.") from None
    if quality < 90 or sent.size != out.size:
        shrunk = f" and size reduced to {sent.width}x{sent.height}" if sent.size != out.size else ""
        notes.append(f"JPEG quality lowered to {quality}{shrunk} to stay under {_size(max_bytes)}")
    out = sent
    _check_limits(data, out.size, max_bytes)
    uri = "data:image/jpeg;base64," + base64.b64encode(data).decode("ascii")
    return PreparedImage(uri, "image/jpeg", out.width, out.height, len(data), info, tuple(notes))


def fit_preview(source: Source, fit: Literal["none", "crop", "pad"]) -> Image.Image:
    """A small RGB preview (long side <= 512 px) of what would be sent; given even for too-small images."""
    im, label = _open(source)
    with im:
        orientation = _orientation(im)
        info = _info(im, orientation)
        return _render(im, info, orientation, label, fit, PREVIEW_LONG_SIDE, 1, [])


def _render(
    im: ImageFile.ImageFile,
    info: ImageInfo,
    orientation: int,
    label: str,
    fit: Fit,
    long_side: int,
    min_side: int,
    notes: list[str],
) -> Image.Image:
    """Check, decode (at reduced scale when possible), fix and resize: returns the upright RGB output."""
    if fit not in ("none", "crop", "pad"):
        raise ValueError(f"fit must be 'none', 'crop' or 'pad', not {fit!r}")
    if min_side >= MIN_SIDE and not info.fits_size:
        raise ImageError(
            f"Kling needs at least {MIN_SIDE} px on each side; {label} is {info.width}x{info.height} px. "
            "Use a larger image."
        )
    if fit == "none" and not info.fits_ratio:
        raise ImageError(
            f"{_cap(label)} is {info.width}x{info.height} px, a ratio of {ratio_label(info.ratio)}; "
            f"Kling accepts {ratio_label(MIN_RATIO)} (tall) to {ratio_label(MAX_RATIO)} (wide). "
            "Choose Fit: crop or pad to fix it, or use another image."
        )
    plan = plan_output(info.width, info.height, fit, long_side, min_side)
    if orientation in TRANSPOSE:
        notes.append("Rotated upright from EXIF")
    if info.frames > 1:
        what = "page of a multi-page" if info.format == "TIFF" else "frame of an animated"
        notes.append(f"First {what} {info.format or 'image'} used")
    if info.format not in UPLOAD_FORMATS:
        notes.append(f"Converted from {info.format or 'an unknown format'} to JPEG (Kling takes JPEG or PNG)")
    notes.extend(plan.notes)
    stored = im.size
    if isinstance(im, JpegImageFile):  # libjpeg can decode at 1/2, 1/4 or 1/8 scale: far faster
        per_px = plan.content[0] / (plan.box[2] - plan.box[0])
        im.draft("RGB", (max(1, round(im.width * per_px)), max(1, round(im.height * per_px))))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _bomb(label, im.size) from None
    except _DECODE_ERRORS as e:
        raise ImageError(
            f"{_cap(label)} could not be decoded ({e}); the file looks truncated or corrupt. "
            "Re-export or re-download it and try again."
        ) from None
    work = to_working_mode(im, notes)
    swap = orientation in SWAPS_AXES
    size = plan.content[::-1] if swap else plan.content
    scale = (im.width / stored[0], im.height / stored[1])
    work = resize_upright(work, stored_box(plan.box, orientation, scale), size, orientation)
    return pad(flatten(work, notes), plan.canvas)


def _open(source: Source) -> tuple[ImageFile.ImageFile, str]:
    """Read the bytes, identify the format and check the header's pixel count; nothing decoded yet."""
    data, label = _read(source)
    try:
        with warnings.catch_warnings():  # not thread-safe, but the worst case is a stray warning
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _bomb(label, _header_size(data)) from None
    except UnidentifiedImageError:
        name = "this file" if isinstance(source, (bytes, bytearray, memoryview)) else label
        raise ImageError(
            f"Could not read {name} as an image{_what_is_it(data)}. Use a JPEG or PNG."
        ) from None
    except _DECODE_ERRORS as e:
        raise ImageError(f"{_cap(label)} has a damaged header ({e}). Re-export it as JPEG or PNG.") from None
    if im.width < 1 or im.height < 1 or im.width * im.height > MAX_PIXELS:
        im.close()
        raise _bomb(label, im.size)
    return im, label


def _read(source: Source) -> tuple[bytes, str]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        data, label = bytes(source), "this image"
    else:
        path = os.fspath(source)
        label = f"'{os.path.basename(path) or path}'"
        try:
            size = os.stat(path).st_size
            if size > MAX_FILE_BYTES:
                raise ImageError(
                    f"{_cap(label)} is {size / 2**20:.0f} MB; the limit is {MAX_FILE_BYTES // 2**20} MB. "
                    "Use a smaller image."
                )
            with open(path, "rb") as f:
                data = f.read(MAX_FILE_BYTES + 1)
        except FileNotFoundError:
            raise ImageError(f"Image file {label} was not found. Upload the image again.") from None
        except IsADirectoryError:
            raise ImageError(f"{_cap(label)} is a folder, not an image file.") from None
        except OSError as e:
            raise ImageError(f"Image file {label} could not be read ({e.strerror or e}).") from None
    if not data:
        raise ImageError(f"{_cap(label)} is empty (0 bytes). Upload the image again.")
    if len(data) > MAX_FILE_BYTES:
        raise ImageError(f"{_cap(label)} is over {MAX_FILE_BYTES // 2**20} MB. Use a smaller image.")
    return data, label


def _size(nbytes: int) -> str:
    return f"{nbytes / 1e6:.1f} MB" if nbytes >= 1e6 else f"{nbytes / 1e3:.0f} KB"


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _what_is_it(data: bytes) -> str:
    """A hint for common non-images: HEIC from iPhones, PDF, SVG, text."""
    if data[4:8] == b"ftyp" and data[8:12] in (b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1"):
        return " (it is HEIC/HEIF; on an iPhone choose Settings > Camera > Formats > Most Compatible)"
    if data.startswith(b"%PDF"):
        return " (it is a PDF)"
    head = data[:256].lstrip().lower()
    if head.startswith((b"<svg", b"<?xml")) and b"<svg" in data[:4096].lower():
        return " (it is an SVG drawing; export it as PNG)"
    return " (it may be a renamed file of another kind)"


def _bomb(label: str, size: tuple[int, int] | None) -> ImageError:
    limit = f"the limit is {MAX_PIXELS / 1e6:.0f} MP; please downscale it first."
    if not size:
        return ImageError(f"{_cap(label)} has too many pixels to open safely; {limit}")
    w, h = size
    return ImageError(f"{_cap(label)} is {w}x{h} px ({w * h / 1e6:.0f} MP); {limit}")


def _header_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from the header alone, skipping Pillow's bomb check (for the error message)."""
    Image.init()
    for fmt in Image.ID:
        factory, accept = Image.OPEN[fmt]
        try:
            if accept is not None and accept(data[:16]) is not True:
                continue
            with factory(io.BytesIO(data), "") as im:
                return im.size
        except Exception:  # any plugin failure just means "not this format"
            continue
    return None


def _orientation(im: Image.Image) -> int:
    try:
        value = im.getexif().get(ExifTags.Base.Orientation, 1)
    except Exception:  # broken EXIF is common; treat it as upright
        return 1
    return value if isinstance(value, int) and value in TRANSPOSE else 1


def _info(im: Image.Image, orientation: int) -> ImageInfo:
    w, h = im.size[::-1] if orientation in SWAPS_AXES else im.size
    if isinstance(im, JpegImageFile):  # MPO phone photos too: extra frames are previews, not animation
        return ImageInfo(w, h, "JPEG", 1, im.mode)
    try:
        frames = int(getattr(im, "n_frames", 1))
    except Exception:  # counting frames of a damaged animation; the decode will tell
        frames = 1
    return ImageInfo(w, h, im.format, frames, im.mode)


def _rgb_icc(im: Image.Image) -> bytes | None:
    """The embedded ICC profile, kept in the output only when it describes RGB (e.g. Display P3)."""
    icc = im.info.get("icc_profile")
    return icc if isinstance(icc, bytes) and icc[16:20] == b"RGB " and im.mode != "CMYK" else None


def _check_limits(data: bytes, size: tuple[int, int], max_bytes: int) -> None:
    """Last guard before anything is sent: the output must obey every Kling limit."""
    w, h = size
    jpeg = data[:3] == b"\xff\xd8\xff"
    if not (jpeg and len(data) <= max_bytes and min(w, h) >= MIN_SIDE and ratio_ok(w, h)):
        raise ImageError(f"Internal error: prepared image {w}x{h}, {len(data)} bytes breaks Kling's limits.")
