"""MinVLA-Synthetic-v1, the open world: splits that never mix, fonts, templates, per-character boxes;
and v0, the closed world, frozen (pinned frame hashes)."""

from __future__ import annotations

import hashlib
import warnings

import gymnasium as gym
import numpy as np
import PIL
import pytest

import minvla_gym  # noqa: F401  (registers the ids)
from minvla_gym.envs.synthetic import SyntheticDesktopEnv, render, world
from minvla_gym.envs.synthetic.tasks import FAMILIES
from minvla_gym.envs.synthetic.world import TEST_FACES, TRAIN_FACES, Phrases, split_of, tokens, vocabulary

# Hashes of the frames, instructions and expert actions of v0's first episodes, taken with the code from before
# v1 existed: v0 must give the same episodes for the same seeds forever. Text pixels come from Pillow's FreeType
# build, which differs between Pillow releases (moviepy, in the `all` extra, caps Pillow below 12), so each
# release line the project installs has its own pins.
V0_PINS = {
    "11": {
        "Click": ["42d1405685102971", "510dc5b36ef18e51", "c6c6c8786bf28930"],
        "Hotkey": ["bd604a0a2ca14f70", "754de2187ac04656", "1ab86dbf8fed6a67"],
        "Drag": ["26aca98706353c13", "94b332734870ded2", "684ec838f55c9365"],
        "Slider": ["3d935c5ed56e6d0b", "72125735bf8a32aa", "5a1fa295176ffd83"],
        "Scroll": ["c21272457206fd99", "b521c79a28cd3feb", "fa546d3459177110"],
        "Type": ["0e04e6707488ad51", "c318d2616d48f0cb", "3138266e0dbcd622"],
        "Icon": ["afc9e1af21fe5ff8", "e751bf6421d218d6", "89755ee2d16c336e"],
        "DoubleClick": ["b413075d61cc9b77", "52598213bc5e072d", "d1ca1cf963e47419"],
        "RightClick": ["d7874f54111ffb5e", "5266283b69bcd431", "2fca110e20dc9441"],
        "Menu": ["b2a97c372902230f", "31802cce74c5567f", "d2000af54eb73055"],
        "mixed128": ["3de636b00d7d5fc2", "b90048315e8c58bc", "7a9a6cc6f64c2c6f", "e6fa7cdbc3842854"],
    },
    "13": {
        "Click": ["c422190f5a53ed3a", "510dc5b36ef18e51", "d58d9c75eff04398"],
        "Hotkey": ["7be26592a1f95926", "754de2187ac04656", "089ddc9d92671cd1"],
        "Drag": ["703fa69f96f89e02", "94b332734870ded2", "3b70531de9b3d23c"],
        "Slider": ["d0432018eed9ff37", "72125735bf8a32aa", "65bf7f03fcada21b"],
        "Scroll": ["590661d9d2909099", "b521c79a28cd3feb", "002b6e1625a3b4a7"],
        "Type": ["0e04e6707488ad51", "c318d2616d48f0cb", "07d30ff29d4deeee"],
        "Icon": ["3ecec9c63a7fa386", "e751bf6421d218d6", "89755ee2d16c336e"],
        "DoubleClick": ["3a66138040bd83cb", "52598213bc5e072d", "11c61dd1ff4b8fe4"],
        "RightClick": ["5372d174fa8c2c63", "5266283b69bcd431", "d7902c9f92dc0ba9"],
        "Menu": ["718693fb9f95f0e3", "31802cce74c5567f", "dc37d13b0e0470aa"],
        "mixed128": ["3de636b00d7d5fc2", "9913063c93656b28", "0d42ccfa8a1376d4", "e6fa7cdbc3842854"],
    },
}


def make(env_id: str, **kwargs) -> gym.Env:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # Gymnasium: "v0 is out of date"
        return gym.make(env_id, **kwargs)


def episode_digest(env: gym.Env, seed: int) -> str:
    digest = hashlib.sha256()
    obs, info = env.reset(seed=seed)
    digest.update(obs["image"].tobytes())
    digest.update(info["instruction"].encode())
    for _ in range(3):
        action = env.unwrapped.expert_action()
        obs, _, terminated, truncated, info = env.step(action)
        digest.update(obs["image"].tobytes())
        digest.update(repr(sorted((k, str(v)) for k, v in action.items())).encode())
        if terminated or truncated:
            break
    return digest.hexdigest()[:16]


def pins() -> dict[str, list[str]]:
    release = PIL.__version__.split(".")[0]
    if release not in V0_PINS:
        pytest.skip(f"no v0 frame pins for Pillow {PIL.__version__} (pinned: {sorted(V0_PINS)})")
    return V0_PINS[release]


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_v0_is_frozen(family):
    env = make(f"MinVLA-Synthetic-{family}-v0")
    assert [episode_digest(env, seed) for seed in (0, 1, 2)] == pins()[family]


def test_v0_mixed_at_128_pixels_is_frozen():
    env = make("MinVLA-Synthetic-v0", size=128)
    assert [episode_digest(env, seed) for seed in (5, 6, 7, 8)] == pins()["mixed128"]


def test_splits_are_arguments_with_clear_errors():
    assert make("MinVLA-Synthetic-v1").reset(seed=0)[1]["split"] == "train"
    assert make("MinVLA-Synthetic-Click-v1", split="test").reset(seed=0)[1]["split"] == "test"
    assert make("MinVLA-Synthetic-v0").reset(seed=0)[1]["split"] is None
    with pytest.raises(ValueError, match="split must be one of"):
        make("MinVLA-Synthetic-v1", split="validation")
    with pytest.raises(ValueError, match="v0 has no splits"):
        make("MinVLA-Synthetic-v0", split="test")
    with pytest.raises(ValueError, match="version"):
        SyntheticDesktopEnv(version=2)


# ---------------------------------------------------------------- vocabulary and splits


def test_vocabulary_is_large_split_80_20_by_a_stable_hash():
    train, test = vocabulary("train"), vocabulary("test")
    assert len(train.words) + len(test.words) >= 5000
    assert 0.17 < len(test.words) / (len(train.words) + len(test.words)) < 0.23
    assert not set(train.words) & set(test.words)
    assert all(split_of(w) == "train" for w in train.words) and all(split_of(w) == "test" for w in test.words)
    # The hash is a fixed function of the word: these stay where they are on every machine, in any case.
    assert [split_of(w) for w in ("save", "Save", "garden", "abacus")] == [split_of("save")] * 2 + [
        split_of("garden"),
        split_of("abacus"),
    ]
    kinds = {"multi-word": " ", "number": "0123456789", "upper or title": "ABCDEFGHIJKLMNOPQRSTUVWXYZ"}
    labels = train.labels + train.names
    for kind, marks in kinds.items():
        assert any(any(c in label for c in marks) for label in labels), kind
    assert all("." in name for name in train.files)


def screen_text(env: gym.Env) -> list[str]:
    """Every text the episode shows or says: element labels (titles and body text included), what fields
    hold, and the instruction."""
    task = env.unwrapped.task
    texts = [task.instruction]
    for element in task.scene.elements:
        texts += [element.label, str(element.data.get("text", ""))]
    return texts


@pytest.mark.parametrize("split", ["train", "test"])
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_a_split_never_shows_the_other_splits_words(family, split):
    other = set(vocabulary("test" if split == "train" else "train").words)
    env = make(f"MinVLA-Synthetic-{family}-v1", split=split)
    seen = set()
    for seed in range(150):
        env.reset(seed=seed)
        for _ in range(3):  # multi-step tasks open menus, scroll lists, type text
            words = {w for text in screen_text(env) for w in tokens(text)}
            assert not words & other, f"seed {seed}: {sorted(words & other)} of the other split in {screen_text(env)}"
            seen |= words
            _, _, terminated, truncated, _ = env.step(env.unwrapped.expert_action())
            if terminated or truncated:
                break
    assert len(seen & set(vocabulary(split).words)) > 100  # the split's own words do show


def test_the_held_out_font_is_drawn_only_in_the_test_split(monkeypatch):
    drawn = {"train": set(), "test": set()}
    font = render.font.__wrapped__
    for split in drawn:
        for cache in (render._word_mask, render._word_alpha, render.text_mask, render.char_boxes):
            cache.cache_clear()  # rasterise afresh, so every face used passes through render.font
        render.text_size.cache_clear()
        render.glyphs.cache_clear()
        monkeypatch.setattr(
            render, "font", lambda size, face="default", seen=drawn[split]: seen.add(face) or font(size, face)
        )
        env = make("MinVLA-Synthetic-v1", split=split)
        for seed in range(60):
            env.reset(seed=seed)
            env.step(env.unwrapped.expert_action())
    assert drawn["train"] == set(TRAIN_FACES) and not drawn["train"] & set(TEST_FACES)
    assert drawn["test"] == set(TEST_FACES)


def test_every_family_has_ten_templates_some_held_out():
    for family, task in FAMILIES.items():
        module = __import__(task.__module__, fromlist=["_"])
        phrases = [v for v in vars(module).values() if isinstance(v, Phrases)]
        phrases += [
            p for v in vars(module).values() if isinstance(v, dict) for p in v.values() if isinstance(p, Phrases)
        ]
        train = {t for p in phrases for t in p.train}
        test = {t for p in phrases for t in p.test}
        assert len(train | test) >= 10, family
        assert test - train, f"{family} holds no template out"


def test_each_split_phrases_only_its_own_templates(monkeypatch):
    used = []
    phrase = world.phrase
    monkeypatch.setattr(
        world, "phrase", lambda rng, template, slots: used.append(template) or phrase(rng, template, slots)
    )
    for split in ("train", "test"):
        own = {t for p in Phrases.registry for t in getattr(p, split)}
        held = {t for p in Phrases.registry for t in p.test} - {t for p in Phrases.registry for t in p.train}
        env = make("MinVLA-Synthetic-v1", split=split)
        used.clear()
        for seed in range(300):
            env.reset(seed=seed)
        assert set(used) <= own
        if split == "train":
            assert not set(used) & held
        else:
            assert set(used) & held


def test_phrases_combined_in_an_episode_are_not_registered():
    registered = len(Phrases.registry)
    env = make("MinVLA-Synthetic-Scroll-v1")
    for seed in range(30):  # Scroll adds its "scroll down/up" templates to the others when the item is hidden
        env.reset(seed=seed)
    assert len(Phrases.registry) == registered


def test_instructions_vary_in_surface_form():
    env = make("MinVLA-Synthetic-Click-v1")
    said = [env.reset(seed=seed)[1]["instruction"] for seed in range(200)]
    assert any(s[0].isupper() for s in said) and any(s[0].islower() for s in said)
    assert any(s.endswith(".") for s in said) and any('"' in s or "'" in s for s in said)
    assert any(s.isupper() for s in said if any(c.isalpha() for c in s))
    assert len({s.split()[0].lower().strip("\"'") for s in said}) >= 5  # click / press / hit / select / ...


def test_themes_include_light_toolkit_looks_and_widget_styles():
    env = make("MinVLA-Synthetic-Click-v1")
    themes = [env.reset(seed=seed) and env.unwrapped.task.theme for seed in range(100)]
    assert any(t.plain and not t.dark for t in themes) and any(t.dark for t in themes)
    assert {t.border_width for t in themes} == {0, 1, 2} and len({t.corner for t in themes}) >= 3
    assert any(t.focus >= 0 for t in themes) and any(t.focus < 0 for t in themes)
    assert len({t.font_size for t in themes}) >= 8


# ---------------------------------------------------------------- per-character boxes


def unobscured(elements: list[dict], i: int) -> bool:
    """No element drawn after elements[i] overlaps its text (elements are listed in drawing order)."""
    tx0, ty0, tx1, ty1 = elements[i]["text_box"]
    return not any(
        x0 < tx1 and tx0 < x1 and y0 < ty1 and ty0 < y1 for x0, y0, x1, y1 in (e["box"] for e in elements[i + 1 :])
    )


@pytest.mark.parametrize("split", ["train", "test"])
def test_character_boxes_hold_the_glyphs_ink_and_spaces_none(split):
    env = make("MinVLA-Synthetic-v1", split=split)
    glyphs = inked = spaces = 0
    for seed in range(40):
        obs, info = env.reset(seed=seed)
        frame, size = obs["image"].astype(int), obs["image"].shape[0]
        elements = info["elements"]
        for i, e in enumerate(elements):
            if e["text_box"] is None or e["role"] == "window" or not unobscured(elements, i):
                continue
            tx0, ty0, tx1, ty1 = (round(v * size) for v in e["text_box"])
            if tx0 < 0 or ty0 < 0 or tx1 > size or ty1 > size:
                continue
            region = frame[ty0:ty1, tx0:tx1].reshape(-1, 3)
            colours, counts = np.unique(region, axis=0, return_counts=True)
            background = colours[counts.argmax()]  # the text's background: most of its box
            for ch, box in zip(e["label"], e["char_boxes"], strict=True):
                x0, y0, x1, y1 = (round(float(v) * size) for v in box)
                ink = (np.abs(frame[y0:y1, x0:x1] - background).sum(-1) > 24).any() if x1 > x0 and y1 > y0 else False
                if ch == " ":
                    spaces += 1
                    assert not ink, f"seed {seed}: ink in the space of {e['label']!r}"
                else:
                    glyphs += 1
                    inked += bool(ink)
    assert spaces > 20 and glyphs > 1000
    assert inked / glyphs > 0.99  # a glyph too faint to tell apart at 7 px is the rare exception


def test_character_boxes_tile_a_drawn_word_left_to_right():
    frame = np.zeros((40, 200, 3), np.uint8)
    for face in render.FACES:
        frame[:] = 0
        render.text(frame, "Save as", (0, 0, 200, 40), 14, (255, 255, 255), "left", face)
        x, y, _, _ = render.text_box("Save as", (0, 0, 200, 40), 14, "left", face)
        boxes = render.char_boxes("Save as", 14, face) + [x, y, x, y]
        assert boxes.shape == (7, 4)
        assert (np.diff(boxes[:, 0]) >= -1).all()  # left to right
        ink_columns = np.flatnonzero(frame.max(axis=(0, 2)) > 0)
        assert boxes[0, 0] <= ink_columns[0] + 1 and boxes[-1, 2] >= ink_columns[-1]  # the ink lies inside
        assert frame[:, boxes[4, 0] : boxes[4, 2]].max() == 0  # the space


# ---------------------------------------------------------------- memory and smaller contracts


def test_glyph_caches_are_bounded_in_bytes():
    rng = np.random.default_rng(0)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    budget = render._word_alpha.cache_info()["max_bytes"]
    for _ in range(400):  # long, new strings: each a large mask
        text = "".join(rng.choice(letters, 90))
        frame = np.zeros((64, 1024, 3), np.uint8)
        render.text(frame, text, (0, 0, 1024, 64), int(rng.integers(20, 40)), (255, 255, 255), "left")
    for cache in (render._word_alpha, render._word_mask, render.text_mask, render.char_boxes):
        info = cache.cache_info()
        assert info["bytes"] <= info["max_bytes"]
    assert render._word_alpha.cache_info()["bytes"] > budget // 2  # it did fill: the bound was exercised


def test_stepping_a_terminated_episode_and_foreign_options_are_errors():
    env = make("MinVLA-Synthetic-Click-v1")
    env.reset(seed=0)
    *_, terminated, _, info = env.step(env.unwrapped.expert_action())
    assert terminated and info["is_success"]
    with pytest.raises(gym.error.ResetNeeded, match="terminated"):
        env.unwrapped.step(env.unwrapped.expert_action())
    with pytest.raises(ValueError, match="instruction"):
        env.reset(seed=0, options={"instruction": "click ok"})
