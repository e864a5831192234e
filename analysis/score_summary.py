#!/usr/bin/python3
"""Summarise an `sgmrun score` output file: provenance, and the empirical
score's key numbers at the scored points.

    score_summary.py SCORE.h5
"""
import gzip
import os
import sys

import h5py
import numpy as np

from sgm_results import config_value, text


def fashion_training_set(config, training_index):
    """The training images the file was computed with, scaled as sgmrun
    scales them, or None when the data are not Fashion-MNIST images."""
    if config_value(config, "data", "source") != "fashion-mnist":
        return None
    prefix = "train" if config_value(config, "data", "split") == "train" else "t10k"
    path = os.path.join(config_value(config, "data", "path"), f"{prefix}-images-idx3-ubyte.gz")
    with gzip.open(path, "rb") as f:
        raw = f.read()
    n = int.from_bytes(raw[4:8], "big")
    images = np.frombuffer(raw, np.uint8, n * 784, 16).reshape(n, 784)[training_index]
    scale = config_value(config, "data", "scale")
    y = images.astype(np.float64)
    return y / 255 * 2 - 1 if scale == "minus1_1" else y / 255 if scale == "unit" else y


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    with h5py.File(sys.argv[1], "r") as f:
        a = f.attrs
        print(f"file        {sys.argv[1]} ({text(a['status'])}, sgmrun {text(a['version'])}, "
              f"git {text(a['git_commit'])[:12]})")
        print(f"run         {int(a['mpi_ranks'])} ranks on grid {text(a['grid'])}, seed {int(a['seed'])}")
        print(f"data        {text(a['data'])}")
        print(f"drift       {text(a['drift'])} at t = {float(a['t']):g} "
              f"(m = {float(a['m']):.4f}, sigma = {float(a['sigma']):.4f})")
        x = f["points"][...]
        s = f["score"][...]
        den = f["denoised"][...]
        near = f["nearest_distance"][...]
        near2 = f["second_nearest_distance"][...]
        lp = f["log_density"][...]
        n, d = x.shape
        sigma = float(a["sigma"])
        print(f"points      {n} x {d}")
        print(f"|score|     mean {np.linalg.norm(s, axis=1).mean():.4g} "
              f"(1/sigma * sqrt(d) = {np.sqrt(d) / sigma:.4g})")
        print(f"log p_t     mean {lp.mean():.6g}, min {lp.min():.6g}, max {lp.max():.6g}")
        print(f"nearest     distance mean {near.mean():.4g}, "
              f"ratio to second-nearest mean {(near / near2).mean():.3f}")
        ti = f["training_index"][...]
        print(f"training    {len(ti)} examples; nearest indices of the first points: "
              f"{f['nearest_index'][:8].tolist()}")
        # Memorisation: does the empirical denoiser D(x) = E[X0 | x] land on
        # a single training image?
        y = fashion_training_set(text(a["config"]), ti)
        if y is not None:
            yn = (y * y).sum(1)
            # Candidates from the expanded form, distances recomputed directly
            # (the expanded form alone cancels to ~1e-5 at these norms).
            best = ((den * den).sum(1)[:, None] - 2 * den @ y.T + yn[None]).argmin(1)
            dist = np.linalg.norm(den - y[best], axis=1)
            print(f"denoised    D(x) is within 1e-6 of a training image for "
                  f"{int((dist < 1e-6).sum())} of {n} points (median distance {np.median(dist):.2e}):")
            print("            (the empirical score memorises its training set)")


if __name__ == "__main__":
    main()
