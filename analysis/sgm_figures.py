"""The papers' figures (DESIGN.md section 3) from sgmrun run files.

Each figure function takes a list of sgm_results.Run, an output stem (path
without extension) and a function to report what it could not draw, and
writes STEM.png and STEM.pdf; FIGURES maps the experiment id to (function,
applies, what it shows).  `applies(runs)` says whether the runs hold what
the figure needs, so that a results directory of unnamed runs still gets
the figures its files support.  An experiment of several figures (W: W1-W5,
PARTS) has an entry without a function, saying whether any part applies.
"""
import math
import os
import textwrap

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)
import numpy as np  # noqa: E402

from sgm_results import (class_name, final_row, training_images, warn,  # noqa: E402
                         write_jacobian_table, write_table)

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
    positive = False
    for r, label in zip(runs, legend_labels(runs)):
        t, lme = _positive_t(r, r.series("novikov_log_mean_exp"))
        ax.plot(t, lme, label=label)
        t, err = _positive_t(r, r.series("mean_score_error"))
        zero = not np.any(err > 0)  # a log axis cannot show 0: leave it out, say so
        positive = positive or not zero
        ax2.plot(t, np.where(err > 0, err, np.nan), label=label + (" (0: not drawn)" if zero else ""))
    ax.set_xscale("log")
    ax.set_yscale("symlog", linthresh=1)
    ax.set_ylim(bottom=0)  # I >= 0 on every path, so log E[exp I] >= 0
    _label(ax, "end time t of the integral from T (SDE time units; log scale)",
           NOVIKOV_LABEL + ", symlog", "bounded for a constant error, exploding for a generalising drift")
    ax2.set_xscale("log")
    if positive:  # else every error is 0: nothing on the axis to scale
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


# ---------------------------------------------------------------------------
# W: the local geometry of the score field (Wenliang & Moran, Figs. 2-4),
# from /jacobian.  Every W figure draws the values of the file (medians and
# quantiles over the analysed points, as numpy computes them) and never
# recomputes an analysis.

W_BAND = (0.1, 0.9)  # the quantile band over points
W_VECTOR_TITLES = {"u_minor": "$u_-$", "v_minor": "$v_-$", "w_zero": "$w_0$", "u_major": "$u_+$",
                   "v_major": "$v_+$", "w_minor": "$w_-$", "w_major": "$w_+$"}


def _jacobian_runs(runs, warn, need):
    """The runs whose Jacobian analysis has a time written and every series
    of `need`; says once per run what its analysis lacks (fewer times than
    listed, missing series)."""
    out = []
    for r in runs:
        jac = r.jacobian
        if jac is None:
            continue
        if not getattr(r, "_jacobian_warned", False):
            for problem in jac.problems:
                warn(f"{r.path}: {problem}")
            r._jacobian_warned = True
        if jac.done and all(n in jac.names for n in need):
            out.append(r)
    return out


def _w_applies(need):
    return lambda runs: any(r.jacobian is not None and r.jacobian.done
                            and all(n in r.jacobian.names for n in need) for r in runs)


def _jacobian_times(runs):
    """The listed times that any of runs analysed, ascending, each once (a
    run analyses at its grid time nearest to the listed one: the listed
    times match analyses across files)."""
    times = []
    for r in runs:
        for t in r.jacobian.listed:
            if not any(np.isclose(t, u, rtol=1e-9, atol=0) for u in times):
                times.append(float(t))
    return sorted(times)


def _time_index(run, t):
    """Index (among the times written) of run's analysis at listed time t, or None."""
    hit = np.flatnonzero(np.isclose(run.jacobian.listed, t, rtol=1e-9, atol=0))
    return int(hit[0]) if len(hit) else None


def _analysed_at(runs, t):
    """' (at t = ...)': the forward times at which runs analysed listed time
    t, where they differ from it."""
    at = sorted({f"{r.jacobian.times[k]:.4g}" for r in runs
                 for k in [_time_index(r, t)] if k is not None})
    return "" if at == [f"{t:.4g}"] else f" (at {', '.join(at)})"


def _time_colours(times):
    cmap = plt.get_cmap("viridis")
    return {t: cmap(0.9 * k / max(len(times) - 1, 1)) for k, t in enumerate(times)}


def _positive(x):
    """x for a log axis: values <= 0 (or NaN) left out."""
    x = np.asarray(x, dtype=float)
    return np.where(x > 0, x, np.nan)


def _units(run, name, default):
    units = run.jacobian.units.get(name) if run.jacobian else None
    return units or default


def _index_axis(ax, d):
    """The index axis i = 1..d (linear: the on-manifold directions are at
    small i, a rotation's and the mixing directions' at large i)."""
    ax.set_xlim(0.5 - 0.01 * d, d + 0.5 + 0.01 * d)


def figure_w1(runs, stem, warn=warn):
    """Singular spectra: per time, the median over points of s_i against i
    (band: W_BAND quantiles), with 1/sigma_t^2 and the local dimension's
    threshold 1/((1 + kappa) sigma_t^2); triangles at the median r_t."""
    runs = _jacobian_runs(runs, warn, ("singular_values",))
    labels = legend_labels(runs)
    times = _jacobian_times(runs)
    spare = len(times) % 3 != 0  # a free cell of the grid: the legend's
    fig, axes = _panels(len(times) + spare, 3, (4.8, 3.9))
    for ax, t in zip(axes, times):
        floors = {}
        d = 1
        for c, (r, label) in enumerate(zip(runs, labels)):
            k = _time_index(r, t)
            if k is None:
                continue
            sv = r.jacobian.series("singular_values")[k]
            d = max(d, sv.shape[1])
            i = np.arange(1, sv.shape[1] + 1)
            colour = f"C{c % 10}"
            lo, hi = np.quantile(sv, W_BAND, axis=0)
            ax.plot(i, _positive(np.median(sv, axis=0)), color=colour, label=label)
            ax.fill_between(i, _positive(lo), _positive(hi), color=colour, alpha=0.2, linewidth=0)
            sigma2, threshold = r.jacobian.sigma2[k], r.jacobian.threshold[k]
            floors.setdefault((round(float(sigma2), 12), round(float(threshold), 12)), (sigma2, threshold))
            ld = r.jacobian.series("local_dimension")
            if ld is not None and np.median(ld[k]) > 0:
                ax.plot([np.median(ld[k])], [threshold], "v", color=colour, markersize=7,
                        markeredgecolor="k", markeredgewidth=0.5)
        for n, (sigma2, threshold) in enumerate(floors.values()):
            extra = f" ({n + 1})" if len(floors) > 1 else ""
            ax.axhline(1 / sigma2, color="k", linestyle="--", linewidth=1,
                       label=r"$1/\sigma_t^2$ (noise floor of $1/s_i$)" + extra)
            ax.axhline(threshold, color="k", linestyle=":", linewidth=1,
                       label=r"$1/((1+\kappa)\sigma_t^2)$: $r_t$ counts $s_i$ at or below" + extra)
        ax.set_yscale("log")
        _index_axis(ax, d)
        sig = ", ".join(f"{v[0]:.3g}" for v in floors.values())
        _label(ax, "index i (singular values ascending)",
               f"singular value $s_i$ of J ({_units(runs[0], 'singular_values', '1/data units^2')})",
               f"t = {t:g}{_analysed_at(runs, t)}  ($\\sigma_t^2$ = {sig})", legend=False)
    entries = {}
    for ax in axes[:len(times)]:
        for handle, name in zip(*ax.get_legend_handles_labels()):
            entries.setdefault(name, handle)
    order = sorted(entries, key=lambda name: labels.index(name) if name in labels else len(labels))
    if spare:
        axes[-1].axis("off")
        axes[-1].legend([entries[n] for n in order], order, loc="center", fontsize=9, frameon=False)
    elif len(axes):
        axes[0].legend([entries[n] for n in order], order)
    _title(fig, runs, "Singular spectra of the drift's Jacobian: median over points, band "
           f"{W_BAND[0]:g}-{W_BAND[1]:g} quantiles; triangles: median local dimension $r_t$")
    return save(fig, stem)


def figure_w2(runs, stem, warn=warn):
    """Local dimension r_t: its distribution over points per time, one panel
    per drift, and the medians of every drift against t."""
    runs = _jacobian_runs(runs, warn, ("local_dimension",))
    labels = legend_labels(runs)
    fig, axes = _panels(len(runs) + 1, 3, (4.6, 3.9))
    top = max(max(float(r.jacobian.series("local_dimension").max()) for r in runs), 1.0)
    rng = np.random.default_rng(0)
    for c, (ax, r, label) in enumerate(zip(axes, runs, labels)):
        ld = r.jacobian.series("local_dimension")
        pos = np.arange(len(ld))
        ax.boxplot([ld[k] for k in pos], positions=pos, widths=0.6, whis=(5, 95), showfliers=False,
                   medianprops={"color": f"C{c % 10}", "linewidth": 2})
        for k in pos:  # every point, jittered
            ax.plot(k + rng.uniform(-0.18, 0.18, ld.shape[1]), ld[k], ".", color="0.35",
                    markersize=3, alpha=0.5)
        ax.set_xticks(pos)
        ax.set_xticklabels([f"{t:g}" for t in r.jacobian.listed])
        ax.set_ylim(-0.04 * top, 1.06 * top)
        _label(ax, "listed forward time t (SDE time units)", "local dimension $r_t$ (count of directions)",
               label + f"  ({ld.shape[1]} points)", legend=False)
    ax = axes[-1]
    for c, (r, label) in enumerate(zip(runs, labels)):
        ld = r.jacobian.series("local_dimension")
        q1, med, q3 = np.quantile(ld, [0.25, 0.5, 0.75], axis=1)
        ax.plot(r.jacobian.times, med, "o-", color=f"C{c % 10}", label=label)
        ax.fill_between(r.jacobian.times, q1, q3, color=f"C{c % 10}", alpha=0.15, linewidth=0)
    ax.set_xscale("log")
    ax.set_ylim(-0.04 * top, 1.06 * top)
    _label(ax, "forward time t (SDE time units; log scale)", "median local dimension $r_t$",
           "all drifts: median (band: quartiles)")
    _title(fig, runs, r"Local dimension $r_t = \#\{i : 1/s_i \geq (1+\kappa)\sigma_t^2\}$ "
           "(boxes: quartiles, whiskers 5-95%; dots: the points)")
    return save(fig, stem)


def _w_grid(rows, cols, size):
    fig, axes = plt.subplots(rows, cols, figsize=(size[0] * cols + 0.6, size[1] * rows + 0.7),
                             squeeze=False, sharex=True, sharey=True)
    return fig, axes


def _wrapped(label, width=30):
    return "\n".join(textwrap.wrap(label, width)) or label


def figure_w3(runs, stem, warn=warn):
    """Cosines u_i . v_i against i: rows drifts, columns times; median over
    points, band W_BAND quantiles; dotted: the median r_t."""
    runs = _jacobian_runs(runs, warn, ("cosines",))
    labels = legend_labels(runs)
    times = _jacobian_times(runs)
    fig, axes = _w_grid(len(runs), len(times), (3.0, 2.5))
    d = max(r.jacobian.d for r in runs)
    for row, (r, label) in enumerate(zip(runs, labels)):
        colour = f"C{row % 10}"
        for col, t in enumerate(times):
            ax = axes[row, col]
            k = _time_index(r, t)
            if k is None:
                ax.text(0.5, 0.5, "not analysed", transform=ax.transAxes, ha="center", color="0.5")
                continue
            cos = r.jacobian.series("cosines")[k]
            i = np.arange(1, cos.shape[1] + 1)
            lo, hi = np.quantile(cos, W_BAND, axis=0)
            ax.plot(i, np.median(cos, axis=0), color=colour, linewidth=1)
            ax.fill_between(i, lo, hi, color=colour, alpha=0.25, linewidth=0)
            ax.axhline(0, color="0.6", linewidth=0.6)
            ld = r.jacobian.series("local_dimension")
            if ld is not None and np.median(ld[k]) > 0:
                ax.axvline(np.median(ld[k]), color="k", linestyle=":", linewidth=1)
            if row == 0:
                ax.set_title(f"t = {t:g}{_analysed_at(runs, t)}", fontsize=8)
            if col == 0:
                ax.set_ylabel(_wrapped(label) + f"\n$u_i \\cdot v_i$ ({_units(r, 'cosines', 'cosine')})",
                              fontsize=8)
            if row == len(runs) - 1:
                ax.set_xlabel("index i (s ascending)")
    _index_axis(axes[0, 0], d)
    axes[0, 0].set_ylim(-1.08, 1.08)
    _title(fig, runs, r"Cosines $u_i \cdot v_i$ of the singular vectors (+-1: aligned, a conservative "
           f"field); median over points, band {W_BAND[0]:g}-{W_BAND[1]:g}; dotted: median $r_t$")
    return save(fig, stem)


W4_PAIRS = (("overlap_uv", r"$\Phi_n^{u,v}$"), ("overlap_uw", r"$\Phi_n^{u,w}$"),
            ("overlap_vw", r"$\Phi_n^{v,w}$"))


def figure_w4(runs, stem, warn=warn):
    """Overlaps Phi_n^{a,b} against n: rows the pairs, columns drifts; one
    line per time (median over points, light band W_BAND); dotted: the mean
    r_t at that time (the paper's Fig. 4)."""
    runs = [r for r in _jacobian_runs(runs, warn, ())
            if any(name in r.jacobian.names for name, _ in W4_PAIRS)]
    labels = legend_labels(runs)
    times = _jacobian_times(runs)
    colours = _time_colours(times)
    pairs = [p for p in W4_PAIRS if any(p[0] in r.jacobian.names for r in runs)]
    fig, axes = _w_grid(len(pairs), len(runs), (3.6, 2.8))
    d = max(r.jacobian.d for r in runs)
    for row, (name, symbol) in enumerate(pairs):
        for col, (r, label) in enumerate(zip(runs, labels)):
            ax = axes[row, col]
            phi = r.jacobian.series(name)
            ld = r.jacobian.series("local_dimension")
            if phi is None:
                ax.text(0.5, 0.5, f"no {name}", transform=ax.transAxes, ha="center", color="0.5")
                continue
            n = np.arange(1, phi.shape[2] + 1)
            for k, t in enumerate(r.jacobian.listed):
                colour = colours[min(colours, key=lambda u: abs(u - t))]
                lo, hi = np.quantile(phi[k], W_BAND, axis=0)
                ax.plot(n, np.median(phi[k], axis=0), color=colour, linewidth=1.2, label=f"t = {t:g}")
                ax.fill_between(n, lo, hi, color=colour, alpha=0.12, linewidth=0)
                if ld is not None and np.mean(ld[k]) > 0:
                    ax.axvline(np.mean(ld[k]), color=colour, linestyle=":", linewidth=1.2)
            if row == 0:
                ax.set_title(_wrapped(label, 40), fontsize=8)
            if col == 0:
                ax.set_ylabel(f"{symbol} ({_units(r, name, 'fraction')})")
            if row == len(pairs) - 1:
                ax.set_xlabel("n (first n vectors; s or |λ| ascending)")
            if row == 0 and col == 0:
                ax.legend(fontsize=7)
    _index_axis(axes[0, 0], d)
    axes[0, 0].set_ylim(-0.03, 1.05)
    _title(fig, runs, r"Overlap of local subspaces $\Phi_n^{a,b} = \frac{1}{n}\sum_{j,k \leq n}"
           r"(b_k \cdot a_j)^2$: median over points (band "
           f"{W_BAND[0]:g}-{W_BAND[1]:g}); dotted: mean $r_t$")
    return save(fig, stem)


def _vector_view(run, d):
    """How to show a d-vector of run: as_image for image data (from /training
    example_shape, else the data source's shape), or None (a line plot)."""
    if run.is_image() and math.prod(run.image_shape()) == d:
        return run.as_image
    source = run.value("data", "source")
    if source == "fashion-mnist" and d == 784:
        return lambda x: np.asarray(x).reshape(28, 28)
    if source == "cifar10" and d == 3072:
        return lambda x: np.moveaxis(np.asarray(x).reshape(3, 32, 32), 0, -1)
    return None


def _show_vector(ax, x, view):
    """A signed unit vector: as an image (red +, blue -, scaled to its own
    largest |component|) or as a line over the index."""
    a = float(np.max(np.abs(x))) or 1.0
    if view is None:
        ax.plot(np.arange(1, len(x) + 1), x, linewidth=0.8)
        ax.axhline(0, color="0.6", linewidth=0.5)
        ax.set_ylim(-1.1 * a, 1.1 * a)
        return
    img = view(x)
    if img.ndim == 3:
        ax.imshow(np.clip(0.5 + img / (2 * a), 0, 1))
    else:
        ax.imshow(img, cmap="RdBu_r", vmin=-a, vmax=a)


def _show_point(ax, run, x, view):
    """An analysed point x_t, in the source's units, grey on the source's range."""
    if view is None:
        ax.plot(np.arange(1, len(x) + 1), x, linewidth=0.8, color="k")
        return
    y = run.to_source_units(np.asarray(x, dtype=float))
    scale = run.scaling()
    lo, hi = (scale[1], scale[2]) if scale else (float(np.min(y)), float(np.max(y)))
    img = view(np.clip((y - lo) / ((hi - lo) or 1.0), 0, 1))
    ax.imshow(img, cmap=None if img.ndim == 3 else "gray", vmin=0, vmax=1)


def _w5_run(sub, r, label, points, warn):
    jac = r.jacobian
    names = jac.vector_names
    shown = list(range(min(points, jac.M)))
    vectors = {n: jac.vectors(n, shown) for n in names}
    view = _vector_view(r, jac.d)
    with_points = jac.points_shape is not None
    group = len(names) + with_points + 1  # + a narrow gap between points
    cols = group * len(shown) - 1
    rows = jac.vector_done
    ratios = ([1] * (group - 1) + [0.25]) * len(shown)
    axes = sub.subplots(rows, cols, squeeze=False, gridspec_kw={"width_ratios": ratios[:cols]})
    for p in range(1, len(shown)):
        for k in range(rows):
            axes[k, p * group - 1].axis("off")
    sub.subplots_adjust(left=0.06, right=0.99, bottom=0.02, top=1 - 0.5 / (0.9 * rows + 0.6),
                        hspace=0.12, wspace=0.06)
    sub.text(0.005, 0.995, f"{label}  [{os.path.basename(r.path)}]", fontsize=8,
             fontweight="bold", va="top")
    for k in range(rows):
        x = jac.points(k, shown) if with_points else None
        for p, j in enumerate(shown):
            base = p * group
            cells = ([("$x_t$", None)] if with_points else []) + [(W_VECTOR_TITLES[n], n) for n in names]
            for c, (title, n) in enumerate(cells):
                ax = axes[k, base + c]
                ax.set_xticks([])
                ax.set_yticks([])
                ax.grid(False)
                if n is None:
                    if x is not None:
                        _show_point(ax, r, x[p], view)
                else:
                    _show_vector(ax, vectors[n][k, p], view)
                if k == 0:
                    ax.set_title(f"{title}" + (f"  (point {j})" if c == 0 else ""), fontsize=8, pad=2)
        # vector_index is the first vector_done rows of index: row k is written time k.
        axes[k, 0].set_ylabel(f"t = {jac.listed[k]:g}", fontsize=8)


def figure_w5(runs, stem, warn=warn, points=2):
    """The named vectors of the first `points` analysed points at every time
    (rows), one block per drift, like the paper's Fig. 2: the point itself
    first where the file has /jacobian/points."""
    runs = [r for r in _jacobian_runs(runs, warn, ()) if r.jacobian.vector_names and r.jacobian.vector_done]
    labels = legend_labels(runs)
    heights = [0.9 * r.jacobian.vector_done + 0.6 for r in runs]
    width = max([(len(r.jacobian.vector_names) + (r.jacobian.points_shape is not None) + 0.25)
                 * min(points, r.jacobian.M) for r in runs] or [1])
    head = 0.5
    fig = plt.figure(figsize=(0.9 * width + 0.8, sum(heights) + head))
    parts = fig.subfigures(len(runs) + 1, 1, height_ratios=[head] + heights)
    parts[0].suptitle("Singular vectors ($u_\\pm$, $v_\\pm$: of the smallest and largest $s_i$) and "
                      "eigenvectors of $(J + J^T)/2$ ($w_0$: smallest $|\\lambda|$, $w_\\pm$: most negative "
                      "and most positive $\\lambda$); red +, blue -, each scaled to its largest |component|",
                      fontsize=9, y=0.5, va="center")
    for sub, r, label in zip(parts[1:], runs, labels):
        _w5_run(sub, r, label, points, warn)
    return save(fig, stem, tight=False)


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
    # W is drawn as its parts (PARTS); its own entry says whether any applies.
    "W": (None, _w_applies(()), "the Jacobian analysis: W1-W5"),
    "W1": (figure_w1, _w_applies(("singular_values",)),
           "singular spectra of the drift's Jacobian per time, against the 1/sigma_t^2 floor"),
    "W2": (figure_w2, _w_applies(("local_dimension",)),
           "local dimension r_t per time and drift (distribution over the analysed points)"),
    "W3": (figure_w3, _w_applies(("cosines",)),
           "cosines u_i . v_i of the singular vectors against i, per drift and time"),
    "W4": (figure_w4, lambda runs: any(_w_applies((name,))(runs) for name, _ in W4_PAIRS),
           "overlaps Phi_n of the local subspaces (u, v), (u, w), (v, w) against n"),
    "W5": (figure_w5, lambda runs: any(r.jacobian is not None and r.jacobian.vector_names
                                       and r.jacobian.vector_done for r in runs),
           "the named singular and eigenvectors as images, per time (paper's Fig. 2)"),
}

# Experiments drawn as several figures.
PARTS = {"W": ("W1", "W2", "W3", "W4", "W5")}

# What each figure needs of the runs (README's table), for messages.
NEEDS = {"F1": "[diagnostics] density_bins > 0 and d = 1",
         "F2": "final samples of d = 2 or 3",
         "F3a": "[diagnostics] nearest = yes",
         "F3b": "image data, [diagnostics] nearest = yes and samples (a complete run, or trajectories)",
         "F4": "[diagnostics] novikov = yes",
         "S": "sweep tasks with two or more numeric values of a swept key, and diagnostics",
         "W": "a Jacobian analysis (/jacobian: a [jacobian] section, or sgmrun jacobian)",
         "W1": "/jacobian/singular_values", "W2": "/jacobian/local_dimension",
         "W3": "/jacobian/cosines", "W4": "/jacobian/overlap_uv, overlap_uw or overlap_vw",
         "W5": "/jacobian/vectors ([jacobian] save_vectors = named or all)"}


def figures_for(experiment, runs):
    """The figure ids to draw for a group of runs: the named experiment's,
    or, for runs that name none (or whose files cannot make their
    experiment's figure, e.g. a sweep of one task), every figure the files
    support."""
    if experiment in PARTS:
        parts = [k for k in PARTS[experiment] if FIGURES[k][1](runs)]
        if parts:
            return parts
    elif experiment in FIGURES and FIGURES[experiment][1](runs):
        return [experiment]
    return [k for k, (function, applies, _) in FIGURES.items() if function and applies(runs)]


def figure_name(prefix, experiment, fid):
    """The file stem of figure fid of a group: PREFIX.png for the figure of
    the experiment the prefix ends in (smoke-F3a), PREFIX + the part's
    number for a part of it (smoke-W1), else PREFIX-ID."""
    if experiment and prefix.endswith(experiment):
        if fid == experiment:
            return prefix
        if fid in PARTS.get(experiment, ()):
            return prefix + fid[len(experiment):]
    return f"{prefix}-{fid}"


def draw(experiment, runs, out_dir, prefix, warn=warn):
    """Draws the figures of `experiment` (or every applicable one) for runs
    into out_dir as PREFIX-ID.png/.pdf (PREFIX.png/.pdf for the figure of
    the experiment the prefix ends in, as a group's name does); returns
    {id: [paths]}.  warn(message) hears what a figure leaves out."""
    done = {}
    for fid in figures_for(experiment, runs):
        name = figure_name(prefix, experiment, fid)
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
        jacobian_table = None
        for fid, paths in drawn.items():
            if fid == "S":
                table = os.path.splitext(paths[0])[0] + ".csv"
                write_table([final_row(r) for r in members], table)
                paths = paths + [table]
            if fid in PARTS["W"] and jacobian_table is None:
                jacobian_table = os.path.join(out, figure_name(group, exp, "W") + ".csv")
                write_jacobian_table(members, jacobian_table)
                paths = paths + [jacobian_table]
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
