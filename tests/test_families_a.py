"""Task families Icon, DoubleClick, RightClick and Menu: expert, decisive failures, continues, wording."""

from __future__ import annotations

import re

import numpy as np
import pytest

from minvla_gym.actions import RIGHT_CLICK, make_action
from minvla_gym.envs.synthetic import SyntheticDesktopEnv, render
from minvla_gym.envs.synthetic.scene import INTERACTIVE
from minvla_gym.envs.synthetic.tasks import FAMILIES, double_click, icon, menu, right_click
from minvla_gym.envs.synthetic.words import COLOURS

TEMPLATES = {
    "Icon": icon.BY_LOOK.v0 + icon.BY_LABEL.v0,
    "DoubleClick": tuple(t for group in double_click.PHRASES.values() for t in group.v0),
    "RightClick": right_click.PHRASES.v0,
    "Menu": menu.PHRASES.v0,
}
NAMES = tuple(TEMPLATES)


def make(name: str, seed: int, size: int = 224) -> SyntheticDesktopEnv:
    env = SyntheticDesktopEnv(version=0, task=name, size=size)
    env.reset(seed=seed)
    return env


def press(env, kind: str, point):
    return env.step(make_action(kind, point=point))


def centre(env, element):
    return env.task.at(element)


def empty_point(env):
    """A point on no interactive element (the bare window or desktop)."""
    for y in np.linspace(0.02, 0.98, 40):
        for x in np.linspace(0.02, 0.98, 40):
            if env.task.scene.hit((x, y)) is None:
                return (float(x), float(y))
    raise AssertionError("no empty point on the screen")


def targets(env):
    return [e for e in env.task.scene.elements if e.visible and e.target]


# What each template field may stand for; other fields stand for any text.
FIELDS = {"colour": "|".join(COLOURS), "shape": "|".join(render.SHAPES)}


def template_of(name: str, instruction: str) -> str:
    """The template an instruction came from; the most specific one where several match."""
    matches = []
    for template in TEMPLATES[name]:
        pattern = re.sub(r"\\{(\w+)\\}", lambda m: f"({FIELDS.get(m.group(1), '.+')})", re.escape(template))
        if re.fullmatch(pattern, instruction):
            matches.append(template)
    assert matches, f"{instruction!r} matches no {name} template"
    return max(matches, key=len)


# ------------------------------------------------------------ every family


def test_registered():
    for name in NAMES:
        assert name in FAMILIES


@pytest.mark.parametrize("name", NAMES)
def test_expert_succeeds_on_500_seeds(name):
    env = SyntheticDesktopEnv(version=0, task=name)
    for seed in range(500):
        env.reset(seed=seed)
        for step in range(env.task.max_steps):
            action = env.expert_action()
            # The one target flag marks the element under the expert's next point.
            (target,) = targets(env)
            assert env.task.scene.hit(action["point"]) is target, (seed, step)
            _, reward, terminated, truncated, info = env.step(action)
            if terminated:
                break
        assert info["is_success"] and reward == 1.0, (seed, info["instruction"])
        assert step + 1 < env.task.max_steps


@pytest.mark.parametrize("name", NAMES)
def test_instructions_vary_and_fit(name):
    env = SyntheticDesktopEnv(version=0, task=name)
    used = set()
    for seed in range(200):
        _, info = env.reset(seed=seed)
        text = info["instruction"]
        assert len(text.encode()) <= 96 and all(32 <= ord(c) < 127 for c in text), text
        used.add(template_of(name, text))
    assert len(used) >= 3, used


@pytest.mark.parametrize("name", NAMES)
def test_layout_on_screen_and_disjoint(name):
    for seed in range(100):
        env = make(name, seed)
        for _ in range(2):  # the first screen, and the one after the expert's first action
            boxes = []
            for e in env.task.scene.elements:
                x0, y0, x1, y1 = e.box
                assert 0 <= x0 < x1 <= env.size and 0 <= y0 < y1 <= env.size, (seed, e)
                if e.role in INTERACTIVE and e.role != "menu_item" and e.role != "context_item":
                    boxes.append(e.box)
            for i, a in enumerate(boxes):  # icons, files and headers never overlap
                for b in boxes[i + 1 :]:
                    assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], (seed, a, b)
            if env.step(env.expert_action())[2]:
                break


@pytest.mark.parametrize("name", NAMES)
def test_labels_fit_their_boxes(name):
    for seed in range(100):
        env = make(name, seed)
        for _ in range(2):
            for e in env.task.scene.elements:
                if e.label:
                    room = e.box[2] - e.box[0] - (4 if e.role == "window" else 0)
                    assert render.text_size(e.label, e.font_size)[0] <= room, (seed, e.role, e.label)
            if env.step(env.expert_action())[2]:
                break


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("size", [128, 448])
def test_other_screen_sizes(name, size):
    env = SyntheticDesktopEnv(version=0, task=name, size=size)
    for seed in range(30):
        env.reset(seed=seed)
        for _ in range(env.task.max_steps):
            _, _, terminated, _, info = env.step(env.expert_action())
            if terminated:
                break
        assert info["is_success"], (size, seed)


@pytest.mark.parametrize("name", NAMES)
def test_keys_and_scrolls_change_nothing(name):
    env = make(name, 3)
    version = env.task.scene.version
    for action in (
        make_action("hotkey", hotkey="enter"),
        make_action("scroll", scroll=3.0),
        make_action("type", text="x"),
    ):
        assert env.step(action)[2:4] == (False, False)
    assert env.task.scene.version == version


# ------------------------------------------------------------ Icon


def test_icon_distractors_share_colour_and_shape():
    for seed in range(200):
        env = make("Icon", seed)
        task = env.task
        look = (task.target.data["colour"], task.target.data["shape"])
        others = [(e.data["colour"], e.data["shape"]) for e in task.icons if e is not task.target]
        assert any(c == look[0] for c, _ in others) and any(s == look[1] for _, s in others), seed
        if template_of("Icon", task.instruction) in icon.BY_LOOK.v0:
            assert look not in others, seed  # described by its look alone: no other icon has it
        else:
            assert [e.label for e in task.icons].count(task.target.label) == 1, seed


def test_icon_wrong_icon_fails():
    env = make("Icon", 0)
    other = next(e for e in env.task.icons if e is not env.task.target)
    _, reward, terminated, _, info = press(env, "click", centre(env, other))
    assert terminated and reward == 0.0 and not info["is_success"]


def test_icon_double_click_on_target_fails():
    env = make("Icon", 1)
    _, reward, terminated, _, info = press(env, "double_click", centre(env, env.task.target))
    assert terminated and reward == 0.0 and not info["is_success"]


def test_icon_empty_click_continues():
    env = make("Icon", 2)
    _, reward, terminated, _, _ = press(env, "click", empty_point(env))
    assert not terminated and reward == 0.0
    assert press(env, "click", centre(env, env.task.target))[1] == 1.0


# ------------------------------------------------------------ DoubleClick


def test_double_click_single_click_selects_then_opens():
    env = make("DoubleClick", 0)
    target = env.task.target
    version = env.task.scene.version
    _, _, terminated, _, _ = press(env, "click", centre(env, target))
    assert not terminated and target.data["selected"] and env.task.scene.version > version
    press(env, "click", empty_point(env))  # the bare desktop clears the selection
    assert not target.data["selected"]
    _, reward, terminated, _, info = press(env, "double_click", centre(env, target))
    assert terminated and reward == 1.0 and info["is_success"]


@pytest.mark.parametrize("kind", ["double_click", "click"])
def test_double_click_other_icon_fails(kind):
    env = make("DoubleClick", 4)
    other = next(e for e in env.task.icons if e is not env.task.target)
    _, reward, terminated, _, _ = press(env, kind, centre(env, other))
    assert terminated and reward == 0.0


def test_double_click_right_click_on_target_fails():
    env = make("DoubleClick", 5)
    assert press(env, "right_click", centre(env, env.task.target))[2:4] == (True, False)


def test_double_click_names_are_distinct():
    for seed in range(200):
        labels = [e.label.lower() for e in make("DoubleClick", seed).task.icons]
        assert len(labels) == len(set(labels)) >= 3, seed


# ------------------------------------------------------------ RightClick


def context_items(env):
    return [e for e in env.task.scene.elements if e.role == "context_item"]


def test_right_click_opens_menu_on_screen_with_target_item():
    for seed in range(200):
        env = make("RightClick", seed)
        task = env.task
        press(env, "right_click", centre(env, task.target))
        items = context_items(env)
        assert 4 <= len(items) <= 8 and [e.label for e in items] == task.entries
        panel = items[0].data["panel"]
        assert 0 <= panel.box[0] and panel.box[2] <= env.size and 0 <= panel.box[1] and panel.box[3] <= env.size
        (target,) = targets(env)
        assert target.role == "context_item" and target.label == task.item and not task.target.target


def test_right_click_empty_click_closes_menu_then_expert_recovers():
    env = make("RightClick", 7)
    press(env, "right_click", centre(env, env.task.target))
    point = empty_point(env)
    _, _, terminated, _, _ = press(env, "click", point)
    assert not terminated and not context_items(env) and env.task.target.target
    assert env.expert_action()["type"] == RIGHT_CLICK
    for _ in range(2):
        *_, terminated, _, info = env.step(env.expert_action())
    assert terminated and info["is_success"]


def test_right_click_wrong_item_fails():
    env = make("RightClick", 8)
    press(env, "right_click", centre(env, env.task.target))
    wrong = next(e for e in context_items(env) if e.label != env.task.item)
    _, reward, terminated, _, _ = press(env, "click", centre(env, wrong))
    assert terminated and reward == 0.0


@pytest.mark.parametrize("kind", ["right_click", "click"])
def test_right_click_other_file_fails(kind):
    env = make("RightClick", 9)
    other = next(e for e in env.task.files if e is not env.task.target)
    _, reward, terminated, _, _ = press(env, kind, centre(env, other))
    assert terminated and reward == 0.0


def test_right_click_double_click_target_fails_and_escape_closes():
    env = make("RightClick", 10)
    press(env, "right_click", centre(env, env.task.target))
    env.step(make_action("hotkey", hotkey="escape"))
    assert not context_items(env)
    assert press(env, "double_click", centre(env, env.task.target))[2:4] == (True, False)


# ------------------------------------------------------------ Menu


def test_menu_vocabulary():
    assert len(menu.MENUS) >= 6 and all(4 <= len(items) <= 8 for items in menu.MENUS.values())
    for seed in range(200):
        task = make("Menu", seed).task
        assert len(task.headers) >= 6 and all(4 <= len(task.menus[h]) <= 8 for h in task.headers)
        assert task.menu in task.headers and task.item in task.menus[task.menu]


def menu_items(env):
    return [e for e in env.task.scene.elements if e.role == "menu_item"]


def test_menu_other_header_switches_and_same_header_closes():
    env = make("Menu", 0)
    task = env.task
    other = next(h for h in task.headers if h != task.menu)
    _, _, terminated, _, _ = press(env, "click", centre(env, task.headers[other]))
    assert not terminated and task.open == other
    assert [e.label for e in menu_items(env)] == task.menus[other]
    assert task.headers[task.menu].target  # the expert goes back to the right header
    press(env, "click", centre(env, task.headers[other]))
    assert task.open is None and not menu_items(env)
    for _ in range(2):
        *_, terminated, _, info = env.step(env.expert_action())
    assert terminated and info["is_success"]


def test_menu_wrong_item_fails():
    for name in ("same", "other"):
        env = make("Menu", 11)
        task = env.task
        header = task.menu if name == "same" else next(h for h in task.headers if h != task.menu)
        press(env, "click", centre(env, task.headers[header]))
        wrong = next(e for e in menu_items(env) if e.label != task.item or header != task.menu)
        _, reward, terminated, _, _ = press(env, "click", centre(env, wrong))
        assert terminated and reward == 0.0, name


def test_menu_click_elsewhere_closes_and_right_item_needs_a_click():
    env = make("Menu", 12)
    task = env.task
    press(env, "click", centre(env, task.headers[task.menu]))
    assert press(env, "click", empty_point(env))[2] is False and task.open is None
    env.step(env.expert_action())
    item = next(e for e in menu_items(env) if e.label == task.item)
    assert press(env, "right_click", centre(env, item))[2:4] == (True, False)
