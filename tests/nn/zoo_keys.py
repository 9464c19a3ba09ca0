#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""torchvision's answers for Graft's zoo (test-zoo-names).

usage: zoo_keys.py keys
           For each architecture: a line "arch NAME", then "name dim dim ..." for every
           state_dict entry of torchvision.models.NAME(num_classes=10) except
           num_batches_tracked, then "params N" (the sum of numel over parameters()).
       zoo_keys.py forward DIR
           For each architecture writes DIR/NAME.weights.safetensors (a random state_dict
           with randomised batch-norm statistics) and DIR/NAME.reference.safetensors
           holding "input" [2, 3, 64, 64], "eval" (the output in eval mode), "train"
           (the output in training mode with every dropout and stochastic depth at p 0)
           "running.NAME" for each batch norm's running_mean and running_var after
           that training-mode pass (which updates them with the layer's momentum),
           "dy" (a random output gradient) and "grad.NAME" for the parameters that
           GRADIENT_CHECKED picks, from autograd through that pass."""

import os
import sys

import torch
import torchvision

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))
import safetensors_io  # noqa: E402

ARCHS = ["mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_large", "efficientnet_b0"]
N_CLASSES = 10


def gradient_checked(name):
    # The first layer's (whose gradient has gone back through every layer), every
    # squeeze-and-excitation layer's and the classifier's: small tensors that cover
    # every kind of layer's backward pass.
    return name.startswith(("features.0.", "classifier.")) or ".fc1." in name or ".fc2." in name


def build(arch):
    return getattr(torchvision.models, arch)(num_classes=N_CLASSES)


def keys():
    lines = []
    for arch in ARCHS:
        model = build(arch)
        lines.append(f"arch {arch}")
        for name, value in model.state_dict().items():
            if name.endswith("num_batches_tracked"):
                continue
            lines.append(" ".join([name] + [str(d) for d in value.shape]))
        lines.append(f"params {sum(p.numel() for p in model.parameters())}")
    print("\n".join(lines))


def randomise(model):
    # The default initialisation leaves batch norm an identity in eval mode (mean 0,
    # var 1, weight 1, bias 0) with statistics far from the activations', so that deep
    # down the output no longer depends on the input, and the classifier near zero.
    # Random affine parameters, then running statistics measured on random images (as
    # after training), give an eval output that depends on every tensor and the input.
    # Biases around 0.5 keep most values above ReLU6's zero: at 2 × 2 pixels × 2 images
    # a channel zeroed almost everywhere would reach the next (depthwise) batch norm
    # with a near-zero variance, whose 1 / sqrt (var + 1e-5) makes the gradients depend
    # on rounding (PyTorch's float32 and float64 answers then differ by percents).
    momentum = {}
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.8, 1.2)
                m.bias.normal_(0.5, 0.1)
                m.reset_running_stats()
                momentum[m] = m.momentum
                m.momentum = None  # a cumulative average over the batches below
            elif isinstance(m, torch.nn.Linear):
                bound = 1.0 / m.in_features ** 0.5
                m.weight.uniform_(-bound, bound)
                m.bias.uniform_(-bound, bound)
        model.train()
        for _ in range(2):
            model(torch.randn(4, 3, 64, 64))
    for m, value in momentum.items():
        m.momentum = value


def forward(out_dir):
    for arch in ARCHS:
        model = build(arch)
        randomise(model)
        x = torch.randn(2, 3, 64, 64)
        safetensors_io.save(model.state_dict(), os.path.join(out_dir, f"{arch}.weights.safetensors"))
        model.eval()
        with torch.no_grad():
            y_eval = model(x)
        model.train()
        for m in model.modules():
            if isinstance(m, (torch.nn.Dropout, torchvision.ops.StochasticDepth)):
                m.p = 0.0
        y_train = model(x)
        dy = torch.randn_like(y_train)
        y_train.backward(dy)
        ref = {"input": x, "eval": y_eval, "train": y_train.detach(), "dy": dy}
        for name, value in model.named_parameters():
            if gradient_checked(name):
                ref[f"grad.{name}"] = value.grad
        for name, value in model.state_dict().items():
            if name.endswith(("running_mean", "running_var")):
                ref[f"running.{name}"] = value
        safetensors_io.save(ref, os.path.join(out_dir, f"{arch}.reference.safetensors"))


def main():
    torch.manual_seed(20261126)
    torch.set_num_threads(1)
    if len(sys.argv) == 2 and sys.argv[1] == "keys":
        keys()
    elif len(sys.argv) == 3 and sys.argv[1] == "forward":
        forward(sys.argv[2])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
