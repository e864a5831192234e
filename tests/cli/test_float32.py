#!/usr/bin/python3
"""[run] precision = float32 end to end, against float64 on real data.

`sgmrun score` on 5 000 Fashion-MNIST training images, at points pushed
through the VP marginal from training images (memorised regime) and from
test images (between training points), at t from 1e-3 to 1, on 2 ranks:
the float32 kernel must give the float64 kernel's nearest and
second-nearest indices exactly (their distances to 1e-12: both recompute
them in float64), and scores, denoised points and log densities within
1e-5 relative (what the float32 path promises; the measured worst is
printed).  `sgmrun run` (the smoke F3a sweep: empirical and smoothed
drifts from the zero vector) in both precisions: the same nearest index at
every saved step and final particles within 1e-5.  A drift without a
float32 stream (d = 2) says so and runs in float64, bit for bit."""
import os
import subprocess
import sys

import h5py
import numpy as np

from sgmrun_test import SOURCE, check, finish, run, scratch, write_config

work = scratch("float32")
TOL = 1e-5
cfg = write_config(os.path.join(work, "fm.ini"), """
[data]
source = fashion-mnist
n = 5000
[sde]
kind = vp
""")
worst = 0.0
for split in ("train", "test"):
    for t in (1e-3, 1e-2, 0.05, 0.2, 0.5, 1.0):
        points = os.path.join(work, f"points-{split}-{t}.h5")
        p = subprocess.run([sys.executable, os.path.join(SOURCE, "analysis", "make_points.py"), points,
                            "--t", str(t), "--count", "40", "--split", split, "--seed", "3"],
                           capture_output=True, text=True)
        check(p.returncode == 0, f"make_points: {p.stderr}")
        out = {}
        for prec in ("float64", "float32"):
            out[prec] = os.path.join(work, f"score-{prec}-{split}-{t}.h5")
            status, _, err = run(["score", cfg, "--points", points, "--t", str(t), "--output", out[prec],
                                  "--set", f"run.precision={prec}"], 2)
            check(status == 0, f"score {prec} {split} t={t}: {err}")
        if not all(os.path.exists(f) for f in out.values()):
            continue
        with h5py.File(out["float64"], "r") as a, h5py.File(out["float32"], "r") as b:
            for name in ("nearest_index", "second_nearest_index"):
                if name in a:
                    check(np.array_equal(a[name][...], b[name][...]), f"{split} t={t}: {name} differs")
            for name in ("nearest_distance", "second_nearest_distance"):
                check(np.allclose(a[name][...], b[name][...], rtol=1e-12, atol=0),
                      f"{split} t={t}: {name} differs")
            for name in ("score", "empirical_score", "denoised"):
                ra, rb = a[name][...], b[name][...]
                rel = np.linalg.norm(ra - rb, axis=1) / np.linalg.norm(ra, axis=1)
                worst = max(worst, rel.max())
                check(rel.max() <= TOL, f"{split} t={t}: {name} relative error {rel.max():.2e}")
            la, lb = a["log_density"][...], b["log_density"][...]
            rel = np.abs(la - lb) / np.maximum(1, np.abs(la))
            worst = max(worst, rel.max())
            check(rel.max() <= TOL, f"{split} t={t}: log_density relative error {rel.max():.2e}")
print(f"score: worst float32 relative error {worst:.2e}", file=sys.stderr)

# sgmrun run: the smoke F3a sweep in both precisions.
ini = os.path.join(SOURCE, "inputs", "smoke", "F3a.ini")
for task in (0, 1):
    files = {}
    for prec in ("float64", "float32"):
        base = os.path.join(work, f"run-{prec}.h5")
        status, _, err = run(["run", ini, "--task", str(task), "--output", base, "--overwrite",
                              "--set", f"run.precision={prec}"], 2)
        check(status == 0, f"run {prec} task {task}: {err}")
        files[prec] = base.replace(".h5", f".task{task:03d}.h5")
        if prec == "float32":
            check("float32 on rank 0:" in err and "redone in float64" in err,
                  f"the run reports the float32 guard: {err[-600:]}")
    with h5py.File(files["float64"], "r") as a, h5py.File(files["float32"], "r") as b:
        check(np.array_equal(a["diagnostics/nearest_index"][...], b["diagnostics/nearest_index"][...]),
              f"task {task}: nearest index differs at some saved step")
        pa, pb = a["final/particles"][...], b["final/particles"][...]
        rel = (np.linalg.norm(pa - pb, axis=1) / np.linalg.norm(pa, axis=1)).max()
        check(rel <= TOL, f"task {task}: final particles differ by {rel:.2e}")
        check("precision = float32" in b.attrs["config"].decode(), "the file records the precision")

# No float32 stream for d <= 3: float64, said so, and bit for bit.
low = write_config(os.path.join(work, "low.ini"), """
[data]
source = sphere
dim = 2
intrinsic = 1
n = 200
[sampler]
steps = 20
particles = 16
""")
outs = []
for prec in ("float64", "float32"):
    out = os.path.join(work, f"low-{prec}.h5")
    status, _, err = run(["run", low, "--output", out, "--overwrite", "--set", f"run.precision={prec}"], 2)
    check(status == 0, f"low-d {prec}: {err}")
    if prec == "float32":
        check("no float32 stream" in err, f"low-d float32 says it ran in float64: {err[-400:]}")
    outs.append(out)
with h5py.File(outs[0], "r") as a, h5py.File(outs[1], "r") as b:
    check(np.array_equal(a["final/particles"][...], b["final/particles"][...]),
          "low-d float32 is the float64 run")
finish()
