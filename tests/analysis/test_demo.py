#!/usr/bin/python3
"""scripts/demo --quick --no-build: the main job's script end to end (its
four inputs, every task on 2 ranks, the summary, the figures and the
report), on 300 images so that it takes seconds; and the paper's
qualitative results in its files: the empirical drift memorises from the
zero vector while the smoothed one keeps its distance; the empirical drift
plus +-(1,...,1) still ends on training images; the Novikov estimate of the
constant error stays bounded (its value at t_min is within 5 % of the one
at t = 0.1: the integrand is |c|^2 d / 2 times g^2 = beta(t), and B(0.1) is
1.1 % of B(T) for beta in [0.1, 20]) while the smoothed drift's grows at
every saved step and ends over 10 times larger."""
import os
import shutil
import subprocess

import h5py
import numpy as np

from sgmrun_test import SOURCE, check, finish, scratch

out = os.path.join(scratch("demo"), "results")
shutil.rmtree(out, ignore_errors=True)
env = dict(os.environ, SGM_DEMO_DIR=out)
p = subprocess.run([os.path.join(SOURCE, "scripts", "demo"), "--quick", "--no-build"],
                   capture_output=True, text=True, timeout=900, env=env, stdin=subprocess.DEVNULL)
check(p.returncode == 0, f"scripts/demo --quick: exit {p.returncode}: {p.stdout[-2000:]} {p.stderr[-3000:]}")
check(f"demo: report   {out}/report.html" in p.stdout, f"demo prints where the report is: {p.stdout[-800:]}")

names = ["demo-F3a.task000", "demo-F3a.task001", "demo-F3b.task000", "demo-F3b.task001",
         "demo-F4-constant", "demo-F4-smoothed"]
files = {n: os.path.join(out, n + ".h5") for n in names}
for n, path in files.items():
    check(os.path.exists(path), f"{path} written")
for stem in ("demo-F3a", "demo-F3b", "demo-F4"):
    for ext in ("png", "pdf"):
        path = os.path.join(out, "figures", f"{stem}.{ext}")
        check(os.path.exists(path) and os.path.getsize(path) > 1000, f"{path} written")
report = os.path.join(out, "report.html")
if check(os.path.exists(report), "report written"):
    check(open(report).read().count("data:image/png;base64,") == 3, "report embeds 3 figures")


def last(name, series):
    with h5py.File(files[name], "r") as f:
        check(f.attrs["status"] in (b"complete", "complete"), f"{name} complete")
        return f["diagnostics"][series][...]


if all(os.path.exists(f) for f in files.values()):
    emp, smooth = last("demo-F3a.task000", "memorized_fraction"), last("demo-F3a.task001", "memorized_fraction")
    check(emp[-1] == 1 and smooth[-1] == 0, f"F3a: memorised fraction {emp[-1]} (empirical), {smooth[-1]} (smoothed)")
    de, ds = last("demo-F3a.task000", "mean_nearest_distance"), last("demo-F3a.task001", "mean_nearest_distance")
    check(ds[-1] > 10 * de[-1], f"F3a: the smoothed drift keeps its distance: {ds[-1]} vs {de[-1]}")
    for n in ("demo-F3b.task000", "demo-F3b.task001"):
        m = last(n, "memorized_fraction")
        check(m[-1] == 1, f"{n}: the perturbed empirical drift ends on training images ({m[-1]})")
    with h5py.File(files["demo-F4-constant"], "r") as f:
        t = f["time"][...]
        lme = f["diagnostics/novikov_log_mean_exp"][...]
    tenth = int(np.argmin(abs(t - 0.1)))
    check(lme[tenth] > 0 and lme[-1] < 1.05 * lme[tenth],
          f"F4: bounded for the constant error: {lme[tenth]} at t = {t[tenth]:.3g}, {lme[-1]} at t_min")
    smooth = last("demo-F4-smoothed", "novikov_log_mean_exp")
    check(smooth[-1] > 10 * lme[-1] and np.all(np.diff(smooth[1:]) > 0),
          f"F4: exploding for the smoothed drift: {smooth[-1]} vs {lme[-1]}")
finish()
