"""Demonstrations on disk: one compressed `.npz` per episode, written atomically, loaded lazily.

The format is documented in `docs/dataset.md`. In short, a dataset is a folder:

    meta.json                 format version, env id, observation size, tokenizer, action types, hotkeys
    episode-000000.npz        one episode: images (T, H, W, 3) uint8, instruction ids, the action fields
    episode-000001.npz        as arrays, and two JSON members (`meta`: instruction text, task, success,
    ...                       seed; `elements`: info["elements"] of every step)

An episode file appears only once it is complete (temp file, fsync, rename), so a crash loses at most
the episode in progress; `collect` resumes where it stopped. The synthetic expert (`minvla collect`)
and the desktop demo recorder both write through `DatasetWriter`.
"""

from __future__ import annotations

import functools
import io
import json
import math
import os
import re
import stat
import time
import zipfile
import zlib
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from minvla_gym import tokenizer
from minvla_gym.actions import ACTION_TYPES, HOTKEYS, MAX_SCROLL, validate_action, validate_text
from minvla_gym.observation import DEFAULT_SIZE

FORMAT_VERSION = 1
META_FILE = "meta.json"
EPISODE_PATTERN = re.compile(r"^episode-(\d{6,})\.npz$")
TEMP_PATTERN = re.compile(r"^\.(?:episode-\d{6,}\.npz|meta\.json)\.(\d+)\.tmp$")  # .episode-000012.npz.<pid>.tmp
# npz members (each stored as NAME.npy): name -> (dtype, shape after the step axis T)
ARRAY_MEMBERS = {
    "image": (np.uint8, None),  # (H, W, 3), H = W = observation_size
    "instruction": (np.int64, None),  # (L,)
    "action_type": (np.int64, ()),
    "action_point": (np.float32, (2,)),
    "action_end_point": (np.float32, (2,)),
    "action_scroll": (np.float32, (1,)),
    "action_hotkey": (np.int64, ()),
    "action_text": (np.str_, ()),  # fixed-width unicode, as wide as the longest text
}
RANGES = (  # what validate_action allows, checked on load
    ("action_type", 0, len(ACTION_TYPES) - 1),
    ("action_point", 0.0, 1.0),
    ("action_end_point", 0.0, 1.0),
    ("action_scroll", -MAX_SCROLL, MAX_SCROLL),
    ("action_hotkey", 0, len(HOTKEYS) - 1),
)
JSON_MEMBERS = ("meta", "elements")  # UTF-8 JSON as 1-D uint8 arrays
MAX_META_BYTES = 1 << 20  # a meta.json is ~1 KB
MEMBERS = (*ARRAY_MEMBERS, *JSON_MEMBERS)


class DatasetError(ValueError):
    """A dataset file is missing, corrupt, truncated or incompatible; the message names the file."""


def dataset_meta(env_id: str, observation_size: int, instruction_tokens: int) -> dict[str, Any]:
    """The contents of `meta.json`: everything a reader needs to interpret the arrays."""
    return {
        "format": "minvla-gym demonstrations",
        "version": FORMAT_VERSION,
        "env_id": env_id,
        "observation_size": int(observation_size),
        "instruction_tokens": int(instruction_tokens),
        "tokenizer": {
            "kind": "utf-8 bytes",
            "id": "byte + 1",
            "pad": tokenizer.PAD,
            "vocab_size": tokenizer.VOCAB_SIZE,
        },
        "action_types": list(ACTION_TYPES),
        "hotkeys": list(HOTKEYS),
    }


def _open_regular(path: Path):
    """Open a dataset file for reading; DatasetError unless it is a regular file (after symlinks).

    A FIFO would block the open or the read forever, and a device such as /dev/zero never ends. The type is
    checked before opening (so no device is opened) and again on the open file (in case the path changed).
    """
    if not stat.S_ISREG(os.stat(path).st_mode):
        raise DatasetError(f"{path}: not a regular file")
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise DatasetError(f"{path}: not a regular file")
    return os.fdopen(fd, "rb")


def _read_meta(root: Path) -> dict[str, Any]:
    path = root / META_FILE
    try:
        with _open_regular(path) as file:
            raw = file.read(MAX_META_BYTES + 1)
        if len(raw) > MAX_META_BYTES:
            raise DatasetError(f"{path}: more than a meta.json's {MAX_META_BYTES} bytes")
        meta = json.loads(raw.decode("utf-8"))
    except FileNotFoundError:
        raise DatasetError(f"{path}: missing; {root} is not a minVLA-gym dataset") from None
    except RecursionError:  # json's parser recurses once per level of nesting
        raise DatasetError(f"{path}: unreadable (nested too deeply)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DatasetError(f"{path}: unreadable ({error})") from None
    if not isinstance(meta, dict) or meta.get("format") != "minvla-gym demonstrations":
        raise DatasetError(f"{path}: not a minVLA-gym dataset description")
    if meta.get("version") != FORMAT_VERSION:
        raise DatasetError(f"{path}: format version {meta.get('version')!r}, this reader knows {FORMAT_VERSION}")
    for key in ("observation_size", "instruction_tokens"):
        if not _is_int(meta.get(key)) or meta[key] < 1:
            raise DatasetError(f"{path}: {key} must be a positive int, got {meta.get(key)!r}")
    return meta


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_compatible(root: Path, existing: Mapping, expected: Mapping, advice: str) -> None:
    for key, value in expected.items():
        if existing.get(key) != value:
            raise DatasetError(f"{root / META_FILE}: {key} is {existing.get(key)!r}, expected {value!r}; {advice}")


def _fsync_dir(path: Path) -> None:
    # Makes the rename itself durable; not possible on every platform (Windows), where it is skipped.
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _atomic_write(path: Path, write) -> None:
    """Call `write(file)` on a temp file next to `path`, fsync it, then rename it over `path`."""
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temp, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists but belongs to someone else
    return True


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _episode_files(root: Path) -> dict[int, Path]:
    files = {}
    for entry in os.scandir(root):
        match = EPISODE_PATTERN.match(entry.name)
        if match:
            files[int(match.group(1))] = Path(entry.path)
    return dict(sorted(files.items()))


class DatasetWriter:
    """Writes episodes into a dataset folder, one atomic `.npz` each.

    Args:
        root: the dataset folder; created if missing. An existing dataset is reopened for appending
            after checking that its `meta.json` matches (same env id, sizes, tokenizer, action lists).
        env_id: the env the demonstrations come from.
        observation_size: side of the square images.
        instruction_tokens: length L of the instruction id arrays.

    One writer per folder at a time. Stray temp files left by a killed writer are removed on opening.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        env_id: str,
        observation_size: int = DEFAULT_SIZE,
        instruction_tokens: int = tokenizer.MAX_INSTRUCTION_TOKENS,
    ):
        self.root = Path(root)
        self.meta = dataset_meta(env_id, observation_size, instruction_tokens)
        self.root.mkdir(parents=True, exist_ok=True)
        if (self.root / META_FILE).exists():
            _check_compatible(self.root, _read_meta(self.root), self.meta, "use a new folder for a new configuration")
        elif _episode_files(self.root):
            raise DatasetError(f"{self.root}: holds episode files but no {META_FILE}")
        else:
            _atomic_write(self.root / META_FILE, lambda f: f.write(json.dumps(self.meta, indent=2).encode()))
        self._remove_stray_temp_files()

    def _remove_stray_temp_files(self) -> None:
        for entry in os.scandir(self.root):
            match = TEMP_PATTERN.match(entry.name)
            if match and (int(match.group(1)) == os.getpid() or not _pid_alive(int(match.group(1)))):
                Path(entry.path).unlink(missing_ok=True)

    @property
    def num_episodes(self) -> int:
        """Complete episodes on disk."""
        return len(_episode_files(self.root))

    def episode_path(self, index: int) -> Path:
        return self.root / f"episode-{index:06d}.npz"

    def write_episode(
        self,
        steps: Sequence[Mapping[str, Any]],
        instruction: str,
        task: str,
        success: bool,
        seed: int | None = None,
        index: int | None = None,
    ) -> Path:
        """Validate and write one episode; returns its path.

        Args:
            steps: dicts of `image` (H, W, 3) uint8, `instruction` (L,) int ids, `action` (an action
                of the one space) and `elements` (a list of element dicts, possibly empty).
            instruction: the instruction text; the steps' ids must encode exactly this text.
            task: the task family (or a free-form name for recorded demos).
            success: whether the episode ended in success.
            seed: the reset seed, if any.
            index: the episode number in the file name; default one past the highest on disk.
                An existing file with that number is replaced.
        """
        arrays, elements = self._validate(steps, instruction)
        if index is None:
            files = _episode_files(self.root)
            index = max(files, default=-1) + 1
        elif isinstance(index, bool) or not isinstance(index, (int, np.integer)) or index < 0:
            raise ValueError(f"index must be a non-negative int, got {index!r}")
        meta = {
            "version": FORMAT_VERSION,
            "env_id": self.meta["env_id"],
            "instruction": instruction,
            "task": str(task),
            "success": bool(success),
            "seed": None if seed is None else int(seed),
            "num_steps": len(steps),
        }
        try:
            encoded = {
                "meta": json.dumps(meta, allow_nan=False),
                "elements": json.dumps(elements, allow_nan=False, default=_json_default),
            }
        except (TypeError, ValueError) as error:
            raise ValueError(f"episode metadata or elements are not JSON serialisable: {error}") from None
        for name, text in encoded.items():
            arrays[name] = np.frombuffer(text.encode(), dtype=np.uint8)

        path = self.episode_path(int(index))
        _atomic_write(path, lambda file: np.savez_compressed(file, **arrays))
        return path

    def _validate(self, steps, instruction: str) -> tuple[dict[str, np.ndarray], list]:
        if not isinstance(steps, Sequence) or len(steps) == 0:
            raise ValueError("steps: expected a non-empty list of step dicts")
        if not isinstance(instruction, str):
            raise ValueError(f"instruction: expected str, got {type(instruction).__name__}")
        size, length = self.meta["observation_size"], self.meta["instruction_tokens"]
        expected_ids = tokenizer.encode(instruction, length)
        images, ids, actions, elements = [], [], [], []
        for t, step in enumerate(steps):
            missing = {"image", "instruction", "action", "elements"} - set(step)
            if missing:
                raise ValueError(f"steps[{t}]: missing keys {sorted(missing)}")
            image = np.asarray(step["image"])
            if image.dtype != np.uint8 or image.shape != (size, size, 3):
                raise ValueError(
                    f"steps[{t}]['image']: expected uint8 {(size, size, 3)}, got {image.dtype} {image.shape}"
                )
            step_ids = np.asarray(step["instruction"])
            if step_ids.shape != (length,) or not np.array_equal(step_ids, expected_ids):
                raise ValueError(f"steps[{t}]['instruction']: ids do not encode the instruction {instruction!r}")
            try:
                action = validate_action(step["action"])
            except ValueError as error:
                raise ValueError(f"steps[{t}]: {error}") from None
            if not isinstance(step["elements"], Sequence) or isinstance(step["elements"], str):
                raise ValueError(f"steps[{t}]['elements']: expected a list of dicts")
            images.append(image)
            ids.append(expected_ids)
            actions.append(action)
            elements.append(list(step["elements"]))
        texts = [a["text"] for a in actions]
        arrays = {
            "image": np.stack(images),
            "instruction": np.stack(ids),
            "action_type": np.array([a["type"] for a in actions], dtype=np.int64),
            "action_point": np.stack([a["point"] for a in actions]).astype(np.float32),
            "action_end_point": np.stack([a["end_point"] for a in actions]).astype(np.float32),
            "action_scroll": np.stack([a["scroll"] for a in actions]).astype(np.float32),
            "action_hotkey": np.array([a["hotkey"] for a in actions], dtype=np.int64),
            "action_text": np.array(texts, dtype=f"<U{max(1, *map(len, texts))}"),
        }
        return arrays, elements


@dataclass(frozen=True)
class EpisodeRecord:
    """What the loader knows about an episode without decoding it."""

    path: Path
    num_steps: int
    instruction: str
    task: str
    success: bool
    seed: int | None


def _restore_elements(steps: list) -> list[list[dict[str, Any]]]:
    # JSON has no tuples or arrays; the env reports boxes as tuples and character boxes as an (n, 4)
    # float32 array, so give them back as such (float32 values survive JSON exactly).
    def restore(e):
        e = {**e, **{k: tuple(e[k]) for k in ("box", "text_box") if isinstance(e.get(k), list)}}
        if isinstance(e.get("char_boxes"), list):
            e["char_boxes"] = np.array(e["char_boxes"], np.float32).reshape(-1, 4)
        return e

    return [[restore(e) if isinstance(e, dict) else e for e in step] for step in steps]


@functools.lru_cache(maxsize=4096)
def _npy_header(prefix: bytes) -> tuple[np.dtype, tuple[int, ...]]:
    # numpy parses each header with ast.literal_eval, which costs more than decompressing a small
    # member; headers repeat across episodes (same dtypes, few distinct lengths), so memoise them.
    shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(io.BytesIO(prefix))
    if fortran_order or dtype.hasobject:
        raise ValueError(f"unsupported npy array (fortran_order={fortran_order}, dtype={dtype})")
    return dtype, shape


def _parse_npy(raw: bytes) -> np.ndarray:
    """One .npy file (format 1.0) as bytes -> a read-only array over them (no copy)."""
    if raw[:8] != b"\x93NUMPY\x01\x00":
        raise ValueError(f"not an .npy version 1.0 member (starts with {raw[:8]!r})")
    end = 10 + int.from_bytes(raw[8:10], "little")
    dtype, shape = _npy_header(raw[8:end])
    body = memoryview(raw)[end:]
    if len(body) != dtype.itemsize * math.prod(shape):
        raise ValueError(f"member holds {len(body)} bytes of data, its {dtype} {shape} header says otherwise")
    return np.frombuffer(body, dtype).reshape(shape)


def _read_members(path: Path, names: Sequence[str]) -> dict[str, np.ndarray]:
    """Open an episode file once, check that every member is present, and read `names`."""
    try:
        with _open_regular(path) as file, zipfile.ZipFile(file) as archive:
            present = set(archive.namelist())
            missing = [name for name in MEMBERS if f"{name}.npy" not in present]
            if missing:
                raise DatasetError(f"{path}: missing member(s) {missing}")
            for info in archive.infolist():
                if info.flag_bits & 0x1:  # zipfile would ask for a password (a RuntimeError)
                    raise DatasetError(f"{path}: member {info.filename!r} is encrypted; episodes never are")
            data = {}
            for name in names:
                data[name] = _parse_npy(archive.read(f"{name}.npy"))  # read() checks the CRC
            return data
    except DatasetError:
        raise
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error, ValueError) as error:
        raise DatasetError(f"{path}: corrupt or truncated episode file ({type(error).__name__}: {error})") from None
    except NotImplementedError as error:  # zipfile's word for a version, method or flag it does not support
        raise DatasetError(
            f"{path}: uses a ZIP feature this reader lacks ({error}); episodes are plain deflate"
        ) from None


def _parse_json(path: Path, name: str, array: np.ndarray):
    try:
        return json.loads(array.tobytes())
    except RecursionError:  # json's parser recurses once per level of nesting
        raise DatasetError(f"{path}: member {name!r} is nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise DatasetError(f"{path}: member {name!r} is not valid UTF-8 JSON ({error})") from None


def _parse_meta(path: Path, array: np.ndarray) -> dict[str, Any]:
    meta = _parse_json(path, "meta", array)
    if not isinstance(meta, dict):
        raise DatasetError(f"{path}: member 'meta' is not a JSON object")
    missing = [key for key in ("version", "num_steps", "instruction", "task", "success", "seed") if key not in meta]
    if missing:
        raise DatasetError(f"{path}: member 'meta' lacks the key(s) {missing}")
    if meta["version"] != FORMAT_VERSION:
        raise DatasetError(f"{path}: format version {meta['version']!r}, this reader knows {FORMAT_VERSION}")
    if not (_is_int(meta["num_steps"]) and meta["num_steps"] > 0):
        raise DatasetError(f"{path}: num_steps must be a positive int, got {meta['num_steps']!r}")
    for key, ok, kind in (("instruction", isinstance(meta["instruction"], str), "a str"),
                          ("task", isinstance(meta["task"], str), "a str"),
                          ("success", isinstance(meta["success"], bool), "a bool"),
                          ("seed", meta["seed"] is None or _is_int(meta["seed"]), "an int or null")):  # fmt: skip
        if not ok:
            raise DatasetError(f"{path}: member 'meta': {key!r} must be {kind}, got {meta[key]!r}")
    return meta


def _read_episode_meta(path: Path) -> dict[str, Any]:
    """Only the small `meta` member (and the member list): no image is decoded."""
    return _parse_meta(path, _read_members(path, ["meta"])["meta"])


def read_episode(path: str | os.PathLike, meta: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Decode one episode file: read-only arrays with a leading step axis T, plus its metadata.

    Returns a dict of `image` (T, H, W, 3) uint8, `instruction` (T, L) int64, `action` (a dict of
    arrays: type (T,), point (T, 2), end_point (T, 2), scroll (T, 1), hotkey (T,), text (T,) str),
    `elements` (T lists of dicts), and `instruction_text`, `task`, `success`, `seed`, `env_id`.
    `meta` is the dataset's meta.json, to check image and instruction sizes against.
    """
    path = Path(path)
    data = _read_members(path, MEMBERS)
    episode_meta = _parse_meta(path, data["meta"])
    steps = episode_meta["num_steps"]
    size = meta["observation_size"] if meta else None
    length = meta["instruction_tokens"] if meta else None
    for name, (dtype, tail) in ARRAY_MEMBERS.items():
        array = data[name]
        if name == "image":
            tail = (size, size, 3) if size else array.shape[1:]
        elif name == "instruction":
            tail = (length,) if length else array.shape[1:]
        kind_ok = array.dtype.kind == "U" if dtype is np.str_ else array.dtype == dtype
        if not kind_ok or array.shape != (steps, *tail):
            raise DatasetError(
                f"{path}: member {name!r} is {array.dtype} {array.shape}, expected {np.dtype(dtype)} {(steps, *tail)}"
            )
    for name, low, high in RANGES:
        array = data[name]
        if not (np.all(array >= low) and np.all(array <= high)):  # NaN fails too
            raise DatasetError(f"{path}: member {name!r} has values outside [{low}, {high}]")
    ids = data["instruction"]
    if ids.ndim != 2:  # without the dataset's meta, the length L is taken from the array itself
        raise DatasetError(f"{path}: member 'instruction' is {ids.shape}, expected (steps, tokens)")
    if not (np.all(ids >= 0) and np.all(ids < tokenizer.VOCAB_SIZE)):
        raise DatasetError(f"{path}: member 'instruction' has ids outside [0, {tokenizer.VOCAB_SIZE})")
    try:  # every step's ids are exactly the encoded instruction text, as the writer made them
        expected = tokenizer.encode(episode_meta["instruction"], ids.shape[1])
    except ValueError as error:
        raise DatasetError(
            f"{path}: member 'meta': 'instruction' does not fit {ids.shape[1]} tokens ({error})"
        ) from None
    if not np.all(ids == expected):
        raise DatasetError(f"{path}: member 'instruction' does not encode the episode's instruction text")
    texts = [str(text) for text in data["action_text"]]
    for t, text in enumerate(texts):
        try:
            validate_text("text", text)
        except ValueError as error:
            raise DatasetError(f"{path}: member 'action_text', step {t}: {error}") from None
    elements = _parse_json(path, "elements", data["elements"])
    if not isinstance(elements, list) or len(elements) != steps:
        raise DatasetError(f"{path}: member 'elements' must be a list of {steps} per-step lists")
    try:
        elements = _restore_elements(elements)
    except (ValueError, TypeError) as error:  # e.g. character boxes that are not (n, 4) numbers
        raise DatasetError(f"{path}: member 'elements': {error}") from None
    return {
        "image": data["image"],
        "instruction": data["instruction"],
        "action": {
            "type": data["action_type"],
            "point": data["action_point"],
            "end_point": data["action_end_point"],
            "scroll": data["action_scroll"],
            "text": texts,
            "hotkey": data["action_hotkey"],
        },
        "elements": elements,
        "instruction_text": episode_meta["instruction"],
        "task": episode_meta["task"],
        "success": episode_meta["success"],
        "seed": episode_meta["seed"],
        "env_id": episode_meta.get("env_id"),
    }


class DemoDataset:
    """A dataset folder as a sequence of steps, for behaviour cloning.

    Opening reads `meta.json` and each episode's small `meta` member (step counts, instructions), not
    the images; `ds[i]` decodes the episode holding step i and keeps the last few decoded episodes in
    a per-process LRU cache (`cache_episodes`). A map-style torch Dataset as it is (`__len__`,
    `__getitem__`); each DataLoader worker gets its own cache.
    """

    def __init__(self, root: str | os.PathLike, cache_episodes: int = 8):
        self.root = Path(root)
        if not self.root.is_dir():
            raise DatasetError(f"{self.root}: no such dataset folder")
        self.meta = _read_meta(self.root)
        # Ids only mean something under the same tokenizer, action types and hotkey list.
        current = dataset_meta("", 0, 0)
        expected = {key: current[key] for key in ("tokenizer", "action_types", "hotkeys")}
        _check_compatible(self.root, self.meta, expected, "it was written by an incompatible minvla-gym")
        self.cache_episodes = int(cache_episodes)
        self.episodes: list[EpisodeRecord] = []
        for path in _episode_files(self.root).values():
            m = _read_episode_meta(path)
            self.episodes.append(
                EpisodeRecord(path, m["num_steps"], m["instruction"], m["task"], m["success"], m["seed"])
            )
        # ends[j] = number of steps in episodes 0..j; step i lives in episode searchsorted(ends, i, "right").
        self._ends = np.cumsum([e.num_steps for e in self.episodes], dtype=np.int64)
        self._cache: OrderedDict[int, dict[str, Any]] = OrderedDict()

    def __len__(self) -> int:
        return int(self._ends[-1]) if len(self._ends) else 0

    def __getitem__(self, i: int) -> dict[str, Any]:
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)):
            raise TypeError(f"dataset indices must be ints, got {type(i).__name__}")
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"step {i} out of range for a dataset of {n} steps")
        i = int(i) % n
        j = int(np.searchsorted(self._ends, i, side="right"))
        t = i - (int(self._ends[j - 1]) if j else 0)
        episode = self.load_episode(j)
        action = episode["action"]
        return {
            # Copies: the cached episode stays intact whatever the caller does to a sample.
            "image": episode["image"][t].copy(),
            "instruction": episode["instruction"][t].copy(),
            "action": {
                "type": int(action["type"][t]),
                "point": action["point"][t].copy(),
                "end_point": action["end_point"][t].copy(),
                "scroll": action["scroll"][t].copy(),
                "text": action["text"][t],
                "hotkey": int(action["hotkey"][t]),
            },
            "instruction_text": episode["instruction_text"],
            "task": episode["task"],
            "elements": episode["elements"][t],
            "episode": j,
            "step": t,
        }

    def load_episode(self, j: int) -> dict[str, Any]:
        """Episode j as read-only arrays with a leading step axis (see `read_episode`), shared with the cache."""
        if not -len(self.episodes) <= j < len(self.episodes):
            raise IndexError(f"episode {j} out of range for a dataset of {len(self.episodes)} episodes")
        j = int(j) % len(self.episodes)
        if j in self._cache:
            self._cache.move_to_end(j)
            return self._cache[j]
        episode = read_episode(self.episodes[j].path, self.meta)
        if self.cache_episodes > 0:
            self._cache[j] = episode
            if len(self._cache) > self.cache_episodes:
                self._cache.popitem(last=False)
        return episode

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_cache"] = OrderedDict()  # workers start with empty caches
        return state

    def __repr__(self) -> str:
        return f"DemoDataset({str(self.root)!r}, episodes={len(self.episodes)}, steps={len(self)})"


def collate_steps(samples: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Batch `DemoDataset` steps: `DataLoader(DemoDataset(root), batch_size=32, collate_fn=collate_steps)`.

    Arrays and numbers stack into tensors (the action's fields too), strings become lists, and `elements` stays
    one list per step, since each screen shows its own number of elements (which torch's default collate
    cannot stack)."""
    from torch.utils.data import default_collate

    return {key: [s[key] for s in samples] if key == "elements" else default_collate([s[key] for s in samples])
            for key in samples[0]}  # fmt: skip


def collect(
    env_id: str,
    episodes: int,
    out: str | os.PathLike,
    seed: int = 0,
    progress: bool = True,
) -> dict[str, Any]:
    """Run the scripted expert for `episodes` episodes and write them to the dataset at `out`.

    Episode k is `reset(seed=seed + k)` and is saved as episode-k. Episodes already on disk are kept
    and skipped, so an interrupted collect resumes where it stopped (with the same seed).

    Returns:
        {"episodes", "success_rate", "steps", "seconds", "written"}: episodes 0..episodes-1 on disk,
        the expert's success rate and step count over them, and this run's time and new episodes.
    """
    import gymnasium as gym
    from tqdm import tqdm

    if isinstance(episodes, bool) or not isinstance(episodes, (int, np.integer)) or episodes < 1:
        raise ValueError(f"episodes must be a positive int, got {episodes!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    start = time.perf_counter()
    try:
        env = gym.make(env_id)
    except gym.error.Error as error:  # unknown id and the like: a ValueError, as for every bad input
        raise ValueError(f"env {env_id!r}: {error}") from None
    try:
        if not hasattr(env.unwrapped, "expert_action"):
            raise ValueError(f"env {env_id!r} has no scripted expert (env.unwrapped.expert_action)")
        space = env.observation_space
        writer = DatasetWriter(out, env_id, space["image"].shape[0], space["instruction"].shape[0])
        done: dict[int, tuple[bool, int]] = {}  # k -> (success, steps) of episodes on disk
        for k, path in _episode_files(writer.root).items():
            if k < episodes:
                meta = _read_episode_meta(path)
                if meta["seed"] != seed + k:
                    raise DatasetError(
                        f"{path}: was collected with reset seed {meta['seed']}, expected {seed + k} "
                        f"(--seed {seed}); resume with the original seed or use a new folder"
                    )
                done[k] = (bool(meta["success"]), int(meta["num_steps"]))
        todo = [k for k in range(episodes) if k not in done]
        bar = tqdm(total=episodes, initial=len(done), disable=not progress, unit="episode", desc=f"collect {env_id}")
        for k in todo:
            steps = []
            obs, info = env.reset(seed=seed + k)
            instruction, task = info["instruction"], info["task"]
            terminated = truncated = False
            while not (terminated or truncated):
                action = env.unwrapped.expert_action()
                steps.append({**obs, "action": action, "elements": info["elements"]})
                obs, _, terminated, truncated, info = env.step(action)
            success = bool(info["is_success"])
            writer.write_episode(steps, instruction=instruction, task=task, success=success, seed=seed + k, index=k)
            done[k] = (success, len(steps))
            bar.update(1)
        bar.close()
    finally:
        env.close()
    return {
        "episodes": episodes,
        "success_rate": sum(s for s, _ in done.values()) / episodes,
        "steps": sum(n for _, n in done.values()),
        "seconds": time.perf_counter() - start,
        "written": len(todo),
    }


def configure_cli(parser) -> None:
    """`minvla collect --env ID --episodes N --out DIR [--seed S]`."""
    parser.add_argument("--env", default="MinVLA-Synthetic-v1", help="env id with a scripted expert")
    parser.add_argument("--episodes", type=int, default=100, help="number of episodes (resumes an existing folder)")
    parser.add_argument("--out", default="data/demos", help="dataset folder to write")
    parser.add_argument("--seed", type=int, default=0, help="episode k resets with seed S + k")
    parser.set_defaults(func=_main)


def _main(args) -> int:
    import minvla_gym  # noqa: F401 - registers the env ids

    if Path(args.out).exists() and not Path(args.out).is_dir():
        raise DatasetError(f"--out {args.out}: is a file, not a dataset folder")
    summary = collect(args.env, args.episodes, args.out, seed=args.seed)  # bad input: a ValueError for `minvla`
    print(
        f"expert success rate: {summary['success_rate']:.1%} over {summary['episodes']} episodes "
        f"({summary['steps']} steps; {summary['written']} written in {summary['seconds']:.1f}s) -> {args.out}"
    )
    return 0
