/* test_onnx_export.c — the ONNX exporter (formats/onnx_export.c).
 *
 * Builds small graphs by hand: fused ops (LAYERNORM, SKIP_LAYERNORM with bias,
 * GELU both ways, LINEAR wt 0/1 with activations and a weight shared with a
 * Gather, ATTENTION causal and not, with and without a mask), primitive ops in
 * the spellings the importer keeps (axes as attribute and as input, Split
 * sizes, ConstantOfShape value), and quantized LINEARs (int8 per channel and
 * grouped, W8A8 and weight-only; int4 symmetric and asymmetric, groups that
 * are and are not a MatMulNBits block size).  Then checks:
 *   - f32 graphs exported at every opset 17..21, inline and with external
 *     data, read back by the importer and run by the runtime next to the
 *     original on the same inputs: max abs diff ≤ 1e-5 (printed);
 *   - quantized exports unpacked with protobuf-c: MatMulNBits' B is W's
 *     bytes, its zero points are packed two per byte low nibble first, its
 *     scales repeated when the group was re-blocked; DequantizeLinear's
 *     int8 weight is Wᵀ; opset imports and dynamic dims are right;
 *   - errors: an existing file without force, an unsupported opset or group,
 *     grouped W8A8 in the dynamic form, each naming the node; every single
 *     allocation failure fails cleanly and leaves no file behind.
 *
 *   test_onnx_export           run the checks
 *   test_onnx_export DIR       also write the cases for tests/py/test_onnx_export.py:
 *                              DIR/<case>/{q.skm, ref.skm, *.onnx, x.npy, w.npy, b.npy, case.json}
 *                              (q.skm quantized, ref.skm the same graph with W dequantized to f32)
 */
#include <dirent.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "formats.h"
#include "onnx.pb-c.h"
#include "runtime/runtime.h"
#include "util/util.h"

static int fails, checks;
#define CHECK(c) do { checks++; if (!(c)) { printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #c); fails++; } } while (0)
#define OK(expr) do { sk_status st_ = (expr); checks++; \
        if (st_) { printf("FAIL %s:%d: %s: %s\n", __FILE__, __LINE__, #expr, sk_errmsg()); fails++; } } while (0)

static char tmpdir[64];

/* ---- random numbers (xorshift, fixed seed) ---- */
static uint64_t rng = 0x9e3779b97f4a7c15ull;
static float frand(void)   /* uniform in [-1, 1) */
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((rng >> 40) * (1.0 / (1ull << 23)) - 1.0);
}

/* ---- building graphs ---- */
static int cst(sk_model *m, const char *name, sk_dtype dt, int rank, const int64_t *dims, const void *src)
{
    size_t nb = 0;
    int64_t n = 1;
    for (int i = 0; i < rank; i++) n *= dims[i];
    SK_ASSERT(sk_dtype_nbytes(dt, n, &nb));
    void *p = sk_malloc(nb ? nb : 1);
    SK_ASSERT(p);
    if (nb) memcpy(p, src, nb);
    int id = sk_graph_add_const(&m->g, name, dt, rank, dims, p, true);
    SK_ASSERT(id >= 0);
    if (dt == SK_DT_F32 && n > 1) m->g.tensors[id].flags |= SK_TF_WEIGHT;
    return id;
}

static int randc(sk_model *m, const char *name, int rank, const int64_t *dims, float scale, float offset)
{
    int64_t n = 1;
    for (int i = 0; i < rank; i++) n *= dims[i];
    float *v = malloc((size_t)n * sizeof *v);
    for (int64_t i = 0; i < n; i++) v[i] = offset + scale * frand();
    int id = cst(m, name, SK_DT_F32, rank, dims, v);
    free(v);
    return id;
}

static int i64c(sk_model *m, const char *name, int n, const int64_t *v)
{
    int64_t d = n;
    return cst(m, name, SK_DT_I64, 1, &d, v);
}

/* A graph input; dims -1 get the names in dn (NULL-terminated). */
static int input(sk_model *m, const char *name, sk_dtype dt, int rank, const int64_t *dims, const char *const *dn)
{
    int id = sk_graph_add_tensor(&m->g, name, dt, rank, dims);
    SK_ASSERT(id >= 0);
    for (int i = 0, k = 0; i < rank; i++)
        if (dims[i] < 0 && dn && dn[k]) m->g.tensors[id].dim_names[i] = sk_strdup(dn[k++]);
    SK_ASSERT(!sk_graph_add_input(&m->g, id));
    return id;
}

/* A node with one output tensor called name; returns the tensor, *nd the node. */
static int node(sk_model *m, sk_op op, const char *name, const int *ins, int n_in, sk_dtype dt, int rank,
                const int64_t *dims, sk_node **nd)
{
    int y = sk_graph_add_tensor(&m->g, name, dt, rank, dims);
    int k = sk_graph_add_node(&m->g, op, name, ins, n_in, &y, 1);
    SK_ASSERT(y >= 0 && k >= 0);
    if (nd) *nd = &m->g.nodes[k];
    return y;
}

/* ---- quantizing (passes/quant.h conventions, done here by hand) ---- */
typedef struct qcase {
    const char *name;
    int bits, group, act_bits;   /* group 0 = K (per channel) */
    bool sym, bias, two_d;       /* two_d: x [batch, K] (Gemm path), else [batch, seq, K] */
    const char *act;
    int64_t N, K;
} qcase;

/* w [N, K] → codes, scales [N, K/g], zeros (bits 4, asym) and the dequantized wd. */
static void quantize(const qcase *c, const float *w, void *codes, float *scales, uint8_t *zeros, float *wd)
{
    int64_t N = c->N, K = c->K, g = c->group ? c->group : K, ng = K / g;
    for (int64_t n = 0; n < N; n++)
        for (int64_t j = 0; j < ng; j++) {
            const float *v = w + n * K + j * g;
            float lo = 0, hi = 0, amax = 0;
            for (int64_t k = 0; k < g; k++) {
                lo = fminf(lo, v[k]);
                hi = fmaxf(hi, v[k]);
                amax = fmaxf(amax, fabsf(v[k]));
            }
            float s;
            int z;
            if (c->bits == 8) { s = amax / 127; z = 0; }
            else if (c->sym) { s = amax / 7; z = 8; }
            else { s = (hi - lo) / 15; z = (int)rintf(-lo / s); }
            if (s == 0) s = 1;
            scales[n * ng + j] = s;
            if (zeros) zeros[n * ng + j] = (uint8_t)z;
            for (int64_t k = 0; k < g; k++) {
                int64_t i = n * K + j * g + k;
                int q = (int)rintf(v[k] / s) + z;
                int lo_q = c->bits == 8 ? -127 : 0, hi_q = c->bits == 8 ? 127 : 15;
                q = q < lo_q ? lo_q : q > hi_q ? hi_q : q;
                if (c->bits == 8) ((int8_t *)codes)[i] = (int8_t)q;
                else ((uint8_t *)codes)[i / 2] |= (uint8_t)(q << (4 * (i & 1)));
                wd[i] = s * (float)(q - z);
            }
        }
}

/* One quantized LINEAR y = act(x·Wᵀ + b); with deq, the same graph with W
 * dequantized to an f32 LINEAR (the reference).  *w_out and *b_out (may
 * be NULL) get copies of the dequantized W and the bias. */
static sk_model *qmodel(const qcase *c, bool deq, float **w_out, float **b_out)
{
    sk_model *m = sk_model_new();
    rng = 0x1234567ull + (uint64_t)c->N * 31 + (uint64_t)c->K;
    int64_t N = c->N, K = c->K, g = c->group ? c->group : K, ng = K / g;
    int64_t xd[3] = {-1, -1, K}, yd[3] = {-1, -1, N};
    int rank = c->two_d ? 2 : 3;
    if (c->two_d) { xd[1] = K; yd[1] = N; }
    int x = input(m, "x", SK_DT_F32, rank, xd, (const char *const[]){"batch", "sequence", NULL});
    float *w = malloc((size_t)(N * K) * sizeof *w), *wd = malloc((size_t)(N * K) * sizeof *wd);
    float *b = malloc((size_t)N * sizeof *b), *sc = malloc((size_t)(N * ng) * sizeof *sc);
    uint8_t *z = c->bits == 4 && !c->sym ? malloc((size_t)(N * ng)) : NULL;
    void *codes = calloc(1, (size_t)(N * K));
    for (int64_t i = 0; i < N * K; i++) w[i] = 0.2f * frand() + (i % 7 == 0 ? 0.05f : 0.0f);   /* some asymmetry */
    for (int64_t i = 0; i < N; i++) b[i] = 0.5f * frand();
    quantize(c, w, codes, sc, z, wd);
    int ins[5] = {x, -1, c->bias ? cst(m, "fc.bias", SK_DT_F32, 1, &N, b) : -1, -1, -1}, n_in = 3;
    if (deq) {
        ins[1] = cst(m, "fc.weight", SK_DT_F32, 2, (int64_t[]){N, K}, wd);
    } else {
        ins[1] = cst(m, "fc.weight", c->bits == 8 ? SK_DT_I8 : SK_DT_Q4, 2, (int64_t[]){N, K}, codes);
        ins[3] = ng == 1 && c->bits == 8 ? cst(m, "fc.scales", SK_DT_F32, 1, &N, sc)
                                         : cst(m, "fc.scales", SK_DT_F32, 2, (int64_t[]){N, ng}, sc);
        n_in = 4;
        if (z) { ins[4] = cst(m, "fc.zeros", SK_DT_U8, 2, (int64_t[]){N, ng}, z); n_in = 5; }
    }
    sk_node *nd;
    int y = node(m, SK_OP_LINEAR, "fc", ins, n_in, SK_DT_F32, rank, yd, &nd);
    sk_node_set_i(nd, "wt", 1);
    if (c->act && *c->act) sk_node_set_s(nd, "act", c->act);
    if (!deq) {
        sk_node_set_i(nd, "bits", c->bits);
        sk_node_set_i(nd, "group", g);
        sk_node_set_i(nd, "act_bits", c->act_bits);
    }
    sk_free(m->g.tensors[y].name);
    m->g.tensors[y].name = sk_strdup("y");
    SK_ASSERT(!sk_graph_add_output(&m->g, y));
    m->arch.family = SK_FAM_MLP;
    if (w_out) *w_out = wd; else free(wd);
    if (b_out) *b_out = b; else free(b);
    free(w);
    free(sc);
    free(z);
    free(codes);
    OK(sk_graph_verify(&m->g));
    return m;
}

/* A one-layer pre-LN transformer with every fused op, and an LM head tied
 * to the embedding (so W is read by a Gather and, transposed, by a LINEAR).
 * max_pos 0 makes the exporter build the causal mask with Range. */
static sk_model *fused_model(int max_pos)
{
    enum { H = 16, HEADS = 4, F = 24, V = 11 };
    sk_model *m = sk_model_new();
    rng = 77;
    const int64_t dx[3] = {-1, -1, H}, dH[1] = {H}, dF[1] = {F}, dHH[2] = {H, H}, dFH[2] = {F, H};
    const int64_t dfx[3] = {-1, -1, F}, dv[3] = {-1, -1, V};
    const char *const bs[] = {"batch", "sequence", NULL};
    int ids = input(m, "input_ids", SK_DT_I64, 2, (int64_t[]){-1, -1}, bs);
    int mask = input(m, "attention_mask", SK_DT_I64, 2, (int64_t[]){-1, -1}, bs);
    int emb = randc(m, "wte", 2, (int64_t[]){V, H}, 1.0f, 0);
    sk_node *nd;
    int h = node(m, SK_OP_GATHER, "embed", (int[]){emb, ids}, 2, SK_DT_F32, 3, dx, &nd);
    sk_node_set_i(nd, "axis", 0);
    int x = node(m, SK_OP_LAYERNORM, "ln_1", (int[]){h, randc(m, "ln_1.g", 1, dH, 0.1f, 1), randc(m, "ln_1.b", 1, dH, 0.1f, 0)},
                 3, SK_DT_F32, 3, dx, &nd);
    sk_node_set_i(nd, "axis", -1);
    sk_node_set_f(nd, "epsilon", 1e-5f);
    int qkv[3];
    const char *nm[3] = {"q", "k", "v"};
    for (int i = 0; i < 3; i++) {   /* q, k as nn.Linear (wt 1), v as Conv1D (wt 0) */
        char wn[16], bn[16];
        snprintf(wn, sizeof wn, "%s.w", nm[i]);
        snprintf(bn, sizeof bn, "%s.b", nm[i]);
        qkv[i] = node(m, SK_OP_LINEAR, nm[i], (int[]){x, randc(m, wn, 2, dHH, 0.5f, 0), randc(m, bn, 1, dH, 0.2f, 0)}, 3,
                      SK_DT_F32, 3, dx, &nd);
        sk_node_set_i(nd, "wt", i < 2);
    }
    int a = node(m, SK_OP_ATTENTION, "attn", (int[]){qkv[0], qkv[1], qkv[2], mask}, 4, SK_DT_F32, 3, dx, &nd);
    sk_node_set_i(nd, "num_heads", HEADS);
    sk_node_set_i(nd, "causal", 1);
    int a2 = node(m, SK_OP_ATTENTION, "attn_plain", (int[]){qkv[0], qkv[1], qkv[2]}, 3, SK_DT_F32, 3, dx, &nd);
    sk_node_set_i(nd, "num_heads", 2);
    sk_node_set_f(nd, "scale", 0.3f);
    a = node(m, SK_OP_ADD, "attn_sum", (int[]){a, a2}, 2, SK_DT_F32, 3, dx, NULL);
    int o = node(m, SK_OP_LINEAR, "attn.out", (int[]){a, randc(m, "o.w", 2, dHH, 0.5f, 0)}, 2, SK_DT_F32, 3, dx, &nd);
    h = node(m, SK_OP_SKIP_LAYERNORM, "ln_2",
             (int[]){o, h, randc(m, "ln_2.g", 1, dH, 0.1f, 1), randc(m, "ln_2.b", 1, dH, 0.1f, 0),
                     randc(m, "ln_2.bias", 1, dH, 0.3f, 0)}, 5, SK_DT_F32, 3, dx, &nd);
    sk_node_set_f(nd, "epsilon", 1e-6f);
    int f = node(m, SK_OP_LINEAR, "fc1", (int[]){h, randc(m, "fc1.w", 2, dFH, 0.5f, 0), randc(m, "fc1.b", 1, dF, 0.2f, 0)},
                 3, SK_DT_F32, 3, dfx, &nd);
    sk_node_set_s(nd, "act", "gelu");
    int f2 = node(m, SK_OP_GELU, "gelu_tanh", &f, 1, SK_DT_F32, 3, dfx, &nd);
    sk_node_set_s(nd, "approximate", "tanh");
    int f3 = node(m, SK_OP_GELU, "gelu_erf", &f2, 1, SK_DT_F32, 3, dfx, &nd);
    sk_node_set_s(nd, "approximate", "none");
    int g = node(m, SK_OP_LINEAR, "fc2", (int[]){f3, randc(m, "fc2.w", 2, dFH, 0.5f, 0), randc(m, "fc2.b", 1, dH, 0.2f, 0)},
                 3, SK_DT_F32, 3, dx, &nd);
    sk_node_set_i(nd, "wt", 0);
    sk_node_set_s(nd, "act", "tanh");
    h = node(m, SK_OP_ADD, "residual", (int[]){g, h}, 2, SK_DT_F32, 3, dx, NULL);
    int logits = node(m, SK_OP_LINEAR, "lm_head", (int[]){h, emb}, 2, SK_DT_F32, 3, dv, &nd);
    sk_node_set_i(nd, "wt", 1);
    int64_t c00 = 0;
    int first = node(m, SK_OP_GATHER, "first", (int[]){h, cst(m, "zero", SK_DT_I64, 0, NULL, &c00)}, 2, SK_DT_F32, 2,
                     (int64_t[]){-1, H}, &nd);
    sk_node_set_i(nd, "axis", 1);
    int pooled = node(m, SK_OP_LINEAR, "pooler", (int[]){first, randc(m, "pool.w", 2, dHH, 0.5f, 0), randc(m, "pool.b", 1, dH, 0.2f, 0)},
                      3, SK_DT_F32, 2, (int64_t[]){-1, H}, &nd);
    sk_node_set_s(nd, "act", "relu");
    sk_graph_add_output(&m->g, logits);
    sk_graph_add_output(&m->g, pooled);
    m->g.tensors[logits].dim_names[0] = sk_strdup("batch");
    m->g.tensors[logits].dim_names[1] = sk_strdup("sequence");
    m->arch.family = SK_FAM_GPT2;
    m->arch.max_pos = max_pos;
    OK(sk_model_add_prov(m, "test", "{\"what\": \"hand-built\"}"));
    OK(sk_graph_verify(&m->g));
    return m;
}

/* Primitive ops in the spellings the importer keeps from older and newer
 * opsets: Squeeze/Unsqueeze/ReduceSum axes as attributes (opset < 13),
 * ReduceMean axes as an input (opset 18), Split sizes as an attribute,
 * ConstantOfShape's value as value/value_dtype. */
static sk_model *prim_model(void)
{
    sk_model *m = sk_model_new();
    rng = 99;
    const char *const bs[] = {"batch", NULL};
    int x = input(m, "x", SK_DT_F32, 3, (int64_t[]){-1, 6, 4}, bs);
    sk_node *nd;
    int u = node(m, SK_OP_UNSQUEEZE, "unsq", &x, 1, SK_DT_F32, 4, (int64_t[]){-1, 1, 6, 4}, &nd);
    sk_node_set_ints(nd, "axes", (int64_t[]){1}, 1);
    int s = node(m, SK_OP_SQUEEZE, "sq", &u, 1, SK_DT_F32, 3, (int64_t[]){-1, 6, 4}, &nd);
    sk_node_set_ints(nd, "axes", (int64_t[]){1}, 1);
    int rs = node(m, SK_OP_REDUCE_SUM, "rsum", &s, 1, SK_DT_F32, 3, (int64_t[]){-1, 6, 1}, &nd);
    sk_node_set_ints(nd, "axes", (int64_t[]){2}, 1);
    int rm = node(m, SK_OP_REDUCE_MEAN, "rmean", (int[]){s, i64c(m, "axes1", 1, (int64_t[]){1})}, 2, SK_DT_F32, 3,
                  (int64_t[]){-1, 1, 4}, &nd);
    sk_node_set_i(nd, "keepdims", 1);
    int t = node(m, SK_OP_ADD, "bcast", (int[]){rs, rm}, 2, SK_DT_F32, 3, (int64_t[]){-1, 6, 4}, NULL);
    int parts[3];
    for (int i = 0; i < 3; i++) {
        char n[16];
        snprintf(n, sizeof n, "part%d", i);
        parts[i] = sk_graph_add_tensor(&m->g, n, SK_DT_F32, 3, (int64_t[]){-1, i + 1, 4});
    }
    int k = sk_graph_add_node(&m->g, SK_OP_SPLIT, "split", &t, 1, parts, 3);
    sk_node_set_ints(&m->g.nodes[k], "split", (int64_t[]){1, 2, 3}, 3);
    sk_node_set_i(&m->g.nodes[k], "axis", 1);
    int shp = node(m, SK_OP_SHAPE, "shape", &parts[2], 1, SK_DT_I64, 1, (int64_t[]){3}, NULL);
    int cs = node(m, SK_OP_CONSTANT_OF_SHAPE, "fill", &shp, 1, SK_DT_I64, 3, (int64_t[]){-1, 3, 4}, &nd);
    sk_node_set_f(nd, "value", 3.0f);
    sk_node_set_i(nd, "value_dtype", SK_DT_I64);
    int cf = node(m, SK_OP_CAST, "cast", &cs, 1, SK_DT_F32, 3, (int64_t[]){-1, 3, 4}, &nd);
    sk_node_set_i(nd, "to", 1);
    int y = node(m, SK_OP_MUL, "scale3", (int[]){parts[2], cf}, 2, SK_DT_F32, 3, (int64_t[]){-1, 3, 4}, NULL);
    int z = node(m, SK_OP_CONCAT, "cat", (int[]){parts[0], parts[1], y}, 3, SK_DT_F32, 3, (int64_t[]){-1, 6, 4}, &nd);
    sk_node_set_i(nd, "axis", 1);
    sk_graph_add_output(&m->g, z);
    OK(sk_graph_verify(&m->g));
    return m;
}

/* ---- running ---- */
typedef struct feed { const char *name; sk_dtype dt; int rank; int64_t dims[4]; const void *data; } feed;

/* Run m on the feeds; out[i] gets a malloc'd copy of output i (n floats). */
static sk_status run(const sk_model *m, const feed *f, int nf, float **out, int64_t *n, int nout)
{
    sk_session *s;
    sk_session_opts o = {.threads = 1};
    sk_status st = sk_session_new(m, &o, &s);
    for (int i = 0; !st && i < nf; i++) st = sk_session_set_input(s, f[i].name, f[i].dt, f[i].rank, f[i].dims, f[i].data);
    if (!st) st = sk_session_run(s);
    for (int i = 0; !st && i < nout; i++) {
        const sk_rtensor *t = sk_session_output(s, i);
        if (!t || t->dtype != SK_DT_F32) { st = sk_err(SK_ERR_INVALID, "output %d is not f32", i); break; }
        n[i] = sk_rt_numel(t);
        out[i] = malloc((size_t)(n[i] ? n[i] : 1) * sizeof(float));
        memcpy(out[i], t->data, (size_t)n[i] * sizeof(float));
    }
    sk_session_free(s);
    return st;
}

/* Export a's model, import the file and run both; returns the max abs diff (-1 on error). */
static double roundtrip(const sk_model *m, const char *path, const sk_onnx_save_opts *o, const feed *f, int nf,
                        int nout)
{
    sk_model *back = NULL;
    float *ya[4] = {0}, *yb[4] = {0};
    int64_t na[4], nb[4];
    double worst = -1;
    sk_status st = sk_onnx_save(m, path, o);
    if (!st) st = sk_onnx_load(path, &back);
    if (!st) st = run(m, f, nf, ya, na, nout);
    if (!st) st = run(back, f, nf, yb, nb, nout);
    if (st) printf("  %s: %s\n", path, sk_errmsg());
    for (int i = 0; !st && i < nout; i++) {
        if (na[i] != nb[i]) { worst = INFINITY; break; }
        worst = worst < 0 ? 0 : worst;
        for (int64_t j = 0; j < na[i]; j++) {
            double d = fabs((double)ya[i][j] - yb[i][j]);
            if (!(d <= worst)) worst = d;
        }
    }
    for (int i = 0; i < 4; i++) { free(ya[i]); free(yb[i]); }
    sk_model_free(back);
    return worst;
}

/* ---- reading an exported file back as protobuf ---- */
static Onnx__ModelProto *unpack(const char *path)
{
    char *buf;
    size_t len;
    if (sk_read_file(path, &buf, &len)) return NULL;
    Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, len, (const uint8_t *)buf);
    sk_free(buf);
    return mp;
}

static const Onnx__NodeProto *find_node(const Onnx__ModelProto *mp, const char *op, int nth)
{
    for (size_t i = 0; i < mp->graph->n_node; i++)
        if (!strcmp(mp->graph->node[i]->op_type, op) && nth-- == 0) return mp->graph->node[i];
    return NULL;
}

static const Onnx__TensorProto *find_init(const Onnx__ModelProto *mp, const char *name)
{
    for (size_t i = 0; i < mp->graph->n_initializer; i++)
        if (!strcmp(mp->graph->initializer[i]->name, name)) return mp->graph->initializer[i];
    return NULL;
}

static int64_t attr_int(const Onnx__NodeProto *np, const char *name)
{
    for (size_t i = 0; np && i < np->n_attribute; i++)
        if (!strcmp(np->attribute[i]->name, name)) return np->attribute[i]->i;
    return -999;
}

static bool no_temp_files(void)
{
    DIR *d = opendir(tmpdir);
    bool ok = true;
    for (struct dirent *e; d && (e = readdir(d));)
        if (strstr(e->d_name, ".tmp")) ok = false;
    if (d) closedir(d);
    return ok;
}

/* ---- the checks ---- */
static const qcase qcases[] = {
    /* name        bits group act sym   bias  2d     act          N   K */
    {"q8_pc",      8,   0,  8,  true,  true,  false, "gelu",      48, 64},
    {"q8_wo_2d",   8,   0,  0,  true,  false, true,  "",          40, 64},
    {"q8_grp",     8,   16, 8,  true,  true,  false, "",          32, 64},
    {"q4_sym",     4,   32, 8,  true,  true,  false, "",          48, 64},
    {"q4_asym_g48",4,   48, 8,  false, true,  false, "relu",      40, 96},
    {"q4_wo",      4,   64, 0,  false, false, true,  "",          24, 128},
    {"q4_asym_odd",4,   16, 8,  false, true,  false, "",          24, 80},   /* 5 blocks: a half-used zero-point byte */
    {"q4_g512",    4,   0,  8,  true,  true,  false, "",          16, 512},
};
#define N_QCASES (sizeof qcases / sizeof qcases[0])

static void check_fused(void)
{
    enum { B = 2, S = 5 };
    int64_t ids[B * S], mask[B * S];
    for (int i = 0; i < B * S; i++) { ids[i] = (i * 7 + 3) % 11; mask[i] = !(i / S == 1 && i % S >= 3); }
    feed f[2] = {{"input_ids", SK_DT_I64, 2, {B, S}, ids}, {"attention_mask", SK_DT_I64, 2, {B, S}, mask}};
    for (int pass = 0; pass < 2; pass++) {
        sk_model *m = fused_model(pass ? 16 : 0);
        for (int opset = 17; opset <= 21; opset++) {
            char path[128];
            snprintf(path, sizeof path, "%s/fused_%d_%d.onnx", tmpdir, pass, opset);
            sk_onnx_save_opts o = {.opset = opset};
            double d = roundtrip(m, path, &o, f, 2, 2);
            printf("fused (causal mask %s) opset %d: export → import → run, max abs diff %.3g\n",
                   pass ? "buffer" : "Range", opset, d);
            CHECK(d >= 0 && d <= 1e-5);
        }
        /* external data: every tensor ≥ 1 kB in fused.onnx.data, aligned; the importer maps it */
        char path[128], dpath[140];
        snprintf(path, sizeof path, "%s/fused_ext.onnx", tmpdir);
        snprintf(dpath, sizeof dpath, "%s.data", path);
        sk_onnx_save_opts o = {.external_data = 1, .force = true};
        double d = roundtrip(m, path, &o, f, 2, 2);
        printf("fused, external data: max abs diff %.3g\n", d);
        CHECK(d >= 0 && d <= 1e-5);
        CHECK(sk_file_exists(dpath));
        Onnx__ModelProto *mp = unpack(path);
        CHECK(mp != NULL);
        int n_ext = 0;
        for (size_t i = 0; mp && i < mp->graph->n_initializer; i++) {
            const Onnx__TensorProto *t = mp->graph->initializer[i];
            if (!t->n_external_data) continue;
            n_ext++;
            CHECK(!t->has_raw_data && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL);
            CHECK(!strcmp(t->external_data[0]->key, "location") && !strcmp(t->external_data[0]->value, "fused_ext.onnx.data"));
            CHECK(!strcmp(t->external_data[1]->key, "offset") && atoll(t->external_data[1]->value) % 64 == 0);
        }
        CHECK(n_ext >= 1);
        /* the graph as written: opset, dynamic dims, metadata, the tied weight transposed by a node */
        CHECK(mp && mp->n_opset_import == 1 && mp->opset_import[0]->version == 17 && mp->ir_version == 8);
        const Onnx__ValueInfoProto *in0 = mp ? mp->graph->input[0] : NULL;
        CHECK(in0 && in0->type->tensor_type->shape->n_dim == 2 &&
              !strcmp(in0->type->tensor_type->shape->dim[0]->dim_param, "batch") &&
              !strcmp(in0->type->tensor_type->shape->dim[1]->dim_param, "sequence"));
        CHECK(mp && mp->n_metadata_props == 2 && strstr(mp->metadata_props[0]->value, "hand-built"));
        CHECK(mp && find_node(mp, "Transpose", 0) && find_init(mp, "wte") && !find_init(mp, "wte/T"));
        CHECK(mp && find_init(mp, "q.w/T") && !find_init(mp, "q.w"));   /* used only transposed: stored so */
        CHECK(mp && find_node(mp, pass ? "Slice" : "Range", 0) && find_node(mp, "Where", 0));
        CHECK(mp && find_node(mp, "Gemm", 0) && attr_int(find_node(mp, "Gemm", 0), "transB") == 1);
        if (mp) onnx__model_proto__free_unpacked(mp, NULL);
        /* without force, existing files are refused and left alone */
        sk_status st = sk_onnx_save(m, path, &(sk_onnx_save_opts){.external_data = 1});
        CHECK(st == SK_ERR_IO && strstr(sk_errmsg(), "already exists"));
        unlink(path);
        st = sk_onnx_save(m, path, &(sk_onnx_save_opts){.external_data = 1});
        CHECK(st == SK_ERR_IO && strstr(sk_errmsg(), ".data: already exists") && !sk_file_exists(path));
        unlink(dpath);
        sk_model_free(m);
    }
}

static void check_prim(void)
{
    sk_model *m = prim_model();
    float x[2 * 6 * 4];
    for (int i = 0; i < 48; i++) x[i] = frand();
    feed f[1] = {{"x", SK_DT_F32, 3, {2, 6, 4}, x}};
    for (int opset = 17; opset <= 21; opset++) {
        char path[128];
        snprintf(path, sizeof path, "%s/prim_%d.onnx", tmpdir, opset);
        double d = roundtrip(m, path, &(sk_onnx_save_opts){.opset = opset}, f, 1, 1);
        printf("primitive respellings, opset %d: max abs diff %.3g\n", opset, d);
        CHECK(d >= 0 && d <= 1e-6);
        Onnx__ModelProto *mp = unpack(path);
        if (!mp) { CHECK(0); continue; }
        const Onnx__NodeProto *sq = find_node(mp, "Squeeze", 0), *rm = find_node(mp, "ReduceMean", 0);
        const Onnx__NodeProto *sp = find_node(mp, "Split", 0), *cs = find_node(mp, "ConstantOfShape", 0);
        CHECK(sq && sq->n_input == 2 && sq->n_attribute == 0);
        CHECK(rm && (opset < 18 ? rm->n_input == 1 && attr_int(rm, "keepdims") == 1 : rm->n_input == 2));
        CHECK((opset >= 18) == (find_init(mp, "axes1") != NULL));   /* a moved axes input is not left behind */
        CHECK(sp && sp->n_input == 2 && (opset < 18 || attr_int(sp, "num_outputs") == -999));
        CHECK(cs && cs->n_attribute == 1 && cs->attribute[0]->t && cs->attribute[0]->t->data_type == 7);
        onnx__model_proto__free_unpacked(mp, NULL);
    }
    sk_model_free(m);
}

/* What a quantized export holds, byte for byte. */
static void check_qbytes(const qcase *c, const sk_model *m, const char *path, int form, int opset)
{
    Onnx__ModelProto *mp = unpack(path);
    if (!mp) { CHECK(0); return; }
    const sk_graph *g = &m->g;
    const sk_tensor *w = &g->tensors[sk_graph_find_tensor(g, "fc.weight")];
    const sk_tensor *sc = &g->tensors[sk_graph_find_tensor(g, "fc.scales")];
    int zid = sk_graph_find_tensor(g, "fc.zeros");
    int64_t N = c->N, K = c->K, gsz = c->group ? c->group : K, ng = K / gsz;
    if (c->bits == 4) {
        const Onnx__NodeProto *np = find_node(mp, "MatMulNBits", 0);
        CHECK(np && !strcmp(np->domain, "com.microsoft") && mp->n_opset_import == 2);
        int64_t bs = attr_int(np, "block_size"), nb = K / bs, rep = gsz / bs;
        CHECK(bs >= 16 && bs <= 256 && (bs & (bs - 1)) == 0 && gsz % bs == 0);
        CHECK(attr_int(np, "K") == K && attr_int(np, "N") == N && attr_int(np, "bits") == 4);
        CHECK(attr_int(np, "accuracy_level") == (c->act_bits == 8 ? 4 : 1));
        const Onnx__TensorProto *B = np ? find_init(mp, np->input[1]) : NULL, *S = np ? find_init(mp, np->input[2]) : NULL;
        CHECK(B && B->n_dims == 3 && B->dims[0] == N && B->dims[1] == nb && B->dims[2] == bs / 2 &&
              B->raw_data.len == w->nbytes && !memcmp(B->raw_data.data, w->data, w->nbytes));
        bool same = S && S->raw_data.len == (size_t)(N * nb) * 4;
        for (int64_t i = 0; same && i < N * nb; i++) {
            float v;
            memcpy(&v, S->raw_data.data + 4 * i, 4);
            same = v == ((const float *)sc->data)[i / rep];
        }
        CHECK(same);
        CHECK(np && (np->n_input == (c->bias ? 6 : zid >= 0 ? 4 : 3)));
        if (zid >= 0 && np && np->n_input > 3) {
            const Onnx__TensorProto *Z = find_init(mp, np->input[3]);
            const uint8_t *z = g->tensors[zid].data;
            int64_t zb = (nb + 1) / 2;
            bool ok = Z && Z->raw_data.len == (size_t)(N * zb);
            for (int64_t n = 0; ok && n < N; n++)
                for (int64_t j = 0; ok && j < nb; j++)
                    ok = ((Z->raw_data.data[n * zb + j / 2] >> (4 * (j & 1))) & 15) == z[n * ng + j / rep];
            CHECK(ok);
        } else if (np) {
            CHECK(np->n_input <= 3 || !np->input[3][0]);
        }
    } else if (form == 1 && c->act_bits == 8) {
        const Onnx__NodeProto *mmi = find_node(mp, "MatMulInteger", 0);
        CHECK(find_node(mp, "DynamicQuantizeLinear", 0) && mmi);
        const Onnx__TensorProto *Wt = mmi ? find_init(mp, mmi->input[1]) : NULL;
        bool ok = Wt && Wt->data_type == 3 && Wt->n_dims == 2 && Wt->dims[0] == K && Wt->dims[1] == N;
        for (int64_t n = 0; ok && n < N; n++)
            for (int64_t k = 0; ok && k < K; k++) ok = (int8_t)Wt->raw_data.data[k * N + n] == ((const int8_t *)w->data)[n * K + k];
        CHECK(ok);
    } else {
        const Onnx__NodeProto *dq = find_node(mp, ng == 1 || opset >= 21 ? "DequantizeLinear" : "Cast", 0);
        const Onnx__TensorProto *Wt = dq ? find_init(mp, dq->input[0]) : NULL;
        bool ok = Wt && Wt->data_type == 3 && Wt->raw_data.len == (size_t)(N * K);
        for (int64_t n = 0; ok && n < N; n++)
            for (int64_t k = 0; ok && k < K; k++) ok = (int8_t)Wt->raw_data.data[k * N + n] == ((const int8_t *)w->data)[n * K + k];
        CHECK(ok);
        if (ng == 1) CHECK(attr_int(dq, "axis") == 1 && dq && dq->n_input == 3);
        else if (opset >= 21) CHECK(attr_int(dq, "axis") == 0 && attr_int(dq, "block_size") == gsz);
    }
    onnx__model_proto__free_unpacked(mp, NULL);
}

static void write_npy(const char *dir, const char *name, int rank, const int64_t *dims, const float *v)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    OK(sk_npy_write(p, SK_DT_F32, rank, dims, v, true));
}

/* Each quantized case: exported in every form; the files for the Python check when out_dir is set. */
static void check_quant(const char *out_dir)
{
    for (size_t i = 0; i < N_QCASES; i++) {
        const qcase *c = &qcases[i];
        float *wd, *b;
        sk_model *q = qmodel(c, false, &wd, &b), *ref = qmodel(c, true, NULL, NULL);
        char dir[400], path[512];
        snprintf(dir, sizeof dir, "%s/%s", out_dir ? out_dir : tmpdir, c->name);
        mkdir(dir, 0755);
        static const struct { const char *file; int form, opset; } forms[] = {
            {"qdq.onnx", 0, 17}, {"dynamic.onnx", 1, 17}, {"opset21.onnx", 0, 21}};
        for (size_t k = 0; k < 3; k++) {
            snprintf(path, sizeof path, "%s/%s", dir, forms[k].file);
            sk_onnx_save_opts o = {.force = true, .int8_form = forms[k].form, .opset = forms[k].opset};
            sk_status st = sk_onnx_save(q, path, &o);
            if (c->bits == 8 && c->group && c->act_bits == 8 && forms[k].form == 1) {
                printf("%s, %s: refused as it should be: %s\n", c->name, forms[k].file, sk_errmsg());
                CHECK(st == SK_ERR_UNSUPPORTED && strstr(sk_errmsg(), "node 'fc' (Linear)") && !sk_file_exists(path));
                continue;
            }
            OK(st);
            if (!st) check_qbytes(c, q, path, forms[k].form, forms[k].opset);
        }
        if (out_dir) {
            snprintf(path, sizeof path, "%s/q.skm", dir);
            OK(sk_skm_save(q, path, &(sk_skm_opts){.force = true}));
            snprintf(path, sizeof path, "%s/ref.skm", dir);
            OK(sk_skm_save(ref, path, &(sk_skm_opts){.force = true}));
            int64_t wdims[2] = {c->N, c->K}, bdim = c->N, xdims[3] = {3, 5, c->K};
            int xr = c->two_d ? 2 : 3;
            if (c->two_d) xdims[1] = c->K;
            int64_t nx = xdims[0] * xdims[1] * (c->two_d ? 1 : xdims[2]);
            float *x = malloc((size_t)nx * sizeof *x);
            for (int64_t j = 0; j < nx; j++) x[j] = frand() * (j % 5 == 0 ? 3.0f : 1.0f);
            write_npy(dir, "x.npy", xr, xdims, x);
            write_npy(dir, "w.npy", 2, wdims, wd);
            if (c->bias) write_npy(dir, "b.npy", 1, &bdim, b);
            free(x);
            snprintf(path, sizeof path, "%s/case.json", dir);
            FILE *fj = fopen(path, "w");
            if (fj) {
                fprintf(fj, "{\"name\": \"%s\", \"bits\": %d, \"group\": %lld, \"act_bits\": %d, \"sym\": %s, "
                        "\"bias\": %s, \"act\": \"%s\", \"N\": %lld, \"K\": %lld}\n", c->name, c->bits,
                        (long long)(c->group ? c->group : c->K), c->act_bits, c->sym ? "true" : "false",
                        c->bias ? "true" : "false", c->act, (long long)c->N, (long long)c->K);
                fclose(fj);
            }
        }
        free(wd);
        free(b);
        sk_model_free(q);
        sk_model_free(ref);
    }
    printf("quantized exports: %zu cases × 3 forms checked byte for byte\n", N_QCASES);
}

/* The f32 graphs for the Python check: DIR/<case>/{model.skm, *.onnx, <input>.npy}. */
static void write_f32_cases(const char *out_dir)
{
    enum { B = 2, S = 5 };
    char dir[400], path[512];
    int64_t ids[B * S], mask[B * S], d2[2] = {B, S};
    for (int i = 0; i < B * S; i++) { ids[i] = (i * 7 + 3) % 11; mask[i] = !(i / S == 1 && i % S >= 3); }
    for (int pass = 0; pass < 2; pass++) {
        sk_model *m = fused_model(pass ? 16 : 0);
        snprintf(dir, sizeof dir, "%s/fused_%s", out_dir, pass ? "buffer" : "range");
        mkdir(dir, 0755);
        snprintf(path, sizeof path, "%s/model.skm", dir);
        OK(sk_skm_save(m, path, &(sk_skm_opts){.force = true}));
        for (int opset = 17; opset <= 21; opset += 3) {
            snprintf(path, sizeof path, "%s/opset%d.onnx", dir, opset);
            OK(sk_onnx_save(m, path, &(sk_onnx_save_opts){.force = true, .opset = opset}));
        }
        snprintf(path, sizeof path, "%s/input_ids.npy", dir);
        OK(sk_npy_write(path, SK_DT_I64, 2, d2, ids, true));
        snprintf(path, sizeof path, "%s/attention_mask.npy", dir);
        OK(sk_npy_write(path, SK_DT_I64, 2, d2, mask, true));
        sk_model_free(m);
    }
    sk_model *m = prim_model();
    float x[2 * 6 * 4];
    int64_t xd[3] = {2, 6, 4};
    for (int i = 0; i < 48; i++) x[i] = frand();
    snprintf(dir, sizeof dir, "%s/prim", out_dir);
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/model.skm", dir);
    OK(sk_skm_save(m, path, &(sk_skm_opts){.force = true}));
    for (int opset = 17; opset <= 18; opset++) {
        snprintf(path, sizeof path, "%s/opset%d.onnx", dir, opset);
        OK(sk_onnx_save(m, path, &(sk_onnx_save_opts){.force = true, .opset = opset}));
    }
    write_npy(dir, "x.npy", 3, xd, x);
    sk_model_free(m);
}

static void check_errors(void)
{
    char path[128];
    snprintf(path, sizeof path, "%s/err.onnx", tmpdir);
    sk_model *m = fused_model(0);
    CHECK(sk_onnx_save(m, path, &(sk_onnx_save_opts){.opset = 16}) == SK_ERR_UNSUPPORTED && strstr(sk_errmsg(), "opset 16"));
    CHECK(sk_onnx_save(m, path, &(sk_onnx_save_opts){.int8_form = 2}) == SK_ERR_INVALID);
    CHECK(!sk_file_exists(path));
    sk_model_free(m);

    qcase c = {"q4_g24", 4, 24, 8, true, true, false, "", 8, 48};
    m = qmodel(&c, false, NULL, NULL);
    sk_status st = sk_onnx_save(m, path, NULL);
    printf("int4 group 24: %s\n", sk_errmsg());
    CHECK(st == SK_ERR_UNSUPPORTED && strstr(sk_errmsg(), "node 'fc' (Linear)") && strstr(sk_errmsg(), "group 24"));
    CHECK(!sk_file_exists(path));
    sk_model_free(m);

    /* every allocation failure: a clean error, no file, no temporary left behind */
    m = fused_model(16);
    int k, failed = 0;
    for (k = 1; k < 100000; k++) {
        sk_alloc_fail_after(k);
        st = sk_onnx_save(m, path, &(sk_onnx_save_opts){.external_data = k % 2, .force = true});
        sk_alloc_fail_after(0);
        if (!st) break;
        failed++;
        if (st != SK_ERR_NOMEM || sk_file_exists(path)) {
            printf("FAIL allocation %d: %s (%s)\n", k, sk_status_name(st), sk_errmsg());
            fails++;
            break;
        }
    }
    checks++;
    printf("allocation failures: %d injected, each a clean SK_ERR_NOMEM\n", failed);
    CHECK(failed > 20 && sk_file_exists(path) && no_temp_files());
    sk_model_free(m);
}

int main(int argc, char **argv)
{
    const char *out_dir = argc > 1 ? argv[1] : NULL;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/sk_onnx_export.XXXXXX");
    if (!mkdtemp(tmpdir)) { perror("mkdtemp"); return 2; }
    if (out_dir) mkdir(out_dir, 0755);
    check_fused();
    check_prim();
    check_quant(out_dir);
    if (out_dir) write_f32_cases(out_dir);
    check_errors();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd)) printf("note: could not remove %s\n", tmpdir);
    printf("%d checks, %d failed\n", checks, fails);
    return fails ? 1 : 0;
}
