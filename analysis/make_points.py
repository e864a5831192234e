#!/usr/bin/python3
"""Write a --points file for `sgmrun score`: images pushed through the VP
forward marginal, x = m(t) y + sigma(t) z.

The images are Fashion-MNIST examples (scaled to [-1, 1], as sgmrun's default
`scale = minus1_1`) from the Debian package's IDX files; by default from the
test split, so that they are not training examples.

    make_points.py OUT.h5 --t 0.05 [--count 64] [--split test] [--seed 0]
"""
import argparse
import gzip
import os
import sys

import h5py
import numpy as np

FASHION = "/usr/share/datasets/fashion-mnist"


def read_idx_images(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if data[:4] != b"\x00\x00\x08\x03":
        sys.exit(f"make_points: {path}: not an IDX file of unsigned bytes")
    n, rows, cols = (int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(3))
    return np.frombuffer(data, np.uint8, n * rows * cols, 16).reshape(n, rows * cols)


def vp_marginal(t, beta_min, beta_max):
    b = beta_min * t + 0.5 * (beta_max - beta_min) * t * t
    return np.exp(-0.5 * b), np.sqrt(-np.expm1(-b))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("output")
    ap.add_argument("--t", type=float, required=True, help="forward time")
    ap.add_argument("--count", type=int, default=64)
    ap.add_argument("--split", choices=["train", "test"], default="test")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--beta-min", type=float, default=0.1)
    ap.add_argument("--beta-max", type=float, default=20.0)
    ap.add_argument("--directory", default=FASHION)
    args = ap.parse_args()

    prefix = "train" if args.split == "train" else "t10k"
    images = read_idx_images(os.path.join(args.directory, f"{prefix}-images-idx3-ubyte.gz"))
    rng = np.random.default_rng(args.seed)
    chosen = np.sort(rng.choice(len(images), size=args.count, replace=False))
    y = images[chosen].astype(np.float64) / 255.0 * 2.0 - 1.0
    m, sigma = vp_marginal(args.t, args.beta_min, args.beta_max)
    x = m * y + sigma * rng.standard_normal(y.shape)

    with h5py.File(args.output, "w") as f:
        d = f.create_dataset("points", data=x)
        d.attrs["description"] = "m(t) y + sigma(t) z for Fashion-MNIST images y"
        f.create_dataset("source_index", data=chosen.astype(np.int64))
        f.attrs["t"] = args.t
        f.attrs["split"] = args.split
    print(f"make_points: wrote {args.count} points at t = {args.t} "
          f"(m = {m:.4f}, sigma = {sigma:.4f}) to {args.output}")


if __name__ == "__main__":
    main()
