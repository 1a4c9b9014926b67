/* sparse.c — y = x·Wᵀ over the non-zeros of a pruned fp32 weight.
 *
 * W is packed by output row (CSR: for each output n, the input indices
 * — 16-bit: K up to 65536, else the weight stays dense — and values of its
 * non-zeros; 6 bytes a non-zero).  x is transposed once per call into tiles
 * of 16 rows, xt [tile][K][16], so that one non-zero w_nk contributes
 * w_nk·xt[k] to 16 outputs with one vector FMA; four output rows are
 * accumulated at once for independent FMA chains.  Inputs go in chunks of
 * 512, so the part of a tile a pass reads (32 kB) stays in L1 whatever K is.
 * Output rows are taken in blocks whose packed weights stay in cache across
 * the x tiles; threads split the rows.
 *
 * It pays only when W is sparse enough: the dense product runs at BLAS's
 * peak while this one reads an index and a value per FMA and gathers x rows.
 * SK_SPARSE_MAX_DENSITY is the measured break-even (tests/unit/test_prune.c
 * prints timings; docs/passes.md has them); above it the weight stays with
 * the dense kernel.  The packed copy costs 6 bytes a non-zero on top of the
 * dense weight the model keeps.  The scalar _ref is the source of truth.
 */
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif
#include "runtime/kernels/sparse.h"

/* Non-zero fraction at or below which the sparse product is used.  The
 * dense product it competes with is the packed one (pgemm.c), ~2x faster
 * than the OpenBLAS call this was first measured against.
 * tests/unit/test_prune.c prints both; [128x768]·[768x3072], 2 threads,
 * best of 10 (a loaded machine: two runs shown), sparse vs packed:
 *   density   0.5         0.4         0.3         0.2         0.1
 *             0.39-0.76×  0.91-1.68×  1.48-2.38×  1.67-1.83×  2.8-3.0×
 * With fewer than 16 rows (a tile) the padding wastes the vector: at M = 1
 * dense gemv wins down to density 0.1. */
#define SK_SPARSE_MAX_DENSITY 0.35

#define TILE 16     /* rows of x per tile: one AVX-512 vector */
#define NBLOCK 64   /* output rows per block */
#define KC 512      /* inputs per chunk: a chunk of a tile of xt is 32 kB, in L1 */

sk_spmat *sk_spmat_pack(const float *w, int64_t N, int64_t K, bool wt)
{
    SK_ASSERT(K <= 65536);
    int64_t nnz = 0;
    for (int64_t i = 0; i < N * K; i++) nnz += w[i] != 0.0f;
    int nc = (int)((K + KC - 1) / KC);
    size_t bytes = sizeof(sk_spmat) + (size_t)(N + 1) * sizeof(int64_t) + (size_t)(N * (nc + 1)) * sizeof(int64_t) +
                   (size_t)nnz * (sizeof(uint16_t) + sizeof(float));
    sk_spmat *s = sk_malloc(bytes);
    if (!s) return NULL;
    s->hdr.kind = SK_LINW_SPARSE;
    s->N = N;
    s->K = K;
    s->nnz = nnz;
    s->nchunk = nc;
    s->rowptr = (int64_t *)(s + 1);
    s->cptr = s->rowptr + N + 1;
    s->val = (float *)(s->cptr + N * (nc + 1));
    s->col = (uint16_t *)(s->val + nnz);
    int64_t p = 0;
    for (int64_t n = 0; n < N; n++) {
        s->rowptr[n] = p;
        for (int64_t k = 0; k < K; k++) {
            if (k % KC == 0) s->cptr[n * (nc + 1) + k / KC] = p;
            float v = wt ? w[n * K + k] : w[k * N + n];
            if (v != 0.0f) { s->col[p] = (uint16_t)k; s->val[p++] = v; }
        }
        s->cptr[n * (nc + 1) + nc] = p;
    }
    s->rowptr[N] = p;
    return s;
}

void sk_spmat_mul_ref(const sk_spmat *s, const float *x, int64_t M, float *y)
{
    for (int64_t m = 0; m < M; m++)
        for (int64_t n = 0; n < s->N; n++) {
            float acc = 0;
            for (int64_t p = s->rowptr[n]; p < s->rowptr[n + 1]; p++) acc += s->val[p] * x[m * s->K + s->col[p]];
            y[m * s->N + n] = acc;
        }
}

/* ---- the tiled product: rows [n0, n1), input chunk c, of one tile, added to out [n1 - n0][TILE] ---- */

static void rows_scalar(const sk_spmat *s, const float *xt, int64_t n0, int64_t n1, int c, float *out)
{
    for (int64_t n = n0; n < n1; n++) {
        const int64_t *cp = s->cptr + n * (s->nchunk + 1) + c;
        float *acc = out + (n - n0) * TILE;
        for (int64_t p = cp[0]; p < cp[1]; p++) {
            const float *xr = xt + (size_t)s->col[p] * TILE;
            float v = s->val[p];
            for (int i = 0; i < TILE; i++) acc[i] += v * xr[i];
        }
    }
}

#if defined(__x86_64__)
#define FMA512(a, p) a = _mm512_fmadd_ps(_mm512_set1_ps(val[p]), _mm512_load_ps(xt + (size_t)col[p] * TILE), a)

__attribute__((target("avx512f")))
static void rows_avx512(const sk_spmat *s, const float *xt, int64_t n0, int64_t n1, int c, float *out)
{
    const uint16_t *col = s->col;
    const float *val = s->val;
    const int64_t stride = s->nchunk + 1;
    int64_t n = n0;
    for (; n + 4 <= n1; n += 4) {   /* four rows at once: independent FMA chains */
        const int64_t *c0 = s->cptr + n * stride + c, *c1 = c0 + stride, *c2 = c1 + stride, *c3 = c2 + stride;
        float *o = out + (n - n0) * TILE;
        __m512 a0 = _mm512_loadu_ps(o), a1 = _mm512_loadu_ps(o + TILE), a2 = _mm512_loadu_ps(o + 2 * TILE),
               a3 = _mm512_loadu_ps(o + 3 * TILE);
        int64_t p0 = c0[0], p1 = c1[0], p2 = c2[0], p3 = c3[0];
        int64_t l0 = c0[1] - p0, l1 = c1[1] - p1, l2 = c2[1] - p2, l3 = c3[1] - p3;
        int64_t lm = l0 < l1 ? l0 : l1;
        if (l2 < lm) lm = l2;
        if (l3 < lm) lm = l3;
        for (int64_t j = 0; j < lm; j++) {
            FMA512(a0, p0 + j);
            FMA512(a1, p1 + j);
            FMA512(a2, p2 + j);
            FMA512(a3, p3 + j);
        }
        for (int64_t j = lm; j < l0; j++) FMA512(a0, p0 + j);
        for (int64_t j = lm; j < l1; j++) FMA512(a1, p1 + j);
        for (int64_t j = lm; j < l2; j++) FMA512(a2, p2 + j);
        for (int64_t j = lm; j < l3; j++) FMA512(a3, p3 + j);
        _mm512_storeu_ps(o, a0);
        _mm512_storeu_ps(o + TILE, a1);
        _mm512_storeu_ps(o + 2 * TILE, a2);
        _mm512_storeu_ps(o + 3 * TILE, a3);
    }
    for (; n < n1; n++) {
        const int64_t *cp = s->cptr + n * stride + c;
        float *o = out + (n - n0) * TILE;
        __m512 a = _mm512_loadu_ps(o);
        for (int64_t p = cp[0]; p < cp[1]; p++) FMA512(a, p);
        _mm512_storeu_ps(o, a);
    }
}
#undef FMA512

__attribute__((target("avx2,fma")))
static void rows_avx2(const sk_spmat *s, const float *xt, int64_t n0, int64_t n1, int c, float *out)
{
    const int64_t stride = s->nchunk + 1;
    for (int64_t n = n0; n < n1; n += 2) {   /* two rows at once, each two vectors */
        bool two = n + 1 < n1;
        float *o = out + (n - n0) * TILE;
        __m256 a0 = _mm256_loadu_ps(o), a1 = _mm256_loadu_ps(o + 8), b0 = a0, b1 = a1;
        if (two) { b0 = _mm256_loadu_ps(o + TILE); b1 = _mm256_loadu_ps(o + TILE + 8); }
        const int64_t *cp = s->cptr + n * stride + c;
        for (int64_t p = cp[0]; p < cp[1]; p++) {
            const float *xr = xt + (size_t)s->col[p] * TILE;
            __m256 v = _mm256_set1_ps(s->val[p]);
            a0 = _mm256_fmadd_ps(v, _mm256_load_ps(xr), a0);
            a1 = _mm256_fmadd_ps(v, _mm256_load_ps(xr + 8), a1);
        }
        if (two)
            for (int64_t p = cp[stride]; p < cp[stride + 1]; p++) {
                const float *xr = xt + (size_t)s->col[p] * TILE;
                __m256 v = _mm256_set1_ps(s->val[p]);
                b0 = _mm256_fmadd_ps(v, _mm256_load_ps(xr), b0);
                b1 = _mm256_fmadd_ps(v, _mm256_load_ps(xr + 8), b1);
            }
        _mm256_storeu_ps(o, a0);
        _mm256_storeu_ps(o + 8, a1);
        if (two) {
            _mm256_storeu_ps(o + TILE, b0);
            _mm256_storeu_ps(o + TILE + 8, b1);
        }
    }
}
#endif

typedef void (*rows_fn)(const sk_spmat *s, const float *xt, int64_t n0, int64_t n1, int c, float *out);

typedef struct mul_job {
    const sk_spmat *s;
    const float *xt;         /* [tiles][K][TILE] */
    int64_t M;
    float *y;                /* [M, N] */
    rows_fn rows;
} mul_job;

static void mul_part(void *ctx, int t, int nt)
{
    const mul_job *j = ctx;
    const sk_spmat *s = j->s;
    int64_t per = (s->N + nt - 1) / nt, lo = t * per, hi = lo + per < s->N ? lo + per : s->N;
    int64_t tiles = (j->M + TILE - 1) / TILE;
    float out[NBLOCK * TILE] __attribute__((aligned(64)));
    for (int64_t b0 = lo; b0 < hi; b0 += NBLOCK) {   /* a block's packed rows stay in cache across the tiles */
        int64_t b1 = b0 + NBLOCK < hi ? b0 + NBLOCK : hi;
        for (int64_t tl = 0; tl < tiles; tl++) {
            memset(out, 0, sizeof out);
            for (int c = 0; c < s->nchunk; c++) j->rows(s, j->xt + (size_t)(tl * s->K * TILE), b0, b1, c, out);
            int64_t m0 = tl * TILE, mt = j->M - m0 < TILE ? j->M - m0 : TILE;
            for (int64_t i = 0; i < mt; i++) {
                float *yr = j->y + (m0 + i) * s->N;
                for (int64_t n = b0; n < b1; n++) yr[n] = out[(n - b0) * TILE + i];
            }
        }
    }
}

sk_status sk_spmat_mul(const sk_spmat *s, const float *x, int64_t M, float *y, sk_pool *pool)
{
    if (M <= 0 || s->N <= 0) return SK_OK;
    int64_t tiles = (M + TILE - 1) / TILE, K = s->K;
    float *xt = sk_aligned_alloc(64, (size_t)(tiles * K * TILE) * sizeof *xt + 64);
    if (!xt) return SK_ERR_NOMEM;
    for (int64_t tl = 0; tl < tiles; tl++) {   /* xt[tl][k][i] = x[tl·TILE + i][k] */
        float *d = xt + tl * K * TILE;
        int64_t m0 = tl * TILE, mt = M - m0 < TILE ? M - m0 : TILE;
        if (mt < TILE) memset(d, 0, (size_t)(K * TILE) * sizeof *d);
        for (int64_t i = 0; i < mt; i++) {
            const float *xr = x + (m0 + i) * K;
            for (int64_t k = 0; k < K; k++) d[k * TILE + i] = xr[k];
        }
    }
    mul_job j = {s, xt, M, y, rows_scalar};
#if defined(__x86_64__)
    const sk_cpu *cpu = sk_cpu_get();
    if (cpu->avx512f) j.rows = rows_avx512;
    else if (cpu->avx2 && cpu->fma) j.rows = rows_avx2;
#endif
    if (pool && sk_pool_size(pool) > 1 && s->nnz * M > (1 << 16)) sk_pool_run(pool, mul_part, &j);
    else mul_part(&j, 0, 1);
    sk_free(xt);
    return SK_OK;
}

/* ---- when it pays ---- */

bool sk_spmat_pays(const float *w, int64_t N, int64_t K)
{
    int64_t nz = 0, n = N * K;
    for (int64_t i = 0; i < n; i++) nz += w[i] != 0.0f;
    return n > 0 && (double)nz <= SK_SPARSE_MAX_DENSITY * (double)n && K > 0 && K <= 65536;
}
