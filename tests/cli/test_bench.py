#!/usr/bin/python3
"""sgmrun bench: its table on 2 ranks (small shapes: a smoke test of the
measurement, whose figures belong in benchmarks, not tests), the --model
table against the model's formula, and its usage errors."""
import math

from sgmrun_test import check, finish, run

status, out, err = run(["bench", "--shapes", "3000x40,2000x7", "--particles", "64", "--repeat", "3"], 2)
check(status == 0, f"bench: {err}")
rows = [line.split() for line in out.splitlines() if line.split() and line.split()[0].isdigit()]
check(len(rows) == 2 and all(len(r) == 9 for r in rows), f"bench prints 2 rows of 9 columns: {out}")
for r in rows:
    kernel, dgemm, ratio, f32, speedup = float(r[2]), float(r[3]), float(r[4]), float(r[6]), float(r[7])
    check(kernel > 0 and dgemm > 0 and ratio > 0 and f32 > 0 and speedup > 0, f"positive rates: {r}")
    check(r[8].endswith("%") and 0 <= float(r[8][:-1]) <= 100, f"redo share: {r}")
status, out, _ = run(["bench", "--shapes", "500x16", "--particles", "8", "--repeat", "1", "--float32", "no"], 1)
check(status == 0 and "f32" not in out, f"--float32 no leaves the columns out: {out}")

# --model: the combination's share for 2 ranks as columns, by the formula.
args = ["bench", "--model", "--ranks", "2", "--n", "10000", "--dim", "784", "--particles", "512",
        "--seconds-per-byte", "3e-10", "--rank-gflops", "70"]
status, out, err = run(args, 1)
check(status == 0, f"bench --model: {err}")
table = {int(f[0]): f for f in (line.split() for line in out.splitlines())
         if len(f) >= 6 and f[0].isdigit() and f[5].endswith("%")}
check(sorted(table) == [1, 2], f"columns 1 and 2: {out}")
if 2 in table:
    flops = 2 * 2 * 512 * 5000 * 784
    comm = 2 * math.log2(2) * 512 * (784 + 5 + 4) * 8 * 3e-10
    want = 100 * comm / (flops / 70e9)
    check(abs(float(table[2][5].rstrip("%")) - want) < 0.006, f"comm / comp {table[2][5]} vs {want:.2f}%")
    check(float(table[1][5].rstrip("%")) == 0, "one column: no combination")
    check("fewest columns" in " ".join(table[1]), f"the pick: {out}")
for bad in (["--model", "--ranks", "0"], ["--float32", "maybe"], ["--particles", "0"], ["--shapes", "10x"]):
    status, _, err = run(["bench"] + bad, 1)
    check(status == 2 and "bench" in err, f"bench {' '.join(bad)}: usage error: {status} {err}")
finish()
