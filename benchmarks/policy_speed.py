"""Speed of the VLA presets: training samples/s, inference latency at batch 1 and 64, and MFU.

    python benchmarks/policy_speed.py                       # every preset on this CPU
    python benchmarks/policy_speed.py --presets small --device cuda --json speed.json

MFU = (FLOPs of one training step, counted by torch's FlopCounterMode) x steps/s / the machine's measured
matmul FLOP/s (a large fp32 GEMM, or bf16 where training runs in bf16). Screens come from the synthetic
expert (224x224), so the instruction lengths are realistic.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from minvla_gym.policies.data import SyntheticBatches
from minvla_gym.policies.model import VLA, VLAConfig
from minvla_gym.policies.train import TrainConfig, autocast_dtype, make_optimizer


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed(fn, device, repeats: int) -> float:
    """Median of `repeats` wall times of fn(), after one warm-up call."""
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        sync(device)
        t = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def matmul_flops(device, dtype, n: int = 2048, repeats: int = 5) -> float:
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    return 2 * n**3 / timed(lambda: a @ b, device, repeats)


def bench(preset: str, device, batch: int, repeats: int, dtype: str) -> dict:
    torch.manual_seed(0)
    model = VLA(VLAConfig.preset(preset)).to(device)
    cfg = TrainConfig(synthetic=True, dtype=dtype)
    amp = autocast_dtype(cfg, device)
    data = SyntheticBatches(max(batch, 64), model.config.grid, seed=0)[0]
    data = {k: v.to(device) for k, v in data.items()}
    train_batch = {k: v[:batch] for k, v in data.items()}
    optimizer = make_optimizer(model, cfg)

    def train_step():
        with torch.autocast(device.type, dtype=amp or torch.float32, enabled=amp is not None):
            _, loss, _ = model(train_batch["image"], train_batch["instruction"], train_batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    with FlopCounterMode(display=False) as counter:
        with torch.autocast(device.type, dtype=amp or torch.float32, enabled=amp is not None):
            _, loss, _ = model(train_batch["image"], train_batch["instruction"], train_batch)
        loss.backward()
    step_flops = counter.get_total_flops()
    step_time = timed(train_step, device, repeats)

    model.eval()
    latency = {}
    for n in (1, 64):
        image, ids = data["image"][:n], data["instruction"][:n]

        def infer(image=image, ids=ids):
            with torch.no_grad(), torch.autocast(device.type, dtype=amp or torch.float32, enabled=amp is not None):
                model(image, ids, reading=False)  # as VLA.act runs it

        latency[n] = timed(infer, device, 10 * repeats if n == 1 else repeats)  # batch 1 is cheap: more tries
    obs = {"image": data["image"][0].cpu().numpy(), "instruction": data["instruction"][0].cpu().numpy()}
    act_latency = timed(lambda: model.act(obs), device, 10 * repeats)  # end to end: numpy in, action dict out
    return {
        "preset": preset,
        "params_M": model.num_params() / 1e6,
        "train_batch": batch,
        "train_samples_per_s": batch / step_time,
        "train_gflop_per_sample": step_flops / batch / 1e9,
        "train_tflops": step_flops / step_time / 1e12,
        "latency_ms_batch1": 1e3 * latency[1],
        "act_ms_batch1": 1e3 * act_latency,
        "latency_ms_batch64": 1e3 * latency[64],
        "infer_samples_per_s_batch64": 64 / latency[64],
        "dtype": "bf16" if amp else "fp32",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default="tiny,small,base", help="comma-separated presets")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int, default=32, help="training batch size")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats (the median counts)")
    parser.add_argument("--dtype", default="auto", help="auto, bf16 or fp32 (as minvla train)")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    device = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = []
    for preset in args.presets.split(","):
        row = bench(preset, device, args.batch, args.repeats, args.dtype)
        peak = matmul_flops(device, torch.bfloat16 if row["dtype"] == "bf16" else torch.float32)
        row["matmul_tflops"] = peak / 1e12
        row["mfu"] = row["train_tflops"] * 1e12 / peak
        rows.append(row)
        print(f"{preset:>5}  {row['params_M']:6.2f}M  train {row['train_samples_per_s']:7.1f} samples/s "
              f"({row['train_gflop_per_sample']:.2f} GFLOP/sample, MFU {row['mfu']:.0%} of "
              f"{row['matmul_tflops'] * 1e3:.0f} GFLOP/s {row['dtype']})  latency b1 {row['latency_ms_batch1']:.1f} ms "
              f"(act {row['act_ms_batch1']:.1f} ms)  b64 {row['latency_ms_batch64']:.0f} ms", flush=True)  # fmt: skip
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"device": str(device), "threads": torch.get_num_threads(), "results": rows}, f, indent=2)


if __name__ == "__main__":
    main()
