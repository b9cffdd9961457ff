"""The real-window task suite (MinVLA-DesktopSuite-v0): the scripted expert, failures, determinism."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import minvla_gym  # noqa: F401 - registers the ids
from minvla_gym.actions import make_action
from minvla_gym.envs.desktop.suite import FAMILY_NAMES, SuiteError, TaskSuite
from minvla_gym.envs.synthetic.tasks import FAMILIES as SYNTHETIC_FAMILIES
from minvla_gym.evaluation import evaluate

pytest.importorskip("tkinter")


def test_expert_succeeds_on_100_tasks_of_every_family(display):
    # Eight suites on one display, stepped in lock-step as `minvla eval` does by default: each window
    # is raised and takes the keyboard focus before its action, and the expert must not depend on it.
    result = evaluate("expert", "MinVLA-DesktopSuite-v0", episodes=100, seed=0, num_envs=8, progress=False)
    assert result.success_rate >= 0.99, result.table()
    assert sorted(result.per_family) == sorted(FAMILY_NAMES)
    assert all(s["episodes"] == 10 for s in result.per_family.values())
    assert result.invalid_episodes == 0 and result.mean_steps < 2.0, result.table()


def test_families_match_the_synthetic_ones():
    assert set(FAMILY_NAMES) <= set(SYNTHETIC_FAMILIES)


def test_wrong_actions_fail(display):
    env = gym.make("MinVLA-DesktopSuite-v0", settle=0.02)
    try:
        base = env.unwrapped
        # A hotkey other than the instructed one is a decisive mistake.
        env.reset(seed=9)
        assert base.task == "Hotkey"
        combo = base.expert_action()["hotkey"]
        _, reward, terminated, _, info = env.step(make_action("hotkey", hotkey=(combo + 1) % 14))
        assert (reward, terminated, info["is_success"]) == (0.0, True, False)
        # Double-clicking the button instead of clicking it fails, as on the synthetic desktop.
        env.reset(seed=10)
        assert base.task == "Click"
        action = base.expert_action()
        _, reward, terminated, _, info = env.step(make_action("double_click", point=action["point"]))
        assert (reward, terminated, info["is_success"]) == (0.0, True, False)
        # A click on empty space changes nothing; then the expert still succeeds.
        env.reset(seed=13)
        assert base.task == "RightClick"
        _, _, terminated, _, info = env.step(make_action("click", point=(0.995, 0.995)))
        assert not terminated and info["task"] == "RightClick" and info["elements"] == []
        for _ in range(3):
            _, reward, terminated, _, info = env.step(base.expert_action())
            if terminated:
                break
        assert (reward, info["is_success"]) == (1.0, True)
    finally:
        env.close()


def test_seed_picks_the_task(display):
    env = gym.make("MinVLA-DesktopSuite-v0", settle=0.0)
    try:
        instructions = []
        for seed in (21, 22, 21):
            obs, info = env.reset(seed=seed)
            assert info["task"] == FAMILY_NAMES[seed % 10]
            assert env.observation_space.contains(obs) and obs["image"].std() > 5  # a real, non-blank screen
            instructions.append(info["instruction"])
        assert instructions[0] == instructions[2] != instructions[1]
        _, info = env.reset()  # unseeded resets continue the cycle
        assert info["task"] == FAMILY_NAMES[22 % 10]
        _, info = env.reset(options={"task": "Slider"})
        assert info["task"] == "Slider"
        with pytest.raises(ValueError, match="not a suite family"):
            env.reset(options={"task": "Juggle"})
    finally:
        env.close()


def test_suite_restricted_families_and_errors(display):
    env = gym.make("MinVLA-DesktopSuite-v0", families=["Type", "Scroll"], settle=0.0)
    try:
        tasks = {env.reset(seed=s)[1]["task"] for s in range(4)}
        assert tasks == {"Type", "Scroll"}
    finally:
        env.close()
    with pytest.raises(ValueError, match="unknown suite families"):
        TaskSuite(families=["Juggle"])
    suite = TaskSuite()
    try:
        with pytest.raises(SuiteError, match="before the first reset"):
            suite.status()
        with pytest.raises(SuiteError, match="unknown family"):
            suite.reset(0, "Juggle")
        instruction, region = suite.reset(0, "Click")
        assert instruction and region[2:] == (448, 448)
    finally:
        suite.close()
    with pytest.raises(SuiteError, match="not running"):
        suite.status()


def test_the_app_exits_with_its_env(display):
    env = gym.make("MinVLA-DesktopSuite-v0")
    process = env.unwrapped.source._process
    env.reset(seed=0)
    env.close()
    assert process.poll() is not None
    assert np.isfinite(process.returncode)
