"""Signals computed here, without another model call: consistency across samples, support by the sources,
unsupported specifics, self-reported uncertainty."""

from __future__ import annotations

import math

import numpy as np

from hallucination.signals.base import (
    _HEDGE_RES,
    SPECIFIC_SEVERITY,
    SPECIFIC_WEAK_SEVERITY,
    Material,
    Signal,
    SignalResult,
    best_coverage,
    coverage,
    embedded_agreement,
    is_claim,
    signal_register,
    weighted_tokens,
    windows,
)
from hallucination.text import Reference, content_tokens, sentences_split, specifics_extract


# --- (a) consistency across samples ---
@signal_register
class ConsistencySignal(Signal):
    """SelfCheckGPT's idea: what the model knows it says again when asked again; what it invents changes."""

    name = "consistency"
    title = "Agreement with other samples"

    def missing(self, m: Material) -> str | None:
        return None if any(s.strip() for s in m.samples) else "no extra samples or other models' answers given"

    async def run(self, m: Material) -> SignalResult:
        samples = [s for s in m.samples if s.strip()]
        claims = [i for i, s in enumerate(m.sentences) if is_claim(s.text)]
        texts = [m.sentences[i].text for i in claims]
        specifics = [specifics_extract(t) for t in texts]
        per_sample: list[list[float]] = []
        for sample in samples:
            # The whole sample, not its best passage: another answer tells the same facts in another order.
            sample_tokens, sample_reference = set(content_tokens(sample)), Reference([sample])
            lexical = []
            for text, details in zip(texts, specifics, strict=True):
                agreement = coverage(weighted_tokens(text), sample_tokens)
                if details:  # a sample that gives another number or name disagrees, whatever its other words
                    agreement = agreement * sum(sample_reference.has(d) for d in details) / len(details)
                lexical.append(agreement)
            embedded = await embedded_agreement(m, texts, [s.text for s in sentences_split(sample)] or [sample])
            per_sample.append(
                [(lex + float(emb)) / 2 for lex, emb in zip(lexical, embedded, strict=True)]
                if embedded is not None
                else lexical
            )
        scores: list[float | None] = [None] * len(m.sentences)
        evidence = ["not a checkable statement"] * len(m.sentences)
        for row, i in enumerate(claims):
            agreements = [sample[row] for sample in per_sample]
            scores[i] = 1.0 - float(np.mean(agreements))
            agreeing = sum(a >= 0.75 for a in agreements)
            evidence[i] = (
                f"{agreeing} of {len(samples)} samples say the same (mean agreement {np.mean(agreements):.2f})"
            )
            missing = _specifics_missing(m.sentences[i].text, Reference(samples))
            if missing:
                evidence[i] += f"; {', '.join(missing[:3])} in no sample"
        return SignalResult(scores, evidence, note=f"{len(samples)} samples; {m.similarity_kind()}")


# --- (b) support by the sources ---
@signal_register
class SupportSignal(Signal):
    """Each statement should be found in the sources: the best source passage's similarity to it."""

    name = "support"
    title = "Support by the sources"

    def missing(self, m: Material) -> str | None:
        return None if any(s.strip() for s in m.sources) else "no sources given (no knowledge base or retrieval hits)"

    async def run(self, m: Material) -> SignalResult:
        passages = [w for source in m.sources for w in (windows(source) or [source])]
        passage_sets = [set(content_tokens(p)) for p in passages]
        source_sentences = [s.text for source in m.sources for s in sentences_split(source)] or list(m.sources)
        claims = [i for i, s in enumerate(m.sentences) if is_claim(s.text)]
        texts = [m.sentences[i].text for i in claims]
        embedded = await embedded_agreement(m, texts, source_sentences)
        scores: list[float | None] = [None] * len(m.sentences)
        evidence = ["not a checkable statement"] * len(m.sentences)
        for row, i in enumerate(claims):
            tokens = weighted_tokens(texts[row])
            lexical = best_coverage(tokens, passage_sets)
            agreement = (lexical + float(embedded[row])) / 2 if embedded is not None else lexical
            scores[i] = 1.0 - agreement
            unmatched = [t for t in tokens if not any(t in s for s in passage_sets)]
            evidence[i] = f"best source passage covers {lexical:.0%} of its words" + (
                f" (not in sources: {', '.join(unmatched[:5])})" if unmatched else ""
            )
            if embedded is not None:
                evidence[i] += f"; embedding agreement {float(embedded[row]):.2f}"
        return SignalResult(scores, evidence, note=m.similarity_kind())


# --- (c) unsupported specifics ---
def _specifics_missing(sentence: str, reference: Reference) -> list[str]:
    return [f"{s.kind} {s.text}" for s in specifics_extract(sentence) if not reference.has(s)]


@signal_register
class SpecificsSignal(Signal):
    """Numbers, dates, names, URLs and citations are what models invent; each must be in the sources or prompt."""

    name = "specifics"
    title = "Unsupported specifics"

    def missing(self, m: Material) -> str | None:
        return None if any(s.strip() for s in m.sources) else "no sources to check numbers, names and dates against"

    async def run(self, m: Material) -> SignalResult:
        reference = Reference([*m.sources, m.prompt], source_count=len(m.sources))
        scores: list[float | None] = []
        evidence: list[str] = []
        for sentence in m.sentences:
            found = specifics_extract(sentence.text)
            if not found:
                scores.append(None)
                evidence.append("no numbers, dates, names, links or citations")
                continue
            missing = [s for s in found if not reference.has(s)]
            scores.append(
                1.0
                - math.prod(1.0 - (SPECIFIC_WEAK_SEVERITY if s.weak else SPECIFIC_SEVERITY[s.kind]) for s in missing)
            )
            evidence.append(
                "; ".join(f"{s.kind} {s.text!r} not in the sources or prompt" for s in missing)
                if missing
                else f"{len(found)} specific{'s' if len(found) > 1 else ''} found in the sources"
            )
        return SignalResult(scores, evidence)


# --- (d) self-reported uncertainty ---
def hedges_find(sentence: str) -> list[tuple[str, float]]:
    return [(m.group(), strength) for pattern, strength in _HEDGE_RES for m in pattern.finditer(sentence)]


def token_spans(m: Material) -> list[tuple[int, int]] | None:
    """Character span of each log-probability's token in the answer: from the token texts when given and they
    spell the answer, else spread evenly over it (the order of tokens is all a bare list says)."""
    lps = m.logprobs or []
    if m.logprob_tokens is not None and len(m.logprob_tokens) == len(lps):
        spans, pos = [], 0
        for token in m.logprob_tokens:
            spans.append((pos, pos + len(token)))
            pos += len(token)
        if abs(pos - len(m.answer)) <= max(8, len(m.answer) // 20):
            return spans
    n = len(lps)
    return [(len(m.answer) * k // n, len(m.answer) * (k + 1) // n) for k in range(n)] if n else None


# Surprise (negative log-probability, nats) of a sentence's least likely token at which it counts as fully
# unsure, and the share of the mean. A model inventing a number hesitates on its first digit.
LOGPROB_MAX_NATS = 8.0
LOGPROB_MEAN_NATS = 3.0


def logprob_score(values: list[float]) -> float:
    surprise = [-v for v in values if v is not None and math.isfinite(v)]
    if not surprise:
        return 0.0
    peak = min(1.0, max(surprise) / LOGPROB_MAX_NATS)
    mean = min(1.0, float(np.mean(surprise)) / LOGPROB_MEAN_NATS)
    return 0.5 * peak + 0.5 * mean


@signal_register
class UncertaintySignal(Signal):
    """What the answer says about its own certainty: hedging phrases, and token log-probabilities when given."""

    name = "uncertainty"
    title = "Self-reported uncertainty"

    async def run(self, m: Material) -> SignalResult:
        spans = token_spans(m) if m.logprobs else None
        scores: list[float | None] = []
        evidence: list[str] = []
        for sentence in m.sentences:
            hedges = hedges_find(sentence.text)
            hedge = 1.0 - math.prod(1.0 - s for _p, s in hedges)
            reasons = [f"hedges: {', '.join(repr(p) for p, _s in hedges[:3])}"] if hedges else []
            lp_score = 0.0
            if spans is not None:
                values = [
                    lp for lp, (a, b) in zip(m.logprobs, spans, strict=True) if a < sentence.end and b > sentence.start
                ]
                if values:
                    lp_score = logprob_score(values)
                    reasons.append(
                        f"token probability mean {math.exp(float(np.mean(values))):.2f}, least {math.exp(min(values)):.3f}"
                    )
            scores.append(1.0 - (1.0 - hedge) * (1.0 - lp_score))
            evidence.append("; ".join(reasons) or "no hedging")
        note = "hedging phrases and token log-probabilities" if m.logprobs else "hedging phrases (no log-probabilities)"
        return SignalResult(scores, evidence, note=note)
