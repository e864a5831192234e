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
clear errors.

Then the cases the smoke runs do not reach, each a run of seconds: F3b from
every other image source (IDX plain, float and gzip without .gz; .npy flat
and with labels; HDF5 colour with the channels last; CIFAR-10 batches as a
directory and as a list; Fashion-MNIST's test split), with class filters,
subsets and every scale, each image the one the run measured; a source that
changed or went away (a warning, the figure still drawn); interrupted runs
(no /final) and runs with no saved step; F1, F2 and F4 on runs they must
leave out or cannot draw on a log axis (2-D densities, d = 5, a zero drift
error); F2's perturbation arrow in 2-D; a sweep whose first numeric key has
one value; legends that name the drift and tell runs apart; a results
directory holding files that are not run files; and one-line errors."""
import csv
import glob
import gzip
import os
import shutil
import struct
import subprocess
import sys

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.image  # noqa: E402
import numpy as np  # noqa: E402

from sgmrun_test import FASHION, SOURCE, check, finish, good_pdf, good_png, run, scratch, text, write_config  # noqa: E402

ANALYSIS = os.path.join(SOURCE, "analysis")
sys.path.insert(0, ANALYSIS)
import sgm_figures  # noqa: E402
from sgm_results import FINAL_COLUMNS, Run, load_runs, training_images  # noqa: E402

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

# --- F3b from every image source ----------------------------------------------
# Files of each kind sgmrun reads, made from the first 400 Fashion-MNIST
# training images; for every particle, the distance to the training image
# F3b reads back (scaled as the run scaled it) must equal the run's
# nearest_distance at t_min, and the labels the source's.
data = os.path.join(work, "data")
os.makedirs(data)
with gzip.open(os.path.join(FASHION, "train-images-idx3-ubyte.gz")) as f:
    images = np.frombuffer(f.read(), np.uint8, 400 * 784, 16).reshape(400, 28, 28)
with gzip.open(os.path.join(FASHION, "train-labels-idx1-ubyte.gz")) as f:
    classes = np.frombuffer(f.read(), np.uint8, 400, 8)


def write_idx(path, array, code, compress=False):
    dtype = {0x08: ">u1", 0x0D: ">f4"}[code]
    raw = struct.pack(">BBBB", 0, 0, code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    raw += array.astype(dtype).tobytes()
    with open(path, "wb") as f:
        f.write(gzip.compress(raw, 1) if compress else raw)
    return path


write_idx(os.path.join(data, "images.idx"), images, 0x08)
write_idx(os.path.join(data, "labels.idx"), classes, 0x08)
write_idx(os.path.join(data, "float-gzip"), images / 255.0, 0x0D, compress=True)  # no .gz
np.save(os.path.join(data, "flat.npy"), (images.reshape(400, 784) / 85.0 - 1).astype(np.float32))
np.save(os.path.join(data, "grey.npy"), images[:, :, :, None])  # (n, 28, 28, 1), u8
np.save(os.path.join(data, "labels.npy"), classes.astype(np.int64))
colour = np.stack([images[:, ::2, ::2], images[:, 1::2, ::2], images[:, ::2, 1::2]], axis=-1)
with h5py.File(os.path.join(data, "colour.h5"), "w") as h:
    h["images/rgb"] = colour / 2.0  # (n, 14, 14, 3), channels last
    h["labels"] = classes.astype(np.int32)
cifar = os.path.join(data, "cifar")
os.makedirs(cifar)
rng = np.random.default_rng(7)
for b in range(1, 6):
    records = rng.integers(0, 256, (40, 3073), dtype=np.uint8)
    records[:, 0] %= 10
    records.tofile(os.path.join(cifar, f"data_batch_{b}.bin"))
sources = {
    "fashion-test": ["data.split=test", "data.classes=7", "data.n=50"],
    "idx-plain": ["data.source=idx", f"data.path={data}/images.idx", f"data.labels={data}/labels.idx",
                  "data.classes=2,4", "data.n=60", "data.scale=unit"],
    "idx-float-gzip": ["data.source=idx", f"data.path={data}/float-gzip", "data.n=100"],
    "npy-flat": ["data.source=npy", f"data.path={data}/flat.npy", "data.n=120"],
    "npy-grey": ["data.source=npy", f"data.path={data}/grey.npy", f"data.labels={data}/labels.npy",
                 "data.classes=0,9", "data.n=0", "data.scale=minus1_1"],
    "hdf5-colour": ["data.source=hdf5", f"data.path={data}/colour.h5", "data.dataset=/images/rgb",
                    "data.labels=/labels", "data.classes=1,3", "data.n=50", "data.scale=unit"],
    "cifar-dir": ["data.source=cifar10", f"data.path={cifar}", "data.classes=1,2,3", "data.n=30"],
    "cifar-list": ["data.source=cifar10", "data.n=50",
                   f"data.path={cifar}/data_batch_3.bin, {cifar}/data_batch_1.bin"],
}
base = write_config(os.path.join(work, "base.ini"), """[run]
name = src-F3b
seed = 3
[data]
source = fashion-mnist
n = 100
[perturb]
kind = constant
magnitude = 0.5
[sampler]
method = ei
grid = log_sigma
steps = 20
particles = 4
[output]
every = 10
""")
images_dir = os.path.join(work, "sources")
os.makedirs(images_dir)
for name, sets in sources.items():
    status, _, err = run(["run", base, "--quiet", "--output", os.path.join(images_dir, name + ".h5")]
                         + [a for s in sets for a in ("--set", s)], 2 if name.startswith("cifar") else 1)
    check(status == 0, f"run {name}: {err}")


def source_labels(r):
    source = r.value("data", "source")
    if source == "cifar10":
        files = [os.path.join(cifar, f"data_batch_{b}.bin") for b in range(1, 6)]
        if "," in r.value("data", "path"):
            files = [p.strip() for p in r.value("data", "path").split(",")]
        return np.concatenate([np.fromfile(p, np.uint8).reshape(-1, 3073)[:, 0] for p in files])
    if source == "fashion-mnist":
        with gzip.open(os.path.join(FASHION, "t10k-labels-idx1-ubyte.gz")) as f:
            return np.frombuffer(f.read(), np.uint8, offset=8)
    return classes


for name in sources:
    path = os.path.join(images_dir, name + ".h5")
    if not os.path.exists(path):
        continue
    r = Run(path)
    check(r.is_image(), f"{name}: shown as images (example_shape {r.training.get('example_shape')})")
    nearest, distance = r.series("nearest_index")[-1], r.series("nearest_distance")[-1]
    try:
        train = training_images(r, nearest).reshape(len(nearest), -1)
    except Exception as e:  # noqa: BLE001
        check(False, f"{name}: training_images: {e!r}")
        continue
    lo, hi = float(r.training["input_lo"]), float(r.training["input_hi"])
    scaled = {"unit": (train - lo) / (hi - lo), "minus1_1": 2 * (train - lo) / (hi - lo) - 1,
              "none": train}[r.value("data", "scale")]
    exact = np.linalg.norm(r.final["particles"] - scaled, axis=1)
    check(np.allclose(exact, distance, rtol=1e-9, atol=1e-12),
          f"{name}: distances to the images read back {exact} vs nearest_distance {distance}")
    if "label" in r.training:
        want = source_labels(r)[r.training["source_index"]]
        check(np.array_equal(r.training["label"], want), f"{name}: /training/label vs the source's")
        filtered = r.value("data", "classes")
        if filtered != "all":
            check(set(r.training["label"]) <= {int(c) for c in filtered.split(",")},
                  f"{name}: labels {set(r.training['label'])} outside classes {filtered}")
status, out, err = script(os.path.join(ANALYSIS, "figures"), images_dir)
check(status == 0 and "F3b" in out and "warning" not in err, f"figures on every image source: {out} {err}")
good_png(os.path.join(images_dir, "figures", "src-F3b.png"))

# Every run records the directory it ran in (root attribute cwd), which a
# relative [data] path is relative to: the analysis finds the source from
# anywhere.
with h5py.File(os.path.join(images_dir, "npy-flat.h5"), "r") as h:
    check(text(h.attrs["cwd"]) == os.getcwd(), f"cwd attribute {text(h.attrs['cwd'])!r}")
# A source that changed since the run, then one that went away: warned
# about, and F3b is still drawn (with the samples).
changed = os.path.join(work, "changed")
os.makedirs(changed)
shutil.copy(os.path.join(images_dir, "npy-flat.h5"), changed)
with h5py.File(os.path.join(changed, "npy-flat.h5"), "r+") as h:
    h.attrs["config"] = np.bytes_(text(h.attrs["config"]).replace(f"{data}/flat.npy", "flat.npy"))
    h.attrs["cwd"] = np.bytes_(changed.encode())
np.save(os.path.join(changed, "flat.npy"), np.load(os.path.join(data, "flat.npy"))[::-1])
p = subprocess.run([sys.executable, os.path.join(ANALYSIS, "figures"), changed], capture_output=True,
                   text=True, cwd=work, stdin=subprocess.DEVNULL)
check(p.returncode == 0 and "source changed" in p.stderr,
      f"a relative source is found from elsewhere, and its change noticed: {p.stderr}")
os.remove(os.path.join(changed, "flat.npy"))
status, out, err = script(os.path.join(ANALYSIS, "figures"), changed)
check(status == 0 and "no such file" in err and os.path.join(changed, "flat.npy") in err and "F3b" in out,
      f"a missing source: F3b drawn without it, naming the file: {out} {err}")

# --- runs the figures must leave out ------------------------------------------
drawn = []
_save = sgm_figures.save


def keep(fig, stem, tight=True):
    drawn.append(fig)
    return _save(fig, stem, tight)


def figure(name, runs):
    """The figure that sgm_figures draws for runs (None, failing, if it raises)."""
    del drawn[:]
    try:
        getattr(sgm_figures, "figure_" + name.lower())(runs, os.path.join(other, name))
    except Exception as e:  # noqa: BLE001
        check(False, f"{name}: {e!r}")
        return None
    return drawn[-1]


def legend(fig, panel):
    box = fig.axes[panel].get_legend() if fig else None
    return [t.get_text() for t in box.get_texts()] if box else []


sgm_figures.save = keep
other = os.path.join(work, "other")
os.makedirs(other)
sphere = ["data.source=sphere", "data.n=100", "sampler.particles=16", "diagnostics.density_bins=8"]
for name, sets in (("circle-up", sphere + ["data.dim=2", "data.intrinsic=1", "perturb.magnitude=1"]),
                   ("circle-down", sphere + ["data.dim=2", "data.intrinsic=1", "perturb.magnitude=-1"]),
                   ("sphere5", sphere + ["data.dim=5", "data.intrinsic=2"])):
    status, _, err = run(["run", base, "--quiet", "--output", os.path.join(other, name + ".h5"),
                          "--set", f"run.name={name}"] + [a for s in sets for a in ("--set", s)])
    check(status == 0, f"run {name}: {err}")
circles = [Run(os.path.join(other, n + ".h5")) for n in ("circle-up", "circle-down")]
fig = figure("F1", [Run(os.path.join(results, "smoke-F1.h5"))] + circles)
check(fig and len(fig.axes) == 3, "F1 leaves out 2-D densities (heat map, colour bar, comparison)")
fig = figure("F2", [Run(os.path.join(other, "sphere5.h5"))] + circles)
arrows = [a.xy for ax in fig.axes for a in ax.texts if getattr(a, "arrow_patch", None)] if fig else []
check(fig and len(fig.axes) == 3, "F2 leaves out d = 5")
check(len(arrows) == 2 and arrows[0][0] > 0 and arrows[1][0] < 0,
      f"F2 in 2-D: the arrow of c (1, 1), up for c = 1 and down for c = -1: {arrows}")
sweep_runs = [Run(f) for f in sweep]
fig = figure("F4", sweep_runs)
low = fig.axes[1].get_ylim()[0] if fig else 0
check(low > 1e-10, f"F4: the zero drift error of c = 0 does not stretch the log axis to {low:.3g}")
check(any("c = 0" in t and "not drawn" in t for t in legend(fig, 1)),
      f"F4 says what it left out: {legend(fig, 1)}")
fig = figure("S", sweep_runs)
check(legend(fig, 0) == ["empirical + constant (ones)"],
      f"S names the drift and its perturbation: {legend(fig, 0)}")
twin = os.path.join(other, "twin.h5")
shutil.copy(os.path.join(results, "smoke-F3a.task000.h5"), twin)
fig = figure("F3a", [Run(os.path.join(results, "smoke-F3a.task000.h5")), Run(twin)])
check(len(set(legend(fig, 0))) == 2, f"legends tell runs of one label apart: {legend(fig, 0)}")

# A sweep whose first numeric key has one value: S is over the other.
one = write_config(os.path.join(work, "one-S.ini"), open(base).read().replace("src-F3b", "one-S")
                   + "[sweep]\nsampler.particles = 4\ndata.n = 100, 150\n")
ones = os.path.join(work, "one-S")
os.makedirs(ones)
for task in range(2):
    status, _, err = run(["run", one, "--task", str(task), "--quiet",
                          "--output", os.path.join(ones, "one-S.h5")])
    check(status == 0, f"one-S task {task}: {err}")
check(sgm_figures.sweep_key(load_runs([ones])) == "data.n", "S is over data.n")
fig = figure("S", load_runs([ones]))
check(legend(fig, 0) == ["empirical + constant (c = 0.5, ones) [sampler.particles = 4]"],
      f"S's series: {legend(fig, 0)}")

# --- interrupted runs, and runs with no step saved ---------------------------
cut = os.path.join(work, "cut")
os.makedirs(cut)
status, _, err = run(["run", base, "--quiet", "--output", os.path.join(cut, "paths.h5"),
                      "--set", "output.trajectories=yes", "--set", "output.storage=float32"])
check(status == 0, f"run with trajectories: {err}")
for name in ("paths", "none"):  # as a signal leaves them: no /final
    if name == "none":
        shutil.copy(os.path.join(results, "smoke-F3b.task000.h5"), os.path.join(cut, "none.h5"))
    with h5py.File(os.path.join(cut, name + ".h5"), "r+") as h:
        h.attrs["status"] = np.bytes_(b"interrupted")
        del h["final"]
status, out, err = script(os.path.join(ANALYSIS, "figures"), "--experiment", "F3b", "--out",
                          os.path.join(cut, "figures"), cut)
check(status == 0 and "Traceback" not in err and os.path.exists(os.path.join(cut, "figures", "F3b.png")),
      f"F3b of interrupted runs: the last saved paths, or nothing: {out} {err}")
status, out, err = script(os.path.join(ANALYSIS, "figures"), "--experiment", "F3b",
                          os.path.join(cut, "none.h5"))
check(status == 1 and "needs" in err and "Traceback" not in err, f"F3b impossible: one message: {err}")
with h5py.File(os.path.join(cut, "none.h5"), "r+") as h:  # killed before its first save
    for ds in [h["time"]] + [h["diagnostics"][k] for k in h["diagnostics"]]:
        ds.resize(0, axis=0)
status, out, err = script(os.path.join(ANALYSIS, "post.py"), "--experiment", "F3b", "--out",
                          os.path.join(cut, "post"), os.path.join(cut, "none.h5"))
check(status == 1 and "status interrupted" in err and "Traceback" not in err
      and os.path.exists(os.path.join(cut, "post", "report.html")), f"post.py, no step saved: {err}")

# Sweep tasks without diagnostics ([diagnostics] nearest = novikov = no): no
# figure, said so.
bare = os.path.join(work, "bare")
os.makedirs(bare)
for path in sweep[:2]:
    shutil.copy(path, bare)
    with h5py.File(os.path.join(bare, os.path.basename(path)), "r+") as h:
        del h["diagnostics"]
status, out, err = script(os.path.join(ANALYSIS, "figures"), bare)
check(status == 1 and "no figure applies" in err, f"sweep tasks without diagnostics: {out} {err}")

# --- a results directory with more than run files ------------------------------
mixed = os.path.join(work, "mixed")
os.makedirs(os.path.join(mixed, "deeper", "dir.h5"))
shutil.copy(files[0], os.path.join(mixed, "deeper"))
shutil.copy(files[1], os.path.join(mixed, "score.h5"))
with h5py.File(os.path.join(mixed, "score.h5"), "r+") as h:
    h.attrs["command"] = np.bytes_(b"score")
for name, content in (("junk.h5", b"not HDF5\n"), ("empty.h5", b""), ("run.h5.partial", b""),
                      ("run.h5.ckpt", b"")):
    with open(os.path.join(mixed, name), "wb") as f:
        f.write(content)
status, out, err = script(os.path.join(ANALYSIS, "figures"), mixed)
check(status == 0 and "junk.h5: cannot read: not an HDF5 file" in err and "empty.h5" in err
      and "Traceback" not in err, f"figures skips what is not a run file, saying so: {out} {err}")
page = os.path.join(mixed, "new", "r.html")
status, out, err = script(os.path.join(ANALYSIS, "report"), mixed, "--out", page)
check(status == 0 and os.path.exists(page), f"report --out in a new directory: {err}")
for args, what in ((["figures", os.path.join(mixed, "junk.h5")], "junk.h5: cannot read: not an HDF5 file"),
                   (["post.py", "--experiment", "S", "--out", os.path.join(mixed, "post"),
                     os.path.join(mixed, "score.h5")], "not an sgmrun run file (command score)")):
    status, out, err = script(os.path.join(ANALYSIS, args[0]), *args[1:])
    check(status == 1 and what in err and "Traceback" not in err, f"{args[0]}: one message: {err}")

finish()
