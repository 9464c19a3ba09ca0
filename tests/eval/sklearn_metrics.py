# SPDX-License-Identifier: GPL-3.0-or-later
"""Writes random classifier results and scikit-learn's metrics of them to a JSON file,
for test-metrics to compare Graft's metrics with.

Usage: sklearn_metrics.py OUTPUT.json

Each case is seeded: the true labels, the probabilities (float32, as a softmax gives
them), optionally losses, brightness and image sizes, and the answers of
scikit-learn 1.2 (accuracy_score, top_k_accuracy_score, precision_recall_fscore_support
with average=None, "macro" and "weighted" and zero_division=0, confusion_matrix) and of a
direct numpy computation (expected calibration error and its bins, quartile slices).
The cases include a class absent from the labels, a class never predicted, and
probabilities with ties. Exits 1 if scikit-learn or numpy cannot be imported."""

import json
import sys

try:
    import numpy as np
    from sklearn.metrics import (accuracy_score, confusion_matrix,
                                 precision_recall_fscore_support,
                                 top_k_accuracy_score)
except ImportError as e:
    sys.stderr.write(f"sklearn_metrics.py needs python3-sklearn: {e}\n")
    sys.exit(1)

FLT_MIN = float(np.finfo(np.float32).tiny)


def softmax_rows(logits):
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def has_ties(probs):
    s = np.sort(probs, axis=1)
    return bool((s[:, 1:] == s[:, :-1]).any())


def calibration(conf, correct, n_bins):
    """ECE with equal-width bins (lower, upper], the first bin also holding 0."""
    edges = np.arange(n_bins + 1) / n_bins
    n = len(conf)
    count, confidence, accuracy = [], [], []
    ece = 0.0
    for b in range(n_bins):
        mask = (conf > edges[b]) & (conf <= edges[b + 1])
        if b == 0:
            mask |= conf <= 0.0
        m = int(mask.sum())
        count.append(m)
        if m == 0:
            confidence.append(0.0)
            accuracy.append(0.0)
            continue
        c = float(conf[mask].mean())
        a = float(correct[mask].mean())
        confidence.append(c)
        accuracy.append(a)
        ece += abs(a - c) * m / n
    return ece, count, confidence, accuracy


def quartiles(values, correct):
    edges = np.percentile(values, [0, 25, 50, 75, 100])
    # slice q: edges[q] < v <= edges[q + 1], the first slice from the minimum
    which = np.searchsorted(edges[1:4], values, side="left")
    count = [int((which == q).sum()) for q in range(4)]
    acc = [float(correct[which == q].mean()) if count[q] else 0.0 for q in range(4)]
    return {"edges": [float(e) for e in edges], "count": count, "accuracy": acc}


def make_case(name, seed, n, c, k, n_bins=15, absent=None, never=None, ties=False,
              peaked=2.0, losses=False, extras=True):
    rng = np.random.default_rng(seed)
    present = [j for j in range(c) if j != absent]
    labels = rng.choice(present, size=n)
    logits = rng.normal(size=(n, c))
    logits[np.arange(n), labels] += peaked
    probs = softmax_rows(logits)
    if never is not None:
        probs[:, never] = 0.0  # the class is never the argmax (nor among ties)
    if ties:
        # multiples of 1/8: many equal probabilities in a row (rows no longer sum to 1)
        probs = (np.floor(probs.astype(np.float64) * 8.0) / 8.0).astype(np.float32)

    pred = probs.argmax(axis=1)  # the first maximum
    correct = (pred == labels).astype(np.float64)
    all_labels = np.arange(c)

    if absent is not None:
        assert absent not in labels
    if never is not None:
        assert never not in pred
    if ties:
        assert has_ties(probs)
    else:
        assert not has_ties(probs)

    case = {
        "name": name, "seed": seed, "n_classes": c, "k": k, "n_bins": n_bins,
        "labels": [int(x) for x in labels],
        "probs": [float(x) for x in probs.reshape(-1)],
    }
    expected = {}
    expected["n_correct"] = int((pred == labels).sum())
    expected["accuracy"] = float(accuracy_score(labels, pred))
    if c == 2:
        # scikit-learn's binary form: the score of class 1, class 1 when above 0.5
        topk = 1.0 if k >= 2 else float(top_k_accuracy_score(labels, probs[:, 1], k=1,
                                                             labels=all_labels))
        expected["top_k_accuracy"] = topk
    elif ties:
        # Graft breaks ties towards the lower class index, scikit-learn towards the higher:
        # scikit-learn on the classes in reverse order gives Graft's convention.
        expected["top_k_accuracy"] = float(top_k_accuracy_score(
            c - 1 - labels, probs[:, ::-1], k=k, labels=all_labels))
        expected["top_k_accuracy_sklearn_order"] = float(top_k_accuracy_score(
            labels, probs, k=k, labels=all_labels))
    else:
        expected["top_k_accuracy"] = float(top_k_accuracy_score(labels, probs, k=k,
                                                                labels=all_labels))

    p, r, f, s = precision_recall_fscore_support(labels, pred, labels=all_labels,
                                                 average=None, zero_division=0)
    expected["precision"] = [float(x) for x in p]
    expected["recall"] = [float(x) for x in r]
    expected["f1"] = [float(x) for x in f]
    expected["support"] = [int(x) for x in s]
    for avg in ("macro", "weighted"):
        ap, ar, af, _ = precision_recall_fscore_support(labels, pred, labels=all_labels,
                                                        average=avg, zero_division=0)
        expected[avg] = [float(ap), float(ar), float(af)]
    expected["confusion"] = confusion_matrix(labels, pred, labels=all_labels).tolist()

    conf = probs.max(axis=1).astype(np.float64)
    ece, count, confidence, accuracy = calibration(conf, correct, n_bins)
    expected["ece"] = ece
    expected["bins"] = {"count": count, "confidence": confidence, "accuracy": accuracy}

    if losses:
        loss = rng.exponential(size=n).astype(np.float32)
        case["losses"] = [float(x) for x in loss]
    else:
        p_true = probs[np.arange(n), labels].astype(np.float64)
        loss = (-np.log(np.maximum(p_true, FLT_MIN))).astype(np.float32)
    expected["mean_loss"] = float(loss.astype(np.float64).mean())

    if extras:
        # brightness in float32 with repeats; sizes from a few common shapes (many ties)
        brightness = np.round(rng.uniform(0.0, 255.0, size=n), 1).astype(np.float32)
        shapes = np.array([28 * 28, 32 * 32, 64 * 48, 224 * 224, 640 * 480])
        pixels = rng.choice(shapes, size=n, p=[0.4, 0.3, 0.1, 0.1, 0.1])
        case["brightness"] = [float(x) for x in brightness]
        case["pixels"] = [int(x) for x in pixels]
        expected["brightness"] = quartiles(brightness.astype(np.float64), correct)
        expected["size"] = quartiles(pixels.astype(np.float64), correct)

    case["expected"] = expected
    return case


def main():
    if len(sys.argv) != 2:
        sys.stderr.write("usage: sklearn_metrics.py OUTPUT.json\n")
        return 2
    cases = [
        make_case("five classes", 1, 200, 5, 2, losses=True),
        make_case("ten classes, 7 absent, 3 never predicted", 2, 500, 10, 3, absent=7, never=3),
        make_case("three classes, weak model", 3, 37, 3, 2, n_bins=10, peaked=0.3),
        make_case("twenty classes", 4, 1000, 20, 5, n_bins=15, peaked=3.0, losses=True),
        make_case("absent and never predicted, 4 classes", 5, 64, 4, 2, n_bins=5, absent=0,
                  never=2, peaked=1.0),
        make_case("ties", 6, 300, 6, 2, n_bins=8, ties=True, peaked=1.5),
        make_case("ties, top 3", 7, 120, 8, 3, n_bins=20, ties=True, peaked=0.5, absent=5),
        make_case("two classes", 8, 99, 2, 1, n_bins=15, peaked=1.0),
        make_case("one bin, no extras", 9, 50, 4, 1, n_bins=1, extras=False),
    ]
    with open(sys.argv[1], "w") as f:
        json.dump({"sklearn": __import__("sklearn").__version__, "cases": cases}, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
