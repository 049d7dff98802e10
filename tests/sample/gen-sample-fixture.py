#!/usr/bin/env python3
"""gen-sample-fixture.py: writes data/sample_torch.h5, the PyTorch ground truth of the sample op family
(grid_sample, F.interpolate bilinear / nearest / bicubic-antialias, torchvision roi_align), forward and
backward, for the tests in tests/sample/. Run with Debian's python3-torch + python3-torchvision +
python3-h5py (torch 1.13.1, torchvision 0.14.1):  /usr/bin/python3 tests/sample/gen-sample-fixture.py

Layout: /<op>/<case>/{inputs..., out, dout, d<input>...} as float32 with the op's parameters as attributes;
root attributes magic="dualneuron-sample-fixture", version=1, torch, torchvision.
SPDX-License-Identifier: MIT
"""
import os

import h5py
import numpy as np
import torch
import torch.nn.functional as F
import torchvision

torch.set_num_threads(1)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "sample_torch.h5")


def put(g, name, t):
    g.create_dataset(name, data=t.detach().cpu().numpy().astype(np.float32))


def grid_sample_cases(f):
    root = f.create_group("grid_sample")
    cases = [
        # (N, C, H, W, Ho, Wo, align, lo, hi)
        (2, 3, 7, 13, 5, 3, False, -1.3, 1.3),
        (2, 3, 7, 13, 5, 3, True, -1.3, 1.3),
        (1, 2, 1, 1, 2, 3, False, -1.5, 1.5),
        (1, 2, 1, 1, 2, 3, True, -1.5, 1.5),
        (1, 8, 11, 11, 17, 1, True, -1.0, 1.0),  # readout-like
        (1, 1, 3, 93, 7, 13, False, -1.1, 1.1),
    ]
    gen = torch.Generator().manual_seed(1)
    for i, (N, C, H, W, Ho, Wo, align, lo, hi) in enumerate(cases):
        g = root.create_group("case%d" % i)
        g.attrs["align_corners"] = int(align)
        inp = torch.randn(N, C, H, W, generator=gen, requires_grad=True)
        grid = (torch.rand(N, Ho, Wo, 2, generator=gen) * (hi - lo) + lo)
        flat = grid.view(-1)
        # a few exact edge/centre coordinates (the bilinear weights' conventions at integer pixels)
        special = torch.tensor([-1.0, 1.0, 0.0, -1.0, 1.0, 1.0])
        flat[: min(len(special), flat.numel())] = special[: flat.numel()]
        grid.requires_grad_(True)
        out = F.grid_sample(inp, grid, mode="bilinear", padding_mode="zeros", align_corners=align)
        dout = torch.randn(out.shape, generator=gen)
        out.backward(dout)
        for name, t in [("inp", inp), ("grid", grid), ("out", out), ("dout", dout), ("dinp", inp.grad),
                        ("dgrid", grid.grad)]:
            put(g, name, t)


def resize_cases(f):
    root = f.create_group("resize")
    shapes = {
        "bilinear": [((1, 2, 7, 13), (3, 29)), ((2, 1, 13, 7), (13, 7)), ((1, 1, 1, 1), (5, 3)),
                     ((1, 1, 45, 93), (7, 13)), ((1, 1, 7, 5), (93, 1)), ((1, 2, 3, 2), (1, 7))],
        "nearest": [((1, 2, 7, 13), (3, 29)), ((1, 1, 17, 67), (2, 8)), ((1, 1, 2, 8), (17, 67)),
                    ((1, 1, 8, 33), (2, 8)), ((1, 1, 2, 8), (8, 33)), ((1, 1, 5, 5), (10, 10)),
                    ((1, 1, 93, 29), (13, 7)), ((1, 1, 3, 7), (93, 29)),
                    ((1, 1, 2, 3), (82, 123))],
        "bicubic_aa": [((1, 2, 7, 13), (7, 13)), ((1, 2, 7, 13), (3, 29)), ((1, 1, 93, 61), (13, 31)),
                       ((1, 1, 5, 7), (93, 1)), ((1, 1, 101, 45), (93, 41)), ((1, 1, 13, 13), (93, 41)),
                       ((1, 1, 1, 3), (2, 1))],
    }
    gen = torch.Generator().manual_seed(2)
    for mode, lst in shapes.items():
        mg = root.create_group(mode)
        aligns = [False, True] if mode == "bilinear" else [False]
        k = 0
        for (ishape, osize) in lst:
            for align in aligns:
                g = mg.create_group("case%d" % k)
                k += 1
                g.attrs["align_corners"] = int(align)
                inp = torch.randn(ishape, generator=gen, requires_grad=True)
                if mode == "bilinear":
                    out = F.interpolate(inp, size=osize, mode="bilinear", align_corners=align, antialias=False)
                elif mode == "nearest":
                    out = F.interpolate(inp, size=osize, mode="nearest")
                else:
                    out = F.interpolate(inp, size=osize, mode="bicubic", align_corners=False, antialias=True)
                dout = torch.randn(out.shape, generator=gen)
                out.backward(dout)
                for name, t in [("inp", inp), ("out", out), ("dout", dout), ("dinp", inp.grad)]:
                    put(g, name, t)


def roi_align_cases(f):
    root = f.create_group("roi_align")
    gen = torch.Generator().manual_seed(3)
    boxes = torch.tensor([
        [0, 1.3, 2.1, 11.7, 9.4],     # inside
        [1, -3.0, -2.5, 6.2, 4.1],    # over the top-left edge
        [1, 10.0, 8.0, 19.5, 14.9],   # over the bottom-right edge
        [0, 4.0, 4.0, 4.0, 4.0],      # empty
        [1, 20.0, 20.0, 30.0, 25.0],  # outside
        [0, 0.0, 0.0, 17.0, 13.0],    # the whole image
        [1, 7.25, 3.5, 9.0, 12.0],    # thin, upsampled
    ])
    cases = [
        # (output (PH, PW), spatial_scale, sampling_ratio, aligned, box scale)
        ((5, 4), 1.0, -1, True, 1.0),
        ((3, 7), 0.5, 2, False, 2.0),
        ((7, 3), 1.0, -1, False, 1.0),
        ((4, 5), 0.25, 3, True, 4.0),
    ]
    for i, (osize, scale, sr, aligned, bscale) in enumerate(cases):
        g = root.create_group("case%d" % i)
        g.attrs["spatial_scale"] = float(scale)
        g.attrs["sampling_ratio"] = int(sr)
        g.attrs["aligned"] = int(aligned)
        inp = torch.randn(2, 3, 13, 17, generator=gen, requires_grad=True)
        b = boxes.clone()
        b[:, 1:] *= bscale
        out = torchvision.ops.roi_align(inp, b, output_size=osize, spatial_scale=scale, sampling_ratio=sr,
                                        aligned=aligned)
        dout = torch.randn(out.shape, generator=gen)
        out.backward(dout)
        for name, t in [("inp", inp), ("boxes", b), ("out", out), ("dout", dout), ("dinp", inp.grad)]:
            put(g, name, t)


def main():
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with h5py.File(OUT, "w") as f:
        f.attrs["magic"] = "dualneuron-sample-fixture"
        f.attrs["version"] = 1
        f.attrs["torch"] = str(torch.__version__)
        f.attrs["torchvision"] = str(torchvision.__version__)
        grid_sample_cases(f)
        resize_cases(f)
        roi_align_cases(f)
    print("wrote", OUT, os.path.getsize(OUT), "bytes")


if __name__ == "__main__":
    main()
