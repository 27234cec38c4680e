"""Pixel work behind kling_demo.images: output geometry, colour modes, resizing, padding, JPEG encoding."""

from __future__ import annotations

import io
import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

import numpy as np
from PIL import Image, ImageCms, ImageFilter

from .catalogue import MAX_RATIO, MIN_RATIO, MIN_SIDE

Fit = Literal["none", "crop", "pad"]
Box = tuple[float, float, float, float]

# EXIF orientation -> the transpose that makes the image upright (the table ImageOps.exif_transpose uses).
TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
SWAPS_AXES = frozenset({5, 6, 7, 8})
JPEG_QUALITIES = (90, 85, 80, 75, 70, 60, 50)
_pool: ThreadPoolExecutor | None = None


def ratio_ok(width: int, height: int) -> bool:
    """Whether width:height lies within Kling's 1:2.5 to 2.5:1."""
    return MIN_RATIO <= width / height <= MAX_RATIO


def ratio_label(ratio: float) -> str:
    """'2.5:1' or '1:2.5' style text for a ratio."""
    return f"{ratio:.3g}:1" if ratio >= 1 else f"1:{1 / ratio:.3g}"


@dataclass(frozen=True)
class Plan:
    """What to cut from the upright source and how big the output is."""

    box: Box  # region of the upright, full-size source to keep; always centred
    content: tuple[int, int]  # size the kept region is resized to
    canvas: tuple[int, int]  # output size; larger than content only when padding
    notes: tuple[str, ...]


def plan_output(width: int, height: int, fit: Fit, max_long_side: int, min_side: int = MIN_SIDE) -> Plan:
    """Crop/pad and scale an upright width x height source to a Kling-compliant output size."""
    notes: list[str] = []
    ratio = width / height
    target = MAX_RATIO if ratio > MAX_RATIO else MIN_RATIO
    box: Box = (0.0, 0.0, float(width), float(height))
    canvas_w, canvas_h = float(width), float(height)
    if fit == "crop" and not ratio_ok(width, height):
        if ratio > MAX_RATIO:
            canvas_w = height * MAX_RATIO
            box = ((width - canvas_w) / 2, 0.0, (width + canvas_w) / 2, float(height))
        else:
            canvas_h = width / MIN_RATIO
            box = (0.0, (height - canvas_h) / 2, float(width), (height + canvas_h) / 2)
        notes.append(f"Cropped to {ratio_label(target)}")
    elif fit == "pad" and not ratio_ok(width, height):
        if ratio > MAX_RATIO:
            canvas_h = width / MAX_RATIO
        else:
            canvas_w = height * MIN_RATIO
        notes.append(f"Padded to {ratio_label(target)} with a blurred border")

    scale = min(1.0, max_long_side / max(canvas_w, canvas_h))
    if min(canvas_w, canvas_h) * scale < min_side:
        scale = min(1.0, min_side / min(canvas_w, canvas_h))
    clamp = fit != "none" or ratio_ok(width, height)  # never squash a shape refused elsewhere
    out_w, out_h = legal_size(canvas_w * scale, canvas_h * scale, clamp)
    if fit == "pad" and canvas_w > width:  # pillarbox: content keeps the full height
        content = (max(1, round(width * out_h / height)), out_h)
    elif fit == "pad" and canvas_h > height:  # letterbox: content keeps the full width
        content = (out_w, max(1, round(height * out_w / width)))
    else:
        content = (out_w, out_h)
    if scale < 1:
        notes.append(f"Downscaled from {width}x{height} to {out_w}x{out_h}")
    return Plan(box, content, (out_w, out_h), tuple(notes))


def legal_size(width: float, height: float, clamp: bool = True) -> tuple[int, int]:
    """Round a size to whole pixels; with clamp, trim a side so rounding cannot break the ratio limits."""
    w, h = max(1, round(width)), max(1, round(height))
    if clamp and w / h > MAX_RATIO:
        w = math.floor(h * MAX_RATIO)
    elif clamp and w / h < MIN_RATIO:
        h = math.floor(w / MIN_RATIO)
    return w, h


def stored_box(box: Box, orientation: int, scale: tuple[float, float]) -> Box:
    """Map a centred box on the upright image to the stored (pre-EXIF-rotation), draft-scaled image.

    scale is per stored axis: a 1/k draft decode rounds each side up on its own.
    """
    x0, y0, x1, y1 = box
    if orientation in SWAPS_AXES:  # a centred box stays centred under flips and turns: only axes swap
        x0, y0, x1, y1 = y0, x0, y1, x1
    return (x0 * scale[0], y0 * scale[1], x1 * scale[0], y1 * scale[1])


def to_working_mode(im: Image.Image, notes: list[str]) -> Image.Image:
    """Convert any Pillow mode to 8-bit L, RGB or RGBA, keeping transparency for a later flatten."""
    mode, keyed = im.mode, "transparency" in im.info
    if mode == "RGBA" or (mode in ("L", "RGB") and not keyed):
        return im
    if mode == "CMYK":
        notes.append("Converted from CMYK to RGB")
        return _cmyk_to_rgb(im)
    if mode.startswith("I") or mode == "F":
        depth = "floating-point" if mode == "F" else "32-bit" if mode == "I" else "16-bit"
        notes.append(f"Converted {depth} greyscale to 8-bit")
        return _to_8bit(im)
    if keyed or mode in ("PA", "LA", "La", "RGBa"):
        return im.convert("RGBA")
    if mode == "P":
        return im.convert("RGBA" if im.palette and im.palette.mode == "RGBA" else "RGB")
    return im.convert("L" if mode == "1" else "RGB")


def _cmyk_to_rgb(im: Image.Image) -> Image.Image:
    icc = im.info.get("icc_profile")
    if icc:
        try:
            src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            out = ImageCms.profileToProfile(im, src, ImageCms.createProfile("sRGB"), outputMode="RGB")
            if out is not None:
                return out
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # a broken profile: fall back to Pillow's plain conversion
    return im.convert("RGB")


def _to_8bit(im: Image.Image) -> Image.Image:
    """Scale 16-bit, 32-bit int or float greyscale to 0-255 instead of clipping it."""
    a = np.asarray(im).astype(np.float64)
    lo, hi = (float(a.min()), float(a.max())) if a.size else (0.0, 0.0)
    if im.mode == "F" and lo >= 0 and hi <= 1:
        a = a * 255
    elif im.mode != "F" and lo >= 0 and hi > 255:
        a = a / 257 if hi <= 65535 else a * (255 / hi)  # 16-bit full range, else stretch
    elif lo < 0 or hi > 255:
        a = (a - lo) * (255 / (hi - lo or 1))
    return Image.fromarray(np.clip(a + 0.5, 0, 255).astype(np.uint8), "L")


def resize_upright(im: Image.Image, box: Box, size: tuple[int, int], orientation: int) -> Image.Image:
    """LANCZOS-resize box of the stored image to size (stored axes), then turn it upright.

    Big outputs are done in horizontal strips on two threads: Pillow releases the GIL while
    resampling, and each strip reads pixels outside its own box as filter support, so the strips
    join seamlessly into the same pixels as one call.
    """
    turn = TRANSPOSE.get(orientation)
    workers = min(2, os.cpu_count() or 1)
    if workers < 2 or size[0] * size[1] < 400_000:
        if size != im.size or box != (0, 0, *im.size):
            im = im.resize(size, Image.Resampling.LANCZOS, box=box, reducing_gap=3.0)
        return im.transpose(turn) if turn is not None else im
    alpha = im.mode == "RGBA"
    if alpha:  # premultiply once here rather than once per strip inside Image.resize
        im = im.convert("RGBa")
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="image-resize")
    x0, y0, x1, y1 = box
    step = (y1 - y0) / size[1]
    cuts = [round(size[1] * i / workers) for i in range(workers + 1)]

    def strip(i: int) -> Image.Image:
        part = im.resize(
            (size[0], cuts[i + 1] - cuts[i]),
            Image.Resampling.LANCZOS,
            box=(x0, y0 + cuts[i] * step, x1, y0 + cuts[i + 1] * step),
            reducing_gap=3.0,
        )
        return part.transpose(turn) if turn is not None else part

    swap, flipped = orientation in SWAPS_AXES, orientation in (3, 4, 6, 7)  # stored rows run bottom-up
    out = Image.new(im.mode, size[::-1] if swap else size, None)  # every pixel is pasted over
    for i, part in enumerate(_pool.map(strip, range(workers))):
        offset = size[1] - cuts[i + 1] if flipped else cuts[i]
        out.paste(part, (offset, 0) if swap else (0, offset))
    return out.convert("RGBA") if alpha else out


def flatten(im: Image.Image, notes: list[str]) -> Image.Image:
    """RGB on white for an RGBA image (noting it only if something was see-through); L to RGB."""
    if im.mode == "RGBA":
        alpha = im.getchannel("A")
        if alpha.getextrema()[0] < 255:
            notes.append("Transparent areas filled with white")
        out = Image.new("RGB", im.size, (255, 255, 255))
        out.paste(im, mask=alpha)
        return out
    return im if im.mode == "RGB" else im.convert("RGB")


def pad(content: Image.Image, canvas: tuple[int, int]) -> Image.Image:
    """Centre content on a canvas filled with a blurred, dimmed, stretched copy of itself."""
    if content.size == canvas:
        return content
    small = content.resize((max(1, canvas[0] // 16), max(1, canvas[1] // 16)), Image.Resampling.BILINEAR)
    small = small.filter(ImageFilter.GaussianBlur(2)).point(lambda v: v * 3 // 4)
    out = small.resize(canvas, Image.Resampling.BICUBIC)
    out.paste(content, ((canvas[0] - content.width) // 2, (canvas[1] - content.height) // 2))
    return out


def encode_jpeg(
    im: Image.Image, max_bytes: int, icc_profile: bytes | None, min_side: int = MIN_SIDE
) -> tuple[bytes, Image.Image, int]:
    """Baseline JPEG under max_bytes: step the quality down, then the size; returns (data, image, quality)."""
    while True:
        for quality in JPEG_QUALITIES:
            buf = io.BytesIO()
            im.save(buf, "JPEG", quality=quality, optimize=False, progressive=False, icc_profile=icc_profile)
            if buf.tell() <= max_bytes:
                return buf.getvalue(), im, quality
        scale = max(0.75, min_side / min(im.size))
        if scale >= 1:
            raise ValueError(f"cannot encode {im.width}x{im.height} px under {max_bytes} bytes")
        im = im.resize(legal_size(im.width * scale, im.height * scale), Image.Resampling.LANCZOS)
