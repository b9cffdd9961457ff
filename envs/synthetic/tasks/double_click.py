"""Double-click a desktop icon (a folder, a file or an app) to open it.

A single click on the target selects it and the episode goes on; any press on another icon, or a
right-click on the target, is a mistake that ends it.
"""

from __future__ import annotations

from minvla_gym.actions import CLICK, DOUBLE_CLICK, MOUSE_PRESSES
from minvla_gym.envs.synthetic import render
from minvla_gym.envs.synthetic.scene import Element
from minvla_gym.envs.synthetic.tasks.base import Outcome, Task
from minvla_gym.envs.synthetic.tasks.icon import place_icons
from minvla_gym.envs.synthetic.words import COLOURS, FILE_EXTENSIONS, FILE_STEMS, FOLDER_NAMES, LABELS
from minvla_gym.envs.synthetic.world import Phrases

FOLDER, FILE, APP = range(3)
NAMES = {
    FOLDER: FOLDER_NAMES,
    FILE: tuple(f"{stem}.{extension}" for stem in FILE_STEMS for extension in FILE_EXTENSIONS),
    APP: tuple(label.capitalize() for label in LABELS),
}
# The kind of name each icon kind draws in the open world (the closed world draws from NAMES).
KINDS = {FOLDER: "name", FILE: "file", APP: "name"}
PHRASES = {
    FOLDER: Phrases(
        v0=("open the {name} folder", "double-click the {name} folder", "open the folder named {name}", "open {name}"),
        train=("open the {name} folder", "double-click the {name} folder", "open the folder named {name}", "open {name}",
               "go to the {name} folder", "double-click {name}", "open the folder {name}", "show the contents of {name}"),
        test=("browse the {name} folder", "go into {name}"),
    ),
    FILE: Phrases(
        v0=("open {name}", "double-click {name}", "open the file {name}", "double-click the file called {name}"),
        train=("open {name}", "double-click {name}", "open the file {name}", "double-click the file called {name}",
               "open the document {name}", "double-click the file {name}", "view {name}"),
        test=("load the file {name}", "open up {name}"),
    ),
    APP: Phrases(
        v0=("open the {name} app", "launch {name}", "double-click the {name} icon", "start the {name} application"),
        train=("open the {name} app", "launch {name}", "double-click the {name} icon", "start the {name} application",
               "open {name}", "launch the {name} app", "run {name}"),
        test=("fire up {name}", "start {name}"),
    ),
}  # fmt: skip
FOLDER_FILLS = ((235, 190, 60), (90, 150, 230), (240, 160, 60))
APP_FILLS = tuple(COLOURS.values())


def file_icon(role: str, kind: int, name: str, pick: int, dark: bool) -> Element:
    """An unplaced icon for `place_icons`: folders are folder glyphs, files documents, apps coloured shapes."""
    if kind == FOLDER:
        fill, shape = FOLDER_FILLS[pick % len(FOLDER_FILLS)], "folder"
    elif kind == FILE:
        fill, shape = (250, 250, 250) if dark else (255, 255, 255), "document"
    else:
        fill, shape = APP_FILLS[pick % len(APP_FILLS)], render.SHAPES[pick // 16 % len(render.SHAPES)]
    return Element(role, (0, 0, 0, 0), name, fill, data={"shape": shape, "kind": kind})


def distinct_names(task: Task, kinds: list[int], picks: list[int]) -> list[str]:
    """A name from its kind's pool for each icon, no two alike ignoring case ("Music" folder vs app)."""
    if task.world.open:  # one draw per kind of name, so folders and apps never share one
        drawn = {
            k: iter(task.pick(k, (), [KINDS[kind] for kind in kinds].count(k))) for k in sorted(set(KINDS.values()))
        }
        return [next(drawn[KINDS[kind]]) for kind in kinds]
    names, seen = [], set()
    for kind, pick in zip(kinds, picks, strict=True):
        pool = NAMES[kind]
        while pool[pick % len(pool)].lower() in seen:
            pick += 1
        names.append(pool[pick % len(pool)])
        seen.add(names[-1].lower())
    return names


class DoubleClickTask(Task):
    family = "DoubleClick"
    max_steps = 5

    def build(self) -> None:
        rng, s, theme = self.rng, self.size, self.theme
        count = int(rng.integers(3, 11))
        # kind, name and look of every icon in one draw (moduli are tiny next to 2**30: no visible bias)
        kinds, picks, looks = rng.integers(0, 1 << 30, (3, count)).tolist()
        kinds = [kind % 3 for kind in kinds]
        names = distinct_names(self, kinds, picks)
        taskbar = int(rng.integers(0, 2)) * (theme.font_size + 8)
        if taskbar:
            self.scene.add(Element("taskbar", (0, s - taskbar, s, s), fill=theme.title_bar))
        icons = [
            file_icon("desktop_icon", kind, name, look, theme.dark)
            for kind, name, look in zip(kinds, names, looks, strict=True)
        ]
        side = max(10, int(rng.integers(16, 28) * s / 224))
        self.icons = place_icons(self, (4, 4, s - 4, s - 4 - taskbar), icons, side)
        self.target = self.choice(self.icons)
        self.target.target = True
        self.instruction = self.say(PHRASES[self.target.data["kind"]], name=self.target.label)

    def check(self, action) -> Outcome:
        if action["type"] not in MOUSE_PRESSES:
            return Outcome.CONTINUE
        hit = self.scene.hit(action["point"])
        if hit is self.target and action["type"] == DOUBLE_CLICK:
            return Outcome.SUCCESS  # no opened window drawn: the episode ends here, a redraw would be wasted
        if hit is self.target and action["type"] == CLICK:
            self._select(True)
            return Outcome.CONTINUE
        if hit is not None:  # another icon, or a right-click on the target
            return Outcome.FAILURE
        self._select(False)  # a click on the bare desktop clears the selection
        return Outcome.CONTINUE

    def expert(self):
        return self.act("double_click", self.target)

    def _select(self, selected: bool) -> None:
        if self.target.data.get("selected", False) != selected:
            self.target.data["selected"] = selected
            self.scene.changed()
