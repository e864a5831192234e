#!/usr/bin/python3
"""Summarise `sgmrun run` output files: what ran, and the memorisation and
Novikov diagnostics at a few saved times.

    run_summary.py RUN.h5 [RUN.h5 ...]
"""
import sys

import h5py
import numpy as np

from sgm_results import text


def summarise(path, out=sys.stdout):
    def say(line):
        print(line, file=out)

    with h5py.File(path, "r") as f:
        a = f.attrs
        task = f", task {int(a['task'])} ({text(a['sweep'])})" if "task" in a else ""
        say(f"{path}: {text(a['status'])}{task}")
        say(f"  drift {text(a['drift'])}; {text(a['sampler'])}")
        say(f"  data  {text(a['data'])}")
        t = f["time"][...]
        d = f.get("diagnostics")
        if not len(t):
            say("  no step saved")
        if d is None or not len(t):
            return
        rows = sorted(set(np.linspace(0, len(t) - 1, 6).round().astype(int)))
        cols = [("memorized_fraction", "memorised"), ("mean_nearest_distance", "nearest dist"),
                ("novikov_log_mean_exp", "log E[exp I]"), ("mean_score_error", "|s - grad log p^|")]
        cols = [(k, label) for k, label in cols if k in d]
        say("  " + f"{'t':>10}" + "".join(f"{label:>19}" for _, label in cols))
        for i in rows:
            say("  " + f"{t[i]:>10.4g}" + "".join(f"{d[k][i]:>19.4g}" for k, _ in cols))


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    for path in sys.argv[1:]:
        summarise(path)


if __name__ == "__main__":
    main()
