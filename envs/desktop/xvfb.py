"""A virtual X server for tests, benchmarks and headless machines: `with Xvfb() as display: ...`."""

from __future__ import annotations

import os
import shutil
import subprocess


class Xvfb:
    """Starts `Xvfb` on a free display number (the server picks it: `-displayfd`) and stops it.

    Args:
        width, height, depth: the screen, e.g. 1024x768x24.
        timeout: seconds to wait for the server to accept connections.
    """

    def __init__(self, width: int = 1024, height: int = 768, depth: int = 24, timeout: float = 10.0):
        if width < 64 or height < 64:
            raise ValueError(f"Xvfb screen must be at least 64x64, got {width}x{height}")
        self.width, self.height, self.depth, self.timeout = width, height, depth, timeout
        self.display: str | None = None
        self._process: subprocess.Popen | None = None

    @staticmethod
    def available() -> bool:
        return shutil.which("Xvfb") is not None

    def start(self) -> str:
        """Start the server and return its display name, e.g. ":3"."""
        if not self.available():
            raise FileNotFoundError("Xvfb is not installed (Debian/Ubuntu: apt-get install xvfb)")
        read, write = os.pipe()
        try:
            self._process = subprocess.Popen(
                ["Xvfb", "-displayfd", str(write), "-screen", "0", f"{self.width}x{self.height}x{self.depth}",
                 "-nolisten", "tcp", "-noreset"],
                pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            os.close(write)
            write = -1
            number = self._read_display_number(read)
        finally:
            os.close(read)
            if write >= 0:
                os.close(write)
        self.display = f":{number}"
        return self.display

    def _read_display_number(self, fd: int) -> int:
        # Xvfb writes the number followed by a newline once it accepts connections.
        import select

        data = b""
        while not data.endswith(b"\n"):
            ready, _, _ = select.select([fd], [], [], self.timeout)
            chunk = os.read(fd, 64) if ready else b""
            if not chunk:
                self.stop()
                raise RuntimeError(f"Xvfb did not start within {self.timeout} s")
            data += chunk
        return int(data)

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None
        self.display = None

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
