/* test_grad.c — every backward of src/train/grad.c and every loss of
 * loss.c against central finite differences.
 *
 * Each op runs alone in a small graph whose float inputs are all trainable
 * parameters (random, fixed seed); the scalar L = Σ R ⊙ y (R random, in
 * double) makes ∂L/∂y = R.  The analytic gradient of every parameter is
 * compared with (L(p + ε) − L(p − ε)) / 2ε on up to 40 elements per
 * parameter, as  max |analytic − numeric| / max(max |numeric|, 1e-3)  per op,
 * which must be ≤ 1e-2 (the forward runs in f32: ε = 1e-2 keeps the rounding
 * of L below 1e-4 of the difference).  Vision ops (Conv, pools,
 * BatchNormalization) and LSTM / GRU / RNN (BPTT, with sequence_lens, both
 * directions) are single ops like the rest.  Then whole models (ε 5e-3): a
 * 2-layer BERT classifier with a padded batch (KD + CE + cosine + attention-
 * score losses) and a 2-layer GPT-2 with the LM loss, every parameter tensor
 * sampled; and the small students of student.c (MLP, LSTM, GRU, CNN; ε 3e-3).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "arch/arch.h"
#include "train/train.h"

static int fails, checks;
#define CHECK(c) do { checks++; if (!(c)) { printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #c); fails++; } } while (0)
#define TOL 1e-2
#define EPS 1e-2f
#define EPS_MODEL 5e-3f   /* whole models: the attention-score loss is quartic in the weights */
#define EPS_RELU 3e-3f    /* small students: ReLU kinks within ±1e-2 of some sampled weights */

static sk_rng rng = {12345};
static float frand(void) { return (float)(sk_rng_uniform(&rng) * 2 - 1); }

/* ---- graph building ---- */
static int param(sk_model *m, const char *name, int rank, const int64_t *dims, float scale)
{
    int64_t n = 1;
    for (int i = 0; i < rank; i++) n *= dims[i];
    float *d = malloc((size_t)(n ? n : 1) * sizeof *d);
    for (int64_t i = 0; i < n; i++) d[i] = frand() * scale;
    float *own = sk_malloc((size_t)(n ? n : 1) * sizeof *own);
    memcpy(own, d, (size_t)n * sizeof *d);
    free(d);
    int id = sk_graph_add_const(&m->g, name, SK_DT_F32, rank, dims, own, true);
    m->g.tensors[id].flags |= SK_TF_WEIGHT;
    return id;
}

static int consti(sk_model *m, const char *name, int rank, const int64_t *dims, const int64_t *v)
{
    int64_t n = 1;
    for (int i = 0; i < rank; i++) n *= dims[i];
    int64_t *d = sk_malloc((size_t)(n ? n : 1) * sizeof *d);
    memcpy(d, v, (size_t)n * sizeof *d);
    return sk_graph_add_const(&m->g, name, SK_DT_I64, rank, dims, d, true);
}

static int act(sk_model *m, const char *name)
{
    return sk_graph_add_tensor(&m->g, name, SK_DT_F32, -1, NULL);
}

static sk_node *node(sk_model *m, sk_op op, const int *in, int n_in, const int *out, int n_out)
{
    int nd = sk_graph_add_node(&m->g, op, sk_op_get(op)->name, in, n_in, out, n_out);
    for (int i = 0; i < n_out; i++) sk_graph_add_output(&m->g, out[i]);
    return &m->g.nodes[nd];
}

/* ---- the check ---- */
typedef double (*loss_fn)(sk_train *t, void *ctx, bool seed);

/* L = Σ R·y over the graph outputs; seeds ∂L/∂y = R when asked */
typedef struct { sk_model *m; double *R; size_t cap; } outsum;

static double loss_outsum(sk_train *t, void *ctx, bool seed)
{
    outsum *o = ctx;
    double L = 0;
    size_t k = 0;
    for (int i = 0; i < o->m->g.n_outputs; i++) {
        int tid = o->m->g.outputs[i];
        const sk_rtensor *y = sk_train_value(t, tid);
        int64_t n = sk_rt_numel(y);
        float *gy = seed ? sk_train_grad_of(t, tid) : NULL;
        for (int64_t e = 0; e < n; e++, k++) {
            if (k >= o->cap) {
                o->R = realloc(o->R, (o->cap = 2 * o->cap + 64) * sizeof *o->R);
                for (size_t j = k; j < o->cap; j++) o->R[j] = frand();
            }
            L += o->R[k] * ((const float *)y->data)[e];
            if (gy) gy[e] += (float)o->R[k];
        }
    }
    return L;
}

static double eval(sk_train *t, loss_fn f, void *ctx)
{
    sk_status st = sk_train_forward(t);
    if (st) { printf("forward: %s\n", sk_errmsg()); exit(1); }
    return f(t, ctx, false);
}

/* worst relative error over all parameters of t */
static double gradcheck(sk_train *t, loss_fn f, void *ctx, int per_param, float eps)
{
    sk_train_zero_grad(t);
    sk_status st = sk_train_forward(t);
    if (!st) { f(t, ctx, true); st = sk_train_backward(t); }
    if (st) { printf("  error: %s\n", sk_errmsg()); return INFINITY; }
    size_t n;
    float *p = sk_train_params(t, &n);
    float *g0 = malloc(n * sizeof *g0);
    memcpy(g0, sk_train_grads(t), n * sizeof *g0);
    double worst = 0;
    for (int pi = 0; pi < sk_train_n_params(t); pi++) {
        size_t off = sk_train_param_offset(t, pi);
        int64_t cnt = sk_rt_numel(sk_train_value(t, sk_train_param_tensor(t, pi)));
        double maxnum = 0, maxdiff = 0;
        int samples = cnt < per_param ? (int)cnt : per_param;
        for (int s = 0; s < samples; s++) {
            int64_t e = cnt <= per_param ? s : (int64_t)(sk_rng_next(&rng) % (uint64_t)cnt);
            float *x = p + off + e, keep = *x;
            *x = keep + eps;
            double lp = eval(t, f, ctx);
            *x = keep - eps;
            double lm = eval(t, f, ctx);
            *x = keep;
            double num = (lp - lm) / (2.0 * eps), ana = g0[off + e];
            if (fabs(num) > maxnum) maxnum = fabs(num);
            if (fabs(num - ana) > maxdiff || isnan(ana)) maxdiff = isnan(ana) ? INFINITY : fabs(num - ana);
        }
        double rel = maxdiff / fmax(maxnum, 1e-3);
        if (rel > worst || isnan(rel)) worst = rel;
    }
    free(g0);
    return worst;
}

static void report(const char *what, double worst)
{
    printf("  %-34s worst rel err %.2e%s\n", what, worst, worst <= TOL ? "" : "  <-- FAIL");
    CHECK(worst <= TOL);
}

/* run a single-op model through the check */
static void check_model(const char *what, sk_model *m)
{
    sk_status st = sk_graph_verify(&m->g);
    if (st) { printf("  %s: verify: %s\n", what, sk_errmsg()); CHECK(0); sk_model_free(m); return; }
    sk_train *t;
    if ((st = sk_train_new(m, 1, 0, &t))) { printf("  %s: %s\n", what, sk_errmsg()); CHECK(0); sk_model_free(m); return; }
    outsum o = {m, NULL, 0};
    report(what, gradcheck(t, loss_outsum, &o, 40, EPS));
    free(o.R);
    sk_train_free(t);
    sk_model_free(m);
}

/* ---- single ops ---- */
static void t_linear(int wt, const char *actname, bool bias)
{
    sk_model *m = sk_model_new();
    int x = param(m, "x", 3, (int64_t[]){2, 3, 5}, 1);
    int w = param(m, "w", 2, wt ? (int64_t[]){4, 5} : (int64_t[]){5, 4}, 1);
    int b = bias ? param(m, "b", 1, (int64_t[]){4}, 1) : -1;
    int y = act(m, "y");
    sk_node *n = node(m, SK_OP_LINEAR, (int[]){x, w, b}, bias ? 3 : 2, &y, 1);
    sk_node_set_i(n, "wt", wt);
    if (actname[0]) sk_node_set_s(n, "act", actname);
    char what[64];
    snprintf(what, sizeof what, "Linear wt=%d act=%s%s", wt, actname[0] ? actname : "none", bias ? " +bias" : "");
    check_model(what, m);
}

static void t_attention(int causal, bool mask, int S, int T)
{
    sk_model *m = sk_model_new();
    int64_t dq[3] = {2, S, 8}, dk[3] = {2, T, 8};
    int q = param(m, "q", 3, dq, 1), k = param(m, "k", 3, dk, 1), v = param(m, "v", 3, dk, 1);
    int64_t mv[2 * 16];
    for (int i = 0; i < 2 * T; i++) mv[i] = !(i >= T && i >= 2 * T - 2);   /* batch 1: last 2 keys padded */
    int mk = mask ? consti(m, "mask", 2, (int64_t[]){2, T}, mv) : -1;
    int y = act(m, "y");
    sk_node *n = node(m, SK_OP_ATTENTION, (int[]){q, k, v, mk}, mask ? 4 : 3, &y, 1);
    sk_node_set_i(n, "num_heads", 2);
    sk_node_set_i(n, "causal", causal);
    char what[64];
    snprintf(what, sizeof what, "Attention causal=%d mask=%d S=%d T=%d", causal, mask, S, T);
    check_model(what, m);
}

static void t_layernorm(void)
{
    sk_model *m = sk_model_new();
    int x = param(m, "x", 2, (int64_t[]){3, 6}, 1), g = param(m, "g", 1, (int64_t[]){6}, 1),
        b = param(m, "b", 1, (int64_t[]){6}, 1);
    int y = act(m, "y");
    sk_node *n = node(m, SK_OP_LAYERNORM, (int[]){x, g, b}, 3, &y, 1);
    sk_node_set_i(n, "axis", -1);
    sk_node_set_f(n, "epsilon", 1e-5f);
    check_model("LayerNormalization", m);
}

static void t_skip_layernorm(bool bcast)
{
    sk_model *m = sk_model_new();
    int x = param(m, "x", 3, (int64_t[]){2, 3, 6}, 1);
    int s = bcast ? param(m, "skip", 2, (int64_t[]){3, 6}, 1) : param(m, "skip", 3, (int64_t[]){2, 3, 6}, 1);
    int g = param(m, "g", 1, (int64_t[]){6}, 1), b = param(m, "b", 1, (int64_t[]){6}, 1);
    int bias = param(m, "bias", 1, (int64_t[]){6}, 1);
    int y = act(m, "y");
    sk_node *n = node(m, SK_OP_SKIP_LAYERNORM, (int[]){x, s, g, b, bias}, 5, &y, 1);
    sk_node_set_f(n, "epsilon", 1e-5f);
    check_model(bcast ? "SkipLayerNorm (skip broadcast)" : "SkipLayerNorm", m);
}

static void t_unary(sk_op op, const char *approx, float lo)
{
    sk_model *m = sk_model_new();
    int x = param(m, "x", 2, (int64_t[]){4, 5}, 2);
    if (lo > 0) {   /* keep the input away from a kink / the domain edge */
        float *d = m->g.tensors[x].data;
        for (int i = 0; i < 20; i++) d[i] = fabsf(d[i]) + lo;
    }
    int y = act(m, "y");
    sk_node *n = node(m, op, &x, 1, &y, 1);
    if (approx) sk_node_set_s(n, "approximate", approx);
    char what[64];
    snprintf(what, sizeof what, "%s%s%s", sk_op_get(op)->name, approx ? " " : "", approx ? approx : "");
    check_model(what, m);
}

static void t_relu(void)
{
    sk_model *m = sk_model_new();
    int x = param(m, "x", 2, (int64_t[]){4, 5}, 1);
    float *d = m->g.tensors[x].data;
    for (int i = 0; i < 20; i++) d[i] = (i % 2 ? 1 : -1) * (0.1f + fabsf(d[i]));   /* away from the kink */
    int y = act(m, "y");
    node(m, SK_OP_RELU, &x, 1, &y, 1);
    check_model("Relu", m);
}

static void t_softmax(int axis)
{
    sk_model *m = sk_model_new();
    int x = param(m, "x", 3, (int64_t[]){2, 3, 4}, 2);
    int y = act(m, "y");
    sk_node *n = node(m, SK_OP_SOFTMAX, &x, 1, &y, 1);
    sk_node_set_i(n, "axis", axis);
    char what[64];
    snprintf(what, sizeof what, "Softmax axis=%d", axis);
    check_model(what, m);
}

static void t_gather(void)
{
    sk_model *m = sk_model_new();
    int tab = param(m, "table", 2, (int64_t[]){7, 4}, 1);
    int ids = consti(m, "ids", 2, (int64_t[]){2, 3}, (int64_t[]){1, 3, 1, 6, 0, -1});
    int y = act(m, "y");
    sk_node *n = node(m, SK_OP_GATHER, (int[]){tab, ids}, 2, &y, 1);
    sk_node_set_i(n, "axis", 0);
    check_model("Gather axis=0 (embedding)", m);

    m = sk_model_new();
    int h = param(m, "h", 3, (int64_t[]){2, 3, 4}, 1);
    int c0 = consti(m, "zero", 0, NULL, (int64_t[]){0});
    y = act(m, "y");
    n = node(m, SK_OP_GATHER, (int[]){h, c0}, 2, &y, 1);
    sk_node_set_i(n, "axis", 1);
    check_model("Gather axis=1 scalar (first token)", m);
}

static void t_binary(sk_op op, int ra, const int64_t *da, int rb, const int64_t *db)
{
    sk_model *m = sk_model_new();
    int a = param(m, "a", ra, da, 1), b = param(m, "b", rb, db, 1);
    if (op == SK_OP_DIV) {
        float *d = m->g.tensors[b].data;
        for (int64_t i = 0; i < sk_tensor_numel(&m->g.tensors[b]); i++) d[i] = 1.0f + fabsf(d[i]);
    }
    int y = act(m, "y");
    node(m, op, (int[]){a, b}, 2, &y, 1);
    char what[64];
    snprintf(what, sizeof what, "%s (rank %d ∘ rank %d)", sk_op_get(op)->name, ra, rb);
    check_model(what, m);
}

static void t_movement(void)
{
    sk_model *m = sk_model_new();
    int x = param(m, "x", 3, (int64_t[]){2, 3, 6}, 1);
    int sp = consti(m, "split", 1, (int64_t[]){3}, (int64_t[]){2, 3, 1});
    int ys[3] = {act(m, "a"), act(m, "b"), act(m, "c")};
    sk_node *n = node(m, SK_OP_SPLIT, (int[]){x, sp}, 2, ys, 3);
    sk_node_set_i(n, "axis", -1);
    check_model("Split axis=-1 (2, 3, 1)", m);

    m = sk_model_new();
    int a = param(m, "a", 3, (int64_t[]){2, 3, 4}, 1), b = param(m, "b", 3, (int64_t[]){2, 2, 4}, 1);
    int y = act(m, "y");
    n = node(m, SK_OP_CONCAT, (int[]){a, b}, 2, &y, 1);
    sk_node_set_i(n, "axis", 1);
    check_model("Concat axis=1", m);

    m = sk_model_new();
    x = param(m, "x", 3, (int64_t[]){2, 5, 4}, 1);
    int st = consti(m, "starts", 1, (int64_t[]){2}, (int64_t[]){1, 0});
    int en = consti(m, "ends", 1, (int64_t[]){2}, (int64_t[]){5, 3});
    int ax = consti(m, "axes", 1, (int64_t[]){2}, (int64_t[]){1, 2});
    int sx = consti(m, "steps", 1, (int64_t[]){2}, (int64_t[]){2, 1});
    y = act(m, "y");
    node(m, SK_OP_SLICE, (int[]){x, st, en, ax, sx}, 5, &y, 1);
    check_model("Slice (step 2)", m);

    m = sk_model_new();
    x = param(m, "x", 3, (int64_t[]){2, 3, 4}, 1);
    y = act(m, "y");
    n = node(m, SK_OP_TRANSPOSE, &x, 1, &y, 1);
    sk_node_set_ints(n, "perm", (int64_t[]){1, 2, 0}, 3);
    check_model("Transpose (1, 2, 0)", m);

    m = sk_model_new();
    x = param(m, "x", 3, (int64_t[]){2, 3, 4}, 1);
    int shp = consti(m, "shape", 1, (int64_t[]){2}, (int64_t[]){6, -1});
    y = act(m, "y");
    node(m, SK_OP_RESHAPE, (int[]){x, shp}, 2, &y, 1);
    check_model("Reshape", m);
}

static void t_matmul(void)
{
    sk_model *m = sk_model_new();
    int a = param(m, "a", 3, (int64_t[]){2, 3, 4}, 1), b = param(m, "b", 2, (int64_t[]){4, 5}, 1);
    int y = act(m, "y");
    node(m, SK_OP_MATMUL, (int[]){a, b}, 2, &y, 1);
    check_model("MatMul [2,3,4]·[4,5]", m);

    m = sk_model_new();
    a = param(m, "a", 3, (int64_t[]){2, 3, 4}, 1);
    b = param(m, "b", 3, (int64_t[]){2, 4, 5}, 1);
    y = act(m, "y");
    node(m, SK_OP_MATMUL, (int[]){a, b}, 2, &y, 1);
    check_model("MatMul batched", m);

    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            m = sk_model_new();
            a = param(m, "a", 2, ta ? (int64_t[]){4, 3} : (int64_t[]){3, 4}, 1);
            b = param(m, "b", 2, tb ? (int64_t[]){5, 4} : (int64_t[]){4, 5}, 1);
            int c = param(m, "c", 1, (int64_t[]){5}, 1);
            y = act(m, "y");
            sk_node *n = node(m, SK_OP_GEMM, (int[]){a, b, c}, 3, &y, 1);
            sk_node_set_i(n, "transA", ta);
            sk_node_set_i(n, "transB", tb);
            sk_node_set_f(n, "alpha", 0.5f);
            char what[64];
            snprintf(what, sizeof what, "Gemm transA=%d transB=%d", ta, tb);
            check_model(what, m);
        }
}

static void t_reduce(sk_op op, const int64_t *axes, int n_axes, int keep)
{
    sk_model *m = sk_model_new();
    int x = param(m, "x", 3, (int64_t[]){2, 3, 4}, 1);
    int y = act(m, "y");
    sk_node *n = node(m, op, &x, 1, &y, 1);
    sk_node_set_ints(n, "axes", axes, n_axes);
    sk_node_set_i(n, "keepdims", keep);
    char what[64];
    snprintf(what, sizeof what, "%s axes=%lld%s keepdims=%d", sk_op_get(op)->name, (long long)axes[0],
             n_axes > 1 ? ",.." : "", keep);
    check_model(what, m);
}

/* ---- vision ops ---- */
/* values i·0.05 in a shuffled order: a max-pool window's maximum stays the maximum under ±EPS */
static void distinct(sk_model *m, int id)
{
    float *d = m->g.tensors[id].data;
    int64_t n = sk_tensor_numel(&m->g.tensors[id]);
    for (int64_t i = 0; i < n; i++) d[i] = (float)(i - n / 2) * 0.05f;
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)(sk_rng_next(&rng) % (uint64_t)(i + 1));
        float t = d[i];
        d[i] = d[j];
        d[j] = t;
    }
}

static void t_conv(const char *what, int rank, const int64_t *xd, const int64_t *wd, int group, const int64_t *pads,
                   const int64_t *strides, const int64_t *dil, bool bias)
{
    sk_model *m = sk_model_new();
    int nd = rank - 2;
    int x = param(m, "x", rank, xd, 1), w = param(m, "w", rank, wd, 1);
    int b = bias ? param(m, "b", 1, wd, 1) : -1;
    int y = act(m, "y");
    sk_node *n = node(m, SK_OP_CONV, (int[]){x, w, b}, bias ? 3 : 2, &y, 1);
    sk_node_set_i(n, "group", group);
    if (pads) sk_node_set_ints(n, "pads", pads, 2 * nd);
    if (strides) sk_node_set_ints(n, "strides", strides, nd);
    if (dil) sk_node_set_ints(n, "dilations", dil, nd);
    check_model(what, m);
}

static void t_pool(sk_op op, const char *what, const int64_t *k, const int64_t *pads, const int64_t *strides,
                   int ceil, int include_pad)
{
    sk_model *m = sk_model_new();
    int x = param(m, "x", 4, (int64_t[]){2, 3, 5, 6}, 1);
    distinct(m, x);
    int y = act(m, "y");
    sk_node *n = node(m, op, &x, 1, &y, 1);
    if (k) sk_node_set_ints(n, "kernel_shape", k, 2);
    if (pads) sk_node_set_ints(n, "pads", pads, 4);
    if (strides) sk_node_set_ints(n, "strides", strides, 2);
    if (ceil) sk_node_set_i(n, "ceil_mode", 1);
    if (include_pad) sk_node_set_i(n, "count_include_pad", 1);
    check_model(what, m);
}

static void t_batchnorm(void)
{
    sk_model *m = sk_model_new();
    int x = param(m, "x", 4, (int64_t[]){2, 3, 2, 2}, 1);
    int ids[4];
    const char *nm[4] = {"scale", "B", "mean", "var"};
    for (int i = 0; i < 4; i++) ids[i] = param(m, nm[i], 1, (int64_t[]){3}, 1);
    float *v = m->g.tensors[ids[3]].data;
    for (int i = 0; i < 3; i++) v[i] = 0.5f + fabsf(v[i]);
    int y = act(m, "y");
    sk_node *n = node(m, SK_OP_BATCHNORM, (int[]){x, ids[0], ids[1], ids[2], ids[3]}, 5, &y, 1);
    sk_node_set_f(n, "epsilon", 1e-5f);
    check_model("BatchNormalization (inference)", m);
}

/* ---- recurrent ops: every float input a parameter, every output in the loss ---- */
static void t_rnn(sk_op op, const char *dir, int lbr, bool lens, bool peep)
{
    enum { T = 4, B = 3, I = 3, H = 4 };
    int G = op == SK_OP_LSTM ? 4 : op == SK_OP_GRU ? 3 : 1, D = !strcmp(dir, "bidirectional") ? 2 : 1;
    sk_model *m = sk_model_new();
    int x = param(m, "x", 3, (int64_t[]){T, B, I}, 1);
    int w = param(m, "W", 3, (int64_t[]){D, G * H, I}, 0.6f), r = param(m, "R", 3, (int64_t[]){D, G * H, H}, 0.6f);
    int b = param(m, "B", 2, (int64_t[]){D, 2 * G * H}, 0.5f);
    int sl = lens ? consti(m, "lens", 1, (int64_t[]){B}, (int64_t[]){T, 2, 3}) : -1;
    int h0 = param(m, "h0", 3, (int64_t[]){D, B, H}, 0.5f);
    int c0 = op == SK_OP_LSTM ? param(m, "c0", 3, (int64_t[]){D, B, H}, 0.5f) : -1;
    int p = peep ? param(m, "P", 2, (int64_t[]){D, 3 * H}, 0.5f) : -1;
    int outs[3] = {act(m, "Y"), act(m, "Y_h"), op == SK_OP_LSTM ? act(m, "Y_c") : -1};
    int ins[8] = {x, w, r, b, sl, h0, c0, p};
    sk_node *n = node(m, op, ins, op == SK_OP_LSTM ? (peep ? 8 : 7) : 6, outs, op == SK_OP_LSTM ? 3 : 2);
    sk_node_set_s(n, "direction", dir);
    sk_node_set_i(n, "hidden_size", H);
    if (op == SK_OP_GRU) sk_node_set_i(n, "linear_before_reset", lbr);
    char what[80];
    snprintf(what, sizeof what, "%s %s%s%s%s (BPTT)", sk_op_get(op)->name, dir, op == SK_OP_GRU ? (lbr ? " lbr=1" : " lbr=0") : "",
             lens ? " seq_lens" : "", peep ? " peepholes" : "");
    check_model(what, m);
}

/* ---- losses: finite differences directly on the loss functions ---- */
typedef double (*lossf)(float *x, float *g, void *ctx);

static double lcheck(lossf f, float *x, int64_t n, void *ctx)
{
    float *g = calloc((size_t)n, sizeof *g);
    f(x, g, ctx);
    double maxnum = 0, maxdiff = 0;
    for (int64_t i = 0; i < n; i++) {
        float keep = x[i];
        x[i] = keep + 1e-3f;
        double lp = f(x, NULL, ctx);
        x[i] = keep - 1e-3f;
        double lm = f(x, NULL, ctx);
        x[i] = keep;
        double num = (lp - lm) / 2e-3;
        maxnum = fmax(maxnum, fabs(num));
        maxdiff = fmax(maxdiff, fabs(num - g[i]));
    }
    free(g);
    return maxdiff / fmax(maxnum, 1e-3);
}

static float lt[64], lproj[64];
static int32_t llab[4] = {2, 0, 4, 1};
static int64_t lmask[8] = {1, 1, 0, 1, 1, 1, 1, 0}, lids[8] = {1, 3, 2, 0, 4, 4, 1, 2};

static double f_kd(float *x, float *g, void *c) { (void)c; return sk_loss_kd(x, lt, 4, 5, 2.0f, 0.7f, g) * 0.7; }
static double f_ce(float *x, float *g, void *c) { (void)c; return sk_loss_ce(x, llab, 4, 5, 1.3f, g) * 1.3; }
static double f_cos(float *x, float *g, void *c) { (void)c; return sk_loss_cos(x, lt, lmask, 8, 4, 1.0f, g); }
static double f_mse(float *x, float *g, void *c) { (void)c; return sk_loss_mse(x, lt, lmask, 8, 4, 4, NULL, 1.0f, g, NULL); }
static double f_msep_s(float *x, float *g, void *c) { (void)c; return sk_loss_mse(x, lt, lmask, 8, 3, 5, lproj, 1.0f, g, NULL); }
static double f_msep_p(float *x, float *g, void *c)
{
    return sk_loss_mse(c, lt, lmask, 8, 3, 5, x, 1.0f, NULL, g);
}
static double f_lm(float *x, float *g, void *c) { (void)c; return sk_loss_lm(x, lids, lmask, 2, 4, 5, 1.0f, g, NULL); }
/* attention scores: student q, k [2, 4, 6] (2 heads of 3), teacher [2, 4, 8] (2 of 4); lmask pads row 0's
 * token 2 and row 1's token 3 */
static float aq[48], ak[48], atq[64], atk[64];
static double f_att(float *x, float *g, void *c)
{
    bool dq = c != NULL, causal = c == (void *)2;
    sk_att_qk s = {dq ? x : aq, dq ? ak : x, 6, 0.7f}, t = {atq, atk, 8, 0.5f};
    return sk_loss_att(&s, &t, lmask, 2, 4, 2, causal, 0.9f, dq ? g : NULL, dq ? NULL : g) * 0.9;
}

static void t_losses(void)
{
    float x[64], s3[64];
    for (int i = 0; i < 64; i++) { x[i] = frand() * 2; lt[i] = frand() * 2; lproj[i] = frand(); s3[i] = frand(); }
    report("loss KD (T=2, ×T², weight 0.7)", lcheck(f_kd, x, 20, NULL));
    report("loss CE (weight 1.3)", lcheck(f_ce, x, 20, NULL));
    report("loss cosine (masked)", lcheck(f_cos, x, 32, NULL));
    report("loss hidden MSE (same width)", lcheck(f_mse, x, 32, NULL));
    report("loss hidden MSE, projection: ds", lcheck(f_msep_s, x, 24, NULL));
    report("loss hidden MSE, projection: dP", lcheck(f_msep_p, lproj, 15, s3));
    report("loss LM cross-entropy (masked)", lcheck(f_lm, x, 40, NULL));
    for (int i = 0; i < 48; i++) { aq[i] = frand(); ak[i] = frand(); }
    for (int i = 0; i < 64; i++) { atq[i] = frand(); atk[i] = frand(); }
    report("loss attention scores: dq (masked)", lcheck(f_att, aq, 48, (void *)1));
    report("loss attention scores: dq (causal)", lcheck(f_att, aq, 48, (void *)2));
    report("loss attention scores: dk (masked)", lcheck(f_att, ak, 48, NULL));
    /* CE skips unlabelled rows (-1): the same loss as over the labelled rows alone */
    int32_t lab2[4] = {2, -1, 4, -1}, lab1[2] = {2, 4};
    float x2[20], x1[10];
    for (int i = 0; i < 20; i++) x2[i] = frand();
    memcpy(x1, x2, 5 * sizeof(float));
    memcpy(x1 + 5, x2 + 10, 5 * sizeof(float));
    double ce2 = sk_loss_ce(x2, lab2, 4, 5, 1.0f, NULL), ce1 = sk_loss_ce(x1, lab1, 2, 5, 1.0f, NULL);
    printf("  CE with unlabelled rows %.6f, without them %.6f\n", ce2, ce1);
    CHECK(fabs(ce2 - ce1) < 1e-12);
    /* KD against itself is 0 with a zero gradient; CE of a confident right answer is ~0 */
    float z[10] = {1, 2, 3, 4, 5, 5, 4, 3, 2, 1}, gz[10] = {0};
    double kd0 = sk_loss_kd(z, z, 2, 5, 2.0f, 1.0f, gz);
    double gmax = 0;
    for (int i = 0; i < 10; i++) gmax = fmax(gmax, fabs(gz[i]));
    printf("  KD(s, s) = %.2e, max |grad| = %.2e\n", kd0, gmax);
    CHECK(fabs(kd0) < 1e-9 && gmax < 1e-7);
}

/* ---- whole models ---- */
static sk_status rand_weight(void *ctx, sk_model *m, const char *name, int rank, const int64_t *dims, bool optional,
                             int *id)
{
    (void)ctx;
    (void)optional;
    bool ln = strstr(name, "LayerNorm.weight") || strstr(name, "ln_") ? strstr(name, ".weight") != NULL : false;
    *id = param(m, name, rank, dims, ln ? 0.2f : 0.5f);
    if (ln) {
        float *d = m->g.tensors[*id].data;
        for (int64_t i = 0; i < dims[0]; i++) d[i] += 1.0f;
    }
    return SK_OK;
}

typedef struct { sk_model *m; int64_t *ids, *mask; int32_t *labels; float *tlog, *th; int B, S; } mctx;

/* KD + CE on the logits (classifiers) */
static double loss_cls(sk_train *t, void *ctx, bool seed)
{
    mctx *c = ctx;
    int lo = c->m->g.outputs[0];
    const sk_rtensor *y = sk_train_value(t, lo);
    float *gy = seed ? sk_train_grad_of(t, lo) : NULL;
    return sk_loss_kd(y->data, c->tlog, c->B, 3, 2.0f, 0.5f, gy) * 0.5 + sk_loss_ce(y->data, c->labels, c->B, 3, 0.5f, gy) * 0.5;
}

/* + cosine on the last hidden state + attention scores of the last layer against random teacher q, k */
static double loss_bert(sk_train *t, void *ctx, bool seed)
{
    mctx *c = ctx;
    double L = loss_cls(t, ctx, seed);
    const sk_node *an = NULL;
    for (int i = 0; i < c->m->g.n_nodes; i++) if (c->m->g.nodes[i].op == SK_OP_ATTENTION) an = &c->m->g.nodes[i];
    sk_att_qk sq = {sk_train_value(t, an->in[0])->data, sk_train_value(t, an->in[1])->data, 8, 0.5f};
    sk_att_qk tq = {c->th, c->th + 8, 16, 0.25f};   /* [B, S, 16] views of th: any teacher will do */
    L += sk_loss_att(&sq, &tq, c->mask, c->B, c->S, 2, false, 0.2f, seed ? sk_train_grad_of(t, an->in[0]) : NULL,
                     seed ? sk_train_grad_of(t, an->in[1]) : NULL) * 0.2;
    int hn = sk_student_hidden_node(c->m);
    int ht = c->m->g.nodes[hn].out[0];
    const sk_rtensor *h = sk_train_value(t, ht);
    L += sk_loss_cos(h->data, c->th, c->mask, c->B * c->S, 8, 0.3f, seed ? sk_train_grad_of(t, ht) : NULL) * 0.3;
    return L;
}

static double loss_gpt2(sk_train *t, void *ctx, bool seed)
{
    mctx *c = ctx;
    int lo = c->m->g.outputs[0];
    const sk_rtensor *y = sk_train_value(t, lo);
    return sk_loss_lm(y->data, c->ids, c->mask, c->B, c->S, 20, 1.0f, seed ? sk_train_grad_of(t, lo) : NULL, NULL);
}

static void t_models(void)
{
    for (int fam = 0; fam < 2; fam++) {
        sk_model *m = sk_model_new();
        sk_arch a = {.family = fam ? SK_FAM_GPT2 : SK_FAM_BERT, .n_layers = 2, .hidden = 8, .heads = 2, .ffn = 16,
                     .vocab = 20, .max_pos = 16, .type_vocab = 2, .n_labels = 3, .eps = 1e-5f};
        strcpy(a.task, fam ? "lm" : "seq-classification");
        strcpy(a.act, fam ? "gelu_new" : "gelu");
        m->arch = a;
        a.labels = NULL;
        sk_status st = sk_arch_build(m, &a, rand_weight, NULL);
        if (st) { printf("build: %s\n", sk_errmsg()); CHECK(0); sk_model_free(m); continue; }
        sk_train *t;
        if ((st = sk_train_new(m, 2, 0, &t))) { printf("train: %s\n", sk_errmsg()); CHECK(0); sk_model_free(m); continue; }
        enum { B = 3, S = 5 };
        int64_t ids[B * S], mask[B * S];
        for (int i = 0; i < B * S; i++) {
            ids[i] = (int64_t)(sk_rng_next(&rng) % 20);
            mask[i] = !((i / S == 1 && i % S >= 3) || (i / S == 2 && i % S == 4));   /* rows 1, 2 padded */
        }
        int32_t labels[B] = {2, 0, 1};
        float tlog[B * 3], th[B * S * 16];
        for (int i = 0; i < B * 3; i++) tlog[i] = frand() * 3;
        for (int i = 0; i < B * S * 16; i++) th[i] = frand();
        int64_t dims[2] = {B, S};
        sk_train_set_input(t, "input_ids", SK_DT_I64, 2, dims, ids);
        sk_train_set_input(t, "attention_mask", SK_DT_I64, 2, dims, mask);
        mctx c = {m, ids, mask, labels, tlog, th, B, S};
        double w = gradcheck(t, fam ? loss_gpt2 : loss_bert, &c, 6, EPS_MODEL);
        report(fam ? "GPT-2 2 layers, LM loss, padded batch" : "BERT 2 layers, KD+CE+cos+att, padded batch", w);
        sk_train_free(t);
        /* the model owns its weights again and still runs */
        sk_session *s;
        CHECK(sk_session_new(m, NULL, &s) == SK_OK);
        sk_session_set_input(s, "input_ids", SK_DT_I64, 2, dims, ids);
        CHECK(sk_session_run(s) == SK_OK);
        sk_session_free(s);
        sk_model_free(m);
    }
}

/* the small students (student.c) over a tiny BERT teacher's tokens, KD + CE, padded batch */
static void t_small_students(void)
{
    sk_model *tm = sk_model_new();
    sk_arch a = {.family = SK_FAM_BERT, .n_layers = 1, .hidden = 8, .heads = 2, .ffn = 16, .vocab = 20, .max_pos = 16,
                 .type_vocab = 2, .n_labels = 3, .eps = 1e-5f};
    strcpy(a.task, "seq-classification");
    strcpy(a.act, "gelu");
    tm->arch = a;
    if (sk_arch_build(tm, &a, rand_weight, NULL)) { printf("build: %s\n", sk_errmsg()); CHECK(0); sk_model_free(tm); return; }
    static const char *const specs[] = {"mlp,emb=6,hidden=5,layers=2", "rnn=lstm,emb=5,hidden=4,layers=2,dirs=2",
                                        "rnn=gru,emb=5,hidden=4", "cnn,emb=5,hidden=4,kernel=3,layers=2"};
    for (size_t k = 0; k < sizeof specs / sizeof specs[0]; k++) {
        sk_student_spec sp;
        sk_model *m = NULL;
        sk_train *t = NULL;
        if (sk_student_parse(specs[k], &sp) || sk_student_build(tm, &sp, 3, &m) || sk_train_new(m, 1, 0, &t)) {
            printf("  %s: %s\n", specs[k], sk_errmsg());
            CHECK(0);
            sk_model_free(m);
            continue;
        }
        enum { B = 3, S = 5 };
        int64_t ids[B * S], mask[B * S], dims[2] = {B, S};
        for (int i = 0; i < B * S; i++) {
            ids[i] = (int64_t)(sk_rng_next(&rng) % 20);
            mask[i] = !((i / S == 1 && i % S >= 3) || (i / S == 2 && i % S == 4));
        }
        int32_t labels[B] = {2, 0, 1};
        float tlog[B * 3];
        for (int i = 0; i < B * 3; i++) tlog[i] = frand() * 3;
        sk_train_set_input(t, "input_ids", SK_DT_I64, 2, dims, ids);
        sk_train_set_input(t, "attention_mask", SK_DT_I64, 2, dims, mask);
        mctx c = {m, ids, mask, labels, tlog, NULL, B, S};
        char what[80];
        snprintf(what, sizeof what, "student %s", specs[k]);
        report(what, gradcheck(t, loss_cls, &c, 6, EPS_RELU));
        sk_train_free(t);
        sk_model_free(m);
    }
    sk_model_free(tm);
}

int main(void)
{
    printf("test_grad: backward of each op vs central differences (eps %g), tolerance %g\n", (double)EPS, TOL);
    t_linear(1, "", true);
    t_linear(0, "", false);
    t_linear(1, "gelu", true);
    t_linear(0, "gelu_tanh", true);
    t_linear(1, "relu", true);
    t_linear(1, "tanh", true);
    t_attention(0, false, 4, 4);
    t_attention(0, true, 4, 4);
    t_attention(1, true, 4, 4);
    t_attention(1, false, 9, 9);
    t_attention(0, true, 3, 5);
    t_layernorm();
    t_skip_layernorm(false);
    t_skip_layernorm(true);
    t_unary(SK_OP_GELU, "none", 0);
    t_unary(SK_OP_GELU, "tanh", 0);
    t_relu();
    t_unary(SK_OP_TANH, NULL, 0);
    t_unary(SK_OP_SIGMOID, NULL, 0);
    t_unary(SK_OP_EXP, NULL, 0);
    t_unary(SK_OP_SQRT, NULL, 0.5f);
    t_unary(SK_OP_LOG, NULL, 0.5f);
    t_softmax(-1);
    t_softmax(1);
    t_gather();
    t_binary(SK_OP_ADD, 3, (int64_t[]){2, 3, 4}, 2, (int64_t[]){3, 4});
    t_binary(SK_OP_SUB, 3, (int64_t[]){2, 3, 4}, 1, (int64_t[]){4});
    t_binary(SK_OP_MUL, 3, (int64_t[]){2, 1, 4}, 2, (int64_t[]){3, 1});
    t_binary(SK_OP_DIV, 2, (int64_t[]){3, 4}, 2, (int64_t[]){3, 4});
    t_binary(SK_OP_MUL, 2, (int64_t[]){3, 4}, 2, (int64_t[]){3, 4});
    t_movement();
    t_matmul();
    t_reduce(SK_OP_REDUCE_SUM, (int64_t[]){1}, 1, 0);
    t_reduce(SK_OP_REDUCE_MEAN, (int64_t[]){0, 2}, 2, 1);
    t_reduce(SK_OP_REDUCE_MEAN, (int64_t[]){-1}, 1, 0);
    t_conv("Conv 2-D group 2 pads strides dil", 4, (int64_t[]){2, 4, 5, 6}, (int64_t[]){6, 2, 3, 3}, 2,
           (int64_t[]){1, 0, 1, 2}, (int64_t[]){2, 1}, (int64_t[]){1, 2}, true);
    t_conv("Conv 1-D pads 1 (text CNN)", 3, (int64_t[]){2, 3, 7}, (int64_t[]){4, 3, 3}, 1, (int64_t[]){1, 1}, NULL,
           NULL, true);
    t_conv("Conv 1x1 (direct path)", 4, (int64_t[]){1, 3, 4, 4}, (int64_t[]){2, 3, 1, 1}, 1, NULL, NULL, NULL, false);
    t_pool(SK_OP_MAX_POOL, "MaxPool 2x2 stride 2", (int64_t[]){2, 2}, NULL, (int64_t[]){2, 2}, 0, 0);
    t_pool(SK_OP_MAX_POOL, "MaxPool 3x3 pads 1 ceil_mode", (int64_t[]){3, 3}, (int64_t[]){1, 1, 1, 1},
           (int64_t[]){2, 2}, 1, 0);
    t_pool(SK_OP_AVG_POOL, "AveragePool 2x2 stride 2", (int64_t[]){2, 2}, NULL, (int64_t[]){2, 2}, 0, 0);
    t_pool(SK_OP_AVG_POOL, "AveragePool 3x3 pads, exclude pad", (int64_t[]){3, 3}, (int64_t[]){1, 1, 1, 1}, NULL, 0, 0);
    t_pool(SK_OP_AVG_POOL, "AveragePool 3x3 pads, include pad", (int64_t[]){3, 3}, (int64_t[]){1, 0, 1, 0},
           (int64_t[]){2, 2}, 1, 1);
    t_pool(SK_OP_GLOBAL_AVG_POOL, "GlobalAveragePool", NULL, NULL, NULL, 0, 0);
    t_batchnorm();
    t_rnn(SK_OP_LSTM, "forward", 0, false, false);
    t_rnn(SK_OP_LSTM, "forward", 0, true, true);
    t_rnn(SK_OP_LSTM, "bidirectional", 0, true, false);
    t_rnn(SK_OP_GRU, "forward", 0, true, false);
    t_rnn(SK_OP_GRU, "forward", 1, true, false);
    t_rnn(SK_OP_GRU, "reverse", 1, false, false);
    t_rnn(SK_OP_GRU, "bidirectional", 0, true, false);
    t_rnn(SK_OP_RNN, "forward", 0, true, false);
    t_rnn(SK_OP_RNN, "reverse", 0, false, false);
    t_losses();
    t_models();
    t_small_students();
    printf("test_grad: %d checks, %d failed\n", checks, fails);
    return fails ? 1 : 0;
}
