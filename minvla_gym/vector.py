"""Actions for Gymnasium vector envs.

`VectorEnv.step` takes one batched action: a dict of the fields stacked over the envs (text as a tuple of
strings), as `envs.action_space` describes. A policy's `act_batch` and the scripted expert give one action dict
per env instead, because that is what each env steps on and what evaluation records. `stack_actions` turns the
second into the first:

    envs = gym.make_vec("MinVLA-Synthetic-v1", num_envs=8)
    obs, info = envs.reset(seed=0)
    obs, reward, terminated, truncated, info = envs.step(stack_actions(vla.act_batch(obs)))
    obs, reward, terminated, truncated, info = envs.step(expert_actions(envs))
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gymnasium.vector.utils import concatenate, create_empty_array

from minvla_gym.actions import make_action_space, validate_action


def stack_actions(actions: Sequence[dict[str, Any]], space=None) -> dict[str, Any]:
    """One action per env -> the batched action of `space` (default: the one action space) for `VectorEnv.step`.
    Each action is validated first, so a bad one is a ValueError naming its field, not a shape error later."""
    space = make_action_space() if space is None else space
    actions = [validate_action(action) for action in actions]
    return concatenate(space, actions, create_empty_array(space, len(actions)))


def expert_actions(envs) -> dict[str, Any]:
    """The scripted expert's action in every env of a vector env, batched for `envs.step`."""
    return stack_actions(envs.call("expert_action"), envs.single_action_space)
