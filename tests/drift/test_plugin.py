#!/usr/bin/python3
"""[drift] model = plugin end to end (argv: the Gaussian-fit plugin, then
the test plugins no_eval, abi_two and faulty of tests/drift/plugins/).

(a) `sgmrun score` with the Gaussian-fit plugin on 2000 real Fashion-MNIST
    images, on 1 rank and on 4 (one row of 4: PDSYEVD on a 2 x 2 BLACS
    grid), the plugin named relative to the configuration's folder.  /score
    matches an independent NumPy reference built from the training images
    the file names (/training_index, read from the IDX file):
    s = -Q diag(1/(m^2 lambda + s2)) Q^T (x - m mu) from np.linalg.eigh of
    the 1/n covariance, to 1e-10 of max |s|.  Why: both sides are backward
    stable, so each is within ~ d eps cond(m^2 Sigma + s2 I) ~ 784 * 1.1e-16
    * 680 ~ 6e-11 of the exact score (relative; measured: 1e-13), the two
    summing the covariance and running the eigensolver in other orders.
    1 and 4 ranks agree to 1e-11 of max |s| (measured 1.5e-13).  plugin_args
    `shrinkage` is honoured (lambda + 0.5 in the reference), the model log
    density is NaN (a plugin has none) and the empirical outputs are there.
(b) `sgmrun run` (em, log_sigma, 20 steps, 8 particles) with
    [jacobian] method = fd, on 1 rank and on 4 (rows of 2): complete, the
    diagnostics finite, the same final particles to 1e-10 (measured
    3.7e-13: the eigen-decompositions differ by rounding) and nearest
    indices; the fd Jacobian of this linear score is -Q diag(1/(m^2 lambda
    + s2)) Q^T, so its eigenvalues equal -1/(m^2 lambda + s2) to 1e-6 of
    the largest (central differences of a linear map are exact but for
    rounding, ~ eps |s| / h with h = 1e-4 sigma: 1.5e-10 measured).
    method = analytic and method = ei give one clear error.
(c) Broken plugins on 2 ranks of one row (faulty fails on rank 1 only, so
    sgmrun must agree over the row): a missing file, a file that is no
    shared object, a missing symbol, ABI 2, init, eval, NaN, a bad
    plugin_args.  Each: exit status 1 within a timeout, one error line
    naming the plugin file and the problem, no output file marked complete.
"""
import os
import subprocess
import sys

import h5py
import numpy as np

from sgmrun_test import check, finish, idx_images, run, scratch, text, write_config

gauss, no_eval, abi_two, faulty = (os.path.abspath(p) for p in sys.argv[1:5])
work = scratch("drift-plugin")


IMAGES = idx_images("train-images-idx3-ubyte.gz")


def vp(t, beta_min=0.1, beta_max=20.0):
    b = beta_min * t + 0.5 * (beta_max - beta_min) * t * t
    return np.exp(-0.5 * b), 1 - np.exp(-b)


def fit(index, shrinkage=0.0):
    """mu, lambda (clamped at 0, plus shrinkage) and Q of the training set."""
    y = IMAGES[index].astype(np.float64) / 255 * 2 - 1
    lam, Q = np.linalg.eigh(np.cov(y.T, bias=True))
    return y.mean(0), np.maximum(lam, 0) + shrinkage, Q


def reference_score(x, m, s2, mu, lam, Q):
    return -((x - m * mu) @ Q / (m * m * lam + s2)) @ Q.T


def config(name, plugin, extra=""):
    return write_config(os.path.join(work, name), f"""
[run]
seed = 5
[data]
source = fashion-mnist
n = 2000
[drift]
model = plugin
plugin = {plugin}
[sampler]
method = em
grid = log_sigma
steps = 20
particles = 8
[output]
every = 5
{extra}""")


def ok(args, ranks, what):
    try:
        status, _, err = run(args, ranks=ranks, timeout=120)
    except subprocess.TimeoutExpired:
        return check(False, f"{what}: timed out")
    return check(status == 0, f"{what}: exit {status}: {err[-2000:]}")


# ---- (a) sgmrun score against NumPy -----------------------------------------
T = 0.1
m, s2 = vp(T)
rng = np.random.default_rng(11)
some = IMAGES[rng.choice(60000, 4, replace=False)].astype(np.float64) / 255 * 2 - 1
points = np.vstack([m * some + np.sqrt(s2) * rng.standard_normal(some.shape),
                    rng.standard_normal((2, 784))])
pts = os.path.join(work, "points.h5")
with h5py.File(pts, "w") as f:
    f["points"] = points
# Relative to the configuration's folder, not to the current directory.
cfg = config("fit.ini", os.path.relpath(gauss, work))
scores = {}
for ranks in (1, 4):
    out = os.path.join(work, f"score{ranks}.h5")
    if ok(["score", cfg, "--points", pts, "--t", str(T), "--output", out, "--set", "grid.rows=1"],
          ranks, f"score on {ranks} ranks"):
        with h5py.File(out, "r") as f:
            scores[ranks] = f["score"][()]
            index = f["training_index"][()]
            check(text(f.attrs["drift"]) == "plugin (libsgm_gaussian_fit.so)",
                  f"drift attribute {text(f.attrs['drift'])!r}")
            check(abs(f.attrs["m"] - m) <= 1e-14 and abs(f.attrs["sigma"] ** 2 - s2) <= 1e-14,
                  "m and sigma as the VP schedule's")
            check(np.isnan(f["model_log_density"][()]).all(), "model_log_density is NaN")
            check(np.isfinite(f["empirical_score"][()]).all() and np.isfinite(f["log_density"][()]).all(),
                  "empirical outputs finite")
        mu, lam, Q = fit(index)
        ref = reference_score(points, m, s2, mu, lam, Q)
        error = np.abs(scores[ranks] - ref).max() / np.abs(ref).max()
        print(f"score on {ranks} ranks: {error:.2e} of max |s| from NumPy")
        check(error <= 1e-10, f"score on {ranks} ranks: {error:.3g} of max |s| from NumPy")
if len(scores) == 2:
    spread = np.abs(scores[1] - scores[4]).max() / np.abs(scores[1]).max()
    print(f"score, 1 vs 4 ranks: {spread:.2e}")
    check(spread <= 1e-11, f"score on 1 and 4 ranks differ by {spread:.3g} of max |s|")
out = os.path.join(work, "shrunk.h5")
if ok(["score", cfg, "--points", pts, "--t", str(T), "--output", out,
       "--set", "drift.plugin_args=shrinkage = 0.5"], 1, "score with shrinkage"):
    with h5py.File(out, "r") as f:
        s, index = f["score"][()], f["training_index"][()]
    ref = reference_score(points, m, s2, *fit(index, 0.5))
    error = np.abs(s - ref).max() / np.abs(ref).max()
    check(error <= 1e-10, f"shrinkage = 0.5: {error:.3g} of max |s| from NumPy")

# ---- (b) sgmrun run, with the fd Jacobian -------------------------------------
jac = "[jacobian]\nmethod = fd\npoints = 2\ntimes = 0.3\n"
rcfg = config("run.ini", gauss, jac)
runs = {}
for ranks, rows in ((1, 1), (4, 2)):
    out = os.path.join(work, f"run{ranks}.h5")
    if not ok(["run", rcfg, "--output", out, "--overwrite", "--quiet", "--set", f"grid.rows={rows}"],
              ranks, f"run on {ranks} ranks"):
        continue
    with h5py.File(out, "r") as f:
        check(text(f.attrs["status"]) == "complete", f"run on {ranks} ranks: status")
        g = f["diagnostics"]
        for name in ("nearest_distance", "score_error_norm", "nearest_index", "novikov_integral"):
            check(name in g, f"run on {ranks} ranks: /diagnostics/{name} missing")
        check(np.isfinite(g["nearest_distance"][()]).all() and np.isfinite(g["score_error_norm"][()]).all(),
              f"run on {ranks} ranks: diagnostics finite")
        runs[ranks] = {"particles": f["final/particles"][()], "nearest": g["nearest_index"][()]}
        check(np.isfinite(runs[ranks]["particles"]).all(), "final particles finite")
        tj = f["jacobian/times"][0]
        ev = f["jacobian/eigenvalues"][0]
        index = f["training/source_index"][()]
    _, lam, _ = fit(index)
    mj, s2j = vp(tj)
    want = -1 / (mj * mj * lam + s2j)
    want = want[np.argsort(np.abs(want), kind="stable")]
    error = max(np.abs(ev[p] - want).max() for p in range(ev.shape[0])) / np.abs(want).max()
    print(f"run on {ranks} ranks: fd Jacobian eigenvalues {error:.2e} of the largest")
    check(error <= 1e-6, f"run on {ranks} ranks: fd Jacobian eigenvalues off by {error:.3g}")
if len(runs) == 2:
    a, b = runs[1]["particles"], runs[4]["particles"]
    spread = np.abs(a - b).max() / np.abs(a).max()
    print(f"run, 1 vs 4 ranks: final particles {spread:.2e}")
    check(spread <= 1e-10, f"run on 1 and 4 ranks: final particles differ by {spread:.3g}")
    check(np.array_equal(runs[1]["nearest"], runs[4]["nearest"]), "nearest indices differ")


def fails(args, ranks, what, *needles, output=None):
    """Exit 1, one error line with every needle, no output marked complete."""
    try:
        status, _, err = run(args, ranks=ranks, timeout=60)
    except subprocess.TimeoutExpired:
        return check(False, f"{what}: hung (no exit within the timeout)")
    lines = [line for line in err.splitlines() if "error" in line]
    check(status == 1, f"{what}: exit {status} (want 1): {err[-1500:]}")
    check(len(lines) == 1, f"{what}: {len(lines)} error lines: {err[-1500:]}")
    for needle in needles:
        check(needle in err, f"{what}: {needle!r} not in {err[-1500:]!r}")
    if output and os.path.exists(output):
        with h5py.File(output, "r") as f:
            check(text(f.attrs.get("status", "")) != "complete", f"{what}: {output} marked complete")


for method, needles in (("analytic", ("no closed-form Jacobian", "method = fd")),
                        ("ei", ("method = ei", "method = em"))):
    out = os.path.join(work, f"bad-{method}.h5")
    setting = f"jacobian.method={method}" if method == "analytic" else f"sampler.method={method}"
    fails(["run", rcfg, "--output", out, "--overwrite", "--quiet", "--set", setting], 2,
          f"{method} with a plugin", "model = plugin", *needles, output=out)

# ---- (c) broken plugins -------------------------------------------------------
bogus = os.path.join(work, "bogus.so")
with open(bogus, "w") as f:
    f.write("not a shared object\n")
cases = [
    ("missing file", "no/such/plugin.so", "", (os.path.join(work, "no/such/plugin.so"), "cannot be loaded",
                                                "No such file")),
    ("not a shared object", bogus, "", (bogus, "cannot be loaded")),
    ("missing symbol", no_eval, "", (no_eval, "does not export sgm_plugin_eval")),
    ("ABI version", abi_two, "", (abi_two, "built against ABI 2, sgmrun speaks 1")),
    ("init failure", faulty, "fail = init", (faulty, "sgm_plugin_init failed",
                                             "deliberate init failure on rank 1 of 2")),
    ("eval failure", faulty, "fail = eval", (faulty, "sgm_plugin_eval failed", "deliberate eval failure")),
    ("NaN", faulty, "fail = nan", (faulty, "returned NaN for particle 1", "at t = ")),
    ("bad plugin_args", gauss, "shrinkage = -1", (gauss, "shrinkage = '-1' is not a real >= 0")),
]
for i, (what, plugin, args, needles) in enumerate(cases):
    bad = config(f"bad{i}.ini", plugin)
    out = os.path.join(work, f"bad{i}.h5")
    extra = ["--set", f"drift.plugin_args={args}"] if args else []
    fails(["run", bad, "--output", out, "--overwrite", "--quiet", "--set", "grid.rows=1",
           "--set", "data.n=200"] + extra, 2, what, *needles, output=out)
finish()
