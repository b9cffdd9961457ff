"""MinVLA-Desktop-v0 on a real X server (Xvfb): real Tk widgets, real mss captures, real pyautogui input."""

from __future__ import annotations

import gc
import subprocess
import sys
import time

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import minvla_gym  # noqa: F401 - registers the ids
from minvla_gym.actions import make_action
from minvla_gym.envs.desktop import DesktopEnv, NoDisplayError
from minvla_gym.envs.desktop.screen import to_fraction, to_pixel

tk = pytest.importorskip("tkinter")


def pump(root, seconds: float = 0.1) -> None:
    """Let Tk handle the X events that pyautogui sent (and repaint)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        root.update()
        time.sleep(0.005)


class Board:
    """A Tk window whose widgets log every event they get, at 400x300+40+40."""

    def __init__(self):
        self.root = root = tk.Tk()
        root.geometry("400x300+40+40")
        self.log: list[tuple] = []

        def logger(name):
            return lambda e: self.log.append((name, e.x_root, e.y_root))

        self.button = tk.Button(root, text="click me", command=lambda: self.log.append(("command",)))
        self.button.place(x=10, y=10, width=100, height=40)
        self.double = tk.Label(root, text="double", relief="raised")
        self.double.place(x=120, y=10, width=100, height=40)
        self.double.bind("<Double-Button-1>", logger("double"))
        self.right = tk.Label(root, text="right", relief="raised")
        self.right.place(x=230, y=10, width=100, height=40)
        self.right.bind("<Button-3>", logger("right"))
        self.canvas = tk.Canvas(root, bg="white")
        self.canvas.place(x=10, y=60, width=380, height=80)
        for name in ("ButtonPress-1", "B1-Motion", "ButtonRelease-1"):
            self.canvas.bind(f"<{name}>", logger(name))
        self.listbox = tk.Listbox(root)
        self.listbox.insert("end", *(f"item {i}" for i in range(60)))
        self.listbox.place(x=10, y=150, width=180, height=100)
        self.entry = tk.Entry(root)
        self.entry.place(x=200, y=150, width=190, height=30)
        root.bind("<Control-s>", lambda e: self.log.append(("ctrl+s",)))
        self.entry.bind("<Return>", lambda e: self.log.append(("enter",)))
        pump(root, 0.2)
        root.focus_force()
        pump(root, 0.1)

    @property
    def region(self):
        r = self.root
        return (r.winfo_rootx(), r.winfo_rooty(), r.winfo_width(), r.winfo_height())

    def at(self, widget, dx: int = 0, dy: int = 0) -> tuple[float, float]:
        """Fractions of the region at a widget's centre (+ an offset in pixels)."""
        x = widget.winfo_rootx() + widget.winfo_width() // 2 + dx
        y = widget.winfo_rooty() + widget.winfo_height() // 2 + dy
        return to_fraction(x, y, self.region)

    def names(self):
        return [entry[0] for entry in self.log]


@pytest.fixture
def board(display):
    b = Board()
    yield b
    b.root.destroy()
    del b
    # Free the Tcl interpreter here, in the main thread: if a later garbage collection ran in another
    # thread (the recorder's, pynput's), Tcl would abort the process ("async handler deleted by the wrong thread").
    gc.collect()


def test_every_action_lands_on_a_real_widget(board):
    env = DesktopEnv(instruction="exercise the widgets", region=board.region, settle=0.0)
    try:
        obs, info = env.reset()
        assert obs["image"].shape == (224, 224, 3) and info["instruction"] == "exercise the widgets"

        def step(action, seconds=0.15):
            board.log.clear()
            _, reward, terminated, truncated, info = env.step(action)
            pump(board.root, seconds)
            assert (reward, terminated, truncated, info["is_success"], info["elements"]) == (
                0.0,
                False,
                False,
                False,
                [],
            )
            return info

        info = step(make_action("click", point=board.at(board.button)))
        assert board.names() == ["command"]
        x, y = info["pixels"][0]
        assert (x, y) == to_pixel(board.at(board.button), board.region)

        step(make_action("double_click", point=board.at(board.double)))
        assert board.log == [("double", *to_pixel(board.at(board.double), board.region))]

        step(make_action("right_click", point=board.at(board.right)))
        assert board.log == [("right", *to_pixel(board.at(board.right), board.region))]

        start, end = board.at(board.canvas, -150, -20), board.at(board.canvas, 160, 25)
        step(make_action("drag", point=start, end_point=end))
        names = board.names()
        assert names[0] == "ButtonPress-1" and names[-1] == "ButtonRelease-1" and "B1-Motion" in names
        assert board.log[0][1:] == to_pixel(start, board.region) and board.log[-1][1:] == to_pixel(end, board.region)

        step(make_action("scroll", point=board.at(board.listbox), scroll=3))  # Tk scrolls 5 lines a notch
        assert board.listbox.nearest(0) == 15
        step(make_action("scroll", point=board.at(board.listbox), scroll=-2))
        assert board.listbox.nearest(0) == 5

        step(make_action("click", point=board.at(board.entry)))
        step(make_action("type", text="Hello, World 42!"))
        assert board.entry.get() == "Hello, World 42!"

        step(make_action("hotkey", hotkey="enter"))
        assert board.names() == ["enter"]
        step(make_action("hotkey", hotkey="ctrl+s"))
        assert board.names() == ["ctrl+s"]
    finally:
        env.close()


def test_dry_run_performs_nothing(board):
    import pyautogui

    pyautogui.moveTo(700, 500, _pause=False)
    env = DesktopEnv(instruction="look only", region=board.region, dry_run=True, settle=0.0)
    try:
        before, _ = env.reset()
        for action in (
            make_action("click", point=board.at(board.button)),
            make_action("double_click", point=board.at(board.double)),
            make_action("right_click", point=board.at(board.right)),
            make_action("drag", point=board.at(board.canvas), end_point=board.at(board.canvas, 50)),
            make_action("scroll", point=board.at(board.listbox), scroll=5),
            make_action("type", text="nothing"),
            make_action("hotkey", hotkey="ctrl+s"),
        ):
            obs, *_ = env.step(action)
            pump(board.root, 0.05)
        assert board.log == [] and board.entry.get() == "" and board.listbox.nearest(0) == 0
        assert tuple(pyautogui.position()) == (700, 500)
        assert obs["image"].shape == (224, 224, 3) and np.array_equal(obs["image"], before["image"])
    finally:
        env.close()


GREEN_APP = """
import tkinter as tk
root = tk.Tk()
root.geometry("200x100+500+400")
tk.Button(root, text="go", command=lambda: root.configure(bg="#00ff00")).place(x=10, y=10, width=80, height=30)
root.after(100, lambda: print("ready", flush=True))
root.mainloop()
"""


def test_the_check_ends_the_episode_on_success(display):
    # Another process's window, so it repaints while the env waits; the check reads the real screenshot.
    app = subprocess.Popen([sys.executable, "-c", GREEN_APP], stdout=subprocess.PIPE, text=True)
    try:
        assert app.stdout.readline().strip() == "ready"
        seen = []
        env = DesktopEnv(instruction="click go", region=(500, 400, 200, 100), settle=0.2,
                         check=lambda frame: seen.append(frame.shape) or tuple(frame[-2, -2]) == (0, 255, 0))  # fmt: skip
        try:
            env.reset()
            _, reward, terminated, _, info = env.step(make_action("click", point=to_fraction(600, 430, env.region)))
            assert (reward, terminated, info["is_success"]) == (0.0, False, False)  # missed the button
            _, reward, terminated, _, info = env.step(make_action("click", point=to_fraction(550, 425, env.region)))
            assert (reward, terminated, info["is_success"]) == (1.0, True, True)
            assert seen == [(100, 200, 3)] * 2  # full-resolution frames of the region
        finally:
            env.close()
    finally:
        app.kill()
        app.wait()
        app.stdout.close()


def test_gym_make_and_spaces(display):
    env = gym.make("MinVLA-Desktop-v0", instruction="hello", dry_run=True, settle=0.0, size=64)
    try:
        assert env.spec.nondeterministic and env.spec.max_episode_steps == 20
        obs, info = env.reset(seed=1, options={"instruction": "type hello"})
        assert env.observation_space.contains(obs) and info["instruction"] == "type hello"
        assert env.unwrapped.region == (0, 0, 800, 600)
        obs, *_ = env.step(env.action_space.sample())
        assert env.observation_space.contains(obs)
        with pytest.warns(UserWarning, match="render_mode"):
            assert env.render() is None
    finally:
        env.close()
    env = DesktopEnv(region=(100, 50, 300, 200), dry_run=True, render_mode="rgb_array")
    try:
        env.reset()
        assert env.render().shape == (200, 300, 3)
    finally:
        env.close()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    point=st.tuples(st.floats(0, 1), st.floats(0, 1)),
    region=st.tuples(st.integers(0, 700), st.integers(0, 500), st.integers(2, 800), st.integers(2, 600)),
)
def test_points_never_leave_the_region(point, region):
    left, top, width, height = region
    x, y = to_pixel(point, region, screen=(0, 0, 800, 600))
    assert left <= x < left + width and top <= y < top + height
    if width > 2:  # the screen's corners are pyautogui's fail-safe: never the policy's to hit
        assert (x, y) not in ((0, 0), (799, 0), (0, 599), (799, 599))
    # Fractions -> pixel -> fraction -> the same pixel: the recorder's inverse mapping is exact.
    pixel = to_pixel(point, region)
    assert to_pixel(to_fraction(*pixel, region), region) == pixel


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_env_actions_never_leave_the_region(display, data):
    region = data.draw(st.sampled_from([(0, 0, 800, 600), (0, 0, 37, 23), (763, 577, 37, 23), (200, 100, 401, 199)]))
    env = DesktopEnv(region=region, dry_run=True, settle=0.0, size=32)
    try:
        env.action_space.seed(data.draw(st.integers(0, 2**31)))
        env.reset()
        for _ in range(5):
            action = env.action_space.sample()
            action["point"] = np.array(data.draw(st.tuples(st.floats(0, 1), st.floats(0, 1))), np.float32)
            *_, info = env.step(action)
            for x, y in info["pixels"]:
                left, top, width, height = region
                assert left <= x < left + width and top <= y < top + height
                assert (x, y) not in ((0, 0), (799, 0), (0, 599), (799, 599))
    finally:
        env.close()


def test_no_display_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    with pytest.raises(NoDisplayError, match="no display: set DISPLAY or start Xvfb"):
        DesktopEnv(instruction="anything")
    with pytest.raises(NoDisplayError, match="no display"):
        gym.make("MinVLA-DesktopSuite-v0")
    monkeypatch.setenv("DISPLAY", ":987")  # no server there
    with pytest.raises(NoDisplayError, match="cannot open ':987'"):
        DesktopEnv()


def test_bad_arguments(display):
    with pytest.raises(ValueError, match="off-screen"):
        DesktopEnv(region=(700, 500, 200, 200))
    with pytest.raises(ValueError, match="4 ints"):
        DesktopEnv(region=(0, 0, 100))
    with pytest.raises(ValueError, match="monitor 5 does not exist"):
        DesktopEnv(monitor=5)
    with pytest.raises(ValueError, match="longer than"):
        DesktopEnv(instruction="x" * 200)
    env = DesktopEnv(dry_run=True)
    try:
        env.reset()
        with pytest.raises(ValueError, match="point"):
            env.step({"type": "click", "point": (1.5, 0.2)})
        with pytest.raises(ValueError, match="task_source='suite'"):
            env.expert_action()
    finally:
        env.close()


def test_an_instruction_that_is_not_text_is_a_value_error(display):
    with pytest.raises(ValueError, match="instruction must be a str, got int"):
        DesktopEnv(instruction=5, dry_run=True)
    with pytest.raises(ValueError, match="lone surrogate"):
        DesktopEnv(instruction="open \udce9t\udce9.txt", dry_run=True)  # an undecodable file name, via os.fsdecode
    env = DesktopEnv(dry_run=True)
    try:
        with pytest.raises(ValueError, match=r"options\['instruction'\] must be a str, got bytes"):
            env.reset(options={"instruction": b"click"})
        with pytest.raises(ValueError, match="lone surrogate"):
            env.reset(options={"instruction": "\ud800"})
    finally:
        env.close()
