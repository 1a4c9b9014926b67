/* f32.c — helpers shared by the fp32 dense kernels: input checks for shape
 * functions, the one entry to OpenBLAS (sk_sgemm), and the small
 * single-threaded sgemm (scalar reference, AVX2, AVX-512) that attention and
 * batched MatMul run inside their parallel sections, where OpenBLAS's
 * process-wide thread count would make concurrent calls fight for the cores.
 */
#include <limits.h>
#include <string.h>
#include <cblas.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif
#include "runtime/kernels/f32.h"

sk_status sk_kcheck_input(const sk_kctx *k, int idx, sk_dtype dt, int min_rank, int max_rank)
{
    const sk_rtensor *t = idx < k->n_in ? k->in[idx] : NULL;
    if (!t) return sk_kerr(k, SK_ERR_INVALID, "input %d is missing", idx);
    if (t->dtype != dt)
        return sk_kerr(k, SK_ERR_UNSUPPORTED, "input %d has dtype %s, expected %s", idx,
                       sk_dtype_info(t->dtype)->name, sk_dtype_info(dt)->name);
    if (t->rank < min_rank || t->rank > max_rank) {
        if (min_rank == max_rank)
            return sk_kerr(k, SK_ERR_INVALID, "input %d has rank %d, expected %d", idx, t->rank, min_rank);
        return sk_kerr(k, SK_ERR_INVALID, "input %d has rank %d, expected %d..%d", idx, t->rank, min_rank, max_rank);
    }
    return sk_kcheck_int(k, t);
}

sk_status sk_kcheck_int(const sk_kctx *k, const sk_rtensor *t)
{
    for (int i = 0; i < t->rank; i++)
        if (t->dims[i] < 0 || t->dims[i] > INT_MAX)
            return sk_kerr(k, SK_ERR_UNSUPPORTED, "dim %d is %lld (must be in 0..%d)", i, (long long)t->dims[i],
                           INT_MAX);
    return SK_OK;
}

/* ---- BLAS ---- */
void sk_sgemm(bool ta, bool tb, int M, int N, int K, float alpha, const float *A, int lda, const float *B, int ldb,
              float beta, float *C, int ldc)
{
    if (M == 1) {          /* c = op(B)ᵀ·a, a = A's one row (a column of A when ta) */
        int inca = ta ? lda : 1;
        if (tb) cblas_sgemv(CblasRowMajor, CblasNoTrans, N, K, alpha, B, ldb, A, inca, beta, C, 1);
        else cblas_sgemv(CblasRowMajor, CblasTrans, K, N, alpha, B, ldb, A, inca, beta, C, 1);
    } else if (N == 1) {   /* c = op(A)·b, b = B's one column (a row of B when tb); C's column has stride ldc */
        int incb = tb ? 1 : ldb;
        if (ta) cblas_sgemv(CblasRowMajor, CblasTrans, K, M, alpha, A, lda, B, incb, beta, C, ldc);
        else cblas_sgemv(CblasRowMajor, CblasNoTrans, M, K, alpha, A, lda, B, incb, beta, C, ldc);
    } else {
        cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, alpha, A,
                    lda, B, ldb, beta, C, ldc);
    }
}

/* sk_sgemm split across the pool: each thread runs single-threaded BLAS on a
 * slice of C's columns (or rows when C is narrow).  OpenBLAS's own threads
 * busy-wait with sched_yield between calls and fight our pool for the cores;
 * owning the parallelism keeps exactly one thread per core busy. */
typedef struct {
    bool ta, tb;
    int M, N, K, lda, ldb, ldc, step;
    float alpha, beta;
    const float *A, *B;
    float *C;
    bool by_rows;
} gemm_job;

static void gemm_slice(void *ctx, int i, int n)
{
    const gemm_job *j = ctx;
    (void)n;
    int total = j->by_rows ? j->M : j->N, lo = i * j->step, hi = lo + j->step < total ? lo + j->step : total;
    if (lo >= hi) return;
    if (j->by_rows) {
        const float *a = j->ta ? j->A + lo : j->A + (size_t)lo * j->lda;
        sk_sgemm(j->ta, j->tb, hi - lo, j->N, j->K, j->alpha, a, j->lda, j->B, j->ldb, j->beta,
                 j->C + (size_t)lo * j->ldc, j->ldc);
    } else {
        const float *b = j->tb ? j->B + (size_t)lo * j->ldb : j->B + lo;
        sk_sgemm(j->ta, j->tb, j->M, hi - lo, j->K, j->alpha, j->A, j->lda, b, j->ldb, j->beta, j->C + lo, j->ldc);
    }
}

void sk_sgemm_pool(sk_pool *pool, bool ta, bool tb, int M, int N, int K, float alpha, const float *A, int lda,
                   const float *B, int ldb, float beta, float *C, int ldc)
{
    int nt = sk_pool_size(pool);
    if (nt <= 1 || (double)M * N * K < 1 << 18) {
        sk_sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    gemm_job j = {ta, tb, M, N, K, lda, ldb, ldc, 0, alpha, beta, A, B, C, false};
    j.by_rows = N < 64 * nt && M > N;
    int total = j.by_rows ? M : N, align = j.by_rows ? 4 : 16;
    j.step = ((total + nt - 1) / nt + align - 1) / align * align;
    sk_pool_run(pool, gemm_slice, &j);
}

/* ---- small sgemm: C = A·B ---- */
void sk_sgemm_small_ref(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C, int ldc)
{
    for (int i = 0; i < M; i++) {
        float *c = C + (size_t)i * ldc;
        for (int j = 0; j < N; j++) c[j] = 0;
        for (int p = 0; p < K; p++) {
            float a = A[(size_t)i * lda + p];
            const float *b = B + (size_t)p * ldb;
            for (int j = 0; j < N; j++) c[j] += a * b[j];
        }
    }
}

void sk_sgemm_small_bt_ref(int M, int N, int K, float alpha, const float *A, int lda, const float *B, int ldb, float *C,
                           int ldc)
{
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            float s = 0;
            for (int p = 0; p < K; p++) s += A[(size_t)i * lda + p] * B[(size_t)j * ldb + p];
            C[(size_t)i * ldc + j] = alpha * s;
        }
}

#if defined(__x86_64__)
/* Four dot products at a time (four rows of B against one row of A), 16
 * lanes wide with a masked tail, reduced at the end. */
__attribute__((target("avx512f")))
static void sgemm_bt_avx512(int M, int N, int K, float alpha, const float *A, int lda, const float *B, int ldb,
                            float *C, int ldc)
{
    for (int i = 0; i < M; i++) {
        const float *a = A + (size_t)i * lda;
        float *c = C + (size_t)i * ldc;
        int j = 0;
        for (; j + 4 <= N; j += 4) {
            const float *b0 = B + (size_t)j * ldb, *b1 = b0 + ldb, *b2 = b1 + ldb, *b3 = b2 + ldb;
            __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
            for (int p = 0; p < K; p += 16) {
                __mmask16 m = K - p >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (K - p)) - 1);
                __m512 av = _mm512_maskz_loadu_ps(m, a + p);
                s0 = _mm512_fmadd_ps(av, _mm512_maskz_loadu_ps(m, b0 + p), s0);
                s1 = _mm512_fmadd_ps(av, _mm512_maskz_loadu_ps(m, b1 + p), s1);
                s2 = _mm512_fmadd_ps(av, _mm512_maskz_loadu_ps(m, b2 + p), s2);
                s3 = _mm512_fmadd_ps(av, _mm512_maskz_loadu_ps(m, b3 + p), s3);
            }
            c[j] = alpha * _mm512_reduce_add_ps(s0);
            c[j + 1] = alpha * _mm512_reduce_add_ps(s1);
            c[j + 2] = alpha * _mm512_reduce_add_ps(s2);
            c[j + 3] = alpha * _mm512_reduce_add_ps(s3);
        }
        for (; j < N; j++) {
            const float *b0 = B + (size_t)j * ldb;
            __m512 s0 = _mm512_setzero_ps();
            for (int p = 0; p < K; p += 16) {
                __mmask16 m = K - p >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (K - p)) - 1);
                s0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + p), _mm512_maskz_loadu_ps(m, b0 + p), s0);
            }
            c[j] = alpha * _mm512_reduce_add_ps(s0);
        }
    }
}

__attribute__((target("avx2,fma"))) static inline float hsum256(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

__attribute__((target("avx2,fma")))
static void sgemm_bt_avx2(int M, int N, int K, float alpha, const float *A, int lda, const float *B, int ldb,
                          float *C, int ldc)
{
    int K8 = K & ~7;
    for (int i = 0; i < M; i++) {
        const float *a = A + (size_t)i * lda;
        float *c = C + (size_t)i * ldc;
        for (int j = 0; j < N; j++) {
            const float *b = B + (size_t)j * ldb;
            __m256 s0 = _mm256_setzero_ps();
            for (int p = 0; p < K8; p += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + p), _mm256_loadu_ps(b + p), s0);
            float s = hsum256(s0);
            for (int p = K8; p < K; p++) s += a[p] * b[p];
            c[j] = alpha * s;
        }
    }
}

/* Blocks of 4 rows × 32 columns (two zmm per row, eight accumulators); the
 * column tail is masked, the row tail goes one row at a time.  B's block
 * (K × 32 floats) stays in L1 across the row blocks. */
__attribute__((target("avx512f")))
static void sgemm_avx512(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C, int ldc)
{
    for (int j = 0; j < N; j += 32) {
        int nb = N - j < 32 ? N - j : 32;
        __mmask16 m0 = nb >= 16 ? 0xffff : (__mmask16)((1u << nb) - 1);
        __mmask16 m1 = nb <= 16 ? 0 : nb >= 32 ? 0xffff : (__mmask16)((1u << (nb - 16)) - 1);
        const float *Bj = B + j;
        int i = 0;
        for (; i + 4 <= M; i += 4) {
            const float *a0 = A + (size_t)i * lda, *a1 = a0 + lda, *a2 = a1 + lda, *a3 = a2 + lda;
            __m512 c00 = _mm512_setzero_ps(), c01 = c00, c10 = c00, c11 = c00;
            __m512 c20 = c00, c21 = c00, c30 = c00, c31 = c00;
            for (int p = 0; p < K; p++) {
                const float *b = Bj + (size_t)p * ldb;
                __m512 b0 = _mm512_maskz_loadu_ps(m0, b), b1 = _mm512_maskz_loadu_ps(m1, b + 16);
                __m512 a = _mm512_set1_ps(a0[p]);
                c00 = _mm512_fmadd_ps(a, b0, c00); c01 = _mm512_fmadd_ps(a, b1, c01);
                a = _mm512_set1_ps(a1[p]);
                c10 = _mm512_fmadd_ps(a, b0, c10); c11 = _mm512_fmadd_ps(a, b1, c11);
                a = _mm512_set1_ps(a2[p]);
                c20 = _mm512_fmadd_ps(a, b0, c20); c21 = _mm512_fmadd_ps(a, b1, c21);
                a = _mm512_set1_ps(a3[p]);
                c30 = _mm512_fmadd_ps(a, b0, c30); c31 = _mm512_fmadd_ps(a, b1, c31);
            }
            float *c = C + (size_t)i * ldc + j;
            _mm512_mask_storeu_ps(c, m0, c00); _mm512_mask_storeu_ps(c + 16, m1, c01); c += ldc;
            _mm512_mask_storeu_ps(c, m0, c10); _mm512_mask_storeu_ps(c + 16, m1, c11); c += ldc;
            _mm512_mask_storeu_ps(c, m0, c20); _mm512_mask_storeu_ps(c + 16, m1, c21); c += ldc;
            _mm512_mask_storeu_ps(c, m0, c30); _mm512_mask_storeu_ps(c + 16, m1, c31);
        }
        for (; i < M; i++) {
            const float *a0 = A + (size_t)i * lda;
            __m512 c00 = _mm512_setzero_ps(), c01 = c00;
            for (int p = 0; p < K; p++) {
                const float *b = Bj + (size_t)p * ldb;
                __m512 a = _mm512_set1_ps(a0[p]);
                c00 = _mm512_fmadd_ps(a, _mm512_maskz_loadu_ps(m0, b), c00);
                c01 = _mm512_fmadd_ps(a, _mm512_maskz_loadu_ps(m1, b + 16), c01);
            }
            float *c = C + (size_t)i * ldc + j;
            _mm512_mask_storeu_ps(c, m0, c00); _mm512_mask_storeu_ps(c + 16, m1, c01);
        }
    }
}

/* The same blocking with 4 rows × 16 columns of ymm; lanes past N are
 * masked with vmaskmov. */
static const int32_t mask_tbl[16] = { -1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0 };

__attribute__((target("avx2,fma")))
static void sgemm_avx2(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C, int ldc)
{
    for (int j = 0; j < N; j += 16) {
        int nb = N - j < 16 ? N - j : 16;
        int n0 = nb < 8 ? nb : 8, n1 = nb - n0;
        __m256i m0 = _mm256_loadu_si256((const __m256i *)(mask_tbl + 8 - n0));
        __m256i m1 = _mm256_loadu_si256((const __m256i *)(mask_tbl + 8 - n1));
        const float *Bj = B + j;
        int i = 0;
        for (; i + 4 <= M; i += 4) {
            const float *a0 = A + (size_t)i * lda, *a1 = a0 + lda, *a2 = a1 + lda, *a3 = a2 + lda;
            __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00;
            __m256 c20 = c00, c21 = c00, c30 = c00, c31 = c00;
            for (int p = 0; p < K; p++) {
                const float *b = Bj + (size_t)p * ldb;
                __m256 b0 = _mm256_maskload_ps(b, m0), b1 = _mm256_maskload_ps(b + 8, m1);
                __m256 a = _mm256_broadcast_ss(a0 + p);
                c00 = _mm256_fmadd_ps(a, b0, c00); c01 = _mm256_fmadd_ps(a, b1, c01);
                a = _mm256_broadcast_ss(a1 + p);
                c10 = _mm256_fmadd_ps(a, b0, c10); c11 = _mm256_fmadd_ps(a, b1, c11);
                a = _mm256_broadcast_ss(a2 + p);
                c20 = _mm256_fmadd_ps(a, b0, c20); c21 = _mm256_fmadd_ps(a, b1, c21);
                a = _mm256_broadcast_ss(a3 + p);
                c30 = _mm256_fmadd_ps(a, b0, c30); c31 = _mm256_fmadd_ps(a, b1, c31);
            }
            float *c = C + (size_t)i * ldc + j;
            _mm256_maskstore_ps(c, m0, c00); _mm256_maskstore_ps(c + 8, m1, c01); c += ldc;
            _mm256_maskstore_ps(c, m0, c10); _mm256_maskstore_ps(c + 8, m1, c11); c += ldc;
            _mm256_maskstore_ps(c, m0, c20); _mm256_maskstore_ps(c + 8, m1, c21); c += ldc;
            _mm256_maskstore_ps(c, m0, c30); _mm256_maskstore_ps(c + 8, m1, c31);
        }
        for (; i < M; i++) {
            const float *a0 = A + (size_t)i * lda;
            __m256 c00 = _mm256_setzero_ps(), c01 = c00;
            for (int p = 0; p < K; p++) {
                const float *b = Bj + (size_t)p * ldb;
                __m256 a = _mm256_broadcast_ss(a0 + p);
                c00 = _mm256_fmadd_ps(a, _mm256_maskload_ps(b, m0), c00);
                c01 = _mm256_fmadd_ps(a, _mm256_maskload_ps(b + 8, m1), c01);
            }
            float *c = C + (size_t)i * ldc + j;
            _mm256_maskstore_ps(c, m0, c00); _mm256_maskstore_ps(c + 8, m1, c01);
        }
    }
}
#endif

void sk_sgemm_small_bt(int M, int N, int K, float alpha, const float *A, int lda, const float *B, int ldb, float *C,
                       int ldc)
{
#if defined(__x86_64__)
    const sk_cpu *cpu = sk_cpu_get();
    if (cpu->avx512f) { sgemm_bt_avx512(M, N, K, alpha, A, lda, B, ldb, C, ldc); return; }
    if (cpu->avx2 && cpu->fma) { sgemm_bt_avx2(M, N, K, alpha, A, lda, B, ldb, C, ldc); return; }
#endif
    sk_sgemm_small_bt_ref(M, N, K, alpha, A, lda, B, ldb, C, ldc);
}

void sk_sgemm_small(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C, int ldc)
{
#if defined(__x86_64__)
    const sk_cpu *cpu = sk_cpu_get();
    if (cpu->avx512f) { sgemm_avx512(M, N, K, A, lda, B, ldb, C, ldc); return; }
    if (cpu->avx2 && cpu->fma) { sgemm_avx2(M, N, K, A, lda, B, ldb, C, ldc); return; }
#endif
    sk_sgemm_small_ref(M, N, K, A, lda, B, ldb, C, ldc);
}
