"""The papers' figures (DESIGN.md section 3) from sgmrun run files.

Each figure function takes a list of sgm_results.Run, an output stem (path
without extension) and a function to report what it could not draw, and
writes STEM.png and STEM.pdf; FIGURES maps the experiment id to (function,
applies, what it shows).  `applies(runs)` says whether the runs hold what
the figure needs, so that a results directory of unnamed runs still gets
the figures its files support.
"""
import math
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)
import numpy as np  # noqa: E402

from sgm_results import class_name, final_row, training_images, warn, write_table  # noqa: E402

plt.rcParams.update({"figure.dpi": 110, "savefig.dpi": 110, "font.size": 10,
                     "axes.grid": True, "grid.alpha": 0.3, "legend.fontsize": 8})

T_LABEL = "forward time t (SDE time units; sampling runs from T down to t_min)"
ERROR_LABEL = r"mean $\|s - \nabla \log \hat p_t\|$ over paths (1/data units)"
NOVIKOV_LABEL = r"$\log E[\exp I]$ (Novikov; dimensionless)"
# Units of swept keys, for the sweep figure's x axis.
SWEPT_UNITS = {"perturb.magnitude": "c, 1/data units", "drift.bandwidth": "h, data units"}


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


def legend_labels(runs):
    """Run.label() of each run, made distinct where runs share one: with the
    group when that tells them apart, else with the file's name."""
    labels = [r.label() for r in runs]
    for extra in (lambda r: r.group, lambda r: os.path.basename(r.path)):
        for same in set(labels):
            idx = [i for i, label in enumerate(labels) if label == same]
            if len(idx) > 1 and len({extra(runs[i]) for i in idx}) > 1:
                for i in idx:
                    labels[i] = f"{same} ({extra(runs[i])})"
    return labels


def _positive_t(run, values):
    """(t, values) where t > 0 (the saved grid ends at t_min > 0)."""
    keep = run.time > 0
    return run.time[keep], values[keep]


def _panels(n, cols, figsize, **kwargs):
    """n axes on a grid of at most `cols` columns (spare cells hidden);
    figsize is one panel's (width, height)."""
    cols = min(n, cols)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(figsize[0] * cols, figsize[1] * rows),
                             squeeze=False, **kwargs)
    axes = axes.ravel()
    for ax in axes[n:]:
        ax.axis("off")
    return fig, axes[:n]


# ---------------------------------------------------------------------------
# F1: the particle density over x and t, and data vs sample density.

def _floats(run, key, count):
    """A [data] list of the mixture as `count` floats: one value stands for
    all; empty weights are equal ones."""
    v = run.value("data", key) or ""
    values = [float(x) for x in v.split(",") if x.strip()]
    if not values and key == "weights":
        values = [1.0 / count]
    return values * count if len(values) == 1 else values


def _gmm_pdf(run, x):
    """The density of a 1-D [data] source = gmm at x, or None."""
    if run.value("data", "source") != "gmm":
        return None
    try:
        means = _floats(run, "means", 1)
        variances = _floats(run, "variances", len(means))
        weights = _floats(run, "weights", len(means))
    except ValueError:
        return None
    if not len(means) == len(variances) == len(weights):
        return None
    p = np.zeros_like(x)
    for m, v, w in zip(means, variances, weights):
        p += w * np.exp(-(x - m) ** 2 / (2 * v)) / math.sqrt(2 * math.pi * v)
    return p


def figure_f1(runs, stem, warn=warn):
    runs = [r for r in runs if "density" in r.diag and r.d == 1 and r.saved]
    labels = legend_labels(runs)
    fig, axes = _panels(len(runs) + 1, 3, (5.2, 4.2))
    for ax, r, label in zip(axes, runs, labels):
        edges = r.diag["density_edges"]
        mesh = ax.pcolormesh(r.time, (edges[:-1] + edges[1:]) / 2, r.series("density").T,
                             shading="nearest", cmap="viridis")
        ax.set_xlim(r.time.max(), r.time.min())
        _label(ax, "forward time t (SDE time units; sampling runs left to right)",
               "x (data units)", label, legend=False)
        fig.colorbar(mesh, ax=ax, label="particle density q_t(x) (1/data units)")
    ax = axes[-1]
    mixtures = {}
    for r, label in zip(runs, labels):
        edges = r.diag["density_edges"]
        ax.step((edges[:-1] + edges[1:]) / 2, r.series("density")[-1], where="mid",
                label=f"samples at t = {r.time[-1]:.3g}: {label}")
        mixture = tuple(r.value("data", k) for k in ("means", "variances", "weights"))
        mixtures.setdefault(mixture, (r, label))
    lo = min(r.diag["density_edges"][0] for r in runs)
    hi = max(r.diag["density_edges"][-1] for r in runs)
    x = np.linspace(lo, hi, 600)
    for r, label in mixtures.values():
        p = _gmm_pdf(r, x)
        if p is not None:
            ax.plot(x, p, "k--" if len(mixtures) == 1 else "--",
                    label="data density (the mixture)" + (f" of {label}" if len(mixtures) > 1 else ""))
    _label(ax, "x (data units)", "density (1/data units)", "data vs sample density at the end")
    _title(fig, runs, "Particle density of the reverse SDE")
    return save(fig, stem)


# ---------------------------------------------------------------------------
# F2: samples on the sphere for several perturbations.

def _perturbation_direction(run):
    """The unit vector along the run's constant or time perturbation
    c (1, ..., 1), or None (no perturbation, c = 0, a random direction that
    the file does not record, or a rotation)."""
    c = run.number("perturb", "magnitude", 0.0)
    if run.value("perturb", "kind") not in ("constant", "time") or not c:
        return None
    if run.value("perturb", "direction") != "ones":
        return None
    return np.sign(c) * np.ones(run.d) / math.sqrt(run.d)


def figure_f2(runs, stem, warn=warn):
    runs = [r for r in runs if "particles" in r.final and 2 <= r.d <= 3]
    labels = legend_labels(runs)
    n = len(runs) + 1
    cols = min(n, 4)
    rows = math.ceil(n / cols)
    fig = plt.figure(figsize=(4.4 * cols, 4.2 * rows))
    for i, (r, label) in enumerate(zip(runs, labels)):
        y = r.final["particles"]
        radius = r.number("data", "radius", 1.0)
        u = _perturbation_direction(r)
        if r.d == 3:
            ax = fig.add_subplot(rows, cols, i + 1, projection="3d")
            a, b = np.meshgrid(np.linspace(0, 2 * np.pi, 30), np.linspace(0, np.pi, 15))
            ax.plot_wireframe(radius * np.cos(a) * np.sin(b), radius * np.sin(a) * np.sin(b),
                              radius * np.cos(b), color="0.8", linewidth=0.4)
            ax.scatter(y[:, 0], y[:, 1], y[:, 2], s=3, alpha=0.6)
            if u is not None:
                ax.quiver(0, 0, 0, *(1.5 * radius * u), color="r", linewidth=1.5)
            ax.set_zlabel("y3")
        else:
            ax = fig.add_subplot(rows, cols, i + 1)
            circle = np.linspace(0, 2 * np.pi, 200)
            ax.plot(radius * np.cos(circle), radius * np.sin(circle), color="0.7")
            ax.scatter(y[:, 0], y[:, 1], s=3, alpha=0.6)
            if u is not None:
                ax.annotate("", xy=1.5 * radius * u, xytext=(0, 0),
                            arrowprops={"arrowstyle": "->", "color": "r", "linewidth": 1.5})
            ax.set_aspect("equal")
            ax.set_xlim(-1.6 * radius, 1.6 * radius)
            ax.set_ylim(-1.6 * radius, 1.6 * radius)
        _label(ax, "y1", "y2", label, legend=False)
    ax = fig.add_subplot(rows, cols, n)
    for r, label in zip(runs, labels):
        y = r.final["particles"]
        cos = (y @ (np.ones(r.d) / math.sqrt(r.d))) / np.maximum(np.linalg.norm(y, axis=1), 1e-300)
        ax.hist(cos, bins=30, range=(-1, 1), histtype="step", density=True, label=label)
    _label(ax, "cosine of the angle to (1, ..., 1)", "density of samples",
           "samples are skewed along the sphere, not off it")
    _title(fig, runs, "Samples on the sphere (data units; red: the perturbation's direction)")
    return save(fig, stem)


# ---------------------------------------------------------------------------
# F3a: distance to the nearest training example vs t.

def figure_f3a(runs, stem, warn=warn):
    runs = [r for r in runs if "nearest_distance" in r.diag and r.saved]
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    for r, label in zip(runs, legend_labels(runs)):
        d = r.series("nearest_distance")
        t, mean = _positive_t(r, d.mean(axis=1))
        _, sd = _positive_t(r, d.std(axis=1))
        line, = ax.plot(t, mean, label=label)
        ax.fill_between(t, np.maximum(mean - sd, 0), mean + sd, color=line.get_color(), alpha=0.2)
        t, frac = _positive_t(r, r.series("memorized_fraction"))
        ax2.plot(t, frac, label=label)
    ax.set_xscale("log")
    ax2.set_xscale("log")
    _label(ax, T_LABEL, "distance to the nearest training example (data units)",
           "mean over paths (band: ± one standard deviation)")
    _label(ax2, T_LABEL, "memorised fraction (nearest/second nearest < 1/3)",
           "share of paths on a training example")
    ax2.set_ylim(-0.03, 1.03)
    _title(fig, runs, "Memorisation: distance to the training set")
    return save(fig, stem)


# ---------------------------------------------------------------------------
# F3b: samples beside their nearest training images.

def _f3b_run(sub, r, columns, warn):
    """One run's block of F3b: its samples above their nearest training
    images, in the source's units on the source's range."""
    shown, what, particles = r.samples()
    m = min(columns, len(shown))
    nearest = r.series("nearest_index")[-1][:m]
    dist = r.series("nearest_distance")[-1][:m]
    train, note = None, ""
    try:
        train = training_images(r, nearest)
    except (OSError, KeyError, ValueError, IndexError) as e:
        warn(f"{r.path}: F3b without its training images: {e}")
        note = "training images not readable"
    if train is not None:
        # The distances the run measured, from the images read: they differ
        # when the source is not what the run loaded.
        mine = np.linalg.norm(particles[:m] - r.to_data_units(train.reshape(m, -1)), axis=1)
        if not np.allclose(mine, dist, rtol=1e-4, atol=1e-6 * (1 + np.abs(particles).max())):
            warn(f"{r.path}: F3b: the images read from {r.value('data', 'path')} are not the "
                 f"training examples the run measured (distance off by up to "
                 f"{np.max(np.abs(mine - dist)):.3g}): has the source changed?")
            note = "source changed since the run?"
    samples = r.to_source_units(shown[:m])
    scale = r.scaling()
    if scale is not None:
        lo, hi = scale[1:]
    else:  # not scaled: the range of the training images shown (else of the samples)
        values = train if train is not None else samples
        lo, hi = float(np.min(values)), float(np.max(values))
    span = hi - lo if hi > lo else 1.0

    def show(ax, x):
        ax.imshow(np.clip((r.as_image(x) - lo) / span, 0, 1), cmap="gray", vmin=0, vmax=1)

    axes = sub.subplots(2, columns, squeeze=False)
    sub.subplots_adjust(left=0.07, right=0.99, bottom=0.02, top=0.83, hspace=0.25, wspace=0.08)
    sub.text(0.01, 0.97, f"{r.label()}  [{os.path.basename(r.path)}]", fontsize=8,
             fontweight="bold", va="top")
    sub.text(0.01, 0.91, r.attrs.get("data", ""), fontsize=7, va="top")
    labels = r.training.get("label")
    for j in range(columns):
        top, bottom = axes[0, j], axes[1, j]
        for a in (top, bottom):
            a.set_xticks([])
            a.set_yticks([])
            a.grid(False)
        if j >= m:
            top.axis("off")
            bottom.axis("off")
            continue
        show(top, samples[j])
        top.set_title(f"dist {dist[j]:.3g}", fontsize=7, pad=2)
        name = class_name(r, int(labels[nearest[j]])) if labels is not None else ""
        bottom.set_title(f"#{int(r.training['source_index'][nearest[j]])} {name}", fontsize=6, pad=2)
        if train is not None:
            show(bottom, train[j])
    if note:
        axes[1, 0].text(0, 0.5, note, transform=axes[1, 0].transAxes, fontsize=7, color="r")
    axes[0, 0].set_ylabel(what, fontsize=7)
    axes[1, 0].set_ylabel("nearest training", fontsize=7)


def figure_f3b(runs, stem, warn=warn, columns=8):
    runs = [r for r in runs if r.is_image() and "nearest_index" in r.diag and r.saved
            and r.samples()[0] is not None]
    block, head = 3.2, 0.5  # inches per run, and for the title
    fig = plt.figure(figsize=(1.3 * columns + 0.6, block * len(runs) + head))
    parts = fig.subfigures(len(runs) + 1, 1, height_ratios=[head] + [block] * len(runs))
    parts[0].suptitle("Samples above their nearest training images (dist: the sample's distance "
                      "to it, in data units; #: its index in the source)", fontsize=10, y=0.5, va="center")
    for sub, r in zip(parts[1:], runs):
        _f3b_run(sub, r, columns, warn)
    return save(fig, stem, tight=False)


# ---------------------------------------------------------------------------
# F4: the Novikov integral and the drift's distance from the empirical score.

def figure_f4(runs, stem, warn=warn):
    runs = [r for r in runs if "novikov_log_mean_exp" in r.diag and r.saved]
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    for r, label in zip(runs, legend_labels(runs)):
        t, lme = _positive_t(r, r.series("novikov_log_mean_exp"))
        ax.plot(t, lme, label=label)
        t, err = _positive_t(r, r.series("mean_score_error"))
        zero = not np.any(err > 0)  # a log axis cannot show 0: leave it out, say so
        ax2.plot(t, np.where(err > 0, err, np.nan), label=label + (" (0: not drawn)" if zero else ""))
    ax.set_xscale("log")
    ax.set_yscale("symlog", linthresh=1)
    ax.set_ylim(bottom=0)  # I >= 0 on every path, so log E[exp I] >= 0
    _label(ax, "end time t of the integral from T (SDE time units; log scale)",
           NOVIKOV_LABEL + ", symlog", "bounded for a constant error, exploding for a generalising drift")
    ax2.set_xscale("log")
    ax2.set_yscale("log")
    _label(ax2, T_LABEL, ERROR_LABEL, "drift error along the paths")
    _title(fig, runs, "Novikov's condition")
    return save(fig, stem)


# ---------------------------------------------------------------------------
# S: the perturbation sweep.

def _is_number(value):
    try:
        float(value)
        return True
    except ValueError:
        return False


def sweep_key(runs):
    """The swept key the sweep figure uses as its x axis: perturb.magnitude
    when swept, else the first other key whose values are numbers, at least
    two different ones; None if none is."""
    keys = []
    for r in runs:
        keys += [k for k in r.swept if k not in keys]
    keys.sort(key=lambda k: k != "perturb.magnitude")
    for k in keys:
        values = {r.swept[k] for r in runs if k in r.swept}
        if len(values) >= 2 and all(_is_number(v) for v in values):
            return k
    return None


S_PANELS = [("mean_nearest_distance", "mean nearest distance (data units)"),
            ("memorized_fraction", "memorised fraction"),
            ("novikov_log_mean_exp", NOVIKOV_LABEL)]


def figure_s(runs, stem, warn=warn):
    key = sweep_key(runs)
    runs = sorted((r for r in runs if key in r.swept and r.saved), key=lambda r: float(r.swept[key]))
    series = {}
    for r in runs:
        series.setdefault(r.series_label(key), []).append(r)
    panels = [p for p in S_PANELS if any(p[0] in r.diag for r in runs)]
    fig, axes = _panels(len(panels), 3, (4.6, 4))
    unit = SWEPT_UNITS.get(key)
    for ax, (name, ylabel) in zip(axes, panels):
        for label, members in series.items():
            members = [r for r in members if name in r.diag]
            if members:
                ax.plot([float(r.swept[key]) for r in members], [r.series(name)[-1] for r in members],
                        "o-", label=label)
        _label(ax, f"{key} ({unit}; swept)" if unit else f"{key} (swept)", ylabel)
        if name == "memorized_fraction":
            ax.set_ylim(-0.03, 1.03)
    _title(fig, runs, f"Sweep over {key}: values at the last saved step (t_min)")
    return save(fig, stem)


FIGURES = {
    "F1": (figure_f1, lambda runs: any("density" in r.diag and r.d == 1 and r.saved for r in runs),
           "particle density over x and t; data vs sample density"),
    "F2": (figure_f2, lambda runs: any("particles" in r.final and 2 <= r.d <= 3 for r in runs),
           "samples on the sphere for several perturbations"),
    "F3a": (figure_f3a, lambda runs: any("nearest_distance" in r.diag and r.saved for r in runs),
            "distance to the nearest training example vs t"),
    "F3b": (figure_f3b, lambda runs: any(r.is_image() and "nearest_index" in r.diag and r.saved
                                         and r.samples()[0] is not None for r in runs),
            "samples beside their nearest training images"),
    "F4": (figure_f4, lambda runs: any("novikov_log_mean_exp" in r.diag and r.saved for r in runs),
           "Novikov's log E[exp I] and the drift error vs t"),
    "S": (figure_s, lambda runs: sweep_key(runs) is not None
          and any(name in r.diag and r.saved for r in runs for name, _ in S_PANELS),
          "sweep summary: final diagnostics vs the swept value"),
}

# What each figure needs of the runs (README's table), for messages.
NEEDS = {"F1": "[diagnostics] density_bins > 0 and d = 1",
         "F2": "final samples of d = 2 or 3",
         "F3a": "[diagnostics] nearest = yes",
         "F3b": "image data, [diagnostics] nearest = yes and samples (a complete run, or trajectories)",
         "F4": "[diagnostics] novikov = yes",
         "S": "sweep tasks with two or more numeric values of a swept key, and diagnostics"}


def figures_for(experiment, runs):
    """The figure ids to draw for a group of runs: the named experiment's,
    or, for runs that name none (or whose files cannot make their
    experiment's figure, e.g. a sweep of one task), every figure the files
    support."""
    if experiment in FIGURES and FIGURES[experiment][1](runs):
        return [experiment]
    return [k for k, (_, applies, _) in FIGURES.items() if applies(runs)]


def draw(experiment, runs, out_dir, prefix, warn=warn):
    """Draws the figures of `experiment` (or every applicable one) for runs
    into out_dir as PREFIX-ID.png/.pdf (PREFIX.png/.pdf for the figure of
    the experiment the prefix ends in, as a group's name does); returns
    {id: [paths]}.  warn(message) hears what a figure leaves out."""
    done = {}
    for fid in figures_for(experiment, runs):
        name = prefix if fid == experiment and prefix.endswith(fid) else f"{prefix}-{fid}"
        done[fid] = FIGURES[fid][0](runs, os.path.join(out_dir, name), warn=warn)
    return done


def groups_of(runs, experiment):
    """{(group, experiment): [runs]} in first-seen order."""
    groups = {}
    for r in runs:
        key = (experiment, experiment) if experiment else (r.group, r.experiment)
        groups.setdefault(key, []).append(r)
    return groups


def draw_all(runs, out, experiment=None, log=print, warn=warn):
    """Draws every group's figures into out (grouped by run name, or all as
    one group named `experiment`), with the sweep figure's CSV table beside
    it; logs what it wrote; returns [(group, id, paths)]."""
    written = []
    for (group, exp), members in groups_of(runs, experiment).items():
        drawn = draw(exp, members, out, group, warn)
        for fid, paths in drawn.items():
            if fid == "S":
                table = os.path.splitext(paths[0])[0] + ".csv"
                write_table([final_row(r) for r in members], table)
                paths = paths + [table]
            written.append((group, fid, paths))
            log(f"figures: {group}: {fid} -> {', '.join(paths)}")
        if not drawn:
            log(f"figures: {group}: no figure applies to its {len(members)} run(s)"
                + (f" (experiment {exp})" if exp else ""))
        for r in members:
            if r.status != "complete":
                log(f"figures: note: {r.path} is {r.status}, not complete; drawn as far as it was "
                    f"saved ({r.saved} saved steps)")
    return written
