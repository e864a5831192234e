#!/usr/bin/python3
"""A table of malformed inputs to sgmrun (issue 4, item 5).

Every row builds one bad input -- configuration text, --set overrides, a
damaged data file generated here, bad --points -- runs one command (run,
score, config or sweep) on 1 or 2 ranks and asserts:

  * the process ends within TIMEOUT seconds (no hang);
  * the exit status is the expected one, and non-zero;
  * nothing that looks like a crash: no core dump, signal, abort, sanitizer
    report, MPI_ABORT, HDF5 error stack or Python traceback;
  * stderr holds exactly one line "sgmrun: error: ...", and that line
    matches every regex of the row (the cause and the input's name: the key
    as "[section] key", the file path, the line number);
  * no output file is marked complete (an output file either does not
    exist or its root attribute status is not "complete").

The "ranks" rows are the exception: more ranks than training examples,
particles or points is a supported layout (empty shards and slices), so
those rows expect status 0, no message, a complete file and the 1-rank
result.  The "memory" rows run under an address-space limit (RLIMIT_AS), so
that an allocation too large for the machine fails at once instead of being
overcommitted and killed later; they are skipped in a sanitizer build.

Rows run one after the other; one line per row says PASS or FAIL (with the
reasons); the test fails at the end listing every failed row.  A row marked
known=... is a defect outside this test's reach: it is reported as XFAIL
(XPASS once fixed) and does not fail the test.  Before the rows, controls
check that every undamaged input works, so that a row fails for its damage.
"""
import glob
import gzip
import hashlib
import os
import re
import resource
import shutil
import struct
import subprocess
import sys
import time

import h5py
import numpy as np

from sgmrun_test import FASHION, MPIEXEC, SGMRUN, scratch

TIMEOUT = 60
ERROR = re.compile(r"^sgmrun: error:")
# Signs of a crash rather than a clean error (case-sensitive: mpirun's own
# "the job has been aborted" after a non-zero exit is expected).
CRASH = re.compile(r"core dumped|Segmentation|Aborted|AddressSanitizer|LeakSanitizer|"
                   r"runtime error:|MPI_ABORT|on signal|exited on signal|"
                   r"HDF5-DIAG|Traceback|free\(\)|double free|stack smashing")

work = scratch("bad-input")
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
OUT = os.path.join(work, "out")
os.makedirs(OUT)


def path(*parts):
    return os.path.join(work, *parts)


def write(name, data, mode="wb"):
    p = path(name)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, mode) as f:
        f.write(data)
    return p


# ---------------------------------------------------------------------------
# Inputs, good and damaged.  Each format gets a good file too: the controls
# below check that the undamaged file works, so that a row fails for the
# damage it was built with.

rng = np.random.default_rng(4)
GOOD_ROWS = rng.normal(size=(12, 4))


def idx_bytes(array, code=0x08, magic=(0, 0), dims=None):
    """An IDX file: magic, type code, rank, big-endian dims, data."""
    dims = array.shape if dims is None else dims
    kind = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    header = bytes([magic[0], magic[1], code, len(dims)]) + b"".join(struct.pack(">I", n) for n in dims)
    return header + np.ascontiguousarray(array).astype(kind.get(code, ">u1")).tobytes()


def npy_bytes(header_dict_text, payload=b"", magic=b"\x93NUMPY", version=(1, 0)):
    """An .npy file with the given header text (padded as numpy pads it)."""
    text = header_dict_text.encode()
    pad = 64 - (10 + len(text) + 1) % 64
    text = text + b" " * pad + b"\n"
    return magic + bytes(version) + struct.pack("<H", len(text)) + text + payload


def h5(name, **datasets):
    p = path(name)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with h5py.File(p, "w") as f:
        for key, value in datasets.items():
            f[key] = value
    return p


images8 = rng.integers(0, 256, size=(12, 2, 2), dtype=np.uint8)
F = {}
# IDX
F["idx_good"] = write("idx/good.idx", idx_bytes(images8))
F["idx_labels_good"] = write("idx/good-labels.idx", idx_bytes(np.arange(12) % 3))
F["idx_cut"] = write("idx/cut.idx", idx_bytes(images8)[:16 + 4 * 6 + 2])
F["idx_magic"] = write("idx/magic.idx", idx_bytes(images8, magic=(8, 3)))
F["idx_code"] = write("idx/code.idx", idx_bytes(images8, code=0x07))
F["idx_zero"] = write("idx/zero.idx", idx_bytes(images8[:0], dims=(0, 2, 2)))
F["idx_empty"] = write("idx/empty.idx", b"")
nan_f32 = rng.normal(size=(6, 3)).astype(np.float32)
nan_f32[3, 1] = np.nan
F["idx_nan"] = write("idx/nan.idx", idx_bytes(nan_f32, code=0x0D))
inf_f64 = rng.normal(size=(6, 3))
inf_f64[4, 2] = np.inf
F["idx_inf"] = write("idx/inf.idx", idx_bytes(inf_f64, code=0x0E))
F["idx_vast"] = write("idx/vast.idx", idx_bytes(images8, dims=(0xFFFFFFFF, 0xFFFFFFFF, 0xFFFF)))
F["idx_labels_short"] = write("idx/short-labels.idx", idx_bytes(np.arange(7) % 3))
big = rng.integers(0, 256, size=(400, 8, 8), dtype=np.uint8)
gz = gzip.compress(idx_bytes(big))
F["idx_gz_cut"] = write("idx/cut.idx.gz", gz[: len(gz) // 2])
corrupt = bytearray(gz)
for i in range(len(gz) // 3, len(gz) // 3 + 64):
    corrupt[i] ^= 0x5A
F["idx_gz_corrupt"] = write("idx/corrupt.idx.gz", bytes(corrupt))

# Fashion-MNIST directories: the real test labels beside a real image file
# cut short; flipped magic; no labels; a label outside 0..9.
FM = {}
real_images = os.path.join(FASHION, "t10k-images-idx3-ubyte.gz")
real_labels = os.path.join(FASHION, "t10k-labels-idx1-ubyte.gz")
with open(real_images, "rb") as f:
    real_gz = f.read()
with gzip.open(real_labels, "rb") as f:
    real_label_bytes = f.read()
FM["cut"] = path("fm-cut")
os.makedirs(FM["cut"])
write("fm-cut/t10k-images-idx3-ubyte.gz", real_gz[: len(real_gz) // 3])
shutil.copy(real_labels, FM["cut"])
FM["magic"] = path("fm-magic")
os.makedirs(FM["magic"])
head = bytearray(gzip.decompress(real_gz)[: 16 + 784 * 20])
head[0:4] = b"\x00\x00\x08\x01"       # type u8 but rank 1 ...
head[0:2] = b"\x08\x08"               # ... and a broken magic
struct.pack_into(">I", head, 4, 20)
write("fm-magic/t10k-images-idx3-ubyte", bytes(head))
shutil.copy(real_labels, FM["magic"])
FM["nolabels"] = path("fm-nolabels")
os.makedirs(FM["nolabels"])
shutil.copy(real_images, FM["nolabels"])
FM["badlabel"] = path("fm-badlabel")
os.makedirs(FM["badlabel"])
first = gzip.decompress(real_gz)[: 16 + 784 * 30]
first = first[:4] + struct.pack(">I", 30) + first[8:]
write("fm-badlabel/t10k-images-idx3-ubyte", first)
labels30 = bytearray(real_label_bytes[: 8 + 30])
struct.pack_into(">I", labels30, 4, 30)
labels30[8 + 17] = 12
write("fm-badlabel/t10k-labels-idx1-ubyte", bytes(labels30))
FM["empty"] = path("fm-empty")
os.makedirs(FM["empty"])

# CIFAR-10 batches: 3073-byte records (label, 3072 pixels).
def cifar_records(n, label=None):
    recs = rng.integers(0, 256, size=(n, 3073), dtype=np.uint8)
    recs[:, 0] = np.arange(n) % 10 if label is None else label
    return recs.tobytes()


F["cifar_good"] = write("cifar/good.bin", cifar_records(6))
F["cifar_length"] = write("cifar/length.bin", cifar_records(3)[:-1000])
F["cifar_empty"] = write("cifar/empty.bin", b"")
bad = bytearray(cifar_records(5))
bad[3073 * 2] = 12
F["cifar_label"] = write("cifar/label.bin", bytes(bad))
F["cifar_dir"] = path("cifar-nobatches")
os.makedirs(F["cifar_dir"])

# HDF5
F["h5_good"] = h5("h5/good.h5", data=GOOD_ROWS, labels=np.arange(12) % 2)
F["h5_nodata"] = h5("h5/nodata.h5", other=GOOD_ROWS)
F["h5_scalar"] = h5("h5/scalar.h5", data=np.float64(3.0))
nan_rows = GOOD_ROWS.copy()
nan_rows[7, 2] = np.nan
F["h5_nan"] = h5("h5/nan.h5", data=nan_rows)
inf_rows = GOOD_ROWS.copy()
inf_rows[2, 0] = -np.inf
F["h5_inf"] = h5("h5/inf.h5", data=inf_rows)
F["h5_empty"] = h5("h5/empty.h5", data=np.zeros((0, 4)))
F["h5_strings"] = h5("h5/strings.h5", data=np.array([b"ab", b"cd"]))
F["h5_group"] = path("h5/group.h5")
os.makedirs(path("h5"), exist_ok=True)
with h5py.File(F["h5_group"], "w") as f:
    f.create_group("data")
F["h5_floatlabels"] = h5("h5/floatlabels.h5", data=GOOD_ROWS, labels=np.linspace(0, 1, 12))
F["h5_text"] = write("h5/text.h5", b"this is not an HDF5 file\n")
with open(F["h5_good"], "rb") as f:
    h5_good_bytes = f.read()
F["h5_cut"] = write("h5/cut.h5", h5_good_bytes[: len(h5_good_bytes) // 2])
F["h5_one"] = h5("h5/one.h5", data=GOOD_ROWS[:1])

# NPY
F["npy_good"] = path("npy/good.npy")
os.makedirs(path("npy"))
np.save(F["npy_good"], GOOD_ROWS)
np.save(path("npy/good-labels.npy"), np.arange(12) % 3)
F["npy_labels_good"] = path("npy/good-labels.npy")
F["npy_magic"] = write("npy/magic.npy", b"\x93NUMPX" + open(F["npy_good"], "rb").read()[6:])
F["npy_header"] = write("npy/header.npy", npy_bytes("{'descr': '<f8', 'fortran_order': False, }",
                                                    GOOD_ROWS.tobytes()))
F["npy_garbage"] = write("npy/garbage.npy", npy_bytes("{'descr': '<f8', 'shape': (12, x4), "
                                                     "'fortran_order': False, }", GOOD_ROWS.tobytes()))
F["npy_dtype"] = path("npy/complex.npy")
np.save(F["npy_dtype"], GOOD_ROWS.astype(np.complex128))
F["npy_fortran"] = path("npy/fortran.npy")
np.save(F["npy_fortran"], np.asfortranarray(GOOD_ROWS))
F["npy_shape"] = write("npy/shape.npy", npy_bytes("{'descr': '<f8', 'fortran_order': False, "
                                                  "'shape': (20, 4), }", GOOD_ROWS.tobytes()))
F["npy_nan"] = path("npy/nan.npy")
np.save(F["npy_nan"], nan_rows)
F["npy_inf"] = path("npy/inf.npy")
np.save(F["npy_inf"], inf_rows)
F["npy_empty"] = path("npy/empty.npy")
np.save(F["npy_empty"], np.zeros((0, 4)))
F["npy_zero_bytes"] = write("npy/zero.npy", b"")
F["npy_version"] = write("npy/version.npy", npy_bytes("{'descr': '<f8', 'fortran_order': False, "
                                                    "'shape': (12, 4), }", GOOD_ROWS.tobytes(),
                                                    version=(9, 0)))
F["npy_float_labels"] = path("npy/float-labels.npy")
np.save(F["npy_float_labels"], np.linspace(0, 1, 12))
F["npy_short_labels"] = path("npy/short-labels.npy")
np.save(F["npy_short_labels"], np.arange(5))
F["npy_const"] = path("npy/const.npy")
np.save(F["npy_const"], np.full((6, 3), 2.5))
F["npy_one"] = path("npy/one.npy")
np.save(F["npy_one"], GOOD_ROWS[:1])

F["npy_vast"] = write("npy/vast.npy", npy_bytes("{'descr': '<f8', 'fortran_order': False, "
                                                "'shape': (4611686018427387904, 4), }", GOOD_ROWS.tobytes()))
F["npy_huge"] = path("npy/huge.npy")
np.save(F["npy_huge"], np.array([[0.0], [1e200], [1.0]]))
F["npy_wide"] = path("npy/wide.npy")
np.save(F["npy_wide"], np.array([[1e308], [-1e308], [0.0]]))

# --points files
P = {}
P["p1"] = h5("points/p1.h5", points=np.linspace(-2, 2, 6).reshape(6, 1))
P["p4"] = h5("points/p4.h5", points=rng.normal(size=(5, 4)))
P["p3"] = h5("points/p3.h5", points=np.zeros((4, 3)))
P["nan"] = h5("points/nan.h5", points=np.array([[0.0], [1.0], [np.inf]]))
P["empty"] = h5("points/empty.h5", points=np.zeros((0, 1)))
P["strings"] = h5("points/strings.h5", points=np.array([b"a", b"b"]))
P["rank3"] = h5("points/rank3.h5", points=np.zeros((2, 2, 2)))
P["text"] = write("points/text.h5", b"plain text\n")
P["cut"] = write("points/cut.h5", open(P["p1"], "rb").read()[:800])
P["huge"] = h5("points/huge.h5", points=np.array([[0.5], [1e200], [-1.0]]))
P["one4"] = h5("points/one4.h5", points=rng.normal(size=(1, 4)))
# 10^5 points in d = 10^5, declared but never written (a small file): 80 GB
# per result array.
P["vast"] = path("points/vast.h5")
with h5py.File(P["vast"], "w") as f:
    f.create_dataset("points", shape=(100000, 100000), dtype="f8", chunks=(1, 1000))

# ---------------------------------------------------------------------------
# Configurations.

TINY = "[sampler]\nsteps = 4\nparticles = 4\n[output]\nevery = 2\n"
GMM_DATA = "[data]\nsource = gmm\nmeans = -1, 1\nn = 20\n"
GMM = GMM_DATA + TINY


def data_cfg(source, file_path, extra=""):
    return f"[data]\nsource = {source}\npath = {file_path}\n{extra}" + TINY


# ---------------------------------------------------------------------------
# The table.  Columns: name, category, command (run, score, config, sweep),
# config (text, or ("path", p) for a file given as is), --set overrides,
# further arguments (for score they replace the defaults --points, --t,
# --output), ranks, expected exit status, regexes the error line must match;
# optional pre (a callable run before, returning state), post (a callable
# given that state, returning a list of problems; "compare" for a status-0
# row: the same results as on 1 rank), known (a defect this test cannot
# fix: the row is an expected failure, "# KNOWN: ..."), check_output (False
# when the row's output exists beforehand), limit_gb (RLIMIT_AS per process).

rows = []


def row(name, category, command, config, sets=(), extra=(), ranks=2, status=1, expect=(),
        pre=None, post=None, known=None, check_output=True, limit_gb=None):
    rows.append(dict(name=name, category=category, command=command, config=config, sets=list(sets),
                     extra=list(extra), ranks=ranks, status=status, expect=list(expect), pre=pre,
                     post=post, known=known, check_output=check_output, limit_gb=limit_gb))


E = re.escape

# -- configuration syntax ---------------------------------------------------
row("syntax: line without '='", "syntax", "config", "[sampler]\nsteps 10\n", ranks=1,
    expect=[r"syntax\.ini:2", r"steps 10|'='|key = value"])
row("syntax: unclosed section header", "syntax", "config", "[sampler\nsteps = 10\n",
    expect=[r"syntax\.ini:1", r"\[sampler|section"])
row("syntax: key before any section", "syntax", "run", "steps = 10\n[sampler]\nparticles = 4\n", ranks=1,
    expect=[r"syntax\.ini:1", r"steps", r"section"])
row("syntax: line longer than 199 characters", "syntax", "config",
    "[data]\nsource = gmm\nmeans = " + ", ".join(["1.0"] * 70) + "\n",
    expect=[r"syntax\.ini:3", r"longer than 199"])
row("syntax: missing configuration file", "syntax", "run", ("path", path("nonexistent.ini")),
    expect=[r"cannot read configuration", E(path("nonexistent.ini"))])
row("syntax: configuration is a directory", "syntax", "config", ("path", work), ranks=1,
    expect=[r"cannot read configuration|directory|not a regular file", E(work)])
row("syntax: binary garbage", "syntax", "config", "\x00\x01\x02[\xff\xfe]\n= =\n",
    expect=[r"syntax\.ini", r"NUL byte"])
row("syntax: key set twice", "syntax", "run", GMM + "[sampler]\nsteps = 8\n", ranks=1,
    expect=[r"syntax\.ini:11", r"\[sampler\] steps is set twice, on lines 6 and 11"])
row("syntax: value with a control character", "syntax", "config", "[run]\nname = a\x07b\n", ranks=1,
    expect=[r"syntax\.ini:2", r"\[run\] name"])
row("syntax: --set without '='", "syntax", "run", GMM, sets=["sampler.steps"], status=2,
    expect=[r"--set", r"sampler\.steps", r"section\.key=value"])

# -- unknown sections and keys ------------------------------------------------
row("unknown key (typo)", "unknown", "config", "[sampler]\nstpes = 10\n",
    expect=[r"unknown\.ini:2", r"stpes", r"did you mean 'steps'"])
row("unknown section", "unknown", "run", "[sampeler]\nsteps = 10\n", ranks=1,
    expect=[r"unknown\.ini:1", r"sampeler", r"did you mean \[sampler\]"])
row("unknown key via --set", "unknown", "score", GMM, sets=["sampler.stepz=3"],
    expect=[r"--set sampler\.stepz=3", r"stepz", r"steps"])
row("unknown section via --set", "unknown", "config", GMM, sets=["sampeler.steps=3"], ranks=1,
    expect=[r"--set sampeler\.steps=3", r"sampeler"])
row("unknown key in [sweep]", "unknown", "sweep", GMM + "[sweep]\nsampler.stpes = 1, 2\n",
    extra=["--count"], expect=[r"unknown\.ini:\d+", r"stpes", r"steps"])

# -- wrong types --------------------------------------------------------------
row("type: steps is a word", "type", "run", GMM, sets=["sampler.steps=ten"],
    expect=[r"\[sampler\] steps", r"'ten'", r"integer"])
row("type: particles is fractional", "type", "config", GMM_DATA + "[sampler]\nparticles = 1.5\n", ranks=1,
    expect=[r"\[sampler\] particles", r"1\.5", r"integer"])
row("type: bool is 'maybe'", "type", "config", GMM + "[sampler]\ndenoise = maybe\n",
    expect=[r"\[sampler\] denoise", r"maybe", r"yes or no"])
row("type: unknown choice", "type", "score", GMM, sets=["sde.kind=vx"],
    expect=[r"\[sde\] kind", r"vx", r"one of vp, ve, ou"])
row("type: means of different lengths", "type", "config",
    "[data]\nsource = gmm\nmeans = 1;2, 3\nn = 5\n",
    expect=[r"\[data\] means", r"vector 1 has 2 components and vector 2 has 1"])
row("type: negative seed", "type", "config", GMM, sets=["run.seed=-1"], ranks=1,
    expect=[r"\[run\] seed", r"-1"])
row("type: integer overflow", "type", "run", GMM, sets=["sampler.steps=99999999999999999999"],
    expect=[r"\[sampler\] steps", r"99999999999999999999"])
row("type: density_range lo >= hi", "type", "config", GMM + "[diagnostics]\ndensity_range = 4, -4\n",
    expect=[r"\[diagnostics\] density_range", r"lo < hi"])
row("type: duplicate classes", "type", "config", GMM, sets=["data.classes=3, 3"], ranks=1,
    expect=[r"\[data\] classes", r"distinct"])

# -- out-of-range values --------------------------------------------------------
row("range: negative steps", "range", "run", GMM, sets=["sampler.steps=-5"],
    expect=[r"\[sampler\] steps", r"-5", r">= 1"])
row("range: zero particles", "range", "run", GMM_DATA + "[sampler]\nparticles = 0\nsteps = 4\n", ranks=1,
    expect=[r"\[sampler\] particles", r">= 1"])
row("range: t_min > T", "range", "run", GMM + "[sde]\nT = 1\nt_min = 2\n",
    expect=[r"\[sde\] t_min = 2", r"less than", r"\[sde\] T = 1"])
row("range: t_min = T", "range", "score", GMM, sets=["sde.t_min=1"],
    expect=[r"\[sde\] t_min = 1", r"\[sde\] T = 1"])
row("range: bandwidth = 0", "range", "run", GMM + "[drift]\nmodel = smoothed\nbandwidth = 0\n",
    expect=[r"\[drift\] bandwidth", r"> 0"])
row("range: bandwidth < 0", "range", "score", GMM, sets=["drift.model=smoothed", "drift.bandwidth=-0.1"],
    ranks=1, expect=[r"\[drift\] bandwidth", r"-0\.1", r"> 0"])
row("range: magnitude NaN", "range", "run", GMM + "[perturb]\nkind = constant\nmagnitude = nan\n",
    expect=[r"\[perturb\] magnitude", r"nan", r"real number"])
row("range: magnitude Inf via --set", "range", "config", GMM, sets=["perturb.magnitude=inf"], ranks=1,
    expect=[r"\[perturb\] magnitude", r"inf", r"real number"])
row("range: beta_max < beta_min", "range", "config", GMM + "[sde]\nbeta_min = 5\nbeta_max = 1\n",
    expect=[r"\[sde\] beta_max = 1", r"\[sde\] beta_min = 5"])
row("range: ve sigma_max <= sigma_min", "range", "run", GMM + "[sde]\nkind = ve\nsigma_max = 0.001\n",
    expect=[r"\[sde\] sigma_max", r"\[sde\] sigma_min"])
row("range: score --t 0", "range", "score", GMM, extra=["--t", "0"], status=2,
    expect=[r"--t 0", r"outside \(0, T\]"])
row("range: grid rows do not divide the ranks", "range", "run", GMM, sets=["grid.rows=3"],
    expect=[r"\[grid\] rows = 3", r"divide"])
row("range: jacobian time beyond T", "range", "config", GMM + "[jacobian]\ntimes = 0.1, 2\n",
    expect=[r"\[jacobian\] times", r"2", r"\[sde\] T"])
row("range: run --task beyond the sweep", "range", "run", GMM + "[sweep]\nsampler.steps = 2, 4\n",
    extra=["--task", "5"], status=2, expect=[r"--task 5", r"2 tasks"])
row("range: invalid value in [sweep]", "range", "sweep", GMM + "[sweep]\nsampler.steps = 4, -1\n",
    extra=["--count"], ranks=1, expect=[r"\[sampler\] steps|sampler\.steps", r"-1"])

# -- inconsistent combinations ----------------------------------------------------
row("combo: --points d != data d", "combo", "score", GMM, extra=["--points", P["p3"]],
    expect=[E(P["p3"]), r"3 columns", r"d = 1"])
row("combo: smoothed without bandwidth", "combo", "run", GMM, sets=["drift.model=smoothed"], ranks=1,
    expect=[r"\[drift\] bandwidth is required", r"smoothed"])
row("combo: drift gmm with file data", "combo", "config", data_cfg("npy", "x.npy", "") +
    "[drift]\nmodel = gmm\n", expect=[r"\[drift\] model = gmm", r"source = gmm", r"\[data\] source = npy"])
row("combo: prior_value length != dim", "combo", "run", GMM + "[sampler]\nprior = point\nprior_value = 1, 2, 3\n",
    expect=[r"\[sampler\] prior_value", r"3 values", r"\[data\] dim"])
row("combo: prior_value length != image d", "combo", "run",
    data_cfg("npy", F["npy_good"], "") + "[sampler]\nprior = point\nprior_value = 1, 2, 3\n",
    expect=[r"\[sampler\] prior_value|prior_value", r"3", r"4"])
row("combo: sphere intrinsic >= dim", "combo", "config",
    "[data]\nsource = sphere\ndim = 3\nintrinsic = 3\nn = 10\n", ranks=1,
    expect=[r"\[data\] intrinsic = 3", r"\[data\] dim = 3"])
row("combo: gmm variances count", "combo", "config",
    "[data]\nsource = gmm\nmeans = -1, 0, 1\nvariances = 1, 2\nn = 10\n",
    expect=[r"\[data\] variances has 2 values", r"3 vectors"])
row("combo: ei with the gmm drift", "combo", "run", GMM, sets=["sampler.method=ei", "drift.model=gmm"],
    expect=[r"\[sampler\] method = ei|method = em", r"gmm"])
row("combo: classes without labels", "combo", "score", data_cfg("npy", F["npy_good"], "classes = 1\n"),
    extra=["--points", P["p4"]], expect=[r"\[data\] classes", r"labels", r"npy"])
row("combo: data.n beyond the examples", "combo", "run", data_cfg("npy", F["npy_good"], "n = 50\n"),
    expect=[r"\[data\] n = 50", r"only 12"])
row("combo: class not in the data", "combo", "run",
    data_cfg("npy", F["npy_good"], f"labels = {F['npy_labels_good']}\nclasses = 7\n"), ranks=1,
    expect=[r"\[data\] classes", r"unknown class 7"])
row("combo: scale on constant data", "combo", "run", data_cfg("npy", F["npy_const"], "scale = unit\n"),
    expect=[E(F["npy_const"]), r"scale = unit", r"2\.5"])
# A Jacobian analysis whose d x d matrices cannot fit the node is refused
# before any work, naming the size and the way out (a larger grid).
row("combo: fd Jacobian of a 100 000-dim problem", "combo", "run",
    "[data]\nsource = subspace\ndim = 100000\nintrinsic = 2\nn = 4\n[jacobian]\nmethod = fd\n"
    "points = 4\n" + TINY,
    expect=[r"\[jacobian\]", r"d = 100000", r"GiB per rank", r"larger PxQ"])
row("combo: Jacobian points beyond the particles", "combo", "run",
    GMM_DATA + "[jacobian]\npoints = 9\nblock = 1\n" + TINY,
    expect=[r"\[jacobian\] points = 9", r"\[sampler\] particles = 4"])
# The float32 kernel is not implemented yet: refused, not ignored.

# -- --points --------------------------------------------------------------------
row("points: missing file", "points", "score", GMM, extra=["--points", path("nope.h5")],
    expect=[r"--points", E(path("nope.h5")), r"cannot read"])
row("points: not HDF5", "points", "score", GMM, extra=["--points", P["text"]], ranks=1,
    expect=[E(P["text"]), r"not an HDF5 file"])
row("points: truncated HDF5", "points", "score", GMM, extra=["--points", P["cut"]],
    expect=[E(P["cut"]), r"cannot open|truncated|not an HDF5"])
row("points: Inf value", "points", "score", GMM, extra=["--points", P["nan"]],
    expect=[E(P["nan"]), r"row 2 of /points contains Inf"])
row("points: empty", "points", "score", GMM, extra=["--points", P["empty"]], ranks=1,
    expect=[E(P["empty"]), r"empty"])
row("points: strings", "points", "score", GMM, extra=["--points", P["strings"]],
    expect=[E(P["strings"]), r"not numeric"])
row("points: rank 3", "points", "score", GMM, extra=["--points", P["rank3"]],
    expect=[E(P["rank3"]), r"3 dimensions"])

# -- IDX -------------------------------------------------------------------------
row("idx: missing file", "idx", "run", data_cfg("idx", path("idx/none.idx")),
    expect=[E(path("idx/none.idx")), r"cannot open|No such file"])
row("idx: truncated", "idx", "score", data_cfg("idx", F["idx_cut"]), ranks=1,
    expect=[E(F["idx_cut"]), r"header says 12 examples|truncated"])
row("idx: bad magic", "idx", "run", data_cfg("idx", F["idx_magic"]),
    expect=[E(F["idx_magic"]), r"not an IDX file|magic"])
row("idx: unknown type code", "idx", "score", data_cfg("idx", F["idx_code"]),
    expect=[E(F["idx_code"]), r"type code 0x07"])
row("idx: zero examples", "idx", "run", data_cfg("idx", F["idx_zero"]), ranks=1,
    expect=[E(F["idx_zero"]), r"length 0|no examples"])
row("idx: empty file", "idx", "run", data_cfg("idx", F["idx_empty"]),
    expect=[E(F["idx_empty"]), r"too short|empty|truncated"])
row("idx: header claims 2^32 x 2^32 x 2^16 values", "idx", "run", data_cfg("idx", F["idx_vast"]),
    ranks=1, expect=[E(F["idx_vast"]), r"2 GiB|claims|header says"])
row("idx: NaN pixel (f32)", "idx", "run", data_cfg("idx", F["idx_nan"]),
    expect=[E(F["idx_nan"]), r"example 3 contains NaN"])
row("idx: Inf pixel (f64)", "idx", "score", data_cfg("idx", F["idx_inf"]), extra=["--points", P["p3"]],
    ranks=1, expect=[E(F["idx_inf"]), r"example 4 contains Inf"])
row("idx: labels of another length", "idx", "run",
    data_cfg("idx", F["idx_good"], f"labels = {F['idx_labels_short']}\nclasses = 1\n"),
    expect=[E(F["idx_labels_short"]), r"7", r"12"])
row("idx: gzip cut short", "idx", "run", data_cfg("idx", F["idx_gz_cut"]),
    expect=[E(F["idx_gz_cut"]), r"truncated|end early|corrupt|trailer|header says"])
row("idx: gzip corrupt", "idx", "score", data_cfg("idx", F["idx_gz_corrupt"]), ranks=1,
    expect=[E(F["idx_gz_corrupt"]), r"corrupt|zlib|CRC|header says"])

# -- Fashion-MNIST ------------------------------------------------------------------
row("fashion-mnist: real images cut short", "fashion-mnist", "run",
    f"[data]\nsource = fashion-mnist\npath = {FM['cut']}\nsplit = test\nn = 50\n" + TINY,
    expect=[E(FM["cut"]), r"t10k-images", r"truncated|end early|header says|trailer"])
row("fashion-mnist: flipped magic", "fashion-mnist", "score",
    f"[data]\nsource = fashion-mnist\npath = {FM['magic']}\nsplit = test\n", ranks=1,
    expect=[E(FM["magic"]), r"t10k-images", r"not an IDX file|magic"])
row("fashion-mnist: no labels file", "fashion-mnist", "run",
    f"[data]\nsource = fashion-mnist\npath = {FM['nolabels']}\nsplit = test\nn = 50\n" + TINY,
    expect=[E(FM["nolabels"]), r"t10k-labels"])
row("fashion-mnist: label 12", "fashion-mnist", "run",
    f"[data]\nsource = fashion-mnist\npath = {FM['badlabel']}\nsplit = test\n" + TINY, ranks=1,
    expect=[r"t10k-labels", r"example 17 has label 12", r"0\.\.9"])
row("fashion-mnist: empty directory", "fashion-mnist", "score",
    f"[data]\nsource = fashion-mnist\npath = {FM['empty']}\nsplit = train\n",
    expect=[E(FM["empty"]), r"train-images"])
row("fashion-mnist: missing directory", "fashion-mnist", "run",
    f"[data]\nsource = fashion-mnist\npath = {path('no-such-dir')}\n" + TINY,
    expect=[E(path("no-such-dir")), r"directory|cannot|No such"])

# -- CIFAR-10 -------------------------------------------------------------------------
row("cifar10: batch of wrong length", "cifar10", "run", data_cfg("cifar10", F["cifar_length"]),
    expect=[E(F["cifar_length"]), r"not a multiple of 3073"])
row("cifar10: empty batch", "cifar10", "score", data_cfg("cifar10", F["cifar_empty"]), ranks=1,
    expect=[E(F["cifar_empty"]), r"no records|empty"])
row("cifar10: label 12", "cifar10", "run", data_cfg("cifar10", F["cifar_label"], "classes = 1\n"),
    expect=[E(F["cifar_label"]), r"record 2 has label 12"])
row("cifar10: directory without batches", "cifar10", "run", data_cfg("cifar10", F["cifar_dir"]),
    expect=[E(F["cifar_dir"]), r"data_batch|batch"])
row("cifar10: one good and one missing batch", "cifar10", "score",
    data_cfg("cifar10", F["cifar_good"] + ", " + path("cifar/missing.bin")),
    expect=[E(path("cifar/missing.bin")), r"cannot open|No such"])

# -- HDF5 ---------------------------------------------------------------------------------
row("hdf5: missing dataset", "hdf5", "run", data_cfg("hdf5", F["h5_nodata"]),
    expect=[E(F["h5_nodata"]), r"no dataset /data"])
row("hdf5: scalar dataset", "hdf5", "score", data_cfg("hdf5", F["h5_scalar"]), ranks=1,
    expect=[E(F["h5_scalar"]), r"scalar|rank|dimension"])
row("hdf5: NaN value", "hdf5", "run", data_cfg("hdf5", F["h5_nan"]),
    expect=[E(F["h5_nan"]), r"example 7 contains NaN"])
row("hdf5: -Inf value", "hdf5", "score", data_cfg("hdf5", F["h5_inf"]), extra=["--points", P["p4"]],
    expect=[E(F["h5_inf"]), r"example 2 contains -Inf"])
row("hdf5: empty dataset", "hdf5", "run", data_cfg("hdf5", F["h5_empty"]), ranks=1,
    expect=[E(F["h5_empty"]), r"no examples"])
row("hdf5: string dataset", "hdf5", "run", data_cfg("hdf5", F["h5_strings"]),
    expect=[E(F["h5_strings"]), r"numeric|integer|float|type"])
row("hdf5: group instead of dataset", "hdf5", "score", data_cfg("hdf5", F["h5_group"]), ranks=1,
    expect=[E(F["h5_group"]), r"not a dataset"])
row("hdf5: float labels", "hdf5", "run",
    data_cfg("hdf5", F["h5_floatlabels"], "labels = /labels\nclasses = 1\n"),
    expect=[E(F["h5_floatlabels"]), r"/labels", r"integer"])
row("hdf5: not an HDF5 file", "hdf5", "run", data_cfg("hdf5", F["h5_text"]),
    expect=[E(F["h5_text"]), r"HDF5"])
row("hdf5: truncated file", "hdf5", "score", data_cfg("hdf5", F["h5_cut"]), extra=["--points", P["p4"]],
    expect=[E(F["h5_cut"]), r"HDF5|truncated|cannot"])
row("hdf5: missing file", "hdf5", "run", data_cfg("hdf5", path("h5/none.h5")), ranks=1,
    expect=[E(path("h5/none.h5")), r"cannot open|No such|cannot read"])

# -- NPY ----------------------------------------------------------------------------------
row("npy: bad magic", "npy", "run", data_cfg("npy", F["npy_magic"]),
    expect=[E(F["npy_magic"]), r"not a \.npy file"])
row("npy: header without shape", "npy", "score", data_cfg("npy", F["npy_header"]), ranks=1,
    expect=[E(F["npy_header"]), r"no shape"])
row("npy: garbage in the shape", "npy", "run", data_cfg("npy", F["npy_garbage"]),
    expect=[E(F["npy_garbage"]), r"shape"])
row("npy: complex dtype", "npy", "run", data_cfg("npy", F["npy_dtype"]), ranks=1,
    expect=[E(F["npy_dtype"]), r"unsupported dtype '<c16'"])
row("npy: Fortran order", "npy", "run", data_cfg("npy", F["npy_fortran"]),
    expect=[E(F["npy_fortran"]), r"Fortran order"])
row("npy: shape larger than the data", "npy", "score", data_cfg("npy", F["npy_shape"]),
    extra=["--points", P["p4"]], ranks=1, expect=[E(F["npy_shape"]), r"header says 20 examples"])
row("npy: header claims 2^62 examples", "npy", "score", data_cfg("npy", F["npy_vast"]),
    extra=["--points", P["p4"]], expect=[E(F["npy_vast"]), r"header (claims|says)"])
row("npy: NaN value", "npy", "run", data_cfg("npy", F["npy_nan"]),
    expect=[E(F["npy_nan"]), r"example 7 contains NaN \(value 2\)"])
row("npy: no examples", "npy", "score", data_cfg("npy", F["npy_empty"]),
    expect=[E(F["npy_empty"]), r"no examples"])
row("npy: empty file", "npy", "run", data_cfg("npy", F["npy_zero_bytes"]),
    expect=[E(F["npy_zero_bytes"]), r"not a \.npy file|truncated|empty"])
row("npy: format version 9", "npy", "run", data_cfg("npy", F["npy_version"]), ranks=1,
    expect=[E(F["npy_version"]), r"version 9\.0"])
row("npy: float labels", "npy", "run",
    data_cfg("npy", F["npy_good"], f"labels = {F['npy_float_labels']}\nclasses = 1\n"),
    expect=[E(F["npy_float_labels"]), r"labels must be integers"])
row("npy: labels of another length", "npy", "score",
    data_cfg("npy", F["npy_good"], f"labels = {F['npy_short_labels']}\nclasses = 1\n"),
    extra=["--points", P["p4"]], ranks=1, expect=[E(F["npy_short_labels"]), r"5", r"12"])
row("npy: missing file", "npy", "run", data_cfg("npy", path("npy/none.npy")),
    expect=[E(path("npy/none.npy")), r"cannot open"])
row("npy: missing path key", "npy", "run", "[data]\nsource = npy\n" + TINY, ranks=1,
    expect=[r"\[data\] path is required", r"npy"])

# -- ranks vs. data ----------------------------------------------------------------------
# More ranks than training examples (or particles, or points) is not an
# error: the design supports empty shards and empty particle slices (see
# tests/data/test_mpi.c), and results do not depend on the layout.  These
# rows (status 0) assert that it works -- no crash, no hang, no message, a
# complete file -- and gives the 1-rank result.
row("ranks: 2 shards for 1 training example (run)", "ranks", "run", data_cfg("npy", F["npy_one"]),
    sets=["grid.rows=1", "sampler.method=ei"], status=0, post="compare")
row("ranks: 2 shards for 1 training example (score)", "ranks", "score", data_cfg("hdf5", F["h5_one"]),
    sets=["grid.rows=1"], extra=["--points", P["p4"]], status=0, post="compare")
row("ranks: 2 particle slices for 1 particle (run)", "ranks", "run", GMM,
    sets=["grid.rows=2", "sampler.particles=1", "sampler.method=ei"], status=0, post="compare")
row("ranks: 2 point slices for 1 point (score)", "ranks", "score", data_cfg("npy", F["npy_good"]),
    sets=["grid.rows=2"], extra=["--points", P["one4"]], status=0, post="compare")

# -- numbers out of double precision's reach ------------------------------------------------
row("numeric: magnitude 1e300 overflows the particles", "numeric", "run",
    GMM + "[perturb]\nkind = constant\nmagnitude = 1e300\n",
    expect=[r"drift at t = ", r"NaN|infinite", r"\[perturb\]"])
row("numeric: time perturbation with alpha 1000", "numeric", "run",
    GMM + "[perturb]\nkind = time\nmagnitude = 1\nalpha = 1000\n", ranks=1,
    expect=[r"(drift|perturbation) at t = ", r"NaN|infinite", r"\[perturb\]"])
row("numeric: point prior at 1e308", "numeric", "run", GMM,
    sets=["sampler.prior=point", "sampler.prior_value=1e308"],
    expect=[r"at t = ", r"NaN|infinite", r"\[sampler\] prior_value"])
row("numeric: beta_max 1e300", "numeric", "run", GMM, sets=["sde.beta_max=1e300"], ranks=1,
    expect=[r"at t = ", r"NaN|infinite", r"\[sde\]"])
row("numeric: ve sigma_max 1e300", "numeric", "config", GMM + "[sde]\nkind = ve\nsigma_max = 1e300\n",
    expect=[r"\[sde\] sigma_max = 1e\+?300", r"\[sde\] T = 1", r"exceeds 1e100"])
row("numeric: ve with T = 200", "numeric", "run", GMM, sets=["sde.kind=ve", "sde.T=200"], ranks=1,
    expect=[r"\[sde\] T = 200", r"exceeds 1e100"])
row("numeric: training example with an overflowing norm", "numeric", "run", data_cfg("npy", F["npy_huge"]),
    expect=[E(F["npy_huge"]), r"example 1 is too large"])
row("numeric: data range too wide to scale", "numeric", "score",
    data_cfg("npy", F["npy_wide"], "scale = unit\n"), ranks=1,
    expect=[E(F["npy_wide"]), r"too wide", r"scale = unit"])
row("numeric: a point at 1e200", "numeric", "score", GMM, extra=["--points", P["huge"]],
    expect=[E(P["huge"]), r"NaN|infinite"])

# -- memory ----------------------------------------------------------------------------------
# Allocations beyond memory are refused with a message naming what was being
# allocated.  The rows run under an address-space limit (RLIMIT_AS) so that an
# allocation fails at once instead of being overcommitted and killed later.
row("memory: subspace frame of dim 2e9", "memory", "run",
    "[data]\nsource = subspace\ndim = 2000000000\nintrinsic = 2\nn = 4\n" + TINY, ranks=1,
    limit_gb=3, expect=[r"\[data\] dim = 2000000000", r"out of memory"])
row("memory: training set beyond memory", "memory", "run",
    "[data]\nsource = subspace\ndim = 1000\nintrinsic = 2\nn = 1000000\n" + TINY, ranks=1,
    limit_gb=3, expect=[r"subspace", r"1000000 examples of 1000 values", r"out of memory"])
row("memory: 2-D density histogram of 10^5 x 10^5 bins", "memory", "run",
    "[data]\nsource = gmm\nmeans = -1;0, 1;0\nn = 20\n[diagnostics]\ndensity_bins = 100000\n" + TINY,
    ranks=1, limit_gb=3, expect=[r"\[diagnostics\] density_bins = 100000", r"out of memory"])
row("memory: particles x d beyond memory", "memory", "run",
    "[data]\nsource = subspace\ndim = 100000\nintrinsic = 2\nn = 4\n" + TINY,
    sets=["sampler.particles=100000"], ranks=1, limit_gb=3,
    expect=[r"\[sampler\] particles", r"out of memory"])
row("memory: 1e5 points of d = 1e5 to score", "memory", "score",
    "[data]\nsource = subspace\ndim = 100000\nintrinsic = 2\nn = 4\n",
    extra=["--points", P["vast"]], ranks=1, limit_gb=3,
    expect=[E(P["vast"]), r"out of memory"])

# -- output -------------------------------------------------------------------------------
EXISTING = os.path.join(OUT, "existing.h5")


def make_existing():
    status, _, stderr = sgmrun(["run", write_cfg("existing-good", GMM), "--output", EXISTING, "--quiet"], 2)
    if status != 0:
        return None
    with open(EXISTING, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def existing_untouched(digest):
    if digest is None:
        return ["could not create the existing output file"]
    with open(EXISTING, "rb") as f:
        now = hashlib.sha256(f.read()).hexdigest()
    return [] if now == digest else ["the existing output file was modified"]


row("output: existing file without --overwrite", "output", "run", GMM, extra=["--output", EXISTING],
    expect=[E(EXISTING), r"exists", r"--overwrite"], pre=make_existing, post=existing_untouched,
    check_output=False)
row("output: missing directory", "output", "run", GMM, extra=["--output", path("no/dir/o.h5")],
    ranks=1, expect=[E(path("no/dir")), r"does not exist"])
row("output: score into a missing directory", "output", "score", GMM,
    extra=["--output", path("no/dir/s.h5")], expect=[E(path("no/dir")), r"does not exist"])

# ---------------------------------------------------------------------------
# Running a row.


def sgmrun(args, ranks, limit_gb=None):
    cmd = [MPIEXEC, "-n", str(ranks), "--allow-run-as-root", "--oversubscribe", SGMRUN] + args

    def limit():
        if limit_gb:
            size = int(limit_gb * 2**30)
            resource.setrlimit(resource.RLIMIT_AS, (size, size))

    try:
        p = subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=TIMEOUT,
                           stdin=subprocess.DEVNULL, preexec_fn=limit)
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        err = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
        return None, out, err
    return p.returncode, p.stdout, p.stderr


def slug(name):
    return re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-")[:60]


def write_cfg(stem, text):
    p = path("cfg", stem + ".ini")
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "w", encoding="latin-1") as f:
        f.write(text)
    return p


def config_stem(r):
    # The first word of the category names the file, so that rows can expect
    # "syntax.ini:2" and the like.
    return {"syntax": "syntax", "unknown": "unknown"}.get(r["category"], slug(r["name"]))


def build_args(r, out):
    if isinstance(r["config"], tuple):
        cfg = r["config"][1]
    else:
        stem = config_stem(r)
        d = path("cfg", slug(r["name"]))
        os.makedirs(d, exist_ok=True)
        cfg = os.path.join(d, stem + ".ini")
        with open(cfg, "w", encoding="latin-1") as f:
            f.write(r["config"])
    sets = [a for s in r["sets"] for a in ("--set", s)]
    extra = list(r["extra"])
    cmd = r["command"]
    if cmd == "config":
        return ["config", cfg] + sets + extra
    if cmd == "sweep":
        return ["sweep", cfg] + sets + extra
    if cmd == "run":
        if "--output" not in extra:
            extra = ["--output", out] + extra
        return ["run", cfg] + sets + ["--quiet"] + extra
    # score: defaults overridable by the row's extra arguments
    opts = {"--points": P["p1"], "--t": "0.5", "--output": out}
    rest = []
    i = 0
    while i < len(extra):
        if extra[i] in opts and i + 1 < len(extra):
            opts[extra[i]] = extra[i + 1]
            i += 2
        else:
            rest.append(extra[i])
            i += 1
    args = ["score", cfg]
    for k, v in opts.items():
        args += [k, v]
    return args + sets + rest


def complete_outputs(out):
    """Output files (and partial files) whose status is complete."""
    bad = []
    for f in sorted(glob.glob(out + "*")):
        try:
            with h5py.File(f, "r") as h:
                status = h.attrs.get("status")
        except Exception:
            continue  # not HDF5 (or unreadable): certainly not complete
        if status is not None and (status.decode() if isinstance(status, bytes) else str(status)) == "complete":
            bad.append(f)
    return bad


def compare_with_one_rank(r, args, out):
    """The row's command on 1 rank with the default grid gives the same
    results as the row's layout."""
    ref = out[:-3] + ".ref.h5"
    ref_args = [ref if a == out else a for a in args]
    ref_args = [a for i, a in enumerate(ref_args)
                if not (a.startswith("grid.rows=") or (a == "--set" and i + 1 < len(ref_args)
                                                      and ref_args[i + 1].startswith("grid.rows=")))]
    status, _, stderr = sgmrun(ref_args, 1)
    if status != 0:
        return [f"the 1-rank reference failed: {stderr.strip()[:500]}"]
    names = (["final/particles", "final/denoised", "diagnostics/nearest_index"] if args[0] == "run"
             else ["score", "log_density", "denoised", "nearest_index"])
    problems = []
    with h5py.File(out, "r") as a, h5py.File(ref, "r") as b:
        for name in names:
            if name not in a or name not in b:
                problems.append(f"{name} missing")
                continue
            x, y = a[name][...], b[name][...]
            if x.shape != y.shape:
                problems.append(f"{name}: shape {x.shape}, 1 rank {y.shape}")
            elif x.dtype.kind in "iu" and not np.array_equal(x, y):
                problems.append(f"{name} differs from the 1-rank result")
            elif x.dtype.kind == "f" and not (np.all(np.isfinite(x)) and
                                              np.allclose(x, y, rtol=1e-10, atol=1e-12)):
                problems.append(f"{name} differs from the 1-rank result (max |diff| "
                                f"{np.max(np.abs(x - y)):.3g})")
    return problems


def is_complete(path):
    try:
        with h5py.File(path, "r") as h:
            status = h.attrs.get("status")
    except Exception:
        return False
    return status is not None and (status.decode() if isinstance(status, bytes) else str(status)) == "complete"


def check_row(r):
    """Runs one row; returns (problems, elapsed, error line)."""
    out = os.path.join(OUT, slug(r["name"]) + ".h5")
    state = r["pre"]() if callable(r["pre"]) else None
    args = build_args(r, out)
    t0 = time.monotonic()
    status, stdout, stderr = sgmrun(args, r["ranks"], r["limit_gb"])
    elapsed = time.monotonic() - t0
    problems = []
    accepted = r["status"] == 0
    if status is None:
        problems.append(f"hang: no exit within {TIMEOUT} s")
    elif status != r["status"]:
        problems.append(f"exit status {status}, expected {r['status']}"
                        + (" (accepted)" if status == 0 else ""))
    crash = CRASH.search(stdout + stderr)
    if crash:
        problems.append(f"crash or noise in the output: {crash.group(0)!r}")
    errors = [line for line in stderr.splitlines() if ERROR.match(line)]
    line = errors[0] if errors else ""
    if len(errors) != (0 if accepted else 1):
        problems.append(f"{len(errors)} 'sgmrun: error:' lines")
    for pattern in r["expect"]:
        if not re.search(pattern, line):
            problems.append(f"the message does not match {pattern!r}")
    if accepted:
        if not is_complete(out):
            problems.append(f"{out} is missing or not complete")
        elif r["post"] == "compare":
            problems += compare_with_one_rank(r, args, out)
    elif r["check_output"]:
        for f in complete_outputs(out):
            problems.append(f"{f} is marked complete")
    if callable(r["post"]):
        problems += r["post"](state)
    if problems:
        problems.append(f"args: {' '.join(args)}")
        problems.append("stderr: " + " | ".join(l for l in stderr.splitlines()
                                                if not l.startswith("---") and l.strip())[:1500])
    return problems, elapsed, line


def controls():
    """The undamaged inputs work: rows fail for their damage, not by accident."""
    good = [
        ("gmm run", ["run", write_cfg("good-gmm", GMM), "--output", os.path.join(OUT, "good-gmm.h5"),
                     "--quiet"], 2),
        ("gmm score", ["score", write_cfg("good-gmm-score", GMM), "--points", P["p1"], "--t", "0.5",
                       "--output", os.path.join(OUT, "good-gmm-score.h5")], 1),
        ("npy+labels", ["score", write_cfg("good-npy", data_cfg(
            "npy", F["npy_good"], f"labels = {F['npy_labels_good']}\nclasses = 1, 2\n")),
            "--points", P["p4"], "--t", "0.5", "--output", os.path.join(OUT, "good-npy.h5")], 2),
        ("hdf5+labels", ["score", write_cfg("good-h5", data_cfg(
            "hdf5", F["h5_good"], "labels = /labels\nclasses = 1\n")),
            "--points", P["p4"], "--t", "0.5", "--output", os.path.join(OUT, "good-h5.h5")], 2),
        ("idx+labels", ["run", write_cfg("good-idx", data_cfg(
            "idx", F["idx_good"], f"labels = {F['idx_labels_good']}\nclasses = 2\n")),
            "--output", os.path.join(OUT, "good-idx.h5"), "--quiet"], 1),
        ("cifar10", ["run", write_cfg("good-cifar", data_cfg("cifar10", F["cifar_good"])),
                     "--output", os.path.join(OUT, "good-cifar.h5"), "--quiet"], 2),
        ("fashion-mnist test subset", ["run", write_cfg("good-fm",
            "[data]\nsource = fashion-mnist\nsplit = test\nn = 50\n" + TINY),
            "--output", os.path.join(OUT, "good-fm.h5"), "--quiet"], 2),
    ]
    failed = []
    for label, args, ranks in good:
        status, _, stderr = sgmrun(args, ranks)
        if status != 0:
            failed.append(f"control {label}: exit {status}: {stderr.strip()[:800]}")
    return failed


def main():
    t_start = time.monotonic()
    failed, xfail, xpass = [], [], []
    for problem in controls():
        print(f"FAIL  {problem}", flush=True)
        failed.append(problem)
    categories = {}
    with open(SGMRUN, "rb") as f:
        sanitized = b"__asan_init" in f.read()
    skipped = 0
    for i, r in enumerate(rows):
        categories[r["category"]] = categories.get(r["category"], 0) + 1
        label = f"[{i + 1:3d}] {r['name']} ({r['command']}, {r['ranks']} rank{'s' if r['ranks'] > 1 else ''})"
        if r["limit_gb"] and sanitized:
            # AddressSanitizer reserves terabytes of address space.
            print(f"SKIP  {label}: needs RLIMIT_AS, which a sanitizer build cannot run under", flush=True)
            skipped += 1
            continue
        problems, elapsed, line = check_row(r)
        if r["known"]:
            if problems:
                xfail.append(r["name"])
                print(f"XFAIL {label} {elapsed:.1f}s -- KNOWN: {r['known']}; {problems[0]}", flush=True)
            else:
                xpass.append(r["name"])
                print(f"XPASS {label} {elapsed:.1f}s -- fixed? {line}", flush=True)
        elif problems:
            failed.append(r["name"])
            print(f"FAIL  {label} {elapsed:.1f}s", flush=True)
            for p in problems:
                print(f"        {p}", flush=True)
        else:
            print(f"PASS  {label} {elapsed:.1f}s: {line}", flush=True)
    total = time.monotonic() - t_start
    print(f"\n{len(rows)} rows ({', '.join(f'{k} {v}' for k, v in categories.items())}) "
          f"in {total:.0f} s: {len(rows) - len(failed) - len(xfail) - len(xpass) - skipped} passed, "
          f"{len(failed)} failed, {len(xfail)} known failures, {len(xpass)} known rows now passing, "
          f"{skipped} skipped")
    if failed:
        print("failed rows:\n  " + "\n  ".join(failed))
        sys.exit(1)


if __name__ == "__main__":
    main()
