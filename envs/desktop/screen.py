"""The real screen: capture a region with mss, map action fractions to its pixels, act with pyautogui.

Fractions and pixels follow the synthetic env's convention: pixel i of a region w pixels wide covers
fractions [i / w, (i + 1) / w), so `to_fraction(to_pixel(f))` is the centre of f's pixel and
`to_pixel(to_fraction(i)) == i` exactly. The optional dependencies (mss, pyautogui) are imported
where used, so `import minvla_gym` never needs a display.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from gymnasium.error import DependencyNotInstalled

from minvla_gym.actions import ACTION_TYPES, HOTKEYS

INSTALL_HINT = "pip install minvla-gym[desktop]"
DRAG_STEPS = 8  # pointer moves between press and release, so apps see a real drag (motion events)

Region = tuple[int, int, int, int]  # left, top, width, height in screen pixels


class NoDisplayError(RuntimeError):
    """There is no X display to capture or act on."""


def require_display() -> str:
    """The display name from $DISPLAY, or NoDisplayError saying what to do."""
    display = os.environ.get("DISPLAY", "")
    if not display:
        raise NoDisplayError("no display: set DISPLAY or start Xvfb (e.g. `Xvfb :99 &` then `export DISPLAY=:99`)")
    return display


def import_pyautogui():
    """pyautogui, imported lazily (it connects to the display at import), with its fail-safe on."""
    display = require_display()
    try:
        import pyautogui
    except ImportError as error:
        if "pyautogui" not in str(error):
            raise
        raise DependencyNotInstalled(f"pyautogui is not installed: {INSTALL_HINT}") from None
    except Exception as error:  # Xlib raises its own errors when the display cannot be reached
        raise NoDisplayError(
            f"no display: cannot connect to {display!r} ({error}); set DISPLAY or start Xvfb"
        ) from None
    pyautogui.FAILSAFE = True  # a person can always abort by slamming the mouse into a screen corner
    return pyautogui


def open_mss():
    """An mss screenshot instance on the current display (NoDisplayError if there is none)."""
    display = require_display()
    try:
        import mss
    except ImportError:
        raise DependencyNotInstalled(f"mss is not installed: {INSTALL_HINT}") from None
    try:
        return (getattr(mss, "MSS", None) or mss.mss)()
    except Exception as error:
        raise NoDisplayError(f"no display: cannot open {display!r} ({error}); set DISPLAY or start Xvfb") from None


def check_region(region: Sequence[int], screen: Region) -> Region:
    """Validate `(left, top, width, height)` against the screen's bounding box; returns it as ints."""
    if len(region) != 4 or any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) for v in region):
        raise ValueError(f"region must be 4 ints (left, top, width, height), got {region!r}")
    left, top, width, height = (int(v) for v in region)
    if width < 2 or height < 2:
        raise ValueError(f"region {region!r}: width and height must be at least 2 pixels")
    sl, st, sw, sh = screen
    if left < sl or top < st or left + width > sl + sw or top + height > st + sh:
        raise ValueError(f"region {tuple(region)} lies (partly) off-screen; the screen is {sw}x{sh} at ({sl}, {st})")
    return left, top, width, height


def to_pixel(point: Sequence[float], region: Region, screen: Region | None = None) -> tuple[int, int]:
    """A point in fractions of the region -> the screen pixel it names, clamped to the region.

    With `screen`, the four corner pixels of the screen are avoided (moved one pixel inwards): they are
    pyautogui's fail-safe points, which are kept for the person watching, not for the policy to hit.
    """
    left, top, width, height = region
    fx, fy = (float(v) for v in point)
    fx = 0.0 if not np.isfinite(fx) else fx
    fy = 0.0 if not np.isfinite(fy) else fy
    x = left + min(width - 1, max(0, int(np.floor(fx * width))))
    y = top + min(height - 1, max(0, int(np.floor(fy * height))))
    return (x, y) if screen is None else off_corner(x, y, screen)


def off_corner(x: int, y: int, screen: Region) -> tuple[int, int]:
    """A screen pixel, moved one pixel inwards along x if it is one of the screen's four corners.

    A region at least 2 pixels wide that holds a corner also holds its neighbour, so the pixel stays in it.
    """
    sl, st, sw, sh = screen
    if x in (sl, sl + sw - 1) and y in (st, st + sh - 1):
        x += 1 if x == sl else -1
    return x, y


def drag_path(start: tuple[int, int], end: tuple[int, int], screen: Region, steps: int = DRAG_STEPS) -> list:
    """The `steps` pixels a drag moves through after pressing at `start`: evenly along the segment, the last
    one `end`, each kept off the screen's corners like every other point (a straight drag from (1, 0) to
    (0, 1) passes the corner (0, 0) halfway). Integer arithmetic: the pixels lie in the segment's bounding
    box, so in any region that holds both ends."""
    (x, y), (ex, ey) = start, end
    return [off_corner(x + (ex - x) * k // steps, y + (ey - y) * k // steps, screen) for k in range(1, steps + 1)]


def release_button(pyautogui) -> None:
    """Release the primary button where the pointer is, with the fail-safe check off for this call only.

    The release must happen even when the fail-safe has just fired (the pointer in a corner), or the button
    stays down and the person's next mouse move becomes a drag; the exception that fired still propagates.
    """
    failsafe = pyautogui.FAILSAFE
    pyautogui.FAILSAFE = False
    try:
        pyautogui.mouseUp(_pause=False)  # the button mouseDown presses by default; no point: the pointer stays put
    finally:
        pyautogui.FAILSAFE = failsafe


def to_fraction(x: float, y: float, region: Region) -> tuple[float, float]:
    """A screen pixel -> the fractions of the region at its centre (the inverse of `to_pixel`)."""
    left, top, width, height = region
    fx = (float(x) - left + 0.5) / width
    fy = (float(y) - top + 0.5) / height
    return float(np.clip(fx, 0.0, 1.0)), float(np.clip(fy, 0.0, 1.0))


class Screen:
    """Captures one region of the display; `grab()` at full resolution, `observe(size)` resized.

    Args:
        region: `(left, top, width, height)`, or None for a whole monitor.
        monitor: mss monitor index when `region` is None (1 = the first monitor, 0 = all of them).
    """

    def __init__(self, region: Sequence[int] | None = None, monitor: int = 1):
        self._mss = open_mss()
        monitors = self._mss.monitors
        everything = monitors[0]
        self.bounds: Region = (everything["left"], everything["top"], everything["width"], everything["height"])
        if region is None:
            if not 0 <= monitor < len(monitors):
                raise ValueError(f"monitor {monitor} does not exist; this display has monitors 0..{len(monitors) - 1}")
            m = monitors[monitor]
            region = (m["left"], m["top"], m["width"], m["height"])
        self.region = check_region(region, self.bounds)

    def set_region(self, region: Sequence[int]) -> None:
        self.region = check_region(region, self.bounds)

    def grab(self) -> np.ndarray:
        """The region as an (H, W, 3) uint8 RGB array."""
        return np.array(self._image())

    def observe(self, size: int) -> np.ndarray:
        """The region resized to (size, size, 3) uint8, as observations show it."""
        return resize(self._image(), size)

    def _image(self):
        from PIL import Image

        left, top, width, height = self.region
        shot = self._mss.grab({"left": left, "top": top, "width": width, "height": height})
        return Image.frombuffer("RGB", shot.size, shot.bgra, "raw", "BGRX", 0, 1)

    def close(self) -> None:
        if self._mss is not None:
            self._mss.close()
            self._mss = None


def resize(image, size: int) -> np.ndarray:
    """An RGB frame (PIL image or array) -> a (size, size, 3) uint8 array, as observations show it."""
    from PIL import Image

    if isinstance(image, np.ndarray):
        image = Image.fromarray(image)
    if image.size != (size, size):
        # reducing_gap: a box reduction first, then bilinear; close to antialiased and several times faster.
        image = image.resize((size, size), Image.Resampling.BILINEAR, reducing_gap=2.0)
    return np.array(image)


def perform(action: dict[str, Any], region: Region, screen: Region, pyautogui) -> list[tuple[int, int]]:
    """Perform a validated action with pyautogui; returns the screen pixels it used (press, release).

    Mouse actions happen at `point` (the drag ends at `end_point`); scroll turns the wheel by the
    rounded number of notches, positive down; `type` writes the text where the keyboard focus is;
    `hotkey` presses the combination (modifiers down in order, released in reverse).
    """
    kind = ACTION_TYPES[int(action["type"])]
    x, y = to_pixel(action["point"], region, screen)
    if kind == "click":
        pyautogui.click(x, y, _pause=False)
    elif kind == "double_click":
        pyautogui.click(x, y, clicks=2, interval=0.0, _pause=False)
    elif kind == "right_click":
        pyautogui.click(x, y, button="right", _pause=False)
    elif kind == "drag":
        ex, ey = to_pixel(action["end_point"], region, screen)
        pyautogui.moveTo(x, y, _pause=False)
        pyautogui.mouseDown(x, y, _pause=False)
        try:
            for px, py in drag_path((x, y), (ex, ey), screen):
                pyautogui.moveTo(px, py, _pause=False)
                time.sleep(0.002)  # let the app see separate motion events
        finally:
            release_button(pyautogui)  # at (ex, ey) after the last move; wherever the pointer is otherwise
        return [(x, y), (ex, ey)]
    elif kind == "scroll":
        notches = int(round(float(np.asarray(action["scroll"]).reshape(-1)[0])))
        pyautogui.moveTo(x, y, _pause=False)
        if notches:
            pyautogui.scroll(-notches, _pause=False)  # pyautogui: positive scrolls up; ours: down
    elif kind == "type":
        pyautogui.write(action["text"], interval=0.0, _pause=False)
        return []
    else:  # hotkey
        pyautogui.hotkey(*HOTKEYS[int(action["hotkey"])].split("+"), interval=0.0, _pause=False)
        return []
    return [(x, y)]
