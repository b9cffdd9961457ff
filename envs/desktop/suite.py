"""The real-window task suite: a Tk app in its own process, and `TaskSuite`, the env's handle on it.

The app shows one task at a time (an instruction bar above real widgets: buttons, icons, fields,
lists, menus, sliders) and answers requests on its stdin, one JSON object a line, on stdout:

    {"cmd": "reset", "seed": S, "family": F}  -> {"instruction": ..., "task": F, "region": [l, t, w, h]}
    {"cmd": "activate"}                      -> {"ok": true}          raise the window, take the keyboard focus
    {"cmd": "status"}                        -> {"outcome": "continue" | "success" | "failure"}
    {"cmd": "expert"}                        -> {"action": {...}}     the next action, points as fractions
    {"cmd": "quit"}                          -> {"ok": true}, then the app exits

Every request first lets Tk process all pending X events (`update()` syncs with the server), so a
status read after an action that pyautogui has already sent sees that action's effect. The app also
exits when its stdin closes, so it never outlives the env that started it.

Run `python -m minvla_gym.envs.desktop.suite --picture docs/desktop_suite.png` for a picture of every family.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import subprocess
import sys
import time
from typing import Any

import numpy as np

from minvla_gym.actions import make_action
from minvla_gym.envs.desktop.screen import require_display, to_fraction

FAMILY_NAMES = ("Click", "Icon", "DoubleClick", "RightClick", "Menu", "Drag", "Slider", "Scroll", "Type", "Hotkey")
MAX_STEPS = 10  # the expert needs at most 5 (Scroll: up to 4 scrolls and a click)


class SuiteError(RuntimeError):
    """The task-suite app failed to start, answered with an error, or died."""


# ---------------------------------------------------------------- the app (its own process)


class SuiteApp:
    def __init__(self, width: int, height: int, x: int, y: int):
        import tkinter as tk

        self.tk = tk
        self.root = tk.Tk(className="minvla-suite")
        self.root.title("minVLA task suite")
        self.root.geometry(f"{width}x{height}+{x}+{y}")
        self.root.resizable(False, False)
        self.root.protocol("WM_DELETE_WINDOW", lambda: None)  # closed by the env, not by a stray click
        self.header = tk.Label(self.root, anchor="w", justify="left", padx=8, pady=6, wraplength=width - 16)
        self.header.pack(fill="x")
        self.area = tk.Frame(self.root)
        self.area.pack(fill="both", expand=True)
        self.task = None
        self._buffer = b""
        self.root.tk.createfilehandler(sys.stdin, tk.READABLE, self._readable)
        self.root.update()

    @property
    def region(self) -> list[int]:
        r = self.root
        return [r.winfo_rootx(), r.winfo_rooty(), r.winfo_width(), r.winfo_height()]

    def reset(self, seed: int, family: str) -> dict[str, Any]:
        from minvla_gym.envs.desktop.suite_tasks import FAMILIES, THEMES

        if family not in FAMILIES:
            raise ValueError(f"unknown family {family!r}; expected one of {list(FAMILIES)}")
        rng = np.random.default_rng(seed)
        if self.task is not None:
            self.task.close()
        for child in self.area.winfo_children():
            child.destroy()
        self.theme = THEMES[int(rng.integers(len(THEMES)))]
        self.font = ("DejaVu Sans", int(rng.integers(11, 15)))
        for widget in (self.root, self.area):
            widget.configure(bg=self.theme["bg"])
        self.root.update_idletasks()
        self.area_width, self.area_height = self.area.winfo_width(), self.area.winfo_height()
        self.task = FAMILIES[family](self, rng)
        self.header.configure(text=self.task.instruction, font=(self.font[0], self.font[1], "bold"),
                              bg=self.theme["control"], fg=self.theme["fg"])  # fmt: skip
        self.activate()
        return {"instruction": self.task.instruction, "task": family, "region": self.region}

    def activate(self) -> dict[str, Any]:
        self.root.lift()
        (self.root.focus_lastfor() or self.root).focus_force()
        self.root.update()
        return {"ok": True}

    def expert(self) -> dict[str, Any]:
        action = dict(self.task.expert())
        for key in ("point", "end_point"):
            if key in action:
                action[key] = to_fraction(*action[key], self.region)
        return {"action": action}

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        cmd = request.get("cmd")
        self.root.update()  # every X event sent before this request is handled first
        if cmd == "reset":
            return self.reset(int(request["seed"]), str(request["family"]))
        if cmd == "activate":
            return self.activate()
        if self.task is None:
            raise ValueError(f"{cmd!r} before the first reset")
        if cmd == "status":
            return {"outcome": self.task.outcome()}
        if cmd == "expert":
            return self.expert()
        raise ValueError(f"unknown command {cmd!r}")

    def _readable(self, *_) -> None:
        chunk = os.read(sys.stdin.fileno(), 65536)
        if not chunk:  # the env is gone
            self.root.destroy()
            return
        self._buffer += chunk
        while b"\n" in self._buffer:
            line, self._buffer = self._buffer.split(b"\n", 1)
            request = json.loads(line)
            if request.get("cmd") == "quit":
                self._reply({"ok": True})
                self.root.destroy()
                return
            try:
                reply = self.handle(request)
            except Exception as error:  # reported to the env, which raises SuiteError
                reply = {"error": f"{type(error).__name__}: {error}"}
            self._reply(reply)

    @staticmethod
    def _reply(message: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()


def serve(width: int, height: int, x: int, y: int) -> None:
    app = SuiteApp(width, height, x, y)
    SuiteApp._reply({"ready": True, "region": app.region})
    app.root.mainloop()


# ---------------------------------------------------------------- the env's side


class TaskSuite:
    """Starts the suite app on the current display and talks to it; a task source for DesktopEnv.

    Args:
        families: the families to draw from (default all ten).
        size: the window's (width, height) in pixels.
        position: its top-left corner on the screen (a window manager may move it; the region follows).
        timeout: seconds to wait for any answer.
    """

    def __init__(self, families=None, size=(448, 448), position=(16, 16), timeout: float = 20.0):
        self.families = tuple(FAMILY_NAMES if families is None else families)
        unknown = [f for f in self.families if f not in FAMILY_NAMES]
        if unknown or not self.families:
            raise ValueError(f"unknown suite families {unknown or self.families}; expected some of {FAMILY_NAMES}")
        require_display()
        self.timeout = timeout
        (width, height), (x, y) = size, position
        self._process = subprocess.Popen(
            [sys.executable, "-m", "minvla_gym.envs.desktop.suite", "--serve",
             "--size", f"{width}x{height}", "--position", f"{x},{y}"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        )  # fmt: skip
        self._buffer = b""
        try:
            self.region = tuple(self._receive()["region"])
        except BaseException:
            self.close()
            raise

    def reset(self, seed: int, family: str) -> tuple[str, tuple[int, int, int, int]]:
        """Show a new task; returns its instruction and the window's region."""
        reply = self.request("reset", seed=int(seed), family=family)
        self.region = tuple(reply["region"])
        return reply["instruction"], self.region

    def activate(self) -> None:
        self.request("activate")

    def status(self) -> str:
        return self.request("status")["outcome"]

    def expert(self) -> dict[str, Any]:
        return make_action(**self.request("expert")["action"])

    def request(self, cmd: str, **fields) -> dict[str, Any]:
        if self._process is None or self._process.poll() is not None:
            raise SuiteError("the task-suite app is not running (closed, or it died)")
        try:
            self._process.stdin.write((json.dumps({"cmd": cmd, **fields}) + "\n").encode())
            self._process.stdin.flush()
        except BrokenPipeError:
            raise SuiteError("the task-suite app died") from None
        reply = self._receive()
        if "error" in reply:
            raise SuiteError(f"task-suite app: {reply['error']}")
        return reply

    def _receive(self) -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout
        fd = self._process.stdout.fileno()
        while b"\n" not in self._buffer:
            ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
            chunk = os.read(fd, 65536) if ready else None
            if not chunk:
                code = self._process.poll()
                why = f"exited with code {code}" if code is not None else f"no answer within {self.timeout} s"
                raise SuiteError(f"the task-suite app {why} (its errors are on stderr)")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return json.loads(line)

    def close(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        try:
            if process.poll() is None:
                process.stdin.write(b'{"cmd": "quit"}\n')
                process.stdin.flush()
                process.wait(3)
        except (BrokenPipeError, subprocess.TimeoutExpired):
            process.kill()
            process.wait()
        finally:
            for stream in (process.stdin, process.stdout):
                try:
                    stream.close()
                except BrokenPipeError:
                    pass


def picture(path: str, families=FAMILY_NAMES, seed: int = 3, columns: int = 5) -> None:
    """Save a contact sheet of the suite: one task of each family, two-step tasks after the expert's first step."""
    from PIL import Image

    from minvla_gym.envs.desktop.env import DesktopEnv

    env = DesktopEnv(task_source="suite", settle=0.05)
    tiles = []
    try:
        for i, family in enumerate(families):
            env.reset(seed=seed + i, options={"task": family})
            if family in ("RightClick", "Menu", "Type"):
                env.step(env.expert_action())
            tiles.append(Image.fromarray(env.screen.grab()))
    finally:
        env.close()
    w, h = tiles[0].size
    rows = -(-len(tiles) // columns)
    sheet = Image.new("RGB", (columns * w + (columns + 1) * 4, rows * h + (rows + 1) * 4), "white")
    for i, tile in enumerate(tiles):
        sheet.paste(tile, (4 + (i % columns) * (w + 4), 4 + (i // columns) * (h + 4)))
    sheet.save(path, optimize=True)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="The minVLA real-window task suite.")
    parser.add_argument("--serve", action="store_true", help="run the app, answering requests on stdin")
    parser.add_argument("--size", default="448x448", help="window size WxH")
    parser.add_argument("--position", default="16,16", help="window position X,Y")
    parser.add_argument("--picture", metavar="PNG", help="save a picture of one task of each family")
    args = parser.parse_args(argv)
    if args.serve:
        width, height = (int(v) for v in args.size.split("x"))
        x, y = (int(v) for v in args.position.split(","))
        serve(width, height, x, y)
    elif args.picture:
        picture(args.picture)
    else:
        parser.error("give --serve or --picture PNG")


if __name__ == "__main__":
    main()
