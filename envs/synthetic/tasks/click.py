"""Click a named button among distractors."""

from __future__ import annotations

from minvla_gym.envs.synthetic.scene import Element, grid_boxes, random_colour
from minvla_gym.envs.synthetic.tasks.base import Outcome, Task
from minvla_gym.envs.synthetic.words import LABELS
from minvla_gym.envs.synthetic.world import Phrases

PHRASES = Phrases(
    v0=(
        "click the {label} button",
        "press the {label} button",
        "click on {label}",
        "hit the button labelled {label}",
        "select the '{label}' button",
    ),
    train=(
        "click the {label} button", "press the {label} button", "click on {label}", "hit the button labelled {label}",
        "select the {label} button", "click {label}", "press {label}", "choose {label}",
        "click the button that says {label}", "find the {label} button and click it", "tap {label}",
    ),
    test=("hit {label}", "push the {label} button", "click the button called {label}", "select the button named {label}"),
)  # fmt: skip


class ClickTask(Task):
    family = "Click"
    max_steps = 5

    def build(self) -> None:
        _, area = self.window(self.pick("name", LABELS).capitalize())
        count = int(self.rng.integers(2, 10))
        labels = self.pick("label", LABELS, count)
        size = self.theme.font_size
        pad = int(self.rng.integers(4, 10))
        width = max(self.text_size(label, size)[0] for label in labels) + 2 * pad
        height = size + int(self.rng.integers(6, 12))
        while True:  # shrink until the buttons fit the window
            try:
                boxes = grid_boxes(self.rng, area, count, width, height, gap=int(self.rng.integers(3, 9)))
                break
            except ValueError:
                count -= 1
        fill = random_colour(self.rng, self.theme)
        self.buttons = [
            self.scene.add(Element("button", box, label, fill, self.theme.text, size))
            for box, label in zip(boxes, labels, strict=False)  # fewer boxes when the window is small
        ]
        self.target = self.choice(self.buttons)
        self.target.target = True
        self.instruction = self.say(PHRASES, label=self.target.label)

    def check(self, action) -> Outcome:
        return self.click_outcome(action, self.target, self.buttons)

    def expert(self):
        return self.act("click", self.target)
