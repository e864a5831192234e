"""Checkpoints and resume: a signalled run checkpoints and exits 75, and
`run --resume` finishes it with the datasets of an uninterrupted run.

One small Fashion-MNIST run (real data, empirical drift with a constant
perturbation so that the Novikov integrals grow, trajectories saved) is run
once without interruption on 2 ranks: the reference.  Every case below stops
a copy of it in some way, resumes it, and compares every dataset bit for bit
with the reference.  Resumed on a different grid (1 or 3 ranks instead of 2:
the particles split into other row blocks), the result is that of an
uninterrupted run on the new grid, which differs from the 2-rank one by
rounding only: BLAS kernels take other code paths for other block sizes, and
the ensemble means sum the particles in another order.  Those cases are
compared to 1e-12 of each dataset's largest magnitude (measured: <= 2e-15).
An integer dataset (nearest_index) must still be identical.
"""
import os
import shutil
import signal
import time

from sgmrun_test import (FASHION, check, children, differences, finish,
                         kill_all, run, scratch, start, status, write_config)

DIR = scratch("run_checkpoint")
for name in os.listdir(DIR):
    path = os.path.join(DIR, name)
    shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)

CONFIG = f"""[run]
name = ckpt
seed = 11
checkpoint_every = 25
[data]
source = fashion-mnist
path = {FASHION}
n = 500
[perturb]
kind = constant
magnitude = 0.05
[sampler]
method = ei
steps = 600
particles = 64
[output]
every = 20
trajectories = yes
[diagnostics]
density_bins = 8
"""
cfg = write_config(os.path.join(DIR, "ckpt.ini"), CONFIG)
OTHER_GRID = 1e-12

ref = os.path.join(DIR, "reference.h5")
rc, _, err = run(["run", cfg, "--output", ref, "--quiet"], 2)
if not check(rc == 0, f"reference run failed:\n{err}"):
    finish()


def ckpt_files(out):
    return sorted(n for n in os.listdir(DIR) if n.startswith(os.path.basename(out) + "."))


def wait_for(path, p, timeout=60):
    """Waits until path exists while the run p is still going."""
    end = time.time() + timeout
    while time.time() < end and p.poll() is None:
        if os.path.exists(path):
            return True
        time.sleep(0.02)
    return os.path.exists(path)


def stop(out, sig, target="launcher", ranks=2, after=".ckpt", extra=()):
    """Starts the run, waits for its first checkpoint (so that it is mid-run),
    sends sig to the launcher or to every rank, and returns (rc, stderr)."""
    p = start(["run", cfg, "--output", out, "--quiet"] + list(extra), ranks)
    if not wait_for(out + after, p):
        p.kill()
        out_, err = p.communicate()
        check(False, f"{out}: no {after} appeared while running:\n{err}")
        return None, err
    if p.poll() is not None:
        check(False, f"{out}: the run ended before the signal")
    if target == "launcher":
        os.kill(p.pid, sig)
    elif target == "ranks":
        for pid in children(p.pid):
            os.kill(pid, sig)
    else:  # every process at once, as a node failure would
        kill_all(p, sig)
        return p.returncode, ""
    _, err = p.communicate(timeout=120)
    return p.returncode, err


def resumed(out, ranks=2, tol=None, want_log=None):
    rc, _, err = run(["run", cfg, "--output", out, "--resume"], ranks)
    check(rc == 0, f"{out}: resume exited {rc}:\n{err}")
    if want_log:
        check(want_log in err, f"{out}: resume did not say '{want_log}':\n{err}")
    if rc == 0:
        check(status(out) == "complete", f"{out}: status {status(out)} after resume")
        check(ckpt_files(out) == [], f"{out}: checkpoints left: {ckpt_files(out)}")
        bad = differences(out, ref, tol)
        check(bad == [], f"{out}: differs from the uninterrupted run in {bad}")
    return err


# 1. SIGUSR1 to mpirun (forwarded to the ranks, as SLURM's --signal does to
#    a batch step): exit 75, one message, status interrupted, a checkpoint.
out = os.path.join(DIR, "usr1.h5")
rc, err = stop(out, signal.SIGUSR1)
check(rc == 75, f"SIGUSR1: exit {rc}, expected 75:\n{err}")
lines = [l for l in err.splitlines() if l.startswith("sgmrun: interrupted:")]
check(len(lines) == 1 and "--resume" in lines[0] and "step" in lines[0],
      f"SIGUSR1: expected one 'sgmrun: interrupted:' line naming the step:\n{err}")
check(status(out) == "interrupted", f"SIGUSR1: status {status(out)}")
check(os.path.exists(out + ".ckpt"), "SIGUSR1: no checkpoint")

# 2. A changed configuration is refused, naming the key; nothing is touched.
before = open(out + ".ckpt", "rb").read(), open(out, "rb").read()
rc, _, err = run(["run", cfg, "--output", out, "--resume", "--set", "sampler.steps=700"], 2)
check(rc == 1 and "[sampler] steps" in err and "differs" in err,
      f"changed config: exit {rc}, expected 1 naming [sampler] steps:\n{err}")
check((open(out + ".ckpt", "rb").read(), open(out, "rb").read()) == before,
      "changed config: the refused resume modified the file or its checkpoint")
# ... but the grid and the checkpoint interval may change.
resumed(out, 2)

# 3. SIGTERM to the ranks themselves (what SLURM sends at the time limit),
#    resumed on 1 rank.
out = os.path.join(DIR, "term.h5")
rc, err = stop(out, signal.SIGTERM, target="ranks")
check(rc == 75, f"SIGTERM: exit {rc}, expected 75:\n{err}")
resumed(out, 1, tol=OTHER_GRID, want_log="resuming")

# 4. SIGINT to the ranks, resumed on 3 ranks (3 row blocks of particles).
out = os.path.join(DIR, "int.h5")
rc, err = stop(out, signal.SIGINT, target="ranks")
check(rc == 75, f"SIGINT: exit {rc}, expected 75:\n{err}")
resumed(out, 3, tol=OTHER_GRID)

# 5. kill -9 of everything after a second checkpoint, then the newest
#    checkpoint damaged: the previous one is used, with a warning.
out = os.path.join(DIR, "prev.h5")
rc, err = stop(out, signal.SIGKILL, target="all", after=".ckpt.prev")
check(rc != 0 and rc != 75, f"SIGKILL: exit {rc}")
with open(out + ".ckpt", "r+b") as f:
    f.truncate(100)
err = resumed(out, 2)
check("ignoring checkpoint" in err, f"damaged checkpoint: no warning:\n{err}")

# 6. Killed before the first checkpoint: --resume starts from the beginning
#    and says so.
out = os.path.join(DIR, "early.h5")
p = start(["run", cfg, "--output", out, "--quiet", "--set", "run.checkpoint_every=0"], 2)
if wait_for(out, p):
    time.sleep(0.3)
kill_all(p)
check(not os.path.exists(out + ".ckpt"), "early kill: a checkpoint exists")
resumed(out, 2, want_log="no usable checkpoint")

# 7. Time-based checkpoints only (checkpoint_seconds), kill -9.
out = os.path.join(DIR, "seconds.h5")
rc, err = stop(out, signal.SIGKILL, target="all",
               extra=["--set", "run.checkpoint_every=0", "--set", "run.checkpoint_seconds=0.2"])
resumed(out, 2)

# 8. --resume without a file starts from the beginning; --resume of a
#    complete file does nothing.
out = os.path.join(DIR, "fresh.h5")
resumed(out, 2, want_log="does not exist yet")
before = open(out, "rb").read()
# A checkpoint left by a kill between completion and clean-up goes too.
shutil.copy(os.path.join(DIR, "ckpt.ini"), out + ".ckpt")
rc, _, err = run(["run", cfg, "--output", out, "--resume"], 2)
check(rc == 0 and "nothing to resume" in err, f"complete file: exit {rc}:\n{err}")
check(open(out, "rb").read() == before, "complete file: --resume modified it")
check(ckpt_files(out) == [], f"complete file: checkpoints left: {ckpt_files(out)}")

# 10. SIGUSR1 during start-up (a requeued job whose time limit is near is
#     signalled as soon as it starts): each rank is signalled the moment its
#     handler is installed (SigCgt in /proc), which main() does before
#     MPI_Init -- seen as the rank still having one thread (MPI_Init starts
#     PMIx and progress threads); the run stops after its first step, and
#     resumes.
def proc_status(pid):
    """(catches SIGUSR1, threads) of an sgmrun process, or (False, 0) if gone
    or not yet sgmrun (a child of mpirun has mpirun's handlers until exec)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            fields = {k: v.strip() for k, v in (l.split(":", 1) for l in f if ":" in l)}
        if fields["Name"] != "sgmrun":
            return False, 0
        return bool(int(fields["SigCgt"], 16) >> (signal.SIGUSR1 - 1) & 1), int(fields["Threads"])
    except (OSError, KeyError, ValueError):
        return False, 0


out = os.path.join(DIR, "startup.h5")
p = start(["run", cfg, "--output", out, "--quiet"], 2)
signalled, end = {}, time.time() + 60
while len(signalled) < 2 and time.time() < end and p.poll() is None:
    for pid in children(p.pid):
        caught, threads = proc_status(pid)
        if pid not in signalled and caught:
            os.kill(pid, signal.SIGUSR1)
            signalled[pid] = threads
_, err = p.communicate(timeout=120)
check(len(signalled) == 2 and p.returncode == 75,
      f"SIGUSR1 at start-up: exit {p.returncode}, expected 75:\n{err}")
check(1 in signalled.values(), f"no rank signalled before MPI_Init (threads: {signalled})")
resumed(out, 2)

# 9. An uninterrupted run leaves no checkpoint behind.
check(ckpt_files(ref) == [], f"reference run left {ckpt_files(ref)}")

finish()
