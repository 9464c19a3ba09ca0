#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""torchvision's state_dict names and shapes for Graft's zoo (test-zoo-names).

usage: zoo_keys.py keys
           For each architecture: a line "arch NAME", then "name dim dim ..." for every
           state_dict entry except num_batches_tracked, then "params N" (the sum of numel
           over parameters()). The models are torchvision.models.NAME(num_classes=10),
           and for vit_tiny torchvision.models.VisionTransformer(image_size=224,
           patch_size=16, num_layers=12, num_heads=3, hidden_dim=192, mlp_dim=768,
           num_classes=10); resnet10 is torchvision.models.resnet.ResNet(BasicBlock,
           [1, 1, 1, 1], num_classes=10).

Outputs and gradients against PyTorch are checked by tests/reference/gen_models.py."""

import sys

import torch
import torchvision

ARCHS = ["resnet10", "resnet18", "resnet34", "resnet50", "mobilenet_v2", "mobilenet_v3_small",
         "mobilenet_v3_large", "efficientnet_b0", "vit_tiny"]
N_CLASSES = 10


def build(arch):
    if arch == "vit_tiny":
        return torchvision.models.VisionTransformer(
            image_size=224, patch_size=16, num_layers=12, num_heads=3, hidden_dim=192,
            mlp_dim=768, num_classes=N_CLASSES)
    if arch == "resnet10":
        return torchvision.models.resnet.ResNet(
            torchvision.models.resnet.BasicBlock, [1, 1, 1, 1], num_classes=N_CLASSES)
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


def main():
    torch.manual_seed(20261126)
    torch.set_num_threads(1)
    if len(sys.argv) == 2 and sys.argv[1] == "keys":
        keys()
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
