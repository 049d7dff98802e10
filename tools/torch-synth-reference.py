#!/usr/bin/python3
"""PyTorch reference of one V1 pixel-ascent step (twins.md §6.1, DualNeuron's v1_params), for benchmarks.

Written from the spec, like the fixtures: sigmoid range, reflect pad, torchvision roi_align (aligned,
adaptive sampling), the antialiased bicubic resize (identity at 93→93, kept because DualNeuron calls it),
crop noise, change_norm to 12, the 5-member centered V1 ensemble (the functional model of
tools/torch-twin-reference.py), the TV term, the Gaussian blur of the parameter gradient, SGD with
momentum 0.9 under the cosine schedule, the alpha map, and the clean-image evaluation. One job (batch 1),
as DualNeuron runs it. Prints the seconds per step (min, mean and median over --steps after one warm-up step)
and the projection for a 128-step pole.

Uses Debian's python3-torch (1.13) with torchvision; never used by the app or its tests.
Usage: tools/torch-synth-reference.py [--model DIR] [--steps 6] [--threads 1] [--neuron 100]
"""
import argparse
import glob
import importlib.util
import math
import os
import time

import torch
import torch.nn.functional as F
import torchvision.transforms.functional as TF
from torchvision.ops import roi_align

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("twinref", os.path.join(HERE, "torch-twin-reference.py"))
twinref = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(twinref)


def change_norm(x, target):
    return x * target / (x.flatten(1).norm(dim=1)[:, None, None, None] + 1e-8)


def create_crops(img, n_crops, jitter=0.05, box=(1.0, 1.0), pad_frac=0.05):
    _, H, W = img.shape
    pad = int(pad_frac * min(H, W))
    padded = F.pad(img[None], (pad, pad, pad, pad), mode="reflect")
    cx = 0.5 + torch.randn(n_crops) * jitter
    cy = 0.5 + torch.randn(n_crops) * jitter
    sc = torch.rand(n_crops) * (box[1] - box[0]) + box[0]
    Wp, Hp = W + 2 * pad, H + 2 * pad
    x1 = (cx * W + pad - sc * W / 2).clamp(0, Wp)
    x2 = (cx * W + pad + sc * W / 2).clamp(0, Wp)
    y1 = (cy * H + pad - sc * H / 2).clamp(0, Hp)
    y2 = (cy * H + pad + sc * H / 2).clamp(0, Hp)
    boxes = torch.stack([torch.zeros(n_crops), x1, y1, x2, y2], 1)
    crops = roi_align(padded, boxes, output_size=(H, W), spatial_scale=1.0, sampling_ratio=-1, aligned=True)
    return F.interpolate(crops, (H, W), mode="bicubic", align_corners=False, antialias=True)


def tv(img, weight=1e-4):
    dx = img[:, :, 1:] - img[:, :, :-1]
    dy = img[:, 1:, :] - img[:, :-1, :]
    return weight * torch.sqrt((dx ** 2).sum() + (dy ** 2).sum() + 1e-8)


def main():
    ap = argparse.ArgumentParser()
    default_model = os.path.join(HERE, "..", "..", "shared", "dualneuron", "V1GrayTaskDriven")
    ap.add_argument("--model", default=os.environ.get("DN_SHARED_DIR", "") and os.path.join(
        os.environ["DN_SHARED_DIR"], "dualneuron", "V1GrayTaskDriven") or default_model)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--neuron", type=int, default=100)
    ap.add_argument("--pole-steps", type=int, default=128)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    members = []
    for f in sorted(glob.glob(os.path.join(a.model, "*.pth.tar"))):
        sd = torch.load(f, map_location="cpu")
        sd = sd.get("model_state_dict", sd.get("state_dict", sd))
        members.append({k: v.float() for k, v in sd.items()})
    if not members:
        raise SystemExit(f"no checkpoints in {a.model}")

    def ensemble(x):
        return torch.stack([twinref.member_forward(m, x) for m in members]).mean(0)

    T, lr, w, n_crops = a.pole_steps, 0.05, 1.0, 4
    theta = (torch.randn(1, 93, 93) * 0.05).requires_grad_(True)
    opt = torch.optim.SGD([theta], lr=lr, momentum=0.9)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=T)
    alpha = torch.zeros(3, 93, 93)
    times, acts = [], []
    for t in range(a.steps + 1):
        t0 = time.perf_counter()
        opt.zero_grad()
        img = torch.sigmoid(theta) * 2 - 1
        img.retain_grad()
        crops = create_crops(img, n_crops)
        crops = crops + 0.05 * torch.randn_like(crops)
        crops = change_norm(crops, 12.0)
        loss = -w * ensemble(crops)[:, a.neuron].mean() + tv(img)
        loss.backward()
        theta.grad = TF.gaussian_blur(theta.grad, [5, 5], [1.5, 1.5])
        alpha += img.grad.abs()
        opt.step()
        sched.step()
        with torch.no_grad():
            clean = change_norm((torch.sigmoid(theta) * 2 - 1)[None], 12.0)
            acts.append(abs(w * ensemble(clean)[0, a.neuron].item()))
        if t > 0:  # the first step warms up
            times.append(time.perf_counter() - t0)
    best, mean = min(times), sum(times) / len(times)
    srt = sorted(times)
    median = 0.5 * (srt[(len(srt) - 1) // 2] + srt[len(srt) // 2])
    print(f"torch {torch.__version__}, {a.threads} thread(s), {len(members)} members, neuron {a.neuron}")
    print(f"activations: {', '.join(f'{v:.4f}' for v in acts)}")
    print(f"seconds per step: {best:.4f}")
    print(f"mean seconds per step: {mean:.4f}")
    print(f"median seconds per step: {median:.4f}")
    print(f"projected per pole ({T} steps, median step): {median * T:.2f} s")


if __name__ == "__main__":
    main()
