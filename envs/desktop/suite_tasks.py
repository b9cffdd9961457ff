"""The task families of the real-window suite, as Tk widgets (runs inside the suite app's process).

Each family mirrors the synthetic one of the same name, with real widgets instead of drawn ones and
the synthetic templates for its instructions. A family is a small `SuiteTask` subclass:
  - `build()` creates its widgets inside `self.area` and sets `self.instruction`;
  - event handlers call `succeed()` / `fail()` (a failure is final: a double-click that first
    counts as a click and then as a double-click ends as a failure), or `outcome()` is overridden
    to read the widgets' state;
  - `expert()` returns the next action with screen-pixel points, read from the widgets' geometry.
Menus and context menus are drawn inside the window (frames of labels), not tk.Menu toplevels:
a tk.Menu holds a global grab while posted, which would steal the clicks of another suite window
that an interleaved evaluation drives on the same display, and could reach outside the captured region.
"""

from __future__ import annotations

import tkinter as tk
from typing import Any, ClassVar

import numpy as np

from minvla_gym.actions import HOTKEY_INDEX
from minvla_gym.envs.synthetic.tasks import (
    click,
    double_click,
    drag,
    hotkey,
    icon,
    menu,
    right_click,
    scroll,
    slider,
    type_text,
)
from minvla_gym.envs.synthetic.words import COLOURS, FILE_EXTENSIONS, FILE_STEMS, FOLDER_NAMES, LABELS

CONTINUE, SUCCESS, FAILURE = "continue", "success", "failure"
THEMES = (
    {"bg": "#f0f0f0", "fg": "#202020", "control": "#dcdcdc", "field": "#ffffff", "select": "#bcd4f6"},
    {"bg": "#fbfaf6", "fg": "#303030", "control": "#e6e2d8", "field": "#ffffff", "select": "#f3d9a4"},
    {"bg": "#2b2d30", "fg": "#e6e6e6", "control": "#43464b", "field": "#1e1f22", "select": "#2f5d9a"},
    {"bg": "#1f2a36", "fg": "#e8edf2", "control": "#34465a", "field": "#15202b", "select": "#3c6e9f"},
)
FOLDER_FILL, DOCUMENT_FILL, TRASH_FILL = "#ebbe3c", "#fafafa", "#9aa0a8"
# Keys that would leave the app on a real desktop (switch or close windows): never asked for.
UNSAFE_HOTKEYS = ("alt+tab", "alt+f4")
KEYSYMS = {"Return": "enter", "KP_Enter": "enter", "Escape": "escape", "Tab": "tab", "ISO_Left_Tab": "tab",
           "BackSpace": "backspace", "Delete": "delete", "space": "space", "Up": "up", "Down": "down",
           "Left": "left", "Right": "right", "Home": "home", "End": "end", "Prior": "pageup", "Next": "pagedown"}  # fmt: skip
MODIFIER_KEYSYMS = frozenset(
    f"{m}_{side}" for m in ("Shift", "Control", "Alt", "Meta", "Super", "Hyper") for side in "LR"
) | {"ISO_Level3_Shift", "Caps_Lock", "Num_Lock"}


def hex_colour(rgb) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


class SuiteTask:
    family: ClassVar[str]

    def __init__(self, app, rng: np.random.Generator):
        self.app, self.rng, self.area, self.theme = app, rng, app.area, app.theme
        self.font = app.font
        self.instruction = ""
        self._outcome = CONTINUE
        self.build()
        if not self.instruction:
            raise RuntimeError(f"{type(self).__name__}.build() set no instruction")

    # ------------------------------------------------------------ hooks

    def build(self) -> None:
        raise NotImplementedError

    def expert(self) -> dict[str, Any]:
        raise NotImplementedError

    def outcome(self) -> str:
        return self._outcome

    def close(self) -> None:
        """Undo anything outside `self.area` (bindings on the root)."""

    # ------------------------------------------------------------ helpers

    def succeed(self, *_) -> None:
        if self._outcome == CONTINUE:
            self._outcome = SUCCESS

    def fail(self, *_) -> None:
        self._outcome = FAILURE

    def choice(self, options):
        return options[int(self.rng.integers(len(options)))]

    def sample(self, options, count: int) -> list:
        return [options[int(i)] for i in self.rng.choice(len(options), size=count, replace=False)]

    def cells(self, count: int, width: int, height: int, box=None) -> list[tuple[int, int]]:
        """Top-left corners of `count` random distinct cells of a grid over the area (with jitter)."""
        x0, y0, x1, y1 = box or (8, 8, self.app.area_width - 8, self.app.area_height - 8)
        cols, rows = max(1, (x1 - x0) // width), max(1, (y1 - y0) // height)
        if count > cols * rows:
            raise ValueError(f"{count} cells of {width}x{height} do not fit the area {(x0, y0, x1, y1)}")
        picks = self.rng.choice(cols * rows, size=count, replace=False)
        jx, jy = ((x1 - x0) - cols * width) // cols, ((y1 - y0) - rows * height) // rows
        return [
            (x0 + (i % cols) * (width + jx) + int(self.rng.integers(jx + 1)),
             y0 + (i // cols) * (height + jy) + int(self.rng.integers(jy + 1)))
            for i in picks.tolist()
        ]  # fmt: skip

    @staticmethod
    def centre(widget: tk.Misc) -> tuple[int, int]:
        """Screen pixel at the centre of a widget."""
        return widget.winfo_rootx() + widget.winfo_width() // 2, widget.winfo_rooty() + widget.winfo_height() // 2

    @staticmethod
    def item_centre(canvas: tk.Canvas, tag: str) -> tuple[int, int]:
        """Screen pixel at the centre of a canvas item (or tag)."""
        x0, y0, x1, y1 = canvas.bbox(tag)
        return canvas.winfo_rootx() + (x0 + x1) // 2, canvas.winfo_rooty() + (y0 + y1) // 2

    def new_canvas(self) -> tk.Canvas:
        c = tk.Canvas(self.area, bg=self.theme["bg"], highlightthickness=0)
        c.place(x=0, y=0, relwidth=1, relheight=1)
        return c

    def draw_icon(self, canvas: tk.Canvas, tag: str, kind: str, x: int, y: int, side: int, fill: str, label: str):
        """A glyph (folder, document, trash or a shape) with its label underneath, tagged `tag` and `tag-glyph`."""
        tags, glyph = (tag, "icon"), (tag, f"{tag}-glyph", "icon")
        s, outline = side, self.theme["fg"]
        if kind == "folder":
            canvas.create_polygon(x, y + s * 0.15, x + s * 0.4, y + s * 0.15, x + s * 0.5, y + s * 0.28, x + s,
                                  y + s * 0.28, x + s, y + s * 0.9, x, y + s * 0.9, fill=fill, outline=outline, tags=glyph)  # fmt: skip
        elif kind == "document":
            canvas.create_polygon(x + s * 0.15, y, x + s * 0.65, y, x + s * 0.85, y + s * 0.2, x + s * 0.85, y + s,
                                  x + s * 0.15, y + s, fill=fill, outline=outline, tags=glyph)  # fmt: skip
        elif kind == "trash":
            canvas.create_rectangle(
                x + s * 0.1, y + s * 0.1, x + s * 0.9, y + s * 0.22, fill=fill, outline=outline, tags=glyph
            )
            canvas.create_polygon(x + s * 0.18, y + s * 0.25, x + s * 0.82, y + s * 0.25, x + s * 0.74, y + s,
                                  x + s * 0.26, y + s, fill=fill, outline=outline, tags=glyph)  # fmt: skip
        else:
            draw_shape(canvas, kind, x, y, s, fill, outline, glyph)
        if label:
            canvas.create_text(
                x + s / 2, y + s + 3, text=label, anchor="n", fill=self.theme["fg"], font=self.font, tags=tags
            )


def draw_shape(canvas: tk.Canvas, shape: str, x: float, y: float, s: float, fill: str, outline: str, tags) -> None:
    """The synthetic desktop's shapes (circle, square, triangle, diamond, star, cross) in an s-by-s box."""
    if shape == "circle":
        canvas.create_oval(x, y, x + s, y + s, fill=fill, outline=outline, tags=tags)
        return
    if shape == "square":
        canvas.create_rectangle(x, y, x + s, y + s, fill=fill, outline=outline, tags=tags)
        return
    if shape == "triangle":
        points = [(0.5, 0), (1, 1), (0, 1)]
    elif shape == "diamond":
        points = [(0.5, 0), (1, 0.5), (0.5, 1), (0, 0.5)]
    elif shape == "star":
        angles = np.pi / 2 + np.arange(10) * np.pi / 5
        radii = np.where(np.arange(10) % 2 == 0, 0.5, 0.2)
        points = list(zip(0.5 + radii * np.cos(angles), 0.55 - radii * np.sin(angles), strict=True))
    elif shape == "cross":
        a, b = 0.33, 0.67
        points = [(a, 0), (b, 0), (b, a), (1, a), (1, b), (b, b), (b, 1), (a, 1), (a, b), (0, b), (0, a), (a, a)]
    else:
        raise ValueError(f"unknown shape {shape!r}")
    canvas.create_polygon(
        [v for px, py in points for v in (x + px * s, y + py * s)], fill=fill, outline=outline, tags=tags
    )


def file_names(task: SuiteTask, count: int) -> list[str]:
    stems = task.sample(FILE_STEMS, count)
    return [f"{stem}.{task.choice(FILE_EXTENSIONS)}" for stem in stems]


# ---------------------------------------------------------------- the families


class Click(SuiteTask):
    family = "Click"

    def build(self) -> None:
        labels = self.sample(LABELS, int(self.rng.integers(3, 10)))
        self.buttons = {}
        for label, (x, y) in zip(labels, self.cells(len(labels), 120, 48), strict=True):
            b = tk.Button(self.area, text=label, font=self.font, bg=self.theme["control"], fg=self.theme["fg"],
                          activebackground=self.theme["select"], command=lambda label=label: self.pressed(label))  # fmt: skip
            b.bind("<Double-Button-1>", self.fail)
            b.bind("<Button-3>", self.fail)
            b.place(x=x, y=y)
            self.buttons[label] = b
        self.target = self.choice(list(self.buttons))
        self.instruction = self.choice(click.PHRASES.v0).format(label=self.target)

    def pressed(self, label: str) -> None:
        self.succeed() if label == self.target else self.fail()

    def expert(self):
        return {"type": "click", "point": self.centre(self.buttons[self.target])}


class Icon(SuiteTask):
    family = "Icon"

    def build(self) -> None:
        shapes = ("circle", "square", "triangle", "diamond", "star", "cross")
        looks = self.sample([(c, s) for c in COLOURS for s in shapes], int(self.rng.integers(3, 9)))
        self.canvas = c = self.new_canvas()
        side = int(self.rng.integers(36, 60))
        for i, ((colour, shape), (x, y)) in enumerate(
            zip(looks, self.cells(len(looks), side + 40, side + 30), strict=True)
        ):
            draw_shape(c, shape, x + 20, y + 10, side, hex_colour(COLOURS[colour]), self.theme["fg"], (f"i{i}", "icon"))
            c.tag_bind(f"i{i}", "<Button-1>", lambda e, i=i: self.succeed() if i == self.target else self.fail())
            c.tag_bind(f"i{i}", "<Double-Button-1>", self.fail)
            c.tag_bind(f"i{i}", "<Button-3>", self.fail)
        self.target = int(self.rng.integers(len(looks)))
        colour, shape = looks[self.target]
        self.instruction = self.choice(icon.BY_LOOK.v0).format(colour=colour, shape=shape)

    def expert(self):
        return {"type": "click", "point": self.item_centre(self.canvas, f"i{self.target}")}


class DoubleClick(SuiteTask):
    family = "DoubleClick"

    def build(self) -> None:
        count = int(self.rng.integers(3, 9))
        folders = self.sample(FOLDER_NAMES, count)
        files = file_names(self, count)
        kinds = ["folder" if self.rng.random() < 0.5 else "document" for _ in range(count)]
        names = [folders[i] if kind == "folder" else files[i] for i, kind in enumerate(kinds)]
        self.canvas = c = self.new_canvas()
        side = int(self.rng.integers(36, 52))
        for i, (kind, name, (x, y)) in enumerate(zip(kinds, names, self.cells(count, 110, side + 34), strict=True)):
            fill = FOLDER_FILL if kind == "folder" else DOCUMENT_FILL
            self.draw_icon(c, f"i{i}", kind, x + (110 - side) // 2, y, side, fill, name)
            c.tag_bind(f"i{i}", "<Button-1>", lambda e, i=i: self.select(i))
            c.tag_bind(f"i{i}", "<Double-Button-1>", lambda e, i=i: self.succeed() if i == self.target else self.fail())
            c.tag_bind(f"i{i}", "<Button-3>", self.fail)
        self.target = int(self.rng.integers(count))
        kind = double_click.FOLDER if kinds[self.target] == "folder" else double_click.FILE
        self.instruction = self.choice(double_click.PHRASES[kind].v0).format(name=names[self.target])

    def select(self, i: int) -> None:
        if i != self.target:
            self.fail()
        self.canvas.delete("selection")
        x0, y0, x1, y1 = self.canvas.bbox(f"i{i}")
        self.canvas.create_rectangle(x0 - 2, y0 - 2, x1 + 2, y1 + 2, outline=self.theme["select"], tags="selection")

    def expert(self):
        return {"type": "double_click", "point": self.item_centre(self.canvas, f"i{self.target}-glyph")}


class RightClick(SuiteTask):
    family = "RightClick"

    def build(self) -> None:
        count = int(self.rng.integers(3, 9))
        names = file_names(self, count)
        self.canvas = c = self.new_canvas()
        c.bind("<Button-1>", self.close_menu)
        side = int(self.rng.integers(34, 48))
        for i, (name, (x, y)) in enumerate(zip(names, self.cells(count, 110, side + 34), strict=True)):
            self.draw_icon(c, f"i{i}", "document", x + (110 - side) // 2, y, side, DOCUMENT_FILL, name)
            c.tag_bind(f"i{i}", "<Button-3>", lambda e, i=i: self.open_menu(i, e))
            c.tag_bind(f"i{i}", "<Double-Button-1>", self.fail)  # opened the file instead
            c.tag_bind(f"i{i}", "<Button-1>", lambda e, i=i: None if i == self.target else self.fail())
        self.target = int(self.rng.integers(count))
        chosen = sorted(self.rng.choice(len(right_click.FILE_ITEMS), int(self.rng.integers(4, 9)), replace=False))
        self.entries = [right_click.FILE_ITEMS[int(i)] for i in chosen]
        self.item = self.choice(self.entries)
        self.menu: tk.Frame | None = None
        self.instruction = self.choice(right_click.PHRASES.v0).format(name=names[self.target], item=self.item)

    def open_menu(self, i: int, event) -> None:
        self.close_menu()
        if i != self.target:
            self.fail()
            return
        self.menu = menu_frame(self, self.entries, lambda entry: self.succeed() if entry == self.item else self.fail())
        self.menu.update_idletasks()  # its size, to keep it inside the window
        x = min(event.x, self.app.area_width - self.menu.winfo_reqwidth() - 2)
        y = min(event.y, self.app.area_height - self.menu.winfo_reqheight() - 2)
        self.menu.place(x=x, y=y)

    def close_menu(self, *_) -> None:
        if self.menu is not None:
            self.menu.destroy()
            self.menu = None

    def expert(self):
        if self.menu is None:
            return {"type": "right_click", "point": self.item_centre(self.canvas, f"i{self.target}-glyph")}
        return {"type": "click", "point": self.centre(self.menu.items[self.item])}


def menu_frame(task: SuiteTask, entries: list[str], chosen) -> tk.Frame:
    """A drawn popup menu: a raised frame of labels that highlight under the pointer; `chosen(entry)` on click."""
    frame = tk.Frame(task.area, bg=task.theme["control"], relief="raised", borderwidth=1)
    frame.items = {}
    for entry in entries:
        label = tk.Label(frame, text=entry, font=task.font, anchor="w", padx=10, pady=2,
                         bg=task.theme["control"], fg=task.theme["fg"])  # fmt: skip
        label.pack(fill="x")
        label.bind("<Enter>", lambda e, w=label: w.configure(bg=task.theme["select"]))
        label.bind("<Leave>", lambda e, w=label: w.configure(bg=task.theme["control"]))
        label.bind("<Button-1>", lambda e, entry=entry: chosen(entry))
        frame.items[entry] = label
    return frame


class Menu(SuiteTask):
    family = "Menu"

    def build(self) -> None:
        headers = [h for h in menu.MENUS if self.rng.random() < 0.7][:6] or ["File", "Edit"]
        self.menus = {}
        for h in headers:  # drop a few items of each, so positions cannot be memorised
            items = [item for item in menu.MENUS[h] if self.rng.random() < 0.75] or list(menu.MENUS[h][:2])
            self.menus[h] = items
        bar = tk.Frame(self.area, bg=self.theme["control"])
        bar.place(x=0, y=0, relwidth=1)
        self.headers = {}
        for h in headers:
            label = tk.Label(bar, text=h, font=self.font, padx=8, pady=3, bg=self.theme["control"], fg=self.theme["fg"])
            label.pack(side="left")
            label.bind("<Button-1>", lambda e, h=h: self.toggle(h))
            self.headers[h] = label
        document = tk.Text(self.area, font=self.font, bg=self.theme["field"], fg=self.theme["fg"], relief="flat")
        document.insert("1.0", "\n".join(" ".join(self.sample(LABELS, 6)) for _ in range(12)))
        document.configure(state="disabled")
        document.place(x=6, y=36, relwidth=1, width=-12, relheight=1, height=-42)
        document.bind("<Button-1>", self.close_menu)
        self.open: str | None = None
        self.dropdown: tk.Frame | None = None
        self.menu = self.choice(headers)
        self.item = self.choice(self.menus[self.menu])
        self.instruction = self.choice(menu.PHRASES.v0).format(menu=self.menu, item=self.item)

    def toggle(self, header: str) -> None:
        was_open = self.open
        self.close_menu()
        if was_open == header:
            return
        self.open = header
        self.dropdown = menu_frame(self, self.menus[header], lambda item: self.choose(header, item))
        label = self.headers[header]
        self.dropdown.place(x=label.winfo_x(), y=label.winfo_y() + label.winfo_height())
        self.dropdown.lift()

    def choose(self, header: str, item: str) -> None:
        self.succeed() if (header, item) == (self.menu, self.item) else self.fail()

    def close_menu(self, *_) -> None:
        if self.dropdown is not None:
            self.dropdown.destroy()
        self.open, self.dropdown = None, None

    def expert(self):
        if self.open != self.menu:
            return {"type": "click", "point": self.centre(self.headers[self.menu])}
        return {"type": "click", "point": self.centre(self.dropdown.items[self.item])}


class Drag(SuiteTask):
    family = "Drag"

    def build(self) -> None:
        files, folders = int(self.rng.integers(2, 6)), int(self.rng.integers(1, 4))
        names = file_names(self, files)
        destinations = [*self.sample(FOLDER_NAMES, folders), "Trash"]
        self.canvas = c = self.new_canvas()
        side = int(self.rng.integers(36, 50))
        spots = self.cells(files + len(destinations), 110, side + 34)
        for i, (name, (x, y)) in enumerate(zip(names, spots[:files], strict=True)):
            self.draw_icon(c, f"f{i}", "document", x + (110 - side) // 2, y, side, DOCUMENT_FILL, name)
            c.tag_bind(f"f{i}", "<ButtonPress-1>", lambda e, i=i: self.press(i, e))
        for j, (name, (x, y)) in enumerate(zip(destinations, spots[files:], strict=True)):
            kind = "trash" if name == "Trash" else "folder"
            self.draw_icon(
                c, f"d{j}", kind, x + (110 - side) // 2, y, side, TRASH_FILL if kind == "trash" else FOLDER_FILL, name
            )
        c.tag_raise("icon")
        c.bind("<B1-Motion>", self.motion)
        c.bind("<ButtonRelease-1>", self.release)
        self.destinations = destinations
        self.dragging: tuple[int, int, int] | None = None  # file, last x, last y
        self.file = int(self.rng.integers(files))
        self.dest = int(self.rng.integers(len(destinations)))
        if destinations[self.dest] == "Trash":
            self.instruction = self.choice(drag.TO_TRASH.v0).format(file=names[self.file])
        else:
            self.instruction = self.choice(drag.TO_FOLDER.v0).format(
                file=names[self.file], dest=destinations[self.dest]
            )

    def press(self, i: int, event) -> None:
        self.dragging = (i, event.x, event.y)
        self.start = (event.x, event.y)
        self.canvas.tag_raise(f"f{i}")

    def motion(self, event) -> None:
        if self.dragging is not None:
            i, x, y = self.dragging
            self.canvas.move(f"f{i}", event.x - x, event.y - y)
            self.dragging = (i, event.x, event.y)

    def release(self, event) -> None:
        if self.dragging is None:
            return
        i = self.dragging[0]
        self.dragging = None
        c = self.canvas
        dropped = [j for j in range(len(self.destinations)) if inside(c.bbox(f"d{j}-glyph"), event.x, event.y)]
        if dropped:
            self.succeed() if (i, dropped[0]) == (self.file, self.dest) else self.fail()
        else:  # dropped on empty space: the file snaps back
            c.move(f"f{i}", self.start[0] - event.x, self.start[1] - event.y)

    def expert(self):
        c = self.canvas
        return {"type": "drag", "point": self.item_centre(c, f"f{self.file}-glyph"),
                "end_point": self.item_centre(c, f"d{self.dest}-glyph")}  # fmt: skip


def inside(box, x: float, y: float, margin: int = 4) -> bool:
    x0, y0, x1, y1 = box
    return x0 - margin <= x <= x1 + margin and y0 - margin <= y <= y1 + margin


class Slider(SuiteTask):
    family = "Slider"
    TOLERANCE = slider.TOLERANCE

    def build(self) -> None:
        names = self.sample(slider.NAMES, int(self.rng.integers(1, 4)))
        self.scales = []
        for row, name in enumerate(names):
            scale = tk.Scale(self.area, from_=0, to=100, orient="horizontal", length=int(self.rng.integers(300, 400)),
                             label=name.capitalize(), font=self.font, bg=self.theme["bg"], fg=self.theme["fg"],
                             troughcolor=self.theme["control"], highlightthickness=0, sliderlength=24)  # fmt: skip
            scale.set(int(self.rng.integers(0, 101)))
            scale.place(x=int(self.rng.integers(10, 30)), y=20 + row * 110 + int(self.rng.integers(0, 30)))
            scale.bind("<ButtonRelease-1>", lambda e, row=row: self.released(row))
            self.scales.append(scale)
        self.values = [s.get() for s in self.scales]
        self.index = int(self.rng.integers(len(names)))
        current = self.values[self.index]
        self.goal = self.choice([v for v in range(0, 101, 5) if abs(v - current) > 2 * self.TOLERANCE])
        name = names[self.index]
        self.instruction = self.choice(slider.PHRASES.v0).format(
            name=name if self.rng.random() < 0.5 else name.capitalize(), value=self.goal
        )

    def released(self, row: int) -> None:
        value = self.scales[row].get()
        if value == self.values[row]:
            return  # nothing moved
        self.values[row] = value
        self.succeed() if row == self.index and abs(value - self.goal) <= self.TOLERANCE else self.fail()

    def expert(self):
        scale = self.scales[self.index]
        x0, y0 = (int(v) for v in scale.coords(scale.get()))
        x1, y1 = (int(v) for v in scale.coords(self.goal))
        rx, ry = scale.winfo_rootx(), scale.winfo_rooty()
        return {"type": "drag", "point": (rx + x0, ry + y0), "end_point": (rx + x1, ry + y1)}


class Scroll(SuiteTask):
    family = "Scroll"

    def build(self) -> None:
        count, rows = int(self.rng.integers(15, 41)), int(self.rng.integers(5, 10))
        words = sorted(self.sample(LABELS, count))
        self.items = [w.capitalize() for w in words] if self.rng.random() < 0.5 else words
        frame = tk.Frame(self.area, bg=self.theme["bg"])
        frame.place(x=int(self.rng.integers(10, 120)), y=int(self.rng.integers(10, 60)))
        self.listbox = lb = tk.Listbox(frame, height=rows, width=int(self.rng.integers(16, 26)), font=self.font,
                                       exportselection=False, activestyle="none", bg=self.theme["field"],
                                       fg=self.theme["fg"], selectbackground=self.theme["select"])  # fmt: skip
        bar = tk.Scrollbar(frame, command=lb.yview)
        lb.configure(yscrollcommand=bar.set)
        lb.pack(side="left")
        bar.pack(side="right", fill="y")
        lb.insert("end", *self.items)
        # One item per wheel notch, as on the synthetic desktop (Tk's own binding moves five).
        lb.bind("<Button-4>", lambda e: (lb.yview_scroll(-1, "units"), "break")[1])
        lb.bind("<Button-5>", lambda e: (lb.yview_scroll(1, "units"), "break")[1])
        lb.bind("<<ListboxSelect>>", self.selected)
        top = int(self.rng.integers(0, count - rows + 1))
        lb.yview(top)
        hidden = [i for i in range(count) if not top <= i < top + rows]
        self.target = self.choice(hidden)
        templates = scroll.DOWN.v0 if self.target >= top + rows else scroll.UP.v0
        self.instruction = self.choice(templates if self.rng.random() < 0.5 else scroll.PHRASES.v0).format(
            item=self.items[self.target]
        )

    def selected(self, _) -> None:
        picked = self.listbox.curselection()
        if picked:
            self.succeed() if picked[0] == self.target else self.fail()

    def expert(self):
        lb = self.listbox
        box = lb.bbox(self.target)
        inner = lb.winfo_height() - 2 * (int(lb["borderwidth"]) + int(lb["highlightthickness"]))
        if box is not None and box[1] >= 0 and box[1] + box[3] <= inner:
            x, y = lb.winfo_rootx() + lb.winfo_width() // 2, lb.winfo_rooty() + box[1] + box[3] // 2 + 2
            return {"type": "click", "point": (x, y)}
        top, rows = lb.nearest(0), int(lb["height"])
        delta = self.target - (top + rows // 2)
        notches = int(np.clip(delta, -10, 10)) or (1 if self.target > top else -1)
        return {"type": "scroll", "point": self.centre(lb), "scroll": notches}


class Type(SuiteTask):
    family = "Type"

    def build(self) -> None:
        names = self.sample(type_text.FIELDS, int(self.rng.integers(2, 5)))
        self.fields = {}
        left, top = int(self.rng.integers(10, 40)), int(self.rng.integers(10, 60))
        for row, name in enumerate(names):
            y = top + row * 56
            tk.Label(self.area, text=name, font=self.font, bg=self.theme["bg"], fg=self.theme["fg"]).place(x=left, y=y)
            entry = tk.Entry(self.area, font=self.font, width=22, bg=self.theme["field"], fg=self.theme["fg"],
                             insertbackground=self.theme["fg"])  # fmt: skip
            entry.place(x=left + 110, y=y)
            self.fields[name] = entry
        for i, label in enumerate(self.sample(type_text.BUTTONS, int(self.rng.integers(1, 3)))):
            tk.Button(self.area, text=label, font=self.font, command=self.fail, bg=self.theme["control"],
                      fg=self.theme["fg"]).place(x=left + 110 + i * 100, y=top + len(names) * 56 + 10)  # fmt: skip
        self.field = self.choice(names)
        self.text = self.choice(type_text.HANDLES) + (
            str(int(self.rng.integers(10, 100))) if self.rng.random() < 0.4 else ""
        )
        self.instruction = self.choice(type_text.PHRASES.v0).format(field=self.field, text=self.text)

    def outcome(self) -> str:
        for name, entry in self.fields.items():
            value = entry.get()
            if name == self.field:
                if value == self.text:
                    self.succeed()
                elif not self.text.startswith(value):
                    self.fail()
            elif value:
                self.fail()
        return self._outcome

    def expert(self):
        entry = self.fields[self.field]
        # focus_lastfor, not focus_get: another window (an interleaved suite) may hold the X focus right now.
        if self.app.root.focus_lastfor() is not entry:
            return {"type": "click", "point": self.centre(entry)}
        return {"type": "type", "text": self.text[len(entry.get()) :]}


class Hotkey(SuiteTask):
    family = "Hotkey"

    def build(self) -> None:
        document = tk.Text(self.area, font=self.font, bg=self.theme["field"], fg=self.theme["fg"], relief="flat")
        document.insert("1.0", "\n".join(" ".join(self.sample(LABELS, 5)) for _ in range(14)))
        document.configure(state="disabled")
        document.place(x=8, y=8, relwidth=1, width=-16, relheight=1, height=-16)
        described = [combo for combo in hotkey.DESCRIBED if combo not in UNSAFE_HOTKEYS]
        if self.rng.random() < 0.5:
            self.combo = self.choice(described)
            self.instruction = self.choice(hotkey.DESCRIBED_TEXTS[self.combo])
        else:
            self.combo = self.choice([combo for combo in HOTKEY_INDEX if combo not in UNSAFE_HOTKEYS])
            self.instruction = self.choice(hotkey.NAMED.v0).format(combo=self.combo)
        self.binding = self.app.root.bind("<KeyPress>", self.pressed, add="+")

    def pressed(self, event) -> None:
        if event.keysym in MODIFIER_KEYSYMS:
            return
        modifiers = [name for name, mask in (("ctrl", 0x4), ("shift", 0x1), ("alt", 0x8)) if event.state & mask]
        key = KEYSYMS.get(event.keysym, event.keysym.lower())
        if modifiers == ["shift"] and len(event.keysym) == 1:
            modifiers = []  # shift alone makes a character ("A"), not a combination
        combo = "+".join([*modifiers, key])
        self.succeed() if combo == self.combo else self.fail()

    def close(self) -> None:
        self.app.root.unbind("<KeyPress>", self.binding)

    def expert(self):
        return {"type": "hotkey", "hotkey": self.combo}


FAMILIES: dict[str, type[SuiteTask]] = {
    cls.family: cls for cls in (Click, Icon, DoubleClick, RightClick, Menu, Drag, Slider, Scroll, Type, Hotkey)
}
