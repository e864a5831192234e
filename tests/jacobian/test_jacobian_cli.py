#!/usr/bin/python3
"""`sgmrun jacobian` end to end on real Fashion-MNIST (d = 784).

1. A run: /jacobian/points are the run's own particles at the grid times
   nearest the listed ones (bit for bit: /particles at those steps), and the
   analysis matches an independent NumPy reference built from the training
   images the file names (/training/source_index, read from the IDX files):
   J = (m^2/s^4) Cov_w - I/s^2 in float64, np.linalg.svd / eigh.  Singular
   values and eigenvalues to 1e-9 of |J| (both sides are backward stable to
   ~d eps |J| ~ 1e-13, the assembly orders sums differently), the local
   dimension recomputed from them, |u_i . v_i| = 1 and Phi_n = 1 (the
   empirical J is symmetric), and the named vectors satisfy J v = s u and
   J~ w = lambda w to 1e-8 |J| (a check that holds however degenerate the
   spectrum, unlike comparing vectors).
2. The same numbers on 1 rank (1x1) and 4 ranks (2x2 and side-by-side 1x2
   sub-grids): 1e-10 of |J|.
3. --points: the run's points analysed again at the run's times give the
   run's numbers; with the rotation perturbation, fd equals analytic (1e-6)
   and the cosines fall well below 1 (< 0.99) on exactly the rotated
   subspace's k directions.
4. A [sweep] (inputs/smoke/W.ini, shrunk): one file per drift.
5. Bad settings: one clear message, exit status 1 (2 for usage), no file.
"""
import gzip
import os

import h5py
import numpy as np

from sgmrun_test import FASHION, SOURCE, check, finish, run, scratch, text, write_config

work = scratch("jacobian-cli")
TIMES = [0.01, 0.05, 0.3]
base = """
[run]
seed = 3
[data]
source = fashion-mnist
n = 400
classes = 0, 7
[sampler]
method = ei
grid = log_sigma
steps = 30
particles = 5
[output]
every = 1
trajectories = yes
[jacobian]
times = 0.01, 0.05, 0.3
points = 4
"""
cfg = write_config(os.path.join(work, "base.ini"), base)


def idx_images(name):
    with gzip.open(os.path.join(FASHION, name), "rb") as f:
        data = f.read()
    n, r, c = (int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(3))
    return np.frombuffer(data, np.uint8, n * r * c, 16).reshape(n, r * c)


def jacobian(train, m, s2, x):
    r2 = ((x[None, :] - m * train) ** 2).sum(1)
    logit = -0.5 * r2 / s2
    w = np.exp(logit - logit.max())
    w /= w.sum()
    c = train - w @ train
    cov = (c * w[:, None]).T @ c
    return (m * m / (s2 * s2)) * cov - np.eye(len(x)) / s2


def vp(t, beta_min=0.1, beta_max=20.0):
    b = beta_min * t + 0.5 * (beta_max - beta_min) * t * t
    return np.exp(-0.5 * b), 1 - np.exp(-b)


def sgmrun_ok(args, ranks, what, timeout=600):
    status, out, err = run(args, ranks=ranks, timeout=timeout)
    check(status == 0, f"{what}: exit {status}: {err[-2000:]}")
    return status == 0


def jac(path):
    with h5py.File(path, "r") as f:
        g = f["jacobian"]
        out = {k: g[k][()] for k in g if isinstance(g[k], h5py.Dataset)}
        out.update({"vectors/" + k: g["vectors"][k][()] for k in g["vectors"]})
        for k in g:
            if isinstance(g[k], h5py.Dataset):
                check(text(g[k].attrs.get("description", "")) != "" and "units" in g[k].attrs,
                      f"{path}: /jacobian/{k} lacks description or units")
        return out


# ---- 1. a run against NumPy --------------------------------------------------
a = os.path.join(work, "a.h5")
if sgmrun_ok(["jacobian", cfg, "--output", a, "--overwrite"], 2, "run on 2 ranks"):
    J = jac(a)
    d = 784
    for k in ("singular_values", "eigenvalues", "cosines", "overlap_uv", "overlap_uw", "overlap_vw",
              "points"):
        check(J[k].shape == (3, 4, d), f"/jacobian/{k} has shape {J[k].shape}")
    check(J["local_dimension"].shape == (3, 4), "local_dimension shape")
    with h5py.File(a, "r") as f:
        check(text(f.attrs["status"]) == "complete", "status")
        time, particles = f["time"][()], f["particles"][()]
        index = f["training/source_index"][()]
    for j, listed in enumerate(TIMES):
        k = int(np.argmin(np.abs(time - listed)))
        check(J["times"][j] == time[k], f"listed {listed}: analysed at {J['times'][j]}, grid {time[k]}")
        check(np.array_equal(J["points"][j], particles[k, :4]),
              f"listed {listed}: /jacobian/points are not the particles at t = {time[k]}")
    train = idx_images("train-images-idx3-ubyte.gz")[index].astype(np.float64) / 255 * 2 - 1
    for j in range(3):
        m, s2 = vp(J["times"][j])
        check(abs(J["noise_variance"][j] - s2) <= 1e-12 * s2, "noise_variance")
        for p in range(4):
            x = J["points"][j, p]
            R = jacobian(train, m, s2, x)
            scale = np.abs(R).max()
            sv = np.sort(np.linalg.svd(R, compute_uv=False))
            ev = np.linalg.eigvalsh(0.5 * (R + R.T))
            ev = ev[np.argsort(np.abs(ev), kind="stable")]
            where = f"t = {J['times'][j]:.4g}, point {p}"
            check(np.abs(J["singular_values"][j, p] - sv).max() <= 1e-9 * scale,
                  f"{where}: singular values off by {np.abs(J['singular_values'][j, p] - sv).max():.3g}")
            check(np.abs(np.abs(J["eigenvalues"][j, p]) - np.abs(ev)).max() <= 1e-9 * scale,
                  f"{where}: eigenvalues")
            s = J["singular_values"][j, p]
            ld = int(np.sum(1 / s >= 1.1 * s2))
            check(J["local_dimension"][j, p] == ld, f"{where}: local dimension {J['local_dimension'][j, p]} vs {ld}")
            check(np.abs(np.abs(J["cosines"][j, p]) - 1).max() <= 1e-8, f"{where}: |cos| != 1 (symmetric J)")
            for o in ("overlap_uv",):
                check(np.abs(J[o][j, p] - 1).max() <= 1e-8, f"{where}: {o} != 1")
            for o in ("overlap_uv", "overlap_uw", "overlap_vw"):
                check(abs(J[o][j, p, -1] - 1) <= 1e-9, f"{where}: {o} at n = d is not 1")
            V = {k: J["vectors/" + k][j, p] for k in
                 ("u_minor", "v_minor", "w_zero", "u_major", "v_major", "w_minor", "w_major")}
            for k, v in V.items():
                check(abs(np.linalg.norm(v) - 1) <= 1e-10, f"{where}: |{k}| != 1")
            check(np.abs(R @ V["v_minor"] - s[0] * V["u_minor"]).max() <= 1e-8 * scale, f"{where}: J v- != s u-")
            check(np.abs(R @ V["v_major"] - s[-1] * V["u_major"]).max() <= 1e-8 * scale, f"{where}: J v+ != s u+")
            sym = 0.5 * (R + R.T)
            e = J["eigenvalues"][j, p]
            for k, lam in (("w_zero", e[0]), ("w_minor", e.min()), ("w_major", e.max())):
                check(np.abs(sym @ V[k] - lam * V[k]).max() <= 1e-8 * scale, f"{where}: J~ {k} != lambda {k}")

    # ---- 2. other rank counts and sub-grids ---------------------------------------
    for ranks, grid in ((1, "1x1"), (4, "2x2"), (4, "1x2")):
        b = os.path.join(work, f"b{ranks}{grid}.h5")
        if not sgmrun_ok(["jacobian", cfg, "--output", b, "--overwrite", "--set", f"jacobian.grid={grid}",
                          "--set", "jacobian.block=50"], ranks, f"{ranks} ranks, grid {grid}"):
            continue
        B = jac(b)
        scale = np.abs(J["singular_values"]).max()
        # Other grids give the same paths up to the rounding of the reductions.
        check(np.abs(B["points"] - J["points"]).max() <= 1e-12 * np.abs(J["points"]).max(),
              f"{ranks} ranks {grid}: other points")
        for k in ("singular_values", "eigenvalues"):
            check(np.abs(B[k] - J[k]).max() <= 1e-10 * scale, f"{ranks} ranks {grid}: {k} differ")
        check(np.abs(np.abs(B["cosines"]) - np.abs(J["cosines"])).max() <= 1e-8, f"{ranks} ranks {grid}: cosines")
        check(np.array_equal(B["local_dimension"], J["local_dimension"]), f"{ranks} ranks {grid}: local dimension")
        with h5py.File(b, "r") as f:
            check(text(f["jacobian"].attrs["grid"]) == grid, f"grid attribute {text(f['jacobian'].attrs['grid'])}")

    # A grid row holding none of the analysed particles (points = 2 of 5,
    # rows of one rank: row 1 holds particles 3 and 4) takes part in the
    # collective writes with nothing to write.
    e = os.path.join(work, "empty-row.h5")
    if sgmrun_ok(["jacobian", cfg, "--output", e, "--overwrite", "--set", "jacobian.points=2",
                  "--set", "grid.rows=2"], 2, "a row without analysed points"):
        Erow = jac(e)
        check(Erow["local_dimension"].shape == (3, 2), "empty row: shape")
        check(np.array_equal(Erow["local_dimension"], J["local_dimension"][:, :2]), "empty row: local dimension")

    # ---- 3. --points -------------------------------------------------------------
    pts = os.path.join(work, "points.h5")
    with h5py.File(pts, "w") as f:
        f["points"] = J["points"][2]  # the run's points at its t ~ 0.3
    times = f"jacobian.times={J['times'][2]!r}"
    c = os.path.join(work, "c.h5")
    if sgmrun_ok(["jacobian", cfg, "--points", pts, "--output", c, "--overwrite", "--set", times], 2, "--points"):
        C = jac(c)
        check(C["times"][0] == J["times"][2], "--points: times")
        for k in ("singular_values", "eigenvalues"):
            check(np.abs(C[k][0] - J[k][2]).max() <= 1e-10 * np.abs(J[k]).max(), f"--points: {k} differ from the run's")
        check(np.array_equal(C["local_dimension"][0], J["local_dimension"][2]), "--points: local dimension")
        with h5py.File(c, "r") as f:
            check(text(f.attrs["command"]) == "jacobian" and text(f.attrs["status"]) == "complete",
                  "--points file attributes")
    # save_vectors = all: every vector, orthonormal, consistent with the
    # named ones and the spectra.
    every = os.path.join(work, "all.h5")
    if sgmrun_ok(["jacobian", cfg, "--points", pts, "--output", every, "--overwrite", "--set", times,
                  "--set", "jacobian.save_vectors=all"], 2, "save_vectors = all"):
        E = jac(every)
        for k in ("u", "v", "w"):
            check(E["vectors/" + k].shape == (1, 4, d, d), f"vectors/{k} shape {E['vectors/' + k].shape}")
        for p in range(4):
            U, V, W = (E["vectors/" + k][0, p] for k in ("u", "v", "w"))
            for name, Q in (("u", U), ("v", V), ("w", W)):
                check(np.abs(Q @ Q.T - np.eye(d)).max() <= 1e-10, f"all vectors: {name} not orthonormal")
            check(np.abs((U * V).sum(1) - E["cosines"][0, p]).max() <= 1e-12, "all vectors: cosines")
            e = E["eigenvalues"][0, p]
            pairs = (("u_minor", U[:1]), ("v_minor", V[:1]), ("u_major", U[-1:]), ("v_major", V[-1:]),
                     ("w_zero", W[:1]), ("w_minor", W[e == e.min()]), ("w_major", W[e == e.max()]))
            for name, rows in pairs:  # (ties: any of the extreme eigenvalue's rows)
                check(any(np.array_equal(E["vectors/" + name][0, p], r) for r in rows),
                      f"all vectors: {name} is not its row")
            # Phi_n from the vectors themselves.
            M = (V @ U.T) ** 2
            phi = np.array([M[:n, :n].sum() / n for n in range(1, d + 1)])
            check(np.abs(phi - E["overlap_uv"][0, p]).max() <= 1e-10, "all vectors: overlap_uv")
    rot = ["--set", "perturb.kind=rotation", "--set", "perturb.magnitude=2", "--set", "perturb.rank=16",
           "--set", times]
    outs = {}
    for method in ("analytic", "fd"):
        o = os.path.join(work, f"rot-{method}.h5")
        if sgmrun_ok(["jacobian", cfg, "--points", pts, "--output", o, "--overwrite", "--set",
                      f"jacobian.method={method}"] + rot, 2, f"rotation, {method}"):
            outs[method] = jac(o)
    if len(outs) == 2:
        A, F = outs["analytic"], outs["fd"]
        scale = np.abs(A["singular_values"]).max()
        check(np.abs(A["singular_values"] - F["singular_values"]).max() <= 1e-6 * scale,
              f"rotation: fd singular values off by {np.abs(A['singular_values'] - F['singular_values']).max():.3g}")
        # Where the empirical J is isotropic (-I/s^2, a memorised point) the
        # rotated plane pairs exactly; elsewhere it mixes weakly with the
        # directions of the point's local structure: below 0.99 on exactly
        # the k rotated directions.
        below = (np.abs(A["cosines"][0]) < 0.99).sum(axis=1)
        check(np.all(below == 16), f"rotation (k = 16): cosines below 0.99 in {below.tolist()} directions")

# ---- 4. a sweep: one file per drift ----------------------------------------------
sweep = os.path.join(work, "W.h5")
if sgmrun_ok(["jacobian", os.path.join(SOURCE, "inputs/smoke/W.ini"), "--output", sweep, "--overwrite",
              "--set", "sampler.particles=2", "--set", "jacobian.points=2", "--set", "jacobian.times=0.05, 0.3",
              "--quiet"], 2, "smoke W sweep"):
    for task in range(4):
        path = os.path.join(work, f"W.task{task:03d}.h5")
        if not check(os.path.exists(path), f"no {path}"):
            continue
        W = jac(path)
        with h5py.File(path, "r") as f:
            kind = text(f.attrs["perturb.kind"])
        off = np.abs(np.abs(W["cosines"]) - 1).max()
        check((off > 1e-3) == (kind == "rotation"), f"task {task} ({kind}): largest |1 - |cos|| is {off:.3g}")

# ---- 5. bad settings ---------------------------------------------------------------
bad = os.path.join(work, "bad.h5")
wide = os.path.join(work, "wide.h5")
with h5py.File(wide, "w") as f:
    f["points"] = np.zeros((2, 3))
cases = [
    (["jacobian", cfg, "--set", "jacobian.grid=3x2"], 2, 1, "[jacobian] grid = 3x2 needs 6 ranks; the run has 2"),
    (["jacobian", cfg, "--set", "jacobian.block=1000"], 1, 1, "block = 1000 is larger than the dimension d = 784"),
    (["jacobian", cfg, "--set", "jacobian.points=9"], 1, 1, "[jacobian] points = 9 exceeds [sampler] particles = 5"),
    (["jacobian", cfg, "--points", wide], 2, 1, "/points has 3 columns; the training data has d = 784"),
    (["jacobian", cfg, "--points", pts if 'pts' in dir() else wide, "--resume"], 1, 2, "--resume applies to runs"),
    (["jacobian", cfg, "--set", "grid.rows=2", "--set", "jacobian.grid=1x2"], 2, 1, "inside one row"),
]
for args, ranks, want, message in cases:
    if os.path.exists(bad):
        os.remove(bad)
    status, out, err = run(args + ["--output", bad], ranks=ranks, timeout=120)
    check(status == want, f"{args[2:]}: exit {status}, expected {want}: {err[-500:]}")
    check(message in err, f"{args[2:]}: message lacks '{message}': {err[-500:]}")
    check(err.count("error:") == 1, f"{args[2:]}: {err.count('error:')} error lines")
    check(not os.path.exists(bad) and not os.path.exists(bad + ".partial"), f"{args[2:]}: left a file")
finish()
