/* vmath.h — the vector activations: exp, erfc, GELU (erf and tanh forms),
 * tanh and sigmoid on AVX-512 and AVX2 registers, inline, so that a kernel
 * can apply them to a tile still in registers (qmatmul.c's epilogue) as
 * well as over an array (activation.c, whose header comment gives the
 * formulas and whose tests hold them to the scalar _ref).
 * sk_act512 applies one sk_act.  Only kernels include it.
 */
#ifndef SK_KERNELS_VMATH_H
#define SK_KERNELS_VMATH_H

#include "runtime/kernels/f32.h"

#define SQRT1_2 0.70710678118654752440
#define SQRT_2_PI 0.79788456080286535588   /* √(2/π) */

#if defined(__x86_64__)
#include <immintrin.h>

/* ---- AVX-512 ---- */
#define T512 __attribute__((target("avx512f"))) static inline
#define S16(v) _mm512_set1_ps(v)

T512 __m512 exp512(__m512 x)
{
    /* operand order keeps NaN: min/max return the second operand if either is NaN */
    x = _mm512_max_ps(S16(-104.0f), _mm512_min_ps(S16(89.0f), x));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, S16(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, S16(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, S16(-2.12194440e-4f), r);
    __m512 p = S16(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, S16(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, S16(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, S16(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, S16(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, S16(5.0000001201e-1f));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, S16(1.0f)));
    return _mm512_scalef_ps(p, n);   /* p·2^n; over/underflows to inf/0 */
}

/* erfc(z) for z ≥ 0 (Numerical Recipes erfcc) */
T512 __m512 erfc512(__m512 z)
{
    __m512 t = _mm512_div_ps(S16(1.0f), _mm512_fmadd_ps(S16(0.5f), z, S16(1.0f)));
    __m512 p = S16(0.17087277f);
    p = _mm512_fmadd_ps(p, t, S16(-0.82215223f));
    p = _mm512_fmadd_ps(p, t, S16(1.48851587f));
    p = _mm512_fmadd_ps(p, t, S16(-1.13520398f));
    p = _mm512_fmadd_ps(p, t, S16(0.27886807f));
    p = _mm512_fmadd_ps(p, t, S16(-0.18628806f));
    p = _mm512_fmadd_ps(p, t, S16(0.09678418f));
    p = _mm512_fmadd_ps(p, t, S16(0.37409196f));
    p = _mm512_fmadd_ps(p, t, S16(1.00002368f));
    p = _mm512_fmadd_ps(p, t, S16(-1.26551223f));
    return _mm512_mul_ps(t, exp512(_mm512_fnmadd_ps(z, z, p)));
}

T512 __m512 gelu512(__m512 x)
{
    __m512 z = _mm512_mul_ps(_mm512_abs_ps(x), S16((float)SQRT1_2));
    __m512 h = _mm512_mul_ps(S16(0.5f), erfc512(z));                    /* Φ(-|x|) */
    __mmask16 neg = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
    __m512 phi = _mm512_mask_blend_ps(neg, _mm512_sub_ps(S16(1.0f), h), h);
    return _mm512_mul_ps(x, phi);
}

T512 __m512 gelu_tanh512(__m512 x)
{
    __m512 x2 = _mm512_mul_ps(x, x);
    __m512 u = _mm512_mul_ps(x, _mm512_fmadd_ps(x2, S16((float)(0.044715 * SQRT_2_PI)), S16((float)SQRT_2_PI)));
    return _mm512_div_ps(x, _mm512_add_ps(S16(1.0f), exp512(_mm512_mul_ps(S16(-2.0f), u))));
}

T512 __m512 tanh512(__m512 x)
{
    __m512 ax = _mm512_abs_ps(x);
    __m512 z = _mm512_mul_ps(x, x);
    __m512 p = S16(-5.70498872745e-3f);
    p = _mm512_fmadd_ps(p, z, S16(2.06390887954e-2f));
    p = _mm512_fmadd_ps(p, z, S16(-5.37397155531e-2f));
    p = _mm512_fmadd_ps(p, z, S16(1.33314422036e-1f));
    p = _mm512_fmadd_ps(p, z, S16(-3.33332819422e-1f));
    __m512 small = _mm512_fmadd_ps(_mm512_mul_ps(p, z), x, x);
    __m512 e = exp512(_mm512_add_ps(ax, ax));
    __m512 big = _mm512_sub_ps(S16(1.0f), _mm512_div_ps(S16(2.0f), _mm512_add_ps(e, S16(1.0f))));
    /* copy x's sign onto big */
    big = _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(big),
                             _mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32(INT32_MIN))));
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(ax, S16(0.625f), _CMP_LT_OQ), big, small);
}

T512 __m512 sigmoid512(__m512 x)
{
    return _mm512_div_ps(S16(1.0f), _mm512_add_ps(S16(1.0f), exp512(_mm512_sub_ps(_mm512_setzero_ps(), x))));
}

T512 __m512 sk_act512(__m512 v, sk_act act)
{
    switch (act) {
    case SK_ACT_NONE: return v;
    case SK_ACT_RELU: return _mm512_max_ps(v, _mm512_setzero_ps());
    case SK_ACT_GELU: return gelu512(v);
    case SK_ACT_GELU_TANH: return gelu_tanh512(v);
    case SK_ACT_TANH: return tanh512(v);
    case SK_ACT_SIGMOID: return sigmoid512(v);
    }
    return v;
}

/* ---- AVX2 ---- */
#define T256 __attribute__((target("avx2,fma"))) static inline
#define S8(v) _mm256_set1_ps(v)

T256 __m256 abs256(__m256 x) { return _mm256_andnot_ps(S8(-0.0f), x); }

T256 __m256 exp256(__m256 x)
{
    __m256 lo = S8(-87.33654f);
    __m256 under = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);   /* true result < FLT_MIN: flush to 0 */
    x = _mm256_max_ps(lo, _mm256_min_ps(S8(88.0f), x));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, S8(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, S8(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, S8(-2.12194440e-4f), r);
    __m256 p = S8(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, S8(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, S8(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, S8(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, S8(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, S8(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, S8(1.0f)));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_andnot_ps(under, _mm256_mul_ps(p, _mm256_castsi256_ps(e)));
}

T256 __m256 erfc256(__m256 z)
{
    __m256 t = _mm256_div_ps(S8(1.0f), _mm256_fmadd_ps(S8(0.5f), z, S8(1.0f)));
    __m256 p = S8(0.17087277f);
    p = _mm256_fmadd_ps(p, t, S8(-0.82215223f));
    p = _mm256_fmadd_ps(p, t, S8(1.48851587f));
    p = _mm256_fmadd_ps(p, t, S8(-1.13520398f));
    p = _mm256_fmadd_ps(p, t, S8(0.27886807f));
    p = _mm256_fmadd_ps(p, t, S8(-0.18628806f));
    p = _mm256_fmadd_ps(p, t, S8(0.09678418f));
    p = _mm256_fmadd_ps(p, t, S8(0.37409196f));
    p = _mm256_fmadd_ps(p, t, S8(1.00002368f));
    p = _mm256_fmadd_ps(p, t, S8(-1.26551223f));
    return _mm256_mul_ps(t, exp256(_mm256_fnmadd_ps(z, z, p)));
}

T256 __m256 gelu256(__m256 x)
{
    __m256 h = _mm256_mul_ps(S8(0.5f), erfc256(_mm256_mul_ps(abs256(x), S8((float)SQRT1_2))));
    __m256 neg = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ);
    return _mm256_mul_ps(x, _mm256_blendv_ps(_mm256_sub_ps(S8(1.0f), h), h, neg));
}

T256 __m256 gelu_tanh256(__m256 x)
{
    __m256 x2 = _mm256_mul_ps(x, x);
    __m256 u = _mm256_mul_ps(x, _mm256_fmadd_ps(x2, S8((float)(0.044715 * SQRT_2_PI)), S8((float)SQRT_2_PI)));
    return _mm256_div_ps(x, _mm256_add_ps(S8(1.0f), exp256(_mm256_mul_ps(S8(-2.0f), u))));
}

T256 __m256 tanh256(__m256 x)
{
    __m256 ax = abs256(x);
    __m256 z = _mm256_mul_ps(x, x);
    __m256 p = S8(-5.70498872745e-3f);
    p = _mm256_fmadd_ps(p, z, S8(2.06390887954e-2f));
    p = _mm256_fmadd_ps(p, z, S8(-5.37397155531e-2f));
    p = _mm256_fmadd_ps(p, z, S8(1.33314422036e-1f));
    p = _mm256_fmadd_ps(p, z, S8(-3.33332819422e-1f));
    __m256 small = _mm256_fmadd_ps(_mm256_mul_ps(p, z), x, x);
    __m256 e = exp256(_mm256_add_ps(ax, ax));
    __m256 big = _mm256_sub_ps(S8(1.0f), _mm256_div_ps(S8(2.0f), _mm256_add_ps(e, S8(1.0f))));
    big = _mm256_or_ps(big, _mm256_and_ps(x, S8(-0.0f)));
    return _mm256_blendv_ps(big, small, _mm256_cmp_ps(ax, S8(0.625f), _CMP_LT_OQ));
}

T256 __m256 sigmoid256(__m256 x)
{
    return _mm256_div_ps(S8(1.0f), _mm256_add_ps(S8(1.0f), exp256(_mm256_sub_ps(_mm256_setzero_ps(), x))));
}
#endif

#endif
