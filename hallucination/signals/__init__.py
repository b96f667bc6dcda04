"""The detector's signals: each scores every sentence of an answer in [0, 1] (1 = looks hallucinated) with a
short reason, or abstains (None) where it has nothing to say about that sentence.

A signal is a class in `REGISTRY`; `missing()` says why it cannot run on this material (no samples, no
sources, no judge model, no NLI model), and the detector then leaves it out instead of scoring 0. Adding a
signal is one class with `@signal_register`.
"""

from hallucination.signals import local, model  # noqa: F401 - registers the signals, in this order
from hallucination.signals.base import REGISTRY, EmbedFn, Material, Signal, SignalResult, signal_names, signal_register
from hallucination.signals.model import judge_odds, judge_parse, judge_score

__all__ = [
    "REGISTRY",
    "EmbedFn",
    "Material",
    "Signal",
    "SignalResult",
    "judge_odds",
    "judge_parse",
    "judge_score",
    "signal_names",
    "signal_register",
]
