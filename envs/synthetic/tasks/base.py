"""The shape every task family shares (Minigrid's `_gen_grid`, BabyAI's verifier).

A family is a small `Task` subclass with three hooks:
  - `build()` fills `self.scene` and sets `self.instruction` (from varied templates);
  - `check(action)` applies a validated action and returns SUCCESS, FAILURE or CONTINUE,
    mutating the scene (and calling `self.scene.changed()`) for multi-step tasks;
  - `expert()` returns the right next action in the current state.
Every random draw comes from `self.rng` (the env's `np_random`), so episodes are reproducible.
Words, looks and wording come from the task's world (`world.py`): `self.pick(kind, pool)` draws names,
`self.say(phrases, **slots)` writes the instruction, `self.text_size` measures text in the episode's font.
"""

from __future__ import annotations

import enum
from typing import Any, ClassVar

import numpy as np

from minvla_gym.actions import CLICK, MOUSE_PRESSES, make_action
from minvla_gym.envs.synthetic import render
from minvla_gym.envs.synthetic.scene import Element, Scene
from minvla_gym.envs.synthetic.world import CLOSED, ClosedWorld, OpenWorld, Phrases


class Outcome(enum.Enum):
    CONTINUE = 0
    SUCCESS = 1
    FAILURE = 2


class Task:
    family: ClassVar[str]  # registered as MinVLA-Synthetic-<family>-v0
    max_steps: ClassVar[int] = 5  # max_episode_steps of that id; the expert needs fewer

    def __init__(self, rng: np.random.Generator, size: int, world: ClosedWorld | OpenWorld = CLOSED):
        self.rng = rng
        self.size = size
        self.world = world
        self.theme = world.theme(rng, size)
        self.case = world.case(rng)  # how the episode's labels are written (the open world varies it)
        self.scene = Scene(size, self.theme)
        self.instruction = ""
        self.build()
        if not self.instruction:
            raise RuntimeError(f"{type(self).__name__}.build() set no instruction")

    # ------------------------------------------------------------ hooks

    def build(self) -> None:
        raise NotImplementedError

    def check(self, action: dict[str, Any]) -> Outcome:
        raise NotImplementedError

    def expert(self) -> dict[str, Any]:
        raise NotImplementedError

    # ------------------------------------------------------------ helpers for subclasses

    def click_outcome(self, action, target: Element, candidates) -> Outcome:
        """One-step "click the right one": a click on `target` succeeds; any other press on it or on
        another of `candidates` fails; anything else changes nothing."""
        if action["type"] not in MOUSE_PRESSES:
            return Outcome.CONTINUE
        hit = self.scene.hit(action["point"])
        if hit is target:
            return Outcome.SUCCESS if action["type"] == CLICK else Outcome.FAILURE
        return Outcome.FAILURE if hit in candidates else Outcome.CONTINUE

    def choice(self, options):
        """One item of a sequence, drawn from the episode's generator."""
        return options[int(self.rng.integers(len(options)))]

    def sample(self, options, count: int) -> list:
        """`count` distinct items of a sequence."""
        return [options[int(i)] for i in self.rng.choice(len(options), size=count, replace=False)]

    def pick(self, kind: str, pool, count: int | None = None):
        """`count` distinct names (or one, when count is None) of `kind` ("word", "label", "name", "file"):
        from `pool` in the closed world, from the split's vocabulary in the open one."""
        return self.world.pick(self, kind, pool, count)

    def pool(self, kind: str, pool) -> tuple:
        """All the names of `kind` this world draws from (`pool` in the closed world)."""
        return self.world.pool(kind, pool)

    def say(self, phrases: Phrases, **slots) -> str:
        """The instruction: one of the world's templates in `phrases`, filled with `slots`."""
        return self.world.say(self, phrases, **slots)

    def text_size(self, text: str, size: int) -> tuple[int, int]:
        """(width, height) of `text` at `size` in the episode's font face."""
        return render.text_size(text, size, self.theme.face)

    def fraction(self, x: float, y: float) -> tuple[float, float]:
        """Pixel coordinates -> fractions of the screen, as actions use them."""
        return (min(max(x / self.size, 0.0), 1.0), min(max(y / self.size, 0.0), 1.0))

    def at(self, element: Element) -> tuple[float, float]:
        """The centre of an element, as fractions."""
        return self.fraction(*element.centre)

    def act(self, kind: str, element: Element | None = None, **fields) -> dict[str, Any]:
        """An action of `kind` aimed at the centre of `element` (for `expert()`)."""
        if element is not None:
            fields.setdefault("point", self.at(element))
        return make_action(kind, **fields)

    def window(self, title: str, margin: int | None = None) -> tuple[Element, tuple[int, int, int, int]]:
        """A window filling most of the screen at a random offset; returns it and its client area."""
        s = self.size
        margin = int(self.rng.integers(2, s // 14)) if margin is None else margin
        x0, y0 = int(self.rng.integers(0, margin + 1)), int(self.rng.integers(0, margin + 1))
        x1, y1 = s - int(self.rng.integers(0, margin + 1)), s - int(self.rng.integers(0, margin + 1))
        bar = self.theme.font_size + 6
        window = self.scene.add(
            Element("window", (x0, y0, x1, y1), title, self.theme.window, self.theme.text,
                    self.theme.font_size, data={"bar": bar})
        )  # fmt: skip
        return window, (x0 + 4, y0 + bar + 4, x1 - 4, y1 - 4)
