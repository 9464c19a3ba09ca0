#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""PyTorch's side of `graft-cli bench train-step`: the same training step (forward in
training mode, cross-entropy backward, SGD with momentum 0.9 over every parameter) of the
same torchvision model on one random batch uploaded once, timed the same way (2 untimed
warm-up steps, then at least 2 steps and at least --seconds, waiting for the device after
each step). Prints images per second, or JSON with --json.

usage: train_step.py [--model resnet18] [--batch 32] [--size 224] [--classes 1000]
                     [--seconds 10] [--device cpu|cuda] [--threads N] [--json]"""

import argparse
import json
import os
import time

import torch
import torch.nn.functional as F
import torchvision


def build(name, classes, size):
    if name == "vit_tiny":
        return torchvision.models.VisionTransformer(
            image_size=size, patch_size=16, num_layers=12, num_heads=3, hidden_dim=192,
            mlp_dim=768, num_classes=classes)
    return getattr(torchvision.models, name)(num_classes=classes)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet18")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--classes", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    device = torch.device(args.device)
    model = build(args.model, args.classes, args.size).to(device).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = (torch.rand(args.batch, 3, args.size, args.size) * 4 - 2).to(device)
    y = torch.randint(0, args.classes, (args.batch,)).to(device)

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        return loss

    t0 = time.perf_counter()
    step()
    first = time.perf_counter() - t0
    step()
    steps = 0
    start = time.perf_counter()
    while steps < 2 or time.perf_counter() - start < args.seconds:
        loss = step()
        steps += 1
    seconds = time.perf_counter() - start
    rate = args.batch * steps / seconds
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {args.threads} threads"
    if args.json:
        print(json.dumps({"framework": f"PyTorch {torch.__version__}", "device": name,
                          "model": args.model, "batch": args.batch, "size": args.size,
                          "steps": steps, "seconds": seconds, "images_per_second": rate,
                          "first_step_seconds": first, "loss": loss.item()}))
    else:
        print(f"PyTorch {torch.__version__} on {name}: {rate:.2f} images/s "
              f"({steps} steps in {seconds:.1f} s; first step {first:.1f} s; loss {loss.item():.3f})")


if __name__ == "__main__":
    main()
