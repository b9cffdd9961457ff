"""Training batches for behaviour cloning: from the synthetic expert on the fly, or from a dataset folder.

A sample is one (observation, expert action) pair turned into the targets of the VLA's heads, plus the
reading targets made from the privileged element list (what each patch says, which patches the target
covers, which label the instruction names). Batch b is a pure function of (seed, rank, b): the data
order is deterministic, resuming at step b continues the same stream, and DDP ranks see different data.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import torch

from minvla_gym.actions import SCROLL, validate_action
from minvla_gym.tokenizer import find_span
from minvla_gym.wrappers import SCROLL_NOTCHES

from .model import CHARS, LABEL_CHARS, LABEL_WORDS, LOOK_COLOURS, LOOK_SHAPES

IGNORE = -100  # cross_entropy's ignore_index: a typed text that is not in the instruction (human demos)
GLYPH_REFERENCE_SIZE = 12  # glyph positions are measured at one font size and scaled to the drawn width
SEED_OFFSET = 1 << 62  # training episodes use seeds >= 2**62: never the small seeds evaluation uses
COLOUR_CLASS = {name: k for k, name in enumerate(LOOK_COLOURS, 1)}  # 0 = no named colour
SHAPE_CLASS = {name: k for k, name in enumerate(LOOK_SHAPES, 1)}
WORD_CLASS = {word: k for k, word in enumerate(LABEL_WORDS, 1)}  # 0 = no label, or one not in the vocabulary


def char_codes(label: str) -> list[int]:
    """Character classes of a label: 1..26 for a..z, 27 for anything else."""
    return [ord(ch) - 96 if "a" <= ch <= "z" else CHARS - 1 for ch in label.lower()]


def action_targets(action: dict[str, Any], instruction: np.ndarray) -> dict[str, Any]:
    """The expert action -> targets of the heads (the factors of the flat twin, coordinates kept exact)."""
    action = validate_action(action)
    try:
        start, end = find_span(instruction, action["text"])
    except ValueError:
        start = end = IGNORE
    return {
        "type": action["type"],
        "point": action["point"],
        "end_point": action["end_point"],
        "scroll": int(np.clip(np.rint(action["scroll"][0]) + SCROLL_NOTCHES // 2, 0, SCROLL_NOTCHES - 1)),
        "text_start": start,
        "text_end": end,
        "hotkey": action["hotkey"],
    }


@lru_cache(maxsize=4096)
def glyph_centres(label: str) -> tuple[float, ...]:
    """The centre of each character of `label` as a fraction of the label's drawn width."""
    from minvla_gym.envs.synthetic.render import text_size

    edges = [0] + [text_size(label[:i], GLYPH_REFERENCE_SIZE)[0] for i in range(1, len(label) + 1)]
    width = max(edges[-1], 1)
    return tuple((a + b) / 2 / width for a, b in zip(edges[:-1], edges[1:], strict=True))


def reading_targets(elements: Sequence[dict[str, Any]] | None, grid: int) -> dict[str, Any]:
    """Dense supervision from `info["elements"]` on a grid x grid patch grid (row-major, like the model).

    patch_glyphs (P, 3): the characters whose centre lies in each patch, left to right (0 = none): local
    glyphs, which teach the stem to see letters; patch_chars (P, 3): first characters of the label drawn
    over each patch, which teach the patches of one word to share what it says; patch_target (P,): the
    patch lies on a target element; target_chars (3,): the target's label (what the instruction asks for);
    target_half (2,): half its size; patch_look (P, 2): the colour and shape classes (0 = none, k = the k-th
    name of LOOK_COLOURS / LOOK_SHAPES, 1-based) of the icon over each patch, target_look (2,): the target's;
    patch_field (P,): the patch lies on a text field, patch_focus (P,): on the focused one; patch_word (P,): the
    class of the label over each patch in LABEL_WORDS (1-based, case ignored; 0 = none or another text),
    target_word (): the target's.
    Elements are drawn in order, so later ones cover earlier ones.
    """
    P = grid * grid
    chars = np.zeros((grid, grid, LABEL_CHARS), np.int64)
    glyphs: dict[tuple[int, int], list[tuple[float, int]]] = {}  # patch -> [(x, char class)]
    target = np.zeros((grid, grid), np.float32)
    target_chars = np.zeros(LABEL_CHARS, np.int64)
    target_half = np.zeros(2, np.float32)
    look = np.zeros((grid, grid, 2), np.int64)
    target_look = np.zeros(2, np.int64)
    field, focus = np.zeros((grid, grid), bool), np.zeros((grid, grid), np.float32)
    words, target_word = np.zeros((grid, grid), np.int64), 0
    edges = np.arange(grid + 1) / grid
    for e in elements or ():
        x0, y0, x1, y1 = e["box"]
        cover_x = np.clip(np.minimum(edges[1:], x1) - np.maximum(edges[:-1], x0), 0, None) * grid
        cover_y = np.clip(np.minimum(edges[1:], y1) - np.maximum(edges[:-1], y0), 0, None) * grid
        on = cover_y[:, None] * cover_x[None, :] >= 0.25  # a quarter of the patch covered
        cx, cy = min(int((x0 + x1) / 2 * grid), grid - 1), min(int((y0 + y1) / 2 * grid), grid - 1)
        on[cy, cx] = True  # small elements still own the patch at their centre
        # A window's label is only its title bar: reading it would teach the wrong place.
        label = e["label"] if e["role"] != "window" else ""
        codes = char_codes(label)[:LABEL_CHARS]
        chars[on] = 0
        chars[on, : len(codes)] = codes
        colour_and_shape = (COLOUR_CLASS[e["colour"]], SHAPE_CLASS[e["shape"]]) if "colour" in e else (0, 0)
        look[on] = colour_and_shape
        words[on] = word = WORD_CLASS.get(label.lower(), 0)
        field[on], focus[on] = e["role"] == "field", float(bool(e.get("focused")))
        for patch in zip(*np.nonzero(on), strict=True):
            glyphs.pop(patch, None)
        if e.get("text_box"):
            tx0, ty0, tx1, ty1 = e["text_box"]
            row = int(np.clip((ty0 + ty1) / 2 * grid, 0, grid - 1))
            for ch, code, centre in zip(e["label"], char_codes(e["label"]), glyph_centres(e["label"]), strict=True):
                x = tx0 + centre * (tx1 - tx0)
                if not ch.isspace() and 0.0 <= x < 1.0:
                    glyphs.setdefault((row, int(x * grid)), []).append((x, code))
        if e.get("target"):
            target[on] = 1.0
            if not target_chars.any() and codes:
                target_chars[: len(codes)] = codes
                target_half[:] = ((x1 - x0) / 2, (y1 - y0) / 2)
            if not target_look.any():
                target_look[:] = colour_and_shape
            target_word = target_word or word
    patch_glyphs = np.zeros((grid, grid, LABEL_CHARS), np.int64)
    for (row, col), found in glyphs.items():
        codes = [code for _, code in sorted(found)[:LABEL_CHARS]]
        patch_glyphs[row, col, : len(codes)] = codes
    return {
        "patch_glyphs": patch_glyphs.reshape(P, LABEL_CHARS),
        "patch_chars": chars.reshape(P, LABEL_CHARS),
        "patch_target": target.reshape(P),
        "target_chars": target_chars,
        "target_half": target_half,
        "patch_look": look.reshape(P, 2),
        "target_look": target_look,
        "patch_field": field.reshape(P),
        "patch_focus": focus.reshape(P),
        "patch_word": words.reshape(P),
        "target_word": np.int64(target_word),
        "has_elements": elements is not None and len(elements) > 0,
    }


def make_sample(obs: dict[str, np.ndarray], action: dict[str, Any], elements, grid: int) -> dict[str, Any]:
    return {
        "image": np.asarray(obs["image"], np.uint8),
        "instruction": np.asarray(obs["instruction"], np.int64),
        **action_targets(action, obs["instruction"]),
        **reading_targets(elements, grid),
    }


def collate(samples: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
    return {key: torch.as_tensor(np.stack([np.asarray(s[key]) for s in samples])) for key in samples[0]}


def expert_rollout(env, seed: int, short_scrolls: float = 0.0) -> list[tuple[dict, dict, list]]:
    """One expert episode: (observation, expert action, elements) for every step until it ends.

    `short_scrolls`: the probability that a scroll of the expert's is executed short, by 1..n-1 of its n notches
    (DART-style noise, Laskey et al. 2017). The recorded label stays the expert's, so training also sees the
    states a policy's short scroll leads to: the item just out of view, where the expert scrolls the rest.
    """
    obs, info = env.reset(seed=seed)
    noise = np.random.default_rng(seed) if short_scrolls else None  # only when asked: this is the data hot path
    steps = []
    for _ in range(64):  # multi-step tasks take a few steps; this only guards a looping expert
        action = env.unwrapped.expert_action()
        steps.append((obs, action, info["elements"]))
        notches = int(np.rint(action["scroll"][0])) if noise is not None and action["type"] == SCROLL else 0
        if abs(notches) > 1 and noise.random() < short_scrolls:
            short = np.sign(notches) * noise.integers(1, abs(notches))
            action = {**action, "scroll": np.array([short], np.float32)}
        obs, _, terminated, truncated, info = env.step(action)
        if terminated or truncated:
            break
    return steps


def policy_rollouts(envs, seeds: Sequence[int], policy) -> list[list[tuple[dict, dict, list]]]:
    """Episodes played by `policy` in lockstep (one `act_batch` per step), each state labelled by the expert.

    DAgger's data (Ross et al. 2011): the states the policy itself reaches, its own mistakes' included, with
    the action the scripted expert would take there. Returns (observation, expert action, elements) per step.
    """
    episodes, current = [[] for _ in envs], [env.reset(seed=int(seed)) for env, seed in zip(envs, seeds, strict=True)]
    live = list(range(len(envs)))
    while live:
        stacked = {key: np.stack([current[i][0][key] for i in live]) for key in ("image", "instruction")}
        actions = policy.act_batch(stacked)
        still = []
        for i, action in zip(live, actions, strict=True):
            (obs, info), env = current[i], envs[i]
            episodes[i].append((obs, env.unwrapped.expert_action(), info["elements"]))
            obs, _, terminated, truncated, info = env.step(action)
            current[i] = (obs, info)
            if not (terminated or truncated or len(episodes[i]) >= env.unwrapped.task.max_steps):
                still.append(i)
        live = still
    return episodes


class SyntheticBatches(torch.utils.data.Dataset):
    """Batch b: `batch_size` samples, each one step (drawn uniformly) of a fresh expert episode.

    Generated on demand from `SyntheticDesktopEnv`; wrap in a DataLoader with workers to overlap generation
    with training. `families` restricts the task families (None: all of them); `short_scrolls` is
    `expert_rollout`'s. With a `policy` (a VLA whose weights the trainer updates in place, in shared memory
    when a worker process plays it), a `dagger` share of the samples of `dagger_families` (None: all) come from
    episodes that policy plays, labelled by the expert (`policy_rollouts`); the data then depends on the weights
    at the time, so such runs are not bit-reproducible.
    """

    def __init__(self, batch_size: int, grid: int, seed: int = 0, rank: int = 0, size: int = 224,
                 families: Sequence[str] | None = None, length: int = 1 << 40, short_scrolls: float = 0.0,
                 policy=None, dagger: float = 0.0, dagger_families: Sequence[str] | None = None):  # fmt: skip
        self.batch_size, self.grid, self.seed, self.rank, self.size = batch_size, grid, seed, rank, size
        self.families, self.length, self.short_scrolls = families, length, short_scrolls
        self.policy, self.dagger = policy, dagger if policy is not None else 0.0
        self.dagger_families = set(dagger_families) if dagger_families else None
        self._env, self._played_envs = None, []

    def __len__(self) -> int:
        return self.length

    def _new_env(self):
        from minvla_gym.envs.synthetic import SyntheticDesktopEnv

        return SyntheticDesktopEnv(task=self.families, size=self.size, version=0)  # the word heads know v0's labels

    def draw(self, b: int, i: int) -> tuple[int, int, float]:
        """Sample i of batch b: its episode's seed, which of the episode's steps it takes, its DAgger coin in [0, 1)."""
        state = np.random.SeedSequence([self.seed, self.rank, int(b), i]).generate_state(3, np.uint64)
        return int(state[0] >> np.uint64(2)) | SEED_OFFSET, int(state[1]), float(state[2]) / 2.0**64

    def _plays(self, seed: int) -> bool:
        """Whether the episode of `seed` is one of dagger_families (asked of the env without a reset's drawing)."""
        return self.dagger_families is None or self._env.family_of(seed) in self.dagger_families

    def __getitem__(self, b: int) -> dict[str, torch.Tensor]:
        if self._env is None:  # made lazily, so each worker process builds its own
            self._env = self._new_env()
        steps_of, played = [], []  # per sample: (its episode's steps, which to take); the policy's episodes
        for i in range(self.batch_size):
            seed, pick, coin = self.draw(b, i)
            if coin < self.dagger and self._plays(seed):
                played.append((i, seed))
                steps_of.append((None, pick))  # filled in below, all the policy's episodes played at once
            else:
                steps_of.append((expert_rollout(self._env, seed, self.short_scrolls), pick))
        if played:
            while len(self._played_envs) < len(played):
                self._played_envs.append(self._new_env())
            episodes = policy_rollouts(self._played_envs[: len(played)], [seed for _, seed in played], self.policy)
            for (i, _), steps in zip(played, episodes, strict=True):
                steps_of[i] = (steps, steps_of[i][1])
        samples = []
        for steps, pick in steps_of:
            obs, action, elements = steps[pick % len(steps)]
            samples.append(make_sample(obs, action, elements, self.grid))
        return collate(samples)


class DatasetBatches(torch.utils.data.Dataset):
    """Batch b of one or more `minvla_gym.dataset.DemoDataset` folders (a list, or comma-separated), as one
    sequence of steps: a slice of a per-epoch shuffle (seeded), per rank."""

    def __init__(self, root, batch_size: int, grid: int, seed: int = 0, rank: int = 0, world: int = 1,
                 length: int = 1 << 40):  # fmt: skip
        from minvla_gym.dataset import DemoDataset

        roots = root.split(",") if isinstance(root, str) else [root] if isinstance(root, os.PathLike) else root
        folders = [DemoDataset(r) for r in roots]
        for r, folder in zip(roots, folders, strict=True):
            if len(folder) == 0:
                raise ValueError(f"{r}: the dataset holds no steps")
        self.data = torch.utils.data.ConcatDataset(folders)
        self.batch_size, self.grid, self.seed, self.rank, self.world, self.length = (
            batch_size, grid, seed, rank, world, length)  # fmt: skip
        self._order = (-1, None)

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, b: int) -> dict[str, torch.Tensor]:
        n = len(self.data)
        first = (int(b) * self.world + self.rank) * self.batch_size
        samples = []
        for k in range(first, first + self.batch_size):
            epoch, pos = divmod(k, n)
            if self._order[0] != epoch:
                self._order = (epoch, np.random.default_rng([self.seed, epoch]).permutation(n))
            item = self.data[int(self._order[1][pos])]
            samples.append(make_sample(item, item["action"], item.get("elements"), self.grid))
        return collate(samples)
