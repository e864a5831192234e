#!/usr/bin/python3
"""`sgmrun score` end to end on real Fashion-MNIST.

1. An independent NumPy reference: it reads the IDX files itself, takes the
   training examples the output names in /training_index, and computes the
   empirical score by direct differences and a float64 log-sum-exp.  Its own
   rounding is ~1e-13 relative for these points, so 1e-10 relative
   (norm-wise, per point) on score, denoiser and log density is safe and
   catches any error in loading, scaling, subsetting or the kernel.
2. The same numbers for every rank count and grid shape: identical nearest
   indices, and 1e-12 relative on every float output (only the association
   of the shards' sums differs).
3. The file describes itself: status, provenance, description and units.
"""
import gzip
import os

import h5py
import numpy as np

from sgmrun_test import FASHION, check, finish, run, scratch, text, write_config

work = scratch("cli-score")
cfg = write_config(os.path.join(work, "score.ini"), """
[run]
seed = 5
[data]
source = fashion-mnist
n = 3000
classes = 0, 7, 9
[drift]
model = smoothed
bandwidth = 0.3
[perturb]
kind = constant
magnitude = 0.5
""")


def idx_images(name):
    with gzip.open(os.path.join(FASHION, name), "rb") as f:
        data = f.read()
    n, r, c = (int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(3))
    return np.frombuffer(data, np.uint8, n * r * c, 16).reshape(n, r * c)


train = idx_images("train-images-idx3-ubyte.gz").astype(np.float64) / 255 * 2 - 1
test = idx_images("t10k-images-idx3-ubyte.gz").astype(np.float64) / 255 * 2 - 1
rng = np.random.default_rng(0)
t = 0.02
B = 0.1 * t + 0.5 * 19.9 * t * t
m, sigma = np.exp(-0.5 * B), np.sqrt(-np.expm1(-B))
x = np.concatenate([
    m * test[:10] + sigma * rng.standard_normal((10, 784)),   # new images
    rng.standard_normal((3, 784)),                             # far from the data
    m * train[[0, 5]] + 0.2 * sigma * rng.standard_normal((2, 784)),
])
points = os.path.join(work, "points.h5")
with h5py.File(points, "w") as f:
    f["points"] = x


def score(ranks, rows):
    out = os.path.join(work, f"score-{ranks}-{rows}.h5")
    status, _, err = run(["score", cfg, "--points", points, "--t", str(t), "--output", out,
                          "--set", f"grid.rows={rows}", "--quiet"], ranks)
    check(status == 0, f"score on {ranks} ranks, rows {rows}: exit {status}: {err}")
    return out


def reference(y, x, m, s2, h2):
    """Empirical (h2 = 0) or smoothed mixture score by direct differences."""
    var = m * m * h2 + s2
    d2 = np.array([((xi - m * y) ** 2).sum(-1) for xi in x])
    logits = -d2 / (2 * var)
    mx = logits.max(1, keepdims=True)
    w = np.exp(logits - mx)
    z = w.sum(1, keepdims=True)
    w /= z
    dbar = w @ y
    score = (m * dbar - x) / var
    logp = (mx + np.log(z))[:, 0] - np.log(len(y)) - 0.5 * y.shape[1] * np.log(2 * np.pi * var)
    denoised = m * h2 / var * x + s2 / var * dbar
    dist = np.sqrt(np.array([((xi - y) ** 2).sum(-1) for xi in x]))
    return score, logp, denoised, dist


def rel(a, b):
    return np.linalg.norm(a - b, axis=-1) / np.linalg.norm(b, axis=-1)


base = score(1, 1)
with h5py.File(base, "r") as f:
    ti = f["training_index"][...]
    labels = np.frombuffer(gzip.open(os.path.join(FASHION, "train-labels-idx1-ubyte.gz")).read(), np.uint8, offset=8)
    check(len(ti) == 3000 and np.all(np.diff(ti) > 0), "training_index: 3000 ascending source indices")
    check(set(labels[ti]) == {0, 7, 9}, "class filter keeps classes 0, 7, 9 only")
    y = train[ti]
    s2 = sigma ** 2
    emp, logp, den, dist = reference(y, x, m, s2, 0.0)
    smooth, _, _, _ = reference(y, x, m, s2, 0.09)
    check(np.max(rel(f["empirical_score"][...], emp)) < 1e-10,
          f"empirical score vs NumPy: {np.max(rel(f['empirical_score'][...], emp)):.2e}")
    check(np.max(rel(f["denoised"][...], den)) < 1e-10, "denoiser vs NumPy")
    check(np.max(np.abs(f["log_density"][...] - logp) / np.abs(logp)) < 1e-10, "log density vs NumPy")
    check(np.max(rel(f["score"][...], smooth + 0.5)) < 1e-10,
          f"smoothed + 0.5 (1,...,1) vs NumPy: {np.max(rel(f['score'][...], smooth + 0.5)):.2e}")
    order = np.argsort(dist, axis=1, kind="stable")
    check(np.array_equal(f["nearest_index"][...], order[:, 0]), "nearest index vs NumPy")
    check(np.allclose(f["nearest_distance"][...], dist[np.arange(len(x)), order[:, 0]], rtol=1e-12),
          "nearest distance vs NumPy")
    check(np.allclose(f["second_nearest_distance"][...], dist[np.arange(len(x)), order[:, 1]], rtol=1e-12),
          "second-nearest distance vs NumPy")
    # Self-description.
    a = f.attrs
    check(text(a["status"]) == "complete", "status complete")
    for key in ["config", "version", "git_commit", "mpi_ranks", "grid", "seed", "start_time", "end_time"]:
        check(key in a, f"root attribute {key}")
    check(int(a["seed"]) == 5, "seed attribute")
    check("[data]" in text(a["config"]) and "bandwidth = 0.3" in text(a["config"]), "config text stored")
    for name in ["score", "empirical_score", "denoised", "log_density", "nearest_index",
                 "nearest_distance", "second_nearest_distance"]:
        check(name in f, f"dataset /{name}")
        if name in f:
            check("description" in f[name].attrs and "units" in f[name].attrs, f"/{name} description and units")
    check(f["nearest_index"].dtype == np.int64, "nearest_index is int64")
    check(f["score"].shape == (15, 784) and f["log_density"].shape == (15,), "shapes")
    ref_files = {k: f[k][...] for k in f if isinstance(f[k], h5py.Dataset)}
    config_text = text(a["config"])

for ranks, rows in [(2, 1), (2, 2), (3, 1), (3, 3), (4, 1), (4, 2), (4, 4)]:
    path = score(ranks, rows)
    with h5py.File(path, "r") as f:
        check(int(f.attrs["mpi_ranks"]) == ranks, f"mpi_ranks on {ranks}")
        check(text(f.attrs["grid"]) == f"{rows}x{ranks // rows}", f"grid attribute {text(f.attrs['grid'])}")
        check(text(f.attrs["config"]).replace(f"rows = {rows}", "rows = 1") == config_text,
              "same resolved configuration")
        for name, want in ref_files.items():
            got = f[name][...]
            if got.dtype.kind in "iu":
                check(np.array_equal(got, want), f"{name} identical on {ranks} ranks, grid {rows}")
            else:
                err = np.max(np.abs(got - want) / np.maximum(np.abs(want), 1e-300)) if got.ndim == 1 \
                    else np.max(rel(got, want))
                check(err < 1e-12, f"{name} on {ranks} ranks, grid {rows}: {err:.2e}")
finish()
