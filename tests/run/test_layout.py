#!/usr/bin/python3
"""The output file of sgmrun run, read back with h5py: the names, shapes,
types, attributes and dimension scales of INTERFACE.md, the status, and a
sweep task's attributes and file name."""
import os

import h5py
import numpy as np

from sgmrun_test import check, finish, run, scratch, text, write_config

work = scratch("run-layout")
P, K, every = 21, 30, 7
cfg = write_config(os.path.join(work, "layout.ini"), f"""
[run]
seed = 7
[data]
source = sphere
dim = 2
intrinsic = 1
n = 100
[perturb]
kind = constant
[sampler]
method = ei
grid = edm
steps = {K}
particles = {P}
[output]
every = {every}
trajectories = yes
storage = float32
[diagnostics]
density_bins = 16
density_range = -2, 2
[sweep]
perturb.magnitude = 0.5, 1.5
""")
status, _, err = run(["sweep", cfg, "--count"], 1)
check(status == 0, f"sweep --count: {err}")
status, out, err = run(["sweep", cfg, "--count"], 2)
check(out.strip() == "2", f"sweep --count prints 2 once: {out!r}")
status, out, _ = run(["sweep", cfg, "--list", "--output", os.path.join(work, "x.h5")], 1)
check("perturb.magnitude" in out and "x.task001.h5" in out and len(out.strip().splitlines()) == 3,
      f"sweep --list: {out!r}")
status, _, err = run(["sweep", cfg], 1)
check(status == 2, "sweep needs --count or --list")

base = os.path.join(work, "layout.h5")
status, _, err = run(["run", cfg, "--task", "1", "--output", base, "--overwrite", "--quiet"], 2)
path = os.path.join(work, "layout.task001.h5")
check(status == 0 and os.path.exists(path), f"run --task 1 writes {path}: {err}")
status, _, err = run(["run", cfg, "--task", "2", "--output", base], 2)
check(status == 2 and "out of range" in err, f"--task 2 is out of range: {err}")

# Without [sweep] a configuration is its own task 0: --list names the plain
# output, and --task 0 (a 1-task job array) writes it, without task attributes.
plain = write_config(os.path.join(work, "plain.ini"), open(cfg).read().split("[sweep]")[0])
plain_out = os.path.join(work, "plain.h5")
status, out, err = run(["sweep", plain, "--list", "--output", plain_out], 1)
check(status == 0 and out.split()[-1] == plain_out, f"sweep --list without [sweep]: {out!r} {err}")
status, _, err = run(["run", plain, "--task", "0", "--output", plain_out, "--quiet", "--overwrite"], 1)
if check(status == 0 and os.path.exists(plain_out), f"--task 0 without [sweep] writes {plain_out}: {err}"):
    with h5py.File(plain_out, "r") as f:
        check("task" not in f.attrs, "no task attribute without [sweep]")
status, _, err = run(["run", plain, "--task", "1", "--output", plain_out, "--overwrite"], 1)
check(status == 2 and "out of range" in err, f"--task 1 without [sweep] is out of range: {err}")

saved = len(range(0, K + 1, every)) + (0 if K % every == 0 else 1)
with h5py.File(path, "r") as f:
    a = f.attrs
    check(text(a["status"]) == "complete", "status complete")
    for key in ("config", "version", "git_commit", "compiler", "hdf5_version", "mpi_library",
                "mpi_ranks", "grid", "seed", "start_time", "end_time", "task", "sweep",
                "perturb.magnitude", "drift", "data", "sampler"):
        check(key in a, f"root attribute {key}")
    check(int(a["task"]) == 1 and text(a["perturb.magnitude"]) == "1.5", "task attributes")
    check("magnitude = 1.5" in text(a["config"]), "the task's resolved configuration")
    check(int(a["mpi_ranks"]) == 2 and int(a["seed"]) == 7, "ranks and seed")
    shapes = {
        "time": (saved,), "particle": (P,), "particles": (saved, P, 2),
        "final/particles": (P, 2), "final/denoised": (P, 2),
        "diagnostics/nearest_distance": (saved, P), "diagnostics/second_nearest_distance": (saved, P),
        "diagnostics/nearest_index": (saved, P), "diagnostics/score_error_norm": (saved, P),
        "diagnostics/novikov_integral": (saved, P), "diagnostics/memorized_fraction": (saved,),
        "diagnostics/novikov_log_mean_exp": (saved,), "diagnostics/novikov_mean": (saved,),
        "diagnostics/density": (saved, 16, 16), "diagnostics/density_edges": (17,),
        "training/source_index": (100,),
    }
    for name, shape in shapes.items():
        if not check(name in f, f"/{name} exists"):
            continue
        d = f[name]
        check(d.shape == shape, f"/{name} shape {d.shape}, expected {shape}")
        check("description" in d.attrs and "units" in d.attrs, f"/{name} description and units")
    check(f["particles"].dtype == np.float32, "storage = float32 applies to /particles")
    check(f["diagnostics/nearest_index"].dtype == np.int64, "nearest_index is int64")
    check(np.array_equal(f["training/source_index"][...], np.arange(100)),
          "a synthetic training set is its source, in order")
    check(list(f["training"].attrs["example_shape"]) == [2], "/training example_shape")
    t = f["time"][...]
    check(t[0] == 1.0 and abs(t[-1] - 1e-3) < 1e-15 and np.all(np.diff(t) < 0), f"time from T to t_min: {t}")
    for name in ("particles", "diagnostics/nearest_distance", "diagnostics/memorized_fraction"):
        check(f[name].dims[0].keys() == ["time"], f"/{name} axis 0 scale is /time")
    for name in ("particles", "diagnostics/novikov_integral"):
        check(f[name].dims[1].keys() == ["particle"], f"/{name} axis 1 scale is /particle")
    final = f["final/particles"][...]
    check(np.allclose(f["particles"][-1], final, rtol=1e-6), "last saved trajectory step is the final state")
    dens = f["diagnostics/density"][-1]
    edges = f["diagnostics/density_edges"][...]
    width = edges[1] - edges[0]
    inside = np.mean(np.all(np.abs(final) < 2, axis=1))
    check(abs(dens.sum() * width * width - inside) < 1e-12, "density integrates to the share inside the range")
    frac = f["diagnostics/memorized_fraction"][...]
    ratio = f["diagnostics/nearest_distance"][...] / f["diagnostics/second_nearest_distance"][...]
    check(np.allclose(frac, (ratio < 1 / 3).mean(axis=1)), "memorized_fraction matches the distances")
finish()
