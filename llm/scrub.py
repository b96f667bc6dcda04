"""Take credentials out of a backend's error text before it is stored, logged or shown.

Servers repeat what they were sent (`401 Incorrect API key provided: sk-…`); that text becomes a backend's
`last_error`, an attempt in a chat error, a line on the Models page. The backend's own key is removed
literally, and anything shaped like a credential by pattern.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

REDACTED = "[redacted]"

_PATTERNS: list[tuple[re.Pattern, str]] = [
    # Bearer/Basic credentials in echoed headers.
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{6,}"), rf"\1 {REDACTED}"),
    # key=…, api_key: …, "token": "…", password=…
    (
        re.compile(
            r"""(?ix)\b((?:api[_-]?key|x-api-key|access[_-]?token|refresh[_-]?token|token|secret|password|passwd
            |authorization|client[_-]?secret)["']?\s*[:=]\s*["']?)[^\s"',;&]{4,}"""
        ),
        rf"\1{REDACTED}",
    ),
    # Well-known key shapes: OpenAI-style sk-…, GitHub, Slack, Google, AWS, Hugging Face, JWTs.
    (re.compile(r"\bsk-[A-Za-z0-9_*.-]{6,}"), REDACTED),
    (re.compile(r"\b(?:ghp|gho|ghu|ghs|ghr|github_pat)_[A-Za-z0-9_]{10,}"), REDACTED),
    (re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"), REDACTED),
    (re.compile(r"\bAIza[0-9A-Za-z_-]{20,}"), REDACTED),
    (re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), REDACTED),
    (re.compile(r"\bhf_[A-Za-z0-9]{20,}"), REDACTED),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"), REDACTED),
]


def scrub(text: str, *, secrets: Iterable[str] = ()) -> str:
    """`text` without the given secrets (and their visible tails) or anything that looks like a credential."""
    if not text:
        return text
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, REDACTED)
            if len(secret) >= 12:
                # Servers often echo a key shortened ("sk-abc…wxyz"): its last characters are enough to drop.
                text = text.replace(secret[-6:], REDACTED)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text
