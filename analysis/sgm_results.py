"""Reading sgmrun output files: shared by the scripts in analysis/.

Everything here reads the names of INTERFACE.md ("Output files") and the
root attributes sgmrun writes; nothing is recomputed.
"""
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
