"""Reading sgmrun output files: shared by the scripts in analysis/.

Everything here reads the names of INTERFACE.md ("Output files"), the root
attributes sgmrun writes and the /training group; nothing is recomputed.
The training examples themselves are read from the data source that the
file's resolved configuration names (training_images).
"""
import csv
import glob
import gzip
import os
import re

import h5py
import numpy as np


def text(value):
    """An HDF5 string attribute as str (h5py returns fixed-length ones as bytes)."""
    return value.decode() if isinstance(value, bytes) else str(value)


def config_value(config, section, key):
    """A value of the resolved configuration text stored in a file's `config`."""
    current = None
    for line in config.splitlines():
        line = line.strip()
        if line.startswith("["):
            current = line.strip("[]")
        elif current == section and line.split("=")[0].strip() == key:
            return line.split("=", 1)[1].strip()
    return None


def swept(attrs):
    """The swept keys of a sweep task's file and their values, in sweep order
    ({} for a run that is not a sweep task)."""
    if "task" not in attrs or "sweep" not in attrs:
        return {}
    keys = [part.split(" = ", 1)[0] for part in text(attrs["sweep"]).split("; ")]
    return {k: text(attrs[k]) for k in keys if k in attrs}


def run_files(inputs):
    """The sgmrun output files among `inputs` (files, or directories searched
    recursively for *.h5), sorted; files being created (*.partial) and
    checkpoints are left out.  Raises FileNotFoundError for a missing input."""
    files = []
    for item in inputs:
        if os.path.isdir(item):
            found = glob.glob(os.path.join(item, "**", "*.h5"), recursive=True)
            files += [f for f in found if ".checkpoint" not in os.path.basename(f)]
        elif os.path.exists(item):
            files.append(item)
        else:
            raise FileNotFoundError(f"{item}: no such file or directory")
    return sorted(set(files))


# The paper's experiments (DESIGN.md section 3), as run names carry them.
EXPERIMENTS = ("F1", "F2", "F3a", "F3b", "F4", "S", "W")
_EXPERIMENT = re.compile(r"(?:^|[-_.])(" + "|".join(EXPERIMENTS) + r")(?=$|[-_.])")


def experiment_of(name):
    """(group, experiment) of a run name: "smoke-F4-constant" -> ("smoke-F4",
    "F4"); a name without an experiment id is its own group, experiment None."""
    m = _EXPERIMENT.search(name)
    if not m:
        return name, None
    return name[: m.end(1)], m.group(1)


class Run:
    """One `sgmrun run` output file, read at once (the per-step series are
    small: saved steps x particles)."""

    def __init__(self, path):
        self.path = path
        with h5py.File(path, "r") as f:
            a = f.attrs
            self.attrs = {k: (text(v) if isinstance(v, (bytes, str)) else v) for k, v in a.items()}
            self.config = self.attrs.get("config", "")
            self.status = self.attrs.get("status", "unknown")
            self.task = int(a["task"]) if "task" in a else None
            self.swept = swept(a)
            self.time = f["time"][...] if "time" in f else np.array([])
            self.diag = {k: f["diagnostics"][k][...] for k in f.get("diagnostics", {})}
            self.final = {k: f["final"][k][...] for k in f.get("final", {})}
            self.training = {}
            if "training" in f:
                g = f["training"]
                self.training = {k: g[k][...] for k in g}
                self.training.update({k: v for k, v in g.attrs.items() if k != "description"})
        self.name = self.value("run", "name") or os.path.basename(path)
        self.group, self.experiment = experiment_of(self.name)
        self.drift = self.attrs.get("drift", self.value("drift", "model") or "?")
        self.d = int(self.attrs.get("dimension", 0))

    def value(self, section, key):
        return config_value(self.config, section, key)

    def number(self, section, key, default=None):
        v = self.value(section, key)
        try:
            return float(v)
        except (TypeError, ValueError):
            return default

    @property
    def saved(self):
        """Saved steps present (an interrupted run has fewer than planned)."""
        return len(self.time)

    def series(self, name):
        """A diagnostic over the saved steps (cut to /time's length), or None."""
        v = self.diag.get(name)
        return None if v is None else v[: self.saved]

    def label(self):
        """A legend entry: the drift, with the swept values that are not in it."""
        extra = [f"{k} = {v}" for k, v in self.swept.items()
                 if k.split(".")[-1] not in self.drift and v not in self.drift]
        return self.drift + (f" [{', '.join(extra)}]" if extra else "")

    def is_image(self):
        shape = self.training.get("example_shape")
        return shape is not None and len(shape) in (2, 3) and min(shape[-2:]) >= 4

    def to_source_units(self, y):
        """Samples in the source's units (undoing [data] scale), for display
        beside the training images."""
        lo, hi = (float(self.training.get("input_lo", np.nan)),
                  float(self.training.get("input_hi", np.nan)))
        scale = self.value("data", "scale")
        if np.isnan(lo) or scale == "none":
            return y
        unit = (y + 1) / 2 if scale == "minus1_1" else y
        return lo + unit * (hi - lo)


def load_runs(inputs):
    """Run objects for the sgmrun run files among inputs (score and jacobian
    files are skipped), in file order."""
    runs = []
    for path in run_files(inputs):
        with h5py.File(path, "r") as f:
            if text(f.attrs.get("command", "")) != "run":
                continue
        runs.append(Run(path))
    return runs


# Per-step diagnostics summarised at the last saved step: (dataset, column).
FINAL_COLUMNS = [
    ("memorized_fraction", "memorized_fraction"),
    ("mean_nearest_distance", "mean_nearest_distance"),
    ("novikov_log_mean_exp", "novikov_log_mean_exp"),
    ("novikov_mean", "novikov_mean"),
    ("mean_score_error", "mean_score_error"),
]


def final_row(path):
    """One run's identity and its diagnostics at the last saved step: a dict
    with file, status, task, the swept values, t_final and FINAL_COLUMNS
    (None where the run did not compute a diagnostic)."""
    with h5py.File(path, "r") as f:
        a = f.attrs
        row = {"file": path, "status": text(a.get("status", "unknown")),
               "task": int(a["task"]) if "task" in a else None}
        row.update(swept(a))
        t = f["time"][...] if "time" in f else np.array([])
        row["t_final"] = float(t[-1]) if len(t) else None
        d = f.get("diagnostics")
        for name, column in FINAL_COLUMNS:
            row[column] = float(d[name][len(t) - 1]) if d is not None and name in d and len(t) else None
    return row


def write_table(rows, path):
    """A CSV table of final_row dicts: file, task, the swept keys, status,
    t_final and FINAL_COLUMNS; floats written with repr (every digit, so the
    numbers equal the files'), empty cells where a value is missing."""
    swept_keys = []
    for row in rows:
        swept_keys += [k for k in row if "." in k and k not in swept_keys]
    columns = ["file", "task"] + swept_keys + ["status", "t_final"] + [c for _, c in FINAL_COLUMNS]
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(columns)
        for row in rows:
            w.writerow(["" if row.get(c) is None else (repr(row[c]) if isinstance(row[c], float) else row[c])
                        for c in columns])


# ---------------------------------------------------------------------------
# Training examples from the data source recorded in a file.

FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog",
                   "horse", "ship", "truck")


def _open_maybe_gz(path):
    return gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")


def _idx_rows(path, rows):
    """Rows of an IDX file (unsigned-byte images), as uint8 arrays."""
    with _open_maybe_gz(path) as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] or raw[1] or raw[2] != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    ndim = raw[3]
    dims = np.frombuffer(raw, ">u4", ndim, 4).astype(int)
    data = np.frombuffer(raw, np.uint8, int(np.prod(dims)), 4 + 4 * ndim).reshape(dims)
    return data[np.asarray(rows, dtype=int)]


def _fashion_file(directory, split):
    for name in (f"{split}-images-idx3-ubyte.gz", f"{split}-images-idx3-ubyte"):
        path = os.path.join(directory, name)
        if os.path.exists(path):
            return path
    raise FileNotFoundError(f"fashion-mnist: no {split}-images-idx3-ubyte[.gz] in {directory}")


def _cifar_rows(run, rows):
    path, split = run.value("data", "path"), run.value("data", "split") or "train"
    if os.path.isdir(path):
        names = (["test_batch.bin"] if split == "test"
                 else [f"data_batch_{b}.bin" for b in range(1, 6)])
        files = [os.path.join(path, n) for n in names]
    else:
        files = [p.strip() for p in path.split(",") if p.strip()]
    records = np.concatenate([np.fromfile(p, np.uint8).reshape(-1, 3073) for p in files])
    return records[np.asarray(rows, dtype=int), 1:].reshape(-1, 3, 32, 32)


def training_images(run, rows):
    """The training examples `rows` (indices of the training set as loaded,
    what nearest_index reports) in the source's own units, shaped as
    /training example_shape; read from the data source of the run's
    configuration."""
    index = run.training["source_index"][np.asarray(rows, dtype=int)]
    source, path = run.value("data", "source"), run.value("data", "path")
    shape = tuple(int(s) for s in run.training["example_shape"])
    if source == "fashion-mnist":
        x = _idx_rows(_fashion_file(path, run.value("data", "split") or "train"), index)
    elif source == "idx":
        x = _idx_rows(path, index)
    elif source == "cifar10":
        x = _cifar_rows(run, index)
    elif source == "npy":
        x = np.load(path, mmap_mode="r")[index]
    elif source == "hdf5":
        with h5py.File(path, "r") as f:
            ds = f[run.value("data", "dataset") or "/data"]
            unique, inverse = np.unique(index, return_inverse=True)  # h5py wants increasing
            x = ds[unique][inverse]
    else:
        raise ValueError(f"{run.path}: source {source} has no stored examples to read")
    return np.asarray(x, dtype=float).reshape((len(index),) + shape)


def class_name(run, label):
    names = {"fashion-mnist": FASHION_MNIST_CLASSES, "cifar10": CIFAR10_CLASSES}.get(
        run.value("data", "source"))
    return names[label] if names and 0 <= label < len(names) else str(label)
