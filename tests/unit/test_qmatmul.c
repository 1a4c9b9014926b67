/* test_qmatmul.c — the quantized LINEAR (qmatmul.c): every SIMD path against
 * its scalar _ref, the _ref against a float reference, and the LINEAR op
 * against the f32 LINEAR on the dequantized weights.
 *
 *  1. quantizers: AVX2 / AVX-512 against sk_q8_quant_ref, bit for bit (bytes,
 *     scale, block sum), including ties, NaN, ±inf and all-zero blocks.
 *  2. integer exactness: x whose quantization is exact (integers with ±127 in
 *     every block, so the scale is 1) and unit weight scales, so y is the
 *     int32 dot product itself; every isa must give the integer that int64
 *     arithmetic gives, exactly.
 *  3. random data: each isa against REF within 1e-6 of Σ|terms| (per
 *     channel bit-exact: the same float operations), REF against a double
 *     reference that dequantizes W and quantizes x by the same rules within
 *     1e-5; weight-only within 1e-5.  Then the same with a bias and each
 *     activation (the AVX-512 epilogue works in registers): per channel bit
 *     for bit, otherwise within 1e-6 of Σ|terms| + |b| + 1.
 *  4. LINEAR through sk_shape_LINEAR/sk_kern_LINEAR with a hand-built kctx:
 *     each act, with and without bias, against the f32 LINEAR on the
 *     dequantized W: the difference must stay under the bound the
 *     activation rounding allows (half a step of x per element times Σ|w|,
 *     times 1.13 for gelu's slope); plus the error cases.
 * Shapes include M = 1, 17, 33, 128, N = 1 and N not a multiple of 16,
 * K = group and 3·group, odd K per channel.  Then (not checked) the times of
 * f32 against quantized LINEAR on 2 threads.  It re-runs itself with
 * SHRINK_ISA=avx2 and SHRINK_ISA=scalar so the dispatch of every path is
 * exercised through LINEAR as well.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "runtime/kernels/qmatmul.h"

void openblas_set_num_threads(int);

static int fails, checks;
#define CHECK(c) do { checks++; if (!(c)) { printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #c); fails++; } } while (0)

static sk_pool *pool;

/* ---- random numbers (xorshift, fixed seed) ---- */
static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t rnext(void)
{
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return rng;
}
static float frand(void) { return (float)((double)(rnext() >> 11) / 9007199254740992.0 * 2.0 - 1.0); }   /* [-1, 1) */
static int irand(int n) { return (int)(rnext() % (uint64_t)n); }
static float nrand(void)   /* roughly normal */
{
    return (frand() + frand() + frand() + frand()) * 0.8660254f;
}

/* ---- a quantized weight with its arrays ---- */
typedef struct {
    sk_qweight w;
    void *wq;                  /* i8 [N, K] or q4 [N, K] */
    float *sw;                 /* [N, G] */
    uint8_t *z;                /* [N, G] or NULL */
} qw;

static int q_at(const qw *q, int j, int k)
{
    size_t e = (size_t)j * q->w.K + k;
    if (q->w.bits == 8) return ((int8_t *)q->wq)[e];
    return (((uint8_t *)q->wq)[e >> 1] >> ((e & 1) * 4)) & 15;
}
static int z_at(const qw *q, int j, int g)
{
    if (q->w.bits == 8) return 0;
    return q->z ? q->z[(size_t)j * (q->w.K / q->w.group) + g] : 8;
}

/* unit: scales 1 (exact products), 2: any bytes (timing only, fast to fill); zeros: 0 none, 1 random */
static qw qw_make(int bits, int act_bits, int N, int K, int group, int zeros, int unit)
{
    qw q;
    memset(&q, 0, sizeof q);
    int G = K / group;
    size_t n = (size_t)N * K;
    q.wq = calloc(bits == 8 ? n + 1 : n / 2 + 1, 1);
    q.sw = malloc(((size_t)N * G + 1) * sizeof(float));
    if (unit == 2) {
        size_t nb = bits == 8 ? n : n / 2;
        for (size_t i = 0; i + 8 <= nb; i += 8) {
            uint64_t r = rnext();
            memcpy((uint8_t *)q.wq + i, &r, 8);
        }
    } else {
        for (size_t i = 0; i < n; i++) {
            if (bits == 8) ((int8_t *)q.wq)[i] = (int8_t)(irand(255) - 127 - (irand(50) == 0));   /* -128 sometimes */
            else ((uint8_t *)q.wq)[i >> 1] |= (uint8_t)(irand(16) << ((i & 1) * 4));
        }
    }
    for (size_t i = 0; i < (size_t)N * G; i++) q.sw[i] = unit == 1 ? 1.0f : 0.002f + 0.02f * (frand() + 1.0f);
    if (zeros) {
        q.z = malloc((size_t)N * G + 1);
        for (size_t i = 0; i < (size_t)N * G; i++) q.z[i] = (uint8_t)irand(16);
    }
    q.w.bits = bits;
    q.w.act_bits = act_bits;
    q.w.N = N;
    q.w.K = K;
    q.w.group = group;
    q.w.w = q.wq;
    q.w.scales = q.sw;
    q.w.zeros = q.z;
    return q;
}

static void qw_free(qw *q) { free(q->wq); free(q->sw); free(q->z); }

/* y = the product through a pack of the given isa; returns the isa used */
static sk_qisa run_isa(const qw *q, sk_qisa isa, int M, const float *x, const float *bias, sk_act act, float *y)
{
    sk_qpack *p;
    sk_status st = sk_qpack_new(&q->w, isa, pool, &p);
    CHECK(st == SK_OK);
    if (st) return SK_QISA_REF;
    size_t need = sk_qpack_scratch(&q->w, isa, M, sk_pool_size(pool));
    void *scratch = need ? sk_aligned_alloc(64, need) : NULL;
    for (size_t i = 0; i < (size_t)M * q->w.N; i++) y[i] = NAN;   /* every output must be written */
    sk_qpack_run(p, pool, M, x, bias, act, y, scratch);
    sk_qisa used = sk_qpack_isa(p);
    sk_free(scratch);
    sk_free(p);
    return used;
}

/* ---- error bookkeeping ---- */
typedef struct { const char *name; double worst; int cases; double tol; } errstat;

static void note(errstat *e, double err, const char *what)
{
    e->cases++;
    if (err > e->worst || isnan(err)) e->worst = err;
    if (!(err <= e->tol)) printf("  %s: %s error %.3g > %.3g\n", e->name, what, err, e->tol);
    CHECK(err <= e->tol);
}

static void report(const errstat *e)
{
    printf("%-34s %4d cases  worst %.3g  (tolerance %.0e)\n", e->name, e->cases, e->worst, e->tol);
}

/* The isas this CPU (and SHRINK_ISA) allows, REF first. */
static int isas(sk_qisa *out)
{
    int n = 0;
    out[n++] = SK_QISA_REF;
    sk_qisa best = sk_qisa_best();
    if (best == SK_QISA_AVX2 || best == SK_QISA_AVX512) out[n++] = SK_QISA_AVX2;
    if (best == SK_QISA_AVX512) out[n++] = SK_QISA_AVX512;
    return n;
}

/* ================= 1. quantizers ================= */
static void test_quant(void)
{
    errstat e = { "quant simd == ref (mismatches)", 0, 0, 0 };
    static const int lens[] = { 1, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 64, 100, 128, 768 };
    typedef void (*qfn)(const float *, int, uint8_t, uint8_t *, float *, int32_t *);
    qfn fns[2] = { NULL, NULL };
    const char *names[2] = { "avx2", "avx512" };
    sk_qisa best = sk_qisa_best();
    if (best >= SK_QISA_AVX2) fns[0] = sk_q8_quant_avx2;
    if (best >= SK_QISA_AVX512) fns[1] = sk_q8_quant_avx512;
    float x[800];
    uint8_t qr[800], qs[800];
    int tested = 0;
    for (int li = 0; li < (int)(sizeof lens / sizeof lens[0]); li++) {
        int n = lens[li];
        for (int kind = 0; kind < 6; kind++) {
            for (int i = 0; i < n; i++) x[i] = nrand() * (kind == 1 ? 1e-30f : 3.0f);
            if (kind == 2) for (int i = 0; i < n; i++) x[i] = 0.0f;
            if (kind == 3) {   /* exact ties: scale 1, halves round to even */
                for (int i = 0; i < n; i++) x[i] = (float)(irand(254) - 127) + (irand(2) ? 0.5f : 0.0f);
                x[irand(n)] = -127.0f;
            }
            if (kind == 4) { x[irand(n)] = NAN; x[irand(n)] = -0.0f; }
            if (kind == 5) x[irand(n)] = irand(2) ? INFINITY : -INFINITY;
            for (int f = 0; f < 2; f++)
                for (int fi = 0; fi < 2; fi++) {
                    if (!fns[fi]) continue;
                    uint8_t flip = f ? 0x80 : 0;
                    float sr = -1, ss = -2;
                    int32_t sumr = -1, sums = -2;
                    sk_q8_quant_ref(x, n, flip, qr, &sr, &sumr);
                    fns[fi](x, n, flip, qs, &ss, &sums);
                    int bad = memcmp(qr, qs, (size_t)n) != 0 || memcmp(&sr, &ss, sizeof sr) != 0 || sumr != sums;
                    if (bad) printf("  quant %s n=%d kind=%d flip=%d differs from ref\n", names[fi], n, kind, flip);
                    note(&e, bad, names[fi]);
                    tested++;
                }
            /* the ref's own rules: |q| ≤ 127, the absmax element at ±127, q·scale within half a step of x */
            float s;
            int32_t sum;
            sk_q8_quant_ref(x, n, 0, qr, &s, &sum);
            int32_t chk = 0;
            bool ok = true, hit = false;
            for (int i = 0; i < n; i++) {
                int qi = (int8_t)qr[i];
                chk += qi;
                if (qi < -127 || qi > 127) ok = false;
                if (kind != 4 && kind != 5 && isfinite(x[i])) {
                    if (fabsf(x[i]) == s * 127.0f || (qi == 127 || qi == -127)) hit = true;
                    if (s > 0 && !(fabs((double)qi * s - x[i]) <= 0.5 * s * (1 + 1e-6))) ok = false;
                }
            }
            if (kind == 2) ok = ok && s == 0 && sum == 0;
            else if (kind != 4 && kind != 5) ok = ok && hit;
            CHECK(ok && chk == sum);
        }
    }
    if (!fns[0]) printf("quantizers: no SIMD on this CPU/ISA cap, ref rules only\n");
    report(&e);
    (void)tested;
}

/* ================= 2./3. products against REF and a double reference ================= */
typedef struct { int bits, act_bits, group, zeros; } cfg;

/* quantize x as the kernels do (per row for W8A8, per block for int4), with the ref */
static void quant_x(const qw *q, int M, const float *x, int8_t *xq, float *sx)
{
    int K = q->w.K, G = K / q->w.group, blk = q->w.bits == 8 ? K : q->w.group, nb = q->w.bits == 8 ? 1 : G;
    for (int i = 0; i < M; i++)
        for (int b = 0; b < nb; b++)
            sk_q8_quant_ref(x + (size_t)i * K + (size_t)b * blk, blk, 0, (uint8_t *)xq + (size_t)i * K + (size_t)b * blk,
                            &sx[(size_t)i * nb + b], NULL);
}

/* double reference: y = Σ_k x̂_k·ŵ_k with x̂ = sx·xq (or x itself for weight-only) and ŵ = sw·(q − z);
 * nrm = Σ_k |x̂_k·ŵ_k| */
static void ref_double(const qw *q, int M, const float *x, const int8_t *xq, const float *sx, double *y, double *nrm)
{
    int N = q->w.N, K = q->w.K, group = q->w.group, G = K / group;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = 0, a = 0;
            for (int k = 0; k < K; k++) {
                int g = k / group;
                double xv;
                if (q->w.act_bits == 0) xv = x[(size_t)i * K + k];
                else xv = (double)xq[(size_t)i * K + k] * sx[q->w.bits == 8 ? (size_t)i : (size_t)i * G + g];
                double t = xv * q->sw[(size_t)j * G + g] * (q_at(q, j, k) - z_at(q, j, g));
                s += t;
                a += fabs(t);
            }
            y[(size_t)i * N + j] = s;
            nrm[(size_t)i * N + j] = a;
        }
}

static const char *cfg_name(const cfg *c, char *buf, size_t n)
{
    char g[16];
    if (c->group) snprintf(g, sizeof g, "g%d", c->group);
    else snprintf(g, sizeof g, "per-chan");
    snprintf(buf, n, "%s %s%s", c->bits == 8 ? (c->act_bits ? "W8A8" : "W8 w-only") : c->act_bits ? "W4A8" : "W4 w-only",
             g, c->zeros ? " zeros" : "");
    return buf;
}

static void test_exact(void)
{
    /* group 0 = per channel (group = K) */
    static const cfg cfgs[] = { { 8, 8, 0, 0 }, { 8, 8, 32, 0 }, { 8, 8, 64, 0 }, { 8, 8, 12, 0 }, { 8, 8, 6, 0 },
                                { 4, 8, 32, 0 }, { 4, 8, 64, 1 }, { 4, 8, 128, 0 }, { 4, 8, 0, 1 }, { 4, 8, 24, 1 } };
    static const int Ms[] = { 1, 2, 5, 17, 33, 128 }, Ns[] = { 1, 15, 16, 17, 33, 64, 100 };
    errstat e = { "integer exactness (mismatches)", 0, 0, 0 };
    sk_qisa is[3];
    int nis = isas(is);
    int used[4] = { 0 };
    for (int ci = 0; ci < (int)(sizeof cfgs / sizeof cfgs[0]); ci++) {
        for (int rep = 0; rep < 6; rep++) {
            cfg c = cfgs[ci];
            int M = Ms[(ci + rep) % 6], N = Ns[(ci * 3 + rep) % 7];
            int K = c.group ? c.group * (rep % 2 ? 3 : 1) : (c.bits == 8 ? 5 + 32 * rep + rep % 3 : 8 * (1 + rep * 5));
            int group = c.group ? c.group : K;
            qw q = qw_make(c.bits, 8, N, K, group, c.zeros, 1);
            int blk = c.bits == 8 ? K : group;
            float *x = malloc((size_t)M * K * sizeof(float)), *y = malloc((size_t)M * N * sizeof(float));
            for (int i = 0; i < M; i++)
                for (int b = 0; b < K / blk; b++) {
                    float *xb = x + (size_t)i * K + (size_t)b * blk;
                    for (int k = 0; k < blk; k++) xb[k] = (float)(irand(255) - 127);
                    xb[irand(blk)] = irand(2) ? 127.0f : -127.0f;   /* scale exactly 1 */
                }
            for (int s = 0; s < nis; s++) {
                sk_qisa u = run_isa(&q, is[s], M, x, NULL, SK_ACT_NONE, y);
                used[u]++;
                int bad = 0;
                for (int i = 0; i < M; i++)
                    for (int j = 0; j < N; j++) {
                        int64_t d = 0;
                        for (int k = 0; k < K; k++)
                            d += (int64_t)x[(size_t)i * K + k] * (q_at(&q, j, k) - z_at(&q, j, k / group));
                        if (y[(size_t)i * N + j] != (float)d) bad++;
                    }
                if (bad) {
                    char nm[64];
                    printf("  %s M=%d N=%d K=%d isa %s: %d of %d outputs differ from the integer product\n",
                           cfg_name(&c, nm, sizeof nm), M, N, K, sk_qisa_name(u), bad, M * N);
                }
                note(&e, bad, "exact");
            }
            free(x); free(y);
            qw_free(&q);
        }
    }
    report(&e);
    printf("  (kernels used: ref %d, avx2 %d, avx512vnni %d)\n", used[SK_QISA_REF], used[SK_QISA_AVX2],
           used[SK_QISA_AVX512]);
}

static void test_random(void)
{
    static const cfg cfgs[] = { { 8, 8, 0, 0 }, { 8, 8, 32, 0 }, { 8, 8, 128, 0 }, { 8, 8, 20, 0 }, { 4, 8, 32, 0 },
                                { 4, 8, 32, 1 }, { 4, 8, 64, 0 }, { 4, 8, 128, 1 }, { 4, 8, 0, 0 }, { 8, 0, 0, 0 },
                                { 8, 0, 32, 0 }, { 8, 0, 20, 0 }, { 4, 0, 32, 1 }, { 4, 0, 64, 0 } };
    static const int Ms[] = { 1, 3, 17, 33, 128, 4, 5 }, Ns[] = { 1, 17, 31, 48, 100, 130, 16 };
    errstat pc = { "W8A8 per channel simd vs ref", 0, 0, 0 };
    errstat gs = { "quantized simd vs ref", 0, 0, 1e-6 };
    errstat wo = { "weight-only simd vs ref", 0, 0, 1e-5 };
    errstat rd = { "ref vs double reference", 0, 0, 1e-5 };
    sk_qisa is[3];
    int nis = isas(is);
    for (int ci = 0; ci < (int)(sizeof cfgs / sizeof cfgs[0]); ci++) {
        for (int rep = 0; rep < 5; rep++) {
            cfg c = cfgs[ci];
            int M = Ms[(ci + rep) % 7], N = Ns[(ci * 2 + rep) % 7];
            int K = c.group ? c.group * (rep % 3 == 1 ? 1 : rep % 3 == 2 ? 3 : 8)
                            : (c.bits == 8 && rep % 2 ? 37 + 64 * rep : 8 * (3 + 20 * rep));
            int group = c.group ? c.group : K, G = K / group;
            qw q = qw_make(c.bits, c.act_bits, N, K, group, c.zeros, 0);
            float *x = malloc((size_t)M * K * sizeof(float)), *y0 = malloc((size_t)M * N * sizeof(float)),
                  *y = malloc((size_t)M * N * sizeof(float)), *sx = malloc((size_t)M * G * sizeof(float));
            int8_t *xq = malloc((size_t)M * K);
            double *yd = malloc((size_t)M * N * sizeof(double)), *nrm = malloc((size_t)M * N * sizeof(double));
            for (size_t i = 0; i < (size_t)M * K; i++) x[i] = nrand() * (1.0f + (float)(i % 7));
            if (c.act_bits) quant_x(&q, M, x, xq, sx);
            ref_double(&q, M, x, xq, sx, yd, nrm);
            CHECK(run_isa(&q, SK_QISA_REF, M, x, NULL, SK_ACT_NONE, y0) == SK_QISA_REF);
            double w = 0;
            for (size_t i = 0; i < (size_t)M * N; i++) w = fmax(w, fabs(y0[i] - yd[i]) / (nrm[i] + 1e-30));
            note(&rd, w, "ref/double");
            for (int s = 1; s < nis; s++) {
                sk_qisa u = run_isa(&q, is[s], M, x, NULL, SK_ACT_NONE, y);
                double worst = 0;
                for (size_t i = 0; i < (size_t)M * N; i++) {
                    double d = fabs((double)y[i] - y0[i]) / (nrm[i] + 1e-30);
                    if (!(d <= worst)) worst = d;
                }
                char nm[64];
                if (u == SK_QISA_REF) continue;   /* fell back: compared with itself */
                if (c.act_bits == 0) note(&wo, worst, cfg_name(&c, nm, sizeof nm));
                else if (c.bits == 8 && G == 1) note(&pc, worst, cfg_name(&c, nm, sizeof nm));
                else note(&gs, worst, cfg_name(&c, nm, sizeof nm));
            }
            free(x); free(y0); free(y); free(sx); free(xq); free(yd); free(nrm);
            qw_free(&q);
        }
    }
    /* large enough to be split across the pool: by rows (many rows; few tiles), by tiles (rows for fewer
     * than ROWS_MIN per thread), GEMV by tiles, weight-only chunks */
    static const struct { cfg c; int M, K, N; } big[] = {
        { { 8, 8, 0, 0 }, 130, 256, 300 }, { { 8, 8, 0, 0 }, 700, 520, 40 }, { { 4, 8, 32, 1 }, 600, 512, 50 },
        { { 8, 8, 0, 0 }, 40, 772, 300 }, { { 8, 8, 32, 0 }, 50, 640, 270 },
        { { 4, 8, 64, 0 }, 1, 4096, 1030 }, { { 8, 8, 32, 0 }, 1, 2048, 1100 }, { { 8, 0, 0, 0 }, 65, 384, 400 },
        { { 8, 0, 0, 0 }, 3, 2048, 1100 }, { { 4, 0, 32, 0 }, 40, 512, 500 },
    };
    errstat par = { "split across threads: simd vs ref", 0, 0, 1e-5 };
    for (int bi = 0; bi < (int)(sizeof big / sizeof big[0]); bi++) {
        cfg c = big[bi].c;
        int M = big[bi].M, K = big[bi].K, N = big[bi].N, group = c.group ? c.group : K, G = K / group;
        qw q = qw_make(c.bits, c.act_bits, N, K, group, c.zeros, 0);
        float *x = malloc((size_t)M * K * sizeof(float)), *y0 = malloc((size_t)M * N * sizeof(float)),
              *y = malloc((size_t)M * N * sizeof(float)), *sx = malloc((size_t)M * G * sizeof(float));
        int8_t *xq = malloc((size_t)M * K);
        double *yd = malloc((size_t)M * N * sizeof(double)), *nrm = malloc((size_t)M * N * sizeof(double));
        for (size_t i = 0; i < (size_t)M * K; i++) x[i] = nrand();
        if (c.act_bits) quant_x(&q, M, x, xq, sx);
        ref_double(&q, M, x, xq, sx, yd, nrm);
        run_isa(&q, SK_QISA_REF, M, x, NULL, SK_ACT_NONE, y0);
        double w = 0;
        for (size_t i = 0; i < (size_t)M * N; i++) w = fmax(w, fabs(y0[i] - yd[i]) / (nrm[i] + 1e-30));
        note(&rd, w, "ref/double (large)");
        for (int s = 1; s < nis; s++) {
            run_isa(&q, is[s], M, x, NULL, SK_ACT_NONE, y);
            double worst = 0;
            for (size_t i = 0; i < (size_t)M * N; i++) {
                double d = fabs((double)y[i] - y0[i]) / (nrm[i] + 1e-30);
                if (!(d <= worst)) worst = d;
            }
            char nm[64];
            note(&par, worst, cfg_name(&c, nm, sizeof nm));
        }
        free(x); free(y0); free(y); free(sx); free(xq); free(yd); free(nrm);
        qw_free(&q);
    }
    report(&pc);
    report(&gs);
    report(&wo);
    report(&par);
    report(&rd);
}

/* Bias and activation applied by each isa's epilogue (AVX-512: in the tile
 * while in registers) against REF's: per channel bit for bit (the same
 * float operations in the same order), otherwise within 1e-6 of Σ|terms| +
 * |b| + 1 (the activations' slopes are at most 1.13).  Odd shapes, both
 * ways of splitting (units of rows, each quantized by the thread that
 * claims it; tiles over rows quantized first), on one thread and, for the
 * last two shapes, across the pool. */
static void test_epilogue(void)
{
    static const cfg cfgs[] = { { 8, 8, 0, 0 }, { 8, 8, 32, 0 }, { 4, 8, 32, 1 }, { 4, 8, 64, 0 } };
    static const struct { int M, N, K; } shapes[] = {
        { 1, 1, 37 }, { 13, 17, 101 }, { 33, 48, 64 }, { 128, 100, 192 }, { 5, 33, 5 }, { 300, 70, 128 }, { 64, 300, 96 },
        { 128, 300, 256 }, { 40, 300, 772 },
    };
    static const sk_act acts[] = { SK_ACT_NONE, SK_ACT_RELU, SK_ACT_GELU, SK_ACT_GELU_TANH, SK_ACT_TANH, SK_ACT_SIGMOID };
    errstat pc = { "bias+act per channel simd vs ref", 0, 0, 0 };
    errstat gs = { "bias+act quantized simd vs ref", 0, 0, 1e-6 };
    sk_qisa is[3];
    int nis = isas(is);
    for (int ci = 0; ci < (int)(sizeof cfgs / sizeof cfgs[0]); ci++)
        for (int si = 0; si < (int)(sizeof shapes / sizeof shapes[0]); si++) {
            cfg c = cfgs[ci];
            int M = shapes[si].M, N = shapes[si].N, K = shapes[si].K;
            if (c.group) K = (K + c.group - 1) / c.group * c.group;
            else if (c.bits == 4) K = (K + 7) / 8 * 8;
            int group = c.group ? c.group : K, G = K / group;
            sk_act act = acts[(ci + si) % 6];
            bool bias = (ci + si) % 4 != 3;
            qw q = qw_make(c.bits, c.act_bits, N, K, group, c.zeros, 0);
            float *x = malloc((size_t)M * K * sizeof(float)), *b = malloc((size_t)N * sizeof(float)),
                  *y0 = malloc((size_t)M * N * sizeof(float)), *y = malloc((size_t)M * N * sizeof(float)),
                  *sx = malloc((size_t)M * G * sizeof(float));
            int8_t *xq = malloc((size_t)M * K);
            double *yd = malloc((size_t)M * N * sizeof(double)), *nrm = malloc((size_t)M * N * sizeof(double));
            for (size_t i = 0; i < (size_t)M * K; i++) x[i] = nrand() * 0.05f;
            for (int i = 0; i < N; i++) b[i] = frand();
            quant_x(&q, M, x, xq, sx);
            ref_double(&q, M, x, xq, sx, yd, nrm);
            run_isa(&q, SK_QISA_REF, M, x, bias ? b : NULL, act, y0);
            for (int s = 1; s < nis; s++) {
                if (run_isa(&q, is[s], M, x, bias ? b : NULL, act, y) == SK_QISA_REF) continue;
                double worst = 0;
                for (size_t i = 0; i < (size_t)M * N; i++) {
                    double d = fabs((double)y[i] - y0[i]) / (nrm[i] + fabs(bias ? b[i % N] : 0.0f) + 1);
                    if (!(d <= worst)) worst = d;
                }
                char cn[64], nm[128];
                snprintf(nm, sizeof nm, "%s M=%d N=%d K=%d act %d", cfg_name(&c, cn, sizeof cn), M, N, K, (int)act);
                note(c.bits == 8 && G == 1 ? &pc : &gs, worst, nm);
            }
            free(x); free(b); free(y0); free(y); free(sx); free(xq); free(yd); free(nrm);
            qw_free(&q);
        }
    report(&pc);
    report(&gs);
}

/* ================= 4. through LINEAR ================= */
typedef struct {
    sk_node node;
    sk_rtensor *in[5];
    int n_in;
    sk_rtensor out;
    void *state;
} lcall;

static void lcall_init(lcall *c, const char *name)
{
    memset(c, 0, sizeof *c);
    c->node.op = SK_OP_LINEAR;
    c->node.name = (char *)name;
}

static void lcall_free(lcall *c)
{
    for (int i = 0; i < c->node.n_attrs; i++) {
        sk_attr *a = &c->node.attrs[i];
        sk_free(a->name); sk_free(a->s); sk_free(a->ints); sk_free(a->floats);
    }
    sk_free(c->node.attrs);
    free(c->out.data);
    sk_free(c->state);
    memset(c, 0, sizeof *c);
}

static void kctx_of(lcall *c, sk_kctx *k, sk_rtensor **outs)
{
    outs[0] = &c->out;
    memset(k, 0, sizeof *k);
    k->node = &c->node;
    k->in = c->in;
    k->n_in = c->n_in;
    k->out = outs;
    k->n_out = 1;
    k->pool = pool;
    k->state = &c->state;
}

static sk_status lcall_run(lcall *c)
{
    sk_rtensor *outs[1];
    sk_kctx k;
    kctx_of(c, &k, outs);
    sk_status st = sk_shape_LINEAR(&k);
    if (st) return st;
    free(c->out.data);
    int64_t n = sk_rt_numel(&c->out);
    c->out.nbytes = (size_t)n * sizeof(float);
    c->out.data = malloc(c->out.nbytes ? c->out.nbytes : 1);
    for (int64_t i = 0; i < n; i++) ((float *)c->out.data)[i] = NAN;
    void *scratch = k.scratch_need ? sk_aligned_alloc(64, k.scratch_need) : NULL;
    k.scratch = scratch;
    st = sk_kern_LINEAR(&k);
    sk_free(scratch);
    return st;
}

/* Best time of reps kernel runs (shape function and buffers once, outside the clock), in ms. */
static double time_lcall(lcall *c, int reps)
{
    if (lcall_run(c)) return -1;
    sk_rtensor *outs[1];
    sk_kctx k;
    kctx_of(c, &k, outs);
    sk_shape_LINEAR(&k);
    void *scratch = k.scratch_need ? sk_aligned_alloc(64, k.scratch_need) : NULL;
    k.scratch = scratch;
    double best = 1e9;
    for (int i = 0; i < reps; i++) {
        double t = sk_now();
        sk_kern_LINEAR(&k);
        t = sk_now() - t;
        if (t < best) best = t;
    }
    sk_free(scratch);
    return best * 1e3;
}

static sk_rtensor rt(sk_dtype dt, int rank, const int64_t *dims, void *data, bool is_const)
{
    sk_rtensor t;
    memset(&t, 0, sizeof t);
    sk_rt_set_shape(&t, dt, rank, dims);
    t.data = data;
    sk_dtype_nbytes(dt, sk_rt_numel(&t), &t.nbytes);
    t.is_const = is_const;
    return t;
}

/* the quantized node's tensors for q: W, scales (rank 1 when per channel), zeros */
typedef struct { sk_rtensor W, S, Z; } qtensors;

static qtensors qt_of(const qw *q, int rank1_scales)
{
    qtensors t;
    int64_t dw[2] = { q->w.N, q->w.K }, ds[2] = { q->w.N, q->w.K / q->w.group };
    t.W = rt(q->w.bits == 8 ? SK_DT_I8 : SK_DT_Q4, 2, dw, q->wq, true);
    t.S = rt(SK_DT_F32, rank1_scales ? 1 : 2, ds, q->sw, true);
    t.Z = rt(SK_DT_U8, 2, ds, q->z, true);
    return t;
}

static void set_qattrs(lcall *c, const qw *q, const char *act)
{
    sk_node_set_i(&c->node, "bits", q->w.bits);
    sk_node_set_i(&c->node, "group", q->w.group);
    sk_node_set_i(&c->node, "act_bits", q->w.act_bits);
    sk_node_set_s(&c->node, "act", act);
}

static void test_linear(void)
{
    static const cfg cfgs[] = { { 8, 8, 0, 0 }, { 8, 8, 64, 0 }, { 4, 8, 32, 0 }, { 4, 8, 128, 1 }, { 8, 0, 0, 0 },
                                { 4, 0, 32, 1 } };
    static const char *acts[] = { "", "relu", "gelu", "gelu_tanh", "tanh" };
    errstat eb = { "LINEAR q vs f32 (err / bound)", 0, 0, 1.0 };
    errstat wo = { "LINEAR weight-only vs f32", 0, 0, 1e-5 };
    double rms_w8 = 0, rms_w4 = 0;
    for (int ci = 0; ci < (int)(sizeof cfgs / sizeof cfgs[0]); ci++) {
        for (int ai = 0; ai < 5; ai++) {
            cfg cf = cfgs[ci];
            int64_t B = 1 + ai % 2, S = ai == 0 ? 1 : ai == 1 ? 17 : ai == 2 ? 33 : 64;
            int N = ai == 3 ? 1 : 40 + 24 * ai, K = cf.group ? cf.group * (ai % 2 ? 3 : 4) : 96 + (cf.bits == 8) * 3 * ai;
            int group = cf.group ? cf.group : K, G = K / group, hasb = ai != 2;
            int64_t M = B * S;
            qw q = qw_make(cf.bits, cf.act_bits, N, K, group, cf.zeros, 0);
            /* dequantized W for the f32 LINEAR */
            float *wd = malloc((size_t)N * K * sizeof(float)), *bias = malloc((size_t)N * sizeof(float));
            for (int j = 0; j < N; j++)
                for (int k = 0; k < K; k++)
                    wd[(size_t)j * K + k] = q.sw[(size_t)j * G + k / group] * (float)(q_at(&q, j, k) - z_at(&q, j, k / group));
            for (int j = 0; j < N; j++) bias[j] = frand();
            float *x = malloc((size_t)M * K * sizeof(float));
            for (int64_t i = 0; i < M * K; i++) x[i] = nrand() * 2.0f;
            int64_t dx[3] = { B, S, K }, dwf[2] = { N, K }, db[1] = { N };
            sk_rtensor X = rt(SK_DT_F32, 3, dx, x, false), Wf = rt(SK_DT_F32, 2, dwf, wd, true),
                       Bb = rt(SK_DT_F32, 1, db, bias, true);
            qtensors t = qt_of(&q, G == 1 && ai % 2);

            lcall f, c;
            lcall_init(&f, "lin_f32");
            sk_node_set_s(&f.node, "act", acts[ai]);
            f.in[0] = &X; f.in[1] = &Wf; f.in[2] = hasb ? &Bb : NULL; f.n_in = 3;
            CHECK(lcall_run(&f) == SK_OK);
            lcall_init(&c, "lin_q");
            set_qattrs(&c, &q, acts[ai]);
            c.in[0] = &X; c.in[1] = &t.W; c.in[2] = hasb ? &Bb : NULL; c.in[3] = &t.S; c.in[4] = q.z ? &t.Z : NULL;
            c.n_in = q.z ? 5 : 4;
            sk_status st = lcall_run(&c);
            if (st) printf("  LINEAR %s: %s\n", cfg_name(&cf, (char[64]){ 0 }, 64), sk_errmsg());
            CHECK(st == SK_OK);
            CHECK(c.out.rank == 3 && c.out.dims[0] == B && c.out.dims[1] == S && c.out.dims[2] == N);
            const float *yq = c.out.data, *yf = f.out.data;
            double worst = 0, e2 = 0, r2 = 0;
            for (int64_t i = 0; i < M; i++) {
                /* half a quantization step of x, per element of the row (per block for int4) */
                float hs[1024];
                for (int g = 0; g < G; g++) {
                    int blk = cf.bits == 8 ? K : group, b0 = cf.bits == 8 ? 0 : g * group;
                    float am = 0;
                    for (int k = b0; k < b0 + blk; k++) am = fmaxf(am, fabsf(x[i * K + k]));
                    hs[g] = cf.act_bits ? am / 127.0f * 0.5f : 0.0f;
                }
                for (int j = 0; j < N; j++) {
                    double bound = 0, mag = 0;
                    for (int k = 0; k < K; k++) {
                        double wv = fabs(wd[(size_t)j * K + k]);
                        bound += hs[k / group] * wv;
                        mag += fabs(x[i * K + k]) * wv;
                    }
                    double d = fabs((double)yq[i * N + j] - yf[i * N + j]);
                    e2 += d * d;
                    r2 += (double)yf[i * N + j] * yf[i * N + j];
                    if (cf.act_bits) {
                        /* gelu's slope reaches 1.13; float rounding of both products on top */
                        double r = d / (1.13 * bound * (1 + 1e-3) + 1e-5 * mag + 1e-6);
                        if (!(r <= worst)) worst = r;
                    } else {
                        double r = d / (mag + 1e-6);
                        if (!(r <= worst)) worst = r;
                    }
                }
            }
            char nm[64];
            snprintf(nm, sizeof nm, "%s act '%s'", cfg_name(&cf, (char[64]){ 0 }, 64), acts[ai]);
            note(cf.act_bits ? &eb : &wo, worst, nm);
            double rel = sqrt(e2 / (r2 + 1e-30));
            if (cf.act_bits && cf.bits == 8) rms_w8 = fmax(rms_w8, rel);
            if (cf.act_bits && cf.bits == 4) rms_w4 = fmax(rms_w4, rel);
            /* the pack is kept: a second run gives the same bytes; moving the scales rebuilds it */
            void *p1 = c.state;
            float *y1 = malloc((size_t)M * N * sizeof(float));
            memcpy(y1, yq, (size_t)M * N * sizeof(float));
            CHECK(lcall_run(&c) == SK_OK && c.state == p1 && !memcmp(y1, c.out.data, (size_t)M * N * sizeof(float)));
            float *sw2 = malloc((size_t)N * G * sizeof(float));
            for (int i = 0; i < N * G; i++) sw2[i] = 2.0f * q.sw[i];
            t.S.data = sw2;
            CHECK(lcall_run(&c) == SK_OK);
            if (ai == 0 && !hasb) {
                for (int64_t i = 0; i < M * N; i++) CHECK(((float *)c.out.data)[i] == 2.0f * y1[i]);
            } else if (ai == 0) {
                int ok = 1;
                for (int64_t i = 0; i < M * N; i++) {
                    float b = bias[i % N];
                    double want = 2.0 * ((double)y1[i] - b) + b;
                    if (!(fabs(((float *)c.out.data)[i] - want) <= 1e-5 * (fabs(want) + fabs(b) + 1))) ok = 0;
                }
                CHECK(ok);
            }
            free(sw2); free(y1);
            lcall_free(&f); lcall_free(&c);
            free(wd); free(bias); free(x);
            qw_free(&q);
        }
    }
    report(&eb);
    report(&wo);
    printf("  relative RMS error vs f32 on the dequantized W (activation rounding): W8A8 %.3g, W4A8 %.3g\n", rms_w8,
           rms_w4);
}

static void test_errors(void)
{
    qw q = qw_make(8, 8, 8, 64, 32, 0, 0);
    float x[2 * 64] = { 0 };
    int64_t dx[2] = { 2, 64 };
    sk_rtensor X = rt(SK_DT_F32, 2, dx, x, false);
    qtensors t = qt_of(&q, 0);
    lcall c;
    struct { const char *what; sk_status want; } cases[] = {
        { "zeros with bits 8", SK_ERR_UNSUPPORTED }, { "group mismatch", SK_ERR_INVALID },
        { "wt = 0", SK_ERR_INVALID },                { "act_bits 4", SK_ERR_UNSUPPORTED },
        { "no scales", SK_ERR_INVALID },             { "bits 4 on i8", SK_ERR_INVALID },
        { "zero point 16", SK_ERR_INVALID },         { "f32 W with scales", SK_ERR_UNSUPPORTED },
        { "W shorter than its shape", SK_ERR_INVALID },
    };
    uint8_t z[8 * 2];
    memset(z, 3, sizeof z);
    qw q4 = qw_make(4, 8, 8, 64, 32, 1, 0);
    q4.z[5] = 16;
    qtensors t4 = qt_of(&q4, 0);
    float wf[8 * 64] = { 0 };
    int64_t dwf[2] = { 8, 64 };
    sk_rtensor Wf = rt(SK_DT_F32, 2, dwf, wf, true);
    for (int i = 0; i < (int)(sizeof cases / sizeof cases[0]); i++) {
        lcall_init(&c, "lin_bad");
        set_qattrs(&c, &q, "");
        c.in[0] = &X; c.in[1] = &t.W; c.in[2] = NULL; c.in[3] = &t.S; c.n_in = 4;
        sk_rtensor Z = rt(SK_DT_U8, 2, (int64_t[2]){ 8, 2 }, z, true);
        switch (i) {
        case 0: c.in[4] = &Z; c.n_in = 5; break;
        case 1: sk_node_set_i(&c.node, "group", 16); break;
        case 2: sk_node_set_i(&c.node, "wt", 0); break;
        case 3: sk_node_set_i(&c.node, "act_bits", 4); break;
        case 4: c.in[3] = NULL; c.n_in = 3; break;
        case 5: sk_node_set_i(&c.node, "bits", 4); break;
        case 6:
            set_qattrs(&c, &q4, "");
            c.in[1] = &t4.W; c.in[3] = &t4.S; c.in[4] = &t4.Z; c.n_in = 5;
            break;
        case 7: c.in[1] = &Wf; break;
        case 8: t.W.nbytes--; break;   /* a hostile .skm: the loader lets quantized sizes through */
        }
        sk_status st = lcall_run(&c);
        bool ok = st == cases[i].want && strstr(sk_errmsg(), "lin_bad");
        if (!ok) printf("  error case '%s': got status %d: %s\n", cases[i].what, st, sk_errmsg());
        else printf("  error (%s): %s\n", cases[i].what, sk_errmsg());
        CHECK(ok);
        lcall_free(&c);
        if (i == 8) t.W.nbytes++;
    }
    qw_free(&q);
    qw_free(&q4);
}

/* ================= timing (not checked) ================= */
static void bench(void)
{
    printf("time (not checked; best of N runs, %d threads, isa %s):\n", sk_pool_size(pool),
           sk_qisa_name(sk_qisa_best()));
    struct { int M, K, N, bits, group, act_bits; int reps; } b[] = {
        { 128, 768, 3072, 8, 0, 8, 50 }, { 128, 3072, 768, 8, 0, 8, 50 }, { 128, 768, 3072, 8, 32, 8, 30 },
        { 128, 768, 3072, 4, 32, 8, 30 }, { 1, 768, 3072, 8, 0, 8, 300 }, { 1, 768, 3072, 4, 32, 8, 300 },
        { 1, 768, 3072, 4, 128, 8, 300 }, { 1, 3072, 768, 4, 32, 8, 300 }, { 1, 768, 50257, 4, 32, 8, 40 },
        { 1, 768, 50257, 4, 128, 8, 40 }, { 1, 768, 50257, 8, 0, 8, 40 }, { 1, 768, 50257, 8, 0, 0, 40 },
    };
    double tf_prev = 0;
    int pM = 0, pK = 0, pN = 0;
    for (int i = 0; i < (int)(sizeof b / sizeof b[0]); i++) {
        int M = b[i].M, K = b[i].K, N = b[i].N, group = b[i].group ? b[i].group : K;
        qw q = qw_make(b[i].bits, b[i].act_bits, N, K, group, 0, 2);
        float *x = malloc((size_t)M * K * sizeof(float)), *bias = malloc((size_t)N * sizeof(float));
        for (size_t j = 0; j < (size_t)M * K; j++) x[j] = nrand();
        for (int j = 0; j < N; j++) bias[j] = frand();
        int64_t dx[2] = { M, K }, dw[2] = { N, K }, db[1] = { N };
        sk_rtensor X = rt(SK_DT_F32, 2, dx, x, false), Bb = rt(SK_DT_F32, 1, db, bias, true);
        double tf = tf_prev;
        if (M != pM || K != pK || N != pN) {
            float *wf = malloc((size_t)N * K * sizeof(float));
            for (size_t j = 0; j < (size_t)N * K; j++) wf[j] = (float)(int)(j * 2654435761u >> 22) * 1e-4f - 0.05f;
            sk_rtensor Wf = rt(SK_DT_F32, 2, dw, wf, true);
            lcall f;
            lcall_init(&f, "f32");
            f.in[0] = &X; f.in[1] = &Wf; f.in[2] = &Bb; f.n_in = 3;
            tf = time_lcall(&f, b[i].reps);
            lcall_free(&f);
            free(wf);
            printf("  LINEAR [%d,%d]x[%d,%d]^T +bias  f32 %8.3f ms\n", M, K, N, K, tf);
            tf_prev = tf; pM = M; pK = K; pN = N;
        }
        qtensors t = qt_of(&q, 0);
        lcall c;
        lcall_init(&c, "q");
        set_qattrs(&c, &q, "");
        c.in[0] = &X; c.in[1] = &t.W; c.in[2] = &Bb; c.in[3] = &t.S; c.n_in = 4;
        double tq = time_lcall(&c, b[i].reps);
        char nm[64];
        cfg cf = { b[i].bits, b[i].act_bits, b[i].group, 0 };
        printf("  LINEAR [%d,%d]x[%d,%d]^T +bias  %-18s %8.3f ms  (%.2fx f32)\n", M, K, N, K,
               cfg_name(&cf, nm, sizeof nm), tq, tf / tq);
        lcall_free(&c);
        free(x); free(bias);
        qw_free(&q);
    }
}

/* The linears of a whole model step, run in sequence so that the weights
 * cycle through memory as in real use (GPT-2's 62 MB at int4 do not fit the
 * L3; one layer does): BERT-base at 128 tokens, GPT-2 small decoding one
 * token (12 layers of qkv, proj, fc, fc2, then the 50257-row LM head). */
typedef struct { int K, N; } lshape;

static double model_step(const lshape *ls, int nl, int layers, int M, int bits, int group, int act_bits, int reps)
{
    int n = nl * layers + (ls[nl].N ? 1 : 0);
    lcall *c = calloc((size_t)n, sizeof *c);
    qw *q = calloc((size_t)n, sizeof *q);
    qtensors *t = calloc((size_t)n, sizeof *t);
    float **wf = calloc((size_t)n, sizeof *wf), **bias = calloc((size_t)n, sizeof *bias);
    sk_rtensor *W = calloc((size_t)n, sizeof *W), *Bb = calloc((size_t)n, sizeof *Bb), *X = calloc((size_t)n, sizeof *X);
    float *x = malloc((size_t)M * 3072 * sizeof(float));
    for (int i = 0; i < M * 3072; i++) x[i] = nrand();
    for (int i = 0; i < n; i++) {
        lshape sh = i < nl * layers ? ls[i % nl] : ls[nl];
        int64_t dx[2] = { M, sh.K }, dw[2] = { sh.N, sh.K }, db[1] = { sh.N };
        X[i] = rt(SK_DT_F32, 2, dx, x, false);
        bias[i] = malloc((size_t)sh.N * sizeof(float));
        for (int j = 0; j < sh.N; j++) bias[i][j] = frand();
        Bb[i] = rt(SK_DT_F32, 1, db, bias[i], true);
        lcall_init(&c[i], "l");
        c[i].in[0] = &X[i]; c[i].in[2] = &Bb[i];
        if (bits) {
            q[i] = qw_make(bits, act_bits, sh.N, sh.K, group ? group : sh.K, 0, 2);
            t[i] = qt_of(&q[i], 0);
            set_qattrs(&c[i], &q[i], "");
            c[i].in[1] = &t[i].W; c[i].in[3] = &t[i].S; c[i].n_in = 4;
        } else {
            wf[i] = malloc((size_t)sh.N * sh.K * sizeof(float));
            for (size_t j = 0; j < (size_t)sh.N * sh.K; j++) wf[i][j] = (float)(int)(j * 2654435761u >> 22) * 1e-4f - 0.05f;
            W[i] = rt(SK_DT_F32, 2, dw, wf[i], true);
            c[i].in[1] = &W[i]; c[i].n_in = 3;
        }
        lcall_run(&c[i]);   /* packs the weights, allocates the output */
    }
    size_t need = 0;
    sk_kctx k;
    sk_rtensor *outs[1];
    for (int i = 0; i < n; i++) {
        kctx_of(&c[i], &k, outs);
        sk_shape_LINEAR(&k);
        if (k.scratch_need > need) need = k.scratch_need;
    }
    void *scratch = sk_aligned_alloc(64, need + 64);
    double best = 1e9;
    for (int r = 0; r < reps; r++) {
        double t0 = sk_now();
        for (int i = 0; i < n; i++) {
            kctx_of(&c[i], &k, outs);
            k.scratch = scratch;
            k.scratch_need = need;
            sk_kern_LINEAR(&k);
        }
        t0 = sk_now() - t0;
        if (t0 < best) best = t0;
    }
    sk_free(scratch);
    for (int i = 0; i < n; i++) {
        lcall_free(&c[i]);
        if (bits) qw_free(&q[i]);
        free(wf[i]); free(bias[i]);
    }
    free(c); free(q); free(t); free(wf); free(bias); free(W); free(Bb); free(X); free(x);
    return best * 1e3;
}

static void bench_models(void)
{
    static const lshape layer[5] = { { 768, 2304 }, { 768, 768 }, { 768, 3072 }, { 3072, 768 }, { 0, 0 } };
    static const lshape gpt2[5] = { { 768, 2304 }, { 768, 768 }, { 768, 3072 }, { 3072, 768 }, { 768, 50257 } };
    double f = model_step(layer, 4, 12, 128, 0, 0, 0, 5);
    double q8 = model_step(layer, 4, 12, 128, 8, 0, 8, 5);
    printf("  BERT-base linears, 128 tokens:      f32 %7.2f ms   W8A8 per-chan %7.2f ms  (%.2fx of f32 time)\n", f, q8,
           q8 / f);
    f = model_step(gpt2, 4, 12, 1, 0, 0, 0, 8);
    printf("  GPT-2 linears, one decoding token:  f32 %7.2f ms\n", f);
    static const struct { int bits, group, act_bits; } qs[] = { { 4, 32, 8 }, { 4, 128, 8 }, { 8, 0, 8 }, { 8, 0, 0 } };
    for (int i = 0; i < 4; i++) {
        double tq = model_step(gpt2, 4, 12, 1, qs[i].bits, qs[i].group, qs[i].act_bits, 8);
        char nm[64];
        cfg cf = { qs[i].bits, qs[i].act_bits, qs[i].group, 0 };
        printf("  GPT-2 linears, one decoding token:  %-18s %7.2f ms  (%.2fx f32 tokens/s)\n", cfg_name(&cf, nm, sizeof nm),
               tq, f / tq);
    }
}

int main(int argc, char **argv)
{
    (void)argc;
    const char *isa = getenv("SHRINK_ISA");
    openblas_set_num_threads(1);   /* as a session does: the pool owns the threads */
    printf("qmatmul: kernels %s\n", sk_qisa_name(sk_qisa_best()));
    pool = sk_pool_new(2);
    test_quant();
    test_exact();
    test_random();
    test_epilogue();
    test_linear();
    test_errors();
#if defined(__SANITIZE_ADDRESS__)
    const bool sanitized = true;
#else
    const bool sanitized = false;
#endif
    if (sanitized) {
        printf("time: skipped in the sanitizer build\n");
    } else if (!isa && !getenv("SHRINK_NO_BENCH")) {
        bench();
        bench_models();
    }
    sk_pool_free(pool);
    printf("%d checks, %d failed\n", checks, fails);
    if (!isa) {   /* the same checks with the dispatch capped */
        static const char *caps[] = { "avx2", "scalar" };
        const sk_cpu *cpu = sk_cpu_get();
        for (int i = 0; i < 2; i++) {
            if (!strcmp(caps[i], "avx2") && !cpu->avx2) continue;
            char cmd[4200];
            snprintf(cmd, sizeof cmd, "SHRINK_ISA=%s '%s'", caps[i], argv[0]);
            printf("---- re-running with SHRINK_ISA=%s\n", caps[i]);
            fflush(stdout);
            int rc = system(cmd);
            if (rc != 0) { printf("FAIL: SHRINK_ISA=%s run failed\n", caps[i]); fails++; }
        }
    }
    return fails ? 1 : 0;
}
