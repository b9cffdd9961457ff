"""Fast drawing on numpy frames: filled boxes, borders, shapes and text from cached glyph masks.

Pillow rasterises each (text, size) and each (shape, size) once; after that a frame is only numpy
slicing and alpha blending, which is what lets the env render thousands of frames per second.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

SHAPES = ("circle", "square", "triangle", "diamond", "star", "cross")


@lru_cache(maxsize=32)
def font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size)


@lru_cache(maxsize=16384)
def text_mask(text: str, size: int) -> np.ndarray:
    """Alpha mask (h, w, 1) float32 in [0, 1] of `text` at pixel `size`; every mask of one size has
    the same height (the font's ascent + descent). Phrases are joined from cached word masks, so
    new sentences made of known words cost no rasterisation."""
    words = text.split(" ")
    if len(words) == 1:
        return _word_mask(text, size)
    space = np.zeros((_word_mask(" ", size).shape[0], _word_mask(" ", size).shape[1], 1), np.float32)
    parts = []
    for i, word in enumerate(words):
        if i:
            parts.append(space)
        if word:
            parts.append(_word_mask(word, size))
    return np.concatenate(parts, axis=1)


@lru_cache(maxsize=16384)
def _word_mask(text: str, size: int) -> np.ndarray:
    f = font(size)
    ascent, descent = f.getmetrics()
    width = max(1, int(np.ceil(f.getlength(text))))
    image = Image.new("L", (width, ascent + descent))
    ImageDraw.Draw(image).text((0, 0), text, fill=255, font=f)
    return (np.asarray(image, dtype=np.float32) / 255.0)[:, :, None]


def text_size(text: str, size: int) -> tuple[int, int]:
    """(width, height) in pixels of `text` drawn at `size`."""
    mask = text_mask(text, size)
    return mask.shape[1], mask.shape[0]


@lru_cache(maxsize=1024)
def shape_mask(shape: str, size: int) -> np.ndarray:
    """Alpha mask (size, size, 1) of a filled shape, drawn 4x larger and downsampled for smooth edges."""
    s = size * 4
    image = Image.new("L", (s, s))
    draw = ImageDraw.Draw(image)
    if shape == "circle":
        draw.ellipse((0, 0, s - 1, s - 1), fill=255)
    elif shape == "square":
        draw.rectangle((s * 0.08, s * 0.08, s * 0.92, s * 0.92), fill=255)
    elif shape == "triangle":
        draw.polygon([(s / 2, 0), (s - 1, s - 1), (0, s - 1)], fill=255)
    elif shape == "diamond":
        draw.polygon([(s / 2, 0), (s - 1, s / 2), (s / 2, s - 1), (0, s / 2)], fill=255)
    elif shape == "star":
        angles = np.pi / 2 + np.arange(10) * np.pi / 5
        radii = np.where(np.arange(10) % 2 == 0, s / 2, s / 5)
        draw.polygon([(s / 2 + r * np.cos(a), s / 2 - r * np.sin(a)) for r, a in zip(radii, angles)], fill=255)
    elif shape == "cross":
        draw.rectangle((s * 0.35, 0, s * 0.65, s - 1), fill=255)
        draw.rectangle((0, s * 0.35, s - 1, s * 0.65), fill=255)
    else:
        raise ValueError(f"unknown shape {shape!r}; expected one of {SHAPES}")
    image = image.resize((size, size), Image.Resampling.BOX)
    return (np.asarray(image, dtype=np.float32) / 255.0)[:, :, None]


@lru_cache(maxsize=4096)
def _row(color: tuple[int, int, int], width: int) -> np.ndarray:
    return np.tile(np.asarray(color, dtype=np.uint8), width)


def fill(frame: np.ndarray, box, color) -> None:
    """Fill a box (x0, y0, x1, y1) of a C-contiguous (H, W, 3) uint8 frame with an RGB colour."""
    h, w = frame.shape[:2]
    x0, y0, x1, y1 = max(box[0], 0), max(box[1], 0), min(box[2], w), min(box[3], h)
    if x1 > x0 and y1 > y0:
        # Assigning one pre-tiled row is ~20x faster than broadcasting a 3-vector over the box.
        frame.reshape(h, w * 3)[y0:y1, 3 * x0 : 3 * x1] = _row(tuple(color), x1 - x0)


def border(frame: np.ndarray, box, color, width: int = 1) -> None:
    x0, y0, x1, y1 = box
    fill(frame, (x0, y0, x1, y0 + width), color)
    fill(frame, (x0, y1 - width, x1, y1), color)
    fill(frame, (x0, y0, x0 + width, y1), color)
    fill(frame, (x1 - width, y0, x1, y1), color)


def blend(frame: np.ndarray, mask: np.ndarray, x: int, y: int, color) -> None:
    """Alpha-blend `color` through `mask` with its top-left corner at (x, y), clipped to the frame."""
    h, w = mask.shape[:2]
    fx0, fy0 = max(x, 0), max(y, 0)
    fx1, fy1 = min(x + w, frame.shape[1]), min(y + h, frame.shape[0])
    if fx0 >= fx1 or fy0 >= fy1:
        return
    alpha = mask[fy0 - y : fy1 - y, fx0 - x : fx1 - x]
    region = frame[fy0:fy1, fx0:fx1]
    region[:] = region + alpha * (np.asarray(color, dtype=np.float32) - region)


def text(frame: np.ndarray, label: str, box, size: int, color, align: str = "center") -> None:
    """Draw `label` inside `box`, vertically centred; `align` is "center" or "left"."""
    mask = text_mask(label, size)
    x0, y0, x1, y1 = box
    y = (y0 + y1 - mask.shape[0]) // 2
    x = (x0 + x1 - mask.shape[1]) // 2 if align == "center" else x0
    blend(frame, mask, x, y, color)


def shape(frame: np.ndarray, name: str, box, color) -> None:
    x0, y0, x1, y1 = box
    blend(frame, shape_mask(name, min(x1 - x0, y1 - y0)), x0, y0, color)
