"""A flat MultiDiscrete twin of the one action space, for stable-baselines3 (no Dict actions there).

Layout of the flat vector (`FLAT_FIELDS`), as in MiniWoB++'s `coord_bins`:
    type (7) | point x, y (bins) | end_point x, y (bins) | scroll (21 notches, -10..10)
    | text start, end (0..L, a span [start, end) of the instruction's tokens) | hotkey (K)
The VLA's action heads predict exactly these factors, so behaviour cloning and PPO train the same heads.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from minvla_gym.actions import ACTION_TYPES, HOTKEYS, MAX_SCROLL, validate_action
from minvla_gym.tokenizer import decode, find_span

DEFAULT_COORD_BINS = 64
FLAT_FIELDS = ("type", "x", "y", "end_x", "end_y", "scroll", "text_start", "text_end", "hotkey")
SCROLL_NOTCHES = 2 * int(MAX_SCROLL) + 1


def flat_nvec(instruction_tokens: int, coord_bins: int = DEFAULT_COORD_BINS) -> np.ndarray:
    n = instruction_tokens + 1  # span ends are exclusive, so L + 1 positions
    return np.array([len(ACTION_TYPES), *[coord_bins] * 4, SCROLL_NOTCHES, n, n, len(HOTKEYS)], dtype=np.int64)


def bin_centre(index, coord_bins: int) -> np.ndarray:
    return ((np.asarray(index, dtype=np.float64) + 0.5) / coord_bins).astype(np.float32)


def to_bin(fraction, coord_bins: int) -> np.ndarray:
    return np.clip((np.asarray(fraction, dtype=np.float64) * coord_bins).astype(np.int64), 0, coord_bins - 1)


def flat_to_action(flat, instruction_ids, coord_bins: int = DEFAULT_COORD_BINS) -> dict[str, Any]:
    """Flat MultiDiscrete vector -> action of the one space (text copied from the instruction span)."""
    nvec = flat_nvec(len(instruction_ids), coord_bins)
    try:
        array = np.asarray(flat)
    except ValueError:  # a ragged list
        array = np.empty(0, dtype=object)
    if array.dtype.kind not in "iu":  # floats are refused, not truncated to other bins
        what = array.dtype if array.dtype.kind in "fcb" else type(flat).__name__
        raise ValueError(f"flat action: expected a vector of {len(nvec)} integers, got {what}")
    flat = array.astype(np.int64).reshape(-1)
    if flat.shape != nvec.shape or np.any(flat < 0) or np.any(flat >= nvec):
        raise ValueError(f"flat action {flat.tolist()} does not fit MultiDiscrete({nvec.tolist()})")
    start, end = int(flat[6]), int(flat[7])
    text = decode(np.asarray(instruction_ids)[start:end]) if end > start else ""
    return validate_action(
        {
            "type": int(flat[0]),
            "point": bin_centre(flat[1:3], coord_bins),
            "end_point": bin_centre(flat[3:5], coord_bins),
            "scroll": [float(flat[5] - MAX_SCROLL)],
            "text": text,
            "hotkey": int(flat[8]),
        }
    )


def action_to_flat(action, instruction_ids, coord_bins: int = DEFAULT_COORD_BINS) -> np.ndarray:
    """Action -> flat vector. Coordinates fall into bins, scroll rounds to a notch, text becomes the
    span of its first occurrence in the instruction (ValueError if it does not occur there)."""
    action = validate_action(action)
    start, end = find_span(instruction_ids, action["text"])
    return np.array(
        [
            action["type"],
            *to_bin(action["point"], coord_bins),
            *to_bin(action["end_point"], coord_bins),
            int(np.rint(action["scroll"][0])) + int(MAX_SCROLL),
            start,
            end,
            action["hotkey"],
        ],
        dtype=np.int64,
    )


class FlatActionWrapper(gym.ActionWrapper):
    """Exposes the env's Dict action space as `MultiDiscrete` (see module docstring)."""

    def __init__(self, env: gym.Env, coord_bins: int = DEFAULT_COORD_BINS):
        super().__init__(env)
        self.coord_bins = coord_bins
        instruction_tokens = env.observation_space["instruction"].shape[0]
        self.action_space = spaces.MultiDiscrete(flat_nvec(instruction_tokens, coord_bins))
        self._instruction = np.zeros(instruction_tokens, dtype=np.int64)

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        self._instruction = obs["instruction"].copy()  # the user may write into the observation
        return obs, info

    def step(self, action):
        obs, reward, terminated, truncated, info = super().step(action)
        self._instruction = obs["instruction"].copy()
        return obs, reward, terminated, truncated, info

    def action(self, action):
        return flat_to_action(action, self._instruction, self.coord_bins)

    def reverse_action(self, action):
        return action_to_flat(action, self._instruction, self.coord_bins)
