#!/usr/bin/python3
"""Bad run-time input to sgmrun run is rejected before any work, with one
message naming the problem: t_min >= T, steps <= 0, particles < 1, a missing
output directory, an existing output file (left untouched), a method or
combination this version does not provide.  Also: the stiffness warning, and
a batch log without carriage returns."""
import hashlib
import os
import re

from sgmrun_test import check, finish, run, scratch, write_config

work = scratch("run-errors")
cfg = write_config(os.path.join(work, "small.ini"), """
[data]
source = gmm
means = -1, 1
n = 30
[sampler]
steps = 40
particles = 8
[output]
every = 10
""")
out = os.path.join(work, "out.h5")
PROGRESS = re.compile(r"step \d+/\d+")
notadir = os.path.join(work, "plain-file")
with open(notadir, "w") as f:
    f.write("x")

cases = [
    (["--set", "sde.t_min=1", "--set", "sde.T=1"], 1, "t_min"),
    (["--set", "sampler.steps=0"], 1, "steps"),
    (["--set", "sampler.particles=0"], 1, "particles"),
    (["--output", "/nonexistent/dir/o.h5"], 1, "does not exist"),
    (["--output", os.path.join(notadir, "o.h5")], 1, "does not exist"),
    (["--set", "sampler.method=ald"], 1, "needs [sde] kind = ve"),
    (["--set", "sampler.method=ei", "--set", "drift.model=gmm"], 1, "method = em"),
    (["--resume", "--overwrite"], 2, "--resume"),
    (["--task", "-1"], 2, "--task"),
]
for extra, want, text in cases:
    if os.path.exists(out):
        os.remove(out)
    status, stdout, stderr = run(["run", cfg, "--output", out] + extra, 2, timeout=60)
    errors = [l for l in stderr.splitlines() if l.startswith("sgmrun: error:")]
    check(status == want and len(errors) == 1 and text in errors[0],
          f"{extra}: exit {status} (expected {want}), stderr {stderr!r}")
    check(not PROGRESS.search(stderr), f"{extra}: rejected before any work")
    if "--output" not in extra:
        check(not os.path.exists(out), f"{extra}: no output file")

# An existing file is never replaced without --overwrite, and is untouched.
status, _, stderr = run(["run", cfg, "--output", out, "--quiet"], 2)
check(status == 0, f"a good run: {stderr}")
before = hashlib.sha256(open(out, "rb").read()).hexdigest()
status, _, stderr = run(["run", cfg, "--output", out], 2)
check(status == 1 and "--overwrite" in stderr, f"existing output refused: {stderr}")
check(hashlib.sha256(open(out, "rb").read()).hexdigest() == before, "existing output untouched")
status, _, stderr = run(["run", cfg, "--output", out, "--overwrite", "--quiet", "--set", "run.seed=3"], 2)
check(status == 0 and hashlib.sha256(open(out, "rb").read()).hexdigest() != before, "--overwrite replaces")

# A drift that fails at a save step (non-finite at an impossible point):
# the failed file's series all end at the same save step (the state part of
# the step is taken back out).
import h5py  # noqa: E402
bad = os.path.join(work, "failed.h5")
status, _, stderr = run(["run", cfg, "--output", bad, "--overwrite", "--set", "sampler.prior=point",
                         "--set", "sampler.prior_value=1e308", "--set", "output.trajectories=yes",
                         "--set", "diagnostics.density_bins=4"], 2, timeout=60)
check(status == 1 and ("infinite" in stderr or "NaN" in stderr), f"failing drift: exit {status}: {stderr}")
with h5py.File(bad, "r") as f:
    lengths = {name: f[name].shape[0] for name in ["time", "particles", "diagnostics/density",
                                                     "diagnostics/nearest_distance",
                                                     "diagnostics/novikov_integral"] if name in f}
    check(f.attrs["status"].decode() == "failed", f"status {f.attrs['status']}")
check(len(lengths) == 5 and len(set(lengths.values())) == 1, f"series lengths of the failed file: {lengths}")

# Euler-Maruyama on a uniform grid coarser than T / (2 t_min): a warning
# before the run, which still completes.
status, _, stderr = run(["run", cfg, "--output", out, "--overwrite", "--set", "drift.model=empirical"], 2)
check(status == 0 and "unstable" in stderr and "steps >=" in stderr, f"stiffness warning: {stderr}")
# stderr is a pipe here: progress lines are whole lines, no carriage returns.
check("\r" not in stderr and "step 40/40" in stderr and "GFLOP/s" in stderr, f"batch progress: {stderr!r}")
lines = [l for l in stderr.splitlines() if PROGRESS.search(l)]
check(len(lines) <= 21, f"a line every 5%: {len(lines)} lines")
status, _, stderr = run(["run", cfg, "--output", out, "--overwrite", "--quiet"], 2)
check(not PROGRESS.search(stderr), f"--quiet silences progress: {stderr!r}")
finish()
