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
  figures/      the experiment's figure (analysis/figures) when NAME is one
                of the papers' experiments and its files can make it, else
                every figure that applies (none: a note, not an error)
  report.html   the results report of DIR (analysis/report)
Exits 1, naming them, if a file is missing, unreadable or not `complete`
(the table, summary and figures still cover the readable ones).
"""
import argparse
import os
import sys

from run_summary import summarise
from sgm_figures import draw_all
from sgm_report import write_report
from sgm_results import EXPERIMENTS, Run, error_text, final_row, guarded, write_table


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--experiment", required=True, help="experiment name (F1, F2, ..., S)")
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("files", nargs="+", help="sgmrun run output files")
    args = parser.parse_args()

    os.makedirs(args.out, exist_ok=True)
    rows, runs, problems = [], [], []
    with open(os.path.join(args.out, "summary.txt"), "w") as summary:
        print(f"Experiment {args.experiment}: {len(args.files)} file(s)", file=summary)
        for path in args.files:
            try:
                run = Run(path)
                command = run.attrs.get("command", "")
                if command != "run":
                    problems.append(f"{path}: not an sgmrun run file (command {command or 'none'})")
                    continue
                row = final_row(run)
                summarise(path, summary)
                runs.append(run)
            except (OSError, KeyError, ValueError) as e:
                message = error_text(e)
                problems.append(message if message.startswith(path) else f"{path}: cannot read: {message}")
                continue
            rows.append(row)
            if row["status"] != "complete":
                problems.append(f"{path}: status {row['status']}, not complete")

    table = os.path.join(args.out, "table.csv")
    write_table(rows, table)
    print(f"post.py: {args.experiment}: {len(rows)} run(s) -> {table}, {os.path.join(args.out, 'summary.txt')}")
    if runs:
        experiment = args.experiment if args.experiment in EXPERIMENTS else None
        written = draw_all(runs, os.path.join(args.out, "figures"), experiment,
                           log=lambda line: print(f"post.py: {line}"),
                           warn=lambda m: print(f"post.py: warning: {m}", file=sys.stderr))
        page = write_report(args.out, runs, title=args.experiment, figures=written)
        print(f"post.py: report -> {page}")
    for p in problems:
        print(f"post.py: error: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(guarded("post.py", main))
