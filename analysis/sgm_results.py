"""Reading sgmrun output files: shared by the scripts in analysis/.

Everything here reads the names of INTERFACE.md ("Output files"), the root
attributes sgmrun writes and the /training group; nothing is recomputed.
The training examples themselves are read from the data source that the
file's resolved configuration names (training_images).
"""
import csv
import functools
import glob
import gzip
import math
import os
import re
import sys

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


def warn(message):
    print(f"warning: {message}", file=sys.stderr)


def error_text(e):
    """An exception as one line: "PATH: reason" for an OSError with a file."""
    if isinstance(e, OSError) and e.filename and e.strerror:
        return f"{e.filename}: {e.strerror}"
    if isinstance(e, KeyError) and e.args:
        return str(e.args[0])
    return str(e) or type(e).__name__


def guarded(program, main):
    """Runs main() and returns its exit status; an error it raises is one
    line on stderr, "PROGRAM: error: ...", and status 1 (SGM_DEBUG=1 in the
    environment: the traceback instead, as for sgmrun)."""
    try:
        return main()
    except Exception as e:  # noqa: BLE001  (one message, never a traceback)
        if os.environ.get("SGM_DEBUG"):
            raise
        print(f"{program}: error: {error_text(e)}", file=sys.stderr)
        return 1


def run_files(inputs):
    """The HDF5 candidates among `inputs` (files, or directories searched
    recursively for regular files named *.h5), sorted, as (path, named):
    named is True for a file given by name.  sgmrun's files being written
    (*.h5.partial) and its checkpoints (*.h5.ckpt, *.h5.ckpt.prev) do not
    end in .h5.  Raises FileNotFoundError for a missing input."""
    files = {}
    for item in inputs:
        if os.path.isdir(item):
            for path in glob.glob(os.path.join(item, "**", "*.h5"), recursive=True):
                if os.path.isfile(path):
                    files.setdefault(os.path.normpath(path), False)
        elif os.path.exists(item):
            files[os.path.normpath(item)] = True
        else:
            raise FileNotFoundError(f"{item}: no such file or directory")
    return sorted(files.items())


def open_h5(path):
    """h5py.File(path, "r"), failing with one short OSError that names the
    file (h5py's own message is long and does not say which file)."""
    try:
        return h5py.File(path, "r")
    except OSError as e:
        if not os.path.exists(path):
            reason = "no such file"
        elif os.path.isdir(path):
            reason = "a directory"
        elif os.path.getsize(path) == 0:
            reason = "an empty file"
        elif "signature" in str(e):
            reason = "not an HDF5 file"
        else:
            reason = str(e).splitlines()[0][:200]
        raise OSError(f"{path}: cannot read: {reason}") from None


def command_of(path):
    """The sgmrun command that wrote the file ("run", "score", ...; "" for
    an HDF5 file that sgmrun did not write)."""
    with open_h5(path) as f:
        return text(f.attrs.get("command", ""))


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


# How the `drift` attribute shows the keys it depends on (src/drift/drift.c:
# "smoothed (h = 0.3) + constant (c = -1, ones)"): the pattern of each key's
# part, removed when a legend's series varies that key.
_DRIFT_PARTS = {"drift.bandwidth": r" \(h = [^)]*\)",
                "perturb.magnitude": r"c = [^,)]*(, )?",
                "perturb.direction": r"(, )?\b(ones|random)\b",
                "perturb.rank": r"(, )?rank \d+"}


class Run:
    """One `sgmrun run` output file, read at once (the per-step series are
    small: saved steps x particles)."""

    def __init__(self, path):
        self.path = path
        with open_h5(path) as f:
            a = f.attrs
            self.attrs = {k: (text(v) if isinstance(v, (bytes, str)) else v) for k, v in a.items()}
            self.config = self.attrs.get("config", "")
            self.status = self.attrs.get("status", "unknown")
            self.task = int(a["task"]) if "task" in a else None
            self.swept = swept(a)
            self.time = f["time"][...] if "time" in f else np.array([])
            self.diag = {k: f["diagnostics"][k][...] for k in f.get("diagnostics", {})}
            self.final = {k: f["final"][k][...] for k in f.get("final", {})}
            # An interrupted run has no /final: its last saved particles, if
            # it kept the paths, are the samples that nearest_index[-1] is about.
            self.last_particles = None
            if "particles" in f and self.saved:
                self.last_particles = f["particles"][self.saved - 1].astype(float)
            self.jacobian = None
            if "jacobian" in f:
                self.jacobian = Jacobian(path, f["jacobian"],
                                         _reals(config_value(self.config, "jacobian", "times")), self)
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

    def marginal(self, t):
        """(m(t), sigma(t)^2) of the run's forward SDE (DESIGN.md section 2:
        vp, ve, ou, with the configuration's parameters)."""
        return marginal(self.value("sde", "kind") or "vp", t,
                        **{k: self.number("sde", k, SDE_DEFAULTS[k]) for k in SDE_DEFAULTS})

    @property
    def saved(self):
        """Saved steps present (an interrupted run has fewer than planned)."""
        return len(self.time)

    def series(self, name):
        """A diagnostic over the saved steps (cut to /time's length), or None."""
        v = self.diag.get(name)
        return None if v is None else v[: self.saved]

    def in_drift(self, key):
        """Whether the `drift` attribute shows the value of config key."""
        kind, model = self.value("perturb", "kind"), self.value("drift", "model")
        if key == "drift.model":
            return True
        if key == "perturb.kind":  # shown, as "+ KIND (...)" or by its absence (none)
            return kind is not None
        if key == "drift.bandwidth":
            return model == "smoothed"
        if not key.startswith("perturb.") or kind in (None, "none"):
            return False
        shown = {"perturb.kind", "perturb.magnitude",
                 "perturb.rank" if kind == "rotation" else "perturb.direction"}
        return key in shown

    def _extra(self, skip=()):
        return [f"{k} = {v}" for k, v in self.swept.items() if k not in skip and not self.in_drift(k)]

    def label(self):
        """A legend entry: the drift, with the swept values it does not show."""
        extra = self._extra()
        return self.drift + (f" [{', '.join(extra)}]" if extra else "")

    def series_label(self, key):
        """A legend entry for a series over the swept `key`: the drift without
        key's value ("empirical + constant (ones)" over perturb.magnitude),
        with the other swept values it does not show."""
        drift = self.drift
        if key in _DRIFT_PARTS and self.in_drift(key):
            drift = re.sub(_DRIFT_PARTS[key], "", drift, count=1).replace(" ()", "")
        extra = self._extra(skip=(key,))
        return drift + (f" [{', '.join(extra)}]" if extra else "")

    def samples(self):
        """(samples to show, what they are, particles nearest_index[-1] is
        about): the denoised samples when the run made them, else the final
        particles, else (interrupted, with trajectories) the last saved ones;
        (None, None, None) when the file holds none."""
        if "particles" in self.final:
            if "denoised" in self.final:
                return self.final["denoised"], "denoised sample", self.final["particles"]
            return self.final["particles"], "sample", self.final["particles"]
        if self.last_particles is not None:
            return self.last_particles, f"sample at t = {self.time[-1]:.3g}", self.last_particles
        return None, None, None

    def image_shape(self):
        """How to show one example as an image: (H, W) grey or (H, W, C)
        colour, from /training example_shape -- 2 axes; 3 with the channels
        (1 or 3) first (CIFAR-10) or last; one axis of a square size (784 =
        28 x 28) of a data file -- or None for examples that are not images."""
        shape = self.training.get("example_shape")
        if shape is None:
            return None
        shape = tuple(int(s) for s in shape)
        if len(shape) == 1 and self.value("data", "source") in ("npy", "hdf5", "idx"):
            side = math.isqrt(shape[0])
            shape = (side, side) if side * side == shape[0] else ()
        elif len(shape) == 3 and shape[0] in (1, 3):
            shape = shape[1:] + shape[:1]
        if len(shape) == 3 and shape[2] == 1:
            shape = shape[:2]
        if len(shape) in (2, 3) and min(shape[:2]) >= 4 and (len(shape) == 2 or shape[2] == 3):
            return shape
        return None

    def is_image(self):
        return self.image_shape() is not None

    def as_image(self, x):
        """One example (any shape holding example_shape's values, in the
        source's order) as image_shape()."""
        shape = tuple(int(s) for s in self.training["example_shape"])
        x = np.asarray(x).reshape(shape)
        if len(shape) == 3 and shape[0] in (1, 3):  # channels first
            x = np.moveaxis(x, 0, -1)
        return x.reshape(self.image_shape())

    def scaling(self):
        """(scale, lo, hi) of [data] scale, or None when the data were not scaled."""
        lo, hi = (float(self.training.get("input_lo", np.nan)),
                  float(self.training.get("input_hi", np.nan)))
        scale = self.value("data", "scale")
        if np.isnan(lo) or np.isnan(hi) or scale not in ("unit", "minus1_1"):
            return None
        return scale, lo, hi

    def to_source_units(self, y):
        """Samples in the source's units (undoing [data] scale), for display
        beside the training images."""
        scaling = self.scaling()
        if scaling is None:
            return y
        scale, lo, hi = scaling
        unit = (y + 1) / 2 if scale == "minus1_1" else y
        return lo + unit * (hi - lo)

    def to_data_units(self, x):
        """Source values as the run saw them (applying [data] scale)."""
        scaling = self.scaling()
        if scaling is None:
            return x
        scale, lo, hi = scaling
        unit = (x - lo) / (hi - lo)
        return 2 * unit - 1 if scale == "minus1_1" else unit


def load_runs(inputs, warn=warn):
    """Run objects for the sgmrun run and jacobian files among inputs, in
    file order.  Score files and HDF5 files of other programs are skipped; so
    are files in a directory that cannot be read (e.g. not HDF5), with a
    warning; a file given by name that cannot be read is an error (OSError)."""
    runs = []
    for path, named in run_files(inputs):
        try:
            if command_of(path) in ("run", "jacobian"):
                runs.append(Run(path))
        except (OSError, KeyError) as e:
            if named:
                raise
            warn(f"skipped {e}")
    return runs


# Per-step diagnostics summarised at the last saved step: (dataset, column).
FINAL_COLUMNS = [
    ("memorized_fraction", "memorized_fraction"),
    ("mean_nearest_distance", "mean_nearest_distance"),
    ("novikov_log_mean_exp", "novikov_log_mean_exp"),
    ("novikov_mean", "novikov_mean"),
    ("mean_score_error", "mean_score_error"),
]


def final_row(run):
    """A Run's identity and its diagnostics at the last saved step: a dict
    with file, status, task, the swept values, t_final and FINAL_COLUMNS
    (None where the run did not compute a diagnostic, or saved no step)."""
    row = {"file": run.path, "status": run.status, "task": run.task}
    row.update(run.swept)
    last = run.saved - 1
    row["t_final"] = float(run.time[last]) if run.saved else None
    for name, column in FINAL_COLUMNS:
        v = run.diag.get(name)
        row[column] = float(v[last]) if v is not None and run.saved and len(v) > last else None
    return row


def write_table(rows, path):
    """A CSV table of final_row dicts: file, task, the swept keys, status,
    t_final and FINAL_COLUMNS; floats written with repr (every digit, so the
    numbers equal the files'), empty cells where a value is missing."""
    _write_csv(rows, path, lambda swept: ["file", "task"] + swept + ["status", "t_final"]
               + [c for _, c in FINAL_COLUMNS])


def _write_csv(rows, path, columns_of):
    """rows (dicts) as CSV: the columns columns_of(the swept keys, in order
    of appearance), floats with repr (every digit), None as an empty cell."""
    swept_keys = []
    for row in rows:
        swept_keys += [k for k in row if "." in k and k not in swept_keys]
    columns = columns_of(swept_keys)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(columns)
        for row in rows:
            w.writerow(["" if row.get(c) is None else (repr(row[c]) if isinstance(row[c], float) else row[c])
                        for c in columns])


# ---------------------------------------------------------------------------
# The Jacobian analysis (/jacobian; experiment W, DESIGN.md "Jacobian analysis").

SDE_DEFAULTS = {"beta_min": 0.1, "beta_max": 20.0, "sigma_min": 0.01, "sigma_max": 50.0}


def marginal(kind, t, beta_min=0.1, beta_max=20.0, sigma_min=0.01, sigma_max=50.0):
    """(m(t), sigma(t)^2) of the forward SDE `kind` (DESIGN.md section 2): the
    marginal given X_0 = y is N(m y, sigma^2 I).  t may be an array."""
    t = np.asarray(t, dtype=float)
    if kind == "vp":
        b = beta_min * t + 0.5 * (beta_max - beta_min) * t * t
        return np.exp(-b / 2), -np.expm1(-b)
    if kind == "ve":
        return np.ones_like(t), sigma_min ** 2 * ((sigma_max / sigma_min) ** (2 * t) - 1)
    if kind == "ou":
        return np.exp(-t), -np.expm1(-2 * t)
    raise ValueError(f"[sde] kind = {kind}: unknown")


# /jacobian's per-point series (nt x M x d; local_dimension nt x M) and the
# named vectors under /jacobian/vectors (nt x M x d), INTERFACE.md.
JACOBIAN_SERIES = ("singular_values", "eigenvalues", "cosines", "local_dimension",
                   "overlap_uv", "overlap_uw", "overlap_vw")
NAMED_VECTORS = ("u_minor", "v_minor", "w_zero", "u_major", "v_major", "w_minor", "w_major")


def _reals(value):
    """A configuration list of numbers as floats ([] when absent or not numbers)."""
    try:
        return [float(v) for v in (value or "").split(",") if v.strip()]
    except ValueError:
        return []


class Jacobian:
    """The /jacobian group of a file: what it holds read at once, the series
    on first use (the times written only), the vectors and points of chosen
    points on demand.

    Axis 0 of every dataset is the listed times ([jacobian] times), axis 1
    the analysed points.  A time not (yet) analysed -- an interrupted run,
    which analyses from the largest t down -- has NaN in /jacobian/times
    (and local dimension -1); a file cut short has axis 0 shorter.
    index: the rows written (axis 0); times: their forward times (a run's
    grid time nearest the listed one); listed: the listed times of those
    rows (the keys figures match across files); sigma2: sigma_t^2 there
    (/jacobian/noise_variance, else from [sde]); threshold: the largest s
    that r_t counts, 1/((1 + kappa) sigma_t^2); problems: what is missing,
    one line each."""

    def __init__(self, path, group, listed=None, run=None):
        self.path = path
        times = group["times"][...].astype(float) if "times" in group else np.array([])
        planned = np.asarray(listed if listed is not None and len(listed) else times, dtype=float)
        self.names = [n for n in JACOBIAN_SERIES if n in group]
        self.shapes = {n: group[n].shape for n in self.names}
        vectors = group.get("vectors")
        self.vector_names = [n for n in NAMED_VECTORS if vectors is not None and n in vectors]
        self.units = {n: text(group[n].attrs.get("units", "")) for n in self.names}
        self.units.update({n: text(vectors[n].attrs.get("units", "")) for n in self.vector_names})
        self.points_shape = group["points"].shape if "points" in group else None
        self.attrs = {k: (text(v) if isinstance(v, (bytes, str)) else v) for k, v in group.attrs.items()}
        self.problems = []
        rows = min([len(times)] + [self.shapes[n][0] for n in self.names])
        ok = np.isfinite(times[:rows])
        if "singular_values" in group and rows:
            sv = group["singular_values"][:rows]
            ok &= np.isfinite(sv).all(axis=(1, 2)) & (sv != 0).any(axis=(1, 2))
        if "local_dimension" in group and rows:
            ok &= (group["local_dimension"][:rows] >= 0).all(axis=1)
        self.index = np.flatnonzero(ok)
        self.done = len(self.index)
        self.times = times[self.index]
        self.listed = planned[self.index] if len(planned) >= rows else self.times
        self.planned = planned
        self.M = self.shapes["singular_values"][1] if "singular_values" in self.shapes else 0
        self.d = self.shapes["singular_values"][2] if "singular_values" in self.shapes else 0
        kappa = self.attrs.get("kappa")
        if kappa is None and run is not None:
            kappa = run.number("jacobian", "kappa", 0.1)
        self.kappa = 0.1 if kappa is None else float(kappa)
        if "noise_variance" in group and len(group["noise_variance"]) >= rows:
            self.sigma2 = group["noise_variance"][...].astype(float)[self.index]
        elif run is not None:
            self.sigma2 = np.asarray(run.marginal(self.times)[1], dtype=float).reshape(-1)
        else:
            self.sigma2 = np.full(self.done, np.nan)
        self.threshold = 1.0 / ((1.0 + self.kappa) * self.sigma2)
        missing = [n for n in JACOBIAN_SERIES if n not in self.names]
        if missing:
            self.problems.append(f"/jacobian has no {', '.join(missing)}")
        if self.done < len(planned):
            written = set(self.index.tolist())
            absent = [f"{t:g}" for k, t in enumerate(planned) if k not in written]
            self.problems.append(f"the Jacobian analysis has {self.done} of the {len(planned)} listed "
                                 f"times (none at t = {', '.join(absent)}): drawn as far as written")
        vector_rows = min([rows] + [vectors[n].shape[0] for n in self.vector_names])
        self.vector_index = self.index[self.index < vector_rows] if self.vector_names else self.index[:0]
        self.vector_done = len(self.vector_index)
        if self.vector_names and self.vector_done < self.done:
            self.problems.append(f"/jacobian/vectors has {self.vector_done} of {self.done} times")
        self._cache = {}

    def series(self, name):
        """A series at the times written (done x M [x d]), or None."""
        if name not in self.names:
            return None
        if name not in self._cache:
            with open_h5(self.path) as f:
                self._cache[name] = f["jacobian"][name][...][self.index]
        return self._cache[name]

    def vectors(self, name, points):
        """Named vector `name` of the points (indices, increasing) at the
        times of vector_index: vector_done x len(points) x d, or None."""
        if name not in self.vector_names:
            return None
        with open_h5(self.path) as f:
            v = f["jacobian"]["vectors"][name][:, list(points)]
        return v[self.vector_index]

    def points(self, k, points):
        """The analysed points (indices, increasing) at written time k
        (0 .. done - 1) when the file has /jacobian/points (nt x M x d, or
        M x d: the same points at every time); else None."""
        if self.points_shape is None:
            return None
        with open_h5(self.path) as f:
            p = f["jacobian"]["points"]
            if len(self.points_shape) == 3:
                row = int(self.index[k])
                return p[row, list(points)] if row < self.points_shape[0] else None
            return p[list(points)]


# Per time of a file's Jacobian analysis (jacobian_rows): column and what it is.
JACOBIAN_COLUMNS = [
    ("t_listed", "the listed time ([jacobian] times)"),
    ("sigma2", "sigma_t^2 at t (/jacobian/noise_variance, else from [sde])"),
    ("threshold", "1/((1 + kappa) sigma_t^2): r_t counts the singular values at or below it"),
    ("points", "points analysed at t"),
    ("local_dimension_median", "median over points of r_t"),
    ("local_dimension_mean", "mean over points of r_t"),
    ("local_dimension_min", "smallest r_t"),
    ("local_dimension_max", "largest r_t"),
    ("singular_min_median", "median over points of the smallest singular value s_1"),
    ("singular_max_median", "median over points of the largest singular value s_d"),
    ("abs_cosine_mean", "mean over points and i of |u_i . v_i| (1: conservative, u_i = +-v_i)"),
    ("overlap_n", "n of the overlaps: the median r_t rounded, at least 1, at most d"),
    ("overlap_uv_median", "median over points of Phi_n^{u,v} at overlap_n"),
    ("overlap_uw_median", "median over points of Phi_n^{u,w} at overlap_n"),
    ("overlap_vw_median", "median over points of Phi_n^{v,w} at overlap_n"),
    ("local_dimensions", "r_t of every point, in order"),
]


def jacobian_rows(run):
    """One dict per time written of run's Jacobian analysis: file, task,
    the swept values, drift, status, t (the forward time analysed) and
    JACOBIAN_COLUMNS ([] without one).  The statistics are numpy's
    reductions of the file's values as read."""
    jac = run.jacobian
    if jac is None or not jac.done or "local_dimension" not in jac.names:
        return []
    rows = []
    ld = jac.series("local_dimension")
    sv, cos = jac.series("singular_values"), jac.series("cosines")
    for k, t in enumerate(jac.times):
        row = {"file": run.path, "task": run.task, **run.swept, "drift": run.drift,
               "status": run.status, "t": float(t), "t_listed": float(jac.listed[k]),
               "sigma2": float(jac.sigma2[k]), "threshold": float(jac.threshold[k]),
               "points": int(ld.shape[1]),
               "local_dimension_median": float(np.median(ld[k])),
               "local_dimension_mean": float(np.mean(ld[k])),
               "local_dimension_min": int(np.min(ld[k])), "local_dimension_max": int(np.max(ld[k])),
               "local_dimensions": " ".join(str(int(v)) for v in ld[k])}
        if sv is not None:
            row["singular_min_median"] = float(np.median(sv[k, :, 0]))
            row["singular_max_median"] = float(np.median(sv[k, :, -1]))
        if cos is not None:
            row["abs_cosine_mean"] = float(np.mean(np.abs(cos[k])))
        n = int(min(max(round(float(np.median(ld[k]))), 1), jac.d))
        row["overlap_n"] = n
        for pair in ("uv", "uw", "vw"):
            phi = jac.series("overlap_" + pair)
            if phi is not None:
                row[f"overlap_{pair}_median"] = float(np.median(phi[k, :, n - 1]))
        rows.append(row)
    return rows


def write_jacobian_table(runs, path):
    """A CSV table of jacobian_rows over runs (floats with repr: every
    digit; empty cells where a file lacks a series)."""
    rows = [row for r in runs for row in jacobian_rows(r)]
    _write_csv(rows, path, lambda swept: ["file", "task"] + swept + ["drift", "status", "t"]
               + [c for c, _ in JACOBIAN_COLUMNS])
    return path


# ---------------------------------------------------------------------------
# Training examples from the data source recorded in a file.

FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog",
                   "horse", "ship", "truck")
FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist/"

# IDX element types (the third magic byte), big-endian as stored.
_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def _source_file(path):
    """A data file the run named, checked to exist."""
    if os.path.exists(path):
        return path
    raise FileNotFoundError(f"{path}: no such file")


def data_path(run):
    """The run's [data] path; a relative one is taken relative to the
    directory sgmrun ran in (root attribute cwd; files without it: the
    current directory)."""
    path = run.value("data", "path") or ""
    cwd = run.attrs.get("cwd")
    if cwd and path:
        parts = [p.strip() for p in path.split(",")]
        path = ",".join(p if os.path.isabs(p) or not p else os.path.join(cwd, p) for p in parts)
    return path


@functools.lru_cache(maxsize=4)
def _idx_array(path):
    """An IDX file (plain or gzip, as sgmrun reads both whatever the name) as
    an array of its dims; a plain file is memory-mapped."""
    with open(_source_file(path), "rb") as f:
        gz = f.read(2) == b"\x1f\x8b"
    opener = gzip.open if gz else open
    with opener(path, "rb") as f:
        head = f.read(4)
        if len(head) < 4 or head[0] or head[1] or head[2] not in _IDX_TYPES:
            raise ValueError(f"{path}: not an IDX file")
        dims = tuple(int(v) for v in np.frombuffer(f.read(4 * head[3]), ">u4"))
        dtype = np.dtype(_IDX_TYPES[head[2]])
        if gz:
            return np.frombuffer(f.read(), dtype, math.prod(dims)).reshape(dims)
    return np.memmap(path, dtype, "r", 4 + 4 * len(dims), dims)


def _fashion_file(directory, split):
    prefix = "t10k" if split == "test" else "train"  # as src/data/idx.c names them
    for name in (f"{prefix}-images-idx3-ubyte.gz", f"{prefix}-images-idx3-ubyte"):
        path = os.path.join(directory, name)
        if os.path.exists(path):
            return path
    raise FileNotFoundError(f"fashion-mnist: no {prefix}-images-idx3-ubyte[.gz] in {directory}")


def _cifar_files(run):
    path, split = data_path(run), run.value("data", "split") or "train"
    if os.path.isdir(path):
        names = (["test_batch.bin"] if split == "test"
                 else [f"data_batch_{b}.bin" for b in range(1, 6)])
        return [_source_file(os.path.join(path, n)) for n in names]
    return [_source_file(p.strip()) for p in path.split(",") if p.strip()]


def _cifar_rows(run, rows):
    """CIFAR-10 records `rows`, numbered across the batch files in order."""
    records = [np.memmap(p, np.uint8, "r").reshape(-1, 3073) for p in _cifar_files(run)]
    first = np.cumsum([0] + [len(r) for r in records])
    out = np.empty((len(rows), 3072), np.uint8)
    for i, row in enumerate(rows):
        k = int(np.searchsorted(first, row, side="right")) - 1
        out[i] = records[k][row - first[k], 1:]
    return out


def training_images(run, rows):
    """The training examples `rows` (indices of the training set as loaded,
    what nearest_index reports) in the source's own units, shaped as
    /training example_shape; read from the data source of the run's
    configuration."""
    index = run.training["source_index"][np.asarray(rows, dtype=int)]
    source, path = run.value("data", "source"), data_path(run)
    shape = tuple(int(s) for s in run.training["example_shape"])
    if source == "fashion-mnist":
        x = _idx_array(_fashion_file(path or FASHION_MNIST_DIR, run.value("data", "split")))[index]
    elif source == "idx":
        x = _idx_array(path)[index]
    elif source == "cifar10":
        x = _cifar_rows(run, index)
    elif source == "npy":
        x = np.load(_source_file(path), mmap_mode="r")[index]
    elif source == "hdf5":
        with open_h5(_source_file(path)) as f:
            name = run.value("data", "dataset") or "/data"
            if name not in f:
                raise KeyError(f"{path}: no dataset {name}")
            unique, inverse = np.unique(index, return_inverse=True)  # h5py wants increasing
            x = f[name][unique][inverse]
    else:
        raise ValueError(f"{run.path}: source {source} has no stored examples to read")
    x = np.asarray(x, dtype=float)
    if x.size != len(index) * math.prod(shape):
        raise ValueError(f"{path}: examples of {x.size // max(len(index), 1)} values, "
                         f"but the run loaded examples of shape {shape} (has the source changed?)")
    return x.reshape((len(index),) + shape)


def class_name(run, label):
    names = {"fashion-mnist": FASHION_MNIST_CLASSES, "cifar10": CIFAR10_CLASSES}.get(
        run.value("data", "source"))
    return names[label] if names and 0 <= label < len(names) else f"class {label}"
