#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Writes PyTorch's answers for Graft's ops into one safetensors file: for each case the
inputs, the outputs, an output gradient and the input gradients autograd computes.
test-reference-ops loads the inputs, runs Graft's op on each backend and compares.

usage: gen_ops.py OUTPUT.safetensors"""

import sys

import torch
import torch.nn.functional as F

import safetensors_io

torch.manual_seed(20261126)
torch.set_num_threads(1)

ACTIVATIONS = {
    "relu": F.relu,
    "relu6": F.relu6,
    "silu": F.silu,
    "hardswish": F.hardswish,
    "hardsigmoid": F.hardsigmoid,
    "sigmoid": torch.sigmoid,
    "gelu": F.gelu,  # exact erf form, PyTorch's default
}


def activation_cases(out):
    # Wide random values plus every kink and boundary each function has.
    special = torch.tensor([0.0, 6.0, -3.0, 3.0, 1e-3, -1e-3, 5.999, 6.001, -2.999, 2.999,
                            -20.0, 20.0, -90.0, 90.0])
    x = torch.cat([torch.randn(4093) * 4.0, special])
    dy = torch.randn_like(x)
    for name, fn in ACTIVATIONS.items():
        xi = x.clone().requires_grad_(True)
        y = fn(xi)
        (dx,) = torch.autograd.grad(y, xi, dy)
        out[f"activation.{name}.x"] = x
        out[f"activation.{name}.y"] = y.detach()
        out[f"activation.{name}.dy"] = dy
        out[f"activation.{name}.dx"] = dx


def linear_cases(out):
    # Odd sizes, so no kernel tile divides them.
    x = torch.randn(37, 53, requires_grad=True)
    w = torch.randn(29, 53, requires_grad=True)
    b = torch.randn(29, requires_grad=True)
    y = F.linear(x, w, b)
    dy = torch.randn_like(y)
    dx, dw, db = torch.autograd.grad(y, (x, w, b), dy)
    for name, value in (("x", x), ("weight", w), ("bias", b), ("y", y), ("dy", dy),
                        ("dx", dx), ("dweight", dw), ("dbias", db)):
        out[f"linear.{name}"] = value.detach()


# name -> (function of x, input shape); test-reference-ops.c holds the same parameters.
POOL_CASES = {
    "max_k3s2p1": (lambda x: F.max_pool2d(x, 3, 2, 1), (2, 3, 11, 13)),
    "max_k3s2_ceil": (lambda x: F.max_pool2d(x, 3, 2, 0, ceil_mode=True), (2, 3, 10, 10)),
    "max_k2s1_dil2": (lambda x: F.max_pool2d(x, 2, 1, 1, dilation=2), (1, 2, 7, 9)),
    "avg_k3s2p1": (lambda x: F.avg_pool2d(x, 3, 2, 1), (2, 3, 11, 13)),
    "avg_k3s2p1_nopad": (lambda x: F.avg_pool2d(x, 3, 2, 1, count_include_pad=False), (2, 3, 11, 13)),
    "avg_k3s2_ceil": (lambda x: F.avg_pool2d(x, 3, 2, 0, ceil_mode=True), (2, 3, 10, 10)),
    "adaptive_1x1": (lambda x: F.adaptive_avg_pool2d(x, 1), (2, 5, 7, 7)),
    "adaptive_3x5": (lambda x: F.adaptive_avg_pool2d(x, (3, 5)), (2, 3, 11, 13)),
}


def pool_cases(out):
    for name, (fn, shape) in POOL_CASES.items():
        x = torch.randn(*shape, requires_grad=True)
        y = fn(x)
        dy = torch.randn_like(y)
        (dx,) = torch.autograd.grad(y, x, dy)
        out[f"pool.{name}.x"] = x.detach()
        out[f"pool.{name}.y"] = y.detach()
        out[f"pool.{name}.dy"] = dy
        out[f"pool.{name}.dx"] = dx


def norm_cases(out):
    x = torch.randn(4, 6, 5, 7) * 3.0 + 1.5
    weight = torch.rand(6) + 0.5
    bias = torch.randn(6)
    running_mean = torch.randn(6) * 0.1
    running_var = torch.rand(6) + 0.5
    for mode in ("train", "eval"):
        xi = x.clone().requires_grad_(True)
        wi = weight.clone().requires_grad_(True)
        bi = bias.clone().requires_grad_(True)
        rm, rv = running_mean.clone(), running_var.clone()
        y = F.batch_norm(xi, rm, rv, wi, bi, training=(mode == "train"), momentum=0.1, eps=1e-5)
        dy = torch.randn_like(y)
        dx, dw, db = torch.autograd.grad(y, (xi, wi, bi), dy)
        prefix = f"batch_norm.{mode}"
        for name, value in (("x", x), ("weight", weight), ("bias", bias),
                            ("running_mean", running_mean), ("running_var", running_var),
                            ("y", y), ("dy", dy), ("dx", dx), ("dweight", dw), ("dbias", db),
                            ("new_running_mean", rm), ("new_running_var", rv)):
            out[f"{prefix}.{name}"] = value.detach()

    x = torch.randn(9, 33, requires_grad=True)
    w = (torch.rand(33) + 0.5).requires_grad_(True)
    b = torch.randn(33, requires_grad=True)
    y = F.layer_norm(x, (33,), w, b, eps=1e-6)
    dy = torch.randn_like(y)
    dx, dw, db = torch.autograd.grad(y, (x, w, b), dy)
    for name, value in (("x", x), ("weight", w), ("bias", b), ("y", y), ("dy", dy),
                        ("dx", dx), ("dweight", dw), ("dbias", db)):
        out[f"layer_norm.{name}"] = value.detach()


def cross_entropy_cases(out):
    logits = torch.randn(17, 10) * 4.0
    target = torch.randint(0, 10, (17,))
    weight = torch.rand(10) + 0.25
    for name, w, eps in (("plain", None, 0.0), ("weighted_smooth", weight, 0.1)):
        x = logits.clone().requires_grad_(True)
        loss = F.cross_entropy(x, target, weight=w, label_smoothing=eps)
        (dlogits,) = torch.autograd.grad(loss, x)
        per_sample = F.cross_entropy(logits, target, weight=w, label_smoothing=eps,
                                     reduction="none")
        out[f"cross_entropy.{name}.logits"] = logits
        out[f"cross_entropy.{name}.target"] = target.float()
        if w is not None:
            out[f"cross_entropy.{name}.weight"] = w
        out[f"cross_entropy.{name}.loss"] = loss.detach().reshape(1)
        out[f"cross_entropy.{name}.losses"] = per_sample
        out[f"cross_entropy.{name}.dlogits"] = dlogits


def optimizer_cases(out):
    """Three steps of each optimizer on one parameter with fixed gradients."""
    start = torch.randn(101)
    grads = [torch.randn(101) for _ in range(3)]
    optimizers = {
        "sgd": lambda p: torch.optim.SGD([p], lr=0.05, momentum=0.9, nesterov=True,
                                         weight_decay=1e-3),
        "adamw": lambda p: torch.optim.AdamW([p], lr=0.01, betas=(0.9, 0.999), eps=1e-8,
                                             weight_decay=0.05),
    }
    for name, make in optimizers.items():
        p = torch.nn.Parameter(start.clone())
        opt = make(p)
        out[f"optim.{name}.param0"] = start
        for step, g in enumerate(grads, 1):
            p.grad = g.clone()
            opt.step()
            out[f"optim.{name}.grad{step}"] = g
            out[f"optim.{name}.param{step}"] = p.detach().clone()


# name -> (input shape, weight shape, stride, padding, dilation, groups, bias);
# test-reference-ops.c holds the same parameters.
CONV_CASES = {
    "stem_7x7_s2": ((2, 3, 23, 19), (8, 3, 7, 7), 2, 3, 1, 1, False),
    "3x3_bias": ((2, 5, 9, 11), (7, 5, 3, 3), 1, 1, 1, 1, True),
    "1x1_s2": ((1, 6, 8, 8), (4, 6, 1, 1), 2, 0, 1, 1, False),
    "grouped_dilated": ((2, 4, 10, 9), (6, 2, 3, 3), 1, 2, 2, 2, True),
    "depthwise_s2": ((2, 6, 11, 11), (6, 1, 3, 3), 2, 1, 1, 6, False),
}


def conv_cases(out):
    for name, (xs, ws, stride, pad, dil, groups, with_bias) in CONV_CASES.items():
        x = torch.randn(*xs, requires_grad=True)
        w = (torch.randn(*ws) * 0.3).requires_grad_(True)
        b = torch.randn(ws[0], requires_grad=True) if with_bias else None
        y = F.conv2d(x, w, b, stride=stride, padding=pad, dilation=dil, groups=groups)
        dy = torch.randn_like(y)
        inputs = (x, w, b) if with_bias else (x, w)
        grads = torch.autograd.grad(y, inputs, dy)
        values = [("x", x), ("weight", w), ("y", y), ("dy", dy), ("dx", grads[0]),
                  ("dweight", grads[1])]
        if with_bias:
            values += [("bias", b), ("dbias", grads[2])]
        for key, value in values:
            out[f"conv.{name}.{key}"] = value.detach()


def attention_cases(out):
    """Multi-head self-attention between nn.MultiheadAttention's in- and out-projection
    (batch_first=True, dropout 0), written with matmul and softmax in float64 from the
    float32 inputs; checked here against torch's own module on the same projections."""
    n, l, e, heads = 2, 11, 24, 3
    d = e // heads
    qkv = torch.randn(n, l, 3 * e) * 1.5
    dout = torch.randn(n, l, e)

    def attend(packed):
        q, k, v = packed.split(e, dim=-1)
        q, k, v = (t.reshape(n, l, heads, d).transpose(1, 2) for t in (q, k, v))
        probs = torch.softmax(q @ k.transpose(-1, -2) / d ** 0.5, dim=-1)
        return probs, (probs @ v).transpose(1, 2).reshape(n, l, e)

    x = qkv.double().requires_grad_(True)
    probs, y = attend(x)
    (dx,) = torch.autograd.grad((y * dout.double()).sum(), x)

    # The same formula through nn.MultiheadAttention: its in-projection of some tokens
    # fed to attend() and then out_proj must give the module's output.
    mha = torch.nn.MultiheadAttention(e, heads, batch_first=True).double().eval()
    tokens = torch.randn(n, l, e, dtype=torch.float64)
    with torch.no_grad():
        want, _ = mha(tokens, tokens, tokens, need_weights=False)
        _, mine = attend(F.linear(tokens, mha.in_proj_weight, mha.in_proj_bias))
        mine = mha.out_proj(mine)
    assert torch.allclose(mine, want, atol=1e-10), "attention differs from nn.MultiheadAttention"

    out["attention.qkv"] = qkv
    out["attention.dout"] = dout
    out["attention.probs"] = probs.detach().float()
    out["attention.out"] = y.detach().float()
    out["attention.dqkv"] = dx.float()


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = {}
    activation_cases(out)
    linear_cases(out)
    pool_cases(out)
    conv_cases(out)
    norm_cases(out)
    cross_entropy_cases(out)
    optimizer_cases(out)
    attention_cases(out)
    safetensors_io.save(out, sys.argv[1], metadata={"torch": torch.__version__})


if __name__ == "__main__":
    main()
