"""Render every task family to PNG (docs/families/<Family>.png and a sheet docs/families.png).

Each picture shows the first screen of a seeded episode, then the expert's actions drawn on the
screens they were taken on, so multi-step families show every step.

    python examples/family_gallery.py [--out docs] [--seed 3]
"""

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from minvla_gym.envs.synthetic import SyntheticDesktopEnv
from minvla_gym.envs.synthetic.env import draw_action
from minvla_gym.envs.synthetic.tasks import FAMILIES


def episode_strip(family: str, seed: int) -> tuple[np.ndarray, str]:
    """Frames of one expert episode, side by side, each with the action about to be taken."""
    env = SyntheticDesktopEnv(task=family)
    obs, info = env.reset(seed=seed)
    frames, done = [], False
    while not done:
        action = env.expert_action()
        frames.append(draw_action(obs["image"].copy(), action))
        obs, _, terminated, truncated, info = env.step(action)
        done = terminated or truncated
    gap = np.full((frames[0].shape[0], 4, 3), 255, np.uint8)
    return np.concatenate([x for f in frames for x in (f, gap)][:-1], axis=1), info["instruction"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs")
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    out = Path(args.out)
    (out / "families").mkdir(parents=True, exist_ok=True)
    tiles = []
    for family in FAMILIES:
        strip, instruction = episode_strip(family, args.seed)
        canvas = Image.new("RGB", (strip.shape[1], strip.shape[0] + 18), "white")
        canvas.paste(Image.fromarray(strip), (0, 18))
        ImageDraw.Draw(canvas).text((2, 3), f"{family}: {instruction}", fill="black")
        canvas.save(out / "families" / f"{family}.png")
        tiles.append(canvas)
        print(f"{family:12s} {instruction}")
    width = max(t.width for t in tiles)
    sheet = Image.new("RGB", (width, sum(t.height + 6 for t in tiles)), "white")
    y = 0
    for tile in tiles:
        sheet.paste(tile, (0, y))
        y += tile.height + 6
    sheet.save(out / "families.png")
    print(f"wrote {out / 'families.png'} and {len(tiles)} pictures in {out / 'families'}")


if __name__ == "__main__":
    main()
