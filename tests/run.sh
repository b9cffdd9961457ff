#!/usr/bin/env bash
# Sets up everything the test suite needs on a fresh Debian/Ubuntu machine, then runs it.
#   bash tests/run.sh [extra pytest args]
# Installs Xvfb + xdotool + Tk (the real-desktop tests drive real windows on a virtual X server),
# creates .venv with the package and its extras, and runs pytest on 2 processes.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v Xvfb >/dev/null || need_apt+=(xvfb)
command -v xdotool >/dev/null || need_apt+=(xdotool)
python3 -c "import tkinter" 2>/dev/null || need_apt+=(python3-tk tk-dev)
if ((${#need_apt[@]})); then
    sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need_apt[@]}"
fi

[ -d .venv ] || python3 -m venv .venv
. .venv/bin/activate
# The CPU build of torch first (a plain `torch` requirement would pull a multi-GB CUDA build).
python -c "import torch" 2>/dev/null || python -m pip install -q "torch==2.13.0"
python -m pip install -q -e ".[all,dev]"

# One math thread per worker: two pytest workers already fill the two cores.
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
python -m pytest -n 2 --dist loadfile "$@"
