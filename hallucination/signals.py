"""The detector's signals: each scores every sentence of an answer in [0, 1] (1 = looks hallucinated) with a
short reason, or abstains (None) where it has nothing to say about that sentence.

A signal is a class in `REGISTRY`; `missing()` says why it cannot run on this material (no samples, no
sources, no judge model, no NLI model), and the detector then leaves it out instead of scoring 0. Adding a
signal is one class with `@signal_register`.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np

from hallucination.text import (
    Reference,
    Sentence,
    content_tokens,
    sentences_split,
    specifics_extract,
)

log = logging.getLogger(__name__)

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
    (r"i (?:do not|don't) know", 0.9), (r"i(?:'m| am) not (?:sure|certain)", 0.9), (r"not (?:sure|certain)", 0.8),
    (r"i (?:cannot|can't|could not|couldn't) (?:verify|confirm|be sure)", 0.9), (r"i(?:'m| am) unsure", 0.9),
    (r"i (?:might|may|could) be (?:wrong|mistaken)", 0.9), (r"no reliable information", 0.9),
    (r"(?:this|that) (?:may|might) (?:be|not be) (?:accurate|correct|inaccurate)", 0.85),
    (r"as far as i (?:know|can tell|remember)", 0.7), (r"if i (?:recall|remember) (?:correctly|rightly)?", 0.7),
    (r"to (?:the best of )?my knowledge", 0.6), (r"i (?:think|believe|guess|suppose|assume)", 0.6),
    (r"it (?:seems|appears)", 0.5), (r"(?:seems|appears) to", 0.4), (r"probably", 0.5), (r"possibly", 0.5),
    (r"perhaps", 0.5), (r"maybe", 0.5), (r"(?:might|could) have", 0.5), (r"may have", 0.4), (r"likely", 0.4),
    (r"reportedly|allegedly|supposedly|rumou?red", 0.5), (r"(?:some|many) (?:say|believe|claim)", 0.5),
    (r"(?:roughly|approximately|about|around) (?=\d)", 0.2), (r"unclear|uncertain", 0.6),
]  # fmt: skip
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


# --- (e) judge model ---
JUDGE_WITH_SOURCES = (
    "Answer yes or no.\n\nSOURCES:\n{sources}\n\nSENTENCE: {sentence}\n\n"
    "Is the SENTENCE supported by the SOURCES? Answer yes or no."
)
JUDGE_WITHOUT_SOURCES = (
    "Answer yes or no.\n\nQUESTION: {prompt}\n\nSENTENCE (from an answer to the question): {sentence}\n\n"
    "Is the SENTENCE factually correct? Answer yes or no."
)
# One token with its 20 likeliest alternatives (the most OpenAI's API allows): the verdict is the first word, and
# the odds of "yes" against "no" among the alternatives grade it, even for a weak judge that starts otherwise.
# One token, because llama-cpp-python spends ~0.25 s per token on log-probabilities over a 262k vocabulary.
JUDGE_TOP_LOGPROBS = 20
_VERDICT_WORDS = re.compile(
    r"\b(not supported|unsupported|not true|incorrect|not correct|yes|no|supported|true|false|correct)\b", re.I
)


def judge_parse(reply: str) -> bool | None:
    """The judge's yes (supported) or no, read from the first verdict word it wrote; None if it gave none."""
    match = _VERDICT_WORDS.search(reply or "")
    if not match:
        return None
    return match.group(1).lower() in ("yes", "supported", "true", "correct")


def judge_odds(top: dict[str, float] | None) -> float | None:
    """P(no) / (P(yes) + P(no)) from the first token's alternatives, or None when neither is among them."""
    if not top:
        return None
    p = {"yes": 0.0, "no": 0.0}
    for token, logprob in top.items():
        word = token.strip().lower()
        if word in p:
            p[word] += math.exp(logprob)
    total = p["yes"] + p["no"]
    return p["no"] / total if total > 0 else None


def judge_score(reply: str, top: dict[str, float] | None) -> tuple[float | None, str]:
    """A sentence's judge score: the yes/no odds of the first token when the reply starts with its verdict or
    has none (a weak judge that rambles still leans one way), else the written verdict as 0 or 1."""
    verdict = judge_parse(reply)
    odds = judge_odds(top)
    starts = bool(_VERDICT_WORDS.match(reply.strip())) if reply else False
    if odds is not None and (verdict is None or starts):
        return odds, f"P(no) {odds:.2f} from its first token"
    if verdict is not None:
        return (0.0 if verdict else 1.0), "says supported" if verdict else "says not supported"
    return None, "gave no yes or no"


def judge_sources(m: Material, sentence: str) -> str:
    """The source passages nearest to the sentence, up to JUDGE_SOURCE_CHARS: small judges lose the thread in
    long contexts, and every judge answers faster."""
    tokens = weighted_tokens(sentence)
    passages = [(coverage(tokens, set(content_tokens(w))), w) for s in m.sources for w in windows(s)]
    chosen, used = [], 0
    for _score, passage in sorted(passages, key=lambda p: -p[0]):
        if used + len(passage) > JUDGE_SOURCE_CHARS and chosen:
            break
        chosen.append(passage[:JUDGE_SOURCE_CHARS])
        used += len(passage) + 5
    return "\n...\n".join(chosen)


@signal_register
class JudgeSignal(Signal):
    """A model asked, sentence by sentence, whether the sources support it (or, without sources, whether it is true)."""

    name = "judge"
    title = "Judge model"

    def missing(self, m: Material) -> str | None:
        return None if m.judge_model else "no judge model configured (HALLUCINATION_JUDGE_MODEL)"

    async def run(self, m: Material) -> SignalResult:
        from llm import gateway

        limit = asyncio.Semaphore(JUDGE_CONCURRENCY)

        async def ask(sentence: str) -> tuple[float | None, str]:
            if m.sources:
                content = JUDGE_WITH_SOURCES.format(sources=judge_sources(m, sentence), sentence=sentence)
            else:
                content = JUDGE_WITHOUT_SOURCES.format(prompt=m.prompt.strip()[:2000] or "(none)", sentence=sentence)
            # The question goes in the user turn: some chat templates (Gemma's) drop system prompts.
            request = gateway.ChatRequest(
                messages=[{"role": "user", "content": content}], model=m.judge_model, temperature=0.0, max_tokens=1,
                extra={"logprobs": True, "top_logprobs": JUDGE_TOP_LOGPROBS},
            )  # fmt: skip
            async with limit:
                try:
                    try:
                        result = await gateway.chat(request)
                    except gateway.GatewayError as exc:
                        if exc.code != "bad_request":
                            raise
                        # A backend that refuses log-probabilities: read a few words instead.
                        request.extra, request.max_tokens = {}, 4
                        result = await gateway.chat(request)
                except (gateway.GatewayError, gateway.StreamInterrupted) as exc:
                    return None, f"judge {m.judge_model} failed: {getattr(exc, 'message', str(exc))[:160]}"
            tops = getattr(result, "top_logprobs", None)
            score, how = judge_score(result.content, tops[0] if tops else None)
            reply = " ".join(result.content.split())[:40]
            return score, f"judge {m.judge_model} {how} (replied {reply!r})"

        claims = [i for i, s in enumerate(m.sentences) if is_claim(s.text)]
        answers = await asyncio.gather(*(ask(m.sentences[i].text) for i in claims))
        scores: list[float | None] = [None] * len(m.sentences)
        evidence = ["not a checkable statement"] * len(m.sentences)
        for i, (score, reason) in zip(claims, answers, strict=True):
            scores[i], evidence[i] = score, reason
        failures = [reason for score, reason in answers if score is None]
        note = f"judge model {m.judge_model}"
        if failures:
            note += f"; no verdict for {len(failures)} of {len(answers)} ({failures[0]})"
        return SignalResult(scores, evidence, note=note)


# --- pluggable: NLI from a local model ---
_nli_cache: dict[str, object] = {}


def _nli_load(path: str):
    """A local sequence-classification NLI model (a cross-encoder), loaded once per process, offline."""
    if path not in _nli_cache:
        import os

        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        model = AutoModelForSequenceClassification.from_pretrained(path, local_files_only=True).eval()
        labels = {int(k): str(v).lower() for k, v in model.config.id2label.items()}
        entail = next((k for k, v in labels.items() if v.startswith("entail")), None)
        if entail is None:
            raise ValueError(f"the model at {path} has no 'entailment' label (labels: {sorted(labels.values())})")
        _nli_cache[path] = (tokenizer, model, entail)
    return _nli_cache[path]


def _nli_entailment(path: str, pairs: list[tuple[str, str]]) -> list[float]:
    import torch

    tokenizer, model, entail = _nli_load(path)
    with torch.no_grad():
        batch = tokenizer(
            [p for p, _h in pairs], [h for _p, h in pairs], padding=True, truncation=True, return_tensors="pt"
        )
        probs = torch.softmax(model(**batch).logits, dim=-1)
    return [float(p[entail]) for p in probs]


@signal_register
class NLISignal(Signal):
    """An entailment model, when the user has one on disk: does a source passage entail the sentence?"""

    name = "nli"
    title = "Entailment (local NLI model)"

    def missing(self, m: Material) -> str | None:
        if not m.nli_model_path:
            return "no NLI model configured (HALLUCINATION_NLI_MODEL_PATH)"
        if not Path(m.nli_model_path).is_dir():
            return f"the NLI model folder {m.nli_model_path} does not exist"
        if not any(s.strip() for s in m.sources):
            return "no sources to test entailment against"
        try:
            import torch  # noqa: F401
            import transformers  # noqa: F401
        except ImportError:
            return "the NLI signal needs the transformers and torch packages, which are not installed"
        return None

    async def run(self, m: Material) -> SignalResult:
        passages = [w for s in m.sources for w in windows(s)] or list(m.sources)
        passage_sets = [set(content_tokens(p)) for p in passages]
        claims = [i for i, s in enumerate(m.sentences) if is_claim(s.text)]
        pairs, owners = [], []
        for i in claims:
            tokens = weighted_tokens(m.sentences[i].text)
            ranked = sorted(range(len(passages)), key=lambda k: -coverage(tokens, passage_sets[k]))[:3]
            pairs += [(passages[k], m.sentences[i].text) for k in ranked]
            owners += [i] * len(ranked)
        probs = await asyncio.to_thread(_nli_entailment, m.nli_model_path, pairs) if pairs else []
        best: dict[int, float] = {}
        for owner, p in zip(owners, probs, strict=True):
            best[owner] = max(best.get(owner, 0.0), p)
        scores: list[float | None] = [None] * len(m.sentences)
        evidence = ["not a checkable statement"] * len(m.sentences)
        for i, p in best.items():
            scores[i] = 1.0 - p
            evidence[i] = f"entailment by the best source passage {p:.2f}"
        return SignalResult(scores, evidence, note=f"NLI model {Path(m.nli_model_path).name}")


def signal_names() -> list[str]:
    return list(REGISTRY)
