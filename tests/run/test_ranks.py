#!/usr/bin/python3
"""Whole runs on 1, 2, 3 and 4 ranks with different grid shapes give the same
final particles (1e-10 relative) and the same nearest indices.  The
Gaussian increments are keyed by (seed, particle, step), so only the
association of the shards' sums differs between grids (~1e-16 per step,
amplified little by a contracting reverse SDE).  So do runs that take their
particles through each step in small chunks (SGM_CHUNK_PARTICLES: uneven
chunks, and an empty last chunk on the row with fewer particles) and a rank
whose score kernel runs two threads."""
import os

import h5py
import numpy as np

from sgmrun_test import check, finish, run, scratch, write_config

work = scratch("run-ranks")
cfg = write_config(os.path.join(work, "ranks.ini"), """
[run]
seed = 11
[data]
source = fashion-mnist
n = 1500
[perturb]
kind = constant
magnitude = 0.2
[sampler]
method = ei
grid = log_sigma
steps = 80
particles = 13
[output]
every = 20
""")

results = {}
cases = [(1, 1, {}), (2, 1, {}), (2, 2, {}), (3, 3, {}), (4, 1, {}), (4, 2, {}), (4, 4, {}),
         (1, 1, {"SGM_CHUNK_PARTICLES": "4"}), (2, 2, {"SGM_CHUNK_PARTICLES": "3"}),
         (1, 1, {"OPENBLAS_NUM_THREADS": "2"}),
         # OpenMP granting fewer threads than the kernel plans for.
         (1, 1, {"OPENBLAS_NUM_THREADS": "2", "OMP_THREAD_LIMIT": "1"})]
for ranks, rows, env in cases:
    tag = "".join(f"-{k}={v}" for k, v in env.items())
    out = os.path.join(work, f"r{ranks}x{rows}{tag}.h5")
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    status, _, err = run(["run", cfg, "--output", out, "--overwrite", "--quiet",
                          "--set", f"grid.rows={rows}"], ranks)
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k)
        else:
            os.environ[k] = v
    if not check(status == 0, f"{ranks} ranks, {rows} rows {env}: exit {status}: {err}"):
        continue
    with h5py.File(out, "r") as f:
        check(f.attrs["grid"].decode() == f"{rows}x{ranks // rows}", "grid attribute")
        results[(ranks, rows, tag)] = {
            "final": f["final/particles"][...],
            "denoised": f["final/denoised"][...],
            "nearest": f["diagnostics/nearest_index"][...],
            "novikov": f["diagnostics/novikov_integral"][...],
        }

ref = results.get((1, 1, ""))
check(len(results) == len(cases), f"{len(results)} of {len(cases)} runs")
for key, got in results.items():
    if ref is None or key == (1, 1, ""):
        continue
    for name in ("final", "denoised"):
        err = np.max(np.linalg.norm(got[name] - ref[name], axis=1) / np.linalg.norm(ref[name], axis=1))
        check(err < 1e-10, f"{name} on {key[0]} ranks, {key[1]} rows {key[2]}: {err:.2e}")
    check(np.array_equal(got["nearest"], ref["nearest"]), f"nearest indices on {key}")
    err = np.max(np.abs(got["novikov"] - ref["novikov"]) / np.maximum(np.abs(ref["novikov"]), 1e-300))
    check(err < 1e-10, f"Novikov integrals on {key}: {err:.2e}")
# Ranks whose kernels use different thread counts (shards of 512 and 511
# examples: 2 threads and 1) must still plan the same chunks of particles,
# or their collective calls part ways and the run hangs.
uneven = write_config(os.path.join(work, "uneven.ini"), open(cfg).read()
                      .replace("n = 1500", "n = 1023").replace("particles = 13", "particles = 1000")
                      .replace("steps = 80", "steps = 3").replace("every = 20", "every = 1"))
saved = os.environ.get("OPENBLAS_NUM_THREADS")
os.environ["OPENBLAS_NUM_THREADS"] = "2"
try:
    status, _, err = run(["run", uneven, "--output", os.path.join(work, "uneven.h5"), "--overwrite",
                          "--quiet", "--set", "grid.rows=1"], 2, timeout=120)
    check(status == 0, f"uneven shards with 2 threads: exit {status}: {err[-600:]}")
except Exception as e:  # noqa: BLE001 -- a hang shows as a timeout
    check(False, f"uneven shards with 2 threads: {e}")
finally:
    if saved is None:
        os.environ.pop("OPENBLAS_NUM_THREADS")
    else:
        os.environ["OPENBLAS_NUM_THREADS"] = saved
finish()
