"""PPO fine-tuning of a VLA checkpoint with stable-baselines3 (`minvla finetune`).

    minvla finetune --model runs/train --env MinVLA-Synthetic-Drag-v0 --timesteps 20000 --out runs/drag-ppo
    minvla eval --model runs/drag-ppo --env MinVLA-Synthetic-v0 --episodes 200

PPO with `VLAPolicy` (the checkpoint's trunk and action heads, plus a value head) over --n-envs envs wrapped
with FlatActionWrapper (SubprocVecEnv, or DummyVecEnv with --vec-env dummy). SB3's EvalCallback measures
success (`info["is_success"]`) every --eval-freq steps; rollout and eval success rates, losses and KL go to
TensorBoard. --resume continues from the newest checkpoint under --out, up to --timesteps in all; an --out that
holds a run is refused without it.

--bc-steps N interleaves N supervised steps on synthetic expert screens after each PPO update, so the policy
gradient of the family being fine-tuned cannot quietly undo what behaviour cloning taught the others. With
--bc-target expert (the default) they fit the expert's actions, as InstructGPT's PPO-ptx mixes pretraining
gradients into PPO; with --bc-target start they fit the starting VLA's own action distribution (a KL anchor),
which holds the policy still there. --bc-families others draws them from the families no --env runs.

A run folder (--out), laid out as `minvla train`'s:
    train_config.json                the arguments of the run
    last/                            the fine-tuned VLA, refreshed at every checkpoint
    best/                            the VLA with the best evaluated success rate so far
    eval.csv                         success at each evaluation (and evaluations.npz, EvalCallback's own log)
    checkpoints/ppo_<N>_steps.zip    SB3 models (policy, value head, optimizer) for --resume
    tb/                              TensorBoard logs
`minvla eval --model OUT` takes best/ (else last/).
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import re
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback, CallbackList, EvalCallback
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv
from tqdm.auto import tqdm

from minvla_gym.cli import DEVICE_HELP
from minvla_gym.envs.synthetic.tasks import FAMILIES
from minvla_gym.policies.data import SEED_OFFSET, SyntheticBatches
from minvla_gym.policies.model import VLA, VLAConfig, action_kl, find_checkpoint, resolve_device
from minvla_gym.policies.sb3 import coord_bins_for, export_vla, make_ppo
from minvla_gym.policies.train import Logger, ProgressBar, add_arguments, prepare_run
from minvla_gym.registration import SYNTHETIC_ENTRY_POINT
from minvla_gym.wrappers import FlatActionWrapper

CHECKPOINT = re.compile(r"ppo_(\d+)_steps\.zip")


@dataclass
class FinetuneConfig:
    model: str | None = field(
        default=None, metadata={"help": "VLA to start from: a checkpoint or run folder, or small", "exclusive": "start"}
    )
    env: str = field(
        default="MinVLA-Synthetic-v0", metadata={"help": "env id to fine-tune on (several, comma-separated: a mix)"}
    )
    timesteps: int = field(default=20_000, metadata={"help": "env steps in all (a resumed run counts its own)"})
    minutes: float = field(default=0.0, metadata={"help": "also stop after this many minutes of learning (0: off)"})
    out: str = field(default="runs/finetune", metadata={"help": "run folder: the VLA, checkpoints, logs"})
    n_envs: int = field(default=4, metadata={"help": "parallel envs"})
    seed: int = field(default=0, metadata={"help": "seed of PPO and the envs"})
    resume: bool = field(
        default=False, metadata={"help": "continue from the newest OUT/checkpoints/ppo_*.zip", "exclusive": "start"}
    )
    device: str = field(default="auto", metadata={"help": DEVICE_HELP})
    vec_env: str = field(default="subproc", metadata={"help": "subproc (a process per env) or dummy (in-process)"})
    lr: float = field(default=3e-5, metadata={"help": "Adam learning rate (small: the VLA is pretrained)"})
    n_steps: int = field(default=64, metadata={"help": "steps per env per rollout"})
    batch_size: int = field(default=64, metadata={"help": "PPO minibatch size"})
    n_epochs: int = field(default=4, metadata={"help": "PPO epochs per rollout"})
    gamma: float = field(default=0.95, metadata={"help": "discount (episodes take a few steps)"})
    clip_range: float = field(default=0.1, metadata={"help": "PPO clip range"})
    ent_coef: float = field(default=0.0, metadata={"help": "entropy bonus"})
    target_kl: float = field(default=0.05, metadata={"help": "stop an update's epochs beyond this KL (0: off)"})
    trainable: str = field(
        default="all",
        metadata={"help": "VLA parameters to update: all, or comma-separated name prefixes (e.g. scroll_head); "
                  "the rest stay frozen"},
    )  # fmt: skip
    bc_steps: int = field(
        default=0, metadata={"help": "behaviour-cloning steps on the synthetic expert after each PPO update (0: off)"}
    )
    bc_batch_size: int = field(default=16, metadata={"help": "samples per behaviour-cloning step"})
    bc_lr: float = field(default=0.0, metadata={"help": "learning rate of the behaviour-cloning steps (0: PPO's --lr)"})
    bc_target: str = field(
        default="expert",
        metadata={"help": "what those steps fit: expert (its actions) or start (a KL anchor to the starting VLA's "
                  "action distribution)"},
    )  # fmt: skip
    bc_families: str = field(
        default="all",
        metadata={"help": "families of those steps: all, others (those no --env runs), or comma-separated names"},
    )
    eval_freq: int = field(default=0, metadata={"help": "evaluate every N env steps (0: five times per run)"})
    eval_episodes: int = field(default=50, metadata={"help": "episodes per evaluation (0: no evaluation)"})
    checkpoint_freq: int = field(default=0, metadata={"help": "checkpoint every N env steps (0: five per run)"})
    threads: int = field(default=0, metadata={"help": "torch CPU threads (0: torch's default)"})
    progress: bool = field(default=True, metadata={"help": "show a progress bar"})

    def __post_init__(self):
        problems = []
        if self.resume == (self.model is not None):
            problems.append("give exactly one of --model DIR or --resume")
        for name in ("timesteps", "n_envs", "n_steps", "batch_size", "n_epochs"):
            if getattr(self, name) < 1:
                problems.append(f"{name}={getattr(self, name)} must be >= 1")
        if self.bc_batch_size < 1:
            problems.append(f"bc_batch_size={self.bc_batch_size} must be >= 1")
        for name in ("eval_freq", "eval_episodes", "checkpoint_freq", "threads", "ent_coef", "target_kl", "minutes",
                     "bc_steps", "bc_lr"):  # fmt: skip
            if getattr(self, name) < 0:
                problems.append(f"{name}={getattr(self, name)} must be >= 0")
        self.bc_lr = self.bc_lr or self.lr  # 0: the rehearsal steps at PPO's learning rate
        if self.bc_target not in ("expert", "start"):
            problems.append(f"bc_target={self.bc_target!r} must be expert or start")
        if self.lr <= 0 or not 0 < self.gamma <= 1 or self.clip_range <= 0:
            problems.append(f"lr={self.lr} and clip_range={self.clip_range} must be > 0, gamma={self.gamma} in (0, 1]")
        if self.vec_env not in ("subproc", "dummy"):
            problems.append(f"vec_env={self.vec_env!r} must be subproc or dummy")
        unknown = [env_id for env_id in self.env.split(",") if env_id not in gym.registry]
        if unknown:
            problems.append(f"env={unknown} is not a registered id (import minvla_gym registers ours)")
        elif self.bc_steps and self.bc_families == "others" and not self.rehearsal_families():
            problems.append(f"bc_families=others: the envs {self.env} run every family, so no other is left")
        unknown = set(self.bc_families.split(",")) - set(FAMILIES) if self.bc_families not in ("all", "others") else ()
        if unknown:
            problems.append(f"bc_families: unknown families {sorted(unknown)}; expected some of {list(FAMILIES)}")
        if problems:
            raise ValueError("invalid finetune arguments: " + "; ".join(problems))

    def rehearsal_families(self) -> list[str] | None:
        """The families of the rehearsal steps (None: every family)."""
        if self.bc_families == "all":
            return None
        if self.bc_families == "others":
            return [family for family in FAMILIES if family not in trained_families(self.env)]
        return self.bc_families.split(",")


def make_envs(env_id: str, config: VLAConfig, n_envs: int, seed: int, subproc: bool = False):
    """n_envs Monitor-wrapped envs at the VLA's screen size, with its flat action space (CleanRL's make_env).

    `env_id` may name several ids, comma-separated: env i runs id i % len(ids), so "MinVLA-Synthetic-Type-v0,
    MinVLA-Synthetic-v0" with 4 envs trains half on Type and half on every family.
    """
    ids = env_id.split(",")

    def make(rank: int):
        def thunk():
            env = Monitor(gym.make(ids[rank % len(ids)], size=config.image_size))
            return FlatActionWrapper(env, coord_bins=coord_bins_for(config))

        return thunk

    envs = (SubprocVecEnv if subproc and n_envs > 1 else DummyVecEnv)([make(i) for i in range(n_envs)])
    envs.seed(seed)  # env i gets seed + i
    return envs


class Progress(BaseCallback):
    """`minvla train`'s bar (SB3's own needs `rich`): env steps up to --timesteps, or minutes with --minutes."""

    def __init__(self, minutes: float):
        super().__init__()
        self.minutes = minutes

    def _on_training_start(self) -> None:
        self.start = time.time()
        self.bar = ProgressBar(self.locals["total_timesteps"], self.model.num_timesteps, self.minutes, 0.0, "ppo",
                               unit="env step")  # fmt: skip

    def _on_step(self) -> bool:
        self.bar.advance(self.model.num_timesteps, (time.time() - self.start) / 60)
        return True

    def _on_training_end(self) -> None:
        self.bar.close()


class TimeBudget(BaseCallback):
    """Stop learning once `seconds` of wall time have passed (checked every env step)."""

    def __init__(self, seconds: float):
        super().__init__()
        self.seconds = seconds

    def _on_training_start(self) -> None:
        self.deadline = time.time() + self.seconds

    def _on_step(self) -> bool:
        return time.time() < self.deadline


def trained_families(env_ids: str) -> set[str]:
    """The task families that comma-separated synthetic env ids run, as their registration says (no task: all)."""
    families = set()
    for env_id in env_ids.split(","):
        spec = gym.spec(env_id)
        if spec.entry_point == SYNTHETIC_ENTRY_POINT:
            task = spec.kwargs.get("task")
            families |= set(FAMILIES) if task is None else {task} if isinstance(task, str) else set(task)
    return families


class Rehearsal(BaseCallback):
    """After each PPO update, `steps` supervised steps (AdamW at `lr`, gradients clipped to 1) on fresh synthetic
    expert batches of `families` (None: every family), on the parameters PPO trains. Expert episodes use seeds
    >= 2**62 (`SyntheticBatches`), never an evaluation seed. What the steps fit, `target`:

    "expert": the VLA's own behaviour-cloning loss on the expert's actions (InstructGPT's PPO-ptx).
    "start": `action_kl` to the VLA as it was when learning began (a frozen copy), which holds the policy where
        it was on those screens. Fitting the expert instead moves the policy towards the expert there too, which
        can cost a family that the starting policy did better than its last behaviour cloning.
    """

    def __init__(self, steps: int, batch_size: int, lr: float, seed: int, target: str = "expert",
                 families: list[str] | None = None):  # fmt: skip
        super().__init__()
        if target not in ("expert", "start"):
            raise ValueError(f"Rehearsal: target={target!r} must be 'expert' or 'start'")
        self.steps, self.batch_size, self.lr, self.seed = steps, batch_size, lr, seed
        self.target, self.families = target, families

    def _on_training_start(self) -> None:
        vla = self.model.policy.vla
        self.batches = SyntheticBatches(self.batch_size, vla.config.grid, self.seed, size=vla.config.image_size,
                                        families=self.families)  # fmt: skip
        self.parameters = [p for p in vla.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(self.parameters, lr=self.lr, weight_decay=0.0)
        self.start, self.batch_index = self.model.num_timesteps, self.model.num_timesteps  # resumes draw anew
        if self.target == "start":  # a resumed run holds on to where it resumed
            self.reference = copy.deepcopy(vla).eval().requires_grad_(False)

    def _on_rollout_start(self) -> None:  # SB3 calls this after each update (and before the first rollout)
        if self.model.num_timesteps == self.start:
            return
        vla, device = self.model.policy.vla, self.model.device
        vla.train()
        for _ in range(self.steps):
            batch = {k: v.to(device) for k, v in self.batches[self.batch_index].items()}
            self.batch_index += 1
            if self.target == "expert":
                loss = vla(batch["image"], batch["instruction"], batch)[1]
            else:
                with torch.no_grad():
                    reference = self.reference(batch["image"], batch["instruction"], reading=False)[0]
                loss = action_kl(vla(batch["image"], batch["instruction"], reading=False)[0], reference)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.parameters, 1.0)
            self.optimizer.step()
        vla.eval()
        self.logger.record("train/bc_loss" if self.target == "expert" else "train/anchor_kl", loss.item())

    def _on_step(self) -> bool:
        return True


class Checkpoint(BaseCallback):
    """Every `every` calls: the SB3 model under OUT/checkpoints (for --resume), the VLA in OUT."""

    def __init__(self, out: Path, every: int):
        super().__init__()
        self.out, self.every = out, every

    def _on_step(self) -> bool:
        if self.n_calls % self.every == 0:
            save(self.model, self.out)
        return True


class ExportBest(BaseCallback):
    """EvalCallback's callback_on_new_best: export the VLA to OUT/best."""

    def __init__(self, directory: Path):
        super().__init__()
        self.directory = directory

    def _on_step(self) -> bool:
        export_vla(self.model, self.directory)
        return True


class EvalLog(BaseCallback):
    """EvalCallback's callback_after_eval: record (timesteps, success rate), append it to eval.csv, print it."""

    def __init__(self, history: list[tuple[int, float]], logger: Logger):
        super().__init__()
        self.history, self.csv, self.start = history, logger, time.time()

    def _on_step(self) -> bool:
        successes = self.parent._is_success_buffer
        rate = float(np.mean(successes)) if successes else float("nan")
        self.history.append((self.num_timesteps, rate))
        self.csv.log_eval({"step": self.num_timesteps, "minutes": round((time.time() - self.start) / 60, 3),
                           "success_rate": rate})  # fmt: skip
        tqdm.write(
            f"eval at {self.num_timesteps} steps: success {100 * rate:.1f}% ({len(successes)} episodes)",
            file=sys.stderr,
        )
        return True


def save(model: PPO, out: Path) -> None:
    (out / "checkpoints").mkdir(parents=True, exist_ok=True)
    model.save(out / "checkpoints" / f"ppo_{model.num_timesteps}_steps.zip")
    export_vla(model, out / "last")


def latest_checkpoint(out: Path) -> Path:
    found = [
        (int(m.group(1)), p) for p in (out / "checkpoints").glob("ppo_*_steps.zip") if (m := CHECKPOINT.match(p.name))
    ]
    if not found:
        raise ValueError(f"--resume: no checkpoints/ppo_<N>_steps.zip under {out}")
    return max(found)[1]


def finetune(cfg: FinetuneConfig) -> dict[str, Any]:
    """Run PPO as configured; returns a summary (timesteps, steps/s, evaluations, paths)."""
    out = Path(cfg.out)
    device = resolve_device(cfg.device)
    start_from = out / "last" if cfg.resume else find_checkpoint(cfg.model, announce=True)
    prepare_run(out, cfg.resume, out / "checkpoints")
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    # The VLA's config fixes the screen size and the flat action space; a resumed run reads it from OUT/last.
    vla = VLA.from_checkpoint(start_from)
    (out / "train_config.json").write_text(json.dumps(dataclasses.asdict(cfg), indent=2) + "\n")
    # Training tasks from seeds >= 2**62, as behaviour cloning's: never the small seeds evaluation uses.
    envs = make_envs(cfg.env, vla.config, cfg.n_envs, SEED_OFFSET + cfg.seed, subproc=cfg.vec_env == "subproc")
    ppo = dict(learning_rate=cfg.lr, n_steps=cfg.n_steps, batch_size=cfg.batch_size, n_epochs=cfg.n_epochs,
               gamma=cfg.gamma, clip_range=cfg.clip_range, ent_coef=cfg.ent_coef, target_kl=cfg.target_kl or None)  # fmt: skip
    if cfg.resume:
        model = PPO.load(
            latest_checkpoint(out),
            env=envs,
            device=device,
            custom_objects={**ppo, "tensorboard_log": str(out / "tb")},
        )
        envs.seed(SEED_OFFSET + cfg.seed + model.num_timesteps)  # a fresh stream of tasks, not a replay of the first
    else:
        model = make_ppo(envs, vla, seed=cfg.seed, device=device, tensorboard_log=str(out / "tb"),
                         policy_kwargs={"trainable": cfg.trainable}, **ppo)  # fmt: skip
        save(model, out)  # OUT/last is a readable VLA checkpoint from the start
    remaining = cfg.timesteps - model.num_timesteps
    callbacks: list[BaseCallback] = [Checkpoint(out, max(1, (cfg.checkpoint_freq or cfg.timesteps // 5) // cfg.n_envs))]
    history: list[tuple[int, float]] = []
    if cfg.eval_episodes:
        eval_env = make_envs(cfg.env.split(",")[0], vla.config, 1, cfg.seed + 1_000_000)  # the first id
        after = EvalLog(history, Logger(out, resume=cfg.resume, tensorboard=False))  # SB3 writes tb/
        callbacks.append(EvalCallback(eval_env, callback_on_new_best=ExportBest(out / "best"), callback_after_eval=after,
                                      n_eval_episodes=cfg.eval_episodes, log_path=str(out), verbose=0,
                                      eval_freq=max(1, (cfg.eval_freq or cfg.timesteps // 5) // cfg.n_envs)))  # fmt: skip
    if cfg.bc_steps:
        callbacks.append(Rehearsal(cfg.bc_steps, cfg.bc_batch_size, cfg.bc_lr, cfg.seed, cfg.bc_target,
                                   cfg.rehearsal_families()))  # fmt: skip
    if cfg.minutes:
        callbacks.append(TimeBudget(cfg.minutes * 60))
    if cfg.progress:
        callbacks.append(Progress(cfg.minutes))
    start, steps_before = time.time(), model.num_timesteps
    if remaining > 0:
        with warnings.catch_warnings():  # the eval env is in-process whatever the training envs are: fine
            warnings.filterwarnings("ignore", "Training and eval env are not of the same type")
            model.learn(
                remaining, callback=CallbackList(callbacks), tb_log_name="ppo", reset_num_timesteps=not cfg.resume
            )
    seconds = time.time() - start
    save(model, out)
    envs.close()
    return {
        "timesteps": model.num_timesteps,
        "steps_per_s": (model.num_timesteps - steps_before) / max(seconds, 1e-9),
        "seconds": seconds,
        "evaluations": [{"timesteps": t, "success_rate": s} for t, s in history],
        "best_success_rate": max((s for _, s in history), default=None),
        "last": str(out / "last"),
        "best": str(out / "best") if history else None,
    }


def configure_cli(parser: argparse.ArgumentParser) -> None:
    add_arguments(parser, FinetuneConfig)
    parser.add_argument("--yes", action="store_true", help="on a real-desktop env id: act without asking first")
    parser.set_defaults(func=run_cli)


def run_cli(args: argparse.Namespace) -> int:
    from minvla_gym.envs.desktop.run import may_act

    names = {f.name for f in dataclasses.fields(FinetuneConfig)}
    cfg = FinetuneConfig(**{k: v for k, v in vars(args).items() if k in names})  # bad input: a ValueError
    if not may_act(cfg.env, "PPO fine-tuning", args.yes):
        return 1
    print(json.dumps(finetune(cfg), indent=2))
    return 0
