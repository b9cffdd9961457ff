"""Fitting the tools around us: vector envs step on our batched actions, torch's DataLoader batches our dataset,
training writes TensorBoard, Gymnasium's RecordVideo records our env, progress bars count what ends a run."""

import gymnasium as gym
import numpy as np
import pytest
import torch

import minvla_gym
from minvla_gym.cli import main
from minvla_gym.dataset import DemoDataset, collate_steps, collect
from minvla_gym.policies.model import VLA, VLAConfig
from minvla_gym.policies.train import ProgressBar

FAST = ["--preset", "tiny", "--batch-size", "2", "--workers", "0", "--no-progress", "--log-interval", "1"]


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_policy_and_expert_actions_step_a_vector_env(mode):
    envs = gym.make_vec("MinVLA-Synthetic-v0", num_envs=3, vectorization_mode=mode, size=64)
    try:
        obs, _ = envs.reset(seed=0)
        # The expert solves its tasks through the vector env: every env succeeds before its step limit.
        succeeded = np.zeros(3, dtype=bool)
        for _ in range(12):
            obs, reward, terminated, truncated, info = envs.step(minvla_gym.expert_actions(envs))
            succeeded |= reward > 0
            if succeeded.all():
                break
        assert succeeded.all()
        vla = VLA(VLAConfig.preset("tiny", image_size=64))
        actions = minvla_gym.stack_actions(vla.act_batch(obs))
        assert actions["point"].shape == (3, 2) and len(actions["text"]) == 3
        envs.step(actions)  # any valid action of the one space steps, whatever its outcome
    finally:
        envs.close()
    with pytest.raises(ValueError, match="type"):
        minvla_gym.stack_actions([{"type": 99, "point": (0.5, 0.5)}])


@pytest.fixture(scope="module")
def two_folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("demos")
    collect("MinVLA-Synthetic-Type-v0", 2, root / "type", seed=0, progress=False)
    collect("MinVLA-Synthetic-Click-v0", 2, root / "click", seed=0, progress=False)
    return root / "type", root / "click"


def test_a_dataloader_batches_demo_steps_with_the_public_collate(two_folders):
    data = DemoDataset(two_folders[0])
    batch = next(iter(torch.utils.data.DataLoader(data, batch_size=3, collate_fn=collate_steps)))
    assert batch["image"].shape == (3, *data[0]["image"].shape) and batch["image"].dtype == torch.uint8
    assert batch["action"]["type"].shape == (3,) and batch["action"]["point"].shape == (3, 2)
    assert batch["action"]["text"] == [data[i]["action"]["text"] for i in range(3)]
    assert len(batch["elements"]) == 3 and batch["elements"][1] == data[1]["elements"]
    assert batch["task"] == ["Type"] * 3


def test_train_on_several_folders_logs_csv_and_tensorboard(two_folders, tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = tmp_path / "run"
    data = ",".join(map(str, two_folders))
    assert main(["train", "--data", data, *FAST, "--max-iters", "3", "--out", str(out), "--eval-episodes", "2",
                 "--eval-env", "MinVLA-Synthetic-Click-v0"]) == 0  # fmt: skip
    events = EventAccumulator(str(out / "tb"))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"train/loss", "train/lr", "eval/success_rate", "eval/family/Click"} <= tags, tags
    assert [e.step for e in events.Scalars("train/loss")] == [1, 2, 3]
    assert (out / "metrics.csv").read_text().count("\n") == 4 and "family:Click" in (out / "eval.csv").read_text()


def test_record_video_writes_an_episode(tmp_path):
    pytest.importorskip("moviepy")
    env = gym.wrappers.RecordVideo(gym.make("MinVLA-Synthetic-Click-v0", render_mode="rgb_array", size=64),
                                   str(tmp_path / "video"), episode_trigger=lambda k: True, disable_logger=True)  # fmt: skip
    env.reset(seed=0)
    terminated = truncated = False
    while not (terminated or truncated):
        _, _, terminated, truncated, _ = env.step(env.unwrapped.expert_action())
    env.close()
    videos = list((tmp_path / "video").glob("*.mp4"))
    assert len(videos) == 1 and videos[0].stat().st_size > 0


def test_a_time_budgeted_bar_counts_minutes_to_the_budget(capsys):
    bar = ProgressBar(10**9, 0, budget_min=2.0, elapsed_min=0.0, desc="train")
    bar.advance(40, 0.5)
    assert "step=40" in str(bar.bar)  # the count shows without a postfix of the caller's
    bar.set_postfix(loss="1.0")
    text = str(bar.bar)
    bar.close()
    assert "0.5/2.0 min" in text and "step=40" in text and "1000000000" not in text
    steps = ProgressBar(200, 0, budget_min=0.0, elapsed_min=0.0, desc="train")
    steps.advance(50, 0.1)
    assert "50/200" in str(steps.bar) and "step" in str(steps.bar)
    steps.close()
