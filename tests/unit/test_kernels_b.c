/* test_kernels_b.c — the dense fp32 kernels (matmul.c, norm.c, attention.c,
 * activation.c, conv.c, rnn.c, f32.c) against naive references written here.
 *
 * Each op is called the way the session calls it: a hand-built node with
 * attributes, sk_rtensors, a kctx with a 2-thread pool; the shape function
 * runs first, then the kernel with the scratch it asked for.  References are
 * textbook loops in double (triple-loop matmul, direct convolution, the ONNX
 * LSTM/GRU/RNN equations, per-head attention with Hugging Face's masking).
 * Shapes include odd sizes (1, 3, 17, 65).  Prints the worst error per op,
 * measured as |got − ref| / max(1, |ref|).  The KV cache is checked by
 * equivalence: S tokens at once, one at a time and in uneven chunks must all
 * give the non-cached causal result.
 *
 * After its own run (whatever ISA the CPU has) the program re-runs itself
 * with SHRINK_ISA=avx2 and SHRINK_ISA=scalar, so every SIMD path and the
 * scalar references are exercised against the same naive loops.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "runtime/kernels/f32.h"

static int fails, checks;
#define CHECK(c) do { checks++; if (!(c)) { printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #c); fails++; } } while (0)

static sk_pool *pool;

/* ---- random numbers (xorshift, fixed seed) ---- */
static uint64_t rng = 88172645463325252ull;
static float frand(void)   /* uniform in [-1, 1) */
{
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return (float)((double)(rng >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}
static int irand(int n) { return (int)((frand() + 1.0f) * 0.5f * (float)n) % n; }

static float *fbuf(int64_t n, float scale)
{
    float *p = malloc((n > 0 ? (size_t)n : 1) * sizeof(float));
    for (int64_t i = 0; i < n; i++) p[i] = frand() * scale;
    return p;
}

/* ---- error bookkeeping: worst |got − ref| / max(1, |ref|) per op ---- */
typedef struct { const char *name; double worst; int cases; double tol; } errstat;

static double cmp(errstat *e, const float *got, const double *ref, int64_t n)
{
    double w = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - ref[i]) / fmax(1.0, fabs(ref[i]));
        if (!(d <= w)) w = d;   /* NaN counts as the worst */
    }
    if (w > e->worst || isnan(w)) e->worst = w;
    e->cases++;
    if (!(w <= e->tol)) printf("  %s case %d: error %.3g > %.3g\n", e->name, e->cases, w, e->tol);
    CHECK(w <= e->tol);
    return w;
}

static void report(const errstat *e)
{
    printf("%-16s %3d cases  worst error %.3g  (tolerance %.0e)\n", e->name, e->cases, e->worst, e->tol);
}

/* ---- calling an op like the session does ---- */
typedef struct {
    sk_node node;
    sk_rtensor *in[8];
    int n_in;
    sk_rtensor out[3];
    bool want[3];            /* which outputs exist (default: output 0) */
    int n_out;
    bool kv_cache;
    int64_t past, max_pos;
    void *state;
    sk_pool *pool;
} op_call;

static void call_init(op_call *c, sk_op op, const char *name)
{
    memset(c, 0, sizeof *c);
    c->node.op = op;
    c->node.name = (char *)name;
    c->n_out = 1;
    c->want[0] = true;
    c->pool = pool;
}

static void call_free(op_call *c)
{
    for (int i = 0; i < c->node.n_attrs; i++) {
        sk_attr *a = &c->node.attrs[i];
        sk_free(a->name); sk_free(a->s); sk_free(a->ints); sk_free(a->floats);
    }
    sk_free(c->node.attrs);
    for (int o = 0; o < 3; o++) free(c->out[o].data);
    sk_free(c->state);
    memset(c, 0, sizeof *c);
}

static void kctx_of(op_call *c, sk_kctx *k, sk_rtensor **outs)
{
    for (int o = 0; o < c->n_out; o++) outs[o] = c->want[o] ? &c->out[o] : NULL;
    memset(k, 0, sizeof *k);
    k->node = &c->node;
    k->in = c->in;
    k->n_in = c->n_in;
    k->out = outs;
    k->n_out = c->n_out;
    k->pool = c->pool;
    k->state = &c->state;
    k->kv_cache = c->kv_cache;
    k->past = c->past;
    k->max_pos = c->max_pos;
}

static sk_status call_run(op_call *c)
{
    sk_rtensor *outs[3];
    sk_kctx k;
    kctx_of(c, &k, outs);
    sk_status st = sk_shape_table[c->node.op](&k);
    if (st) return st;
    for (int o = 0; o < c->n_out; o++) {
        if (!outs[o]) continue;
        free(outs[o]->data);
        int64_t n = sk_rt_numel(outs[o]);
        outs[o]->nbytes = (size_t)n * sizeof(float);
        outs[o]->data = malloc(outs[o]->nbytes ? outs[o]->nbytes : 1);
        for (int64_t i = 0; i < n; i++) ((float *)outs[o]->data)[i] = NAN;   /* every output must be written */
    }
    void *scratch = k.scratch_need ? sk_aligned_alloc(64, k.scratch_need) : NULL;
    k.scratch = scratch;
    st = sk_kern_table[c->node.op](&k);
    sk_free(scratch);
    return st;
}

/* Best time of reps kernel runs (shape function and buffers once, outside the clock), in ms. */
static double time_kernel(op_call *c, int reps)
{
    if (call_run(c)) return -1;
    sk_rtensor *outs[3];
    sk_kctx k;
    kctx_of(c, &k, outs);
    sk_shape_table[c->node.op](&k);
    void *scratch = k.scratch_need ? sk_aligned_alloc(64, k.scratch_need) : NULL;
    k.scratch = scratch;
    double best = 1e9;
    for (int i = 0; i < reps; i++) {
        double t = sk_now();
        sk_kern_table[c->node.op](&k);
        t = sk_now() - t;
        if (t < best) best = t;
    }
    sk_free(scratch);
    return best * 1e3;
}

static sk_rtensor rt(sk_dtype dt, int rank, const int64_t *dims, void *data)
{
    sk_rtensor t;
    memset(&t, 0, sizeof t);
    sk_rt_set_shape(&t, dt, rank, dims);
    t.data = data;
    t.nbytes = (size_t)sk_rt_numel(&t) * sk_dtype_info(dt)->block_bytes;
    return t;
}

static const float *out0(const op_call *c) { return c->out[0].data; }

/* ---- naive references ---- */
static double act_naive(double x, sk_act a)
{
    switch (a) {
    case SK_ACT_NONE: return x;
    case SK_ACT_RELU: return x > 0 ? x : 0;
    case SK_ACT_GELU: return 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
    case SK_ACT_GELU_TANH: return 0.5 * x * (1.0 + tanh(sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
    case SK_ACT_TANH: return tanh(x);
    case SK_ACT_SIGMOID: return 1.0 / (1.0 + exp(-x));
    }
    return x;
}

/* c[M,N] = a[M,K]·b[K,N] with strides */
static void mm_naive(double *c, const float *a, const float *b, int64_t M, int64_t N, int64_t K, int64_t ars,
                     int64_t acs, int64_t brs, int64_t bcs)
{
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            double s = 0;
            for (int64_t p = 0; p < K; p++) s += (double)a[i * ars + p * acs] * b[p * brs + j * bcs];
            c[i * N + j] = s;
        }
}

static double *dbuf(int64_t n) { return calloc(n > 0 ? (size_t)n : 1, sizeof(double)); }

/* ================= sgemm_small ================= */
static void test_sgemm_small(void)
{
    errstat e = { "sgemm_small", 0, 0, 1e-5 }, et = { "sgemm_small_bt", 0, 0, 1e-5 };
    static const int sz[] = { 1, 3, 16, 17, 33, 64, 65 };
    for (int a = 0; a < 7; a++)
        for (int b = 0; b < 7; b++)
            for (int c = 0; c < 7; c += 2) {
                int M = sz[a], N = sz[b], K = sz[c], lda = K + 3, ldb = N + 5, ldc = N + 1;
                float *A = fbuf(M * lda, 1), *B = fbuf(K * ldb, 1), *C = fbuf(M * ldc, 1);
                double *R = dbuf(M * N);
                sk_sgemm_small(M, N, K, A, lda, B, ldb, C, ldc);
                mm_naive(R, A, B, M, N, K, lda, 1, ldb, 1);
                float *Cp = malloc((size_t)(M * N) * sizeof(float));
                for (int i = 0; i < M; i++) memcpy(Cp + i * N, C + i * ldc, (size_t)N * sizeof(float));
                cmp(&e, Cp, R, M * N);
                /* C = 0.5·A·Bᵀ with B [N, K] (ldb ≥ K) */
                float *Bt = fbuf(N * (K + 2), 1);
                sk_sgemm_small_bt(M, N, K, 0.5f, A, lda, Bt, K + 2, C, ldc);
                mm_naive(R, A, Bt, M, N, K, lda, 1, 1, K + 2);
                for (int i = 0; i < M * N; i++) R[i] *= 0.5;
                for (int i = 0; i < M; i++) memcpy(Cp + i * N, C + i * ldc, (size_t)N * sizeof(float));
                cmp(&et, Cp, R, M * N);
                free(A); free(B); free(Bt); free(C); free(R); free(Cp);
            }
    report(&e);
    report(&et);
}

/* ================= MatMul ================= */
static void matmul_case(errstat *e, int ra, const int64_t *da, int rb, const int64_t *db)
{
    op_call c;
    call_init(&c, SK_OP_MATMUL, "mm");
    sk_rtensor A = rt(SK_DT_F32, ra, da, NULL), B = rt(SK_DT_F32, rb, db, NULL);
    A.data = fbuf(sk_rt_numel(&A), 1);
    B.data = fbuf(sk_rt_numel(&B), 1);
    c.in[0] = &A; c.in[1] = &B; c.n_in = 2;
    sk_status st = call_run(&c);
    CHECK(st == SK_OK);
    if (st) { printf("  %s\n", sk_errmsg()); goto out; }
    /* numpy semantics, by hand: promote vectors, broadcast batch dims */
    int64_t M = ra >= 2 ? da[ra - 2] : 1, K = da[ra - 1], N = rb >= 2 ? db[rb - 1] : 1;
    int nba = ra > 2 ? ra - 2 : 0, nbb = rb > 2 ? rb - 2 : 0, nbo = nba > nbb ? nba : nbb;
    int64_t bo[8], nb = 1;
    for (int i = 0; i < nbo; i++) {
        int ia = i - (nbo - nba), ib = i - (nbo - nbb);
        int64_t x = ia >= 0 ? da[ia] : 1, y = ib >= 0 ? db[ib] : 1;
        bo[i] = x > y ? x : y;
        nb *= bo[i];
    }
    const sk_rtensor *Y = &c.out[0];
    CHECK(Y->rank == nbo + (ra >= 2) + (rb >= 2));
    CHECK(sk_rt_numel(Y) == nb * M * N);
    double *R = dbuf(nb * M * N);
    for (int64_t t = 0; t < nb; t++) {
        int64_t rem = t, oa = 0, ob = 0, sa = 1, sb = 1;
        for (int i = nbo - 1; i >= 0; i--) {
            int64_t idx = rem % bo[i];
            rem /= bo[i];
            int ia = i - (nbo - nba), ib = i - (nbo - nbb);
            int64_t x = ia >= 0 ? da[ia] : 1, y = ib >= 0 ? db[ib] : 1;
            if (x != 1) oa += idx * sa;
            if (y != 1) ob += idx * sb;
            sa *= x;
            sb *= y;
        }
        mm_naive(R + t * M * N, (float *)A.data + oa * M * K, (float *)B.data + ob * K * N, M, N, K, K, 1, N, 1);
    }
    cmp(e, out0(&c), R, nb * M * N);
    free(R);
out:
    free(A.data); free(B.data);
    call_free(&c);
}

static void test_matmul(void)
{
    errstat e = { "MatMul", 0, 0, 1e-4 };
    static const int64_t sz[] = { 1, 3, 17, 65 };
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            for (int l = 0; l < 4; l += 3) {
                int64_t a[2] = { sz[i], sz[l] }, b[2] = { sz[l], sz[j] };
                matmul_case(&e, 2, a, 2, b);
            }
    { int64_t a[3] = { 3, 17, 65 }, b[3] = { 3, 65, 5 }; matmul_case(&e, 3, a, 3, b); }
    { int64_t a[2] = { 17, 9 }, b[3] = { 4, 9, 3 }; matmul_case(&e, 2, a, 3, b); }         /* A broadcast */
    { int64_t a[4] = { 2, 1, 5, 7 }, b[3] = { 3, 7, 4 }; matmul_case(&e, 4, a, 3, b); }    /* both broadcast */
    { int64_t a[4] = { 2, 3, 5, 7 }, b[2] = { 7, 4 }; matmul_case(&e, 4, a, 2, b); }       /* B shared */
    { int64_t a[1] = { 9 }, b[2] = { 9, 4 }; matmul_case(&e, 1, a, 2, b); }                /* vector · matrix */
    { int64_t a[3] = { 2, 5, 9 }, b[1] = { 9 }; matmul_case(&e, 3, a, 1, b); }             /* matrix · vector */
    { int64_t a[1] = { 9 }, b[1] = { 9 }; matmul_case(&e, 1, a, 1, b); }                   /* dot */
    { int64_t a[4] = { 1, 12, 33, 64 }, b[4] = { 1, 12, 64, 33 }; matmul_case(&e, 4, a, 4, b); }   /* heads, pooled */
    { int64_t a[3] = { 2, 300, 260 }, b[3] = { 2, 260, 270 }; matmul_case(&e, 3, a, 3, b); }       /* large: cblas loop */
    report(&e);
    /* errors name the node */
    op_call c;
    call_init(&c, SK_OP_MATMUL, "bad_mm");
    int64_t a[2] = { 3, 4 }, b[2] = { 5, 6 };
    sk_rtensor A = rt(SK_DT_F32, 2, a, NULL), B = rt(SK_DT_F32, 2, b, NULL);
    c.in[0] = &A; c.in[1] = &B; c.n_in = 2;
    CHECK(call_run(&c) == SK_ERR_INVALID && strstr(sk_errmsg(), "bad_mm") && strstr(sk_errmsg(), "MatMul"));
    printf("  error: %s\n", sk_errmsg());
    sk_rtensor Ai = rt(SK_DT_I64, 2, a, NULL);
    c.in[0] = &Ai;
    CHECK(call_run(&c) == SK_ERR_UNSUPPORTED && strstr(sk_errmsg(), "bad_mm"));
    call_free(&c);
}

/* ================= Gemm ================= */
static void test_gemm(void)
{
    errstat e = { "Gemm", 0, 0, 1e-4 };
    static const int64_t sz[] = { 1, 3, 17, 65 };
    for (int cse = 0; cse < 48; cse++) {
        int64_t M = sz[irand(4)], N = sz[irand(4)], K = sz[irand(4)];
        int ta = cse & 1, tb = (cse >> 1) & 1, ckind = (cse >> 2) % 6;   /* 0 none, scalar, [N], [M,1], [M,N], [1,N] */
        float alpha = cse % 3 ? 0.5f : 1.0f, beta = cse % 5 ? 2.0f : 1.0f;
        op_call c;
        call_init(&c, SK_OP_GEMM, "gemm");
        sk_node_set_i(&c.node, "transA", ta);
        sk_node_set_i(&c.node, "transB", tb);
        sk_node_set_f(&c.node, "alpha", alpha);
        sk_node_set_f(&c.node, "beta", beta);
        int64_t da[2] = { ta ? K : M, ta ? M : K }, db[2] = { tb ? N : K, tb ? K : N };
        int64_t dc[2] = { 0, 0 };
        int rc = 0;
        switch (ckind) {
        case 1: rc = 0; break;
        case 2: rc = 1; dc[0] = N; break;
        case 3: rc = 2; dc[0] = M; dc[1] = 1; break;
        case 4: rc = 2; dc[0] = M; dc[1] = N; break;
        case 5: rc = 2; dc[0] = 1; dc[1] = N; break;
        }
        sk_rtensor A = rt(SK_DT_F32, 2, da, fbuf(M * K, 1)), B = rt(SK_DT_F32, 2, db, fbuf(K * N, 1));
        sk_rtensor C = rt(SK_DT_F32, rc, dc, NULL);
        C.data = fbuf(sk_rt_numel(&C), 1);
        c.in[0] = &A; c.in[1] = &B; c.in[2] = ckind ? &C : NULL; c.n_in = 3;
        CHECK(call_run(&c) == SK_OK);
        double *R = dbuf(M * N);
        mm_naive(R, A.data, B.data, M, N, K, ta ? 1 : K, ta ? M : 1, tb ? 1 : N, tb ? K : 1);
        const float *cd = C.data;
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) {
                double cv = 0;
                if (ckind == 1) cv = cd[0];
                if (ckind == 2 || ckind == 5) cv = cd[j];
                if (ckind == 3) cv = cd[i];
                if (ckind == 4) cv = cd[i * N + j];
                R[i * N + j] = alpha * R[i * N + j] + beta * cv;
            }
        cmp(&e, out0(&c), R, M * N);
        free(R); free(A.data); free(B.data); free(C.data);
        call_free(&c);
    }
    report(&e);
}

/* ================= LINEAR ================= */
/* sk_pgemm (AVX-512 nr 32, AVX2 nr 16, whichever the CPU runs) against
 * sk_pgemm_ref on the same packing, and the packing against W itself: M
 * across the row tiles (12 and 6), N across panel tails, K across blocks. */
static void test_pgemm(void)
{
    errstat e = { "pgemm", 0, 0, 5e-5 };   /* float sums of up to 600 terms vs double */
    const sk_cpu *cpu = sk_cpu_get();
    static const int64_t Ms[] = { 1, 5, 6, 12, 13, 31 }, Ns[] = { 1, 15, 16, 32, 33, 100 }, Ks[] = { 1, 7, 256, 600 };
    int nrs[2], n_nr = 0;
    if (cpu->avx512f) nrs[n_nr++] = 32;
    if (cpu->avx2 && cpu->fma) nrs[n_nr++] = 16;
    if (!n_nr) CHECK(sk_packw_new(NULL, 4, 4, true) == NULL);   /* no SIMD: LINEAR stays with BLAS */
    for (int cse = 0; cse < 48 && n_nr; cse++) {
        int64_t M = Ms[cse % 6], N = Ns[irand(6)], K = Ks[irand(4)];
        bool wt = cse & 1, hasb = cse & 2;
        float *x = fbuf(M * K, 1), *w = fbuf(N * K, 1), *b = fbuf(N, 1);
        float *y = malloc((size_t)(M * N) * sizeof *y), *yr = malloc((size_t)(M * N) * sizeof *yr);
        double *R = dbuf(M * N);
        mm_naive(R, x, w, M, N, K, K, 1, wt ? 1 : N, wt ? K : 1);
        for (int64_t i = 0; i < M * N; i++) R[i] += hasb ? b[i % N] : 0.0;
        for (int i = 0; i < n_nr; i++) {
            /* nr 16 runs the AVX2 kernel even on an AVX-512 CPU */
            sk_packw *p = sk_packw_new_nr(w, N, K, wt, nrs[i]);
            CHECK(p != NULL);
            if (!p) continue;
            sk_pgemm_ref(p, x, M, hasb ? b : NULL, yr);
            cmp(&e, yr, R, M * N);
            for (int t = 0; t < 2; t++) {
                sk_pgemm(p, x, M, hasb ? b : NULL, SK_ACT_NONE, y, t ? pool : NULL);
                cmp(&e, y, R, M * N);
            }
            sk_free(p);
        }
        free(x); free(w); free(b); free(y); free(yr); free(R);
    }
    report(&e);
}

static void test_linear(void)
{
    errstat e = { "LINEAR", 0, 0, 1e-4 };
    static const char *acts[] = { "", "relu", "gelu", "gelu_tanh", "tanh" };
    static const int64_t sz[] = { 1, 3, 13, 17, 33, 65, 300 };   /* 300 > the packed kernel's K block */
    for (int cse = 0; cse < 60; cse++) {
        int64_t Bt = 1 + irand(2), S = sz[irand(6)], K = sz[irand(7)], N = sz[irand(7)];
        int wt = cse & 1, hasb = (cse >> 1) & 1;
        sk_act act;
        sk_act_parse(acts[cse % 5], &act);
        op_call c;
        call_init(&c, SK_OP_LINEAR, "lin");
        sk_node_set_i(&c.node, "wt", wt);
        sk_node_set_s(&c.node, "act", acts[cse % 5]);
        int64_t dx[3] = { Bt, S, K }, dw[2] = { wt ? N : K, wt ? K : N }, db[1] = { N };
        sk_rtensor X = rt(SK_DT_F32, 3, dx, fbuf(Bt * S * K, 2)), W = rt(SK_DT_F32, 2, dw, fbuf(K * N, 1)),
                   Bb = rt(SK_DT_F32, 1, db, fbuf(N, 1));
        W.is_const = (cse >> 2) & 1;   /* a constant W is packed once (pgemm.c), else BLAS */
        c.in[0] = &X; c.in[1] = &W; c.in[2] = hasb ? &Bb : NULL; c.n_in = 3;
        CHECK(call_run(&c) == SK_OK);
        if (W.is_const) CHECK(call_run(&c) == SK_OK);   /* the second run uses the packing kept in state */
        CHECK(c.out[0].rank == 3 && c.out[0].dims[2] == N);
        int64_t M = Bt * S;
        double *R = dbuf(M * N);
        mm_naive(R, X.data, W.data, M, N, K, K, 1, wt ? 1 : N, wt ? K : 1);
        for (int64_t i = 0; i < M * N; i++)
            R[i] = act_naive(R[i] + (hasb ? ((float *)Bb.data)[i % N] : 0.0), act);
        cmp(&e, out0(&c), R, M * N);
        free(R); free(X.data); free(W.data); free(Bb.data);
        call_free(&c);
    }
    report(&e);
    op_call c;
    call_init(&c, SK_OP_LINEAR, "lin_bad");
    sk_node_set_s(&c.node, "act", "swish");
    int64_t dx[2] = { 2, 3 }, dw[2] = { 4, 3 };
    sk_rtensor X = rt(SK_DT_F32, 2, dx, NULL), W = rt(SK_DT_F32, 2, dw, NULL);
    c.in[0] = &X; c.in[1] = &W; c.n_in = 2;
    CHECK(call_run(&c) == SK_ERR_UNSUPPORTED && strstr(sk_errmsg(), "lin_bad"));
    sk_node_set_s(&c.node, "act", "");
    sk_node_set_i(&c.node, "wt", 0);   /* W [K, N] = [4, 3] no longer fits K = 3 */
    CHECK(call_run(&c) == SK_ERR_INVALID && strstr(sk_errmsg(), "lin_bad"));
    printf("  error: %s\n", sk_errmsg());
    call_free(&c);
}

/* ================= activations, softmax, GELU ================= */
static void test_act(void)
{
    /* the fast path against its double-precision _ref, on a dense grid and odd lengths */
    errstat e = { "act fast/ref", 0, 0, 1e-6 };
    errstat en = { "act ref/naive", 0, 0, 1e-6 };
    int64_t n = 200001;
    float *x = malloc((size_t)n * sizeof(float)), *y = malloc((size_t)n * sizeof(float)),
          *r = malloc((size_t)n * sizeof(float));
    double *rd = dbuf(n);
    for (int64_t i = 0; i < n; i++) x[i] = -12.0f + 24.0f * (float)i / (float)(n - 1);
    x[0] = 0.0f; x[1] = -0.0f; x[2] = 1e-30f; x[3] = -1e-30f; x[4] = 80.0f; x[5] = -80.0f; x[6] = 1e4f; x[7] = -1e4f;
    for (int a = SK_ACT_NONE; a <= SK_ACT_SIGMOID; a++) {
        for (int64_t len = n; len > 0; len = len > 100 ? len / 97 : len - 1) {
            sk_bias_act_f32(y, x, NULL, len, (sk_act)a);
            sk_bias_act_f32_ref(r, x, NULL, len, (sk_act)a);
            for (int64_t i = 0; i < len; i++) rd[i] = r[i];
            cmp(&e, y, rd, len);
        }
        sk_bias_act_f32_ref(r, x, NULL, n, (sk_act)a);
        for (int64_t i = 0; i < n; i++) rd[i] = act_naive(x[i], (sk_act)a);
        cmp(&en, r, rd, n);
    }
    /* with a bias */
    float *b = fbuf(n, 3);
    sk_bias_act_f32(y, x, b, 1001, SK_ACT_GELU);
    for (int64_t i = 0; i < 1001; i++) rd[i] = act_naive((double)(x[i] + b[i]), SK_ACT_GELU);
    cmp(&e, y, rd, 1001);
    report(&e);
    report(&en);

    errstat es = { "softmax", 0, 0, 1e-6 };
    static const int lens[] = { 1, 3, 7, 8, 15, 16, 17, 65, 128, 1000 };
    for (int li = 0; li < 10; li++)
        for (int kind = 0; kind < 4; kind++) {
            int L = lens[li];
            float *v = fbuf(L, 8);
            if (kind == 1) for (int i = 0; i < L; i += 2) v[i] = -FLT_MAX;   /* partly masked */
            if (kind == 2) for (int i = 0; i < L; i++) v[i] = -FLT_MAX;      /* fully masked: uniform */
            if (kind == 3) for (int i = 0; i < L; i++) v[i] = -INFINITY;     /* all −inf: uniform, not NaN */
            double *ref = dbuf(L), m = -INFINITY, s = 0;
            for (int i = 0; i < L; i++) m = fmax(m, v[i]);
            for (int i = 0; i < L; i++) s += m == -INFINITY ? 1 : exp((double)v[i] - m);
            for (int i = 0; i < L; i++) ref[i] = (m == -INFINITY ? 1 : exp((double)v[i] - m)) / s;
            sk_softmax_f32(v, L);
            cmp(&es, v, ref, L);
            free(v); free(ref);
        }
    report(&es);

    errstat eg = { "GELU", 0, 0, 1e-6 };
    for (int form = 0; form < 2; form++) {
        op_call c;
        call_init(&c, SK_OP_GELU, "gelu");
        sk_node_set_s(&c.node, "approximate", form ? "tanh" : "none");
        int64_t d[2] = { 128, 3072 + form };
        sk_rtensor X = rt(SK_DT_F32, 2, d, fbuf(d[0] * d[1], 6));
        c.in[0] = &X; c.n_in = 1;
        CHECK(call_run(&c) == SK_OK);
        double *R = dbuf(d[0] * d[1]);
        for (int64_t i = 0; i < d[0] * d[1]; i++)
            R[i] = act_naive(((float *)X.data)[i], form ? SK_ACT_GELU_TANH : SK_ACT_GELU);
        cmp(&eg, out0(&c), R, d[0] * d[1]);
        sk_node_set_s(&c.node, "approximate", "fast");
        CHECK(call_run(&c) == SK_ERR_UNSUPPORTED && strstr(sk_errmsg(), "gelu"));
        free(R); free(X.data);
        call_free(&c);
    }
    report(&eg);
    free(x); free(y); free(r); free(rd); free(b);
}

/* ================= LayerNorm, SkipLayerNorm, BatchNorm ================= */
static void ln_ref(double *y, const float *x, int64_t rows, int64_t D, const float *g, const float *b, double eps)
{
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * D;
        double m = 0, v = 0;
        for (int64_t i = 0; i < D; i++) m += xr[i];
        m /= (double)D;
        for (int64_t i = 0; i < D; i++) v += (xr[i] - m) * (xr[i] - m);
        v /= (double)D;
        for (int64_t i = 0; i < D; i++) y[r * D + i] = (xr[i] - m) / sqrt(v + eps) * g[i] + (b ? b[i] : 0.0);
    }
}

static void test_norm(void)
{
    errstat e = { "LAYERNORM", 0, 0, 1e-5 };
    static const int64_t Ds[] = { 1, 3, 17, 65, 768 };
    for (int di = 0; di < 5; di++)
        for (int v = 0; v < 3; v++) {
            int64_t D = Ds[di], rows = v == 2 ? 130 : 1 + irand(9);
            op_call c;
            call_init(&c, SK_OP_LAYERNORM, "ln");
            sk_node_set_f(&c.node, "epsilon", 1e-12f);
            int64_t dx[3] = { 2, rows, D }, dg[1] = { D };
            float *xd = fbuf(2 * rows * D, 3);
            for (int64_t i = 0; i < 2 * rows * D; i++) xd[i] += 5.0f;   /* an offset mean tests the two-pass variance */
            sk_rtensor X = rt(SK_DT_F32, 3, dx, xd), G = rt(SK_DT_F32, 1, dg, fbuf(D, 1)), Bb = rt(SK_DT_F32, 1, dg, fbuf(D, 1));
            c.in[0] = &X; c.in[1] = &G; c.in[2] = v == 1 ? NULL : &Bb; c.n_in = 3;
            CHECK(call_run(&c) == SK_OK);
            double *R = dbuf(2 * rows * D);
            ln_ref(R, xd, 2 * rows, D, G.data, v == 1 ? NULL : Bb.data, 1e-12);
            cmp(&e, out0(&c), R, 2 * rows * D);
            free(R); free(xd); free(G.data); free(Bb.data);
            call_free(&c);
        }
    {   /* axis = 1 of [2, 5, 7]: normalise over 35 */
        op_call c;
        call_init(&c, SK_OP_LAYERNORM, "ln_axis");
        sk_node_set_i(&c.node, "axis", 1);
        int64_t dx[3] = { 2, 5, 7 }, dg[2] = { 5, 7 };
        sk_rtensor X = rt(SK_DT_F32, 3, dx, fbuf(70, 2)), G = rt(SK_DT_F32, 2, dg, fbuf(35, 1)), Bb = rt(SK_DT_F32, 2, dg, fbuf(35, 1));
        c.in[0] = &X; c.in[1] = &G; c.in[2] = &Bb; c.n_in = 3;
        CHECK(call_run(&c) == SK_OK);
        double R[70];
        ln_ref(R, X.data, 2, 35, G.data, Bb.data, 1e-5);
        cmp(&e, out0(&c), R, 70);
        G.dims[1] = 6;   /* gamma of the wrong size */
        CHECK(call_run(&c) == SK_ERR_INVALID && strstr(sk_errmsg(), "ln_axis"));
        printf("  error: %s\n", sk_errmsg());
        free(X.data); free(G.data); free(Bb.data);
        call_free(&c);
    }
    report(&e);

    errstat es = { "SKIP_LAYERNORM", 0, 0, 1e-5 };
    for (int cse = 0; cse < 8; cse++) {
        int64_t B = 2, S = 1 + irand(20), H = cse < 4 ? 768 : Ds[irand(4)];
        bool bias = cse & 1, bcast = cse & 2;
        op_call c;
        call_init(&c, SK_OP_SKIP_LAYERNORM, "sln");
        int64_t dx[3] = { B, S, H }, ds[2] = { S, H }, dg[1] = { H };
        sk_rtensor X = rt(SK_DT_F32, 3, dx, fbuf(B * S * H, 2));
        sk_rtensor Sk = bcast ? rt(SK_DT_F32, 2, ds, fbuf(S * H, 2)) : rt(SK_DT_F32, 3, dx, fbuf(B * S * H, 2));
        sk_rtensor G = rt(SK_DT_F32, 1, dg, fbuf(H, 1)), Be = rt(SK_DT_F32, 1, dg, fbuf(H, 1)), Bi = rt(SK_DT_F32, 1, dg, fbuf(H, 1));
        c.in[0] = &X; c.in[1] = &Sk; c.in[2] = &G; c.in[3] = &Be; c.in[4] = bias ? &Bi : NULL; c.n_in = 5;
        CHECK(call_run(&c) == SK_OK);
        float *sum = malloc((size_t)(B * S * H) * sizeof(float));
        for (int64_t i = 0; i < B * S * H; i++)
            sum[i] = ((float *)X.data)[i] + ((float *)Sk.data)[bcast ? i % (S * H) : i] + (bias ? ((float *)Bi.data)[i % H] : 0.0f);
        double *R = dbuf(B * S * H);
        ln_ref(R, sum, B * S, H, G.data, Be.data, 1e-5);
        cmp(&es, out0(&c), R, B * S * H);
        free(sum); free(R); free(X.data); free(Sk.data); free(G.data); free(Be.data); free(Bi.data);
        call_free(&c);
    }
    report(&es);

    errstat eb = { "BATCHNORM", 0, 0, 1e-5 };
    for (int cse = 0; cse < 4; cse++) {
        int64_t N = 1 + irand(3), C = 1 + irand(17), H = 1 + irand(9), W = 1 + irand(9);
        int rank = cse & 1 ? 3 : 4;
        int64_t dx[4] = { N, C, H, W }, dc[1] = { C };
        int64_t n = N * C * H * (rank == 4 ? W : 1);
        op_call c;
        call_init(&c, SK_OP_BATCHNORM, "bn");
        sk_node_set_f(&c.node, "epsilon", 1e-3f);
        sk_rtensor X = rt(SK_DT_F32, rank, dx, fbuf(n, 2));
        sk_rtensor P[4];
        for (int i = 0; i < 4; i++) {
            P[i] = rt(SK_DT_F32, 1, dc, fbuf(C, 1));
            c.in[1 + i] = &P[i];
        }
        for (int64_t i = 0; i < C; i++) ((float *)P[3].data)[i] = fabsf(((float *)P[3].data)[i]) + 0.1f;
        c.in[0] = &X; c.n_in = 5;
        CHECK(call_run(&c) == SK_OK);
        double *R = dbuf(n);
        int64_t plane = n / (N * C);
        for (int64_t i = 0; i < n; i++) {
            int64_t ch = i / plane % C;
            const float *sc = P[0].data, *bb = P[1].data, *mu = P[2].data, *var = P[3].data;
            R[i] = (((float *)X.data)[i] - mu[ch]) / sqrt(var[ch] + 1e-3) * sc[ch] + bb[ch];
        }
        cmp(&eb, out0(&c), R, n);
        free(R); free(X.data);
        for (int i = 0; i < 4; i++) free(P[i].data);
        call_free(&c);
    }
    report(&eb);
}

/* ================= Conv and pools ================= */
typedef struct { int nd; int64_t k[3], s[3], d[3], pb[3], pe[3]; } geom;

static void set_ints(sk_node *n, const char *name, const int64_t *v, int cnt) { sk_node_set_ints(n, name, v, cnt); }

/* direct convolution over (D, H, W) views, groups, pads, strides, dilations */
static void conv_test_case(errstat *e, int nd, int64_t N, int64_t C, int64_t M, int64_t group, const int64_t *in,
                           const geom *g, bool bias, const char *auto_pad)
{
    op_call c;
    call_init(&c, SK_OP_CONV, "conv");
    int64_t dx[5] = { N, C }, dw[5] = { M, C / group };
    int64_t ks[3], ss[3], ds[3], ps[6];
    for (int i = 0; i < nd; i++) {
        dx[2 + i] = in[i]; dw[2 + i] = g->k[i];
        ks[i] = g->k[i]; ss[i] = g->s[i]; ds[i] = g->d[i]; ps[i] = g->pb[i]; ps[nd + i] = g->pe[i];
    }
    set_ints(&c.node, "kernel_shape", ks, nd);
    set_ints(&c.node, "strides", ss, nd);
    set_ints(&c.node, "dilations", ds, nd);
    if (auto_pad) sk_node_set_s(&c.node, "auto_pad", auto_pad);
    else set_ints(&c.node, "pads", ps, 2 * nd);
    sk_node_set_i(&c.node, "group", group);
    sk_rtensor X = rt(SK_DT_F32, 2 + nd, dx, NULL), W = rt(SK_DT_F32, 2 + nd, dw, NULL);
    int64_t db[1] = { M };
    X.data = fbuf(sk_rt_numel(&X), 1);
    W.data = fbuf(sk_rt_numel(&W), 1);
    sk_rtensor Bt = rt(SK_DT_F32, 1, db, fbuf(M, 1));
    c.in[0] = &X; c.in[1] = &W; c.in[2] = bias ? &Bt : NULL; c.n_in = 3;
    sk_status st = call_run(&c);
    CHECK(st == SK_OK);
    if (st) { printf("  %s\n", sk_errmsg()); goto out; }
    /* pads for auto_pad, as ONNX defines them */
    int64_t pb[3], out[3], I3[3] = { 1, 1, 1 }, K3[3] = { 1, 1, 1 }, S3[3] = { 1, 1, 1 }, D3[3] = { 1, 1, 1 }, P3[3] = { 0, 0, 0 }, O3[3] = { 1, 1, 1 };
    for (int i = 0; i < nd; i++) {
        int64_t span = g->d[i] * (g->k[i] - 1) + 1;
        if (auto_pad) {
            out[i] = (in[i] + g->s[i] - 1) / g->s[i];
            int64_t tot = (out[i] - 1) * g->s[i] + span - in[i];
            if (tot < 0) tot = 0;
            pb[i] = !strcmp(auto_pad, "SAME_UPPER") ? tot / 2 : tot - tot / 2;
        } else {
            pb[i] = g->pb[i];
            out[i] = (in[i] + g->pb[i] + g->pe[i] - span) / g->s[i] + 1;
        }
        CHECK(c.out[0].dims[2 + i] == out[i]);
        int j = 3 - nd + i;
        I3[j] = in[i]; K3[j] = g->k[i]; S3[j] = g->s[i]; D3[j] = g->d[i]; P3[j] = pb[i]; O3[j] = out[i];
    }
    int64_t osz = O3[0] * O3[1] * O3[2], isz = I3[0] * I3[1] * I3[2], ksz = K3[0] * K3[1] * K3[2];
    double *R = dbuf(N * M * osz);
    const float *x = X.data, *w = W.data;
    int64_t Cg = C / group, Mg = M / group;
    for (int64_t n = 0; n < N; n++)
        for (int64_t m = 0; m < M; m++)
            for (int64_t o = 0; o < osz; o++) {
                int64_t od = o / (O3[1] * O3[2]), oh = o / O3[2] % O3[1], ow = o % O3[2];
                double s = bias ? ((float *)Bt.data)[m] : 0.0;
                int64_t gi = m / Mg;
                for (int64_t cc = 0; cc < Cg; cc++)
                    for (int64_t kk = 0; kk < ksz; kk++) {
                        int64_t kd = kk / (K3[1] * K3[2]), kh = kk / K3[2] % K3[1], kw = kk % K3[2];
                        int64_t id = od * S3[0] - P3[0] + kd * D3[0], ih = oh * S3[1] - P3[1] + kh * D3[1],
                                iw = ow * S3[2] - P3[2] + kw * D3[2];
                        if (id < 0 || id >= I3[0] || ih < 0 || ih >= I3[1] || iw < 0 || iw >= I3[2]) continue;
                        s += (double)x[(n * C + gi * Cg + cc) * isz + (id * I3[1] + ih) * I3[2] + iw] *
                             w[(m * Cg + cc) * ksz + kk];
                    }
                R[(n * M + m) * osz + o] = s;
            }
    cmp(e, out0(&c), R, N * M * osz);
    free(R);
out:
    free(X.data); free(W.data); free(Bt.data);
    call_free(&c);
}

static void test_conv(void)
{
    errstat e = { "Conv", 0, 0, 1e-4 };
    for (int cse = 0; cse < 30; cse++) {
        int nd = 1 + cse % 2;
        geom g;
        memset(&g, 0, sizeof g);
        int64_t in[3];
        for (int i = 0; i < nd; i++) {
            g.k[i] = 1 + irand(3); g.s[i] = 1 + irand(2); g.d[i] = 1 + irand(2);
            g.pb[i] = irand(2); g.pe[i] = irand(3);
            in[i] = g.d[i] * (g.k[i] - 1) + 1 + irand(9);
        }
        int64_t group = cse % 3 == 0 ? 1 : cse % 3 == 1 ? 2 : 3;
        int64_t C = group * (1 + irand(3)), M = group * (1 + irand(3));
        conv_test_case(&e, nd, 1 + irand(2), C, M, group, in, &g, cse & 4, cse % 7 == 3 ? "SAME_UPPER" : cse % 7 == 5 ? "SAME_LOWER" : NULL);
    }
    {   /* 1×1 with unit strides: the im2col-free path */
        geom g = { 2, { 1, 1, 1 }, { 1, 1, 1 }, { 1, 1, 1 }, { 0 }, { 0 } };
        int64_t in[2] = { 5, 7 };
        conv_test_case(&e, 2, 2, 6, 4, 1, in, &g, true, NULL);
        conv_test_case(&e, 2, 1, 6, 6, 3, in, &g, false, NULL);
    }
    {   /* depthwise 3×3, pad 1 */
        geom g = { 2, { 3, 3 }, { 1, 1 }, { 1, 1 }, { 1, 1 }, { 1, 1 } };
        int64_t in[2] = { 8, 9 };
        conv_test_case(&e, 2, 1, 4, 4, 4, in, &g, true, NULL);
    }
    report(&e);
}

/* pools, ONNX semantics (onnxruntime's count_include_pad and ceil_mode rules) */
static void pool_case(errstat *e, bool max, int nd, const int64_t *in, const geom *g, bool ceil, bool incl)
{
    op_call c;
    call_init(&c, max ? SK_OP_MAX_POOL : SK_OP_AVG_POOL, "pool");
    int64_t N = 2, C = 3, dx[5] = { N, C }, ks[3], ss[3], ps[6], ds[3];
    for (int i = 0; i < nd; i++) {
        dx[2 + i] = in[i];
        ks[i] = g->k[i]; ss[i] = g->s[i]; ds[i] = g->d[i]; ps[i] = g->pb[i]; ps[nd + i] = g->pe[i];
    }
    set_ints(&c.node, "kernel_shape", ks, nd);
    set_ints(&c.node, "strides", ss, nd);
    set_ints(&c.node, "pads", ps, 2 * nd);
    if (max) set_ints(&c.node, "dilations", ds, nd);
    sk_node_set_i(&c.node, "ceil_mode", ceil);
    if (!max) sk_node_set_i(&c.node, "count_include_pad", incl);
    sk_rtensor X = rt(SK_DT_F32, 2 + nd, dx, NULL);
    X.data = fbuf(sk_rt_numel(&X), 1);
    c.in[0] = &X; c.n_in = 1;
    sk_status st = call_run(&c);
    CHECK(st == SK_OK);
    if (st) { printf("  %s\n", sk_errmsg()); goto out; }
    int64_t I3[3] = { 1, 1, 1 }, K3[3] = { 1, 1, 1 }, S3[3] = { 1, 1, 1 }, D3[3] = { 1, 1, 1 }, P3[3] = { 0 }, E3[3] = { 0 }, O3[3] = { 1, 1, 1 };
    for (int i = 0; i < nd; i++) {
        int j = 3 - nd + i;
        I3[j] = in[i]; K3[j] = g->k[i]; S3[j] = g->s[i]; D3[j] = max ? g->d[i] : 1; P3[j] = g->pb[i]; E3[j] = g->pe[i];
        int64_t span = D3[j] * (K3[j] - 1) + 1, room = I3[j] + P3[j] + E3[j] - span;
        O3[j] = (ceil ? (room + S3[j] - 1) / S3[j] : room / S3[j]) + 1;
        if (ceil && (O3[j] - 1) * S3[j] >= I3[j] + P3[j]) O3[j]--;
        CHECK(c.out[0].dims[2 + i] == O3[j]);
    }
    int64_t osz = O3[0] * O3[1] * O3[2], isz = I3[0] * I3[1] * I3[2];
    double *R = dbuf(N * C * osz);
    for (int64_t p = 0; p < N * C; p++)
        for (int64_t o = 0; o < osz; o++) {
            int64_t oi[3] = { o / (O3[1] * O3[2]), o / O3[2] % O3[1], o % O3[2] };
            double m = -FLT_MAX, s = 0;
            int64_t cnt = 0, cntp = 1;
            for (int i = 0; i < 3; i++) {
                int64_t st0 = oi[i] * S3[i] - P3[i], en = st0 + K3[i] * D3[i];
                if (en > I3[i] + E3[i]) en = I3[i] + E3[i];
                cntp *= 1 + (en - st0 - 1) / D3[i];
            }
            for (int64_t a = 0; a < K3[0]; a++)
                for (int64_t b = 0; b < K3[1]; b++)
                    for (int64_t q = 0; q < K3[2]; q++) {
                        int64_t x0 = oi[0] * S3[0] - P3[0] + a * D3[0], x1 = oi[1] * S3[1] - P3[1] + b * D3[1],
                                x2 = oi[2] * S3[2] - P3[2] + q * D3[2];
                        if (x0 < 0 || x0 >= I3[0] || x1 < 0 || x1 >= I3[1] || x2 < 0 || x2 >= I3[2]) continue;
                        double v = ((float *)X.data)[p * isz + (x0 * I3[1] + x1) * I3[2] + x2];
                        m = fmax(m, v);
                        s += v;
                        cnt++;
                    }
            R[p * osz + o] = max ? m : cnt ? s / (double)(incl ? cntp : cnt) : 0.0;
        }
    cmp(e, out0(&c), R, N * C * osz);
    free(R);
out:
    free(X.data);
    call_free(&c);
}

static void test_pool(void)
{
    errstat em = { "MaxPool", 0, 0, 1e-6 }, ea = { "AveragePool", 0, 0, 1e-5 };
    for (int cse = 0; cse < 48; cse++) {
        int nd = 1 + cse % 2;
        geom g;
        memset(&g, 0, sizeof g);
        int64_t in[3];
        for (int i = 0; i < nd; i++) {
            g.k[i] = 1 + irand(3); g.s[i] = 1 + irand(3); g.d[i] = 1 + irand(2);
            g.pb[i] = irand((int)g.k[i]); g.pe[i] = irand((int)g.k[i]);
            in[i] = g.d[i] * (g.k[i] - 1) + 1 + irand(8);
        }
        bool ceil = (cse >> 1) & 1, incl = (cse >> 2) & 1;
        pool_case(cse & 8 ? &em : &ea, cse & 8, nd, in, &g, ceil, incl);
    }
    report(&em);
    report(&ea);
    errstat eg = { "GlobalAvgPool", 0, 0, 1e-5 };
    for (int rank = 3; rank <= 4; rank++) {
        op_call c;
        call_init(&c, SK_OP_GLOBAL_AVG_POOL, "gap");
        int64_t dx[4] = { 2, 5, 7, 9 };
        sk_rtensor X = rt(SK_DT_F32, rank, dx, NULL);
        X.data = fbuf(sk_rt_numel(&X), 1);
        c.in[0] = &X; c.n_in = 1;
        CHECK(call_run(&c) == SK_OK);
        CHECK(c.out[0].rank == rank && c.out[0].dims[2] == 1);
        int64_t plane = sk_rt_numel(&X) / 10;
        double R[10];
        for (int p = 0; p < 10; p++) {
            double s = 0;
            for (int64_t i = 0; i < plane; i++) s += ((float *)X.data)[p * plane + i];
            R[p] = s / (double)plane;
        }
        cmp(&eg, out0(&c), R, 10);
        free(X.data);
        call_free(&c);
    }
    report(&eg);
}

/* ================= LSTM / GRU / RNN ================= */
static double sigm(double x) { return 1.0 / (1.0 + exp(-x)); }
static double clipd(double x, double c) { return c > 0 ? fmin(c, fmax(-c, x)) : x; }

/* the ONNX equations, one direction, one batch entry, in double */
static void rnn_ref(int kind, int64_t T, int64_t Bn, int64_t In, int64_t Hs, const float *X, const float *W,
                    const float *R, const float *Bias, const int32_t *lens, const float *h0, const float *c0,
                    const float *P, bool lbr, double clip, int64_t b, bool backward, int dir, int64_t dirs,
                    double *Y, double *Yh, double *Yc)
{
    int G = kind == 0 ? 4 : kind == 1 ? 3 : 1;
    double h[256], c[256], pre[4][256];
    for (int64_t j = 0; j < Hs; j++) { h[j] = h0 ? h0[b * Hs + j] : 0; c[j] = c0 ? c0[b * Hs + j] : 0; }
    int64_t len = lens ? lens[b] : T;
    for (int64_t s = 0; s < T; s++) {
        int64_t t = backward ? T - 1 - s : s;
        if (t >= len) {
            for (int64_t j = 0; j < Hs; j++) Y[((t * dirs + dir) * Bn + b) * Hs + j] = 0;
            continue;
        }
        const float *x = X + (t * Bn + b) * In;
        double rh[4][256];   /* R·h per gate, without the reset gate */
        for (int gi = 0; gi < G; gi++)
            for (int64_t j = 0; j < Hs; j++) {
                double sx = Bias ? Bias[gi * Hs + j] : 0, sr = Bias ? Bias[(G + gi) * Hs + j] : 0;
                for (int64_t p = 0; p < In; p++) sx += (double)W[(gi * Hs + j) * In + p] * x[p];
                for (int64_t p = 0; p < Hs; p++) sr += (double)R[(gi * Hs + j) * Hs + p] * h[p];
                pre[gi][j] = sx;
                rh[gi][j] = sr;
            }
        double hn[256];
        for (int64_t j = 0; j < Hs; j++) {
            if (kind == 2) {
                hn[j] = tanh(clipd(pre[0][j] + rh[0][j], clip));
            } else if (kind == 0) {   /* i o f c */
                double ig = sigm(clipd(pre[0][j] + rh[0][j] + (P ? P[j] * c[j] : 0), clip));
                double fg = sigm(clipd(pre[2][j] + rh[2][j] + (P ? P[2 * Hs + j] * c[j] : 0), clip));
                double cg = tanh(clipd(pre[3][j] + rh[3][j], clip));
                c[j] = fg * c[j] + ig * cg;
                double og = sigm(clipd(pre[1][j] + rh[1][j] + (P ? P[Hs + j] * c[j] : 0), clip));
                hn[j] = og * tanh(c[j]);
            } else {                  /* z r h */
                double z = sigm(clipd(pre[0][j] + rh[0][j], clip));
                double r = sigm(clipd(pre[1][j] + rh[1][j], clip));
                double hh;
                if (lbr) {
                    hh = tanh(clipd(pre[2][j] + r * rh[2][j], clip));
                } else {
                    double s2 = Bias ? Bias[(G + 2) * Hs + j] : 0;   /* Rbh, then (r⊙h)·Rhᵀ */
                    for (int64_t p = 0; p < Hs; p++) {
                        double rp = sigm(clipd(pre[1][p] + rh[1][p], clip));
                        s2 += (double)R[(2 * Hs + j) * Hs + p] * rp * h[p];
                    }
                    hh = tanh(clipd(pre[2][j] + s2, clip));
                }
                hn[j] = (1 - z) * hh + z * h[j];
            }
        }
        for (int64_t j = 0; j < Hs; j++) { h[j] = hn[j]; Y[((t * dirs + dir) * Bn + b) * Hs + j] = h[j]; }
    }
    for (int64_t j = 0; j < Hs; j++) { Yh[(dir * Bn + b) * Hs + j] = h[j]; Yc[(dir * Bn + b) * Hs + j] = c[j]; }
}

static void test_rnn(void)
{
    static const char *names[] = { "LSTM", "GRU", "RNN" };
    static const sk_op ops[] = { SK_OP_LSTM, SK_OP_GRU, SK_OP_RNN };
    static const char *dirn[] = { "forward", "reverse", "bidirectional" };
    for (int kind = 0; kind < 3; kind++) {
        errstat e = { names[kind], 0, 0, 1e-4 };
        int G = kind == 0 ? 4 : kind == 1 ? 3 : 1;
        for (int cse = 0; cse < 24; cse++) {
            int dmode = cse % 3;
            int64_t dirs = dmode == 2 ? 2 : 1, T = 1 + irand(6), Bn = 1 + irand(3), In = 1 + irand(17), Hs = cse == 5 ? 65 : 1 + irand(17);
            bool hasB = cse & 1, hasL = (cse >> 1) & 1, hasH = (cse >> 2) & 1, hasP = kind == 0 && ((cse >> 3) & 1);
            bool lbr = kind == 1 && ((cse >> 3) & 1);
            double clip = cse % 7 == 6 ? 0.5 : 0;
            op_call c;
            call_init(&c, ops[kind], names[kind]);
            sk_node_set_s(&c.node, "direction", dirn[dmode]);
            sk_node_set_i(&c.node, "hidden_size", Hs);
            if (lbr) sk_node_set_i(&c.node, "linear_before_reset", 1);
            if (clip > 0) sk_node_set_f(&c.node, "clip", (float)clip);
            int64_t dx[3] = { T, Bn, In }, dw[3] = { dirs, G * Hs, In }, dr[3] = { dirs, G * Hs, Hs },
                    db[2] = { dirs, 2 * G * Hs }, dl[1] = { Bn }, dh[3] = { dirs, Bn, Hs }, dp[2] = { dirs, 3 * Hs };
            sk_rtensor X = rt(SK_DT_F32, 3, dx, fbuf(T * Bn * In, 1)), W = rt(SK_DT_F32, 3, dw, fbuf(dirs * G * Hs * In, 0.5f)),
                       R = rt(SK_DT_F32, 3, dr, fbuf(dirs * G * Hs * Hs, 0.5f)), Bb = rt(SK_DT_F32, 2, db, fbuf(dirs * 2 * G * Hs, 0.5f)),
                       H0 = rt(SK_DT_F32, 3, dh, fbuf(dirs * Bn * Hs, 1)), C0 = rt(SK_DT_F32, 3, dh, fbuf(dirs * Bn * Hs, 1)),
                       P = rt(SK_DT_F32, 2, dp, fbuf(dirs * 3 * Hs, 0.5f));
            int32_t lens[8];
            for (int64_t b = 0; b < Bn; b++) lens[b] = (int32_t)(b == 0 ? T : irand((int)T + 1));
            sk_rtensor L = rt(SK_DT_I32, 1, dl, lens);
            c.in[0] = &X; c.in[1] = &W; c.in[2] = &R; c.in[3] = hasB ? &Bb : NULL; c.in[4] = hasL ? &L : NULL;
            c.in[5] = hasH ? &H0 : NULL;
            c.n_in = kind == 0 ? 8 : 6;
            if (kind == 0) { c.in[6] = hasH ? &C0 : NULL; c.in[7] = hasP ? &P : NULL; }
            c.n_out = kind == 0 ? 3 : 2;
            c.want[1] = c.want[2] = true;
            if (cse == 7) c.want[0] = false;   /* Y unused */
            sk_status st = call_run(&c);
            CHECK(st == SK_OK);
            if (st) { printf("  %s\n", sk_errmsg()); call_free(&c); continue; }
            double *Y = dbuf(T * dirs * Bn * Hs), *Yh = dbuf(dirs * Bn * Hs), *Yc = dbuf(dirs * Bn * Hs);
            for (int dir = 0; dir < dirs; dir++)
                for (int64_t b = 0; b < Bn; b++)
                    rnn_ref(kind, T, Bn, In, Hs, X.data, (float *)W.data + dir * G * Hs * In, (float *)R.data + dir * G * Hs * Hs,
                            hasB ? (float *)Bb.data + dir * 2 * G * Hs : NULL, hasL ? lens : NULL,
                            hasH ? (float *)H0.data + dir * Bn * Hs : NULL, hasH && kind == 0 ? (float *)C0.data + dir * Bn * Hs : NULL,
                            hasP ? (float *)P.data + dir * 3 * Hs : NULL, lbr, clip, b, dir == 1 || dmode == 1, dir, dirs, Y, Yh, Yc);
            if (c.want[0]) cmp(&e, c.out[0].data, Y, T * dirs * Bn * Hs);
            cmp(&e, c.out[1].data, Yh, dirs * Bn * Hs);
            if (kind == 0) cmp(&e, c.out[2].data, Yc, dirs * Bn * Hs);
            free(Y); free(Yh); free(Yc);
            free(X.data); free(W.data); free(R.data); free(Bb.data); free(H0.data); free(C0.data); free(P.data);
            call_free(&c);
        }
        report(&e);
    }
    /* a bad direction count names the node */
    op_call c;
    call_init(&c, SK_OP_GRU, "gru_bad");
    sk_node_set_s(&c.node, "direction", "bidirectional");
    int64_t dx[3] = { 2, 1, 3 }, dw[3] = { 1, 6, 3 }, dr[3] = { 1, 6, 2 };
    sk_rtensor X = rt(SK_DT_F32, 3, dx, NULL), W = rt(SK_DT_F32, 3, dw, NULL), R = rt(SK_DT_F32, 3, dr, NULL);
    c.in[0] = &X; c.in[1] = &W; c.in[2] = &R; c.n_in = 3;
    CHECK(call_run(&c) == SK_ERR_INVALID && strstr(sk_errmsg(), "gru_bad"));
    printf("  error: %s\n", sk_errmsg());
    call_free(&c);
}

/* ================= ATTENTION ================= */
/* Per head, in double, Hugging Face's masking: future keys score finfo.min,
 * padded keys get finfo.min added (so −inf when both). */
static void attn_ref(double *out, const float *q, const float *k, const float *v, const int64_t *mask, int64_t B,
                     int64_t S, int64_t T, int64_t H, int64_t heads, double scale, bool causal)
{
    int64_t hd = H / heads, off = T - S;
    double *sc = dbuf(T);
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < heads; h++)
            for (int64_t i = 0; i < S; i++) {
                double mx = -INFINITY, sum = 0;
                for (int64_t j = 0; j < T; j++) {
                    double s = 0;
                    for (int64_t c = 0; c < hd; c++) s += (double)q[(b * S + i) * H + h * hd + c] * k[(b * T + j) * H + h * hd + c];
                    float f = (float)(s * scale);
                    if (causal && j > off + i) f = -FLT_MAX;
                    if (mask && !mask[b * T + j]) f = f + -FLT_MAX;   /* float add: −FLT_MAX or −inf */
                    sc[j] = f;
                    mx = fmax(mx, sc[j]);
                }
                for (int64_t j = 0; j < T; j++) { sc[j] = mx == -INFINITY ? 1 : exp(sc[j] - mx); sum += sc[j]; }
                for (int64_t c = 0; c < hd; c++) {
                    double o = 0;
                    for (int64_t j = 0; j < T; j++) o += sc[j] / sum * v[(b * T + j) * H + h * hd + c];
                    out[(b * S + i) * H + h * hd + c] = o;
                }
            }
    free(sc);
}

static void attn_setup(op_call *c, int64_t heads, bool causal, float scale)
{
    call_init(c, SK_OP_ATTENTION, "attn");
    sk_node_set_i(&c->node, "num_heads", heads);
    sk_node_set_i(&c->node, "causal", causal);
    if (scale != 0) sk_node_set_f(&c->node, "scale", scale);
}

static void test_attention(void)
{
    errstat e = { "ATTENTION", 0, 0, 1e-4 };
    static const int64_t Ss[] = { 1, 3, 17, 65 };
    for (int cse = 0; cse < 40; cse++) {
        int64_t B = 1 + irand(2), S = Ss[irand(4)], T = cse % 5 == 4 ? Ss[irand(4)] : S, heads = 1 + irand(4),
                hd = cse == 7 ? 64 : 1 + irand(17), H = heads * hd;
        bool causal = cse & 1, hasm = (cse >> 1) & 1;
        float scale = cse % 3 == 2 ? 0.3f : 0.0f;
        op_call c;
        attn_setup(&c, heads, causal, scale);
        if (cse % 4 == 3) c.pool = NULL;
        int64_t dq[3] = { B, S, H }, dk[3] = { B, T, H }, dm[2] = { B, T };
        sk_rtensor Q = rt(SK_DT_F32, 3, dq, fbuf(B * S * H, 1)), K = rt(SK_DT_F32, 3, dk, fbuf(B * T * H, 1)),
                   V = rt(SK_DT_F32, 3, dk, fbuf(B * T * H, 1));
        int64_t *mask = malloc((size_t)(B * T) * sizeof(int64_t));
        for (int64_t i = 0; i < B * T; i++) mask[i] = irand(4) != 0;
        if (B > 1) for (int64_t j = 0; j < T; j++) mask[T + j] = 0;   /* batch 1 fully padded */
        sk_rtensor M = rt(SK_DT_I64, 2, dm, mask);
        c.in[0] = &Q; c.in[1] = &K; c.in[2] = &V; c.in[3] = hasm ? &M : NULL; c.n_in = 4;
        sk_status st = call_run(&c);
        CHECK(st == SK_OK);
        if (st) printf("  %s\n", sk_errmsg());
        double *R = dbuf(B * S * H);
        attn_ref(R, Q.data, K.data, V.data, hasm ? mask : NULL, B, S, T, H, heads, scale != 0 ? scale : 1.0 / sqrt((double)hd), causal);
        if (!st) cmp(&e, out0(&c), R, B * S * H);
        if (hasm) {   /* the same mask as f32 and as bool */
            float *mf = malloc((size_t)(B * T) * sizeof(float));
            uint8_t *mb = malloc((size_t)(B * T));
            for (int64_t i = 0; i < B * T; i++) { mf[i] = (float)mask[i] * 0.5f; mb[i] = (uint8_t)mask[i]; }
            sk_rtensor Mf = rt(SK_DT_F32, 2, dm, mf), Mb = rt(SK_DT_BOOL, 2, dm, mb);
            c.in[3] = &Mf;
            CHECK(call_run(&c) == SK_OK);
            cmp(&e, out0(&c), R, B * S * H);
            c.in[3] = &Mb;
            CHECK(call_run(&c) == SK_OK);
            cmp(&e, out0(&c), R, B * S * H);
            free(mf); free(mb);
        }
        free(R); free(mask); free(Q.data); free(K.data); free(V.data);
        call_free(&c);
    }
    report(&e);

    /* KV cache: S tokens at once, one at a time, and in chunks all equal the non-cached causal run */
    errstat ek = { "ATTENTION kv", 0, 0, 1e-4 };
    for (int cse = 0; cse < 6; cse++) {
        int64_t B = 1 + cse % 2, S = cse < 3 ? 17 : 9, heads = 2 + irand(3), hd = 1 + irand(17), H = heads * hd, maxp = 40;
        bool hasm = cse & 1;
        int64_t dq[3] = { B, S, H }, dm[2] = { B, S };
        float *q = fbuf(B * S * H, 1), *kk = fbuf(B * S * H, 1), *vv = fbuf(B * S * H, 1);
        int64_t *mask = malloc((size_t)(B * S) * sizeof(int64_t));
        for (int64_t i = 0; i < B * S; i++) mask[i] = 1;
        if (B > 1) mask[S] = mask[S + 1] = 0;   /* batch 1 left-padded by two */
        op_call full;
        attn_setup(&full, heads, true, 0);
        sk_rtensor Q = rt(SK_DT_F32, 3, dq, q), K = rt(SK_DT_F32, 3, dq, kk), V = rt(SK_DT_F32, 3, dq, vv), M = rt(SK_DT_I64, 2, dm, mask);
        full.in[0] = &Q; full.in[1] = &K; full.in[2] = &V; full.in[3] = hasm ? &M : NULL; full.n_in = 4;
        CHECK(call_run(&full) == SK_OK);
        const float *ref = out0(&full);
        double *Rd = dbuf(B * S * H);
        attn_ref(Rd, q, kk, vv, hasm ? mask : NULL, B, S, S, H, heads, 1.0 / sqrt((double)hd), true);
        cmp(&ek, ref, Rd, B * S * H);
        /* chunk plans: all at once; one by one; uneven */
        static const int64_t plans[3][20] = { { 17 }, { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 }, { 3, 1, 5, 2, 6 } };
        for (int pl = 0; pl < 3; pl++) {
            op_call c;
            attn_setup(&c, heads, true, 0);
            c.kv_cache = true;
            c.max_pos = maxp;
            int64_t pos = 0;
            double *R = dbuf(B * S * H);
            float *got = malloc((size_t)(B * S * H) * sizeof(float));
            for (int step = 0; pos < S; step++) {
                int64_t n = plans[pl][step];
                if (n == 0 || pos + n > S) n = S - pos;
                int64_t dc[3] = { B, n, H }, dmc[2] = { B, pos + n };
                float *qc = malloc((size_t)(B * n * H) * sizeof(float)), *kc = malloc((size_t)(B * n * H) * sizeof(float)),
                      *vc = malloc((size_t)(B * n * H) * sizeof(float));
                int64_t *mc = malloc((size_t)(B * (pos + n)) * sizeof(int64_t));
                for (int64_t b = 0; b < B; b++) {
                    memcpy(qc + b * n * H, q + (b * S + pos) * H, (size_t)(n * H) * sizeof(float));
                    memcpy(kc + b * n * H, kk + (b * S + pos) * H, (size_t)(n * H) * sizeof(float));
                    memcpy(vc + b * n * H, vv + (b * S + pos) * H, (size_t)(n * H) * sizeof(float));
                    for (int64_t j = 0; j < pos + n; j++) mc[b * (pos + n) + j] = mask[b * S + j];
                }
                sk_rtensor Qc = rt(SK_DT_F32, 3, dc, qc), Kc = rt(SK_DT_F32, 3, dc, kc), Vc = rt(SK_DT_F32, 3, dc, vc),
                           Mc = rt(SK_DT_I64, 2, dmc, mc);
                c.in[0] = &Qc; c.in[1] = &Kc; c.in[2] = &Vc; c.in[3] = hasm ? &Mc : NULL; c.n_in = 4;
                c.past = pos;
                sk_status st = call_run(&c);
                CHECK(st == SK_OK);
                if (st) printf("  %s\n", sk_errmsg());
                for (int64_t b = 0; b < B; b++)
                    memcpy(got + (b * S + pos) * H, (float *)c.out[0].data + b * n * H, (size_t)(n * H) * sizeof(float));
                pos += n;
                free(qc); free(kc); free(vc); free(mc);
            }
            /* rows of padded queries see every key masked; HF then spreads them uniformly over
             * whatever keys exist, which differs with and without a cache: leave them out */
            for (int64_t i = 0; i < B * S * H; i++) R[i] = hasm && !mask[i / H] ? got[i] : ref[i];
            cmp(&ek, got, R, B * S * H);
            /* the cache is full after max_pos positions */
            if (pl == 0) {
                int64_t dc[3] = { B, maxp, H };
                float *big = fbuf(B * maxp * H, 1);
                sk_rtensor Qc = rt(SK_DT_F32, 3, dc, big);
                c.in[0] = c.in[1] = c.in[2] = &Qc; c.in[3] = NULL;
                c.past = pos;
                CHECK(call_run(&c) == SK_ERR_INVALID && strstr(sk_errmsg(), "attn") && strstr(sk_errmsg(), "full"));
                printf("  error: %s\n", sk_errmsg());
                free(big);
            }
            free(R); free(got);
            call_free(&c);
        }
        /* a [B, S] mask with a cache: the cached positions count as attended */
        if (!hasm) {
            op_call c;
            attn_setup(&c, heads, true, 0);
            c.kv_cache = true;
            c.max_pos = maxp;
            int64_t d1[3] = { B, S - 1, H }, d2[3] = { B, 1, H }, dm1[2] = { B, 1 };
            float *q1 = malloc((size_t)(B * S * H) * sizeof(float)), *k1 = malloc((size_t)(B * S * H) * sizeof(float)),
                  *v1 = malloc((size_t)(B * S * H) * sizeof(float));
            for (int64_t b = 0; b < B; b++) {   /* batch-major: [B, S-1, H] then [B, 1, H] */
                memcpy(q1 + b * (S - 1) * H, q + b * S * H, (size_t)((S - 1) * H) * sizeof(float));
                memcpy(k1 + b * (S - 1) * H, kk + b * S * H, (size_t)((S - 1) * H) * sizeof(float));
                memcpy(v1 + b * (S - 1) * H, vv + b * S * H, (size_t)((S - 1) * H) * sizeof(float));
                memcpy(q1 + B * (S - 1) * H + b * H, q + (b * S + S - 1) * H, (size_t)H * sizeof(float));
                memcpy(k1 + B * (S - 1) * H + b * H, kk + (b * S + S - 1) * H, (size_t)H * sizeof(float));
                memcpy(v1 + B * (S - 1) * H + b * H, vv + (b * S + S - 1) * H, (size_t)H * sizeof(float));
            }
            sk_rtensor Qa = rt(SK_DT_F32, 3, d1, q1), Ka = rt(SK_DT_F32, 3, d1, k1), Va = rt(SK_DT_F32, 3, d1, v1);
            c.in[0] = &Qa; c.in[1] = &Ka; c.in[2] = &Va; c.in[3] = NULL; c.n_in = 4;
            CHECK(call_run(&c) == SK_OK);
            int64_t ones[4] = { 1, 1, 1, 1 };
            sk_rtensor Qb = rt(SK_DT_F32, 3, d2, q1 + B * (S - 1) * H), Kb = rt(SK_DT_F32, 3, d2, k1 + B * (S - 1) * H),
                       Vb = rt(SK_DT_F32, 3, d2, v1 + B * (S - 1) * H), Mb = rt(SK_DT_I64, 2, dm1, ones);
            c.in[0] = &Qb; c.in[1] = &Kb; c.in[2] = &Vb; c.in[3] = &Mb;
            c.past = S - 1;
            CHECK(call_run(&c) == SK_OK);
            double Rl[512];
            float gl[512];
            for (int64_t b = 0; b < B; b++)
                for (int64_t j = 0; j < H; j++) {
                    Rl[b * H + j] = ref[(b * S + S - 1) * H + j];
                    gl[b * H + j] = ((float *)c.out[0].data)[b * H + j];
                }
            cmp(&ek, gl, Rl, B * H);
            free(q1); free(k1); free(v1);
            call_free(&c);
        }
        free(Rd); free(q); free(kk); free(vv); free(mask);
        call_free(&full);
    }
    report(&ek);

    /* bad shapes name the node */
    op_call c;
    attn_setup(&c, 5, false, 0);
    int64_t d[3] = { 1, 4, 12 };
    sk_rtensor Q = rt(SK_DT_F32, 3, d, NULL);
    c.in[0] = c.in[1] = c.in[2] = &Q; c.n_in = 3;
    CHECK(call_run(&c) == SK_ERR_INVALID && strstr(sk_errmsg(), "attn") && strstr(sk_errmsg(), "num_heads"));
    printf("  error: %s\n", sk_errmsg());
    call_free(&c);
}

/* ================= timings (printed, not checked) ================= */
static void bench(void)
{
    if (!pool || sk_pool_size(pool) < 2) return;
    op_call c;
    call_init(&c, SK_OP_LINEAR, "lin");
    int64_t dx[2] = { 128, 768 }, dw[2] = { 3072, 768 }, db[1] = { 3072 };
    sk_rtensor X = rt(SK_DT_F32, 2, dx, fbuf(128 * 768, 1)), W = rt(SK_DT_F32, 2, dw, fbuf(3072 * 768, 1)),
               Bb = rt(SK_DT_F32, 1, db, fbuf(3072, 1));
    c.in[0] = &X; c.in[1] = &W; c.in[2] = &Bb; c.n_in = 3;
    printf("time: LINEAR [128,768]x[3072,768]^T +bias      %.3f ms\n", time_kernel(&c, 50));
    sk_node_set_s(&c.node, "act", "gelu");
    printf("time: LINEAR [128,768]x[3072,768]^T +bias gelu %.3f ms\n", time_kernel(&c, 50));
    W.is_const = true;   /* packed once (pgemm.c) */
    printf("time: LINEAR packed W                 +bias gelu %.3f ms\n", time_kernel(&c, 50));
    sk_node_set_s(&c.node, "act", "");
    printf("time: LINEAR packed W                 +bias      %.3f ms\n", time_kernel(&c, 50));
    free(X.data); free(W.data); free(Bb.data);
    call_free(&c);

    call_init(&c, SK_OP_GELU, "gelu");
    int64_t dg[2] = { 128, 3072 };
    sk_rtensor G = rt(SK_DT_F32, 2, dg, fbuf(128 * 3072, 3));
    c.in[0] = &G; c.n_in = 1;
    printf("time: GELU erf  [128,3072]                     %.3f ms\n", time_kernel(&c, 100));
    sk_node_set_s(&c.node, "approximate", "tanh");
    printf("time: GELU tanh [128,3072]                     %.3f ms\n", time_kernel(&c, 100));
    free(G.data);
    call_free(&c);

    attn_setup(&c, 12, false, 0);
    int64_t dq[3] = { 1, 128, 768 };
    sk_rtensor Q = rt(SK_DT_F32, 3, dq, fbuf(128 * 768, 1)), Kt = rt(SK_DT_F32, 3, dq, fbuf(128 * 768, 1)),
               V = rt(SK_DT_F32, 3, dq, fbuf(128 * 768, 1));
    c.in[0] = &Q; c.in[1] = &Kt; c.in[2] = &V; c.n_in = 3;
    printf("time: ATTENTION B=1 S=128 H=768 heads=12       %.3f ms\n", time_kernel(&c, 200));
    free(Q.data); free(Kt.data); free(V.data);
    call_free(&c);

    call_init(&c, SK_OP_LAYERNORM, "ln");
    int64_t dl[2] = { 128, 768 }, dv[1] = { 768 };
    sk_rtensor L = rt(SK_DT_F32, 2, dl, fbuf(128 * 768, 1)), Gm = rt(SK_DT_F32, 1, dv, fbuf(768, 1)),
               Bt = rt(SK_DT_F32, 1, dv, fbuf(768, 1));
    c.in[0] = &L; c.in[1] = &Gm; c.in[2] = &Bt; c.n_in = 3;
    printf("time: LAYERNORM [128,768]                      %.3f ms\n", time_kernel(&c, 200));
    free(L.data); free(Gm.data); free(Bt.data);
    call_free(&c);
    printf("time: (best of N runs, %d threads; a loaded machine inflates these)\n", sk_pool_size(pool));
}

int main(int argc, char **argv)
{
    (void)argc;
    const sk_cpu *cpu = sk_cpu_get();
    const char *isa = getenv("SHRINK_ISA");
    printf("kernels_b: ISA %s\n", cpu->avx512f ? "avx512" : cpu->avx2 ? "avx2" : "scalar");
    pool = sk_pool_new(2);
    test_sgemm_small();
    test_matmul();
    test_gemm();
    test_pgemm();
    test_linear();
    test_act();
    test_norm();
    test_conv();
    test_pool();
    test_rnn();
    test_attention();
    if (!isa) bench();
    sk_pool_free(pool);
    printf("%d checks, %d failed\n", checks, fails);
    if (!isa) {   /* the same checks on the slower paths */
        static const char *isas[] = { "avx2", "scalar" };
        for (int i = 0; i < 2; i++) {
            if (!strcmp(isas[i], "avx2") && !cpu->avx2) continue;
            char cmd[4200];
            snprintf(cmd, sizeof cmd, "SHRINK_ISA=%s '%s'", isas[i], argv[0]);
            printf("---- re-running with SHRINK_ISA=%s\n", isas[i]);
            fflush(stdout);
            int rc = system(cmd);
            if (rc != 0) { printf("FAIL: SHRINK_ISA=%s run failed\n", isas[i]); fails++; }
        }
    }
    return fails ? 1 : 0;
}
