#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""`graft-cli runs` and `graft-cli compare` as a user runs them, on a project made by
`graft-cli import` from PNG files written here, with runs written by hand as
runs/<id>/run.json (final metrics in graft_metrics_to_json()'s layout, computed here from
per-image predictions) and one damaged run.json. Checks the list (text and --json, the
damaged run reported by file and field while the others are listed, oldest first, local
and UTC times), show (history, metrics, per-class table, confusion matrix, slices,
configuration; --json the whole run.json), rename (saved), delete (folder gone), compare
(configuration differences, deltas and the images one run gets right and the other wrong,
all computed here by hand), bad ids (exit 1 naming the id) and usage errors (exit 2).

usage: check_cli_runs.py GRAFT_CLI
Exit status 0 when everything holds, 1 otherwise."""

import datetime
import json
import math
import os
import random
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from graft_testfiles import png, write  # noqa: E402

failures = []

# A fixed zone without daylight saving, so that local times are known: UTC − 5 h.
ENV = dict(os.environ, TZ="EST5", NO_COLOR="1")
LOCAL = datetime.timezone(datetime.timedelta(hours=-5))

CLASSES = ["boot", "coat", "shirt"]
FLT_MIN = 1.1754943508222875e-38


def check(condition, message):
    if not condition:
        failures.append(message)
        print(f"FAIL: {message}")
    return condition


def run(cli, *args, expect=0):
    result = subprocess.run([cli, *args], capture_output=True, text=True, timeout=60, env=ENV)
    print(f"$ graft-cli {' '.join(args)}  -> {result.returncode}")
    if result.returncode != expect:
        print(result.stdout[-3000:])
        print(result.stderr[-3000:])
        failures.append(f"graft-cli {' '.join(args)} exited {result.returncode}, not {expect}")
    return result


def load_json(result):
    try:
        return json.loads(result.stdout)
    except json.JSONDecodeError as e:
        failures.append(f"--json printed no JSON: {e}: {result.stdout[:500]}")
        return None


# Final metrics, as graft_metrics_to_json() writes them (definitions in graft-metrics.h).

def percentile(values, q):
    """numpy.percentile with linear interpolation."""
    v = sorted(values)
    pos = q / 100 * (len(v) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (pos - lo)


def slices(values, correct):
    edges = [percentile(values, q) for q in (0, 25, 50, 75, 100)]
    out = [{"count": 0, "n_correct": 0, "accuracy": 0.0} for _ in range(4)]
    for v, ok in zip(values, correct):
        for q in range(4):
            if (q == 0 and v <= edges[1]) or edges[q] < v <= edges[q + 1]:
                out[q]["count"] += 1
                out[q]["n_correct"] += ok
                break
    for s in out:
        s["accuracy"] = s["n_correct"] / s["count"] if s["count"] else 0.0
    return {"edges": edges, "slices": out}


def ratio(a, b):
    return a / b if b else 0.0


def metrics(images, top_k=2, n_bins=15):
    """images: dicts of name, label, probs, brightness, pixels."""
    n, k = len(images), len(CLASSES)
    preds, rows = [], []
    for im in images:
        probs = im["probs"]
        predicted = max(range(k), key=lambda j: (probs[j], -j))
        p_true = probs[im["label"]]
        preds.append({"label": im["label"], "predicted": predicted,
                      "confidence": probs[predicted], "p_true": p_true,
                      "loss": -math.log(max(p_true, FLT_MIN)),
                      "brightness": im["brightness"], "pixels": im["pixels"],
                      "name": im["name"]})
        rank = sum(1 for j in range(k) if probs[j] > p_true or (j < im["label"] and probs[j] == p_true))
        rows.append(rank < top_k)
    correct = [p["label"] == p["predicted"] for p in preds]
    confusion = [[0] * k for _ in range(k)]
    for p in preds:
        confusion[p["label"]][p["predicted"]] += 1
    per_class = []
    for c in range(k):
        support = sum(confusion[c])
        predicted = sum(confusion[t][c] for t in range(k))
        tp = confusion[c][c]
        per_class.append({"support": support, "predicted": predicted, "true_positives": tp,
                          "precision": ratio(tp, predicted), "recall": ratio(tp, support),
                          "f1": ratio(2 * tp, support + predicted)})
    macro = {m: sum(pc[m] for pc in per_class) / k for m in ("precision", "recall", "f1")}
    weighted = {m: sum(pc[m] * pc["support"] for pc in per_class) / n
                for m in ("precision", "recall", "f1")}
    bins = []
    for b in range(n_bins):
        inside = [p for p in preds
                  if (b / n_bins < p["confidence"] <= (b + 1) / n_bins) or (b == 0 and p["confidence"] == 0)]
        count = len(inside)
        right = sum(p["label"] == p["predicted"] for p in inside)
        bins.append({"lower": b / n_bins, "upper": (b + 1) / n_bins, "count": count,
                     "n_correct": right,
                     "confidence": ratio(sum(p["confidence"] for p in inside), count),
                     "accuracy": ratio(right, count)})
    gaps = [abs(b["accuracy"] - b["confidence"]) for b in bins if b["count"]]
    n_correct = sum(correct)
    return {
        "schema": 1, "n_images": n, "n_classes": k, "classes": CLASSES,
        "n_correct": n_correct, "accuracy": n_correct / n,
        "top_k": {"k": top_k, "n_correct": sum(rows), "accuracy": sum(rows) / n},
        "losses_given": False, "mean_loss": sum(p["loss"] for p in preds) / n,
        "per_class": per_class, "macro": macro, "weighted": weighted,
        "confusion": confusion,
        "calibration": {"ece": sum(abs(b["accuracy"] - b["confidence"]) * b["count"] for b in bins) / n,
                        "mce": max(gaps), "bins": bins},
        "brightness": slices([p["brightness"] for p in preds], correct),
        "size": slices([p["pixels"] for p in preds], correct),
        "predictions": preds,
    }


LABELS = [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]
PREDICTED_A = [0, 0, 0, 1, 1, 1, 2, 2, 2, 2, 0, 2]   # 8 of 12 right
PREDICTED_B = [0, 0, 1, 1, 1, 1, 1, 1, 2, 2, 2, 0]   # 9 of 12 right
NAMES = [f"{CLASSES[label]}/{i}.png" for i, label in enumerate(LABELS)]


def images_for(predicted, confidence_step):
    images = []
    for i, (label, guess) in enumerate(zip(LABELS, predicted)):
        top = 0.5 + confidence_step * (i % 4)
        rest = (1.0 - top) / 2
        probs = [rest] * 3
        probs[guess] = top
        images.append({"name": NAMES[i], "label": label, "probs": probs,
                       "brightness": 20.0 * i + 3.0, "pixels": 784 if i % 3 else 1024})
    return images


ID_A = "20260101-100000-001"
ID_B = "20260102-093000-001"
ID_C = "20260103-080000-001"
ID_D = "20260104-080000-001"

CONFIG_A = {"model": "resnet10", "epochs": 3, "freeze": "backbone",
            "optimizer": {"name": "sgd", "lr": 0.01}}
CONFIG_B = {"model": "resnet10", "epochs": 3, "augment": True,
            "optimizer": {"name": "sgd", "lr": 0.001}}


def write_run(project, run):
    folder = os.path.join(project, "runs", run["id"])
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "run.json"), "w", encoding="utf-8") as f:
        json.dump(run, f, ensure_ascii=False)
    return folder


def make_runs(project):
    metrics_a = metrics(images_for(PREDICTED_A, 0.1))
    metrics_b = metrics(images_for(PREDICTED_B, 0.05))
    # B's predictions in another order: the comparison must match them by name.
    random.Random(3).shuffle(metrics_b["predictions"])
    run_a = {
        "schema": 1, "id": ID_A, "name": "head only", "created": "2026-01-01T10:00:00.000000Z",
        "finished": "2026-01-01T10:02:00.000000Z", "status": "finished", "device": "CPU (OpenBLAS)",
        "config": CONFIG_A,
        "history": [{"epoch": e, "train_loss": 1.0 / e, "val_loss": 1.2 / e,
                     "val_accuracy": 0.5 + 0.1 * e, "learning_rate": 0.01, "seconds": 12.5}
                    for e in (1, 2, 3)],
        "timing": {"train_seconds": 37.5, "wall_seconds": 120.0},
        "final_metrics": metrics_a,
    }
    run_b = {
        "schema": 1, "id": ID_B, "name": "all layers, lr 0.001", "parent": ID_A,
        "created": "2026-01-02T09:30:00.250000Z", "finished": "2026-01-02T09:40:00.000000Z",
        "status": "finished", "device": "NVIDIA H100 (Vulkan)", "config": CONFIG_B,
        "history": [{"epoch": e, "train_loss": 0.5 / e, "val_loss": 0.7 / e,
                     "val_accuracy": 0.7 + 0.05 * e, "grad_norm": 2.5 * e, "seconds": 30.0}
                    for e in (1, 2)],
        "timing": {"train_seconds": 60.0, "wall_seconds": 600.0},
        "final_metrics": metrics_b,
        "training": {"frozen": []},
    }
    run_c = {
        "schema": 1, "id": ID_C, "name": "still going", "parent": ID_A,
        "created": "2026-01-03T08:00:00Z", "status": "cancelled", "reason": "stopped by the user",
        "config": CONFIG_A,
        "history": [{"epoch": 1, "train_loss": 0.9, "seconds": 10.0}],
    }
    damaged = dict(run_c, id=ID_D, created="2026-01-04T08:00:00Z", status=5)
    for run in (run_a, run_b, run_c, damaged):
        write_run(project, run)
    return metrics_a, metrics_b


def make_project(cli, root):
    rng = random.Random(1)
    data = os.path.join(root, "data")
    for c in CLASSES:
        for i in range(3):
            write(os.path.join(data, c, f"{i}.png"), png(32, 32, rng))
    project = os.path.join(root, "project")
    run(cli, "import", data, "--project", project, "--json")
    check(os.path.isfile(os.path.join(project, "project.json")), "graft-cli import wrote no project")
    return project


def utc(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def line_of(text, needle):
    for line in text.splitlines():
        if needle in line:
            return line
    return ""


def check_list(cli, project, metrics_a, metrics_b):
    result = run(cli, "runs", project)
    out, err = result.stdout, result.stderr
    damaged_file = os.path.join(project, "runs", ID_D, "run.json")
    check(damaged_file in err and "status" in err,
          f"the damaged run is not reported by file and field:\n{err}")
    check(len([l for l in err.splitlines() if l.strip()]) == 1, f"more than one line on stderr:\n{err}")
    check(ID_D not in out, "the damaged run is listed")
    positions = [out.find(i) for i in (ID_A, ID_B, ID_C)]
    check(all(p >= 0 for p in positions) and positions == sorted(positions),
          f"the runs are not all listed oldest first:\n{out}")
    line_a, line_b, line_c = (line_of(out, i) for i in (ID_A, ID_B, ID_C))
    check("head only" in line_a and "finished" in line_a and "2026-01-01 05:00" in line_a and
          f"{100 * metrics_a['accuracy']:.2f} %" in line_a and "CPU (OpenBLAS)" in line_a,
          f"run A's line: {line_a}")
    check(ID_A in line_b.replace(ID_B, "", 1) and "2026-01-02 04:30" in line_b and
          f"{100 * metrics_b['accuracy']:.2f} %" in line_b and "NVIDIA H100 (Vulkan)" in line_b,
          f"run B's line (parent, local time, accuracy, device): {line_b}")
    check("cancelled" in line_c and "—" in line_c and line_c.split()[-1] == "—",
          f"run C's line (no accuracy, no device): {line_c}")
    epochs = [line.split()  for line in (line_a, line_b, line_c)]
    check(" 3 " in line_a and " 2 " in line_b and " 1 " in line_c, "epoch counts not shown")
    header = out.splitlines()[0]
    check(all(w in header for w in ("ID", "Name", "Status", "Parent", "Created", "Epochs",
                                     "Accuracy", "Device")), f"header: {header}")
    # Aligned: the status column starts at the same place on every line.
    starts = {line.find("finished") for line in (line_a, line_b)}
    check(len(starts) == 1, f"columns not aligned:\n{out}")
    del epochs

    result = run(cli, "runs", project, "--json")
    report = load_json(result)
    if report is None:
        return
    check(set(report) == {"runs", "problems"}, f"members: {sorted(report)}")
    runs = report["runs"]
    check([r["id"] for r in runs] == [ID_A, ID_B, ID_C], f"ids: {[r['id'] for r in runs]}")
    if len(runs) == 3:
        a, b, c = runs
        check(a["parent"] is None and b["parent"] == ID_A and c["parent"] == ID_A, "parents")
        check(utc(a["created"]) == datetime.datetime(2026, 1, 1, 10, 0, tzinfo=datetime.timezone.utc)
              and a["created"].endswith("Z"), f"created of A: {a['created']}")
        check(utc(b["created"]) == datetime.datetime(2026, 1, 2, 9, 30, 0, 250000,
                                                      tzinfo=datetime.timezone.utc),
              f"created of B: {b['created']}")
        check(abs(a["accuracy"] - 8 / 12) < 1e-12 and abs(b["accuracy"] - 9 / 12) < 1e-12 and
              c["accuracy"] is None, "accuracies")
        check((a["epochs"], b["epochs"], c["epochs"]) == (3, 2, 1), "epochs")
        check(a["device"] == "CPU (OpenBLAS)" and c["device"] is None, "devices")
        check(a["status"] == "finished" and c["status"] == "cancelled", "statuses")
        check(a["name"] == "head only", "names")
    check(len(report["problems"]) == 1 and os.path.join("runs", ID_D, "run.json") in report["problems"][0]
          and "status" in report["problems"][0], f"problems: {report['problems']}")


def check_show(cli, project, metrics_a):
    result = run(cli, "runs", project, "show", ID_A)
    out = result.stdout
    for needle in ("head only", "finished", "CPU (OpenBLAS)", "2026-01-01 05:00",
                   "Epoch", "Train loss", "Val loss", "Val accuracy", "LR", "Seconds",
                   "Per class", "Confusion matrix", "Accuracy by brightness quartile",
                   "Accuracy by size quartile", '"optimizer"', '"lr": 0.01', "train 37.5 s"):
        check(needle in out, f"show A lacks “{needle}”")
    history = [line.split() for line in out.splitlines()
               if line.strip().startswith(("1 ", "2 ", "3 ")) and "%" in line]
    check(len(history) == 3 and history[2][:3] == ["3", f"{1 / 3:.4f}", f"{0.4:.4f}"],
          f"history rows: {history}")
    check(f"{100 * metrics_a['accuracy']:.2f} % ({metrics_a['n_correct']} of 12)" in out,
          "the accuracy line")
    check(f"{metrics_a['macro']['f1']:.4f}" in line_of(out, "Macro F1"), "macro F1")
    check(f"{metrics_a['weighted']['f1']:.4f}" in line_of(out, "Weighted F1"), "weighted F1")
    check(f"{metrics_a['calibration']['ece']:.4f}" in line_of(out, "ECE"), "ECE")
    check(f"{metrics_a['mean_loss']:.4f}" in line_of(out, "Mean loss"), "mean loss")
    check(f"{100 * metrics_a['top_k']['accuracy']:.2f} %" in line_of(out, "Top-2"), "top-2")
    # Per-class rows (the first line naming the class) and the confusion matrix rows.
    section = out[out.find("Per class"):out.find("Confusion matrix")]
    for c, name in enumerate(CLASSES):
        pc = metrics_a["per_class"][c]
        check(line_of(section, name).split()[1:] ==
              [str(pc["support"]), f"{pc['precision']:.4f}", f"{pc['recall']:.4f}", f"{pc['f1']:.4f}"],
              f"per-class row of {name}: {line_of(section, name)}")
    matrix = out[out.find("Confusion matrix"):out.find("Accuracy by brightness")].splitlines()
    check(matrix[1].split() == CLASSES, f"confusion header: {matrix[1] if len(matrix) > 1 else ''}")
    for c, name in enumerate(CLASSES):
        row = line_of("\n".join(matrix[2:]), name).split()
        check(row == [name] + [str(v) for v in metrics_a["confusion"][c]], f"confusion row {row}")

    result = run(cli, "runs", project, "show", ID_B)
    check("grad_norm" in result.stdout and " LR " not in line_of(result.stdout, "Epoch"),
          f"B's history columns: {line_of(result.stdout, 'Epoch')}")
    check(ID_A in line_of(result.stdout, "Parent"), "B's parent")

    result = run(cli, "runs", project, "show", ID_C)
    check("cancelled (stopped by the user)" in result.stdout, "the reason of a cancelled run")
    check("Final metrics: none" in result.stdout, "a run without metrics")

    result = run(cli, "runs", project, "show", ID_A, "--json")
    shown = load_json(result)
    with open(os.path.join(project, "runs", ID_A, "run.json"), encoding="utf-8") as f:
        saved = json.load(f)
    check(shown == saved, "show --json is not the whole run.json")
    result = run(cli, "--json", "runs", project, "show", ID_B)
    shown = load_json(result)
    check(shown is not None and shown.get("training") == {"frozen": []},
          "show --json drops a member Graft does not know")


def check_compare(cli, project, metrics_a, metrics_b):
    result = run(cli, "compare", project, ID_A, ID_B, "--json")
    comparison = load_json(result)
    if comparison is None:
        return
    check(comparison["a"] == ID_A and comparison["b"] == ID_B, "ids")
    check("transfer" in comparison and comparison["transfer"] is None, "the transfer member")
    config = {c["path"]: c for c in comparison["config"]}
    check(set(config) == {"augment", "freeze", "optimizer.lr"}, f"config paths: {sorted(config)}")
    if "optimizer.lr" in config:
        check(config["optimizer.lr"]["a"] == 0.01 and config["optimizer.lr"]["b"] == 0.001 and
              config["optimizer.lr"]["change"] == "changed", "optimizer.lr")
        check(config["freeze"]["change"] == "only_a" and config["augment"]["change"] == "only_b",
              "only_a / only_b")
    deltas = {m["path"]: m for m in comparison["metrics"]}
    for path, a, b in (("accuracy", metrics_a["accuracy"], metrics_b["accuracy"]),
                       ("macro.f1", metrics_a["macro"]["f1"], metrics_b["macro"]["f1"]),
                       ("weighted.recall", metrics_a["weighted"]["recall"], metrics_b["weighted"]["recall"]),
                       ("mean_loss", metrics_a["mean_loss"], metrics_b["mean_loss"])):
        d = deltas.get(path)
        check(d is not None and abs(d["a"] - a) < 1e-9 and abs(d["b"] - b) < 1e-9 and
              abs(d["delta"] - (b - a)) < 1e-9, f"the delta of {path}: {d}")
    check(abs(deltas["accuracy"]["delta"] - 1 / 12) < 1e-9, "accuracy delta is 1/12")
    per_class = comparison["per_class"] or []
    check(len(per_class) == 3, "per-class deltas")
    for c, item in enumerate(per_class):
        for key in ("f1", "recall"):
            want = metrics_b["per_class"][c][key] - metrics_a["per_class"][c][key]
            check(abs(item[key]["delta"] - want) < 1e-9, f"{key} delta of class {c}")
        check(item.get("name") == CLASSES[c], "class names")
    only_a = [i for i in range(12) if PREDICTED_A[i] == LABELS[i] and PREDICTED_B[i] != LABELS[i]]
    only_b = [i for i in range(12) if PREDICTED_B[i] == LABELS[i] and PREDICTED_A[i] != LABELS[i]]
    check([x["name"] for x in comparison["only_a_right"] or []] == [NAMES[i] for i in only_a],
          f"A right, B wrong: {comparison['only_a_right']}")
    check([x["name"] for x in comparison["only_b_right"] or []] == [NAMES[i] for i in only_b],
          f"B right, A wrong: {comparison['only_b_right']}")

    result = run(cli, "compare", project, ID_A, ID_B)
    out = result.stdout
    check("head only" in out and "all layers, lr 0.001" in out, "the run names")
    lr = line_of(out, "optimizer.lr").split()
    check(lr == ["optimizer.lr", "0.01", "0.001"], f"config line: {lr}")
    check(line_of(out, "freeze").split()[-1] == "(absent)", "freeze only in A")
    accuracy = line_of(out, "accuracy ").split()
    check(accuracy[-2:] == [f"{100 / 12:+.2f}", "pt"], f"accuracy line: {accuracy}")
    macro = line_of(out, "macro.f1").split()
    want = 100 * (metrics_b["macro"]["f1"] - metrics_a["macro"]["f1"])
    check(macro[-2:] == [f"{want:+.2f}", "pt"], f"macro F1 line: {macro}")
    section = out[out.find("Per class"):]
    for c, name in enumerate(CLASSES):
        row = line_of(section, name).split()
        f1 = 100 * (metrics_b["per_class"][c]["f1"] - metrics_a["per_class"][c]["f1"])
        recall = 100 * (metrics_b["per_class"][c]["recall"] - metrics_a["per_class"][c]["recall"])
        check(len(row) == 7 and row[3] == f"{f1:+.2f}" and row[6] == f"{recall:+.2f}",
              f"per-class line of {name}: {row}")
    check(f"A right, B wrong: {len(only_a)} ({', '.join(NAMES[i] for i in only_a)})" in out,
          f"A right, B wrong: {line_of(out, 'A right')}")
    check(f"B right, A wrong: {len(only_b)} ({', '.join(NAMES[i] for i in only_b)})" in out,
          f"B right, A wrong: {line_of(out, 'B right')}")

    # A run without final metrics compares by configuration only.
    result = run(cli, "compare", project, ID_A, ID_C)
    check("not compared" in result.stdout and "freeze" not in result.stdout,
          f"compare with an unfinished run:\n{result.stdout}")
    comparison = load_json(run(cli, "compare", project, ID_A, ID_C, "--json"))
    check(comparison is not None and comparison["per_class"] is None and
          comparison["only_a_right"] is None and comparison["config"] == [],
          "compare --json with an unfinished run")


def check_changes(cli, project):
    result = run(cli, "runs", project, "rename", ID_A, "frozen backbone, lr 0.01")
    check(ID_A in result.stdout and "frozen backbone, lr 0.01" in result.stdout, "rename's message")
    with open(os.path.join(project, "runs", ID_A, "run.json"), encoding="utf-8") as f:
        check(json.load(f)["name"] == "frozen backbone, lr 0.01", "the new name was not saved")
    check("frozen backbone, lr 0.01" in line_of(run(cli, "runs", project).stdout, ID_A),
          "the list does not show the new name")
    renamed = load_json(run(cli, "runs", project, "rename", ID_B, "B", "--json"))
    check(renamed == {"id": ID_B, "name": "B"}, f"rename --json: {renamed}")

    folder = os.path.join(project, "runs", ID_C)
    deleted = load_json(run(cli, "runs", project, "delete", ID_C, "--json"))
    check(deleted == {"deleted": ID_C}, f"delete --json: {deleted}")
    check(not os.path.exists(folder), "the run's folder is still there")
    result = run(cli, "runs", project, "delete", ID_D)
    check(ID_D in result.stdout, "delete's message")
    check(not os.path.exists(os.path.join(project, "runs", ID_D)), "the damaged run is still there")
    result = run(cli, "runs", project)
    check(result.stderr == "" and ID_C not in result.stdout and ID_D not in result.stdout,
          "deleted runs still listed or reported")
    result = run(cli, "runs", project, "delete", ID_C, expect=1)
    check(ID_C in result.stderr, f"deleting twice: {result.stderr}")


def check_errors(cli, project, root):
    missing = "20990101-000000-001"
    for args in (("runs", project, "show", missing),
                 ("runs", project, "show", "../escape"),
                 ("runs", project, "rename", missing, "x"),
                 ("runs", project, "delete", "../project"),
                 ("compare", project, ID_A, missing),
                 ("compare", project, missing, ID_A)):
        result = run(cli, *args, expect=1)
        bad = args[3] if args[0] == "runs" else (missing if missing in args else args[3])
        check(bad in result.stderr and result.stdout == "",
              f"{' '.join(args)}: the id is not named: {result.stderr}")
    result = run(cli, "runs", project, "show", ID_D, expect=1)
    check("run.json" in result.stderr and "status" in result.stderr,
          f"showing a damaged run: {result.stderr}")
    result = run(cli, "runs", os.path.join(root, "nowhere"), expect=1)
    check("nowhere" in result.stderr, f"a missing project: {result.stderr}")
    result = run(cli, "runs", os.path.join(root, "data"), expect=1)
    check("project.json" in result.stderr, f"a folder that is no project: {result.stderr}")

    for args in (("runs",), ("runs", project, "frobnicate"), ("runs", project, "show"),
                 ("runs", project, "show", ID_A, "extra"), ("runs", project, "rename", ID_A),
                 ("runs", project, "rename", ID_A, ""), ("runs", project, "delete"),
                 ("runs", project, "--bogus"), ("compare", project, ID_A),
                 ("compare", project, ID_A, ID_B, ID_C), ("compare",)):
        result = run(cli, *args, expect=2)
        check(result.stdout == "" and result.stderr != "", f"{' '.join(args)}: no usage message")


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    cli = sys.argv[1]
    with tempfile.TemporaryDirectory(prefix="graft-cli-runs-") as root:
        project = make_project(cli, root)
        metrics_a, metrics_b = make_runs(project)
        check_list(cli, project, metrics_a, metrics_b)
        check_show(cli, project, metrics_a)
        check_compare(cli, project, metrics_a, metrics_b)
        check_errors(cli, project, root)
        check_changes(cli, project)
    print(f"{len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
