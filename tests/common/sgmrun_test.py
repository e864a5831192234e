"""Helpers for the command-line tests: run sgmrun under mpirun, read HDF5."""
import os
import signal
import subprocess
import sys
import tempfile

SGMRUN = os.environ["SGMRUN"]
MPIEXEC = os.environ.get("MPIEXEC", "mpiexec")
SOURCE = os.environ.get("SGM_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "../.."))
FASHION = "/usr/share/datasets/fashion-mnist"

failures = 0


def fail(message):
    global failures
    failures += 1
    print(f"FAIL: {message}", file=sys.stderr)


def check(condition, message):
    if not condition:
        fail(message)
    return condition


# Slow builds (the sanitizers) stretch every limit by this factor.
TIMEOUT_SCALE = float(os.environ.get("SGM_TEST_TIMEOUT_SCALE", "1"))


def run(args, ranks=1, timeout=300):
    """Runs `mpiexec -n ranks sgmrun args`; returns (status, stdout, stderr)."""
    cmd = [MPIEXEC, "-n", str(ranks), "--allow-run-as-root", "--oversubscribe", SGMRUN] + list(args)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout * TIMEOUT_SCALE,
                       stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout, p.stderr


def scratch(name):
    base = os.environ.get("SGM_TEST_TMPDIR", tempfile.gettempdir())
    path = os.path.join(base, name)
    os.makedirs(path, exist_ok=True)
    return path


def write_config(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def text(value):
    return value.decode() if isinstance(value, bytes) else str(value)


def finish():
    print(f"{'FAILED' if failures else 'passed'}: {failures} failure(s)", file=sys.stderr)
    sys.exit(1 if failures else 0)


def start(args, ranks=1):
    """Starts `mpiexec -n ranks sgmrun args` in its own session (so that a
    test can signal the launcher, its ranks or the whole group); returns the
    Popen with text pipes."""
    cmd = [MPIEXEC, "-n", str(ranks), "--allow-run-as-root", "--oversubscribe", SGMRUN] + list(args)
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL, start_new_session=True)


def children(pid):
    """Pids of the live processes whose parent is pid (the ranks of mpiexec)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(entry))
    return found


def kill_all(p, sig=9):
    """Sends sig to every rank of the launcher p at the same moment, then to
    the launcher (Open MPI puts each rank in its own process group, so the
    launcher's group alone would miss them); waits for p."""
    ranks = children(p.pid)
    for pid in ranks:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass
    try:
        os.killpg(p.pid, sig)
    except ProcessLookupError:
        pass
    p.communicate(timeout=120)
    # A rank that outlived the launcher would keep writing.
    for pid in ranks:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return p.returncode


def datasets(path):
    """Every dataset of an HDF5 file, by name, as NumPy arrays."""
    import h5py
    out = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: out.__setitem__(name, obj[()])
                     if isinstance(obj, h5py.Dataset) else None)
    return out


def differences(path, reference, tol=None):
    """Names of the datasets of path that differ from those of reference
    (missing or extra ones included): bit for bit, or with tol, by more than
    tol times the dataset's largest magnitude."""
    import numpy as np
    a, b = datasets(path), datasets(reference)
    bad = sorted(set(a) ^ set(b))
    for name in sorted(set(a) & set(b)):
        x, y = np.asarray(a[name]), np.asarray(b[name])
        if x.shape != y.shape or x.dtype != y.dtype:
            bad.append(name)
        elif tol is None or x.dtype.kind not in "fc":
            if x.tobytes() != y.tobytes():
                bad.append(name)
        else:
            scale = np.max(np.abs(y)) if y.size else 0.0
            if not np.allclose(x, y, rtol=0, atol=tol * scale, equal_nan=True):
                bad.append(name)
    return bad


def status(path):
    import h5py
    with h5py.File(path, "r") as f:
        return text(f.attrs.get("status", ""))


def good_png(path):
    """A written PNG of at least 300 x 200 pixels with visible content."""
    import matplotlib.image
    if not check(os.path.exists(path) and os.path.getsize(path) > 5000, f"{path} written"):
        return False
    img = matplotlib.image.imread(path)
    return check(img.shape[0] > 200 and img.shape[1] > 300 and float(img[..., :3].std()) > 0.02,
                 f"{path}: an image with content ({img.shape}, std {img[..., :3].std():.3f})")


def good_pdf(path):
    if not check(os.path.exists(path) and os.path.getsize(path) > 1000, f"{path} written"):
        return False
    with open(path, "rb") as f:
        return check(f.read(5) == b"%PDF-", f"{path} is a PDF")


def idx_images(name):
    """The images of a Fashion-MNIST IDX file (e.g. train-images-idx3-ubyte.gz)
    as an n x (rows * cols) uint8 array, in file order."""
    import gzip

    import numpy as np
    with gzip.open(os.path.join(FASHION, name), "rb") as f:
        data = f.read()
    n, r, c = (int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(3))
    return np.frombuffer(data, np.uint8, n * r * c, 16).reshape(n, r * c)
