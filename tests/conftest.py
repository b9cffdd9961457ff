"""Shared fixtures. `xvfb`: a virtual X server for the real-desktop tests (skipped where Xvfb is missing)."""

from __future__ import annotations

import pytest

from minvla_gym.envs.desktop.xvfb import Xvfb

SCREEN = (800, 600)  # the virtual screen, pixels


@pytest.fixture(scope="session")
def xvfb():
    """A session-wide Xvfb on a free display number (chosen by the server); yields its name, e.g. ":3"."""
    if not Xvfb.available():
        pytest.skip("Xvfb is not installed (Debian/Ubuntu: apt-get install xvfb); real-desktop tests skipped")
    with Xvfb(*SCREEN) as display:
        yield display


@pytest.fixture
def display(xvfb, monkeypatch):
    """DISPLAY set to the session's Xvfb for one test (and restored after it)."""
    monkeypatch.setenv("DISPLAY", xvfb)
    return xvfb
