#!/usr/bin/python3
"""DualNeuron's screening transforms with PIL + torchvision (twins.md §8), and a PyTorch screening benchmark.

The transforms are the reference that compute/screen/dn-preprocess.c reproduces (tools/gen-screen-fixture.py
imports them to write the test fixture). ImageNet geometry: EnsureRGB -> Resize(256) (short side, PIL
bilinear) -> CenterCrop(167 V1 | 236 V4) -> Resize((93,93) | (100,100)) -> Grayscale (V1) -> ToTensor ->
Normalize (ImageNet; gray 0.449/0.226) -> mask -> norm rescale (12 V1, 40 V4). builtin:gabor-v1 preset:
Resize(93) -> CenterCrop(93) -> Grayscale -> ToTensor -> Normalize -> norm 12 (no mask).
Masks are treated as the original treats the V4 mask: cv2.resize(INTER_LINEAR) to the model's size (emulated
here in numpy, OpenCV is not a dependency), then min-max.

Benchmark (1 thread by default, as the PyTorch anchors in twins.md §10): screens a folder of JPEGs with the V1
ensemble, decoding + transforms + forward, sequentially in batches, and prints "images/s: X".
Usage: tools/torch-screen-reference.py FOLDER [--n 256] [--batch 64] [--threads 1] [--shared DIR]
Uses Debian's python3-torch / python3-torchvision / python3-pil; never used by the app or its tests.
"""
import argparse
import glob
import importlib.util
import os
import time

import numpy as np
import torch
import torchvision.transforms as T
from PIL import Image

BILINEAR = T.InterpolationMode.BILINEAR
HERE = os.path.dirname(os.path.abspath(__file__))


def cv2_resize_linear(m, out_h, out_w):
    """cv2.resize(m, (out_w, out_h), interpolation=cv2.INTER_LINEAR) for a 2-D float64 map."""

    def taps(n_in, n_out):
        i0, i1, w = [], [], []
        scale = n_in / n_out
        for d in range(n_out):
            f = np.float32((d + 0.5) * scale - 0.5)
            s = int(np.floor(f))
            f = np.float32(f - np.float32(s))
            if s < 0:
                s, f = 0, np.float32(0)
            if s >= n_in - 1:
                s, f = n_in - 1, np.float32(0)
            i0.append(s)
            i1.append(min(s + 1, n_in - 1))
            w.append(f)
        return np.array(i0), np.array(i1), np.array(w, dtype=np.float32)

    y0, y1, wy = taps(m.shape[0], out_h)
    x0, x1, wx = taps(m.shape[1], out_w)
    one = np.float32(1)
    a = m[y0][:, x0] * (one - wx)[None, :].astype(np.float64) + m[y0][:, x1] * wx[None, :].astype(np.float64)
    b = m[y1][:, x0] * (one - wx)[None, :].astype(np.float64) + m[y1][:, x1] * wx[None, :].astype(np.float64)
    return a * (one - wy)[:, None].astype(np.float64) + b * wy[:, None].astype(np.float64)


def load_mask(path, h, w):
    m = np.load(path).astype(np.float64)
    if m.shape != (h, w):
        m = cv2_resize_linear(m, h, w)
    return ((m - m.min()) / (m.max() - m.min())).astype(np.float32)


class EnsureRGB:
    def __call__(self, img):
        return img if img.mode in ("RGB", "F") else img.convert("RGB")


class MaskTransform:
    def __init__(self, mask, bg=0.0):
        self.mask = torch.as_tensor(mask, dtype=torch.float32)
        self.bg = bg

    def __call__(self, x):
        return x * self.mask + self.bg * (1 - self.mask)


class NormTransform:
    def __init__(self, norm):
        self.norm = norm

    def __call__(self, x):
        return x * self.norm / (x.norm() + 1e-8)


PRESETS = {
    # name: (resize_short, crop, size, gray, norm)
    "v1": (256, 167, 93, True, 12.0),
    "v4": (256, 236, 100, False, 40.0),
    "gabor-v1": (93, 93, 93, True, 12.0),
}


def screening_transform(preset, mask=None, geometry="imagenet"):
    short, crop, size, gray, norm = PRESETS[preset]
    t = [EnsureRGB()]
    if geometry == "imagenet":
        t.append(T.Resize(short, interpolation=BILINEAR))
    if geometry in ("imagenet", "crop"):
        t.append(T.CenterCrop(crop))
    t.append(T.Resize((size, size), interpolation=BILINEAR))
    if gray:
        t.append(T.Lambda(lambda im: im if im.mode == "F" else im.convert("L")))
    t.append(T.ToTensor())
    t.append(T.Normalize([0.449] if gray else [0.485, 0.456, 0.406], [0.226] if gray else [0.229, 0.224, 0.225]))
    if mask is not None:
        t.append(MaskTransform(mask))
    t.append(NormTransform(norm))
    return T.Compose(t)


def load_v1_members(shared):
    spec = importlib.util.spec_from_file_location("twinref", os.path.join(HERE, "torch-twin-reference.py"))
    twinref = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(twinref)
    members = []
    for f in sorted(glob.glob(os.path.join(shared, "dualneuron", "V1GrayTaskDriven", "*.pth.tar"))):
        sd = torch.load(f, map_location="cpu")
        sd = sd.get("model_state_dict", sd.get("state_dict", sd))
        members.append({k: v.float() for k, v in sd.items()})
    return twinref, members


def v1_responses(twinref, members, x):
    with torch.no_grad():
        return torch.stack([twinref.member_forward(m, x) for m in members]).mean(0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("folder")
    ap.add_argument("--shared", default=os.path.join(HERE, "..", "..", "shared"))
    ap.add_argument("--n", type=int, default=256)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    files = sorted(
        os.path.join(r, f) for r, _, fs in os.walk(a.folder) for f in fs if f.lower().endswith((".jpg", ".jpeg", ".png"))
    )[: a.n]
    mask = load_mask(os.path.join(a.shared, "dualneuron", "V1GrayTaskDriven", "mask.npy"), 93, 93)
    tf = screening_transform("v1", mask)
    twinref, members = load_v1_members(a.shared)
    t0 = time.perf_counter()
    checksum = 0.0
    for b in range(0, len(files), a.batch):
        x = torch.stack([tf(Image.open(f)) for f in files[b : b + a.batch]])
        checksum += float(v1_responses(twinref, members, x).sum())
    dt = time.perf_counter() - t0
    print(f"torch {torch.__version__}, {a.threads} thread(s), {len(members)} members, {len(files)} images")
    print(f"images/s: {len(files) / dt:.2f}")
    print(f"checksum {checksum:.4f}")


if __name__ == "__main__":
    main()
