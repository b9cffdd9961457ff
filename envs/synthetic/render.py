"""Fast drawing on numpy frames: filled boxes, borders, shapes and text from cached glyph masks.

Text is laid out from each face's glyphs, rasterised by Pillow once per (character, size, face): a word
never seen before costs a few numpy pastes, not a call into FreeType, which matters when the open world
draws from thousands of words in six faces and nine sizes. The "default" face is the closed world's
look, frozen: Pillow rasterises each of its words whole. After that a frame is only numpy slicing and
alpha blending, which is what lets the env render thousands of frames per second.

The glyph caches are bounded in bytes, not entries: a mask's size grows with its text, and an env that
types a new string every episode would otherwise grow until the machine runs out of memory. Together
they hold at most `GLYPH_CACHE_BYTES` of masks per process (oldest used first out).
"""

from __future__ import annotations

import functools
import math
import os
from collections import OrderedDict
from functools import lru_cache
from itertools import accumulate

import numpy as np
from PIL import Image, ImageDraw, ImageFont

SHAPES = ("circle", "square", "triangle", "diamond", "star", "cross")

# Font faces by name: Pillow's own default and the TrueType fonts matplotlib ships (a dependency), so a
# fresh machine draws every face without a download.
FACE_FILES = {
    "default": None,  # Pillow's default font (Aileron), each word rasterised whole: the closed world's look
    "aileron": None,  # the same font, laid out glyph by glyph like every face below
    "dejavu-sans": "DejaVuSans.ttf",
    "dejavu-sans-bold": "DejaVuSans-Bold.ttf",
    "dejavu-serif": "DejaVuSerif.ttf",
    "dejavu-mono": "DejaVuSansMono.ttf",
    "stix": "STIXGeneral.ttf",
}
FACES = tuple(FACE_FILES)
GLYPH_CACHE_BYTES = 96 << 20  # shared out below; word alphas are 3x their masks (one value per channel)
ENTRY_OVERHEAD = 256  # bytes a cache entry costs besides its arrays: the key, the array objects, the dict slot


def byte_bounded_cache(max_bytes: int):
    """Like `functools.lru_cache`, but evicts the least recently used entries once the numpy arrays in the
    cached values exceed `max_bytes` (positional arguments only; every value is kept read-only-shared)."""

    def decorate(function):
        cache: OrderedDict = OrderedDict()
        used = 0

        @functools.wraps(function)
        def cached(*key):
            nonlocal used
            try:
                value = cache[key]
            except KeyError:
                value = function(*key)
                cache[key] = value
                used += _nbytes(value) + ENTRY_OVERHEAD
                while used > max_bytes and len(cache) > 1:
                    used -= _nbytes(cache.popitem(last=False)[1]) + ENTRY_OVERHEAD
                return value
            cache.move_to_end(key)
            return value

        def cache_info():
            return {"entries": len(cache), "bytes": used, "max_bytes": max_bytes}

        def cache_clear():
            nonlocal used
            cache.clear()
            used = 0

        cached.cache_info, cached.cache_clear = cache_info, cache_clear
        return cached

    return decorate


def _nbytes(value) -> int:
    if isinstance(value, np.ndarray):
        return value.nbytes
    if isinstance(value, tuple):
        return sum(_nbytes(v) for v in value)
    return 0


@lru_cache(maxsize=256)
def font(size: int, face: str = "default") -> ImageFont.FreeTypeFont:
    if face not in FACE_FILES:
        raise ValueError(f"unknown font face {face!r}; expected one of {FACES}")
    if FACE_FILES[face] is None:
        return ImageFont.load_default(size=size)
    import matplotlib

    return ImageFont.truetype(os.path.join(matplotlib.get_data_path(), "fonts", "ttf", FACE_FILES[face]), size)


@byte_bounded_cache(GLYPH_CACHE_BYTES // 16)
def text_mask(text: str, size: int, face: str = "default") -> np.ndarray:
    """Alpha mask (h, w, 1) float32 in [0, 1] of `text` at pixel `size`; every mask of one size and face
    has the same height (the font's ascent + descent). Phrases are joined from cached word masks, so
    new sentences made of known words cost no rasterisation."""
    words = text.split(" ")
    if len(words) == 1:
        return _word_mask(text, size, face)
    space = np.zeros((text_size(" ", size, face)[1], _word_width(" ", size, face), 1), np.float32)
    parts = []
    for i, word in enumerate(words):
        if i:
            parts.append(space)
        if word:
            parts.append(_word_mask(word, size, face))
    return np.concatenate(parts, axis=1)


@byte_bounded_cache(GLYPH_CACHE_BYTES // 8)
def _word_mask(text: str, size: int, face: str = "default") -> np.ndarray:
    if face != "default":
        return _composed_mask(text, size, face)
    f = font(size, face)
    ascent, descent = f.getmetrics()
    width = max(1, int(np.ceil(f.getlength(text))))
    image = Image.new("L", (width, ascent + descent))
    ImageDraw.Draw(image).text((0, 0), text, fill=255, font=f)
    return (np.asarray(image, dtype=np.float32) / 255.0)[:, :, None]


class Glyphs:
    """One face at one size, for the printable ASCII characters (others draw as "?"): each glyph's advance,
    its mask (the line's height, as wide as its ink) and where the mask and its ink lie from the glyph's origin."""

    # Plain Python lists, not arrays: words are a few characters, and numpy's per-call cost would dominate.
    def __init__(self, size: int, face: str):
        f = font(size, face)
        ascent, descent = f.getmetrics()
        self.height = ascent + descent
        self.advance: list[float] = []
        self.left: list[int] = []  # the mask's x from the origin
        self.ink: list[tuple[int, int, int, int]] = []  # (x0, y0, x1, y1) of the ink from the origin
        # Each glyph's mask repeated per colour channel, to paste straight into a frame's (H, 3W) row view.
        self.alpha3: list[np.ndarray] = []
        for code in range(128):
            ch = chr(code) if 32 <= code < 127 else "?"
            left, _, right, _ = f.getbbox(ch)
            image = Image.new("L", (max(1, right - left), self.height))
            ImageDraw.Draw(image).text((-left, 0), ch, fill=255, font=f)
            mask = np.asarray(image, dtype=np.float32) / 255.0
            rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
            ink = (
                (left + int(cols[0]), int(rows[0]), left + int(cols[-1]) + 1, int(rows[-1]) + 1)
                if rows.size
                else (0,) * 4
            )
            self.advance.append(f.getlength(ch))
            self.left.append(left)
            self.ink.append(ink)
            self.alpha3.append(np.repeat(mask, 3, axis=1))

    def layout(self, word: str) -> tuple[list[int], list[int], int]:
        """(character codes, each glyph's origin x in whole pixels, the word's width)."""
        codes = list(word.encode("ascii", "replace"))  # "?" for anything else
        advances = [self.advance[code] for code in codes]
        starts = list(accumulate(advances, initial=0.0))
        return codes, [int(x + 0.5) for x in starts[:-1]], max(1, math.ceil(starts[-1]))


@lru_cache(maxsize=16384)  # two short lists of ints per word: ~1 KB for a long word, ~16 MB at most
def layout(word: str, size: int, face: str) -> tuple[list[int], list[int], int]:
    """`Glyphs.layout` of `word` in `face` at `size`, cached: measuring, drawing and boxing a word share it."""
    return glyphs(size, face).layout(word)


@lru_cache(maxsize=128)  # 128 glyph masks each, at most ~150 KB a table at 224 px: ~20 MB in all
def glyphs(size: int, face: str) -> Glyphs:
    return Glyphs(size, face)


def _composed_mask(text: str, size: int, face: str) -> np.ndarray:
    """A word's mask from its glyphs: one channel of the interleaved alpha `_word_alpha` pastes together."""
    return np.ascontiguousarray(_word_alpha(text, size, face)[2][:, ::3])[:, :, None]


@lru_cache(maxsize=65536)  # a key and an int: ~150 bytes an entry
def _word_width(word: str, size: int, face: str) -> int:
    if face == "default":
        return _word_mask(word, size, face).shape[1]
    return layout(word, size, face)[2]


@lru_cache(maxsize=65536)  # a key and two ints: ~250 bytes an entry for a 96-character text, ~16 MB at most
def text_size(text: str, size: int, face: str = "default") -> tuple[int, int]:
    """(width, height) in pixels of `text` drawn at `size`: the shape of `text_mask`, without building it."""
    height = _word_mask(" ", size, face).shape[0] if face == "default" else glyphs(size, face).height
    words = text.split(" ")
    space = _word_width(" ", size, face)
    return sum(_word_width(word, size, face) for word in words if word) + space * (len(words) - 1), height


@byte_bounded_cache(GLYPH_CACHE_BYTES // 16)
def char_boxes(text: str, size: int, face: str = "default") -> np.ndarray:
    """Where each character of `text` lies in its `text_mask`: an (n, 4) int32 array of (x0, y0, x1, y1) per
    character, in pixels from the mask's top-left corner. A glyph's box is its ink's bounding box (clipped to
    the mask, as the mask clips the ink); a space's is the gap it leaves, the line's height, which holds no ink."""
    height = text_size(text, size, face)[1]
    space = _word_width(" ", size, face)
    boxes, x = [], 0
    for word in text.split(" "):
        if word:
            boxes += [(x + x0, y0, x + x1, y1) for x0, y0, x1, y1 in _word_char_boxes(word, size, face)]
            x += _word_width(word, size, face)
        boxes.append((x, 0, x + space, height))  # the space after the word
        x += space
    return np.array(boxes[:-1], np.int32).reshape(-1, 4)


@lru_cache(maxsize=16384)  # a 4-tuple per character: ~1 KB for a long word, ~16 MB at most
def _word_char_boxes(word: str, size: int, face: str) -> tuple[tuple[int, int, int, int], ...]:
    """Each character's box in the word's mask, from the glyph layout (for the "default" face, whose words
    Pillow lays out whole, the same layout up to kerning: within a pixel)."""
    table = glyphs(size, face)
    codes, origins, _ = layout(word, size, face)
    width, ink = _word_width(word, size, face), table.ink
    return tuple(
        (min(max(o + ink[c][0], 0), width), ink[c][1], min(max(o + ink[c][2], 0), width), ink[c][3])
        for c, o in zip(codes, origins, strict=True)
    )


@byte_bounded_cache(GLYPH_CACHE_BYTES // 16)
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
        draw.polygon(
            [(s / 2 + r * np.cos(a), s / 2 - r * np.sin(a)) for r, a in zip(radii, angles, strict=True)], fill=255
        )
    elif shape == "cross":
        draw.rectangle((s * 0.35, 0, s * 0.65, s - 1), fill=255)
        draw.rectangle((0, s * 0.35, s - 1, s * 0.65), fill=255)
    else:
        raise ValueError(f"unknown shape {shape!r}; expected one of {SHAPES}")
    image = image.resize((size, size), Image.Resampling.BOX)
    return (np.asarray(image, dtype=np.float32) / 255.0)[:, :, None]


@lru_cache(maxsize=4096)
def _row(color: tuple[int, int, int], width: int) -> np.ndarray:
    return np.frombuffer(bytes(color) * width, np.uint8)  # read-only; only ever a source


@lru_cache(maxsize=4096)
def _ink(color: tuple[int, int, int], width: int) -> np.ndarray:
    return np.frombuffer(np.asarray(color, np.float32).tobytes() * width, np.float32)


def fill(frame: np.ndarray, box, color) -> None:
    """Fill a box (x0, y0, x1, y1) of an (H, W, 3) uint8 frame with an RGB colour."""
    h, w = frame.shape[:2]
    x0, y0, x1, y1 = box
    # Plain ifs, not max()/min(): a scene makes ~50 fills, and builtin calls were half of each.
    if x0 < 0:
        x0 = 0
    if y0 < 0:
        y0 = 0
    if x1 > w:
        x1 = w
    if y1 > h:
        y1 = h
    if x1 > x0 and y1 > y0:
        if frame.flags.c_contiguous:
            # Assigning one pre-tiled row is ~20x faster than broadcasting a 3-vector over the box.
            frame.reshape(h, w * 3)[y0:y1, 3 * x0 : 3 * x1] = _row(tuple(color), x1 - x0)
        else:
            frame[y0:y1, x0:x1] = color


def border(frame: np.ndarray, box, color, width: int = 1) -> None:
    x0, y0, x1, y1 = box
    fill(frame, (x0, y0, x1, y0 + width), color)
    fill(frame, (x0, y1 - width, x1, y1), color)
    fill(frame, (x0, y0, x0 + width, y1), color)
    fill(frame, (x1 - width, y0, x1, y1), color)


def framed(frame: np.ndarray, box, color, border_color, width: int = 1) -> None:
    """`fill(box, color)` then `border(box, border_color, width)`, as two fills instead of five."""
    x0, y0, x1, y1 = box
    if x1 - x0 < 2 * width or y1 - y0 < 2 * width:  # the border strips would reach outside the box
        fill(frame, box, color)
        border(frame, box, border_color, width)
        return
    fill(frame, box, border_color)
    fill(frame, (x0 + width, y0 + width, x1 - width, y1 - width), color)


def _interleave(mask: np.ndarray) -> tuple[int, int, np.ndarray | None]:
    """An (h, w, 1) mask -> (dx, dy, alpha): alpha is (h', 3w') float32, cropped to the mask's non-zero
    box at offset (dx, dy) and repeated per channel to line up with a frame's (H, 3W) row view.
    None when the mask is empty. Cropping changes no pixel: where alpha is 0 the blend is the identity."""
    alpha = np.asarray(mask, np.float32).reshape(mask.shape[0], mask.shape[1])
    rows, cols = np.flatnonzero(alpha.any(axis=1)), np.flatnonzero(alpha.any(axis=0))
    if rows.size == 0:
        return 0, 0, None
    alpha = alpha[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    return int(cols[0]), int(rows[0]), np.repeat(alpha, 3, axis=1)


@byte_bounded_cache(GLYPH_CACHE_BYTES // 2)
def _word_alpha(word: str, size: int, face: str = "default") -> tuple[int, int, np.ndarray | None]:
    if face == "default":
        return _interleave(_word_mask(word, size, face))
    # Pasted from the glyphs' interleaved masks: no word mask to build, scan and repeat.
    table = glyphs(size, face)
    codes, origins, width = layout(word, size, face)
    alpha = np.zeros((table.height, 3 * width), np.float32)
    for code, origin in zip(codes, origins, strict=True):
        glyph, x = table.alpha3[code], 3 * (origin + table.left[code])
        x0, x1 = max(x, 0), min(x + glyph.shape[1], 3 * width)
        if x1 > x0:
            np.maximum(alpha[:, x0:x1], glyph[:, x0 - x : x1 - x], out=alpha[:, x0:x1])
    return 0, 0, alpha


@byte_bounded_cache(GLYPH_CACHE_BYTES // 8)
def _shape_alpha(shape: str, size: int) -> tuple[int, int, np.ndarray | None]:
    return _interleave(shape_mask(shape, size))


def _phrase_alpha(text: str, size: int, width: int, height: int, face: str = "default") -> np.ndarray:
    """The interleaved alpha of `text_mask(text, size)`, pasted together from cached word alphas.

    Phrases (document lines, titles) are too many to cache; pasting words is ~4x cheaper than a new mask."""
    alpha = np.zeros((height, 3 * width), np.float32)
    space = _word_width(" ", size, face)
    x = 0
    for word in text.split(" "):
        if word:
            dx, dy, word_alpha = _word_alpha(word, size, face)
            if word_alpha is not None:
                h, w3 = word_alpha.shape
                alpha[dy : dy + h, 3 * (x + dx) : 3 * (x + dx) + w3] = word_alpha
            x += _word_width(word, size, face)
        x += space
    return alpha


def _blend_rows(frame: np.ndarray, alpha: np.ndarray, x: int, y: int, color) -> None:
    """`blend` on the (H, 3W) row view of a C-contiguous frame with an interleaved alpha (see _interleave).

    Full-width rows keep numpy's inner loops long; broadcasting a 3-vector over (h, w, 3) is ~5x slower.
    The arithmetic is the same as blend's, in the same float32 order, so the pixels are identical."""
    h, w3 = alpha.shape
    fh, fw = frame.shape[:2]
    if x < 0 or y < 0 or 3 * x + w3 > 3 * fw or y + h > fh:  # partly off the frame: clip (rare)
        fx0, fy0, fx1, fy1 = max(x, 0), max(y, 0), min(x + w3 // 3, fw), min(y + h, fh)
        if fx0 >= fx1 or fy0 >= fy1:
            return
        alpha = alpha[fy0 - y : fy1 - y, 3 * (fx0 - x) : 3 * (fx1 - x)]
        x, y, h, w3 = fx0, fy0, fy1 - fy0, 3 * (fx1 - fx0)
    region = frame.reshape(fh, 3 * fw)[y : y + h, 3 * x : 3 * x + w3]
    base = region.astype(np.float32)
    mixed = _ink(tuple(color), w3 // 3) - base
    mixed *= alpha
    mixed += base
    region[...] = mixed


def blend(frame: np.ndarray, mask: np.ndarray, x: int, y: int, color) -> None:
    """Alpha-blend `color` through `mask` with its top-left corner at (x, y), clipped to the frame."""
    if frame.flags.c_contiguous:
        dx, dy, alpha = _interleave(mask)
        if alpha is not None:
            _blend_rows(frame, alpha, x + dx, y + dy, color)
        return
    h, w = mask.shape[:2]
    fx0, fy0 = max(x, 0), max(y, 0)
    fx1, fy1 = min(x + w, frame.shape[1]), min(y + h, frame.shape[0])
    if fx0 >= fx1 or fy0 >= fy1:
        return
    alpha = mask[fy0 - y : fy1 - y, fx0 - x : fx1 - x]
    region = frame[fy0:fy1, fx0:fx1]
    region[:] = region + alpha * (np.asarray(color, dtype=np.float32) - region)


def text_box(label: str, box, size: int, align: str = "center", face: str = "default") -> tuple[int, int, int, int]:
    """The pixels (x0, y0, x1, y1) that `text` gives `label` inside `box`: vertically centred, `align`
    "center" or "left"."""
    width, height = text_size(label, size, face)
    x0, y0, x1, y1 = box
    y = (y0 + y1 - height) // 2
    x = (x0 + x1 - width) // 2 if align == "center" else x0
    return x, y, x + width, y + height


def text(frame: np.ndarray, label: str, box, size: int, color, align: str = "center", face: str = "default") -> None:
    """Draw `label` inside `box` (see `text_box`) in font `face`."""
    x, y, x_end, y_end = text_box(label, box, size, align, face)
    width, height = x_end - x, y_end - y
    if not frame.flags.c_contiguous:
        blend(frame, text_mask(label, size, face), x, y, color)
    elif " " in label:
        _blend_rows(frame, _phrase_alpha(label, size, width, height, face), x, y, color)
    else:
        dx, dy, alpha = _word_alpha(label, size, face)
        if alpha is not None:
            _blend_rows(frame, alpha, x + dx, y + dy, color)


def shape(frame: np.ndarray, name: str, box, color) -> None:
    x0, y0, x1, y1 = box
    side = min(x1 - x0, y1 - y0)
    if not frame.flags.c_contiguous:
        blend(frame, shape_mask(name, side), x0, y0, color)
        return
    dx, dy, alpha = _shape_alpha(name, side)
    if alpha is not None:
        _blend_rows(frame, alpha, x0 + dx, y0 + dy, color)
