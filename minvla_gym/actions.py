"""The one action space that every minVLA-gym env speaks, and its validation.

An action is a dict:

| key         | space               | meaning                                                  |
|-------------|---------------------|----------------------------------------------------------|
| `type`      | Discrete(7)         | index into ACTION_TYPES                                  |
| `point`     | Box(0, 1, (2,))     | x, y as fractions of the screen; every mouse action here |
| `end_point` | Box(0, 1, (2,))     | drag target                                              |
| `scroll`    | Box(-10, 10, (1,))  | wheel notches, positive scrolls down                     |
| `text`      | Text(printable)     | text to type                                             |
| `hotkey`    | Discrete(K)         | index into HOTKEYS                                       |

Fields the type does not use are ignored, but they must still be well formed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from gymnasium import spaces

ACTION_TYPES = ("click", "double_click", "right_click", "drag", "scroll", "type", "hotkey")
CLICK, DOUBLE_CLICK, RIGHT_CLICK, DRAG, SCROLL, TYPE, HOTKEY = range(len(ACTION_TYPES))
MOUSE_PRESSES = (CLICK, DOUBLE_CLICK, RIGHT_CLICK)  # the types that press a button on something

# Key combinations, lower case, "+"-joined in the order modifiers then key (pyautogui's key names).
HOTKEYS = (
    "enter", "escape", "tab", "backspace", "delete", "space",
    "up", "down", "left", "right", "home", "end", "pageup", "pagedown",
    "ctrl+a", "ctrl+c", "ctrl+v", "ctrl+x", "ctrl+s", "ctrl+z", "ctrl+y",
    "ctrl+f", "ctrl+n", "ctrl+o", "ctrl+p", "ctrl+w", "ctrl+t", "ctrl+q",
    "ctrl+shift+z", "alt+tab", "alt+f4", "f1", "f5",
)  # fmt: skip
HOTKEY_INDEX = {combo: i for i, combo in enumerate(HOTKEYS)}

MAX_SCROLL = 10.0
MAX_TEXT_LENGTH = 96  # = MAX_INSTRUCTION_TOKENS: any span of the instruction can be typed
PRINTABLE = frozenset(chr(c) for c in range(32, 127))  # printable ASCII, space included
ACTION_KEYS = ("type", "point", "end_point", "scroll", "text", "hotkey")


class BoundedBox(spaces.Box):
    """A bounded float Box whose `sample()` is one uniform draw (the same distribution as Box's).

    `Box.sample` also serves half- and unbounded intervals, at ~15 numpy calls per sample, and
    `Generator.uniform` with array bounds is slower still; random-action rollouts pay that on every
    step for three Boxes, so the bounded case gets its own path.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.dtype.kind != "f" or not self.is_bounded():
            raise ValueError(f"BoundedBox needs finite float bounds, got {self}")
        self._low = self.low.astype(np.float64)
        self._span = self.high.astype(np.float64) - self._low

    def sample(self, mask=None, probability=None):
        if mask is not None or probability is not None:
            return super().sample(mask, probability)  # Box raises its own error for these
        return (self._span * self.np_random.random(self.shape) + self._low).astype(self.dtype)


class PrintableText(spaces.Text):
    """A Text space whose uniform `sample()` takes one generator call instead of `integers` + `choice`."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._codes = np.frombuffer("".join(self.character_list).encode("ascii"), np.uint8)

    def sample(self, mask=None, probability=None):
        if mask is not None or probability is not None:
            return super().sample(mask, probability)
        # u[0] picks the length uniformly in [min_length, max_length], the rest pick the characters.
        u = self.np_random.random(self.max_length + 1)
        length = self.min_length + int(u[0] * (self.max_length - self.min_length + 1))
        return self._codes[(u[1 : length + 1] * len(self._codes)).astype(np.intp)].tobytes().decode("ascii")


def make_action_space() -> spaces.Dict:
    """The Dict action space shared by every env."""
    return spaces.Dict(
        {
            "type": spaces.Discrete(len(ACTION_TYPES)),
            "point": BoundedBox(0.0, 1.0, (2,), np.float32),
            "end_point": BoundedBox(0.0, 1.0, (2,), np.float32),
            "scroll": BoundedBox(-MAX_SCROLL, MAX_SCROLL, (1,), np.float32),
            "text": PrintableText(MAX_TEXT_LENGTH, min_length=0, charset="".join(sorted(PRINTABLE))),
            "hotkey": spaces.Discrete(len(HOTKEYS)),
        }
    )


def make_action(
    type: int | str,
    point=(0.5, 0.5),
    end_point=(0.5, 0.5),
    scroll: float = 0.0,
    text: str = "",
    hotkey: int | str = 0,
) -> dict[str, Any]:
    """Build a valid action; `type` and `hotkey` may be given by name ("click", "ctrl+s")."""
    return validate_action(
        {"type": type, "point": point, "end_point": end_point, "scroll": [scroll], "text": text, "hotkey": hotkey}
    )


def _index(field: str, value: Any, names: tuple[str, ...]) -> int:
    if type(value) is int or isinstance(value, np.integer):  # bool is an int subclass, np.bool_ is not integer
        index = int(value)
    elif isinstance(value, str):
        if value not in names:
            raise ValueError(f"action[{field!r}]: unknown name {value!r}; expected one of {list(names)}")
        return names.index(value)
    elif isinstance(value, np.ndarray) and value.shape == () and np.issubdtype(value.dtype, np.integer):
        index = int(value)
    else:
        raise ValueError(f"action[{field!r}]: expected an int index or a name, got {type(value).__name__}")
    if not 0 <= index < len(names):
        raise ValueError(f"action[{field!r}]: index {index} out of range [0, {len(names)})")
    return index


def _vector(field: str, value: Any, size: int, low: float, high: float) -> np.ndarray:
    # The common case (sampled, or already validated) needs no conversion, only the range check.
    array = value
    ready = type(value) is np.ndarray and value.dtype == np.float32 and value.shape == (size,)
    if not ready:
        try:
            array = np.asarray(value)
        # Ragged lists, odd objects; RuntimeError: a torch tensor that requires grad (numpy will not detach it).
        except (TypeError, ValueError, OverflowError, RuntimeError) as error:
            raise ValueError(f"action[{field!r}]: cannot be read as numbers ({error})") from None
        # Integers and floats only: numpy would also turn strings, bools and datetimes into floats.
        if array.dtype.kind not in "iuf":
            raise ValueError(f"action[{field!r}]: expected numbers, got {type(value).__name__} of {array.dtype}")
        if array.shape == () and size == 1:
            array = array.reshape(1)
        if array.shape != (size,):
            raise ValueError(f"action[{field!r}]: expected shape ({size},), got {array.shape}")
    # Checked before the cast to float32, so 1e300 is reported here rather than overflowing to inf.
    values = array.tolist()
    if not all(low <= v <= high for v in values):  # plain comparisons catch NaN too: it fails both
        if not all(math.isfinite(v) for v in values):
            raise ValueError(f"action[{field!r}]: contains NaN or infinity: {values}")
        raise ValueError(f"action[{field!r}]: {values} outside [{low}, {high}]")
    # Always a new array: the action never aliases the caller's.
    return array.copy() if ready else array.astype(np.float32)


def validate_text(field: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"action[{field!r}]: expected str, got {type(value).__name__}")
    if len(value) > MAX_TEXT_LENGTH:
        raise ValueError(f"action[{field!r}]: {len(value)} characters, at most {MAX_TEXT_LENGTH}")
    if not (value.isascii() and value.isprintable()):  # = all in PRINTABLE (space is printable), but in C
        bad = sorted(set(value) - PRINTABLE)
        raise ValueError(f"action[{field!r}]: non-printable characters {bad!r} (printable ASCII only)")
    return value


_KEYS = frozenset(ACTION_KEYS)


def validate_action(action: Any) -> dict[str, Any]:
    """Check an action and return it normalised (ints, float32 arrays, str).

    Missing optional fields get defaults; `type` is required. Raises ValueError naming the bad field.
    """
    if not isinstance(action, Mapping):
        raise ValueError(f"action: expected a dict with keys {list(ACTION_KEYS)}, got {type(action).__name__}")
    if not action.keys() <= _KEYS:
        unknown = set(action) - _KEYS
        raise ValueError(f"action: unknown keys {sorted(map(str, unknown))}; allowed {list(ACTION_KEYS)}")
    if "type" not in action:
        raise ValueError("action['type']: missing")
    get = action.get
    return {
        "type": _index("type", action["type"], ACTION_TYPES),
        "point": _vector("point", get("point", (0.5, 0.5)), 2, 0.0, 1.0),
        "end_point": _vector("end_point", get("end_point", (0.5, 0.5)), 2, 0.0, 1.0),
        "scroll": _vector("scroll", get("scroll", (0.0,)), 1, -MAX_SCROLL, MAX_SCROLL),
        "text": validate_text("text", get("text", "")),
        "hotkey": _index("hotkey", get("hotkey", 0), HOTKEYS),
    }


def describe_action(action: Mapping[str, Any]) -> str:
    """A short human-readable form, e.g. `click(0.35, 0.29)`, for logs and drawings."""
    kind = ACTION_TYPES[int(action["type"])]
    x, y = (float(v) for v in action["point"])
    if kind == "drag":
        ex, ey = (float(v) for v in action["end_point"])
        return f"drag({x:.2f}, {y:.2f} -> {ex:.2f}, {ey:.2f})"
    if kind == "scroll":
        return f"scroll({x:.2f}, {y:.2f}, {float(np.asarray(action['scroll']).reshape(-1)[0]):+.0f})"
    if kind == "type":
        return f"type({action['text']!r})"
    if kind == "hotkey":
        return f"hotkey({HOTKEYS[int(action['hotkey'])]})"
    return f"{kind}({x:.2f}, {y:.2f})"


def is_printable(text: str) -> bool:
    return text.isascii() and text.isprintable()  # = every character in PRINTABLE (space is printable)
