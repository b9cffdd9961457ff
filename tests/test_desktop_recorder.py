"""The demo recorder on a real X server: real input (pyautogui, xdotool) back as actions, with screenshots."""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from minvla_gym.actions import ACTION_TYPES, HOTKEYS, describe_action, make_action
from minvla_gym.cli import main as minvla
from minvla_gym.dataset import DemoDataset
from minvla_gym.envs.desktop import DesktopEnv
from minvla_gym.envs.desktop.recorder import DemoRecorder
from minvla_gym.envs.desktop.screen import to_fraction, to_pixel

pytest.importorskip("tkinter")


CHAMELEON = """
import tkinter as tk
root = tk.Tk()
root.geometry("400x300+40+40")
colours = (f"#{(i * 53) % 256:02x}{(i * 97) % 256:02x}{(i * 151) % 256:02x}" for i in range(10**6))
root.configure(bg=next(colours))
root.bind_all("<ButtonRelease>", lambda e: root.configure(bg=next(colours)))
root.bind_all("<KeyRelease>", lambda e: root.configure(bg=next(colours)))
root.after(200, lambda: (root.focus_force(), print("ready", flush=True)))
root.mainloop()
"""


@pytest.fixture
def chameleon(display):
    """A window (in its own process) that changes colour on every button or key release: screenshots are dated."""
    app = subprocess.Popen([sys.executable, "-c", CHAMELEON], stdout=subprocess.PIPE, text=True)
    try:
        assert app.stdout.readline().strip() == "ready"
        time.sleep(0.2)
        yield (40, 40, 400, 300)
    finally:
        app.kill()
        app.wait()
        app.stdout.close()


def test_round_trip_pyautogui_actions_come_back_with_their_screenshots(chameleon, tmp_path):
    region = chameleon
    at = lambda x, y: to_fraction(region[0] + x, region[1] + y, region)  # noqa: E731 - window pixels -> fractions
    actions = [
        make_action("click", point=at(50, 40)),
        make_action("click", point=at(50, 40)),  # the same spot, later than the double-click interval
        make_action("double_click", point=at(200, 100)),
        make_action("right_click", point=at(390, 290)),
        make_action("drag", point=at(10, 250), end_point=at(300, 20)),
        make_action("scroll", point=at(150, 150), scroll=3),
        make_action("scroll", point=at(160, 150), scroll=-2),
        make_action("type", text="Hello, World! (42)"),
        make_action("hotkey", hotkey="ctrl+s"),
        make_action("hotkey", hotkey="enter"),
        make_action("hotkey", hotkey="ctrl+shift+z"),
        make_action("click", point=at(0, 0)),
    ]
    recorder = DemoRecorder(tmp_path / "demos", "round trip", region=region, size=64, fps=30,
                            double_click_interval=0.3, scroll_window=0.2)  # fmt: skip
    env = DesktopEnv(region=region, settle=0.0, size=64)
    before = []  # the screen just before each action, as the env sees it
    try:
        recorder.start()
        env.reset()
        for action in actions:
            time.sleep(0.4)  # longer than the double-click interval and the scroll window
            before.append(env.screen.observe(64))
            env.step(action)
        time.sleep(0.4)
        after = env.screen.observe(64)
    finally:
        env.close()
    import pyautogui

    pyautogui.click(700, 500, _pause=False)  # outside the region: skipped
    time.sleep(0.3)
    recorder.end_episode(success=True)
    recorder.stop()

    episode = DemoDataset(tmp_path / "demos").load_episode(0)
    recorded = [
        make_action(
            int(episode["action"]["type"][t]),
            point=episode["action"]["point"][t],
            end_point=episode["action"]["end_point"][t],
            scroll=float(episode["action"]["scroll"][t][0]),
            text=str(episode["action"]["text"][t]),
            hotkey=int(episode["action"]["hotkey"][t]),
        )
        for t in range(len(episode["image"]))
    ]
    assert [describe_action(a) for a in recorded] == [describe_action(a) for a in actions]
    for original, back in zip(actions, recorded, strict=True):
        kind = ACTION_TYPES[original["type"]]
        if kind in ("click", "double_click", "right_click", "drag", "scroll"):
            assert np.abs(np.subtract(to_pixel(back["point"], region), to_pixel(original["point"], region))).max() <= 1
        if kind == "drag":
            assert (
                np.abs(np.subtract(to_pixel(back["end_point"], region), to_pixel(original["end_point"], region))).max()
                <= 1
            )
        if kind == "scroll":
            assert back["scroll"][0] == original["scroll"][0]
        if kind == "type":
            assert back["text"] == original["text"]
        if kind == "hotkey":
            assert HOTKEYS[back["hotkey"]] == HOTKEYS[original["hotkey"]]
    # Each screenshot is the screen just before its action: nearest to `before[k]`, not to the next state.
    states = [*before, after]
    for k, image in enumerate(episode["image"][: len(before)]):
        distances = [np.abs(image.astype(int) - state.astype(int)).mean() for state in states]
        assert int(np.argmin(distances)) == k and distances[k] < 2.0, (k, distances)
    assert recorder.skipped >= 1 and episode["success"] and episode["instruction_text"] == "round trip"


def test_a_late_callback_still_gets_the_screen_from_before_its_event(chameleon, tmp_path):
    """Under load pynput runs callbacks late; the frame is chosen by the X server's time of the event."""

    class LateRecorder(DemoRecorder):
        def _on_click(self, x, y, button, pressed):
            time.sleep(0.3)  # the chameleon has long redrawn (and been captured) when the press is handled
            super()._on_click(x, y, button, pressed)

    region = chameleon
    recorder = LateRecorder(tmp_path / "demos", "late", region=region, size=64, fps=30)
    env = DesktopEnv(region=region, settle=0.0, size=64)
    try:
        recorder.start()
        env.reset()
        time.sleep(0.3)
        before = env.screen.observe(64)
        env.step(make_action("click", point=(0.5, 0.5)))
        time.sleep(1.0)  # both late callbacks have run
        after = env.screen.observe(64)
        recorder.end_episode(success=True)
    finally:
        env.close()
        recorder.stop()
    assert recorder._clock is not None  # Xvfb told its time
    image = DemoDataset(tmp_path / "demos").load_episode(0)["image"][0].astype(int)
    distance = [np.abs(image - state.astype(int)).mean() for state in (before, after)]
    assert distance[0] < 2.0 < distance[1], distance  # the screen before the click, not after it


def read_until(lines: queue.Queue, prefix: str, timeout: float = 20.0) -> str:
    """The next line of the recorder's output that starts with `prefix` (lines come from a reader thread)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise AssertionError(f"no line starting with {prefix!r} from the recorder within {timeout} s") from None
        if line is None:
            raise AssertionError(f"the recorder exited before printing a line starting with {prefix!r}")
        if line.startswith(prefix):
            return line


@pytest.mark.skipif(shutil.which("xdotool") is None, reason="xdotool is not installed")
def test_sigkill_mid_episode_keeps_the_earlier_episodes(display, tmp_path):
    out = tmp_path / "demos"
    command = [sys.executable, "-m", "minvla_gym.cli", "record", "--out", str(out), "--instruction", "do things",
               "--fps", "10", "--size", "32"]  # fmt: skip
    recorder = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env={**os.environ, "DISPLAY": display})
    lines: queue.Queue = queue.Queue()
    reader = threading.Thread(target=lambda: [*map(lines.put, recorder.stdout), lines.put(None)], daemon=True)
    reader.start()

    def xdotool(*args):
        subprocess.run(["xdotool", *args], check=True, env={**os.environ, "DISPLAY": display})
        time.sleep(0.5)

    try:
        read_until(lines, "recording")
        xdotool("mousemove", "100", "120", "click", "1")
        xdotool("key", "F9")  # saved as a success
        read_until(lines, "saved")
        xdotool("type", "hello")
        xdotool("key", "ctrl+s")
        xdotool("key", "F10")  # saved as a failure
        read_until(lines, "saved")
        xdotool("mousemove", "300", "200", "click", "3")  # the third episode is under way...
        recorder.send_signal(signal.SIGKILL)
        recorder.wait(10)
    finally:
        if recorder.poll() is None:
            recorder.kill()
            recorder.wait()
        reader.join(5)
        recorder.stdout.close()
    assert recorder.returncode == -signal.SIGKILL
    dataset = DemoDataset(out)
    assert [(e.success, e.num_steps, e.instruction) for e in dataset.episodes] == [
        (True, 1, "do things"),
        (False, 2, "do things"),
    ]
    first, second = dataset.load_episode(0), dataset.load_episode(1)
    assert first["image"].shape == (1, 32, 32, 3)
    assert ACTION_TYPES[first["action"]["type"][0]] == "click"
    assert to_pixel(first["action"]["point"][0], (0, 0, 800, 600)) == (100, 120)
    assert [ACTION_TYPES[t] for t in second["action"]["type"]] == ["type", "hotkey"]
    assert second["action"]["text"][0] == "hello" and HOTKEYS[second["action"]["hotkey"][1]] == "ctrl+s"
    assert sorted(p.name for p in out.iterdir()) == ["episode-000000.npz", "episode-000001.npz", "meta.json"]


def test_record_without_a_display_is_a_clear_error(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("DISPLAY", raising=False)
    assert minvla(["record", "--out", str(tmp_path / "d"), "--instruction", "x"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "minvla record: error: " in err and "no display: set DISPLAY or start Xvfb" in err


def test_recorder_arguments(display, tmp_path):
    with pytest.raises(ValueError, match="non-empty"):
        DemoRecorder(tmp_path / "a", "")
    with pytest.raises(ValueError, match="longer than"):
        DemoRecorder(tmp_path / "b", "x" * 500)
    with pytest.raises(ValueError, match="off-screen"):
        DemoRecorder(tmp_path / "c", "ok", region=(700, 500, 400, 400))
    recorder = DemoRecorder(tmp_path / "d", "ok")
    assert recorder.end_episode(True) is None  # nothing recorded: nothing written
    recorder.stop()
