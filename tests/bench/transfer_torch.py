#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""PyTorch's side of the transfer-learning demo, the yardstick of `graft-cli train`.

The bundled ResNet-10 (Fashion-MNIST 0–4) is trained on the demo task (classes 5–9,
DIR/train/CLASS and DIR/test/CLASS as written by `graft-cli demo-dataset`) with the recipe
Graft's trainer follows, so that Graft's accuracy and training time have a yardstick.
Prints the test accuracy, the training time and images per second, or one JSON object
with --json.

usage: transfer_torch.py --data DIR --recipe scratch|head|all [--weights F] [--card F]
                         [--epochs 30] [--batch-size 25] [--lr 0.05] [--seed 0]
                         [--threads N] [--json]

Recipes: scratch (torchvision's random init, everything trained), head (the pre-trained
backbone frozen in eval mode, a new fc trained), all (the pre-trained weights and a new fc,
everything trained). SGD with Nesterov momentum 0.9 and weight decay 5e-4, a one-cycle
learning rate per step, batches drawn in a fresh order each epoch, no augmentation; the
training time covers the epoch loop only (images are decoded before it, evaluation after)."""

import argparse
import json
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image
from torchvision.models.resnet import BasicBlock, ResNet

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
DEFAULT_WEIGHTS = os.path.join(REPO, "data", "models", "graft-fmnist-resnet10.safetensors")
DEFAULT_CARD = os.path.join(REPO, "data", "models", "graft-fmnist-resnet10.json")

RECIPES = ("scratch", "head", "all")
SAFETENSORS_DTYPES = {"F16": np.float16, "F32": np.float32, "F64": np.float64,
                      "BF16": None, "I64": np.int64, "I32": np.int32}


def fail(message):
    print(f"transfer_torch.py: {message}", file=sys.stderr)
    sys.exit(1)


def read_safetensors(path):
    """The tensors of a safetensors file as float32 torch tensors (integers kept), read with
    numpy alone: python3-safetensors is not always installed."""
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        fail(f"{path}: too short for a safetensors file")
    (header_len,) = struct.unpack("<Q", blob[:8])
    if 8 + header_len > len(blob):
        fail(f"{path}: the header claims {header_len} bytes, the file has {len(blob) - 8}")
    header = json.loads(blob[8:8 + header_len])
    data = memoryview(blob)[8 + header_len:]
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = SAFETENSORS_DTYPES.get(info["dtype"])
        begin, end = info["data_offsets"]
        if info["dtype"] == "BF16":
            # bfloat16 is the upper half of a float32
            raw = np.frombuffer(data[begin:end], dtype=np.uint16).astype(np.uint32) << 16
            array = raw.view(np.float32)
        elif dtype is None:
            fail(f"{path}: tensor {name} has dtype {info['dtype']}, which this script cannot read")
        else:
            array = np.frombuffer(data[begin:end], dtype=dtype)
        array = array.reshape(info["shape"])
        if array.dtype.kind == "f":
            array = array.astype(np.float32)
        tensors[name] = torch.from_numpy(array.copy())
    return tensors


def build_model(classes):
    """torchvision's ResNet with one BasicBlock per stage and a one-channel 7×7 stem. The
    replaced stem gets the init torchvision gives every convolution (Kaiming normal, fan
    out), so that a model trained from scratch starts the way torchvision's own would."""
    model = ResNet(BasicBlock, [1, 1, 1, 1], num_classes=classes)
    model.conv1 = nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3, bias=False)
    nn.init.kaiming_normal_(model.conv1.weight, mode="fan_out", nonlinearity="relu")
    return model


def load_pretrained(model, path):
    state = read_safetensors(path)
    result = model.load_state_dict(state, strict=False)
    # num_batches_tracked only counts steps (batch norm here has a fixed momentum), so a
    # file without it loses nothing; any other gap means the file is not this model.
    missing = [k for k in result.missing_keys if not k.endswith("num_batches_tracked")]
    if missing or result.unexpected_keys:
        fail(f"{path} does not match ResNet-10: missing {missing}, unexpected {result.unexpected_keys}")


def load_split(folder, classes, mean, std):
    """Every PNG under folder/CLASS as one normalised [N, 1, H, W] tensor and its labels."""
    images, labels = [], []
    for label, name in enumerate(classes):
        class_dir = os.path.join(folder, name)
        if not os.path.isdir(class_dir):
            fail(f"{folder} has no folder for the class {name}")
        for file in sorted(os.listdir(class_dir)):
            if not file.lower().endswith(".png"):
                continue
            with Image.open(os.path.join(class_dir, file)) as im:
                images.append(np.asarray(im.convert("L"), dtype=np.uint8))
            labels.append(label)
    if not images:
        fail(f"{folder} holds no PNG images")
    x = torch.from_numpy(np.stack(images)).float().unsqueeze(1) / 255.0
    return (x - mean) / std, torch.tensor(labels, dtype=torch.long)


def prepare(model, recipe, weights, classes):
    """The starting point and the parameters the recipe trains."""
    if recipe == "scratch":
        model.train()
        return list(model.parameters())
    load_pretrained(model, weights)
    model.fc = nn.Linear(model.fc.in_features, classes)
    if recipe == "all":
        model.train()
        return list(model.parameters())
    # head: the backbone is a fixed function, its batch norm using (and keeping) the
    # running statistics learnt on the source classes; only the new fc learns.
    for p in model.parameters():
        p.requires_grad_(False)
    for p in model.fc.parameters():
        p.requires_grad_(True)
    model.eval()
    model.fc.train()
    return list(model.fc.parameters())


def evaluate(model, x, y, batch=500):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            correct += (model(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum().item()
    return correct / len(x)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="folder with train/CLASS and test/CLASS")
    parser.add_argument("--recipe", required=True, choices=RECIPES)
    parser.add_argument("--weights", default=DEFAULT_WEIGHTS)
    parser.add_argument("--card", default=DEFAULT_CARD)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=25)
    parser.add_argument("--lr", type=float, default=0.05, help="the one-cycle peak")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.epochs < 1 or args.batch_size < 1 or args.lr <= 0:
        fail("--epochs and --batch-size must be at least 1 and --lr above 0")

    torch.set_num_threads(args.threads)
    with open(args.card) as f:
        card = json.load(f)
    mean, std = float(card["input"]["mean"][0]), float(card["input"]["std"][0])

    train_dir = os.path.join(args.data, "train")
    test_dir = os.path.join(args.data, "test")
    if not os.path.isdir(train_dir):
        fail(f"{args.data} has no train/ folder")
    classes = sorted(d for d in os.listdir(train_dir) if os.path.isdir(os.path.join(train_dir, d)))
    x_train, y_train = load_split(train_dir, classes, mean, std)
    x_test, y_test = load_split(test_dir, classes, mean, std)
    n_train = len(x_train)
    steps_per_epoch = n_train // args.batch_size
    if steps_per_epoch == 0:
        fail(f"{n_train} training images make no full batch of {args.batch_size}")

    torch.manual_seed(args.seed)
    model = build_model(len(classes))
    params = prepare(model, args.recipe, args.weights, len(classes))
    optimizer = torch.optim.SGD(params, lr=args.lr, momentum=0.9, nesterov=True,
                                weight_decay=5e-4)
    total_steps = args.epochs * steps_per_epoch
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=args.lr, total_steps=total_steps, pct_start=0.3,
        anneal_strategy="cos", div_factor=25, final_div_factor=1e4, cycle_momentum=False)
    # The order of batches, the same draw as a DataLoader with shuffle=True and this
    # generator; the images are already in memory, so batches are slices of one tensor.
    order = torch.Generator().manual_seed(args.seed)

    start = time.perf_counter()
    for _ in range(args.epochs):
        perm = torch.randperm(n_train, generator=order)
        for step in range(steps_per_epoch):
            idx = perm[step * args.batch_size:(step + 1) * args.batch_size]
            optimizer.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(x_train[idx]), y_train[idx])
            loss.backward()
            optimizer.step()
            scheduler.step()
    train_seconds = time.perf_counter() - start
    rate = total_steps * args.batch_size / train_seconds

    accuracy = evaluate(model, x_test, y_test)
    if args.json:
        print(json.dumps({"recipe": args.recipe, "seed": args.seed, "epochs": args.epochs,
                          "batch_size": args.batch_size, "lr": args.lr, "n_train": n_train,
                          "n_test": len(x_test), "test_accuracy": accuracy,
                          "train_seconds": train_seconds, "images_per_second": rate,
                          "framework": f"PyTorch {torch.__version__}",
                          "threads": args.threads, "final_loss": loss.item()}))
    else:
        threads = f"{args.threads} thread{'s' if args.threads != 1 else ''}"
        print(f"PyTorch {torch.__version__}, {threads}, recipe {args.recipe}, "
              f"{n_train} training images, {args.epochs} epochs, lr {args.lr}, seed {args.seed}: "
              f"test accuracy {100 * accuracy:.2f}% of {len(x_test)}, "
              f"training {train_seconds:.1f} s ({rate:.0f} images/s)")


if __name__ == "__main__":
    main()
