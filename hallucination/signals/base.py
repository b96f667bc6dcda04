"""What every signal shares: the material a check works on, the result type, the registry and the shared
measures (weighted words, windows, coverage, embedding agreement)."""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from hallucination.text import (
    Sentence,
    content_tokens,
    sentences_split,
    specifics_extract,
)

log = logging.getLogger("hallucination.signals")

EmbedFn = Callable[[list[str]], Awaitable[np.ndarray]]

# Cosine similarities mapped to [0, 1] agreement: at or below UNRELATED nothing in common, at or above SAME
# the same statement. Set for all-MiniLM-L6-v2, measured on the shipped set: a sentence's best match in an
# unrelated document 0.22 (median; 90th percentile 0.33), a faithful sentence's in its source 0.78 (median).
EMBED_UNRELATED_COS = 0.3
EMBED_SAME_COS = 0.8
# Weights of words in lexical agreement: a changed number or name matters more than a changed verb.
WEIGHT_NUMBER = 3.0
WEIGHT_NAME = 2.0
WEIGHT_WORD = 1.0
# How strongly one missing specific of each kind flags a sentence (combined as a noisy-or).
SPECIFIC_SEVERITY = {"number": 0.9, "date": 0.9, "url": 0.9, "citation": 0.9, "name": 0.7}
SPECIFIC_WEAK_SEVERITY = 0.35  # a lone capitalised first word: often a name, as often just a capital
JUDGE_CONCURRENCY = 4
JUDGE_SOURCE_CHARS = 1500

# (phrase pattern, strength): how much a hedge says the writer was unsure.
HEDGES: list[tuple[str, float]] = [
    (r"i (?:do not|don't) know", 0.9),
    (r"i(?:'m| am) not (?:sure|certain)", 0.9),
    (r"not (?:sure|certain)", 0.8),
    (r"i (?:cannot|can't|could not|couldn't) (?:verify|confirm|be sure)", 0.9),
    (r"i(?:'m| am) unsure", 0.9),
    (r"i (?:might|may|could) be (?:wrong|mistaken)", 0.9),
    (r"no reliable information", 0.9),
    (r"(?:this|that) (?:may|might) (?:be|not be) (?:accurate|correct|inaccurate)", 0.85),
    (r"as far as i (?:know|can tell|remember)", 0.7),
    (r"if i (?:recall|remember) (?:correctly|rightly)?", 0.7),
    (r"to (?:the best of )?my knowledge", 0.6),
    (r"i (?:think|believe|guess|suppose|assume)", 0.6),
    (r"it (?:seems|appears)", 0.5),
    (r"(?:seems|appears) to", 0.4),
    (r"probably", 0.5),
    (r"possibly", 0.5),
    (r"perhaps", 0.5),
    (r"maybe", 0.5),
    (r"(?:might|could) have", 0.5),
    (r"may have", 0.4),
    (r"likely", 0.4),
    (r"reportedly|allegedly|supposedly|rumou?red", 0.5),
    (r"(?:some|many) (?:say|believe|claim)", 0.5),
    (r"(?:roughly|approximately|about|around) (?=\d)", 0.2),
    (r"unclear|uncertain", 0.6),
]
_HEDGE_RES = [(re.compile(rf"\b(?:{p})", re.I), s) for p, s in HEDGES]


@dataclass
class Material:
    """What the answer is checked against. Embeddings are asked for once per text and shared by signals."""

    answer: str
    sentences: list[Sentence]
    prompt: str = ""
    sources: list[str] = field(default_factory=list)
    samples: list[str] = field(default_factory=list)
    logprobs: list[float] | None = None
    logprob_tokens: list[str] | None = None
    judge_model: str = ""
    embed: EmbedFn | None = None
    nli_model_path: str = ""
    embed_error: str = ""
    _vectors: dict[str, np.ndarray] = field(default_factory=dict)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def vectors(self, texts: list[str]) -> np.ndarray | None:
        """Unit vectors for `texts` (rows), or None when no embedding function was given or it failed."""
        if self.embed is None or self.embed_error:
            return None
        async with self._lock:
            todo = list(dict.fromkeys(t for t in texts if t not in self._vectors))
            if todo:
                try:
                    matrix = np.asarray(await self.embed(todo), dtype=np.float32)
                    if matrix.ndim != 2 or matrix.shape[0] != len(todo):
                        raise ValueError(f"expected {len(todo)} vectors, got shape {matrix.shape}")
                except Exception as exc:  # any embedder failure falls back to lexical similarity
                    log.warning("embedding for the hallucination check failed", exc_info=True)
                    self.embed_error = f"embedding failed ({type(exc).__name__}: {str(exc)[:120]})"
                    return None
                norms = np.linalg.norm(matrix, axis=1, keepdims=True)
                norms[norms == 0] = 1.0
                for text, row in zip(todo, matrix / norms, strict=True):
                    self._vectors[text] = row
        return np.stack([self._vectors[t] for t in texts]) if texts else np.zeros((0, 1), dtype=np.float32)

    def similarity_kind(self) -> str:
        if self.embed is None:
            return "lexical similarity (no embedding model given)"
        if self.embed_error:
            return f"lexical similarity ({self.embed_error})"
        return "lexical + embedding similarity"


@dataclass
class SignalResult:
    scores: list[float | None]  # one per sentence; None: no opinion on that sentence
    evidence: list[str]
    note: str = ""  # about the whole answer (e.g. which similarity was used)


class Signal:
    name: ClassVar[str]
    title: ClassVar[str]

    def missing(self, m: Material) -> str | None:
        """Why this signal cannot run on this material, or None when it can."""
        return None

    async def run(self, m: Material) -> SignalResult:
        raise NotImplementedError


REGISTRY: dict[str, type[Signal]] = {}


def signal_register(cls: type[Signal]) -> type[Signal]:
    REGISTRY[cls.name] = cls
    return cls


# --- shared measures ---
def weighted_tokens(text: str) -> dict[str, float]:
    """Content tokens of `text` with their weight (numbers and names count more than other words)."""
    names = {t for s in specifics_extract(text) if s.kind == "name" for t in content_tokens(s.text)}
    out: dict[str, float] = {}
    for token in content_tokens(text):
        weight = WEIGHT_NUMBER if token[:1].isdigit() else WEIGHT_NAME if token in names else WEIGHT_WORD
        out[token] = max(out.get(token, 0.0), weight)
    return out


def is_claim(sentence: str) -> bool:
    """Whether a sentence states something checkable: not a question, a greeting or a one-word aside."""
    if sentence.rstrip().endswith("?"):
        return False
    return bool(specifics_extract(sentence)) or len(content_tokens(sentence)) >= 3


def windows(text: str) -> list[str]:
    """A text's sentences and pairs of neighbouring sentences: an answer sentence may merge two."""
    parts = [s.text for s in sentences_split(text)]
    return parts + [f"{a} {b}" for a, b in itertools.pairwise(parts)]


def coverage(tokens: dict[str, float], other: set[str]) -> float:
    total = sum(tokens.values())
    return sum(w for t, w in tokens.items() if t in other) / total if total else 1.0


def best_coverage(tokens: dict[str, float], window_sets: list[set[str]]) -> float:
    return max((coverage(tokens, s) for s in window_sets), default=0.0)


def cos_agreement(cos: float) -> float:
    return float(np.clip((cos - EMBED_UNRELATED_COS) / (EMBED_SAME_COS - EMBED_UNRELATED_COS), 0.0, 1.0))


async def embedded_agreement(m: Material, sentences: list[str], others: list[str]) -> np.ndarray | None:
    """For each sentence, the agreement (0..1) of its nearest text in `others` by embedding, or None."""
    if not sentences or not others:
        return None
    vectors = await m.vectors(sentences + others)
    if vectors is None:
        return None
    sims = vectors[: len(sentences)] @ vectors[len(sentences) :].T
    return np.array([cos_agreement(float(row.max())) for row in sims])


def signal_names() -> list[str]:
    return list(REGISTRY)
