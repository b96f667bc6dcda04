"""Hallucination detector: signals, a combined score with a verdict, and recovery. See detector.py."""

from hallucination.detector import (
    VERDICTS,
    Attempt,
    Report,
    SentenceReport,
    detect,
    recover,
    recovery_summary,
    sample_answers,
)

__all__ = [
    "VERDICTS",
    "Attempt",
    "Report",
    "SentenceReport",
    "detect",
    "recover",
    "recovery_summary",
    "sample_answers",
]
