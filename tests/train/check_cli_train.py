#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""graft-cli train, evaluate and predict on a small synthetic project (three classes of
stripes and checks, 28×28 grey PNGs in train/, val/ and test/ folders) starting from the
bundled ResNet-10:

  - train --json: a finished run whose numbers evaluate reproduces;
  - predict: the classes of given images, a missing file named with exit 1;
  - Ctrl-C: exit 130, the run cancelled and resumable, and resumed it ends exactly as an
    uninterrupted run of the same configuration;
  - kill -9 at random moments, many times, most of them during the saves of run.json,
    checkpoint.safetensors and the model: after every kill each JSON file of the project
    parses and each safetensors file is whole, and the run resumed after the last kill
    ends as the uninterrupted one;
  - usage errors exit 2, bad projects and runs exit 1 naming them.

usage: check_cli_train.py GRAFT_CLI"""

import json
import os
import random
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time

from PIL import Image

CLI = sys.argv[1]
MODEL = "graft-fmnist-resnet10"
FAILURES = []


def check(condition, what):
    if not condition:
        FAILURES.append(what)
        print("FAIL:", what, flush=True)


def write_images(root, rand):
    for split, count in (("train", 10), ("val", 4), ("test", 6)):
        for kind, name in enumerate(("rows", "columns", "checks")):
            folder = os.path.join(root, split, name)
            os.makedirs(folder)
            for i in range(count):
                phase, period = rand.randrange(4), rand.randrange(3, 6)
                pixels = bytearray()
                for y in range(28):
                    for x in range(28):
                        if kind == 0:
                            on = ((y + phase) // period) % 2
                        elif kind == 1:
                            on = ((x + phase) // period) % 2
                        else:
                            on = (((x + phase) // period) + ((y + phase) // period)) % 2
                        v = (200 if on else 40) + rand.randrange(-30, 31)
                        pixels.append(max(0, min(255, v)))
                Image.frombytes("L", (28, 28), bytes(pixels)).save(
                    os.path.join(folder, "%s-%02d.png" % (name, i)))


def run(*args, timeout=600):
    return subprocess.run([CLI, "--device=cpu", *args], capture_output=True, text=True,
                          timeout=timeout)


def train_json(project, *args):
    p = run("train", project, "--model", MODEL, "--json", "-q", *args)
    check(p.returncode == 0, "train %s exits 0 (%d: %s)" % (" ".join(args), p.returncode, p.stderr))
    return json.loads(p.stdout) if p.returncode == 0 else None


def history_losses(run_json):
    return [e["train_loss"] for e in run_json["history"]]


def read_run(project, run_id):
    with open(os.path.join(project, "runs", run_id, "run.json")) as f:
        return json.load(f)


def safetensors_whole(path):
    """The header parses and the data it describes fills the file exactly."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        return False
    (n,) = struct.unpack("<Q", data[:8])
    if 8 + n > len(data):
        return False
    header = json.loads(data[8:8 + n])
    end = max([v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"] + [0])
    return 8 + n + end == len(data)


def project_intact(project):
    """Every project file Graft reads whole: JSON parses, safetensors complete. Temporary
    files of an interrupted save (hidden, or ending in a random suffix) are not read."""
    problems = []
    for folder, _, files in os.walk(project):
        for name in files:
            path = os.path.join(folder, name)
            try:
                if name.endswith(".json"):
                    with open(path) as f:
                        json.load(f)
                elif name.endswith(".safetensors"):
                    if not safetensors_whole(path):
                        problems.append(path + " is not whole")
            except (ValueError, OSError) as e:
                problems.append("%s: %s" % (path, e))
    return problems


def newest_run(project):
    runs = os.path.join(project, "runs")
    ids = sorted(os.listdir(runs)) if os.path.isdir(runs) else []
    return ids[-1] if ids else None


def main():
    tmp = tempfile.mkdtemp(prefix="graft-cli-train-")
    try:
        rand = random.Random(11)
        images = os.path.join(tmp, "images")
        project = os.path.join(tmp, "project")
        write_images(images, rand)
        p = run("import", images, "--project", project)
        check(p.returncode == 0, "import exits 0: " + p.stderr)

        # ---- train, evaluate, predict
        head = train_json(project, "--epochs", "3", "--batch-size", "10", "--lr", "0.05",
                          "--augment", "none")
        if head is not None:
            check(head["status"] == "finished", "the run finished")
            check(head["feature_cache"].startswith("on:"), "head only uses the feature cache")
            check(len(head["history"]) == 3, "three epochs in the history")
            acc = head["final_metrics"]["accuracy"]
            check(0.0 <= acc <= 1.0 and head["final_metrics"]["n_images"] == 18,
                  "final metrics on the 18 test images")
            check("predictions" not in head["final_metrics"],
                  "--json leaves the per-image predictions in run.json")
            p = run("evaluate", project, head["id"], "--json")
            check(p.returncode == 0, "evaluate exits 0: " + p.stderr)
            if p.returncode == 0:
                ev = json.loads(p.stdout)
                # The saved model, loaded anew and run whole, against the trainer's own
                # evaluation from cached features: the same up to float32 rounding, so at
                # most one image with two nearly equal classes may differ.
                check(abs(ev["accuracy"] - acc) <= 1 / 18 + 1e-9,
                      "evaluate reproduces the run's accuracy (%g vs %g)" % (ev["accuracy"], acc))
            p = run("evaluate", project, head["id"])
            check(p.returncode == 0 and "Test accuracy" in p.stdout and "Confusion" in p.stdout,
                  "evaluate prints the accuracy and the confusion matrix")

            pics = [os.path.join(images, "test", c, "%s-00.png" % c) for c in ("rows", "checks")]
            p = run("predict", project, head["id"], *pics, "--json", "--top", "2")
            check(p.returncode == 0, "predict exits 0: " + p.stderr)
            if p.returncode == 0:
                out = json.loads(p.stdout)["predictions"]
                check(len(out) == 2 and all(len(o["top"]) == 2 for o in out),
                      "predict gives the top 2 classes of each image")
                check(all(o["predicted"] in ("rows", "columns", "checks") for o in out),
                      "predictions name the project's classes")
            p = run("predict", project, head["id"], pics[0], os.path.join(tmp, "missing.png"))
            check(p.returncode == 1 and "missing.png" in p.stderr,
                  "a missing image is named and the exit code is 1")
            check(pics[0] in p.stdout, "the other images are still classified")

        # ---- usage and bad input
        p = run("train", project)
        check(p.returncode == 2 and "--model" in p.stderr, "train without --model is a usage error")
        p = run("train", project, "--model", MODEL, "--unfreeze", "some")
        check(p.returncode == 2, "a bad --unfreeze is a usage error")
        p = run("train", os.path.join(tmp, "nowhere"), "--model", MODEL)
        check(p.returncode == 1 and "nowhere" in p.stderr, "a missing project is named")
        p = run("train", project, "--model", "no-such-model")
        check(p.returncode == 1 and "no-such-model" in p.stderr, "an unknown model is named")
        p = run("evaluate", project, "20990101-000000-001")
        check(p.returncode == 1 and "20990101-000000-001" in p.stderr, "an unknown run is named")

        # ---- Ctrl-C and resume, against an uninterrupted run
        recipe = ["--unfreeze", "all", "--epochs", "6", "--batch-size", "10", "--lr", "0.02",
                  "--augment", "light", "--seed", "3"]
        full = train_json(project, *recipe)
        proc = subprocess.Popen([CLI, "--device=cpu", "train", project, "--model", MODEL, *recipe],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for line in proc.stderr:
            if line.startswith("epoch 2/6"):
                proc.send_signal(signal.SIGINT)
                break
        out, err = proc.communicate(timeout=300)
        check(proc.returncode == 130, "Ctrl-C exits 130 (%s)" % proc.returncode)
        check("--resume" in err, "Ctrl-C says how to resume: " + err)
        stopped = newest_run(project)
        info = read_run(project, stopped)
        check(info["status"] == "cancelled", "the interrupted run is cancelled")
        p = run("train", project, "--resume", stopped, "--json", "-q")
        check(p.returncode == 0, "resume exits 0: " + p.stderr)
        if p.returncode == 0 and full is not None:
            resumed = json.loads(p.stdout)
            check(resumed["id"] == stopped and resumed["status"] == "finished",
                  "the same run finished")
            # Batches come from the seed and the epoch and the checkpoint holds the
            # optimizer's state: the CPU backend repeats the same arithmetic exactly.
            check(history_losses(resumed) == history_losses(full),
                  "resumed losses equal the uninterrupted run's")
            check(resumed["final_metrics"]["accuracy"] == full["final_metrics"]["accuracy"],
                  "resumed accuracy equals the uninterrupted run's")

        # ---- kill -9, again and again, during a run long enough (40 epochs) for many
        # kills to land, most of them in an epoch's saves
        kill_recipe = ["--unfreeze", "all", "--epochs", "40", "--batch-size", "10", "--lr", "0.02",
                       "--augment", "light", "--seed", "5"]
        began = time.time()
        full = train_json(project, *kill_recipe)
        duration = time.time() - began
        killed = 0
        run_id = None
        deadline = time.time() + 240
        while time.time() < deadline and killed < 12:
            # a kill that lands after the run saved itself finished (while the process
            # exits) leaves nothing to resume
            if run_id is not None and read_run(project, run_id)["status"] == "finished":
                break
            args = (["train", project, "--resume", run_id] if run_id else
                    ["train", project, "--model", MODEL, *kill_recipe])
            before = newest_run(project)
            proc = subprocess.Popen([CLI, "--device=cpu", *args, "-q"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            # a fifth of the uninterrupted run on average: several kills before the end
            time.sleep(rand.uniform(0.05, 0.35) * duration)
            if proc.poll() is not None:
                err = proc.stderr.read().decode()
                check(proc.returncode == 0, "an unkilled run finishes: " + err)
                break
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            killed += 1
            problems = project_intact(project)
            check(not problems, "after kill %d every file is whole: %s" % (killed, problems))
            if run_id is None:
                newest = newest_run(project)
                run_id = newest if newest != before else None
        print("killed the run %d times (the uninterrupted run took %.1f s)" % (killed, duration),
              flush=True)
        check(killed >= 3, "the run was killed several times (%d)" % killed)
        if run_id is not None:
            status = read_run(project, run_id)["status"]
            if status != "finished":
                p = run("train", project, "--resume", run_id, "--json", "-q")
                check(p.returncode == 0, "the killed run resumes to the end: " + p.stderr)
            final = read_run(project, run_id)
            check(final["status"] == "finished", "the killed run finished")
            if full is not None and final["status"] == "finished":
                check(history_losses(final) == history_losses(full),
                      "after %d kills the losses equal the uninterrupted run's" % killed)
                check(final["final_metrics"]["accuracy"] == full["final_metrics"]["accuracy"],
                      "after %d kills the accuracy equals the uninterrupted run's" % killed)
            check(not os.path.exists(os.path.join(project, "runs", run_id, "checkpoint.safetensors")),
                  "a finished run keeps no checkpoint")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    if FAILURES:
        print("%d check(s) failed" % len(FAILURES))
        sys.exit(1)
    print("all checks passed")


if __name__ == "__main__":
    main()
