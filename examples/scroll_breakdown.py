"""Where Scroll fails: success by the list's row height, length and where the item starts; where clicks land.

    python examples/scroll_breakdown.py runs/quickstart/last --episodes 1000 --png scroll_breakdown.png

Plays whole Scroll episodes (seeds 0..N-1, as `minvla eval --env MinVLA-Synthetic-Scroll-v0` does) with the
policy and groups their success by what the scene drew: the row height in pixels (a 224-px screen has 16-px
patches), the number of items, the rows visible, and how far out of view the named item starts (0: wholly
visible; -k: k rows above the top; +k: k rows below the last whole row). On every state where the item is
wholly visible it also sorts the policy's action: a click on the item, a near miss (within 1.5 rows of it: the
next row over), a far miss (a row further away: a reading error), or a scroll.
"""

import argparse
import collections

import numpy as np

from minvla_gym.actions import CLICK, SCROLL
from minvla_gym.envs.synthetic import SyntheticDesktopEnv
from minvla_gym.policies.model import VLA

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("model", help="VLA checkpoint directory")
parser.add_argument("--episodes", type=int, default=1000)
parser.add_argument("--batch", type=int, default=50, help="episodes played in lockstep (one act_batch per step)")
parser.add_argument("--png", default=None, help="also save the success-by-group bars here")
args = parser.parse_args()
model = VLA.from_pretrained(args.model)  # a checkpoint or run folder, or "small"


def start_offset(task) -> int:
    """Rows between the named item and the visible ones when the episode starts (0: wholly visible)."""
    if task.index < task.top:
        return task.index - task.top
    return max(0, task.index - (task.top + task.visible - 1))


episodes, clicks = [], collections.Counter()
for first in range(0, args.episodes, args.batch):
    envs = [SyntheticDesktopEnv(task="Scroll", size=model.config.image_size) for _ in range(first, min(first + args.batch, args.episodes))]  # fmt: skip
    obs = [env.reset(seed=first + k)[0] for k, env in enumerate(envs)]
    for env in envs:
        task = env.task
        episodes.append({"row px": task.slots[0].box[3] - task.slots[0].box[1], "items": len(task.items),
                         "rows visible": task.visible, "starts out of view by": start_offset(task)})  # fmt: skip
    playing, success = list(range(len(envs))), [False] * len(envs)
    for _ in range(envs[0].task.max_steps):  # the registered env's time limit
        actions = model.act_batch({k: np.stack([obs[i][k] for i in playing]) for k in ("image", "instruction")})
        for i, action in zip(list(playing), actions, strict=True):
            task = envs[i].task
            if task._shown():
                slot = task.slots[task.index - task.top]
                x, y = action["point"] * envs[i].size
                rows_away = abs(y - (slot.box[1] + slot.box[3]) / 2) / (slot.box[3] - slot.box[1])
                if action["type"] == SCROLL:
                    clicks["scroll"] += 1
                elif action["type"] != CLICK:
                    clicks["other type"] += 1
                else:
                    clicks[
                        "on the item" if slot.contains(x, y) else "near miss" if rows_away < 1.5 else "far miss"
                    ] += 1
            obs[i], _, terminated, _, info = envs[i].step(action)
            success[i] = info["is_success"]
            if terminated:
                playing.remove(i)
        if not playing:
            break
    for record, ok in zip(episodes[first:], success, strict=True):
        record["success"] = ok


def grouped(key, bucket=lambda v: v):
    groups = collections.defaultdict(list)
    for e in episodes:
        groups[bucket(e[key])].append(e["success"])
    return {k: (float(np.mean(v)), len(v)) for k, v in sorted(groups.items())}


tables = {
    "row px": grouped("row px", lambda v: f"{v // 3 * 3}-{v // 3 * 3 + 2}"),
    "items": grouped("items", lambda v: f"{v // 10 * 10}-{v // 10 * 10 + 9}"),
    "rows visible": grouped("rows visible"),
    "starts out of view by": {{-4: "<=-4", 4: ">=4"}.get(k, k): v for k, v in
                              grouped("starts out of view by", lambda v: int(np.clip(v, -4, 4))).items()},
}  # fmt: skip
print(f"Scroll, {len(episodes)} episodes: {np.mean([e['success'] for e in episodes]):.1%} success")
for name, table in tables.items():
    print(f"{name:>22s}: " + "  ".join(f"{k}: {rate:.0%} ({n})" for k, (rate, n) in table.items()))
total = sum(clicks.values())
print(f"on the {total} states with the item wholly visible: "
      + ", ".join(f"{k} {v} ({v / total:.1%})" for k, v in clicks.most_common()))  # fmt: skip
if args.png:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4 * len(tables), 3.2))
    for ax, (name, table) in zip(fig.subplots(1, len(tables)), tables.items(), strict=True):
        ax.bar([str(k) for k in table], [100 * r for r, _ in table.values()], color="tab:blue")
        ax.set(title=name, ylim=(0, 100), ylabel="Scroll success %")
        ax.axhline(80, color="grey", lw=0.8, ls="--")
        for i, (_, n) in enumerate(table.values()):
            ax.annotate(f"{n}", (i, 2), ha="center", fontsize=7, color="white")
    fig.suptitle(f"{args.model}: Scroll success by scene, {len(episodes)} episodes")
    fig.tight_layout()
    fig.savefig(args.png, dpi=110)
    print(f"saved {args.png}")
