"""Minutes of 2-core CPU -> success on MinVLA-Synthetic-v0, for the runs behind the README's numbers.

    python examples/plot_learning_curves.py    # reads docs/curves/*.csv (copies of the runs' eval.csv), writes docs/learning_curves.png

Curves: the quickstart from random weights (30 min); the pretraining of the shipped checkpoint
(examples/pretrain.py: stage 1, 90 min from scratch; stage 2, 75 min more with the weak families drawn more
often; stage 3, 70 min more with the weakest drawn more still; stage 4, 75 min more with the middle-row Scroll
expert and the look losses; stage 5, 60 min more with the word loss; stage 6, 45 min more with Scroll drawn
8/19; stages 7-10, 100 min of PPO on Scroll, shaded: they have no checks), and stage 1 in sessions 2-4 (earlier
versions of the model); the quickstart fine-tuning each checkpoint (30 min more, drawn after it) where one was
run. Each point is an in-training check on held-out episodes: 60 (about +-10 points of noise) up to session 5,
200 (about +-6) since session 6; the quickstart from the shipped checkpoint (session 13) trains and checks the
nine families other than Scroll.
"""

import csv
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

CURVES = Path(__file__).resolve().parent.parent / "docs" / "curves"


def read(name: str) -> tuple[list[float], list[float]]:
    rows = list(csv.DictReader((CURVES / name).open()))
    return [float(r["minutes"]) for r in rows], [float(r["success_rate"]) for r in rows]


fig, ax = plt.subplots(figsize=(11, 4.2))
minutes, success = read("quickstart_from_scratch.csv")
ax.plot(minutes, success, "o-", label="quickstart from random weights")
# Earlier versions of the same pretraining (dashed), each with the quickstart that fine-tuned it, if kept.
for name, quick, label, color in (
    ("pretrain_bag_losses.csv", None, "first reading losses (session 2)", "grey"),
    ("pretrain_glyph_losses.csv", None, "glyph losses, stem without norm (session 3)", "tan"),
    ("pretrain_stem_glyphs.csv", "quickstart_stem_glyphs.csv", "stem glyph loss, no local mixing (session 4)", "olive"),
):  # fmt: skip
    if (CURVES / name).exists():
        minutes, success = read(name)
        ax.plot(minutes, success, "s--", color=color, alpha=0.7, label=f"pretraining, {label}")
        if quick and (CURVES / quick).exists():
            start, (minutes, success) = minutes[-1], read(quick)
            ax.plot([start + m for m in minutes], success, "o--", color=color, alpha=0.7, label="  its quickstart")
# The shipped checkpoint's stages, each continuing the previous one's final weights, each followed (dashed, in
# its colour) by the quickstart that fine-tuned it, where that curve was kept.
STAGES = (
    ("pretrain.csv", "stage 1 (examples/pretrain.py)", "quickstart_stage1.csv", "session 5"),
    ("pretrain2.csv", "stage 2 (weak families drawn more)", "quickstart_stage2.csv", "session 6"),
    ("pretrain3.csv", "stage 3 (the weakest drawn more still)", "quickstart_stage3.csv", "session 8"),
    ("pretrain4.csv", "stage 4 (middle-row scrolls, look losses)", "quickstart_stage4.csv", "session 9"),
    ("pretrain5.csv", "stage 5 (the word loss)", "quickstart_stage5.csv", "session 10"),
    ("pretrain6.csv", "stage 6 (Scroll drawn 8/19)", "quickstart_stage6.csv", "session 11"),
)
# Stages 7-10: PPO on Scroll with the anchor (session 13: 7-8; session 14: 9 and 10, each from stage 8, then their
# average, stage 11); no in-training checks.
PPO_MINUTES = 25.2 + 25.0 + 25.0 + 25.1
start = 0.0
for stage, (name, label, quick, session) in enumerate(STAGES, 1):
    if not (CURVES / name).exists():
        break
    minutes, success = read(name)
    (line,) = ax.plot([start + m for m in minutes], success, "s-", label=f"pretraining, {label}")
    start += minutes[-1]
    if quick and (CURVES / quick).exists():
        minutes, success = read(quick)
        ax.plot([start + m for m in minutes], success, "o--", color=line.get_color(), alpha=0.6,
                label=f"  quickstart from stage {stage} ({session})")  # fmt: skip
if start:  # after stage 6
    ax.axvspan(start, start + PPO_MINUTES, color="grey", alpha=0.15, label="stages 7-10: PPO on Scroll (no checks)")
    start += PPO_MINUTES
if start and (CURVES / "quickstart.csv").exists():
    minutes, success = read("quickstart.csv")
    ax.plot([start + m for m in minutes], success, "o-", label="quickstart from the shipped checkpoint")
    ax.axvline(start, color="grey", lw=0.8, ls=":")
ax.set(xlabel="minutes of training on a 2-core CPU", ylabel="success rate (held-out check episodes)", ylim=(0, 1),
       title="MinVLA-Synthetic-v0, all 10 families")  # fmt: skip
ax.grid(alpha=0.3)
ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)  # beside the plot: the curves fill it
fig.tight_layout()
fig.savefig(CURVES.parent / "learning_curves.png", dpi=90)
print(f"wrote {CURVES.parent / 'learning_curves.png'}")
