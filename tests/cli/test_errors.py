#!/usr/bin/python3
"""Bad input to the command line: each case gets one clear message from
rank 0 naming the input, the documented exit status (1 error, 2 usage), no
hang (every run has a timeout) and no output file left behind."""
import glob
import os

import h5py
import numpy as np

from sgmrun_test import check, finish, run, scratch, write_config

work = scratch("cli-errors")
good = write_config(os.path.join(work, "good.ini"), "[data]\nsource = gmm\nmeans = -1, 1\nn = 50\n")
points = os.path.join(work, "points.h5")
with h5py.File(points, "w") as f:
    f["points"] = np.linspace(-2, 2, 8).reshape(8, 1)
wide = os.path.join(work, "wide.h5")
with h5py.File(wide, "w") as f:
    f["points"] = np.zeros((4, 3))
nan = os.path.join(work, "nan.h5")
with h5py.File(nan, "w") as f:
    f["points"] = np.array([[0.0], [np.nan], [1.0]])
notes = os.path.join(work, "notes.txt")
with open(notes, "w") as f:
    f.write("not hdf5\n")
out = os.path.join(work, "out.h5")

# Damaged data files: a gzip IDX cut short, an .npy with a NaN.
import gzip
import struct
idx = os.path.join(work, "cut.idx.gz")
payload = struct.pack(">BBBBI", 0, 0, 8, 2, 100) + struct.pack(">I", 1) + bytes(range(100))
with open(idx, "wb") as f:
    f.write(gzip.compress(payload)[:-20])
cut = write_config(os.path.join(work, "cut.ini"), f"[data]\nsource = idx\npath = {idx}\n")
npy = os.path.join(work, "nan.npy")
np.save(npy, np.array([[0.0], [1.0], [np.nan], [2.0]]))
nan_data = write_config(os.path.join(work, "nandata.ini"), f"[data]\nsource = npy\npath = {npy}\n")
klass = write_config(os.path.join(work, "class.ini"), "[data]\nsource = fashion-mnist\nclasses = 3, 12\n")
big_n = write_config(os.path.join(work, "bign.ini"), "[data]\nsource = fashion-mnist\nsplit = test\nn = 20000\n")
typo = write_config(os.path.join(work, "typo.ini"), "[sampler]\nstpes = 10\n")
bad_section = write_config(os.path.join(work, "section.ini"), "[sampeler]\nsteps = 10\n")
bad_value = write_config(os.path.join(work, "value.ini"), "[sde]\nkind = vx\n")
tmin = write_config(os.path.join(work, "tmin.ini"), "[sde]\nT = 1\nt_min = 2\n")
missing_data = write_config(os.path.join(work, "nodata.ini"),
                            "[data]\nsource = idx\npath = /nonexistent/images.idx\n")


def score(*extra, config=good):
    return ["score", config, "--points", points, "--t", "0.5", "--output", out] + list(extra)


cases = [
    # (arguments, exit status, text the one message must contain)
    (["frobnicate"], 2, "unknown command 'frobnicate'"),
    (["score", good, "--t", "0.5", "--output", out], 2, "--points IN.h5 is required"),
    (score("--bogus", "1"), 2, "unknown option '--bogus'"),
    (score("--t", "0"), 2, "outside (0, T]"),
    (score("--t", "2"), 2, "outside (0, T]"),
    (score("--t", "soon"), 2, "expected a real number"),
    (score("--set", "nonsense"), 2, "expected section.key=value"),
    (["config", "/nonexistent/x.ini"], 1, "cannot read configuration"),
    (["config", typo], 1, "did you mean 'steps'"),
    (["config", bad_section], 1, "did you mean [sampler]"),
    (["config", bad_value], 1, "expected one of vp, ve, ou"),
    (["config", tmin], 1, "t_min"),
    (["config", good, "--set", "sde.kind=vx"], 1, "expected one of vp, ve, ou"),
    (score(config=missing_data), 1, "/nonexistent/images.idx"),
    (score(config=cut), 1, "cut.idx.gz"),
    (score(config=nan_data), 1, "example 2 contains NaN"),
    (score(config=klass), 1, "unknown class 12"),
    (score(config=big_n), 1, "n = 20000"),
    (["score", good, "--points", "/nonexistent/p.h5", "--t", "0.5", "--output", out], 1, "cannot read"),
    (["score", good, "--points", notes, "--t", "0.5", "--output", out], 1, "not an HDF5 file"),
    (["score", good, "--points", points, "--points-dataset", "/x", "--t", "0.5", "--output", out], 1,
     "no dataset /x"),
    (["score", good, "--points", wide, "--t", "0.5", "--output", out], 1, "has 3 columns"),
    (["score", good, "--points", nan, "--t", "0.5", "--output", out], 1, "row 1 of /points contains NaN"),
    (["score", good, "--points", points, "--t", "0.5", "--output", "/nonexistent/dir/o.h5"], 1,
     "does not exist"),
    (score("--set", "grid.rows=3"), 1, "must divide"),
    (score("--set", "drift.model=plugin"), 1, "[drift] plugin is required"),
    (score("--set", "drift.model=plugin", "--set", "drift.plugin=x.so"), 1, "[drift] plugin 'x.so' ("),
]

# Every case on 2 ranks (where a hang or a doubled message would show), and
# a sample on 1 rank.
runs = [(2, case) for case in cases] + [(1, cases[i]) for i in (1, 8, 13, 18)]
for ranks, (args, want_status, want_text) in runs:
    if True:
        for leftover in glob.glob(out + "*"):
            os.remove(leftover)
        status, stdout, stderr = run(args, ranks, timeout=120)
        label = f"{' '.join(args[:1] + args[-2:])} on {ranks} rank(s)"
        check(status == want_status, f"{label}: exit {status}, expected {want_status}; stderr: {stderr}")
        errors = [line for line in stderr.splitlines() if line.startswith("sgmrun: error:")]
        check(len(errors) == 1 and want_text in errors[0],
              f"{label}: expected one error line containing {want_text!r}; stderr: {stderr}")
        check(not glob.glob(out + "*"), f"{label}: left {glob.glob(out + '*')} behind")

# A good run works (so that the cases above fail for their own reason).
status, _, stderr = run(score(), 2)
check(status == 0 and os.path.exists(out), f"the good configuration runs: {stderr}")
finish()
