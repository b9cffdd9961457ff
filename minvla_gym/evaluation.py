"""Evaluation by success rate: run any policy on an env id, report success overall and per task family.

A policy may be:
  - `"expert"`: the env's scripted expert (`env.unwrapped.expert_action()`);
  - `"random"`: uniform over the flat action space (the VLA's own discretisation), seeded per episode;
  - an object with `act_batch(obs_batch)` (the VLA): called on the stacked observations of every running env;
  - a stable-baselines3 model (has `predict` and a MultiDiscrete `action_space`): its flat actions are
    converted with `minvla_gym.wrappers.flat_to_action`;
  - an object with `act(obs)`, or a plain callable `obs -> action`.

Episode k is `env.reset(seed=seed + k)`, so every policy sees the same tasks, and episodes run in lock-step
over `num_envs` envs (a finished env starts the next episode at once, with manual resets: no autoreset to
reason about). A deterministic policy therefore gets the same result for any `num_envs`. Success is
`info["is_success"]` at the end of the episode; the family is `info["task"]`. An action that fails
validation ends its episode as a failure with the error recorded, instead of ending the evaluation.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from minvla_gym.actions import describe_action, validate_action
from minvla_gym.tokenizer import decode
from minvla_gym.wrappers import DEFAULT_COORD_BINS, flat_nvec, flat_to_action

DEFAULT_ENV_ID = "MinVLA-Synthetic-v1"
SPLITS = ("train", "test")  # the open world's (MinVLA-Synthetic-v1): test words, font and templates held out
Z95 = 1.959963984540054  # standard normal quantile at 0.975
MAX_TILES = 40  # contact-sheet tiles; more become unreadable


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (95% by default); sound at 0% and 100% too."""
    if n <= 0 or not 0 <= successes <= n:
        raise ValueError(f"wilson_interval: need 0 <= successes <= n and n > 0, got successes={successes}, n={n}")
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    # The bounds are exactly 0 and 1 at the extremes; rounding alone would leave them a hair inside.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high


def paired_change_interval(before: Sequence[bool], after: Sequence[bool], z: float = Z95) -> tuple[float, float, float]:
    """Change in success rate between two runs of the same episodes (same seeds), with its 95% interval.

    Only the episodes that flip carry information: with g gained and l lost of n, the change is (g - l) / n and
    its variance ((g + l) / n - change**2) / n (the Wald interval for paired proportions; Newcombe 1998, method 1).
    Returns (change, low, high).
    """
    if len(before) != len(after) or not before:
        raise ValueError(f"paired_change_interval: need two outcome lists of one non-zero length, "
                         f"got {len(before)} and {len(after)}")  # fmt: skip
    n = len(before)
    gained = sum(bool(a) and not bool(b) for b, a in zip(before, after, strict=True))
    lost = sum(bool(b) and not bool(a) for b, a in zip(before, after, strict=True))
    change = (gained - lost) / n
    half = z * math.sqrt(max((gained + lost) / n - change * change, 0.0) / n)
    return change, change - half, change + half


@dataclass
class EpisodeRecord:
    index: int
    seed: int
    task: str
    instruction: str
    success: bool = False
    steps: int = 0
    error: str | None = None  # why the policy's action failed validation, if it did
    split: str | None = None  # info["split"] where the env has splits
    frames: list[np.ndarray] = field(default_factory=list, repr=False)  # screen before each action (kept episodes)
    actions: list[dict[str, Any] | None] = field(default_factory=list, repr=False)  # None: the invalid one


def _summary(records: Sequence[EpisodeRecord]) -> dict[str, Any]:
    successes = sum(r.success for r in records)
    return {
        "success_rate": successes / len(records),
        "ci": wilson_interval(successes, len(records)),
        "episodes": len(records),
        "mean_steps": float(np.mean([r.steps for r in records])),
    }


@dataclass
class EvalResult:
    """Success overall and per family (`per_family[name]` holds success_rate, ci, episodes, mean_steps).

    `mean_steps` counts env steps per episode, failures included.
    """

    env_id: str
    seed: int
    policy: str
    records: list[EpisodeRecord]

    def __post_init__(self):
        overall = _summary(self.records)
        self.success_rate: float = overall["success_rate"]
        self.ci: tuple[float, float] = overall["ci"]
        self.mean_steps: float = overall["mean_steps"]
        families = sorted({r.task for r in self.records})
        self.per_family = {f: _summary([r for r in self.records if r.task == f]) for f in families}
        self.invalid_episodes = sum(r.error is not None for r in self.records)

    @property
    def episodes(self) -> int:
        return len(self.records)

    def to_dict(self) -> dict[str, Any]:
        return {
            "env_id": self.env_id,
            "split": self.records[0].split if self.records else None,
            "seed": self.seed,
            "policy": self.policy,
            "episodes": self.episodes,
            "success_rate": self.success_rate,
            "ci": list(self.ci),
            "mean_steps": self.mean_steps,
            "per_family": {f: s["success_rate"] for f, s in self.per_family.items()},
            "families": {f: {**s, "ci": list(s["ci"])} for f, s in self.per_family.items()},
            "invalid_episodes": self.invalid_episodes,
            "errors": [
                {"episode": r.index, "seed": r.seed, "task": r.task, "error": r.error}
                for r in self.records
                if r.error is not None
            ][:20],
        }

    def table(self) -> str:
        rows = [*self.per_family.items(), ("all", _summary(self.records))]
        width = max(10, *(len(name) for name, _ in rows))
        lines = [f"{'family':<{width}}  {'episodes':>8}  {'success':>8}  {'95% CI':>14}  {'mean steps':>10}"]
        for name, s in rows:
            low, high = s["ci"]
            ci = f"[{100 * low:.1f}, {100 * high:.1f}]"
            lines.append(
                f"{name:<{width}}  {s['episodes']:>8}  {100 * s['success_rate']:>7.1f}%  {ci:>14}  {s['mean_steps']:>10.2f}"
            )
        if self.invalid_episodes:
            first = next(r.error for r in self.records if r.error is not None)
            lines.append(f"{self.invalid_episodes} episode(s) ended on an invalid action; first: {first}")
        return "\n".join(lines)


# ---------------------------------------------------------------- policies


@dataclass
class _Slot:
    """One env and the episode running in it."""

    env: gym.Env
    obs: dict[str, np.ndarray]
    record: EpisodeRecord
    rng: np.random.Generator  # per episode, for the "random" policy: independent of batching


Act = Callable[[list[_Slot]], list[Any]]  # raw policy outputs, one per slot
Convert = Callable[[Any, dict[str, np.ndarray]], dict[str, Any]]  # raw output, obs -> validated action


def _stack(observations: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {key: np.stack([obs[key] for obs in observations]) for key in observations[0]}


def _unbatch(output: Any, n: int) -> list[Any]:
    """`act_batch` may return a list of actions or a dict of batched fields."""
    if isinstance(output, Mapping):
        output = [{key: value[i] for key, value in output.items()} for i in range(n)]
    output = list(output)
    if len(output) != n:
        raise ValueError(f"act_batch returned {len(output)} actions for a batch of {n} observations")
    return output


def _adapt(policy: Any, env: gym.Env) -> tuple[Act, Convert, str]:
    """Turn any supported policy into a batched `act` over slots, a converter to actions, and a name."""

    def validate(raw, obs):
        return validate_action(raw)

    if isinstance(policy, str):
        if policy == "expert":
            if not hasattr(env.unwrapped, "expert_action"):
                raise ValueError(f"policy 'expert': {env.spec.id if env.spec else env} has no scripted expert")
            return (lambda slots: [s.env.unwrapped.expert_action() for s in slots]), validate, "expert"
        if policy == "random":
            tokens = env.observation_space["instruction"].shape[0]
            nvec = flat_nvec(tokens, DEFAULT_COORD_BINS)
            return (
                (lambda slots: [s.rng.integers(nvec) for s in slots]),
                lambda raw, obs: flat_to_action(raw, obs["instruction"], DEFAULT_COORD_BINS),
                "random",
            )
        raise ValueError(f"policy {policy!r}: the only named policies are 'expert' and 'random'")
    name = getattr(policy, "__name__", type(policy).__name__)
    if hasattr(policy, "act_batch"):
        return (lambda slots: _unbatch(policy.act_batch(_stack([s.obs for s in slots])), len(slots))), validate, name
    if hasattr(policy, "predict") and hasattr(getattr(policy, "action_space", None), "nvec"):
        return _adapt_sb3(policy, env) + (name,)
    if hasattr(policy, "act"):
        return (lambda slots: [policy.act(s.obs) for s in slots]), validate, name
    if callable(policy):
        return (lambda slots: [policy(s.obs) for s in slots]), validate, name
    raise ValueError(
        f"policy of type {type(policy).__name__}: expected 'expert', 'random', an object with act_batch(obs_batch), "
        "a stable-baselines3 model, an object with act(obs), or a callable obs -> action"
    )


def _adapt_sb3(model: Any, env: gym.Env) -> tuple[Act, Convert]:
    """A stable-baselines3 model trained on FlatActionWrapper: flat MultiDiscrete -> the one action space."""
    nvec = np.asarray(model.action_space.nvec).reshape(-1)
    tokens = env.observation_space["instruction"].shape[0]
    coord_bins = int(nvec[1]) if nvec.size > 1 else 0
    if coord_bins < 1 or not np.array_equal(nvec, flat_nvec(tokens, coord_bins)):
        raise ValueError(
            f"stable-baselines3 model: action space MultiDiscrete({nvec.tolist()}) is not FlatActionWrapper's "
            f"layout for {tokens} instruction tokens"
        )

    def act(slots):
        flat, _ = model.predict(_stack([s.obs for s in slots]), deterministic=True)
        return list(np.asarray(flat).reshape(len(slots), -1))

    return act, lambda raw, obs: flat_to_action(raw, obs["instruction"], coord_bins)


# ---------------------------------------------------------------- the loop


def evaluate(
    policy: Any,
    env_id: str = DEFAULT_ENV_ID,
    episodes: int = 100,
    seed: int = 0,
    *,
    env_kwargs: dict[str, Any] | None = None,
    num_envs: int = 1,
    keep_frames: int = 0,
    progress: bool = True,
) -> EvalResult:
    """Run `episodes` episodes of `policy` (see the module docstring) and measure its success.

    Args:
        policy: "expert", "random", a VLA (`act_batch`), an SB3 model, an object with `act`, or a callable.
        env_id: a registered id; `env_kwargs` go to `gym.make`.
        episodes: number of episodes; episode k is reset with seed `seed + k`.
        num_envs: envs stepped in lock-step, so a batched policy sees up to this many observations per call.
        keep_frames: keep the screenshots and actions of the first N episodes (for `contact_sheet`).
        progress: show a progress bar on stderr.
    """
    for label, value, low in (("episodes", episodes, 1), ("num_envs", num_envs, 1), ("keep_frames", keep_frames, 0)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"evaluate: {label} must be an int >= {low}, got {value!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"evaluate: seed must be an int >= 0, got {seed!r}")
    from tqdm.auto import tqdm

    envs = [gym.make(env_id, **(env_kwargs or {})) for _ in range(min(num_envs, episodes))]
    try:
        if envs[0].spec is None or envs[0].spec.max_episode_steps is None:
            # Without a time limit a policy that never finishes would hang the evaluation.
            raise ValueError(f"{env_id} has no max_episode_steps: pass env_kwargs={{'max_episode_steps': N}}")
        act, convert, name = _adapt(policy, envs[0])
        records: list[EpisodeRecord] = []
        next_episode = 0

        def start(env: gym.Env) -> _Slot:
            nonlocal next_episode
            k, next_episode = next_episode, next_episode + 1
            obs, info = env.reset(seed=seed + k)
            instruction = info.get("instruction") or decode(obs["instruction"])
            record = EpisodeRecord(k, seed + k, str(info.get("task", env_id)), instruction, split=info.get("split"))
            records.append(record)
            return _Slot(env, obs, record, np.random.default_rng([seed, k]))

        slots = [start(env) for env in envs]
        with tqdm(total=episodes, desc=f"eval {name}", unit="episode", disable=not progress, file=sys.stderr) as bar:
            while slots:
                running = []
                for slot, raw in zip(slots, act(slots), strict=True):
                    if _step(slot, raw, convert, keep=slot.record.index < keep_frames):
                        running.append(slot)
                    else:
                        bar.update()
                        if next_episode < episodes:
                            running.append(start(slot.env))
                slots = running
    finally:
        for env in envs:
            env.close()
    return EvalResult(env_id, seed, name, sorted(records, key=lambda r: r.index))


def evaluate_by_family(
    policy: Any,
    episodes: int = 100,
    seed: int = 0,
    *,
    env_id: str = DEFAULT_ENV_ID,
    families: Sequence[str] | None = None,
    env_kwargs: dict[str, Any] | None = None,
    num_envs: int = 16,
    keep_frames: int = 0,
    progress: bool = False,
) -> dict[str, EvalResult]:
    """`evaluate` on each family's own env (`MinVLA-Synthetic-<Family>-v1` for the mixed `env_id`
    `MinVLA-Synthetic-v1`), `episodes` each from `seed`.

    Every family gets the same number of episodes (on the mixed env a family's count is itself random), and
    two policies evaluated so see the same episodes: compare them per family with `paired_change_interval`.
    """
    from minvla_gym.envs.synthetic.tasks import FAMILIES

    prefix, version = env_id.rsplit("-", 1)
    if prefix != "MinVLA-Synthetic":
        raise ValueError(f"evaluate_by_family: {env_id!r} is not a mixed synthetic id such as MinVLA-Synthetic-v1")
    kwargs = {"env_kwargs": env_kwargs, "num_envs": num_envs, "keep_frames": keep_frames, "progress": progress}
    return {
        family: evaluate(policy, f"{prefix}-{family}-{version}", episodes, seed, **kwargs)
        for family in families or FAMILIES
    }


def has_splits(env_id: str) -> bool:
    """Whether `gym.make(env_id, split=...)` takes a split: the synthetic env's open world (v1 on)."""
    spec = gym.spec(env_id)
    return spec.entry_point == "minvla_gym.envs.synthetic:SyntheticDesktopEnv" and spec.kwargs.get("version", 1) >= 1


def evaluate_splits(
    policy: Any,
    env_id: str = DEFAULT_ENV_ID,
    episodes: int = 100,
    seed: int = 0,
    *,
    splits: Sequence[str] = SPLITS,
    per_family: bool = False,
    env_kwargs: dict[str, Any] | None = None,
    **kwargs,
) -> dict[str, EvalResult]:
    """The policy on each split of `env_id`, the same seeds in each: how far it generalises to what it never
    trained on (the test split's words, font face and templates), the way Procgen reports train and test levels.

    With `per_family`, each family's own env plays `episodes` (see `evaluate_by_family`) and each split's
    result holds them all. `kwargs` go to `evaluate`. Print the results side by side with `splits_table`.
    """
    if not has_splits(env_id):
        raise ValueError(f"{env_id} has no splits; MinVLA-Synthetic-v1 and its family ids have")
    unknown = [s for s in splits if s not in SPLITS]
    if unknown or not splits:
        raise ValueError(f"splits must be some of {SPLITS}, got {list(splits)}")
    results = {}
    for split in splits:
        split_kwargs = {**(env_kwargs or {}), "split": split}
        if per_family:
            parts = evaluate_by_family(policy, episodes, seed, env_id=env_id, env_kwargs=split_kwargs, **kwargs)
            name = next(iter(parts.values())).policy
            results[split] = EvalResult(env_id, seed, name, [r for part in parts.values() for r in part.records])
        else:
            results[split] = evaluate(policy, env_id, episodes, seed, env_kwargs=split_kwargs, **kwargs)
    return results


def splits_table(results: dict[str, EvalResult]) -> str:
    """Success per family and overall, one column per split, and the gap between the first two."""
    splits = list(results)
    families = sorted({f for r in results.values() for f in r.per_family})
    stats = {s: {**r.per_family, "all": _summary(r.records)} for s, r in results.items()}
    width = max(10, *(len(f) for f in families))
    header = f"{'family':<{width}}" + "".join(f"  {s + ' [95% CI]':>24}" for s in splits)
    header += f"  {'gap':>6}" if len(splits) > 1 else ""
    lines = [header]
    for family in [*families, "all"]:
        line = f"{family:<{width}}"
        for s in splits:
            cell = stats[s].get(family)
            text = (
                "-"
                if cell is None
                else f"{100 * cell['success_rate']:.1f}% [{100 * cell['ci'][0]:.1f}, {100 * cell['ci'][1]:.1f}]"
            )
            line += f"  {text:>24}"
        if len(splits) > 1 and all(family in stats[s] for s in splits[:2]):
            line += f"  {100 * (stats[splits[0]][family]['success_rate'] - stats[splits[1]][family]['success_rate']):>+6.1f}"
        lines.append(line)
    return "\n".join(lines)


def _step(slot: _Slot, raw: Any, convert: Convert, keep: bool) -> bool:
    """Apply one policy output to a slot's env; returns whether its episode goes on."""
    record = slot.record
    try:
        action = convert(raw, slot.obs)
    except ValueError as error:
        action, record.error = None, f"{type(error).__name__}: {error}"
    if keep:
        record.frames.append(slot.obs["image"])
        record.actions.append(action)
    if action is None:
        return False
    slot.obs, _, terminated, truncated, info = slot.env.step(action)
    record.steps += 1
    record.success = bool(info.get("is_success", False))
    record.task = str(info.get("task", record.task))
    return not (terminated or truncated)


# ---------------------------------------------------------------- pictures


def plot_per_family(result: EvalResult, path: str | Path) -> Path:
    """Bar chart of success by family (and overall) with 95% Wilson intervals as error bars; saves a PNG."""
    from matplotlib.figure import Figure  # no pyplot: leaves the user's backend alone

    names = [*result.per_family, "all"]
    stats = [*result.per_family.values(), _summary(result.records)]
    rates = np.array([100 * s["success_rate"] for s in stats])
    errors = np.clip(
        [[r - 100 * s["ci"][0], 100 * s["ci"][1] - r] for r, s in zip(rates, stats, strict=True)], 0, None
    ).T
    fig = Figure(figsize=(max(4.0, 0.8 * len(names) + 1.5), 3.6), layout="constrained")
    ax = fig.subplots()
    colours = ["tab:blue"] * (len(names) - 1) + ["tab:gray"]
    ax.bar(names, rates, yerr=errors, capsize=4, color=colours)
    for i, (rate, s) in enumerate(zip(rates, stats, strict=True)):  # above the error bar, so a 0% bar keeps its label
        ax.text(i, 100 * s["ci"][1] + 1.5, f"{rate:.0f}%\nn={s['episodes']}", ha="center", va="bottom", fontsize=7)
    ax.set_ylim(0, 118)
    ax.set_yticks(range(0, 101, 20))
    ax.set_ylabel("success (%), 95% Wilson CI")
    split = f" ({result.records[0].split} split)" if result.records and result.records[0].split else ""
    title = f"{result.policy} on {result.env_id}{split}: {result.episodes} episodes, seed {result.seed}"
    ax.set_title(textwrap.fill(title, 60), fontsize=8)
    ax.tick_params(axis="x", labelrotation=30, labelsize=8)
    fig.savefig(path, dpi=120)
    return Path(path)


def contact_sheet(result: EvalResult, path: str | Path, columns: int = 4) -> Path:
    """A grid of the kept episodes' screenshots, the policy's action drawn on each, captioned; saves a PNG."""
    from matplotlib.figure import Figure

    from minvla_gym.envs.synthetic.env import draw_action

    tiles = [(r, i) for r in result.records for i in range(len(r.frames))][:MAX_TILES]
    if not tiles:
        raise ValueError("contact_sheet: no frames were kept; evaluate with keep_frames > 0")
    columns = min(columns, len(tiles))
    rows = math.ceil(len(tiles) / columns)
    fig = Figure(figsize=(2.6 * columns, 3.1 * rows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, columns)).reshape(-1)
    for ax in axes:
        ax.set_axis_off()
    for ax, (record, i) in zip(axes, tiles, strict=False):  # spare axes stay blank
        action = record.actions[i]
        ax.imshow(draw_action(record.frames[i].copy(), action) if action is not None else record.frames[i])
        outcome = "SUCCESS" if record.success else "FAILURE"
        caption = f"#{record.index} {record.task} step {i + 1}/{len(record.frames)}: {outcome}\n"
        caption += record.instruction + "\n"
        caption += describe_action(action) if action is not None else f"invalid: {record.error}"
        ax.set_title(
            "\n".join(textwrap.fill(textwrap.shorten(line, 80), 40) for line in caption.split("\n")),
            fontsize=6.5,
            color="tab:green" if record.success else "tab:red",
        )
    fig.savefig(path, dpi=110, bbox_inches="tight", pad_inches=0.1)  # keeps long captions whole
    return Path(path)


# ---------------------------------------------------------------- command line


def configure_cli(parser: argparse.ArgumentParser) -> None:
    from minvla_gym.cli import DEVICE_HELP

    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--model", metavar="DIR", help="a checkpoint or run folder (minvla train --out: its best/, "
                     "else last/), or small: the shipped VLA")  # fmt: skip
    who.add_argument("--expert", action="store_true", help="the env's scripted expert (should score 100%%)")
    who.add_argument("--random", action="store_true", help="a uniformly random policy, seeded: the chance baseline")
    parser.add_argument("--env", default=DEFAULT_ENV_ID, metavar="ID", help="env id")
    parser.add_argument(
        "--episodes", type=int, default=100, metavar="N", help="episodes (per family with --per-family)"
    )
    parser.add_argument("--split", choices=("train", "test", "both"), default="both",
                        help="on an env with splits (MinVLA-Synthetic-v1): which to play; both: side by side")  # fmt: skip
    parser.add_argument("--per-family", action="store_true",
                        help="play each family's own env for --episodes (synthetic ids): every family as many")  # fmt: skip
    parser.add_argument("--seed", type=int, default=0, metavar="S", help="episode k uses seed S+k")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="folder for eval.json and the PNGs (default: --json's folder, else runs/eval)")  # fmt: skip
    parser.add_argument("--json", type=Path, metavar="FILE", help="results JSON (default: OUT/eval.json)")
    parser.add_argument("--num-envs", type=int, default=8, metavar="N", help="envs stepped in lock-step")
    parser.add_argument("--device", default="auto", help=DEVICE_HELP)
    parser.add_argument(
        "--size", type=int, metavar="PX", help="screen size for the env (default: the model's, else the env's)"
    )
    parser.add_argument("--keep", type=int, default=12, metavar="N", help="episodes on the contact sheet")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--yes", action="store_true", help="on a real-desktop env id: act without asking first")
    parser.add_argument("--dry-run", action="store_true", help="on a real-desktop env id: decide, perform nothing")
    parser.set_defaults(func=run_cli)


def run_cli(args: argparse.Namespace) -> int:
    from minvla_gym.envs.desktop.run import acts_on_the_real_screen, may_act

    out = args.out or (args.json.parent if args.json else Path("runs/eval"))
    json_path = args.json or out / "eval.json"
    if args.episodes < 1 or args.num_envs < 1 or args.keep < 0 or args.seed < 0:
        raise ValueError(f"--episodes and --num-envs must be >= 1, --keep and --seed >= 0; got {args.episodes}, "
                         f"{args.num_envs}, {args.keep}, {args.seed}")  # fmt: skip
    if args.size is not None and args.size < 1:
        raise ValueError(f"--size must be a positive number of pixels, got {args.size}")
    for folder in {out, json_path.parent}:  # before the evaluation, not after it
        folder.mkdir(parents=True, exist_ok=True)
        if not os.access(folder, os.W_OK):
            raise ValueError(f"{folder}: not writable")
    if json_path.is_dir():
        raise ValueError(f"--json {json_path}: is a folder")
    env_kwargs = {"dry_run": True} if args.dry_run and acts_on_the_real_screen(args.env) else {}
    if args.expert or args.random:
        policy = "expert" if args.expert else "random"
    else:
        from minvla_gym.policies.model import VLA, resolve_device

        policy = VLA.from_pretrained(args.model, device=resolve_device(args.device), announce=True)
    size = args.size
    if size is None and args.model:
        size = policy.config.image_size  # the VLA sees exactly the screen size it was trained on
    if size is not None:
        env_kwargs["size"] = size
    if not may_act(args.env, f"evaluating {args.model or policy}", args.yes, args.dry_run):
        return 1
    kwargs = {"env_kwargs": env_kwargs, "num_envs": args.num_envs, "keep_frames": args.keep, "progress": not args.quiet}
    if has_splits(args.env):
        splits = SPLITS if args.split == "both" else (args.split,)
        results = evaluate_splits(policy, args.env, args.episodes, args.seed, splits=splits,
                                  per_family=args.per_family, **kwargs)  # fmt: skip
    elif args.per_family:
        parts = evaluate_by_family(policy, args.episodes, args.seed, env_id=args.env, **kwargs)
        records = [r for part in parts.values() for r in part.records]
        results = {"": EvalResult(args.env, args.seed, next(iter(parts.values())).policy, records)}
    else:
        results = {"": evaluate(policy, args.env, args.episodes, args.seed, **kwargs)}
    for result in results.values():
        if args.model:
            result.policy = str(args.model)
    if len(results) > 1:  # side by side
        print(splits_table(results))
        report = {"splits": {split: r.to_dict() for split, r in results.items()}}
    else:
        print(next(iter(results.values())).table())
        report = next(iter(results.values())).to_dict()
    json_path.write_text(json.dumps(report, indent=2) + "\n")
    written = [json_path]
    for split, result in results.items():
        suffix = f"_{split}" if len(results) > 1 else ""
        written.append(plot_per_family(result, out / f"success_by_family{suffix}.png"))
        if args.keep > 0:
            written.append(contact_sheet(result, out / f"contact_sheet{suffix}.png"))
    print("wrote " + ", ".join(map(str, written)))
    return 0
