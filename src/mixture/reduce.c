/*
 * Combining the shards' partial log-sum-exp records across a communicator.
 *
 * The records are reduced with one user-defined MPI operation (associative
 * and commutative in exact arithmetic) to rank 0 and broadcast, rather than
 * allreduced: an allreduce may associate differently on different ranks, and
 * the ranks of a row must agree to the last bit because they go on to move
 * the same particles.
 */
#include <math.h>
#include <stdlib.h>

#include "mixture/mixture_impl.h"
#include "sgm/error.h"

void sgm__mixture_merge(const sgm__mixture_layout_t *layout,
                        const double *restrict b, double *restrict a) {
  const int d = layout->d;
  for (int h = 0; h < layout->nheads; h++) {
    const double *hb = b + h * layout->head_len;
    double *ha = a + h * layout->head_len;
    if (hb[REC_M] == -INFINITY)
      continue;
    if (ha[REC_M] == -INFINITY) {
      for (int k = 0; k < layout->head_len; k++)
        ha[k] = hb[k];
      continue;
    }
    double m = fmax(ha[REC_M], hb[REC_M]);
    double fa = exp(ha[REC_M] - m), fb = exp(hb[REC_M] - m);
    ha[REC_M] = m;
    for (int k = REC_Z; k < REC_U + d; k++)
      ha[k] = fa * ha[k] + fb * hb[k];
  }
  /* Nearest: the two smallest (distance, index) pairs of the four. */
  const double *nb = b + layout->nheads * layout->head_len;
  double *na = a + layout->nheads * layout->head_len;
  double r[4] = {na[0], na[2], nb[0], nb[2]};
  double i[4] = {na[1], na[3], nb[1], nb[3]};
  for (int slot = 0; slot < 2; slot++) {
    int best = slot;
    for (int k = slot + 1; k < 4; k++)
      if (r[k] < r[best] ||
          (r[k] == r[best] && i[k] >= 0 && (i[best] < 0 || i[k] < i[best])))
        best = k;
    double tr = r[slot], ti = i[slot];
    r[slot] = r[best];
    i[slot] = i[best];
    r[best] = tr;
    i[best] = ti;
  }
  na[0] = r[0];
  na[1] = i[0];
  na[2] = r[1];
  na[3] = i[1];
}

static int layout_keyval = MPI_KEYVAL_INVALID;

static void merge_op(void *in, void *inout, int *len, MPI_Datatype *type) {
  void *value = NULL;
  int found = 0;
  MPI_Type_get_attr(*type, layout_keyval, &value, &found);
  const sgm__mixture_layout_t *layout = value;
  if (!found || !layout)
    abort(); /* unreachable: the type is always created with its layout */
  const double *b = in;
  double *a = inout;
  for (int k = 0; k < *len; k++)
    sgm__mixture_merge(layout, b + (int64_t)k * layout->rec_len,
                       a + (int64_t)k * layout->rec_len);
}

/* Messages are split so that no count exceeds INT_MAX elements. */
#define CHUNK_RECORDS (1 << 20)

int sgm__mixture_combine(const sgm__mixture_layout_t *layout, MPI_Comm comm,
                         int64_t p, double *records) {
  int size, rank, err = 0;
  MPI_Comm_size(comm, &size);
  if (size == 1 || p == 0)
    return 0;
  MPI_Comm_rank(comm, &rank);
  /* Created and freed with each call: MPI_Finalize does not free keyvals. */
  SGM_MPI(MPI_Type_create_keyval(MPI_TYPE_NULL_COPY_FN, MPI_TYPE_NULL_DELETE_FN,
                                 &layout_keyval, NULL));
  MPI_Datatype type = MPI_DATATYPE_NULL;
  MPI_Op op = MPI_OP_NULL;
  SGM_MPI_GOTO(MPI_Type_contiguous(layout->rec_len, MPI_DOUBLE, &type), done);
  SGM_MPI_GOTO(MPI_Type_commit(&type), done);
  SGM_MPI_GOTO(MPI_Type_set_attr(type, layout_keyval, (void *)layout), done);
  SGM_MPI_GOTO(MPI_Op_create(merge_op, 1, &op), done);
  for (int64_t first = 0; first < p; first += CHUNK_RECORDS) {
    int count = (int)(p - first < CHUNK_RECORDS ? p - first : CHUNK_RECORDS);
    double *chunk = records + first * layout->rec_len;
    SGM_MPI_GOTO(MPI_Reduce(rank == 0 ? MPI_IN_PLACE : chunk,
                            rank == 0 ? chunk : NULL, count, type, op, 0, comm),
                 done);
    SGM_MPI_GOTO(MPI_Bcast(chunk, count, type, 0, comm), done);
  }
done:
  if (op != MPI_OP_NULL)
    MPI_Op_free(&op);
  if (type != MPI_DATATYPE_NULL)
    MPI_Type_free(&type);
  MPI_Type_free_keyval(&layout_keyval);
  return err;
}
