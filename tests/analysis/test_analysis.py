#!/usr/bin/python3
"""The analysis scripts on real sgmrun outputs: the smoke versions of every
experiment (inputs/smoke/, 2 ranks) through analysis/figures, post.py and
analysis/report.

Checked: every figure is written as a non-blank PNG and a PDF; the sweep
table's numbers equal those read from the HDF5 files (bit for bit: the table
writes every digit); the nearest training images of F3b, read from the data
source the file records, are the training examples nearest to the samples
(brute force over the source's images); the report holds every figure as
embedded data and renders in headless Chromium with no image missing
(screenshot kept in the scratch directory); missing or empty inputs are
clear errors."""
import csv
import glob
import os
import shutil
import subprocess
import sys

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.image  # noqa: E402
import numpy as np  # noqa: E402

from sgmrun_test import SOURCE, check, finish, run, scratch, text  # noqa: E402

ANALYSIS = os.path.join(SOURCE, "analysis")
sys.path.insert(0, ANALYSIS)
from sgm_results import FINAL_COLUMNS, Run, training_images  # noqa: E402

work = scratch("analysis")
results = os.path.join(work, "results")
shutil.rmtree(work, ignore_errors=True)
os.makedirs(results)


def script(*args, timeout=300):
    p = subprocess.run([sys.executable] + list(args), capture_output=True, text=True,
                       timeout=timeout, stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout, p.stderr


# The smoke experiments, every task, as the job scripts would run them.
inputs = ["F1", "F2", "F3a", "F3b", "F4-constant", "F4-smoothed", "S"]
for name in inputs:
    ini = os.path.join(SOURCE, "inputs", "smoke", f"{name}.ini")
    status, out, err = run(["sweep", ini, "--count"], 1)
    tasks = int(out) if status == 0 else 0
    check(tasks > 0, f"sweep --count {name}: {err}")
    for task in range(tasks):
        status, _, err = run(["run", ini, "--task", str(task), "--quiet", "--overwrite",
                              "--output", os.path.join(results, f"smoke-{name}.h5")], 2)
        check(status == 0, f"smoke {name} task {task}: {err}")
files = sorted(glob.glob(os.path.join(results, "*.h5")))
check(len(files) == 16, f"16 smoke run files: {len(files)}")


def good_png(path):
    if not check(os.path.exists(path) and os.path.getsize(path) > 5000, f"{path} written"):
        return False
    img = matplotlib.image.imread(path)
    return check(img.shape[0] > 200 and img.shape[1] > 300 and float(img[..., :3].std()) > 0.02,
                 f"{path}: an image with content ({img.shape}, std {img[..., :3].std():.3f})")


def good_pdf(path):
    if not check(os.path.exists(path) and os.path.getsize(path) > 1000, f"{path} written"):
        return False
    with open(path, "rb") as f:
        return check(f.read(5) == b"%PDF-", f"{path} is a PDF")


# --- analysis/figures on the results directory -----------------------------
figures = os.path.join(work, "figures")
status, out, err = script(os.path.join(ANALYSIS, "figures"), "--out", figures, results)
check(status == 0, f"analysis/figures: {out} {err}")
for stem in ("smoke-F1", "smoke-F2", "smoke-F3a", "smoke-F3b", "smoke-F4", "smoke-S"):
    good_png(os.path.join(figures, stem + ".png"))
    good_pdf(os.path.join(figures, stem + ".pdf"))
    check(stem + ".png" in out, f"analysis/figures names {stem}.png: {out}")


def check_table(path, sweep_files):
    """Every number of a sweep table equals the file's value at its last
    saved step (parsed floats compared with ==: the table writes repr)."""
    with open(path) as f:
        rows = list(csv.DictReader(f))
    check(len(rows) == len(sweep_files), f"{path}: {len(rows)} rows for {len(sweep_files)} files")
    for row in rows:
        with h5py.File(row["file"], "r") as h:
            last = len(h["time"]) - 1
            check(int(row["task"]) == int(h.attrs["task"]), f"{path}: task of {row['file']}")
            check(row["perturb.magnitude"] == text(h.attrs["perturb.magnitude"]),
                  f"{path}: magnitude of {row['file']}")
            check(float(row["t_final"]) == float(h["time"][last]), f"{path}: t_final of {row['file']}")
            for name, column in FINAL_COLUMNS:
                want = float(h["diagnostics"][name][last])
                check(float(row[column]) == want,
                      f"{path}: {column} of {row['file']}: {row[column]} vs {want!r}")


sweep = sorted(glob.glob(os.path.join(results, "smoke-S.task*.h5")))
check_table(os.path.join(figures, "smoke-S.csv"), sweep)

# --- F3b: the nearest training images come from the recorded source --------
for path in sorted(glob.glob(os.path.join(results, "smoke-F3b.task*.h5"))):
    r = Run(path)
    y = r.final["particles"]
    nearest = r.series("nearest_index")[-1]
    distance = r.series("nearest_distance")[-1]
    # The whole training set as loaded, from the source file, scaled as
    # [data] scale = minus1_1 maps [input_lo, input_hi] to [-1, 1].
    lo, hi = float(r.training["input_lo"]), float(r.training["input_hi"])
    check((lo, hi) == (0.0, 255.0), f"{path}: Fashion-MNIST input range {lo}, {hi}")
    train = training_images(r, np.arange(len(r.training["source_index"]))).reshape(len(r.training["source_index"]), -1)
    train = 2 * (train - lo) / (hi - lo) - 1
    d2 = ((y[:, None, :] - train[None, :, :]) ** 2).sum(axis=2)
    brute = d2.argmin(axis=1)
    check(np.array_equal(brute, nearest), f"{path}: nearest_index {nearest} vs brute force {brute}")
    # Distances computed in float64 from the same bytes: they agree to
    # rounding (1e-9 relative is ~1e6 ulps, far above what the kernel's
    # error bounds allow and far below any indexing mistake, which moves
    # a distance by the gap between images, > 1e-2 here).
    exact = np.sqrt(d2[np.arange(len(y)), nearest])
    check(np.allclose(exact, distance, rtol=1e-9, atol=0),
          f"{path}: nearest_distance {distance} vs recomputed {exact}")
    labels = r.training["label"]
    with h5py.File(path, "r") as h:
        check(h["training/label"].shape == h["training/source_index"].shape, "labels beside indices")
    check(labels.min() >= 0 and labels.max() <= 9, f"{path}: Fashion-MNIST labels {labels.min()}..{labels.max()}")

# --- post.py (the SLURM post-processing job) --------------------------------
post = os.path.join(work, "post-S")
status, out, err = script(os.path.join(ANALYSIS, "post.py"), "--experiment", "S", "--out", post, *sweep)
check(status == 0, f"post.py: {out} {err}")
check_table(os.path.join(post, "table.csv"), sweep)
good_png(os.path.join(post, "figures", "S.png"))
good_pdf(os.path.join(post, "figures", "S.pdf"))
check(os.path.getsize(os.path.join(post, "report.html")) > 10000, "post.py writes report.html")

# --- analysis/report --------------------------------------------------------
status, out, err = script(os.path.join(ANALYSIS, "report"), results, "--title", "smoke")
page = os.path.join(results, "report.html")
check(status == 0 and out.strip().splitlines()[-1] == page, f"analysis/report prints {page}: {out} {err}")
with open(page) as f:
    html = f.read()
embedded = html.count('<img src="data:image/png;base64,')
check(embedded == 6, f"report embeds the 6 figures: {embedded}")
check("src=\"http" not in html and "<link" not in html, "report is self-contained")
for f in files:
    check(os.path.basename(f) in html, f"report lists {os.path.basename(f)}")
check("complete" in html and "memorised fraction" in html, "report table")

chromium = shutil.which("chromium")
if check(chromium, "Debian chromium is installed (scripts/bootstrap installs it)"):
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=10000",
             f"--user-data-dir={os.path.join(work, 'chromium-profile')}"]
    url = "file://" + os.path.abspath(page)
    p = subprocess.run([chromium] + flags + ["--dump-dom", url], capture_output=True, text=True,
                       timeout=120, stdin=subprocess.DEVNULL)
    body = p.stdout[p.stdout.find("<body"):][:200]
    check(p.returncode == 0 and 'data-images="6"' in body and 'data-broken-images="0"' in body,
          f"Chromium loads the report's 6 images, none broken: {body!r} {p.stderr[-500:]}")
    shot = os.path.join(work, "report.png")
    p = subprocess.run([chromium] + flags + [f"--screenshot={shot}", "--window-size=1300,3000", url],
                       capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    check(p.returncode == 0, f"Chromium screenshot: {p.stderr[-500:]}")
    good_png(shot)

# --- an interrupted run is drawn as far as it got, and marked ---------------
partial = os.path.join(work, "partial")
os.makedirs(partial)
shutil.copy(files[0], partial)
with h5py.File(os.path.join(partial, os.path.basename(files[0])), "r+") as h:
    h.attrs["status"] = np.bytes_(b"interrupted")
status, out, err = script(os.path.join(ANALYSIS, "figures"), partial)
check(status == 0 and "not complete" in out, f"figures notes an incomplete run: {out} {err}")
status, out, err = script(os.path.join(ANALYSIS, "report"), partial)
check(status == 0 and 'class="bad">interrupted' in open(os.path.join(partial, "report.html")).read(),
      f"report marks an interrupted run: {err}")

# --- bad input ---------------------------------------------------------------
empty = os.path.join(work, "empty")
os.makedirs(empty)
missing = os.path.join(work, "no-such-dir")
for args, what in (([os.path.join(ANALYSIS, "figures"), empty], "no sgmrun run file"),
                   ([os.path.join(ANALYSIS, "figures"), missing], "no-such-dir"),
                   ([os.path.join(ANALYSIS, "report"), empty], "no sgmrun run file"),
                   ([os.path.join(ANALYSIS, "report"), missing], "not a directory")):
    status, out, err = script(*args)
    check(status == 1 and what in err and "Traceback" not in err,
          f"{' '.join(os.path.basename(a) for a in args)}: exit 1 naming the problem: {status} {err}")

finish()
