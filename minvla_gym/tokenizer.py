"""The instruction tokenizer shared by envs and policies: byte-level, so it is exactly reversible.

Token id = byte value + 1; 0 is padding. Typed text is copied from the instruction as a span of
tokens, which is why the tokenizer must round-trip every printable string exactly.
"""

from __future__ import annotations

import numpy as np

PAD = 0
VOCAB_SIZE = 257  # 256 byte values + padding
MAX_INSTRUCTION_TOKENS = 96


def encode(text: str, length: int = MAX_INSTRUCTION_TOKENS) -> np.ndarray:
    """Text -> int64 ids of shape (length,), zero-padded. Raises ValueError if it is not text or does not fit."""
    if not isinstance(text, str):
        raise ValueError(f"text must be a str, got {type(text).__name__}")
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError as error:  # the only characters UTF-8 cannot encode: surrogates (U+D800..U+DFFF)
        char = text[error.start]
        raise ValueError(f"text has a lone surrogate {char!r} at character {error.start}, not UTF-8 text") from None
    if len(data) > length:
        raise ValueError(f"instruction is {len(data)} bytes, longer than the {length} tokens allowed: {text!r}")
    ids = np.zeros(length, dtype=np.int64)
    ids[: len(data)] = np.frombuffer(data, dtype=np.uint8).astype(np.int64) + 1
    return ids


def decode(ids) -> str:
    """Ids -> text; trailing padding is dropped. Raises ValueError for ids that `encode` never gives: not
    integers (a cast would truncate 65.7 to another byte), out of the vocabulary, padding before the end."""
    ids = np.asarray(ids)
    if ids.size and ids.dtype.kind not in "iu":
        raise ValueError(f"token ids must be integers, got {ids.dtype}")
    ids = ids.reshape(-1)
    if np.any((ids < 0) | (ids >= VOCAB_SIZE)):
        raise ValueError(f"token ids must lie in [0, {VOCAB_SIZE}), got {ids.min()}..{ids.max()}")
    padding = np.flatnonzero(ids == PAD)
    if len(padding) and padding[0] + len(padding) != len(ids):
        raise ValueError(f"token ids have padding inside the text, at position {padding[0]} (it may only trail)")
    ids = ids[: padding[0]] if len(padding) else ids
    return bytes((ids - 1).astype(np.uint8).tolist()).decode("utf-8", errors="replace")


def find_span(ids, text: str) -> tuple[int, int]:
    """Token span [start, end) of `text` inside the encoded instruction `ids` (first occurrence).

    Raises ValueError if the text is not a substring of the instruction.
    """
    if text == "":
        return 0, 0
    haystack = decode(ids)
    start = haystack.find(text)
    if start < 0:
        raise ValueError(f"text {text!r} does not occur in the instruction {haystack!r}")
    # Byte-level: character offsets equal token offsets for ASCII text.
    start = len(haystack[:start].encode("utf-8"))
    return start, start + len(text.encode("utf-8"))
