"""The one action space: validation of malformed actions, normalisation, the tokenizer, the flat twin."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.utils.env_checker import data_equivalence
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import minvla_gym  # noqa: F401  (registers the ids)
from minvla_gym import actions, tokenizer
from minvla_gym.actions import (
    ACTION_KEYS,
    ACTION_TYPES,
    HOTKEYS,
    MAX_SCROLL,
    MAX_TEXT_LENGTH,
    make_action,
    make_action_space,
    validate_action,
)
from minvla_gym.wrappers import FlatActionWrapper, action_to_flat, bin_centre, flat_nvec, flat_to_action

# Generous deadline: a shared CI machine is slow, but a hang still fails the test.
SETTINGS = settings(max_examples=300, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
PRINTABLE = "".join(chr(c) for c in range(32, 127))
VECTORS = {"point": (2, 0.0, 1.0), "end_point": (2, 0.0, 1.0), "scroll": (1, -MAX_SCROLL, MAX_SCROLL)}
INDICES = {"type": ACTION_TYPES, "hotkey": HOTKEYS}


def base_action() -> dict:
    return {"type": 0, "point": (0.5, 0.5), "end_point": (0.5, 0.5), "scroll": [0.0], "text": "", "hotkey": 0}


# ---------------------------------------------------------------- malformed actions


def float32(values) -> np.ndarray:
    with np.errstate(over="ignore"):  # 1e300 becomes inf, which the validation must report
        return np.array(values, np.float32)


WRONG_TYPES = st.one_of(
    st.none(),
    st.text(max_size=5),
    st.binary(max_size=5),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.complex_numbers(allow_nan=False),
    st.just(object()),
    st.just({0.5, 0.25}),
)


def out_of_range(low: float, high: float):
    # Beyond the bounds after the cast to float32 (1.0000001 would round back to 1.0), infinities included.
    return st.one_of(
        st.floats(min_value=high + 0.01, allow_nan=False),
        st.floats(max_value=low - 0.01, allow_nan=False),
        st.sampled_from([float("nan"), float("inf"), -float("inf")]),
    )


@st.composite
def bad_vector(draw, size: int, low: float, high: float):
    kind = draw(st.sampled_from(["value", "shape", "type"]))
    if kind == "value":
        values = draw(st.lists(st.floats(low, high), min_size=size, max_size=size))
        values[draw(st.integers(0, size - 1))] = draw(out_of_range(low, high))
        form = draw(st.sampled_from([list, tuple, np.array, float32]))
        return form(values)
    if kind == "shape":
        length = draw(st.integers(0, 4).filter(lambda n: n != size))
        values = draw(st.lists(st.floats(low, high), min_size=length, max_size=length))
        return draw(st.sampled_from([values, np.array(values), np.array([values]).T, [values]]))
    return draw(st.one_of(WRONG_TYPES, st.lists(st.booleans(), min_size=size, max_size=size), st.just(["0.5"] * size)))


def bad_index(names: tuple[str, ...]):
    return st.one_of(
        st.integers().filter(lambda i: not 0 <= i < len(names)),
        st.text(max_size=12).filter(lambda s: s not in names),
        st.sampled_from(names).map(str.upper).filter(lambda s: s not in names),
        st.floats(),
        st.booleans(),
        st.just(np.array([1])),
        st.just(np.float64(1.0)),
        st.just(np.array(True)),
        WRONG_TYPES.filter(lambda v: not isinstance(v, str)),
    )


BAD_TEXT = st.one_of(
    st.integers(),
    st.none(),
    st.binary(max_size=4),
    st.lists(st.text(PRINTABLE, max_size=2), max_size=3),
    st.text(min_size=1, max_size=20).filter(lambda s: any(ch not in PRINTABLE for ch in s)),
    st.text(PRINTABLE, min_size=MAX_TEXT_LENGTH + 1, max_size=MAX_TEXT_LENGTH + 50),
)


@st.composite
def malformed_field(draw):
    field = draw(st.sampled_from(ACTION_KEYS))
    if field in VECTORS:
        value = draw(bad_vector(*VECTORS[field]))
    elif field in INDICES:
        value = draw(bad_index(INDICES[field]))
    else:
        value = draw(BAD_TEXT)
    return field, value


@SETTINGS
@given(malformed_field())
def test_a_malformed_field_is_a_value_error_naming_it(bad):
    field, value = bad
    action = base_action() | {field: value}
    with pytest.raises(ValueError, match=f"action\\['{field}'\\]"):
        validate_action(action)


@SETTINGS
@given(st.text(max_size=10).filter(lambda k: k not in ACTION_KEYS), st.integers())
def test_an_unknown_key_is_a_value_error_naming_it(key, value):
    with pytest.raises(ValueError, match="unknown keys") as error:
        validate_action(base_action() | {key: value})
    assert repr(key) in str(error.value)


@SETTINGS
@given(st.one_of(st.none(), st.integers(), st.floats(), st.text(), st.lists(st.integers()), st.tuples(st.integers())))
def test_a_non_dict_is_a_value_error(action):
    with pytest.raises(ValueError, match="expected a dict"):
        validate_action(action)


def test_a_missing_type_is_a_value_error():
    with pytest.raises(ValueError, match=r"action\['type'\]: missing"):
        validate_action({"point": (0.5, 0.5)})


def test_huge_values_are_errors_not_warnings():
    # 1e300 would overflow float32 to inf: it is reported as out of range, with no RuntimeWarning on the way.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match=r"action\['point'\]: \[1e\+300, 0.5\] outside"):
            validate_action({"type": 0, "point": [1e300, 0.5]})
        with pytest.raises(ValueError, match=r"action\['point'\]: contains NaN or infinity"):
            validate_action({"type": 0, "point": np.array([np.inf, 0.5], np.float32)})
        with pytest.raises(ValueError, match=r"action\['scroll'\]: expected numbers"):
            validate_action({"type": 0, "scroll": 10**400})


# ---------------------------------------------------------------- valid actions


@st.composite
def valid_action(draw):
    def vector(size, low, high):
        values = draw(st.lists(st.floats(low, high), min_size=size, max_size=size))
        return draw(st.sampled_from([list, tuple, np.array, float32]))(values)

    def index(names):
        i = draw(st.integers(0, len(names) - 1))
        return draw(st.sampled_from([i, np.int64(i), np.int32(i), np.array(i), names[i]]))

    action = {
        "type": index(ACTION_TYPES),
        "point": vector(2, 0.0, 1.0),
        "end_point": vector(2, 0.0, 1.0),
        "scroll": draw(st.floats(-MAX_SCROLL, MAX_SCROLL)) if draw(st.booleans()) else vector(1, -10.0, 10.0),
        "text": draw(st.text(PRINTABLE, max_size=MAX_TEXT_LENGTH)),
        "hotkey": index(HOTKEYS),
    }
    optional = draw(st.sets(st.sampled_from(ACTION_KEYS[1:])))
    return {k: v for k, v in action.items() if k not in optional}


def as_index(value, names) -> int:
    return names.index(value) if isinstance(value, str) else int(value)


@SETTINGS
@given(valid_action())
def test_valid_actions_normalise(action):
    normal = validate_action(action)
    assert make_action_space().contains(normal)
    assert type(normal["type"]) is int and normal["type"] == as_index(action["type"], ACTION_TYPES)
    assert type(normal["hotkey"]) is int and normal["hotkey"] == as_index(action.get("hotkey", 0), HOTKEYS)
    defaults = {"point": (0.5, 0.5), "end_point": (0.5, 0.5), "scroll": [0.0]}
    for key, (size, _, _) in VECTORS.items():
        given_value = action.get(key, defaults[key])
        assert normal[key].dtype == np.float32 and normal[key].shape == (size,)
        assert np.array_equal(normal[key], np.asarray(given_value, np.float32).reshape(size))
        assert not np.shares_memory(normal[key], given_value)  # never aliases the caller's array
    assert normal["text"] == action.get("text", "")
    assert data_equivalence(validate_action(normal), normal, exact=True)  # idempotent


def test_make_action_by_name():
    action = make_action("hotkey", hotkey="ctrl+s")
    assert action["type"] == ACTION_TYPES.index("hotkey") and HOTKEYS[action["hotkey"]] == "ctrl+s"
    assert make_action("drag", point=(0, 1), end_point=(1, 0))["end_point"].tolist() == [1.0, 0.0]


def test_sampled_actions_are_valid_and_cover_the_space():
    space = make_action_space()
    space.seed(0)
    samples = [space.sample() for _ in range(3000)]
    assert all(space.contains(a) and data_equivalence(validate_action(a)["point"], a["point"]) for a in samples)
    lengths = {len(a["text"]) for a in samples}
    assert min(lengths) == 0 and max(lengths) >= MAX_TEXT_LENGTH - 5
    assert set("".join(a["text"] for a in samples)) == set(PRINTABLE)
    scroll = np.concatenate([a["scroll"] for a in samples])
    assert scroll.min() < -9 and scroll.max() > 9
    space.seed(0)
    assert data_equivalence(space.sample(), samples[0], exact=True)  # seeded sampling is reproducible


# ---------------------------------------------------------------- tokenizer


@SETTINGS
@given(st.text(PRINTABLE, max_size=tokenizer.MAX_INSTRUCTION_TOKENS))
def test_tokenizer_round_trips_printable_text(text):
    ids = tokenizer.encode(text)
    assert ids.dtype == np.int64 and ids.shape == (tokenizer.MAX_INSTRUCTION_TOKENS,)
    assert ((ids >= 0) & (ids < tokenizer.VOCAB_SIZE)).all() and (ids[len(text) :] == tokenizer.PAD).all()
    assert tokenizer.decode(ids) == text


@SETTINGS
@given(st.text(max_size=30))
def test_tokenizer_round_trips_any_unicode_that_fits(text):
    if len(text.encode("utf-8", errors="surrogatepass")) > tokenizer.MAX_INSTRUCTION_TOKENS:
        return
    if any("\ud800" <= ch <= "\udfff" for ch in text):  # lone surrogates are not text
        with pytest.raises(ValueError, match="lone surrogate"):
            tokenizer.encode(text)
        return
    assert tokenizer.decode(tokenizer.encode(text)) == text


def test_tokenizer_errors():
    with pytest.raises(ValueError, match="longer than"):
        tokenizer.encode("x" * (tokenizer.MAX_INSTRUCTION_TOKENS + 1))
    with pytest.raises(ValueError, match="token ids"):
        tokenizer.decode([300])
    with pytest.raises(ValueError, match="does not occur"):
        tokenizer.find_span(tokenizer.encode("click save"), "open")


def test_tokenizer_refuses_what_it_cannot_round_trip():
    with pytest.raises(ValueError, match=r"lone surrogate '\\udc80' at character 5"):
        tokenizer.encode("click\udc80 save")  # as os.fsdecode gives an undecodable file name byte
    with pytest.raises(ValueError, match="text must be a str, got int"):
        tokenizer.encode(5)
    ids = tokenizer.encode("ok")
    with pytest.raises(ValueError, match="token ids must be integers, got float64"):
        tokenizer.decode(ids.astype(np.float64) + 0.7)  # would have been truncated to other characters
    with pytest.raises(ValueError, match="token ids must be integers, got bool"):
        tokenizer.decode([True, False])
    with pytest.raises(ValueError, match="padding inside the text, at position 1"):
        tokenizer.decode([ord("o") + 1, tokenizer.PAD, ord("k") + 1])  # "ok" with a hole is not "ok"
    assert tokenizer.decode([ord("o") + 1, ord("k") + 1, tokenizer.PAD, tokenizer.PAD]) == "ok"
    assert tokenizer.decode(np.array([], np.int64)) == ""


# ---------------------------------------------------------------- the flat MultiDiscrete twin


@st.composite
def instruction_and_action(draw, coord_bins: int):
    """An instruction and an action whose coordinates are bin centres and whose text is a substring of it."""
    instruction = draw(st.text(PRINTABLE, min_size=1, max_size=tokenizer.MAX_INSTRUCTION_TOKENS))
    start = draw(st.integers(0, len(instruction)))
    end = draw(st.integers(start, len(instruction)))
    bins = draw(st.lists(st.integers(0, coord_bins - 1), min_size=4, max_size=4))
    action = validate_action(
        {
            "type": draw(st.integers(0, len(ACTION_TYPES) - 1)),
            "point": bin_centre(bins[:2], coord_bins),
            "end_point": bin_centre(bins[2:], coord_bins),
            "scroll": [float(draw(st.integers(-int(MAX_SCROLL), int(MAX_SCROLL))))],
            "text": instruction[start:end],
            "hotkey": draw(st.integers(0, len(HOTKEYS) - 1)),
        }
    )
    return tokenizer.encode(instruction), action


@SETTINGS
@given(st.sampled_from([8, 64, 100]).flatmap(lambda n: st.tuples(st.just(n), instruction_and_action(n))))
def test_dict_to_flat_to_dict_is_exact(case):
    coord_bins, (ids, action) = case
    flat = action_to_flat(action, ids, coord_bins)
    assert spaces.MultiDiscrete(flat_nvec(len(ids), coord_bins)).contains(flat)
    assert data_equivalence(flat_to_action(flat, ids, coord_bins), action, exact=True)


@st.composite
def canonical_flat(draw, coord_bins: int):
    """An instruction and a flat action whose text span is the first occurrence of its text ((0, 0) if empty)."""
    instruction = draw(st.text(PRINTABLE, min_size=1, max_size=tokenizer.MAX_INSTRUCTION_TOKENS))
    ids = tokenizer.encode(instruction)
    start = draw(st.integers(0, len(instruction)))
    start, end = tokenizer.find_span(ids, instruction[start : draw(st.integers(start, len(instruction)))])
    nvec = flat_nvec(len(ids), coord_bins)
    flat = np.array([draw(st.integers(0, n - 1)) for n in nvec], dtype=np.int64)
    flat[6:8] = start, end
    return ids, flat


@SETTINGS
@given(st.sampled_from([8, 64, 100]).flatmap(lambda n: st.tuples(st.just(n), canonical_flat(n))))
def test_canonical_flat_to_dict_to_flat_is_exact(case):
    coord_bins, (ids, flat) = case
    assert np.array_equal(action_to_flat(flat_to_action(flat, ids, coord_bins), ids, coord_bins), flat)


def test_flat_action_errors():
    ids = tokenizer.encode("type hello")
    nvec = flat_nvec(len(ids))
    with pytest.raises(ValueError, match="does not fit"):
        flat_to_action(nvec, ids)  # every factor one past its last value
    with pytest.raises(ValueError, match="does not fit"):
        flat_to_action([0, 1, 2], ids)
    with pytest.raises(ValueError, match="does not occur"):
        action_to_flat(make_action("type", text="world"), ids)


@pytest.mark.parametrize(
    "flat, words",
    [
        (None, "expected a vector of 9 integers, got NoneType"),
        ({"type": 0}, "expected a vector of 9 integers, got dict"),
        ("012345678", "expected a vector of 9 integers, got str"),
        ([0, 1.5, 2, 3, 4, 5, 0, 0, 0], "expected a vector of 9 integers, got float64"),  # not truncated to 1
        ([0, 1, 2, 3, 4, 5, 0, 0, np.nan], "expected a vector of 9 integers, got float64"),
        ([[0, 1], [2]], "expected a vector of 9 integers, got list"),
    ],
)
def test_a_malformed_flat_action_is_a_value_error(flat, words):
    ids = tokenizer.encode("type hello")
    with pytest.raises(ValueError, match=words.replace("(", r"\(")):
        flat_to_action(flat, ids)
    env = FlatActionWrapper(gym.make("MinVLA-Synthetic-v0"))
    env.reset(seed=0)
    with pytest.raises(ValueError, match="flat action"):
        env.step(flat)


def test_a_tensor_that_requires_grad_is_a_value_error_naming_the_field():
    torch = pytest.importorskip("torch")
    point = torch.tensor([0.25, 0.75], requires_grad=True)
    with pytest.raises(ValueError, match=r"action\['point'\]: .*requires grad"):
        validate_action({"type": 0, "point": point})
    assert validate_action({"type": 0, "point": point.detach()})["point"].tolist() == [0.25, 0.75]


@pytest.mark.parametrize("coord_bins", [16, 64])
def test_wrapper_space_and_random_steps(coord_bins):
    env = FlatActionWrapper(gym.make("MinVLA-Synthetic-v0"), coord_bins=coord_bins)
    length = env.observation_space["instruction"].shape[0]
    expected = [len(ACTION_TYPES), *[coord_bins] * 4, 2 * int(MAX_SCROLL) + 1, length + 1, length + 1, len(HOTKEYS)]
    assert env.action_space == spaces.MultiDiscrete(expected)
    obs, info = env.reset(seed=0)
    env.action_space.seed(0)
    for _ in range(60):
        flat = env.action_space.sample()
        action = env.action(flat)  # what the wrapped env receives
        assert make_action_space().contains(action)
        if flat[7] > flat[6]:
            assert action["text"] in info["instruction"]
        obs, reward, terminated, truncated, info = env.step(flat)
        if terminated or truncated:
            obs, info = env.reset()
    # The expert's action survives the trip through the flat twin with its fields in the same bins.
    expert = env.unwrapped.expert_action()
    back = env.action(env.reverse_action(expert))
    assert back["type"] == expert["type"] and back["text"] == expert["text"] and back["hotkey"] == expert["hotkey"]
    assert np.abs(back["point"] - expert["point"]).max() <= 0.5 / coord_bins + 1e-6


def test_printable_is_printable_ascii():
    assert actions.PRINTABLE == frozenset(PRINTABLE)
    assert actions.is_printable(PRINTABLE) and not actions.is_printable("tab\there") and not actions.is_printable("é")
