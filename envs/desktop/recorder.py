"""The demo recorder: a person's mouse and keyboard, turned into actions of the one space (`minvla record`).

pynput listeners see every input event of the X display (XRecord: a person's, and pyautogui's or
xdotool's too). Events become actions of the one action space:

| events                                             | action                                       |
|----------------------------------------------------|----------------------------------------------|
| left press + release, moved < `drag_threshold` px  | click at the press                           |
| a second click within `double_click_interval` s    | the first click becomes a double_click       |
| right press + release                              | right_click at the press                     |
| left press, move beyond the threshold, release     | drag from the press to the release           |
| wheel notches within `scroll_window` s             | one scroll, summed (positive down), <= 10    |
| printable keys in a row (shift included)           | one `type` action with the text              |
| ctrl/alt + key, or a named key (enter, tab, ...)   | hotkey, if the combination is in HOTKEYS     |

Each action is paired with the screenshot taken just before it: a capture thread keeps the last
second of frames (at `fps`), and an action gets the newest frame grabbed before its first event. An event's
time is the X server's timestamp of it (mapped to our clock once, at `start`), not the time its callback
runs: under load pynput runs callbacks late, and a frame grabbed in between already shows the event's effect.
Events outside the region, and key combinations outside HOTKEYS, are skipped (and counted).

Episodes end on a hotkey: F9 saves the episode as a success, F10 as a failure. Each episode is written
atomically (`minvla_gym.dataset.DatasetWriter`), so a crash, Ctrl+C or SIGKILL loses at most the
episode in progress.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from gymnasium.error import DependencyNotInstalled

from minvla_gym import tokenizer
from minvla_gym.actions import HOTKEY_INDEX, MAX_SCROLL, MAX_TEXT_LENGTH, PRINTABLE, make_action
from minvla_gym.envs.desktop.screen import INSTALL_HINT, Screen, require_display, to_fraction
from minvla_gym.observation import DEFAULT_SIZE

SUCCESS_KEY, FAILURE_KEY = "f9", "f10"
MODIFIERS = {"ctrl": "ctrl", "ctrl_l": "ctrl", "ctrl_r": "ctrl", "alt": "alt", "alt_l": "alt", "alt_r": "alt",
             "alt_gr": "alt", "shift": "shift", "shift_l": "shift", "shift_r": "shift", "cmd": "cmd",
             "cmd_l": "cmd", "cmd_r": "cmd"}  # fmt: skip
NAMED_KEYS = {"space": "space", "enter": "enter", "esc": "escape", "tab": "tab", "backspace": "backspace", "delete": "delete",
              "up": "up", "down": "down", "left": "left", "right": "right", "home": "home", "end": "end",
              "page_up": "pageup", "page_down": "pagedown"}  # fmt: skip
MODIFIER_ORDER = ("ctrl", "shift", "alt")  # as HOTKEYS spell them: "ctrl+shift+z"


def import_pynput():
    require_display()
    try:
        from pynput import keyboard, mouse
    except ImportError:
        raise DependencyNotInstalled(f"pynput is not installed: {INSTALL_HINT}") from None
    return mouse, keyboard


class ServerClock:
    """X server timestamps (milliseconds, 32 bits, wrapping) -> `time.monotonic()` seconds.

    Calibrated by one round trip: change a property of a window of our own and read the server's time
    from the PropertyNotify event it sends back (the ICCCM way to learn the server time).
    """

    def __init__(self, timeout: float = 1.0):
        import Xlib.display
        from Xlib import X, Xatom

        display = Xlib.display.Display()
        try:
            root = display.screen().root
            window = root.create_window(0, 0, 1, 1, 0, X.CopyFromParent, event_mask=X.PropertyChangeMask)
            atom = display.intern_atom("_MINVLA_CLOCK")
            before = time.monotonic()
            window.change_property(atom, Xatom.INTEGER, 32, [0])
            display.flush()
            while True:
                if display.pending_events():
                    event = display.next_event()
                    if event.type == X.PropertyNotify and event.atom == atom:
                        break
                elif time.monotonic() - before > timeout:
                    raise RuntimeError(f"the X server sent no PropertyNotify within {timeout} s")
                else:
                    time.sleep(0.0005)
            after = time.monotonic()
            window.destroy()
        finally:
            display.close()
        self.server_ms, self.local = int(event.time), (before + after) / 2

    def to_local(self, server_ms: int) -> float:
        delta = (int(server_ms) - self.server_ms + 2**31) % 2**32 - 2**31  # the server's clock wraps at 2**32 ms
        return self.local + delta / 1000.0


def with_event_times(listener_class, note):
    """pynput's X listener class, calling `note(event.time)` in the listener's thread before each callback.

    pynput does not pass an event's server time to its callbacks; its X backend (pynput >= 1.8) hands every
    event to `_handle_message`, so a subclass can note it. Other backends are returned as they are.
    """
    if not hasattr(listener_class, "_handle_message"):
        return listener_class

    class TimedListener(listener_class):
        def _handle_message(self, display, event, injected):
            note(getattr(event, "time", None))
            super()._handle_message(display, event, injected)

    return TimedListener


def _wake_x_listeners(listeners) -> None:
    """End pynput's X listener threads now rather than at the next input event.

    pynput disables its XRecord context on the very connection that its thread is blocked reading, so
    the request is only sent when the next event arrives; disabling the context from a connection
    of our own ends the recording at once (any client may disable a context).
    """
    contexts = [context for context in (getattr(lis, "_context", None) for lis in listeners) if context is not None]
    if not contexts:
        return
    try:
        import Xlib.display

        display = Xlib.display.Display()
    except Exception:  # not X (another pynput backend), or the display is gone: nothing to wake
        return
    try:
        for context in contexts:
            display.record_disable_context(context)
        display.sync()
    except Exception:
        pass  # already ended
    finally:
        display.close()


class DemoRecorder:
    """Records demonstrations on the real desktop into a dataset folder, one episode at a time.

    Args:
        out: dataset folder (created, or appended to).
        instruction: the instruction of the episodes (change it with `set_instruction`).
        region: `(left, top, width, height)` to record; default the whole `monitor`.
        monitor: mss monitor index when `region` is None.
        size: observation size of the saved screenshots.
        task: the `task` name saved with each episode.
        fps: screenshots per second of the capture thread.
        double_click_interval, drag_threshold, scroll_window: see the module docstring.
        env_id: the env id written into the dataset's meta.json.

    `start()` begins listening; `end_episode(success)` (or F9/F10) writes the episode; `stop()` ends
    the recording and drops an unfinished episode. `episodes` lists the paths written.
    """

    def __init__(
        self,
        out: str | Path,
        instruction: str = "",
        region: Sequence[int] | None = None,
        monitor: int = 1,
        size: int = DEFAULT_SIZE,
        task: str = "recorded",
        fps: float = 20.0,
        double_click_interval: float = 0.4,
        drag_threshold: int = 4,
        scroll_window: float = 0.5,
        env_id: str = "MinVLA-Desktop-v0",
    ):
        from minvla_gym.dataset import DatasetWriter

        if not fps > 0:
            raise ValueError(f"fps must be positive, got {fps!r}")
        self.screen = Screen(region, monitor)
        self.writer = DatasetWriter(out, env_id=env_id, observation_size=size)
        self.size, self.task, self.fps = size, task, fps
        self.double_click_interval, self.drag_threshold, self.scroll_window = (
            double_click_interval, drag_threshold, scroll_window,
        )  # fmt: skip
        self.set_instruction(instruction)
        self.episodes: list[Path] = []
        self.skipped = 0  # events that made no action (outside the region, unknown combinations)
        self.episode_ended = threading.Event()  # set after each episode is written
        self._lock = threading.RLock()
        self._frames: deque[tuple[float, np.ndarray]] = deque(maxlen=max(2, int(fps)))
        self._steps: list[dict[str, Any]] = []
        self._open: str | None = None  # the kind of the last action, while more events may extend it
        self._last_time = 0.0  # of the last event that extended the last action
        self._press: tuple[str, int, int, float, np.ndarray] | None = None  # button, x, y, time, frame
        self._modifiers: set[str] = set()
        self._listeners: list = []
        self._running = threading.Event()
        self._capture_thread: threading.Thread | None = None
        self._clock: ServerClock | None = None
        self._server_ms = threading.local()  # the server time of the event whose callback runs in this thread

    # ------------------------------------------------------------ public API

    def set_instruction(self, instruction: str) -> None:
        """The instruction of the current episode (and the next ones)."""
        if not isinstance(instruction, str) or not instruction.strip():
            raise ValueError(f"instruction must be a non-empty str, got {instruction!r}")
        self.ids = tokenizer.encode(instruction)  # ValueError if it is too long
        self.instruction = instruction

    def start(self) -> None:
        """Start capturing frames and listening to the mouse and keyboard."""
        mouse, keyboard = import_pynput()
        try:
            self._clock = ServerClock()
        except Exception:  # not an X server we can ask (another pynput backend): callback times, as before
            self._clock = None
        self._running.set()
        self._capture_thread = threading.Thread(target=self._capture, name="recorder-capture", daemon=True)
        self._capture_thread.start()
        while not self._frames:  # the first action needs a frame from before it
            time.sleep(0.005)
        note = lambda ms: setattr(self._server_ms, "value", ms)  # noqa: E731
        self._listeners = [
            with_event_times(mouse.Listener, note)(on_click=self._on_click, on_scroll=self._on_scroll),
            with_event_times(keyboard.Listener, note)(on_press=self._on_press, on_release=self._on_release),
        ]
        for listener in self._listeners:
            listener.start()
        for listener in self._listeners:
            listener.wait()

    def end_episode(self, success: bool) -> Path | None:
        """Write the episode recorded so far (None if it has no action) and start a new one."""
        with self._lock:
            steps, self._steps, self._open, self._press = self._steps, [], None, None
            instruction, ids = self.instruction, self.ids
        if not steps:
            return None
        for step in steps:  # the instruction may have been set while the episode ran
            step["instruction"] = ids
        path = self.writer.write_episode(steps, instruction=instruction, task=self.task, success=success)
        self.episodes.append(path)
        self.episode_ended.set()
        return path

    def stop(self) -> None:
        """Stop listening; an episode not ended with `end_episode` (or F9/F10) is dropped."""
        self._running.clear()
        for listener in self._listeners:
            listener.stop()
        _wake_x_listeners(self._listeners)
        for listener in self._listeners:
            listener.join(2.0)
        self._listeners = []
        if self._capture_thread is not None:
            self._capture_thread.join()
            self._capture_thread = None
        with self._lock:
            self._steps, self._open, self._press = [], None, None
        self.screen.close()

    @property
    def pending_steps(self) -> int:
        """Actions of the episode in progress."""
        return len(self._steps)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    # ------------------------------------------------------------ frames

    def _capture(self) -> None:
        # The capture thread opens its own mss handle: an X connection is not shared between threads.
        screen = Screen(self.screen.region)
        try:
            while self._running.is_set():
                started = time.monotonic()
                frame = screen.observe(self.size)
                self._frames.append((time.monotonic(), frame))  # dated when the grab is done: wholly before then
                time.sleep(max(0.0, 1.0 / self.fps - (time.monotonic() - started)))
        finally:
            screen.close()

    def _frame_before(self, t: float) -> np.ndarray:
        frames = list(self._frames)
        before = [frame for grabbed, frame in frames if grabbed < t]
        return before[-1] if before else frames[0][1]

    def _event_time(self) -> float:
        """When the event whose callback runs now happened: its server time on our clock, else now."""
        now, server_ms = time.monotonic(), getattr(self._server_ms, "value", None)
        if self._clock is None or server_ms is None:
            return now
        return min(now, self._clock.to_local(server_ms))

    # ------------------------------------------------------------ events -> actions

    def _add(self, kind: str, frame: np.ndarray, t: float, **fields) -> None:
        self._steps.append({"image": frame, "instruction": self.ids, "elements": [],
                            "action": make_action(kind, **fields)})  # fmt: skip
        self._open, self._last_time = kind, t

    def _inside(self, x: int, y: int) -> bool:
        left, top, width, height = self.screen.region
        return left <= x < left + width and top <= y < top + height

    def _on_click(self, x, y, button, pressed) -> None:
        t = self._event_time()
        with self._lock:
            name = getattr(button, "name", str(button))
            if name not in ("left", "right"):
                return
            if pressed:
                if self._inside(x, y):
                    self._press = (name, x, y, t, self._frame_before(t))
                else:
                    self.skipped += 1
                return
            if self._press is None or self._press[0] != name:
                return
            _, px, py, pt, frame = self._press
            self._press = None
            point = to_fraction(px, py, self.screen.region)
            if name == "right":
                self._add("right_click", frame, t, point=point)
            elif max(abs(x - px), abs(y - py)) > self.drag_threshold:
                self._add("drag", frame, t, point=point, end_point=to_fraction(x, y, self.screen.region))
            elif self._is_second_click(px, py, pt):
                self._steps[-1]["action"]["type"] = make_action("double_click")["type"]
                self._open = None  # a third click starts a new action
            else:
                self._add("click", frame, t, point=point)
                self._click_at = (px, py)

    def _is_second_click(self, x: int, y: int, t: float) -> bool:
        if self._open != "click" or t - self._last_time > self.double_click_interval:
            return False
        cx, cy = self._click_at
        return max(abs(x - cx), abs(y - cy)) <= self.drag_threshold

    def _on_scroll(self, x, y, dx, dy) -> None:
        t = self._event_time()
        with self._lock:
            if not dy:
                return
            if not self._inside(x, y):
                self.skipped += 1
                return
            notches = -int(dy)  # pynput: dy > 0 is up; ours: positive is down
            if self._open == "scroll" and t - self._last_time <= self.scroll_window:
                action = self._steps[-1]["action"]
                total = float(action["scroll"][0]) + notches
                if abs(total) <= MAX_SCROLL and (total == 0 or np.sign(total) == np.sign(notches)):
                    action["scroll"][0] = total
                    self._last_time = t
                    return
            self._add("scroll", self._frame_before(t), t, point=to_fraction(x, y, self.screen.region), scroll=notches)

    def _on_press(self, key) -> None:
        t = self._event_time()
        name = getattr(key, "name", None)
        char = getattr(key, "char", None)
        with self._lock:
            if name in MODIFIERS:
                self._modifiers.add(MODIFIERS[name])
                return
            held = [m for m in MODIFIER_ORDER if m in self._modifiers]
            if name in (SUCCESS_KEY, FAILURE_KEY) and not held:
                end = name
            else:
                end = None
                self._key(name, char, held, t)
        if end is not None:  # outside the lock: writing takes a moment
            self.end_episode(success=end == SUCCESS_KEY)

    def _key(self, name: str | None, char: str | None, held: list[str], t: float) -> None:
        typing = char is not None and char in PRINTABLE or name == "space"
        if typing and not ({"ctrl", "alt"} & set(held)) and "cmd" not in self._modifiers:
            text = " " if name == "space" else char
            action = self._steps[-1]["action"] if self._open == "type" else None
            if action is not None and len(action["text"]) < MAX_TEXT_LENGTH:
                action["text"] += text
                self._last_time = t
            else:
                self._add("type", self._frame_before(t), t, text=text)
            return
        key = NAMED_KEYS.get(name) or (name if name and name[0] == "f" and name[1:].isdigit() else None)
        key = key or (char.lower() if char else None)
        combo = "+".join([*held, key]) if key else None
        if combo in HOTKEY_INDEX:
            self._add("hotkey", self._frame_before(t), t, hotkey=combo)
            self._open = None
        else:
            self.skipped += 1

    def _on_release(self, key) -> None:
        name = getattr(key, "name", None)
        if name in MODIFIERS:
            with self._lock:
                self._modifiers.discard(MODIFIERS[name])


# ---------------------------------------------------------------- command line


def configure_cli(parser) -> None:
    """`minvla record --out DIR --instruction TEXT [--region L,T,W,H] ...`."""
    parser.add_argument("--out", default="data/recorded", help="dataset folder to write (appends to an existing one)")
    text = parser.add_mutually_exclusive_group(required=True)
    text.add_argument("--instruction", help="the instruction of every episode")
    text.add_argument("--instructions", metavar="FILE", help="one instruction a line, one episode each, in order")
    parser.add_argument("--region", help="LEFT,TOP,WIDTH,HEIGHT to record (default: the whole monitor)")
    parser.add_argument("--monitor", type=int, default=1, help="mss monitor index")
    parser.add_argument("--size", type=int, default=DEFAULT_SIZE, help="observation size of the screenshots")
    parser.add_argument("--task", default="recorded", help="task name saved with each episode")
    parser.add_argument("--episodes", type=int, default=0, help="stop after N episodes (0: until Ctrl+C)")
    parser.add_argument("--fps", type=float, default=20.0, help="screenshots per second of the capture thread")
    parser.set_defaults(func=_main)


def parse_region(text: str | None) -> tuple[int, int, int, int] | None:
    if text is None:
        return None
    try:
        left, top, width, height = (int(v) for v in text.split(","))
    except ValueError:
        raise ValueError(f"--region must be LEFT,TOP,WIDTH,HEIGHT in pixels, got {text!r}") from None
    return left, top, width, height


def _main(args) -> int:
    if args.episodes < 0 or args.fps <= 0 or args.size < 1:
        raise ValueError(f"--episodes must be >= 0, --fps and --size > 0; got {args.episodes}, {args.fps}, {args.size}")
    try:
        if args.instructions:
            instructions = [line.strip() for line in Path(args.instructions).read_text().splitlines() if line.strip()]
            if not instructions:
                raise ValueError(f"{args.instructions}: no instructions in it")
        else:
            instructions = [args.instruction]
        limit = args.episodes or (len(instructions) if args.instructions else 0)
        recorder = DemoRecorder(args.out, instructions[0], parse_region(args.region), args.monitor, args.size,
                                args.task, args.fps)  # fmt: skip
    except RuntimeError as error:  # no display: bad input as much as a bad flag is
        raise ValueError(str(error)) from None
    recorder.start()
    print(f"recording {recorder.screen.region} into {args.out}: do the task, then press "
          f"{SUCCESS_KEY.upper()} (success) or {FAILURE_KEY.upper()} (failure) to save the episode; "
          "Ctrl+C here stops (the unfinished episode is dropped).", flush=True)  # fmt: skip
    print(f"episode 1: {recorder.instruction}", flush=True)
    try:
        while not limit or len(recorder.episodes) < limit:
            recorder.episode_ended.wait()
            recorder.episode_ended.clear()
            done = len(recorder.episodes)
            print(f"saved {recorder.episodes[-1]}", flush=True)
            if limit and done >= limit:
                break
            recorder.set_instruction(instructions[done % len(instructions)])
            print(f"episode {done + 1}: {recorder.instruction}", flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        recorder.stop()
    print(f"{len(recorder.episodes)} episode(s) written to {args.out} ({recorder.skipped} events skipped)")
    return 0
