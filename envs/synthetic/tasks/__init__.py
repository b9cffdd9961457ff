"""Task families of the synthetic desktop, by name. Each is registered as MinVLA-Synthetic-<name>-v0."""

from minvla_gym.envs.synthetic.tasks.base import Outcome, Task
from minvla_gym.envs.synthetic.tasks.click import ClickTask
from minvla_gym.envs.synthetic.tasks.double_click import DoubleClickTask
from minvla_gym.envs.synthetic.tasks.drag import DragTask
from minvla_gym.envs.synthetic.tasks.hotkey import HotkeyTask
from minvla_gym.envs.synthetic.tasks.icon import IconTask
from minvla_gym.envs.synthetic.tasks.menu import MenuTask
from minvla_gym.envs.synthetic.tasks.right_click import RightClickTask
from minvla_gym.envs.synthetic.tasks.scroll import ScrollTask
from minvla_gym.envs.synthetic.tasks.slider import SliderTask
from minvla_gym.envs.synthetic.tasks.type_text import TypeTask

FAMILIES: dict[str, type[Task]] = {
    cls.family: cls
    for cls in (
        ClickTask,
        HotkeyTask,
        DragTask,
        SliderTask,
        ScrollTask,
        TypeTask,
        IconTask,
        DoubleClickTask,
        RightClickTask,
        MenuTask,
    )
}

__all__ = ["FAMILIES", "Outcome", "Task"]
