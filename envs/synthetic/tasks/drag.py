"""Drag a file onto a folder or the trash.

A drag that starts on the named file and drops on the named destination succeeds. Dropping it on
another folder or the trash, dragging anything else, or any press on another icon ends the episode
as a failure. Drags from empty space, drops on empty space (the file snaps back) and presses on the
target file itself change nothing.
"""

from __future__ import annotations

from minvla_gym.actions import DRAG, MOUSE_PRESSES
from minvla_gym.envs.synthetic.scene import Element, grid_boxes
from minvla_gym.envs.synthetic.tasks.base import Outcome, Task
from minvla_gym.envs.synthetic.words import FILE_EXTENSIONS, FILE_STEMS, FOLDER_NAMES
from minvla_gym.envs.synthetic.world import Phrases

TO_FOLDER = Phrases(
    v0=(
        "drag {file} to the {dest} folder",
        "move {file} into {dest}",
        "put {file} in the {dest} folder",
        "drop {file} onto the {dest} folder",
        "drag the file {file} into {dest}",
    ),
    train=(
        "drag {file} to the {dest} folder", "move {file} into {dest}", "put {file} in the {dest} folder",
        "drop {file} onto the {dest} folder", "drag the file {file} into {dest}", "drag {file} onto {dest}",
        "move the file {file} to the {dest} folder", "drag and drop {file} into {dest}", "file {file} under {dest}",
        "place {file} in {dest}",
    ),
    test=("relocate {file} to {dest}", "shift {file} over to the {dest} folder", "carry {file} into {dest}"),
)  # fmt: skip
TO_TRASH = Phrases(
    v0=(
        "move {file} into the trash",
        "drag {file} to the trash",
        "put {file} in the trash",
        "throw {file} away by dragging it to the trash",
        "delete {file} by moving it to the trash",
    ),
    train=(
        "move {file} into the trash", "drag {file} to the trash", "put {file} in the trash",
        "throw {file} away by dragging it to the trash", "delete {file} by moving it to the trash",
        "drag {file} onto the trash", "drop {file} in the trash", "trash {file}",
    ),
    test=("get rid of {file} using the trash", "discard {file} into the trash"),
)  # fmt: skip
FOLDER_FILLS = ((235, 190, 60), (90, 150, 230), (240, 160, 60), (120, 190, 120))
FILE_FILLS = ((255, 255, 255), (225, 235, 250), (250, 240, 215))
TRASH_FILL = (150, 155, 165)


class DragTask(Task):
    family = "Drag"
    max_steps = 5

    def build(self) -> None:
        rng, s, theme = self.rng, self.size, self.theme
        files, folders = int(rng.integers(2, 7)), int(rng.integers(1, 5))
        exts = rng.integers(0, len(FILE_EXTENSIONS), files).tolist()
        if self.world.open:
            names = self.pick("file", (), files)
        else:
            names = [
                f"{stem}.{FILE_EXTENSIONS[e]}" for stem, e in zip(self.sample(FILE_STEMS, files), exts, strict=True)
            ]
        folder_names = self.pick("name", FOLDER_NAMES, folders)
        looks = rng.integers(0, 12, files + folders).tolist()  # fills, taken modulo the palette sizes

        if s >= 128 and rng.random() < 0.5:  # a file manager window, or the bare desktop
            _, area = self.window(self.choice(("Files", "Home", "Explorer", self.pick("name", FOLDER_NAMES))))
        else:
            area = (4, 4, s - 4, s - 4)
        size = max(7, theme.font_size - 1)
        side = max(10, int(rng.integers(16, 28) * s / 224))
        labels = names + folder_names + ["Trash"]
        width = max(max(self.text_size(label, size)[0] for label in labels) + 4, side)
        text_h = self.text_size("x", size)[1] + 1
        gap = int(rng.integers(3, 12))
        while True:  # fewer distractors until every icon fits; tighter icons on tiny screens
            try:
                cells = grid_boxes(rng, area, files + folders + 1, width, side + text_h, gap)
                break
            except ValueError:
                if files > 2 or (files > 1 and folders == 1):
                    files -= 1
                elif folders > 1:
                    folders -= 1
                elif gap > 1 or side > 8:
                    gap, side = 1, 8
                else:
                    raise ValueError(f"a {s}x{s} screen is too small for the Drag task's icons") from None
        self.files = [
            self.scene.add(Element("file", box, name, FILE_FILLS[look % 3], theme.text, size,
                                   data={"shape": "document", "side": side}))
            for box, name, look in zip(cells[:files], names, looks, strict=False)
        ]  # fmt: skip
        self.folders = [
            self.scene.add(Element("folder", box, name, FOLDER_FILLS[look % 4], theme.text, size,
                                   data={"shape": "folder", "side": side}))
            for box, name, look in zip(cells[files:-1], folder_names, looks[files:], strict=False)
        ]  # fmt: skip
        self.trash = self.scene.add(
            Element("trash", cells[-1], "Trash", TRASH_FILL, theme.text, size, data={"shape": "trash", "side": side})
        )
        self.icons = {*self.files, *self.folders, self.trash}
        self.file = self.choice(self.files)
        self.file.target = True
        if rng.random() < 0.3:
            self.destination = self.trash
            self.instruction = self.say(TO_TRASH, file=self.file.label)
        else:
            self.destination = self.choice(self.folders)
            self.instruction = self.say(TO_FOLDER, file=self.file.label, dest=self.destination.label)

    def check(self, action) -> Outcome:
        kind = action["type"]
        if kind in MOUSE_PRESSES:
            hit = self.scene.hit(action["point"])
            return Outcome.FAILURE if hit in self.icons and hit is not self.file else Outcome.CONTINUE
        if kind != DRAG:
            return Outcome.CONTINUE
        start = self.scene.hit(action["point"])
        if start not in self.icons:
            return Outcome.CONTINUE
        if start is not self.file:
            return Outcome.FAILURE
        drop = self.scene.hit(action["end_point"])
        if drop is self.destination:
            self.scene.remove(self.file)  # the file disappears into its destination
            return Outcome.SUCCESS
        if drop is not None and drop.role in ("folder", "trash"):
            return Outcome.FAILURE
        return Outcome.CONTINUE

    def expert(self):
        return self.act("drag", self.file, end_point=self.at(self.destination))
