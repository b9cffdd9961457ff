"""Reading probe: how fast does a conv stem learn to see letters? The stem alone + a glyph head, a few minutes.

    python examples/reading_probe.py 16,32,64             # a narrower stem without normalisation
    python examples/reading_probe.py 32,64,128 --norm     # `small`'s stem (GroupNorm per conv)

Trains three 3x3 stride-2 convs (the given widths), the 2x2 patchify to 128 channels, and a 1x1 head that
names the (up to three) characters drawn in each 16-px patch (the `patch_glyphs` target), on all families,
for --minutes; prints the first-glyph accuracy on the training batches (fresh data every step: no overfitting).
Run the two lines above side by side to see why the VLA's stem has GroupNorm and is 32/64/128 wide: both
learn glyphs faster per minute.
"""

import argparse
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from minvla_gym.policies.data import SyntheticBatches
from minvla_gym.policies.model import CHARS

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("widths", help="comma-separated widths of the three stride-2 convs")
parser.add_argument("--norm", action="store_true", help="GroupNorm(1, width) after each conv")
parser.add_argument("--minutes", type=float, default=3.5)
parser.add_argument(
    "--linear-head", action="store_true", help="LayerNorm + linear after the 2x2 patchify, as in the VLA"
)
args = parser.parse_args()
torch.manual_seed(0)

layers, cin = [], 3
for width in (int(w) for w in args.widths.split(",")):
    layers += [nn.Conv2d(cin, width, 3, 2, 1), *([nn.GroupNorm(1, width)] if args.norm else []), nn.GELU()]
    cin = width


class ChannelNorm(nn.LayerNorm):  # the VLA's LayerNorm over each patch token's channels
    def forward(self, x):
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


between = ChannelNorm(128) if args.linear_head else nn.GELU()
stem = nn.Sequential(*layers, nn.Conv2d(cin, 128, 2, 2), between, nn.Conv2d(128, 3 * CHARS, 1))
optimizer = torch.optim.AdamW(stem.parameters(), 1e-3)
batches, start, step, accuracies = SyntheticBatches(32, 14, seed=5), time.time(), 0, []
while time.time() - start < args.minutes * 60:
    batch = batches[step]
    step += 1
    x = batch["image"].permute(0, 3, 1, 2).float() / 255 - 0.5
    logits = stem(x).flatten(2).transpose(1, 2).reshape(32, 196, 3, CHARS)
    glyphs = batch["patch_glyphs"]
    shows = glyphs[..., 0] > 0  # patches with text
    loss = F.cross_entropy(logits[shows].reshape(-1, CHARS), glyphs[shows].reshape(-1))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    accuracies.append((logits[..., 0, :].argmax(-1) == glyphs[..., 0])[shows].float().mean().item())
    if step % 50 == 0:
        recent = sum(accuracies[-50:]) / 50
        print(
            f"{time.time() - start:5.0f} s  step {step:5d}  loss {loss.item():.2f}  first-glyph accuracy {recent:.0%}"
        )
