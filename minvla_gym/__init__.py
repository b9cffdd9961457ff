"""minVLA-gym: a Gymnasium desktop for vision-language-action agents.

`import minvla_gym` registers the env ids (MinVLA-Synthetic-v1, MinVLA-Synthetic-<Family>-v1, their frozen
v0 twins, ...).
"""

from minvla_gym.actions import ACTION_TYPES, HOTKEYS, make_action, make_action_space, validate_action
from minvla_gym.evaluation import evaluate
from minvla_gym.observation import make_observation_space
from minvla_gym.registration import register_envs
from minvla_gym.vector import expert_actions, stack_actions
from minvla_gym.wrappers import FlatActionWrapper

register_envs()

__version__ = "0.1.0"
__all__ = [
    "ACTION_TYPES",
    "evaluate",
    "expert_actions",
    "HOTKEYS",
    "FlatActionWrapper",
    "make_action",
    "make_action_space",
    "make_observation_space",
    "stack_actions",
    "validate_action",
]
