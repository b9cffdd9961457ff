"""Task families Drag, Slider, Scroll and Type: the expert, each decisive failure, no-op actions, wording."""

from __future__ import annotations

import re

import numpy as np
import pytest

from minvla_gym import tokenizer
from minvla_gym.actions import MAX_SCROLL, make_action
from minvla_gym.envs.synthetic.env import SyntheticDesktopEnv
from minvla_gym.envs.synthetic.tasks import FAMILIES, drag, scroll, slider, type_text
from minvla_gym.wrappers import action_to_flat, flat_to_action

OURS = ("Drag", "Slider", "Scroll", "Type")
TEMPLATES = {
    "Drag": drag.TO_FOLDER.v0 + drag.TO_TRASH.v0,
    "Slider": slider.PHRASES.v0,
    "Scroll": scroll.PHRASES.v0 + scroll.DOWN.v0 + scroll.UP.v0,
    "Type": type_text.PHRASES.v0,
}


def make(family: str, seed: int, size: int = 224) -> SyntheticDesktopEnv:
    """A fresh env reset to `seed`."""
    env = SyntheticDesktopEnv(version=0, task=family, size=size)
    env.reset(seed=seed)
    return env


def reset(family: str, where=lambda task: True):
    """An env of `family` reset to the first seed whose task satisfies `where`, and that task."""
    for seed in range(200):
        env = make(family, seed)
        if where(env.task):
            return env, env.task
    raise AssertionError(f"no seed in [0, 200) gives a {family} task with that property")


def step(env, kind: str, **fields):
    _, reward, terminated, truncated, info = env.step(make_action(kind, **fields))
    return reward, terminated, info


def empty_point(task) -> tuple[float, float]:
    """A point over no interactive element."""
    for y in np.linspace(0.02, 0.98, 49):
        for x in np.linspace(0.02, 0.98, 49):
            if task.scene.hit((x, y)) is None:
                return float(x), float(y)
    raise AssertionError("the scene has no empty spot")


def step_raw(env, action):
    _, reward, terminated, _, info = env.step(action)
    return reward, terminated, info


def finish_with_expert(env) -> bool:
    """Whether the expert, taking over from here, succeeds within the step limit."""
    for _ in range(env.task.max_steps):
        _, terminated, info = step_raw(env, env.expert_action())
        if terminated:
            return info["is_success"]
    return False


# ---------------------------------------------------------------- every family


@pytest.mark.parametrize("family", OURS)
def test_registered(family):
    assert family in FAMILIES


@pytest.mark.parametrize("family", OURS)
def test_expert_succeeds_on_500_seeds(family):
    env = SyntheticDesktopEnv(version=0, task=family)
    limit = FAMILIES[family].max_steps
    failures, longest = [], 0
    for seed in range(500):
        _, info = env.reset(seed=seed)
        for steps in range(1, limit + 1):
            # Exactly one element marks where the expert points next (privileged supervision).
            assert sum(e["target"] for e in info["elements"]) == 1, (seed, steps)
            _, reward, terminated, truncated, info = env.step(env.expert_action())
            if terminated:
                break
        longest = max(longest, steps)
        if not (info["is_success"] and reward == 1.0):
            failures.append(seed)
    assert failures == []
    assert longest < limit


@pytest.mark.parametrize("family", OURS)
def test_wording_and_variety(family):
    patterns = [re.compile(re.sub(r"\\\{\w+\\\}", "(.+)", re.escape(t))) for t in TEMPLATES[family]]
    used, themes, counts, fonts = set(), set(), set(), set()
    env = SyntheticDesktopEnv(version=0, task=family)
    for seed in range(200):
        _, info = env.reset(seed=seed)
        text = info["instruction"]
        assert len(text.encode()) <= tokenizer.MAX_INSTRUCTION_TOKENS and text.isascii() and text.isprintable()
        matched = [i for i, pattern in enumerate(patterns) if pattern.fullmatch(text)]
        assert matched, f"{text!r} matches no template"
        used.add(matched[0])
        themes.add(env.task.theme.dark)
        fonts.add(env.task.theme.font_size)
        counts.add(len(info["elements"]))
    assert len(used) >= 3
    assert themes == {True, False} and len(fonts) >= 3 and len(counts) >= 3


@pytest.mark.parametrize("family", OURS)
@pytest.mark.parametrize("size", [64, 128])
def test_small_screens(family, size):
    for seed in range(40):
        assert finish_with_expert(make(family, seed, size)), seed


@pytest.mark.parametrize("family", ["Slider", "Scroll", "Type"])
@pytest.mark.parametrize("kind", ["click", "right_click"])
def test_dialog_button_press_fails(family, kind):
    env, task = reset(family, where=lambda t: t.buttons)
    _, terminated, info = step(env, kind, point=task.at(task.buttons[-1]))
    assert terminated and not info["is_success"]


# ---------------------------------------------------------------- Drag


def test_drag_success_removes_the_file():
    env, task = reset("Drag")
    label = task.file.label
    reward, terminated, info = step_raw(env, env.expert_action())
    assert reward == 1.0 and terminated and info["is_success"]
    assert label not in [e["label"] for e in info["elements"]]


def test_drag_to_the_wrong_destination_fails():
    env, task = reset("Drag")
    wrong = next(e for e in [*task.folders, task.trash] if e is not task.destination)
    reward, terminated, info = step(env, "drag", point=task.at(task.file), end_point=task.at(wrong))
    assert terminated and reward == 0.0 and not info["is_success"]


def test_drag_of_another_file_fails():
    env, task = reset("Drag", where=lambda t: len(t.files) >= 2)
    other = next(f for f in task.files if f is not task.file)
    reward, terminated, _ = step(env, "drag", point=task.at(other), end_point=task.at(task.destination))
    assert terminated and reward == 0.0


def test_drag_click_on_a_folder_fails():
    env, task = reset("Drag")
    _, terminated, info = step(env, "double_click", point=task.at(task.folders[0]))
    assert terminated and not info["is_success"]


def test_drag_from_or_to_empty_space_continues():
    env, task = reset("Drag")
    empty = empty_point(task)
    _, terminated, _ = step(env, "drag", point=empty, end_point=task.at(task.destination))
    assert not terminated
    _, terminated, _ = step(env, "drag", point=task.at(task.file), end_point=empty)  # snaps back
    assert not terminated
    _, terminated, _ = step(env, "click", point=task.at(task.file))  # selecting the file is harmless
    assert not terminated
    assert finish_with_expert(env)


# ---------------------------------------------------------------- Slider


def slider_to(env, task, i: int, value: int):
    knob = task.knobs[i]
    return step(env, "drag", point=task.at(knob), end_point=task.fraction(task._x(i, value), knob.centre[1]))


def test_slider_goals_and_labels():
    for seed in range(200):
        task = FAMILIES["Slider"](np.random.default_rng(seed), 224)
        current = task.sliders[task.index].data["value"]
        assert task.goal % 5 == 0 and 0 <= task.goal <= 100 and abs(task.goal - current) >= 15
        assert str(task.goal) in task.instruction
        for track, label in zip(task.sliders, task.labels, strict=True):
            assert label.label == f"{track.label} {track.data['value']}"
            assert track.box[2] - track.box[0] >= 100  # a 64-bin coordinate then errs by < 2 units


@pytest.mark.parametrize("offset, success", [(4, True), (-4, True), (5, False), (-5, False), (20, False)])
def test_slider_tolerance(offset, success):
    env, task = reset("Slider", where=lambda t: 0 <= t.goal + offset <= 100)
    reward, terminated, info = slider_to(env, task, task.index, task.goal + offset)
    assert terminated and info["is_success"] is success and reward == float(success)
    assert task.sliders[task.index].data["value"] == task.goal + offset
    assert task.labels[task.index].label.endswith(f" {task.goal + offset}")  # the drawn label follows


def test_slider_drag_of_another_slider_fails():
    env, task = reset("Slider", where=lambda t: len(t.sliders) >= 2)
    other = (task.index + 1) % len(task.sliders)
    _, terminated, info = slider_to(env, task, other, task.goal)
    assert terminated and not info["is_success"]


def test_slider_noops_continue():
    env, task = reset("Slider")
    knob = task.knobs[task.index]
    before = knob.box
    end = task.fraction(task._x(task.index, task.goal), knob.centre[1])
    for kind, fields in [
        ("drag", {"point": empty_point(task), "end_point": end}),  # grabs nothing
        ("click", {"point": task.at(knob)}),  # a click does not move a knob
        ("scroll", {"point": task.at(knob), "scroll": 3.0}),
    ]:
        _, terminated, _ = step(env, kind, **fields)
        assert not terminated
    assert knob.box == before
    assert finish_with_expert(env)


# ---------------------------------------------------------------- Scroll


def test_scroll_moves_by_notches_and_clamps():
    env, task = reset("Scroll", where=lambda t: t.top == 0)
    inside = task.at(task.list)
    count, visible = len(task.items), task.visible
    _, terminated, _ = step(env, "scroll", point=inside, scroll=-3.0)  # already at the top
    assert not terminated and task.top == 0
    step(env, "scroll", point=inside, scroll=3.0)
    assert task.top == min(3, count - visible) and task.slots[0].label == task.items[task.top]
    for _ in range(5):
        step(env, "scroll", point=inside, scroll=10.0)
    assert task.top == count - visible and task.slots[visible - 1].label == task.items[-1]
    top = task.top
    _, terminated, _ = step(env, "scroll", point=empty_point(task), scroll=-5.0)  # outside the list
    assert not terminated and task.top == top
    assert finish_with_expert(env)


def test_scroll_image_follows_the_list():
    env, task = reset("Scroll", where=lambda t: t.top == 0)
    before = env.step(make_action("scroll", point=(0.0, 0.0), scroll=2.0))[0]["image"]  # outside: no change
    after = env.step(make_action("scroll", point=task.at(task.list), scroll=2.0))[0]["image"]
    assert not np.array_equal(before, after)


def test_scroll_target_flag_moves_from_list_to_item():
    env, task = reset("Scroll", where=lambda t: not t._shown())
    assert task.list.target and not any(s.target for s in task.slots)
    while not task._shown():
        step_raw(env, env.expert_action())
    target = next(s for s in task.slots if s.target)
    assert not task.list.target and target.label == task.items[task.index]
    assert env.expert_action()["point"].tolist() == list(np.float32(task.at(target)))


def test_scroll_expert_brings_the_item_to_the_middle_row():
    """Not just into view: a policy that copies the expert a few notches short still sees the item whole."""
    checked = 0
    for seed in range(40):
        env = SyntheticDesktopEnv(version=0, task=["Scroll"])
        env.reset(seed=seed)
        task = env.task
        if task._shown():
            continue
        while not task._shown():
            notches = abs(env.expert_action()["scroll"][0])
            step_raw(env, env.expert_action())
        if notches == MAX_SCROLL:  # a full 10-notch scroll may uncover the item on any row; the expert clicks it
            continue
        row, wanted = task.index - task.top, task.visible // 2
        # The middle row, or as near as the list's ends allow.
        assert row == wanted or task.top in (0, len(task.items) - task.visible), (seed, row, wanted)
        checked += 1
    assert checked >= 10


def test_scroll_click_on_another_item_fails():
    env, task = reset("Scroll")
    other = next(s for s in task.slots[: task.visible] if s.label != task.items[task.index])
    _, terminated, info = step(env, "click", point=task.at(other))
    assert terminated and not info["is_success"]


def test_scroll_partial_row():
    env, task = reset("Scroll", where=lambda t: len(t.slots) > t.visible and t.top + t.visible < len(t.items))
    partial = task.slots[-1]
    list_bottom = task.list.box[3]
    assert partial.box[3] < list_bottom and partial.data["full"][3] > list_bottom  # cut by the edge
    # Clicks just below the list hit no item, though the cut item would reach there.
    below = task.fraction(partial.centre[0], list_bottom + 1)
    assert task.scene.hit(below) is not task.scene.hit(task.at(partial))


def test_scroll_click_on_empty_space_continues():
    env, task = reset("Scroll")
    _, terminated, _ = step(env, "click", point=empty_point(task))
    assert not terminated
    assert finish_with_expert(env)


# ---------------------------------------------------------------- Type


def focused(task):
    return [f for f in task.fields if f.data.get("focused")]


def test_type_text_is_a_span_of_the_instruction():
    env = SyntheticDesktopEnv(version=0, task="Type")
    for seed in range(200):
        obs, _ = env.reset(seed=seed)
        task = env.task
        assert task.text in task.instruction and task.text.isascii() and task.text == task.text.lower()
        if focused(task) != [task.field]:
            env.step(env.expert_action())
        action = env.expert_action()
        flat = action_to_flat(action, obs["instruction"])  # text -> span of instruction tokens -> text
        assert flat_to_action(flat, obs["instruction"])["text"] == task.text


def test_type_focus_moves_between_fields():
    env, task = reset("Type", where=lambda t: not focused(t))
    other = next(f for f in task.fields if f is not task.field)
    _, terminated, _ = step(env, "type", text=task.text)  # nothing focused: nothing happens
    assert not terminated
    _, terminated, _ = step(env, "click", point=task.at(other))
    assert not terminated and focused(task) == [other]
    _, terminated, _ = step(env, "click", point=task.at(task.field))
    assert not terminated and focused(task) == [task.field]
    reward, terminated, info = step_raw(env, env.expert_action())
    assert terminated and info["is_success"] and task.field.data["text"] == task.text


def test_type_wrong_text_fails():
    env, task = reset("Type")
    step(env, "click", point=task.at(task.field))
    _, terminated, info = step(env, "type", text=task.text + "x")
    assert terminated and not info["is_success"]


def test_type_into_another_field_fails():
    env, task = reset("Type")
    other = next(f for f in task.fields if f is not task.field)
    step(env, "click", point=task.at(other))
    _, terminated, info = step(env, "type", text=task.text)
    assert terminated and not info["is_success"]
