#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""`graft-cli import` as a user runs it, on folders of PNG files written here: a new
project split within one image of the fractions per class, every damaged, copied and small
file reported by name, the project written beside the data and nothing else; a second
import keeps every saved split, a third splits only the new files and drops the vanished
ones; train/ and test/ folders fix the split and a copy across them is leakage; bad usage
exits 2, nothing to import exits 1.

usage: check_cli_import.py GRAFT_CLI
Exit status 0 when everything holds, 1 otherwise."""

import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from graft_testfiles import png, write  # noqa: E402

failures = []


def check(condition, message):
    if not condition:
        failures.append(message)
        print(f"FAIL: {message}")


def run(cli, *args, expect=0):
    result = subprocess.run([cli, *args], capture_output=True, text=True, timeout=300)
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


def problems_of(report, kind):
    return sorted(p["file"] for p in report["problems"] if p["kind"] == kind)


def assignment_of(project_dir):
    with open(os.path.join(project_dir, "project.json"), encoding="utf-8") as f:
        return json.load(f)["split"]["assignment"]


def check_counts(report, fractions):
    for c in report["classes"]:
        for i, split in enumerate(("train", "val", "test")):
            exact = c["total"] * fractions[i]
            check(abs(c[split] - exact) < 1.0,
                  f"{c['name']}: {c[split]} of {c['total']} in {split}, {exact:.2f} asked for")
        check(c["none"] == 0, f"{c['name']}: {c['none']} images without a split")


def flat_dataset(cli, root):
    rng = random.Random(1)
    data = os.path.join(root, "pets")
    sizes = {"cat": 20, "dog": 10, "fish": 7}
    for name, n in sizes.items():
        for i in range(n):
            write(os.path.join(data, name, f"{i:02d}.png"), png(40, 40, rng))
    good = png(40, 40, rng)
    write(os.path.join(data, "cat", "truncated.png"), good[: len(good) // 2])
    write(os.path.join(data, "dog", "empty.png"), b"")
    shutil.copy(os.path.join(data, "cat", "00.png"), os.path.join(data, "cat", "dup.png"))
    write(os.path.join(data, "fish", "tiny.png"), png(8, 8, rng))
    project = data + "-project"

    # A new project beside the data.
    result = run(cli, "import", data, "--seed", "5", "--json")
    report = load_json(result)
    if report is None:
        return
    check(report["format"] == "folder" and report["task"] == "classification",
          f"detected {report['format']} {report['task']}")
    check(report["usable"] == 20 + 10 + 7 + 1 + 1, f"{report['usable']} usable images")
    check_counts(report, (0.7, 0.15, 0.15))
    check(problems_of(report, "unreadable") == ["cat/truncated.png", "dog/empty.png"],
          f"unreadable: {problems_of(report, 'unreadable')}")
    check(problems_of(report, "duplicate") in (["cat/dup.png"], ["cat/00.png"]),
          f"duplicates: {problems_of(report, 'duplicate')}")
    check(problems_of(report, "small-image") == ["fish/tiny.png"],
          f"small images: {problems_of(report, 'small-image')}")
    check(problems_of(report, "leakage") == [], "a split drawn by Graft leaks copies")
    check(report["project"] == os.path.join(project, "project.json"),
          f"project at {report['project']}")
    check(sorted(os.listdir(project)) == ["project.json"], f"project folder: {os.listdir(project)}")
    first = assignment_of(project)
    check(len(first) == report["usable"], f"{len(first)} images in the saved split")
    check("cat/truncated.png" not in first, "an unreadable file has a split")
    check(first.get("cat/dup.png") == first.get("cat/00.png"), "copies of one file split apart")

    # The same data again, read by a person: the saved split is kept.
    result = run(cli, "import", data)
    for text in ("Class", "Train", "cat", "dog", "fish", "Imbalance", "Files that cannot be read",
                 "cat/truncated.png", "kept their saved split", "Project updated"):
        check(text in result.stdout, f"the report does not say “{text}”:\n{result.stdout}")
    check(assignment_of(project) == first, "a second import changed the saved split")

    # Five new files, two gone: only the new ones are split, the gone ones dropped.
    for i in range(5):
        write(os.path.join(data, "dog", f"new{i}.png"), png(40, 40, rng))
    os.unlink(os.path.join(data, "cat", "03.png"))
    os.unlink(os.path.join(data, "fish", "05.png"))
    report = load_json(run(cli, "import", data, "--json"))
    if report is not None:
        check(report["split"]["new"] == 5 and report["split"]["drawn"] == 5,
              f"split: {report['split']}")
        check(report["split"]["dropped"] == ["cat/03.png", "fish/05.png"],
              f"dropped: {report['split']['dropped']}")
        third = assignment_of(project)
        check(all(third[name] == split for name, split in first.items()
                  if name not in ("cat/03.png", "fish/05.png")),
              "a saved split changed when files were added")
        check(all(f"dog/new{i}.png" in third for i in range(5)), "new files have no split")

    # The saved split is not changed by accident; --resplit draws it anew (without the
    # copy, which would move as one with its original).
    run(cli, "import", data, "--seed", "6", expect=2)
    os.unlink(os.path.join(data, "cat", "dup.png"))
    report = load_json(run(cli, "import", data, "--seed", "6", "--split", "50,25,25", "--resplit", "--json"))
    if report is not None:
        check_counts(report, (0.5, 0.25, 0.25))
        check(report["split"]["seed"] == 6, f"resplit seed {report['split']['seed']}")

    # Another project folder, named.
    other = os.path.join(root, "elsewhere")
    report = load_json(run(cli, "import", data, "--project", other, "--split", "1,0,0", "--json"))
    if report is not None:
        check(os.path.exists(os.path.join(other, "project.json")), "--project folder not written")
        check(report["splits"]["train"] == report["usable"], f"1,0,0 gave {report['splits']}")


def split_dataset(cli, root):
    rng = random.Random(2)
    data = os.path.join(root, "split-source")
    for split, n in (("train", 8), ("test", 3)):
        for name in ("a", "b"):
            for i in range(n):
                write(os.path.join(data, split, name, f"{i}.png"), png(36, 36, rng))
    shutil.copy(os.path.join(data, "train", "a", "1.png"), os.path.join(data, "test", "a", "copy.png"))
    report = load_json(run(cli, "import", data, "--json"))
    if report is None:
        return
    check(problems_of(report, "leakage") in (["test/a/copy.png"],),
          f"leakage: {problems_of(report, 'leakage')}")
    assignment = assignment_of(data + "-project")
    check(all(split == name.split("/")[0] for name, split in assignment.items()),
          "train/ and test/ folders not honoured")
    result = run(cli, "import", data)
    check("LEAK" in result.stdout.upper() and "test/a/copy.png" in result.stdout,
          f"leakage not shown:\n{result.stdout}")


def failures_and_usage(cli, root):
    run(cli, "import", expect=2)
    run(cli, "import", root, "--format", "tiff", expect=2)
    run(cli, "import", root, "--split", "0.7,0.3", expect=2)
    run(cli, "import", os.path.join(root, "missing"), expect=1)
    broken = os.path.join(root, "broken")
    write(os.path.join(broken, "a", "1.png"), b"not a png at all")
    write(os.path.join(broken, "b", "1.png"), b"")
    run(cli, "import", broken, expect=1)
    result = run(cli, "import", broken, "--format", "folder", expect=1)
    check("a/1.png" in result.stdout and "b/1.png" in result.stdout,
          f"the unreadable files are not named:\n{result.stdout}")
    check(not os.path.exists(broken + "-project"), "a project was written for nothing")


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    cli = sys.argv[1]
    with tempfile.TemporaryDirectory(prefix="graft-cli-import-") as root:
        flat_dataset(cli, root)
        split_dataset(cli, root)
        failures_and_usage(cli, root)
    print(f"{len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
