#!/usr/bin/python3
"""The jobs/ scripts against a real SLURM (tests/slurm/local-slurm, started
by the slurm_cluster_start fixture; SLURM_CONF names it).

    test_jobs.py sweep | mpi | requeue | timelimit | failure

sweep    jobs/submit S on the smoke sweep: a 6-task array of 2-rank tasks and
         its post-processing job (afterok on the whole array); every task's
         file is complete, has its swept value, and equals a direct mpirun run
         bit for bit; the post-processing table holds the numbers read from
         the files here; resubmitted with --resume, every task finds its
         file complete and leaves it byte for byte as it was.
mpi      a 2-task job (srun --mpi=pmix, 2 BLAS threads per task): 2 ranks in
         the file and the log, bit-identical to `mpirun -n 2`.
requeue  a running job gets SIGUSR1 twice, once through `scancel -s` (the
         ranks) and once through `scancel -b -s` (the batch shell, which
         forwards it); each time it checkpoints, requeues itself and resumes;
         the result is bit-identical to an uninterrupted run, and its
         post-processing job runs after the last start only.
timelimit
         the job scripts' own mechanism: a job submitted with --time=1 and
         --signal=B:USR1@30.  slurmctld tests time limits every 30 s and
         sends the warning once the time left is within 30 s of the
         requested one, so here at the job's first test; the job is
         submitted LEAD seconds before a test (its times are in slurmctld's
         log at debug2) and its run is sized to last several times longer.
         SLURM's signal checkpoints and requeues it once (then the test
         raises the time limit so that the restart is not signalled), SLURM
         starts it again by itself, and it finishes bit-identical to an
         uninterrupted run.
failure  a sweep with a task that fails: the other task completes, the
         post-processing job is cancelled, not left pending; and jobs/submit
         refuses bad requests before submitting anything.
"""
import csv
import os
import re
import shutil
import subprocess
import sys
import time

import h5py

from sgmrun_test import (SOURCE, TIMEOUT_SCALE, check, differences, finish, run, scratch, text,
                         write_config)

SUBMIT = os.path.join(SOURCE, "jobs", "submit")
LOCAL_SLURM = os.path.join(SOURCE, "tests", "slurm", "local-slurm")
SMOKE = os.path.join(SOURCE, "inputs", "smoke")


def skip_unless_cluster():
    conf = os.environ.get("SLURM_CONF", "")
    p = subprocess.run([LOCAL_SLURM, "check"], capture_output=True, text=True)
    if p.returncode == 77:
        print(f"SKIP: {p.stdout.strip()}")
        sys.exit(77)
    if not os.path.exists(conf) or subprocess.run(["scontrol", "ping"], capture_output=True).returncode:
        print(f"FAIL: no local SLURM at SLURM_CONF={conf!r} (did slurm_cluster_start pass?)", file=sys.stderr)
        sys.exit(1)


def workdir(name):
    path = scratch(f"slurm-{name}")
    shutil.rmtree(path)
    os.makedirs(path)
    return path


def submit(args, cwd, expect=0):
    p = subprocess.run([SUBMIT] + args, cwd=cwd, capture_output=True, text=True,
                       stdin=subprocess.DEVNULL, timeout=120 * TIMEOUT_SCALE)
    check(p.returncode == expect, f"jobs/submit {' '.join(args)}: exit {p.returncode}, expected {expect}\n"
          f"{p.stdout}{p.stderr}")
    return p.stdout, p.stderr


def job_ids(out):
    """{'runs': [ids], 'post': id} from jobs/submit's output."""
    runs = [int(m) for m in re.findall(r"^\S+: job (\d+)", out, re.M)]
    post = re.findall(r"post-processing job (\d+)", out)
    return runs, int(post[0]) if post else None


def records(job):
    """scontrol's records of a job (one per array task), as dicts."""
    p = subprocess.run(["scontrol", "show", "job", "-o", str(job)], capture_output=True, text=True)
    out = []
    for line in p.stdout.splitlines():
        rec = {}
        for field in line.split():
            if "=" in field:
                k, v = field.split("=", 1)
                rec[k] = v
        if rec:
            out.append(rec)
    return out


def states(job):
    return sorted(r.get("JobState", "?") for r in records(job))


FINAL = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED",
         "BOOT_FAIL", "DEADLINE"}


def wait_final(job, limit=240):
    """Waits until every record of job is in a final state; returns the states."""
    end = time.time() + limit * TIMEOUT_SCALE
    while time.time() < end:
        s = states(job)
        if s and all(x in FINAL for x in s):
            return s
        time.sleep(0.5)
    s = states(job)
    check(False, f"job {job} not finished after {limit} s: {s}")
    return s


def wait_for(what, predicate, limit=120):
    end = time.time() + limit * TIMEOUT_SCALE
    while time.time() < end:
        if predicate():
            return True
        time.sleep(0.2)
    return check(False, f"timed out after {limit} s waiting for {what}")


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def outputs(config):
    """(task, swept values, output path) of each task, from sgmrun sweep --list."""
    status, out, err = run(["sweep", config, "--list"], 1)
    check(status == 0, f"sweep --list {config}: {err}")
    lines = out.strip().splitlines()
    keys = lines[0].split()[1:-1]
    rows = []
    for line in lines[1:]:
        f = line.split()
        rows.append((int(f[0]), dict(zip(keys, f[1:-1])), f[-1]))
    return rows


def reference(config, work, task=None, ranks=2):
    """The same run straight under mpirun (no SLURM), for comparison."""
    os.makedirs(os.path.join(work, "reference"), exist_ok=True)
    path = os.path.join(work, "reference", "ref.h5")
    args = ["run", config, "--output", path, "--quiet", "--overwrite"]
    if task is not None:
        args[2:2] = ["--task", str(task)]
    status, _, err = run(args, ranks)
    check(status == 0, f"reference run {config} task {task}: {err}")
    if task is not None:  # --task writes <stem>.taskNNN.h5
        path = path[:-3] + f".task{task:03d}.h5"
    return path


def test_sweep():
    work = workdir("sweep")
    config = os.path.join(SMOKE, "S.ini")
    out, _ = submit(["--sbatch", "--ntasks-per-node=2 --time=10", "S", config], work)
    (array,), post = job_ids(out)
    dependency = records(post)[0].get("Dependency", "")
    check(dependency.startswith(f"afterok:{array}_*"), f"post-processing waits for the whole array: {dependency}")
    check("array 0-5: 6 tasks" in out, f"the array is sized by sweep --count: {out!r}")
    check(wait_final(post) == ["COMPLETED"], f"post-processing job {post}: {states(post)}")
    check(states(array) == ["COMPLETED"] * 6, f"array {array}: {states(array)}")
    rows = outputs(config)
    with open(os.path.join(work, "results", "S", "table.csv")) as f:
        table = {row["task"]: row for row in csv.DictReader(f)}
    for task, swept, rel in rows:
        path = os.path.join(work, rel)
        log = read(os.path.join(work, "logs", f"sgm-S-{array}_{task}.out"))
        check("srun --mpi=pmix" in log and f"wrote {rel}" in log, f"task {task} log: {log[-500:]!r}")
        if not check(os.path.exists(path), f"task {task} wrote {path}"):
            continue
        with h5py.File(path, "r") as f:
            a = f.attrs
            check(text(a["status"]) == "complete", f"task {task} complete")
            check(int(a["mpi_ranks"]) == 2 and int(a["task"]) == task, f"task {task}: 2 ranks, task attribute")
            check(text(a["perturb.magnitude"]) == swept["perturb.magnitude"], f"task {task} swept value")
            d = f["diagnostics"]
            want = {"memorized_fraction": d["memorized_fraction"][-1],
                    "mean_nearest_distance": d["mean_nearest_distance"][-1],
                    "novikov_log_mean_exp": d["novikov_log_mean_exp"][-1],
                    "t_final": f["time"][-1]}
        row = table.get(str(task), {})
        check(row.get("perturb.magnitude") == swept["perturb.magnitude"] and row.get("status") == "complete",
              f"table row of task {task}: {row}")
        for k, v in want.items():
            check(k in row and float(row[k]) == float(v), f"table {k} of task {task}: {row.get(k)} vs {v}")
    check(len(table) == 6, f"6 table rows: {sorted(table)}")
    for task in (0, 5):  # SLURM-launched tasks equal direct runs bit for bit (same 2x1 grid)
        diff = differences(os.path.join(work, rows[task][2]), reference(config, work, task))
        check(not diff, f"task {task} differs from mpirun -n 2: {diff}")
    # Resubmitting with --resume (what a user does after a failure) leaves
    # complete tasks as they are.
    before = {rel: open(os.path.join(work, rel), "rb").read() for _, _, rel in rows}
    out, _ = submit(["--resume", "--no-post", "--sbatch", "--ntasks-per-node=2 --time=10", "S", config], work)
    (again,), none = job_ids(out)
    check(none is None and "post-processing" not in out, f"--no-post queues no post-processing: {out!r}")
    check(wait_final(again) == ["COMPLETED"] * 6, f"resubmitted array {again}: {states(again)}")
    for task, _, rel in rows:
        log = read(os.path.join(work, "logs", f"sgm-S-{again}_{task}.out"))
        check("--resume" in log and "is complete: nothing to resume" in log, f"task {task} resumed: {log[-400:]!r}")
        check(open(os.path.join(work, rel), "rb").read() == before[rel], f"{rel} untouched by --resume")


def test_mpi():
    work = workdir("mpi")
    config = os.path.join(SMOKE, "F1.ini")
    out, _ = submit(["--sbatch", "--nodes=1 --ntasks-per-node=2 --cpus-per-task=2 --time=10", "F1", config],
                    work)
    (job,), post = job_ids(out)
    check(wait_final(post) == ["COMPLETED"], f"post-processing job {post}: {states(post)}")
    check(states(job) == ["COMPLETED"], f"job {job}: {states(job)}")
    rec = records(job)[0]
    check(rec.get("NumTasks") == "2" and rec.get("CPUs/Task") == "2", f"2 tasks x 2 CPUs: {rec}")
    log = read(os.path.join(work, "logs", f"sgm-F1-{job}.out"))
    check("2 ranks x 2 threads" in log and "srun --mpi=pmix" in log, f"log: {log[:600]!r}")
    path = os.path.join(work, outputs(config)[0][2])
    with h5py.File(path, "r") as f:
        check(int(f.attrs["mpi_ranks"]) == 2 and text(f.attrs["status"]) == "complete",
              "2 ranks, complete")
    diff = differences(path, reference(config, work))
    check(not diff, f"srun --mpi=pmix run differs from mpirun -n 2: {diff}")
    check(os.path.exists(os.path.join(work, "results", "F1", "table.csv")), "F1 post-processing table")


def signal_running(job, log, how, start):
    """Waits for start number `start` of job to print progress, then sends
    SIGUSR1 the way `how` names (scancel options)."""
    wait_for(f"start {start} of job {job} to make progress",
             lambda: re.search(rf"start {start}, .*?\nsgmrun: .*step \d+/", read(log), re.S) is not None)
    p = subprocess.run(["scancel"] + how + ["-s", "USR1", str(job)], capture_output=True, text=True)
    check(p.returncode == 0, f"scancel {how} -s USR1 {job}: {p.stderr}")


def long_smoke(work, name, steps, every):
    """The smoke S experiment (c = 0.5, no sweep) with `steps` steps."""
    base = open(os.path.join(SMOKE, "S.ini")).read().split("[sweep]")[0]
    base = base.replace("steps = 40", f"steps = {steps}").replace("every = 10", f"every = {every}")
    base = base.replace("name = smoke-S", f"name = {name}")
    base = base.replace("kind = constant", "kind = constant\nmagnitude = 0.5")
    return write_config(os.path.join(work, f"{name}.ini"), base)


def test_requeue():
    work = workdir("requeue")
    config = long_smoke(work, "long", 12000, 1500)
    out, _ = submit(["--sbatch", "--ntasks-per-node=2 --time=10", "S", config], work)
    (job,), post = job_ids(out)
    log = os.path.join(work, "logs", f"sgm-S-{job}.out")
    # A requeued job starts again by itself once its credential has expired
    # (local-slurm sets cred_expire = 10 s; SLURM's default is 120 s).
    signal_running(job, log, [], 1)            # to the ranks
    signal_running(job, log, ["-b"], 2)        # to the batch shell, which forwards it
    check(wait_final(post) == ["COMPLETED"], f"post-processing job {post}: {states(post)}")
    rec = records(job)[0]
    check(rec.get("JobState") == "COMPLETED" and rec.get("Restarts") == "2", f"job {job}: {rec}")
    text_log = read(log)
    check(text_log.count("sgmrun: interrupted: stopped by a signal") == 2, f"two interruptions: {text_log[-1500:]!r}")
    check(text_log.count("requeued: it resumes from the checkpoint") == 2, "two requeues logged")
    check(text_log.count("SIGUSR1: passing it on to the ranks") == 1, "the batch shell forwarded one signal")
    check("start 3," in text_log and "--resume" in text_log, "third start resumes")
    path = os.path.join(work, "results", "long.h5")
    check(not [f for f in os.listdir(os.path.dirname(path)) if ".ckpt" in f], "no checkpoint left")
    diff = differences(path, reference(config, work))
    check(not diff, f"requeued run differs from an uninterrupted one: {diff}")


# slurmctld's time-limit test runs every PERIODIC_TIMEOUT = 30 s (fixed in
# SLURM 22.05); local-slurm logs at debug2, which names each one.
LIMIT_PERIOD = 30
LIMIT_LINE = re.compile(r"^\[(\S+)\] debug2: Testing job time limits", re.M)


def next_limit_test(lead):
    """Seconds since the epoch of slurmctld's next time-limit test at least
    `lead` s from now, from the newest one in its log."""
    log = os.path.join(os.path.dirname(os.environ["SLURM_CONF"]), "log", "slurmctld.log")
    found = []
    wait_for("a time-limit test in slurmctld's log (SlurmctldDebug=debug2)",
             lambda: found.extend(LIMIT_LINE.findall(read(log))) or found, LIMIT_PERIOD + 10)
    if not found:
        return time.time() + lead
    last = time.mktime(time.strptime(found[-1].split(".")[0], "%Y-%m-%dT%H:%M:%S"))
    last += float("0." + found[-1].split(".")[1]) if "." in found[-1] else 0.0
    now = time.time()
    periods = max(0, int((now + lead - last) // LIMIT_PERIOD) + 1)
    return last + periods * LIMIT_PERIOD


def test_timelimit():
    work = workdir("timelimit")
    # The job starts LEAD s before slurmctld's next time-limit test, which
    # signals it: time enough for the batch shell to set its traps however
    # loaded the machine.  Its run is sized to last about 36 s of stepping
    # on 2 ranks at the probe's rate (its closing line: "done: N steps in
    # Xs"), so that it is still running when the signal comes even if the
    # job runs 3 times faster than the probe did.
    lead = 10
    probe = long_smoke(work, "probe", 5000, 5000)
    status, _, err = run(["run", probe, "--output", os.path.join(work, "probe.h5")], 2)
    m = re.search(r"done: (\d+) steps in ([0-9.e+-]+)s", err)
    check(status == 0 and m, f"probe run: {err[-800:]}")
    steps = max(5000, int(int(m[1]) * 36 / max(float(m[2]), 0.1))) if m else 100000
    config = long_smoke(work, "limited", steps, max(1, steps // 8))
    when = next_limit_test(lead)
    time.sleep(max(0.0, when - lead - time.time()))
    out, _ = submit(["--sbatch", "--ntasks-per-node=2 --time=1 --signal=B:USR1@30", "S", config], work)
    (job,), post = job_ids(out)
    log = os.path.join(work, "logs", f"sgm-S-{job}.out")
    # Once the first signal has come, the restart gets time enough to finish
    # (a raised limit keeps its record across the requeue).
    wait_for(f"SLURM's time-limit signal to job {job}",
             lambda: "SIGUSR1: passing it on to the ranks" in read(log), 120)
    p = subprocess.run(["scontrol", "update", f"JobId={job}", "TimeLimit=10"], capture_output=True, text=True)
    check(p.returncode == 0, f"scontrol update JobId={job} TimeLimit=10: {p.stdout}{p.stderr}")
    check(wait_final(post) == ["COMPLETED"], f"post-processing job {post}: {states(post)}")
    rec = records(job)[0]
    restarts = int(rec.get("Restarts", "0"))
    text_log = read(log)
    check(rec.get("JobState") == "COMPLETED" and restarts == 1,
          f"job {job} ({steps} steps) completed after one requeue: {rec}\n{text_log[-1500:]}")
    check(text_log.count("SIGUSR1: passing it on to the ranks") == 1
          and text_log.count("requeued: it resumes from the checkpoint") == 1,
          f"one requeue after one signal from SLURM: {text_log[-1500:]!r}")
    path = os.path.join(work, "results", "limited.h5")
    check(not [f for f in os.listdir(os.path.dirname(path)) if ".ckpt" in f], "no checkpoint left")
    diff = differences(path, reference(config, work))
    check(not diff, f"run stopped by the time limit's signal differs from an uninterrupted one: {diff}")
    print(f"timelimit: {steps} steps, submitted {lead} s before a time-limit test, {restarts} requeue(s)")


def test_failure():
    work = workdir("failure")
    base = open(os.path.join(SMOKE, "S.ini")).read().split("[sweep]")[0]
    config = write_config(os.path.join(work, "fails.ini"), base.replace("name = smoke-S", "name = fails")
                          + "[sweep]\ndata.n = 300, 100000\n")
    before = subprocess.run(["squeue", "-h"], capture_output=True, text=True).stdout
    out, _ = submit(["--sbatch", "--ntasks-per-node=2 --time=10", "S", config], work)
    (array,), post = job_ids(out)
    s = wait_final(array)
    check(s == ["COMPLETED", "FAILED"], f"array {array}: one task completes, one fails: {s}")
    check(wait_final(post, 60) == ["CANCELLED"], f"dependant {post} cancelled: {states(post)}")
    reason = records(post)[0].get("Reason", "")
    check(reason == "DependencyNeverSatisfied", f"cancelled for its dependency: {reason}")
    log = read(os.path.join(work, "logs", f"sgm-S-{array}_1.out"))
    check("only 60000 examples remain" in log and "failed (exit 1)" in log, f"failing task's log: {log[-400:]!r}")
    # Bad requests: nothing reaches the queue.
    count = len(records(post))
    _, err = submit(["F9"], work, expect=1)
    check("unknown experiment 'F9'" in err, f"unknown experiment: {err}")
    _, err = submit(["S", os.path.join(work, "missing.ini")], work, expect=1)
    check("cannot read the input" in err and "missing.ini" in err, f"missing input: {err}")
    bad = write_config(os.path.join(work, "bad.ini"), base + "[sweep]\nsde.t_min = 1e-3, 2\n")
    _, err = submit(["S", bad], work, expect=1)
    check("t_min = 2 must be less than" in err and "not a valid input" in err, f"invalid input: {err}")
    _, err = submit(["--throttle", "0", "S"], work, expect=1)
    check("throttle" in err, f"bad throttle: {err}")
    after = subprocess.run(["squeue", "-h"], capture_output=True, text=True).stdout
    check(before == after and len(records(post)) == count, "refused requests submitted nothing")


def main():
    tests = {"sweep": test_sweep, "mpi": test_mpi, "requeue": test_requeue, "timelimit": test_timelimit,
             "failure": test_failure}
    if len(sys.argv) != 2 or sys.argv[1] not in tests:
        sys.exit(__doc__)
    skip_unless_cluster()
    tests[sys.argv[1]]()
    finish()


if __name__ == "__main__":
    main()
