# What every jobs/*.sbatch does on the compute node, sourced by each script:
#
#   . "${SGM_ROOT:-$SLURM_SUBMIT_DIR}/jobs/lib/job.sh" || exit 1
#   sgm_job_run EXPERIMENT "$@"      # an experiment's run(s)
#   sgm_job_post EXPERIMENT INPUT... # its post-processing
#
# Settings come from jobs/site.env (or SGM_SITE_ENV).  The "#SGM inputs:"
# line of jobs/EXPERIMENT.sbatch names its default inputs (relative to
# inputs/), used when the job is given none.  An array task runs `sgmrun run
# INPUT --task $SLURM_ARRAY_TASK_ID`; a plain job runs each input whole
# (every task of a sweep in turn).
#
# Signals: the batch shell passes USR1 and TERM on to the launcher (INT as
# TERM: srun answers a lone INT with its status), which passes them to the
# ranks; sgmrun then checkpoints at its next step and exits 75.  After USR1 alone (SLURM's --signal=B:USR1@N ahead of the
# time limit, or `scancel -b -s USR1`; `scancel -s USR1` reaches the ranks
# directly) the job requeues itself, and a requeued job (SLURM_RESTART_COUNT
# > 0) resumes from the checkpoint.  After TERM or INT (scancel, preemption,
# the time limit itself) it does not: SLURM decides what happens next.

sgm_job_log() { echo "sgm-job[${SLURM_JOB_ID:-local}]: $*" >&2; }
sgm_job_die() {
  sgm_job_log "error: $*"
  exit 1
}

# Repository root, site settings, modules and threads.
sgm__setup() {
  SGM_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  export SGM_ROOT
  local site=${SGM_SITE_ENV:-$SGM_ROOT/jobs/site.env}
  [[ -r $site ]] || sgm_job_die "cannot read the site settings $site"
  # shellcheck source=../site.env
  . "$site" || sgm_job_die "the site settings $site failed"
  if [[ -n ${SGM_MODULES:-} ]]; then
    if ! command -v module >/dev/null 2>&1; then
      # shellcheck disable=SC1091
      [[ -r /etc/profile.d/modules.sh ]] && . /etc/profile.d/modules.sh
      # shellcheck disable=SC1091
      [[ -r /etc/profile.d/lmod.sh ]] && . /etc/profile.d/lmod.sh
    fi
    command -v module >/dev/null 2>&1 ||
      sgm_job_die "SGM_MODULES is set ($SGM_MODULES) but this node has no 'module' command"
    # shellcheck disable=SC2086
    module load $SGM_MODULES || sgm_job_die "module load $SGM_MODULES failed"
  fi
  # One BLAS thread per CPU of the task; srun (Slurm >= 22.05) no longer
  # inherits --cpus-per-task from the batch job unless told.
  local cpus=${SLURM_CPUS_PER_TASK:-1}
  export OPENBLAS_NUM_THREADS=$cpus OMP_NUM_THREADS=$cpus
  [[ -n ${SLURM_CPUS_PER_TASK:-} ]] && export SRUN_CPUS_PER_TASK=$SLURM_CPUS_PER_TASK
  [[ -x $SGMRUN ]] ||
    sgm_job_die "no sgmrun executable at $SGMRUN (build it with scripts/bootstrap, or set SGMRUN in $site)"
}

# The job's inputs: the arguments after the first, or else the "#SGM inputs:"
# defaults of jobs/EXPERIMENT.sbatch, EXPERIMENT named first.
sgm__inputs() {
  local script=$SGM_ROOT/jobs/$1.sbatch
  shift
  sgm__input_list=("$@")
  if ((${#sgm__input_list[@]} == 0)); then
    local name
    for name in $(sed -n 's/^#SGM inputs: *//p' "$script" 2>/dev/null); do
      sgm__input_list+=("$SGM_ROOT/inputs/$name")
    done
  fi
  ((${#sgm__input_list[@]})) || sgm_job_die "no input given and $script names no default (#SGM inputs:)"
  local input
  for input in "${sgm__input_list[@]}"; do
    [[ -r $input ]] || sgm_job_die "cannot read the input $input (from $(pwd))"
  done
}

# Signals, for the whole job: the first USR1, TERM or INT is remembered in
# sgm__signal (TERM and INT also in sgm__stopped) and passed on to the
# launcher of the step that is running, if any.  A signal between two steps
# stops the job before the next one starts.
sgm__pid="" sgm__signal="" sgm__stopped=""
sgm__on_signal() {
  [[ -n $sgm__signal ]] || sgm__signal=$1
  [[ $1 == USR1 ]] || sgm__stopped=$1
  if [[ -n $sgm__pid ]]; then
    sgm_job_log "SIG$1: passing it on to the ranks"
    # srun takes a single SIGINT as a request for its status, not a stop:
    # the ranks get TERM for it (sgmrun stops the same way on either).
    kill "-$([[ $1 == INT ]] && echo TERM || echo "$1")" "$sgm__pid" 2>/dev/null || true
  else
    sgm_job_log "SIG$1 between steps: no further run starts"
  fi
}
sgm__traps() {
  trap 'sgm__on_signal USR1' USR1
  trap 'sgm__on_signal TERM' TERM
  trap 'sgm__on_signal INT' INT
}

# Runs "$@" under the site's launcher and returns its exit status.  The
# launcher runs in the background so that a trap runs at once, not when the
# step ends.
sgm__launch() {
  local launch rc
  read -ra launch <<<"$SGM_LAUNCH"
  "${launch[@]}" "$@" &
  sgm__pid=$!
  while :; do
    wait "$sgm__pid"
    kill -0 "$sgm__pid" 2>/dev/null || break # else a trapped signal cut the wait short
  done
  wait "$sgm__pid" # the launcher's own status, kept by the shell
  rc=$?
  sgm__pid=""
  return "$rc"
}

# After an interruption (a run's exit 75, or a signal between runs): requeue
# unless SLURM itself is ending the job; exits 75.
sgm__requeue() {
  local again="jobs/submit --resume $1 $2"
  if [[ -n $sgm__stopped ]]; then
    sgm_job_log "stopped by SIG$sgm__stopped (cancelled, preempted or out of time); the checkpoint is kept: continue with $again"
  elif [[ -z ${SLURM_JOB_ID:-} ]]; then
    sgm_job_log "interrupted outside SLURM; continue with $again"
  elif scontrol requeue "$SLURM_JOB_ID"; then
    sgm_job_log "checkpoint written; job $SLURM_JOB_ID requeued: it resumes from the checkpoint when it starts again"
  else
    sgm_job_log "checkpoint written, but the job could not be requeued (see above); continue with $again"
  fi
  exit 75
}

# The runs of EXPERIMENT: each input whole, or task SLURM_ARRAY_TASK_ID of
# the one input in an array job.
sgm_job_run() {
  local experiment=${1:?sgm_job_run: EXPERIMENT missing}
  shift
  sgm__setup
  sgm__inputs "$experiment" "$@"
  sgm__traps
  local task=() mode=() options=() restart=${SLURM_RESTART_COUNT:-0}
  if [[ -n ${SLURM_ARRAY_TASK_ID:-} ]]; then
    ((${#sgm__input_list[@]} == 1)) ||
      sgm_job_die "an array task runs one input, not ${#sgm__input_list[@]}: ${sgm__input_list[*]}"
    task=(--task "$SLURM_ARRAY_TASK_ID")
  fi
  if ((restart > 0)); then
    mode=(--resume)
  elif [[ -n ${SGM_RUN_MODE:-} ]]; then
    [[ $SGM_RUN_MODE == --resume || $SGM_RUN_MODE == --overwrite ]] ||
      sgm_job_die "SGM_RUN_MODE must be --resume or --overwrite, not '$SGM_RUN_MODE'"
    mode=("$SGM_RUN_MODE")
  fi
  read -ra options <<<"${SGM_RUN_OPTIONS:-}"
  sgm_job_log "$experiment: job ${SLURM_JOB_ID:-local}${SLURM_ARRAY_TASK_ID:+ (array ${SLURM_ARRAY_JOB_ID} task $SLURM_ARRAY_TASK_ID)} on ${SLURM_JOB_NODELIST:-$(hostname)}: ${SLURM_NTASKS:-?} ranks x $OPENBLAS_NUM_THREADS threads, start $((restart + 1)), in $(pwd)"
  local input rc cmd
  for input in "${sgm__input_list[@]}"; do
    [[ -z $sgm__signal ]] || sgm__requeue "$experiment" "$input"
    cmd=("$SGMRUN" run "$input" "${task[@]}" "${mode[@]}" "${options[@]}")
    sgm_job_log "$SGM_LAUNCH ${cmd[*]}"
    sgm__launch "${cmd[@]}"
    rc=$?
    if ((rc == 75)); then
      sgm__requeue "$experiment" "$input"
    elif ((rc == 128 + $(kill -l USR1))) && [[ $sgm__signal == USR1 && -z $sgm__stopped ]]; then
      # The signal reached the ranks before sgmrun could catch it (while the
      # processes started): nothing is lost beyond the last checkpoint.
      sgm_job_log "the step ended by a signal (exit $rc) after SIGUSR1; its results and checkpoint are as of the last checkpoint"
      sgm__requeue "$experiment" "$input"
    elif ((rc != 0)); then
      sgm_job_log "sgmrun run $input ${task[*]} failed (exit $rc)"
      exit "$rc"
    fi
  done
  sgm_job_log "done"
}

# Post-processing of EXPERIMENT: every output file of the inputs (as
# `sgmrun sweep INPUT --list` names them) through analysis/post.py, into
# results/EXPERIMENT/ (or SGM_POST_DIR).
sgm_job_post() {
  sgm__setup
  local experiment=${1:?sgm_job_post: EXPERIMENT missing}
  shift
  sgm__inputs "$experiment" "$@"
  local files=() input line
  for input in "${sgm__input_list[@]}"; do
    local listing
    listing=$("$SGMRUN" sweep "$input" --list) || sgm_job_die "sgmrun sweep $input --list failed"
    while read -r line; do
      files+=("${line##* }")
    done < <(tail -n +2 <<<"$listing")
  done
  local out=${SGM_POST_DIR:-results/$experiment}
  sgm_job_log "post-processing $experiment: ${#files[@]} file(s) -> $out/"
  "$SGM_PYTHON" "$SGM_ROOT/analysis/post.py" --experiment "$experiment" --out "$out" "${files[@]}"
}
