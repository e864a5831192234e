"""The papers' figures (DESIGN.md section 3) from sgmrun run files.

Each figure function takes a list of sgm_results.Run and an output stem
(path without extension) and writes STEM.png and STEM.pdf; FIGURES maps the
experiment id to (function, applies, what it shows).  `applies(runs)` says
whether the runs hold what the figure needs, so that a results directory of
unnamed runs still gets the figures its files support.
"""
import math
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)
import numpy as np  # noqa: E402

from sgm_results import class_name, training_images  # noqa: E402

plt.rcParams.update({"figure.dpi": 110, "savefig.dpi": 110, "font.size": 10,
                     "axes.grid": True, "grid.alpha": 0.3, "legend.fontsize": 8})

T_LABEL = "forward time t (SDE time units; sampling runs from T down to t_min)"


def save(fig, stem, tight=True):
    """Writes STEM.png and STEM.pdf; returns their paths."""
    os.makedirs(os.path.dirname(stem) or ".", exist_ok=True)
    if tight:
        fig.tight_layout()
    paths = [stem + ".png", stem + ".pdf"]
    for p in paths:
        fig.savefig(p)
    plt.close(fig)
    return paths


def _title(fig, runs, what):
    groups = sorted({r.group for r in runs})
    fig.suptitle(f"{what} ({', '.join(groups)})", fontsize=11)


def _label(ax, xlabel, ylabel, title=None, legend=True):
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=9)
    if legend and ax.get_legend_handles_labels()[0]:
        ax.legend()


def _positive_t(run, values):
    """(t, values) where t > 0 (the saved grid ends at t_min > 0)."""
    keep = run.time > 0
    return run.time[keep], values[keep]


# ---------------------------------------------------------------------------
# F1: the particle density over x and t, and data vs sample density.

def _gmm_pdf(run, x):
    try:
        means = [float(v) for v in run.value("data", "means").split(",")]
        variances = [float(v) for v in run.value("data", "variances").split(",")]
        weights = [float(v) for v in run.value("data", "weights").split(",")]
    except (AttributeError, ValueError):
        return None
    if len(variances) == 1:
        variances *= len(means)
    p = np.zeros_like(x)
    for m, v, w in zip(means, variances, weights):
        p += w * np.exp(-(x - m) ** 2 / (2 * v)) / math.sqrt(2 * math.pi * v)
    return p


def figure_f1(runs, stem):
    runs = [r for r in runs if "density" in r.diag]
    fig, axes = plt.subplots(1, len(runs) + 1, figsize=(5 * len(runs) + 5, 4.2), squeeze=False)
    axes = axes[0]
    for ax, r in zip(axes, runs):
        q = r.series("density")
        edges = r.diag["density_edges"]
        mesh = ax.pcolormesh(r.time, (edges[:-1] + edges[1:]) / 2, q.T, shading="nearest",
                             cmap="viridis")
        ax.set_xlim(r.time.max(), r.time.min())
        _label(ax, "forward time t (sampling runs left to right)", "x (data units)", r.label(),
               legend=False)
        fig.colorbar(mesh, ax=ax, label="particle density q_t(x) (1/data units)")
    ax = axes[-1]
    centres = None
    for r in runs:
        edges = r.diag["density_edges"]
        centres = (edges[:-1] + edges[1:]) / 2
        ax.step(centres, r.series("density")[-1], where="mid",
                label=f"samples at t = {r.time[-1]:.3g}: {r.label()}")
    if runs and centres is not None:
        p = _gmm_pdf(runs[0], np.linspace(centres[0], centres[-1], 600))
        if p is not None:
            ax.plot(np.linspace(centres[0], centres[-1], 600), p, "k--", label="data density (mixture)")
    _label(ax, "x (data units)", "density (1/data units)", "data vs sample density")
    _title(fig, runs, "Particle density of the reverse SDE")
    return save(fig, stem)


# ---------------------------------------------------------------------------
# F2: samples on the sphere for several perturbations.

def figure_f2(runs, stem):
    runs = [r for r in runs if "particles" in r.final and r.d >= 2]
    n = len(runs)
    fig = plt.figure(figsize=(4 * n + 4.5, 4.2))
    for i, r in enumerate(runs):
        y = r.final["particles"]
        radius = r.number("data", "radius", 1.0)
        u = np.ones(r.d) / math.sqrt(r.d)  # perturb.direction = ones, normalised
        if r.d >= 3:
            ax = fig.add_subplot(1, n + 1, i + 1, projection="3d")
            a, b = np.meshgrid(np.linspace(0, 2 * np.pi, 30), np.linspace(0, np.pi, 15))
            ax.plot_wireframe(radius * np.cos(a) * np.sin(b), radius * np.sin(a) * np.sin(b),
                              radius * np.cos(b), color="0.8", linewidth=0.4)
            ax.scatter(y[:, 0], y[:, 1], y[:, 2], s=3, alpha=0.6)
            ax.quiver(0, 0, 0, *(1.5 * radius * u[:3]), color="r", linewidth=1.5)
            ax.set_zlabel("y3")
        else:
            ax = fig.add_subplot(1, n + 1, i + 1)
            circle = np.linspace(0, 2 * np.pi, 200)
            ax.plot(radius * np.cos(circle), radius * np.sin(circle), color="0.7")
            ax.scatter(y[:, 0], y[:, 1], s=3, alpha=0.6)
            ax.set_aspect("equal")
        _label(ax, "y1", "y2", r.label(), legend=False)
    ax = fig.add_subplot(1, n + 1, n + 1)
    for r in runs:
        y = r.final["particles"]
        cos = (y @ (np.ones(r.d) / math.sqrt(r.d))) / np.maximum(np.linalg.norm(y, axis=1), 1e-300)
        ax.hist(cos, bins=30, range=(-1, 1), histtype="step", density=True, label=r.label())
    _label(ax, "cos angle to the perturbation direction (1,...,1)", "density of samples",
           "samples are skewed along the sphere, not off it")
    _title(fig, runs, "Samples on the sphere (data units; red: direction of the perturbation)")
    return save(fig, stem)


# ---------------------------------------------------------------------------
# F3a: distance to the nearest training example vs t.

def figure_f3a(runs, stem):
    runs = [r for r in runs if "nearest_distance" in r.diag and r.saved]
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    for r in runs:
        d = r.series("nearest_distance")
        t, mean = _positive_t(r, d.mean(axis=1))
        _, sd = _positive_t(r, d.std(axis=1))
        line, = ax.plot(t, mean, label=r.label())
        ax.fill_between(t, np.maximum(mean - sd, 0), mean + sd, color=line.get_color(), alpha=0.2)
        t, frac = _positive_t(r, r.series("memorized_fraction"))
        ax2.plot(t, frac, label=r.label())
    ax.set_xscale("log")
    ax2.set_xscale("log")
    _label(ax, T_LABEL, "distance to the nearest training example (data units)",
           "mean over paths (band: ± one standard deviation)")
    _label(ax2, T_LABEL, "memorised fraction (nearest/second < 1/3)",
           "share of paths on a training example")
    ax2.set_ylim(-0.03, 1.03)
    _title(fig, runs, "Memorisation: distance to the training set")
    return save(fig, stem)


# ---------------------------------------------------------------------------
# F3b: samples beside their nearest training images.

def _image(run, x):
    """An example as an image for imshow: (H, W) grey or (H, W, 3) colour,
    in [0, 1] over the source's input range."""
    lo = float(run.training.get("input_lo", np.nan))
    hi = float(run.training.get("input_hi", np.nan))
    if np.isnan(lo) or hi <= lo:
        lo, hi = float(np.min(x)), float(np.max(x))
    img = np.clip((x - lo) / max(hi - lo, 1e-300), 0, 1)
    return np.moveaxis(img, 0, -1) if img.ndim == 3 else img


def figure_f3b(runs, stem, columns=8):
    runs = [r for r in runs if r.is_image() and "nearest_index" in r.diag and r.saved]
    rows = 2 * len(runs)
    fig, axes = plt.subplots(rows, columns, figsize=(1.3 * columns + 0.6, 1.75 * rows + 0.7),
                             squeeze=False)
    fig.subplots_adjust(left=0.06, right=0.99, bottom=0.02, top=1 - 0.75 / (1.75 * rows + 0.7),
                        hspace=0.3, wspace=0.08)
    for k, r in enumerate(runs):
        samples = r.final.get("denoised", r.final.get("particles"))
        which = "denoised sample" if "denoised" in r.final else "sample"
        m = min(columns, len(samples))
        nearest = r.series("nearest_index")[-1][:m]
        dist = r.series("nearest_distance")[-1][:m]
        train = training_images(r, nearest)
        labels = r.training.get("label")
        shape = tuple(int(s) for s in r.training["example_shape"])
        for j in range(columns):
            top, bottom = axes[2 * k, j], axes[2 * k + 1, j]
            for a in (top, bottom):
                a.set_xticks([])
                a.set_yticks([])
                a.grid(False)
            if j >= m:
                top.axis("off")
                bottom.axis("off")
                continue
            top.imshow(_image(r, r.to_source_units(samples[j]).reshape(shape)), cmap="gray",
                       vmin=0, vmax=1)
            bottom.imshow(_image(r, train[j]), cmap="gray", vmin=0, vmax=1)
            top.set_title(f"d = {dist[j]:.3g}", fontsize=7, pad=2)
            name = class_name(r, int(labels[nearest[j]])) if labels is not None else ""
            bottom.set_title(f"#{int(r.training['source_index'][nearest[j]])} {name}", fontsize=6,
                             pad=2)
        axes[2 * k, 0].set_ylabel(which, fontsize=7)
        axes[2 * k + 1, 0].set_ylabel("nearest training", fontsize=7)
        box = axes[2 * k, 0].get_position()
        fig.text(0.01, box.y1 + 0.2 * box.height, r.label(), fontsize=8, fontweight="bold")
    fig.suptitle("Samples beside their nearest training images (d: distance in data units; "
                 "#: index in the source)", fontsize=10)
    return save(fig, stem, tight=False)


# ---------------------------------------------------------------------------
# F4: the Novikov integral and the drift's distance from the empirical score.

def figure_f4(runs, stem):
    runs = [r for r in runs if "novikov_log_mean_exp" in r.diag and r.saved]
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    for r in runs:
        t, lme = _positive_t(r, r.series("novikov_log_mean_exp"))
        ax.plot(t, lme, label=r.label())
        t, err = _positive_t(r, r.series("mean_score_error"))
        ax2.plot(t, np.maximum(err, 1e-300), label=r.label())
    ax.set_xscale("log")
    ax.set_yscale("symlog", linthresh=1)
    ax.set_ylim(bottom=0)  # I >= 0 on every path, so log E[exp I] >= 0
    _label(ax, "end time t of the integral (from T down to t; log scale)",
           "log E[exp I] (Novikov, dimensionless; symlog)",
           "bounded for a constant error, exploding for a generalising drift")
    ax2.set_xscale("log")
    ax2.set_yscale("log")
    _label(ax2, T_LABEL, "mean |s - grad log p^_t| over paths (1/data units)",
           "drift error along the paths")
    _title(fig, runs, "Novikov's condition")
    return save(fig, stem)


# ---------------------------------------------------------------------------
# S: the perturbation sweep.

def sweep_key(runs):
    """The numeric swept key the sweep figure uses as its x axis:
    perturb.magnitude when swept, else the first numeric one; None if none."""
    keys = []
    for r in runs:
        keys += [k for k in r.swept if k not in keys]
    keys.sort(key=lambda k: k != "perturb.magnitude")
    for k in keys:
        try:
            [float(r.swept[k]) for r in runs if k in r.swept]
            return k
        except ValueError:
            continue
    return None


def figure_s(runs, stem):
    key = sweep_key(runs)
    runs = sorted((r for r in runs if key in r.swept and r.saved), key=lambda r: float(r.swept[key]))
    others = sorted({"; ".join(f"{k} = {v}" for k, v in r.swept.items() if k != key) for r in runs})
    panels = [("mean_nearest_distance", "final mean nearest distance (data units)"),
              ("memorized_fraction", "final memorised fraction"),
              ("novikov_log_mean_exp", "final log E[exp I] (dimensionless)")]
    panels = [p for p in panels if any(p[0] in r.diag for r in runs)]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 4), squeeze=False)
    for ax, (name, ylabel) in zip(axes[0], panels):
        for other in others:
            rs = [r for r in runs if name in r.diag and
                  "; ".join(f"{k} = {v}" for k, v in r.swept.items() if k != key) == other]
            x = [float(r.swept[key]) for r in rs]
            y = [r.series(name)[-1] for r in rs]
            if rs:
                ax.plot(x, y, "o-", label=other or rs[0].drift.split(" +")[0])
        _label(ax, f"{key} (swept)", ylabel)
        if name == "memorized_fraction":
            ax.set_ylim(-0.03, 1.03)
    _title(fig, runs, f"Sweep over {key}: values at t_min")
    return save(fig, stem)


FIGURES = {
    "F1": (figure_f1, lambda runs: any("density" in r.diag and r.d == 1 for r in runs),
           "particle density over x and t; data vs sample density"),
    "F2": (figure_f2, lambda runs: any("particles" in r.final and 2 <= r.d <= 3 for r in runs),
           "samples on the sphere for several perturbations"),
    "F3a": (figure_f3a, lambda runs: any("nearest_distance" in r.diag and r.saved for r in runs),
            "distance to the nearest training example vs t"),
    "F3b": (figure_f3b, lambda runs: any(r.is_image() and "nearest_index" in r.diag for r in runs),
            "samples beside their nearest training images"),
    "F4": (figure_f4, lambda runs: any("novikov_log_mean_exp" in r.diag and r.saved for r in runs),
           "Novikov's log E[exp I] and the drift error vs t"),
    "S": (figure_s, lambda runs: sweep_key(runs) is not None and
          len({r.swept.get(sweep_key(runs)) for r in runs}) >= 2,
          "sweep summary: final diagnostics vs the swept value"),
}


def figures_for(experiment, runs):
    """The figure ids to draw for a group of runs: the named experiment's,
    or, for runs that name none (or whose files cannot make their
    experiment's figure, e.g. a sweep of one task), every figure the files
    support."""
    if experiment in FIGURES and FIGURES[experiment][1](runs):
        return [experiment]
    return [k for k, (_, applies, _) in FIGURES.items() if applies(runs)]


def draw(experiment, runs, out_dir, prefix):
    """Draws the figures of `experiment` (or every applicable one) for runs
    into out_dir as PREFIX-ID.png/.pdf (PREFIX.png/.pdf when the prefix
    ends in the id, as a group named after its experiment does); returns {id: [paths]}."""
    done = {}
    for fid in figures_for(experiment, runs):
        name = prefix if prefix.endswith(fid) else f"{prefix}-{fid}"
        done[fid] = FIGURES[fid][0](runs, os.path.join(out_dir, name))
    return done
