/* norm.c — LayerNormalization, the fused SKIP_LAYERNORM and
 * BatchNormalization (inference form).
 *
 * A layer-norm row is normalised in three passes over memory that stays in
 * L1: the sum, the sum of squared deviations from the mean (two-pass, so no
 * E[x²]−E[x]² cancellation), then y = (x − mean)·rstd·γ + β.  The sums are
 * accumulated in double, so rows of thousands of features agree with a
 * float64 reference to float rounding; AVX-512 and AVX2 versions keep the
 * double accumulators, in vectors.  SKIP_LAYERNORM first writes x + skip +
 * bias into the output row and normalises that in place, so the sum is never
 * a separate tensor.
 */
#include <math.h>
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif
#include "runtime/kernels/f32.h"

/* ---- one row: sum and sum of squared deviations, in double ---- */
static void row_stats_ref(const float *x, int64_t n, double *mean, double *var)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += x[i];
    double m = s / (double)n, q = 0;
    for (int64_t i = 0; i < n; i++) q += (x[i] - m) * (x[i] - m);
    *mean = m;
    *var = q / (double)n;
}

#if defined(__x86_64__)
/* the upper 8 floats of v (without AVX512DQ's extractf32x8) */
__attribute__((target("avx512f"))) static inline __m256 hi256(__m512 v)
{
    return _mm256_castsi256_ps(_mm512_extracti64x4_epi64(_mm512_castps_si512(v), 1));
}

__attribute__((target("avx512f")))
static void row_stats_avx512(const float *x, int64_t n, double *mean, double *var)
{
    __m512d s0 = _mm512_setzero_pd(), s1 = s0;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 v = _mm512_loadu_ps(x + i);
        s0 = _mm512_add_pd(s0, _mm512_cvtps_pd(_mm512_castps512_ps256(v)));
        s1 = _mm512_add_pd(s1, _mm512_cvtps_pd(hi256(v)));
    }
    double s = _mm512_reduce_add_pd(_mm512_add_pd(s0, s1));
    for (int64_t t = i; t < n; t++) s += x[t];
    double m = s / (double)n;
    __m512d vm = _mm512_set1_pd(m);
    s0 = s1 = _mm512_setzero_pd();
    for (i = 0; i + 16 <= n; i += 16) {
        __m512 v = _mm512_loadu_ps(x + i);
        __m512d d0 = _mm512_sub_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(v)), vm);
        __m512d d1 = _mm512_sub_pd(_mm512_cvtps_pd(hi256(v)), vm);
        s0 = _mm512_fmadd_pd(d0, d0, s0);
        s1 = _mm512_fmadd_pd(d1, d1, s1);
    }
    double q = _mm512_reduce_add_pd(_mm512_add_pd(s0, s1));
    for (int64_t t = i; t < n; t++) q += (x[t] - m) * (x[t] - m);
    *mean = m;
    *var = q / (double)n;
}

__attribute__((target("avx2,fma")))
static void row_stats_avx2(const float *x, int64_t n, double *mean, double *var)
{
    __m256d s0 = _mm256_setzero_pd(), s1 = s0;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        s0 = _mm256_add_pd(s0, _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
        s1 = _mm256_add_pd(s1, _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
    }
    double t4[4];
    _mm256_storeu_pd(t4, _mm256_add_pd(s0, s1));
    double s = (t4[0] + t4[1]) + (t4[2] + t4[3]);
    for (int64_t t = i; t < n; t++) s += x[t];
    double m = s / (double)n;
    __m256d vm = _mm256_set1_pd(m);
    s0 = s1 = _mm256_setzero_pd();
    for (i = 0; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        __m256d d0 = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(v)), vm);
        __m256d d1 = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)), vm);
        s0 = _mm256_fmadd_pd(d0, d0, s0);
        s1 = _mm256_fmadd_pd(d1, d1, s1);
    }
    _mm256_storeu_pd(t4, _mm256_add_pd(s0, s1));
    double q = (t4[0] + t4[1]) + (t4[2] + t4[3]);
    for (int64_t t = i; t < n; t++) q += (x[t] - m) * (x[t] - m);
    *mean = m;
    *var = q / (double)n;
}
#endif

static void row_stats(const float *x, int64_t n, double *mean, double *var)
{
#if defined(__x86_64__)
    const sk_cpu *cpu = sk_cpu_get();
    if (cpu->avx512f) { row_stats_avx512(x, n, mean, var); return; }
    if (cpu->avx2 && cpu->fma) { row_stats_avx2(x, n, mean, var); return; }
#endif
    row_stats_ref(x, n, mean, var);
}

/* y = (x − mean)·rstd·g + b over one row (b may be NULL); y may be x.
 * Plain C: GCC vectorises it for the baseline ISA, and it is one pass. */
static void row_norm(float *y, const float *x, int64_t n, float mean, float rstd, const float *g, const float *b)
{
    if (b)
        for (int64_t i = 0; i < n; i++) y[i] = (x[i] - mean) * rstd * g[i] + b[i];
    else
        for (int64_t i = 0; i < n; i++) y[i] = (x[i] - mean) * rstd * g[i];
}

/* ---- LAYERNORM(x, gamma, beta?) and SKIP_LAYERNORM(x, skip, gamma, beta?, bias?) ---- */
typedef struct {
    const float *x, *skip, *bias, *g, *b;
    float *y;
    int64_t D;             /* normalised features per row */
    int64_t skip_rows;     /* rows of skip (broadcast over x's rows by modulo) */
    float eps;
} ln_job;

static void ln_rows(void *ctx, int64_t lo, int64_t hi)
{
    const ln_job *j = ctx;
    int64_t D = j->D;
    for (int64_t r = lo; r < hi; r++) {
        const float *x = j->x + r * D;
        float *y = j->y + r * D;
        if (j->skip) {
            const float *s = j->skip + (r % j->skip_rows) * D;
            if (j->bias)
                for (int64_t i = 0; i < D; i++) y[i] = x[i] + s[i] + j->bias[i];
            else
                for (int64_t i = 0; i < D; i++) y[i] = x[i] + s[i];
            x = y;
        }
        double mean, var;
        row_stats(x, D, &mean, &var);
        row_norm(y, x, D, (float)mean, (float)(1.0 / sqrt(var + (double)j->eps)), j->g, j->b);
    }
}

/* A per-feature parameter (gamma, beta, bias) of D values, or absent. */
static sk_status param_check(const sk_kctx *k, int idx, const char *what, int64_t D, bool required)
{
    const sk_rtensor *t = idx < k->n_in ? k->in[idx] : NULL;
    if (!t) return required ? sk_kerr(k, SK_ERR_INVALID, "%s (input %d) is missing", what, idx) : SK_OK;
    sk_status st = sk_kcheck_input(k, idx, SK_DT_F32, 0, SK_MAX_RANK);
    if (st) return st;
    if (sk_rt_numel(t) != D)
        return sk_kerr(k, SK_ERR_INVALID, "%s has %lld values, expected %lld (the normalised size)", what,
                       (long long)sk_rt_numel(t), (long long)D);
    return SK_OK;
}

static sk_status ln_axis(const sk_kctx *k, int64_t *D)
{
    const sk_rtensor *x = k->in[0];
    int64_t axis = sk_node_attr_i(k->node, "axis", -1);
    if (!sk_norm_axis(&axis, x->rank))
        return sk_kerr(k, SK_ERR_INVALID, "axis %lld out of range for rank %d",
                       (long long)sk_node_attr_i(k->node, "axis", -1), x->rank);
    *D = 1;
    for (int i = (int)axis; i < x->rank; i++) *D *= x->dims[i];
    return SK_OK;
}

sk_status sk_shape_LAYERNORM(sk_kctx *k)
{
    sk_status st;
    int64_t D;
    if ((st = sk_kcheck_input(k, 0, SK_DT_F32, 1, SK_MAX_RANK)) || (st = ln_axis(k, &D))) return st;
    if ((st = param_check(k, 1, "gamma", D, true)) || (st = param_check(k, 2, "beta", D, false))) return st;
    if (k->n_out > 1)
        for (int i = 1; i < k->n_out; i++)
            if (k->out[i]) return sk_kerr(k, SK_ERR_UNSUPPORTED, "outputs Mean and InvStdDev are not supported");
    sk_rt_set_shape(k->out[0], SK_DT_F32, k->in[0]->rank, k->in[0]->dims);
    return SK_OK;
}

sk_status sk_kern_LAYERNORM(sk_kctx *k)
{
    int64_t D;
    sk_status st = ln_axis(k, &D);
    if (st) return st;
    int64_t n = sk_rt_numel(k->in[0]);
    if (n == 0 || D == 0) return SK_OK;
    ln_job j = { k->in[0]->data, NULL, NULL, k->in[1]->data, k->n_in > 2 && k->in[2] ? k->in[2]->data : NULL,
                 k->out[0]->data, D, 1, sk_node_attr_f(k->node, "epsilon", 1e-5f) };
    sk_kpar(k, n / D, 8192 / D + 1, ln_rows, &j);
    return SK_OK;
}

sk_status sk_shape_SKIP_LAYERNORM(sk_kctx *k)
{
    sk_status st;
    if ((st = sk_kcheck_input(k, 0, SK_DT_F32, 1, SK_MAX_RANK)) ||
        (st = sk_kcheck_input(k, 1, SK_DT_F32, 1, SK_MAX_RANK)))
        return st;
    const sk_rtensor *x = k->in[0], *s = k->in[1];
    int64_t D = x->dims[x->rank - 1], n = sk_rt_numel(x), ns = sk_rt_numel(s);
    /* skip is x's shape, or its last rows repeated over the leading ones ([S, H] for [B, S, H]) */
    if (s->dims[s->rank - 1] != D || (n > 0 && (ns == 0 || n % ns != 0)))
        return sk_kerr(k, SK_ERR_INVALID,
                       "skip (rank %d, last dim %lld, %lld values) does not match x (last dim %lld, %lld values)",
                       s->rank, (long long)s->dims[s->rank - 1], (long long)ns, (long long)D, (long long)n);
    if ((st = param_check(k, 2, "gamma", D, true)) || (st = param_check(k, 3, "beta", D, false)) ||
        (st = param_check(k, 4, "bias", D, false)))
        return st;
    sk_rt_set_shape(k->out[0], SK_DT_F32, x->rank, x->dims);
    return SK_OK;
}

sk_status sk_kern_SKIP_LAYERNORM(sk_kctx *k)
{
    const sk_rtensor *x = k->in[0], *s = k->in[1];
    int64_t D = x->dims[x->rank - 1], n = sk_rt_numel(x);
    if (n == 0 || D == 0) return SK_OK;
    ln_job j = { x->data, s->data, k->n_in > 4 && k->in[4] ? k->in[4]->data : NULL, k->in[2]->data,
                 k->n_in > 3 && k->in[3] ? k->in[3]->data : NULL, k->out[0]->data, D, sk_rt_numel(s) / D,
                 sk_node_attr_f(k->node, "epsilon", 1e-5f) };
    sk_kpar(k, n / D, 8192 / D + 1, ln_rows, &j);
    return SK_OK;
}

/* ---- BatchNormalization(X, scale, B, mean, var), inference: per channel y = x·a + c ---- */
typedef struct { const float *x; float *y; const float *a, *c; int64_t C, plane; } bn_job;

static void bn_planes(void *ctx, int64_t lo, int64_t hi)
{
    const bn_job *j = ctx;
    for (int64_t p = lo; p < hi; p++) {
        float a = j->a[p % j->C], c = j->c[p % j->C];
        const float *x = j->x + p * j->plane;
        float *y = j->y + p * j->plane;
        for (int64_t i = 0; i < j->plane; i++) y[i] = x[i] * a + c;
    }
}

sk_status sk_shape_BATCHNORM(sk_kctx *k)
{
    sk_status st = sk_kcheck_input(k, 0, SK_DT_F32, 2, SK_MAX_RANK);
    if (st) return st;
    if (sk_node_attr_i(k->node, "training_mode", 0) != 0)
        return sk_kerr(k, SK_ERR_UNSUPPORTED, "training_mode=1 (only inference is supported)");
    for (int i = 1; i < k->n_out; i++)
        if (k->out[i]) return sk_kerr(k, SK_ERR_UNSUPPORTED, "running mean/var outputs are not supported");
    int64_t C = k->in[0]->dims[1];
    static const char *const names[] = { "", "scale", "B", "input_mean", "input_var" };
    for (int i = 1; i <= 4; i++)
        if ((st = param_check(k, i, names[i], C, true))) return st;
    k->scratch_need = (size_t)(2 * C) * sizeof(float);   /* per channel a and c */
    sk_rt_set_shape(k->out[0], SK_DT_F32, k->in[0]->rank, k->in[0]->dims);
    return SK_OK;
}

sk_status sk_kern_BATCHNORM(sk_kctx *k)
{
    const sk_rtensor *x = k->in[0];
    int64_t C = x->dims[1], n = sk_rt_numel(x);
    if (n == 0) return SK_OK;
    float *a = k->scratch;   /* [2, C]: scale/√(var+ε), then B − mean·that */
    const float *scale = k->in[1]->data, *bias = k->in[2]->data, *mean = k->in[3]->data, *var = k->in[4]->data;
    double eps = sk_node_attr_f(k->node, "epsilon", 1e-5f);
    for (int64_t c = 0; c < C; c++) {
        a[c] = (float)(scale[c] / sqrt((double)var[c] + eps));
        a[C + c] = bias[c] - mean[c] * a[c];
    }
    bn_job j = { x->data, k->out[0]->data, a, a + C, C, n / (x->dims[0] * C) };
    sk_kpar(k, x->dims[0] * C, 16384 / (j.plane ? j.plane : 1) + 1, bn_planes, &j);
    return SK_OK;
}
