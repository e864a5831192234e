# Sourced by the scripts: Open MPI settings for running as root on a small
# machine with more ranks than cores (see TOOLCHAIN.md), and one BLAS thread
# per rank.  Users on a cluster do not need this file.
export OMPI_ALLOW_RUN_AS_ROOT=1
export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
export OMPI_MCA_mpi_yield_when_idle=1
export OMPI_MCA_hwloc_base_binding_policy=none
# After one rank exits with an error, end the others at once (default: 1 s
# grace per launch, which adds up over a test suite).
export OMPI_MCA_odls_base_sigkill_timeout=0
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
