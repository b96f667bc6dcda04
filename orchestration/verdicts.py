"""What the models are asked when they check each other, and how their replies are read.

Replies are asked for as JSON, but a small or base model often writes something else: the reader takes
a JSON object anywhere in the reply (code fences and chatter around it are fine), then a bare leading
verdict ("Agree. The answer…"), and otherwise records the reply as `unparsed`; an unreadable reply is
never an error, it just does not count as a judgement.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

AGREE = "agree"
DISAGREE = "disagree"
UNPARSED = "unparsed"
REASON_MAX = 1000
CLAIMS_MAX = 20

_AGREE_WORDS = {"agree", "agrees", "agreed", "yes", "true", "correct", "accurate", "right", "supported", "valid"}
_DISAGREE_WORDS = {
    "disagree",
    "disagrees",
    "disagreed",
    "no",
    "false",
    "incorrect",
    "inaccurate",
    "wrong",
    "unsupported",
    "invalid",
}

REVIEW_SYSTEM = (
    "You check another assistant's answer to a question. Go through it claim by claim. "
    'Reply with JSON only, exactly in this form: {"verdict": "agree" or "disagree", '
    '"claims": [{"claim": "…", "verdict": "agree" or "disagree", "reason": "…"}], "reasons": "one or two sentences"}. '
    'Say "agree" when every claim is correct, "disagree" when any claim is wrong or the question is not answered.'
)
BALLOT_SYSTEM = (
    "Several assistants answered the question below. Pick the best answer: correct, complete and clear. "
    'Reply with JSON only, exactly in this form: {"best": "<letter>", "reason": "one or two sentences"}.'
)
JUDGE_SYSTEM = (
    "You are the judge. Several assistants answered a question and checked each other's answers, and they "
    "disagree. Decide which answer is best: correct, complete and clear. "
    'Reply with JSON only, exactly in this form: {"winner": "<letter>", "reasoning": "why, in a few sentences"}.'
)


def label(slot: int) -> str:
    """A, B, C … for answer slots 0, 1, 2 … (AA, AB … past Z)."""
    letters = ""
    slot += 1
    while slot:
        slot, rest = divmod(slot - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def slot_of(letter: str) -> int | None:
    if not letter or not letter.isalpha() or not letter.isupper():
        return None
    n = 0
    for ch in letter:
        n = n * 26 + (ord(ch) - 64)
    return n - 1


def _sources_block(sources: list[str]) -> str:
    if not sources:
        return ""
    return "SOURCES:\n" + "\n".join(f"[{n}] {s.strip()}" for n, s in enumerate(sources, start=1)) + "\n\n"


def review_messages(*, question: str, answer: str, sources: list[str] = ()) -> list[dict]:
    user = f"{_sources_block(list(sources))}QUESTION:\n{question}\n\nANSWER TO CHECK:\n{answer}"
    return [{"role": "system", "content": REVIEW_SYSTEM}, {"role": "user", "content": user}]


def _answers_block(answers: dict[int, str]) -> str:
    return "\n\n".join(f"ANSWER {label(slot)}:\n{text}" for slot, text in sorted(answers.items()))


def ballot_messages(*, question: str, answers: dict[int, str]) -> list[dict]:
    user = f"QUESTION:\n{question}\n\n{_answers_block(answers)}\n\nWhich answer is best? Letters: " + ", ".join(
        label(s) for s in sorted(answers)
    )
    return [{"role": "system", "content": BALLOT_SYSTEM}, {"role": "user", "content": user}]


def judge_messages(
    *, question: str, answers: dict[int, str], reviews: dict[int, list[dict]] | None = None
) -> list[dict]:
    """The judge sees the answers and, per answer, what the reviewers said about it."""
    parts = [f"QUESTION:\n{question}", _answers_block(answers)]
    if reviews:
        lines = []
        for slot in sorted(answers):
            for review in reviews.get(slot, []):
                reason = f": {review['reasons']}" if review.get("reasons") else ""
                lines.append(f"- {label(review['reviewer'])} on {label(slot)}: {review['verdict']}{reason}")
        if lines:
            parts.append("REVIEWS:\n" + "\n".join(lines))
    parts.append("Which answer is best? Letters: " + ", ".join(label(s) for s in sorted(answers)))
    return [{"role": "system", "content": JUDGE_SYSTEM}, {"role": "user", "content": "\n\n".join(parts)}]


# --- reading replies ---


def json_object(text: str) -> dict | None:
    """The first JSON object in `text` (the whole reply, or one inside fences or chatter), else None."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        value = json.loads(text)
        return value if isinstance(value, dict) else None
    except ValueError:
        pass
    decoder = json.JSONDecoder()
    for match in re.finditer(r"\{", text):
        try:
            value, _end = decoder.raw_decode(text, match.start())
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return None


def verdict_word(value) -> str | None:
    """agree / disagree for the many ways of saying it (booleans too), else None."""
    if isinstance(value, bool):
        return AGREE if value else DISAGREE
    if not isinstance(value, str):
        return None
    word = re.sub(r"[^a-z]", "", value.strip().lower().split(" ")[0]) if value.strip() else ""
    if word in _AGREE_WORDS:
        return AGREE
    if word in _DISAGREE_WORDS:
        return DISAGREE
    return None


def _text(value, limit: int = REASON_MAX) -> str:
    if isinstance(value, list):
        value = " ".join(str(v) for v in value if isinstance(v, (str, int, float)))
    return str(value).strip()[:limit] if isinstance(value, (str, int, float)) else ""


@dataclass
class Review:
    verdict: str  # agree | disagree | unparsed
    reasons: str = ""
    claims: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"verdict": self.verdict, "reasons": self.reasons, "claims": self.claims}


def review_parse(text: str) -> Review:
    """A review reply read as well as it can be; `unparsed` when no verdict can be found in it."""
    obj = json_object(text)
    if obj is not None:
        claims = []
        raw_claims = obj.get("claims")
        if isinstance(raw_claims, list):
            for item in raw_claims[:CLAIMS_MAX]:
                if isinstance(item, dict):
                    claims.append(
                        {
                            "claim": _text(item.get("claim") or item.get("text"), 500),
                            "verdict": verdict_word(item.get("verdict")) or UNPARSED,
                            "reason": _text(item.get("reason") or item.get("reasons"), 500),
                        }
                    )
                elif isinstance(item, str):
                    claims.append({"claim": item[:500], "verdict": UNPARSED, "reason": ""})
        verdict = None
        for key in ("verdict", "decision", "overall", "agree", "result"):
            if key in obj:
                verdict = verdict_word(obj[key])
                if verdict:
                    break
        if verdict is None and claims and all(c["verdict"] != UNPARSED for c in claims):
            verdict = DISAGREE if any(c["verdict"] == DISAGREE for c in claims) else AGREE
        reasons = _text(obj.get("reasons") or obj.get("reason") or obj.get("explanation"))
        if verdict:
            return Review(verdict, reasons, claims)
    lead = re.match(r"^\W*(agree|disagree|correct|incorrect)\b[\W]*(.*)", (text or "").strip(), re.I | re.S)
    if lead:
        return Review(verdict_word(lead.group(1)) or UNPARSED, lead.group(2).strip()[:REASON_MAX])
    return Review(UNPARSED)


@dataclass
class Choice:
    slot: int | None  # the chosen answer's slot; None: unparsed or not one of the answers offered
    reason: str = ""

    @property
    def parsed(self) -> bool:
        return self.slot is not None


def choice_parse(
    text: str, offered: set[int], keys: tuple[str, ...] = ("winner", "best", "choice", "answer")
) -> Choice:
    """A ballot or ruling: which offered answer it names, by letter; Choice(None) when none can be read."""
    obj = json_object(text)
    reason = ""
    candidates: list[str] = []
    if obj is not None:
        for key in keys:
            if isinstance(obj.get(key), str):
                candidates.append(obj[key])
        reason = _text(obj.get("reasoning") or obj.get("reason") or obj.get("reasons") or obj.get("explanation"))
    else:
        stripped = (text or "").strip()
        # "B", "B.", "C: because …", "Answer B - …": a letter alone at the start, set off by punctuation or "is".
        lead = re.match(r"^\W*(?:(?i:answer)\s+)?([A-Z]{1,2})(?![A-Za-z])([\s\-:.)]*)(.*)", stripped, re.S)
        # "… the best answer is B …", "Winner: C": a letter right after a word that names the choice.
        named = re.search(
            r"(?i:\b(?:best|winner|choose|choice|pick)\b)(?:\s+(?i:answer))?(?:\s+(?i:is|would be))?\s*[:=-]?\s*"
            r"(?:(?i:answer)\s+)?([A-Z]{1,2})(?![A-Za-z])",
            stripped,
        )
        set_off = lead and (
            not lead.group(3)
            or any(c in lead.group(2) for c in "-:.)")
            or lead.group(3).lower().startswith(("is ", "because"))
        )
        if set_off:
            candidates.append(lead.group(1))
            reason = lead.group(3).strip()[:REASON_MAX]
        elif named:
            candidates.append(named.group(1))
            reason = stripped[:REASON_MAX]
    for candidate in candidates:
        letter = re.sub(r"(?i)^answer\s+", "", candidate.strip()).strip(" .:)(\"'")
        slot = slot_of(letter.upper()) if len(letter) <= 2 else None
        if slot is not None and slot in offered:
            return Choice(slot, reason)
    return Choice(None, reason)
