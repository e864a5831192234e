"""The results report (analysis/report, post.py): one self-contained HTML
page of a group of runs, their figures embedded as PNG data and a table of
each run's configuration summary and key numbers (for a Jacobian analysis,
experiment W: the times analysed and the median local dimension at each)."""
import base64
import datetime
import html
import os

import numpy as np

from sgm_figures import FIGURES, draw_all
from sgm_results import final_row

STYLE = """
body { font-family: sans-serif; margin: 1.5em auto; max-width: 1300px; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; border-bottom: 1px solid #ccc; margin-top: 2em; }
table { border-collapse: collapse; font-size: 0.8em; margin: 0.8em 0; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: left; vertical-align: top; }
th { background: #f0f0f0; } td.num { text-align: right; font-family: monospace; }
td.bad { color: #b00; font-weight: bold; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { font-size: 0.85em; color: #555; }
.meta { font-size: 0.85em; color: #555; }
"""

# Marks the page once loaded with how many images it holds and how many did
# not decode (data-images, data-broken-images on <body>): what a headless
# browser can check.
CHECK_IMAGES = """<script>
window.addEventListener("load", function () {
  var images = document.images, broken = 0;
  for (var i = 0; i < images.length; i++)
    if (!images[i].complete || images[i].naturalWidth === 0) broken++;
  document.body.setAttribute("data-images", images.length);
  document.body.setAttribute("data-broken-images", broken);
});
</script>"""

NUMBERS = [("memorized_fraction", "memorised fraction"),
           ("mean_nearest_distance", "mean nearest distance"),
           ("novikov_log_mean_exp", "log E[exp I]"),
           ("mean_score_error", "mean ‖s − ∇log p̂_t‖")]


def _wall(run):
    try:
        start = datetime.datetime.fromisoformat(run.attrs["start_time"].replace("Z", "+00:00"))
        end = datetime.datetime.fromisoformat(run.attrs["end_time"].replace("Z", "+00:00"))
        return f"{(end - start).total_seconds():.0f} s"
    except (KeyError, ValueError):
        return ""


def _number(value):
    return f"{value:.4g}" if value is not None else ""


def _jacobian_times(runs):
    """The listed times of the runs' Jacobian analyses, ascending, each once."""
    times = []
    for r in runs:
        if r.jacobian is not None:
            for t in r.jacobian.planned:
                if not any(np.isclose(t, u, rtol=1e-9, atol=0) for u in times):
                    times.append(float(t))
    return sorted(times)


def _jacobian_cells(run, times):
    """The Jacobian columns of a run: times written of those listed, and
    the median local dimension at each of `times` (empty where not written)."""
    jac = run.jacobian
    if jac is None:
        return ["<td></td>"] + ["<td></td>" for _ in times]
    short = jac.done < len(jac.planned)
    cells = [f"<td class=\"{'bad' if short else 'num'}\">{jac.done}/{len(jac.planned)}</td>"]
    ld = jac.series("local_dimension")
    for t in times:
        hit = np.flatnonzero(np.isclose(jac.listed, t, rtol=1e-9, atol=0))
        value = float(np.median(ld[hit[0]])) if ld is not None and len(hit) else None
        cells.append(f"<td class=\"num\">{'' if value is None else f'{value:g}'}</td>")
    return cells


def run_table(runs, base):
    keys = []
    for r in runs:
        keys += [k for k in r.swept if k not in keys]
    times = _jacobian_times(runs)
    jacobian = any(r.jacobian is not None for r in runs)
    head = (["file", "status"] + keys + ["drift", "data", "sampler", "ranks (grid)", "seed",
                                         "wall", "t (last saved)"] + [label for _, label in NUMBERS])
    if jacobian:
        head += ["Jacobian: times analysed"] + [f"median local dimension r_t, t = {t:g}" for t in times]
    out = ["<table>", "<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>"]
    for r in runs:
        last = final_row(r)
        cells = [f"<td>{html.escape(os.path.relpath(r.path, base))}</td>",
                 f"<td class=\"{'' if r.status == 'complete' else 'bad'}\">{html.escape(r.status)}</td>"]
        cells += [f"<td>{html.escape(r.swept.get(k, ''))}</td>" for k in keys]
        cells += [f"<td>{html.escape(str(v))}</td>" for v in
                  (r.drift, r.attrs.get("data", ""), r.attrs.get("sampler", ""),
                   f"{r.attrs.get('mpi_ranks', '')} ({r.attrs.get('grid', '')})",
                   r.attrs.get("seed", ""), _wall(r))]
        cells.append(f"<td class=\"num\">{_number(float(r.time[-1]) if r.saved else None)}</td>")
        cells += [f"<td class=\"num\">{_number(last[name])}</td>" for name, _ in NUMBERS]
        if jacobian:
            cells += _jacobian_cells(r, times)
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def _embed(png):
    with open(png, "rb") as f:
        data = base64.b64encode(f.read()).decode()
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(os.path.basename(png))}">'


def write_report(results_dir, runs, title=None, out=None, figures=None, log=print):
    """Writes the report of runs (read from results_dir); `figures` are
    draw_all's [(group, id, paths)] when already drawn, else they are drawn
    into results_dir/figures.  Returns the page's path."""
    if figures is None:
        figures = draw_all(runs, os.path.join(results_dir, "figures"), log=log)
    out = out or os.path.join(results_dir, "report.html")
    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    title = title or os.path.basename(os.path.abspath(results_dir))
    versions = sorted({f"sgmrun {r.attrs.get('version', '?')} (git {r.attrs.get('git_commit', '?')})"
                       for r in runs})
    complete = sum(r.status == "complete" for r in runs)
    page = ["<!DOCTYPE html>", "<html lang=\"en\"><head><meta charset=\"utf-8\">",
            f"<title>sgmrun results: {html.escape(title)}</title>",
            f"<style>{STYLE}</style></head><body>",
            f"<h1>sgmrun results: {html.escape(title)}</h1>",
            f"<p class=\"meta\">{len(runs)} run(s) in {html.escape(os.path.abspath(results_dir))}, "
            f"{complete} complete; written {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}"
            f" by analysis/report; {html.escape(', '.join(versions))}</p>"]
    groups = {}
    for r in runs:
        groups.setdefault(r.group, []).append(r)
    for group, members in groups.items():
        page.append(f"<h2 id=\"{html.escape(group)}\">{html.escape(group)}</h2>")
        for g, fid, paths in figures:
            if g in (group, members[0].experiment) and fid in FIGURES:
                png = next(p for p in paths if p.endswith(".png"))
                page.append(f"<figure>{_embed(png)}<figcaption>{fid}: "
                            f"{html.escape(FIGURES[fid][2])} "
                            f"({html.escape(os.path.relpath(png, os.path.dirname(out)))}, "
                            f"PDF beside it)</figcaption></figure>")
        page.append(run_table(members, results_dir))
    page.append(CHECK_IMAGES)
    page.append("</body></html>")
    with open(out, "w", encoding="utf-8") as f:
        f.write("\n".join(page) + "\n")
    return out
