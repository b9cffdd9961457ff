"""Open a menu of a window's menu bar and choose an item ("open the Edit menu and choose Paste").

Two steps: a click on the header opens its dropdown, a click on the item completes the task. Another
header switches dropdowns and a click elsewhere closes it (the episode goes on); a wrong item ends it.
"""

from __future__ import annotations

from minvla_gym.actions import CLICK, HOTKEY, HOTKEY_INDEX, MOUSE_PRESSES
from minvla_gym.envs.synthetic import render
from minvla_gym.envs.synthetic.scene import DRAW, Element, Theme
from minvla_gym.envs.synthetic.tasks.base import Outcome, Task
from minvla_gym.envs.synthetic.words import LABELS
from minvla_gym.envs.synthetic.world import Phrases

# A word processor's menus, in menu-bar order (the open world makes up its own each episode). Each scene
# shows at least 6 of them (as many as fit) and drops a few items of each, so positions cannot be memorised.
MENUS = {
    "File": ("New", "Open", "Save", "Save as", "Export", "Print", "Close", "Exit"),
    "Edit": ("Undo", "Redo", "Cut", "Copy", "Paste", "Select all", "Find", "Replace"),
    "View": ("Zoom", "Full screen", "Ruler", "Sidebar", "Status bar", "Outline"),
    "Insert": ("Image", "Table", "Chart", "Link", "Comment", "Page break", "Symbol"),
    "Format": ("Bold", "Italic", "Underline", "Font", "Paragraph", "Columns", "Styles"),
    "Tools": ("Spelling", "Word count", "Macros", "Options", "Language", "Plugins"),
    "Table": ("Insert row", "Delete row", "Merge cells", "Split cells", "Sort"),
    "Window": ("Minimize", "New window", "Arrange all", "Split"),
    "Help": ("Contents", "Search", "Shortcuts", "Check updates", "About"),
}
MIN_HEADERS = 6
PHRASES = Phrases(
    v0=(
        "open the {menu} menu and choose {item}",
        "choose {menu} > {item}",
        "from the {menu} menu pick {item}",
        "click {item} in the {menu} menu",
        "select {item} from the {menu} menu",
        "go to {menu} and click {item}",
    ),
    train=(
        "open the {menu} menu and choose {item}", "choose {menu} > {item}", "from the {menu} menu pick {item}",
        "click {item} in the {menu} menu", "select {item} from the {menu} menu", "go to {menu} and click {item}",
        "open {menu} and click {item}", "in the {menu} menu, click {item}", "use {menu} > {item}",
        "choose {item} under {menu}",
    ),
    test=("navigate to {menu} > {item}", "find {item} in the {menu} menu and click it", "pick {menu}, then {item}"),
)  # fmt: skip
APPS = ("Writer", "Editor", "Notes", "Docs", "Pages", "Word")
ESCAPE = HOTKEY_INDEX["escape"]


def draw_popup(frame, e: Element, theme: Theme) -> None:
    """A dropdown or context menu's panel: a soft shadow, the fill and a border."""
    x0, y0, x1, y1 = e.box
    render.fill(frame, (x0 + 2, y0 + 2, x1 + 2, y1 + 2), (0, 0, 0) if theme.dark else (150, 150, 160))
    render.framed(frame, e.box, e.fill, theme.border)


DRAW["popup"] = draw_popup


def popup_fill(theme: Theme) -> tuple[int, int, int]:
    return theme.control if theme.dark else (252, 252, 252)


def highlight(theme: Theme) -> tuple[int, int, int]:
    """The control colour tinted towards the accent: visible, and the text on it stays readable."""
    return tuple(round(0.65 * c + 0.35 * a) for c, a in zip(theme.control, theme.accent, strict=True))


def open_popup(task: Task, labels, x: int, y: int, role: str, size: int, flip: bool = False) -> list[Element]:
    """Add a popup panel of `labels` (elements of `role`) with its top-left corner at (x, y), kept on-screen.

    With `flip`, a popup that would cross the right or bottom edge opens to the left of / above the
    point instead, as context menus do. Returns the items; the panel is `items[0].data["panel"]`.
    """
    s = task.size
    row = min(size + 6, (s - 4) // len(labels))
    w = max(task.text_size(label, size)[0] for label in labels) + 2 * (size // 2 + 3)
    h = row * len(labels) + 4
    if flip:
        x = x - w if x + w > s - 2 else x
        y = y - h if y + h > s - 2 else y
    x, y = min(max(x, 0), s - 2 - w), min(max(y, 0), s - 2 - h)
    fill = popup_fill(task.theme)
    panel = task.scene.add(Element("popup", (x, y, x + w, y + h), fill=fill))
    items = [
        task.scene.add(Element(role, (x + 1, y + 2 + i * row, x + w - 1, y + 2 + (i + 1) * row), label, fill,
                               task.theme.text, size, data={"panel": panel}))
        for i, label in enumerate(labels)
    ]  # fmt: skip
    task.scene.changed()
    return items


def close_popup(task: Task, items: list[Element]) -> None:
    task.scene.remove(items[0].data["panel"])
    for item in items:
        task.scene.remove(item)
    task.scene.changed()


def in_popup(task: Task, items: list[Element], point) -> bool:
    """Whether `point` (fractions) falls on the popup's panel (its border or padding, say)."""
    return items[0].data["panel"].contains(float(point[0]) * task.size, float(point[1]) * task.size)


class MenuTask(Task):
    family = "Menu"
    max_steps = 8

    def build(self) -> None:
        rng, theme = self.rng, self.theme
        window, (_, _, _, bottom) = self.window(f"{self.pick('word', LABELS)}.doc - {self.pick('name', APPS)}")
        menus = MENUS
        if self.world.open:  # menus of any words: nine headers of eight items each, all distinct
            items = self.pick("label", (), 8 * len(MENUS))
            menus = {h: tuple(items[8 * i : 8 * i + 8]) for i, h in enumerate(self.pick("name", (), len(MENUS)))}
        all_headers = tuple(menus)
        menu = self.choice(all_headers)
        # Each menu keeps each of its items with probability 0.8, and all of them if fewer than 4 remain.
        keep = (rng.random((len(all_headers), 8)) < 0.8).tolist()
        self.menus = {}
        for header, flags in zip(all_headers, keep, strict=True):
            kept = [item for item, flag in zip(menus[header], flags, strict=False) if flag]
            self.menus[header] = kept if len(kept) >= 4 else menus[header]
        item = self.choice(self.menus[menu])

        # The menu bar: 6 to 9 headers in their usual order. Where they do not fit, the padding, the
        # number of headers (down to 6), then the font shrink; fewer headers only on tiny screens.
        spare = [h for h in all_headers if h not in (all_headers[0], menu)]  # the first menu (File) always shows
        order = [spare[i] for i in rng.permutation(len(spare)).tolist()]  # the order they are dropped in
        dropped = set(order[: len(all_headers) - int(rng.integers(MIN_HEADERS, len(all_headers) + 1))])
        headers = [h for h in all_headers if h not in dropped]
        order = [h for h in order if h not in dropped]
        size = theme.font_size
        min_size = max(7, round(9 * self.size / 224))
        x0, x1 = window.box[0] + 1, window.box[2] - 1
        pad, snug = size // 2, max(3, 3 * self.size // 224)
        while True:
            widths = [self.text_size(h, size)[0] + 2 * pad for h in headers]
            if sum(widths) <= x1 - x0 - 2:
                break
            if pad > snug:
                pad -= 1
            elif len(headers) > MIN_HEADERS:
                headers.remove(order.pop())
            elif size > min_size:
                size -= 1
            elif pad > 2:
                pad -= 1
            else:
                headers.remove(max((h for h in headers if h != menu), key=len))
        top = window.box[1] + window.data["bar"]
        bar_h = size + 7
        self.scene.add(Element("menu_bar", (x0, top, x1, top + bar_h), fill=theme.control))
        self.headers = {}
        x = x0 + 1
        for header, width in zip(headers, widths, strict=True):
            self.headers[header] = self.scene.add(
                Element("menu", (x, top + 1, x + width, top + bar_h - 1), header, theme.control, theme.text, size)
            )
            x += width

        # Some document text below, as decoration (words may repeat: one draw for all of them).
        y, line_h = top + bar_h + 4, theme.font_size + 4
        lines = max(0, min(int(rng.integers(2, 9)), (bottom - y) // line_h))
        pool = self.pool("word", LABELS)
        words = iter(rng.integers(0, len(pool), 5 * lines).tolist())
        for length in rng.integers(2, 6, lines).tolist():
            line = [pool[next(words)] for _ in range(length)]
            while len(line) > 1 and self.text_size(" ".join(line), theme.font_size)[0] > x1 - x0 - 12:
                line.pop()  # keep the line inside the window
            box = (x0 + 6, y, x1, y + line_h)
            self.scene.add(Element("label", box, " ".join(line), ink=theme.text, font_size=theme.font_size))
            y += line_h

        self.menu, self.item = menu, item
        self.open: str | None = None  # the header whose dropdown shows
        self.items: list[Element] = []
        self.headers[menu].target = True
        self.instruction = self.say(PHRASES, menu=menu, item=item)

    def check(self, action) -> Outcome:
        kind = action["type"]
        if kind == HOTKEY and action["hotkey"] == ESCAPE and self.open:
            self._show(None)
        if kind not in MOUSE_PRESSES:
            return Outcome.CONTINUE
        hit = self.scene.hit(action["point"])
        if hit in self.items:
            right = self.open == self.menu and hit.label == self.item
            return Outcome.SUCCESS if right and kind == CLICK else Outcome.FAILURE
        if self.items and in_popup(self, self.items, action["point"]):
            return Outcome.CONTINUE  # the panel's border: nothing happens
        if hit is not None and hit.role == "menu":
            if kind == CLICK:  # a header toggles its dropdown, or switches from another one
                self._show(None if self.open == hit.label else hit.label)
            return Outcome.CONTINUE
        self._show(None)  # a press anywhere else closes the dropdown
        return Outcome.CONTINUE

    def expert(self):
        if self.open == self.menu:
            return self.act("click", next(e for e in self.items if e.label == self.item))
        return self.act("click", self.headers[self.menu])

    def _show(self, header: str | None) -> None:
        """Close the open dropdown, if any, and open `header`'s; move the target flag along."""
        if self.open == header:
            return
        if self.open:
            close_popup(self, self.items)
            self.headers[self.open].fill = self.theme.control
            self.items = []
        self.open = header
        if header:
            element = self.headers[header]
            element.fill = highlight(self.theme)
            self.items = open_popup(
                self, self.menus[header], element.box[0], element.box[3], "menu_item", self.theme.font_size
            )
        self.headers[self.menu].target = self.open != self.menu
        for element in self.items:
            element.target = self.open == self.menu and element.label == self.item
        self.scene.changed()
