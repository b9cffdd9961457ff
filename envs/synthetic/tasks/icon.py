"""Click an icon described by its colour and shape ("click the red circle") or by its label.

Distractors share the target's colour or its shape, so only the full description picks it out.
"""

from __future__ import annotations

import numpy as np

from minvla_gym.envs.synthetic import render
from minvla_gym.envs.synthetic.scene import Element, grid_boxes
from minvla_gym.envs.synthetic.tasks.base import Outcome, Task
from minvla_gym.envs.synthetic.words import COLOURS, LABELS
from minvla_gym.envs.synthetic.world import Phrases

BY_LOOK = Phrases(
    v0=(
        "click the {colour} {shape}",
        "click the {colour} {shape} icon",
        "click on the {colour} {shape}",
        "select the {colour} {shape}",
        "find the {colour} {shape} and click it",
        "click the {shape} that is {colour}",
    ),
    train=(
        "click the {colour} {shape}", "click the {colour} {shape} icon", "click on the {colour} {shape}",
        "select the {colour} {shape}", "find the {colour} {shape} and click it", "click the {shape} that is {colour}",
        "press the {colour} {shape}", "choose the {colour} {shape} icon", "tap the {colour} {shape}",
        "click the {colour} one that is a {shape}",
    ),
    test=("hit the {colour} {shape}", "pick the {shape} coloured {colour}", "click the {shape} in {colour}"),
)  # fmt: skip
BY_LABEL = Phrases(
    v0=(
        "click the icon labelled {label}",
        "click the {label} icon",
        "click the icon named {label}",
        "select the icon called {label}",
        "click the {colour} {shape} labelled {label}",
    ),
    train=(
        "click the icon labelled {label}", "click the {label} icon", "click the icon named {label}",
        "select the icon called {label}", "click the {colour} {shape} labelled {label}", "click {label}",
        "press the {label} icon", "choose the icon {label}", "select {label}", "tap the {label} icon",
    ),
    test=("hit the {label} icon", "pick the icon with the caption {label}", "click the {shape} called {label}"),
)  # fmt: skip
COLOUR_NAMES = tuple(COLOURS)
COLOUR_VALUES = np.array(list(COLOURS.values()))
# Labels that are not colour or shape words ("orange" under a pink diamond would mislead).
ICON_LABELS = tuple(word for word in LABELS if word not in COLOURS and word not in render.SHAPES)
# How a distractor relates to the target: same colour, same shape, neither, or (label mode only) both.
SAME_COLOUR, SAME_SHAPE, DIFFERENT, SAME_LOOK = range(4)


def place_icons(task: Task, area, icons: list[Element], side: int) -> list[Element]:
    """Lay icons out in random cells of a grid over `area` and add them to the scene; returns those placed.

    An icon is a shape `side` pixels wide with its label (if any) underneath, its box tight around
    both. The caller gives role, label, fill and `data["shape"]`; icons that do not fit are dropped
    from the end of the list.
    """
    size = max(7, task.theme.font_size - 1)
    widths = [max(side, task.text_size(icon.label, size)[0] + 4) if icon.label else side for icon in icons]
    height = side + (task.text_size("x", size)[1] if any(icon.label for icon in icons) else 0)
    count, gap = len(icons), int(task.rng.integers(4, 12))
    while True:
        try:
            cells = grid_boxes(task.rng, area, count, max(widths[:count]), height, gap)
            break
        except ValueError:
            count -= 1
    for (x0, y0, x1, _), icon, width in zip(cells, icons, widths, strict=False):
        left = (x0 + x1 - width) // 2
        icon.box, icon.ink, icon.font_size = (left, y0, left + width, y0 + height), task.theme.text, size
        icon.data["side"] = side
        task.scene.add(icon)
    return icons[:count]


class IconTask(Task):
    family = "Icon"
    max_steps = 5

    def build(self) -> None:
        rng, s = self.rng, self.size
        if rng.random() < 0.6:
            _, area = self.window(self.pick("name", LABELS).capitalize())
        else:  # icons straight on the desktop
            area = (4, 4, s - 4, s - 4)
        by_label = bool(rng.random() < 0.35)
        labelled = by_label or bool(rng.random() < 0.25)
        count = int(rng.integers(3, 10))
        side = max(8, int(rng.integers(14, 30) * s / 224))

        # Colour and shape indices for every icon (index 0 is the target), from one batch of draws;
        # 2520 is a multiple of every modulus up to 10, so the picks stay uniform.
        nc, ns = len(COLOUR_NAMES), len(render.SHAPES)
        picks = rng.integers(0, 2520, (count, 3)).tolist()
        colour0, shape0 = picks[0][1] % nc, picks[0][2] % ns
        looks = [(colour0, shape0)]
        for i, (relation, dc, ds) in enumerate(picks[1:], 1):
            # At least one distractor shares each attribute; in label mode some share both.
            relation = (SAME_COLOUR, SAME_SHAPE)[i - 1] if i < 3 else relation % (4 if by_label else 3)
            colour = colour0 if relation in (SAME_COLOUR, SAME_LOOK) else (colour0 + 1 + dc % (nc - 1)) % nc
            shape = shape0 if relation in (SAME_SHAPE, SAME_LOOK) else (shape0 + 1 + ds % (ns - 1)) % ns
            looks.append((colour, shape))
        labels = self.pick("label", ICON_LABELS, count) if labelled else [""] * count
        # Each icon's named colour, jittered a little (one array op for all of them).
        fills = np.clip(COLOUR_VALUES[[colour for colour, _ in looks]] + rng.integers(-14, 15, (count, 3)), 0, 255)
        icons = []
        for label, (colour, shape), fill in zip(labels, looks, map(tuple, fills.tolist()), strict=True):
            data = {"shape": render.SHAPES[shape], "colour": COLOUR_NAMES[colour]}
            icons.append(Element("icon", (0, 0, 0, 0), label, fill, data=data))
        # Fewer icons if they do not all fit: the target and both kinds of look-alike come first.
        self.icons = place_icons(self, area, icons, side)
        self.target = self.icons[0]
        self.target.target = True
        words = {"colour": COLOUR_NAMES[colour0], "shape": render.SHAPES[shape0], "label": labels[0]}
        self.instruction = self.say(BY_LABEL if by_label else BY_LOOK, **words)

    def check(self, action) -> Outcome:
        return self.click_outcome(action, self.target, self.icons)

    def expert(self):
        return self.act("click", self.target)
