"""SyntheticDesktopEnv: procedurally generated desktops with instructions and a scripted expert."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np

from minvla_gym import tokenizer
from minvla_gym.actions import describe_action, make_action_space, validate_action
from minvla_gym.envs.synthetic import render
from minvla_gym.envs.synthetic.tasks import FAMILIES
from minvla_gym.envs.synthetic.tasks.base import Outcome, Task
from minvla_gym.envs.synthetic.world import SPLITS, world
from minvla_gym.observation import DEFAULT_SIZE, make_observation_space

MIN_SIZE = 64


class SyntheticDesktopEnv(gym.Env):
    """A synthetic desktop: windows, buttons, icons, fields, lists, menus and sliders, drawn with numpy.

    ## Description
    Each episode draws one task from a task family (or from all of them): a screen and an instruction
    such as "click the search button". The agent acts with the one action space of minVLA-gym.

    v1 is an open world with held-out splits (`split="train"` or `"test"`, the Procgen way): ~7,800 label
    words, multi-word labels, numbers and file names in any case, five font faces, dark and light toolkit
    themes with per-episode widget style, and 10+ instruction templates per family in free surface form.
    Each word, one font face and some templates belong to the test split only; a split never shows the
    other's words (`envs/synthetic/world.py`). v0 is the original closed world, frozen.

    ## Action Space
    `minvla_gym.actions.make_action_space()`: a Dict of `type` (Discrete(7): click, double_click,
    right_click, drag, scroll, type, hotkey), `point` and `end_point` (Box(0, 1, (2,)), fractions of
    the screen), `scroll` (Box(-10, 10, (1,)), notches, positive scrolls down), `text` (Text) and
    `hotkey` (Discrete(K), an index into `minvla_gym.actions.HOTKEYS`).

    ## Observation Space
    | key           | space                               | content                               |
    |---------------|-------------------------------------|---------------------------------------|
    | `image`       | Box(0, 255, (size, size, 3), uint8) | the screen                            |
    | `instruction` | Box(0, 256, (96,), int64)           | byte-level token ids, 0 = padding     |

    ## Mission Space
    One instruction per episode, from the family's templates, e.g. "click the save button", "Open the
    'Photos' folder.", "type 'hello' into the name field". `info["instruction"]` holds the text.

    ## Rewards
    1.0 on the step that completes the task, 0.0 otherwise.

    ## Starting State
    A new scene drawn from the family: layout, sizes, colours, light/dark theme, font size,
    distractor count and wording all vary with the seed.

    ## Episode End
    Terminated on success or on an irrecoverable mistake (clicking the wrong button, dropping on the
    wrong folder, a wrong hotkey). Actions that change nothing (a click on empty space) continue the
    episode. Truncated by `max_episode_steps` at registration. Stepping a terminated episode raises
    `ResetNeeded` (it would otherwise pay its reward again).

    ## Info
    `is_success` (bool), `task` (the family), `instruction` (text), `split` (v1: "train" or "test";
    v0: None), and `elements`: the visible elements as dicts of role, label, box (fractions x0, y0, x1,
    y1), target flag, text_box (where the label is written, in fractions; None when the role draws no
    label) and char_boxes (an (n, 4) float32 array: each label character's box, in fractions); the Icon family's
    icons also have `colour` and `shape` (the names its instructions use), and text fields `focused`
    (whether typing goes there). The elements are privileged information: use them as training-time
    supervision, never as policy input.

    ## Arguments
    - `task`: a family name, a sequence of names, or None for every family.
    - `size`: side of the square screen (and observation) in pixels, default 224, at least 64.
    - `render_mode`: "rgb_array" (the screen with the last action drawn) or "human" (a Tk window, at
      most `render_fps` frames a second; without a display it warns once and shows nothing, so
      `check_env` passes on a headless machine).
    - `version`: 1 (the open world, the class default) or 0 (the frozen closed world).
    - `split`: "train" (default) or "test", v1 only.

    ## Version History
    - v1: the open world with train and test splits; char_boxes in the elements.
    - v0: initial release (frozen: the same episodes for the same seeds).
    """

    metadata = {"render_modes": ["rgb_array", "human"], "render_fps": 4}

    def __init__(
        self,
        task: str | Sequence[str] | None = None,
        size: int = DEFAULT_SIZE,
        render_mode: str | None = None,
        version: int = 1,
        split: str = "train",
    ):
        names = list(FAMILIES) if task is None else [task] if isinstance(task, str) else list(task)
        unknown = [name for name in names if name not in FAMILIES]
        if unknown or not names:
            raise ValueError(f"unknown task family {unknown or names}; expected some of {list(FAMILIES)}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode {render_mode!r} not in {self.metadata['render_modes']}")
        self.families = names
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        self.world = world(version, split)
        self.version, self.split = version, split
        if not isinstance(size, (int, np.integer)) or size < MIN_SIZE:
            # Below 64 px a window, its title bar and a few readable labels no longer fit.
            raise ValueError(f"size must be an int of at least {MIN_SIZE} pixels, got {size!r}")
        self.size = int(size)
        self.render_mode = render_mode
        self.observation_space = make_observation_space(size)
        self.action_space = make_action_space()
        self.task: Task | None = None
        self.last_action: dict[str, Any] | None = None
        self._success = False
        self._instruction_ids = np.zeros(self.observation_space["instruction"].shape, dtype=np.int64)
        self._frame_version = -1
        self._frame: np.ndarray | None = None
        self._elements: list[dict[str, Any]] = []
        self._viewer = None
        self._shown_at = 0.0  # when human mode last showed a frame (it keeps to render_fps)
        self._warned_headless = False
        self._ended = False

    # ------------------------------------------------------------ gymnasium API

    def family_of(self, seed: int) -> str:
        """The family reset(seed=seed) draws, without building or drawing its scene (reset's first draw)."""
        return self._draw_family(gym.utils.seeding.np_random(seed)[0])

    def _draw_family(self, rng: np.random.Generator) -> str:
        return self.families[int(rng.integers(len(self.families)))]

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        family = self._draw_family(self.np_random)
        unknown = sorted(set(options or ()) - {"task"})
        if unknown:  # an instruction is the desktop env's option; here every task writes its own
            raise ValueError(f"unknown reset option(s) {unknown}; the synthetic env takes only options['task']")
        if options and "task" in options:
            family = options["task"]
            if family not in FAMILIES:
                raise ValueError(f"options['task']={family!r} is not a family; expected one of {list(FAMILIES)}")
        self.task = FAMILIES[family](self.np_random, self.size, self.world)
        self._instruction_ids = tokenizer.encode(self.task.instruction, self._instruction_ids.shape[0])
        self._frame_version = -1  # a new scene may reuse the old one's version number
        self.last_action = None
        self._success = self._ended = False
        if self.render_mode == "human":
            self.render()
        return self._observation(), self._info()

    def step(self, action):
        if self.task is None:
            raise gym.error.ResetNeeded("call reset() before step()")
        if self._ended:
            raise gym.error.ResetNeeded("the episode has terminated; call reset() before step()")
        action = validate_action(action)
        self.last_action = action
        outcome = self.task.check(action)
        self._success = outcome is Outcome.SUCCESS
        self._ended = outcome is not Outcome.CONTINUE
        if self.render_mode == "human":
            self.render()
        return self._observation(), float(self._success), outcome is not Outcome.CONTINUE, False, self._info()

    def render(self):
        if self.render_mode is None:
            gym.logger.warn("render() called without a render_mode; pass render_mode='rgb_array' or 'human'.")
            return None
        frame = draw_action(self._screen().copy(), self.last_action)
        if self.render_mode == "rgb_array":
            return frame
        self._show(frame)
        return None

    def close(self):
        if self._viewer is not None:
            self._viewer.destroy()
            self._viewer = None

    # ------------------------------------------------------------ minVLA-gym API

    def expert_action(self) -> dict[str, Any]:
        """The scripted expert's next action in the current state (multi-step tasks included)."""
        if self.task is None:
            raise gym.error.ResetNeeded("call reset() before expert_action()")
        return self.task.expert()

    @property
    def instruction(self) -> str:
        return self.task.instruction if self.task else ""

    # ------------------------------------------------------------ internals

    def _screen(self) -> np.ndarray:
        # Redraw only when the task changed its scene: most steps reuse the cached frame.
        if self._frame_version != self.task.scene.version:
            self._frame = self.task.scene.draw()
            self._elements = self.task.scene.element_list()
            self._frame_version = self.task.scene.version
        return self._frame

    def _observation(self) -> dict[str, np.ndarray]:
        # Fresh arrays on every call: users keep observations, so they must never alias.
        return {"image": self._screen().copy(), "instruction": self._instruction_ids.copy()}

    def _info(self) -> dict[str, Any]:
        self._screen()
        return {
            "is_success": self._success,
            "task": self.task.family,
            "instruction": self.task.instruction,
            "split": self.world.split,
            "elements": self._elements,
        }

    def _show(self, frame: np.ndarray) -> None:
        if not os.environ.get("DISPLAY"):
            if not self._warned_headless:
                gym.logger.warn(
                    "render_mode='human' shows nothing: $DISPLAY is not set (start Xvfb or use 'rgb_array')."
                )
                self._warned_headless = True
            return
        import tkinter

        from PIL import Image, ImageTk

        if self._viewer is None:
            self._viewer = tkinter.Tk()
            self._viewer.title("minVLA-gym")
            self._label = tkinter.Label(self._viewer)
            self._label.pack()
        scale = max(1, 448 // self.size)
        image = Image.fromarray(frame).resize((self.size * scale, self.size * scale), Image.Resampling.NEAREST)
        self._photo = ImageTk.PhotoImage(image, master=self._viewer)
        self._label.configure(image=self._photo)
        self._viewer.update()
        # At most render_fps frames a second, as Gymnasium's own human renderers pace themselves.
        time.sleep(max(0.0, self._shown_at + 1 / self.metadata["render_fps"] - time.monotonic()))
        self._shown_at = time.monotonic()

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_viewer"] = None  # a Tk window cannot be pickled; a copy opens its own
        state.pop("_label", None)  # nor can its widgets
        state.pop("_photo", None)
        return state


MARK = (255, 0, 200)


def draw_action(frame: np.ndarray, action: dict[str, Any] | None) -> np.ndarray:
    """Draw an action on a frame: a ring at the point, a line to the drag end, and its description."""
    if action is None:
        return frame
    h, w = frame.shape[:2]
    x, y = int(action["point"][0] * (w - 1)), int(action["point"][1] * (h - 1))
    kind = int(action["type"])
    if kind in (0, 1, 2, 3, 4):  # mouse actions happen at the point
        r = max(3, w // 40)
        render.border(frame, (x - r, y - r, x + r + 1, y + r + 1), MARK, 2)
        render.fill(frame, (x, y - r, x + 1, y + r + 1), MARK)
        render.fill(frame, (x - r, y, x + r + 1, y + 1), MARK)
    if kind == 3:
        ex, ey = int(action["end_point"][0] * (w - 1)), int(action["end_point"][1] * (h - 1))
        steps = max(abs(ex - x), abs(ey - y), 1)
        xs = np.linspace(x, ex, steps + 1).round().astype(int)
        ys = np.linspace(y, ey, steps + 1).round().astype(int)
        frame[ys, xs] = MARK
        render.fill(frame, (ex - 2, ey - 2, ex + 3, ey + 3), MARK)
    caption = describe_action(action)
    size = max(8, w // 26)
    tw, th = render.text_size(caption, size)
    render.fill(frame, (0, h - th - 2, min(w, tw + 4), h), (0, 0, 0))
    render.text(frame, caption, (2, h - th - 2, w, h), size, MARK, "left")
    return frame
