"""Checks on a model's answer: empty, truncated, degenerate repetition, invalid JSON when JSON was asked."""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Flag:
    code: str  # empty | truncated | repetition | invalid_json
    reason: str


def repetition_flag(text: str) -> Flag | None:
    """Degenerate loops compress far better than prose; short texts are left alone."""
    if len(text) < 200:
        return None
    ratio = len(zlib.compress(text.encode())) / len(text.encode())
    words = text.split()
    tail = words[-60:]
    distinct = len(set(tail)) / max(1, len(tail))
    if ratio < 0.12 or (len(tail) >= 60 and distinct < 0.15):
        return Flag(
            "repetition",
            f"the answer repeats itself (compression ratio {ratio:.2f}, {distinct:.0%} distinct words at the end)",
        )
    return None


def response_check(content: str, finish_reason: str | None, *, expect_json: bool = False) -> list[Flag]:
    flags: list[Flag] = []
    if not content.strip():
        flags.append(Flag("empty", "the model returned no text"))
        return flags
    if finish_reason == "length":
        flags.append(Flag("truncated", "the answer hit max_tokens and was cut off"))
    flag = repetition_flag(content)
    if flag:
        flags.append(flag)
    if expect_json:
        text = content.strip()
        if text.startswith("```"):
            text = text.strip("`").removeprefix("json").strip()
        try:
            json.loads(text)
        except ValueError as exc:
            flags.append(Flag("invalid_json", f"JSON was asked for but the answer does not parse: {exc}"))
    return flags
