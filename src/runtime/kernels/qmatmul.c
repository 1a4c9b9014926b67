/* qmatmul.c — the quantized LINEAR: W8A8, W4A8 and weight-only products.
 *
 * The _ref routines are plain loops over the IR's layouts and define the
 * results; everything else is a faster way to compute the same thing and is
 * held to them by tests/unit/test_qmatmul.c (the integer parts bit for bit).
 *
 * Fast path, per LINEAR node, once (sk_qpack_new, kept in the node's state):
 * W is cut into tiles of 32 output columns = two panels of 16; a panel
 * stores, for each step of 4 k (int8) or 8 k (int4, as nibbles: k..k+3 low,
 * k+4..k+7 high), 64 bytes = 16 columns × 4 bytes, which is one zmm lane per
 * column for vpdpbusd (and two ymm for the AVX2 kernels).  Scales (and the
 * zero points, and for W8A8 on VNNI the column sums) are stored per tile as
 * [group][32 columns].  Per run: x is quantized to int8 (per row for W8A8,
 * per block of `group` for int4) into the scratch, and a register tile of
 * MR rows × 32 columns runs over K, with one float multiply per block; the
 * bias is added in registers (AVX-512) and the activation runs on the tile
 * while it is in L1.  With many rows (ROWS_MIN) threads claim units of rows,
 * quantizing each unit themselves; otherwise they take ranges of tiles of x
 * quantized beforehand.  W8A8 on AVX-512 stores x in passes, the rows one
 * register tile takes, interleaved by 16 bytes (x_pass), so that a k-step's
 * broadcasts come from one pointer, and each pass over a tile prefetches a
 * share of the thread's next tile.
 *
 * vpdpbusd multiplies unsigned by signed bytes: int4 weights (0..15) are the
 * unsigned side as they are; for W8A8 the activations are stored as q + 128
 * and 128·Σ_k w (per block) is subtracted, precomputed at pack time.  AVX2
 * has no such instruction: vpmaddubsw's int16 pairs would saturate on
 * u8·s8, so W8A8 uses the sign trick (|w| · sign(x, w), at most 2·128·127);
 * int4 pairs (15·127·2) cannot saturate.
 *
 * This file does not know about sessions beyond sk_kctx; matmul.c sends
 * LINEAR nodes with i8/q4 weights here and keeps the f32 path.
 */
#include <math.h>
#include <string.h>
#include <stdatomic.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif
#include "runtime/kernels/qmatmul.h"
#include "runtime/kernels/vmath.h"

#define TILE 32                /* output columns per tile (two panels of 16) */
#define WO_NB 128              /* weight-only: rows of W dequantized per chunk */
#define WO_GEMV_M 4            /* weight-only: up to this many rows use the fused dot kernels */
/* Products below both of these run on the calling thread: waking the pool
 * costs 5-10 µs on an idle machine and 80 µs when other processes hold the
 * cores (measured on the 2-core VM), while one core streams a 768×768 int4
 * matrix in about 10 µs and reaches near the DRAM bandwidth alone. */
#define PAR_MIN_BYTES (2 << 20)
#define PAR_MIN_MACS (8 << 20)
/* From ROWS_MIN rows per thread, threads split the rows rather than the
 * tiles: the rows are cut into UNITS units per thread (of at least 16 rows),
 * which threads claim in turn; the claimer quantizes the unit's rows and
 * multiplies them by every tile, all in one pool run (one synchronisation
 * instead of two).  When other processes hold the cores, a thread held back
 * leaves its units to the others instead of holding up the run.  bert-base
 * at 128 tokens on 2 threads: 6 units of 21-22 rows, each two passes of
 * 10-11 rows over every tile.  Measured on the 2-core VM under load 8
 * (bert-base W8A8, the whole model, 9 alternating rounds, median ratio to
 * the kernel before): 0.73 with units, 0.89 with the tiles split between
 * the threads and x quantized in a pool run of its own. */
#define ROWS_MIN 32
#define UNITS 3
#define UNROLL _Pragma("GCC unroll 16")
#define XS(kp) (((size_t)(kp) + 15) & ~(size_t)15)   /* row length of x in passes (x_pass) */

struct sk_qpack {
    sk_qweight w;              /* the IR's arrays (borrowed) */
    sk_qisa isa;
    int G;                     /* blocks per row: K / group */
    int gk;                    /* block length in the packed layout (W8 per channel: K rounded up to 4) */
    int kp;                    /* packed row length G·gk; also the row stride of the quantized x */
    int nt;                    /* tiles of TILE columns */
    uint8_t *pw;               /* [nt][kp/4][2][16][4] i8, or [nt][kp/8][2][16][4] nibble pairs */
    float *psw;                /* [nt][G][32] scales (0 past N) */
    int32_t *pcs;              /* [nt][G][32] 128·Σ_{k in block} w (W8A8 on AVX-512), else NULL */
    uint8_t *pz;               /* [nt][G][32] zero points (int4 with zeros), else NULL */
};

sk_qisa sk_qisa_best(void)
{
    const sk_cpu *c = sk_cpu_get();
    if (c->avx512f && c->avx512bw && c->avx512vl && c->avx512vnni) return SK_QISA_AVX512;
    if (c->avx2 && c->fma) return SK_QISA_AVX2;
    return SK_QISA_REF;
}

const char *sk_qisa_name(sk_qisa isa)
{
    static const char *names[] = { "auto", "ref", "avx2", "avx512vnni" };
    return (unsigned)isa < 4 ? names[isa] : "?";
}

static inline int32_t load32(const void *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* element k of q4 row j (rows may start mid-byte when K is odd) */
static inline int q4_at(const uint8_t *w, int K, int j, int k)
{
    size_t e = (size_t)j * (size_t)K + (size_t)k;
    return (w[e >> 1] >> ((e & 1) * 4)) & 15;
}

static inline int wq_at(const sk_qweight *w, int j, int k)
{
    return w->bits == 8 ? ((const int8_t *)w->w)[(size_t)j * w->K + k] : q4_at(w->w, w->K, j, k);
}

static inline int zero_at(const sk_qweight *w, int j, int g)
{
    if (w->bits == 8) return 0;
    return w->zeros ? w->zeros[(size_t)j * (w->K / w->group) + g] : 8;
}

/* ================= reference kernels ================= */
void sk_q8_quant_ref(const float *x, int n, uint8_t flip, uint8_t *q, float *scale, int32_t *sum)
{
    float amax = 0;
    for (int i = 0; i < n; i++) {
        float a = fabsf(x[i]);
        if (a > amax) amax = a;          /* NaN never compares greater: ignored */
    }
    int32_t s = 0;
    if (amax == 0) {
        memset(q, flip, (size_t)n);
        *scale = 0;
    } else {
        float d = amax / 127.0f;
        for (int i = 0; i < n; i++) {
            float v = rintf(x[i] / d);
            v = v < 127.0f ? v : 127.0f;   /* NaN → 127, the way the SIMD min/max order it */
            v = v > -127.0f ? v : -127.0f;
            int qi = (int)v;
            s += qi;
            q[i] = (uint8_t)((uint8_t)(int8_t)qi ^ flip);
        }
        *scale = d;
    }
    if (sum) *sum = s;
}

void sk_q8_gemm_ref(const sk_qweight *w, int M, const int8_t *xq, int ldx, const float *sx, float *y, int ldy,
                    int j0, int j1)
{
    const int K = w->K, group = w->group, G = K / group;
    const int8_t *wq = w->w;
    for (int i = 0; i < M; i++)
        for (int j = j0; j < j1; j++) {
            float f = 0;
            for (int g = 0; g < G; g++) {
                int32_t d = 0;
                const int8_t *a = xq + (size_t)i * ldx + (size_t)g * group, *b = wq + (size_t)j * K + (size_t)g * group;
                for (int k = 0; k < group; k++) d += (int32_t)a[k] * b[k];
                f += w->scales[(size_t)j * G + g] * (float)d;
            }
            y[(size_t)i * ldy + j] = f * sx[i];
        }
}

void sk_q4_gemm_ref(const sk_qweight *w, int M, const int8_t *xq, int ldx, const float *sx, float *y, int ldy,
                    int j0, int j1)
{
    const int K = w->K, group = w->group, G = K / group;
    for (int i = 0; i < M; i++)
        for (int j = j0; j < j1; j++) {
            float f = 0;
            for (int g = 0; g < G; g++) {
                int32_t d = 0, z = zero_at(w, j, g);
                const int8_t *a = xq + (size_t)i * ldx + (size_t)g * group;
                for (int k = 0; k < group; k++) d += (int32_t)a[k] * (q4_at(w->w, K, j, g * group + k) - z);
                f += (sx[(size_t)i * G + g] * w->scales[(size_t)j * G + g]) * (float)d;
            }
            y[(size_t)i * ldy + j] = f;
        }
}

void sk_wq_gemm_ref(const sk_qweight *w, int M, const float *x, float *y, int ldy, int j0, int j1)
{
    const int K = w->K, group = w->group, G = K / group;
    for (int i = 0; i < M; i++)
        for (int j = j0; j < j1; j++) {
            float f = 0;
            for (int g = 0; g < G; g++) {
                float s = 0;
                int z = zero_at(w, j, g);
                for (int k = g * group; k < (g + 1) * group; k++) s += x[(size_t)i * K + k] * (float)(wq_at(w, j, k) - z);
                f += w->scales[(size_t)j * G + g] * s;
            }
            y[(size_t)i * ldy + j] = f;
        }
}

/* ================= packing ================= */
/* The isa a weight gets: the SIMD kernels need blocks of whole k-steps. */
static sk_qisa isa_for(const sk_qweight *w, sk_qisa isa)
{
    if (isa == SK_QISA_AUTO) isa = sk_qisa_best();
    if (isa == SK_QISA_REF || w->act_bits == 0) return isa;
    int G = w->K / w->group;
    if (w->bits == 8 && G > 1 && w->group % 4) return SK_QISA_REF;
    if (w->bits == 4 && w->group % 8) return SK_QISA_REF;
    return isa;
}

/* G, gk, kp, nt of the packed layout; false on size overflow. */
static bool layout(const sk_qweight *w, sk_qisa isa, int *G, int *gk, int *kp, int *nt)
{
    *G = w->K / w->group;
    *gk = w->group;
    if (isa != SK_QISA_REF && w->act_bits == 8 && w->bits == 8 && *G == 1) *gk = (w->K + 3) / 4 * 4;
    if ((int64_t)*gk * *G > 0x7fffffff) return false;
    *kp = *gk * *G;
    *nt = (int)(((int64_t)w->N + TILE - 1) / TILE);
    return true;
}

static void run_par(sk_pool *pool, void (*fn)(void *, int, int), void *ctx)
{
    if (pool && sk_pool_size(pool) > 1) sk_pool_run(pool, fn, ctx);
    else fn(ctx, 0, 1);
}

/* worth the pool: the weights read or the multiply-adds are large enough */
static bool worth_threads(const sk_qweight *w, int64_t M)
{
    double bytes = (double)w->N * w->K * (w->bits == 8 ? 1.0 : 0.5), macs = (double)M * w->N * w->K;
    return bytes >= PAR_MIN_BYTES || macs >= PAR_MIN_MACS;
}

/* the scales (and zero points) of tile t: [G][32], 0 (and 8) past N */
static void pack_tile_scales(sk_qpack *p, int t)
{
    const sk_qweight *w = &p->w;
    const int N = w->N, G = p->G;
    for (int g = 0; g < G; g++)
        for (int l = 0; l < TILE; l++) {
            int j = t * TILE + l;
            size_t o = ((size_t)t * G + g) * TILE + l;
            p->psw[o] = j < N ? w->scales[(size_t)j * G + g] : 0.0f;
            if (p->pz) p->pz[o] = j < N ? w->zeros[(size_t)j * G + g] : 8;
        }
}

static void pack_tile_w8(sk_qpack *p, int t)
{
    const sk_qweight *w = &p->w;
    const int8_t *wq = w->w;
    const int N = w->N, K = w->K, G = p->G, gk = p->gk, kp = p->kp;
    uint8_t *dst = p->pw + (size_t)t * kp * TILE;
    memset(dst, 0, (size_t)kp * TILE);
    for (int l = 0; l < TILE && t * TILE + l < N; l++) {   /* column j's 4-byte runs, 128 bytes apart */
        const int8_t *src = wq + (size_t)(t * TILE + l) * K;
        uint8_t *d = dst + l * 4;
        int k = 0;
        for (; k + 4 <= K; k += 4) memcpy(d + (size_t)k * TILE, src + k, 4);
        for (; k < K; k++) d[(size_t)(k & ~3) * TILE + (k & 3)] = (uint8_t)src[k];
    }
    pack_tile_scales(p, t);
    if (p->pcs)
        for (int g = 0; g < G; g++)
            for (int l = 0; l < TILE; l++) {
                int j = t * TILE + l;
                int32_t sum = 0;
                for (int k = g * gk; k < (g + 1) * gk && k < K && j < N; k++) sum += wq[(size_t)j * K + k];
                p->pcs[((size_t)t * G + g) * TILE + l] = 128 * sum;
            }
}

/* four bytes of nibbles n0..n7 (n0 lowest) → byte i = n_i | n_(i+4) << 4 */
static inline uint32_t nib_interleave(uint32_t v)
{
    uint32_t lo = v & 0xffff, hi = v >> 16;
    lo = (lo & 0xf) | (lo & 0xf0) << 4 | (lo & 0xf00) << 8 | (lo & 0xf000) << 12;
    hi = (hi & 0xf) | (hi & 0xf0) << 4 | (hi & 0xf00) << 8 | (hi & 0xf000) << 12;
    return lo | hi << 4;
}

static void pack_tile_w4(sk_qpack *p, int t)
{
    const sk_qweight *w = &p->w;
    const int N = w->N, K = w->K;
    SK_ASSERT(K % 8 == 0);
    uint8_t *dst = p->pw + (size_t)t * K * (TILE / 2);
    memset(dst, 0, (size_t)K * (TILE / 2));
    for (int l = 0; l < TILE && t * TILE + l < N; l++) {
        int j = t * TILE + l;
        uint8_t *d = dst + l * 4;
        const uint8_t *src = (const uint8_t *)w->w + (size_t)j * K / 2;   /* K % 8 == 0: rows start on a byte */
        for (int c = 0; c < K / 8; c++) {
            uint32_t v;
            memcpy(&v, src + 4 * c, 4);
            v = nib_interleave(v);
            memcpy(d + (size_t)c * 128, &v, 4);
        }
    }
    pack_tile_scales(p, t);
}

static void pack_part(void *ctx, int i, int n)
{
    sk_qpack *p = ctx;
    int t0 = (int)((int64_t)p->nt * i / n), t1 = (int)((int64_t)p->nt * (i + 1) / n);
    for (int t = t0; t < t1; t++) {
        if (p->w.bits == 8) pack_tile_w8(p, t);
        else pack_tile_w4(p, t);
    }
}

/* a 64-aligned slice of n bytes at *off, advancing *off; false on overflow */
static bool carve(size_t *off, size_t n, size_t *at)
{
    size_t o = (*off + 63) & ~(size_t)63;
    if (o < *off || !sk_add_size(o, n, off)) return false;
    *at = o;
    return true;
}

sk_status sk_qpack_new(const sk_qweight *w, sk_qisa isa, sk_pool *pool, sk_qpack **out)
{
    *out = NULL;
    SK_ASSERT((w->bits == 8 || w->bits == 4) && (w->act_bits == 8 || w->act_bits == 0));
    SK_ASSERT(w->N >= 0 && w->K > 0 && w->group > 0 && w->K % w->group == 0);
    isa = isa_for(w, isa);
    int G = w->K / w->group, gk, kp, nt;
    if (w->zeros)
        for (size_t i = 0; i < (size_t)w->N * G; i++)
            if (w->zeros[i] > 15)
                return sk_err(SK_ERR_INVALID, "zero point %d at [%zu, %zu] is above 15", w->zeros[i], i / G, i % G);
    bool packed = isa != SK_QISA_REF && w->act_bits == 8;
    size_t off = sizeof(sk_qpack), o_w = 0, o_sw = 0, o_cs = 0, o_z = 0, nw, nsw;
    if (!layout(w, isa, &G, &gk, &kp, &nt)) return sk_err(SK_ERR_UNSUPPORTED, "quantized weight too large");
    if (packed) {
        size_t ncol = (size_t)nt * TILE * (size_t)G;
        bool ok = sk_mul_size((size_t)nt * TILE, (size_t)kp, &nw) && sk_mul_size(ncol, sizeof(float), &nsw) &&
                  carve(&off, w->bits == 8 ? nw : nw / 2, &o_w) && carve(&off, nsw, &o_sw);
        if (ok && w->bits == 8 && isa == SK_QISA_AVX512) ok = carve(&off, nsw, &o_cs);
        if (ok && w->bits == 4 && w->zeros) ok = carve(&off, ncol, &o_z);
        if (!ok) return sk_err(SK_ERR_UNSUPPORTED, "quantized weight too large");
    }
    sk_qpack *p = sk_aligned_alloc(64, off);
    if (!p) return SK_ERR_NOMEM;
    memset(p, 0, sizeof *p);
    p->w = *w;
    p->isa = isa;
    p->G = G;
    p->gk = gk;
    p->kp = kp;
    p->nt = nt;
    if (packed) {
        uint8_t *base = (uint8_t *)p;
        p->pw = base + o_w;
        p->psw = (float *)(base + o_sw);
        p->pcs = o_cs ? (int32_t *)(base + o_cs) : NULL;
        p->pz = o_z ? base + o_z : NULL;
        if ((size_t)nt * kp >= ((size_t)1 << 16)) run_par(pool, pack_part, p);
        else pack_part(p, 0, 1);
    }
    *out = p;
    return SK_OK;
}

sk_qisa sk_qpack_isa(const sk_qpack *p) { return p->isa; }
const sk_qweight *sk_qpack_weight(const sk_qpack *p) { return &p->w; }

/* ================= the run: scratch, jobs ================= */
typedef struct {
    const sk_qpack *p;
    int M;
    const float *x;            /* [M, K] */
    const float *bias;         /* [N] or NULL */
    sk_act act;
    float *y;                  /* [M, N] */
    uint8_t *xq;               /* [M, kp] quantized x; W8A8 on AVX-512: q + 128, [M, XS(kp)] in passes (x_pass) */
    uint8_t *rowbuf;           /* W8A8 on AVX-512: [threads][XS(kp)], a row before it goes into its pass */
    float *sx;                 /* [M, G] (W8A8: [M]) */
    int32_t *bsum;             /* [M, G] Σ q per block (int4) */
    float *wbuf;               /* weight-only: [threads][WO_NB][K] */
    int units;                 /* > 0: threads split rows: units of rows claimed in turn, each quantized by
                                  the thread that claims it; 0: threads split tiles */
    _Atomic int next;          /* the next unit to claim */
} qjob;

size_t sk_qpack_scratch(const sk_qweight *w, sk_qisa isa, int64_t M, int nthreads)
{
    isa = isa_for(w, isa);
    int G, gk, kp, nt;
    if (M < 0 || !layout(w, isa, &G, &gk, &kp, &nt)) return SIZE_MAX;
    size_t off = 0, at, n;
    if (w->act_bits == 0) {
        if (isa == SK_QISA_REF || (M <= WO_GEMV_M && w->bits == 8)) return 0;
        if (!sk_mul_size((size_t)w->K * WO_NB * sizeof(float), (size_t)(nthreads > 0 ? nthreads : 1), &n) ||
            !carve(&off, n, &at))
            return SIZE_MAX;
        return off;
    }
    int gx = w->bits == 8 ? 1 : G;
    bool passes = w->bits == 8 && isa == SK_QISA_AVX512;
    size_t xs = passes ? XS(kp) : (size_t)kp;
    if (!sk_mul_size((size_t)M, xs, &n) || !carve(&off, n, &at) ||
        !sk_mul_size((size_t)M * sizeof(float), (size_t)gx, &n) || !carve(&off, n, &at) ||
        (w->bits == 4 && !carve(&off, n, &at)))
        return SIZE_MAX;
    if (passes && (!sk_mul_size(xs, (size_t)(nthreads > 0 ? nthreads : 1), &n) || !carve(&off, n, &at)))
        return SIZE_MAX;
    return off;
}

static void epilogue(const qjob *j, int i0, int i1, int c0, int c1)
{
    if (!j->bias && j->act == SK_ACT_NONE) return;
    const int N = j->p->w.N;
    for (int i = i0; i < i1; i++) {
        float *yr = j->y + (size_t)i * N + c0;
        sk_bias_act_f32(yr, yr, j->bias ? j->bias + c0 : NULL, c1 - c0, j->act);
    }
}

typedef void (*quant_fn)(const float *, int, uint8_t, uint8_t *, float *, int32_t *);

/* The rows of x that one register tile takes (W8A8 on AVX-512: up to 12 per
 * channel, 6 per block), for the product over rows R0..R1 that it is part
 * of: *i0 and *mr of the pass holding row r.  Passes are as even as can be
 * (128 rows: 11 and 12, not ten of 12 and one of 8).  A pass is stored from
 * byte i0·XS(kp) as [XS(kp)/16][mr][16 bytes]: the broadcasts of one k-step
 * read mr words 16 bytes apart from one pointer (no row pointers to keep in
 * registers), and a row goes into its pass in copies of 16 bytes. */
static int pass_rows(const sk_qpack *p) { return p->G > 1 ? 6 : 12; }

static void x_pass(const sk_qpack *p, int R0, int R1, int r, int *i0, int *mr)
{
    int n = R1 - R0, MR = pass_rows(p), np = (n + MR - 1) / MR;
    int b = (int)((int64_t)(r - R0) * np / n);   /* a guess within one pass */
    while (b > 0 && R0 + (int)((int64_t)n * b / np) > r) b--;
    while (R0 + (int)((int64_t)n * (b + 1) / np) <= r) b++;
    *i0 = R0 + (int)((int64_t)n * b / np);
    *mr = R0 + (int)((int64_t)n * (b + 1) / np) - *i0;
}

/* Rows r0..r1 of x quantized into the scratch, for the product over rows
 * R0..R1 (which fixes the passes); part: this thread's row buffer. */
static void quant_rows(const qjob *j, int r0, int r1, int R0, int R1, int part)
{
    const sk_qpack *p = j->p;
    quant_fn qf = p->isa == SK_QISA_AVX512 ? sk_q8_quant_avx512 : p->isa == SK_QISA_AVX2 ? sk_q8_quant_avx2
                                                                                            : sk_q8_quant_ref;
    const int K = p->w.K, kp = p->kp, G = p->G, group = p->w.group;
    for (int r = r0; r < r1; r++) {
        const float *xr = j->x + (size_t)r * K;
        uint8_t *q = j->xq + (size_t)r * kp;
        if (p->w.bits == 8 && p->pcs) {
            int i0, mr;
            size_t xs = XS(kp);
            x_pass(p, R0, R1, r, &i0, &mr);
            uint8_t *buf = j->rowbuf + (size_t)part * xs, *dst = j->xq + i0 * xs + (size_t)(r - i0) * 16;
            qf(xr, K, 0x80, buf, &j->sx[r], NULL);
            memset(buf + K, 0x80, xs - (size_t)K);
            for (size_t c = 0; c < xs; c += 16) memcpy(dst + c * (size_t)mr, buf + c, 16);
        } else if (p->w.bits == 8) {
            qf(xr, K, 0, q, &j->sx[r], NULL);
            memset(q + K, 0, (size_t)(kp - K));
        } else {
            for (int g = 0; g < G; g++)
                qf(xr + (size_t)g * group, group, 0, q + (size_t)g * group, &j->sx[(size_t)r * G + g],
                   &j->bsum[(size_t)r * G + g]);
        }
    }
}

static void quant_part(void *ctx, int ti, int tn)
{
    const qjob *j = ctx;
    quant_rows(j, (int)((int64_t)j->M * ti / tn), (int)((int64_t)j->M * (ti + 1) / tn), 0, j->M, ti);
}

/* ================= AVX-512 VNNI ================= */
#if defined(__x86_64__)
#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,fma")))
#define AVX2 __attribute__((target("avx2,fma")))
#define INLINE static inline __attribute__((always_inline))

AVX512 void sk_q8_quant_avx512(const float *x, int n, uint8_t flip, uint8_t *q, float *scale, int32_t *sum)
{
    __m512 mx = _mm512_setzero_ps();
    int i = 0;
    for (; i + 16 <= n; i += 16) mx = _mm512_max_ps(_mm512_abs_ps(_mm512_loadu_ps(x + i)), mx);
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        mx = _mm512_max_ps(_mm512_abs_ps(_mm512_maskz_loadu_ps(m, x + i)), mx);
    }
    float amax = _mm512_reduce_max_ps(mx);
    if (amax == 0) {
        memset(q, flip, (size_t)n);
        *scale = 0;
        if (sum) *sum = 0;
        return;
    }
    float d = amax / 127.0f;
    const __m512 vd = _mm512_set1_ps(d), hi = _mm512_set1_ps(127.0f), lo = _mm512_set1_ps(-127.0f);
    const __m128i vf = _mm_set1_epi8((char)flip);
    __m512i acc = _mm512_setzero_si512();
    for (i = 0; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
        __m512 v = _mm512_div_ps(_mm512_maskz_loadu_ps(m, x + i), vd);
        v = _mm512_max_ps(_mm512_min_ps(v, hi), lo);
        __m512i iv = _mm512_maskz_cvtps_epi32(m, v);
        acc = _mm512_add_epi32(acc, iv);
        _mm_mask_storeu_epi8(q + i, m, _mm_xor_si128(_mm512_cvtepi32_epi8(iv), vf));
    }
    *scale = d;
    if (sum) *sum = _mm512_reduce_add_epi32(acc);
}

/* acc += Σ4 u8(u)·s8(s) per lane.  As inline asm: GCC 12 allocates the
 * intrinsic's tied accumulator badly (a copy and a spill per instruction in
 * these loops); with "+v" the accumulators stay in registers. */
AVX512 INLINE __m512i dpbusd(__m512i acc, __m512i u, __m512i s)
{
    __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(u), "v"(s));
    return acc;
}

static inline __mmask16 lanes(int n) { return n >= 16 ? (__mmask16)0xffff : n <= 0 ? 0 : (__mmask16)((1u << n) - 1); }

/* The activation over a stored tile's rows (still in L1), one vector at a time. */
AVX512 static void act_tile_avx512(float *y, int ldy, int mr, __mmask16 m0, __mmask16 m1, sk_act act)
{
    for (int r = 0; r < mr; r++) {
        float *yr = y + (size_t)r * ldy;
        _mm512_mask_storeu_ps(yr, m0, sk_act512(_mm512_maskz_loadu_ps(m0, yr), act));
        _mm512_mask_storeu_ps(yr + 16, m1, sk_act512(_mm512_maskz_loadu_ps(m1, yr + 16), act));
    }
}

/* Rows i0..i0+mr, columns c0..c0+nv (≤ 32) of y from f: f·sx[row] (when sx), + bias in
 * registers, stored; then the activation.  The same operations in the same order as
 * the store + epilogue() of the other paths. */
AVX512 INLINE void put_tile_avx512(const qjob *j, int i0, const int mr, int c0, int nv, __m512 f[][2], const float *sx)
{
    const int N = j->p->w.N;
    __mmask16 m0 = lanes(nv), m1 = lanes(nv - 16);
    __m512 b0 = _mm512_setzero_ps(), b1 = b0;
    if (j->bias) {
        b0 = _mm512_maskz_loadu_ps(m0, j->bias + c0);
        b1 = _mm512_maskz_loadu_ps(m1, j->bias + c0 + 16);
    }
    UNROLL for (int r = 0; r < mr; r++) {
        float *yr = j->y + (size_t)(i0 + r) * N + c0;
        __m512 v0 = f[r][0], v1 = f[r][1];
        if (sx) {
            __m512 sv = _mm512_set1_ps(sx[i0 + r]);
            v0 = _mm512_mul_ps(v0, sv);
            v1 = _mm512_mul_ps(v1, sv);
        }
        if (j->bias) {
            v0 = _mm512_add_ps(v0, b0);
            v1 = _mm512_add_ps(v1, b1);
        }
        _mm512_mask_storeu_ps(yr, m0, v0);
        _mm512_mask_storeu_ps(yr + 16, m1, v1);
    }
    if (j->act != SK_ACT_NONE) act_tile_avx512(j->y + (size_t)i0 * N + c0, N, mr, m0, m1, j->act);
}

/* W8A8 register tile: rows i0..i0+mr of tile t, one pass of x (x_pass).
 * acc[r][p] holds Σ (x+128)·w over one block for panel p; the block's
 * column sums take the 128 back out.
 * The first npf k-steps also prefetch one line each from pf (the thread's
 * next tile), so that its first pass does not wait for memory. */
AVX512 INLINE void q8_tile_avx512(const qjob *j, int t, int i0, const int mr, const bool grouped, const uint8_t *pf,
                                  int npf)
{
    const sk_qpack *p = j->p;
    const int G = p->G, gk = p->gk, kp = p->kp, N = p->w.N;
    const uint8_t *wt = p->pw + (size_t)t * kp * TILE, *xr = j->xq + (size_t)i0 * XS(kp);
    const float *swt = p->psw + (size_t)t * G * TILE;
    const int32_t *cst = p->pcs + (size_t)t * G * TILE;
    __m512i acc[12][2];
    __m512 f[12][2];
    if (grouped) UNROLL for (int r = 0; r < mr; r++) f[r][0] = f[r][1] = _mm512_setzero_ps();
    for (int g = 0; g < (grouped ? G : 1); g++) {
        UNROLL for (int r = 0; r < mr; r++) acc[r][0] = acc[r][1] = _mm512_setzero_si512();
        const uint8_t *wg = wt + (size_t)g * gk * TILE;
        int kpf = 4 * npf - g * gk;   /* k-steps of this block that prefetch */
        for (int k = 0; k < gk; k += 4) {
            if (k < kpf) _mm_prefetch((const char *)pf + ((size_t)g * gk + k) * 16, _MM_HINT_T0);
            __m512i b0 = _mm512_loadu_si512(wg + (size_t)k * TILE), b1 = _mm512_loadu_si512(wg + (size_t)k * TILE + 64);
            size_t kk = (size_t)g * gk + (size_t)k;
            const uint8_t *xk = xr + (kk & ~(size_t)15) * mr + (kk & 15);
            UNROLL for (int r = 0; r < mr; r++) {
                __m512i a = _mm512_set1_epi32(load32(xk + r * 16));
                acc[r][0] = dpbusd(acc[r][0], a, b0);
                acc[r][1] = dpbusd(acc[r][1], a, b1);
            }
        }
        __m512i c0 = _mm512_loadu_si512(cst + g * TILE), c1 = _mm512_loadu_si512(cst + g * TILE + 16);
        __m512 s0 = _mm512_loadu_ps(swt + g * TILE), s1 = _mm512_loadu_ps(swt + g * TILE + 16);
        UNROLL for (int r = 0; r < mr; r++) {
            __m512 d0 = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc[r][0], c0));
            __m512 d1 = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc[r][1], c1));
            f[r][0] = grouped ? _mm512_fmadd_ps(d0, s0, f[r][0]) : _mm512_mul_ps(d0, s0);
            f[r][1] = grouped ? _mm512_fmadd_ps(d1, s1, f[r][1]) : _mm512_mul_ps(d1, s1);
        }
    }
    int c0 = t * TILE;
    put_tile_avx512(j, i0, mr, c0, N - c0 < TILE ? N - c0 : TILE, f, j->sx);
}

/* Rows r0..r1 of tile t in passes of up to 12 rows per channel (24
 * accumulators), 6 per block (12 + 12 float), the passes as even as can be
 * (128 rows: 11 and 12, not ten of 12 and one of 8).  The passes together
 * prefetch the next tile (nt: none). */
AVX512 static void q8_rows_avx512(const qjob *j, int t, int r0, int r1, int nt)
{
    const sk_qpack *p = j->p;
    const bool grouped = p->G > 1;
    const int MR = pass_rows(p), n = r1 - r0, np = (n + MR - 1) / MR;
    const int steps = p->kp / 4;   /* lines of a tile: 2 per k-step */
    const uint8_t *pf = p->pw + (size_t)nt * p->kp * TILE;
    for (int b = 0, i = r0; b < np; b++) {
        int mr = (int)((int64_t)n * (b + 1) / np - (int64_t)n * b / np);
        int l0 = (int)((int64_t)2 * steps * b / np), l1 = (int)((int64_t)2 * steps * (b + 1) / np);
        const uint8_t *pb = pf + (size_t)l0 * 64;
        int npf = nt >= 0 && nt < p->nt ? l1 - l0 : 0;
        if (npf > steps) npf = steps;   /* one pass: the rest to the hardware */
        if (grouped) {
            switch (mr) {
            case 6: q8_tile_avx512(j, t, i, 6, true, pb, npf); break;
            case 5: q8_tile_avx512(j, t, i, 5, true, pb, npf); break;
            case 4: q8_tile_avx512(j, t, i, 4, true, pb, npf); break;
            case 3: q8_tile_avx512(j, t, i, 3, true, pb, npf); break;
            case 2: q8_tile_avx512(j, t, i, 2, true, pb, npf); break;
            default: q8_tile_avx512(j, t, i, 1, true, pb, npf); break;
            }
        } else {
            switch (mr) {
            case 12: q8_tile_avx512(j, t, i, 12, false, pb, npf); break;
            case 11: q8_tile_avx512(j, t, i, 11, false, pb, npf); break;
            case 10: q8_tile_avx512(j, t, i, 10, false, pb, npf); break;
            case 9: q8_tile_avx512(j, t, i, 9, false, pb, npf); break;
            case 8: q8_tile_avx512(j, t, i, 8, false, pb, npf); break;
            case 7: q8_tile_avx512(j, t, i, 7, false, pb, npf); break;
            case 6: q8_tile_avx512(j, t, i, 6, false, pb, npf); break;
            case 5: q8_tile_avx512(j, t, i, 5, false, pb, npf); break;
            case 4: q8_tile_avx512(j, t, i, 4, false, pb, npf); break;
            case 3: q8_tile_avx512(j, t, i, 3, false, pb, npf); break;
            case 2: q8_tile_avx512(j, t, i, 2, false, pb, npf); break;
            default: q8_tile_avx512(j, t, i, 1, false, pb, npf); break;
            }
        }
        i += mr;
    }
}

/* W4A8 register tile.  Nibbles are the unsigned side of vpdpbusd; one row
 * (GEMV) keeps low and high nibbles in separate accumulators for twice the
 * independent chains.  d = Σ x·q − z·Σ x, then f += (sx·sw)·d per block. */
AVX512 INLINE void q4_tile_avx512(const qjob *j, int t, int i0, const int mr)
{
    const sk_qpack *p = j->p;
    const int G = p->G, gk = p->gk, kp = p->kp, N = p->w.N;
    const int sp = mr == 1 ? 1 : 0;
    const uint8_t *wt = p->pw + (size_t)t * kp * (TILE / 2), *xr = j->xq + (size_t)i0 * kp;
    const float *swt = p->psw + (size_t)t * G * TILE;
    const uint8_t *zt = p->pz ? p->pz + (size_t)t * G * TILE : NULL;
    const __m512i m4 = _mm512_set1_epi8(0x0f);
    __m512i acc[4][2][2];
    __m512 f[4][2];
    UNROLL for (int r = 0; r < mr; r++) f[r][0] = f[r][1] = _mm512_setzero_ps();
    for (int g = 0; g < G; g++) {
        UNROLL for (int r = 0; r < mr; r++) acc[r][0][0] = acc[r][1][0] = acc[r][0][1] = acc[r][1][1] =
            _mm512_setzero_si512();
        const uint8_t *wg = wt + (size_t)g * gk * (TILE / 2), *xg = xr + (size_t)g * gk;
        for (int k = 0; k < gk; k += 8) {
            __m512i v0 = _mm512_loadu_si512(wg + (size_t)k * (TILE / 2));
            __m512i v1 = _mm512_loadu_si512(wg + (size_t)k * (TILE / 2) + 64);
            __m512i l0 = _mm512_and_si512(v0, m4), h0 = _mm512_and_si512(_mm512_srli_epi16(v0, 4), m4);
            __m512i l1 = _mm512_and_si512(v1, m4), h1 = _mm512_and_si512(_mm512_srli_epi16(v1, 4), m4);
            UNROLL for (int r = 0; r < mr; r++) {
                __m512i xa = _mm512_set1_epi32(load32(xg + (size_t)r * kp + k));
                __m512i xb = _mm512_set1_epi32(load32(xg + (size_t)r * kp + k + 4));
                acc[r][0][0] = dpbusd(acc[r][0][0], l0, xa);
                acc[r][1][0] = dpbusd(acc[r][1][0], l1, xa);
                acc[r][0][sp] = dpbusd(acc[r][0][sp], h0, xb);
                acc[r][1][sp] = dpbusd(acc[r][1][sp], h1, xb);
            }
        }
        __m512 s0 = _mm512_loadu_ps(swt + g * TILE), s1 = _mm512_loadu_ps(swt + g * TILE + 16);
        __m512i z0 = _mm512_set1_epi32(8), z1 = z0;
        if (zt) {
            z0 = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(zt + g * TILE)));
            z1 = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(zt + g * TILE + 16)));
        }
        UNROLL for (int r = 0; r < mr; r++) {
            size_t rg = (size_t)(i0 + r) * G + g;
            __m512i bs = _mm512_set1_epi32(j->bsum[rg]);
            __m512i d0 = acc[r][0][0], d1 = acc[r][1][0];
            if (sp) {
                d0 = _mm512_add_epi32(d0, acc[r][0][1]);
                d1 = _mm512_add_epi32(d1, acc[r][1][1]);
            }
            d0 = _mm512_sub_epi32(d0, _mm512_mullo_epi32(z0, bs));
            d1 = _mm512_sub_epi32(d1, _mm512_mullo_epi32(z1, bs));
            __m512 sv = _mm512_set1_ps(j->sx[rg]);
            __m512 e0 = _mm512_mul_ps(s0, sv), e1 = _mm512_mul_ps(s1, sv);
            f[r][0] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(d0), e0, f[r][0]);
            f[r][1] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(d1), e1, f[r][1]);
        }
    }
    int c0 = t * TILE;
    put_tile_avx512(j, i0, mr, c0, N - c0 < TILE ? N - c0 : TILE, f, NULL);
}

AVX512 static void q4_rows_avx512(const qjob *j, int t, int r0, int r1)
{
    for (int i = r0; i < r1; i += 4) {
        switch (r1 - i < 4 ? r1 - i : 4) {
        case 4: q4_tile_avx512(j, t, i, 4); break;
        case 3: q4_tile_avx512(j, t, i, 3); break;
        case 2: q4_tile_avx512(j, t, i, 2); break;
        default: q4_tile_avx512(j, t, i, 1); break;
        }
    }
}

/* Weight-only, few rows: dot products of x's rows with W's rows (IR layout),
 * 16 k at a time (masked tail), per block scaled into a running sum. */
AVX512 INLINE void wq8_dots_avx512(const sk_qweight *w, int M, const float *x, float *y, int ldy, int j0, const int nc)
{
    const int K = w->K, group = w->group, G = K / group;
    const int8_t *wr[4];
    UNROLL for (int c = 0; c < nc; c++) wr[c] = (const int8_t *)w->w + (size_t)(j0 + c) * K;
    for (int i = 0; i < M; i++) {
        const float *xr = x + (size_t)i * K;
        __m512 tot[4];
        UNROLL for (int c = 0; c < nc; c++) tot[c] = _mm512_setzero_ps();
        for (int g = 0; g < G; g++) {
            __m512 acc[4];
            UNROLL for (int c = 0; c < nc; c++) acc[c] = _mm512_setzero_ps();
            int k = g * group, ke = (g + 1) * group;
            for (; k + 16 <= ke; k += 16) {
                __m512 xv = _mm512_loadu_ps(xr + k);
                if (!(k & 63) && i == 0)   /* rows of 768 bytes are too short for the hardware prefetcher */
                    UNROLL for (int c = 0; c < nc; c++) _mm_prefetch((const char *)(wr[c] + (size_t)nc * K + k), _MM_HINT_T0);
                UNROLL for (int c = 0; c < nc; c++) {
                    __m128i b = _mm_loadu_si128((const __m128i *)(wr[c] + k));
                    acc[c] = _mm512_fmadd_ps(xv, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(b)), acc[c]);
                }
            }
            if (k < ke) {
                __mmask16 m = lanes(ke - k);
                __m512 xv = _mm512_maskz_loadu_ps(m, xr + k);
                UNROLL for (int c = 0; c < nc; c++) {
                    __m512 wv = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(m, wr[c] + k)));
                    acc[c] = _mm512_fmadd_ps(xv, wv, acc[c]);
                }
            }
            UNROLL for (int c = 0; c < nc; c++)
                tot[c] = _mm512_fmadd_ps(acc[c], _mm512_set1_ps(w->scales[(size_t)(j0 + c) * G + g]), tot[c]);
        }
        UNROLL for (int c = 0; c < nc; c++) y[(size_t)i * ldy + j0 + c] = _mm512_reduce_add_ps(tot[c]);
    }
}

AVX512 static void wq8_gemv_avx512(const sk_qweight *w, int M, const float *x, float *y, int ldy, int j0, int j1)
{
    int j = j0;
    for (; j + 4 <= j1; j += 4) wq8_dots_avx512(w, M, x, y, ldy, j, 4);
    for (; j < j1; j++) wq8_dots_avx512(w, M, x, y, ldy, j, 1);
}

/* dst[k] = s·src[k] for n int8 */
AVX512 static void dequant_i8_avx512(const int8_t *src, float s, float *dst, int n)
{
    const __m512 vs = _mm512_set1_ps(s);
    int k = 0;
    for (; k + 16 <= n; k += 16)
        _mm512_storeu_ps(dst + k, _mm512_mul_ps(vs, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(
                                                        _mm_loadu_si128((const __m128i *)(src + k))))));
    for (; k < n; k++) dst[k] = s * (float)src[k];
}

/* ================= AVX2 ================= */
AVX2 void sk_q8_quant_avx2(const float *x, int n, uint8_t flip, uint8_t *q, float *scale, int32_t *sum)
{
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 mx = _mm256_setzero_ps();
    int i = 0, n8 = n & ~7;
    for (; i < n8; i += 8) mx = _mm256_max_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(x + i)), mx);
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(mx), _mm256_extractf128_ps(mx, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
    float amax = _mm_cvtss_f32(m4);
    for (; i < n; i++) {
        float a = fabsf(x[i]);
        if (a > amax) amax = a;
    }
    if (amax == 0) {
        memset(q, flip, (size_t)n);
        *scale = 0;
        if (sum) *sum = 0;
        return;
    }
    float d = amax / 127.0f;
    const __m256 vd = _mm256_set1_ps(d), hi = _mm256_set1_ps(127.0f), lo = _mm256_set1_ps(-127.0f);
    const __m128i vf = _mm_set1_epi8((char)flip);
    __m256i acc = _mm256_setzero_si256();
    for (i = 0; i < n8; i += 8) {
        __m256 v = _mm256_div_ps(_mm256_loadu_ps(x + i), vd);
        v = _mm256_max_ps(_mm256_min_ps(v, hi), lo);
        __m256i iv = _mm256_cvtps_epi32(v);
        acc = _mm256_add_epi32(acc, iv);
        __m128i p16 = _mm_packs_epi32(_mm256_castsi256_si128(iv), _mm256_extracti128_si256(iv, 1));
        _mm_storel_epi64((__m128i *)(q + i), _mm_xor_si128(_mm_packs_epi16(p16, p16), vf));
    }
    __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4e));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xb1));
    int32_t s = _mm_cvtsi128_si32(s4);
    for (; i < n; i++) {   /* the tail by the _ref's formula */
        float v = rintf(x[i] / d);
        v = v < 127.0f ? v : 127.0f;
        v = v > -127.0f ? v : -127.0f;
        int qi = (int)v;
        s += qi;
        q[i] = (uint8_t)((uint8_t)(int8_t)qi ^ flip);
    }
    *scale = d;
    if (sum) *sum = s;
}

static inline void store_part(float *dst, const float *src, int n)
{
    if (n > 0) memcpy(dst, src, (size_t)n * sizeof(float));
}

AVX2 INLINE void store8(float *dst, __m256 v, int n)
{
    if (n >= 8) {
        _mm256_storeu_ps(dst, v);
    } else if (n > 0) {
        float tmp[8];
        _mm256_storeu_ps(tmp, v);
        store_part(dst, tmp, n);
    }
}

/* W8A8 on AVX2, one panel (16 columns = two ymm) of tile t: x·w as
 * maddubs(|w|, sign(x, w)), pairs widened by madd with ones. */
AVX2 INLINE void q8_tile_avx2(const qjob *j, int t, int pn, int i0, const int mr, const bool grouped)
{
    const sk_qpack *p = j->p;
    const int G = p->G, gk = p->gk, kp = p->kp, N = p->w.N;
    const uint8_t *wt = p->pw + (size_t)t * kp * TILE + pn * 64, *xr = j->xq + (size_t)i0 * kp;
    const float *swt = p->psw + (size_t)t * G * TILE + pn * 16;
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i acc[4][2];
    __m256 f[4][2];
    if (grouped) UNROLL for (int r = 0; r < mr; r++) f[r][0] = f[r][1] = _mm256_setzero_ps();
    for (int g = 0; g < (grouped ? G : 1); g++) {
        UNROLL for (int r = 0; r < mr; r++) acc[r][0] = acc[r][1] = _mm256_setzero_si256();
        const uint8_t *wg = wt + (size_t)g * gk * TILE, *xg = xr + (size_t)g * gk;
        for (int k = 0; k < gk; k += 4) {
            __m256i b0 = _mm256_loadu_si256((const __m256i *)(wg + (size_t)k * TILE));
            __m256i b1 = _mm256_loadu_si256((const __m256i *)(wg + (size_t)k * TILE + 32));
            __m256i u0 = _mm256_abs_epi8(b0), u1 = _mm256_abs_epi8(b1);
            UNROLL for (int r = 0; r < mr; r++) {
                __m256i a = _mm256_set1_epi32(load32(xg + (size_t)r * kp + k));
                acc[r][0] = _mm256_add_epi32(acc[r][0],
                                             _mm256_madd_epi16(_mm256_maddubs_epi16(u0, _mm256_sign_epi8(a, b0)), ones));
                acc[r][1] = _mm256_add_epi32(acc[r][1],
                                             _mm256_madd_epi16(_mm256_maddubs_epi16(u1, _mm256_sign_epi8(a, b1)), ones));
            }
        }
        __m256 s0 = _mm256_loadu_ps(swt + g * TILE), s1 = _mm256_loadu_ps(swt + g * TILE + 8);
        UNROLL for (int r = 0; r < mr; r++) {
            __m256 d0 = _mm256_cvtepi32_ps(acc[r][0]), d1 = _mm256_cvtepi32_ps(acc[r][1]);
            f[r][0] = grouped ? _mm256_fmadd_ps(d0, s0, f[r][0]) : _mm256_mul_ps(d0, s0);
            f[r][1] = grouped ? _mm256_fmadd_ps(d1, s1, f[r][1]) : _mm256_mul_ps(d1, s1);
        }
    }
    int c0 = t * TILE + pn * 16, nv = N - c0;
    UNROLL for (int r = 0; r < mr; r++) {
        float *yr = j->y + (size_t)(i0 + r) * N + c0;
        __m256 sv = _mm256_set1_ps(j->sx[i0 + r]);
        store8(yr, _mm256_mul_ps(f[r][0], sv), nv);
        store8(yr + 8, _mm256_mul_ps(f[r][1], sv), nv - 8);
    }
}

/* W4A8 on AVX2, one panel: nibble·x pairs (≤ 2·15·127) summed in int16 for
 * the low and high nibbles (≤ 7620), then widened. */
AVX2 INLINE void q4_tile_avx2(const qjob *j, int t, int pn, int i0, const int mr)
{
    const sk_qpack *p = j->p;
    const int G = p->G, gk = p->gk, kp = p->kp, N = p->w.N;
    const uint8_t *wt = p->pw + (size_t)t * kp * (TILE / 2) + pn * 64, *xr = j->xq + (size_t)i0 * kp;
    const float *swt = p->psw + (size_t)t * G * TILE + pn * 16;
    const uint8_t *zt = p->pz ? p->pz + (size_t)t * G * TILE + pn * 16 : NULL;
    const __m256i ones = _mm256_set1_epi16(1), m4 = _mm256_set1_epi8(0x0f);
    __m256i acc[2][2];
    __m256 f[2][2];
    UNROLL for (int r = 0; r < mr; r++) f[r][0] = f[r][1] = _mm256_setzero_ps();
    for (int g = 0; g < G; g++) {
        UNROLL for (int r = 0; r < mr; r++) acc[r][0] = acc[r][1] = _mm256_setzero_si256();
        const uint8_t *wg = wt + (size_t)g * gk * (TILE / 2), *xg = xr + (size_t)g * gk;
        for (int k = 0; k < gk; k += 8) {
            __m256i v0 = _mm256_loadu_si256((const __m256i *)(wg + (size_t)k * (TILE / 2)));
            __m256i v1 = _mm256_loadu_si256((const __m256i *)(wg + (size_t)k * (TILE / 2) + 32));
            __m256i l0 = _mm256_and_si256(v0, m4), h0 = _mm256_and_si256(_mm256_srli_epi16(v0, 4), m4);
            __m256i l1 = _mm256_and_si256(v1, m4), h1 = _mm256_and_si256(_mm256_srli_epi16(v1, 4), m4);
            UNROLL for (int r = 0; r < mr; r++) {
                __m256i xa = _mm256_set1_epi32(load32(xg + (size_t)r * kp + k));
                __m256i xb = _mm256_set1_epi32(load32(xg + (size_t)r * kp + k + 4));
                __m256i s0 = _mm256_add_epi16(_mm256_maddubs_epi16(l0, xa), _mm256_maddubs_epi16(h0, xb));
                __m256i s1 = _mm256_add_epi16(_mm256_maddubs_epi16(l1, xa), _mm256_maddubs_epi16(h1, xb));
                acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(s0, ones));
                acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(s1, ones));
            }
        }
        __m256 s0 = _mm256_loadu_ps(swt + g * TILE), s1 = _mm256_loadu_ps(swt + g * TILE + 8);
        __m256i z0 = _mm256_set1_epi32(8), z1 = z0;
        if (zt) {
            z0 = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(zt + g * TILE)));
            z1 = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(zt + g * TILE + 8)));
        }
        UNROLL for (int r = 0; r < mr; r++) {
            size_t rg = (size_t)(i0 + r) * G + g;
            __m256i bs = _mm256_set1_epi32(j->bsum[rg]);
            __m256i d0 = _mm256_sub_epi32(acc[r][0], _mm256_mullo_epi32(z0, bs));
            __m256i d1 = _mm256_sub_epi32(acc[r][1], _mm256_mullo_epi32(z1, bs));
            __m256 sv = _mm256_set1_ps(j->sx[rg]);
            __m256 e0 = _mm256_mul_ps(s0, sv), e1 = _mm256_mul_ps(s1, sv);
            f[r][0] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(d0), e0, f[r][0]);
            f[r][1] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(d1), e1, f[r][1]);
        }
    }
    int c0 = t * TILE + pn * 16, nv = N - c0;
    UNROLL for (int r = 0; r < mr; r++) {
        float *yr = j->y + (size_t)(i0 + r) * N + c0;
        store8(yr, f[r][0], nv);
        store8(yr + 8, f[r][1], nv - 8);
    }
}

AVX2 static void q8_rows_avx2(const qjob *j, int t, int r0, int r1)
{
    const int MR = j->p->G == 1 ? 4 : 2;
    for (int i = r0; i < r1; i += MR) {
        int mr = r1 - i < MR ? r1 - i : MR;
        for (int pn = 0; pn < 2 && t * TILE + pn * 16 < j->p->w.N; pn++) {
            if (j->p->G > 1) {
                if (mr == 2) q8_tile_avx2(j, t, pn, i, 2, true);
                else q8_tile_avx2(j, t, pn, i, 1, true);
                continue;
            }
            switch (mr) {
            case 4: q8_tile_avx2(j, t, pn, i, 4, false); break;
            case 3: q8_tile_avx2(j, t, pn, i, 3, false); break;
            case 2: q8_tile_avx2(j, t, pn, i, 2, false); break;
            default: q8_tile_avx2(j, t, pn, i, 1, false); break;
            }
        }
        int c0 = t * TILE, nv = j->p->w.N - c0 < TILE ? j->p->w.N - c0 : TILE;
        epilogue(j, i, i + mr, c0, c0 + nv);
    }
}

AVX2 static void q4_rows_avx2(const qjob *j, int t, int r0, int r1)
{
    for (int i = r0; i < r1; i += 2) {
        int mr = r1 - i < 2 ? r1 - i : 2;
        for (int pn = 0; pn < 2 && t * TILE + pn * 16 < j->p->w.N; pn++) {
            if (mr == 2) q4_tile_avx2(j, t, pn, i, 2);
            else q4_tile_avx2(j, t, pn, i, 1);
        }
        int c0 = t * TILE, nv = j->p->w.N - c0 < TILE ? j->p->w.N - c0 : TILE;
        epilogue(j, i, i + mr, c0, c0 + nv);
    }
}

AVX2 static inline float hsum8(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

AVX2 static void dequant_i8_avx2(const int8_t *src, float s, float *dst, int n)
{
    const __m256 vs = _mm256_set1_ps(s);
    int k = 0;
    for (; k + 8 <= n; k += 8)
        _mm256_storeu_ps(dst + k, _mm256_mul_ps(vs, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(
                                                        _mm_loadl_epi64((const __m128i *)(src + k))))));
    for (; k < n; k++) dst[k] = s * (float)src[k];
}

/* Weight-only dots on AVX2 (group a multiple of 8). */
AVX2 INLINE void wq8_dots_avx2(const sk_qweight *w, int M, const float *x, float *y, int ldy, int j0, const int nc)
{
    const int K = w->K, group = w->group, G = K / group;
    const int8_t *wr[4];
    UNROLL for (int c = 0; c < nc; c++) wr[c] = (const int8_t *)w->w + (size_t)(j0 + c) * K;
    for (int i = 0; i < M; i++) {
        const float *xr = x + (size_t)i * K;
        __m256 tot[4];
        UNROLL for (int c = 0; c < nc; c++) tot[c] = _mm256_setzero_ps();
        for (int g = 0; g < G; g++) {
            __m256 acc[4];
            UNROLL for (int c = 0; c < nc; c++) acc[c] = _mm256_setzero_ps();
            for (int k = g * group; k < (g + 1) * group; k += 8) {
                __m256 xv = _mm256_loadu_ps(xr + k);
                if (!(k & 63) && i == 0)
                    UNROLL for (int c = 0; c < nc; c++) _mm_prefetch((const char *)(wr[c] + (size_t)nc * K + k), _MM_HINT_T0);
                UNROLL for (int c = 0; c < nc; c++) {
                    __m256i wi = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(wr[c] + k)));
                    acc[c] = _mm256_fmadd_ps(xv, _mm256_cvtepi32_ps(wi), acc[c]);
                }
            }
            UNROLL for (int c = 0; c < nc; c++)
                tot[c] = _mm256_fmadd_ps(acc[c], _mm256_set1_ps(w->scales[(size_t)(j0 + c) * G + g]), tot[c]);
        }
        UNROLL for (int c = 0; c < nc; c++) y[(size_t)i * ldy + j0 + c] = hsum8(tot[c]);
    }
}

AVX2 static void wq8_gemv_avx2(const sk_qweight *w, int M, const float *x, float *y, int ldy, int j0, int j1)
{
    int j = j0;
    for (; j + 4 <= j1; j += 4) wq8_dots_avx2(w, M, x, y, ldy, j, 4);
    for (; j < j1; j++) wq8_dots_avx2(w, M, x, y, ldy, j, 1);
}
#else
void sk_q8_quant_avx512(const float *x, int n, uint8_t flip, uint8_t *q, float *scale, int32_t *sum)
{
    sk_q8_quant_ref(x, n, flip, q, scale, sum);
}
void sk_q8_quant_avx2(const float *x, int n, uint8_t flip, uint8_t *q, float *scale, int32_t *sum)
{
    sk_q8_quant_ref(x, n, flip, q, scale, sum);
}
#endif

/* ================= parallel parts ================= */
/* Tiles t0..t1 of rows r0..r1 on the pack's SIMD kernels. */
static void run_tiles(const qjob *j, int t0, int t1, int r0, int r1)
{
#if defined(__x86_64__)
    const sk_qpack *p = j->p;
    for (int t = t0; t < t1 && r0 < r1; t++) {
        if (p->isa == SK_QISA_AVX512) {
            if (p->w.bits == 8) q8_rows_avx512(j, t, r0, r1, t + 1 < t1 ? t + 1 : -1);
            else q4_rows_avx512(j, t, r0, r1);
        } else {
            if (p->w.bits == 8) q8_rows_avx2(j, t, r0, r1);
            else q4_rows_avx2(j, t, r0, r1);
        }
    }
#else
    (void)j; (void)t0; (void)t1; (void)r0; (void)r1;
    SK_ASSERT(!"SIMD pack on a non-x86 build");
#endif
}

/* Threads claim units of rows in turn (quantize them, then every tile), so
 * that a thread the system holds back leaves its share to the others; or
 * take contiguous tile ranges of rows quantized beforehand; REF: columns. */
static void gemm_part(void *ctx, int ti, int tn)
{
    qjob *j = ctx;
    const sk_qpack *p = j->p;
    const int N = p->w.N, M = j->M;
    if (p->isa == SK_QISA_REF) {
        int c0 = (int)((int64_t)N * ti / tn), c1 = (int)((int64_t)N * (ti + 1) / tn);
        if (c0 >= c1) return;
        if (p->w.bits == 8) sk_q8_gemm_ref(&p->w, M, (const int8_t *)j->xq, p->kp, j->sx, j->y, N, c0, c1);
        else sk_q4_gemm_ref(&p->w, M, (const int8_t *)j->xq, p->kp, j->sx, j->y, N, c0, c1);
        epilogue(j, 0, M, c0, c1);
        return;
    }
    if (j->units) {
        for (int u; (u = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed)) < j->units;) {
            int r0 = (int)((int64_t)M * u / j->units), r1 = (int)((int64_t)M * (u + 1) / j->units);
            quant_rows(j, r0, r1, r0, r1, ti);
            run_tiles(j, 0, p->nt, r0, r1);
        }
        return;
    }
    run_tiles(j, (int)((int64_t)p->nt * ti / tn), (int)((int64_t)p->nt * (ti + 1) / tn), 0, M);
}

/* weight-only: dequantize rows c0..c0+nb of W into buf [nb][K] */
static void dequant_rows(const sk_qweight *w, sk_qisa isa, int c0, int nb, float *buf)
{
    const int K = w->K, group = w->group, G = K / group;
    for (int c = 0; c < nb; c++) {
        int j = c0 + c;
        for (int g = 0; g < G; g++) {
            float s = w->scales[(size_t)j * G + g], *dst = buf + (size_t)c * K + (size_t)g * group;
            if (w->bits == 8) {
                const int8_t *src = (const int8_t *)w->w + (size_t)j * K + (size_t)g * group;
#if defined(__x86_64__)
                if (isa == SK_QISA_AVX512) { dequant_i8_avx512(src, s, dst, group); continue; }
                if (isa == SK_QISA_AVX2) { dequant_i8_avx2(src, s, dst, group); continue; }
#endif
                for (int k = 0; k < group; k++) dst[k] = s * (float)src[k];
            } else if ((((size_t)j * K + (size_t)g * group) | (size_t)group) % 2 == 0) {   /* whole bytes */
                int z = zero_at(w, j, g);
                const uint8_t *src = (const uint8_t *)w->w + ((size_t)j * K + (size_t)g * group) / 2;
                for (int k = 0; k < group / 2; k++) {
                    dst[2 * k] = s * (float)((src[k] & 15) - z);
                    dst[2 * k + 1] = s * (float)((src[k] >> 4) - z);
                }
            } else {
                int z = zero_at(w, j, g);
                for (int k = 0; k < group; k++) dst[k] = s * (float)(q4_at(w->w, K, j, g * group + k) - z);
            }
        }
    }
    (void)isa;
}

static void wo_part(void *ctx, int ti, int tn)
{
    const qjob *j = ctx;
    const sk_qpack *p = j->p;
    const sk_qweight *w = &p->w;
    const int N = w->N, M = j->M;
    int c0 = (int)((int64_t)N * ti / tn), c1 = (int)((int64_t)N * (ti + 1) / tn);
    if (c0 >= c1) return;
    if (p->isa == SK_QISA_REF) {
        sk_wq_gemm_ref(w, M, j->x, j->y, N, c0, c1);
        epilogue(j, 0, M, c0, c1);
        return;
    }
#if defined(__x86_64__)
    if (M <= WO_GEMV_M && w->bits == 8) {
        if (p->isa == SK_QISA_AVX512) wq8_gemv_avx512(w, M, j->x, j->y, N, c0, c1);
        else if (w->group % 8 == 0) wq8_gemv_avx2(w, M, j->x, j->y, N, c0, c1);
        else sk_wq_gemm_ref(w, M, j->x, j->y, N, c0, c1);
        epilogue(j, 0, M, c0, c1);
        return;
    }
#endif
    /* one BLAS call per chunk on this thread (a session runs OpenBLAS single-threaded, as sk_sgemm_pool does) */
    float *buf = j->wbuf + (size_t)ti * w->K * WO_NB;
    for (int c = c0; c < c1; c += WO_NB) {
        int nb = c1 - c < WO_NB ? c1 - c : WO_NB;
        dequant_rows(w, p->isa, c, nb, buf);
        sk_sgemm(false, true, M, nb, w->K, 1.0f, j->x, w->K, buf, w->K, 0.0f, j->y + c, N);
        epilogue(j, 0, M, c, c + nb);
    }
}

void sk_qpack_run(const sk_qpack *p, sk_pool *pool, int64_t M, const float *x, const float *bias, sk_act act,
                  float *y, void *scratch)
{
    if (M <= 0 || p->w.N == 0) return;
    if (!worth_threads(&p->w, M)) pool = NULL;
    int nthreads = pool ? sk_pool_size(pool) : 1;
    qjob j;
    memset(&j, 0, sizeof j);
    j.p = p;
    j.M = (int)M;
    j.x = x;
    j.bias = bias;
    j.act = act;
    j.y = y;
    uint8_t *base = scratch;
    size_t off = 0, at = 0;
    if (p->w.act_bits == 0) {
        if (sk_qpack_scratch(&p->w, p->isa, M, nthreads) > 0) j.wbuf = scratch;
        run_par(pool, wo_part, &j);
        return;
    }
    int gx = p->w.bits == 8 ? 1 : p->G;
    carve(&off, (size_t)M * (p->pcs ? XS(p->kp) : (size_t)p->kp), &at);
    j.xq = base + at;
    carve(&off, (size_t)M * gx * sizeof(float), &at);
    j.sx = (float *)(base + at);
    if (p->w.bits == 4) {
        carve(&off, (size_t)M * gx * sizeof(float), &at);
        j.bsum = (int32_t *)(base + at);
    }
    if (p->pcs) {
        carve(&off, (size_t)nthreads * XS(p->kp), &at);
        j.rowbuf = base + at;
    }
    if (p->isa != SK_QISA_REF && M >= 16 * nthreads && (p->nt < 4 * nthreads || M >= ROWS_MIN * nthreads)) {
        j.units = nthreads == 1 ? 1 : (int)(M / 16 < UNITS * nthreads ? M / 16 : UNITS * nthreads);
        atomic_init(&j.next, 0);
        run_par(pool, gemm_part, &j);
        return;
    }
    /* quantizing a few rows costs less than waking the pool */
    if (M * p->w.K >= (1 << 16)) run_par(pool, quant_part, &j);
    else quant_part(&j, 0, 1);
    run_par(pool, gemm_part, &j);
}

/* ================= LINEAR(x, W, b, scales, zeros?) ================= */
bool sk_qlinear_is(const sk_kctx *k)
{
    const sk_rtensor *w = k->n_in > 1 ? k->in[1] : NULL;
    return (w && (w->dtype == SK_DT_I8 || w->dtype == SK_DT_Q4)) || (k->n_in > 3 && k->in[3]);
}

/* Validate the node and describe its weight; *M = rows of x. */
static sk_status qlinear_desc(const sk_kctx *k, sk_qweight *q, int64_t *M)
{
    sk_status st;
    memset(q, 0, sizeof *q);
    if (sk_node_attr_i(k->node, "wt", 1) != 1)
        return sk_kerr(k, SK_ERR_INVALID, "quantized W must be [N, K] (attribute wt = 1)");
    if ((st = sk_kcheck_input(k, 0, SK_DT_F32, 1, SK_MAX_RANK))) return st;
    const sk_rtensor *x = k->in[0], *w = k->n_in > 1 ? k->in[1] : NULL;
    const sk_rtensor *b = k->n_in > 2 ? k->in[2] : NULL, *s = k->n_in > 3 ? k->in[3] : NULL;
    const sk_rtensor *z = k->n_in > 4 ? k->in[4] : NULL;
    if (!w) return sk_kerr(k, SK_ERR_INVALID, "input 1 (W) is missing");
    if (w->dtype != SK_DT_I8 && w->dtype != SK_DT_Q4)
        return sk_kerr(k, SK_ERR_UNSUPPORTED, "W has dtype %s with scales (quantized W must be i8 or q4)",
                       sk_dtype_info(w->dtype)->name);
    if ((st = sk_kcheck_input(k, 1, w->dtype, 2, 2))) return st;
    int64_t bits = sk_node_attr_i(k->node, "bits", w->dtype == SK_DT_I8 ? 8 : 4);
    if (bits != (w->dtype == SK_DT_I8 ? 8 : 4))
        return sk_kerr(k, SK_ERR_INVALID, "attribute bits is %lld but W is %s", (long long)bits,
                       sk_dtype_info(w->dtype)->name);
    int64_t K = x->dims[x->rank - 1], N = w->dims[0];
    if (w->dims[1] != K)
        return sk_kerr(k, SK_ERR_INVALID, "x has %lld features but W is [%lld, %lld]", (long long)K,
                       (long long)w->dims[0], (long long)w->dims[1]);
    if (K == 0) return sk_kerr(k, SK_ERR_INVALID, "quantized W has K = 0");
    /* a quantized tensor's byte count is not checked by the loaders (the IR
     * allows packed layouts): the kernel reads N·K elements, so check here */
    size_t wbytes;
    if (!sk_dtype_nbytes(w->dtype, N * K, &wbytes) || w->nbytes != wbytes || !w->data)
        return sk_kerr(k, SK_ERR_INVALID, "W [%lld, %lld] (%s) holds %zu bytes, expected %zu", (long long)N,
                       (long long)K, sk_dtype_info(w->dtype)->name, w->nbytes, wbytes);
    if (!s) return sk_kerr(k, SK_ERR_INVALID, "quantized W (%s) needs scales (input 3)", sk_dtype_info(w->dtype)->name);
    if ((st = sk_kcheck_input(k, 3, SK_DT_F32, 1, 2))) return st;
    int64_t G = s->rank == 2 ? s->dims[1] : 1;
    if (s->dims[0] != N || G < 1)
        return sk_kerr(k, SK_ERR_INVALID, "scales have %lld rows of %lld, expected %lld rows (W has N = %lld)",
                       (long long)s->dims[0], (long long)G, (long long)N, (long long)N);
    int64_t group = sk_node_attr_i(k->node, "group", K % G == 0 ? K / G : 0);
    if (group <= 0 || K % group || K / group != G)
        return sk_kerr(k, SK_ERR_INVALID, "group %lld does not fit K = %lld with %lld scales per row", (long long)group,
                       (long long)K, (long long)G);
    if (z) {
        if (bits == 8) return sk_kerr(k, SK_ERR_UNSUPPORTED, "zero points with int8 weights (bits 8 is symmetric)");
        if ((st = sk_kcheck_input(k, 4, SK_DT_U8, 1, 2))) return st;
        if (z->dims[0] != N || sk_rt_numel(z) != N * G)
            return sk_kerr(k, SK_ERR_INVALID, "zeros have %lld values, expected [%lld, %lld]",
                           (long long)sk_rt_numel(z), (long long)N, (long long)G);
    }
    int64_t act_bits = sk_node_attr_i(k->node, "act_bits", 8);
    if (act_bits != 8 && act_bits != 0)
        return sk_kerr(k, SK_ERR_UNSUPPORTED, "act_bits %lld (expected 8 or 0)", (long long)act_bits);
    if (b) {
        if ((st = sk_kcheck_input(k, 2, SK_DT_F32, 1, 2))) return st;
        if (sk_rt_numel(b) != N || b->dims[b->rank - 1] != N)
            return sk_kerr(k, SK_ERR_INVALID, "bias has %lld values, expected %lld", (long long)sk_rt_numel(b),
                           (long long)N);
    }
    *M = sk_rt_numel(x) / K;
    if (*M > 0x7fffffff) return sk_kerr(k, SK_ERR_UNSUPPORTED, "too many rows (%lld)", (long long)*M);
    q->bits = (int)bits;
    q->act_bits = (int)act_bits;
    q->N = (int)N;
    q->K = (int)K;
    q->group = (int)group;
    q->w = w->data;
    q->scales = s->data;
    q->zeros = z ? z->data : NULL;
    return SK_OK;
}

sk_status sk_qlinear_shape(sk_kctx *k)
{
    sk_qweight q;
    int64_t M;
    sk_status st = qlinear_desc(k, &q, &M);
    if (st) return st;
    const sk_rtensor *x = k->in[0];
    int64_t dims[SK_MAX_RANK];
    memcpy(dims, x->dims, sizeof dims);
    dims[x->rank - 1] = q.N;
    sk_rt_set_shape(k->out[0], SK_DT_F32, x->rank, dims);
    size_t need = sk_qpack_scratch(&q, SK_QISA_AUTO, M, k->pool ? sk_pool_size(k->pool) : 1);
    if (need == SIZE_MAX) return sk_kerr(k, SK_ERR_UNSUPPORTED, "scratch for %lld rows is too large", (long long)M);
    k->scratch_need = need;
    return SK_OK;
}

static bool same_weight(const sk_qweight *a, const sk_qweight *b)
{
    return a->bits == b->bits && a->act_bits == b->act_bits && a->N == b->N && a->K == b->K && a->group == b->group &&
           a->w == b->w && a->scales == b->scales && a->zeros == b->zeros;
}

sk_status sk_qlinear_kern(sk_kctx *k, sk_act act)
{
    sk_qweight q;
    int64_t M;
    sk_status st = qlinear_desc(k, &q, &M);
    if (st) return st;
    if (M == 0 || q.N == 0) return SK_OK;
    bool fixed = k->in[1]->is_const && k->in[3]->is_const && (!q.zeros || k->in[4]->is_const);
    sk_qpack *p = *k->state;
    if (!p || !fixed || !same_weight(sk_qpack_weight(p), &q)) {
        sk_free(p);
        *k->state = NULL;
        if ((st = sk_qpack_new(&q, SK_QISA_AUTO, k->pool, &p)))
            return sk_err_prefix(st, "node '%s' (%s)", k->node->name, sk_op_get(k->node->op)->name);
        *k->state = p;
    }
    int nthreads = k->pool ? sk_pool_size(k->pool) : 1;
    SK_ASSERT(sk_qpack_scratch(&q, SK_QISA_AUTO, M, nthreads) <= k->scratch_need);
    const sk_rtensor *b = k->n_in > 2 ? k->in[2] : NULL;
    sk_qpack_run(p, k->pool, M, k->in[0]->data, b ? b->data : NULL, act, k->out[0]->data, k->scratch);
    return SK_OK;
}
