"""Draw the example images the app ships in assets/ (deterministic; Pillow and numpy only, no downloads).

Run: python scripts/make_assets.py [--out assets]
Each scene is drawn at twice its size and downscaled with LANCZOS, which anti-aliases every edge.
"""

from __future__ import annotations

import argparse
import math
import random
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

Colour = tuple[int, int, int]
SS = 2  # supersampling factor
MAX_BYTES = 300_000


def gradient(size: tuple[int, int], stops: Sequence[tuple[float, Colour]]) -> Image.Image:
    """A vertical gradient through (position 0..1, colour) stops."""
    w, h = size
    t = np.linspace(0, 1, h)
    pos = [p for p, _ in stops]
    rows = np.stack([np.interp(t, pos, [c[i] for _, c in stops]) for i in range(3)], axis=-1)
    return Image.fromarray(np.repeat(rows[:, None, :], w, axis=1).astype(np.uint8))


def glow(
    base: Image.Image, centre: tuple[float, float], radius: float, colour: Colour, strength: float
) -> None:
    """Add a soft radial light (in place)."""
    w, h = base.size
    y, x = np.ogrid[:h, :w]
    d = np.sqrt((x - centre[0]) ** 2 + (y - centre[1]) ** 2) / radius
    a = (np.clip(1 - d, 0, 1) ** 2 * strength)[..., None]
    px = np.asarray(base, np.float32)
    base.paste(Image.fromarray((px * (1 - a) + np.array(colour) * a).astype(np.uint8)))


def ridge(width: int, y: float, amp: float, seed: int, roughness: float = 0.5) -> list[tuple[float, float]]:
    """A mountain skyline: summed sines with seeded phases, as points left to right."""
    rnd = random.Random(seed)
    waves = [(rnd.uniform(0.5, 1.5) * 2**k, rnd.uniform(0, math.tau), roughness**k) for k in range(6)]
    pts = []
    for i in range(0, width + 8, 8):
        v = sum(a * math.sin(f * i / width * math.tau + p) for f, p, a in waves)
        pts.append((float(i), y - amp * v))
    return pts


def fill_below(
    draw: ImageDraw.ImageDraw, pts: list[tuple[float, float]], bottom: float, colour: Colour
) -> None:
    draw.polygon([*pts, (pts[-1][0], bottom), (pts[0][0], bottom)], fill=colour)


def mix(a: Colour, b: Colour, t: float) -> Colour:
    return (round(a[0] + (b[0] - a[0]) * t), round(a[1] + (b[1] - a[1]) * t), round(a[2] + (b[2] - a[2]) * t))


def lighthouse(size: tuple[int, int]) -> Image.Image:
    """Dusk over the sea: a setting sun, a rocky headland and a striped lighthouse with its beam."""
    w, h = size
    horizon = h * 0.62
    sky = (
        (0, (24, 26, 72)),
        (0.35, (92, 52, 120)),
        (0.52, (226, 112, 96)),
        (0.62, (255, 190, 120)),
        (0.63, (56, 70, 120)),
        (1, (14, 22, 48)),
    )
    im = gradient(size, sky)
    sun = (w * 0.3, horizon)
    glow(im, sun, h * 0.55, (255, 200, 140), 0.55)
    d = ImageDraw.Draw(im)
    rnd = random.Random(7)
    for _ in range(90):  # the first stars
        x, y = rnd.uniform(0, w), rnd.uniform(0, horizon * 0.45)
        r = rnd.uniform(0.6, 1.8) * SS
        d.ellipse((x - r, y - r, x + r, y + r), fill=mix((255, 250, 230), (60, 50, 110), y / horizon))
    r = h * 0.09
    d.pieslice((sun[0] - r, sun[1] - r, sun[0] + r, sun[1] + r), 180, 360, fill=(255, 226, 160))
    for i in range(26):  # the sun's path on the water, breaking up towards us
        y = horizon + 4 * SS + i * i * 0.55 * SS
        half = r * (0.9 - i * 0.022) * (1 + 0.4 * rnd.random())
        d.rounded_rectangle(
            (sun[0] - half, y, sun[0] + half, y + (1 + i * 0.25) * SS), radius=SS, fill=(255, 200, 140)
        )
    for _ in range(60):  # wave glints
        x, y = rnd.uniform(0, w), horizon + rnd.uniform(0.02, 1) ** 1.6 * (h - horizon)
        length = (8 + 40 * (y - horizon) / (h - horizon)) * SS
        d.line((x, y, x + length, y), fill=(90, 100, 150), width=SS)
    head = [(w * 0.58, h), (w * 0.62, horizon + h * 0.02), (w * 0.7, horizon - h * 0.05)]
    head += [(w * 0.82, horizon - h * 0.09), (w * 0.93, horizon - h * 0.06), (w, horizon - h * 0.02), (w, h)]
    d.polygon(head, fill=(30, 26, 44))
    base_x, base_y, top_y = w * 0.8, horizon - h * 0.085, h * 0.24

    def tower(t: float) -> float:  # the tower's half width at height t (0 = base, 1 = top)
        return w * 0.028 * (1 - t) + w * 0.018 * t

    for k in range(6):  # red and white bands
        t0, t1 = k / 6, (k + 1) / 6
        y0, y1 = base_y - (base_y - top_y) * t0, base_y - (base_y - top_y) * t1
        colour = (236, 232, 226) if k % 2 == 0 else (196, 52, 58)
        d.polygon(
            [
                (base_x - tower(t0), y0),
                (base_x + tower(t0), y0),
                (base_x + tower(t1), y1),
                (base_x - tower(t1), y1),
            ],
            fill=colour,
        )
    lamp_y = top_y - h * 0.035
    beam = Image.new("L", size, 0)
    ImageDraw.Draw(beam).polygon([(base_x, lamp_y), (0, lamp_y - h * 0.22), (0, lamp_y + h * 0.12)], fill=48)
    beam = beam.filter(ImageFilter.GaussianBlur(12 * SS))
    im.paste(Image.new("RGB", size, (255, 240, 190)), mask=beam)
    glow(im, (base_x, lamp_y), h * 0.12, (255, 236, 170), 0.9)
    d = ImageDraw.Draw(im)
    d.rectangle((base_x - w * 0.024, top_y - 2 * SS, base_x + w * 0.024, top_y + 4 * SS), fill=(40, 36, 50))
    d.rectangle((base_x - w * 0.013, lamp_y - h * 0.015, base_x + w * 0.013, top_y), fill=(255, 238, 170))
    d.polygon(
        [
            (base_x - w * 0.019, lamp_y - h * 0.015),
            (base_x + w * 0.019, lamp_y - h * 0.015),
            (base_x, lamp_y - h * 0.055),
        ],
        fill=(40, 36, 50),
    )
    return im


def cat(size: tuple[int, int]) -> Image.Image:
    """A stylised cat on a windowsill under a big moon, in night blues and violets."""
    w, h = size
    im = gradient(
        size, ((0, (20, 30, 70)), (0.55, (70, 60, 130)), (0.72, (150, 100, 150)), (1, (40, 30, 60)))
    )
    moon = (w * 0.62, h * 0.3)
    glow(im, moon, w * 0.75, (200, 210, 255), 0.5)
    d = ImageDraw.Draw(im)
    r = w * 0.26
    d.ellipse((moon[0] - r, moon[1] - r, moon[0] + r, moon[1] + r), fill=(236, 236, 214))
    rnd = random.Random(3)
    for _ in range(9):  # craters
        a, dist, cr = rnd.uniform(0, math.tau), rnd.uniform(0, r * 0.7), rnd.uniform(0.05, 0.16) * r
        cx, cy = moon[0] + dist * math.cos(a), moon[1] + dist * math.sin(a)
        d.ellipse((cx - cr, cy - cr, cx + cr, cy + cr), fill=(218, 218, 196))
    for _ in range(120):
        x, y = rnd.uniform(0, w), rnd.uniform(0, h * 0.6)
        s = rnd.uniform(0.6, 1.6) * SS
        d.ellipse((x - s, y - s, x + s, y + s), fill=(230, 230, 255))
    for i, y in enumerate((0.68, 0.74, 0.8)):  # rooftops far away
        fill_below(d, ridge(w, h * y, h * 0.012, 40 + i, 0.8), h, mix((60, 50, 110), (30, 22, 50), i / 2))
    sill = h * 0.8
    d.rectangle((0, sill, w, h), fill=(52, 36, 46))
    d.rectangle((0, sill, w, sill + h * 0.015), fill=(92, 64, 74))
    body, ink = (w * 0.42, sill), (22, 18, 30)
    d.ellipse((body[0] - w * 0.22, sill - h * 0.26, body[0] + w * 0.22, sill + h * 0.02), fill=ink)  # body
    d.ellipse((body[0] - w * 0.16, sill - h * 0.39, body[0] + w * 0.16, sill - h * 0.215), fill=ink)  # head
    for side in (-1, 1):  # ears, paws
        ex = body[0] + side * w * 0.085
        d.polygon(
            [
                (ex - w * 0.055, sill - h * 0.355),
                (ex + side * w * 0.03, sill - h * 0.445),
                (ex + w * 0.055, sill - h * 0.355),
            ],
            fill=ink,
        )
        d.polygon(
            [
                (ex - w * 0.025, sill - h * 0.37),
                (ex + side * w * 0.022, sill - h * 0.425),
                (ex + w * 0.025, sill - h * 0.37),
            ],
            fill=(70, 40, 70),
        )
        px = body[0] + side * w * 0.08
        d.ellipse((px - w * 0.06, sill - h * 0.025, px + w * 0.06, sill + h * 0.012), fill=ink)
    tail = [
        (
            body[0] + w * (0.15 + 0.24 * math.sin(t / 20 * math.pi)),
            sill - h * (0.015 + 0.16 * (t / 10) ** 2.5),
        )
        for t in range(11)
    ]
    d.line(tail, fill=ink, width=int(w * 0.045), joint="curve")
    tip = w * 0.0225
    d.ellipse((tail[-1][0] - tip, tail[-1][1] - tip, tail[-1][0] + tip, tail[-1][1] + tip), fill=ink)
    for side in (-1, 1):  # eyes, whiskers
        ex, ey = body[0] + side * w * 0.065, sill - h * 0.31
        d.ellipse((ex - w * 0.04, ey - h * 0.016, ex + w * 0.04, ey + h * 0.016), fill=(250, 210, 80))
        d.ellipse((ex - w * 0.008, ey - h * 0.014, ex + w * 0.008, ey + h * 0.014), fill=ink)
        for k in (-1, 0, 1):
            root, end = (
                (body[0] + side * w * 0.05, sill - h * 0.27),
                (body[0] + side * w * 0.24, sill - h * 0.285),
            )
            d.line((*root, end[0], end[1] - h * 0.012 * k), fill=(120, 110, 150), width=SS)
    glow(im, (body[0], sill - h * 0.2), w * 0.5, (150, 140, 220), 0.08)
    return im


def mountains(size: tuple[int, int]) -> Image.Image:
    """Layered ridges fading into morning haze above a still lake with pines in front."""
    w, h = size
    im = gradient(
        size, ((0, (70, 120, 190)), (0.45, (250, 200, 160)), (0.55, (250, 225, 190)), (1, (40, 70, 90)))
    )
    sun = (w * 0.3, h * 0.27)
    glow(im, sun, w * 0.6, (255, 240, 200), 0.7)
    d = ImageDraw.Draw(im)
    sun_r = w * 0.05
    d.ellipse((sun[0] - sun_r, sun[1] - sun_r, sun[0] + sun_r, sun[1] + sun_r), fill=(255, 246, 220))
    layers = [
        (0.44, 0.09, (150, 150, 180)),
        (0.5, 0.07, (110, 115, 150)),
        (0.56, 0.06, (72, 84, 112)),
        (0.62, 0.045, (44, 60, 78)),
    ]
    lake = h * 0.66
    for i, (y, amp, colour) in enumerate(layers):
        fill_below(d, ridge(w, h * y, h * amp, 11 + i, 0.55), lake, colour)
    above = im.crop((0, round(2 * lake - h), w, round(lake))).transpose(Image.Transpose.FLIP_TOP_BOTTOM)
    water = Image.blend(above, Image.new("RGB", above.size, (50, 80, 100)), 0.4)
    im.paste(water.filter(ImageFilter.GaussianBlur(1.5 * SS)), (0, round(lake)))
    d = ImageDraw.Draw(im)
    d.rectangle((0, lake, w, lake + SS), fill=(200, 210, 210))
    rnd = random.Random(5)
    for _ in range(40):  # ripples
        x, y = rnd.uniform(0, w), rnd.uniform(lake + 6 * SS, h)
        d.line((x, y, x + rnd.uniform(20, 70) * SS, y), fill=(170, 190, 200), width=SS)
    shore = ridge(w, h * 0.95, h * 0.015, 21, 0.6)
    fill_below(d, shore, h, (22, 40, 34))
    for _ in range(34):  # pines along the near shore
        x = rnd.uniform(-0.02, 1.02) * w
        if 0.3 * w < x < 0.62 * w:
            continue
        base, tall = h * rnd.uniform(0.9, 1.02), h * rnd.uniform(0.16, 0.3)
        for k in range(4):
            top, half = base - tall * (0.3 + 0.23 * k), tall * 0.22 * (1 - 0.2 * k)
            d.polygon(
                [(x - half, top + tall * 0.35), (x, top), (x + half, top + tall * 0.35)], fill=(16, 34, 30)
            )
        d.rectangle((x - 2 * SS, base - tall * 0.2, x + 2 * SS, base), fill=(30, 26, 22))
    return im


SCENES: dict[str, tuple[Callable[[tuple[int, int]], Image.Image], tuple[int, int]]] = {
    "example-lighthouse.jpg": (lighthouse, (1280, 720)),
    "example-cat-portrait.jpg": (cat, (720, 1280)),
    "example-mountains.jpg": (mountains, (1024, 1024)),
}


def render(name: str, out: Path) -> Path:
    """Draw one scene at SS x size, downscale it and save it as a baseline JPEG under MAX_BYTES."""
    draw, size = SCENES[name]
    im = draw((size[0] * SS, size[1] * SS)).resize(size, Image.Resampling.LANCZOS)
    path = out / name
    for quality in (88, 84, 80, 75):
        im.save(path, "JPEG", quality=quality, optimize=True, progressive=False)
        if path.stat().st_size <= MAX_BYTES:
            return path
    raise SystemExit(f"{name} is still over {MAX_BYTES} bytes")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "assets")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name in SCENES:
        path = render(name, args.out)
        with Image.open(path) as im:
            print(f"{path}: {im.width}x{im.height}, {path.stat().st_size / 1000:.0f} KB")


if __name__ == "__main__":
    main()
