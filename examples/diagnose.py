"""Where does a VLA fail? Its first-step predictions against the expert's, per task family, and how well it reads.

    python examples/diagnose.py minvla_gym/checkpoints/small --episodes 100
    python examples/diagnose.py runs/quickstart/best --oracle Scroll    # + success with expert parts swapped in

Per family, on the first step of held-out episodes (seeds 0..N-1): how often the action type is the expert's;
where a pointing action lands (on the target, on another element, on nothing); and three reading accuracies
from the reading heads: `glyphs` (a patch names the first character drawn in it), `label` (a patch names the
first letter of the label over it), `instr` (the act token names the target label's first letter).
--oracle FAMILY plays whole episodes of FAMILY as is, then with the expert's scroll amount, the expert's
action type, and both substituted: what training only those heads could at best give.
--endings FAMILY plays whole episodes of FAMILY and tallies how they end: success, or the last action's type
against the type the expert would have chosen there (e.g. "fail: click where the expert would scroll").
"""

import argparse
import collections

import numpy as np
import torch

from minvla_gym.actions import ACTION_TYPES
from minvla_gym.envs.synthetic import SyntheticDesktopEnv
from minvla_gym.envs.synthetic.tasks import FAMILIES
from minvla_gym.policies.data import collate, expert_rollout, make_sample
from minvla_gym.policies.model import CHARS, LABEL_CHARS, POINTING, VLA

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("model", help="VLA checkpoint directory")
parser.add_argument("--episodes", type=int, default=100, help="episodes per family")
parser.add_argument("--oracle", default=None, help="also play this family with expert parts substituted")
parser.add_argument("--endings", default=None, help="also tally how this family's episodes end")
args = parser.parse_args()
model = VLA.from_pretrained(args.model)  # a checkpoint or run folder, or "small"
span = LABEL_CHARS * CHARS


def first_char_accuracy(logits, targets) -> float:  # (B, P or 1, 3 * CHARS) vs (B, P or 1, 3): first character
    wanted = targets[..., 0] > 0
    predicted = logits.reshape(*targets.shape, CHARS)[..., 0, :].argmax(-1)
    return (predicted == targets[..., 0])[wanted].float().mean().item() if wanted.any() else float("nan")


print(
    f"{'family':12s} {'type':>5s} {'target':>7s} {'other':>6s} {'nothing':>7s} {'glyphs':>7s} {'label':>6s} {'instr':>6s}"
)
for family in FAMILIES:
    env = SyntheticDesktopEnv(task=family, size=model.config.image_size)
    firsts = [expert_rollout(env, seed)[0] for seed in range(args.episodes)]
    batch = collate([make_sample(obs, action, elements, model.config.grid) for obs, action, elements in firsts])
    with torch.no_grad():
        heads, _, _ = model(batch["image"], batch["instruction"])
    points = model.decode_points(heads, "point").numpy()
    type_ok = (heads["type"].argmax(-1) == batch["type"]).float().mean().item()
    landed = []  # per pointing step: 2 on the target, 1 on another element, 0 on nothing
    for (_, action, elements), (x, y) in zip(firsts, points, strict=True):
        if action["type"] in POINTING:
            under = [e for e in elements if e["role"] != "window" and e["box"][0] <= x <= e["box"][2]
                     and e["box"][1] <= y <= e["box"][3]]  # fmt: skip
            landed.append(2 if any(e["target"] for e in under) else int(bool(under)))
    landed = np.array(landed)
    share = [(landed == k).mean() if len(landed) else float("nan") for k in (2, 1, 0)]
    aux = heads["patch_aux"]
    reading = [first_char_accuracy(aux[..., :span], batch["patch_glyphs"]),
               first_char_accuracy(aux[..., span : 2 * span], batch["patch_chars"]),
               first_char_accuracy(heads["target_chars"][:, None], batch["target_chars"][:, None])]  # fmt: skip
    print(
        f"{family:12s} {type_ok:5.0%} " + " ".join(f"{v:6.0%} " for v in share) + " ".join(f"{v:6.0%}" for v in reading)
    )


def play(family: str, swap: tuple[str, ...] = ()) -> collections.Counter:
    """Episodes of `family` (seeds 0..N-1) -> a tally of how they ended."""
    env, endings = SyntheticDesktopEnv(task=family, size=model.config.image_size), collections.Counter()
    for seed in range(args.episodes):
        obs, info = env.reset(seed=seed)
        for _ in range(env.unwrapped.task.max_steps):
            action, expert = model.act(obs), env.unwrapped.expert_action()
            if "type" in swap:
                action["type"] = expert["type"]
            if "scroll" in swap:
                action["scroll"] = expert["scroll"]
            obs, _, terminated, truncated, info = env.step(action)
            if terminated or truncated:
                break
        chose, wanted = ACTION_TYPES[action["type"]], ACTION_TYPES[expert["type"]]
        if info["is_success"]:
            endings["success"] += 1
        else:
            where = "fail" if terminated else "out of steps"
            mistake = f"{chose} (the expert's type) at the wrong place" if chose == wanted else \
                f"{chose} where the expert would {wanted}"  # fmt: skip
            endings[f"{where}: {mistake}"] += 1
    return endings


if args.oracle:
    for swap in ((), ("scroll",), ("type",), ("type", "scroll")):
        rate = play(args.oracle, swap)["success"] / args.episodes
        print(f"{args.oracle}, expert {' + '.join(swap) or 'nothing'} swapped in: {rate:.1%}")
if args.endings:
    print(f"how {args.episodes} {args.endings} episodes end:")
    for ending, count in play(args.endings).most_common():
        print(f"  {count:4d}  {ending}")
