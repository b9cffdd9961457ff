"""Task families of the synthetic desktop, by name. Each is registered as MinVLA-Synthetic-<name>-v0."""

from minvla_gym.envs.synthetic.tasks.base import Outcome, Task
from minvla_gym.envs.synthetic.tasks.click import ClickTask
from minvla_gym.envs.synthetic.tasks.hotkey import HotkeyTask

FAMILIES: dict[str, type[Task]] = {cls.family: cls for cls in (ClickTask, HotkeyTask)}

__all__ = ["FAMILIES", "Outcome", "Task"]
