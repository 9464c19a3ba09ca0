#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Writes, for each of Graft's zoo architectures, torchvision's model with random weights
(batch norm and layer norm randomised too, see gen_models.randomise) saved twice: under
torchvision's state_dict names and under the names timm's own model of that architecture
gives the same tensors, with timm's layouts. Also an input batch and torchvision's eval
output for it, computed in float64 from the float32 weights (exact to float32 rounding),
and the normalised error of PyTorch's own float32 run against it. test-reference-import
imports both files through graft_zoo_import and compares.

timm is not needed: its names are written here from its module structure (timm/models/
resnet.py, efficientnet.py, mobilenetv3.py, _efficientnet_blocks.py,
vision_transformer.py), walking torchvision's modules by their types, apart from Graft's
own tables.

usage: gen_timm.py OUTPUT.safetensors [CNN_IMAGE_SIZE] [VIT_IMAGE_SIZE] [BATCH]
names: tv.ARCH.<torchvision name>, timm.ARCH.<timm name> (num_batches_tracked included,
       as int64), input.ARCH, output.ARCH and noise.ARCH (one value)"""

import copy
import re
import sys

import torch
import torch.nn as nn
import torchvision
from torchvision.models.resnet import BasicBlock, ResNet
from torchvision.ops.misc import SqueezeExcitation

import safetensors_io
from gen_models import randomise

# architecture -> (classes, input channels): other class counts and input channels than
# ImageNet's, which the import must take from the file
CASES = {
    "resnet10": (10, 3),
    "resnet18": (10, 3),
    "resnet34": (7, 3),
    "resnet50": (10, 3),
    "mobilenet_v2": (10, 1),
    "mobilenet_v3_small": (5, 3),
    "mobilenet_v3_large": (10, 3),
    "efficientnet_b0": (10, 4),
    "vit_tiny": (10, 3),
}

# timm's arch definitions at multiplier 1.0: stages of block strings "TYPE_rREPEATS_…"
# (ds: depthwise-separable, ir: inverted residual, cn: conv-bn-act)
TIMM_ARCH_DEFS = {
    "mobilenet_v2": [
        ["ds_r1_k3_s1_c16"], ["ir_r2_k3_s2_e6_c24"], ["ir_r3_k3_s2_e6_c32"],
        ["ir_r4_k3_s2_e6_c64"], ["ir_r3_k3_s1_e6_c96"], ["ir_r3_k3_s2_e6_c160"],
        ["ir_r1_k3_s1_e6_c320"],
    ],
    "efficientnet_b0": [
        ["ds_r1_k3_s1_e1_c16_se0.25"], ["ir_r2_k3_s2_e6_c24_se0.25"],
        ["ir_r2_k5_s2_e6_c40_se0.25"], ["ir_r3_k3_s2_e6_c80_se0.25"],
        ["ir_r3_k5_s1_e6_c112_se0.25"], ["ir_r4_k5_s2_e6_c192_se0.25"],
        ["ir_r1_k3_s1_e6_c320_se0.25"],
    ],
    "mobilenet_v3_large": [
        ["ds_r1_k3_s1_e1_c16_nre"],
        ["ir_r1_k3_s2_e4_c24_nre", "ir_r1_k3_s1_e3_c24_nre"],
        ["ir_r3_k5_s2_e3_c40_se0.25_nre"],
        ["ir_r1_k3_s2_e6_c80", "ir_r1_k3_s1_e2.5_c80", "ir_r2_k3_s1_e2.3_c80"],
        ["ir_r2_k3_s1_e6_c112_se0.25"],
        ["ir_r3_k5_s2_e6_c160_se0.25"],
        ["cn_r1_k1_s1_c960"],
    ],
    "mobilenet_v3_small": [
        ["ds_r1_k3_s2_e1_c16_se0.25_nre"],
        ["ir_r1_k3_s2_e4.5_c24_nre", "ir_r1_k3_s1_e3.67_c24_nre"],
        ["ir_r1_k5_s2_e4_c40_se0.25", "ir_r2_k5_s1_e6_c40_se0.25"],
        ["ir_r2_k5_s1_e3_c48_se0.25"],
        ["ir_r3_k5_s2_e6_c96_se0.25"],
        ["cn_r1_k1_s1_c576"],
    ],
}

# the convolutions and norms of each timm block type, in forward order
TIMM_CONVS = {"ds": ["conv_dw", "conv_pw"], "ir": ["conv_pw", "conv_dw", "conv_pwl"], "cn": ["conv"]}
TIMM_NORMS = {"ds": ["bn1", "bn2"], "ir": ["bn1", "bn2", "bn3"], "cn": ["bn1"]}


def build(arch, classes, channels, vit_size):
    if arch == "vit_tiny":
        model = torchvision.models.VisionTransformer(
            image_size=vit_size, patch_size=16, num_layers=12, num_heads=3,
            hidden_dim=192, mlp_dim=768, num_classes=classes)
        model.conv_proj = nn.Conv2d(channels, 192, 16, 16)
    elif arch == "resnet10":
        model = ResNet(BasicBlock, [1, 1, 1, 1], num_classes=classes)
    else:
        model = getattr(torchvision.models, arch)(num_classes=classes)
    if arch.startswith("resnet"):
        model.conv1 = nn.Conv2d(channels, 64, 7, 2, 3, bias=False)
    elif arch != "vit_tiny":
        stem = model.features[0][0]
        model.features[0][0] = nn.Conv2d(channels, stem.out_channels, 3, 2, 1, bias=False)
    return model


def timm_blocks(arch):
    """timm's blocks in order: (blocks.S.B prefix, block type)."""
    out = []
    for s, stage in enumerate(TIMM_ARCH_DEFS[arch]):
        b = 0
        for spec in stage:
            kind = spec.split("_")[0]
            for _ in range(int(re.search(r"_r(\d+)", spec).group(1))):
                out.append((f"blocks.{s}.{b}", kind))
                b += 1
    return out


def block_layers(block):
    """A torchvision block's convolutions (outside squeeze-and-excitation), batch norms and
    squeeze-and-excitation modules, by their names inside the block, in forward order."""
    convs, norms, ses = [], [], []
    for name, module in block.named_modules():
        if isinstance(module, SqueezeExcitation):
            ses.append(name)
        elif isinstance(module, nn.Conv2d) and not any(name.startswith(se + ".") for se in ses):
            convs.append(name)
        elif isinstance(module, nn.BatchNorm2d):
            norms.append(name)
    return convs, norms, ses


def mobile_modules(arch, model):
    """torchvision module name -> timm module name for the MobileNets and EfficientNet."""
    names = {module: name for name, module in model.named_modules()}
    features = model.features
    if arch == "efficientnet_b0":
        blocks = [block for stage in features[1:-1] for block in stage]
    elif arch == "mobilenet_v2":
        blocks = list(features[1:-1])
    else:  # MobileNetV3: its last features entry is timm's last block, a conv-bn
        blocks = list(features[1:])
    timm = timm_blocks(arch)
    assert len(timm) == len(blocks), (arch, len(timm), len(blocks))

    pairs = {names[features[0][0]]: "conv_stem", names[features[0][1]]: "bn1"}
    for block, (prefix, kind) in zip(blocks, timm):
        convs, norms, ses = block_layers(block)
        assert len(convs) == len(TIMM_CONVS[kind]) and len(norms) == len(TIMM_NORMS[kind]), \
            (arch, prefix, convs, norms)
        base = names[block]
        for tv, t in zip(convs, TIMM_CONVS[kind]):
            pairs[f"{base}.{tv}"] = f"{prefix}.{t}"
        for tv, t in zip(norms, TIMM_NORMS[kind]):
            pairs[f"{base}.{tv}"] = f"{prefix}.{t}"
        for se in ses:
            pairs[f"{base}.{se}.fc1"] = f"{prefix}.se.conv_reduce"
            pairs[f"{base}.{se}.fc2"] = f"{prefix}.se.conv_expand"
    if arch.startswith("mobilenet_v3"):
        # timm pools, then a 1x1 convolution with bias (torchvision: a Linear), then the
        # classifier
        pairs[names[model.classifier[0]]] = "conv_head"
        pairs[names[model.classifier[3]]] = "classifier"
    else:
        pairs[names[features[-1][0]]] = "conv_head"
        pairs[names[features[-1][1]]] = "bn2"
        pairs[names[model.classifier[1]]] = "classifier"
    return pairs


def vit_modules(model):
    pairs = {"class_token": "cls_token", "encoder.pos_embedding": "pos_embed",
             "conv_proj": "patch_embed.proj", "encoder.ln": "norm", "heads.head": "head"}
    for i in range(len(model.encoder.layers)):
        tv, t = f"encoder.layers.encoder_layer_{i}", f"blocks.{i}"
        pairs.update({
            f"{tv}.ln_1": f"{t}.norm1",
            # timm's fused qkv is nn.MultiheadAttention's in_proj: q, k, v stacked
            f"{tv}.self_attention.in_proj_weight": f"{t}.attn.qkv.weight",
            f"{tv}.self_attention.in_proj_bias": f"{t}.attn.qkv.bias",
            f"{tv}.self_attention.out_proj": f"{t}.attn.proj",
            f"{tv}.ln_2": f"{t}.norm2",
            f"{tv}.mlp.0": f"{t}.mlp.fc1",
            f"{tv}.mlp.3": f"{t}.mlp.fc2",
        })
    return pairs


def timm_state(arch, model):
    """The state dict under timm's names and in timm's layouts."""
    state = model.state_dict()
    if arch.startswith("resnet"):
        return dict(state)  # timm's ResNet names its tensors as torchvision does
    pairs = vit_modules(model) if arch == "vit_tiny" else mobile_modules(arch, model)
    out = {}
    for name, value in state.items():
        prefix = name
        while prefix not in pairs:
            assert "." in prefix, f"{arch}: no timm name for {name}"
            prefix = prefix.rsplit(".", 1)[0]
        new = pairs[prefix] + name[len(prefix):]
        if arch.startswith("mobilenet_v3") and pairs[prefix] == "conv_head" and value.dim() == 2:
            value = value.reshape(*value.shape, 1, 1)
        assert new not in out, f"{arch}: two tensors named {new}"
        out[new] = value
    assert len(out) == len(state)
    return out


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    out_path = sys.argv[1]
    cnn_size = int(sys.argv[2]) if len(sys.argv) > 2 else 64
    vit_size = int(sys.argv[3]) if len(sys.argv) > 3 else 48
    batch = int(sys.argv[4]) if len(sys.argv) > 4 else 2
    torch.manual_seed(20261127)
    torch.set_num_threads(1)

    out = {}
    for arch, (classes, channels) in CASES.items():
        model = build(arch, classes, channels, vit_size)
        randomise(model)
        model.eval()
        for name, value in model.state_dict().items():
            out[f"tv.{arch}.{name}"] = value.clone()
        for name, value in timm_state(arch, model).items():
            out[f"timm.{arch}.{name}"] = value.clone()

        size = vit_size if arch == "vit_tiny" else cnn_size
        x = torch.randn(batch, channels, size, size)
        with torch.no_grad():
            want = copy.deepcopy(model).double()(x.double())
            got32 = model(x)
        out[f"input.{arch}"] = x
        out[f"output.{arch}"] = want.float()
        noise = (got32.double() - want).norm().item() / max(want.norm().item(), 1e-30)
        out[f"noise.{arch}"] = torch.tensor([noise], dtype=torch.float32)

    safetensors_io.save(out, out_path, metadata={"torch": torch.__version__,
                                                 "torchvision": torchvision.__version__})


if __name__ == "__main__":
    main()
