"""Helpers for the command-line tests: run sgmrun under mpirun, read HDF5."""
import os
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


def run(args, ranks=1, timeout=300):
    """Runs `mpiexec -n ranks sgmrun args`; returns (status, stdout, stderr)."""
    cmd = [MPIEXEC, "-n", str(ranks), "--allow-run-as-root", "--oversubscribe", SGMRUN] + list(args)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
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
