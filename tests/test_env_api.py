"""The Gymnasium API contract, for every registered synthetic id: families added later are covered too.

What the env packages test (STYLE.md): check_env with no unexpected warning, seeded determinism, pickling,
every render mode, truncation at exactly max_episode_steps, sync and async vector envs side by side;
plus minVLA-gym's own conventions (info keys) and the scripted expert's 100% success per family.
"""

from __future__ import annotations

import importlib.util
import os
import pickle
import time
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.envs.registration import registry
from gymnasium.utils.env_checker import check_env, data_equivalence
from gymnasium.vector.utils import concatenate, create_empty_array

from minvla_gym import tokenizer
from minvla_gym.actions import make_action
from minvla_gym.envs.desktop.xvfb import Xvfb
from minvla_gym.envs.synthetic.env import MARK, SyntheticDesktopEnv
from minvla_gym.envs.synthetic.render import SHAPES
from minvla_gym.envs.synthetic.tasks import FAMILIES
from minvla_gym.envs.synthetic.words import COLOURS

SYNTHETIC_IDS = sorted(
    env_id
    for env_id, spec in registry.items()
    if isinstance(spec.entry_point, str) and spec.entry_point.startswith("minvla_gym.envs.synthetic")
)
FAMILY_IDS = {registry[env_id].kwargs["task"]: env_id for env_id in SYNTHETIC_IDS if "task" in registry[env_id].kwargs}
FAMILY_IDS_V0 = {family: env_id.replace("-v1", "-v0") for family, env_id in FAMILY_IDS.items()}
# The one warning check_env may give: `scroll` is Box(-10, 10), notches, not a normalised range.
SYMMETRIC_BOX = "For Box action spaces, we recommend using a symmetric and normalized space"


def test_every_family_is_registered():
    assert "MinVLA-Synthetic-v0" in SYNTHETIC_IDS and "MinVLA-Synthetic-v1" in SYNTHETIC_IDS
    assert sorted(FAMILY_IDS) == sorted(FAMILIES)
    assert all(
        env_id.endswith("-v1") and FAMILY_IDS_V0[family] in SYNTHETIC_IDS for family, env_id in FAMILY_IDS.items()
    )
    assert all(registry[env_id].max_episode_steps for env_id in SYNTHETIC_IDS)


@pytest.fixture
def screen(request):
    """A display for render_mode="human": $DISPLAY, else a session Xvfb; None when neither exists (or no Tk)."""
    if importlib.util.find_spec("tkinter") is None:
        return None
    if os.environ.get("DISPLAY"):
        return os.environ["DISPLAY"]
    if Xvfb.available():
        return request.getfixturevalue("display")  # conftest: a session Xvfb, DISPLAY set for this test
    return None


def noop(info) -> dict:
    """A click on a spot of the screen inside no element but windows: every family continues."""
    boxes = [e["box"] for e in info["elements"] if e["role"] != "window"]
    for y in np.linspace(0.01, 0.99, 25):
        for x in np.linspace(0.01, 0.99, 25):
            if not any(x0 - 0.01 <= x <= x1 + 0.01 and y0 - 0.01 <= y <= y1 + 0.01 for x0, y0, x1, y1 in boxes):
                return make_action("click", point=(x, y))
    raise AssertionError(f"no empty spot on the screen of {info['task']!r}: {info['elements']}")


def rollout(env: gym.Env, seed: int, actions: list) -> list:
    """Everything the env returns over a run of `actions` from reset(seed); None entries mean the expert's
    action. Episodes that end are reset (unseeded), so one run spans several episodes."""
    record = [env.reset(seed=seed)]
    for action in actions:
        if action is None:
            action = env.unwrapped.expert_action()
        result = env.step(action)
        record.append((action, *result))
        if result[2] or result[3]:
            record.append(env.reset())
    return record


def mixed_actions(env: gym.Env, seed: int, count: int) -> list:
    """Random actions from the env's own (seeded) action space, every third step the expert's."""
    env.action_space.seed(seed)
    return [None if i % 3 else env.action_space.sample() for i in range(count)]


@pytest.mark.parametrize("env_id", SYNTHETIC_IDS)
def test_check_env_without_unexpected_warnings(env_id, screen):
    env = gym.make(env_id, render_mode="rgb_array")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # check_env's render checks make an env in every declared mode, "human" included: without a
        # display that one warns that it shows nothing (and nothing else).
        check_env(env.unwrapped)
    expected = (SYMMETRIC_BOX, "render_mode='human' shows nothing")
    unexpected = [str(w.message) for w in caught if not any(text in str(w.message) for text in expected)]
    assert unexpected == []
    env.close()


@pytest.mark.parametrize("env_id", SYNTHETIC_IDS)
def test_seeds_a_b_b_a(env_id):
    env = gym.make(env_id)
    first = [env.reset(seed=seed) for seed in (3, 11, 11, 3)]
    assert data_equivalence(first[0], first[3], exact=True)
    assert data_equivalence(first[1], first[2], exact=True)
    assert not data_equivalence(first[0], first[1], exact=True)


@pytest.mark.parametrize("env_id", SYNTHETIC_IDS)
def test_rollout_is_deterministic(env_id):
    envs = gym.make(env_id), gym.make(env_id)
    actions = mixed_actions(envs[0], seed=5, count=50)
    one, two = (rollout(env, 5, actions) for env in envs)
    assert len(one) > 50
    assert data_equivalence(one, two, exact=True)
    # A different seed gives a different run: the comparison above could fail.
    assert not data_equivalence(one, rollout(envs[1], 6, actions), exact=True)


@pytest.mark.parametrize("env_id", SYNTHETIC_IDS)
def test_pickled_env_continues_identically(env_id):
    env = gym.make(env_id)
    rollout(env, 8, mixed_actions(env, 8, 4))  # mid-episode (or just reset) state to copy
    clone = pickle.loads(pickle.dumps(env))
    actions = mixed_actions(env, 9, 20)
    for action in actions:
        if action is None:
            action = env.unwrapped.expert_action()
            assert data_equivalence(action, clone.unwrapped.expert_action(), exact=True)
        one, two = env.step(action), clone.step(action)
        assert data_equivalence(one, two, exact=True)
        if one[2] or one[3]:
            assert data_equivalence(env.reset(), clone.reset(), exact=True)


@pytest.mark.parametrize("env_id", SYNTHETIC_IDS)
def test_render_rgb_array_draws_the_action(env_id):
    env = gym.make(env_id, render_mode="rgb_array")
    obs, info = env.reset(seed=1)
    frame = env.render()
    assert frame.dtype == np.uint8 and frame.shape == obs["image"].shape
    assert np.array_equal(frame, obs["image"])  # nothing done yet, nothing drawn
    frame[:] = 0  # the render is the caller's to keep: the env's screen must not change
    assert np.array_equal(env.render(), obs["image"])

    action = noop(info)
    obs, *_ = env.step(action)
    frame = env.render()
    assert not np.array_equal(frame, obs["image"])
    x, y = (int(v * (env.unwrapped.size - 1)) for v in action["point"])
    assert (frame[y, x] == MARK).all()  # the click's cross hair
    env.close()


@pytest.mark.parametrize("env_id", SYNTHETIC_IDS)
def test_render_human(env_id, screen):
    pytest.importorskip("tkinter", reason="render_mode='human' shows its window with Tk")
    if screen is None:
        pytest.skip("render_mode='human' needs a display: $DISPLAY is not set and Xvfb is not installed")
    env = gym.make(env_id, render_mode="human")
    obs, info = env.reset(seed=2)
    assert env.render() is None
    env.step(noop(info))
    assert env.render() is None
    assert env.unwrapped._viewer is not None
    clone = pickle.loads(pickle.dumps(env))  # the window stays behind; the copy opens its own
    clone.step(noop(info))
    clone.close()
    env.close()
    assert env.unwrapped._viewer is None
    env.close()  # closing twice is allowed


def test_render_human_without_display_warns_once_and_shows_nothing(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    env = gym.make("MinVLA-Synthetic-v1", render_mode="human")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _, info = env.reset(seed=0)
        env.step(noop(info))
        assert env.render() is None
    assert [str(w.message) for w in caught if "DISPLAY" in str(w.message)] != []
    assert sum("DISPLAY" in str(w.message) for w in caught) == 1
    assert env.unwrapped._viewer is None


def test_render_human_keeps_to_render_fps(screen):
    pytest.importorskip("tkinter", reason="render_mode='human' shows its window with Tk")
    if screen is None:
        pytest.skip("render_mode='human' needs a display: $DISPLAY is not set and Xvfb is not installed")
    env = gym.make("MinVLA-Synthetic-Hotkey-v1", render_mode="human")
    _, info = env.reset(seed=0)
    start = time.monotonic()
    for _ in range(3):
        env.step(noop(info))
    # The reset's frame and three more: three waits of at least 1 / render_fps between them.
    assert time.monotonic() - start >= 3 / env.metadata["render_fps"] - 0.05
    env.close()


@pytest.mark.parametrize("env_id", SYNTHETIC_IDS)
def test_truncated_at_exactly_max_episode_steps(env_id):
    env = gym.make(env_id)
    limit = registry[env_id].max_episode_steps
    for seed in range(3):
        _, info = env.reset(seed=seed)
        for t in range(1, limit + 1):
            _, reward, terminated, truncated, info = env.step(noop(info))
            assert (reward, terminated, truncated) == (0.0, False, t == limit), f"seed {seed}, step {t}"
            assert info["is_success"] is False


def batch(space: gym.spaces.Dict, actions: list) -> dict:
    return concatenate(space, actions, create_empty_array(space, len(actions)))


@pytest.mark.parametrize("env_id", SYNTHETIC_IDS)
def test_sync_and_async_vector_envs_agree(env_id):
    def make():
        return gym.make(env_id)

    sync = gym.vector.SyncVectorEnv([make, make])
    async_ = gym.vector.AsyncVectorEnv([make, make])
    try:
        assert data_equivalence(sync.reset(seed=4), async_.reset(seed=4), exact=True)
        sync.action_space.seed(4)
        for t in range(30):
            if t % 2:
                action = sync.action_space.sample()
            else:  # the experts' actions (ignored by a sub-env that is about to autoreset)
                experts = sync.call("expert_action")
                assert data_equivalence(experts, async_.call("expert_action"), exact=True)
                action = batch(sync.single_action_space, experts)
            assert data_equivalence(sync.step(action), async_.step(action), exact=True), f"step {t}"
    finally:
        sync.close()
        async_.close()


@pytest.mark.parametrize("env_id", SYNTHETIC_IDS)
def test_info_keys(env_id):
    env = gym.make(env_id)
    family = registry[env_id].kwargs.get("task")
    actions = mixed_actions(env, 7, 12)
    for item in rollout(env, 7, actions):
        obs, info = (item[0] if len(item) == 2 else item[1]), item[-1]  # reset: (obs, info); step: (action, obs, ...)
        assert type(info["is_success"]) is bool
        assert info["task"] == family if family else info["task"] in FAMILIES
        assert isinstance(info["instruction"], str) and info["instruction"]
        assert tokenizer.decode(obs["instruction"]) == info["instruction"]
        assert isinstance(info["elements"], list) and info["elements"]
        for element in info["elements"]:
            optional = (
                {"colour", "shape"} if "colour" in element else {"focused"} if element["role"] == "field" else set()
            )
            assert set(element) == {"role", "label", "box", "target", "text_box", "char_boxes"} | optional
            if optional == {"colour", "shape"}:  # the Icon family's icons: the names its instructions use
                assert element["colour"] in COLOURS and element["shape"] in SHAPES
            if optional == {"focused"}:
                assert type(element["focused"]) is bool
            assert isinstance(element["role"], str) and isinstance(element["label"], str)
            assert type(element["target"]) is bool
            x0, y0, x1, y1 = element["box"]
            assert all(isinstance(v, float) for v in element["box"])
            assert x0 <= x1 and y0 <= y1 and x0 < 1 and y0 < 1 and x1 > 0 and y1 > 0  # on the screen
            if element["text_box"] is not None:  # where the label is written: inside its element
                tx0, ty0, tx1, ty1 = element["text_box"]
                assert element["label"] and tx0 < tx1 and ty0 < ty1
                assert x0 - 0.01 <= tx0 and ty0 < y1 and ty1 > y0  # (a list's last row may be cut off)
                chars = element["char_boxes"]  # one box per character, inside the text's box
                assert chars.dtype == np.float32 and chars.shape == (len(element["label"]), 4)
                low, high = np.float32([tx0, ty0]) - 1e-6, np.float32([tx1, ty1]) + 1e-6
                assert (chars[:, :2] >= low).all() and (chars[:, 2:] <= high).all()
            else:
                assert element["char_boxes"] is None
        assert info["split"] == registry[env_id].kwargs.get("split", "train" if "v1" in env_id else None)


@pytest.mark.parametrize("world", ["v0", "v1-train", "v1-test"])
@pytest.mark.parametrize("family", sorted(FAMILY_IDS))
def test_expert_succeeds_on_500_seeds(family, world):
    if world == "v0":
        env = gym.make(FAMILY_IDS_V0[family])
    else:
        env = gym.make(FAMILY_IDS[family], split=world.split("-")[1])
    failed = []
    for seed in range(500):
        env.reset(seed=seed)
        terminated = truncated = False
        while not (terminated or truncated):
            _, reward, terminated, truncated, info = env.step(env.unwrapped.expert_action())
        if not (info["is_success"] and reward == 1.0 and terminated):
            failed.append(seed)
    assert failed == [], f"{family}: the expert failed on seeds {failed}"


@pytest.mark.parametrize("env_id", SYNTHETIC_IDS)
def test_observations_are_fresh_arrays(env_id):
    env = gym.make(env_id)
    obs, info = env.reset(seed=0)
    seen = [obs]
    for _ in range(3):
        obs, _, terminated, truncated, info = env.step(noop(info))
        seen.append(obs)
    for i, a in enumerate(seen):
        for b in seen[i + 1 :]:
            for key in a:
                assert not np.shares_memory(a[key], b[key]), key
    kept = seen[-1]["image"].copy()
    seen[-1]["image"][:] = 0  # a user writing into an observation must not touch the env's screen
    seen[-1]["instruction"][:] = 0
    obs, *_ = env.step(noop(info))
    assert np.array_equal(obs["image"], kept)
    assert tokenizer.decode(obs["instruction"]) == info["instruction"]


@pytest.mark.parametrize("size", [32, 63, 100.0, "224"])
def test_too_small_or_non_int_size_is_a_clear_error(size):
    with pytest.raises(ValueError, match="size must be an int of at least 64"):
        SyntheticDesktopEnv(size=size)
