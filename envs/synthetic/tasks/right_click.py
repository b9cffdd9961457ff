"""Right-click a file or folder, then choose an item of its context menu.

Two steps: a right-click on the target opens its context menu near the pointer, a click on the named
item completes the task. A click outside the menu closes it (the episode goes on; the expert then
right-clicks again); pressing another file or a wrong item ends the episode.
"""

from __future__ import annotations

from minvla_gym.actions import CLICK, DOUBLE_CLICK, HOTKEY, HOTKEY_INDEX, MOUSE_PRESSES, RIGHT_CLICK
from minvla_gym.envs.synthetic.scene import Element
from minvla_gym.envs.synthetic.tasks.base import Outcome, Task
from minvla_gym.envs.synthetic.tasks.double_click import FILE, FOLDER, distinct_names, file_icon
from minvla_gym.envs.synthetic.tasks.icon import place_icons
from minvla_gym.envs.synthetic.tasks.menu import close_popup, in_popup, open_popup
from minvla_gym.envs.synthetic.words import FOLDER_NAMES
from minvla_gym.envs.synthetic.world import Phrases

# Context menu entries in display order; a scene shows 4-8 of them, the instructed one included.
FILE_ITEMS = ("Open", "Open with", "Cut", "Copy", "Duplicate", "Rename", "Compress", "Share", "Print",
              "Move to trash", "Delete", "Copy path", "Properties")  # fmt: skip
FOLDER_ITEMS = ("Open", "Open in new window", "Cut", "Copy", "Paste", "Rename", "Compress", "Share",
                "Pin to sidebar", "Delete", "Properties")  # fmt: skip
PHRASES = Phrases(
    v0=(
        "right-click {name} and choose {item}",
        "open the context menu of {name} and select {item}",
        "right-click on {name}, then click {item}",
        "pick {item} from the right-click menu of {name}",
        "in the context menu of {name}, choose {item}",
    ),
    train=(
        "right-click {name} and choose {item}", "open the context menu of {name} and select {item}",
        "right-click on {name}, then click {item}", "pick {item} from the right-click menu of {name}",
        "in the context menu of {name}, choose {item}", "right-click {name} and select {item}",
        "right-click {name}, then press {item}", "use the context menu on {name} to choose {item}",
        "right-click {name} and click {item}", "choose {item} from the context menu of {name}",
    ),
    test=("right-click {name} then hit {item}", "bring up the menu of {name} and pick {item}",
          "with a right-click on {name}, select {item}"),
)  # fmt: skip
ESCAPE = HOTKEY_INDEX["escape"]


class RightClickTask(Task):
    family = "RightClick"
    max_steps = 8

    def build(self) -> None:
        rng, s, theme = self.rng, self.size, self.theme
        if rng.random() < 0.6:
            _, area = self.window(f"{self.pick('name', FOLDER_NAMES)} - Files")
        else:  # files straight on the desktop
            area = (4, 4, s - 4, s - 4)
        count = int(rng.integers(3, 10))
        kinds, picks, looks = rng.integers(0, 1 << 30, (3, count)).tolist()
        kinds = [FOLDER if kind % 10 < 3 else FILE for kind in kinds]  # 30% folders
        names = distinct_names(self, kinds, picks)
        icons = [
            file_icon("folder" if kind == FOLDER else "file", kind, name, look, theme.dark)
            for kind, name, look in zip(kinds, names, looks, strict=True)
        ]
        self.files = place_icons(self, area, icons, max(10, int(rng.integers(14, 26) * s / 224)))
        self.target = self.choice(self.files)
        # The menu: 4-8 entries in display order, the instructed one among them.
        entries = FOLDER_ITEMS if self.target.role == "folder" else FILE_ITEMS
        if self.world.open:  # the open world's context menus say anything, as menus of real apps do
            entries = tuple(self.pick("label", entries, len(entries)))
        chosen = rng.random(len(entries)).argsort()[: int(rng.integers(4, 9))]
        self.entries = [entries[i] for i in sorted(chosen.tolist())]
        self.item = self.choice(self.entries)
        self.menu: list[Element] = []  # the open context menu's items
        self.target.target = True
        name = f"the {self.target.label} folder" if self.target.role == "folder" else self.target.label
        self.instruction = self.say(PHRASES, name=name, item=self.item)
        self.font = self.files[0].font_size

    def check(self, action) -> Outcome:
        kind = action["type"]
        if kind == HOTKEY and action["hotkey"] == ESCAPE and self.menu:
            self._close()
        if kind not in MOUSE_PRESSES:
            return Outcome.CONTINUE
        hit = self.scene.hit(action["point"])
        if hit in self.menu:
            return Outcome.SUCCESS if hit.label == self.item and kind == CLICK else Outcome.FAILURE
        if self.menu and in_popup(self, self.menu, action["point"]):
            return Outcome.CONTINUE  # the menu's border: nothing happens
        if hit is not None and hit is not self.target:
            return Outcome.FAILURE  # pressed the wrong file
        if hit is self.target and kind == DOUBLE_CLICK:
            return Outcome.FAILURE  # opened it instead
        self._close()
        if hit is self.target:  # selected by either button; a right-click opens the menu at the pointer
            if not self.target.data.get("selected"):
                self.target.data["selected"] = True
                self.scene.changed()
            if kind == RIGHT_CLICK:
                x, y = (int(v * self.size) for v in action["point"])
                self.menu = open_popup(self, self.entries, x + 1, y + 1, "context_item", self.font, flip=True)
                self.target.target = False
                next(e for e in self.menu if e.label == self.item).target = True
        return Outcome.CONTINUE

    def expert(self):
        if self.menu:
            return self.act("click", next(e for e in self.menu if e.label == self.item))
        return self.act("right_click", self.target)

    def _close(self) -> None:
        if self.menu:
            close_popup(self, self.menu)
            self.menu = []
            self.target.target = True
