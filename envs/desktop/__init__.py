"""The real desktop: DesktopEnv (mss + pyautogui), the real-window task suite, the demo recorder.

Nothing here touches the display at import; the optional dependencies (mss, pyautogui, pynput:
`pip install minvla-gym[desktop]`) are imported where used.
"""

from minvla_gym.envs.desktop.env import DesktopEnv
from minvla_gym.envs.desktop.screen import NoDisplayError

__all__ = ["DesktopEnv", "NoDisplayError"]
