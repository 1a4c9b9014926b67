/* sparse.h — LINEAR with a sparse fp32 weight (sparse.c).
 *
 * A pruned weight (passes/prune.c) keeps its dense shape with zeros in it.
 * When few enough of its elements are non-zero, the LINEAR kernel runs the
 * product over the non-zeros only: W is packed once per session (in the
 * node's state) into rows of (input index, value), and y = x·Wᵀ is computed
 * from them.  Where that is not faster than dense BLAS (measured: see
 * SK_SPARSE_MAX_DENSITY in sparse.c) the weight stays dense.
 */
#ifndef SK_KERNELS_SPARSE_H
#define SK_KERNELS_SPARSE_H

#include "runtime/kernels/f32.h"

/* W [N, K] packed by output row: for row n, its non-zeros' input indices
 * col[rowptr[n] .. rowptr[n+1]) (ascending) and values val[...].  One
 * allocation (sk_free it). */
typedef struct sk_spmat {
    sk_linw hdr;
    int64_t N, K, nnz;
    int64_t *rowptr;        /* [N + 1] */
    uint16_t *col;          /* [nnz] (K <= 65536) */
    float *val;             /* [nnz] */
    int nchunk;             /* inputs in chunks of SK_SPARSE_KC: the x rows a pass reads stay in L1 */
    int64_t *cptr;          /* [N, nchunk + 1]: row n's first non-zero in chunk c (the last = rowptr[n + 1]) */
} sk_spmat;

/* Pack w (W [N, K] when wt, else [K, N]; K <= 65536); NULL on OOM (error set). */
sk_spmat *sk_spmat_pack(const float *w, int64_t N, int64_t K, bool wt);
/* y [M, N] = x [M, K] · Wᵀ, single-threaded: the scalar reference, and the
 * fast version (AVX-512 / AVX2 chosen by sk_cpu_get, the reference else)
 * that uses pool for its threads (NULL = the caller alone). */
void sk_spmat_mul_ref(const sk_spmat *s, const float *x, int64_t M, float *y);
sk_status sk_spmat_mul(const sk_spmat *s, const float *x, int64_t M, float *y, sk_pool *pool);

/* Whether W [N, K] (either layout) has few enough non-zeros for the sparse
 * product to beat the dense one (SK_SPARSE_MAX_DENSITY) and K fits. */
bool sk_spmat_pays(const float *w, int64_t N, int64_t K);
/* Fewest rows of x for which the sparse product is used. */
#define SK_SPARSE_MIN_ROWS 16

#endif
