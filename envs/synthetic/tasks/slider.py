"""Drag a slider's knob to a stated value.

Each slider is a track (role slider, ticks every 10) with a knob (role slider_knob) and a label above
it that shows its name and current value ("Volume 20"). A drag that starts on a knob sets that
slider to the value under the drop point's x (0..100, the fraction along the track). Dragging the
named slider to within +-4 of the stated value succeeds; any other value, dragging another slider's
knob, or any press on a dialog button fails. Drags that start off the knobs change nothing.
"""

from __future__ import annotations

import numpy as np

from minvla_gym.actions import DRAG, MOUSE_PRESSES
from minvla_gym.envs.synthetic.scene import Element
from minvla_gym.envs.synthetic.tasks.base import Outcome, Task
from minvla_gym.envs.synthetic.world import Phrases

NAMES = (
    "volume", "brightness", "zoom", "contrast", "speed", "opacity", "balance", "bass", "treble",
    "saturation", "size", "quality", "warmth", "gain",
)  # fmt: skip
PHRASES = Phrases(
    v0=(
        "set the {name} slider to {value}",
        "drag the {name} slider to {value}",
        "move the {name} slider to {value}%",
        "adjust {name} to {value}",
        "change the {name} to {value} percent",
        "slide {name} to {value}",
    ),
    train=(
        "set the {name} slider to {value}", "drag the {name} slider to {value}", "move the {name} slider to {value}%",
        "adjust {name} to {value}", "change the {name} to {value} percent", "slide {name} to {value}",
        "set {name} to {value}", "make {name} {value}", "put the {name} slider at {value}",
        "drag {name} to {value}%",
    ),
    test=("turn {name} to {value}", "bring the {name} slider to {value}", "set the {name} level to {value} percent"),
)  # fmt: skip
BUTTONS = ("OK", "Cancel", "Apply", "Reset", "Close", "Done")
TITLES = ("Settings", "Sound", "Display", "Preferences", "Adjust", "Mixer", "Camera")
TOLERANCE = 4  # a drop this close to the stated value counts, as a person's hand would


def dialog_buttons(task: Task, words, right: int, bottom: int, height: int) -> list[Element]:
    """Buttons labelled `words`, right-aligned along the bottom of a dialog (also used by the Type form)."""
    theme, size = task.theme, task.theme.font_size
    buttons = []
    for word in words:
        width = task.text_size(word, size)[0] + 14
        box = (right - 4 - width, bottom - height - 2, right - 4, bottom - 2)
        buttons.append(task.scene.add(Element("button", box, word, theme.control, theme.text, size)))
        right -= width + 6
    return buttons


class SliderTask(Task):
    family = "Slider"
    max_steps = 5

    def build(self) -> None:
        rng, s, theme = self.rng, self.size, self.theme
        _, (x0, y0, x1, y1) = self.window(self.pick("name", TITLES))
        size = theme.font_size
        text_h = self.text_size("x", size)[1]
        knob_w, knob_h = (max(4, int(v * s / 224)) for v in rng.integers((6, 12), (11, 17)))
        track_h = max(knob_h, text_h, int(16 * s / 224))  # tall enough for the ticks below the line
        row = text_h + track_h + int(rng.integers(4, 14) * s / 224)
        buttons = self.pick("label", BUTTONS, int(rng.integers(0, 3)))
        button_h = size + 8
        if y1 - y0 - button_h - 6 < row:  # tiny screens: room for one slider and no buttons
            buttons = []
        rows_room = y1 - y0 - (button_h + 6 if buttons else 0)
        count = max(1, min(int(rng.integers(1, 5)), rows_room // row))
        # The track spans about half the screen or more, so a coordinate bin is well within the tolerance.
        inset = rng.integers(0, (x1 - x0) // 6 + 1, 2).tolist()
        left, right = x0 + knob_w // 2 + 2 + inset[0], x1 - knob_w // 2 - 2 - inset[1]
        top = y0 + int(rng.integers(0, max(0, rows_room - count * row) + 1))

        names = self.pick("word", NAMES, count)
        values = rng.integers(0, 101, count).tolist()
        self.sliders, self.knobs, self.labels = [], [], []
        for i, (name, value) in enumerate(zip(names, values, strict=True)):
            y = top + i * row
            label = self.scene.add(Element("label", (left, y, right, y + text_h), "", ink=theme.text, font_size=size))
            track = self.scene.add(
                Element("slider", (left, y + text_h, right, y + text_h + track_h), name.capitalize(), data={})
            )
            cy = (track.box[1] + track.box[3]) // 2
            box = (0, cy - knob_h // 2, knob_w, cy - knob_h // 2 + knob_h)
            knob = self.scene.add(Element("slider_knob", box, fill=theme.accent, data={"slider": i}))
            self.sliders.append(track)
            self.knobs.append(knob)
            self.labels.append(label)
            self._set(i, value)
        self.buttons = dialog_buttons(self, buttons, x1, y1, button_h)

        self.index = int(rng.integers(count))
        self.knobs[self.index].target = True
        current = values[self.index]
        goals = [v for v in range(0, 101, 5) if abs(v - current) >= 15]
        self.goal = self.choice(goals)
        name = names[self.index]
        if self.world.open:  # the open world writes names in any case
            self.instruction = self.say(PHRASES, name=name, value=self.goal)
        else:  # the closed world draws its template before the name's case
            template = self.choice(PHRASES.v0)
            self.instruction = template.format(name=name if rng.random() < 0.5 else name.capitalize(), value=self.goal)

    # ------------------------------------------------------------ value <-> pixels

    def _x(self, i: int, value: float) -> float:
        """Pixel x of `value` on slider i (pixel centres, matching the ticks of scene.draw_slider)."""
        x0, _, x1, _ = self.sliders[i].box
        return x0 + 0.5 + value * (x1 - x0 - 1) / 100

    def _value(self, i: int, fraction_x: float) -> int:
        x0, _, x1, _ = self.sliders[i].box
        value = (fraction_x * self.size - 0.5 - x0) * 100 / (x1 - x0 - 1)
        return int(np.clip(np.floor(value + 0.5), 0, 100))

    def _set(self, i: int, value: int) -> None:
        knob, slider = self.knobs[i], self.sliders[i]
        _, ky0, kx1, ky1 = knob.box
        width = kx1 - knob.box[0]
        kx0 = int(round(self._x(i, value) - width / 2))
        knob.box = (kx0, ky0, kx0 + width, ky1)
        slider.data["value"] = value
        self.labels[i].label = f"{slider.label} {value}"
        self.scene.changed()

    # ------------------------------------------------------------ hooks

    def check(self, action) -> Outcome:
        kind = action["type"]
        if kind in MOUSE_PRESSES:
            return Outcome.FAILURE if self.scene.hit(action["point"]) in self.buttons else Outcome.CONTINUE
        if kind != DRAG:
            return Outcome.CONTINUE
        knob = self.scene.hit(action["point"])
        if knob not in self.knobs:
            return Outcome.CONTINUE
        i = knob.data["slider"]
        value = self._value(i, float(action["end_point"][0]))
        self._set(i, value)
        if i == self.index and abs(value - self.goal) <= TOLERANCE:
            return Outcome.SUCCESS
        return Outcome.FAILURE

    def expert(self):
        knob = self.knobs[self.index]
        return self.act("drag", knob, end_point=self.fraction(self._x(self.index, self.goal), knob.centre[1]))
