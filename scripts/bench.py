#!/usr/bin/python3
"""sgmrun's performance figures, measured in one run (scripts/bench).

    scripts/bench [--quick] [--skip-peer] [--out FILE]

Everything is a ratio of rates measured in this one session, since the
machine may be shared and noisy:
  kernel    sgmrun bench (P = 512; N x d = 10000x784, 50000x784, 10000x3072)
            on R ranks x 1 BLAS thread (R = cores) and 1 rank x cores
            threads: the score kernel's GFLOP/s beside DGEMM's on the same
            shapes;
  sampler   sgmrun run on the same shapes (Fashion-MNIST subsets for d = 784,
            points on an 8-sphere in R^3072), 512 paths, diagnostics on: the
            whole sampler's GFLOP/s (its closing line) against the DGEMM
            rate of the kernel table, and its peak memory beyond shard and
            particles;
  float32   the float32 kernel ([run] precision = float32) beside the
            float64 one in the same sgmrun bench runs (its speed-up, and the
            share of particles its guard redid in float64), and the whole
            sampler in both precisions on the first shape;
  scaling   the kernel on 1 rank x 1 thread against R ranks;
  peer      scripts/numpy_peer.py (the same computation in numpy) against
            sgmrun bench, for d = 784 and the low-dimensional case N = P =
            100 000, d = 2 (both timed on a subset of the particles and
            scaled: the work is linear in P).
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SGMRUN = os.environ.get("SGMRUN", os.path.join(ROOT, os.environ.get("SGM_BUILD_DIR", "build"), "sgmrun"))
CORES = os.cpu_count() or 1
SHAPES = [(10000, 784), (50000, 784), (10000, 3072)]


def sh(cmd, env=None, timeout=3600):
    full = dict(os.environ)
    full.update(env or {})
    p = subprocess.run(cmd, capture_output=True, text=True, env=full, timeout=timeout,
                       stdin=subprocess.DEVNULL)
    if p.returncode != 0:
        sys.exit(f"bench: {' '.join(cmd)} failed ({p.returncode}):\n{p.stdout}{p.stderr}")
    return p.stdout + p.stderr


def mpirun(ranks, threads, args):
    return sh(["mpirun", "-n", str(ranks), SGMRUN] + args, env={"OPENBLAS_NUM_THREADS": str(threads)})


def bench_table(ranks, threads, extra=()):
    """{(N, d): (kernel GFLOP/s, DGEMM GFLOP/s, seconds per eval, float32
    GFLOP/s, float32 speed-up, float32 share redone in float64 %)}; the
    float32 fields are None with --float32 no."""
    out = mpirun(ranks, threads, ["bench", "--repeat", "5"] + list(extra))
    rows = {}
    for line in out.splitlines():
        f = line.split()
        if len(f) in (6, 9) and f[0].isdigit():
            f32 = (float(f[6]), float(f[7]), float(f[8].rstrip("%"))) if len(f) == 9 else (None,) * 3
            rows[(int(f[0]), int(f[1]))] = (float(f[2]), float(f[3]), float(f[5])) + f32
    return rows


def sampler(n, d, work, precision="float64"):
    if d == 784:
        data = f"source = fashion-mnist\nn = {n}\n"
    else:
        data = f"source = sphere\ndim = {d}\nintrinsic = 8\nn = {n}\n"
    cfg = os.path.join(work, f"s{n}x{d}.ini")
    with open(cfg, "w") as f:
        f.write(f"[run]\nname = bench\n[data]\n{data}[sampler]\nmethod = em\ngrid = log_sigma\n"
                f"steps = 20\nparticles = 512\n[output]\nevery = 10\n")
    out = mpirun(CORES, 1, ["run", cfg, "--output", os.path.join(work, "s.h5"), "--overwrite",
                            "--set", f"run.precision={precision}"])
    rate = float(re.search(r"done: .*?([0-9.]+) GFLOP/s", out).group(1))
    mem = re.search(r"the rest ([0-9.]+) MiB", out)
    return rate, float(mem.group(1)) if mem else float("nan")


def peer(shape, particles, timed):
    out = sh(["/usr/bin/python3", os.path.join(HERE, "numpy_peer.py"), "--shapes", shape,
              "--particles", str(particles), "--time-particles", str(timed), "--repeat", "2"],
             env={"OPENBLAS_NUM_THREADS": str(CORES)})
    f = out.strip().splitlines()[-1].split()
    return float(f[2]), float(f[3])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="the first shape only, no peer")
    parser.add_argument("--skip-peer", action="store_true", help="leave the numpy peer out")
    parser.add_argument("--out", help="also write the report here")
    args = parser.parse_args()
    shapes = SHAPES[:1] if args.quick else SHAPES
    spec = ",".join(f"{n}x{d}" for n, d in shapes)
    lines = []

    def say(text=""):
        print(text, flush=True)
        lines.append(text)

    version = sh([SGMRUN, "--version"]).strip()
    say(f"# sgmrun benchmarks ({version}; {CORES} cores; ratios measured in this run)")
    say()
    say(f"## Kernel (sgmrun bench, P = 512, best of 5)")
    tables = {}
    for ranks, threads in [(CORES, 1), (1, CORES)]:
        tables[(ranks, threads)] = bench_table(ranks, threads, ["--shapes", spec])
    say(f"| N x d | {CORES} ranks x 1 thread: kernel / DGEMM GFLOP/s | 1 rank x {CORES} threads |")
    say("|---|---|---|")
    for n, d in shapes:
        cells = []
        for key in [(CORES, 1), (1, CORES)]:
            k, g = tables[key][(n, d)][:2]
            cells.append(f"{k:.1f} / {g:.1f} ({k / g:.2f})")
        say(f"| {n} x {d} | {cells[0]} | {cells[1]} |")
    say()
    say(f"## Whole sampler (sgmrun run, {CORES} ranks, 512 paths, em, diagnostics on)")
    say("| N x d | run GFLOP/s | DGEMM GFLOP/s (above) | ratio | memory beyond shard + particles |")
    say("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as work:
        for n, d in shapes:
            rate, mem = sampler(n, d, work)
            g = tables[(CORES, 1)][(n, d)][1]
            say(f"| {n} x {d} | {rate:.1f} | {g:.1f} | {rate / g:.2f} | {mem:.1f} MiB |")
    say()
    say(f"## float32 kernel ([run] precision = float32; sgmrun bench, {CORES} ranks x 1 thread)")
    say("| N x d | float64 kernel GFLOP/s | float32 kernel GFLOP/s | speed-up (median) | redone in float64 |")
    say("|---|---|---|---|---|")
    for n, d in shapes:
        k, _, _, k32, up, redo = tables[(CORES, 1)][(n, d)]
        say(f"| {n} x {d} | {k:.1f} | {k32:.1f} | {up:.2f} | {redo:.1f} % |")
    say()
    say(f"## Whole sampler in float32 ({CORES} ranks, as above)")
    say("| N x d | float64 run GFLOP/s | float32 run GFLOP/s | speed-up |")
    say("|---|---|---|---|")
    with tempfile.TemporaryDirectory() as work:
        for n, d in shapes[:1]:
            r64, _ = sampler(n, d, work)
            r32, _ = sampler(n, d, work, "float32")
            say(f"| {n} x {d} | {r64:.1f} | {r32:.1f} | {r32 / r64:.2f} |")
    say()
    say("## Strong scaling of the kernel (N x d = 10000 x 784, P = 512)")
    one = bench_table(1, 1, ["--shapes", "10000x784", "--float32", "no"])[(10000, 784)]
    many = tables[(CORES, 1)][(10000, 784)]
    thr = tables[(1, CORES)][(10000, 784)]
    say(f"| layout | kernel GFLOP/s | s / eval | speed-up |")
    say("|---|---|---|---|")
    say(f"| 1 rank x 1 thread | {one[0]:.1f} | {one[2]:.4f} | 1.00 |")
    say(f"| {CORES} ranks x 1 thread | {many[0]:.1f} | {many[2]:.4f} | {one[2] / many[2]:.2f} |")
    say(f"| 1 rank x {CORES} threads | {thr[0]:.1f} | {thr[2]:.4f} | {one[2] / thr[2]:.2f} |")
    if not (args.quick or args.skip_peer):
        say()
        say("## Against the numpy peer (scripts/numpy_peer.py, the same computation)")
        say("| case | numpy s/eval | sgmrun s/eval | speed-up |")
        say("|---|---|---|---|")
        _, ps = peer("10000x784", 512, 512)
        say(f"| 10000 x 784, P = 512 | {ps:.3f} | {many[2]:.4f} | {ps / many[2]:.1f} |")
        low = bench_table(CORES, 1, ["--shapes", "100000x2", "--particles", "8192",
                                     "--float32", "no"])[(100000, 2)]
        _, ps = peer("100000x2", 100000, 2048)
        mine = low[2] * 100000 / 8192
        say(f"| 100000 x 2, P = 100000 (timed on 2048 / 8192 paths) | {ps:.1f} | {mine:.2f} | {ps / mine:.1f} |")
    if args.out:
        with open(args.out, "w") as f:
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
