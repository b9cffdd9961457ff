"""The VLA: a screenshot and an instruction -> one action of the one space. One file, nanoGPT style.

    image (S, S, 3) uint8 -> conv stem (3x3 stride-2 convs, then a 2x2) -> G x G patch tokens (G = S / patch)
                          -> local mixing (3 x 7 depthwise convs over the patch grid: a patch sees its word)
    instruction (L,) ids  -> byte embedding -> local mixing (width-5 depthwise convs: a byte sees its word)
                                                                          -> text tokens (padding masked out)
    [act, end] queries + patches + text -> pre-norm bidirectional transformer -> heads

Heads (the factors of the flat MultiDiscrete twin in `minvla_gym.wrappers`, plus a confidence):
    type (7), scroll (21 notches), hotkey (K), confidence (1)   from the `act` query token
    point, end_point                                           see below
    text_start, text_end (L + 1 positions each)                 one logit per instruction token

Point head, `point_head="patch"` (the default, because choosing a patch grounds better than regressing x, y): a
logit per patch, `linear(patch) + query . key(patch)` (the dot product lets the instruction pick the patch),
plus a sigmoid offset inside each patch. The point is ((col + off_x) / G, (row + off_y) / G) for the argmax patch; in the
flat twin it falls into x bin `floor(x * coord_bins)` (and y likewise), and `flat_logits` gives the x/y bin
marginals of the patch distribution. `point_head="regress"` is the original minVLA's head: sigmoid(linear(act)).

Text span: `text_start[i]` scores a span starting at token i, `text_end[j]` a span ending before token j
(from token j - 1's output), so typed text is copied from the instruction, as the flat twin does.
"""

from __future__ import annotations

import json
import math
import numbers
import sys
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from minvla_gym.actions import ACTION_TYPES, DRAG, HOTKEY, HOTKEYS, MAX_TEXT_LENGTH, PRINTABLE, SCROLL, TYPE
from minvla_gym.envs.synthetic.render import SHAPES
from minvla_gym.envs.synthetic.words import COLOURS, LABELS
from minvla_gym.tokenizer import MAX_INSTRUCTION_TOKENS, VOCAB_SIZE, decode
from minvla_gym.wrappers import DEFAULT_COORD_BINS, SCROLL_NOTCHES

POINTING = (0, 1, 2, 3, 4)  # click, double_click, right_click, drag, scroll act at `point`
CHARS = 28  # character classes for the reading losses: 0 none, 1..26 a..z, 27 anything else
LABEL_CHARS = 3  # the reading losses predict a label's first characters
LOOK_COLOURS, LOOK_SHAPES = tuple(COLOURS), SHAPES  # the look loss: an icon's colour and shape (+ 1 class: none)
LABEL_WORDS = LABELS  # the word loss: which label of the vocabulary a patch shows, 1-based (0: none / another)
# Heads added after checkpoints were shipped: a checkpoint without them loads with them freshly initialised.
# They feed training losses only, so the actions of such a checkpoint are unchanged.
OPTIONAL_HEADS = ("look_head.", "word_head.")
CONFIG_FILE, WEIGHTS_FILE = "config.json", "model.safetensors"


# Bounds on a config's sizes, far beyond the presets ("base": 6 layers of 576): a config.json from an untrusted
# checkpoint is checked against them before anything is built, so that it cannot ask for minutes and gigabytes.
LIMITS = {"image_size": (16, 2048), "n_layer": (1, 64), "n_head": (1, 64), "n_embd": (1, 4096),
          "mix_layers": (0, 16), "max_instruction_tokens": (1, 4096), "coord_bins": (2, 4096)}  # fmt: skip
STEM_CONVS, MAX_WIDTH = (1, 6), 4096  # stride-2 convs in the stem, and the widest of them
MAX_CONFIG_BYTES = 65536  # a config.json is ~400 bytes
WEIGHT_DTYPES = ("F16", "BF16", "F32", "F64")  # safetensors' names of the float dtypes


class CheckpointError(ValueError):
    """A checkpoint that is missing, corrupt or does not match its config."""


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


@dataclass
class VLAConfig:
    image_size: int = 224  # side of the square screenshot, pixels (the observation size)
    patch_size: int = 16  # stride of the conv stem = 2 ** (len(stem_channels) + 1)
    stem_channels: tuple[int, ...] = (32, 64, 128)  # widths of the 3x3 stride-2 convs before the 2x2 patchify
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 192
    dropout: float = 0.0
    max_instruction_tokens: int = MAX_INSTRUCTION_TOKENS  # L
    vocab_size: int = VOCAB_SIZE
    coord_bins: int = DEFAULT_COORD_BINS  # x/y bins of the flat twin (flat_logits)
    point_head: str = "patch"  # "patch": classify the patch + offset; "regress": predict x, y directly
    aux_weight: float = 0.5  # weight of the reading losses (from the generator's element lists)
    # Weight of the glyph loss on the stem's own tokens: at aux_weight, among ~18 losses, the other losses drown
    # the letters in the stem's gradient; the stem alone (examples/reading_probe.py) learns them several times faster.
    stem_glyph_weight: float = 5.0
    # Residual depthwise-conv blocks before the transformer, on the patch grid (3 x 7) and on the instruction's
    # bytes (5): a label spans ~2-6 patches and a word ~3-12 bytes, and attention over learned absolute
    # positions is slow to join them: the patches read their glyphs long before they agree on the label's first letter.
    # 0 (the default, so checkpoints from before it still load) leaves them out; the presets use 2.
    mix_layers: int = 0

    def __post_init__(self):
        # Types first (a config.json may hold anything JSON can: 2.0, true, "4", nested lists), then ranges.
        problems = []
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type == "int" and not _is_int(value):
                problems.append(f"{f.name}={value!r} must be an int")
            elif f.type == "float" and (isinstance(value, bool) or not isinstance(value, numbers.Real)):
                problems.append(f"{f.name}={value!r} must be a number")
            elif f.type == "float" and not math.isfinite(value):
                problems.append(f"{f.name}={value!r} must be a finite number")
            elif f.type == "str" and not isinstance(value, str):
                problems.append(f"{f.name}={value!r} must be a str")
            elif f.name == "stem_channels" and not (isinstance(value, (list, tuple)) and all(map(_is_int, value))):
                problems.append(f"{f.name}={value!r} must be a list of ints")
        if problems:
            raise ValueError("invalid VLAConfig: " + "; ".join(problems))
        for f in fields(self):
            if f.type in ("int", "float"):
                setattr(self, f.name, int(getattr(self, f.name)) if f.type == "int" else float(getattr(self, f.name)))
        self.stem_channels = tuple(int(c) for c in self.stem_channels)
        low, high = STEM_CONVS
        if not low <= len(self.stem_channels) <= high or not all(1 <= c <= MAX_WIDTH for c in self.stem_channels):
            problems.append(f"stem_channels={self.stem_channels} must be {low} to {high} widths in [1, {MAX_WIDTH}]")
        elif self.patch_size != 2 ** (len(self.stem_channels) + 1):
            problems.append(f"patch_size={self.patch_size} must be 2 ** (len(stem_channels) + 1) = "
                            f"{2 ** (len(self.stem_channels) + 1)} for stem_channels={self.stem_channels}")  # fmt: skip
        if self.patch_size < 1 or self.image_size % self.patch_size:
            problems.append(f"image_size={self.image_size} must be a positive multiple of patch_size={self.patch_size}")
        if self.n_head < 1 or self.n_embd % self.n_head:
            problems.append(f"n_embd={self.n_embd} must be a positive multiple of n_head={self.n_head}")
        limits = dict(LIMITS)
        if self.point_head == "patch" and self.patch_size >= 1:  # every patch column needs a bin of its own
            limits["coord_bins"] = (max(self.image_size // self.patch_size, 2), LIMITS["coord_bins"][1])
        for name, (low, high) in limits.items():
            if not low <= getattr(self, name) <= high:
                problems.append(f"{name}={getattr(self, name)} must lie in [{low}, {high}]")
        if self.vocab_size != VOCAB_SIZE:
            problems.append(f"vocab_size={self.vocab_size} must be {VOCAB_SIZE}, the byte tokenizer's")
        if not 0.0 <= self.dropout < 1.0:
            problems.append(f"dropout={self.dropout} must be in [0, 1)")
        if self.point_head not in ("patch", "regress"):
            problems.append(f"point_head={self.point_head!r} must be 'patch' or 'regress'")
        if self.aux_weight < 0 or self.stem_glyph_weight < 0:
            problems.append(f"aux_weight={self.aux_weight} and stem_glyph_weight={self.stem_glyph_weight} must be >= 0")
        if problems:
            raise ValueError("invalid VLAConfig: " + "; ".join(problems))

    @property
    def grid(self) -> int:
        return self.image_size // self.patch_size

    @staticmethod
    def preset(name: str, **overrides) -> VLAConfig:
        if name not in PRESETS:
            raise ValueError(f"unknown preset {name!r}; expected one of {list(PRESETS)}")
        return VLAConfig(**{**PRESETS[name], **overrides})

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "stem_channels": list(self.stem_channels)}


PRESETS = {
    "tiny": dict(stem_channels=(8, 16, 32), n_layer=2, n_head=2, n_embd=64, mix_layers=2),  # tests: seconds
    "small": dict(stem_channels=(32, 64, 128), n_layer=4, n_head=4, n_embd=128, mix_layers=2),  # the CPU default
    "base": dict(stem_channels=(64, 128, 256), n_layer=6, n_head=8, n_embd=576, mix_layers=2),  # minVLA, 28 M
}


class Block(nn.Module):
    def __init__(self, config: VLAConfig):
        super().__init__()
        self.n_head = config.n_head
        self.ln_1 = nn.LayerNorm(config.n_embd)
        self.qkv = nn.Linear(config.n_embd, 3 * config.n_embd)
        self.proj = nn.Linear(config.n_embd, config.n_embd)
        self.ln_2 = nn.LayerNorm(config.n_embd)
        self.fc = nn.Linear(config.n_embd, 4 * config.n_embd)
        self.fc_proj = nn.Linear(4 * config.n_embd, config.n_embd)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x, mask):
        B, T, C = x.shape
        q, k, v = self.qkv(self.ln_1(x)).split(C, dim=2)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))  # (B, nh, T, hs)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # bidirectional: no causal mask
        x = x + self.dropout(self.proj(y.transpose(1, 2).reshape(B, T, C)))
        return x + self.dropout(self.fc_proj(F.gelu(self.fc(self.ln_2(x)))))


class LocalMix(nn.Module):
    """x + linear(gelu(depthwise_conv(ln(x)))) over a token grid (2-D patches) or sequence (1-D text)."""

    def __init__(self, d: int, kernel: tuple[int, ...]):
        super().__init__()
        self.ln = nn.LayerNorm(d)
        conv = nn.Conv2d if len(kernel) == 2 else nn.Conv1d
        self.depthwise = conv(d, d, kernel, padding=tuple(k // 2 for k in kernel), groups=d)
        self.pointwise = nn.Linear(d, d)

    def forward(self, x, shape: tuple[int, ...], keep=None):  # x (B, N, C), N = prod(shape); keep (B, N) bool
        y = self.ln(x)
        if keep is not None:  # padding reads as zeros, as beyond the end: a batch's padding cannot leak in
            y = y * keep[..., None]
        y = self.depthwise(y.transpose(1, 2).reshape(x.size(0), x.size(2), *shape))
        return x + self.pointwise(F.gelu(y.flatten(2).transpose(1, 2)))


class PointHead(nn.Module):
    """Points for one query token (act or end): patch logits + in-patch offsets, or a regressed (x, y)."""

    def __init__(self, config: VLAConfig):
        super().__init__()
        self.regress = config.point_head == "regress"
        if self.regress:
            self.xy = nn.Linear(config.n_embd, 2)
        else:
            self.score = nn.Linear(config.n_embd, 1)
            self.query = nn.Linear(config.n_embd, config.n_embd)
            self.key = nn.Linear(config.n_embd, config.n_embd)
            self.offset = nn.Linear(config.n_embd, 2)

    def forward(self, query, patches) -> dict[str, torch.Tensor]:  # (B, C), (B, P, C)
        if self.regress:
            return {"xy": self.xy(query)}  # (B, 2), sigmoid -> fractions
        dot = torch.einsum("bc,bpc->bp", self.query(query), self.key(patches)) / math.sqrt(patches.size(-1))
        return {"": self.score(patches).squeeze(-1) + dot, "offset": self.offset(patches)}  # (B, P), (B, P, 2)


class VLA(nn.Module):
    def __init__(self, config: VLAConfig):
        super().__init__()
        self.config = config
        c, d = config, config.n_embd
        widths = (3, *c.stem_channels)
        convs = []
        for cin, cout in zip(widths[:-1], widths[1:], strict=True):
            # GroupNorm(1, .) per conv: without it the stem learned glyphs ~2x slower (examples/reading_probe.py)
            convs += [nn.Conv2d(cin, cout, 3, stride=2, padding=1), nn.GroupNorm(1, cout), nn.GELU()]
        self.stem = nn.Sequential(*convs, nn.Conv2d(widths[-1], d, 2, stride=2))
        self.patch_pos = nn.Parameter(torch.zeros(1, c.grid * c.grid, d))
        self.tok_emb = nn.Embedding(c.vocab_size, d)
        # Both modalities enter the residual stream at unit scale: with the stem's patches ~10x larger
        # than 0.02-scale byte embeddings, the instruction was drowned out (hotkeys stayed at chance).
        self.ln_patch, self.ln_text = nn.LayerNorm(d), nn.LayerNorm(d)
        self.patch_mix = nn.ModuleList([LocalMix(d, (3, 7)) for _ in range(c.mix_layers)])
        self.text_mix = nn.ModuleList([LocalMix(d, (5,)) for _ in range(c.mix_layers)])
        self.tok_pos = nn.Parameter(torch.zeros(1, c.max_instruction_tokens, d))
        self.queries = nn.Parameter(torch.zeros(1, 2, d))  # act, end
        self.blocks = nn.ModuleList([Block(c) for _ in range(c.n_layer)])
        self.ln_f = nn.LayerNorm(d)
        self.type_head = nn.Linear(d, len(ACTION_TYPES))
        self.scroll_head = nn.Linear(d, SCROLL_NOTCHES)
        self.hotkey_head = nn.Linear(d, len(HOTKEYS))
        self.confidence_head = nn.Linear(d, 1)
        self.point = PointHead(c)
        self.end_point = PointHead(c)
        self.span_start = nn.Linear(d, 1)
        self.span_end = nn.Linear(d, 1)
        # Reading losses: what each patch says, and which label the instruction asks for.
        self.patch_chars = nn.Linear(d, 2 * LABEL_CHARS * CHARS + 1)  # glyphs here | label's first chars | target
        self.target_chars = nn.Linear(d, LABEL_CHARS * CHARS)
        # Look losses: the colour and shape of the icon under each patch, and of the target (from the act token,
        # through the same head, so both sides name colours alike); and whether a field's patch is the focused
        # field's. Without them the Icon family's misses are mostly the right shape in the wrong colour, and the
        # Type family's failures mostly typing into the wrong focused field.
        self.look_head = nn.Linear(d, len(LOOK_COLOURS) + 1 + len(LOOK_SHAPES) + 1 + 1)  # colour | shape | focus
        # Word loss: the whole label over each patch, and the target's from the act token, through one head.
        # The character losses name a label's first three letters, which sorted lists share (reload, remove,
        # rename, reply...), and 81 of Scroll's 83 failures on 200 episodes were clicks that missed the named item.
        self.word_head = nn.Linear(d, len(LABEL_WORDS) + 1)
        # The same glyphs straight from the stem's tokens (before the transformer): the stem alone with such a
        # head learns letters in ~1,000 steps (examples/reading_probe.py); behind the transformer, among ~18
        # losses, the glyph loss fell only 2.65 -> 2.11 nats in 10,500 steps.
        self.stem_glyphs = nn.Linear(d, LABEL_CHARS * CHARS)
        self.apply(self._init_weights)
        for name, p in self.named_parameters():  # GPT-2: scale residual projections by depth
            if name.endswith(("proj.weight", "fc_proj.weight", "pointwise.weight")):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * c.n_layer))
        for p in (self.patch_pos, self.tok_pos, self.queries):
            nn.init.normal_(p, mean=0.0, std=0.02)

    @staticmethod
    def _init_weights(module):
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if getattr(module, "bias", None) is not None:
                nn.init.zeros_(module.bias)

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    # ------------------------------------------------------------ forward

    def forward(self, image, instruction, targets: dict[str, torch.Tensor] | None = None, reading: bool = True):
        """image (B, S, S, 3) uint8, instruction (B, L) int64 -> (heads, loss, parts).

        heads: dict of per-factor logits (see the module docstring); loss: a scalar when `targets`
        are given (batch keys of `minvla_gym.policies.data`), else None; parts: each loss, as floats.
        reading=False leaves out the heads that only feed the reading losses (acting needs none of them).
        """
        c = self.config
        B, S = image.shape[0], c.image_size
        if tuple(image.shape[1:]) != (S, S, 3) or tuple(instruction.shape[1:]) != (c.max_instruction_tokens,):
            raise ValueError(f"expected image (B, {S}, {S}, 3) and instruction (B, {c.max_instruction_tokens}), "
                             f"got {tuple(image.shape)} and {tuple(instruction.shape)}")  # fmt: skip
        # Trim the instruction to the batch's longest: padding is masked, so this only saves compute.
        T = max(1, int((instruction != 0).sum(1).max()))
        ids = instruction[:, :T]
        x = image.permute(0, 3, 1, 2).float().div(255.0).sub(0.5).contiguous(memory_format=torch.channels_last)
        seen = self.ln_patch(self.stem(x).flatten(2).transpose(1, 2))  # (B, P, C)
        patches, text = seen, self.ln_text(self.tok_emb(ids))  # (B, P, C), (B, T, C)
        for patch_mix, text_mix in zip(self.patch_mix, self.text_mix, strict=True):
            patches, text = patch_mix(patches, (c.grid, c.grid)), text_mix(text, (T,), keep=ids != 0)
        patches, text = patches + self.patch_pos, text + self.tok_pos[:, :T]
        h = torch.cat([self.queries.expand(B, -1, -1), patches, text], dim=1)
        P = patches.size(1)
        keep = torch.cat([torch.ones(B, 2 + P, dtype=torch.bool, device=ids.device), ids != 0], dim=1)
        mask = None if bool(keep.all()) else keep[:, None, None, :]  # (B, 1, 1, 2 + P + T)
        for block in self.blocks:
            h = block(h, mask)
        h = self.ln_f(h).float()  # heads in fp32 under autocast
        act, end, patches, text = h[:, 0], h[:, 1], h[:, 2 : 2 + P], h[:, 2 + P :]

        heads = {"type": self.type_head(act), "scroll": self.scroll_head(act), "hotkey": self.hotkey_head(act)}
        heads["confidence"] = self.confidence_head(act).squeeze(-1)
        for key, head, query in (("point", self.point, act), ("end_point", self.end_point, end)):
            heads.update({"_".join(filter(None, (key, k))): v for k, v in head(query, patches).items()})
        # Span logits over positions 0..L; -inf where no span can start/end (padding, beyond the text).
        L = c.max_instruction_tokens
        start = torch.full((B, L + 1), -torch.inf, device=h.device)
        end_ = torch.full((B, L + 1), -torch.inf, device=h.device)
        valid = ids != 0
        start[:, :T] = self.span_start(text).squeeze(-1).masked_fill(~valid, -torch.inf)
        end_[:, 1 : T + 1] = self.span_end(text).squeeze(-1).masked_fill(~valid, -torch.inf)
        end_[:, 0] = 0.0  # the empty span (0, 0), for actions that type nothing
        heads["text_start"], heads["text_end"] = start, end_
        if not reading and targets is None:
            return heads, None, {}
        heads["patch_aux"], heads["target_chars"] = self.patch_chars(patches), self.target_chars(act)
        heads["stem_glyphs"] = self.stem_glyphs(seen.float())
        heads["patch_look"], heads["target_look"] = self.look_head(patches), self.look_head(act)
        heads["patch_word"], heads["target_word"] = self.word_head(patches), self.word_head(act)
        if targets is None:
            return heads, None, {}
        loss, parts = self._loss(heads, targets)
        return heads, loss, parts

    def _loss(self, heads, t):
        c, G = self.config, self.config.grid
        kind = t["type"]
        parts = {"type": F.cross_entropy(heads["type"], kind)}

        def masked(values, mask):  # mean over the samples where the factor matters
            mask = mask.float()
            return (values * mask).sum() / mask.sum().clamp(min=1.0)

        for key, mask in (("point", torch.isin(kind, torch.tensor(POINTING, device=kind.device))),
                          ("end_point", kind == DRAG)):  # fmt: skip
            xy = t[key]
            if c.point_head == "regress":
                parts[key] = masked((torch.sigmoid(heads[key + "_xy"]) - xy).abs().sum(-1), mask)
                continue
            cell = (xy * G).clamp(0, G - 1e-4)
            col, row = cell[:, 0].long(), cell[:, 1].long()
            index = row * G + col
            parts[key] = masked(F.cross_entropy(heads[key], index, reduction="none"), mask)
            offset = torch.sigmoid(heads[key + "_offset"][torch.arange(len(index)), index])
            parts[key + "_offset"] = masked((offset - (cell - cell.floor())).abs().sum(-1), mask)
        parts["scroll"] = masked(F.cross_entropy(heads["scroll"], t["scroll"], reduction="none"), kind == SCROLL)
        parts["hotkey"] = masked(F.cross_entropy(heads["hotkey"], t["hotkey"], reduction="none"), kind == HOTKEY)
        is_type = kind == TYPE
        for key in ("text_start", "text_end"):  # guard -inf rows of non-type samples before the CE
            logits = torch.where(is_type[:, None], heads[key], heads[key].clamp(min=-1e4))
            parts[key] = masked(F.cross_entropy(logits, t[key], reduction="none"), is_type)

        # Confidence: does this prediction hit (right type, and the right element for pointing types)?
        with torch.no_grad():
            hit = heads["type"].argmax(-1) == kind
            pred = self.decode_points(heads, "point")
            half = t["target_half"].clamp(min=0.5 / G)  # half the target box (w, h); 0 when unknown
            hit &= ~torch.isin(kind, torch.tensor(POINTING, device=kind.device)) | (
                (pred - t["point"]).abs() <= half
            ).all(-1)
            hit &= (kind != HOTKEY) | (heads["hotkey"].argmax(-1) == t["hotkey"])
        parts["confidence"] = F.binary_cross_entropy_with_logits(heads["confidence"], hit.float())

        # Reading losses from the privileged element list (only samples that have one).
        # The character losses average over the patches that show text: most patches show none, and a mean
        # over all of them taught "no text here" and never the letters (reading stayed at chance).
        has = t["has_elements"].float()
        aux = heads["patch_aux"]  # (B, P, 2 * 3 * CHARS + 1)
        for name, key, logits in (
            ("aux_patch_glyphs", "patch_glyphs", aux[..., : LABEL_CHARS * CHARS]),
            ("aux_patch_chars", "patch_chars", aux[..., LABEL_CHARS * CHARS : 2 * LABEL_CHARS * CHARS]),
            ("aux_stem_glyphs", "patch_glyphs", heads["stem_glyphs"]),
        ):
            logits = logits.reshape(-1, CHARS)
            ce = F.cross_entropy(logits, t[key].reshape(-1), reduction="none").view(*t[key].shape)  # (B, P, 3)
            parts[name] = masked(ce.mean(-1), (t[key][..., 0] > 0) & t["has_elements"][:, None])
        parts["aux_patch_target"] = masked(
            F.binary_cross_entropy_with_logits(aux[..., -1], t["patch_target"], reduction="none").mean(-1), has
        )
        tc = F.cross_entropy(heads["target_chars"].view(-1, CHARS), t["target_chars"].reshape(-1), reduction="none")
        parts["aux_target_chars"] = masked(tc.view(len(kind), -1).mean(-1), has * (t["target_chars"][:, 0] > 0))

        colours = len(LOOK_COLOURS) + 1
        for name, key, logits in (("aux_patch_look", "patch_look", heads["patch_look"]),
                                  ("aux_target_look", "target_look", heads["target_look"])):  # fmt: skip
            wanted = t[key].flatten(0, -2)  # (B * P, 2) or (B, 2): colour, shape; 0 = no named icon
            colour, shape = logits[..., :colours].flatten(0, -2), logits[..., colours:-1].flatten(0, -2)
            ce = F.cross_entropy(colour, wanted[:, 0], reduction="none")
            ce = ce + F.cross_entropy(shape, wanted[:, 1], reduction="none")
            parts[name] = masked(ce, wanted[:, 0] > 0)  # mean over the icons' patches / targets
        focus = F.binary_cross_entropy_with_logits(heads["patch_look"][..., -1], t["patch_focus"], reduction="none")
        parts["aux_patch_focus"] = masked(focus, t["patch_field"])  # mean over the fields' patches
        for key in ("patch_word", "target_word"):  # mean over the patches / targets that show a vocabulary word
            wanted = t[key].flatten()
            ce = F.cross_entropy(heads[key].flatten(0, -2), wanted, reduction="none")
            parts["aux_" + key] = masked(ce, wanted > 0)
        weights = {"aux_stem_glyphs": c.stem_glyph_weight}
        loss = sum(v * weights.get(k, c.aux_weight if k.startswith("aux") else 1.0) for k, v in parts.items())
        return loss, {k: v.item() for k, v in parts.items()}

    # ------------------------------------------------------------ decoding to actions

    def decode_points(self, heads, key: str) -> torch.Tensor:
        """(B, 2) points as fractions from the point head's logits (argmax patch + its offset).

        Finite weights can still overflow inside the network (inf - inf = NaN), so a NaN coordinate becomes
        the middle of its patch (or of the screen): a valid point for any weights.
        """
        if self.config.point_head == "regress":
            return torch.sigmoid(heads[key + "_xy"]).nan_to_num(0.5)
        G = self.config.grid
        index = heads[key].argmax(-1)
        offset = torch.sigmoid(heads[key + "_offset"][torch.arange(len(index)), index]).nan_to_num(0.5)
        cell = torch.stack([index % G, index // G], dim=-1).float()
        return ((cell + offset) / G).clamp(0.0, 1.0)

    def flat_logits(self, heads) -> list[torch.Tensor]:
        """Per-factor log-probabilities in the order of `minvla_gym.wrappers.FLAT_FIELDS`, for a MultiDiscrete
        policy (PPO). x / y bins get the marginals of the patch distribution, spread evenly over the bins
        whose centres fall in each patch column / row (the offset is not a factor of the flat twin)."""
        if self.config.point_head != "patch":
            raise ValueError("flat_logits needs point_head='patch' (a regression head has no bin distribution)")
        G, bins = self.config.grid, self.config.coord_bins
        cell_of_bin = ((torch.arange(bins) + 0.5) / bins * G).long().clamp(max=G - 1)
        per_cell = torch.bincount(cell_of_bin, minlength=G).clamp(min=1).float()
        out = [F.log_softmax(heads["type"], -1)]
        for key in ("point", "end_point"):
            joint = F.log_softmax(heads[key], -1).view(-1, G, G)  # (B, row, col)
            for axis in (1, 2):  # x marginalises rows, y columns
                marginal = torch.logsumexp(joint, dim=axis)  # (B, G)
                cell = cell_of_bin.to(marginal.device)
                out.append(marginal[:, cell] - per_cell.to(marginal.device).log()[cell])
        out += [F.log_softmax(heads[k], -1) for k in ("scroll", "text_start", "text_end", "hotkey")]
        return out

    @torch.no_grad()
    def predict(self, obs_batch: dict[str, Any]) -> tuple[list[dict[str, Any]], np.ndarray]:
        """Stacked observations -> (actions of the one space, confidence in [0, 1] per action)."""
        device = next(self.parameters()).device
        image = torch.as_tensor(np.asarray(obs_batch["image"]), device=device)
        ids = torch.as_tensor(np.asarray(obs_batch["instruction"]), dtype=torch.long, device=device)
        if image.ndim == 3:
            raise ValueError("act_batch expects stacked observations (B, S, S, 3); use act() for one")
        was_training = self.training
        self.eval()
        heads, _, _ = self(image.to(torch.uint8), ids, reading=False)
        self.train(was_training)
        points, ends = self.decode_points(heads, "point"), self.decode_points(heads, "end_point")
        start = heads["text_start"].argmax(-1)
        positions = torch.arange(heads["text_end"].size(1), device=device)
        end = heads["text_end"].masked_fill(positions[None] <= start[:, None], -torch.inf).argmax(-1)
        fields = {k: heads[k].argmax(-1).tolist() for k in ("type", "scroll", "hotkey")}
        actions = []
        for i in range(len(image)):
            s, e = int(start[i]), int(end[i])
            text = "" if e <= s else decode(ids[i, s:e].cpu().numpy())
            text = "".join(ch for ch in text if ch in PRINTABLE)[:MAX_TEXT_LENGTH]
            actions.append({
                "type": int(fields["type"][i]),
                "point": points[i].cpu().numpy().astype(np.float32),
                "end_point": ends[i].cpu().numpy().astype(np.float32),
                "scroll": np.array([fields["scroll"][i] - (SCROLL_NOTCHES // 2)], dtype=np.float32),
                "text": text,
                "hotkey": int(fields["hotkey"][i]),
            })  # fmt: skip
        return actions, torch.sigmoid(heads["confidence"]).nan_to_num(0.0).cpu().numpy()

    def act_batch(self, obs_batch: dict[str, Any]) -> list[dict[str, Any]]:
        """Stacked observations (as vector envs give) -> a list, one action of the one space per observation;
        `minvla_gym.stack_actions(actions)` batches them for `VectorEnv.step`."""
        return self.predict(obs_batch)[0]

    def act(self, obs: dict[str, Any]) -> dict[str, Any]:
        """One observation -> one action of the one space (valid for any weights)."""
        return self.act_batch({k: np.asarray(v)[None] for k, v in obs.items() if k in ("image", "instruction")})[0]

    @classmethod
    def from_pretrained(cls, spec="small", device: str | torch.device = "cpu", announce: bool = False) -> VLA:
        """A shipped name (`"small"`), a checkpoint folder or a run folder (its best/, else last/): `find_checkpoint`."""
        return cls.from_checkpoint(find_checkpoint(spec, announce), device=device)

    # ------------------------------------------------------------ checkpoints

    def save(self, directory) -> Path:
        """Write `directory/config.json` and `directory/model.safetensors` (weights only: no code runs on load)."""
        from safetensors.torch import save_file

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().contiguous().cpu() for k, v in self.state_dict().items()}
        tmp = directory / (WEIGHTS_FILE + ".tmp")
        save_file(state, str(tmp))
        tmp.replace(directory / WEIGHTS_FILE)  # atomic: a crash never leaves a half-written checkpoint
        (directory / CONFIG_FILE).write_text(json.dumps(self.config.to_dict(), indent=2) + "\n")
        return directory

    @classmethod
    def from_checkpoint(cls, path, device: str | torch.device = "cpu") -> VLA:
        """Load a checkpoint directory (or its model.safetensors). Raises CheckpointError naming the file.

        Nothing is allocated before the config is checked and the weights file's header (names, shapes,
        dtypes) matches the model the config describes; weights that are not all finite are refused.
        """
        from safetensors import SafetensorError, safe_open
        from safetensors.torch import load_file

        path = Path(path)
        directory = path if path.is_dir() else path.parent
        weights, config_file = directory / WEIGHTS_FILE, directory / CONFIG_FILE
        for file in (config_file, weights):
            if not file.is_file():  # follows symlinks; a FIFO or a device is no checkpoint file
                raise CheckpointError(
                    f"{file}: missing or not a regular file (a checkpoint is a directory with {CONFIG_FILE} and "
                    f"{WEIGHTS_FILE})"
                )
        size = config_file.stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise CheckpointError(f"{config_file}: {size} bytes, more than a config's {MAX_CONFIG_BYTES}")
        try:
            raw = json.loads(config_file.read_text())
            known = {f.name for f in fields(VLAConfig)}
            if not isinstance(raw, dict) or set(raw) - known:
                raise ValueError(f"unknown keys {sorted(set(raw) - known) if isinstance(raw, dict) else raw!r}")
            config = VLAConfig(**raw)
        except RecursionError:  # json's parser recurses once per level of nesting
            raise CheckpointError(f"{config_file}: not a valid VLA config (nested too deeply)") from None
        except (ValueError, TypeError) as error:
            raise CheckpointError(f"{config_file}: not a valid VLA config ({error})") from None
        try:
            with safe_open(str(weights), framework="pt") as file:  # parses the header; reads no tensor
                header = {key: file.get_slice(key) for key in file.keys()}
                header = {key: (tuple(part.get_shape()), part.get_dtype()) for key, part in header.items()}
        except (SafetensorError, OSError, ValueError) as error:
            raise CheckpointError(f"{weights}: corrupt or unreadable safetensors file ({error})") from None
        with torch.device("meta"):  # the shapes the config implies, without their memory
            expected = {key: tuple(value.shape) for key, value in cls(config).state_dict().items()}
        problem = _header_mismatch(header, expected)
        if problem:
            raise CheckpointError(f"{weights}: does not match {config_file} ({problem})")
        try:
            state = load_file(str(weights), device=str(device))
        except (SafetensorError, OSError, ValueError) as error:
            raise CheckpointError(f"{weights}: corrupt or unreadable safetensors file ({error})") from None
        bad = [key for key, value in state.items() if not torch.isfinite(value).all()]
        if bad:
            raise CheckpointError(f"{weights}: NaN or infinite weights in {bad[:3]}")
        model = cls(config).to(device)
        model.load_state_dict(state, strict=False)  # the header check above leaves only OPTIONAL_HEADS missing
        return model.eval()


def _header_mismatch(header: dict[str, tuple], expected: dict[str, tuple]) -> str | None:
    """What differs between a safetensors header {name: (shape, dtype)} and a model's {name: shape}, or None."""
    missing = [key for key in expected if key not in header and not key.startswith(OPTIONAL_HEADS)]
    unexpected = [key for key in header if key not in expected]
    if missing or unexpected:
        return f"missing keys {missing[:5]}, unexpected keys {unexpected[:5]}"
    differ = [f"{key} {shape} in the file, {expected[key]} in the config"
              for key, (shape, _) in header.items() if shape != expected[key]]  # fmt: skip
    if differ:
        return "shapes differ: " + "; ".join(differ[:3])
    odd = [f"{key} {dtype}" for key, (_, dtype) in header.items() if dtype not in WEIGHT_DTYPES]
    return f"not floating-point weights: {odd[:3]}" if odd else None


# The factors of an action, as the heads give them (docs/policy.md): what the anchor holds in place.
ACTION_FACTORS = ("type", "point", "end_point", "scroll", "hotkey", "text_start", "text_end")


def action_kl(heads: dict[str, torch.Tensor], reference: dict[str, torch.Tensor]) -> torch.Tensor:
    """KL(reference || current) summed over the action's factors, batch mean, plus the L1 distance of the in-patch
    offsets at the reference's chosen patches: zero exactly when the current heads act as the reference's."""
    total = heads["type"].new_zeros(())
    for key in ACTION_FACTORS:  # -inf marks impossible text positions in both: clamp them to a finite floor
        current, target = (F.log_softmax(h[key].clamp(min=-1e4), -1) for h in (heads, reference))
        total = total + F.kl_div(current, target, log_target=True, reduction="batchmean")
    for key in ("point", "end_point"):
        index = reference[key].argmax(-1)
        rows = torch.arange(len(index), device=index.device)
        current, target = (torch.sigmoid(h[key + "_offset"][rows, index]) for h in (heads, reference))
        total = total + (current - target).abs().sum(-1).mean()
    return total


# ---------------------------------------------------------------- finding checkpoints

# Weights that ship inside the package (minvla_gym/checkpoints/<name>), by name: `--model small`.
SHIPPED = ("small",)


def shipped_checkpoint(name: str) -> Path:
    import minvla_gym  # its folder, wherever the package-dir mapping put this module

    return Path(minvla_gym.__file__).resolve().parent / "checkpoints" / name


def find_checkpoint(spec: str | Path, announce: bool = False) -> Path:
    """The checkpoint folder that `spec` names: a shipped name (`small`), a checkpoint folder (config.json and
    model.safetensors), or a run folder (`minvla train` / `finetune --out`), whose best/ is taken, else last/.

    `announce` says on stderr which folder of a run was picked. Raises CheckpointError naming what is missing.
    """
    if str(spec) in SHIPPED:
        return shipped_checkpoint(str(spec))
    path = Path(spec)
    if path.is_file() and path.name == WEIGHTS_FILE:
        path = path.parent
    if not path.exists():
        raise CheckpointError(
            f"{path}: no such folder (give a checkpoint or run folder, or one of {' '.join(SHIPPED)})"
        )
    if not path.is_dir():
        raise CheckpointError(f"{path}: not a folder (give a checkpoint or run folder, or one of {' '.join(SHIPPED)})")
    if (path / CONFIG_FILE).exists() or (path / WEIGHTS_FILE).exists():
        return path
    for sub in ("best", "last"):
        if (path / sub / WEIGHTS_FILE).is_file():
            if announce:
                print(f"{path} is a run folder: using its {sub}/ checkpoint", file=sys.stderr)
            return path / sub
    raise CheckpointError(
        f"{path}: neither a checkpoint ({CONFIG_FILE}, {WEIGHTS_FILE}) nor a run folder (best/, last/)"
    )


def resolve_device(name: str = "auto") -> torch.device:
    """ "auto" is cuda when available, else cpu; an unusable device is a ValueError saying why."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(f"--device {name!r}: expected auto, cpu, cuda or cuda:N") from None
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"--device {name!r}: expected auto, cpu, cuda or cuda:N")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {name}: CUDA is not available on this machine (use cpu or auto)")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ValueError(f"--device {name}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    return device
