/* test_kernels_a.c — shape functions and kernels of the plumbing, elementwise
 * and reduction ops (shape_ops.c, eltwise.c, reduce.c).
 *
 * Each case builds the runtime tensors and a node by hand, runs the shape
 * function and then the kernel, and compares with a reference: small cases
 * against values worked out by hand, larger ones (broadcasting, transposes,
 * threaded paths) against naive loops in double written here independently
 * of the kernels.  Error cases check the status and that the message names
 * the node.  Prints the worst absolute error per op; exits 1 on any failure.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "runtime/runtime.h"

static int fails;
#define CHECK(c) do { if (!(c)) { printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #c); fails++; } } while (0)
#define DIMS(...) ((const int64_t[]){__VA_ARGS__})

static sk_pool *pool;   /* two threads, for the paths that split work */

/* ---- worst error per op ---- */
static struct { const char *op; double worst; int checks; } stats[64];
static int n_stats;

static void rec(const char *op, double err)
{
    int i = 0;
    while (i < n_stats && strcmp(stats[i].op, op)) i++;
    if (i == n_stats) { stats[n_stats].op = op; stats[n_stats].worst = 0; stats[n_stats++].checks = 0; }
    if (err > stats[i].worst || err != err) stats[i].worst = err;
    stats[i].checks++;
}

/* ---- a node with its tensors ---- */
typedef struct {
    sk_node node;
    sk_rtensor in[6], out[4];
    sk_rtensor *pin[6], *pout[4];
    int n_in;
} tc;

static void tc_init(tc *t, sk_op op, const char *name)
{
    memset(t, 0, sizeof *t);
    t->node.op = op;
    t->node.name = (char *)name;
}

static sk_rtensor *tc_in(tc *t, sk_dtype dt, int rank, const int64_t *dims, const void *data, bool is_const)
{
    sk_rtensor *r = &t->in[t->n_in];
    sk_rt_set_shape(r, dt, rank, dims);
    r->data = (void *)data;
    r->nbytes = (size_t)sk_rt_numel(r) * sk_dtype_info(dt)->block_bytes;
    r->is_const = is_const;
    t->pin[t->n_in++] = r;
    return r;
}

static void tc_absent(tc *t) { t->pin[t->n_in++] = NULL; }

/* Shape function, then (if it succeeded) the kernel on fresh outputs filled with 0xcd. */
static sk_status tc_run(tc *t, int n_out)
{
    sk_kctx k = {0};
    for (int i = 0; i < n_out; i++) t->pout[i] = &t->out[i];
    k.node = &t->node;
    k.in = t->pin;
    k.n_in = t->n_in;
    k.out = t->pout;
    k.n_out = n_out;
    k.pool = pool;
    sk_status st = sk_shape_table[t->node.op](&k);
    if (st) return st;
    for (int i = 0; i < n_out; i++) {
        sk_rtensor *o = &t->out[i];
        CHECK(sk_dtype_nbytes(o->dtype, sk_rt_numel(o), &o->nbytes));
        o->data = sk_aligned_alloc(64, o->nbytes + 64);
        memset(o->data, 0xcd, o->nbytes + 64);
    }
    void *scratch = k.scratch_need ? sk_aligned_alloc(64, k.scratch_need) : NULL;
    k.scratch = scratch;
    st = sk_kern_table[t->node.op](&k);
    sk_free(scratch);
    for (int i = 0; i < n_out; i++) {   /* nothing written past the end */
        const unsigned char *p = (const unsigned char *)t->out[i].data + t->out[i].nbytes;
        for (int j = 0; j < 64; j++) CHECK(p[j] == 0xcd);
    }
    return st;
}

static void tc_free(tc *t)
{
    for (int i = 0; i < 4; i++) sk_free(t->out[i].data);
    for (int i = 0; i < t->node.n_attrs; i++) {
        sk_attr *a = &t->node.attrs[i];
        sk_free(a->name); sk_free(a->s); sk_free(a->ints); sk_free(a->floats);
    }
    sk_free(t->node.attrs);
    memset(t, 0, sizeof *t);
}

static bool same_dims(const sk_rtensor *r, int rank, const int64_t *dims)
{
    if (r->rank != rank) return false;
    for (int i = 0; i < rank; i++) if (r->dims[i] != dims[i]) return false;
    return true;
}

/* The status is st and the message names the node. */
static void expect_err(sk_status got, sk_status want, const char *node, const char *what)
{
    CHECK(got == want);
    CHECK(strstr(sk_errmsg(), node) != NULL);
    if (what) CHECK(strstr(sk_errmsg(), what) != NULL);
    if (got != want || !strstr(sk_errmsg(), node)) printf("    got %d: %s\n", (int)got, sk_errmsg());
    rec("errors", 0);
}

/* max |got - ref| over n floats; NaN must match NaN, inf must match exactly */
static double cmp_f(const char *op, const float *got, const double *ref, int64_t n, double tol)
{
    double w = 0;
    for (int64_t i = 0; i < n; i++) {
        double g = got[i], r = ref[i], e;
        if (isnan(r) || isnan(g)) e = isnan(r) && isnan(g) ? 0 : INFINITY;
        else if (isinf(r) || isinf(g)) e = g == r ? 0 : INFINITY;
        else e = fabs(g - r);
        if (e > w) w = e;
    }
    rec(op, w);
    if (!(w <= tol)) printf("    %s: worst error %g > %g\n", op, w, tol);
    CHECK(w <= tol);
    return w;
}

/* exact comparison of an integer (or bool) output */
static void cmp_i(const char *op, const sk_rtensor *got, const int64_t *ref, int64_t n)
{
    int64_t bad = 0;
    for (int64_t i = 0; i < n; i++)
        if (sk_rt_get_i(got, i) != ref[i]) {
            if (!bad) printf("    %s: element %lld is %lld, expected %lld\n", op, (long long)i,
                             (long long)sk_rt_get_i(got, i), (long long)ref[i]);
            bad++;
        }
    rec(op, bad ? 1 : 0);
    CHECK(bad == 0);
}

static void cmp_fv(const char *op, const sk_rtensor *got, const float *ref, int64_t n)
{
    double *r = malloc((size_t)(n ? n : 1) * sizeof *r);
    for (int64_t i = 0; i < n; i++) r[i] = ref[i];
    cmp_f(op, got->data, r, n, 0);
    free(r);
}

static uint64_t rng = 88172645463325252ull;
static double urand(void)   /* xorshift64, uniform in [0, 1) */
{
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}
static float frand(float lo, float hi) { return lo + (hi - lo) * (float)urand(); }

static int64_t numel(int rank, const int64_t *d)
{
    int64_t n = 1;
    for (int i = 0; i < rank; i++) n *= d[i];
    return n;
}

/* Offset in a (rank ra, dims da) tensor broadcast to out of rank r: the naive way. */
static int64_t bc_off(int64_t lin, int r, const int64_t *od, int ra, const int64_t *da)
{
    int64_t idx[SK_MAX_RANK], off = 0, st = 1;
    for (int d = r - 1; d >= 0; d--) { idx[d] = lin % od[d]; lin /= od[d]; }
    for (int d = ra - 1; d >= 0; d--) {
        int od_i = d + (r - ra);
        off += (da[d] == 1 ? 0 : idx[od_i]) * st;
        st *= da[d];
    }
    return off;
}

/* ---- identity, dropout ---- */
static void test_identity_dropout(void)
{
    float x[6] = {1, -2, 3.5f, 4, 5, -6};
    tc t;
    tc_init(&t, SK_OP_IDENTITY, "id0");
    tc_in(&t, SK_DT_F32, 2, DIMS(2, 3), x, false);
    CHECK(tc_run(&t, 1) == SK_OK);
    CHECK(same_dims(&t.out[0], 2, DIMS(2, 3)));
    cmp_fv("Identity", &t.out[0], x, 6);
    tc_free(&t);

    tc_init(&t, SK_OP_DROPOUT, "drop0");
    tc_in(&t, SK_DT_F32, 2, DIMS(2, 3), x, false);
    CHECK(tc_run(&t, 2) == SK_OK);
    cmp_fv("Dropout", &t.out[0], x, 6);
    CHECK(t.out[1].dtype == SK_DT_BOOL && same_dims(&t.out[1], 2, DIMS(2, 3)));
    cmp_i("Dropout", &t.out[1], (int64_t[]){1, 1, 1, 1, 1, 1}, 6);
    tc_free(&t);

    uint8_t on = 1;
    float ratio = 0.5f;
    tc_init(&t, SK_OP_DROPOUT, "drop_train");
    tc_in(&t, SK_DT_F32, 2, DIMS(2, 3), x, false);
    tc_in(&t, SK_DT_F32, 0, NULL, &ratio, true);
    tc_in(&t, SK_DT_BOOL, 0, NULL, &on, true);
    expect_err(tc_run(&t, 1), SK_ERR_UNSUPPORTED, "drop_train", "training_mode");
    tc_free(&t);
}

/* ---- Cast ---- */
static void test_cast(void)
{
    tc t;
    float xf[7] = {-1.7f, 2.9f, 0.0f, -0.0f, 1e9f, 65504.0f, 1.00048828125f};
    /* f32 → i64: truncation toward zero */
    tc_init(&t, SK_OP_CAST, "cast_f_l");
    sk_node_set_i(&t.node, "to", 7);
    tc_in(&t, SK_DT_F32, 1, DIMS(7), xf, false);
    CHECK(tc_run(&t, 1) == SK_OK && t.out[0].dtype == SK_DT_I64);
    cmp_i("Cast", &t.out[0], (int64_t[]){-1, 2, 0, 0, 1000000000, 65504, 1}, 7);
    tc_free(&t);
    /* f32 → f16 → f32: 1.00048828125 is halfway between two halves and rounds to even (1.0) */
    tc_init(&t, SK_OP_CAST, "cast_f_h");
    sk_node_set_i(&t.node, "to", 10);
    tc_in(&t, SK_DT_F32, 1, DIMS(7), xf, false);
    CHECK(tc_run(&t, 1) == SK_OK && t.out[0].dtype == SK_DT_F16);
    {
        const uint16_t *h = t.out[0].data;
        CHECK(h[0] == 0xbecd && h[2] == 0 && h[3] == 0x8000 && h[4] == 0x7c00 && h[5] == 0x7bff && h[6] == 0x3c00);
        tc t2;
        tc_init(&t2, SK_OP_CAST, "cast_h_f");
        sk_node_set_i(&t2.node, "to", 1);
        tc_in(&t2, SK_DT_F16, 1, DIMS(7), h, false);
        CHECK(tc_run(&t2, 1) == SK_OK);
        cmp_f("Cast", t2.out[0].data, (double[]){-1.7001953125, 2.900390625, 0, 0, INFINITY, 65504, 1}, 7, 0);
        tc_free(&t2);
    }
    tc_free(&t);
    /* f32 → bool: nonzero and NaN are true */
    float xb[5] = {0.0f, -0.0f, 2.5f, NAN, -1e-30f};
    tc_init(&t, SK_OP_CAST, "cast_f_b");
    sk_node_set_i(&t.node, "to", 9);
    tc_in(&t, SK_DT_F32, 1, DIMS(5), xb, false);
    CHECK(tc_run(&t, 1) == SK_OK && t.out[0].dtype == SK_DT_BOOL);
    cmp_i("Cast", &t.out[0], (int64_t[]){0, 0, 1, 1, 1}, 5);
    tc_free(&t);
    /* i64 → i32 wraps; i64 → f32; i64 → bool; bool → f32 */
    int64_t xl[4] = {(1ll << 33) + 5, -3, 0, 16777217};
    tc_init(&t, SK_OP_CAST, "cast_l_i");
    sk_node_set_i(&t.node, "to", 6);
    tc_in(&t, SK_DT_I64, 1, DIMS(4), xl, false);
    CHECK(tc_run(&t, 1) == SK_OK && t.out[0].dtype == SK_DT_I32);
    cmp_i("Cast", &t.out[0], (int64_t[]){5, -3, 0, 16777217}, 4);
    tc_free(&t);
    tc_init(&t, SK_OP_CAST, "cast_l_f");
    sk_node_set_i(&t.node, "to", 1);
    tc_in(&t, SK_DT_I64, 1, DIMS(4), xl, false);
    CHECK(tc_run(&t, 1) == SK_OK);
    cmp_f("Cast", t.out[0].data, (double[]){8589934597.0f, -3, 0, 16777216}, 4, 0);
    tc_free(&t);
    tc_init(&t, SK_OP_CAST, "cast_l_b");
    sk_node_set_i(&t.node, "to", 9);
    tc_in(&t, SK_DT_I64, 1, DIMS(4), xl, false);
    CHECK(tc_run(&t, 1) == SK_OK);
    cmp_i("Cast", &t.out[0], (int64_t[]){1, 1, 0, 1}, 4);
    tc_free(&t);
    uint8_t bb[3] = {1, 0, 1};
    tc_init(&t, SK_OP_CAST, "cast_b_f");
    sk_node_set_i(&t.node, "to", 1);
    tc_in(&t, SK_DT_BOOL, 1, DIMS(3), bb, false);
    CHECK(tc_run(&t, 1) == SK_OK);
    cmp_f("Cast", t.out[0].data, (double[]){1, 0, 1}, 3, 0);
    tc_free(&t);
    /* u8 → i8 wraps; f64 → f32 rounds; f32 → bf16 rounds to nearest even; f32 → u8 */
    uint8_t xu[3] = {200, 127, 0};
    tc_init(&t, SK_OP_CAST, "cast_u_s");
    sk_node_set_i(&t.node, "to", 3);
    tc_in(&t, SK_DT_U8, 1, DIMS(3), xu, false);
    CHECK(tc_run(&t, 1) == SK_OK);
    cmp_i("Cast", &t.out[0], (int64_t[]){-56, 127, 0}, 3);
    tc_free(&t);
    double xd[2] = {0.1, -1e300};
    tc_init(&t, SK_OP_CAST, "cast_d_f");
    sk_node_set_i(&t.node, "to", 1);
    tc_in(&t, SK_DT_F64, 1, DIMS(2), xd, false);
    CHECK(tc_run(&t, 1) == SK_OK);
    cmp_f("Cast", t.out[0].data, (double[]){0.1f, -INFINITY}, 2, 0);
    tc_free(&t);
    float xbf[3] = {1.00390625f, 1.01171875f, -2.0f};   /* 1 + 2^-8 ties to 1.0; 1 + 3·2^-8 ties up to 1 + 2^-6 */
    tc_init(&t, SK_OP_CAST, "cast_f_bf");
    sk_node_set_i(&t.node, "to", 16);
    tc_in(&t, SK_DT_F32, 1, DIMS(3), xbf, false);
    CHECK(tc_run(&t, 1) == SK_OK && t.out[0].dtype == SK_DT_BF16);
    {
        const uint16_t *h = t.out[0].data;
        CHECK(h[0] == 0x3f80 && h[1] == 0x3f82 && h[2] == 0xc000);
        rec("Cast", h[0] == 0x3f80 && h[1] == 0x3f82 && h[2] == 0xc000 ? 0 : 1);
    }
    tc_free(&t);
    float xu8[3] = {3.7f, 255.0f, 0.2f};
    tc_init(&t, SK_OP_CAST, "cast_f_u8");
    sk_node_set_i(&t.node, "to", 2);
    tc_in(&t, SK_DT_F32, 1, DIMS(3), xu8, false);
    CHECK(tc_run(&t, 1) == SK_OK);
    cmp_i("Cast", &t.out[0], (int64_t[]){3, 255, 0}, 3);
    tc_free(&t);
    /* to = 8 (string) is not supported */
    tc_init(&t, SK_OP_CAST, "cast_str");
    sk_node_set_i(&t.node, "to", 8);
    tc_in(&t, SK_DT_F32, 1, DIMS(3), xu8, false);
    expect_err(tc_run(&t, 1), SK_ERR_UNSUPPORTED, "cast_str", NULL);
    tc_free(&t);
    /* large, threaded: i64 → f32 */
    int64_t n = 100000;
    int64_t *big = malloc((size_t)n * sizeof *big);
    double *ref = malloc((size_t)n * sizeof *ref);
    for (int64_t i = 0; i < n; i++) { big[i] = i * 37 - 5000; ref[i] = (float)big[i]; }
    tc_init(&t, SK_OP_CAST, "cast_big");
    sk_node_set_i(&t.node, "to", 1);
    tc_in(&t, SK_DT_I64, 2, DIMS(100, 1000), big, false);
    CHECK(tc_run(&t, 1) == SK_OK);
    cmp_f("Cast", t.out[0].data, ref, n, 0);
    tc_free(&t);
    free(big);
    free(ref);
}

/* ---- Shape, Gather ---- */
static void test_shape_gather(void)
{
    tc t;
    tc_init(&t, SK_OP_SHAPE, "shape0");
    tc_in(&t, SK_DT_F32, 3, DIMS(2, 3, 4), NULL, false);   /* Shape never reads the data */
    CHECK(tc_run(&t, 1) == SK_OK && t.out[0].dtype == SK_DT_I64 && same_dims(&t.out[0], 1, DIMS(3)));
    cmp_i("Shape", &t.out[0], (int64_t[]){2, 3, 4}, 3);
    tc_free(&t);
    tc_init(&t, SK_OP_SHAPE, "shape1");
    sk_node_set_i(&t.node, "start", 1);
    sk_node_set_i(&t.node, "end", -1);
    tc_in(&t, SK_DT_F32, 3, DIMS(2, 3, 4), NULL, false);
    CHECK(tc_run(&t, 1) == SK_OK && same_dims(&t.out[0], 1, DIMS(1)));
    cmp_i("Shape", &t.out[0], (int64_t[]){3}, 1);
    tc_free(&t);

    float x[6] = {1, 2, 3, 4, 5, 6};   /* [3, 2] */
    int64_t ix[2] = {2, -3};
    tc_init(&t, SK_OP_GATHER, "gather0");
    tc_in(&t, SK_DT_F32, 2, DIMS(3, 2), x, false);
    tc_in(&t, SK_DT_I64, 1, DIMS(2), ix, false);
    CHECK(tc_run(&t, 1) == SK_OK && same_dims(&t.out[0], 2, DIMS(2, 2)));
    cmp_fv("Gather", &t.out[0], (float[]){5, 6, 1, 2}, 4);
    tc_free(&t);
    /* axis 1, i32 indices [2, 2] → [3, 2, 2] */
    int32_t ix2[4] = {1, 0, -1, 1};
    tc_init(&t, SK_OP_GATHER, "gather1");
    sk_node_set_i(&t.node, "axis", -1);
    tc_in(&t, SK_DT_F32, 2, DIMS(3, 2), x, false);
    tc_in(&t, SK_DT_I32, 2, DIMS(2, 2), ix2, false);
    CHECK(tc_run(&t, 1) == SK_OK && same_dims(&t.out[0], 3, DIMS(3, 2, 2)));
    cmp_fv("Gather", &t.out[0], (float[]){2, 1, 2, 2, 4, 3, 4, 4, 6, 5, 6, 6}, 12);
    tc_free(&t);
    /* scalar index drops the axis; int64 data (shape arithmetic) */
    int64_t shp[3] = {8, 128, 768}, one = 1;
    tc_init(&t, SK_OP_GATHER, "gather_scalar");
    tc_in(&t, SK_DT_I64, 1, DIMS(3), shp, true);
    tc_in(&t, SK_DT_I64, 0, NULL, &one, true);
    CHECK(tc_run(&t, 1) == SK_OK && t.out[0].rank == 0 && t.out[0].dtype == SK_DT_I64);
    cmp_i("Gather", &t.out[0], (int64_t[]){128}, 1);
    tc_free(&t);
    /* out of range: constant indices fail in the shape function, others in the kernel */
    int64_t bad[2] = {0, 3}, bad2[1] = {-4};
    tc_init(&t, SK_OP_GATHER, "gather_oob");
    tc_in(&t, SK_DT_F32, 2, DIMS(3, 2), x, false);
    tc_in(&t, SK_DT_I64, 1, DIMS(2), bad, true);
    expect_err(tc_run(&t, 1), SK_ERR_INVALID, "gather_oob", "index 3 out of range");
    tc_free(&t);
    tc_init(&t, SK_OP_GATHER, "gather_oob2");
    tc_in(&t, SK_DT_F32, 2, DIMS(3, 2), x, false);
    tc_in(&t, SK_DT_I64, 1, DIMS(1), bad2, false);
    expect_err(tc_run(&t, 1), SK_ERR_INVALID, "gather_oob2", "index -4");
    tc_free(&t);
    tc_init(&t, SK_OP_GATHER, "gather_axis");
    sk_node_set_i(&t.node, "axis", 2);
    tc_in(&t, SK_DT_F32, 2, DIMS(3, 2), x, false);
    tc_in(&t, SK_DT_I64, 1, DIMS(2), ix, false);
    expect_err(tc_run(&t, 1), SK_ERR_INVALID, "gather_axis", "axis");
    tc_free(&t);
    /* embedding lookup, big enough to be threaded */
    int64_t V = 500, H = 96, N = 2048;
    float *emb = malloc((size_t)(V * H) * sizeof *emb);
    int64_t *ids = malloc((size_t)N * sizeof *ids);
    double *ref = malloc((size_t)(N * H) * sizeof *ref);
    for (int64_t i = 0; i < V * H; i++) emb[i] = frand(-1, 1);
    for (int64_t i = 0; i < N; i++) ids[i] = (int64_t)(urand() * (double)(2 * V)) - V;
    for (int64_t i = 0; i < N; i++)
        for (int64_t h = 0; h < H; h++) ref[i * H + h] = emb[(ids[i] < 0 ? ids[i] + V : ids[i]) * H + h];
    tc_init(&t, SK_OP_GATHER, "gather_big");
    tc_in(&t, SK_DT_F32, 2, DIMS(V, H), emb, true);
    tc_in(&t, SK_DT_I64, 2, DIMS(16, 128), ids, false);
    CHECK(tc_run(&t, 1) == SK_OK && same_dims(&t.out[0], 3, DIMS(16, 128, 96)));
    cmp_f("Gather", t.out[0].data, ref, N * H, 0);
    tc_free(&t);
    free(emb); free(ids); free(ref);
}

/* ---- quantized Gather (ir.h): an i8 / q4 table with scales (and zeros), rows dequantized ---- */
typedef struct {
    int bits;
    int64_t V, H, group, G;
    int8_t *q8;        /* [V, H] */
    uint8_t *q4;       /* [V, H] flat nibbles */
    float *sc;         /* [V, G] */
    uint8_t *z;        /* [V, G] or NULL */
} qtab;

static qtab qtab_make(int bits, int64_t V, int64_t H, int64_t group, bool zeros)
{
    qtab t = {bits, V, H, group, (H + group - 1) / group, NULL, NULL, NULL, NULL};
    if (bits == 8) t.q8 = malloc((size_t)(V * H));
    else t.q4 = calloc((size_t)(V * H + 1) / 2, 1);
    t.sc = malloc((size_t)(V * t.G) * sizeof *t.sc);
    if (zeros) t.z = malloc((size_t)(V * t.G));
    for (int64_t e = 0; e < V * H; e++) {
        int c = (int)(urand() * (bits == 8 ? 255 : 16));
        if (bits == 8) t.q8[e] = (int8_t)(c - 127);
        else t.q4[e / 2] |= (uint8_t)(c << (4 * (e % 2)));
    }
    for (int64_t i = 0; i < V * t.G; i++) {
        t.sc[i] = frand(0.001f, 0.1f);
        if (zeros) t.z[i] = (uint8_t)(urand() * 16);
    }
    return t;
}

static void qtab_free(qtab *t) { free(t->q8); free(t->q4); free(t->sc); free(t->z); }

/* out[i, h] = scale·(code − zero), as ir.h writes it (float arithmetic: the kernel must match bit for bit) */
static double *qtab_ref(const qtab *t, const int64_t *ids, int64_t n)
{
    double *r = malloc((size_t)(n * t->H) * sizeof *r);
    for (int64_t i = 0; i < n; i++) {
        int64_t v = ids[i] < 0 ? ids[i] + t->V : ids[i];
        for (int64_t h = 0; h < t->H; h++) {
            int64_t e = v * t->H + h, g = h / t->group;
            int code = t->bits == 8 ? t->q8[e] : (t->q4[e / 2] >> (4 * (e % 2))) & 15;
            int z = t->bits == 8 ? 0 : t->z ? t->z[v * t->G + g] : 8;
            r[i * t->H + h] = t->sc[v * t->G + g] * (float)(code - z);
        }
    }
    return r;
}

/* Set up node + inputs for table t; scales as [V] when rank1_scales. */
static void qtab_tc(tc *c, const char *name, const qtab *t, const void *ids, sk_dtype idt, int irank, const int64_t *idims,
                    bool ids_const, bool rank1_scales)
{
    tc_init(c, SK_OP_GATHER, name);
    sk_node_set_i(&c->node, "bits", t->bits);
    if (t->H % t->G) sk_node_set_i(&c->node, "group", t->group);   /* else implied by the scales */
    tc_in(c, t->bits == 8 ? SK_DT_I8 : SK_DT_Q4, 2, DIMS(t->V, t->H), t->bits == 8 ? (void *)t->q8 : (void *)t->q4, true);
    tc_in(c, idt, irank, idims, ids, ids_const);
    if (rank1_scales) tc_in(c, SK_DT_F32, 1, DIMS(t->V), t->sc, true);
    else tc_in(c, SK_DT_F32, 2, DIMS(t->V, t->G), t->sc, true);
    if (t->z) tc_in(c, SK_DT_U8, 2, DIMS(t->V, t->G), t->z, true);
}

static void test_qgather(void)
{
    static const struct { int bits; int64_t V, H, group; bool zeros, rank1; const char *what; } cases[] = {
        {8, 5, 7, 7, false, true, "int8 per row, odd width"},
        {8, 6, 7, 3, false, false, "int8, groups of 3 over 7 (last one 1 wide)"},
        {4, 6, 7, 4, true, false, "int4 asym, odd width (rows start mid-byte), last group 3 wide"},
        {4, 4, 10, 4, false, false, "int4 sym (zero 8), last group 2 wide"},
        {4, 3, 16, 16, true, false, "int4 asym, one group a row"},
        {4, 9, 33, 128, true, false, "int4, group wider than the row"},
    };
    int64_t ids[6] = {0, 2, -1, 1, 2, -2};
    int32_t ids32[6] = {0, 2, -1, 1, 2, -2};
    tc t;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        qtab q = qtab_make(cases[i].bits, cases[i].V, cases[i].H, cases[i].group, cases[i].zeros);
        double *ref = qtab_ref(&q, ids, 6);
        for (int it = 0; it < 2; it++) {   /* i64 ids [2, 3] constant, i32 ids [6] at run time */
            qtab_tc(&t, "qgather", &q, it ? (void *)ids32 : (void *)ids, it ? SK_DT_I32 : SK_DT_I64, it ? 1 : 2,
                    it ? DIMS(6) : DIMS(2, 3), !it, cases[i].rank1);
            sk_status st = tc_run(&t, 1);
            CHECK(st == SK_OK && t.out[0].dtype == SK_DT_F32);
            CHECK(it ? same_dims(&t.out[0], 2, DIMS(6, cases[i].H)) : same_dims(&t.out[0], 3, DIMS(2, 3, cases[i].H)));
            if (st) printf("    %s: %s\n", cases[i].what, sk_errmsg());
            else cmp_f("QGather", t.out[0].data, ref, 6 * cases[i].H, 0);
            tc_free(&t);
        }
        free(ref);
        qtab_free(&q);
    }
    /* big enough to be threaded */
    qtab q = qtab_make(4, 300, 64, 32, true);
    int64_t N = 2048, *big = malloc((size_t)N * sizeof *big);
    for (int64_t i = 0; i < N; i++) big[i] = (int64_t)(urand() * 600) - 300;
    double *ref = qtab_ref(&q, big, N);
    qtab_tc(&t, "qgather_big", &q, big, SK_DT_I64, 2, DIMS(16, 128), false, false);
    CHECK(tc_run(&t, 1) == SK_OK && same_dims(&t.out[0], 3, DIMS(16, 128, 64)));
    cmp_f("QGather", t.out[0].data, ref, N * 64, 0);
    tc_free(&t);
    free(ref);
    free(big);
    qtab_free(&q);

    /* errors, as the plain Gather: out of range (shape function when constant, else kernel), and bad inputs */
    q = qtab_make(4, 6, 7, 4, true);
    int64_t oob[2] = {0, 6}, oob2[1] = {-7};
    qtab_tc(&t, "qgather_oob", &q, oob, SK_DT_I64, 1, DIMS(2), true, false);
    expect_err(tc_run(&t, 1), SK_ERR_INVALID, "qgather_oob", "index 6 out of range");
    tc_free(&t);
    qtab_tc(&t, "qgather_oob2", &q, oob2, SK_DT_I64, 1, DIMS(1), false, false);
    expect_err(tc_run(&t, 1), SK_ERR_INVALID, "qgather_oob2", "index -7 out of range");
    tc_free(&t);
    qtab_tc(&t, "qgather_group", &q, ids, SK_DT_I64, 1, DIMS(2), false, false);
    sk_node_set_i(&t.node, "group", 2);   /* 4 groups a row, but scales have 2 */
    expect_err(tc_run(&t, 1), SK_ERR_INVALID, "qgather_group", "group 2 does not fit");
    tc_free(&t);
    q.z[3] = 16;
    qtab_tc(&t, "qgather_zero", &q, ids, SK_DT_I64, 1, DIMS(2), false, false);
    expect_err(tc_run(&t, 1), SK_ERR_INVALID, "qgather_zero", "zero point 16");
    tc_free(&t);
    q.z[3] = 15;
    qtab_tc(&t, "qgather_short", &q, ids, SK_DT_I64, 1, DIMS(2), false, false);
    t.in[0].nbytes = 20;   /* q4 [6, 7] needs 21 */
    expect_err(tc_run(&t, 1), SK_ERR_INVALID, "qgather_short", "has 20 bytes, 21 needed");
    tc_free(&t);
    qtab_tc(&t, "qgather_axis", &q, ids, SK_DT_I64, 1, DIMS(2), false, false);
    sk_node_set_i(&t.node, "axis", 1);
    expect_err(tc_run(&t, 1), SK_ERR_UNSUPPORTED, "qgather_axis", "axis 1");
    tc_free(&t);
    qtab_tc(&t, "qgather_bits", &q, ids, SK_DT_I64, 1, DIMS(2), false, false);
    sk_node_set_i(&t.node, "bits", 8);
    expect_err(tc_run(&t, 1), SK_ERR_INVALID, "qgather_bits", "bits is 8 but the table is q4");
    tc_free(&t);
    float f[42] = {0};
    tc_init(&t, SK_OP_GATHER, "qgather_f32");
    tc_in(&t, SK_DT_F32, 2, DIMS(6, 7), f, true);
    tc_in(&t, SK_DT_I64, 1, DIMS(2), ids, false);
    tc_in(&t, SK_DT_F32, 1, DIMS(6), q.sc, true);
    expect_err(tc_run(&t, 1), SK_ERR_UNSUPPORTED, "qgather_f32", "a quantized table is i8 or q4");
    tc_free(&t);
    qtab_free(&q);
    q = qtab_make(8, 6, 7, 7, false);
    uint8_t z8[6] = {0};
    qtab_tc(&t, "qgather_z8", &q, ids, SK_DT_I64, 1, DIMS(2), false, true);
    tc_in(&t, SK_DT_U8, 1, DIMS(6), z8, true);
    expect_err(tc_run(&t, 1), SK_ERR_UNSUPPORTED, "qgather_z8", "zero points with an int8 table");
    tc_free(&t);
    qtab_tc(&t, "qgather_rows", &q, ids, SK_DT_I64, 1, DIMS(2), false, true);
    t.in[2].dims[0] = 5;
    expect_err(tc_run(&t, 1), SK_ERR_INVALID, "qgather_rows", "scales are f32 of rank 1, expected f32 [6]");
    tc_free(&t);
    qtab_free(&q);
}

/* ---- views: Unsqueeze, Squeeze, Reshape, Flatten ---- */
static void test_views(void)
{
    float x[24];
    for (int i = 0; i < 24; i++) x[i] = (float)i;
    tc t;
    /* Unsqueeze, attribute form (opset < 13) */
    tc_init(&t, SK_OP_UNSQUEEZE, "unsq_attr");
    sk_node_set_ints(&t.node, "axes", (int64_t[]){0, -1}, 2);
    tc_in(&t, SK_DT_F32, 2, DIMS(4, 6), x, false);
    CHECK(tc_run(&t, 1) == SK_OK && same_dims(&t.out[0], 4, DIMS(1, 4, 6, 1)));
    cmp_fv("Unsqueeze", &t.out[0], x, 24);
    tc_free(&t);
    /* input form (opset ≥ 13) */
    int64_t ax[2] = {1, 3};
    tc_init(&t, SK_OP_UNSQUEEZE, "unsq_in");
    tc_in(&t, SK_DT_F32, 2, DIMS(4, 6), x, false);
    tc_in(&t, SK_DT_I64, 1, DIMS(2), ax, true);
    CHECK(tc_run(&t, 1) == SK_OK && same_dims(&t.out[0], 4, DIMS(4, 1, 6, 1)));
    tc_free(&t);
    tc_init(&t, SK_OP_UNSQUEEZE, "unsq_dyn");
    tc_in(&t, SK_DT_F32, 2, DIMS(4, 6), x, false);
    tc_in(&t, SK_DT_I64, 1, DIMS(2), ax, false);
    expect_err(tc_run(&t, 1), SK_ERR_UNSUPPORTED, "unsq_dyn", "axes input is not constant at plan time");
    tc_free(&t);
    tc_init(&t, SK_OP_UNSQUEEZE, "unsq_dup");
    sk_node_set_ints(&t.node, "axes", (int64_t[]){1, -3}, 2);
    tc_in(&t, SK_DT_F32, 2, DIMS(4, 6), x, false);
    expect_err(tc_run(&t, 1), SK_ERR_INVALID, "unsq_dup", "repeated");
    tc_free(&t);
    tc_init(&t, SK_OP_UNSQUEEZE, "unsq_oob");
    sk_node_set_ints(&t.node, "axes", (int64_t[]){3}, 1);
    tc_in(&t, SK_DT_F32, 2, DIMS(4, 6), x, false);
    expect_err(tc_run(&t, 1), SK_ERR_INVALID, "unsq_oob", "out of range");
    tc_free(&t);
    /* Squeeze: all ones, given axes, a non-1 axis */
    tc_init(&t, SK_OP_SQUEEZE, "sq_all");
    tc_in(&t, SK_DT_F32, 4, DIMS(1, 4, 1, 6), x, false);
    CHECK(tc_run(&t, 1) == SK_OK && same_dims(&t.out[0], 2, DIMS(4, 6)));
    cmp_fv("Squeeze", &t.out[0], x, 24);
    tc_free(&t);
    int64_t sax[1] = {-2};
    tc_init(&t, SK_OP_SQUEEZE, "sq_in");
    tc_in(&t, SK_DT_F32, 4, DIMS(1, 4, 1, 6), x, false);
    tc_in(&t, SK_DT_I64, 1, DIMS(1), sax, true);
    CHECK(tc_run(&t, 1) == SK_OK && same_dims(&t.out[0], 3, DIMS(1, 4, 6)));
    tc_free(&t);
    tc_init(&t, SK_OP_SQUEEZE, "sq_bad");
    sk_node_set_ints(&t.node, "axes", (int64_t[]){1}, 1);
    tc_in(&t, SK_DT_F32, 4, DIMS(1, 4, 1, 6), x, false);
    expect_err(tc_run(&t, 1), SK_ERR_INVALID, "sq_bad", "size 4");
    tc_free(&t);
    /* Reshape: 0 copies, -1 infers */
    struct { int n; int64_t shape[4]; int rank; int64_t dims[4]; } rs[] = {
        {2, {0, -1}, 2, {2, 12}}, {1, {-1}, 1, {24}}, {3, {4, 0, -1}, 3, {4, 3, 2}}, {4, {1, 2, -1, 4}, 4, {1, 2, 3, 4}},
    };
    for (size_t i = 0; i < sizeof rs / sizeof rs[0]; i++) {
        tc_init(&t, SK_OP_RESHAPE, "reshape0");
        tc_in(&t, SK_DT_F32, 3, DIMS(2, 3, 4), x, false);
        tc_in(&t, SK_DT_I64, 1, DIMS(rs[i].n), rs[i].shape, true);
        CHECK(tc_run(&t, 1) == SK_OK && same_dims(&t.out[0], rs[i].rank, rs[i].dims));
        cmp_fv("Reshape", &t.out[0], x, 24);
        tc_free(&t);
    }
    int64_t s_bad[2] = {5, -1}, s_two[2] = {-1, -1}, s_ok[2] = {6, 4};
    tc_init(&t, SK_OP_RESHAPE, "reshape_bad");
    tc_in(&t, SK_DT_F32, 3, DIMS(2, 3, 4), x, false);
    tc_in(&t, SK_DT_I64, 1, DIMS(2), s_bad, true);
    expect_err(tc_run(&t, 1), SK_ERR_INVALID, "reshape_bad", "-1");
    tc_free(&t);
    tc_init(&t, SK_OP_RESHAPE, "reshape_two");
    tc_in(&t, SK_DT_F32, 3, DIMS(2, 3, 4), x, false);
    tc_in(&t, SK_DT_I64, 1, DIMS(2), s_two, true);
    expect_err(tc_run(&t, 1), SK_ERR_INVALID, "reshape_two", "more than one -1");
    tc_free(&t);
    tc_init(&t, SK_OP_RESHAPE, "reshape_dyn");
    tc_in(&t, SK_DT_F32, 3, DIMS(2, 3, 4), x, false);
    tc_in(&t, SK_DT_I64, 1, DIMS(2), s_ok, false);
    expect_err(tc_run(&t, 1), SK_ERR_UNSUPPORTED, "reshape_dyn", "shape input is not constant at plan time");
    tc_free(&t);
    /* allowzero: a 0 is a real zero */
    int64_t s_zero[2] = {0, 3};
    tc_init(&t, SK_OP_RESHAPE, "reshape_az");
    sk_node_set_i(&t.node, "allowzero", 1);
    tc_in(&t, SK_DT_F32, 2, DIMS(3, 0), x, false);
    tc_in(&t, SK_DT_I64, 1, DIMS(2), s_zero, true);
    CHECK(tc_run(&t, 1) == SK_OK && same_dims(&t.out[0], 2, DIMS(0, 3)));
    tc_free(&t);
    /* Flatten */
    struct { int64_t axis; int64_t d0, d1; } fl[] = {{0, 1, 24}, {1, 2, 12}, {-1, 6, 4}, {3, 24, 1}};
    for (size_t i = 0; i < sizeof fl / sizeof fl[0]; i++) {
        tc_init(&t, SK_OP_FLATTEN, "flat0");
        sk_node_set_i(&t.node, "axis", fl[i].axis);
        tc_in(&t, SK_DT_F32, 3, DIMS(2, 3, 4), x, false);
        CHECK(tc_run(&t, 1) == SK_OK && same_dims(&t.out[0], 2, DIMS(fl[i].d0, fl[i].d1)));
        cmp_fv("Flatten", &t.out[0], x, 24);
        tc_free(&t);
    }
    tc_init(&t, SK_OP_FLATTEN, "flat_bad");
    sk_node_set_i(&t.node, "axis", 4);
    tc_in(&t, SK_DT_F32, 3, DIMS(2, 3, 4), x, false);
    expect_err(tc_run(&t, 1), SK_ERR_INVALID, "flat_bad", "axis 4");
    tc_free(&t);
}

/* ---- Concat, Split ---- */
static void test_concat_split(void)
{
    tc t;
    float a[2] = {1, 2}, b[6] = {3, 4, 5, 6, 7, 8};
    tc_init(&t, SK_OP_CONCAT, "cat0");
    sk_node_set_i(&t.node, "axis", -1);
    tc_in(&t, SK_DT_F32, 2, DIMS(2, 1), a, false);
    tc_in(&t, SK_DT_F32, 2, DIMS(2, 3), b, false);
    tc_in(&t, SK_DT_F32, 2, DIMS(2, 0), NULL, false);   /* empty: GPT-2's first past */
    CHECK(tc_run(&t, 1) == SK_OK && same_dims(&t.out[0], 2, DIMS(2, 4)));
    cmp_fv("Concat", &t.out[0], (float[]){1, 3, 4, 5, 2, 6, 7, 8}, 8);
    tc_free(&t);
    int64_t s1[1] = {8}, s2[2] = {128, 12}, s3[1] = {64};
    tc_init(&t, SK_OP_CONCAT, "cat_shape");
    sk_node_set_i(&t.node, "axis", 0);
    tc_in(&t, SK_DT_I64, 1, DIMS(1), s1, true);
    tc_in(&t, SK_DT_I64, 1, DIMS(2), s2, true);
    tc_in(&t, SK_DT_I64, 1, DIMS(1), s3, true);
    CHECK(tc_run(&t, 1) == SK_OK && same_dims(&t.out[0], 1, DIMS(4)));
    cmp_i("Concat", &t.out[0], (int64_t[]){8, 128, 12, 64}, 4);
    tc_free(&t);
    tc_init(&t, SK_OP_CONCAT, "cat_bad");
    sk_node_set_i(&t.node, "axis", 0);
    tc_in(&t, SK_DT_F32, 2, DIMS(2, 1), a, false);
    tc_in(&t, SK_DT_F32, 2, DIMS(2, 3), b, false);
    expect_err(tc_run(&t, 1), SK_ERR_INVALID, "cat_bad", "dim 1");
    tc_free(&t);
    tc_init(&t, SK_OP_CONCAT, "cat_dt");
    sk_node_set_i(&t.node, "axis", 0);
    tc_in(&t, SK_DT_F32, 1, DIMS(2), a, false);
    tc_in(&t, SK_DT_I64, 1, DIMS(1), s1, false);
    expect_err(tc_run(&t, 1), SK_ERR_INVALID, "cat_dt", "dtype");
    tc_free(&t);

    float x[12];
    for (int i = 0; i < 12; i++) x[i] = (float)i;
    tc_init(&t, SK_OP_SPLIT, "split_eq");
    tc_in(&t, SK_DT_F32, 2, DIMS(6, 2), x, false);
    CHECK(tc_run(&t, 3) == SK_OK);
    for (int i = 0; i < 3; i++) {
        CHECK(same_dims(&t.out[i], 2, DIMS(2, 2)));
        cmp_fv("Split", &t.out[i], x + 4 * i, 4);
    }
    tc_free(&t);
    /* attribute form along the last axis: [3, 4] → [3, 1] + [3, 3] */
    tc_init(&t, SK_OP_SPLIT, "split_attr");
    sk_node_set_i(&t.node, "axis", -1);
    sk_node_set_ints(&t.node, "split", (int64_t[]){1, 3}, 2);
    tc_in(&t, SK_DT_F32, 2, DIMS(3, 4), x, false);
    CHECK(tc_run(&t, 2) == SK_OK && same_dims(&t.out[0], 2, DIMS(3, 1)) && same_dims(&t.out[1], 2, DIMS(3, 3)));
    cmp_fv("Split", &t.out[0], (float[]){0, 4, 8}, 3);
    cmp_fv("Split", &t.out[1], (float[]){1, 2, 3, 5, 6, 7, 9, 10, 11}, 9);
    tc_free(&t);
    int64_t sz[2] = {4, 2}, szbad[2] = {4, 1};
    tc_init(&t, SK_OP_SPLIT, "split_in");
    tc_in(&t, SK_DT_F32, 2, DIMS(6, 2), x, false);
    tc_in(&t, SK_DT_I64, 1, DIMS(2), sz, true);
    CHECK(tc_run(&t, 2) == SK_OK && same_dims(&t.out[0], 2, DIMS(4, 2)) && same_dims(&t.out[1], 2, DIMS(2, 2)));
    cmp_fv("Split", &t.out[0], x, 8);
    cmp_fv("Split", &t.out[1], x + 8, 4);
    tc_free(&t);
    tc_init(&t, SK_OP_SPLIT, "split_sum");
    tc_in(&t, SK_DT_F32, 2, DIMS(6, 2), x, false);
    tc_in(&t, SK_DT_I64, 1, DIMS(2), szbad, true);
    expect_err(tc_run(&t, 2), SK_ERR_INVALID, "split_sum", "sum to 5");
    tc_free(&t);
    tc_init(&t, SK_OP_SPLIT, "split_uneven");
    tc_in(&t, SK_DT_F32, 2, DIMS(6, 2), x, false);
    expect_err(tc_run(&t, 4), SK_ERR_INVALID, "split_uneven", "equal parts");
    tc_free(&t);
}

/* ---- Slice ---- */
static void test_slice(void)
{
    float x[10];
    for (int i = 0; i < 10; i++) x[i] = (float)i;
    struct { int64_t start, end, step; int n; float want[10]; } c[] = {
        {2, INT64_MAX, 1, 8, {2, 3, 4, 5, 6, 7, 8, 9}},
        {-1, INT64_MIN, -1, 10, {9, 8, 7, 6, 5, 4, 3, 2, 1, 0}},
        {1, 9, 3, 3, {1, 4, 7}},
        {-3, -1, 1, 2, {7, 8}},
        {20, 30, 1, 0, {0}},
        {-100, 2, 1, 2, {0, 1}},
        {8, 1, -3, 3, {8, 5, 2}},
        {5, 5, 1, 0, {0}},
        {0, -1, INT64_MAX, 1, {0}},
        {INT64_MAX, -12, INT64_MIN, 1, {9}},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        tc t;
        tc_init(&t, SK_OP_SLICE, "slice1d");
        tc_in(&t, SK_DT_F32, 1, DIMS(10), x, false);
        tc_in(&t, SK_DT_I64, 1, DIMS(1), &c[i].start, true);
        tc_in(&t, SK_DT_I64, 1, DIMS(1), &c[i].end, true);
        tc_absent(&t);
        tc_in(&t, SK_DT_I64, 1, DIMS(1), &c[i].step, true);
        sk_status st = tc_run(&t, 1);
        CHECK(st == SK_OK);
        if (st) printf("    %s\n", sk_errmsg());
        CHECK(same_dims(&t.out[0], 1, DIMS(c[i].n)));
        if (t.out[0].dims[0] == c[i].n) cmp_fv("Slice", &t.out[0], c[i].want, c[i].n);
        tc_free(&t);
    }
    /* [3, 4, 5]: axes (1, -1), i32 starts/ends, against a naive loop */
    float y[60];
    for (int i = 0; i < 60; i++) y[i] = (float)i;
    int32_t st2[2] = {1, -1}, en2[2] = {100, 0}, ax2[2] = {1, -1}, sp2[2] = {2, -2};
    tc t;
    tc_init(&t, SK_OP_SLICE, "slice3d");
    tc_in(&t, SK_DT_F32, 3, DIMS(3, 4, 5), y, false);
    tc_in(&t, SK_DT_I32, 1, DIMS(2), st2, true);
    tc_in(&t, SK_DT_I32, 1, DIMS(2), en2, true);
    tc_in(&t, SK_DT_I32, 1, DIMS(2), ax2, true);
    tc_in(&t, SK_DT_I32, 1, DIMS(2), sp2, true);
    CHECK(tc_run(&t, 1) == SK_OK && same_dims(&t.out[0], 3, DIMS(3, 2, 2)));
    {
        double ref[12];
        int n = 0;
        for (int i = 0; i < 3; i++)
            for (int j = 1; j < 4; j += 2)
                for (int k = 4; k > 0; k -= 2) ref[n++] = y[i * 20 + j * 5 + k];
        cmp_f("Slice", t.out[0].data, ref, 12, 0);
    }
    tc_free(&t);
    int64_t s0 = 0, e0 = 1, z = 0;
    tc_init(&t, SK_OP_SLICE, "slice_step0");
    tc_in(&t, SK_DT_F32, 1, DIMS(10), x, false);
    tc_in(&t, SK_DT_I64, 1, DIMS(1), &s0, true);
    tc_in(&t, SK_DT_I64, 1, DIMS(1), &e0, true);
    tc_absent(&t);
    tc_in(&t, SK_DT_I64, 1, DIMS(1), &z, true);
    expect_err(tc_run(&t, 1), SK_ERR_INVALID, "slice_step0", "step");
    tc_free(&t);
    tc_init(&t, SK_OP_SLICE, "slice_dyn");
    tc_in(&t, SK_DT_F32, 1, DIMS(10), x, false);
    tc_in(&t, SK_DT_I64, 1, DIMS(1), &s0, false);
    tc_in(&t, SK_DT_I64, 1, DIMS(1), &e0, true);
    expect_err(tc_run(&t, 1), SK_ERR_UNSUPPORTED, "slice_dyn", "starts input is not constant");
    tc_free(&t);
}

/* ---- Transpose, Expand ---- */
static void check_transpose(int rank, const int64_t *dims, const int64_t *perm, const char *name)
{
    int64_t n = numel(rank, dims), od[SK_MAX_RANK], xs[SK_MAX_RANK], s = 1;
    float *x = malloc((size_t)n * sizeof *x);
    double *ref = malloc((size_t)n * sizeof *ref);
    for (int64_t i = 0; i < n; i++) x[i] = (float)i;
    for (int d = rank - 1; d >= 0; d--) { xs[d] = s; s *= dims[d]; }
    for (int d = 0; d < rank; d++) od[d] = dims[perm ? perm[d] : rank - 1 - d];
    for (int64_t o = 0; o < n; o++) {
        int64_t rem = o, off = 0;
        for (int d = rank - 1; d >= 0; d--) {
            off += (rem % od[d]) * xs[perm ? perm[d] : rank - 1 - d];
            rem /= od[d];
        }
        ref[o] = x[off];
    }
    tc t;
    tc_init(&t, SK_OP_TRANSPOSE, name);
    if (perm) sk_node_set_ints(&t.node, "perm", perm, rank);
    tc_in(&t, SK_DT_F32, rank, dims, x, false);
    CHECK(tc_run(&t, 1) == SK_OK && same_dims(&t.out[0], rank, od));
    cmp_f("Transpose", t.out[0].data, ref, n, 0);
    tc_free(&t);
    free(x);
    free(ref);
}

static void test_transpose_expand(void)
{
    check_transpose(3, DIMS(2, 3, 4), DIMS(1, 0, 2), "tr0");
    check_transpose(3, DIMS(2, 3, 4), DIMS(2, 0, 1), "tr1");
    check_transpose(3, DIMS(2, 3, 4), NULL, "tr_default");
    check_transpose(2, DIMS(1, 7), DIMS(1, 0), "tr_vec");
    check_transpose(4, DIMS(2, 64, 12, 64), DIMS(0, 2, 1, 3), "tr_heads");   /* threaded, row copies */
    check_transpose(4, DIMS(2, 64, 12, 64), DIMS(0, 2, 3, 1), "tr_keys");    /* threaded, strided */
    check_transpose(6, DIMS(2, 1, 3, 2, 1, 2), DIMS(5, 3, 0, 2, 4, 1), "tr_6d");
    tc t;
    float x[2] = {0, 1};
    tc_init(&t, SK_OP_TRANSPOSE, "tr_bad");
    sk_node_set_ints(&t.node, "perm", (int64_t[]){0, 0}, 2);
    tc_in(&t, SK_DT_F32, 2, DIMS(1, 2), x, false);
    expect_err(tc_run(&t, 1), SK_ERR_INVALID, "tr_bad", "permutation");
    tc_free(&t);

    /* Expand [3, 1] to [2, 1, 4] → [2, 3, 4] */
    float e[3] = {1, 2, 3};
    int64_t shp[3] = {2, 1, 4};
    tc_init(&t, SK_OP_EXPAND, "expand0");
    tc_in(&t, SK_DT_F32, 2, DIMS(3, 1), e, false);
    tc_in(&t, SK_DT_I64, 1, DIMS(3), shp, true);
    CHECK(tc_run(&t, 1) == SK_OK && same_dims(&t.out[0], 3, DIMS(2, 3, 4)));
    {
        double ref[24];
        for (int i = 0; i < 24; i++) ref[i] = e[(i / 4) % 3];
        cmp_f("Expand", t.out[0].data, ref, 24, 0);
    }
    tc_free(&t);
    /* shape smaller than the input keeps the input's dims; i64 data */
    int64_t v[3] = {7, 8, 9}, s1 = 1;
    tc_init(&t, SK_OP_EXPAND, "expand_small");
    tc_in(&t, SK_DT_I64, 1, DIMS(3), v, false);
    tc_in(&t, SK_DT_I64, 1, DIMS(1), &s1, true);
    CHECK(tc_run(&t, 1) == SK_OK && same_dims(&t.out[0], 1, DIMS(3)));
    cmp_i("Expand", &t.out[0], v, 3);
    tc_free(&t);
    int64_t sbad[1] = {4};
    tc_init(&t, SK_OP_EXPAND, "expand_bad");
    tc_in(&t, SK_DT_F32, 2, DIMS(3, 1), e, false);
    tc_in(&t, SK_DT_I64, 1, DIMS(1), sbad, false);
    expect_err(tc_run(&t, 1), SK_ERR_UNSUPPORTED, "expand_bad", "not constant");
    tc_free(&t);
    tc_init(&t, SK_OP_EXPAND, "expand_bad2");
    tc_in(&t, SK_DT_F32, 1, DIMS(3), e, false);
    tc_in(&t, SK_DT_I64, 1, DIMS(1), sbad, true);
    expect_err(tc_run(&t, 1), SK_ERR_INVALID, "expand_bad2", "broadcast");
    tc_free(&t);
}

/* ---- ConstantOfShape, Range ---- */
static void test_cos_range(void)
{
    tc t;
    int64_t shp[2] = {2, 3};
    tc_init(&t, SK_OP_CONSTANT_OF_SHAPE, "cos0");
    sk_node_set_f(&t.node, "value", 1.5f);
    tc_in(&t, SK_DT_I64, 1, DIMS(2), shp, true);
    CHECK(tc_run(&t, 1) == SK_OK && t.out[0].dtype == SK_DT_F32 && same_dims(&t.out[0], 2, DIMS(2, 3)));
    cmp_fv("ConstantOfShape", &t.out[0], (float[]){1.5f, 1.5f, 1.5f, 1.5f, 1.5f, 1.5f}, 6);
    tc_free(&t);
    tc_init(&t, SK_OP_CONSTANT_OF_SHAPE, "cos_i64");
    sk_node_set_i(&t.node, "value", 7);
    sk_node_set_i(&t.node, "value_dtype", SK_DT_I64);
    tc_in(&t, SK_DT_I64, 1, DIMS(2), shp, true);
    CHECK(tc_run(&t, 1) == SK_OK && t.out[0].dtype == SK_DT_I64);
    cmp_i("ConstantOfShape", &t.out[0], (int64_t[]){7, 7, 7, 7, 7, 7}, 6);
    tc_free(&t);
    tc_init(&t, SK_OP_CONSTANT_OF_SHAPE, "cos_default");
    tc_in(&t, SK_DT_I64, 1, DIMS(0), NULL, true);
    CHECK(tc_run(&t, 1) == SK_OK && t.out[0].rank == 0 && t.out[0].dtype == SK_DT_F32);
    cmp_fv("ConstantOfShape", &t.out[0], (float[]){0}, 1);
    tc_free(&t);
    int64_t neg[1] = {-2};
    tc_init(&t, SK_OP_CONSTANT_OF_SHAPE, "cos_neg");
    tc_in(&t, SK_DT_I64, 1, DIMS(1), neg, true);
    expect_err(tc_run(&t, 1), SK_ERR_INVALID, "cos_neg", "negative");
    tc_free(&t);

    struct { int64_t a, b, c; int n; int64_t want[6]; } ri[] = {
        {0, 10, 3, 4, {0, 3, 6, 9}}, {10, 0, -3, 4, {10, 7, 4, 1}}, {5, 5, 1, 0, {0}}, {0, 5, -1, 0, {0}},
        {-2, 3, 1, 5, {-2, -1, 0, 1, 2}},
    };
    for (size_t i = 0; i < sizeof ri / sizeof ri[0]; i++) {
        tc_init(&t, SK_OP_RANGE, "range_i");
        tc_in(&t, SK_DT_I64, 0, NULL, &ri[i].a, true);
        tc_in(&t, SK_DT_I64, 0, NULL, &ri[i].b, true);
        tc_in(&t, SK_DT_I64, 0, NULL, &ri[i].c, true);
        CHECK(tc_run(&t, 1) == SK_OK && same_dims(&t.out[0], 1, DIMS(ri[i].n)));
        if (t.out[0].dims[0] == ri[i].n) cmp_i("Range", &t.out[0], ri[i].want, ri[i].n);
        tc_free(&t);
    }
    int32_t a32 = 3, b32 = 9, c32 = 2;
    tc_init(&t, SK_OP_RANGE, "range_i32");
    tc_in(&t, SK_DT_I32, 0, NULL, &a32, true);
    tc_in(&t, SK_DT_I32, 0, NULL, &b32, true);
    tc_in(&t, SK_DT_I32, 0, NULL, &c32, true);
    CHECK(tc_run(&t, 1) == SK_OK && t.out[0].dtype == SK_DT_I32 && same_dims(&t.out[0], 1, DIMS(3)));
    cmp_i("Range", &t.out[0], (int64_t[]){3, 5, 7}, 3);
    tc_free(&t);
    float fa = 0.5f, fb = 2.0f, fc = 0.25f;
    tc_init(&t, SK_OP_RANGE, "range_f");
    tc_in(&t, SK_DT_F32, 0, NULL, &fa, true);
    tc_in(&t, SK_DT_F32, 0, NULL, &fb, true);
    tc_in(&t, SK_DT_F32, 0, NULL, &fc, true);
    CHECK(tc_run(&t, 1) == SK_OK && same_dims(&t.out[0], 1, DIMS(6)));
    cmp_f("Range", t.out[0].data, (double[]){0.5, 0.75, 1.0, 1.25, 1.5, 1.75}, 6, 0);
    tc_free(&t);
    int64_t z = 0, one = 1;
    tc_init(&t, SK_OP_RANGE, "range_zero");
    tc_in(&t, SK_DT_I64, 0, NULL, &z, true);
    tc_in(&t, SK_DT_I64, 0, NULL, &one, true);
    tc_in(&t, SK_DT_I64, 0, NULL, &z, true);
    expect_err(tc_run(&t, 1), SK_ERR_INVALID, "range_zero", "delta");
    tc_free(&t);
    tc_init(&t, SK_OP_RANGE, "range_dyn");
    tc_in(&t, SK_DT_I64, 0, NULL, &z, true);
    tc_in(&t, SK_DT_I64, 0, NULL, &one, false);
    tc_in(&t, SK_DT_I64, 0, NULL, &one, true);
    expect_err(tc_run(&t, 1), SK_ERR_UNSUPPORTED, "range_dyn", "limit input is not constant at plan time");
    tc_free(&t);
}

/* ---- broadcast binary ops against a naive reference ---- */
typedef struct { int ra; int64_t da[SK_MAX_RANK]; int rb; int64_t db[SK_MAX_RANK]; } bshape;

static const bshape bshapes[] = {
    {2, {4, 5}, 2, {4, 5}},                 /* same shape */
    {2, {4, 5}, 0, {0}},                    /* b a scalar */
    {0, {0}, 3, {2, 3, 4}},                 /* a a scalar */
    {3, {2, 3, 8}, 1, {8}},                 /* bias add */
    {4, {2, 3, 5, 5}, 4, {2, 1, 1, 5}},     /* attention mask */
    {2, {3, 1}, 2, {1, 4}},                 /* outer product shape */
    {1, {1}, 2, {2, 3}},
    {3, {2, 1, 3}, 2, {4, 1}},
    {2, {0, 3}, 1, {3}},                    /* empty */
    {3, {64, 64, 24}, 1, {24}},             /* big: threaded bias add */
    {2, {300, 300}, 2, {300, 300}},         /* big: threaded same shape */
    {3, {2, 1, 4}, 3, {1, 5, 1}},
};

static void fill_vals(sk_dtype dt, void *p, int64_t n, int op)
{
    for (int64_t i = 0; i < n; i++) {
        double v = op == 4 ? frand(0.1f, 3.0f) : frand(-4, 4);   /* Pow: positive bases */
        if (dt == SK_DT_F32) ((float *)p)[i] = (float)v;
        else {
            int64_t iv = (int64_t)floor(v * 3);
            if (op == 3 && iv == 0) iv = 1;   /* no integer division by zero */
            if (dt == SK_DT_I64) ((int64_t *)p)[i] = iv;
            else ((int32_t *)p)[i] = (int32_t)iv;
        }
    }
}

static double get_v(sk_dtype dt, const void *p, int64_t i)
{
    return dt == SK_DT_F32 ? ((const float *)p)[i] : dt == SK_DT_I64 ? (double)((const int64_t *)p)[i]
                                                                     : ((const int32_t *)p)[i];
}

static void test_binary(void)
{
    static const sk_op ops[] = {SK_OP_ADD, SK_OP_SUB, SK_OP_MUL, SK_OP_DIV, SK_OP_POW, SK_OP_EQUAL, SK_OP_LESS, SK_OP_GREATER};
    static const sk_dtype dts[] = {SK_DT_F32, SK_DT_I64, SK_DT_I32};
    for (size_t oi = 0; oi < sizeof ops / sizeof ops[0]; oi++)
        for (size_t di = 0; di < 3; di++)
            for (size_t si = 0; si < sizeof bshapes / sizeof bshapes[0]; si++) {
                sk_op op = ops[oi];
                sk_dtype dt = dts[di];
                if (op == SK_OP_POW && dt != SK_DT_F32) continue;
                const bshape *s = &bshapes[si];
                int64_t na = numel(s->ra, s->da), nb = numel(s->rb, s->db);
                size_t es = sk_dtype_info(dt)->block_bytes;
                void *a = malloc((size_t)(na ? na : 1) * es), *b = malloc((size_t)(nb ? nb : 1) * es);
                fill_vals(dt, a, na, (int)oi);
                fill_vals(dt, b, nb, (int)oi);
                if (op == SK_OP_EQUAL && dt == SK_DT_F32)   /* make some equal */
                    for (int64_t i = 0; i < nb && i < na; i += 2) ((float *)b)[i] = ((float *)a)[i];
                tc t;
                tc_init(&t, op, "bin");
                tc_in(&t, dt, s->ra, s->da, a, false);
                tc_in(&t, dt, s->rb, s->db, b, false);
                sk_status st = tc_run(&t, 1);
                CHECK(st == SK_OK);
                if (st) { printf("    %s\n", sk_errmsg()); tc_free(&t); free(a); free(b); continue; }
                const sk_rtensor *o = &t.out[0];
                int64_t n = sk_rt_numel(o);
                double *ref = malloc((size_t)(n ? n : 1) * sizeof *ref);
                int64_t *iref = malloc((size_t)(n ? n : 1) * sizeof *iref);
                for (int64_t i = 0; i < n; i++) {
                    double x = get_v(dt, a, bc_off(i, o->rank, o->dims, s->ra, s->da));
                    double y = get_v(dt, b, bc_off(i, o->rank, o->dims, s->rb, s->db));
                    double r = 0;
                    switch (op) {
                    case SK_OP_ADD: r = x + y; break;
                    case SK_OP_SUB: r = x - y; break;
                    case SK_OP_MUL: r = x * y; break;
                    case SK_OP_DIV: r = dt == SK_DT_F32 ? x / y : trunc(x / y); break;
                    case SK_OP_POW: r = pow(x, y); break;
                    case SK_OP_EQUAL: r = x == y; break;
                    case SK_OP_LESS: r = x < y; break;
                    default: r = x > y; break;
                    }
                    if (dt == SK_DT_F32 && op <= SK_OP_POW) r = (float)r;   /* one f32 rounding */
                    ref[i] = r;
                    iref[i] = (int64_t)r;
                }
                const char *name = sk_op_get(op)->name;
                if (dt == SK_DT_F32 && op <= SK_OP_POW) cmp_f(name, o->data, ref, n, op == SK_OP_POW ? 1e-5 : 0);
                else cmp_i(name, o, iref, n);
                CHECK(o->dtype == (op >= SK_OP_EQUAL ? SK_DT_BOOL : dt));
                free(ref); free(iref);
                tc_free(&t);
                free(a); free(b);
            }
    /* Pow special exponents, and an i64 exponent tensor */
    float x[5] = {0.5f, 1.5f, 2.0f, 3.25f, 10.0f};
    static const float exps[] = {2.0f, 3.0f, 0.5f, 1.7f, -1.0f};
    for (size_t i = 0; i < sizeof exps / sizeof exps[0]; i++) {
        tc t;
        tc_init(&t, SK_OP_POW, "pow_s");
        tc_in(&t, SK_DT_F32, 1, DIMS(5), x, false);
        tc_in(&t, SK_DT_F32, 0, NULL, &exps[i], true);
        CHECK(tc_run(&t, 1) == SK_OK);
        double ref[5];
        for (int j = 0; j < 5; j++) ref[j] = (float)pow(x[j], exps[i]);
        cmp_f("Pow", t.out[0].data, ref, 5, exps[i] == 1.7f || exps[i] == -1.0f ? 1e-5 : 0);
        tc_free(&t);
    }
    int64_t e2[5] = {2, 0, -1, 3, 1};
    {
        tc t;
        tc_init(&t, SK_OP_POW, "pow_i");
        tc_in(&t, SK_DT_F32, 1, DIMS(5), x, false);
        tc_in(&t, SK_DT_I64, 1, DIMS(5), e2, false);
        CHECK(tc_run(&t, 1) == SK_OK && t.out[0].dtype == SK_DT_F32);
        cmp_f("Pow", t.out[0].data, (double[]){0.25, 1, 0.5, 34.328125, 10}, 5, 0);
        tc_free(&t);
        int64_t base[4] = {2, -3, 5, 0}, ex[4] = {10, 3, 0, 2};
        tc_init(&t, SK_OP_POW, "pow_ii");
        tc_in(&t, SK_DT_I64, 1, DIMS(4), base, false);
        tc_in(&t, SK_DT_I64, 1, DIMS(4), ex, false);
        CHECK(tc_run(&t, 1) == SK_OK && t.out[0].dtype == SK_DT_I64);
        cmp_i("Pow", &t.out[0], (int64_t[]){1024, -27, 1, 0}, 4);
        tc_free(&t);
    }
    /* integer division truncates toward zero; INT64_MIN / -1 wraps; by zero is an error */
    {
        int64_t a[4] = {-7, 7, INT64_MIN, -1}, b[4] = {2, -2, -1, 3}, zero[1] = {0};
        tc t;
        tc_init(&t, SK_OP_DIV, "div_i");
        tc_in(&t, SK_DT_I64, 1, DIMS(4), a, false);
        tc_in(&t, SK_DT_I64, 1, DIMS(4), b, false);
        CHECK(tc_run(&t, 1) == SK_OK);
        cmp_i("Div", &t.out[0], (int64_t[]){-3, -3, INT64_MIN, 0}, 4);
        tc_free(&t);
        tc_init(&t, SK_OP_DIV, "div_zero");
        tc_in(&t, SK_DT_I64, 1, DIMS(4), a, false);
        tc_in(&t, SK_DT_I64, 1, DIMS(1), zero, false);
        expect_err(tc_run(&t, 1), SK_ERR_INVALID, "div_zero", "division by zero");
        tc_free(&t);
        int64_t big[2] = {INT64_MAX, INT64_MIN}, one[1] = {1};
        tc_init(&t, SK_OP_ADD, "add_wrap");
        tc_in(&t, SK_DT_I64, 1, DIMS(2), big, false);
        tc_in(&t, SK_DT_I64, 1, DIMS(1), one, false);
        CHECK(tc_run(&t, 1) == SK_OK);
        cmp_i("Add", &t.out[0], (int64_t[]){INT64_MIN, INT64_MIN + 1}, 2);
        tc_free(&t);
    }
    /* Equal on bool; errors: dtype mismatch, shapes that do not broadcast */
    {
        uint8_t p[4] = {1, 0, 1, 0}, q[4] = {1, 1, 0, 0};
        tc t;
        tc_init(&t, SK_OP_EQUAL, "eq_b");
        tc_in(&t, SK_DT_BOOL, 1, DIMS(4), p, false);
        tc_in(&t, SK_DT_BOOL, 1, DIMS(4), q, false);
        CHECK(tc_run(&t, 1) == SK_OK && t.out[0].dtype == SK_DT_BOOL);
        cmp_i("Equal", &t.out[0], (int64_t[]){1, 0, 0, 1}, 4);
        tc_free(&t);
        float f[6] = {0};
        int64_t l[1] = {1};
        tc_init(&t, SK_OP_ADD, "add_dt");
        tc_in(&t, SK_DT_F32, 2, DIMS(2, 3), f, false);
        tc_in(&t, SK_DT_I64, 1, DIMS(1), l, false);
        expect_err(tc_run(&t, 1), SK_ERR_INVALID, "add_dt", "dtypes");
        tc_free(&t);
        tc_init(&t, SK_OP_MUL, "mul_bc");
        tc_in(&t, SK_DT_F32, 2, DIMS(2, 3), f, false);
        tc_in(&t, SK_DT_F32, 1, DIMS(4), f, false);
        expect_err(tc_run(&t, 1), SK_ERR_INVALID, "mul_bc", "broadcast");
        tc_free(&t);
    }
}

/* ---- Where ---- */
static void test_where(void)
{
    uint8_t c[2] = {1, 0};
    float x[3] = {1, 2, 3}, y = -1;
    tc t;
    tc_init(&t, SK_OP_WHERE, "where0");
    tc_in(&t, SK_DT_BOOL, 2, DIMS(2, 1), c, false);
    tc_in(&t, SK_DT_F32, 2, DIMS(1, 3), x, false);
    tc_in(&t, SK_DT_F32, 0, NULL, &y, false);
    CHECK(tc_run(&t, 1) == SK_OK && same_dims(&t.out[0], 2, DIMS(2, 3)));
    cmp_fv("Where", &t.out[0], (float[]){1, 2, 3, -1, -1, -1}, 6);
    tc_free(&t);
    /* GPT-2 causal mask: [1,1,S,S] bool, [B,H,S,S] scores, scalar fill; big enough to thread */
    int64_t B = 2, H = 4, S = 96, n = B * H * S * S;
    uint8_t *m = malloc((size_t)(S * S));
    float *sc = malloc((size_t)n * sizeof *sc), fill = -3.4e38f;
    double *ref = malloc((size_t)n * sizeof *ref);
    for (int64_t i = 0; i < S * S; i++) m[i] = i % S <= i / S;
    for (int64_t i = 0; i < n; i++) sc[i] = frand(-5, 5);
    for (int64_t i = 0; i < n; i++) ref[i] = m[i % (S * S)] ? sc[i] : fill;
    tc_init(&t, SK_OP_WHERE, "where_causal");
    tc_in(&t, SK_DT_BOOL, 4, DIMS(1, 1, S, S), m, true);
    tc_in(&t, SK_DT_F32, 4, DIMS(B, H, S, S), sc, false);
    tc_in(&t, SK_DT_F32, 0, NULL, &fill, true);
    CHECK(tc_run(&t, 1) == SK_OK);
    cmp_f("Where", t.out[0].data, ref, n, 0);
    tc_free(&t);
    free(m); free(sc); free(ref);
    /* i64 */
    uint8_t c3[3] = {0, 1, 0};
    int64_t a3[3] = {1, 2, 3}, b3[3] = {-1, -2, -3};
    tc_init(&t, SK_OP_WHERE, "where_i");
    tc_in(&t, SK_DT_BOOL, 1, DIMS(3), c3, false);
    tc_in(&t, SK_DT_I64, 1, DIMS(3), a3, false);
    tc_in(&t, SK_DT_I64, 1, DIMS(3), b3, false);
    CHECK(tc_run(&t, 1) == SK_OK && t.out[0].dtype == SK_DT_I64);
    cmp_i("Where", &t.out[0], (int64_t[]){-1, 2, -3}, 3);
    tc_free(&t);
    tc_init(&t, SK_OP_WHERE, "where_cond");
    tc_in(&t, SK_DT_F32, 1, DIMS(3), x, false);
    tc_in(&t, SK_DT_I64, 1, DIMS(3), a3, false);
    tc_in(&t, SK_DT_I64, 1, DIMS(3), b3, false);
    expect_err(tc_run(&t, 1), SK_ERR_INVALID, "where_cond", "bool");
    tc_free(&t);
}

/* ---- unary ---- */
static void test_unary(void)
{
    static const struct { sk_op op; float lo, hi; } u[] = {
        {SK_OP_SQRT, 0, 9}, {SK_OP_RECIPROCAL, 0.1f, 5}, {SK_OP_NEG, -5, 5}, {SK_OP_EXP, -10, 3},
        {SK_OP_LOG, 0.01f, 20}, {SK_OP_ERF, -4, 4}, {SK_OP_TANH, -6, 6}, {SK_OP_RELU, -2, 2},
        {SK_OP_SIGMOID, -20, 20},
    };
    int64_t n = 70000;   /* > one grain: both threads */
    float *x = malloc((size_t)n * sizeof *x);
    double *ref = malloc((size_t)n * sizeof *ref);
    for (size_t i = 0; i < sizeof u / sizeof u[0]; i++) {
        for (int64_t j = 0; j < n; j++) x[j] = frand(u[i].lo, u[i].hi);
        for (int64_t j = 0; j < n; j++) {
            double v = x[j];
            switch (u[i].op) {
            case SK_OP_SQRT: ref[j] = sqrt(v); break;
            case SK_OP_RECIPROCAL: ref[j] = 1 / v; break;
            case SK_OP_NEG: ref[j] = -v; break;
            case SK_OP_EXP: ref[j] = exp(v); break;
            case SK_OP_LOG: ref[j] = log(v); break;
            case SK_OP_ERF: ref[j] = erf(v); break;
            case SK_OP_TANH: ref[j] = tanh(v); break;
            case SK_OP_RELU: ref[j] = v > 0 ? v : 0; break;
            default: ref[j] = 1 / (1 + exp(-v)); break;
            }
        }
        tc t;
        tc_init(&t, u[i].op, "un");
        tc_in(&t, SK_DT_F32, 2, DIMS(70, 1000), x, false);
        CHECK(tc_run(&t, 1) == SK_OK && same_dims(&t.out[0], 2, DIMS(70, 1000)));
        cmp_f(sk_op_get(u[i].op)->name, t.out[0].data, ref, n, 1e-5);
        tc_free(&t);
    }
    free(x);
    free(ref);
    /* special values */
    float sv[4] = {0.0f, -1.0f, INFINITY, -INFINITY};
    tc t;
    tc_init(&t, SK_OP_LOG, "log_sp");
    tc_in(&t, SK_DT_F32, 1, DIMS(4), sv, false);
    CHECK(tc_run(&t, 1) == SK_OK);
    cmp_f("Log", t.out[0].data, (double[]){-INFINITY, NAN, INFINITY, NAN}, 4, 0);
    tc_free(&t);
    tc_init(&t, SK_OP_SIGMOID, "sig_sp");
    tc_in(&t, SK_DT_F32, 1, DIMS(4), sv, false);
    CHECK(tc_run(&t, 1) == SK_OK);
    cmp_f("Sigmoid", t.out[0].data, (double[]){0.5, 1 / (1 + exp(1.0)), 1, 0}, 4, 1e-7);
    tc_free(&t);
    /* integer Neg and Relu, bool Not */
    int64_t li[3] = {INT64_MIN, -5, 7};
    tc_init(&t, SK_OP_NEG, "neg_i");
    tc_in(&t, SK_DT_I64, 1, DIMS(3), li, false);
    CHECK(tc_run(&t, 1) == SK_OK);
    cmp_i("Neg", &t.out[0], (int64_t[]){INT64_MIN, 5, -7}, 3);
    tc_free(&t);
    int32_t ii[3] = {-3, 0, 4};
    tc_init(&t, SK_OP_RELU, "relu_i");
    tc_in(&t, SK_DT_I32, 1, DIMS(3), ii, false);
    CHECK(tc_run(&t, 1) == SK_OK && t.out[0].dtype == SK_DT_I32);
    cmp_i("Relu", &t.out[0], (int64_t[]){0, 0, 4}, 3);
    tc_free(&t);
    uint8_t bv[3] = {1, 0, 1};
    tc_init(&t, SK_OP_NOT, "not0");
    tc_in(&t, SK_DT_BOOL, 1, DIMS(3), bv, false);
    CHECK(tc_run(&t, 1) == SK_OK && t.out[0].dtype == SK_DT_BOOL);
    cmp_i("Not", &t.out[0], (int64_t[]){0, 1, 0}, 3);
    tc_free(&t);
    tc_init(&t, SK_OP_NOT, "not_f");
    tc_in(&t, SK_DT_F32, 1, DIMS(4), sv, false);
    expect_err(tc_run(&t, 1), SK_ERR_UNSUPPORTED, "not_f", "f32");
    tc_free(&t);
    tc_init(&t, SK_OP_EXP, "exp_i");
    tc_in(&t, SK_DT_I64, 1, DIMS(3), li, false);
    expect_err(tc_run(&t, 1), SK_ERR_UNSUPPORTED, "exp_i", "i64");
    tc_free(&t);
}

/* ---- Softmax ---- */
static void softmax_ref(const float *x, double *y, int64_t outer, int64_t n, int64_t inner)
{
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < inner; j++) {
            double m = -INFINITY, s = 0;
            for (int64_t i = 0; i < n; i++) m = fmax(m, x[(o * n + i) * inner + j]);
            for (int64_t i = 0; i < n; i++) s += exp(x[(o * n + i) * inner + j] - m);
            for (int64_t i = 0; i < n; i++) y[(o * n + i) * inner + j] = exp(x[(o * n + i) * inner + j] - m) / s;
        }
}

static void test_softmax(void)
{
    float x[2 * 3 * 5];
    double ref[30];
    for (int i = 0; i < 30; i++) x[i] = frand(-6, 6);
    x[7] = 1000.0f;   /* large values must not overflow */
    x[8] = 999.0f;
    struct { int64_t axis; int opset; int64_t outer, n, inner; } c[] = {
        {-1, 13, 6, 5, 1}, {1, 13, 2, 3, 5}, {0, 13, 1, 2, 15}, {1, 11, 2, 15, 1}, {-1, 11, 6, 5, 1}, {0, 11, 1, 30, 1},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        tc t;
        tc_init(&t, SK_OP_SOFTMAX, "softmax0");
        sk_node_set_i(&t.node, "axis", c[i].axis);
        if (c[i].opset < 13) sk_node_set_i(&t.node, "opset", c[i].opset);
        tc_in(&t, SK_DT_F32, 3, DIMS(2, 3, 5), x, false);
        CHECK(tc_run(&t, 1) == SK_OK && same_dims(&t.out[0], 3, DIMS(2, 3, 5)));
        softmax_ref(x, ref, c[i].outer, c[i].n, c[i].inner);
        cmp_f("Softmax", t.out[0].data, ref, 30, 1e-6);
        tc_free(&t);
    }
    /* default axis: -1 from opset 13, 1 before */
    {
        tc t;
        tc_init(&t, SK_OP_SOFTMAX, "softmax_def11");
        sk_node_set_i(&t.node, "opset", 11);
        tc_in(&t, SK_DT_F32, 3, DIMS(2, 3, 5), x, false);
        CHECK(tc_run(&t, 1) == SK_OK);
        softmax_ref(x, ref, 2, 15, 1);
        cmp_f("Softmax", t.out[0].data, ref, 30, 1e-6);
        tc_free(&t);
    }
    /* masked rows: some -inf → 0 there; all -inf → NaN, as onnxruntime gives */
    float m[8] = {0.5f, -INFINITY, 1.5f, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY};
    tc t;
    tc_init(&t, SK_OP_SOFTMAX, "softmax_mask");
    tc_in(&t, SK_DT_F32, 2, DIMS(2, 4), m, false);
    CHECK(tc_run(&t, 1) == SK_OK);
    double e = exp(-1.0);
    cmp_f("Softmax", t.out[0].data, (double[]){e / (1 + e), 0, 1 / (1 + e), 0, NAN, NAN, NAN, NAN}, 8, 1e-7);
    tc_free(&t);
    /* attention-sized: [2, 12, 64, 64], threaded rows */
    int64_t n = 2 * 12 * 64 * 64;
    float *big = malloc((size_t)n * sizeof *big);
    double *bref = malloc((size_t)n * sizeof *bref);
    for (int64_t i = 0; i < n; i++) big[i] = frand(-8, 8);
    softmax_ref(big, bref, n / 64, 64, 1);
    tc_init(&t, SK_OP_SOFTMAX, "softmax_big");
    tc_in(&t, SK_DT_F32, 4, DIMS(2, 12, 64, 64), big, false);
    CHECK(tc_run(&t, 1) == SK_OK);
    cmp_f("Softmax", t.out[0].data, bref, n, 1e-6);
    tc_free(&t);
    free(big); free(bref);
    tc_init(&t, SK_OP_SOFTMAX, "softmax_axis");
    sk_node_set_i(&t.node, "axis", 3);
    tc_in(&t, SK_DT_F32, 3, DIMS(2, 3, 5), x, false);
    expect_err(tc_run(&t, 1), SK_ERR_INVALID, "softmax_axis", "axis 3");
    tc_free(&t);
}

/* ---- ReduceMean, ReduceSum ---- */
static void reduce_ref(const float *x, int rank, const int64_t *dims, const bool *red, bool mean, double *y, int64_t ny)
{
    int64_t n = numel(rank, dims), cnt = 1;
    for (int d = 0; d < rank; d++) if (red[d]) cnt *= dims[d];
    for (int64_t i = 0; i < ny; i++) y[i] = 0;
    for (int64_t i = 0; i < n; i++) {
        int64_t rem = i, off = 0, st = 1;
        for (int d = rank - 1; d >= 0; d--) {
            int64_t ix = rem % dims[d];
            rem /= dims[d];
            if (!red[d]) { off += ix * st; st *= dims[d]; }
        }
        y[off] += x[i];
    }
    if (mean) for (int64_t i = 0; i < ny; i++) y[i] /= (double)cnt;
}

static void test_reduce(void)
{
    int64_t dims[3] = {4, 6, 8};
    float x[192];
    for (int i = 0; i < 192; i++) x[i] = frand(-3, 3);
    struct { int n; int64_t axes[3]; bool keep; bool input; int orank; int64_t od[3]; } c[] = {
        {1, {-1}, true, false, 3, {4, 6, 1}},
        {1, {1}, true, true, 3, {4, 1, 8}},
        {1, {0}, false, false, 2, {6, 8}},
        {2, {0, 2}, true, true, 3, {1, 6, 1}},
        {2, {0, 1}, false, false, 1, {8}},
        {2, {-1, -2}, false, true, 1, {4}},
        {0, {0}, false, false, 0, {0}},
        {3, {2, 0, 1}, true, true, 3, {1, 1, 1}},
    };
    for (int mean = 0; mean < 2; mean++)
        for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
            tc t;
            tc_init(&t, mean ? SK_OP_REDUCE_MEAN : SK_OP_REDUCE_SUM, "reduce0");
            sk_node_set_i(&t.node, "keepdims", c[i].keep);
            tc_in(&t, SK_DT_F32, 3, dims, x, false);
            if (c[i].n && c[i].input) tc_in(&t, SK_DT_I64, 1, DIMS(c[i].n), c[i].axes, true);
            else if (c[i].n) sk_node_set_ints(&t.node, "axes", c[i].axes, c[i].n);
            CHECK(tc_run(&t, 1) == SK_OK && same_dims(&t.out[0], c[i].orank, c[i].od));
            bool red[3] = {c[i].n == 0, c[i].n == 0, c[i].n == 0};
            for (int j = 0; j < c[i].n; j++) red[(c[i].axes[j] + 3) % 3] = true;
            double ref[192];
            int64_t ny = sk_rt_numel(&t.out[0]);
            reduce_ref(x, 3, dims, red, mean, ref, ny);
            cmp_f(mean ? "ReduceMean" : "ReduceSum", t.out[0].data, ref, ny, mean ? 1e-5 : 1e-4);
            tc_free(&t);
        }
    /* noop_with_empty_axes; an empty axes input */
    tc t;
    tc_init(&t, SK_OP_REDUCE_SUM, "reduce_noop");
    sk_node_set_i(&t.node, "noop_with_empty_axes", 1);
    tc_in(&t, SK_DT_F32, 3, dims, x, false);
    tc_in(&t, SK_DT_I64, 1, DIMS(0), NULL, true);
    CHECK(tc_run(&t, 1) == SK_OK && same_dims(&t.out[0], 3, dims));
    cmp_fv("ReduceSum", &t.out[0], x, 192);
    tc_free(&t);
    /* integers: exact sums, mean by integer division */
    int64_t li[6] = {1, 2, 3, 4, 5, -7};
    tc_init(&t, SK_OP_REDUCE_SUM, "reduce_i");
    sk_node_set_i(&t.node, "keepdims", 0);
    tc_in(&t, SK_DT_I64, 2, DIMS(2, 3), li, false);
    tc_in(&t, SK_DT_I64, 1, DIMS(1), (int64_t[]){1}, true);
    CHECK(tc_run(&t, 1) == SK_OK && same_dims(&t.out[0], 1, DIMS(2)));
    cmp_i("ReduceSum", &t.out[0], (int64_t[]){6, 2}, 2);
    tc_free(&t);
    int32_t ii[6] = {1, 2, 4, 4, 5, -7};
    tc_init(&t, SK_OP_REDUCE_MEAN, "reduce_mi");
    sk_node_set_ints(&t.node, "axes", (int64_t[]){0}, 1);
    tc_in(&t, SK_DT_I32, 2, DIMS(2, 3), ii, false);
    CHECK(tc_run(&t, 1) == SK_OK && same_dims(&t.out[0], 2, DIMS(1, 3)));
    cmp_i("ReduceMean", &t.out[0], (int64_t[]){2, 3, -1}, 3);
    tc_free(&t);
    /* errors */
    tc_init(&t, SK_OP_REDUCE_SUM, "reduce_dyn");
    tc_in(&t, SK_DT_F32, 3, dims, x, false);
    tc_in(&t, SK_DT_I64, 1, DIMS(1), (int64_t[]){1}, false);
    expect_err(tc_run(&t, 1), SK_ERR_UNSUPPORTED, "reduce_dyn", "axes input is not constant at plan time");
    tc_free(&t);
    tc_init(&t, SK_OP_REDUCE_MEAN, "reduce_oob");
    sk_node_set_ints(&t.node, "axes", (int64_t[]){3}, 1);
    tc_in(&t, SK_DT_F32, 3, dims, x, false);
    expect_err(tc_run(&t, 1), SK_ERR_INVALID, "reduce_oob", "axis 3");
    tc_free(&t);
    /* LayerNorm-style mean over the last axis of [8, 128, 96], threaded */
    int64_t bd[3] = {8, 128, 96}, n = 8 * 128 * 96;
    float *big = malloc((size_t)n * sizeof *big);
    double *ref = malloc((size_t)(8 * 128) * sizeof *ref);
    for (int64_t i = 0; i < n; i++) big[i] = frand(-2, 2);
    tc_init(&t, SK_OP_REDUCE_MEAN, "reduce_big");
    sk_node_set_ints(&t.node, "axes", (int64_t[]){-1}, 1);
    tc_in(&t, SK_DT_F32, 3, bd, big, false);
    CHECK(tc_run(&t, 1) == SK_OK);
    reduce_ref(big, 3, bd, (bool[]){false, false, true}, true, ref, 8 * 128);
    cmp_f("ReduceMean", t.out[0].data, ref, 8 * 128, 1e-6);
    tc_free(&t);
    free(big); free(ref);
}

/* ---- Pad ---- */
static void test_pad(void)
{
    float x[6] = {1, 2, 3, 4, 5, 6};   /* [2, 3] */
    int64_t pads[4] = {1, 2, 0, 1};    /* begin (1, 2), end (0, 1) → [3, 6] */
    static const struct { const char *mode; float want[18]; } c[] = {
        {"constant", {9, 9, 9, 9, 9, 9, 9, 9, 1, 2, 3, 9, 9, 9, 4, 5, 6, 9}},
        {"edge", {1, 1, 1, 2, 3, 3, 1, 1, 1, 2, 3, 3, 4, 4, 4, 5, 6, 6}},
        {"reflect", {6, 5, 4, 5, 6, 5, 3, 2, 1, 2, 3, 2, 6, 5, 4, 5, 6, 5}},
        {"wrap", {5, 6, 4, 5, 6, 4, 2, 3, 1, 2, 3, 1, 5, 6, 4, 5, 6, 4}},
    };
    float nine = 9;
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        tc t;
        tc_init(&t, SK_OP_PAD, "pad0");
        sk_node_set_s(&t.node, "mode", c[i].mode);
        tc_in(&t, SK_DT_F32, 2, DIMS(2, 3), x, false);
        tc_in(&t, SK_DT_I64, 1, DIMS(4), pads, true);
        tc_in(&t, SK_DT_F32, 0, NULL, &nine, true);
        CHECK(tc_run(&t, 1) == SK_OK && same_dims(&t.out[0], 2, DIMS(3, 6)));
        cmp_fv("Pad", &t.out[0], c[i].want, 18);
        tc_free(&t);
    }
    /* negative pads crop; axes input (opset 18) */
    int64_t crop[2] = {-1, 1}, ax[1] = {-1};
    tc t;
    tc_init(&t, SK_OP_PAD, "pad_crop");
    tc_in(&t, SK_DT_F32, 2, DIMS(2, 3), x, false);
    tc_in(&t, SK_DT_I64, 1, DIMS(2), crop, true);
    tc_absent(&t);
    tc_in(&t, SK_DT_I64, 1, DIMS(1), ax, true);
    CHECK(tc_run(&t, 1) == SK_OK && same_dims(&t.out[0], 2, DIMS(2, 3)));
    cmp_fv("Pad", &t.out[0], (float[]){2, 3, 0, 5, 6, 0}, 6);
    tc_free(&t);
    tc_init(&t, SK_OP_PAD, "pad_dyn");
    tc_in(&t, SK_DT_F32, 2, DIMS(2, 3), x, false);
    tc_in(&t, SK_DT_I64, 1, DIMS(4), pads, false);
    expect_err(tc_run(&t, 1), SK_ERR_UNSUPPORTED, "pad_dyn", "pads input is not constant");
    tc_free(&t);
}

int main(void)
{
    pool = sk_pool_new(2);
    test_identity_dropout();
    test_cast();
    test_shape_gather();
    test_qgather();
    test_views();
    test_concat_split();
    test_slice();
    test_transpose_expand();
    test_cos_range();
    test_binary();
    test_where();
    test_unary();
    test_softmax();
    test_reduce();
    test_pad();
    sk_pool_free(pool);
    printf("%-16s %8s %s\n", "op", "checks", "worst abs error (integer ops: 0 = exact)");
    for (int i = 0; i < n_stats; i++) printf("%-16s %8d %.3g\n", stats[i].op, stats[i].checks, stats[i].worst);
    printf("%s\n", fails ? "FAILED" : "all passed");
    return fails ? 1 : 0;
}
