"""DesktopEnv: the real screen as a Gymnasium env, speaking the same spaces as the synthetic desktop."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np

from minvla_gym import tokenizer
from minvla_gym.actions import make_action_space, validate_action
from minvla_gym.envs.desktop.screen import Screen, import_pyautogui, perform, resize, to_pixel
from minvla_gym.observation import DEFAULT_SIZE, make_observation_space

Check = Callable[[np.ndarray], bool]


class DesktopEnv(gym.Env):
    """The real desktop: mss screenshots in, pyautogui mouse and keyboard actions out.

    ## Description
    Each step performs one action of the one action space on the real display (an X server: a
    person's desktop or Xvfb), waits for the screen to settle and returns a new screenshot. With
    `task_source="suite"` the env starts the real-window task suite (a Tk app with the synthetic
    task families as real widgets) and each episode is one of its tasks, checked by the app itself;
    that is `MinVLA-DesktopSuite-v0`.

    ## Action Space
    `minvla_gym.actions.make_action_space()`. Points are fractions of the region, mapped to its pixels
    (pixel i covers [i/w, (i+1)/w)) and clamped to it; a drag presses, moves in steps and releases;
    scroll turns the wheel by the rounded notches (positive down); `type` writes the text where the
    keyboard focus is; `hotkey` presses the combination.

    ## Observation Space
    | key           | space                               | content                                 |
    |---------------|-------------------------------------|-----------------------------------------|
    | `image`       | Box(0, 255, (size, size, 3), uint8) | the region, resized (aspect not kept)   |
    | `instruction` | Box(0, 256, (96,), int64)           | byte-level token ids, 0 = padding       |

    ## Mission Space
    The instruction: `reset(options={"instruction": ...})`, the `instruction` argument, or the task
    suite's task (the synthetic families' templates).

    ## Rewards
    1.0 on the step where the check (or the suite) reports success, 0.0 otherwise.

    ## Starting State
    Whatever is on the screen. With the suite, `reset(seed=s)` shows family `s % 10` (so consecutive
    seeds cover every family) with a layout drawn from the seed; later unseeded resets continue the cycle.

    ## Episode End
    Terminated on success (the check returns True, or the suite says so) or on a suite failure (a
    wrong decisive action). Without a check nothing ends the episode but the step limit
    (`max_episode_steps` at registration).

    ## Info
    `is_success` (bool), `task` (the suite family, or "desktop"), `instruction` (text), `elements`
    (always []: the real desktop has no element list) and `pixels` (the screen pixels the last action
    pressed and released, for logs).

    ## Arguments
    - `instruction`: the default instruction (reset options override it).
    - `region`: `(left, top, width, height)` to capture and act in; default the whole `monitor`.
    - `monitor`: mss monitor index (1 = the first).
    - `size`: observation side in pixels (default 224).
    - `check`: optional `check(frame) -> bool`, called with the full-resolution RGB region after each action.
    - `task_source`: `"suite"` for the task suite, or an object like `TaskSuite` (reset, activate,
      status, expert, close, families, region).
    - `families`: with `task_source="suite"`, the families to cycle through (default all ten).
    - `dry_run`: perform nothing (observations still come from the screen).
    - `settle`: seconds to wait after each action before the screenshot.
    - `render_mode`: "rgb_array" returns the last full-resolution capture of the region.

    ## Safety
    Every point the pointer visits (a drag's in-between points included) is clamped to the region and kept
    off the four screen corners, which stay pyautogui's fail-safe: moving the mouse into a corner aborts the
    next action with pyautogui.FailSafeException. A drag that is aborted so releases its button first.
    No display raises NoDisplayError; a region off the screen raises ValueError.

    ## Version History
    - v0: initial release.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 4}

    def __init__(
        self,
        instruction: str = "",
        region: Sequence[int] | None = None,
        monitor: int = 1,
        size: int = DEFAULT_SIZE,
        check: Check | None = None,
        task_source: Any = None,
        families: Sequence[str] | None = None,
        dry_run: bool = False,
        settle: float = 0.05,
        render_mode: str | None = None,
    ):
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode {render_mode!r} not in {self.metadata['render_modes']}")
        if not settle >= 0:
            raise ValueError(f"settle must be >= 0 seconds, got {settle!r}")
        if check is not None and not callable(check):
            raise ValueError(f"check must be a callable frame -> bool, got {type(check).__name__}")
        self.observation_space = make_observation_space(size)
        self.action_space = make_action_space()
        self.size, self.check, self.dry_run, self.settle, self.render_mode = size, check, dry_run, settle, render_mode
        self._instruction_length = self.observation_space["instruction"].shape[0]
        self._default_instruction = instruction
        ids = self._encode(instruction, "instruction")  # before the screen opens: not text, or too long
        self.screen = Screen(region, monitor)  # NoDisplayError / ValueError before anything starts
        if task_source == "suite":
            from minvla_gym.envs.desktop.suite import TaskSuite

            task_source = TaskSuite(families)
        elif families is not None:
            raise ValueError("families only applies with task_source='suite'")
        self.source = task_source
        if self.source is not None:
            self.screen.set_region(self.source.region)
        self._pyautogui = None
        self._cursor: int | None = None  # the suite's next family, as an index into source.families
        self.instruction, self.task = instruction, "desktop"
        self._ids = ids
        self._success, self.last_pixels = False, []

    @property
    def region(self) -> tuple[int, int, int, int]:
        return self.screen.region

    # ------------------------------------------------------------ gymnasium API

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        options = dict(options or {})
        if self.source is not None:
            families = self.source.families
            if seed is not None or self._cursor is None:
                self._cursor = seed if seed is not None else int(self.np_random.integers(len(families)))
            family = options.get("task", families[self._cursor % len(families)])
            self._cursor += 1
            if family not in families:
                raise ValueError(f"options['task']={family!r} is not a suite family; expected one of {list(families)}")
            instruction, region = self.source.reset(int(self.np_random.integers(2**31)), family)
            self.screen.set_region(region)
            self.task = family
        else:
            instruction = options.get("instruction", self._default_instruction)
        self._ids = self._encode(instruction, "options['instruction']" if "instruction" in options else "instruction")
        self.instruction = instruction
        self._success, self.last_pixels = False, []
        return self._observe(), self._info()

    def step(self, action):
        action = validate_action(action)
        if self.source is not None and not self.dry_run:
            self.source.activate()  # its window on top, with the keyboard focus (other apps may have taken it)
        if self.dry_run:
            self.last_pixels = [to_pixel(action["point"], self.region, self.screen.bounds)]
        else:
            self.last_pixels = perform(action, self.region, self.screen.bounds, self._gui())
        if self.settle:
            time.sleep(self.settle)
        terminated = False
        if self.source is not None:
            outcome = self.source.status()
            self._success, terminated = outcome == "success", outcome != "continue"
            frame = None
        else:
            frame = self.screen.grab() if self.check is not None else None
            self._success = bool(self.check(frame)) if frame is not None else False
            terminated = self._success
        return self._observe(frame), float(self._success), terminated, False, self._info()

    def render(self):
        if self.render_mode is None:
            gym.logger.warn("render() called without a render_mode; pass render_mode='rgb_array'.")
            return None
        return self.screen.grab()

    def close(self):
        if self.source is not None:
            self.source.close()
            self.source = None
        self.screen.close()

    # ------------------------------------------------------------ minVLA-gym API

    def expert_action(self) -> dict[str, Any]:
        """The task suite's scripted expert: the next action for the current task."""
        if self.source is None or not hasattr(self.source, "expert"):
            raise ValueError("expert_action() needs a task source with an expert (task_source='suite')")
        return self.source.expert()

    # ------------------------------------------------------------ internals

    def _encode(self, instruction: Any, name: str) -> np.ndarray:
        if not isinstance(instruction, str):
            raise ValueError(f"{name} must be a str, got {type(instruction).__name__}")
        return tokenizer.encode(instruction, self._instruction_length)

    def _gui(self):
        if self._pyautogui is None:
            self._pyautogui = import_pyautogui()
        return self._pyautogui

    def _observe(self, frame: np.ndarray | None = None) -> dict[str, np.ndarray]:
        # A frame already captured for the check is resized, not captured a second time.
        image = self.screen.observe(self.size) if frame is None else resize(frame, self.size)
        return {"image": image, "instruction": self._ids.copy()}

    def _info(self) -> dict[str, Any]:
        return {
            "is_success": self._success,
            "task": self.task,
            "instruction": self.instruction,
            "elements": [],
            "pixels": list(self.last_pixels),
        }
