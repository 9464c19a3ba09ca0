#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Holds `graft-cli forward` against torchvision the way an outsider would: torchvision's
weights, an input batch and labels saved as safetensors files, graft-cli run on them on
each device, and its output, loss, running statistics and gradients read back.

usage: check_cli_forward.py GRAFT_CLI
Exit status 0 when everything agrees, 1 on a mismatch, 77 (skipped) without PyTorch
unless GRAFT_TEST_REQUIRE_TORCH=1."""

import json
import os
import subprocess
import sys
import tempfile

REQUIRE = os.environ.get("GRAFT_TEST_REQUIRE_TORCH") == "1"
try:
    import torch
    import torch.nn.functional as F
    import torchvision
except ImportError as e:
    print(f"PyTorch is missing: {e}")
    sys.exit(1 if REQUIRE else 77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_models  # noqa: E402
import safetensors_io  # noqa: E402

ARCH = "mobilenet_v3_small"
CLASSES = 5
# Normalised errors; see test-reference-models.c for why gradients get more room (ReLU
# and hardswish kinks that float32 rounding can put on either side).
OUTPUT_TOLERANCE = 1e-4
GRAD_TOLERANCE = 0.15


def rel(a, b, floor=1e-12):
    """Normalised error; @floor keeps a gradient that is zero in exact arithmetic (a bias
    before a train-mode batch norm) from dividing rounding noise by nothing."""
    a, b = a.double().flatten(), b.double().flatten()
    return ((a - b).norm() / max(b.norm().item(), floor)).item()


def devices(cli):
    listing = json.loads(subprocess.run([cli, "devices", "--json"], check=True,
                                        capture_output=True, text=True).stdout)
    return [d["id"] for d in listing["devices"]]


def main():
    cli = sys.argv[1]
    torch.manual_seed(5)
    model = torchvision.models.mobilenet_v3_small(num_classes=CLASSES)
    gen_models.randomise(model)
    for m in model.modules():
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0
    x = torch.randn(3, 3, 64, 64)
    labels = torch.tensor([4, 0, 2])
    failures = []

    with tempfile.TemporaryDirectory() as tmp:
        paths = {k: os.path.join(tmp, k + ".safetensors")
                 for k in ("weights", "input", "labels", "out", "grads", "bad")}
        safetensors_io.save({k: v for k, v in model.state_dict().items()
                             if not k.endswith("num_batches_tracked")}, paths["weights"])
        safetensors_io.save({"input": x}, paths["input"])
        safetensors_io.save({"labels": labels.to(torch.int64)}, paths["labels"])

        # PyTorch's answers in float64 (train mode, as graft-cli --train runs it)
        ref = model.double().train()
        y = ref(x.double())
        loss = F.cross_entropy(y, labels)
        loss.backward()
        stats = {k: v for k, v in ref.state_dict().items() if "running_" in k}

        for device in devices(cli):
            run = subprocess.run([cli, "forward", "--arch", ARCH, "--weights", paths["weights"],
                                  "--input", paths["input"], "--output", paths["out"],
                                  "--train", "--no-dropout", "--labels", paths["labels"],
                                  "--grads", paths["grads"], "--device", device],
                                 capture_output=True, text=True)
            if run.returncode != 0:
                failures.append(f"{device}: graft-cli forward failed: {run.stderr}")
                continue
            out = safetensors_io.load(paths["out"])
            grads = safetensors_io.load(paths["grads"])
            checks = [("output", rel(out["output"], y.detach()), OUTPUT_TOLERANCE),
                      ("loss", rel(out["loss"], loss.detach().reshape(1)), OUTPUT_TOLERANCE)]
            checks += [(k, rel(out[k], v), OUTPUT_TOLERANCE) for k, v in stats.items()]
            floor = 1e-4 * max(p.grad.norm().item() for p in ref.parameters())
            checks += [("grad " + k, rel(grads[k], p.grad, floor), GRAD_TOLERANCE)
                       for k, p in ref.named_parameters()]
            if set(grads) != {k for k, _ in ref.named_parameters()}:
                failures.append(f"{device}: the gradients file names other tensors")
            worst = max(checks, key=lambda c: c[1] / c[2])
            print(f"{device}: output error {checks[0][1]:.3g}, loss {checks[1][1]:.3g}, "
                  f"worst {worst[0]} {worst[1]:.3g}")
            failures += [f"{device}: {name} differs by {err:.3g} (tolerance {tol:g})"
                         for name, err, tol in checks if not err <= tol]

        # A weights file of another architecture: a clear error naming a tensor, exit 1
        safetensors_io.save({"fc.weight": torch.zeros(CLASSES, 512)}, paths["bad"])
        run = subprocess.run([cli, "forward", "--arch", ARCH, "--weights", paths["bad"],
                              "--input", paths["input"], "--output", paths["out"]],
                             capture_output=True, text=True)
        if run.returncode != 1 or "classifier.3.weight" not in run.stderr:
            failures.append(f"wrong weights: exit {run.returncode}, said {run.stderr!r}")
        run = subprocess.run([cli, "forward", "--arch", ARCH], capture_output=True, text=True)
        if run.returncode != 2:
            failures.append(f"missing options: exit {run.returncode}, expected 2")

    for f in failures:
        print("FAIL:", f)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
