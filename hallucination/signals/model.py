"""Signals that ask a model: a judge model through the gateway, and a local NLI model when one is configured."""

from __future__ import annotations

import asyncio
import math
import re
from pathlib import Path

from hallucination.signals.base import (
    JUDGE_CONCURRENCY,
    JUDGE_SOURCE_CHARS,
    Material,
    Signal,
    SignalResult,
    coverage,
    is_claim,
    signal_register,
    weighted_tokens,
    windows,
)
from hallucination.text import content_tokens

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
                messages=[{"role": "user", "content": content}],
                model=m.judge_model,
                temperature=0.0,
                max_tokens=1,
                extra={"logprobs": True, "top_logprobs": JUDGE_TOP_LOGPROBS},
            )
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
