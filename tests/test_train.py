"""Behaviour cloning: tiny overfits, `minvla train` runs end to end, resumes, is deterministic, runs under DDP."""

import csv
import dataclasses
import json
import os
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from minvla_gym.cli import main
from minvla_gym.envs.synthetic import SyntheticDesktopEnv
from minvla_gym.envs.synthetic.tasks import FAMILIES
from minvla_gym.policies.data import SyntheticBatches
from minvla_gym.policies.model import VLA, VLAConfig, action_kl
from minvla_gym.policies.train import STATE_FILE, Logger, TrainConfig, evaluate_policy, lr_at, make_optimizer
from minvla_gym.quickstart import FINETUNE_ANCHOR, FINETUNE_FAMILIES, PRETRAINED, WEAK_FAMILIES_FIRST, training_mix

FAST = ["--synthetic", "--preset", "tiny", "--batch-size", "4", "--workers", "0", "--no-progress"]


def test_tiny_overfits_64_expert_samples():
    torch.manual_seed(0)
    model = VLA(VLAConfig.preset("tiny", image_size=64))  # 64-px screens keep this a few seconds
    batch = SyntheticBatches(64, model.config.grid, seed=0, size=64)[0]
    optimizer = make_optimizer(model, TrainConfig(synthetic=True, lr=1e-2))
    losses = []
    for _ in range(200):
        _, loss, _ = model(batch["image"], batch["instruction"], batch)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        losses.append(loss.item())
    assert sum(losses[-5:]) / 5 < losses[0] / 10, (losses[0], losses[-5:])


def test_schedule_warms_up_holds_and_decays():
    cfg = TrainConfig(synthetic=True, lr=1e-3, warmup=0.1, decay=0.2, min_lr_ratio=0.1)
    assert lr_at(0.0, cfg) < lr_at(0.05, cfg) < lr_at(0.1, cfg) == 1e-3 == lr_at(0.79, cfg)
    assert lr_at(0.9, cfg) < 1e-3 and abs(lr_at(1.0, cfg) - 1e-4) < 1e-12


@pytest.mark.parametrize(
    "args, words",
    [([], "one of the arguments --synthetic --data is required"), (["--synthetic", "--dtype", "fp8"], "dtype='fp8'")],
)
def test_bad_arguments_are_rejected(args, words, capsys):
    assert main(["train", *args]) == 2
    assert words in capsys.readouterr().err
    with pytest.raises(ValueError, match="unknown preset"):
        TrainConfig(synthetic=True, preset="huge")


def rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def test_minvla_train_end_to_end_and_resume(tmp_path):
    out = tmp_path / "run"
    args = ["train", *FAST[:-3], "--max-iters", "4", "--out", str(out), "--eval-episodes", "4", "--log-interval", "1"]
    assert main([*args, "--no-progress"]) == 0  # --workers 1: data from a worker process
    for name in ("last/config.json", "last/model.safetensors", f"last/{STATE_FILE}", "best/model.safetensors",
                 "best/eval.json", "metrics.csv", "eval.csv", "curves.png"):  # fmt: skip
        assert (out / name).is_file(), name
    assert [int(r["step"]) for r in rows(out / "metrics.csv")] == [1, 2, 3, 4]
    result = json.loads((out / "best" / "eval.json").read_text())
    assert 0.0 <= result["success_rate"] <= 1.0 and result["episodes"] == 4
    VLA.from_checkpoint(out / "best")
    # Resume: continue from step 4 to step 7 with the saved optimizer state.
    assert main(["train", *FAST, "--max-iters", "7", "--out", str(out), "--eval-episodes", "0", "--log-interval", "1",
                 "--resume"]) == 0  # fmt: skip
    assert [int(r["step"]) for r in rows(out / "metrics.csv")] == [1, 2, 3, 4, 5, 6, 7]
    state = torch.load(out / "last" / STATE_FILE, weights_only=True)
    assert state["step"] == 7 and len(state["optimizer"]["state"]) > 0


def test_runs_are_deterministic_with_a_seed(tmp_path):
    weights = []
    for name in ("a", "b"):
        out = tmp_path / name
        assert main(["train", *FAST, "--max-iters", "3", "--out", str(out), "--eval-episodes", "0", "--seed", "5"]) == 0
        weights.append(load_file(out / "last" / "model.safetensors"))
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


def test_dagger_trains_with_a_worker_playing_the_weights(tmp_path):
    """--dagger: a data worker process plays a shared-memory copy of the weights the optimizer updates."""
    out = tmp_path / "dagger"
    assert main(["train", *FAST[:-3], "--workers", "1", "--no-progress", "--max-iters", "3", "--out", str(out),
                 "--eval-episodes", "0", "--families", "Scroll", "--dagger", "1", "--log-interval", "1"]) == 0  # fmt: skip
    assert [int(r["step"]) for r in rows(out / "metrics.csv")] == [1, 2, 3]
    assert json.loads((out / "train_config.json").read_text())["dagger"] == 1.0


def test_ddp_two_cpu_processes_on_gloo(tmp_path):
    """Under torchrun, with the KL anchor's second forward pass outside DDP's (one forward per backward)."""
    out, start = tmp_path / "ddp", tmp_path / "start"
    assert main(["train", *FAST, "--max-iters", "1", "--out", str(start), "--eval-episodes", "0"]) == 0
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               "-m", "minvla_gym.policies.train", *FAST, "--max-iters", "3", "--out", str(out),
               "--eval-episodes", "0", "--time-budget", "5", "--init", str(start / "last"),
               "--anchor-families", "Scroll", "--log-interval", "1"]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert torch.load(out / "last" / STATE_FILE, weights_only=True)["step"] == 3
    assert json.loads(done.stdout[done.stdout.index("{") :])["steps"] == 3
    assert float(rows(out / "metrics.csv")[-1]["anchor_kl"]) > 0  # the anchor ran, and the weights moved from --init


def test_minvla_quickstart_runs_end_to_end(tmp_path, capsys):
    out = tmp_path / "qs"
    assert main(["quickstart", "--minutes", "0.15", "--preset", "tiny", "--episodes", "4", "--out", str(out),
                 "--check-episodes", "2", "--short-scrolls", "0.5", "--dagger", "0.5", "--no-progress"]) == 0  # fmt: skip
    printed = capsys.readouterr().out
    assert "success:" in printed and "MinVLA-Synthetic-v0, 4 held-out episodes, tiny from scratch" in printed
    report = json.loads((out / "quickstart.json").read_text())
    assert report["episodes"] == 4 and 0.0 <= report["success_rate"] <= 1.0 and report["training"]["steps"] >= 1
    assert report["training"]["checkpoint"] == str(out / "last")  # the final weights, not a pick on noisy checks
    trained = json.loads((out / "train_config.json").read_text())
    assert trained["families"] == WEAK_FAMILIES_FIRST and trained["short_scrolls"] == 0.5  # the mix, the DART noise
    assert trained["dagger"] == 0.5 and trained["dagger_families"] == "Scroll"
    assert main(["quickstart", "--minutes", "0"]) == 2
    assert main(["quickstart", "--init", str(tmp_path / "nowhere")]) == 2
    assert "nowhere: no such folder" in capsys.readouterr().err


def test_the_quickstart_fine_tunes_the_shipped_checkpoint_at_ppos_rate_anchoring_scroll(tmp_path, capsys):
    """The shipped weights end with PPO on Scroll: the default quickstart fine-tunes them at 5e-5 on the other nine
    families and holds Scroll at their own actions (behaviour cloning on Scroll, or at 3e-4, took PPO's gain
    back), and still evaluates every family."""
    out = tmp_path / "qs"
    assert main(["quickstart", "--minutes", "0.1", "--episodes", "10", "--check-episodes", "2", "--out", str(out),
                 "--no-progress"]) == 0  # fmt: skip
    assert f"fine-tuned from {PRETRAINED}" in capsys.readouterr().out
    trained = json.loads((out / "train_config.json").read_text())
    assert trained["init"] == str(PRETRAINED) and trained["lr"] == 5e-5 and trained["families"] == FINETUNE_FAMILIES
    assert trained["anchor_families"] == FINETUNE_ANCHOR == "Scroll"  # held where PPO left it, not cloned
    assert "Scroll" not in FINETUNE_FAMILIES.split(",") and set(FINETUNE_FAMILIES.split(",")) == set(FAMILIES) - {
        "Scroll"
    }
    assert "Scroll" in json.loads((out / "quickstart.json").read_text())["per_family"]  # the final check has all ten
    # Only from the shipped checkpoint: another start keeps WEAK_FAMILIES_FIRST, other envs every family.
    assert training_mix("MinVLA-Synthetic-v0", str(tmp_path)) == (WEAK_FAMILIES_FIRST, None)
    assert training_mix("MinVLA-Synthetic-Click-v0", str(PRETRAINED)) == (None, None)


def test_init_starts_from_a_checkpoint_with_a_fresh_schedule(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    assert main(["train", *FAST, "--max-iters", "2", "--out", str(first), "--eval-episodes", "0"]) == 0
    # --preset small is overridden by the checkpoint's architecture; lr ~0 keeps the weights where they start.
    assert main(["train", *FAST, "--preset", "small", "--max-iters", "1", "--out", str(second), "--eval-episodes",
                 "0", "--init", str(first / "last"), "--lr", "1e-12", "--seed", "3"]) == 0  # fmt: skip
    start, after = load_file(first / "last" / "model.safetensors"), load_file(second / "last" / "model.safetensors")
    assert start.keys() == after.keys() and all(torch.allclose(start[k], after[k], atol=1e-6) for k in start)
    assert torch.load(second / "last" / STATE_FILE, weights_only=True)["step"] == 1  # a new run, not a resume


def test_anchor_families_hold_the_starting_checkpoints_actions(tmp_path):
    """--anchor-families: those families' screens fit the --init VLA's action distribution instead of the expert."""
    start = tmp_path / "start"
    assert main(["train", *FAST, "--max-iters", "2", "--out", str(start), "--eval-episodes", "0"]) == 0
    reference = VLA.from_checkpoint(start / "last")
    held_out = SyntheticBatches(16, reference.config.grid, seed=99, size=reference.config.image_size,
                                families=["Scroll"])[0]  # fmt: skip
    with torch.no_grad():
        before = reference(held_out["image"], held_out["instruction"], reading=False)[0]

    def drift(*anchor: str) -> float:  # how far 20 steps of cloning Hotkey moved the held-out Scroll actions
        out = tmp_path / f"run{len(anchor)}"
        assert main(["train", *FAST, "--init", str(start / "last"), "--families", "Hotkey", "--max-iters", "20",
                     "--lr", "3e-3", "--warmup", "0", "--out", str(out), "--eval-episodes", "0", *anchor]) == 0  # fmt: skip
        with torch.no_grad():
            after = VLA.from_checkpoint(out / "last")(held_out["image"], held_out["instruction"], reading=False)[0]
        return action_kl(after, before).item()

    held, free = drift("--anchor-families", "Scroll"), drift()
    assert held < 0.5 * free, (held, free)
    logged = [float(row["anchor_kl"]) for row in rows(tmp_path / "run2" / "metrics.csv")]  # steps 1, 10, 20
    assert abs(logged[0]) < 1e-4 < logged[-1]  # zero while the weights are --init's, then the anchor pulls back
    cfg = TrainConfig(synthetic=True, init=str(start / "last"), families="Hotkey", anchor_families="Scroll")
    assert set(evaluate_policy(reference, dataclasses.replace(cfg, eval_episodes=8)).per_family) == {"Hotkey", "Scroll"}
    with pytest.raises(ValueError, match="anchor_families='Scroll' needs --synthetic, --init"):
        TrainConfig(synthetic=True, anchor_families="Scroll")


def test_repeated_families_weight_training_but_not_the_checks():
    env = SyntheticDesktopEnv(version=0, task=["Hotkey", "Hotkey", "Hotkey", "Click"], size=64)
    drawn = [env.reset(seed=s)[1]["task"] for s in range(400)]
    assert 0.68 < drawn.count("Hotkey") / 400 < 0.82  # three draws in four
    cfg = TrainConfig(synthetic=True, preset="tiny", families="Hotkey,Hotkey,Hotkey,Click", eval_episodes=100)
    result = evaluate_policy(VLA(VLAConfig.preset("tiny")), cfg)
    counts = {family: summary["episodes"] for family, summary in result.per_family.items()}
    assert counts.keys() == {"Hotkey", "Click"} and 40 <= counts["Hotkey"] <= 60  # each family once


def test_minvla_train_from_a_dataset_folder(tmp_path):
    from minvla_gym.dataset import collect

    collect("MinVLA-Synthetic-Type-v0", 3, tmp_path / "demos", seed=0, progress=False)
    out = tmp_path / "run"
    assert main(["train", "--data", str(tmp_path / "demos"), *FAST[1:], "--max-iters", "3", "--out", str(out),
                 "--eval-episodes", "0", "--log-interval", "1"]) == 0  # fmt: skip
    losses = rows(out / "metrics.csv")
    assert len(losses) == 3 and float(losses[0]["aux_patch_chars"]) > 0  # element lists reach the reading losses
    assert float(losses[0]["text_start"]) > 0  # Type demos train the span head


def test_a_resumed_run_with_new_columns_keeps_every_value_under_its_name(tmp_path):
    """--resume across a loss-set upgrade: the new loss gets a column; no value lands under another's name."""
    Logger(tmp_path, resume=False).log({"step": 10, "loss": 2.0, "type": 0.5})
    logger = Logger(tmp_path, resume=True)
    logger.log({"step": 20, "loss": 1.5, "aux_patch_word": 3.0, "type": 0.4})  # a new loss, in another order
    logger.log({"step": 30, "loss": 1.2, "type": 0.3})  # one that is missing a column
    with (tmp_path / "metrics.csv").open() as f:
        header = next(csv.reader(f))
    rows = list(csv.DictReader((tmp_path / "metrics.csv").open()))
    assert header == ["step", "loss", "type", "aux_patch_word"]
    assert [(r["step"], r["loss"], r["type"], r["aux_patch_word"]) for r in rows] == [
        ("10", "2.0", "0.5", ""), ("20", "1.5", "0.4", "3.0"), ("30", "1.2", "0.3", "")]  # fmt: skip
    assert Logger(tmp_path, resume=False) and not (tmp_path / "metrics.csv").exists()


def test_the_scroll_breakdown_example_plays_and_charts(tmp_path):
    """examples/scroll_breakdown.py on the shipped checkpoint: every episode grouped, the chart written."""
    png = tmp_path / "breakdown.png"
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    done = subprocess.run([sys.executable, "examples/scroll_breakdown.py", "minvla_gym/checkpoints/small",
                           "--episodes", "6", "--batch", "4", "--png", str(png)],
                          capture_output=True, text=True, timeout=120, check=True, cwd=root)  # fmt: skip
    assert "Scroll, 6 episodes:" in done.stdout and "states with the item wholly visible" in done.stdout
    assert "row px:" in done.stdout and png.stat().st_size > 1000
