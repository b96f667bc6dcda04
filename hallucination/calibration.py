"""Fitting the detector's weights and thresholds on labelled sentences (numpy only), and the figure they are
judged by: AUC-PR, the area under the precision-recall curve (average precision), which, unlike ROC AUC,
shows how many false alarms come with each catch when hallucinated sentences are the minority."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np


def auc_pr(scores: Sequence[float], labels: Sequence[int]) -> float:
    """Average precision: the mean, over the positives, of the precision at each one's rank (ties share a rank).
    A random scorer gets about the share of positives; a perfect one 1.0."""
    s = np.asarray(scores, dtype=float)
    y = np.asarray(labels, dtype=int)
    positives = int(y.sum())
    if positives == 0:
        return float("nan")
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    # With ties, everything tied is counted at once (the pessimistic-optimistic average would hide a constant).
    distinct = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]
    tp = np.cumsum(y)[distinct]
    fp = (distinct + 1) - tp
    precision = tp / (tp + fp)
    recall_gain = np.diff(np.r_[0, tp]) / positives
    return float(np.sum(precision * recall_gain))


def combine_matrix(matrix: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Row-wise weighted mean over the non-NaN columns (NaN: the signal had no opinion); 0 where none had."""
    present = ~np.isnan(matrix)
    w = present * weights
    total = w.sum(axis=1)
    values = np.where(present, matrix, 0.0)
    return np.divide((values * w).sum(axis=1), total, out=np.zeros(len(matrix)), where=total > 0)


def simplex_grid(n: int, step: float, floor: float = 0.0) -> np.ndarray:
    """Every weight vector of n multiples of `step`, each at least `floor`, that sum to 1."""
    units, low = round(1 / step), round(floor / step)
    rows = [c for c in itertools.product(range(low, units + 1), repeat=n - 1) if units - sum(c) >= low]
    return np.array([[*c, units - sum(c)] for c in rows], dtype=float) / units


def weights_fit(
    matrix: np.ndarray, labels: Sequence[int], *, step: float = 0.05, floor: float = 0.05
) -> tuple[np.ndarray, float]:
    """The weights (summing to 1) that give the combined sentence score its highest AUC-PR; ties go to the
    most even weights. Each keeps at least `floor`: when the others have no material (no sources), a signal
    fitted to zero would leave nothing to score with."""
    best, best_auc, best_spread = None, -1.0, 0.0
    for weights in simplex_grid(matrix.shape[1], step, floor):
        auc = auc_pr(combine_matrix(matrix, weights), labels)
        spread = float(np.std(weights))
        if auc > best_auc + 1e-9 or (abs(auc - best_auc) <= 1e-9 and spread < best_spread):
            best, best_auc, best_spread = weights, auc, spread
    return best, best_auc


def thresholds_fit(
    scores: Sequence[float],
    labels: Sequence[int],
    *,
    recall_floor: float = 0.9,
    precision_floor: float = 0.95,
    min_recall: float = 0.25,
) -> tuple[float, float]:
    """(supported_below, hallucinated_from). The lower threshold is the highest that still leaves at least
    `recall_floor` of the hallucinated sentences outside "supported" (a doubt shown rather than a miss). The
    upper is the lowest at which "likely_hallucinated" is right at least `precision_floor` of the time while
    catching at least `min_recall`; when none is, the most precise that still catches `min_recall`. Never
    below the lower."""
    s = np.asarray(scores, dtype=float)
    y = np.asarray(labels, dtype=int)
    positives = max(1, int(y.sum()))
    low, high, best = 0.0, None, (-1.0, 1.0)
    for t in sorted(np.unique(np.round(s, 3))):
        predicted = s >= t
        tp = int((predicted & (y == 1)).sum())
        recall, precision = tp / positives, tp / max(1, int(predicted.sum()))
        if recall >= recall_floor:
            low = float(t)
        if high is None and recall >= min_recall and precision >= precision_floor:
            high = float(t)
        if recall >= min_recall and precision > best[0]:
            best = (precision, float(t))
    return low, max(low, best[1] if high is None else high)
