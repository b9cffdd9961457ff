"""The observation space shared by every env: the screen and the instruction as token ids."""

from __future__ import annotations

import numpy as np
from gymnasium import spaces

from minvla_gym.tokenizer import MAX_INSTRUCTION_TOKENS, VOCAB_SIZE

DEFAULT_SIZE = 224


def make_observation_space(size: int = DEFAULT_SIZE, instruction_tokens: int = MAX_INSTRUCTION_TOKENS) -> spaces.Dict:
    """Dict(image=Box(0, 255, (size, size, 3), uint8), instruction=Box(0, V-1, (L,), int64))."""
    if size < 32:
        raise ValueError(f"observation size must be at least 32 pixels, got {size}")
    return spaces.Dict(
        {
            "image": spaces.Box(0, 255, (size, size, 3), np.uint8),
            "instruction": spaces.Box(0, VOCAB_SIZE - 1, (instruction_tokens,), np.int64),
        }
    )
