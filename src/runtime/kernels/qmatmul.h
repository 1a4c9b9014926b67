/* qmatmul.h — the quantized LINEAR (ir.h: LINEAR(x, W, b, scales, zeros?)).
 *
 * Three products, each with a plain scalar _ref that is the source of truth
 * and SIMD versions (AVX2, AVX-512 VNNI) that tests/unit/test_qmatmul.c holds
 * to it:
 *   W8A8    W i8 [N, K], scales [N, K/group]; x quantized per row to int8 at
 *           run time; integer dot products (exact int32), one float multiply
 *           per block.
 *   W4A8    W q4 [N, K], scales and zeros [N, K/group]; x quantized to int8
 *           per block of `group` (ORT MatMulNBits accuracy_level 4, llama.cpp
 *           Q4×Q8); the zero handled as zero·Σ x_q over the block.
 *   weight-only (act_bits 0)  x stays f32, W dequantized on the fly.
 * The SIMD paths repack W once (sk_qpack) into panels of 16 columns × 4 k
 * (int8) or 16 columns × 8 k as nibbles (int4), the layout vpdpbusd wants;
 * the IR keeps the plain [N, K] layout exporters write.  Not part of the
 * runtime's interface: only kernels and tests include it.
 */
#ifndef SK_KERNELS_QMATMUL_H
#define SK_KERNELS_QMATMUL_H

#include "runtime/kernels/f32.h"

/* Which kernels a pack uses.  AUTO = the best the CPU has (sk_cpu_get, so
 * SHRINK_ISA caps it). */
typedef enum sk_qisa { SK_QISA_AUTO = 0, SK_QISA_REF, SK_QISA_AVX2, SK_QISA_AVX512 } sk_qisa;
sk_qisa sk_qisa_best(void);
const char *sk_qisa_name(sk_qisa isa);

/* A quantized weight as the IR holds it (pointers are borrowed). */
typedef struct sk_qweight {
    int bits;               /* 8: w i8 [N, K]; 4: w q4 [N, K] (element 2i in the low nibble of byte i) */
    int act_bits;           /* 8: activations quantized to int8 at run time; 0: kept f32 (weight-only) */
    int N, K, group;        /* K % group == 0 */
    const void *w;
    const float *scales;    /* [N, K/group] */
    const uint8_t *zeros;   /* [N, K/group] values 0..15 (bits 4 only), or NULL = 8 (bits 4) / 0 (bits 8) */
} sk_qweight;

/* ---- reference kernels (scalar, the source of truth) ---- */

/* Quantize x[0..n) as one symmetric int8 block: *scale = absmax/127 (NaN
 * ignored), q[i] = clamp(rint(x[i]/scale), -127, 127) (round half to even;
 * all 0 when absmax is 0), stored as (uint8_t)q XOR flip (flip 0x80 gives
 * q + 128, unsigned).  *sum = Σ q[i] (before the flip) when sum is not NULL. */
void sk_q8_quant_ref(const float *x, int n, uint8_t flip, uint8_t *q, float *scale, int32_t *sum);
void sk_q8_quant_avx2(const float *x, int n, uint8_t flip, uint8_t *q, float *scale, int32_t *sum);
void sk_q8_quant_avx512(const float *x, int n, uint8_t flip, uint8_t *q, float *scale, int32_t *sum);

/* The products over the IR layouts (w->w, w->scales, w->zeros), columns
 * j0..j1 of y [M, ldy] only.
 * W8A8: y[i,j] = (Σ_g sw[j,g]·d_g)·sx[i], d_g = Σ_{k in block g} xq[i,k]·w[j,k] (int32), the
 *       float sum in g order; xq [M, ldx] int8 quantized per row (scale sx [M]). */
void sk_q8_gemm_ref(const sk_qweight *w, int M, const int8_t *xq, int ldx, const float *sx, float *y, int ldy,
                    int j0, int j1);
/* W4A8: y[i,j] = Σ_g (sx[i,g]·sw[j,g])·d_g, d_g = Σ_{k in g} xq[i,k]·(q[j,k] − z[j,g]) (int32), z = zeros
 *       or 8; xq [M, ldx] quantized per block (sx [M, K/group]). */
void sk_q4_gemm_ref(const sk_qweight *w, int M, const int8_t *xq, int ldx, const float *sx, float *y, int ldy,
                    int j0, int j1);
/* Weight-only: y[i,j] = Σ_g sw[j,g]·Σ_{k in g} x[i,k]·(w[j,k] − z[j,g]) in float (z = 0 for bits 8);
 * x [M, K] f32. */
void sk_wq_gemm_ref(const sk_qweight *w, int M, const float *x, float *y, int ldy, int j0, int j1);

/* ---- packed weights and the whole product ---- */
typedef struct sk_qpack sk_qpack;

/* Repack w for isa (AUTO: sk_qisa_best()); a shape the SIMD kernels do not
 * take (group not a multiple of 4, or of 8 for int4) falls back to REF.
 * Zeros above 15 are an error (SK_ERR_INVALID).  pool (may be NULL) spreads
 * the repacking.  *out is one allocation, freed with sk_free; it borrows w's
 * pointers (REF reads the IR's arrays directly). */
sk_status sk_qpack_new(const sk_qweight *w, sk_qisa isa, sk_pool *pool, sk_qpack **out);
sk_qisa sk_qpack_isa(const sk_qpack *p);
const sk_qweight *sk_qpack_weight(const sk_qpack *p);
/* Scratch bytes sk_qpack_run needs for M rows on nthreads threads (the pack
 * need not exist yet: computed from w and the isa it would get). */
size_t sk_qpack_scratch(const sk_qweight *w, sk_qisa isa, int64_t M, int nthreads);
/* y[M, N] = act(x[M, K]·Wᵀ + bias) (bias [N] may be NULL), spread over pool
 * (may be NULL); scratch holds sk_qpack_scratch bytes, 64-aligned. */
void sk_qpack_run(const sk_qpack *p, sk_pool *pool, int64_t M, const float *x, const float *bias, sk_act act,
                  float *y, void *scratch);

/* ---- LINEAR's entry (matmul.c sends quantized nodes here) ---- */
/* True when the node's W is i8/q4 or a scales input is present. */
bool sk_qlinear_is(const sk_kctx *k);
/* Validate inputs and attributes (bits, group, act_bits), set the output
 * shape and scratch_need.  act was parsed by the caller. */
sk_status sk_qlinear_shape(sk_kctx *k);
/* Run, keeping the pack in *k->state (rebuilt when W, scales or zeros move or are not constant). */
sk_status sk_qlinear_kern(sk_kctx *k, sk_act act);

#endif
