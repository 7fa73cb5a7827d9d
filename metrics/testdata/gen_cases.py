#!/usr/bin/python3
"""Generate metrics/testdata/cases.json: inputs and independently computed
expected values for the metrics package tests. The Go tests only read the JSON;
they never run Python. Regenerate with

    /usr/bin/python3 metrics/testdata/gen_cases.py > metrics/testdata/cases.json

Requires Debian's python3-sklearn and python3-numpy (generated with
scikit-learn 1.2.1, NumPy 1.24.2).

Conventions: ID is the positive class and a higher score means more
in-distribution.

"exact" values come from scikit-learn:
  fpr95            roc_curve(drop_intermediate=False): fpr at the first point with tpr >= 0.95
  detection_error  min over the same roc points of 0.5*(1-tpr) + 0.5*fpr
  auroc            roc_auc_score
  aupr_in          average_precision_score, ID positive
  aupr_out         average_precision_score, OOD positive, scores negated

"ood_positive" values are OpenOOD v1.5's (openood/evaluators/metrics.py,
auc_and_fpr_recall), with OOD the positive class:
  fpr95            roc_curve(ood, -score) (drop_intermediate left True, as
                   OpenOOD does): fpr at the first point with tpr >= 0.95
  auroc            roc_auc_score(ood, -score)

"paper" values come from the loops of the MCD authors' test.py
(github.com/YU1ut/UOOD-MCD), transcribed below, applied to the discrepancy
d = -score. Thresholds: every distinct d + 10e-5, plus test.py's fixed
[-0.1, 0, 2.1] when every d lies in [0, 2] (the range of an L1 distance of two
probability vectors), else the sentinels -inf and +inf. When no threshold has a
TPR in [0.9495, 0.9505] test.py divides by zero; we record the exact fpr95 and
fallback = true instead.
"""
import json
import sys

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve


def exact(idv, oodv):
    y = np.r_[np.ones(len(idv)), np.zeros(len(oodv))]
    s = np.r_[idv, oodv]
    fpr, tpr, _ = roc_curve(y, s, drop_intermediate=False)
    return {
        "fpr95": float(fpr[np.argmax(tpr >= 0.95)]),
        "detection_error": float(np.min(0.5 * (1 - tpr) + 0.5 * fpr)),
        "auroc": float(roc_auc_score(y, s)),
        "aupr_in": float(average_precision_score(y, s)),
        "aupr_out": float(average_precision_score(1 - y, -s)),
    }


def ood_positive(idv, oodv):
    ood = np.r_[np.zeros(len(idv)), np.ones(len(oodv))]
    s = -np.r_[idv, oodv]
    fpr, tpr, _ = roc_curve(ood, s)
    return {"fpr95": float(fpr[np.argmax(tpr >= 0.95)]), "auroc": float(roc_auc_score(ood, s))}


# --- test.py, transcribed (X1 = ID discrepancies, Y1 = OOD discrepancies) ---

def tpr95(diff, X1, Y1):
    total = 0.0
    fpr = 0.0
    for delta in diff:
        tpr = np.sum(np.sum(X1 < delta)) / float(len(X1))
        error2 = np.sum(np.sum(Y1 <= delta)) / float(len(Y1))
        if tpr <= 0.9505 and tpr >= 0.9495:
            fpr += error2
            total += 1
    return fpr / total


def auroc(diff, X1, Y1):
    aurocBase = 0.0
    fprTemp = 1.0
    for delta in diff:
        tpr = np.sum(np.sum(X1 < delta)) / float(len(X1))
        fpr = np.sum(np.sum(Y1 < delta)) / float(len(Y1))
        aurocBase += (-fpr + fprTemp) * tpr
        fprTemp = fpr
    aurocBase += fpr * tpr
    return aurocBase


def auprIn(diff, X1, Y1):
    auprBase = 0.0
    recallTemp = 1.0
    for delta in diff:
        tp = np.sum(np.sum(X1 <= delta))
        fp = np.sum(np.sum(Y1 <= delta))
        if tp + fp == 0:
            continue
        precision = tp / (tp + fp)
        recall = tp / len(X1)
        auprBase += (recallTemp - recall) * precision
        recallTemp = recall
    auprBase += recall * precision
    return auprBase


def auprOut(diff, X1, Y1):
    auprBase = 0.0
    recallTemp = 1.0
    for delta in diff[::-1]:
        fp = np.sum(np.sum(X1 > delta))
        tp = np.sum(np.sum(Y1 > delta))
        if tp + fp == 0:
            continue
        precision = tp / (tp + fp)
        recall = tp / len(Y1)
        auprBase += (recallTemp - recall) * precision
        recallTemp = recall
    auprBase += recall * precision
    return auprBase


def detection(diff, X1, Y1):
    errorBase = 1.0
    for delta in diff:
        tpr_ = np.sum(np.sum(X1 > delta)) / float(len(X1))
        error2 = np.sum(np.sum(Y1 < delta)) / float(len(Y1))
        errorBase = np.minimum(errorBase, (tpr_ + error2) / 2.0)
    return errorBase


def paper(idv, oodv, ex):
    X1 = -np.asarray(idv, dtype=np.float64)
    Y1 = -np.asarray(oodv, dtype=np.float64)
    d = np.r_[X1, Y1]
    if d.min() >= 0 and d.max() <= 2:
        diff = [-0.1, 0, 2.1]
    else:
        diff = [-np.inf, np.inf]
    diff = diff + [float(v) + 10e-5 for v in d]
    diff = sorted(list(set(diff)))[::-1]
    out = {}
    try:
        out["fpr95"] = float(tpr95(diff, X1, Y1))
        out["fallback"] = False
    except ZeroDivisionError:
        out["fpr95"] = ex["fpr95"]
        out["fallback"] = True
    out["detection_error"] = float(detection(diff, X1, Y1))
    out["auroc"] = float(auroc(diff, X1, Y1))
    out["aupr_in"] = float(auprIn(diff, X1, Y1))
    out["aupr_out"] = float(auprOut(diff, X1, Y1))
    return out


def l1(rng, n, classes, conc_p, conc_q, zeros):
    """L1 distances of pairs of Dirichlet probability vectors; the first
    `zeros` pairs are identical (discrepancy exactly 0)."""
    p = rng.dirichlet(np.full(classes, conc_p), size=n)
    q = rng.dirichlet(np.full(classes, conc_q), size=n)
    q[:zeros] = p[:zeros]
    return np.abs(p - q).sum(axis=1)


def main():
    rng = np.random.default_rng(20190601)
    cases = [
        ("perfect", [3.0, 4.0], [1.0, 2.0]),
        ("reversed", [1.0, 2.0], [3.0, 4.0]),
        ("one-each-perfect", [1.0], [0.0]),
        ("one-each-tied", [0.0], [0.0]),
        ("one-each-reversed", [0.0], [1.0]),
        ("all-tied", [1.0] * 5, [1.0] * 7),
        ("hand-unequal", [3.0, 2.0, 2.0, 1.0], [2.0, 1.0, 0.0]),
        ("gauss-10x10", rng.normal(1, 1, 10), rng.normal(0, 1, 10)),
        ("gauss-100x73", rng.normal(1, 1, 100), rng.normal(0, 1, 73)),
        ("gauss-1000x1500", rng.normal(1.5, 1, 1000), rng.normal(0, 1, 1500)),
        ("gauss-3000x3000", rng.normal(1, 1, 3000), rng.normal(0, 1, 3000)),
        ("ties-int-200x300", rng.integers(0, 5, 200).astype(float), rng.integers(0, 4, 300).astype(float)),
        ("ties-heavy-2000x50", rng.integers(0, 3, 2000).astype(float), rng.integers(0, 3, 50).astype(float)),
        ("ties-heavy-1000x2000", rng.integers(0, 10, 1000).astype(float), rng.integers(0, 8, 2000).astype(float)),
        ("unequal-5x500", rng.normal(1, 1, 5), rng.normal(0, 1, 500)),
        ("unequal-700x3", rng.normal(1, 1, 700), rng.normal(0, 1, 3)),
        ("msp-rounded-1500x1200", np.round(rng.beta(8, 1, 1500), 3), np.round(rng.beta(3, 1, 1200), 3)),
        ("mcd-l1-1000x1200", -l1(rng, 1000, 10, 0.3, 0.3, 0) * 0.5, -l1(rng, 1200, 10, 1.0, 1.0, 0)),
        ("mcd-l1-zeros-1000x1000", -l1(rng, 1000, 10, 2.0, 2.0, 60), -l1(rng, 1000, 10, 0.5, 0.5, 15)),
        ("mcd-l1-rounded-2000x1000", -np.round(l1(rng, 2000, 10, 2.0, 2.0, 0), 4), -np.round(l1(rng, 1000, 10, 1.0, 1.0, 0), 4)),
        ("large-scale-1000x1000", rng.normal(1, 1, 1000) * 1e6, rng.normal(0, 1, 1000) * 1e6),
        # Every value held by one ID and one OOD score: the OOD-positive ROC
        # moves in equal diagonal steps, so drop_intermediate keeps only its
        # ends and OpenOOD's FPR95 is 1, not 0.95.
        ("paired-ties-20x20", [float(v) for v in range(20)], [float(v) for v in range(20)]),
    ]
    out = []
    for name, idv, oodv in cases:
        idv = [float(v) for v in idv]
        oodv = [float(v) for v in oodv]
        ex = exact(idv, oodv)
        out.append({"name": name, "id": idv, "ood": oodv, "exact": ex, "ood_positive": ood_positive(idv, oodv),
                    "paper": paper(idv, oodv, ex)})
    json.dump({
        "generator": "metrics/testdata/gen_cases.py",
        "sklearn": __import__("sklearn").__version__,
        "numpy": np.__version__,
        "cases": out,
    }, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
