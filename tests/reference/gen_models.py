#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Writes PyTorch's answers for one of Graft's zoo architectures: torchvision's model with
random weights (batch-norm statistics and affine parameters randomised too, so that no
layer is an identity), an input batch and targets, the output in eval mode, the output,
cross-entropy loss, every parameter's gradient and the updated running statistics in
train mode. test-reference-models loads the weights by name into Graft's model and
compares on each backend.

Dropout and stochastic depth are switched off in train mode (Graft's random draws are
not PyTorch's); everything else is torchvision's module as it is.

The answers are computed in float64 from the float32 weights and input, so they are
exact to float32 rounding. A deep network with batch statistics and ReLU kinks is
ill-conditioned: PyTorch's own float32 gradients can stray from these by 1e-3 or more.
For each answer the file also holds that float32 run's normalised error against it
("noise.<name>", one value), and the test lets Graft stray by a small multiple of it.

usage: gen_models.py OUTPUT.safetensors ARCH [IMAGE_SIZE] [BATCH] [STEPS]
names: weights.<state_dict key>, input, target, eval.output, train.output, train.loss,
       grad.<parameter>, after.<running statistic>, and noise.<each answer's name>;
       with STEPS > 0 also, over STEPS training steps on the same batch (SGD with momentum
       0.9, lr 1e-3 and weight decay 1e-4 for the CNNs, AdamW with lr 1e-3 for the Vision
       Transformer), steps.loss_change [STEPS - 1] (each later step's loss minus the first
       one's) and steps.update.<classifier weight> (its change over all the steps)"""

import copy

import sys

import torch
import torch.nn.functional as F
import torchvision
from torchvision.ops import StochasticDepth

import safetensors_io

CLASSES = 10


def build(arch, image_size):
    if arch == "vit_tiny":
        return torchvision.models.VisionTransformer(
            image_size=image_size, patch_size=16, num_layers=12, num_heads=3,
            hidden_dim=192, mlp_dim=768, num_classes=CLASSES)
    return getattr(torchvision.models, arch)(num_classes=CLASSES)


def randomise(model):
    gen = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                c = module.num_features
                module.running_mean.copy_(torch.randn(c, generator=gen) * 0.1)
                module.running_var.copy_(torch.rand(c, generator=gen) + 0.5)
                module.weight.copy_(torch.rand(c, generator=gen) + 0.5)
                module.bias.copy_(torch.randn(c, generator=gen) * 0.1)
            elif isinstance(module, torch.nn.LayerNorm):
                d = module.normalized_shape[0]
                module.weight.copy_(torch.rand(d, generator=gen) + 0.5)
                module.bias.copy_(torch.randn(d, generator=gen) * 0.1)
        for name, param in model.named_parameters():
            if name == "class_token" or name.endswith("in_proj_bias") or \
               name.endswith("out_proj.bias") or name.startswith("heads.head") or \
               name.startswith("fc.") or name.startswith("classifier"):
                # torchvision starts these at zero (or nearly); give them values
                param.copy_(torch.randn(param.shape, generator=gen) * 0.05)


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    out_path, arch = sys.argv[1], sys.argv[2]
    image_size = int(sys.argv[3]) if len(sys.argv) > 3 else 64
    batch = int(sys.argv[4]) if len(sys.argv) > 4 else 2
    n_steps = int(sys.argv[5]) if len(sys.argv) > 5 else 0
    torch.manual_seed(20261126)
    torch.set_num_threads(1)

    model = build(arch, image_size)
    randomise(model)
    out = {}
    for name, value in model.state_dict().items():
        if not name.endswith("num_batches_tracked"):
            out["weights." + name] = value.clone()

    x = torch.randn(batch, 3, image_size, image_size)
    target = torch.randint(0, CLASSES, (batch,))
    out["input"] = x
    out["target"] = target.float()

    answers, noise = {}, {}
    model64 = copy.deepcopy(model).double()
    for precision, net in (("float32", model), ("float64", model64)):
        xp = x.to(next(net.parameters()).dtype)
        got = {}
        net.eval()
        with torch.no_grad():
            got["eval.output"] = net(xp)
        net.train()
        for module in net.modules():
            if isinstance(module, (torch.nn.Dropout, StochasticDepth)):
                module.p = 0.0
        y = net(xp)
        loss = F.cross_entropy(y, target)
        loss.backward()
        got["train.output"] = y.detach()
        got["train.loss"] = loss.detach().reshape(1)
        for name, param in net.named_parameters():
            got["grad." + name] = param.grad.clone()
        for name, value in net.state_dict().items():
            if "running_" in name:
                got["after." + name] = value.clone()
        if n_steps > 0:
            if arch == "vit_tiny":
                opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
            else:
                opt = torch.optim.SGD(net.parameters(), lr=1e-3, momentum=0.9, weight_decay=1e-4)
            head = [n for n, p in net.named_parameters() if p.dim() == 2][-1]
            head_before = net.get_parameter(head).detach().clone()
            losses = [loss.detach()]
            opt.step()
            for _ in range(n_steps - 1):
                opt.zero_grad()
                step_loss = F.cross_entropy(net(xp), target)
                step_loss.backward()
                opt.step()
                losses.append(step_loss.detach())
            losses = torch.stack(losses)
            got["steps.loss_change"] = losses[1:] - losses[0]
            got["steps.update." + head] = net.get_parameter(head).detach() - head_before
        if precision == "float32":
            answers32 = got
        else:
            answers = got

    # normalised errors, with the gradients' norms floored at 1e-4 of the largest one:
    # a gradient that is zero in exact arithmetic (a bias before a train-mode batch norm
    # cancels out) is rounding noise on any machine
    grad_floor = 1e-4 * max(v.norm().item() for k, v in answers.items() if k.startswith("grad."))
    for name, want in answers.items():
        floor = grad_floor if name.startswith("grad.") else 0.0
        diff = (answers32[name].double() - want).norm().item()
        noise[name] = diff / max(want.norm().item(), floor, 1e-30)

    for name, want in answers.items():
        out[name] = want.float()
    for name, value in noise.items():
        out["noise." + name] = torch.tensor([value], dtype=torch.float32)
    out["grad_floor"] = torch.tensor([grad_floor], dtype=torch.float32)

    safetensors_io.save(out, out_path, metadata={"torch": torch.__version__,
                                                 "torchvision": torchvision.__version__})


if __name__ == "__main__":
    main()
