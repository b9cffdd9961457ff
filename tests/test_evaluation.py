"""Evaluation by success rate: every kind of policy, determinism, Wilson intervals, pictures and `minvla eval`."""

import json

import gymnasium as gym
import numpy as np
import pytest
from PIL import Image

from minvla_gym.actions import ACTION_TYPES, make_action
from minvla_gym.cli import main
from minvla_gym.envs.synthetic.tasks import FAMILIES
from minvla_gym.evaluation import (
    contact_sheet,
    evaluate,
    evaluate_by_family,
    evaluate_splits,
    paired_change_interval,
    plot_per_family,
    splits_table,
    wilson_interval,
)
from minvla_gym.wrappers import FlatActionWrapper


class ScreenHash:
    """A deterministic policy driven by the observation alone: its results must not depend on batching.

    `act_batch` returns a dict of batched fields (the other form `evaluate` accepts besides a list).
    """

    def __init__(self):
        self.batch_sizes = []

    def act(self, obs):
        s = int(obs["image"][::7, ::7].sum()) + int(obs["instruction"].sum())
        return make_action(s % len(ACTION_TYPES), point=((s % 97) / 96, (s % 89) / 88), hotkey=s % 5)

    def act_batch(self, batch):
        self.batch_sizes.append(len(batch["image"]))
        actions = [self.act({key: value[i] for key, value in batch.items()}) for i in range(len(batch["image"]))]
        return {key: np.stack([a[key] for a in actions]) for key in actions[0] if key != "text"} | {
            "text": [a["text"] for a in actions]
        }


def outcomes(result):
    return [(r.index, r.seed, r.task, r.instruction, r.success, r.steps, r.error) for r in result.records]


def test_wilson_interval_matches_newcombe():
    # Newcombe (1998), Statistics in Medicine 17:857, Table I, method 3 (Wilson score, no continuity correction).
    known = {
        (81, 263): (0.2553, 0.3662),
        (15, 148): (0.0624, 0.1605),
        (0, 20): (0.0, 0.1611),
        (1, 29): (0.0061, 0.1718),
        (29, 29): (0.8830, 1.0),
        (0, 1): (0.0, 0.7935),
    }
    for (successes, n), expected in known.items():
        assert wilson_interval(successes, n) == pytest.approx(expected, abs=5e-5)
    assert wilson_interval(0, 20)[0] == 0.0 and wilson_interval(29, 29)[1] == 1.0  # exact at the extremes
    for bad in ((3, 2), (-1, 5), (0, 0)):
        with pytest.raises(ValueError, match="successes"):
            wilson_interval(*bad)


def test_paired_change_interval_counts_only_the_episodes_that_flip():
    # 1,000 episodes, 204 gained, 51 lost (session 8's Scroll run): change 0.153, sd sqrt((0.255 - 0.153**2) / 1000).
    before = [False] * 204 + [True] * 51 + [True] * 400 + [False] * 345
    after = [True] * 204 + [False] * 51 + [True] * 400 + [False] * 345
    change, low, high = paired_change_interval(before, after)
    half = 1.959963984540054 * ((0.255 - 0.153**2) / 1000) ** 0.5
    assert (change, low, high) == pytest.approx((0.153, 0.153 - half, 0.153 + half))
    assert paired_change_interval(after, after) == (0.0, 0.0, 0.0)  # nothing flips: no doubt either
    swapped = paired_change_interval([True, False] * 50, [False, True] * 50)  # as many gained as lost
    assert swapped == pytest.approx((0.0, -0.196, 0.196), abs=1e-3)  # every episode flips: sd = 1 / sqrt(100)
    for bad in (([True], [True, False]), ([], [])):
        with pytest.raises(ValueError, match="outcome lists"):
            paired_change_interval(*bad)


@pytest.mark.parametrize("family", list(FAMILIES))
def test_expert_succeeds_on_every_family(family):
    result = evaluate("expert", f"MinVLA-Synthetic-{family}-v0", episodes=8, seed=11, progress=False)
    assert result.success_rate == 1.0 and result.invalid_episodes == 0
    assert list(result.per_family) == [family]
    assert result.per_family[family]["episodes"] == 8 and result.mean_steps >= 1


def test_expert_on_the_mixed_env_reports_each_family():
    result = evaluate("expert", episodes=10 * len(FAMILIES), seed=0, num_envs=3, progress=False)
    assert result.success_rate == 1.0 and result.ci == wilson_interval(result.episodes, result.episodes)
    assert set(result.per_family) <= set(FAMILIES) and len(result.per_family) >= min(2, len(FAMILIES))
    assert sum(s["episodes"] for s in result.per_family.values()) == result.episodes
    assert all(s["success_rate"] == 1.0 for s in result.per_family.values())


def test_evaluate_by_family_plays_the_same_episodes_of_each_family():
    results = evaluate_by_family("random", episodes=6, seed=3, num_envs=2)
    assert list(results) == list(FAMILIES)
    for family, result in results.items():
        assert result.env_id == f"MinVLA-Synthetic-{family}-v1" and list(result.per_family) == [family]
        assert [r.seed for r in result.records] == list(range(3, 9))
    again = evaluate_by_family("random", episodes=6, seed=3, families=["Icon", "Scroll"], num_envs=4)
    assert list(again) == ["Icon", "Scroll"] and all(outcomes(again[f]) == outcomes(results[f]) for f in again)
    assert all(
        r.success_rate == 1.0 for r in evaluate_by_family("expert", episodes=2, families=["Type", "Menu"]).values()
    )


def test_evaluate_splits_plays_the_same_seeds_on_each_split_side_by_side():
    results = evaluate_splits("expert", "MinVLA-Synthetic-v1", episodes=6, seed=2, num_envs=3, progress=False)
    assert list(results) == ["train", "test"]
    for split, result in results.items():
        assert result.success_rate == 1.0 and [r.seed for r in result.records] == list(range(2, 8))
        assert {r.split for r in result.records} == {split} and result.to_dict()["split"] == split
    # Same seeds, different worlds: the test split's instructions are not the train split's.
    assert [r.instruction for r in results["train"].records] != [r.instruction for r in results["test"].records]
    table = splits_table(results).splitlines()
    assert "train" in table[0] and "test" in table[0] and "gap" in table[0] and table[-1].startswith("all")
    per_family = evaluate_splits("random", episodes=3, splits=["test"], per_family=True, num_envs=2, progress=False)
    assert list(per_family) == ["test"] and sorted(per_family["test"].per_family) == sorted(FAMILIES)
    assert all(s["episodes"] == 3 for s in per_family["test"].per_family.values())
    with pytest.raises(ValueError, match="has no splits"):
        evaluate_splits("expert", "MinVLA-Synthetic-v0", episodes=1)
    with pytest.raises(ValueError, match="splits must be"):
        evaluate_splits("expert", splits=["val"], episodes=1)


def test_minvla_eval_reports_both_splits(tmp_path, capsys):
    assert main(["eval", "--expert", "--env", "MinVLA-Synthetic-Click-v1", "--episodes", "4", "--keep", "1",
                 "--quiet", "--out", str(tmp_path)]) == 0  # fmt: skip
    printed = capsys.readouterr().out
    assert "train [95% CI]" in printed and "test [95% CI]" in printed
    report = json.loads((tmp_path / "eval.json").read_text())
    assert {s: r["success_rate"] for s, r in report["splits"].items()} == {"train": 1.0, "test": 1.0}
    assert (tmp_path / "success_by_family_test.png").exists() and (tmp_path / "contact_sheet_train.png").exists()
    assert main(["eval", "--random", "--env", "MinVLA-Synthetic-v1", "--split", "test", "--per-family",
                 "--episodes", "2", "--keep", "0", "--quiet", "--out", str(tmp_path / "one")]) == 0  # fmt: skip
    report = json.loads((tmp_path / "one" / "eval.json").read_text())  # one split: a plain report
    assert report["split"] == "test" and report["episodes"] == 2 * len(FAMILIES)
    assert sorted(report["per_family"]) == sorted(FAMILIES)


def test_random_policy_scores_low_and_is_seeded():
    result = evaluate("random", episodes=60, seed=5, progress=False)
    assert result.success_rate < 0.25 and result.invalid_episodes == 0
    assert outcomes(evaluate("random", episodes=60, seed=5, num_envs=4, progress=False)) == outcomes(result)


def test_same_seed_same_result_for_any_batching():
    batched = ScreenHash()
    a = evaluate(batched, episodes=24, seed=3, num_envs=5, progress=False)
    b = evaluate(ScreenHash().act, episodes=24, seed=3, num_envs=1, progress=False)  # plain callable, one env
    assert max(batched.batch_sizes) == 5 and min(batched.batch_sizes) < 5  # lock-step batches, then the tail
    assert outcomes(a) == outcomes(b) and a.to_dict() | {"policy": ""} == b.to_dict() | {"policy": ""}
    assert {r.steps for r in a.records} != {1}  # episodes of different lengths exercised the slot refill
    other = evaluate(ScreenHash(), episodes=24, seed=4, num_envs=5, progress=False)
    assert [r.instruction for r in other.records] != [r.instruction for r in a.records]


def test_stable_baselines3_model_evaluates():
    from stable_baselines3 import PPO

    env = FlatActionWrapper(gym.make("MinVLA-Synthetic-v0"), coord_bins=16)
    model = PPO("MultiInputPolicy", env, n_steps=16, batch_size=16, seed=0, device="cpu")  # untrained
    result = evaluate(model, episodes=6, seed=0, keep_frames=6, progress=False)
    assert result.episodes == 6 and result.invalid_episodes == 0 and 0.0 <= result.success_rate <= 1.0
    actions = [a for r in result.records for a in r.actions]
    assert len(actions) == sum(r.steps for r in result.records)
    for action in actions:  # converted with the model's own 16 bins: every point is a bin centre
        assert np.allclose((np.asarray(action["point"]) * 16) % 1, 0.5, atol=1e-4)


def test_invalid_actions_fail_their_episode_without_ending_the_evaluation():
    calls = []

    def sometimes_broken(obs):
        calls.append(1)
        point = (0.5, 0.5) if len(calls) % 2 else (float("nan"), 0.5)  # every second action is invalid
        return {"type": "hotkey", "point": point, "hotkey": 0}

    result = evaluate(sometimes_broken, episodes=6, seed=0, keep_frames=2, progress=False)
    assert result.episodes == 6 and 0 < result.invalid_episodes <= 6
    broken = [r for r in result.records if r.error is not None]
    assert all("point" in r.error and not r.success for r in broken)
    assert result.to_dict()["invalid_episodes"] == len(broken) and result.to_dict()["errors"][0]["error"]
    assert "invalid action" in result.table()


def test_bad_arguments_are_value_errors():
    with pytest.raises(ValueError, match="episodes"):
        evaluate("expert", episodes=0)
    with pytest.raises(ValueError, match="num_envs"):
        evaluate("expert", episodes=2, num_envs=0)
    with pytest.raises(ValueError, match="named policies"):
        evaluate("genius", episodes=2, progress=False)
    with pytest.raises(ValueError, match="callable"):
        evaluate(42, episodes=2, progress=False)


def test_pictures(tmp_path):
    result = evaluate("expert", episodes=5, seed=2, keep_frames=3, progress=False)
    assert [len(r.frames) for r in result.records] == [r.steps for r in result.records[:3]] + [0, 0]
    with pytest.raises(ValueError, match="keep_frames"):
        contact_sheet(evaluate("expert", episodes=2, progress=False), tmp_path / "empty.png")
    for path in (plot_per_family(result, tmp_path / "bars.png"), contact_sheet(result, tmp_path / "sheet.png")):
        with Image.open(path) as image:
            assert image.format == "PNG" and min(image.size) > 200
            assert np.asarray(image.convert("L")).std() > 10  # something was drawn


def test_cli_end_to_end(tmp_path, capsys):
    out = tmp_path / "pictures"
    argv = ["eval", "--expert", "--episodes", "6", "--seed", "1", "--json", str(tmp_path / "r.json")]
    assert main([*argv, "--out", str(out), "--num-envs", "2", "--keep", "2", "--quiet"]) == 0
    report = json.loads((tmp_path / "r.json").read_text())["splits"]  # the default env has splits: both played
    assert list(report) == ["train", "test"]
    for split, result in report.items():
        assert result["success_rate"] == 1.0 and result["episodes"] == 6 and result["seed"] == 1
        assert set(result["per_family"]) <= set(FAMILIES) and all(v == 1.0 for v in result["per_family"].values())
        assert (out / f"success_by_family_{split}.png").stat().st_size > 0
        assert (out / f"contact_sheet_{split}.png").stat().st_size > 0
    table = capsys.readouterr().out
    assert "95% CI" in table and "100.0%" in table
    assert main(["eval", "--episodes", "2"]) == 2  # one of --model, --expert, --random is required
    assert "one of the arguments --model --expert --random is required" in capsys.readouterr().err


def test_cli_evaluates_a_vla_checkpoint_at_its_own_screen_size(tmp_path):
    import torch

    from minvla_gym.policies.model import VLA, VLAConfig

    torch.manual_seed(0)
    VLA(VLAConfig.preset("tiny", image_size=160)).save(tmp_path / "ckpt")  # random weights: any success is luck
    argv = ["eval", "--model", str(tmp_path / "ckpt"), "--episodes", "6", "--device", "cpu", "--keep", "1", "--quiet",
            "--split", "test"]  # fmt: skip
    # The env must be made at the checkpoint's 160 px: the VLA raises on any other screen size.
    assert main([*argv, "--json", str(tmp_path / "r.json")]) == 0
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["episodes"] == 6 and report["invalid_episodes"] == 0 and report["policy"] == str(tmp_path / "ckpt")
    assert (tmp_path / "contact_sheet.png").exists()
