"""One task family in many looks: the open world's fonts, themes, widget styles, words and phrasing on a sheet.

Each tile is the first screen of a seeded MinVLA-Synthetic-v1 episode, captioned with its font face and size,
its widget style and its instruction; the last row is the test split (held-out words, font and templates).

    python examples/looks_sheet.py [--family Click] [--out docs/looks.png]
"""

import argparse
from pathlib import Path

import gymnasium as gym
from PIL import Image, ImageDraw

import minvla_gym  # noqa: F401  (registers the ids)
from minvla_gym.envs.synthetic import render

COLUMNS, TRAIN_ROWS, TILE, CAPTION = 6, 3, 224, 40


def tile(env: gym.Env, seed: int, split: str) -> Image.Image:
    obs, info = env.reset(seed=seed)
    theme = env.unwrapped.task.theme
    look = "dark" if theme.dark else "toolkit" if theme.plain else "light"
    lines = [
        f"{split} | {theme.face} {theme.font_size}px | {look}, border {theme.border_width}, corner {theme.corner}",
        info["instruction"][:46],
        info["instruction"][46:92],
    ]
    canvas = Image.new("RGB", (TILE, TILE + CAPTION), "white")
    canvas.paste(Image.fromarray(obs["image"]).resize((TILE, TILE)), (0, CAPTION))
    draw = ImageDraw.Draw(canvas)
    for i, line in enumerate(lines):
        draw.text((2, 1 + 13 * i), line, fill="black", font=render.font(10, "dejavu-sans"))
    return canvas


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", default="Click", help="task family to show")
    parser.add_argument("--out", type=Path, default=Path("docs/looks.png"))
    args = parser.parse_args()
    tiles = []
    for split, count in (("train", COLUMNS * TRAIN_ROWS), ("test", COLUMNS)):
        env = gym.make(f"MinVLA-Synthetic-{args.family}-v1", split=split)
        tiles += [tile(env, seed, split) for seed in range(count)]
    rows = (len(tiles) + COLUMNS - 1) // COLUMNS
    sheet = Image.new("RGB", (COLUMNS * (TILE + 4), rows * (TILE + CAPTION + 4)), "white")
    for i, picture in enumerate(tiles):
        sheet.paste(picture, ((i % COLUMNS) * (TILE + 4), (i // COLUMNS) * (TILE + CAPTION + 4)))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out)
    print(f"wrote {args.out}: {len(tiles)} {args.family} episodes")


if __name__ == "__main__":
    main()
