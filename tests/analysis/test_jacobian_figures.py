#!/usr/bin/python3
"""Experiment W's figures (sgm_figures W1-W5, the W table and the report)
on real sgmrun files: the smoke sweep inputs/smoke/W.ini (empirical,
smoothed, each with and without the rotation), every task on 2 ranks, cut
to seconds with --set (3 points at 3 times); a run interrupted by SIGUSR1
after its first analysis; `sgmrun jacobian --points` files (no /training);
and runs of d = 5 (no images), one without vectors.

Checked: every W figure is a non-blank PNG and a PDF; the W table equals
the HDF5 values bit for bit (floats written with repr, compared with ==
to numpy's reductions of what h5py reads); the curves, dots and images
drawn are the file's values (medians over points of the singular values,
cosines and overlaps; each point's local dimension; each named vector
pixel for pixel; the analysed points in the source's units); the 1/sigma^2
floor and the r_t threshold drawn are those of /jacobian/noise_variance,
which is the SDE's marginal variance at the analysed time and gives the
file's local dimensions; legends name the drift (model plus perturbation);
files cut short or interrupted warn, once, and are drawn as far as they
go; the report embeds the W figures with the median local dimensions in
its table; post.py and --experiment W name the figures W1..W5."""
import csv
import glob
import html
import os
import shutil
import signal
import subprocess
import sys

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.image  # noqa: E402
import numpy as np  # noqa: E402

from sgmrun_test import SOURCE, check, children, finish, good_pdf, good_png, run, scratch, start, text  # noqa: E402

ANALYSIS = os.path.join(SOURCE, "analysis")
sys.path.insert(0, ANALYSIS)
import sgm_figures  # noqa: E402
import sgm_report  # noqa: E402
import sgm_results  # noqa: E402
from sgm_results import Run, load_runs  # noqa: E402

work = scratch("jacobian_figures")
shutil.rmtree(work, ignore_errors=True)
results = os.path.join(work, "results")
os.makedirs(results)
SMOKE = os.path.join(SOURCE, "inputs", "smoke", "W.ini")
TIMES = [0.01, 0.05, 0.3]
QUICK = ["--set", "sampler.particles=4", "--set", "jacobian.points=3",
         "--set", "jacobian.times=" + ", ".join(map(str, TIMES))]
DRIFTS = ["empirical", "empirical + rotation (c = 2, rank 16)", "smoothed (h = 0.3)",
          "smoothed (h = 0.3) + rotation (c = 2, rank 16)"]
VECTORS = sgm_results.NAMED_VECTORS


def script(*args, cwd=None):
    p = subprocess.run([sys.executable] + list(args), capture_output=True, text=True, timeout=300,
                       stdin=subprocess.DEVNULL, cwd=cwd)
    return p.returncode, p.stdout, p.stderr


def read_jacobian(path):
    """/jacobian of a file as h5py reads it, at the written rows (finite times)."""
    with h5py.File(path, "r") as f:
        g = f["jacobian"]
        times = g["times"][...]
        rows = np.flatnonzero(np.isfinite(times))
        out = {name: g[name][...][rows] for name in g if isinstance(g[name], h5py.Dataset)}
        if "vectors" in g:
            out.update({"vectors/" + n: g["vectors"][n][...][rows] for n in g["vectors"]})
        out["rows"] = rows
        out["kappa"] = float(g.attrs["kappa"])
        out["config"] = text(f.attrs["config"])
    return out


# --- the smoke sweep, every task, as jobs/W.sbatch runs it (sgmrun run) -----
status, out, err = run(["sweep", SMOKE, "--count"], 1)
check(status == 0 and out.strip() == "4", f"sweep --count W: {out} {err}")
for task in range(4):
    status, _, err = run(["run", SMOKE, "--task", str(task), "--quiet", "--overwrite",
                          "--output", os.path.join(results, "smoke-W.h5")] + QUICK, 2)
    check(status == 0, f"smoke W task {task}: {err}")
files = sorted(glob.glob(os.path.join(results, "smoke-W.task*.h5")))
check(len(files) == 4, f"4 smoke W files: {files}")

# The floor and the threshold the figures draw: /jacobian/noise_variance is
# sigma_t^2 of the SDE at the analysed time (sgm_results.marginal, used for
# files without it, agrees), and the file's local dimensions are the counts
# of 1/s_i >= (1 + kappa) sigma_t^2.
for path in files:
    h = read_jacobian(path)
    check(len(h["rows"]) == len(TIMES), f"{path}: {len(TIMES)} times analysed: {h['times']}")
    check(np.allclose(h["times"], TIMES, rtol=0.1, atol=0), f"{path}: times near the listed: {h['times']}")
    m, sigma2 = sgm_results.marginal("vp", h["times"])
    check(np.allclose(h["noise_variance"], sigma2, rtol=1e-12, atol=0),
          f"{path}: noise_variance {h['noise_variance']} vs vp's 1 - exp(-B(t)) {sigma2}")
    with np.errstate(divide="ignore"):
        floor = (1 + h["kappa"]) * h["noise_variance"][:, None, None]
        counted = (1 / h["singular_values"] >= floor).sum(axis=2)
    check(np.array_equal(counted, h["local_dimension"]),
          f"{path}: local_dimension {h['local_dimension'].tolist()} vs counted {counted.tolist()}")
    r = Run(path)
    check(np.array_equal(r.jacobian.sigma2, h["noise_variance"]) and r.jacobian.kappa == h["kappa"],
          f"{path}: Run reads sigma^2 and kappa from the file")

# --- analysis/figures on the results directory -------------------------------
figures = os.path.join(work, "figures")
status, out, err = script(os.path.join(ANALYSIS, "figures"), "--out", figures, results)
check(status == 0 and "warning" not in err, f"analysis/figures: {out} {err}")
for n in range(1, 6):
    stem = os.path.join(figures, f"smoke-W{n}")
    good_png(stem + ".png")
    good_pdf(stem + ".pdf")
    check(f"smoke-W{n}.png" in out, f"analysis/figures names smoke-W{n}.png: {out}")


def check_table(path, paths):
    """The W table: one row per file and time written, every value equal to
    the file's (floats parsed from repr, compared with ==)."""
    with open(path) as f:
        rows = list(csv.DictReader(f))
    want = sum(len(read_jacobian(p)["rows"]) for p in paths)
    check(len(rows) == want, f"{path}: {len(rows)} rows, {want} times written in {len(paths)} files")
    seen = {}
    for row in rows:
        k = seen[row["file"]] = seen.get(row["file"], -1) + 1
        h = read_jacobian(row["file"])
        listed = [float(v) for v in sgm_results.config_value(h["config"], "jacobian", "times").split(",")]
        ld, sv, cos = h["local_dimension"][k], h["singular_values"][k], h["cosines"][k]
        n = int(min(max(round(float(np.median(ld))), 1), sv.shape[1]))
        want = {"t": float(h["times"][k]), "t_listed": listed[h["rows"][k]],
                "sigma2": float(h["noise_variance"][k]),
                "threshold": 1.0 / ((1.0 + h["kappa"]) * float(h["noise_variance"][k])),
                "local_dimension_median": float(np.median(ld)), "local_dimension_mean": float(np.mean(ld)),
                "singular_min_median": float(np.median(sv[:, 0])),
                "singular_max_median": float(np.median(sv[:, -1])),
                "abs_cosine_mean": float(np.mean(np.abs(cos)))}
        for pair in ("uv", "uw", "vw"):
            if "overlap_" + pair in h:
                want[f"overlap_{pair}_median"] = float(np.median(h["overlap_" + pair][k, :, n - 1]))
            else:
                check(row[f"overlap_{pair}_median"] == "", f"{path}: no overlap_{pair}: an empty cell")
        for column, value in want.items():
            check(float(row[column]) == value, f"{path}: {column} of {row['file']} at row {k}: "
                                               f"{row[column]} vs {value!r}")
        check(row["local_dimensions"] == " ".join(str(int(v)) for v in ld)
              and int(row["local_dimension_min"]) == ld.min() and int(row["local_dimension_max"]) == ld.max()
              and int(row["points"]) == len(ld) and int(row["overlap_n"]) == n,
              f"{path}: local dimensions of {row['file']} at row {k}: {row['local_dimensions']} vs {ld}")
        with h5py.File(row["file"], "r") as f:
            check(row["drift"] == text(f.attrs["drift"]) and int(row["task"]) == int(f.attrs["task"])
                  and row["perturb.kind"] == text(f.attrs["perturb.kind"]),
                  f"{path}: identity of {row['file']}")
    return rows


check_table(os.path.join(figures, "smoke-W.csv"), files)

# --- what the figures draw is what the files hold -----------------------------
drawn = []
_save = sgm_figures.save


def keep(fig, stem, tight=True):
    drawn.append(fig)
    return _save(fig, stem, tight)


sgm_figures.save = keep
other = os.path.join(work, "other")
os.makedirs(other)


def figure(fid, runs, **kwargs):
    """The figure sgm_figures draws for runs (None, failing, if it raises),
    and the warnings it gave."""
    del drawn[:]
    said = []
    try:
        sgm_figures.FIGURES[fid][0](runs, os.path.join(other, fid), warn=said.append, **kwargs)
    except Exception as e:  # noqa: BLE001
        check(False, f"{fid}: {e!r}")
        return None, said
    return drawn[-1], said


def same(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return a.shape == b.shape and np.array_equal(a, b, equal_nan=True)


def positive(x):
    return np.where(x > 0, x, np.nan)


runs = [Run(p) for p in files]
data = {r.path: read_jacobian(r.path) for r in runs}
labels = [r.label() for r in runs]
check(labels == DRIFTS, f"the runs' labels name the drift: {labels}")

fig, said = figure("W1", runs)
if fig:
    panels = [ax for ax in fig.axes if ax.get_title().startswith("t = ")]
    check(len(panels) == len(TIMES), f"W1: one panel per time: {[ax.get_title() for ax in panels]}")
    for ax, t in zip(panels, TIMES):
        check(ax.get_title().startswith(f"t = {t:g} (at "),
              f"W1 panel title names t and where: {ax.get_title()}")
        check(ax.get_yscale() == "log" and "1/data units^2" in ax.get_ylabel(), f"W1 axis: {ax.get_ylabel()}")
        k = TIMES.index(t)
        for r, label in zip(runs, labels):
            h = data[r.path]
            lines = [ln for ln in ax.get_lines() if ln.get_label() == label]
            median = positive(np.median(h["singular_values"][k], axis=0))
            check(len(lines) == 1 and same(lines[0].get_ydata(), median)
                  and same(lines[0].get_xdata(), np.arange(1, h["singular_values"].shape[2] + 1)),
                  f"W1 t = {t}: {label}: the median singular values over points")
        floor = {ln.get_ydata()[0] for ln in ax.get_lines() if ln.get_linestyle() == "--"}
        limit = {ln.get_ydata()[0] for ln in ax.get_lines() if ln.get_linestyle() == ":"}
        nv = {float(data[r.path]["noise_variance"][k]) for r in runs}
        check(floor == {1 / v for v in nv} and limit == {1 / ((1 + 0.1) * v) for v in nv},
              f"W1 t = {t}: 1/sigma^2 {floor} and the threshold {limit} from noise_variance {nv}")
    legend = fig.axes[len(TIMES) if len(TIMES) % 3 else 0].get_legend()
    names = [x.get_text() for x in legend.get_texts()] if legend else []
    check(names[:4] == DRIFTS and any("sigma_t^2" in n for n in names[4:]), f"W1 legend: {names}")
check(not said, f"W1 of complete files warns of nothing: {said}")

fig, _ = figure("W2", runs)
if fig:
    visible = [ax for ax in fig.axes if ax.axison]
    check(len(visible) == len(runs) + 1, f"W2: a panel per drift and one for all: {len(visible)}")
    for ax, r, label in zip(visible, runs, labels):
        ld = data[r.path]["local_dimension"]
        dots = [ln for ln in ax.get_lines() if ln.get_marker() == "."]
        check(ax.get_title().startswith(label) and len(dots) == len(TIMES)
              and all(same(d.get_ydata(), ld[k]) for k, d in enumerate(dots)),
              f"W2 {label}: every point's local dimension at every time")
        check([x.get_text() for x in ax.get_xticklabels()] == [f"{t:g}" for t in TIMES],
              f"W2 {label}: the listed times: {[x.get_text() for x in ax.get_xticklabels()]}")
    for r, label in zip(runs, labels):
        line = [ln for ln in visible[-1].get_lines() if ln.get_label() == label]
        check(len(line) == 1 and same(line[0].get_ydata(), np.median(data[r.path]["local_dimension"], axis=1))
              and same(line[0].get_xdata(), data[r.path]["times"]),
              f"W2 comparison: {label}: median r_t against the analysed t")

fig, _ = figure("W3", runs)
if fig:
    check(len(fig.axes) == len(runs) * len(TIMES), f"W3: drifts x times panels: {len(fig.axes)}")
    for row, r in enumerate(runs):
        for col in range(len(TIMES)):
            ax = fig.axes[row * len(TIMES) + col]
            check(same(ax.get_lines()[0].get_ydata(), np.median(data[r.path]["cosines"][col], axis=0)),
                  f"W3 {labels[row]} t = {TIMES[col]}: the median cosines")
    check(labels[0] in fig.axes[0].get_ylabel() and fig.axes[0].get_title().startswith("t = 0.01"),
          f"W3 names rows and columns: {fig.axes[0].get_ylabel()!r} {fig.axes[0].get_title()!r}")

fig, _ = figure("W4", runs)
if fig:
    check(len(fig.axes) == 3 * len(runs), f"W4: 3 pairs x drifts panels: {len(fig.axes)}")
    for row, pair in enumerate(("overlap_uv", "overlap_uw", "overlap_vw")):
        for col, r in enumerate(runs):
            ax = fig.axes[row * len(runs) + col]
            for k, t in enumerate(TIMES):
                line = [ln for ln in ax.get_lines() if ln.get_label() == f"t = {t:g}"]
                check(len(line) == 1 and same(line[0].get_ydata(), np.median(data[r.path][pair][k], axis=0)),
                      f"W4 {pair} {labels[col]} t = {t}: the median overlap")
            means = sorted(ln.get_xdata()[0] for ln in ax.get_lines() if ln.get_linestyle() == ":")
            want = sorted(float(np.mean(v)) for v in data[r.path]["local_dimension"] if np.mean(v) > 0)
            check(means == want, f"W4 {pair} {labels[col]}: dotted at the mean r_t {means} vs {want}")


def check_w5(fig, runs, points, images=True):
    """W5's cells: per run block, per time, per point, x_t (where the file
    has /jacobian/points) and the named vectors, equal to the file's."""
    for sub, r in zip(fig.subfigs[1:], runs):
        h = data.get(r.path) or read_jacobian(r.path)
        with_points = "points" in h
        group = len(VECTORS) + with_points + 1
        cols = group * points - 1
        axes = sub.axes
        rows = len(h["rows"])
        check(len(axes) == rows * cols, f"W5 {r.path}: {rows} x {cols} cells: {len(axes)}")
        if len(axes) != rows * cols:
            continue
        for k in range(rows):
            for p in range(points):
                base = k * cols + p * group
                if with_points:
                    x = r.to_source_units(h["points"][k, p])
                    scale = r.scaling()
                    lo, hi = (scale[1], scale[2]) if scale else (x.min(), x.max())
                    want = np.clip((x - lo) / (hi - lo), 0, 1)
                    if images:
                        got = axes[base].get_images()
                        check(len(got) == 1 and same(got[0].get_array(), want.reshape(28, 28)),
                              f"W5 {r.path}: x_t of point {p} at row {k}")
                    else:  # as a line, in data units
                        check(same(axes[base].get_lines()[0].get_ydata(), h["points"][k, p]),
                              f"W5 {r.path}: x_t of point {p} at row {k}")
                for n, name in enumerate(VECTORS):
                    ax, v = axes[base + with_points + n], h["vectors/" + name][k, p]
                    if images:
                        got = ax.get_images()
                        ok = len(got) == 1 and same(got[0].get_array(), v.reshape(28, 28))
                        a = np.abs(v).max()
                        ok = ok and got[0].get_clim() == (-a, a)
                    else:
                        ok = not ax.get_images() and same(ax.get_lines()[0].get_ydata(), v)
                    check(ok, f"W5 {r.path}: {name} of point {p} at row {k}")
                    if k == 0 and p == 0:
                        check(sgm_figures.W_VECTOR_TITLES[name] in ax.get_title(),
                              f"W5 title {ax.get_title()}")


fig, _ = figure("W5", runs)
if fig:
    check(len(fig.subfigs) == len(runs) + 1, f"W5: a block per drift: {len(fig.subfigs)}")
    check_w5(fig, runs, 2)

# --- interrupted runs: warned about, drawn as far as they go -------------------
cut = os.path.join(work, "cut")
os.makedirs(cut)
for path in files:
    shutil.copy(path, cut)
victim = os.path.join(cut, "smoke-W.task001.h5")
os.remove(victim)
# A real interruption: SIGUSR1 to the ranks once the first analysis (the
# largest t: the reverse SDE starts at T) is written; the run checkpoints at
# its next step and exits 75, the smaller times not analysed.
p = start(["run", SMOKE, "--task", "1", "--output", os.path.join(cut, "smoke-W.h5")] + QUICK, 2)
log = []
for line in p.stderr:
    log.append(line)
    if "Jacobian analysis at" in line:
        for pid in children(p.pid):
            os.kill(pid, signal.SIGUSR1)
        break
rest, more = p.communicate(timeout=300)
check(p.returncode == 75, f"SIGUSR1 after the first analysis: exit {p.returncode}: {''.join(log)}{more}")
with h5py.File(victim, "r") as f:
    check(text(f.attrs["status"]) == "interrupted", "the interrupted file says so")
    written = int(np.isfinite(f["jacobian"]["times"][...]).sum())
check(1 <= written < len(TIMES), f"the interrupted run analysed {written} of {len(TIMES)} times")
# A file whose /jacobian ends early (axis 0 of 2 rows of 3 listed), and one
# without overlaps (W4 leaves it out).
short = os.path.join(cut, "smoke-W.task002.h5")
with h5py.File(short, "r+") as f:
    g = f["jacobian"]
    for group in (g, g["vectors"]):
        for name in list(group):
            if isinstance(group[name], h5py.Dataset) and group[name].ndim >= 1:
                values, attrs = group[name][:2], dict(group[name].attrs)
                del group[name]
                group[name] = values
                group[name].attrs.update(attrs)
with h5py.File(os.path.join(cut, "smoke-W.task003.h5"), "r+") as f:
    for name in ("overlap_uv", "overlap_uw", "overlap_vw"):
        del f["jacobian"][name]
status, out, err = script(os.path.join(ANALYSIS, "figures"), "--out", os.path.join(cut, "figures"), cut)
check(status == 0 and "Traceback" not in err, f"figures of interrupted files: {out} {err}")
check(err.count(f"{victim}: the Jacobian analysis has {written} of the 3 listed times") == 1
      and err.count(f"{short}: the Jacobian analysis has 2 of the 3 listed times (none at t = 0.3)") == 1
      and err.count("task003.h5: /jacobian has no overlap_uv, overlap_uw, overlap_vw") == 1,
      f"each problem warned about once: {err}")
for n in range(1, 6):
    good_png(os.path.join(cut, "figures", f"smoke-W{n}.png"))
cut_files = sorted(glob.glob(os.path.join(cut, "*.h5")))
rows = check_table(os.path.join(cut, "figures", "smoke-W.csv"), cut_files)
check(sum(r["file"] == victim for r in rows) == written,
      f"the table has the interrupted file's {written} times")
cut_runs = [Run(p) for p in cut_files]
fig, said = figure("W1", cut_runs)
if fig:
    for ax, t in zip([ax for ax in fig.axes if ax.get_title().startswith("t = ")], TIMES):
        names = {ln.get_label() for ln in ax.get_lines()}
        want = {DRIFTS[i] for i, r in enumerate(cut_runs) if np.any(np.isclose(r.jacobian.listed, t))}
        check(names >= want and not (names & (set(DRIFTS) - want)),
              f"W1 t = {t}: drawn for {names & set(DRIFTS)}")
check(len(said) == 3, f"W1 warns once per file with a problem: {said}")
table = sgm_report.run_table(cut_runs, cut)
for r in cut_runs:
    row = table[table.index(os.path.basename(r.path)):].split("</tr>")[0]
    n = int(np.isfinite(read_jacobian(r.path)["times"]).sum())
    cell = f'<td class="{"num" if n == len(TIMES) else "bad"}">{n}/{len(TIMES)}</td>'
    check(cell in row, f"the report's table marks {r.path}'s {n} of {len(TIMES)} times: {row}")
fig, said = figure("W4", cut_runs)
check(fig and len(fig.axes) == 3 * 3 and not said,
      f"W4 leaves out the file without overlaps, warned before: {said}")
fig, _ = figure("W5", cut_runs)
if fig:
    check_w5(fig, [r for r in cut_runs], 2)
# Nothing analysed yet: no W figure, and no crash.
none = os.path.join(work, "none")
os.makedirs(none)
shutil.copy(files[0], none)
with h5py.File(os.path.join(none, os.path.basename(files[0])), "r+") as f:
    f.attrs["status"] = np.bytes_(b"interrupted")
    f["jacobian"]["times"][...] = np.nan
status, out, err = script(os.path.join(ANALYSIS, "figures"), none)
check(status == 0 and "Traceback" not in err and "W1" not in out and "F3a" in out,
      f"no time analysed: the other figures only: {out} {err}")
status, out, err = script(os.path.join(ANALYSIS, "figures"), "--experiment", "W", none)
check(status == 1 and "needs a Jacobian analysis" in err and "Traceback" not in err,
      f"--experiment W impossible: {err}")

# --- sgmrun jacobian --points: points given, no /training ------------------------
given = os.path.join(work, "given")
os.makedirs(given)
status, out, err = script(os.path.join(ANALYSIS, "make_points.py"), os.path.join(work, "points.h5"),
                          "--t", "0.05", "--count", "2")
check(status == 0, f"make_points: {err}")
status, _, err = run(["jacobian", SMOKE, "--task", "3", "--points", os.path.join(work, "points.h5"),
                      "--quiet",
                      "--set", "jacobian.times=0.05, 0.3", "--output", os.path.join(given, "pts.h5")], 2)
check(status == 0, f"sgmrun jacobian --points: {err}")
given_runs = load_runs([given])
check(len(given_runs) == 1 and sgm_results.command_of(given_runs[0].path) == "jacobian",
      f"load_runs reads sgmrun jacobian files: {[r.path for r in given_runs]}")
status, out, err = script(os.path.join(ANALYSIS, "figures"), "--experiment", "W", "--out",
                          os.path.join(given, "figures"), given)
check(status == 0 and "Traceback" not in err, f"--experiment W on a jacobian file: {out} {err}")
for n in range(1, 6):
    good_png(os.path.join(given, "figures", f"W{n}.png"))
    good_pdf(os.path.join(given, "figures", f"W{n}.pdf"))
check(os.path.exists(os.path.join(given, "figures", "W.csv")), "--experiment W writes W.csv")
if given_runs:
    fig, _ = figure("W5", given_runs)
    if fig:
        check_w5(fig, given_runs, 2)

# --- data that are not images: line plots; a run without vectors ---------------
flat = os.path.join(work, "flat")
os.makedirs(flat)
sphere = ["--set", "data.source=sphere", "--set", "data.dim=5", "--set", "data.intrinsic=2",
          "--set", "data.n=100", "--set", "jacobian.block=5", "--set", "run.name=sphere-W", "--task", "0"]
for name, sets in (("vectors", []), ("novectors", ["--set", "jacobian.save_vectors=none"])):
    status, _, err = run(["run", SMOKE, "--quiet", "--output", os.path.join(flat, name + ".h5")]
                         + QUICK + sphere + sets, 1)
    check(status == 0, f"sphere run {name}: {err}")
flat_runs = load_runs([flat])
check([len(r.jacobian.vector_names) for r in flat_runs] == [0, 7],
      f"vectors saved or not: {[r.jacobian.vector_names for r in flat_runs]}")
fig, _ = figure("W5", flat_runs)
if fig:
    check(len(fig.subfigs) == 2, "W5 leaves out the run without vectors")
    check_w5(fig, flat_runs[1:], 2, images=False)
status, out, err = script(os.path.join(ANALYSIS, "figures"), flat)
check(status == 0 and all(f"sphere-W{n}.png" in out for n in range(1, 6)), f"figures for d = 5: {out} {err}")

# --- post.py and the report -------------------------------------------------------
post = os.path.join(work, "post-W")
status, out, err = script(os.path.join(ANALYSIS, "post.py"), "--experiment", "W", "--out", post, *files)
check(status == 0, f"post.py W: {out} {err}")
for n in range(1, 6):
    good_png(os.path.join(post, "figures", f"W{n}.png"))
    good_pdf(os.path.join(post, "figures", f"W{n}.pdf"))
check_table(os.path.join(post, "figures", "W.csv"), files)
with open(os.path.join(post, "report.html")) as f:
    page = f.read()
check(page.count('<img src="data:image/png;base64,') == 5, "post.py's report embeds W1-W5")

status, out, err = script(os.path.join(ANALYSIS, "report"), results, "--title", "smoke W")
report = os.path.join(results, "report.html")
check(status == 0 and out.strip().splitlines()[-1] == report, f"analysis/report: {out} {err}")
with open(report) as f:
    page = f.read()
check(page.count('<img src="data:image/png;base64,') == 5, "the report embeds W1-W5")
for n in range(1, 6):
    check(f"W{n}: {html.escape(sgm_figures.FIGURES[f'W{n}'][2])}" in page, f"the report captions W{n}")
for t in TIMES:
    check(f"median local dimension r_t, t = {t:g}" in page, f"the report's table has r_t at t = {t}")
for path in files:
    ld = read_jacobian(path)["local_dimension"]
    name = os.path.basename(path)
    row = page[page.index(name):].split("</tr>")[0]
    cells = [c.split("</td>")[0] for c in row.split('<td class="num">')[1:]]
    want = [f"{len(TIMES)}/{len(TIMES)}"] + [f"{float(np.median(v)):g}" for v in ld]
    check(cells[-len(want):] == want, f"the report's W numbers of {name}: {cells[-len(want):]} vs {want}")
chromium = shutil.which("chromium")
if chromium:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=10000",
             f"--user-data-dir={os.path.join(work, 'chromium-profile')}"]
    p = subprocess.run([chromium] + flags + ["--dump-dom", "file://" + os.path.abspath(report)],
                       capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    body = p.stdout[p.stdout.find("<body"):][:200]
    check(p.returncode == 0 and 'data-images="5"' in body and 'data-broken-images="0"' in body,
          f"Chromium loads the report's 5 images, none broken: {body!r} {p.stderr[-500:]}")

finish()
