"""Faults: kill -9 at random moments and while the file is created, a rank
that dies or aborts, a full disk, a checkpoint that cannot be written.

The reference is an uninterrupted 2-rank run.  Every faulty run is then
finished with `run --resume` on the same 2 ranks and must reproduce the
reference bit for bit (same grid, same arithmetic).  After every kill the
results file must still open with h5py and the newest checkpoint must be
complete.
"""
import os
import random
import shutil
import signal
import subprocess
import time

import h5py

from sgmrun_test import (FASHION, MPIEXEC, SGMRUN, check, children,
                         differences, finish, kill_all, run, scratch, start,
                         status, write_config, TIMEOUT_SCALE)

DIR = scratch("run_faults")
for name in os.listdir(DIR):
    path = os.path.join(DIR, name)
    shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)

cfg = write_config(os.path.join(DIR, "faults.ini"), f"""[run]
name = faults
seed = 5
checkpoint_every = 10
[data]
source = fashion-mnist
path = {FASHION}
n = 400
[perturb]
kind = constant
magnitude = 0.05
[sampler]
method = ei
steps = 300
particles = 48
[output]
every = 20
trajectories = yes
""")

ref = os.path.join(DIR, "reference.h5")
t0 = time.time()
rc, _, err = run(["run", cfg, "--output", ref, "--quiet"], 2)
T_REF = time.time() - t0
if not check(rc == 0, f"reference run failed:\n{err}"):
    finish()


def opens(path, what):
    """The file opens with h5py and every dataset reads."""
    if not os.path.exists(path):
        return True
    try:
        with h5py.File(path, "r") as f:
            f.visititems(lambda n, o: o[()] if isinstance(o, h5py.Dataset) else None)
        return True
    except Exception as e:  # noqa: BLE001 -- any failure to read counts
        check(False, f"{what}: h5py cannot read {path}: {e}")
        return False


def finished_like_reference(out, what):
    rc, _, err = run(["run", cfg, "--output", out, "--resume", "--quiet"], 2)
    if check(rc == 0, f"{what}: resume exited {rc}:\n{err}"):
        check(status(out) == "complete", f"{what}: status {status(out)}")
        bad = differences(out, ref)
        check(bad == [], f"{what}: differs from the uninterrupted run in {bad}")


# 1. kill -9 of every process at random moments (up to 3 kills per run, 6
#    seeds), each time resumed from whatever is on disk.
KILLS = 0
for seed in range(6):
    rng = random.Random(seed)
    out = os.path.join(DIR, f"random{seed}.h5")
    for attempt in range(3):
        p = start(["run", cfg, "--output", out, "--quiet", "--resume"], 2)
        time.sleep(rng.uniform(0.1, 1.2 * T_REF))
        if p.poll() is None:
            kill_all(p)
            KILLS += 1
        else:
            p.communicate()
        opens(out, f"seed {seed} kill {attempt}")
        for suffix in (".ckpt", ".ckpt.prev"):
            opens(out + suffix, f"seed {seed} kill {attempt}")
    finished_like_reference(out, f"random kills, seed {seed}")
print(f"random kills: {KILLS} kills over 6 runs (reference run {T_REF:.1f} s)")


def alive(pid):
    """The process exists and is not a zombie (an exited child of a launcher
    that is gone stays a zombie where nobody reaps it)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def one_rank(sig, what):
    """Sends sig to one rank mid-run: the whole job must end promptly."""
    out = os.path.join(DIR, f"{what}.h5")
    p = start(["run", cfg, "--output", out, "--quiet"], 2)
    end = time.time() + 60
    while not os.path.exists(out + ".ckpt") and time.time() < end and p.poll() is None:
        time.sleep(0.02)
    ranks = children(p.pid)
    if not check(len(ranks) == 2 and p.poll() is None, f"{what}: run not going"):
        kill_all(p)
        return
    t = time.time()
    os.kill(ranks[1], sig)
    try:
        _, err = p.communicate(timeout=30)
        took = time.time() - t
        check(p.returncode != 0, f"{what}: exit 0 after a rank died")
        check(took < 20, f"{what}: the job took {took:.1f} s to end")
        print(f"{what}: job ended {took:.2f} s after the rank died, exit {p.returncode}")
    except Exception:  # noqa: BLE001 -- a hang
        check(False, f"{what}: the job hangs after a rank died")
    kill_all(p)
    # The launcher has returned; its remaining rank may still be exiting (a
    # sanitizer build's exit takes a while): give it a few seconds.
    gone = time.time() + 10 * TIMEOUT_SCALE
    while any(alive(pid) for pid in ranks) and time.time() < gone:
        time.sleep(0.05)
    check(not any(alive(pid) for pid in ranks), f"{what}: ranks left behind")
    opens(out, what)
    finished_like_reference(out, what)


# 1b. kill -9 while a run creates its file (it is written as OUT.partial
#     until its layout is flushed, a few ms): the file it replaces
#     (--overwrite) stays as it was, and OUT always opens.
out = os.path.join(DIR, "creating.h5")
shutil.copy(ref, out)
old = open(out, "rb").read()
caught = 0
for attempt in range(5):
    p = start(["run", cfg, "--output", out, "--quiet", "--overwrite"], 2)
    end = time.time() + 60
    while not os.path.exists(out + ".partial") and time.time() < end and p.poll() is None:
        time.sleep(0.0002)
    kill_all(p)
    if os.path.exists(out + ".partial"):  # killed before the file was published
        caught += 1
        check(open(out, "rb").read() == old, f"creating {attempt}: the replaced file changed")
    opens(out, f"creating {attempt}")
check(caught > 0, "no kill landed while the file was being created (no OUT.partial seen)")
print(f"kill during creation: {caught} of 5 kills before the new file was published")

# 2. A rank killed, a rank aborting (SIGABRT, as abort() or a failed assert).
one_rank(signal.SIGKILL, "rank-killed")
one_rank(signal.SIGABRT, "rank-aborted")


# 3. The disk fills up mid-run (a file size limit on the ranks, set by a
#    shell between the launcher and sgmrun: the results file with its
#    trajectories outgrows it, the checkpoints do not): one clear error, the
#    last checkpoint intact, and the run resumes once there is room.
out = os.path.join(DIR, "full.h5")
LIMIT_KB = 2048
p = subprocess.run([MPIEXEC, "-n", "2", "--allow-run-as-root", "--oversubscribe", "/bin/sh", "-c",
                    f'ulimit -f {LIMIT_KB}; ulimit -c 0; exec "$0" "$@"', SGMRUN, "run",
                    cfg, "--output", out, "--quiet"], capture_output=True, text=True,
                   timeout=300, stdin=subprocess.DEVNULL,
                   # Open MPI's shared-memory transport sizes its backing file
                   # past the limit: the ranks talk over TCP here.
                   env=dict(os.environ, OMPI_MCA_btl="self,tcp"))
errors = [l for l in p.stderr.splitlines() if l.startswith("sgmrun: error:")]
check(p.returncode == 1 and len(errors) == 1 and "full.h5" in errors[0],
      f"disk full: exit {p.returncode}, expected 1 with one error naming the file:\n{p.stderr}")
print(f"disk full: {errors[0] if errors else p.stderr[-300:]}")
check(os.path.exists(out + ".ckpt"), "disk full: the last checkpoint is gone")
opens(out + ".ckpt", "disk full")
if opens(out, "disk full"):
    check(status(out) != "complete", "disk full: the results file is marked complete")
finished_like_reference(out, "disk full")

# 4. The checkpoint cannot be written (its temporary name is taken by a
#    directory): a clear error naming it, the previous checkpoint untouched.
out = os.path.join(DIR, "blocked.h5")
p = start(["run", cfg, "--output", out, "--quiet"], 2)
end = time.time() + 60
while not os.path.exists(out + ".ckpt") and time.time() < end and p.poll() is None:
    time.sleep(0.02)
os.kill(p.pid, signal.SIGUSR1)
p.communicate(timeout=120)
check(p.returncode == 75, f"blocked: interrupting exited {p.returncode}")
before = open(out + ".ckpt", "rb").read()
os.mkdir(out + ".ckpt.tmp")
rc, _, err = run(["run", cfg, "--output", out, "--resume", "--quiet"], 2)
errors = [l for l in err.splitlines() if l.startswith("sgmrun: error:")]
check(rc == 1 and len(errors) == 1 and "blocked.h5.ckpt.tmp" in errors[0],
      f"blocked checkpoint: exit {rc}, expected 1 naming the checkpoint:\n{err}")
check(open(out + ".ckpt", "rb").read() == before, "blocked: the last checkpoint changed")
check(status(out) == "failed", f"blocked: status {status(out)}")
os.rmdir(out + ".ckpt.tmp")
finished_like_reference(out, "blocked checkpoint")

finish()
