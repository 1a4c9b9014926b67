/* activation.c — GELU (erf and tanh forms), the epilogue activations of
 * LINEAR, the RNN gate functions and the softmax of attention rows.
 *
 * Each function has a scalar _ref version computed in double, which is the
 * source of truth, and AVX-512 / AVX2 versions chosen by sk_cpu_get() at
 * run time; tests/unit/test_kernels_b.c holds the fast ones to the ref
 * (about 1e-7 relative to max(|y|, 1)).  The vector forms avoid cancellation:
 *   gelu(x)      = x·Φ(x),  Φ(x) = erfc(-x/√2)/2, with erfc from the
 *                  Chebyshev fit of Numerical Recipes (fractional error
 *                  < 1.2e-7 for all arguments) so the negative tail keeps its
 *                  relative accuracy;
 *   gelu_tanh(x) = 0.5·x·(1 + tanh(u)) = x / (1 + exp(-2u)),
 *                  u = √(2/π)·(x + 0.044715·x³)  (HF gelu_new);
 *   tanh(x)      = Cephes' odd polynomial for |x| < 0.625, else
 *                  sign(x)·(1 − 2/(exp(2|x|) + 1));
 *   exp          = Cephes expf: n = round(x·log2 e), a degree-6 polynomial
 *                  on the remainder, times 2^n.
 * The vector forms themselves are in vmath.h (inline, so that qmatmul.c's
 * epilogue applies the same ones to tiles in registers).
 */
#include <float.h>
#include <math.h>
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif
#include "runtime/kernels/vmath.h"

bool sk_act_parse(const char *s, sk_act *act)
{
    static const char *const names[] = { "", "relu", "gelu", "gelu_tanh", "tanh", "sigmoid" };
    for (int i = 0; i < (int)(sizeof names / sizeof names[0]); i++)
        if (!strcmp(s, names[i])) { *act = (sk_act)i; return true; }
    return false;
}

/* ---- scalar reference ---- */
static float act_ref(float xf, sk_act act)
{
    double x = xf;
    switch (act) {
    case SK_ACT_NONE: return xf;
    case SK_ACT_RELU: return xf > 0 ? xf : 0.0f;
    case SK_ACT_GELU: return (float)(0.5 * x * erfc(-x * SQRT1_2));          /* = 0.5x(1 + erf(x/√2)) */
    case SK_ACT_GELU_TANH: {
        double u = SQRT_2_PI * (x + 0.044715 * x * x * x);
        return (float)(x / (1.0 + exp(-2.0 * u)));                           /* = 0.5x(1 + tanh u) */
    }
    case SK_ACT_TANH: return (float)tanh(x);
    case SK_ACT_SIGMOID: return (float)(1.0 / (1.0 + exp(-x)));
    }
    return xf;
}

void sk_bias_act_f32_ref(float *y, const float *x, const float *b, int64_t n, sk_act act)
{
    for (int64_t i = 0; i < n; i++) y[i] = act_ref(b ? x[i] + b[i] : x[i], act);
}

void sk_softmax_f32_ref(float *x, int64_t n)
{
    if (n <= 0) return;
    float m = x[0];
    for (int64_t i = 1; i < n; i++) if (x[i] > m) m = x[i];
    if (m == -INFINITY) {
        for (int64_t i = 0; i < n; i++) x[i] = 1.0f / (float)n;
        return;
    }
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += exp((double)x[i] - m);
    for (int64_t i = 0; i < n; i++) x[i] = (float)(exp((double)x[i] - m) / s);
}

#if defined(__x86_64__)
/* ---- AVX-512 ---- */
#define LOOP512(EXPR)                                                                        \
    for (int64_t i = 0; i < n; i += 16) {                                                  \
        __mmask16 m = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);  \
        __m512 v = _mm512_maskz_loadu_ps(m, x + i);                                        \
        if (b) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, b + i));                      \
        _mm512_mask_storeu_ps(y + i, m, EXPR);                                             \
    }

__attribute__((target("avx512f")))
static void bias_act_avx512(float *y, const float *x, const float *b, int64_t n, sk_act act)
{
    switch (act) {
    case SK_ACT_NONE: LOOP512(v); break;
    case SK_ACT_RELU: LOOP512(_mm512_max_ps(v, _mm512_setzero_ps())); break;
    case SK_ACT_GELU: LOOP512(gelu512(v)); break;
    case SK_ACT_GELU_TANH: LOOP512(gelu_tanh512(v)); break;
    case SK_ACT_TANH: LOOP512(tanh512(v)); break;
    case SK_ACT_SIGMOID: LOOP512(sigmoid512(v)); break;
    }
}

__attribute__((target("avx512f")))
static void softmax_avx512(float *x, int64_t n)
{
    __m512 vm = S16(-INFINITY);
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
        vm = _mm512_max_ps(vm, _mm512_mask_loadu_ps(S16(-INFINITY), m, x + i));
    }
    float mx = _mm512_reduce_max_ps(vm);
    if (mx == -INFINITY) {
        for (int64_t i = 0; i < n; i++) x[i] = 1.0f / (float)n;
        return;
    }
    __m512 s = _mm512_setzero_ps(), vmx = S16(mx);
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
        __m512 e = exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), vmx));
        _mm512_mask_storeu_ps(x + i, m, e);
        s = _mm512_mask_add_ps(s, m, s, e);
    }
    __m512 inv = S16(1.0f / _mm512_reduce_add_ps(s));
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(x + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), inv));
    }
}

/* ---- AVX2 ---- */
/* Whole vectors, then the tail through an 8-float buffer. */
#define LOOP256(EXPR)                                                                    \
    do {                                                                                 \
        int64_t i = 0;                                                                   \
        for (; i + 8 <= n; i += 8) {                                                     \
            __m256 v = _mm256_loadu_ps(x + i);                                           \
            if (b) v = _mm256_add_ps(v, _mm256_loadu_ps(b + i));                         \
            _mm256_storeu_ps(y + i, EXPR);                                               \
        }                                                                                \
        if (i < n) {                                                                     \
            float buf[8] = { 0 };                                                        \
            for (int64_t j = i; j < n; j++) buf[j - i] = b ? x[j] + b[j] : x[j];         \
            __m256 v = _mm256_loadu_ps(buf);                                             \
            _mm256_storeu_ps(buf, EXPR);                                                 \
            for (int64_t j = i; j < n; j++) y[j] = buf[j - i];                           \
        }                                                                                \
    } while (0)

__attribute__((target("avx2,fma")))
static void bias_act_avx2(float *y, const float *x, const float *b, int64_t n, sk_act act)
{
    switch (act) {
    case SK_ACT_NONE: LOOP256(v); break;
    case SK_ACT_RELU: LOOP256(_mm256_max_ps(v, _mm256_setzero_ps())); break;
    case SK_ACT_GELU: LOOP256(gelu256(v)); break;
    case SK_ACT_GELU_TANH: LOOP256(gelu_tanh256(v)); break;
    case SK_ACT_TANH: LOOP256(tanh256(v)); break;
    case SK_ACT_SIGMOID: LOOP256(sigmoid256(v)); break;
    }
}

__attribute__((target("avx2,fma")))
static void softmax_avx2(float *x, int64_t n)
{
    float mx = -INFINITY;
    int64_t i = 0;
    __m256 vm = S8(-INFINITY);
    for (; i + 8 <= n; i += 8) vm = _mm256_max_ps(vm, _mm256_loadu_ps(x + i));
    float t[8];
    _mm256_storeu_ps(t, vm);
    for (int j = 0; j < 8; j++) if (t[j] > mx) mx = t[j];
    for (; i < n; i++) if (x[i] > mx) mx = x[i];
    if (mx == -INFINITY) {
        for (i = 0; i < n; i++) x[i] = 1.0f / (float)n;
        return;
    }
    __m256 s = _mm256_setzero_ps(), vmx = S8(mx);
    for (i = 0; i + 8 <= n; i += 8) {
        __m256 e = exp256(_mm256_sub_ps(_mm256_loadu_ps(x + i), vmx));
        _mm256_storeu_ps(x + i, e);
        s = _mm256_add_ps(s, e);
    }
    _mm256_storeu_ps(t, s);
    float sum = 0;
    for (int j = 0; j < 8; j++) sum += t[j];
    for (; i < n; i++) { x[i] = expf(x[i] - mx); sum += x[i]; }
    __m256 inv = S8(1.0f / sum);
    for (i = 0; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), inv));
    for (; i < n; i++) x[i] *= 1.0f / sum;
}
#endif

void sk_bias_act_f32(float *y, const float *x, const float *b, int64_t n, sk_act act)
{
#if defined(__x86_64__)
    const sk_cpu *cpu = sk_cpu_get();
    if (cpu->avx512f) { bias_act_avx512(y, x, b, n, act); return; }
    if (cpu->avx2 && cpu->fma) { bias_act_avx2(y, x, b, n, act); return; }
#endif
    sk_bias_act_f32_ref(y, x, b, n, act);
}

void sk_softmax_f32(float *x, int64_t n)
{
    if (n <= 0) return;
#if defined(__x86_64__)
    const sk_cpu *cpu = sk_cpu_get();
    if (cpu->avx512f) { softmax_avx512(x, n); return; }
    if (cpu->avx2 && cpu->fma) { softmax_avx2(x, n); return; }
#endif
    sk_softmax_f32_ref(x, n);
}

/* ---- GELU(x), attr approximate "none" | "tanh" ---- */
typedef struct { const float *x; float *y; sk_act act; } gelu_job;

static void gelu_range(void *ctx, int64_t lo, int64_t hi)
{
    gelu_job *j = ctx;
    sk_bias_act_f32(j->y + lo, j->x + lo, NULL, hi - lo, j->act);
}

static sk_status gelu_act(const sk_kctx *k, sk_act *act)
{
    const char *a = sk_node_attr_s(k->node, "approximate", "none");
    if (!strcmp(a, "none")) *act = SK_ACT_GELU;
    else if (!strcmp(a, "tanh")) *act = SK_ACT_GELU_TANH;
    else return sk_kerr(k, SK_ERR_UNSUPPORTED, "approximate '%s' (expected none or tanh)", a);
    return SK_OK;
}

sk_status sk_shape_GELU(sk_kctx *k)
{
    sk_act act;
    sk_status st = sk_kcheck_input(k, 0, SK_DT_F32, 0, SK_MAX_RANK);
    if (st || (st = gelu_act(k, &act))) return st;
    sk_rt_set_shape(k->out[0], SK_DT_F32, k->in[0]->rank, k->in[0]->dims);
    return SK_OK;
}

sk_status sk_kern_GELU(sk_kctx *k)
{
    gelu_job j = { k->in[0]->data, k->out[0]->data, SK_ACT_GELU };
    sk_status st = gelu_act(k, &j.act);
    if (st) return st;
    sk_kpar(k, sk_rt_numel(k->in[0]), 16384, gelu_range, &j);
    return SK_OK;
}
