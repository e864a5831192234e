#!/usr/bin/python3
"""`sgmrun info FILE.h5` on real run and score files.

1. A complete sweep task (2 ranks): the provenance and summary lines are the
   file's root attributes, the dataset list is every dataset with its shape,
   type and units (as h5py sees them), and the diagnostics at the last saved
   step are the file's values to the printed precision (%.8g).
2. `--config` adds the stored configuration text; `mpirun -n 2` prints the
   same, once.
3. A score file: the mean, min and max of /nearest_distance and
   /log_density.
4. A file being written: inspected while its run goes (status running, k of
   N saved steps), then after SIGTERM to the rank (status interrupted, the
   values of the closed file); a file another process holds open for writing
   (HDF5's file lock) and a ".partial" copy also open.
5. Errors: a missing file, a text file, an HDF5 file sgmrun did not write,
   and a dataset HDF5 cannot read exit 1 with one message naming the file
   and nothing on stdout; usage errors exit 2 with the usage line.
"""
import os
import shutil
import signal
import subprocess
import time

import h5py
import numpy as np

from sgmrun_test import (SOURCE, check, children, finish, run, scratch, start,
                         text, write_config)

work = scratch("info")
for name in os.listdir(work):
    path = os.path.join(work, name)
    shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)

SMOKE = os.path.join(SOURCE, "inputs/smoke/F3a.ini")
TINY = ["--set", "sampler.steps=20", "--set", "data.n=100", "--set", "output.every=3"]
SERIES = ["memorized_fraction", "mean_nearest_distance", "novikov_log_mean_exp",
          "novikov_mean", "mean_score_error"]


def parse(out):
    """sgmrun info's stdout as {"attrs": {label: value}, "datasets": {name:
    (shape, type, units)}, "last": header or None, "values": {name: text},
    "over": header or None, "stats": {name: (mean, min, max)}}."""
    r = {"attrs": {}, "datasets": {}, "last": None, "values": {}, "over": None,
         "stats": {}}
    section = "attrs"
    for line in out.splitlines():
        if not line.strip():
            continue
        if line.startswith("datasets ("):
            section = "datasets"
        elif line.startswith("last saved step"):
            section, r["last"] = "values", line[len("last saved step"):].strip()
        elif line.startswith("over "):
            section, r["over"] = "stats", line
        elif line == "config":
            section = "config"
        elif section == "attrs":
            label, _, value = line.partition(" ")
            r["attrs"][label] = value.strip()
        elif section == "datasets":
            name, shape, kind, units = line.split(None, 3)
            r["datasets"][name] = (shape, kind, units)
        elif section == "values":
            name, value = line.split()
            r["values"][name] = value
        elif section == "stats":
            f = line.split()
            r["stats"][f[0]] = (float(f[2]), float(f[4]), float(f[6]))
    return r


def info(path, *extra, ranks=1):
    return run(["info", path] + list(extra), ranks, timeout=120)


def same(printed, value, rel=0.0):
    """printed (text of %.8g) is value at that precision."""
    try:
        p = float(printed)
    except ValueError:
        return False
    if np.isnan(value):
        return np.isnan(p)
    return p == float("%.8g" % value) or abs(p - value) <= rel * abs(value)


def h5_datasets(path):
    found = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                shape = "x".join(str(n) for n in obj.shape) or "scalar"
                found["/" + name] = (shape, obj.dtype.name, text(obj.attrs.get("units", "-")))
        f.visititems(visit)
    return found


def check_run_file(path, label, out):
    """The printed summary of a run file against the file itself."""
    p = parse(out)
    a = p["attrs"]
    with h5py.File(path, "r") as f:
        attrs = {k: text(v) for k, v in f.attrs.items()}
        times = f["time"][()]
        series = {n: f["diagnostics/" + n][()] for n in SERIES if "diagnostics/" + n in f}
    check(a.get("file") == path, f"{label}: file line {a.get('file')}")
    for key in ["command", "status", "start_time", "seed", "host", "data", "drift",
                "sampler", "particles", "dimension", "training_examples", "task", "sweep",
                "end_time"]:
        if key in attrs:
            check(a.get(key) == attrs[key], f"{label}: {key} printed {a.get(key)!r}, "
                  f"stored {attrs[key]!r}")
        else:
            check(key not in a, f"{label}: {key} printed but not stored")
    check(a.get("version") == f"{attrs['version']} (git {attrs['git_commit']})",
          f"{label}: version line {a.get('version')!r}")
    check(a.get("mpi_ranks") == f"{attrs['mpi_ranks']} (grid {attrs['grid']})",
          f"{label}: mpi_ranks line {a.get('mpi_ranks')!r}")
    want = h5_datasets(path)
    check(p["datasets"] == want, f"{label}: datasets\n{p['datasets']}\nin the file\n{want}")
    k = len(times)
    check(p["last"] is not None and p["last"].startswith(f"{k} of "),
          f"{label}: last saved step line {p['last']!r} (/time has {k})")
    if k:
        t = p["last"].rsplit("t = ", 1)[-1]
        check(same(t, times[-1]), f"{label}: t printed {t}, /time[-1] = {times[-1]!r}")
    for name, values in series.items():
        check(name in p["values"] and same(p["values"][name], values[k - 1]),
              f"{label}: {name} printed {p['values'].get(name)}, stored {values[k - 1]!r}")
    check(set(p["values"]) == set(series), f"{label}: values of {sorted(p['values'])}")
    return p


def expect_error(args, status, needle, label, ranks=1):
    rc, out, err = run(args, ranks, timeout=120)
    lines = [l for l in err.splitlines() if l.startswith("sgmrun: error:")]
    check(rc == status, f"{label}: exit {rc}, expected {status}:\n{err}")
    check(len(lines) == 1 and needle in lines[0],
          f"{label}: expected one 'sgmrun: error:' line containing {needle!r}:\n{err}")
    check(out == "", f"{label}: printed on stdout:\n{out}")
    if status == 2:
        check("usage: sgmrun info FILE.h5" in err, f"{label}: no usage line:\n{err}")


# 1. A complete sweep task.  The smoothed drift (task 1) gives nonzero
#    Novikov and score-error values.
base = os.path.join(work, "smoke.h5")
rc, _, err = run(["run", SMOKE, "--task", "1", "--output", base, "--quiet"] + TINY, 2)
runfile = os.path.join(work, "smoke.task001.h5")
if not check(rc == 0 and os.path.exists(runfile), f"run failed: {err}"):
    finish()
rc, out, err = info(runfile)
check(rc == 0 and err == "", f"info on a run file: exit {rc}:\n{err}")
p = check_run_file(runfile, "run file", out)
check(p["attrs"].get("status") == "complete", "run file: status not complete")
check(p["attrs"].get("sweep") == "drift.model = smoothed", f"run file: sweep {p['attrs'].get('sweep')}")
check(p["last"].startswith("8 of 8 saved steps"),  # 20 steps saved every 3, and the last
      f"run file: {p['last']!r}")
check(all(len(line) <= 100 for line in out.splitlines() if not line.startswith("data ")),
      "run file: a line over 100 columns")

# 2. --config, and two ranks printing once.
rc, out2, err = info(runfile, "--config")
with h5py.File(runfile, "r") as f:
    config = text(f.attrs["config"])
check(rc == 0 and out2 == out + "\nconfig\n" + config, f"--config: exit {rc}:\n{err}\n{out2}")
rc, out2, err = info(runfile, ranks=2)
check(rc == 0 and out2 == out, f"2 ranks: exit {rc}, output differs:\n{out2}\n{err}")

# 3. A score file.
points = os.path.join(work, "points.h5")
with h5py.File(points, "w") as f:
    f["points"] = np.random.default_rng(1).uniform(-1, 1, (7, 784))
scfg = write_config(os.path.join(work, "score.ini"),
                    "[data]\nsource = fashion-mnist\nn = 200\n[drift]\nmodel = smoothed\n"
                    "bandwidth = 0.2\n")
scorefile = os.path.join(work, "score.h5")
rc, _, err = run(["score", scfg, "--points", points, "--t", "0.3", "--output", scorefile,
                  "--quiet"], 2)
check(rc == 0, f"score failed: {err}")
rc, out, err = info(scorefile)
check(rc == 0, f"info on a score file: exit {rc}:\n{err}")
p = parse(out)
with h5py.File(scorefile, "r") as f:
    check(p["attrs"].get("command") == "score", f"score file: command {p['attrs'].get('command')}")
    check(p["attrs"].get("t") == "0.3", f"score file: t {p['attrs'].get('t')}")
    check(p["datasets"] == h5_datasets(scorefile), f"score file: datasets {p['datasets']}")
    check(p["last"] is None and p["over"] == "over 7 points", f"score file: {out}")
    for name in ["nearest_distance", "log_density"]:
        x = f[name][()]
        got = p["stats"].get(name, (np.nan,) * 3)
        check(same(got[0], x.mean(), 1e-7) and same(got[1], x.min()) and same(got[2], x.max()),
              f"score file: {name} printed {got}, stored mean/min/max "
              f"{x.mean()!r} {x.min()!r} {x.max()!r}")

# 4. A file being written, then interrupted.
livebase = os.path.join(work, "live.h5")
live = os.path.join(work, "live.task000.h5")
proc = start(["run", SMOKE, "--task", "0", "--output", livebase, "--quiet", "--set",
              "sampler.steps=200000", "--set", "output.every=5", "--set",
              "run.checkpoint_every=1000"], 1)
try:
    seen = None
    end = time.time() + 60
    while time.time() < end and proc.poll() is None and seen is None:
        if os.path.exists(live):
            rc, out, err = info(live)
            check(rc == 0, f"running file: exit {rc}:\n{err}")
            p = parse(out)
            if rc == 0 and p["last"] and not p["last"].startswith("0 "):
                seen = p
        time.sleep(0.2)
    if check(seen is not None, "running file: never saw a saved step"):
        check(seen["attrs"].get("status") == "running", f"running: status {seen['attrs']}")
        check(" of 40001 saved steps" in seen["last"], f"running: {seen['last']!r}")
        check("end_time" not in seen["attrs"], "running: has an end_time")
        check(set(seen["values"]) == {"memorized_fraction", "mean_nearest_distance",
                                      "novikov_log_mean_exp", "novikov_mean",
                                      "mean_score_error"},
              f"running: values {seen['values']}")
    for pid in children(proc.pid):
        os.kill(pid, signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
finally:
    if proc.poll() is None:
        proc.kill()
        proc.communicate()
check(proc.returncode == 75, f"SIGTERM: exit {proc.returncode}, expected 75:\n{err}")
rc, out, err = info(live)
check(rc == 0, f"interrupted file: exit {rc}:\n{err}")
p = check_run_file(live, "interrupted file", out)
check(p["attrs"].get("status") == "interrupted", f"interrupted: status {p['attrs'].get('status')}")

# Held open for writing by another process (which holds HDF5's file lock).
held = os.path.join(work, "held.h5")
shutil.copy(runfile, held)
with h5py.File(held, "r+"):
    rc, out, err = info(held)
    check(rc == 0 and parse(out)["attrs"].get("status") == "complete",
          f"file held open for writing: exit {rc}:\n{err}")

# A .partial name opens; the final name of a file still .partial says so.
partial = os.path.join(work, "creating.h5.partial")
shutil.copy(runfile, partial)
rc, out, err = info(partial)
check(rc == 0 and parse(out)["attrs"].get("file") == partial, f".partial: exit {rc}:\n{err}")
expect_error(["info", partial[:-len(".partial")]], 1, "creating.h5.partial' exists",
             "final name of a .partial")

# 5. Errors.
missing = os.path.join(work, "missing.h5")
expect_error(["info", missing], 1, f"'{missing}'", "missing file")
expect_error(["info", missing], 1, f"'{missing}'", "missing file on 2 ranks", ranks=2)
notes = os.path.join(work, "notes.h5")
with open(notes, "w") as f:
    f.write("not hdf5\n")
expect_error(["info", notes], 1, f"'{notes}': not an HDF5 file", "text file")
expect_error(["info", points], 1, f"'{points}': an HDF5 file, but not one sgmrun wrote",
             "foreign HDF5 file")
broken = os.path.join(work, "broken.h5")
shutil.copy(runfile, broken)
with h5py.File(broken, "r+") as f:
    values = f["diagnostics/novikov_mean"][()]
    del f["diagnostics/novikov_mean"]
    try:  # a filter the C library does not have
        f.create_dataset("diagnostics/novikov_mean", data=values, compression="lzf")
    except (ValueError, TypeError):  # else data in a missing external file
        f.create_dataset("diagnostics/novikov_mean", shape=values.shape, dtype="f8",
                         external=[(os.path.join(work, "gone.bin"), 0, values.nbytes)])
expect_error(["info", broken], 1, f"'{broken}': cannot read dataset /diagnostics/novikov_mean",
             "unreadable dataset")
expect_error(["info"], 2, "expected exactly one file", "no file")
expect_error(["info", runfile, scorefile], 2, "expected exactly one file", "two files")
expect_error(["info", runfile, "--bogus"], 2, "unknown option '--bogus'", "unknown option")
expect_error(["info", runfile, "--set", "run.seed=1"], 2, "--set does not apply", "--set")
expect_error(["info", "--config=yes", runfile], 2, "--config takes no value", "--config=yes")
rc, out, _ = run(["help", "info"])
check(rc == 0 and "info FILE.h5 [--config]" in out, f"help info: exit {rc}:\n{out}")

finish()
