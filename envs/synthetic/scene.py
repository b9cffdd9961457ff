"""Scenes: the elements on a synthetic screen, the theme they are drawn in, and how each role looks.

A task builds a `Scene` (a list of `Element`s, drawn in order, later ones on top) and mutates it as
the episode goes on (a menu opens, a list scrolls); it calls `scene.changed()` after each mutation so
the env redraws the frame only then.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from minvla_gym.envs.synthetic import render

# Roles that a click can hit. Decoration (window, title bar, label text) is not interactive.
INTERACTIVE = frozenset(
    {"button", "icon", "desktop_icon", "file", "folder", "trash", "field", "list_item", "menu", "menu_item",
     "context_item", "slider", "slider_knob", "checkbox", "scrollbar", "list"}
)  # fmt: skip


@dataclass(eq=False)
class Element:
    """One thing on the screen. `box` is (x0, y0, x1, y1) in pixels, x1/y1 exclusive."""

    role: str
    box: tuple[int, int, int, int]
    label: str = ""
    fill: tuple[int, int, int] = (200, 200, 200)
    ink: tuple[int, int, int] = (0, 0, 0)  # text / glyph colour
    font_size: int = 10
    target: bool = False
    visible: bool = True
    data: dict[str, Any] = field(default_factory=dict)  # role-specific: shape, value, ...

    @property
    def centre(self) -> tuple[float, float]:
        x0, y0, x1, y1 = self.box
        return (x0 + x1) / 2, (y0 + y1) / 2

    def contains(self, x: float, y: float) -> bool:
        x0, y0, x1, y1 = self.box
        return x0 <= x < x1 and y0 <= y < y1


@dataclass
class Theme:
    dark: bool
    background: tuple[int, int, int]
    window: tuple[int, int, int]
    title_bar: tuple[int, int, int]
    title_text: tuple[int, int, int]
    text: tuple[int, int, int]
    control: tuple[int, int, int]
    border: tuple[int, int, int]
    accent: tuple[int, int, int]
    font_size: int
    # Per-episode widget style (the open world varies it; the closed world's look is the defaults).
    face: str = "default"  # font face, a name of render.FACES
    border_width: int = 1  # of buttons and fields
    corner: int = 0  # pixels cut from each corner of buttons and fields, a rounded look
    focus: int = -1  # which button or field shows a keyboard-focus ring (its index mod their count; <0 none)
    plain: bool = False  # toolkit look: buttons in the control colour instead of a random one

    @staticmethod
    def random(rng: np.random.Generator, size: int) -> Theme:
        dark = bool(rng.random() < 0.5)
        noise = iter(rng.integers(-18, 19, (6, 3)).tolist())  # one draw: generator calls are slow

        def jitter(base):
            return tuple(min(255, max(0, b + n)) for b, n in zip(base, next(noise), strict=True))

        hue = rng.integers(40, 216, 3).tolist()  # Python ints: numpy scalars make jitter 3x slower
        if dark:
            theme = Theme(
                True, jitter((30, 34, 42)), jitter((48, 52, 60)), jitter([h // 3 for h in hue]), (235, 235, 235),
                (230, 230, 230), jitter((72, 78, 90)), jitter((110, 115, 125)), jitter(hue), 0,
            )  # fmt: skip
        else:
            theme = Theme(
                False, jitter((200, 210, 225)), jitter((245, 245, 245)), jitter(hue), (255, 255, 255),
                (20, 20, 20), jitter((225, 225, 230)), jitter((140, 140, 150)), jitter(hue), 0,
            )  # fmt: skip
        # Font size scales with the screen: 224 px -> 9..13 px.
        theme.font_size = int(rng.integers(9, 14) * size / 224)
        theme.font_size = max(theme.font_size, 7)
        return theme

    @staticmethod
    def open_world(rng: np.random.Generator, size: int, faces: tuple[str, ...]) -> Theme:
        """The open world's themes: the closed world's dark and coloured-light ones, and the light toolkit
        looks of Tk, GTK and a plain web page (grey or white, thin borders, dark text), each jittered, with
        a font face of `faces`, a wider range of font sizes and a per-episode widget style."""
        kind, face, font, border, corner, focus = rng.integers(0, 1 << 30, 6).tolist()
        kind = ("dark", "light", "tk", "gtk", "web")[kind % 5]
        if kind in ("dark", "light"):
            theme = Theme.random(rng, size)
        else:
            noise = iter(rng.integers(-8, 9, (7, 3)).tolist())

            def jitter(base):
                return tuple(min(255, max(0, b + n)) for b, n in zip(base, next(noise), strict=True))

            desktop = tuple(int(v) for v in rng.integers(60, 200, 3))
            palette = {  # window, title bar, title text, text, control, border, accent
                "tk": ((217, 217, 217), (200, 200, 205), (0, 0, 0), (0, 0, 0), (217, 217, 217), (140, 140, 140), (74, 105, 189)),
                "gtk": ((246, 245, 244), (235, 235, 235), (46, 52, 54), (46, 52, 54), (237, 235, 233), (205, 199, 194), (53, 132, 228)),
                "web": ((255, 255, 255), (241, 243, 244), (32, 33, 36), (32, 33, 36), (248, 249, 250), (218, 220, 224), (26, 115, 232)),
            }[kind]  # fmt: skip
            window, bar, title, text, control, edge, accent = palette
            theme = Theme(False, desktop, jitter(window), jitter(bar), title, text, jitter(control), jitter(edge),
                          jitter(accent), 0, plain=True)  # fmt: skip
        theme.font_size = max(7, int((8 + font % 9) * size / 224))  # 224 px -> 8..16 px
        theme.face = faces[face % len(faces)]
        theme.border_width = (0, 1, 1, 2)[border % 4]
        theme.corner = (0, 0, 1, 2, 3)[corner % 5]
        theme.focus = focus % 8 - 3  # none 3 times in 8
        return theme


class Scene:
    """The elements of one screen, drawn in list order; caches the frame until `changed()`."""

    def __init__(self, size: int, theme: Theme):
        self.size = size
        self.theme = theme
        self.elements: list[Element] = []
        self.version = 0

    def add(self, element: Element) -> Element:
        self.elements.append(element)
        self.version += 1
        return element

    def remove(self, element: Element) -> None:
        self.elements.remove(element)
        self.version += 1

    def changed(self) -> None:
        self.version += 1

    def hit(self, point) -> Element | None:
        """Topmost visible interactive element under `point` (fractions), or None."""
        x, y = float(point[0]) * self.size, float(point[1]) * self.size
        for element in reversed(self.elements):
            if element.visible and element.role in INTERACTIVE and element.contains(x, y):
                return element
        return None

    def draw(self) -> np.ndarray:
        frame = np.empty((self.size, self.size, 3), dtype=np.uint8)
        render.fill(frame, (0, 0, self.size, self.size), self.theme.background)
        for element in self.elements:
            if element.visible:
                DRAW.get(element.role, draw_box)(frame, element, self.theme)
        if self.theme.focus >= 0:
            focusable = [e for e in self.elements if e.visible and e.role in ("button", "field")]
            if focusable:
                x0, y0, x1, y1 = focusable[self.theme.focus % len(focusable)].box
                render.border(frame, (x0 - 2, y0 - 2, x1 + 2, y1 + 2), self.theme.accent)
        return frame

    def element_list(self) -> list[dict[str, Any]]:
        """The privileged `info["elements"]`: role, label, box as fractions, target flag, text_box: where the
        label's text is drawn (fractions), or None when it is not drawn, and char_boxes: an (n, 4) float32
        array of each label character's box (fractions; see render.char_boxes), or None with text_box. Icons drawn in a named
        colour (the Icon family's) also give their `colour` and `shape` names, and text fields `focused`."""
        s = float(self.size)

        def fractions(box):
            return (box[0] / s, box[1] / s, box[2] / s, box[3] / s)

        face = self.theme.face
        elements = []
        for e in self.elements:
            if e.visible:
                place = label_place(e)
                text_box = char_boxes = None
                if place:
                    pixels = render.text_box(e.label, place[0], e.font_size, place[1], face)
                    text_box = fractions(pixels)
                    offset = np.array(pixels[:2] * 2, np.float32)
                    char_boxes = (
                        render.char_boxes(e.label, e.font_size, face).astype(np.float32) + offset
                    ) / np.float32(s)
                elements.append({"role": e.role, "label": e.label, "box": fractions(e.box), "target": e.target,
                                 "text_box": text_box, "char_boxes": char_boxes})  # fmt: skip
                if "colour" in e.data:
                    elements[-1].update(colour=e.data["colour"], shape=e.data["shape"])
                if e.role == "field":
                    elements[-1]["focused"] = bool(e.data.get("focused"))
        return elements


# ---------------------------------------------------------------- how each role is drawn


ICON_ROLES = ("icon", "desktop_icon", "file", "folder", "trash")


def label_place(e: Element) -> tuple[tuple[int, int, int, int], str] | None:
    """Where an element's label is written: (the box `render.text` centres it in, alignment), or None
    for roles that draw no label (fields show their content, sliders nothing)."""
    if not e.label or e.role in ("field", "slider"):
        return None
    x0, y0, x1, y1 = e.box
    if e.role == "window":  # the title, in the title bar
        return (x0 + 4, y0, x1, y0 + e.data.get("bar", e.font_size + 6)), "left"
    if e.role in ICON_ROLES:  # under the glyph
        return (x0, y0 + e.data.get("side", min(x1 - x0, y1 - y0)), x1, y1), "center"
    if e.role == "label":
        return e.box, e.data.get("align", "left")
    if e.role in ("menu_item", "context_item", "list_item"):
        x0, y0, x1, y1 = e.data.get("full", e.box)  # a list's partly visible last row is drawn whole, then cut
        return (x0 + 3, y0, x1, y1), "left"
    return e.box, "center"


def draw_label(frame, e: Element, color, theme: Theme) -> None:
    place = label_place(e)
    if place is not None:
        render.text(frame, e.label, place[0], e.font_size, color, place[1], theme.face)


def draw_control(frame, box, fill, border, theme: Theme, width: int = 1) -> None:
    """A button's or field's body in the episode's widget style: `width` scales the theme's border width
    (0: flat), and the theme's corner cuts the corners."""
    width *= theme.border_width
    if theme.corner == 0:
        if width:
            render.framed(frame, box, fill, border, width)
        else:
            render.fill(frame, box, fill)
        return
    x0, y0, x1, y1 = box
    c = min(theme.corner, (x1 - x0) // 4, (y1 - y0) // 4)
    for colour, inset in ((border, 0), (fill, width)) if width else ((fill, 0),):
        render.fill(frame, (x0 + inset + c, y0 + inset, x1 - inset - c, y1 - inset), colour)
        render.fill(frame, (x0 + inset, y0 + inset + c, x1 - inset, y1 - inset - c), colour)


def draw_box(frame, e: Element, theme: Theme) -> None:
    """Default look: a filled box with a border and a centred label (buttons, menu items, ...)."""
    if e.role in ("menu", "menu_item", "context_item", "list_item", "label"):
        render.fill(frame, e.box, e.fill)
    else:
        draw_control(frame, e.box, e.fill, theme.border, theme)
    draw_label(frame, e, e.ink, theme)


def draw_window(frame, e: Element, theme: Theme) -> None:
    x0, y0, x1, y1 = e.box
    bar = e.data.get("bar", e.font_size + 6)
    if y0 + bar < y1:  # = fill, title bar, border; without the slow 1-px-wide vertical border strips
        render.framed(frame, e.box, e.fill, theme.border)
        render.fill(frame, (x0 + 1, y0 + 1, x1 - 1, min(y0 + bar, y1 - 1)), theme.title_bar)
    else:  # the title bar reaches past the window: draw it as it is
        render.fill(frame, e.box, e.fill)
        render.fill(frame, (x0, y0, x1, y0 + bar), theme.title_bar)
        render.border(frame, e.box, theme.border)
    draw_label(frame, e, theme.title_text, theme)


def draw_icon(frame, e: Element, theme: Theme) -> None:
    """A coloured shape; desktop icons, files and folders carry their label underneath."""
    x0, y0, x1, y1 = e.box
    glyph = e.data.get("shape", "square")
    side = e.data.get("side", min(x1 - x0, y1 - y0))
    gx = (x0 + x1 - side) // 2
    if e.data.get("selected"):  # a pale blend of control and accent keeps the label readable on either theme
        pale = tuple((2 * c + a) // 3 for c, a in zip(theme.control, theme.accent, strict=True))
        render.framed(frame, e.box, pale, theme.accent)
    if glyph == "folder":
        render.fill(frame, (gx, y0 + side // 5, gx + side, y0 + side), e.fill)
        render.fill(frame, (gx, y0, gx + side // 2, y0 + side // 5 + 1), e.fill)
    elif glyph == "document":
        render.fill(frame, (gx + side // 8, y0, gx + side - side // 8, y0 + side), e.fill)
        for row in range(3):
            ly = y0 + side // 4 + row * side // 5
            render.fill(frame, (gx + side // 4, ly, gx + side - side // 4, ly + 1), theme.border)
    elif glyph == "trash":
        render.fill(frame, (gx + side // 6, y0 + side // 4, gx + side - side // 6, y0 + side), e.fill)
        render.fill(frame, (gx, y0 + side // 8, gx + side, y0 + side // 4), e.fill)
    else:
        render.shape(frame, glyph, (gx, y0, gx + side, y0 + side), e.fill)
    draw_label(frame, e, theme.text, theme)


def draw_field(frame, e: Element, theme: Theme) -> None:
    x0, y0, x1, y1 = e.box
    focused = e.data.get("focused")
    draw_control(frame, e.box, e.fill, theme.accent if focused else theme.border, theme, 2 if focused else 1)
    content = e.data.get("text", "")
    if content:
        render.text(frame, content, (x0 + 3, y0, x1, y1), e.font_size, e.ink, "left", theme.face)
    if e.data.get("focused"):
        cx = x0 + 4 + (render.text_size(content, e.font_size, theme.face)[0] if content else 0)
        render.fill(frame, (cx, y0 + 3, cx + 1, y1 - 3), e.ink)


def draw_slider(frame, e: Element, theme: Theme) -> None:
    x0, y0, x1, y1 = e.box
    cy = (y0 + y1) // 2
    render.fill(frame, (x0, cy - 1, x1, cy + 2), theme.border)
    for tick in range(0, 11):  # a tick every 10 units helps reading values off the track
        tx = x0 + round(tick * (x1 - x0 - 1) / 10)
        render.fill(frame, (tx, cy + 3, tx + 1, cy + (6 if tick % 5 else 8)), theme.border)


def draw_text_label(frame, e: Element, theme: Theme) -> None:
    draw_label(frame, e, e.ink, theme)


DRAW = {
    "window": draw_window,
    **{role: draw_icon for role in ICON_ROLES},
    "field": draw_field,
    "slider": draw_slider,
    "label": draw_text_label,
}


# ---------------------------------------------------------------- layout helpers


def grid_boxes(
    rng: np.random.Generator, area, count: int, cell_w: int, cell_h: int, gap: int = 4
) -> list[tuple[int, int, int, int]]:
    """`count` non-overlapping boxes of (cell_w, cell_h) placed in random cells of a grid over `area`.

    Raises ValueError when they cannot fit, so a task can shrink its content and retry.
    """
    x0, y0, x1, y1 = area
    cols = (x1 - x0 + gap) // (cell_w + gap)
    rows = (y1 - y0 + gap) // (cell_h + gap)
    if cols * rows < count:
        raise ValueError(f"{count} boxes of {cell_w}x{cell_h} do not fit in {area}")
    cells = rng.choice(cols * rows, size=count, replace=False)
    # Spread spare room evenly so layouts do not all hug the top-left corner.
    spare_x = (x1 - x0 + gap) - cols * (cell_w + gap)
    spare_y = (y1 - y0 + gap) - rows * (cell_h + gap)
    ox = x0 + int(rng.integers(0, spare_x + 1))
    oy = y0 + int(rng.integers(0, spare_y + 1))
    return [
        (ox + (c % cols) * (cell_w + gap), oy + (c // cols) * (cell_h + gap),
         ox + (c % cols) * (cell_w + gap) + cell_w, oy + (c // cols) * (cell_h + gap) + cell_h)
        for c in (int(c) for c in cells)
    ]  # fmt: skip


def random_colour(rng: np.random.Generator, theme: Theme) -> tuple[int, int, int]:
    """A control colour readable on the theme (light on dark themes, pale on light ones); toolkit themes
    draw their controls in the control colour."""
    if theme.plain:
        return theme.control
    low, high = (60, 160) if theme.dark else (150, 250)
    return tuple(int(v) for v in rng.integers(low, high, 3))
