#!/usr/bin/python3
"""The numpy peer of sgmrun's score kernel: what a competent afternoon's
implementation of the empirical score looks like, for benchmarks.

    numpy_peer.py [--particles P] [--shapes NxD,...] [--repeat R]
                  [--nearest yes|no] [--time-particles Q] [--m M] [--sigma2 S]

Evaluates the empirical score (m D(x) - x) / sigma^2, D = softmax-weighted
training examples, for P particles against N uniform training points in
[-1, 1]^d (particles standard normal), as sgmrun bench does: blocks of
training points, one matrix product X Y^T per block, an online log-sum-exp
(running maximum, rescaled sums), weights clamped at e^-600 of the maximum
so that no subnormal reaches the second product (W Y), and the constant
-|x|^2 / (2 sigma^2) left out of the logits.  With --nearest yes it also
tracks the nearest training point from the same products.

Prints one line per shape: GFLOP/s counted as sgmrun bench counts them
(4 P N d per evaluation), seconds per evaluation of all P particles, and
numpy's BLAS threads.  The work is linear in P, so with --time-particles Q
(< P) only Q particles are evaluated and the time is scaled by P / Q (for
the shapes where all P would take minutes).  Uses numpy's BLAS with the
threads OPENBLAS_NUM_THREADS allows.
"""
import argparse
import time

import numpy as np


def empirical_score(x, y, yn2, m, sigma2, block, nearest):
    p, d = x.shape
    a = 0.5 / sigma2
    big_m = np.full(p, -np.inf)
    z = np.zeros(p)
    u = np.zeros((p, d))
    xn2 = np.einsum("ij,ij->i", x, x)
    best = np.full(p, np.inf)
    best_index = np.zeros(p, dtype=np.int64)
    rows = np.arange(p)
    for j0 in range(0, y.shape[0], block):
        yb = y[j0:j0 + block]
        g = x @ yb.T
        if nearest:
            r = xn2[:, None] + yn2[None, j0:j0 + block] - 2.0 * g
            k = r.argmin(axis=1)
            rk = r[rows, k]
            better = rk < best
            best[better] = rk[better]
            best_index[better] = k[better] + j0
        logits = g
        logits *= 2.0 * m * a
        logits -= (a * m * m) * yn2[None, j0:j0 + block]
        new_m = np.maximum(big_m, logits.max(axis=1))
        logits -= new_m[:, None]
        np.maximum(logits, -600.0, out=logits)
        np.exp(logits, out=logits)
        f = np.exp(big_m - new_m)
        z = z * f + logits.sum(axis=1)
        u *= f[:, None]
        u += logits @ yb
        big_m = new_m
    denoised = u / z[:, None]
    return (m * denoised - x) / sigma2, np.sqrt(np.maximum(best, 0.0)), best_index


def blas_threads():
    import os
    return os.environ.get("OPENBLAS_NUM_THREADS", "OpenBLAS default")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--particles", type=int, default=512)
    parser.add_argument("--shapes", default="10000x784,50000x784,10000x3072")
    parser.add_argument("--repeat", type=int, default=3, help="evaluations per shape; the best counts")
    parser.add_argument("--nearest", choices=["yes", "no"], default="yes")
    parser.add_argument("--time-particles", type=int, default=0,
                        help="evaluate only this many particles and scale the time to --particles")
    parser.add_argument("--block", type=int, default=4096, help="training points per block")
    parser.add_argument("--m", type=float, default=0.9)
    parser.add_argument("--sigma2", type=float, default=0.19)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    q = args.time_particles if 0 < args.time_particles < args.particles else args.particles
    print(f"numpy peer: P = {args.particles} particles (timed on {q}), numpy {np.__version__}, "
          f"BLAS threads {blas_threads()}, nearest {args.nearest}, best of {args.repeat}")
    print(f"{'N':>8} {'d':>6} {'peer GFLOP/s':>14} {'peer s/eval':>12}")
    for shape in args.shapes.split(","):
        n, d = (int(v) for v in shape.lower().split("x"))
        y = rng.uniform(-1.0, 1.0, size=(n, d))
        yn2 = np.einsum("ij,ij->i", y, y)
        x = rng.standard_normal((q, d))
        best = np.inf
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            empirical_score(x, y, yn2, args.m, args.sigma2, args.block, args.nearest == "yes")
            best = min(best, time.perf_counter() - t0)
        seconds = best * args.particles / q
        gflops = 4.0 * args.particles * n * d / seconds / 1e9
        print(f"{n:>8} {d:>6} {gflops:>14.2f} {seconds:>12.4f}", flush=True)


if __name__ == "__main__":
    main()
