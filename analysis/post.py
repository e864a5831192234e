#!/usr/bin/python3
"""Post-processing of one experiment's `sgmrun run` files: what the SLURM
post-processing job (jobs/post.sbatch) runs once every task has finished.

    post.py --experiment NAME --out DIR RUN.h5 [RUN.h5 ...]

Writes into DIR (made if missing):
  summary.txt   each run's provenance and diagnostics at a few saved times
  table.csv     one row per file: task, swept values, status, last saved t,
                and the diagnostics there (memorised fraction, mean nearest
                distance, Novikov log E[exp I] and mean, mean score error);
                empty cells where a run did not compute a diagnostic
Exits 1, naming them, if a file is missing, unreadable or not `complete`
(the table and summary still cover the readable ones).
"""
import argparse
import csv
import os
import sys

from run_summary import summarise
from sgm_results import FINAL_COLUMNS, final_row


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--experiment", required=True, help="experiment name (F1, F2, ..., S)")
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("files", nargs="+", help="sgmrun run output files")
    args = parser.parse_args()

    os.makedirs(args.out, exist_ok=True)
    rows, problems = [], []
    with open(os.path.join(args.out, "summary.txt"), "w") as summary:
        print(f"Experiment {args.experiment}: {len(args.files)} file(s)", file=summary)
        for path in args.files:
            try:
                row = final_row(path)
                summarise(path, summary)
            except (OSError, KeyError) as e:
                problems.append(f"{path}: cannot read ({e})")
                continue
            rows.append(row)
            if row["status"] != "complete":
                problems.append(f"{path}: status {row['status']}, not complete")

    swept_keys = []
    for row in rows:
        swept_keys += [k for k in row if "." in k and k not in swept_keys]
    columns = ["file", "task"] + swept_keys + ["status", "t_final"] + [c for _, c in FINAL_COLUMNS]
    table = os.path.join(args.out, "table.csv")
    with open(table, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(columns)
        for row in rows:
            w.writerow(["" if row.get(c) is None else (repr(row[c]) if isinstance(row[c], float) else row[c])
                        for c in columns])
    print(f"post.py: {args.experiment}: {len(rows)} run(s) -> {table}, {os.path.join(args.out, 'summary.txt')}")
    for p in problems:
        print(f"post.py: error: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
