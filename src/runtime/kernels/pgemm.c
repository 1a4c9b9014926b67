/* pgemm.c — y = x·Wᵀ (+ b) with W packed once: the fp32 LINEAR kernel.
 *
 * A LINEAR's weight is constant for the life of a session, so it is
 * reordered once, the first time the node runs, into the layout the inner
 * loop wants: panels of NR output columns, each panel K rows of NR floats
 * (W's column n, k → panel n/NR, row k, lane n%NR; lanes past N are zero).
 * A BLAS call packs its B operand on every call (16% of bert-base's time in
 * OpenBLAS's sgemm_incopy, perf); onnxruntime's MLAS prepacks, and so do we.
 *
 * Blocking (AVX-512: NR = 32, two zmm, MR = 12 rows: 24 accumulators):
 * K is cut into blocks of KC; for each block, each panel's KC × NR slice
 * (32 KiB) stays in L1 while the MR-row tiles of x walk past it; the block
 * of x (M × KC) stays in L2.  x is not packed: its values are broadcast
 * straight from its rows.  Threads take contiguous runs of panels.  The
 * bias is added in registers on the last K block; an activation runs on the
 * tile while it is still in L1.  AVX2: NR = 16 (two ymm), MR = 6.
 *
 * sk_pgemm_ref computes the same sums from the same packed layout in plain
 * C, with the same order of additions per output (k ascending, then the
 * bias), so the SIMD paths match it up to FMA rounding; tests hold them to
 * it on odd shapes.
 */
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif
#include "runtime/kernels/f32.h"

#define KC 256

static int pick_nr(void)
{
    const sk_cpu *cpu = sk_cpu_get();
    if (cpu->avx512f) return 32;
    if (cpu->avx2 && cpu->fma) return 16;
    return 0;
}

sk_packw *sk_packw_new_nr(const float *w, int64_t N, int64_t K, bool wt, int nr)
{
    if (nr <= 0 || N <= 0 || K <= 0) return NULL;
    int64_t np = (N + nr - 1) / nr;
    size_t head = (sizeof(sk_packw) + 63) & ~(size_t)63;
    size_t bytes = head + (size_t)np * (size_t)K * (size_t)nr * sizeof(float);
    sk_packw *p = sk_aligned_alloc(64, bytes);
    if (!p) return NULL;
    memset(p, 0, sizeof *p);
    p->hdr.kind = SK_LINW_PACKED;
    p->N = N;
    p->K = K;
    p->nr = nr;
    p->p = (float *)((char *)p + head);
    for (int64_t j = 0; j < np; j++) {
        float *d = p->p + (size_t)j * K * nr;
        for (int64_t k = 0; k < K; k++)
            for (int r = 0; r < nr; r++) {
                int64_t n = j * nr + r;
                d[k * nr + r] = n >= N ? 0.0f : wt ? w[n * K + k] : w[k * N + n];
            }
    }
    return p;
}

sk_packw *sk_packw_new(const float *w, int64_t N, int64_t K, bool wt)
{
    return sk_packw_new_nr(w, N, K, wt, pick_nr());
}

void sk_pgemm_ref(const sk_packw *p, const float *x, int64_t M, const float *b, float *y)
{
    int64_t N = p->N, K = p->K;
    int nr = p->nr;
    for (int64_t m = 0; m < M; m++)
        for (int64_t n = 0; n < N; n++) {
            const float *col = p->p + (size_t)(n / nr) * K * nr + n % nr;
            float s = 0.0f;
            for (int64_t k = 0; k < K; k++) s += x[m * K + k] * col[k * nr];
            y[m * N + n] = b ? s + b[n] : s;
        }
}

/* ---- the threaded driver: panels [j0, j1) of one thread ---- */

typedef struct pjob {
    const sk_packw *p;
    const float *x, *b;
    float *y;
    int64_t M;
    sk_act act;
    int64_t step;   /* panels per thread */
} pjob;

/* Columns [n0, n0 + nw) of rows [m0, m0 + mr) of y: activation in place. */
static void tile_act(const pjob *j, int64_t m0, int mr, int64_t n0, int nw)
{
    if (j->act == SK_ACT_NONE) return;
    for (int i = 0; i < mr; i++) {
        float *r = j->y + (m0 + i) * j->p->N + n0;
        sk_bias_act_f32(r, r, NULL, nw, j->act);
    }
}

#if defined(__x86_64__)
/* One MR × 32 tile over k in [0, kc): acc = (first ? 0 : y) + x·panel;
 * on the last block + bias.  Inlined per constant mr by the switch below. */
__attribute__((target("avx512f"), always_inline))
static inline void ukr512(int mr, int64_t kc, const float *x, int64_t ldx, const float *pp, float *y, int64_t ldy,
                          __mmask16 m0, __mmask16 m1, bool first, const float *bias)
{
    __m512 c[12][2];
#pragma GCC unroll 12
    for (int i = 0; i < mr; i++) {
        if (first) {
            c[i][0] = _mm512_setzero_ps();
            c[i][1] = _mm512_setzero_ps();
        } else {
            c[i][0] = _mm512_maskz_loadu_ps(m0, y + i * ldy);
            c[i][1] = _mm512_maskz_loadu_ps(m1, y + i * ldy + 16);
        }
    }
    for (int64_t k = 0; k < kc; k++) {
        __m512 b0 = _mm512_load_ps(pp + k * 32), b1 = _mm512_load_ps(pp + k * 32 + 16);
#pragma GCC unroll 12
        for (int i = 0; i < mr; i++) {
            __m512 a = _mm512_set1_ps(x[i * ldx + k]);
            c[i][0] = _mm512_fmadd_ps(a, b0, c[i][0]);
            c[i][1] = _mm512_fmadd_ps(a, b1, c[i][1]);
        }
    }
    if (bias) {
        __m512 b0 = _mm512_maskz_loadu_ps(m0, bias), b1 = _mm512_maskz_loadu_ps(m1, bias + 16);
#pragma GCC unroll 12
        for (int i = 0; i < mr; i++) {
            c[i][0] = _mm512_add_ps(c[i][0], b0);
            c[i][1] = _mm512_add_ps(c[i][1], b1);
        }
    }
#pragma GCC unroll 12
    for (int i = 0; i < mr; i++) {
        _mm512_mask_storeu_ps(y + i * ldy, m0, c[i][0]);
        _mm512_mask_storeu_ps(y + i * ldy + 16, m1, c[i][1]);
    }
}

#define UKR512_CASE(R) \
    case R: ukr512(R, kc, x, ldx, pp, y, ldy, m0, m1, first, bias); break;

__attribute__((target("avx512f")))
static void tile512(int mr, int64_t kc, const float *x, int64_t ldx, const float *pp, float *y, int64_t ldy, int nw,
                    bool first, const float *bias)
{
    __mmask16 m0 = nw >= 16 ? 0xffff : (__mmask16)((1u << nw) - 1);
    __mmask16 m1 = nw <= 16 ? 0 : nw >= 32 ? 0xffff : (__mmask16)((1u << (nw - 16)) - 1);
    switch (mr) {
    UKR512_CASE(1) UKR512_CASE(2) UKR512_CASE(3) UKR512_CASE(4) UKR512_CASE(5) UKR512_CASE(6)
    UKR512_CASE(7) UKR512_CASE(8) UKR512_CASE(9) UKR512_CASE(10) UKR512_CASE(11) UKR512_CASE(12)
    default: break;
    }
}

/* AVX2: MR × 16 tiles, two ymm per row; column tails by vmaskmov. */
static const int32_t lane_mask[16] = { -1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0 };

__attribute__((target("avx2,fma"), always_inline))
static inline void ukr256(int mr, int64_t kc, const float *x, int64_t ldx, const float *pp, float *y, int64_t ldy,
                          __m256i m0, __m256i m1, bool first, const float *bias)
{
    __m256 c[6][2];
#pragma GCC unroll 6
    for (int i = 0; i < mr; i++) {
        if (first) {
            c[i][0] = _mm256_setzero_ps();
            c[i][1] = _mm256_setzero_ps();
        } else {
            c[i][0] = _mm256_maskload_ps(y + i * ldy, m0);
            c[i][1] = _mm256_maskload_ps(y + i * ldy + 8, m1);
        }
    }
    for (int64_t k = 0; k < kc; k++) {
        __m256 b0 = _mm256_load_ps(pp + k * 16), b1 = _mm256_load_ps(pp + k * 16 + 8);
#pragma GCC unroll 6
        for (int i = 0; i < mr; i++) {
            __m256 a = _mm256_broadcast_ss(x + i * ldx + k);
            c[i][0] = _mm256_fmadd_ps(a, b0, c[i][0]);
            c[i][1] = _mm256_fmadd_ps(a, b1, c[i][1]);
        }
    }
    if (bias) {
        __m256 b0 = _mm256_maskload_ps(bias, m0), b1 = _mm256_maskload_ps(bias + 8, m1);
#pragma GCC unroll 6
        for (int i = 0; i < mr; i++) {
            c[i][0] = _mm256_add_ps(c[i][0], b0);
            c[i][1] = _mm256_add_ps(c[i][1], b1);
        }
    }
#pragma GCC unroll 6
    for (int i = 0; i < mr; i++) {
        _mm256_maskstore_ps(y + i * ldy, m0, c[i][0]);
        _mm256_maskstore_ps(y + i * ldy + 8, m1, c[i][1]);
    }
}

#define UKR256_CASE(R) \
    case R: ukr256(R, kc, x, ldx, pp, y, ldy, m0, m1, first, bias); break;

__attribute__((target("avx2,fma")))
static void tile256(int mr, int64_t kc, const float *x, int64_t ldx, const float *pp, float *y, int64_t ldy, int nw,
                    bool first, const float *bias)
{
    int n0 = nw < 8 ? nw : 8, n1 = nw - n0;
    __m256i m0 = _mm256_loadu_si256((const __m256i *)(lane_mask + 8 - n0));
    __m256i m1 = _mm256_loadu_si256((const __m256i *)(lane_mask + 8 - n1));
    switch (mr) {
    UKR256_CASE(1) UKR256_CASE(2) UKR256_CASE(3) UKR256_CASE(4) UKR256_CASE(5) UKR256_CASE(6)
    default: break;
    }
}
#endif

static void pgemm_slice(void *ctx, int t, int nt)
{
    const pjob *j = ctx;
    (void)nt;
    const sk_packw *p = j->p;
    int64_t N = p->N, K = p->K, np = (N + p->nr - 1) / p->nr;
    int64_t j0 = t * j->step, j1 = j0 + j->step < np ? j0 + j->step : np;
#if defined(__x86_64__)
    int nr = p->nr, mr_max = nr == 32 ? 12 : 6;
    void (*tile)(int, int64_t, const float *, int64_t, const float *, float *, int64_t, int, bool, const float *) =
        nr == 32 ? tile512 : tile256;
    for (int64_t k0 = 0; k0 < K; k0 += KC) {
        int64_t kc = K - k0 < KC ? K - k0 : KC;
        bool first = k0 == 0, last = k0 + kc == K;
        for (int64_t pj = j0; pj < j1; pj++) {
            int64_t n0 = pj * nr;
            int nw = N - n0 < nr ? (int)(N - n0) : nr;
            const float *pp = p->p + (size_t)pj * K * nr + (size_t)k0 * nr;
            const float *bias = last && j->b ? j->b + n0 : NULL;
            for (int64_t m0 = 0; m0 < j->M; m0 += mr_max) {
                int mr = j->M - m0 < mr_max ? (int)(j->M - m0) : mr_max;
                tile(mr, kc, j->x + m0 * K + k0, K, pp, j->y + m0 * N + n0, N, nw, first, bias);
                if (last) tile_act(j, m0, mr, n0, nw);
            }
        }
    }
#else
    (void)j0; (void)j1; (void)N; (void)K;
#endif
}

void sk_pgemm(const sk_packw *p, const float *x, int64_t M, const float *b, sk_act act, float *y, sk_pool *pool)
{
    int64_t np = (p->N + p->nr - 1) / p->nr;
    int nt = pool ? sk_pool_size(pool) : 1;
    /* few FLOPs: one thread (the pool's wake-up costs more than it saves) */
    if ((double)M * (double)p->N * (double)p->K < (double)(1 << 17)) nt = 1;
    if (nt > np) nt = (int)np;
    pjob j = { p, x, b, y, M, act, (np + nt - 1) / nt };
    if (nt <= 1) pgemm_slice(&j, 0, 1);
    else sk_pool_run(pool, pgemm_slice, &j);
}
