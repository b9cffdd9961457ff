"""The demonstration dataset: exact round trip, corrupt files, interrupted and resumed collects, the CLI."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import data_equivalence

import minvla_gym
from minvla_gym import cli, tokenizer
from minvla_gym.actions import make_action_space, validate_action
from minvla_gym.dataset import DatasetError, DatasetWriter, DemoDataset, collect, read_episode

SYNTHETIC_IDS = sorted(
    env_id
    for env_id, spec in gym.registry.items()
    if spec.entry_point == "minvla_gym.envs.synthetic:SyntheticDesktopEnv"
)
CLICK = "MinVLA-Synthetic-Click-v0"
MIXED = "MinVLA-Synthetic-v0"


def assert_action_equal(got, expected):
    got, expected = validate_action(got), validate_action(expected)
    assert got["type"] == expected["type"] and got["hotkey"] == expected["hotkey"] and got["text"] == expected["text"]
    for key in ("point", "end_point", "scroll"):
        np.testing.assert_array_equal(got[key], expected[key])


def assert_matches_env(ds: DemoDataset, env_id: str, seed: int, episodes: range):
    """Every stored episode k is exactly the expert's rollout from reset(seed=seed + k)."""
    env = gym.make(env_id)
    for k in episodes:
        record = ds.episodes[k]
        assert record.path.name == f"episode-{k:06d}.npz" and record.seed == seed + k
        obs, info = env.reset(seed=seed + k)
        assert (record.instruction, record.task) == (info["instruction"], info["task"])
        episode = ds.load_episode(k)
        for t in range(record.num_steps):
            np.testing.assert_array_equal(episode["image"][t], obs["image"])
            np.testing.assert_array_equal(episode["instruction"][t], obs["instruction"])
            assert data_equivalence(episode["elements"][t], info["elements"])
            action = env.unwrapped.expert_action()
            assert_action_equal({key: values[t] for key, values in episode["action"].items()}, action)
            obs, _, terminated, truncated, info = env.step(action)
        assert terminated or truncated
        assert record.success == info["is_success"]
    env.close()


def random_episode(env, rng: np.random.Generator, num_steps: int, seed: int):
    """Real screens and elements, with actions of every type and random field values (text included)."""
    space = make_action_space()
    space.seed(int(rng.integers(2**31)))
    obs, info = env.reset(seed=seed)
    steps = []
    for t in range(num_steps):
        action = space.sample()
        action["type"] = (seed + t) % 7
        steps.append({**obs, "action": action, "elements": info["elements"] if t % 2 == 0 else []})
    return steps, info


@pytest.fixture(scope="module")
def click_dataset(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("click")
    summary = collect(CLICK, 4, out, seed=10, progress=False)
    assert summary["episodes"] == 4 and summary["written"] == 4
    return out


def test_round_trip_is_exact(tmp_path):
    env = gym.make(MIXED)
    rng = np.random.default_rng(0)
    writer = DatasetWriter(tmp_path, MIXED)
    written = []
    for seed, num_steps in enumerate([3, 1, 4, 2]):
        steps, info = random_episode(env, rng, num_steps, seed)
        path = writer.write_episode(steps, info["instruction"], info["task"], success=seed % 2 == 0, seed=seed)
        assert path == tmp_path / f"episode-{seed:06d}.npz"
        written.append((steps, info))
    assert writer.num_episodes == 4

    ds = DemoDataset(tmp_path)
    assert len(ds) == 10 and ds.meta["env_id"] == MIXED and ds.meta["hotkeys"] == list(minvla_gym.HOTKEYS)
    i = 0
    for j, (steps, info) in enumerate(written):
        record = ds.episodes[j]
        assert (record.num_steps, record.instruction, record.task, record.success, record.seed) == (
            len(steps),
            info["instruction"],
            info["task"],
            j % 2 == 0,
            j,
        )
        episode = ds.load_episode(j)
        assert episode["image"].shape == (len(steps), 224, 224, 3) and episode["image"].dtype == np.uint8
        for t, step in enumerate(steps):
            item = ds[i]
            assert (item["episode"], item["step"], item["task"]) == (j, t, info["task"])
            assert item["instruction_text"] == info["instruction"]
            np.testing.assert_array_equal(item["image"], step["image"])
            assert item["instruction"].dtype == np.int64
            np.testing.assert_array_equal(item["instruction"], step["instruction"])
            assert_action_equal(item["action"], step["action"])
            assert data_equivalence(item["elements"], step["elements"])
            i += 1
    # Negative indices count from the end; past the end is an IndexError (so iteration stops).
    assert ds[-1]["step"] == 1 and ds[-1]["episode"] == 3
    with pytest.raises(IndexError):
        ds[len(ds)]
    assert sum(1 for _ in ds) == len(ds)
    # Samples are the caller's to modify; the cached episode is read-only and stays intact.
    sample = ds[0]
    sample["image"][:] = 0
    sample["action"]["point"][:] = 0
    assert ds[0]["image"].any() and ds[0]["action"]["point"].tolist() == written[0][0][0]["action"]["point"].tolist()
    assert not ds.load_episode(0)["image"].flags.writeable
    # A pickled dataset (a DataLoader worker under spawn) reads the same steps.
    clone = pickle.loads(pickle.dumps(ds))
    np.testing.assert_array_equal(clone[5]["image"], ds[5]["image"])


def test_collect_writes_the_expert_rollouts(click_dataset):
    ds = DemoDataset(click_dataset)
    assert len(ds.episodes) == 4 and ds.meta["env_id"] == CLICK
    assert_matches_env(ds, CLICK, seed=10, episodes=range(4))


@pytest.mark.parametrize("env_id", SYNTHETIC_IDS)
def test_collect_every_registered_family(tmp_path, env_id):
    summary = collect(env_id, 3, tmp_path, seed=7, progress=False)
    ds = DemoDataset(tmp_path)
    assert summary["success_rate"] == 1.0 and summary["steps"] == len(ds)
    assert_matches_env(ds, env_id, seed=7, episodes=range(3))


def rewrite_without(path: Path, member: str) -> None:
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist() if name != member}
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def corrupt_member_data(path: Path, member: str) -> None:
    """Flip bytes inside one member's compressed data, leaving the zip directory intact."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(member)
    offset = info.header_offset  # local file header: 30 bytes, then the name and the extra field
    name_length = int.from_bytes(data[offset + 26 : offset + 28], "little")
    extra_length = int.from_bytes(data[offset + 28 : offset + 30], "little")
    start = offset + 30 + name_length + extra_length
    middle = start + info.compress_size // 2
    data[middle : middle + 16] = bytes(255 - b for b in data[middle : middle + 16])
    path.write_bytes(bytes(data))


def copy_dataset(source: Path, target: Path) -> Path:
    target.mkdir()
    for file in source.iterdir():
        (target / file.name).write_bytes(file.read_bytes())
    return target


@pytest.mark.parametrize(
    "damage, reason",
    [
        (lambda p: p.write_bytes(np.random.default_rng(0).bytes(5000)), "corrupt or truncated"),
        (lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2]), "corrupt or truncated"),
        (lambda p: p.write_bytes(b""), "corrupt or truncated"),
        (lambda p: rewrite_without(p, "action_type.npy"), "missing member(s) ['action_type']"),
        (lambda p: rewrite_without(p, "meta.npy"), "missing member(s) ['meta']"),
    ],
    ids=["garbage", "truncated", "empty", "missing-action", "missing-meta"],
)
def test_corrupt_file_is_a_clear_error(click_dataset, tmp_path, damage, reason):
    root = copy_dataset(click_dataset, tmp_path / "copy")
    victim = root / "episode-000002.npz"
    damage(victim)
    with pytest.raises(DatasetError, match="episode-000002.npz") as error:
        DemoDataset(root)
    assert reason in str(error.value)
    assert isinstance(error.value, ValueError)


def test_bad_values_and_missing_meta_json(click_dataset, tmp_path):
    root = copy_dataset(click_dataset, tmp_path / "copy")
    path = root / "episode-000001.npz"
    with np.load(path) as npz:
        arrays = dict(npz)
    arrays["action_type"][0] = 9
    np.savez_compressed(path, **arrays)
    ds = DemoDataset(root)
    with pytest.raises(DatasetError, match=r"episode-000001.npz: member 'action_type' has values outside"):
        ds.load_episode(1)
    (root / "meta.json").unlink()
    with pytest.raises(DatasetError, match="meta.json: missing"):
        DemoDataset(root)


def rewrite_members(path: Path, **changes) -> None:
    """Rewrite an episode file with some members replaced (`meta` given as a dict)."""
    with np.load(path) as npz:
        arrays = dict(npz)
    if isinstance(changes.get("meta"), dict):
        changes["meta"] = np.frombuffer(json.dumps(changes["meta"]).encode(), np.uint8)
    np.savez_compressed(path, **{**arrays, **changes})


def stored_meta(path: Path) -> dict:
    with np.load(path) as npz:
        return json.loads(npz["meta"].tobytes())


def test_instruction_ids_are_checked_against_the_vocabulary_and_the_stored_text(click_dataset, tmp_path):
    root = copy_dataset(click_dataset, tmp_path / "copy")
    path = root / "episode-000001.npz"
    with np.load(path) as npz:
        ids = npz["instruction"].copy()
    text = stored_meta(path)["instruction"]
    outside = ids.copy()
    outside[0, len(text)] = 300  # training would fail later with an IndexError in the embedding
    rewrite_members(path, instruction=ids[:, 0])  # (T,): read without the dataset's meta, nothing says L
    with pytest.raises(DatasetError, match=r"episode-000001.npz: member 'instruction' is \(1,\), expected"):
        read_episode(path)
    rewrite_members(path, instruction=outside)
    with pytest.raises(DatasetError, match=r"episode-000001.npz: member 'instruction' has ids outside \[0, 257\)"):
        DemoDataset(root).load_episode(1)
    other = ids.copy()
    other[0, 0] += 1  # valid ids of another text
    rewrite_members(path, instruction=other)
    with pytest.raises(DatasetError, match="episode-000001.npz: member 'instruction' does not encode the episode's"):
        DemoDataset(root).load_episode(1)
    for key, value, words in [
        ("instruction", 7, "'instruction' must be a str, got 7"),
        ("instruction", "x" * 200, "'instruction' does not fit 96 tokens"),
        ("task", None, "'task' must be a str, got None"),
        ("success", "yes", "'success' must be a bool, got 'yes'"),
        ("seed", 1.5, "'seed' must be an int or null, got 1.5"),
    ]:
        rewrite_members(path, instruction=ids, meta={**stored_meta(click_dataset / path.name), key: value})
        with pytest.raises(DatasetError, match="episode-000001.npz: member 'meta': " + words):
            DemoDataset(root).load_episode(1)


@pytest.mark.parametrize(
    "text, words",
    [
        ("bell\x07", r"non-printable characters \['\\x07'\]"),
        ("x" * 500, "500 characters, at most 96"),
        ("caf\xe9", "non-printable"),
    ],
)
def test_action_text_is_validated_like_an_actions_text(click_dataset, tmp_path, text, words):
    root = copy_dataset(click_dataset, tmp_path / "copy")
    rewrite_members(root / "episode-000002.npz", action_text=np.array([text]))
    with pytest.raises(
        DatasetError, match=r"episode-000002.npz: member 'action_text', step 0: action\['text'\]: " + words
    ):
        DemoDataset(root).load_episode(2)


def small_dataset(root: Path) -> Path:
    """A one-step episode at 32x32: a small file (~1.7 KB) whose every byte can be flipped in a test."""
    writer = DatasetWriter(root, "test", observation_size=32)
    ids = tokenizer.encode("type hi")
    image = np.zeros((32, 32, 3), np.uint8)
    steps = [{"image": image, "instruction": ids, "elements": [], "action": {"type": 5, "text": "hi"}}]
    writer.write_episode(steps, instruction="type hi", task="Type", success=True, seed=3)
    return root / "episode-000000.npz"


def patch_central_directory(path: Path, offset: int, value: int) -> None:
    """Overwrite one 16-bit field of the first member's central-directory entry (8: flags, 10: compression)."""
    data = bytearray(path.read_bytes())
    entry = data.index(b"PK\x01\x02")
    data[entry + offset : entry + offset + 2] = value.to_bytes(2, "little")
    path.write_bytes(bytes(data))


def test_encrypted_and_unknown_compression_members_are_dataset_errors(tmp_path):
    path = small_dataset(tmp_path / "a")
    patch_central_directory(path, 8, 0x1)  # "encrypted": zipfile raised RuntimeError (password required)
    with pytest.raises(DatasetError, match=r"episode-000000.npz: member '\w+.npy' is encrypted"):
        DemoDataset(tmp_path / "a")
    path = small_dataset(tmp_path / "b")
    patch_central_directory(path, 10, 99)  # zipfile raised NotImplementedError
    with pytest.raises(
        DatasetError, match=r"episode-000000.npz: uses a ZIP feature this reader lacks \(That compression method"
    ):
        DemoDataset(tmp_path / "b").load_episode(0)  # the member is read with the episode


def contents(episode: dict) -> list:
    """Everything an episode holds, as comparable values (arrays as dtype, shape and bytes)."""
    flat = {**episode, **{f"action_{k}": v for k, v in episode["action"].items()}}
    del flat["action"]
    return [(k, (v.dtype, v.shape, v.tobytes()) if isinstance(v, np.ndarray) else v) for k, v in sorted(flat.items())]


def test_every_single_byte_flip_is_a_dataset_error_or_changes_nothing(tmp_path):
    path = small_dataset(tmp_path / "ds")
    meta = DemoDataset(tmp_path / "ds").meta
    original, good = read_episode(path, meta), path.read_bytes()
    errors = 0
    with open(path, "r+b") as file:  # one byte rewritten in place (reopening the file each time is slow)
        for i in range(len(good)):
            mask = 0x01 if i % 2 else 0xFF  # the lowest bit (method 8 -> 9, version 20 -> 21) or every bit
            file.seek(i)
            file.write(bytes([good[i] ^ mask]))
            file.flush()
            try:
                episode = read_episode(path, meta)
            except DatasetError:
                errors += 1
            else:
                assert contents(episode) == contents(original), f"byte {i} ^ {mask:#x} changed the episode"
            file.seek(i)
            file.write(good[i : i + 1])
    assert errors > len(good) // 2  # most bytes matter (and a test that flipped nothing would fail here)


def test_damaged_meta_json_is_a_dataset_error(click_dataset, tmp_path):
    root = copy_dataset(click_dataset, tmp_path / "copy")
    meta = json.loads((root / "meta.json").read_text())
    for content, words in [
        (
            {k: v for k, v in meta.items() if k != "observation_size"},
            "observation_size must be a positive int, got None",
        ),
        ({**meta, "instruction_tokens": "96"}, "instruction_tokens must be a positive int, got '96'"),
        ("[" * 30_000 + "]" * 30_000, "nested too deeply"),
        ("{" + '"a": 1, ' * 300_000 + '"b": 2}', "more than a meta.json's 1048576"),
    ]:
        (root / "meta.json").write_text(content if isinstance(content, str) else json.dumps(content))
        with pytest.raises(DatasetError, match="meta.json: .*" + words):
            DemoDataset(root)


@pytest.fixture
def alarm():
    """Fail, rather than hang, if the code under test blocks for 20 s (as opening a FIFO does)."""

    def timeout(signum, frame):
        raise TimeoutError("blocked for 20 s")

    previous = signal.signal(signal.SIGALRM, timeout)
    signal.alarm(20)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize("name", ["episode-000004.npz", "meta.json"])
@pytest.mark.parametrize("kind", ["fifo", "symlink to /dev/zero"])
def test_only_regular_files_are_opened(click_dataset, tmp_path, alarm, name, kind):
    root = copy_dataset(click_dataset, tmp_path / "copy")
    (root / name).unlink(missing_ok=True)
    if kind == "fifo":
        os.mkfifo(root / name)
    else:
        (root / name).symlink_to("/dev/zero")
    with pytest.raises(DatasetError, match=f"{name}: not a regular file"):
        DemoDataset(root)
    (root / name).unlink()
    (root / name).symlink_to(click_dataset / ("episode-000000.npz" if name.startswith("episode") else name))
    assert len(DemoDataset(root)) == (5 if name.startswith("episode") else 4)  # a link to a regular file is fine


def test_opening_is_lazy(click_dataset, tmp_path):
    """Damaged image data goes unnoticed until that episode is read: opening decodes no image."""
    root = copy_dataset(click_dataset, tmp_path / "copy")
    corrupt_member_data(root / "episode-000003.npz", "image.npy")
    ds = DemoDataset(root)
    assert len(ds) == 4 and [e.num_steps for e in ds.episodes] == [1, 1, 1, 1]
    assert ds.episodes[3].instruction == DemoDataset(click_dataset).episodes[3].instruction
    ds[0], ds[2]  # other episodes still load
    with pytest.raises(DatasetError, match="episode-000003.npz: corrupt"):
        ds[3]


def test_interrupted_collect_keeps_finished_episodes_and_resumes(tmp_path):
    out = tmp_path / "demos"
    script = (
        f"from minvla_gym.dataset import collect; collect({CLICK!r}, 100_000, {str(out)!r}, seed=3, progress=False)"
    )
    process = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.monotonic() + 60
        while len(list(out.glob("episode-*.npz"))) < 5:
            assert process.poll() is None, "collect exited early"
            assert time.monotonic() < deadline, "collect wrote no episodes in 60 s"
            time.sleep(0.02)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert process.returncode == -signal.SIGKILL
    # A temp file as a kill mid-write leaves it (this one certainly half-written), owned by the dead pid.
    stray = out / f".episode-999999.npz.{process.pid}.tmp"
    stray.write_bytes(b"PK\x03\x04 half an episode")

    ds = DemoDataset(out)  # every visible episode is complete; the temp file is not an episode
    kept = len(ds.episodes)
    assert kept >= 5 and [e.path.name for e in ds.episodes] == [f"episode-{k:06d}.npz" for k in range(kept)]
    for j in range(kept):
        ds.load_episode(j)

    summary = collect(CLICK, kept + 3, out, seed=3, progress=False)
    assert (summary["episodes"], summary["written"], summary["success_rate"]) == (kept + 3, 3, 1.0)
    assert not stray.exists()
    assert not [p for p in out.iterdir() if p.name.startswith(".")]
    assert_matches_env(DemoDataset(out), CLICK, seed=3, episodes=range(kept - 1, kept + 3))


def test_resume_counts_and_refuses_a_mismatch(tmp_path):
    assert collect(MIXED, 3, tmp_path, progress=False)["written"] == 3
    summary = collect(MIXED, 5, tmp_path, progress=False)
    assert (summary["written"], summary["episodes"], summary["steps"]) == (2, 5, len(DemoDataset(tmp_path)))
    assert collect(MIXED, 5, tmp_path, progress=False)["written"] == 0
    assert DatasetWriter(tmp_path, MIXED).num_episodes == 5
    with pytest.raises(DatasetError, match="episode-000000.npz: was collected with reset seed 0, expected 1"):
        collect(MIXED, 6, tmp_path, seed=1, progress=False)
    with pytest.raises(DatasetError, match="env_id is 'MinVLA-Synthetic-v0', expected 'MinVLA-Synthetic-Click-v0'"):
        collect(CLICK, 6, tmp_path, progress=False)
    with pytest.raises(DatasetError, match="observation_size is 224, expected 64"):
        DatasetWriter(tmp_path, MIXED, observation_size=64)
    assert len(DemoDataset(tmp_path).episodes) == 5


def test_writer_rejects_malformed_steps(tmp_path):
    env = gym.make(CLICK)
    obs, info = env.reset(seed=0)
    writer = DatasetWriter(tmp_path, CLICK)
    good = {**obs, "action": env.unwrapped.expert_action(), "elements": info["elements"]}
    text = info["instruction"]
    cases = [
        ([], "non-empty"),
        ([{**good, "image": obs["image"][:100]}], r"steps\[0\]\['image'\]"),
        ([{**good, "image": obs["image"].astype(np.float32)}], r"steps\[0\]\['image'\]"),
        ([{**good, "instruction": tokenizer.encode("something else")}], r"steps\[0\]\['instruction'\]"),
        ([good, {**good, "action": {**good["action"], "point": [0.5, 1.5]}}], r"steps\[1\]: action\['point'\]"),
        ([{**good, "action": {"type": "fly"}}], r"action\['type'\]"),
        ([{**good, "elements": [{"box": float("nan")}]}], "not JSON serialisable"),
        ([{k: v for k, v in good.items() if k != "elements"}], "missing keys"),
    ]
    for steps, message in cases:
        with pytest.raises(ValueError, match=message):
            writer.write_episode(steps, text, "Click", success=True)
    with pytest.raises(ValueError, match="index"):
        writer.write_episode([good], text, "Click", success=True, index=-1)
    assert writer.num_episodes == 0 and list(tmp_path.iterdir()) == [tmp_path / "meta.json"]
    meta = json.loads((tmp_path / "meta.json").read_text())
    assert meta["version"] == 1 and meta["observation_size"] == 224 and meta["tokenizer"]["vocab_size"] == 257


def test_read_episode_without_the_dataset(click_dataset):
    """A lone episode file is self-describing: numpy and json are enough to read it."""
    path = click_dataset / "episode-000000.npz"
    with np.load(path, allow_pickle=False) as npz:
        meta = json.loads(npz["meta"].tobytes())
        elements = json.loads(npz["elements"].tobytes())
        assert npz["image"].shape == (meta["num_steps"], 224, 224, 3)
        assert tokenizer.decode(npz["instruction"][0]) == meta["instruction"]
    episode = read_episode(path)
    assert episode["instruction_text"] == meta["instruction"] and len(elements) == meta["num_steps"]


def test_cli_collect(tmp_path, capsys):
    out = tmp_path / "cli"
    assert cli.main(["collect", "--env", MIXED, "--episodes", "3", "--out", str(out), "--seed", "5"]) == 0
    printed = capsys.readouterr().out
    assert "expert success rate: 100.0% over 3 episodes" in printed
    assert [e.seed for e in DemoDataset(out).episodes] == [5, 6, 7]
    # A mismatched resume is an error message and exit code 2, not a traceback.
    assert cli.main(["collect", "--env", MIXED, "--episodes", "4", "--out", str(out)]) == 2
    assert "reset seed 5, expected 0" in capsys.readouterr().err
    assert cli.main(["collect", "--env", "MinVLA-Nope-v0", "--out", str(tmp_path / "nope")]) == 2
    assert "env 'MinVLA-Nope-v0'" in capsys.readouterr().err
    assert cli.main(["collect", "--episodes", "0", "--out", str(tmp_path / "zero")]) == 2
    assert "episodes must be a positive int" in capsys.readouterr().err


def test_installed_minvla_script(tmp_path):
    script = Path(sys.executable).with_name("minvla")
    assert script.exists(), "the `minvla` console script is not installed (pip install -e .)"
    out = tmp_path / "script"
    result = subprocess.run(
        [str(script), "collect", "--env", CLICK, "--episodes", "2", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )
    assert result.returncode == 0, result.stderr
    assert "expert success rate: 100.0% over 2 episodes" in result.stdout
    assert "2/2" in result.stderr  # the tqdm progress bar
    assert len(DemoDataset(out)) == 2
