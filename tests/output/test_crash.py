"""A run killed with SIGKILL after flushing keeps every flushed save step.

Runs the series_crash helper (argv[1]) on 2 ranks: it appends save steps with
a flush after each and kills itself on every rank after the 3rd flush
(`flushed`), or after appending a 4th step that it does not flush
(`unflushed`).  The unclosed file must open with h5py and show at least the 3
flushed steps, every value intact.
"""
import os
import subprocess
import sys

import h5py
import numpy as np

HELPER = sys.argv[1]
MPIEXEC = os.environ.get("MPIEXEC", "mpiexec")
BASE = os.environ.get("SGM_TEST_TMPDIR", "/tmp/sgm-tests")
P, D, STEPS = 11, 4, 3

failures = 0


def check(condition, message):
    global failures
    if not condition:
        failures += 1
        print(f"FAIL: {message}", file=sys.stderr)
    return condition


def expected(steps):
    s = np.arange(steps)[:, None, None]
    p = np.arange(P)[None, :, None]
    c = np.arange(D)[None, None, :]
    x = s * 1000.0 + p * 10 + c + 0.5
    index = (s[:, :, 0] * 1000 + p[:, :, 0]).astype(np.int64)
    return x, index, 1.0 - np.arange(steps) / 8.0


def crash(mode):
    directory = os.path.join(BASE, "output_crash")
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, f"{mode}.h5")
    if os.path.exists(path):
        os.remove(path)
    cmd = [MPIEXEC, "-n", "2", "--allow-run-as-root", "--oversubscribe"]
    cmd += [HELPER, path, str(STEPS), mode]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                       stdin=subprocess.DEVNULL)
    # The helper must really have died by SIGKILL after its last flush: a
    # clean exit (or an earlier failure) would prove nothing.
    check(p.returncode != 0, f"{mode}: the helper was not killed")
    check(f"flushed step {STEPS - 1}" in p.stdout,
          f"{mode}: the helper did not reach its last flush:\n{p.stdout}{p.stderr}")
    check("series_crash:" not in p.stderr, f"{mode}: helper failed:\n{p.stderr}")
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        check(False, f"{mode}: h5py cannot open the killed run's file: {e}")
        return
    with f:
        n = f["time"].shape[0]
        print(f"{mode}: file opens, {n} save steps visible", file=sys.stderr)
        if not check(n >= STEPS, f"{mode}: {n} steps visible, expected >= {STEPS}"):
            return
        x, index, time = expected(n)
        for name in ("particles", "particles32"):
            check(f[name].shape == (n, P, D), f"{mode}: {name} shape {f[name].shape}")
            check(np.array_equal(f[name][...], x), f"{mode}: {name} values differ")
        check(f["particles32"].dtype == np.float32, f"{mode}: particles32 dtype")
        check(np.array_equal(f["diagnostics/nearest_index"][...], index),
              f"{mode}: nearest_index values differ")
        check(np.array_equal(f["time"][...], time), f"{mode}: time values differ")
        check(np.array_equal(f["particle"][...], np.arange(P)), f"{mode}: particle")
        check(f["particles"].dims[0][0].name == "/time", f"{mode}: time scale")
        check(f["particles"].dims[1][0].name == "/particle", f"{mode}: particle scale")


crash("flushed")
crash("unflushed")
print(f"{'FAILED' if failures else 'passed'}: {failures} failure(s)", file=sys.stderr)
sys.exit(1 if failures else 0)
