#!/usr/bin/python3
"""[drift] model = pfgm (the empirical Poisson field of PFGM++) end to end.

1. `sgmrun score` on 500 Fashion-MNIST images against an independent NumPy
   float64 reference of the field (weights (|x - m y_i|^2 + r^2)^-(d+D)/2,
   r = sigma sqrt(D); drift (m sum w_i y_i - x) / sigma^2; the normalised
   log density) and of the empirical outputs beside it, for D = 1, 7 and
   the default 2048, vp and ve: 1e-10 relative (NumPy's own rounding is
   ~1e-13 here); on 3 ranks the same numbers to 1e-12.
2. D -> infinity with r = sigma sqrt(D) reproduces the diffusion ODE's
   trajectories: `sgmrun run` with method = ode (heun), ve, 2-D data, the
   same Gaussian prior draw for both models.  The largest relative
   deviation of any path from the empirical drift's over the saved times
   falls like 1/D (measured 15/D, so 1e-4 at D = 1e6 is the bound; the
   ratio between D = 1e5 and 1e6 is 10 within 10 %), the final particles
   agree to 1e-7 of their scale at D = 1e6 (measured 1.5e-8), and D = 1e3
   differs visibly (more than 1e-3; measured 1.5e-2).
3. The default prior of model = pfgm is its own (sgm_drift_prior): for
   d = 2, b = R^2 / (R^2 + r_max^2) of the initial particles is
   Beta(1, D/2), whose CDF is 1 - (1 - b)^(D/2) (a KS test at the 0.1 %
   level, fixed seed).
"""
import math
import os

import h5py
import numpy as np

from sgmrun_test import check, finish, idx_images, run, scratch, text, write_config

work = scratch("drift-pfgm")


def schedule(kind, t):
    """m(t) and sigma(t)^2 for the default vp and ve schedules."""
    if kind == "vp":
        B = 0.1 * t + 0.5 * 19.9 * t * t
        return math.exp(-0.5 * B), -math.expm1(-B)
    sv = 0.01 * (50 / 0.01) ** t
    return 1.0, sv * sv - 0.01 ** 2


def reference(y, x, m, s2, D):
    """The Poisson field and the empirical mixture by direct differences."""
    n, d = y.shape
    q = np.array([((xi - m * y) ** 2).sum(-1) for xi in x])
    r2 = D * s2
    out = {}
    for name, logits in [("pfgm", -0.5 * (d + D) * np.log1p(q / r2)), ("emp", -q / (2 * s2))]:
        mx = logits.max(1, keepdims=True)
        w = np.exp(logits - mx)
        z = w.sum(1, keepdims=True)
        dbar = (w / z) @ y
        out[name + "_score"] = (m * dbar - x) / s2
        out[name + "_lse"] = (mx + np.log(z))[:, 0] - math.log(n)
        out[name + "_mean"] = dbar
    out["pfgm_logp"] = out["pfgm_lse"] + math.lgamma(0.5 * (d + D)) - math.lgamma(0.5 * D) \
        - 0.5 * d * (math.log(math.pi) + math.log(r2))
    out["emp_logp"] = out["emp_lse"] - 0.5 * d * math.log(2 * math.pi * s2)
    out["nearest"] = np.argmin(np.array([((xi - y) ** 2).sum(-1) for xi in x]), axis=1)
    return out


def rel(a, b):
    return np.linalg.norm(a - b, axis=-1) / np.linalg.norm(b, axis=-1)


# ---- 1. sgmrun score against NumPy ---------------------------------------
train = idx_images("train-images-idx3-ubyte.gz").astype(np.float64) / 255 * 2 - 1
test = idx_images("t10k-images-idx3-ubyte.gz").astype(np.float64) / 255 * 2 - 1
cfg = write_config(os.path.join(work, "score.ini"), """
[run]
seed = 4
[data]
source = fashion-mnist
n = 500
[drift]
model = pfgm
[sampler]
method = ode
""")
status, out, err = run(["config", cfg])
check(status == 0 and "pfgm_D = 2048" in out and "prior = pfgm" in out,
      f"model = pfgm resolves pfgm_D = 2048 and prior = pfgm: {status} {err}")

rng = np.random.default_rng(1)
z = rng.standard_normal((12, 784))
cases = [("vp", 0.3, 1), ("vp", 0.02, 7), ("vp", 0.3, 2048), ("ve", 0.5, 7), ("ve", 0.1, 2048)]
for kind, t, D in cases:
    m, s2 = schedule(kind, t)
    sigma = math.sqrt(s2)
    x = np.concatenate([m * test[:4] + sigma * z[:4],      # new images
                        z[4:8],                            # far from the data
                        m * train[[3, 50, 200, 400]] + 0.2 * sigma * z[8:]])
    points = os.path.join(work, f"points-{kind}-{t}.h5")
    with h5py.File(points, "w") as f:
        f["points"] = x
    sets = ["--set", f"sde.kind={kind}"] + ([] if D == 2048 else ["--set", f"drift.pfgm_D={D}"])
    label = f"{kind} t = {t} D = {D}"
    results = []
    for ranks in (1, 3):
        path = os.path.join(work, f"score-{kind}-{t}-{D}-{ranks}.h5")
        status, _, err = run(["score", cfg, "--points", points, "--t", str(t), "--output", path,
                              "--quiet"] + sets, ranks)
        if not check(status == 0, f"score ({label}) on {ranks} ranks: exit {status}: {err}"):
            continue
        with h5py.File(path, "r") as f:
            results.append({k: f[k][...] for k in f if isinstance(f[k], h5py.Dataset)})
            check(text(f.attrs["drift"]).startswith(f"pfgm (D = {D}"), f"drift attribute ({label})")
    if len(results) != 2:
        continue
    got = results[0]
    ref = reference(train[got["training_index"]], x, m, s2, D)
    e_score = np.max(rel(got["score"], ref["pfgm_score"]))
    e_logp = np.max(np.abs(got["model_log_density"] - ref["pfgm_logp"]) / np.abs(ref["pfgm_logp"]))
    print(f"pfgm score ({label}): drift {e_score:.1e}, model log density {e_logp:.1e} vs NumPy")
    check(e_score < 1e-10, f"pfgm drift vs NumPy ({label}): {e_score:.2e}")
    check(e_logp < 1e-10, f"pfgm log density vs NumPy ({label}): {e_logp:.2e}")
    check(np.max(rel(got["empirical_score"], ref["emp_score"])) < 1e-10, f"empirical score ({label})")
    check(np.max(rel(got["denoised"], ref["emp_mean"])) < 1e-10, f"empirical denoiser ({label})")
    check(np.max(np.abs(got["log_density"] - ref["emp_logp"]) / np.abs(ref["emp_logp"])) < 1e-10,
          f"empirical log density ({label})")
    check(np.array_equal(got["nearest_index"], ref["nearest"]), f"nearest index ({label})")
    for name, want in got.items():
        other = results[1][name]
        if want.dtype.kind in "iu":
            check(np.array_equal(other, want), f"{name} identical on 3 ranks ({label})")
        else:
            e = np.max(np.abs(other - want) / np.maximum(np.abs(want), 1e-300)) if want.ndim == 1 \
                else np.max(rel(other, want))
            check(e < 1e-12, f"{name} on 3 ranks ({label}): {e:.2e}")

# ---- 2. D -> infinity: the diffusion ODE's trajectories -------------------
ode = write_config(os.path.join(work, "ode.ini"), """
[run]
seed = 3
[data]
source = gmm
n = 40
means = 1;1, -1;0.5, 0;-1
variances = 0.05
[sde]
kind = ve
sigma_max = 5
[drift]
model = empirical
[sampler]
method = ode
solver = heun
grid = log_sigma
steps = 200
particles = 32
prior = gaussian
[output]
every = 20
trajectories = yes
[diagnostics]
novikov = no
""")


def trajectories(name, sets, ranks):
    path = os.path.join(work, f"ode-{name}.h5")
    status, _, err = run(["run", ode, "--output", path, "--overwrite", "--quiet"] + sets, ranks)
    if not check(status == 0, f"ode run {name}: exit {status}: {err}"):
        return None, None
    with h5py.File(path, "r") as f:
        return f["particles"][...], f["final/particles"][...]


emp, emp_final = trajectories("empirical", [], 1)
dev, final = {}, {}
for D in (1e3, 1e5, 1e6):
    path, last = trajectories(f"pfgm-{D:g}", ["--set", "drift.model=pfgm", "--set", f"drift.pfgm_D={D:g}",
                                              "--set", "sampler.prior=gaussian"], 2)
    if emp is None or path is None:
        continue
    dev[D] = float(np.max(np.linalg.norm(path - emp, axis=-1) / np.linalg.norm(emp, axis=-1)))
    final[D] = float(np.max(np.abs(last - emp_final)) / np.max(np.abs(emp_final)))
    print(f"pfgm ode D = {D:g}: largest relative path deviation {dev[D]:.2e}, final {final[D]:.2e}")
if len(dev) == 3:
    check(dev[1e6] < 1e-4, f"D = 1e6 paths within 1e-4 of the diffusion ODE's: {dev[1e6]:.2e}")
    check(final[1e6] < 1e-7, f"D = 1e6 final particles within 1e-7: {final[1e6]:.2e}")
    check(9 < dev[1e5] / dev[1e6] < 11, f"path deviation falls like 1/D: ratio {dev[1e5] / dev[1e6]:.3f}")
    check(dev[1e3] > 1e-3, f"D = 1e3 differs visibly: {dev[1e3]:.2e}")

# ---- 3. The pfgm prior, the default of model = pfgm ------------------------
D = 7.0
path = os.path.join(work, "prior.h5")
status, _, err = run(["run", ode, "--output", path, "--overwrite", "--quiet", "--set", "drift.model=pfgm",
                      "--set", f"drift.pfgm_D={D:g}", "--set", "sampler.prior=", "--set", "sampler.particles=2000",
                      "--set", "sampler.steps=2", "--set", "output.every=1"], 2)
if check(status == 0, f"pfgm prior run: exit {status}: {err}"):
    with h5py.File(path, "r") as f:
        x0 = f["particles"][0]
        check("prior = pfgm" in text(f.attrs["config"]), "the run's prior is pfgm")
    r2max = (0.01 ** 2 * (5 / 0.01) ** 2 - 0.01 ** 2) * D
    R2 = (x0 ** 2).sum(-1)
    b = np.sort(R2 / (R2 + r2max))
    F = 1 - (1 - b) ** (D / 2)
    n = len(b)
    ks = max(np.max(np.abs(F - np.arange(n) / n)), np.max(np.abs(F - np.arange(1, n + 1) / n)))
    print(f"pfgm prior: KS {ks:.4f} (critical {1.95 / math.sqrt(n):.4f})")
    check(ks < 1.95 / math.sqrt(n), f"initial particles: b ~ Beta(1, D/2) (KS {ks:.4f})")
finish()
