"""The real desktop's safety rules on a real X server (Xvfb, real pyautogui): no action's pointer path touches
pyautogui's fail-safe corners, and a drag never leaves the mouse button pressed, even when the fail-safe fires."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from conftest import SCREEN
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import minvla_gym  # noqa: F401 - registers the ids
from minvla_gym.actions import make_action
from minvla_gym.envs.desktop.screen import DRAG_STEPS, drag_path, perform, to_fraction, to_pixel

X = pytest.importorskip("Xlib.X")
xdisplay = pytest.importorskip("Xlib.display")
xtest = pytest.importorskip("Xlib.ext.xtest")


def corners(screen):
    left, top, width, height = screen
    return {(x, y) for x in (left, left + width - 1) for y in (top, top + height - 1)}


class Person:
    """A second X client standing for the person at the desk: moves the pointer, feels the buttons."""

    def __init__(self, name: str):
        self.display = xdisplay.Display(name)

    def move(self, x: int, y: int) -> None:
        xtest.fake_input(self.display, X.MotionNotify, x=x, y=y)
        self.display.sync()

    def pointer(self) -> tuple[int, int]:
        reply = self.display.screen().root.query_pointer()
        return reply.root_x, reply.root_y

    def left_button_down(self) -> bool:
        return bool(self.display.screen().root.query_pointer().mask & X.Button1Mask)

    def close(self) -> None:
        self.display.close()


class HandOnTheMouse:
    """pyautogui as `perform` uses it, while the person slams the pointer into a corner before the n-th move."""

    def __init__(self, pyautogui, person: Person, before_move: int):
        self.__dict__.update(_gui=pyautogui, _person=person, _at=before_move, moves=0)

    def __getattr__(self, name):
        return getattr(self._gui, name)

    def __setattr__(self, name, value):  # FAILSAFE and the like belong to the module, as for the real one
        setattr(self._gui, name, value)

    def moveTo(self, *args, **kwargs):
        self.__dict__["moves"] += 1
        if self.moves == self._at:
            self._person.move(0, 0)
        return self._gui.moveTo(*args, **kwargs)


@pytest.fixture
def person(display):
    p = Person(display)
    p.move(400, 300)
    yield p
    p.move(400, 300)  # off the corner, so later tests' pyautogui calls are not aborted
    p.close()


def test_a_drag_past_a_screen_corner_goes_round_it(person):
    # The probe's case: a legal drag from pixel (1, 0) to (0, 1) passes (0, 0) halfway, the fail-safe corner.
    env = gym.make("MinVLA-Desktop-v0", settle=0)
    try:
        env.reset()
        w, h = SCREEN
        *_, info = env.step({"type": 3, "point": [1.5 / w, 0.5 / h], "end_point": [0.5 / w, 1.5 / h]})
        assert info["pixels"] == [(1, 0), (0, 1)]
        assert person.pointer() == (0, 1) and not person.left_button_down()
    finally:
        env.close()


@pytest.mark.parametrize("before_move", [1, 4, DRAG_STEPS])
def test_the_button_is_released_when_the_fail_safe_fires_mid_drag(person, before_move):
    import pyautogui

    hand = HandOnTheMouse(pyautogui, person, before_move + 1)  # move 1 is the one to the press point
    action = make_action("drag", point=(0.25, 0.5), end_point=(0.75, 0.5))
    with pytest.raises(pyautogui.FailSafeException):
        perform(action, (0, 0, *SCREEN), (0, 0, *SCREEN), hand)
    assert not person.left_button_down()
    assert pyautogui.FAILSAFE  # the release turned it off for itself only
    person.move(400, 300)
    perform(action, (0, 0, *SCREEN), (0, 0, *SCREEN), pyautogui)  # the next drag works as usual
    assert person.pointer() == to_pixel((0.75, 0.5), (0, 0, *SCREEN)) and not person.left_button_down()


# ---------------------------------------------------------------- the pixel mapping and drag paths, fuzzed


@st.composite
def screens_and_regions(draw):
    """A screen (possibly not at the origin) and a region of it that touches one of its corners."""
    origin = (draw(st.integers(-2000, 2000)), draw(st.integers(-2000, 2000)))
    screen = (*origin, draw(st.integers(3, 4000)), draw(st.integers(3, 4000)))  # at 2 pixels every pixel is a corner
    sl, st_, sw, sh = screen
    width, height = draw(st.integers(2, sw)), draw(st.integers(2, sh))
    right, bottom = draw(st.booleans()), draw(st.booleans())
    return screen, (sl + sw - width if right else sl, st_ + sh - height if bottom else st_, width, height)


# Fractions that land on the region's edges, and anywhere in between.
fractions = st.one_of(st.sampled_from([0.0, 1e-9, 0.5, 1.0 - 1e-9, 1.0]), st.floats(0.0, 1.0))
points = st.tuples(fractions, fractions)


@settings(max_examples=400, derandomize=True, deadline=None)
@given(case=screens_and_regions(), start=points, end=points)
def test_mapped_points_and_drag_paths_stay_in_the_region_and_off_the_corners(case, start, end):
    screen, region = case
    left, top, width, height = region
    forbidden = corners(screen)
    a, b = to_pixel(start, region, screen), to_pixel(end, region, screen)
    path = drag_path(a, b, screen)
    assert len(path) == DRAG_STEPS and path[-1] == b
    for x, y in (a, b, *path):
        assert left <= x < left + width and top <= y < top + height
        assert (x, y) not in forbidden
    # The path follows the segment: every point within a pixel of it (two where it stepped round a corner).
    for k, (x, y) in enumerate(path, start=1):
        ideal = np.add(a, np.subtract(b, a) * k / DRAG_STEPS)
        assert np.abs(np.subtract((x, y), ideal)).max() <= 2
    # Fractions -> pixel -> fractions -> the same pixel: the recorder's inverse mapping is exact.
    assert to_pixel(to_fraction(*a, region), region, screen) == a


@st.composite
def corner_drags(draw):
    """A region of the test screen touching one of its corners, and a drag in it: sometimes between pixels within
    one of that corner, else anywhere. (Hypothesis seldom draws the few that pass the corner pixel: see the examples.)"""
    width, height = draw(st.integers(2, 120)), draw(st.integers(2, 120))
    right, bottom = draw(st.booleans()), draw(st.booleans())
    sw, sh = SCREEN
    region = (sw - width if right else 0, sh - height if bottom else 0, width, height)
    near = draw(st.booleans())

    def pixel(side, flip):
        i = draw(st.integers(0, 1) if near else st.integers(0, side - 1))
        return side - 1 - i if flip else i

    start, end = (((pixel(width, right) + 0.5) / width, (pixel(height, bottom) + 0.5) / height) for _ in range(2))
    return region, start, end


@settings(max_examples=40, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=corner_drags())
# The probe's drags that pass a corner pixel halfway, as from (1, 0) to (0, 1), at each of the four corners.
@example(case=((0, 0, 50, 40), (1.5 / 50, 0.5 / 40), (0.5 / 50, 1.5 / 40)))
@example(case=((750, 0, 50, 40), (48.5 / 50, 0.5 / 40), (49.5 / 50, 1.5 / 40)))
@example(case=((0, 560, 50, 40), (0.5 / 50, 38.5 / 40), (1.5 / 50, 39.5 / 40)))
@example(case=((750, 560, 50, 40), (49.5 / 50, 38.5 / 40), (48.5 / 50, 39.5 / 40)))
def test_real_drags_in_corner_regions_never_trip_the_fail_safe(person, case):
    # Real pyautogui on the Xvfb: a FailSafeException here would mean the pointer touched a corner.
    region, start, end = case
    person.move(400, 300)
    env = gym.make("MinVLA-Desktop-v0", region=region, settle=0, size=32)
    try:
        env.reset()
        *_, info = env.step(make_action("drag", point=start, end_point=end))
        assert info["pixels"][-1] == person.pointer() == to_pixel(end, region, (0, 0, *SCREEN))
        assert not person.left_button_down()
    finally:
        env.close()
