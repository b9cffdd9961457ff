"""Behaviour cloning of the VLA (`minvla train`): the model brings its loss, this loop trains, logs, evaluates, saves.

    minvla train --synthetic --preset tiny --max-iters 200 --out runs/tiny
    minvla train --data demos/ --preset small --max-iters 5000 --out runs/small --device cuda
    torchrun --standalone --nproc_per_node 2 -m minvla_gym.policies.train --synthetic --preset tiny ...

AdamW; the learning rate warms up, holds, then decays (cosine) over the last part of the run, with the run's
progress measured in steps or, with --time-budget, in wall time, whichever is further along. Gradients are
clipped; bf16 autocast where it helps. Data batch b is a pure function of (seed, rank, b), so a run is
deterministic and --resume continues the same stream from the saved step. Under torchrun each process is a
DDP rank (gloo on CPU, nccl on GPU) with its own data; rank 0 logs, evaluates and saves.

A run folder (--out, shared with `minvla finetune` and `minvla quickstart`):
    train_config.json   the arguments of the run
    last/               the latest weights (config.json, model.safetensors) and train_state.pt for --resume
    best/               the weights with the best evaluated success rate, and its eval.json
    metrics.csv         loss, learning rate, throughput every --log-interval steps
    eval.csv            success overall and per family at each evaluation
    tb/                 the same as TensorBoard scalars (`tensorboard --logdir OUT/tb`; needs the rl extra)
    curves.png          loss and success against steps
`minvla eval --model OUT` takes best/ (else last/). An --out that holds a run is refused unless --resume.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import math
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from minvla_gym.cli import DEVICE_HELP
from minvla_gym.envs.synthetic.tasks import FAMILIES

from .model import VLA, VLAConfig, action_kl, find_checkpoint, resolve_device

STATE_FILE = "train_state.pt"


@dataclass
class TrainConfig:
    synthetic: bool = field(
        default=False, metadata={"help": "train on the synthetic expert, generated on the fly", "exclusive": "source"}
    )
    data: str | None = field(
        default=None,
        metadata={"help": "train on dataset folders (minvla collect / record), comma-separated", "exclusive": "source"},
    )
    preset: str = field(default="small", metadata={"help": "model size: tiny, small or base"})
    max_iters: int = field(default=2000, metadata={"help": "optimizer steps"})
    out: str = field(default="runs/train", metadata={"help": "run folder (checkpoints, metrics, curves)"})
    device: str = field(default="auto", metadata={"help": DEVICE_HELP})
    resume: bool = field(default=False, metadata={"help": "continue from OUT/last at its saved step"})
    init: str | None = field(
        default=None,
        metadata={
            "help": "start from these weights (a checkpoint or run folder, or small: the shipped "
            "VLA), with a fresh optimizer and schedule"
        },
    )
    seed: int = field(default=0, metadata={"help": "seed of the weights and the data stream"})
    batch_size: int = field(default=32, metadata={"help": "samples per step (per process under torchrun)"})
    lr: float = field(default=1e-3, metadata={"help": "peak learning rate"})
    min_lr_ratio: float = field(default=0.1, metadata={"help": "final learning rate as a fraction of --lr"})
    warmup: float = field(default=0.05, metadata={"help": "fraction of the run spent warming up"})
    decay: float = field(default=0.25, metadata={"help": "final fraction of the run spent decaying (cosine)"})
    weight_decay: float = field(default=0.05, metadata={"help": "AdamW weight decay (matrices only)"})
    grad_clip: float = field(default=1.0, metadata={"help": "clip the gradient norm (0: off)"})
    dtype: str = field(default="auto", metadata={"help": "bf16, fp32, or auto (bf16 on GPUs and AMX CPUs)"})
    time_budget: float = field(default=0.0, metadata={"help": "stop after this many minutes of wall time (0: off)"})
    eval_interval: int = field(default=0, metadata={"help": "evaluate every N steps (0: ten times per run)"})
    eval_minutes: float = field(
        default=0.0, metadata={"help": "with --time-budget: evaluate every M minutes (0: ten times)"}
    )
    eval_episodes: int = field(default=100, metadata={"help": "episodes per evaluation (0: no evaluation)"})
    eval_env: str = field(default="MinVLA-Synthetic-v0", metadata={"help": "env id of the evaluations"})
    families: str | None = field(
        default=None,
        metadata={"help": "comma-separated task families (default: all); naming one k times draws it k times as "
                  "often (Scroll,Scroll,Click: two thirds Scroll); the checks count each family once"},
    )  # fmt: skip
    short_scrolls: float = field(
        default=0.0, metadata={"help": "probability that a synthetic expert's scroll is executed short while "
                               "collecting, its label kept (DART noise: shows the states where the item is just "
                               "out of view)"})  # fmt: skip
    dagger: float = field(
        default=0.0, metadata={"help": "share of synthetic samples taken from episodes the policy being trained plays, "
                               "labelled by the expert (DAgger: its own mistakes' states; the data then depends on "
                               "the weights, so not bit-reproducible)"})  # fmt: skip
    dagger_families: str | None = field(
        default=None, metadata={"help": "comma-separated families --dagger applies to (default: all)"}
    )
    anchor_families: str | None = field(
        default=None, metadata={"help": "comma-separated families whose screens hold the --init VLA's action "
                                "distribution (a KL anchor, action_kl) instead of being cloned: --anchor-batch-size "
                                "more samples per step (from the shipped checkpoint the quickstart anchors Scroll, "
                                "which PPO trained last)"})  # fmt: skip
    anchor_batch_size: int = field(default=8, metadata={"help": "anchor samples per step"})
    point_head: str | None = field(
        default=None, metadata={"help": "override the preset's point head: patch or regress"}
    )
    workers: int = field(default=1, metadata={"help": "data worker processes (0: generate in the training process)"})
    log_interval: int = field(default=10, metadata={"help": "write metrics.csv every N steps"})
    progress: bool = field(default=True, metadata={"help": "show a progress bar"})

    def __post_init__(self):
        problems = []
        if self.synthetic == (self.data is not None):
            problems.append("give exactly one of --synthetic or --data DIR")
        for name in ("max_iters", "batch_size", "log_interval", "anchor_batch_size"):
            if getattr(self, name) < 1:
                problems.append(f"{name}={getattr(self, name)} must be >= 1")
        for name in ("eval_interval", "eval_episodes", "workers"):
            if getattr(self, name) < 0:
                problems.append(f"{name}={getattr(self, name)} must be >= 0")
        for name in ("lr", "min_lr_ratio", "weight_decay", "grad_clip", "time_budget", "eval_minutes"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0 or (name == "lr" and value == 0):
                problems.append(f"{name}={value} must be a finite number {'> 0' if name == 'lr' else '>= 0'}")
        for name in ("families", "dagger_families", "anchor_families"):
            unknown = sorted(set((getattr(self, name) or "").split(",")) - set(FAMILIES) - {""})
            if unknown:
                problems.append(f"{name}: unknown families {unknown}; expected some of {', '.join(FAMILIES)}")
        if not (0 <= self.warmup and 0 <= self.decay and self.warmup + self.decay <= 1):
            problems.append(f"warmup={self.warmup} and decay={self.decay} must be >= 0 with a sum <= 1")
        if self.dtype not in ("auto", "bf16", "fp32"):
            problems.append(f"dtype={self.dtype!r} must be auto, bf16 or fp32")
        if not 0.0 <= self.short_scrolls <= 1.0:
            problems.append(f"short_scrolls={self.short_scrolls} must be a probability in [0, 1]")
        if not 0.0 <= self.dagger <= 1.0 or (self.dagger and not self.synthetic):
            problems.append(f"dagger={self.dagger} must be a probability in [0, 1], and needs --synthetic")
        if self.anchor_families and not (self.synthetic and self.init and self.anchor_batch_size >= 1):
            problems.append(f"anchor_families={self.anchor_families!r} needs --synthetic, --init (the VLA to hold) "
                            f"and anchor_batch_size >= 1 (got {self.anchor_batch_size})")  # fmt: skip
        if self.point_head not in (None, "patch", "regress"):
            problems.append(f"point_head={self.point_head!r} must be patch or regress")
        if problems:
            raise ValueError("invalid training arguments: " + "; ".join(problems))
        VLAConfig.preset(self.preset)  # raises on an unknown preset


def lr_at(progress: float, cfg: TrainConfig) -> float:
    """Warmup, hold, cosine decay to min_lr_ratio * lr, as a function of the run's progress in [0, 1]."""
    if progress < cfg.warmup:
        return cfg.lr * (progress + 1e-3) / cfg.warmup
    if progress < 1.0 - cfg.decay:
        return cfg.lr
    t = min(1.0, (progress - (1.0 - cfg.decay)) / max(cfg.decay, 1e-9))
    return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * t)))


def make_optimizer(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.AdamW:
    # nanoGPT: decay matrices (linear, conv, embeddings), not biases, norms or positions.
    decay = [p for p in model.parameters() if p.dim() >= 2 and not p.shape[0] == 1]
    other = [p for p in model.parameters() if not (p.dim() >= 2 and not p.shape[0] == 1)]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": other, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=(0.9, 0.95))


def autocast_dtype(cfg: TrainConfig, device: torch.device) -> torch.dtype | None:
    if cfg.dtype == "fp32":
        return None
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else None
    # On CPU bf16 pays only with AMX; with AVX-512 alone (this project's 2-core machine) it measured ~3x slower.
    return torch.bfloat16 if cfg.dtype == "bf16" or torch.backends.cpu.get_cpu_capability() == "AMX" else None


RUN_FILES = ("last", "best", "metrics.csv", "eval.csv", "train_config.json", "checkpoints", "tb")


def prepare_run(out: Path, resume: bool, resumable: Path | None = None) -> None:
    """Check the run folder before anything is written: a new run needs a folder that holds no run, and
    --resume needs `resumable` (what it continues from) to exist. Raises ValueError saying which."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out}: is a file, not a folder")
    held = [name for name in RUN_FILES if (out / name).exists()]
    if resume and not (resumable and resumable.exists()):
        raise ValueError(f"--resume: {out} holds no run to continue ({resumable} is missing)")
    if held and not resume:
        raise ValueError(f"--out {out} already holds a run ({', '.join(held)}): add --resume to continue it, "
                         "or choose another --out")  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)


class Logger:
    """metrics.csv (loss per step), eval.csv (success per evaluation), curves.png, and the same scalars in
    TensorBoard under tb/ when tensorboard is installed; rank 0 only."""

    def __init__(self, out: Path, resume: bool = False, tensorboard: bool = True):
        self.out = out
        self.metrics, self.evals = out / "metrics.csv", out / "eval.csv"
        self.columns: dict[Path, list[str]] = {}  # each file's header, as written
        if not resume:
            for path in (self.metrics, self.evals):
                path.unlink(missing_ok=True)
        self.tb = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.tb = SummaryWriter(str(out / "tb"))
            except ImportError:  # tensorboard comes with the rl extra; the CSV files need nothing
                pass

    def _scalars(self, prefix: str, row: dict[str, Any]) -> None:
        if self.tb is None:
            return
        for key, value in row.items():
            if key != "step" and isinstance(value, (int, float)) and not isinstance(value, bool):
                self.tb.add_scalar(prefix + key.replace("family:", "family/"), value, row["step"])
        self.tb.flush()

    def _append(self, path: Path, row: dict[str, Any]) -> None:
        if path not in self.columns:  # a resumed run appends under the header already on disk
            self.columns[path] = next(csv.reader(path.read_text().splitlines()), []) if path.exists() else []
        columns = self.columns[path]
        if any(key not in columns for key in row):
            # A new column (a resumed run with another set of losses or families): rewrite the file under the
            # wider header, old rows blank there, so no row lands under another column's name.
            old = list(csv.DictReader(path.read_text().splitlines())) if columns else []
            columns = self.columns[path] = columns + [key for key in row if key not in columns]
            tmp = path.with_suffix(".tmp")
            with tmp.open("w", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=columns)
                writer.writeheader()
                writer.writerows(old)
            tmp.replace(path)
        with path.open("a", newline="") as f:
            csv.DictWriter(f, fieldnames=columns).writerow(row)  # missing keys stay blank

    def log(self, row: dict[str, Any]) -> None:
        self._append(self.metrics, row)
        self._scalars("train/", row)

    def log_eval(self, row: dict[str, Any]) -> None:
        self._append(self.evals, row)
        self._scalars("eval/", row)

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()

    def plot(self) -> Path | None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        if not self.metrics.exists():
            return None
        rows = list(csv.DictReader(self.metrics.open()))
        evals = list(csv.DictReader(self.evals.open())) if self.evals.exists() else []
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
        ax1.plot([int(r["step"]) for r in rows], [float(r["loss"]) for r in rows], label="loss")
        ax1.set(xlabel="step", ylabel="training loss", yscale="log", title="loss")
        if evals:
            steps = [int(r["step"]) for r in evals]
            ax2.plot(steps, [float(r["success_rate"]) for r in evals], "k-o", label="overall")
            for key in evals[0]:
                if key.startswith("family:"):
                    ax2.plot(steps, [float(r[key]) if r[key] else math.nan for r in evals], "--", label=key[7:])
            ax2.legend(fontsize=8)
        ax2.set(xlabel="step", ylabel="success rate", ylim=(0, 1), title="success (held-out seeds)")
        fig.tight_layout()
        path = self.out / "curves.png"
        fig.savefig(path, dpi=90)
        plt.close(fig)
        return path


def evaluate_policy(model: VLA, cfg: TrainConfig, seed: int = 1_000_000) -> Any:
    from minvla_gym.evaluation import evaluate  # lazily: only when a run evaluates

    named = ",".join(filter(None, (cfg.families, cfg.anchor_families))) if cfg.families else ""  # None: all of them
    families = list(dict.fromkeys(named.split(","))) if named else None  # weights train, not test
    kwargs = {"env_kwargs": {"task": families}} if families else {}
    return evaluate(model, cfg.eval_env, cfg.eval_episodes, seed, num_envs=16, progress=False, **kwargs)


def save_last(model: VLA, optimizer, out: Path, state: dict[str, Any]) -> None:
    last = out / "last"
    model.save(last)
    tmp = last / (STATE_FILE + ".tmp")
    torch.save({"optimizer": optimizer.state_dict(), "torch_rng": torch.get_rng_state(), **state}, tmp)
    tmp.replace(last / STATE_FILE)


class ProgressBar:
    """A tqdm bar in the unit that ends the run: `unit`s up to `total`, or, with a time budget, minutes up to
    `budget_min` (elapsed / budget, and an ETA that is the time left), with the count of `unit`s beside it."""

    def __init__(self, total: int, done: int, budget_min: float, elapsed_min: float, desc: str, unit: str = "step",
                 enabled: bool = True):  # fmt: skip
        from tqdm.auto import tqdm

        self.timed, self.unit, self.done, self.values = budget_min > 0, unit, done, {}
        if self.timed:
            fmt = "{desc}: {percentage:3.0f}%|{bar}| {n:.1f}/{total:.1f} min [{elapsed}<{remaining}{postfix}]"
            self.bar = tqdm(total=budget_min, initial=elapsed_min, desc=desc, bar_format=fmt, disable=not enabled,
                            dynamic_ncols=True)  # fmt: skip
        else:
            self.bar = tqdm(total=total, initial=done, desc=desc, unit=unit, disable=not enabled, dynamic_ncols=True)
        self.write, self.close = self.bar.write, self.bar.close

    def advance(self, done: int, elapsed_min: float) -> None:
        self.done = done
        if self.timed:
            self.bar.set_postfix({self.unit: done, **self.values}, refresh=False)
            self.bar.update(min(elapsed_min, self.bar.total) - self.bar.n)
        else:
            self.bar.update(done - self.bar.n)

    def set_postfix(self, **values) -> None:
        self.values = values
        self.bar.set_postfix({self.unit: self.done, **values} if self.timed else values)


def train(cfg: TrainConfig) -> dict[str, Any]:
    """Run behaviour cloning; returns a summary (steps, minutes, best success, paths)."""
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel as DDP

    from .data import DatasetBatches, SyntheticBatches

    ddp = "RANK" in os.environ and "WORLD_SIZE" in os.environ
    rank, world = (int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])) if ddp else (0, 1)
    master = rank == 0
    device = resolve_device(cfg.device)
    out = Path(cfg.out)
    if master:  # before any process writes: the other ranks follow rank 0's folder
        prepare_run(out, cfg.resume, out / "last" / STATE_FILE)
    init = find_checkpoint(cfg.init, announce=master) if cfg.init else None
    if ddp:
        if device.type == "cuda":
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
            torch.cuda.set_device(device)
        else:  # share the cores between the local processes
            local = int(os.environ.get("LOCAL_WORLD_SIZE", world))
            torch.set_num_threads(max(1, (os.cpu_count() or 1) // local))
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    torch.manual_seed(cfg.seed)

    overrides = {"point_head": cfg.point_head} if cfg.point_head else {}
    step, elapsed, best, state = 0, 0.0, -1.0, None
    if cfg.resume:
        model = VLA.from_checkpoint(out / "last", device=device).train()
        state = torch.load(out / "last" / STATE_FILE, map_location=device, weights_only=True)
        step, elapsed, best = int(state["step"]), float(state["elapsed"]), float(state["best"])
        torch.set_rng_state(state["torch_rng"])
    elif init:  # fine-tuning: the checkpoint's architecture and weights, this run's optimizer and schedule
        model = VLA.from_checkpoint(init, device=device).train()
    else:
        model = VLA(VLAConfig.preset(cfg.preset, **overrides)).to(device)
    optimizer = make_optimizer(model, cfg)
    if state is not None:
        optimizer.load_state_dict(state["optimizer"])
    trainer = DDP(model) if ddp else model
    amp = autocast_dtype(cfg, device)
    families = cfg.families.split(",") if cfg.families else None
    player = None
    if cfg.synthetic:
        if cfg.dagger:  # the data workers play a CPU copy of the weights in shared memory, refreshed every step
            player = VLA(model.config).eval()
            player.load_state_dict(model.state_dict())
            player.share_memory()
        batches = SyntheticBatches(cfg.batch_size, model.config.grid, cfg.seed, rank, model.config.image_size,
                                   families, short_scrolls=cfg.short_scrolls, policy=player,
                                   dagger=cfg.dagger, dagger_families=cfg.dagger_families and cfg.dagger_families.split(","))  # fmt: skip
    else:
        batches = DatasetBatches(cfg.data, cfg.batch_size, model.config.grid, cfg.seed, rank, world)
    anchor = None
    if cfg.anchor_families:  # --init's weights, frozen (a resumed run too), on a data stream apart from the main one
        reference = VLA.from_checkpoint(init, device=device).requires_grad_(False)
        anchor_batches = SyntheticBatches(cfg.anchor_batch_size, model.config.grid, 2**32 + cfg.seed, rank,
                                          model.config.image_size, cfg.anchor_families.split(","))  # fmt: skip
        anchor = (reference, anchor_batches)
    loader = torch.utils.data.DataLoader(
        batches, batch_size=None, sampler=range(step, cfg.max_iters), num_workers=cfg.workers,
        prefetch_factor=4 if cfg.workers else None,
    )  # fmt: skip
    logger = Logger(out, resume=state is not None) if master else None
    if master:
        (out / "train_config.json").write_text(json.dumps(dataclasses.asdict(cfg), indent=2) + "\n")
    eval_interval = cfg.eval_interval or max(1, cfg.max_iters // 10)
    budget = cfg.time_budget * 60.0
    eval_every_s = (cfg.eval_minutes * 60 or budget / 10) if budget else math.inf
    next_eval_time = elapsed + eval_every_s
    bar = ProgressBar(cfg.max_iters, step, budget / 60, elapsed / 60, "train", enabled=master and cfg.progress)
    start_time, last_log, result = time.time() - elapsed, time.time(), None
    samples_since = 0

    evaluated_at = -1

    def evaluate_and_save(final: bool) -> None:
        nonlocal best, result, evaluated_at
        minutes = (time.time() - start_time) / 60
        if cfg.eval_episodes > 0 and evaluated_at != step:  # the final call may follow a periodic one
            evaluated_at = step
            result = evaluate_policy(model, cfg)
            model.train()
            row = {"step": step, "minutes": round(minutes, 3), "success_rate": result.success_rate}
            per_family = result.to_dict()["per_family"]
            row.update({f"family:{k}": v for k, v in sorted(per_family.items())})
            logger.log_eval(row)
            bar.write(f"step {step} ({minutes:.1f} min): success {result.success_rate:.1%} "
                      + " ".join(f"{k} {v:.0%}" for k, v in sorted(per_family.items())))  # fmt: skip
            if result.success_rate > best:
                best = result.success_rate
                model.save(out / "best")
                (out / "best" / "eval.json").write_text(json.dumps(result.to_dict(), indent=2) + "\n")
        save_last(model, optimizer, out, {"step": step, "elapsed": time.time() - start_time, "best": best})
        if final and not (out / "best" / "model.safetensors").exists():
            shutil.copytree(out / "last", out / "best", dirs_exist_ok=True, ignore=shutil.ignore_patterns(STATE_FILE))
        logger.plot()

    model.train()
    for batch in loader:
        now = time.time() - start_time
        progress = max(step / cfg.max_iters, now / budget if budget else 0.0)
        if ddp and budget:  # every rank must use the same learning rate and stop at the same step
            p = torch.tensor([progress], device=device)
            dist.all_reduce(p, op=dist.ReduceOp.MAX)
            progress = float(p)
        if progress >= 1.0:
            break
        lr = lr_at(progress, cfg)
        for group in optimizer.param_groups:
            group["lr"] = lr
        batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
        with torch.autocast(device.type, dtype=amp or torch.float32, enabled=amp is not None):
            _, loss, parts = trainer(batch["image"], batch["instruction"], batch)
            if anchor is not None:
                reference, anchor_batches = anchor
                held = {k: v.to(device, non_blocking=True) for k, v in anchor_batches[step].items()}
                with torch.no_grad():
                    target = reference(held["image"], held["instruction"], reading=False)[0]
                # model, not trainer: DDP wants one forward per backward; these gradients reach the same
                # accumulators, so its all-reduce averages their sum with the main loss's.
                anchor_kl = action_kl(model(held["image"], held["instruction"], reading=False)[0], target)
                loss, parts["anchor_kl"] = loss + anchor_kl, anchor_kl.item()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip) if cfg.grad_clip else torch.nan
        optimizer.step()
        if player is not None:
            with torch.no_grad():
                for mine, theirs in zip(player.state_dict().values(), model.state_dict().values(), strict=True):
                    mine.copy_(theirs)
        step += 1
        samples_since += cfg.batch_size * world
        if not master:
            continue
        bar.advance(step, (time.time() - start_time) / 60)
        if step % cfg.log_interval == 0 or step == 1:
            rate = samples_since / max(time.time() - last_log, 1e-9)
            last_log, samples_since = time.time(), 0
            bar.set_postfix(loss=f"{loss.item():.3f}", lr=f"{lr:.1e}", samples_s=f"{rate:.0f}")
            logger.log({"step": step, "minutes": round(now / 60, 3), "lr": lr, "loss": loss.item(),
                        "grad_norm": float(norm), "samples_per_s": round(rate, 1), **parts})  # fmt: skip
        if step % eval_interval == 0 or time.time() - start_time >= next_eval_time:
            next_eval_time = time.time() - start_time + eval_every_s
            evaluate_and_save(final=False)
    if master:
        evaluate_and_save(final=True)
        bar.close()
        logger.close()
    if ddp:
        dist.barrier()
        dist.destroy_process_group()
    return {
        "steps": step,
        "minutes": (time.time() - start_time) / 60,
        "best_success": best,
        "last": result.to_dict() if result is not None else None,
        "out": str(out),
    }


# ---------------------------------------------------------------- command line


def add_arguments(parser: argparse.ArgumentParser, config_class=TrainConfig) -> None:
    """Flags from a dataclass: --kebab-case, the field's metadata as help, booleans as switches; fields that share
    an "exclusive" name in their metadata form a required mutually exclusive group."""
    groups: dict[str, Any] = {}
    for f in dataclasses.fields(config_class):
        flag = "--" + f.name.replace("_", "-")
        exclusive = f.metadata.get("exclusive")
        if exclusive and exclusive not in groups:
            groups[exclusive] = parser.add_mutually_exclusive_group(required=True)
        where = groups[exclusive] if exclusive else parser
        help_text = f.metadata.get("help", "").replace("%", "%%")
        if f.type in ("bool", bool):
            where.add_argument(flag, action=argparse.BooleanOptionalAction if f.default else "store_true",
                               default=f.default, help=help_text)  # fmt: skip
        else:
            kind = {"int": int, "float": float}.get(str(f.type), str)
            where.add_argument(flag, type=kind, default=f.default, help=help_text)


def configure_cli(parser: argparse.ArgumentParser) -> None:
    add_arguments(parser)
    parser.set_defaults(func=run_cli)


def run_cli(args: argparse.Namespace) -> int:
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    summary = train(TrainConfig(**{k: v for k, v in vars(args).items() if k in names}))
    if int(os.environ.get("RANK", 0)) == 0:
        print(json.dumps({k: v for k, v in summary.items() if k != "last"}, indent=2))
    return 0


if __name__ == "__main__":  # torchrun -m minvla_gym.policies.train ...
    from minvla_gym.cli import main

    raise SystemExit(main(["train", *sys.argv[1:]]))
