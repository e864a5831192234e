#!/usr/bin/python3
"""Summarise an `sgmrun score` output file: provenance, and the empirical
score's key numbers at the scored points.

    score_summary.py SCORE.h5
"""
import sys

import h5py
import numpy as np


def text(value):
    return value.decode() if isinstance(value, bytes) else str(value)


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
        # How far is the denoiser's output from the training set's convex
        # hull corners, i.e. does D(x) collapse onto one training image?
        ti = f["training_index"][...]
        print(f"training    {len(ti)} examples; nearest indices of the first points: "
              f"{f['nearest_index'][:8].tolist()}")
        print(f"denoised    range [{den.min():.3f}, {den.max():.3f}]")


if __name__ == "__main__":
    main()
