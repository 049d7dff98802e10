#!/usr/bin/python3
"""Writes the screening test fixture: tests/screen/data/images/* (generated PNG/JPEG files covering the
decoder's cases) and tests/screen/data/screen_fixture.h5 with what PIL + torchvision make of them
(tools/torch-screen-reference.py) and the twins' responses to those tensors.

  /<preset>/<file name>   the preprocessed tensor (C,H,W) float32 for presets
                          v1 (V1 ensemble, its own mask), v1_v4mask (the V1 preset with the V4Color mask, as
                          the original), v4 (V4Color preset with its mask; subset), gabor (builtin:gabor-v1)
  /float/v1/<i>, /float/gabor/<i>   the same for a float gray stack /float/stack (N,H,W) in [0,1]
  /v1_responses (N,458)   V1 ensemble (centered) on /v1/*, in the order of attr `names` of /v1
  /gabor_responses (N,120) builtin:gabor-v1 on /gabor/*, computed in numpy from dn-twin-gabor.c's definition
Root attrs: magic "dualneuron-screen-fixture", version 1, torch/torchvision/PIL versions.
Usage: tools/gen-screen-fixture.py [--shared ../shared] [--out tests/screen/data]
"""
import argparse
import importlib.util
import io
import os
import struct
import zlib

import h5py
import numpy as np
import PIL
import torch
import torchvision
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("screenref", os.path.join(HERE, "torch-screen-reference.py"))
ref = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ref)


def smooth_rgb(h, w, rng, channels=3):
    """A compressible but non-trivial image: low-frequency waves, a few discs and bars."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.zeros((h, w, channels))
    for c in range(channels):
        for _ in range(3):
            fx, fy, ph = rng.uniform(-0.05, 0.05), rng.uniform(-0.05, 0.05), rng.uniform(0, 6.3)
            img[..., c] += 0.25 * np.cos(2 * np.pi * (fx * x + fy * y) + ph)
    for _ in range(4):
        cx, cy, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(5, min(h, w) / 3)
        img[(x - cx) ** 2 + (y - cy) ** 2 < r * r] += rng.uniform(-0.4, 0.4, channels)
    for _ in range(3):
        x0 = rng.integers(0, w)
        img[:, x0 : x0 + rng.integers(2, 9)] += rng.uniform(-0.3, 0.3, channels)
    return np.clip(np.round((img + 0.5) * 255), 0, 255).astype(np.uint8)


def png_bytes_16bit_rgb(arr16):
    """A 16-bit RGB PNG written by hand (PIL cannot save one)."""
    h, w, _ = arr16.shape
    raw = b"".join(b"\x00" + arr16[y].astype(">u2").tobytes() for y in range(h))

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def make_images(folder, rng):
    os.makedirs(folder, exist_ok=True)
    files = []

    def save(name, im, **kw):
        im.save(os.path.join(folder, name), **kw)
        files.append(name)

    save("a_rgb_230x160.png", Image.fromarray(smooth_rgb(160, 230, rng)))
    save("b_photo_500x375.jpg", Image.fromarray(smooth_rgb(375, 500, rng)), quality=85)
    save("c_gray_150x301.png", Image.fromarray(smooth_rgb(301, 150, rng, 1)[..., 0], "L"))
    save("d_odd_257x389.png", Image.fromarray(smooth_rgb(389, 257, rng)))
    pal = Image.fromarray(smooth_rgb(200, 210, rng)).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    save("e_palette.png", pal)
    rgba = np.dstack([smooth_rgb(170, 200, rng), smooth_rgb(170, 200, rng, 1)])
    save("f_rgba.png", Image.fromarray(rgba, "RGBA"))
    la = np.dstack([smooth_rgb(240, 180, rng, 1), smooth_rgb(240, 180, rng, 1)])
    save("g_gray_alpha.png", Image.fromarray(la, "LA"))
    save("h_gray.jpg", Image.fromarray(smooth_rgb(300, 256, rng, 1)[..., 0], "L"), quality=90)
    save("i_cmyk.jpg", Image.fromarray(smooth_rgb(200, 240, rng)).convert("CMYK"), quality=90)
    a16 = smooth_rgb(120, 150, rng).astype(np.uint16) * 256 + rng.integers(0, 256, (120, 150, 3)).astype(np.uint16) // 64
    with open(os.path.join(folder, "j_rgb16.png"), "wb") as f:
        f.write(png_bytes_16bit_rgb(a16))
    files.append("j_rgb16.png")
    return files


def gabor_population():
    """builtin:gabor-v1's filters (dn-twin-gabor.c): rows = filters, and the simple/complex read-out."""
    side, wl = 93, [8, 12, 18]
    yy, xx = np.mgrid[0:side, 0:side].astype(np.float64)

    def filt(cx, cy, ori, lam, phase):
        th, ph, sigma = np.deg2rad(ori), np.deg2rad(phase), 0.5 * lam
        dx, dy = xx - cx, yy - cy
        u = dx * np.cos(th) + dy * np.sin(th)
        v = -dx * np.sin(th) + dy * np.cos(th)
        env = np.exp(-(u * u + v * v) / (2 * sigma * sigma))
        g = env * np.cos(2 * np.pi * u / lam + ph)
        g = g - env * g.sum() / env.sum()
        return (g / np.sqrt((g * g).sum())).ravel()

    simple, complex_ = [], []
    for o in range(8):
        for s in range(3):
            for p in range(4):
                slot = (o * 12 + s * 4 + p) % 9
                simple.append(filt(46 + 6 * (slot % 3 - 1), 46 + 6 * (slot // 3 - 1), 22.5 * o, wl[s], 90 * p))
    for o in range(8):
        for s in range(3):
            complex_.append((filt(46, 46, 22.5 * o, wl[s], 0), filt(46, 46, 22.5 * o, wl[s], 90)))
    return np.array(simple), complex_


def gabor_responses(x):
    simple, complex_ = gabor_population()
    x = x.reshape(x.shape[0], -1).astype(np.float64)
    y = [x @ simple.T / 3] + [((x @ a) ** 2 + (x @ b) ** 2)[:, None] / 24 for a, b in complex_]
    y = np.concatenate(y, axis=1)
    return np.where(y - 1 > 0, y, np.exp(y - 1) - 1 + 1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default=os.path.join(HERE, "..", "..", "shared"))
    ap.add_argument("--out", default=os.path.join(HERE, "..", "tests", "screen", "data"))
    a = ap.parse_args()
    rng = np.random.default_rng(5)
    img_dir = os.path.join(a.out, "images")
    files = make_images(img_dir, rng)
    v1_mask = ref.load_mask(os.path.join(a.shared, "dualneuron", "V1GrayTaskDriven", "mask.npy"), 93, 93)
    v4_mask_path = os.path.join(a.shared, "dualneuron", "V4ColorTaskDriven", "mask.npy")
    presets = {
        "v1": (ref.screening_transform("v1", v1_mask), files),
        "v1_v4mask": (ref.screening_transform("v1", ref.load_mask(v4_mask_path, 93, 93)), files[:3]),
        "v4": (ref.screening_transform("v4", ref.load_mask(v4_mask_path, 100, 100)), files[:3]),
        "gabor": (ref.screening_transform("gabor-v1"), files),
    }
    out = h5py.File(os.path.join(a.out, "screen_fixture.h5"), "w")
    out.attrs["magic"] = "dualneuron-screen-fixture"
    out.attrs["version"] = 1
    out.attrs["versions"] = f"torch {torch.__version__}, torchvision {torchvision.__version__}, PIL {PIL.__version__}"
    stacked = {}
    for name, (tf, names) in presets.items():
        g = out.create_group(name)
        g.attrs["names"] = "\n".join(names)
        xs = []
        for f in names:
            x = tf(Image.open(os.path.join(img_dir, f))).numpy().astype(np.float32)
            g.create_dataset(f, data=x, compression="gzip", compression_opts=9, shuffle=True)
            xs.append(x)
        stacked[name] = np.stack(xs)
    # a float gray stack through the float path (PIL "F" images)
    stack = np.stack([smooth_rgb(130, 170, rng, 1)[..., 0], smooth_rgb(130, 170, rng, 1)[..., 0]]).astype(np.float32) / 255
    out.create_dataset("float/stack", data=stack, compression="gzip", shuffle=True)
    for name, tf in (("v1", ref.screening_transform("v1", v1_mask)), ("gabor", ref.screening_transform("gabor-v1"))):
        for i in range(stack.shape[0]):
            x = tf(Image.fromarray(stack[i], "F")).numpy().astype(np.float32)
            out.create_dataset(f"float/{name}/{i}", data=x, compression="gzip", shuffle=True)
    twinref, members = ref.load_v1_members(a.shared)
    r = ref.v1_responses(twinref, members, torch.from_numpy(stacked["v1"]))
    out.create_dataset("v1_responses", data=r.numpy().astype(np.float32))
    out.create_dataset("gabor_responses", data=gabor_responses(stacked["gabor"]).astype(np.float32))
    out.close()
    print("wrote", a.out, "files:", len(files))


if __name__ == "__main__":
    main()
