"""`minvla run`: a policy on the real screen (Xvfb), dry runs, the confirmation prompt, errors."""

from __future__ import annotations

import io

import gymnasium as gym
import pytest

import minvla_gym  # noqa: F401 - registers the ids
from minvla_gym.cli import main as minvla
from minvla_gym.envs.desktop.run import run_policy

pytest.importorskip("tkinter")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """An untrained tiny VLA saved as a checkpoint: `minvla run` loads it like a trained one."""
    from minvla_gym.policies.model import VLA, VLAConfig

    return str(VLA(VLAConfig.preset("tiny")).save(tmp_path_factory.mktemp("ckpt")))


def test_run_policy_with_the_suite_expert(display):
    env = gym.make("MinVLA-DesktopSuite-v0", settle=0.02)
    lines = []
    try:
        env.reset(seed=4)  # seeds the env; run_policy's own reset continues the family cycle: Drag
        result = run_policy(env, lambda obs: env.unwrapped.expert_action(), steps=10, log=lines.append)
    finally:
        env.close()
    assert result["success"] and result["steps"] == 1 and lines[1].startswith("step 1: drag(")
    with pytest.raises(ValueError, match="steps must be a positive int"):
        run_policy(env, lambda obs: None, steps=0)


def test_dry_run_of_a_checkpoint_performs_nothing(display, checkpoint, capsys):
    import pyautogui

    pyautogui.moveTo(321, 123, _pause=False)
    code = minvla(["run", "--model", checkpoint, "--instruction", "click the save button", "--dry-run",
                   "--steps", "3", "--settle", "0"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    assert "instruction: click the save button" in out and "step 3:" in out and "no success after 3 step(s)" in out
    assert tuple(pyautogui.position()) == (321, 123)


def test_run_asks_first(display, checkpoint, capsys, monkeypatch):
    import pyautogui

    pyautogui.moveTo(222, 111, _pause=False)
    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))
    assert minvla(["run", "--model", checkpoint, "--instruction", "do it", "--steps", "2", "--settle", "0"]) == 1
    out = capsys.readouterr().out
    assert "Go? [y/N]" in out and "aborted: nothing was performed" in out and "step 1" not in out
    assert tuple(pyautogui.position()) == (222, 111)
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))
    args = ["run", "--model", checkpoint, "--env", "MinVLA-DesktopSuite-v0", "--steps", "2", "--settle", "0"]
    assert minvla(args) == 0
    assert "step 1:" in capsys.readouterr().out


def test_run_errors(display, tmp_path, capsys):
    assert minvla(["run", "--model", str(tmp_path / "nothing"), "--instruction", "x", "--dry-run"]) == 2
    assert "nothing: no such folder" in capsys.readouterr().err
    assert minvla(["run", "--model", str(tmp_path), "--dry-run"]) == 2
    assert "--instruction is required" in capsys.readouterr().err
