#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Writes PyTorch's answers for adapting pre-trained weights to another task, for
test-reference-adapt: a torchvision model with random weights (the source, ImageNet's
1000 classes), adapted the way a PyTorch user does it, and the adapted model's eval
output on an input batch.

  - the head: model.fc = nn.Linear (features, classes), or the MLP
    nn.Sequential (nn.Linear (features, hidden), nn.ReLU (), nn.Dropout (p),
    nn.Linear (hidden, classes)), in place of the final linear layer (fc, classifier.3,
    heads.head), freshly initialised; its weights are written so that Graft can use the
    same ones;
  - the input channels: the first convolution's weight as timm's adapt_input_conv fits it
    (summed over the channels for one channel; otherwise repeated in turn and scaled by
    source channels / target channels, which timm does from 3 channels and which gives
    a one-channel source's weight a third to each of 3 channels);
  - the image size: the Vision Transformer's position embeddings through torchvision's
    vision_transformer.interpolate_embeddings.

usage: gen_adapt.py OUTPUT.safetensors CASE
names: source.<state_dict key> (the weights before), adapted.<key> (after, head
       included), head.<key> (the new head's tensors), input, eval.output (in float64 from
       the float32 weights, exact to float32 rounding) and noise.eval.output (PyTorch's own
       float32 run's normalised error against it)"""

import copy
import math
import sys

import torch
import torchvision
from torchvision.models.vision_transformer import interpolate_embeddings

import safetensors_io
from gen_models import randomise

BATCH = 2

# arch, source channels, target channels, target image size, classes, head
# ("linear" or ("mlp", hidden, dropout)); the source is at 224 pixels with 1000 classes
CASES = {
    "resnet18-linear": ("resnet18", 3, 3, 64, 5, "linear"),
    "resnet18-mlp": ("resnet18", 3, 3, 64, 5, ("mlp", 32, 0.2)),
    "resnet18-grey": ("resnet18", 3, 1, 64, 5, "linear"),
    "resnet18-from-grey": ("resnet18", 1, 3, 64, 5, "linear"),
    "resnet18-four": ("resnet18", 3, 4, 64, 5, "linear"),
    "mobilenet_v3_small-grey": ("mobilenet_v3_small", 3, 1, 64, 7, ("mlp", 48, 0.1)),
    "mobilenet_v3_small-from-grey": ("mobilenet_v3_small", 1, 3, 64, 7, "linear"),
    "vit_tiny-128": ("vit_tiny", 3, 3, 128, 5, "linear"),
}


def first_conv_name(arch):
    if arch.startswith("resnet"):
        return "conv1"
    if arch.startswith("vit"):
        return "conv_proj"
    return "features.0.0"


def classifier_name(arch):
    return {"resnet18": "fc", "mobilenet_v3_small": "classifier.3", "vit_tiny": "heads.head"}[arch]


def build(arch, channels, image_size, classes):
    """torchvision's model with its first convolution reading @channels channels."""
    if arch == "vit_tiny":
        model = torchvision.models.VisionTransformer(
            image_size=image_size, patch_size=16, num_layers=12, num_heads=3,
            hidden_dim=192, mlp_dim=768, num_classes=classes)
    else:
        model = getattr(torchvision.models, arch)(num_classes=classes)
    if channels != 3:
        parent_name, _, child = first_conv_name(arch).rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        old = getattr(parent, child)
        setattr(parent, child, torch.nn.Conv2d(
            channels, old.out_channels, old.kernel_size, old.stride, old.padding,
            bias=old.bias is not None))
    return model


def set_head(model, arch, features, classes, head):
    if head == "linear":
        new = torch.nn.Linear(features, classes)
    else:
        _, hidden, p = head
        new = torch.nn.Sequential(torch.nn.Linear(features, hidden), torch.nn.ReLU(),
                                  torch.nn.Dropout(p), torch.nn.Linear(hidden, classes))
    parent_name, _, child = classifier_name(arch).rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    old = getattr(parent, child)
    assert old.in_features == features
    setattr(parent, child, new)
    return new


def adapt_input_conv(in_chans, weight):
    """timm's adapt_input_conv for any source channel count."""
    _, channels, _, _ = weight.shape
    if in_chans == 1:
        return weight.sum(dim=1, keepdim=True)
    repeat = int(math.ceil(in_chans / channels))
    weight = weight.repeat(1, repeat, 1, 1)[:, :in_chans, :, :]
    return weight * (channels / float(in_chans))


def main():
    if len(sys.argv) != 3 or sys.argv[2] not in CASES:
        sys.exit(__doc__ + "\ncases: " + ", ".join(CASES))
    out_path, case = sys.argv[1], sys.argv[2]
    arch, src_channels, dst_channels, image_size, classes, head = CASES[case]
    torch.manual_seed(20261127)
    torch.set_num_threads(1)

    source = build(arch, src_channels, 224, 1000)
    randomise(source)
    source_state = {k: v.clone() for k, v in source.state_dict().items()
                    if not k.endswith("num_batches_tracked")}

    # the user's side: the adapted state dict loaded into the model for their task
    state = copy.deepcopy(source_state)
    conv = first_conv_name(arch) + ".weight"
    if dst_channels != src_channels:
        state[conv] = adapt_input_conv(dst_channels, state[conv])
    if arch == "vit_tiny":
        state = interpolate_embeddings(image_size, 16, state)
    target = build(arch, dst_channels, image_size, 1000)
    features = target.get_submodule(classifier_name(arch)).in_features
    torch.manual_seed(5)
    new_head = set_head(target, arch, features, classes, head)
    prefix = classifier_name(arch) + "."
    for name in list(state):
        if name.startswith(prefix):
            del state[name]
    for name, value in new_head.state_dict().items():
        state[prefix + name] = value.clone()
    missing, unexpected = target.load_state_dict(state, strict=False)
    assert not unexpected and all(k.endswith("num_batches_tracked") for k in missing), \
        (missing, unexpected)

    out = {}
    for name, value in source_state.items():
        out["source." + name] = value
    for name, value in target.state_dict().items():
        if not name.endswith("num_batches_tracked"):
            out["adapted." + name] = value.clone()
    for name, value in new_head.state_dict().items():
        out["head." + prefix + name] = value.clone()

    x = torch.randn(BATCH, dst_channels, image_size, image_size)
    out["input"] = x
    target.eval()
    target64 = copy.deepcopy(target).double()
    with torch.no_grad():
        got32 = target(x)
        want = target64(x.double())
    out["eval.output"] = want.float()
    noise = (got32.double() - want).norm().item() / max(want.norm().item(), 1e-30)
    out["noise.eval.output"] = torch.tensor([noise], dtype=torch.float32)

    safetensors_io.save(out, out_path, metadata={"torch": torch.__version__,
                                                 "torchvision": torchvision.__version__})


if __name__ == "__main__":
    main()
