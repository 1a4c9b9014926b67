/* test_prune.c — the pruning passes and what serves them: option errors
 * (exact messages, model untouched), the matrix routines (exact counts, N:M
 * groups, SparseGPT against magnitude / Wanda on correlated inputs, SparseGPT
 * with H = I equal to per-block magnitude), both passes on tiny BERT and
 * GPT-2 graphs built from the templates (structured pruning checked against
 * the unpruned model with the same units masked), prune → quantize keeping
 * the zeros, the .skm bitmask encoding (bit-exact round trip, corruption),
 * the sparse LINEAR kernel against its reference and dense BLAS (timings
 * printed, never asserted), and the safetensors exporter.
 */
#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "../../passes/prune.h"
#include "arch/arch.h"
#include "formats.h"
#include "pipeline/pipeline.h"
#include "runtime/kernels/sparse.h"

static int fails, checks, n_msgs;
#define CHECK(c) do { checks++; if (!(c)) { printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #c); fails++; } } while (0)

static void check_msg(int line, sk_status st, const char *want)
{
    checks++;
    n_msgs++;
    if (st == SK_OK || strcmp(sk_errmsg(), want)) {
        printf("FAIL %s:%d: status %s, message\n  got:  %s\n  want: %s\n", __FILE__, line, sk_status_name(st), sk_errmsg(), want);
        fails++;
    } else {
        printf("  error as expected: %s\n", want);
    }
}
#define CHECK_MSG(st, want) check_msg(__LINE__, st, want)

/* ---- random numbers ---- */
static uint64_t rng = 88172645463325252ull;
static double urand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}
static float nrand(void) { return (float)(sqrt(-2 * log(urand() + 1e-300)) * cos(6.283185307179586 * urand())); }

static char tmpdir[] = "/tmp/test_pruneXXXXXX";

/* ---- tiny models from the templates ---- */

static sk_status rand_weight(void *ctx, sk_model *m, const char *name, int rank, const int64_t *dims, bool optional, int *id)
{
    (void)ctx;
    *id = sk_graph_find_tensor(&m->g, name);
    if (*id >= 0) return SK_OK;
    if (optional) return SK_OK;   /* lm_head: tied to wte */
    int64_t n = 1;
    for (int i = 0; i < rank; i++) n *= dims[i];
    float *d = malloc((size_t)n * sizeof *d);
    bool ln = strstr(name, "LayerNorm") || strstr(name, "ln_");
    bool emb = strstr(name, "embeddings") || strstr(name, "wte") || strstr(name, "wpe");
    for (int64_t i = 0; i < n; i++) {
        float r = nrand();
        d[i] = ln ? (strstr(name, "weight") ? 1.0f : 0.0f) + 0.1f * r : emb ? r : 0.3f * r;
    }
    *id = sk_graph_add_const(&m->g, name, SK_DT_F32, rank, dims, d, true);
    m->g.tensors[*id].flags |= SK_TF_WEIGHT;
    return SK_OK;
}

/* A 2-layer BERT (classifier, 3 labels) or GPT-2 (LM) with 4 heads of width 8. */
static sk_model *tiny(sk_family f, uint64_t seed)
{
    rng = seed;
    sk_model *m = sk_model_new();
    sk_arch *a = &m->arch;
    a->family = f;
    a->n_layers = 2;
    a->hidden = 32;
    a->heads = 4;
    a->ffn = f == SK_FAM_BERT ? 48 : 64;
    a->max_pos = 64;
    a->eps = 1e-5f;
    if (f == SK_FAM_BERT) {
        strcpy(a->task, "seq-classification");
        strcpy(a->act, "gelu");
        a->vocab = 30522;
        a->type_vocab = 2;
        a->n_labels = 3;
        a->labels = calloc(3, sizeof *a->labels);
        for (int i = 0; i < 3; i++) a->labels[i] = sk_strdup(i == 0 ? "neg" : i == 1 ? "neu" : "pos");
        m->tokenizer_dir = sk_strdup("tests/data/tok/bert");
    } else {
        strcpy(a->task, "lm");
        strcpy(a->act, "gelu_new");
        a->vocab = 2000;
        m->tokenizer_dir = sk_strdup("tests/data/tok/bpe");
    }
    sk_status st = sk_arch_build(m, a, rand_weight, NULL);
    if (st) { printf("FAIL building a tiny model: %s\n", sk_errmsg()); exit(1); }
    return m;
}

static const char *calib_path;   /* fortunes-like text, written in main */

/* One pipeline step, notes kept quiet. */
static sk_status run_pass(sk_model *m, const char *pass, const char *params)
{
    sk_pipe_step s = {pass, params};
    sk_passmgr_opts o = {.calib_path = calib_path, .calib_n = 16, .calib_ctx = 32, .quiet = true};
    return sk_passmgr_run(m, &s, 1, &o, NULL);
}

/* logits of m for a fixed batch of ids [2, 12]; *n values (caller frees) */
static float *logits(const sk_model *m, int64_t *n)
{
    int64_t ids[24];
    for (int i = 0; i < 24; i++) ids[i] = 5 + (i * 37) % 1900;
    sk_session *s;
    float *out = NULL;
    if (sk_session_new(m, NULL, &s)) { printf("FAIL session: %s\n", sk_errmsg()); fails++; return NULL; }
    if (!sk_session_set_input(s, "input_ids", SK_DT_I64, 2, (int64_t[]){2, 12}, ids) && !sk_session_run(s)) {
        const sk_rtensor *t = sk_session_output(s, 0);
        *n = sk_rt_numel(t);
        out = malloc((size_t)*n * sizeof *out);
        memcpy(out, t->data, (size_t)*n * sizeof *out);
    } else {
        printf("FAIL run: %s\n", sk_errmsg());
        fails++;
    }
    sk_session_free(s);
    return out;
}

static double max_diff(const float *a, const float *b, int64_t n)
{
    double w = 0;
    for (int64_t i = 0; i < n; i++) if (fabs(a[i] - b[i]) > w) w = fabs(a[i] - b[i]);
    return w;
}

/* A hash of every constant's bytes: "the model did not change". */
static uint64_t model_hash(const sk_model *m)
{
    uint64_t h = (uint64_t)m->g.n_tensors * 31 + (uint64_t)m->g.n_nodes;
    for (int i = 0; i < m->g.n_tensors; i++) {
        const sk_tensor *t = &m->g.tensors[i];
        if (t->flags & SK_TF_CONST) h = sk_skm_xxh64(t->data, t->nbytes, h);
    }
    return h;
}

/* W of LINEAR node nd as [N, K] (a copy). */
static float *weight_nk(const sk_model *m, int nd, int64_t *N, int64_t *K)
{
    const sk_node *n = &m->g.nodes[nd];
    const sk_tensor *w = &m->g.tensors[n->in[1]];
    bool wt = sk_node_attr_i(n, "wt", 1) != 0;
    *N = wt ? w->dims[0] : w->dims[1];
    *K = wt ? w->dims[1] : w->dims[0];
    float *d = malloc((size_t)(*N * *K) * sizeof *d);
    const float *s = w->data;
    for (int64_t r = 0; r < *N; r++)
        for (int64_t k = 0; k < *K; k++) d[r * *K + k] = wt ? s[r * *K + k] : s[k * *N + r];
    return d;
}

static int node_named(const sk_model *m, const char *name)
{
    for (int i = 0; i < m->g.n_nodes; i++) if (!strcmp(m->g.nodes[i].name, name)) return i;
    return -1;
}

/* ---- errors: exact messages, and nothing changed ---- */
static void test_errors(void)
{
    sk_model *m = tiny(SK_FAM_GPT2, 7);
    uint64_t h0 = model_hash(m);
    CHECK_MSG(run_pass(m, "prune", "{\"sparsity\": 1}"), "prune: sparsity 1 is outside [0, 1) (the fraction of weights set to zero)");
    CHECK_MSG(run_pass(m, "prune", "{\"sparsity\": -0.25}"), "prune: sparsity -0.25 is outside [0, 1) (the fraction of weights set to zero)");
    CHECK_MSG(run_pass(m, "prune", "{\"sparsity\": 1.5, \"method\": \"wanda\"}"),
              "prune: sparsity 1.5 is outside [0, 1) (the fraction of weights set to zero)");
    CHECK_MSG(run_pass(m, "prune", "{\"nm\": \"4:4\"}"), "prune: nm '4:4': N must be smaller than M (N of every M consecutive weights are dropped)");
    CHECK_MSG(run_pass(m, "prune", "{\"nm\": \"6:4\"}"), "prune: nm '6:4': N must be smaller than M (N of every M consecutive weights are dropped)");
    CHECK_MSG(run_pass(m, "prune", "{\"nm\": \"2-4\"}"), "prune: nm '2-4' is not N:M (two integers, e.g. 2:4)");
    CHECK_MSG(run_pass(m, "prune", "{\"nm\": \"2:\"}"), "prune: nm '2:' is not N:M (two integers, e.g. 2:4)");
    CHECK_MSG(run_pass(m, "prune", "{\"nm\": \"0:4\"}"), "prune: nm '0:4': N must be at least 1");
    CHECK_MSG(run_pass(m, "prune", "{\"nm\": \"2:4\", \"sparsity\": 0.6}"),
              "prune: sparsity 0.6 conflicts with nm 2:4 (which drops 0.5); give one of them");
    CHECK_MSG(run_pass(m, "prune", "{\"include\": \"h.9.*\"}"),
              "prune: include pattern 'h.9.*' matches no layer (names like 'h.0.attn.c_attn', weight 'transformer.h.0.attn.c_attn.weight')");
    CHECK_MSG(run_pass(m, "prune", "{\"exclude\": [\"h.0.*\", \"nothing*\"]}"),
              "prune: exclude pattern 'nothing*' matches no layer (names like 'h.0.attn.c_attn', weight 'transformer.h.0.attn.c_attn.weight')");
    CHECK_MSG(run_pass(m, "prune", "{\"scope\": \"global\", \"method\": \"wanda\"}"),
              "prune: scope global applies to unstructured magnitude pruning (wanda ranks within each output row, sparsegpt "
              "within each block, N:M within each group)");
    CHECK_MSG(run_pass(m, "prune", "{\"nm\": \"2:3\"}"), "prune: nm 2:3: layer 'h.0.attn.c_attn' has 32 inputs, not a multiple of 3 (exclude it)");
    CHECK_MSG(run_pass(m, "prune", "{\"method\": \"sperse\"}"),
              "prune: parameter 'method' must be one of magnitude|wanda|sparsegpt, got \"sperse\"");
    CHECK_MSG(run_pass(m, "prune_structured", "{\"heads\": 4}"),
              "prune_structured: heads 4: cannot remove 4 of the 4 heads of 'h.0.attn' (at least one must stay)");
    CHECK_MSG(run_pass(m, "prune_structured", "{\"heads\": 9}"),
              "prune_structured: heads 9: cannot remove 9 of the 4 heads of 'h.0.attn' (at least one must stay)");
    CHECK_MSG(run_pass(m, "prune_structured", "{\"heads\": 7, \"uniform\": false}"),
              "prune_structured: heads 7: cannot remove 7 of the 8 heads of 2 layers (at least one must stay in each)");
    CHECK_MSG(run_pass(m, "prune_structured", "{\"heads\": 1.5}"),
              "prune_structured: heads 1.5: expected a fraction in [0, 1) or a whole number of heads");
    CHECK_MSG(run_pass(m, "prune_structured", "{\"heads\": -0.5}"),
              "prune_structured: heads -0.5 is outside [0, 1) (the fraction of attention heads removed from each layer)");
    CHECK_MSG(run_pass(m, "prune_structured", "{\"ffn\": 64}"),
              "prune_structured: ffn 64: cannot remove 64 of the 64 neurons of 'h.0.mlp.c_fc' (at least one must stay)");
    CHECK_MSG(run_pass(m, "prune_structured", "{}"), "prune_structured: nothing to prune: give heads and/or ffn (a fraction in [0, 1))");
    /* calibration missing: said before any work */
    sk_pipe_step s = {"prune", "{\"method\": \"sparsegpt\"}"};
    sk_passmgr_opts none = {.quiet = true};
    CHECK_MSG(sk_passmgr_run(m, &s, 1, &none, NULL), "prune: method sparsegpt: calibration data needed: give --calib FILE");
    CHECK(model_hash(m) == h0);
    printf("errors: %d bad option sets refused before any work (model unchanged)\n", n_msgs);
    sk_model_free(m);
}

/* ---- one matrix ---- */
static void test_lowest(void)
{
    const float s[6] = {3, 1, 1, 1, 2, 0.5f};
    uint8_t d[6];
    CHECK(sk_prune_lowest(s, 6, 3, d) == SK_OK);
    CHECK(d[5] && d[1] && d[2] && !d[3] && !d[0] && !d[4]);   /* ties: first first */
    CHECK(sk_prune_lowest(s, 6, 0, d) == SK_OK && !d[0] && !d[5]);
    CHECK(sk_prune_lowest(s, 6, 6, d) == SK_OK && d[0] && d[4]);
    /* many equal values: exactly k */
    float z[100];
    for (int i = 0; i < 100; i++) z[i] = i % 3 ? 1.0f : 0.0f;
    uint8_t dz[100];
    sk_prune_lowest(z, 100, 50, dz);
    int cnt = 0;
    for (int i = 0; i < 100; i++) cnt += dz[i];
    CHECK(cnt == 50);
    printf("lowest-k: exact counts with ties (first first)\n");
}

static void test_matrix(void)
{
    const int64_t N = 64, K = 96;
    float *w = malloc(sizeof(float) * N * K), *w0 = malloc(sizeof(float) * N * K), xn[96];
    for (int64_t i = 0; i < N * K; i++) w0[i] = nrand();
    for (int64_t k = 0; k < K; k++) xn[k] = 0.1f + 3.0f * (float)urand();
    /* magnitude: floor(s·N·K) zeros, every dropped |w| <= every kept |w| */
    memcpy(w, w0, sizeof(float) * N * K);
    int64_t z = sk_prune_magnitude(w, N, K, 0.37, 0, 0);
    float max_drop = 0, min_keep = INFINITY;
    for (int64_t i = 0; i < N * K; i++) {
        if (w[i] == 0) { if (fabsf(w0[i]) > max_drop) max_drop = fabsf(w0[i]); }
        else if (fabsf(w[i]) < min_keep) min_keep = fabsf(w[i]);
    }
    CHECK(z == (int64_t)(0.37 * N * K) && sk_prune_count_zeros(w, N * K) == z && max_drop <= min_keep);
    /* wanda: per row floor(s·K), by |w|·xnorm */
    memcpy(w, w0, sizeof(float) * N * K);
    z = sk_prune_wanda(w, xn, N, K, 0.5, 0, 0);
    bool rows_ok = true;
    for (int64_t r = 0; r < N; r++) {
        int64_t zr = sk_prune_count_zeros(w + r * K, K);
        float md = 0, mk = INFINITY;
        for (int64_t k = 0; k < K; k++) {
            float sc = fabsf(w0[r * K + k]) * xn[k];
            if (w[r * K + k] == 0) { if (sc > md) md = sc; }
            else if (sc < mk) mk = sc;
        }
        rows_ok &= zr == K / 2 && md <= mk;
    }
    CHECK(z == N * K / 2 && rows_ok);
    /* N:M: each group of M has exactly N zeros (2:4, 4:8), magnitude and wanda */
    int nm[2][2] = {{2, 4}, {4, 8}};
    for (int c = 0; c < 2; c++)
        for (int meth = 0; meth < 2; meth++) {
            memcpy(w, w0, sizeof(float) * N * K);
            if (meth) sk_prune_wanda(w, xn, N, K, 0, nm[c][0], nm[c][1]);
            else sk_prune_magnitude(w, N, K, 0, nm[c][0], nm[c][1]);
            bool ok = true;
            for (int64_t g = 0; g < N * K; g += nm[c][1]) ok &= sk_prune_count_zeros(w + g, nm[c][1]) == nm[c][0];
            CHECK(ok);
        }
    printf("magnitude / wanda: exact counts, ranking by score, N:M groups (2:4, 4:8) exact\n");
    free(w);
    free(w0);
}

static float *gram(const float *X, int64_t M, int64_t K)
{
    float *H = calloc((size_t)(K * K), sizeof *H);
    for (int64_t a = 0; a < K; a++)
        for (int64_t b = a; b < K; b++) {
            double s = 0;
            for (int64_t m = 0; m < M; m++) s += (double)X[m * K + a] * X[m * K + b];
            H[a * K + b] = H[b * K + a] = (float)(s / (double)M);
        }
    return H;
}

/* Σ_n (w − ŵ)ᵀ H (w − ŵ) */
static double out_err(const float *w, const float *wh, int64_t N, int64_t K, const float *H)
{
    double e = 0;
    for (int64_t n = 0; n < N; n++)
        for (int64_t a = 0; a < K; a++) {
            double da = w[n * K + a] - wh[n * K + a];
            if (da == 0) continue;
            for (int64_t b = 0; b < K; b++) e += da * H[a * K + b] * (w[n * K + b] - wh[n * K + b]);
        }
    return e;
}

static void test_sparsegpt(void)
{
    /* H = I: no error to propagate, the mask is per-block magnitude */
    const int64_t N = 24, K = 256;
    float *w0 = malloc(sizeof(float) * N * K), *a = malloc(sizeof(float) * N * K), *b = malloc(sizeof(float) * N * K);
    float *I = calloc((size_t)(K * K), sizeof *I);
    for (int64_t i = 0; i < N * K; i++) w0[i] = nrand();
    for (int64_t k = 0; k < K; k++) I[k * K + k] = 1;
    memcpy(a, w0, sizeof(float) * N * K);
    sk_sparsegpt_opts o = {0.01, 128};
    int64_t z;
    CHECK(sk_prune_sparsegpt(a, I, N, K, 0.5, 0, 0, &o, &z, NULL) == SK_OK);
    memcpy(b, w0, sizeof(float) * N * K);
    for (int64_t c0 = 0; c0 < K; c0 += 128) {   /* per-block magnitude by hand */
        float sc[24 * 128];
        uint8_t d[24 * 128];
        for (int64_t n = 0; n < N; n++)
            for (int64_t j = 0; j < 128; j++) sc[n * 128 + j] = w0[n * K + c0 + j] * w0[n * K + c0 + j];
        sk_prune_lowest(sc, N * 128, N * 64, d);
        for (int64_t n = 0; n < N; n++)
            for (int64_t j = 0; j < 128; j++) if (d[n * 128 + j]) b[n * K + c0 + j] = 0;
    }
    CHECK(z == N * K / 2 && !memcmp(a, b, sizeof(float) * N * K));
    printf("sparsegpt with H = I: identical to magnitude per 128-column block (%lld zeros)\n", (long long)z);

    /* correlated inputs with uneven channel scales: output error sparsegpt < wanda < magnitude */
    const int64_t M = 1024, K2 = 128, N2 = 48;
    float *X = malloc(sizeof(float) * M * K2), *Z = malloc(sizeof(float) * M * K2), *A = malloc(sizeof(float) * K2 * K2);
    float *W = malloc(sizeof(float) * N2 * K2), *Wh = malloc(sizeof(float) * N2 * K2), xn[128];
    for (int64_t i = 0; i < M * K2; i++) Z[i] = nrand();
    for (int64_t i = 0; i < K2 * K2; i++) A[i] = nrand() / sqrtf((float)K2) + (i % (K2 + 1) == 0 ? 1.0f : 0.0f);
    for (int64_t m = 0; m < M; m++)
        for (int64_t k = 0; k < K2; k++) {
            double s = 0;
            for (int64_t j = 0; j < K2; j++) s += Z[m * K2 + j] * A[j * K2 + k];
            X[m * K2 + k] = (float)s * (k % 5 == 0 ? 4.0f : 1.0f);
        }
    for (int64_t i = 0; i < N2 * K2; i++) W[i] = nrand();
    float *H = gram(X, M, K2);
    for (int64_t k = 0; k < K2; k++) xn[k] = sqrtf(H[k * K2 + k]);
    const char *what[2] = {"50%", "2:4"};
    for (int c = 0; c < 2; c++) {
        int n = c ? 2 : 0, mm = c ? 4 : 0;
        double e[3];
        for (int meth = 0; meth < 3; meth++) {
            memcpy(Wh, W, sizeof(float) * N2 * K2);
            if (meth == 0) sk_prune_magnitude(Wh, N2, K2, 0.5, n, mm);
            else if (meth == 1) sk_prune_wanda(Wh, xn, N2, K2, 0.5, n, mm);
            else CHECK(sk_prune_sparsegpt(Wh, H, N2, K2, 0.5, n, mm, &o, &z, NULL) == SK_OK && z == N2 * K2 / 2);
            e[meth] = out_err(W, Wh, N2, K2, H);
        }
        printf("output error ||(W - W_hat)X||^2 at %s: magnitude %.1f, wanda %.1f, sparsegpt %.1f\n", what[c], e[0], e[1], e[2]);
        CHECK(e[2] < e[1] && e[1] < e[0]);
    }
    free(w0); free(a); free(b); free(I); free(X); free(Z); free(A); free(W); free(Wh); free(H);
}

/* ---- the prune pass on graphs ---- */

/* zeros / total of each non-head LINEAR, the head's zeros */
static void sparsity_of(const sk_model *m, double *lo, double *hi, int64_t *zeros, int64_t *total, int64_t *head_zeros)
{
    *lo = 1; *hi = 0; *zeros = *total = *head_zeros = 0;
    for (int i = 0; i < m->g.n_nodes; i++) {
        const sk_node *n = &m->g.nodes[i];
        if (n->op != SK_OP_LINEAR) continue;
        const sk_tensor *w = &m->g.tensors[n->in[1]];
        int64_t c = sk_tensor_numel(w), z = sk_prune_count_zeros(w->data, c);
        bool head = !strcmp(n->name, "classifier") || !strcmp(n->name, "lm_head");
        if (head) { *head_zeros += z; continue; }
        if (!strcmp(n->name, "pooler.dense")) continue;
        double f = (double)z / (double)c;
        if (f < *lo) *lo = f;
        if (f > *hi) *hi = f;
        *zeros += z;
        *total += c;
    }
}

static void test_prune_pass(void)
{
    const char *methods[3] = {"magnitude", "wanda", "sparsegpt"};
    for (int fam = 0; fam < 2; fam++)
        for (int meth = 0; meth < 3; meth++) {
            sk_model *m = tiny(fam ? SK_FAM_GPT2 : SK_FAM_BERT, 11);
            int64_t n0;
            float *y0 = logits(m, &n0);
            char p[128];
            snprintf(p, sizeof p, "{\"sparsity\": 0.5, \"method\": \"%s\"}", methods[meth]);
            sk_status st = run_pass(m, "prune", p);
            CHECK(st == SK_OK);
            if (st) printf("  %s\n", sk_errmsg());
            double lo, hi;
            int64_t z, t, hz, n1;
            sparsity_of(m, &lo, &hi, &z, &t, &hz);
            float *y1 = logits(m, &n1);
            bool finite = true;
            for (int64_t i = 0; y1 && i < n1; i++) finite &= isfinite(y1[i]);
            printf("prune %s %s 50%%: layers %.3f..%.3f zero, head zeros %lld, logits moved %.3g\n",
                   fam ? "gpt2" : "bert", methods[meth], lo, hi, (long long)hz, y0 && y1 ? max_diff(y0, y1, n0) : -1.0);
            CHECK(lo == 0.5 && hi == 0.5 && hz == 0 && finite);
            free(y0);
            free(y1);
            sk_model_free(m);
        }
    /* global magnitude: the total exact, the layers uneven */
    sk_model *m = tiny(SK_FAM_GPT2, 12);
    CHECK(run_pass(m, "prune", "{\"sparsity\": 0.6, \"scope\": \"global\"}") == SK_OK);
    double lo, hi;
    int64_t z, t, hz;
    sparsity_of(m, &lo, &hi, &z, &t, &hz);
    printf("prune global 60%%: %lld of %lld zero, layers %.3f..%.3f\n", (long long)z, (long long)t, lo, hi);
    CHECK(z == (int64_t)(0.6 * (double)t) && lo < hi && hz == 0);
    sk_model_free(m);
    /* N:M through the pass, in [N, K] orientation (GPT-2's W is stored [K, N]) */
    for (int meth = 0; meth < 3; meth++) {
        m = tiny(SK_FAM_GPT2, 13);
        char p[128];
        snprintf(p, sizeof p, "{\"nm\": \"2:4\", \"method\": \"%s\"}", methods[meth]);
        CHECK(run_pass(m, "prune", p) == SK_OK);
        bool ok = true;
        for (int i = 0; i < m->g.n_nodes; i++) {
            if (m->g.nodes[i].op != SK_OP_LINEAR || !strcmp(m->g.nodes[i].name, "lm_head")) continue;
            int64_t N, K;
            float *w = weight_nk(m, i, &N, &K);
            for (int64_t g = 0; g < N * K; g += 4) ok &= sk_prune_count_zeros(w + g, 4) == 2;
            free(w);
        }
        printf("prune 2:4 %s: every group of 4 inputs of every row has 2 zeros: %s\n", methods[meth], ok ? "yes" : "NO");
        CHECK(ok);
        sk_model_free(m);
    }
    /* include selects the head (a tied one gets a weight of its own; wte keeps its values) */
    m = tiny(SK_FAM_GPT2, 14);
    int g = node_named(m, "wte");
    uint64_t wte0 = sk_skm_xxh64(m->g.tensors[m->g.nodes[g].in[0]].data, m->g.tensors[m->g.nodes[g].in[0]].nbytes, 0);
    CHECK(run_pass(m, "prune", "{\"sparsity\": 0.5, \"include\": \"lm_head\"}") == SK_OK);
    const sk_tensor *wte = &m->g.tensors[m->g.nodes[g].in[0]], *head = &m->g.tensors[m->g.nodes[node_named(m, "lm_head")].in[1]];
    CHECK(sk_skm_xxh64(wte->data, wte->nbytes, 0) == wte0 && head != wte &&
          sk_prune_count_zeros(head->data, sk_tensor_numel(head)) == sk_tensor_numel(head) / 2);
    printf("include lm_head: the tied head gets its own pruned copy, wte unchanged\n");
    sk_model_free(m);
}

/* prune → quantize: every pruned weight is exactly zero after quantization */
static void test_then_quantize(void)
{
    const char *q[3] = {"{\"bits\": 8, \"act_bits\": 0}", "{\"bits\": 4, \"group\": 32}", "{\"bits\": 4, \"group\": 32, \"sym\": true}"};
    for (int c = 0; c < 3; c++) {
        sk_model *m = tiny(SK_FAM_BERT, 21);
        sk_pipe_step steps[2] = {{"prune", "{\"sparsity\": 0.5}"}, {"quantize", q[c]}};
        sk_passmgr_opts o = {.quiet = true};
        /* the masks, by node name, before quantizing */
        CHECK(sk_passmgr_run(m, steps, 1, &o, NULL) == SK_OK);
        int nl = 0;
        uint8_t *mask[16] = {0};
        int nodes[16];
        for (int i = 0; i < m->g.n_nodes && nl < 16; i++) {
            const sk_node *n = &m->g.nodes[i];
            if (n->op != SK_OP_LINEAR || !strcmp(n->name, "classifier") || !strcmp(n->name, "pooler.dense")) continue;
            int64_t N, K;
            float *w = weight_nk(m, i, &N, &K);
            mask[nl] = malloc((size_t)(N * K));
            for (int64_t j = 0; j < N * K; j++) mask[nl][j] = w[j] == 0;
            nodes[nl++] = i;
            free(w);
        }
        CHECK(sk_passmgr_run(m, steps + 1, 1, &o, NULL) == SK_OK);
        int64_t bad = 0, pruned = 0;
        for (int l = 0; l < nl; l++) {
            const sk_node *n = &m->g.nodes[nodes[l]];
            const sk_tensor *w = &m->g.tensors[n->in[1]];
            const sk_quant *qi = w->quant;
            CHECK(qi != NULL);
            if (!qi) continue;
            int64_t K = w->dims[1], G = K / qi->group;
            for (int64_t j = 0; j < sk_tensor_numel(w); j++) {
                if (!mask[l][j]) continue;
                pruned++;
                int code;
                if (w->dtype == SK_DT_I8) code = ((const int8_t *)w->data)[j];
                else {
                    uint8_t b = ((const uint8_t *)w->data)[j / 2];
                    int zero = qi->zeros >= 0 ? ((const uint8_t *)m->g.tensors[qi->zeros].data)[(j / K) * G + (j % K) / qi->group] : 8;
                    code = (j % 2 ? b >> 4 : b & 15) - zero;
                }
                bad += code != 0;
            }
            free(mask[l]);
        }
        printf("prune 50%% then quantize %s: %lld pruned weights, %lld not zero after quantization\n", q[c],
               (long long)pruned, (long long)bad);
        CHECK(pruned > 0 && bad == 0);
        sk_model_free(m);
    }
}

/* ---- structured pruning, against the unpruned model with the same units masked ---- */

/* The removed heads per layer from the provenance entry. */
static cJSON *layers_record(const sk_model *m)
{
    for (int i = m->n_prov - 1; i >= 0; i--)
        if (!strcmp(m->prov[i].pass, "prune_structured.layers")) return cJSON_Parse(m->prov[i].params_json);
    return NULL;
}

/* In the unpruned model u, zero the inputs of the output projections for the
 * heads removed in p, and the down projections' inputs for FFN neurons p no
 * longer has (matched by their up-projection rows). */
static void mask_like(sk_model *u, const sk_model *p, bool gpt2)
{
    cJSON *rec = layers_record(p);
    CHECK(rec != NULL);
    const cJSON *rm = cJSON_GetObjectItem(rec, "heads_removed");
    for (int l = 0; l < 2; l++) {
        char o[64], up[64], down[64];
        snprintf(o, sizeof o, gpt2 ? "h.%d.attn.c_proj" : "encoder.layer.%d.attention.output.dense", l);
        snprintf(up, sizeof up, gpt2 ? "h.%d.mlp.c_fc" : "encoder.layer.%d.intermediate.dense", l);
        snprintf(down, sizeof down, gpt2 ? "h.%d.mlp.c_proj" : "encoder.layer.%d.output.dense", l);
        sk_tensor *wo = &u->g.tensors[u->g.nodes[node_named(u, o)].in[1]];
        float *d = wo->data;
        const cJSON *h;
        cJSON_ArrayForEach(h, cJSON_GetArrayItem(rm, l)) {
            int hh = h->valueint;
            for (int c = hh * 8; c < hh * 8 + 8; c++)
                for (int64_t n = 0; n < 32; n++) d[gpt2 ? c * 32 + n : n * 32 + c] = 0;
        }
        int64_t Fu, Ku, Fp, Kp;
        float *wu = weight_nk(u, node_named(u, up), &Fu, &Ku), *wp = weight_nk(p, node_named(p, up), &Fp, &Kp);
        sk_tensor *wd = &u->g.tensors[u->g.nodes[node_named(u, down)].in[1]];
        float *dd = wd->data;
        for (int64_t f = 0; f < Fu; f++) {
            bool kept = false;
            for (int64_t g = 0; g < Fp && !kept; g++) kept = !memcmp(wu + f * Ku, wp + g * Kp, sizeof(float) * Ku);
            if (kept) continue;
            for (int64_t n = 0; n < 32; n++) dd[gpt2 ? f * 32 + n : n * Fu + f] = 0;
        }
        free(wu);
        free(wp);
    }
    cJSON_Delete(rec);
}

static void test_structured(void)
{
    const char *params[4] = {
        "{\"heads\": 0.5, \"ffn\": 0.5, \"compensate\": false, \"score\": \"layer\"}",
        "{\"heads\": 0.5, \"ffn\": 0.25, \"compensate\": false}",
        "{\"heads\": 3, \"ffn\": 0.5, \"compensate\": false, \"uniform\": false, \"score\": \"layer\"}",
        "{\"heads\": 0.5, \"ffn\": 0.5}",
    };
    for (int fam = 0; fam < 2; fam++)
        for (int c = 0; c < 4; c++) {
            bool gpt2 = fam == 1;
            sk_model *p = tiny(gpt2 ? SK_FAM_GPT2 : SK_FAM_BERT, 31), *u = tiny(gpt2 ? SK_FAM_GPT2 : SK_FAM_BERT, 31);
            int64_t np, nu, n0;
            float *y0 = logits(u, &n0);
            int64_t params0 = sk_model_params(p, NULL);
            sk_status st = run_pass(p, "prune_structured", params[c]);
            CHECK(st == SK_OK);
            if (st) { printf("  %s\n", sk_errmsg()); continue; }
            cJSON *rec = layers_record(p);
            char *hs = cJSON_PrintUnformatted(cJSON_GetObjectItem(rec, "heads")), *fs = cJSON_PrintUnformatted(cJSON_GetObjectItem(rec, "ffn"));
            int heads = 0;
            const cJSON *h;
            cJSON_ArrayForEach(h, cJSON_GetObjectItem(rec, "heads")) heads += h->valueint;
            float *yp = logits(p, &np);
            double d;
            if (c < 3) {   /* no compensation: exactly the masked model */
                mask_like(u, p, gpt2);
                float *yu = logits(u, &nu);
                d = max_diff(yp, yu, np);
                CHECK(np == nu && d < 1e-4);
                free(yu);
            } else {
                d = max_diff(yp, y0, np);
            }
            printf("structured %s %s: heads %s, ffn %s, params %lld -> %lld, %s %.2g\n", gpt2 ? "gpt2" : "bert", params[c],
                   hs, fs, (long long)params0, (long long)sk_model_params(p, NULL),
                   c < 3 ? "max diff vs the masked unpruned model" : "logits moved", d);
            CHECK(heads == (c == 2 ? 5 : 4));
            CHECK(sk_model_params(p, NULL) < params0 && sk_graph_verify(&p->g) == SK_OK);
            free(hs);
            free(fs);
            cJSON_Delete(rec);
            free(y0);
            free(yp);
            sk_model_free(p);
            sk_model_free(u);
        }
}

/* ---- .skm: bitmask encoding ---- */

static unsigned char *read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(*n);
    CHECK(fread(b, 1, *n, f) == *n);
    fclose(f);
    return b;
}

static void write_all(const char *path, const unsigned char *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    fwrite(b, 1, n, f);
    fclose(f);
}

/* Replace the header (same length) and fix its checksum. */
static void set_header(unsigned char *b, const char *h)
{
    uint64_t hl = strlen(h), x = sk_skm_xxh64(h, hl, 0);
    memcpy(b + 32, h, hl);
    for (int i = 0; i < 8; i++) b[24 + i] = (unsigned char)(x >> (8 * i));
}

static void test_skm(void)
{
    sk_model *m = tiny(SK_FAM_GPT2, 41);
    CHECK(run_pass(m, "prune", "{\"sparsity\": 0.5}") == SK_OK);
    int c_fc = node_named(m, "h.0.mlp.c_fc");
    float *w = m->g.tensors[m->g.nodes[c_fc].in[1]].data;
    w[3] = -0.0f;   /* a negative zero is a value, kept bit for bit */
    char sparse[256], dense[256], bad[256];
    snprintf(sparse, sizeof sparse, "%s/sparse.skm", tmpdir);
    snprintf(dense, sizeof dense, "%s/dense.skm", tmpdir);
    snprintf(bad, sizeof bad, "%s/bad.skm", tmpdir);
    sk_skm_opts os = {.force = true}, od = {.force = true, .dense = true};
    CHECK(sk_skm_save(m, sparse, &os) == SK_OK && sk_skm_save(m, dense, &od) == SK_OK);
    sk_model *l = NULL;
    CHECK(sk_skm_load(sparse, &l) == SK_OK);
    bool same = l && l->g.n_tensors == m->g.n_tensors;
    int encoded_ids = 0;
    for (int i = 0; same && i < m->g.n_tensors; i++) {
        const sk_tensor *a = &m->g.tensors[i], *b = &l->g.tensors[i];
        if (!(a->flags & SK_TF_CONST)) continue;
        same &= a->nbytes == b->nbytes && !memcmp(a->data, b->data, a->nbytes) && ((uintptr_t)b->data % 64) == 0;
    }
    size_t ns, nd;
    unsigned char *bs = read_all(sparse, &ns), *bd = read_all(dense, &nd);
    uint64_t hl;
    memcpy(&hl, bs + 16, 8);
    char *hdr = calloc(hl + 1, 1);
    memcpy(hdr, bs + 32, hl);
    for (const char *p = hdr; (p = strstr(p, "\"encoding\":\"bitmask\"")); p++) encoded_ids++;
    printf("skm: 50%%-pruned tiny gpt2: %zu bytes dense, %zu with bitmask encoding (%d tensors), round trip bit-exact "
           "(-0.0 kept): %s, flags %u / %u\n", nd, ns, encoded_ids, same ? "yes" : "NO", bs[12], bd[12]);
    size_t lin = 0;   /* bytes of the pruned layers' weights: half of them should be gone, less the bitmask */
    for (int i = 0; i < m->g.n_nodes; i++)
        if (m->g.nodes[i].op == SK_OP_LINEAR && strcmp(m->g.nodes[i].name, "lm_head")) lin += m->g.tensors[m->g.nodes[i].in[1]].nbytes;
    printf("  %zu bytes of pruned weights, %zu bytes saved (%.1f%%)\n", lin, nd - ns, 100.0 * (double)(nd - ns) / (double)lin);
    CHECK(same && nd - ns > lin * 45 / 100 && encoded_ids == 8 && bs[12] == 2 && bd[12] == 0);
    uint32_t neg;
    memcpy(&neg, (const float *)l->g.tensors[l->g.nodes[c_fc].in[1]].data + 3, 4);
    CHECK(neg == 0x80000000u);
    sk_model_free(l);
    /* the same model saved twice gives the same bytes; a loaded one saved again too */
    char again[256];
    snprintf(again, sizeof again, "%s/again.skm", tmpdir);
    CHECK(sk_skm_load(sparse, &l) == SK_OK && sk_skm_save(l, again, &os) == SK_OK);
    size_t na;
    unsigned char *ba = read_all(again, &na);
    CHECK(na == ns && !memcmp(ba, bs, ns));
    free(ba);
    sk_model_free(l);

    /* corruption: an unknown encoding, flags not announcing it, a bitmask that lies */
    unsigned char *b = malloc(ns);
    memcpy(b, bs, ns);
    char *h2 = strdup(hdr), *e = strstr(h2, "\"bitmask\"");
    memcpy(e, "\"bitmasq\"", 9);
    set_header(b, h2);
    write_all(bad, b, ns);
    sk_status st = sk_skm_load(bad, &l);
    CHECK(st == SK_ERR_FORMAT && strstr(sk_errmsg(), "unknown encoding (bitmask)"));
    printf("  error as expected: %s\n", sk_errmsg());
    memcpy(b, bs, ns);
    b[12] = 0;
    write_all(bad, b, ns);
    st = sk_skm_load(bad, &l);
    CHECK(st == SK_ERR_FORMAT && strstr(sk_errmsg(), "an encoded payload, but the preamble's flags do not announce encodings"));
    printf("  error as expected: %s\n", sk_errmsg());
    /* clear one set bit of the first encoded tensor's mask, fix its checksum: the count no longer matches */
    cJSON *j = cJSON_Parse(hdr);
    const cJSON *t;
    cJSON_ArrayForEach(t, cJSON_GetObjectItem(j, "tensors")) {
        const cJSON *d = cJSON_GetObjectItem(t, "data");
        if (!d || !cJSON_GetObjectItem(d, "encoding")) continue;
        uint64_t data = (32 + hl + 63) / 64 * 64, off = (uint64_t)cJSON_GetObjectItem(d, "offset")->valuedouble;
        size_t raw = (size_t)cJSON_GetObjectItem(d, "raw_size")->valuedouble;
        memcpy(b, bs, ns);
        unsigned char *pl = b + data + off;
        for (size_t i = 0;; i++) if (pl[i]) { pl[i] &= (unsigned char)(pl[i] - 1); break; }
        char oldh[17], newh[17];
        snprintf(oldh, sizeof oldh, "%s", cJSON_GetObjectItem(d, "xxh64")->valuestring);
        snprintf(newh, sizeof newh, "%016llx", (unsigned long long)sk_skm_xxh64(pl, raw, 0));
        char *h3 = strdup(hdr), *at = strstr(h3, oldh);
        memcpy(at, newh, 16);
        set_header(b, h3);
        write_all(bad, b, ns);
        st = sk_skm_load(bad, &l);
        CHECK(st == SK_ERR_FORMAT && strstr(sk_errmsg(), "non-zero elements but"));
        printf("  error as expected: %s\n", sk_errmsg());
        free(h3);
        break;
    }
    cJSON_Delete(j);
    free(b);
    free(h2);
    free(hdr);
    free(bs);
    free(bd);
    sk_model_free(m);
}

/* ---- the sparse kernel ---- */
static void test_kernel(void)
{
    const int64_t Ms[5] = {1, 15, 16, 17, 128};
    const double dens[3] = {0.5, 0.3, 0.1};
    sk_pool *pool = sk_pool_new(2);
    double worst = 0;
    for (int di = 0; di < 3; di++)
        for (int wt = 0; wt < 4; wt++)
            for (int mi = 0; mi < 5; mi++) {   /* K 1100: three input chunks of 512 */
                int64_t M = Ms[mi], N = 40 + mi, K = wt < 2 ? 70 : 1100;
                float *w = malloc(sizeof(float) * N * K), *x = malloc(sizeof(float) * M * K);
                float *y = malloc(sizeof(float) * M * N), *yr = malloc(sizeof(float) * M * N), *yd = malloc(sizeof(float) * M * N);
                for (int64_t i = 0; i < N * K; i++) w[i] = urand() < dens[di] ? nrand() : 0.0f;
                for (int64_t i = 0; i < M * K; i++) x[i] = nrand();
                sk_spmat *s = sk_spmat_pack(w, N, K, wt % 2);
                sk_spmat_mul_ref(s, x, M, yr);
                CHECK(sk_spmat_mul(s, x, M, y, pool) == SK_OK);
                for (int64_t m = 0; m < M; m++)   /* dense reference in double */
                    for (int64_t n = 0; n < N; n++) {
                        double a = 0;
                        for (int64_t k = 0; k < K; k++) a += (double)x[m * K + k] * (wt % 2 ? w[n * K + k] : w[k * N + n]);
                        yd[m * N + n] = (float)a;
                    }
                double big = 1e-30;   /* errors relative to the largest output */
                for (int64_t i = 0; i < M * N; i++) if (fabs(yd[i]) > big) big = fabs(yd[i]);
                double d1 = max_diff(y, yr, M * N) / big, d2 = max_diff(yr, yd, M * N) / big;
                if (d1 > worst) worst = d1;
                if (d2 > worst) worst = d2;
                free(w); free(x); free(y); free(yr); free(yd); sk_free(s);
            }
    printf("sparse kernel: fast vs reference vs dense (double) at M 1..128, K 70 and 1100, densities 0.5/0.3/0.1, both "
           "layouts: worst %.2g of the largest output\n", worst);
    CHECK(worst < 1e-5);

    /* timings on [128x768]·[768x3072] (printed, never asserted) */
    const int64_t M = 128, K = 768, N = 3072;
    float *x = malloc(sizeof(float) * M * K), *w = malloc(sizeof(float) * N * K), *y = malloc(sizeof(float) * M * N);
    for (int64_t i = 0; i < M * K; i++) x[i] = nrand();
    printf("sparse kernel vs dense (BLAS; packed, pgemm.c), [128x768]x[768x3072], best of 10 (2 threads):\n");
    const double tdens[5] = {0.5, 0.4, 0.3, 0.2, 0.1};
    for (int di = 0; di < 5; di++) {
        for (int64_t i = 0; i < N * K; i++) w[i] = urand() < tdens[di] ? nrand() : 0.0f;
        sk_spmat *s = sk_spmat_pack(w, N, K, true);
        sk_packw *p = sk_packw_new(w, N, K, true);
        double td = 1e9, tp = 1e9, ts = 1e9;
        for (int it = 0; it < 10; it++) {
            double t0 = sk_now();
            sk_sgemm_pool(pool, false, true, (int)M, (int)N, (int)K, 1.0f, x, (int)K, w, (int)K, 0.0f, y, (int)N);
            double t1 = sk_now();
            sk_spmat_mul(s, x, M, y, pool);
            double t2 = sk_now();
            if (p) sk_pgemm(p, x, M, NULL, SK_ACT_NONE, y, pool);
            double t3 = sk_now();
            if (t1 - t0 < td) td = t1 - t0;
            if (t2 - t1 < ts) ts = t2 - t1;
            if (t3 - t2 < tp) tp = t3 - t2;
        }
        printf("  sparsity %2.0f%%: dense BLAS %.2f ms, dense packed %.2f ms, sparse %.2f ms: sparse %.2fx BLAS, "
               "%.2fx packed\n", 100 * (1 - tdens[di]), td * 1e3, p ? tp * 1e3 : NAN, ts * 1e3, td / ts,
               p ? tp / ts : NAN);
        sk_free(s);
        sk_free(p);
    }
    free(x); free(w); free(y);
    sk_pool_free(pool);
}

/* A pruned model runs through the sparse kernel and gives the dense result. */
static void test_kernel_in_model(void)
{
    sk_model *m = tiny(SK_FAM_GPT2, 51);
    CHECK(run_pass(m, "prune", "{\"sparsity\": 0.7}") == SK_OK);
    int64_t n;
    float *ys = logits(m, &n);   /* M = 24 rows: the sparse kernel */
    /* the same weights with the zeros replaced by tiny non-zeros would change the result; instead
     * compare with a session where every LINEAR sees 1 row at a time (the dense path) */
    int64_t ids[24];
    for (int i = 0; i < 24; i++) ids[i] = 5 + (i * 37) % 1900;
    sk_session *s;
    CHECK(sk_session_new(m, NULL, &s) == SK_OK);
    double d = 0;
    for (int b = 0; b < 2; b++) {   /* batch 1, one token at a time with the KV cache: M = 1, dense */
        sk_session_opts so = {.kv_cache = true};
        sk_session *g;
        CHECK(sk_session_new(m, &so, &g) == SK_OK);
        for (int t = 0; t < 12; t++) {
            CHECK(sk_session_set_input(g, "input_ids", SK_DT_I64, 2, (int64_t[]){1, 1}, &ids[b * 12 + t]) == SK_OK);
            CHECK(sk_session_run(g) == SK_OK);
            const sk_rtensor *o = sk_session_output(g, 0);
            double e = max_diff(o->data, ys + (b * 12 + t) * 2000, 2000);
            if (e > d) d = e;
        }
        sk_session_free(g);
    }
    sk_session_free(s);
    printf("pruned 70%% gpt2: batch run (sparse kernel) vs token-by-token (dense): max diff %.2g\n", d);
    CHECK(d < 1e-4);
    free(ys);
    sk_model_free(m);
}

/* ---- safetensors export ---- */
static void test_st_export(void)
{
    char dir[256], file[256];
    for (int fam = 0; fam < 2; fam++) {
        sk_model *m = tiny(fam ? SK_FAM_GPT2 : SK_FAM_BERT, 61);
        snprintf(dir, sizeof dir, "%s/hf%d", tmpdir, fam);
        sk_st_save_opts o = {.force = true};
        CHECK(sk_st_save(m, dir, &o) == SK_OK);
        sk_model *l = NULL;
        CHECK(sk_hf_load(dir, &l) == SK_OK);
        int64_t n0, n1;
        float *a = logits(m, &n0), *b = l ? logits(l, &n1) : NULL;
        printf("safetensors export %s: reloaded by the HF importer, logits max diff %.2g\n", fam ? "gpt2" : "bert",
               b ? max_diff(a, b, n0) : -1.0);
        CHECK(b && n0 == n1 && max_diff(a, b, n0) == 0);
        free(a);
        free(b);
        sk_model_free(l);
        /* refuses to overwrite without force */
        CHECK(sk_st_save(m, dir, NULL) == SK_ERR_IO);
        /* pruned: writes; non-uniform FFN: refused */
        CHECK(run_pass(m, "prune_structured", "{\"heads\": 0.5, \"ffn\": 0.5, \"score\": \"layer\"}") == SK_OK);
        snprintf(file, sizeof file, "%s/p%d/model.safetensors", tmpdir, fam);
        char sub[256];
        snprintf(sub, sizeof sub, "%s/p%d", tmpdir, fam);
        mkdir(sub, 0777);
        CHECK(sk_st_save(m, file, &o) == SK_OK);
        char cfgp[300];
        snprintf(cfgp, sizeof cfgp, "%s/config.json", sub);
        char *cfg = NULL;
        size_t len;
        CHECK(sk_read_file(cfgp, &cfg, &len) == SK_OK);
        cJSON *c = cJSON_Parse(cfg);
        const cJSON *ph = cJSON_GetObjectItem(c, "pruned_heads");
        CHECK(ph && cJSON_GetArraySize(ph) == 2 && cJSON_GetArraySize(cJSON_GetObjectItem(ph, "0")) == 2);
        CHECK(cJSON_GetObjectItem(c, fam ? "n_inner" : "intermediate_size")->valueint == (fam ? 32 : 24));
        CHECK(cJSON_GetObjectItem(c, fam ? "n_head" : "num_attention_heads")->valueint == 4);
        printf("safetensors export of a pruned %s: pruned_heads per layer, %s %d\n", fam ? "gpt2" : "bert",
               fam ? "n_inner" : "intermediate_size", cJSON_GetObjectItem(c, fam ? "n_inner" : "intermediate_size")->valueint);
        cJSON_Delete(c);
        sk_free(cfg);
        sk_model_free(m);
    }
    sk_model *m = tiny(SK_FAM_BERT, 62);
    CHECK(run_pass(m, "prune_structured", "{\"ffn\": 30, \"uniform\": false, \"score\": \"layer\"}") == SK_OK);
    snprintf(dir, sizeof dir, "%s/hfx", tmpdir);
    sk_status st = sk_st_save(m, dir, NULL);
    CHECK(st == SK_ERR_UNSUPPORTED && strstr(sk_errmsg(), "layers have different FFN widths"));
    printf("  error as expected: %s\n", sk_errmsg());
    sk_model_free(m);
    m = tiny(SK_FAM_BERT, 63);
    CHECK(run_pass(m, "quantize", "{\"bits\": 8}") == SK_OK);
    st = sk_st_save(m, dir, NULL);
    CHECK(st == SK_ERR_UNSUPPORTED && strstr(sk_errmsg(), "is quantized (i8)"));
    printf("  error as expected: %s\n", sk_errmsg());
    sk_model_free(m);
}

int main(void)
{
    if (!mkdtemp(tmpdir)) { perror("mkdtemp"); return 1; }
    static char cpath[300];
    snprintf(cpath, sizeof cpath, "%s/calib.txt", tmpdir);
    FILE *f = fopen(cpath, "w");
    const char *lines[] = {"A fool and his money are soon parted.", "Never trust a computer you can't throw out a window.",
                           "The best way to predict the future is to invent it.", "You will be awarded some great honor.",
                           "Beware of bugs in the above code; I have only proved it correct, not tried it.",
                           "There is no place like home.", "Today is the first day of the rest of your life."};
    for (int r = 0; r < 12; r++)
        for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) fprintf(f, "%s\n", lines[(i + r) % 7]);
    fclose(f);
    calib_path = cpath;

    test_errors();
    test_lowest();
    test_matrix();
    test_sparsegpt();
    test_prune_pass();
    test_then_quantize();
    test_structured();
    test_skm();
    test_kernel();
    test_kernel_in_model();
    test_st_export();

    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd)) printf("(could not remove %s)\n", tmpdir);
    printf("%d checks, %d failed\n", checks, fails);
    return fails ? 1 : 0;
}
