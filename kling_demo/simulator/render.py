"""Turn a still image (and an optional end frame) into a short H.264 MP4 with a slow camera move."""

from __future__ import annotations

import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps

ZOOM_END = 1.12  # how far the camera pushes in over the clip
PAN_FRACTION = 0.03  # horizontal drift, as a fraction of the frame width
# The source is pre-scaled to ZOOM_END x the output size: the tightest crop is then 1:1, so no
# frame is ever upscaled, and per-frame resizing stays cheap.
SOURCE_MARGIN = ZOOM_END
PRESET = "veryfast"


@dataclass(frozen=True)
class ClipInfo:
    """What a decoded MP4 turned out to be."""

    codec: str
    width: int
    height: int
    frames: int
    duration: float
    pix_fmt: str


def output_size(width: int, height: int, short_side: int) -> tuple[int, int]:
    """Size with the image's aspect ratio, the short side = short_side, both sides even."""
    short = max(2, short_side - short_side % 2)
    if width >= height:
        long = round(short * width / height)
        return long - long % 2, short
    long = round(short * height / width)
    return short, long - long % 2


def _open(data: bytes, min_side: int) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    # JPEG only: decode at a reduced scale (both sides still >= min_side); far faster for big photos.
    img.draft("RGB", (min_side, min_side))
    img = ImageOps.exif_transpose(img)
    return img.convert("RGB")


def _cover(img: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Scale and centre-crop img so it covers size exactly."""
    scale = max(size[0] / img.width, size[1] / img.height)
    cw, ch = size[0] / scale, size[1] / scale
    x0, y0 = (img.width - cw) / 2, (img.height - ch) / 2
    return img.resize(size, Image.Resampling.LANCZOS, box=(x0, y0, x0 + cw, y0 + ch), reducing_gap=3.0)


def _smooth(t: float) -> float:
    return t * t * (3 - 2 * t)


def _view(src: Image.Image, out: tuple[int, int], zoom: float, pan: float) -> Image.Image:
    """Crop a window 1/zoom of src, shifted by pan (fraction of width), and scale it to out."""
    sw, sh = src.size
    cw, ch = sw / zoom, sh / zoom
    cx = min(max(sw / 2 + pan * sw, cw / 2), sw - cw / 2)
    cy = sh / 2
    box = (cx - cw / 2, cy - ch / 2, cx + cw / 2, cy + ch / 2)
    return src.resize(out, Image.Resampling.BILINEAR, box=box)


def render_clip(
    image: bytes, end_image: bytes | None, duration: float, short_side: int, fps: int, out_path: Path
) -> None:
    """Write an MP4 of exactly duration seconds at fps to out_path (atomically)."""
    import av  # lazy: PyAV is slow to import and only the render threads need it

    start = _open(image, round(short_side * SOURCE_MARGIN))
    size = output_size(start.width, start.height, short_side)
    work = (round(size[0] * SOURCE_MARGIN), round(size[1] * SOURCE_MARGIN))
    start = _cover(start, work)
    end = _cover(_open(end_image, max(work)), work) if end_image else None
    frames = max(1, round(duration * fps))

    out_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(suffix=".mp4", dir=out_path.parent, prefix=".render-")
    os.close(fd)
    try:
        with av.open(tmp_name, mode="w", format="mp4", container_options={"movflags": "+faststart"}) as box:
            stream = box.add_stream("libx264", rate=fps)
            stream.width, stream.height = size
            stream.pix_fmt = "yuv420p"
            stream.options = {"preset": PRESET, "crf": "23"}
            for i in range(frames):
                t = i / (frames - 1) if frames > 1 else 1.0
                e = _smooth(t)
                frame = _view(start, size, 1 + (ZOOM_END - 1) * e, PAN_FRACTION * e)
                if end is not None:
                    # The end frame moves the opposite way so the clip lands exactly on it.
                    last = _view(end, size, ZOOM_END - (ZOOM_END - 1) * e, PAN_FRACTION * (e - 1))
                    frame = Image.blend(frame, last, e)
                video_frame = av.VideoFrame.from_image(frame)
                box.mux(stream.encode(video_frame))
            box.mux(stream.encode(None))
        os.replace(tmp_name, out_path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def probe(path: Path) -> ClipInfo:
    """Decode every frame of an MP4 and report codec, size, frame count and duration."""
    import av

    with av.open(str(path)) as box:
        stream = box.streams.video[0]
        frames = sum(1 for _ in box.decode(stream))
        rate = float(stream.average_rate or stream.base_rate or 0)
        fallback = frames / rate if rate else 0.0
        duration = box.duration / av.time_base if box.duration is not None else fallback
        return ClipInfo(
            stream.codec_context.name,
            stream.width,
            stream.height,
            frames,
            duration,
            stream.codec_context.pix_fmt or "",
        )
