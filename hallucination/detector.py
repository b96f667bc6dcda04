"""The hallucination detector: score an answer sentence by sentence from several signals, combine them into
one score and a verdict, draw extra samples for the consistency signal, and recover from a bad verdict.

Combination. Each sentence's score is the weighted mean of the signals that had something to say about it
(a signal with no material, or no opinion on that sentence, is left out and the others' weights grow to
fill its share). The answer's score is its worst sentence's: one invented fact is enough to mislead.
The verdict reads the score against two thresholds. Weights and thresholds are fitted on the shipped
labelled set (benchmarks/data/hallucination_cases.json) by `benchmarks/hallucination.py --fit`; the
figures of that fit are next to the constants below.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field

from hallucination.signals import REGISTRY, EmbedFn, Material, SignalResult
from hallucination.text import sentences_split

log = logging.getLogger(__name__)

VERDICTS = ("supported", "uncertain", "likely_hallucinated")

# Fitted by `benchmarks/hallucination.py --fit` on the shipped labelled set (benchmarks/data/, 56 hand-written
# answers, 189 sentences, 27% unsupported): a grid search (step 0.05, each weight at least 0.05 so that every
# signal still counts when the others have no material) for the highest sentence-level AUC-PR on the answers
# to the even-numbered documents, with lexical similarity, samples = the other answers to the same question,
# hedging only (no log-probabilities). AUC-PR on the training half 0.980; on the held-out half 0.894 (even
# weights: 0.898 there, so the fit mostly confirms that support and specifics carry the most); without sources
# (consistency and uncertainty only) 0.557 held out, against 0.27 for chance.
WEIGHTS: dict[str, float] = {
    "consistency": 0.2,
    "support": 0.35,
    "specifics": 0.35,
    "uncertainty": 0.1,
}
# The judge and the NLI model are only as good as the model behind them; the only one here (Gemma 3 270M, a
# base model) answers at chance (AUC-PR 0.28 against 0.27), so a fit would zero them for every user. They get
# a fixed share instead: a configured judge or NLI model counts as much as the strongest fitted signal.
JUDGE_WEIGHT = 0.35
NLI_WEIGHT = 0.35
# Verdict thresholds on the combined score, (supported below, likely_hallucinated from), "uncertain" between;
# one pair with sources (support and specifics sharpen the score) and one without (consistency, hedging and
# the judge only). Fitted with the weights above on all 56 answers (the training half alone is nearly
# separable and leaves no "uncertain" band). "likely_hallucinated" from the lowest score at which 95% of the
# sentences so marked are unsupported (without sources never reached: the most precise threshold that still
# catches a quarter). "supported" below the highest score that keeps 90% of the unsupported sentences out of
# it with sources (then 4% of the faithful sentences and 14% of the faithful answers are flagged, 95% of the
# answers with an error caught), 60% without (90% there would flag 71% of the faithful answers; 60% flags
# 14% and catches 76% of the answers with an error).
THRESHOLDS: dict[str, tuple[float, float]] = {
    "sources": (0.394, 0.536),
    "no_sources": (0.556, 0.666),
}


def weights() -> dict[str, float]:
    return {**WEIGHTS, "judge": JUDGE_WEIGHT, "nli": NLI_WEIGHT}


def verdict_of(score: float, mode: str = "sources") -> str:
    """The verdict for a combined score; `mode` is "sources" when the answer was checked against sources."""
    supported_below, hallucinated_from = THRESHOLDS[mode]
    if score < supported_below:
        return "supported"
    return "likely_hallucinated" if score >= hallucinated_from else "uncertain"


@dataclass
class SentenceReport:
    index: int
    text: str
    start: int  # character offsets into the answer: answer[start:end] == text
    end: int
    score: float  # 0 = fine, 1 = hallucinated (combined for this sentence)
    label: str  # one of VERDICTS
    signals: dict[str, float]  # per-signal score for this sentence (only the signals that scored it)
    evidence: dict[str, str]  # short human-readable reason per signal

    def to_dict(self) -> dict:
        return {
            "index": self.index,
            "text": self.text,
            "start": self.start,
            "end": self.end,
            "score": round(self.score, 4),
            "label": self.label,
            "signals": {k: round(v, 4) for k, v in self.signals.items()},
            "evidence": dict(self.evidence),
        }


@dataclass
class Report:
    score: float
    verdict: str
    mode: str  # "sources" or "no_sources": which thresholds gave the verdict
    # name -> {"score": float | None, "weight": float, "evidence": str | list[str], "used": bool, "title": str}
    signals: dict[str, dict]
    sentences: list[SentenceReport]
    ms: float

    def to_dict(self) -> dict:
        """JSON-safe, for chat:done's `validation` and for storage on the message."""
        return {
            "score": round(self.score, 4),
            "verdict": self.verdict,
            "mode": self.mode,
            "signals": {
                name: {
                    **info,
                    "score": None if info["score"] is None else round(info["score"], 4),
                    "weight": round(info["weight"], 4),
                }
                for name, info in self.signals.items()
            },
            "sentences": [s.to_dict() for s in self.sentences],
            "ms": round(self.ms, 1),
        }

    @property
    def flagged(self) -> list[SentenceReport]:
        return [s for s in self.sentences if s.label != "supported"]


def combine(sentence_scores: dict[str, float], weight_of: dict[str, float]) -> float:
    """The weighted mean of the signals that scored a sentence (their weights renormalised); 0 when none did."""
    total = sum(weight_of[name] for name in sentence_scores)
    if total <= 0:
        return 0.0
    return sum(weight_of[name] * score for name, score in sentence_scores.items()) / total


def _strings(value, name: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        raise TypeError(f"{name}: expected a list of strings, got a single string")
    out = list(value)
    for k, item in enumerate(out):
        if not isinstance(item, str):
            raise TypeError(f"{name}[{k}]: expected a string, got {type(item).__name__}")
    return out


def _setting(name: str, default):
    try:
        from django.conf import settings

        return getattr(settings, name, default) if settings.configured else default
    except ImportError:  # pragma: no cover - the library without Django
        return default


async def detect(
    answer: str,
    *,
    prompt: str = "",
    sources: Sequence[str] = (),
    samples: Sequence[str] = (),
    logprobs: Sequence[float] | None = None,
    judge_model: str | None = None,
    embed: EmbedFn | None = None,
    signals: Iterable[str] | None = None,
    logprob_tokens: Sequence[str] | None = None,
    nli_model_path: str | None = None,
) -> Report:
    """Score `answer` against the material given; no generation happens here except the judge's questions.

    `judge_model` None reads HALLUCINATION_JUDGE_MODEL ("" turns the judge off); `nli_model_path` None reads
    HALLUCINATION_NLI_MODEL_PATH. `signals` limits which signals run (default: all registered). A signal
    without material is left out, its weight shared among the others, and its entry says why.
    Raises TypeError/ValueError naming the bad argument."""
    started = time.perf_counter()
    if not isinstance(answer, str):
        raise TypeError(f"answer: expected a string, got {type(answer).__name__}")
    if not isinstance(prompt, str):
        raise TypeError(f"prompt: expected a string, got {type(prompt).__name__}")
    names = list(REGISTRY) if signals is None else _strings(signals, "signals")
    unknown = [n for n in names if n not in REGISTRY]
    if unknown:
        raise ValueError(f"signals: unknown signal {unknown[0]!r}; known: {', '.join(REGISTRY)}")
    lps = None
    if logprobs is not None:
        lps = [float(v) for v in logprobs]
        if any(v > 1e-6 for v in lps):
            raise ValueError("logprobs: log-probabilities are at most 0 (natural log of a probability)")
    material = Material(
        answer=answer,
        sentences=sentences_split(answer),
        prompt=prompt,
        sources=_strings(sources, "sources"),
        samples=_strings(samples, "samples"),
        logprobs=lps or None,
        logprob_tokens=_strings(logprob_tokens, "logprob_tokens") if logprob_tokens is not None else None,
        judge_model=_setting("HALLUCINATION_JUDGE_MODEL", "") if judge_model is None else judge_model,
        nli_model_path=_setting("HALLUCINATION_NLI_MODEL_PATH", "") if nli_model_path is None else nli_model_path,
        embed=embed,
    )
    runnable: dict[str, object] = {}
    left_out: dict[str, str] = {}
    for name in names:
        signal = REGISTRY[name]()
        reason = signal.missing(material)
        if reason:
            left_out[name] = reason
        else:
            runnable[name] = signal
    outcomes = await asyncio.gather(*(s.run(material) for s in runnable.values()), return_exceptions=True)
    results: dict[str, SignalResult] = {}
    for name, outcome in zip(runnable, outcomes, strict=True):
        if isinstance(outcome, BaseException):
            if not isinstance(outcome, Exception):
                raise outcome
            log.warning("hallucination signal %s failed", name, exc_info=outcome)
            left_out[name] = f"failed: {type(outcome).__name__}: {str(outcome)[:160]}"
        elif all(score is None for score in outcome.scores):
            left_out[name] = outcome.note or "no opinion on any sentence"
        else:
            results[name] = outcome
    return _report(material, names, results, left_out, started)


def _report(material: Material, names: list[str], results: dict, left_out: dict, started: float) -> Report:
    weight_of = weights()
    mode = "sources" if any(s.strip() for s in material.sources) else "no_sources"
    sentences: list[SentenceReport] = []
    for sentence in material.sentences:
        scores = {
            name: float(min(1.0, max(0.0, r.scores[sentence.index])))
            for name, r in results.items()
            if r.scores[sentence.index] is not None
        }
        score = combine(scores, weight_of)
        sentences.append(
            SentenceReport(
                index=sentence.index,
                text=sentence.text,
                start=sentence.start,
                end=sentence.end,
                score=score,
                label=verdict_of(score, mode),
                signals=scores,
                evidence={name: results[name].evidence[sentence.index] for name in scores},
            )
        )
    used_total = sum(weight_of[n] for n in results) or 1.0
    signals: dict[str, dict] = {}
    for name in names:
        title = REGISTRY[name].title
        if name in results:
            scored = [s.signals[name] for s in sentences if name in s.signals]
            flagged = [f"#{s.index + 1}: {s.evidence[name]}" for s in sentences if s.signals.get(name, 0) >= 0.5]
            signals[name] = {
                "score": max(scored),
                "weight": weight_of[name] / used_total,
                "used": True,
                "title": title,
                "evidence": flagged or [results[name].note or "nothing flagged"],
                "note": results[name].note,
            }
        else:
            signals[name] = {
                "score": None,
                "weight": 0.0,
                "used": False,
                "title": title,
                "evidence": f"left out, its weight shared by the others: {left_out[name]}",
                "note": "",
            }
    score = max((s.score for s in sentences), default=0.0)
    return Report(
        score=score,
        verdict=verdict_of(score, mode),
        mode=mode,
        signals=signals,
        sentences=sentences,
        ms=(time.perf_counter() - started) * 1000,
    )


async def sample_answers(
    messages: list[dict], *, model: str | None, n: int = 2, temperature: float = 1.0, max_tokens: int | None = None
) -> list[str]:
    """`n` more answers to the same messages through the gateway, for the consistency signal. A sample that
    fails or comes back empty is skipped (the signal then works with fewer, or is left out)."""
    from llm import gateway

    if n <= 0:
        return []

    async def one() -> str:
        result = await gateway.chat(
            gateway.ChatRequest(messages=messages, model=model, temperature=temperature, max_tokens=max_tokens)
        )
        return result.content

    outcomes = await asyncio.gather(*(one() for _ in range(n)), return_exceptions=True)
    samples = []
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            if not isinstance(outcome, Exception):
                raise outcome
            log.info("a consistency sample failed: %s", outcome)
        elif outcome.strip():
            samples.append(outcome)
    return samples


# --- recovery ---
LOW_TEMPERATURE = 0.2
GROUNDING = (
    "Answer only from the numbered sources below and cite them as [n]. If they do not contain the answer, "
    "say that you do not know instead of guessing."
)


@dataclass
class Attempt:
    content: str
    model: str
    temperature: float | None
    strategy: str  # first | grounded | lower_temperature | other_model
    report: Report
    ms: float = 0.0  # generation time (the report has its own)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "content": self.content,
            "model": self.model,
            "temperature": self.temperature,
            "strategy": self.strategy,
            "score": round(self.report.score, 4),
            "verdict": self.report.verdict,
            "ms": round(self.ms, 1),
            "notes": list(self.notes),
            "report": self.report.to_dict(),
        }


def grounded_messages(messages: list[dict], sources: Sequence[str]) -> list[dict]:
    """The conversation with the sources as numbered passages before the last question, in the user turn
    (some chat templates, Gemma's in llama.cpp among them, drop system prompts)."""
    block = GROUNDING + "\n\n" + "\n\n".join(f"[{n}] {s.strip()}" for n, s in enumerate(sources, start=1))
    last = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=None)
    if last is None:
        return [*messages, {"role": "user", "content": block}]
    asked = {"role": "user", "content": f"{block}\n\nQuestion: {messages[last]['content']}"}
    return [*messages[:last], asked, *messages[last + 1 :]]


@dataclass
class _Plan:
    strategy: str
    model: str | None
    temperature: float | None
    grounded: bool


def _plans(first: Attempt, model: str | None, fallback_models: Sequence[str], has_sources: bool) -> list[_Plan]:
    """The order of remedies; each keeps the ones before it (grounding stays on once it is on)."""
    plans = []
    if has_sources:
        plans.append(_Plan("grounded", model, first.temperature, True))
    if first.temperature is None or first.temperature > LOW_TEMPERATURE:
        plans.append(_Plan("lower_temperature", model, LOW_TEMPERATURE, has_sources))
    for other in fallback_models:
        if other and other != (model or first.model):
            plans.append(_Plan("other_model", other, LOW_TEMPERATURE, has_sources))
    return plans


async def recover(
    messages: list[dict],
    first: Attempt,
    *,
    model: str | None,
    fallback_models: Sequence[str] = (),
    sources: Sequence[str] = (),
    max_attempts: int = 2,
    prompt: str | None = None,
    judge_model: str | None = None,
    embed: EmbedFn | None = None,
    max_tokens: int | None = None,
    on_attempt: Callable[[Attempt], Awaitable[None]] | None = None,
) -> tuple[Attempt, list[Attempt]]:
    """Regenerate while the verdict is not "supported": grounded in the sources (if any), then at a lower
    temperature, then with each fallback model, at most `max_attempts` more answers. Each is scored with the
    same sources, prompt and judge as the first (not the first's samples: those agree with the first answer,
    not with a corrected one). Returns (the lowest-scored attempt, every attempt in order, the first included).
    A regeneration that fails is skipped and noted on the attempt before it."""
    from llm import gateway

    sources = _strings(sources, "sources")
    attempts = [first]
    if first.report.verdict == "supported" or max_attempts <= 0:
        return first, attempts
    if prompt is None:
        prompt = next((str(m.get("content", "")) for m in reversed(messages) if m.get("role") == "user"), "")
    plans = _plans(first, model, _strings(fallback_models, "fallback_models"), bool(sources))
    for plan in plans[:max_attempts]:  # failed tries count too: the limit bounds the calls, not the successes
        asked = grounded_messages(messages, sources) if plan.grounded else messages
        started = time.perf_counter()
        try:
            result = await gateway.chat(
                gateway.ChatRequest(
                    messages=asked, model=plan.model, temperature=plan.temperature, max_tokens=max_tokens
                )
            )
        except (gateway.GatewayError, gateway.StreamInterrupted) as exc:
            attempts[-1].notes.append(f"{plan.strategy} with {plan.model or 'the default model'} failed: {exc}"[:300])
            continue
        ms = (time.perf_counter() - started) * 1000
        report = await detect(result.content, prompt=prompt, sources=sources, judge_model=judge_model, embed=embed)
        attempt = Attempt(
            content=result.content,
            model=result.model,
            temperature=plan.temperature,
            strategy=plan.strategy,
            report=report,
            ms=ms,
        )
        attempts.append(attempt)
        if on_attempt is not None:
            await on_attempt(attempt)
        if report.verdict == "supported":
            break
    best = min(attempts, key=lambda a: a.report.score)  # the earliest of equals: min keeps the first
    return best, attempts


def recovery_summary(best: Attempt, attempts: list[Attempt]) -> str:
    """One sentence for the user: what was tried and which answer is shown."""
    first = attempts[0]
    if len(attempts) == 1:
        return "" if first.report.verdict == "supported" else "This answer may contain unsupported statements."
    tried = ", ".join(
        f"{a.strategy.replace('_', ' ')} ({a.model}: {a.report.verdict}, {a.report.score:.2f})" for a in attempts[1:]
    )
    if best is first:
        return f"The answer looked unreliable ({first.report.score:.2f}); tried {tried}; none did better."
    return (
        f"The first answer looked unreliable ({first.report.score:.2f}); tried {tried}; "
        f"showing attempt {attempts.index(best) + 1} of {len(attempts)}."
    )
