#!/usr/bin/python3
"""PyTorch reference of the V1GrayTaskDriven ensemble (twins.md §2), for benchmarks only.

A functional fp32 implementation written from the spec (as the fixtures were), loading the member
checkpoints with torch.load. Prints the forward time for a batch of 128 93×93 images through the
5-member ensemble (no_grad, min of 3) and the input-gradient rate (one neuron, batch 16).

Uses Debian's python3-torch (install with DN_WITH_TORCH=1 tools/setup-debian.sh); never used by the app
or its tests. Usage: tools/torch-twin-reference.py [--threads N] [--batch 128] [SHARED_DIR]
"""
import argparse
import glob
import os
import time

import torch
import torch.nn.functional as F

P = "core.features.backbone.model."


def ln_cf(x, w, b, eps=1e-6):
    u = x.mean(1, keepdim=True)
    s = (x - u).pow(2).mean(1, keepdim=True)
    return w[:, None, None] * ((x - u) / torch.sqrt(s + eps)) + b[:, None, None]


def member_forward(sd, x):
    if x.shape[1] == 1:
        x = x.repeat(1, 3, 1, 1)
    x = F.conv2d(x, sd[P + "embeddings.patch_embeddings.weight"], sd[P + "embeddings.patch_embeddings.bias"], stride=4)
    x = ln_cf(x, sd[P + "embeddings.layernorm.weight"], sd[P + "embeddings.layernorm.bias"])
    for j in range(2):
        k = P + f"encoder.stages.0.layers.{j}."
        r = x
        h = F.conv2d(x, sd[k + "dwconv.weight"], sd[k + "dwconv.bias"], padding=3, groups=40)
        h = h.permute(0, 2, 3, 1)
        h = F.layer_norm(h, (40,), sd[k + "layernorm.weight"], sd[k + "layernorm.bias"], 1e-6)
        h = F.linear(h, sd[k + "pwconv1.weight"], sd[k + "pwconv1.bias"])
        h = F.gelu(h)
        gx = torch.norm(h, p=2, dim=(1, 2), keepdim=True)
        nx = gx / (gx.mean(dim=-1, keepdim=True) + 1e-6)
        h = sd[k + "grn.weight"] * (h * nx) + sd[k + "grn.bias"] + h
        h = F.linear(h, sd[k + "pwconv2.weight"], sd[k + "pwconv2.bias"])
        x = r + h.permute(0, 3, 1, 2)
    k = P + "encoder.stages.1.downsampling_layer."
    x = ln_cf(x, sd[k + "0.weight"], sd[k + "0.bias"])
    x = F.conv2d(x, sd[k + "1.weight"], sd[k + "1.bias"], stride=2)
    b = "core.features.OutBatchNorm."
    x = F.batch_norm(x, sd[b + "running_mean"], sd[b + "running_var"], sd[b + "weight"], sd[b + "bias"], False, 0.0, 1e-5)
    x = F.gelu(x)
    feats = sd["readout.all_sessions._features"]  # (1,C,1,K)
    K = feats.shape[-1]
    grid = torch.zeros(x.shape[0], K, 1, 2)
    s = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=True)  # (N,C,K,1)
    y = (s[..., 0] * feats.view(1, -1, K)).sum(1) + sd["readout.all_sessions.bias"]
    return F.elu(y - 1) + 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("shared", nargs="?", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared"))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    files = sorted(glob.glob(os.path.join(a.shared, "dualneuron", "V1GrayTaskDriven", "*.pth.tar")))
    members = []
    for f in files:
        sd = torch.load(f, map_location="cpu")
        sd = sd.get("model_state_dict", sd.get("state_dict", sd))
        members.append({k: v.float() for k, v in sd.items()})
    g = torch.Generator().manual_seed(0)
    x = torch.randn(a.batch, 1, 93, 93, generator=g)
    x = x * 12 / x.flatten(1).norm(dim=1)[:, None, None, None]
    best = 1e9
    with torch.no_grad():
        for _ in range(a.repeats):
            t0 = time.perf_counter()
            out = torch.stack([member_forward(m, x) for m in members]).mean(0)
            best = min(best, time.perf_counter() - t0)
    print(f"torch {torch.__version__}, {a.threads} thread(s), {len(members)} members")
    print(f"forward  batch {a.batch}: {best:.3f} s  = {best / a.batch * 1e3:.2f} ms/image  = {a.batch / best:.1f} images/s")
    xg = x[:16].clone().requires_grad_(True)
    best = 1e9
    for _ in range(a.repeats):
        t0 = time.perf_counter()
        r = torch.stack([member_forward(m, xg) for m in members]).mean(0)
        (gx,) = torch.autograd.grad(r[:, 100].sum(), xg)
        best = min(best, time.perf_counter() - t0)
    print(f"gradient batch 16: {best:.3f} s  = {16 / best:.1f} images/s")
    print(f"checksum {out.sum().item():.4f}")


if __name__ == "__main__":
    main()
