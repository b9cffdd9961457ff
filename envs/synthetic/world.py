"""Worlds: where a synthetic desktop takes its words, looks and phrasing from.

A task family says *what* its screen holds ("some buttons, one of them the target") and asks its world
for the words, the theme and the instruction's wording. Two worlds exist:

- `CLOSED` (MinVLA-Synthetic-v0): the original closed world, frozen. 263 label words, Pillow's default
  font, dark or coloured-light themes, a few lowercase templates per family. Its draws from the episode's
  generator are exactly the original ones, so v0 gives the same episodes for the same seeds forever.
- `OpenWorld(split)` (MinVLA-Synthetic-v1): an open world, split for measuring generalisation the way
  Procgen and gSCAN do. Its words are the 7,776 of the EFF long word list plus everyday UI words,
  multi-word labels, numbers and file names, written in lower, Title, UPPER or as-is case; five font
  faces; dark, light, Tk, GTK and web-page themes with per-episode widget style; ten or more instruction
  templates per family with case, quotes, punctuation and synonyms. Each word belongs to one split by a
  stable hash (about 80% train, 20% test); the test split also has its own font face and templates. A
  split never draws the other split's words anywhere on the screen or in the instruction.

Words that the templates themselves use ("click", "the", "folder"), colour and shape names, file
extensions and key names are structure, not vocabulary: they appear in both splits and are never labels.
"""

from __future__ import annotations

import hashlib
import re
import string
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np

from minvla_gym.tokenizer import MAX_INSTRUCTION_TOKENS

SPLITS = ("train", "test")
TEST_SHARE = 5  # one word in five is a test word
TRAIN_FACES = ("aileron", "dejavu-sans", "dejavu-sans-bold", "dejavu-serif", "dejavu-mono")
TEST_FACES = ("stix",)  # a serif face no train episode is drawn in
MAX_LABEL_CHARS = 14  # longer labels stop fitting a 224-px window's buttons at the largest font


def split_of(word: str) -> str:
    """The split a word belongs to, by a stable hash of its lowercase form (the same on every machine)."""
    digest = hashlib.blake2s(word.lower().encode("utf-8"), digest_size=4).digest()
    return "test" if int.from_bytes(digest, "big") % TEST_SHARE == 0 else "train"


def tokens(text: str) -> list[str]:
    """The lowercase alphabetic words of a text (what the split is decided on)."""
    return re.findall(r"[a-z]+", text.lower())


# ---------------------------------------------------------------- instruction templates


class Phrases:
    """A family's instruction templates: `v0` (the frozen closed world's), `train` and `test` (the open
    world's; the test split's are held out from training). Every instance is registered, so the open
    world knows every word a template uses and keeps those words out of its vocabulary."""

    registry: list[Phrases] = []

    def __init__(self, v0: tuple[str, ...], train: tuple[str, ...] = (), test: tuple[str, ...] = ()):
        self.v0, self.train, self.test = tuple(v0), tuple(train) or tuple(v0), tuple(test) or tuple(v0)
        Phrases.registry.append(self)

    def __add__(self, other: Phrases) -> Phrases:
        """Both sets of templates. Not registered: its parts are, and tasks add phrases every episode."""
        combined = object.__new__(Phrases)
        combined.v0, combined.train, combined.test = (
            self.v0 + other.v0,
            self.train + other.train,
            self.test + other.test,
        )
        return combined

    def words(self) -> set[str]:
        return {word for template in self.v0 + self.train + self.test for word in tokens(_literal(template))}


def _literal(template: str) -> str:
    """A template's text without its {fields}."""
    return "".join(literal for literal, _, _, _ in string.Formatter().parse(template))


# Slots whose value is written as it is: typed text must be copied exactly, numbers and key names have no case.
VERBATIM = frozenset({"text", "value", "combo", "colour", "shape"})
# Slots that name something on the screen: these may be quoted.
QUOTABLE = frozenset({"label", "item", "name", "menu", "file", "dest", "field", "text"})


def phrase(rng: np.random.Generator, template: str, slots: dict[str, Any]) -> str:
    """`template` filled with `slots`, in a surface form a person might write: the template's words in lower,
    Sentence, Title or UPPER case, names lowercased or as shown, quoted or not, a full stop or none."""
    case, lower_names, quote, end, please = rng.random(5).tolist()
    quote = '"' if quote < 0.25 else "'" if quote < 0.45 else ""
    parts = []
    for literal, field, _, _ in string.Formatter().parse(("please " if please < 0.1 else "") + template):
        if case >= 0.95:
            literal = literal.upper()
        elif case >= 0.8:
            literal = re.sub(r"\b[a-z]", lambda m: m.group().upper(), literal)
        parts.append(literal)
        if field is not None:
            value = str(slots[field])
            if field not in VERBATIM and lower_names < 0.35:
                value = value.lower()
            if field in QUOTABLE and quote and not (literal.endswith(("'", '"'))):
                value = f"{quote}{value}{quote}"
            parts.append(value)
    text = "".join(parts)
    if 0.45 <= case < 0.8 and text[:1].islower():  # Sentence case
        text = text[0].upper() + text[1:]
    if end < 0.3:
        text += "."
    elif end < 0.35:
        text += "!"
    return text


# ---------------------------------------------------------------- vocabulary

# Everyday UI words and labels, besides the EFF list's: toolkit buttons, menu entries, settings.
UI_WORDS = """
    save open close cancel submit search send print delete edit copy paste undo redo share export import upload
    download refresh reload settings options help about profile account login logout signup next back previous
    continue finish start stop pause play resume retry skip apply reset clear filter sort rename move archive
    restore update install remove add create new compose reply forward attach browse select confirm accept
    decline allow deny block report invite join leave follow like bookmark pin unpin zoom rotate crop resize
    align bold italic underline insert format view layout preview publish draft schedule sync backup connect
    detach mute unmute record capture scan upgrade verify approve reject merge split lock unlock hide show expand
    collapse toggle enable disable inbox outbox spam trash notes music photos videos movies games maps weather
    news sports finance travel health fitness recipes books library calendar contacts clock timer alarm camera
    gallery files folders documents desktop network bluetooth wifi battery display sound keyboard mouse printer
    storage memory privacy security updates language region theme fonts colors wallpaper home garden kitchen
    office school work family friends party dinner lunch budget invoice receipt order cart checkout payment
    shipping returns coupons wishlist reviews ratings orders tickets events meetings tasks projects reports charts
    tables slides sheets forms surveys polls chat calls voicemail messages alerts status history favorites recent
    trending explore discover market store shop deals offers rewards points wallet bank transfer deposit withdraw
    loan tax ok done yes no dismiss exit quit minimize maximize tools window image table chart link comment symbol
    paragraph columns styles spelling macros plugins contents shortcuts volume brightness contrast speed opacity
    balance bass treble saturation quality warmth gain name email age city username phone title amount company
    register details sidebar outline ruler duplicate compress properties path
""".split()
# Multi-word labels as toolkits write them; each is in a split only when all its words are.
UI_PHRASES = (
    "Save as", "Sign in", "Sign out", "Log in", "Log out", "Select all", "Open with", "Move to trash",
    "Copy path", "Full screen", "New window", "New tab", "Page break", "Word count", "Check updates",
    "Insert row", "Delete row", "Merge cells", "Split cells", "Arrange all", "Status bar", "Pin to sidebar",
    "Open in new window", "Save all", "Close all", "Print preview", "Page setup", "Find next", "Go back",
    "Learn more", "Try again", "Get started", "Sign up", "Add new", "Show more", "Show less", "Zoom in",
    "Zoom out", "Undo all", "Clear all", "Mark as read", "Add to cart", "Buy now", "Edit profile",
    "Change password", "Forgot password", "Remember me", "Dark mode", "Send feedback", "Contact us",
    "Read more", "View all", "Export as", "Open recent", "Recent files", "Empty trash", "Restore defaults",
    "Keep changes", "Discard changes", "Not now", "Skip for now", "Allow once", "Always allow",
)  # fmt: skip
EXTENSIONS = ("txt", "pdf", "png", "doc", "csv", "zip", "mp3", "jpg", "md", "py", "json", "html", "xlsx", "svg")
DOMAINS = ("mail.com", "example.org", "inbox.net", "post.com", "web.de", "home.io")
# Words of the env's own structure: key names in hotkey instructions, and the fixed words tasks draw.
STRUCTURE = {
    "ctrl", "shift", "alt", "enter", "escape", "esc", "tab", "backspace", "delete", "space", "up", "down", "left",
    "right", "home", "end", "pageup", "pagedown", "percent", "trash", "files", "explorer", "editor", "writer",
}  # fmt: skip


@dataclass(frozen=True)
class Vocabulary:
    """One split's words, by the kind a task asks for."""

    words: tuple[str, ...]  # single lowercase words
    labels: tuple[str, ...]  # words, multi-word labels and numbers: what buttons and list items say
    names: tuple[str, ...]  # Title-case single words: folders, apps, fields, menus, window titles
    files: tuple[str, ...]  # file names


def numbers(rng: np.random.Generator, count: int) -> list[str]:
    """Labels made of digits and punctuation ("42", "v2.1", "50%", "3:30"), the same in both splits."""
    shapes = ("{a}", "{a}{b}", "v{a}.{b}", "{a}{b}%", "{a}:{b}0", "#{a}{b}", "${a}{b}", "{a}/{b}", "x{a}", "{a}.{b}")
    digits = rng.integers(1, 10, (count, 3)).tolist()
    return [shapes[i % len(shapes)].format(a=a, b=b) for i, (a, b, _) in enumerate(digits)]


@lru_cache(maxsize=2)
def vocabulary(split: str) -> Vocabulary:
    """The words of `split`: every word of the EFF list and UI_WORDS whose hash puts it there, less structure."""
    from minvla_gym.envs.synthetic import render, tasks, words  # tasks: every family's Phrases registered

    del tasks

    text = resources.files("minvla_gym.envs.synthetic").joinpath("data/eff_large_wordlist.txt").read_text("utf-8")
    listed = [line for line in text.splitlines() if line and not line.startswith("#") and line.isalpha()]
    structure = set(STRUCTURE) | set(words.COLOURS) | set(render.SHAPES) | set(EXTENSIONS)
    structure |= {word for domain in DOMAINS for word in tokens(domain)}
    for phrases in Phrases.registry:
        structure |= phrases.words()
    pool = sorted({w for w in [*UI_WORDS, *listed] if w not in structure and 3 <= len(w) <= 9 and split_of(w) == split})
    phrases = sorted(
        p for p in UI_PHRASES
        if all(w in structure or split_of(w) == split for w in tokens(p)) and any(w not in structure for w in tokens(p))
    )  # fmt: skip
    # Two-word labels from the UI verbs and the split's other words ("Share garden"), a fixed draw per split.
    rng = np.random.default_rng(SPLITS.index(split))
    verbs = [w for w in UI_WORDS[:120] if w in pool]
    pairs = {f"{verbs[i].capitalize()} {pool[j]}" for i, j in zip(rng.integers(0, len(verbs), 600).tolist(),
                                                                     rng.integers(0, len(pool), 600).tolist(), strict=True)}  # fmt: skip
    pairs = sorted(p for p in pairs if len(p) <= MAX_LABEL_CHARS)
    labels = tuple(pool + phrases + pairs + numbers(rng, 300))
    stems = pool + [
        f"{a}_{b}" for a, b in zip(rng.choice(pool, 300).tolist(), rng.choice(pool, 300).tolist(), strict=True)
    ]
    stems += [
        f"{w}{n}" for w, n in zip(rng.choice(pool, 300).tolist(), rng.integers(1, 100, 300).tolist(), strict=True)
    ]
    files = tuple(
        f"{stem}.{EXTENSIONS[ext]}"
        for stem, ext in zip(stems, rng.integers(0, len(EXTENSIONS), len(stems)).tolist(), strict=True)
        if len(stem) + 1 + len(EXTENSIONS[ext]) <= MAX_LABEL_CHARS
    )
    return Vocabulary(tuple(pool), labels, tuple(w.capitalize() for w in pool), files)


# ---------------------------------------------------------------- the worlds


class ClosedWorld:
    """v0: the original closed world. Every method makes exactly the draws the original tasks made."""

    version, split, open = 0, None, False

    def theme(self, rng: np.random.Generator, size: int):
        from minvla_gym.envs.synthetic.scene import Theme

        return Theme.random(rng, size)

    def case(self, rng: np.random.Generator):
        return None

    def pool(self, kind: str, pool: tuple) -> tuple:
        return pool

    def pick(self, task, kind: str, pool: tuple, count: int | None = None):
        return task.choice(pool) if count is None else task.sample(pool, count)

    def say(self, task, phrases: Phrases, **slots) -> str:
        return task.choice(phrases.v0).format(**slots)


CLOSED = ClosedWorld()


class OpenWorld:
    """v1: the open world of one split (see the module docstring)."""

    version, open = 1, True

    def __init__(self, split: str = "train"):
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        self.split = split
        self.faces = TRAIN_FACES if split == "train" else TEST_FACES

    def theme(self, rng: np.random.Generator, size: int):
        from minvla_gym.envs.synthetic.scene import Theme

        return Theme.open_world(rng, size, self.faces)

    def case(self, rng: np.random.Generator) -> str:
        """The episode's label case: toolkits write labels one way within a window."""
        return ("as-is", "lower", "title", "upper")[int(np.searchsorted((0.3, 0.55, 0.9), rng.random()))]

    def pool(self, kind: str, pool: tuple) -> tuple:
        """The split's items of `kind`: "word", "label", "name" or "file" (`pool`, the closed world's, unused)."""
        vocab = vocabulary(self.split)
        return {"word": vocab.words, "label": vocab.labels, "name": vocab.names, "file": vocab.files}[kind]

    def pick(self, task, kind: str, pool: tuple, count: int | None = None):
        """`count` distinct items (or one, when count is None) of `self.pool(kind)`, in the episode's case."""
        chosen = task.sample(self.pool(kind, pool), 1 if count is None else count)
        if kind in ("label", "name"):
            chosen = [styled(item, task.case) for item in chosen]
        return chosen[0] if count is None else chosen

    def say(self, task, phrases: Phrases, **slots) -> str:
        templates = phrases.train if self.split == "train" else phrases.test
        for _ in range(8):
            text = phrase(task.rng, task.choice(templates), slots)
            if len(text.encode("utf-8")) <= MAX_INSTRUCTION_TOKENS:
                return text
        return min((template.format(**slots) for template in templates), key=len)


def styled(label: str, case: str | None) -> str:
    if case == "lower":
        return label.lower()
    if case == "upper":
        return label.upper()
    if case == "title":
        return " ".join(word[:1].upper() + word[1:] for word in label.split(" "))
    return label


def world(version: int, split: str = "train") -> ClosedWorld | OpenWorld:
    if version == 0:
        if split != "train":
            raise ValueError("MinVLA-Synthetic-v0 has no splits; use MinVLA-Synthetic-v1 for split='test'")
        return CLOSED
    if version == 1:
        return OpenWorld(split)
    raise ValueError(f"unknown synthetic world version {version!r}; expected 0 or 1")
