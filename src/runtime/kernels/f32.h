/* f32.h — helpers shared by the fp32 dense kernels (matmul.c, norm.c,
 * attention.c, activation.c, conv.c, rnn.c).
 *
 * Input checks for shape functions, a small single-threaded sgemm for use
 * inside parallel sections (OpenBLAS's thread count is process-wide, so
 * calling it from several pool threads at once oversubscribes the cores),
 * and the vectorised activations and softmax.  Every SIMD routine here has a scalar
 * _ref twin that is the source of truth; tests/unit/test_kernels_b.c holds
 * them to it.  Not part of the runtime's interface: only kernels include it.
 */
#ifndef SK_KERNELS_F32_H
#define SK_KERNELS_F32_H

#include "runtime/runtime.h"

/* Input idx must be present, of dtype dt, with rank in [min_rank, max_rank]
 * and every dim ≤ INT_MAX (what BLAS takes); errors name the node. */
sk_status sk_kcheck_input(const sk_kctx *k, int idx, sk_dtype dt, int min_rank, int max_rank);
/* Every dim of t fits an int. */
sk_status sk_kcheck_int(const sk_kctx *k, const sk_rtensor *t);

/* C = alpha·op(A)·op(B) + beta·C, row-major: cblas_sgemm, except that a
 * product with one row or one column goes to cblas_sgemv (OpenBLAS 0.3.21's
 * sgemm does not forward those and is 4-5× slower on them: GPT-2 generation,
 * RNN steps at batch 1).  ta/tb: op(X) = Xᵀ. */
/* sk_sgemm with C's columns (or rows) split across pool, single-threaded BLAS per slice. */
void sk_sgemm_pool(sk_pool *pool, bool ta, bool tb, int M, int N, int K, float alpha, const float *A, int lda,
                   const float *B, int ldb, float beta, float *C, int ldc);
void sk_sgemm(bool ta, bool tb, int M, int N, int K, float alpha, const float *A, int lda, const float *B, int ldb,
              float beta, float *C, int ldc);

/* C[M,N] = A[M,K]·B[K,N], row-major with leading dimensions, single-threaded.
 * For the small products inside a parallel section (attention heads,
 * batched MatMul); large ones go to cblas_sgemm. */
void sk_sgemm_small(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C, int ldc);
void sk_sgemm_small_ref(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C, int ldc);
/* C[M,N] = alpha·A[M,K]·B[N,K]ᵀ by dot products of rows, single-threaded: for
 * few rows of A (one query against a KV cache), where packing Bᵀ costs more
 * than the product. */
void sk_sgemm_small_bt(int M, int N, int K, float alpha, const float *A, int lda, const float *B, int ldb, float *C,
                       int ldc);
void sk_sgemm_small_bt_ref(int M, int N, int K, float alpha, const float *A, int lda, const float *B, int ldb, float *C,
                           int ldc);

/* What a LINEAR node keeps in its state about its constant weight, decided
 * on its first run: multiply with BLAS, with the non-zeros only (sparse.c),
 * or from a packed copy (pgemm.c).  The first member of each such state. */
enum { SK_LINW_BLAS = 1, SK_LINW_SPARSE, SK_LINW_PACKED };
typedef struct sk_linw { int kind; } sk_linw;

/* ReduceMean / ReduceSum: red[d] for each reduced dim d of input 0 (SK_MAX_RANK
 * entries written); *noop for empty axes with noop_with_empty_axes (reduce.c). */
sk_status sk_reduce_axes(const sk_kctx *k, bool *red, bool *noop);

/* Epilogue activations (LINEAR's attr act, GELU, the RNN gates). */
typedef enum sk_act {
    SK_ACT_NONE, SK_ACT_RELU, SK_ACT_GELU, SK_ACT_GELU_TANH, SK_ACT_TANH, SK_ACT_SIGMOID
} sk_act;
/* "" relu gelu gelu_tanh tanh sigmoid → act; false if unknown. */
bool sk_act_parse(const char *s, sk_act *act);
/* y[i] = act(x[i] + b[i]) for i < n; b may be NULL; y may be x. */
void sk_bias_act_f32(float *y, const float *x, const float *b, int64_t n, sk_act act);
void sk_bias_act_f32_ref(float *y, const float *x, const float *b, int64_t n, sk_act act);

/* Softmax of x[0..n) in place.  -FLT_MAX entries (masked) take part like
 * any value, so a row that is all -FLT_MAX comes out uniform (as Hugging
 * Face's finfo.min masking does); a row that is all -inf comes out uniform
 * too rather than NaN. */
void sk_softmax_f32(float *x, int64_t n);
void sk_softmax_f32_ref(float *x, int64_t n);

/* W [N, K] (wt) or [K, N] packed for sk_pgemm: panels of nr output
 * columns, each K rows of nr floats, zero past N.  One allocation (sk_free). */
typedef struct sk_packw {
    sk_linw hdr;
    int nr;
    int64_t N, K;
    float *p;
} sk_packw;
/* Pack for this CPU's kernel (nr 32 with AVX-512, 16 with AVX2); NULL when it
 * has neither (use BLAS) or on OOM. */
sk_packw *sk_packw_new(const float *w, int64_t N, int64_t K, bool wt);
sk_packw *sk_packw_new_nr(const float *w, int64_t N, int64_t K, bool wt, int nr);
/* y [M, N] = act(x [M, K] · Wᵀ + b), b may be NULL, threads from pool (may
 * be NULL).  The packing's nr must be this CPU's (sk_packw_new). */
void sk_pgemm(const sk_packw *p, const float *x, int64_t M, const float *b, sk_act act, float *y, sk_pool *pool);
/* The same sums in plain C from the packed layout (no activation). */
void sk_pgemm_ref(const sk_packw *p, const float *x, int64_t M, const float *b, float *y);

#endif
