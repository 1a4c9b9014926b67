/* test_quant.c — the quantization passes: the grid and RTN on hand-computed
 * values, reconstruction bounds, GPTQ and AWQ against RTN on synthetic layers,
 * SmoothQuant folding (the fp32 function unchanged), staged calibration
 * (a session run cut and continued; GPTQ / AWQ / SparseGPT with continued runs
 * bit-identical to runs from the inputs), the quantized LINEAR the
 * pass writes (run by the runtime against a dequantized reference), parameter
 * validation messages, the registry and a dlopen'd plugin built here.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "../../passes/quant.h"
#include "pipeline/pipeline.h"

static int fails;
#define CHECK(c) do { if (!(c)) { printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #c); fails++; } } while (0)
#define CHECK_MSG(st, want) check_msg(__LINE__, st, want)

static void check_msg(int line, sk_status st, const char *want)
{
    if (st == SK_OK || strcmp(sk_errmsg(), want)) {
        printf("FAIL %s:%d: status %s, message\n  got:  %s\n  want: %s\n", __FILE__, line, sk_status_name(st), sk_errmsg(), want);
        fails++;
    } else {
        printf("  error as expected: %s\n", want);
    }
}

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

/* ---- the grid and RTN on hand-computed values ---- */
static void test_rtn_hand(void)
{
    /* int4 asymmetric, group 8: min -1.25, max 2.5 → scale 3.75/15 = 0.25, zero round(1.25/0.25) = 5 */
    const float w[8] = {-1.25f, 0.5f, 2.5f, 0.3f, 0.375f, 0.625f, 0.0f, -0.2f};
    /* w/scale = -5, 2, 10, 1.2, 1.5, 2.5, 0, -0.8 → round half to even: -5, 2, 10, 1, 2, 2, 0, -1 */
    const int want_asym[8] = {0, 7, 15, 6, 7, 7, 5, 4};
    sk_qspec a = {4, 8, false};
    sk_qmat q;
    CHECK(sk_quant_rtn(w, 1, 8, &a, NULL, &q) == SK_OK);
    CHECK(q.scales[0] == 0.25f && q.zeros && q.zeros[0] == 5);
    int bad = 0;
    for (int k = 0; k < 8; k++) bad += sk_qmat_code(&q, 0, k) != want_asym[k];
    CHECK(bad == 0);
    /* packing: element 2i in the low nibble of byte i */
    CHECK(((uint8_t *)q.codes)[0] == (0 | 7 << 4) && ((uint8_t *)q.codes)[1] == (15 | 6 << 4));
    float back[8];
    sk_qmat_dequant(&q, back);
    CHECK(back[0] == -1.25f && back[1] == 0.5f && back[2] == 2.5f && back[3] == 0.25f && back[7] == -0.25f);
    sk_qmat_free(&q);
    /* int4 symmetric: absmax 1.75 → scale 0.25, zero 8 */
    const float ws[4] = {1.75f, -0.5f, 0.3f, -1.75f};
    const int want_sym[4] = {15, 6, 9, 1};
    sk_qspec s = {4, 4, true};
    CHECK(sk_quant_rtn(ws, 1, 4, &s, NULL, &q) == SK_OK);
    CHECK(q.scales[0] == 0.25f && q.zeros == NULL);
    for (int k = 0; k < 4; k++) CHECK(sk_qmat_code(&q, 0, k) == want_sym[k]);
    sk_qmat_free(&q);
    /* int8 per channel: absmax 3.96875 → scale 1/32; 0.015625·32 = 0.5 → 0, 0.046875·32 = 1.5 → 2 */
    const float w8[8] = {3.96875f, -1.0f, 0.015625f, 0.046875f, /* row 2: all zero */ 0, 0, 0, 0};
    sk_qspec e = {8, 4, true};
    CHECK(sk_quant_rtn(w8, 2, 4, &e, NULL, &q) == SK_OK);
    CHECK(q.scales[0] == 0.03125f && q.scales[1] == 1.0f);
    CHECK(sk_qmat_code(&q, 0, 0) == 127 && sk_qmat_code(&q, 0, 1) == -32 && sk_qmat_code(&q, 0, 2) == 0 &&
          sk_qmat_code(&q, 0, 3) == 2 && sk_qmat_code(&q, 1, 0) == 0);
    sk_qmat_free(&q);
    printf("rtn: hand-computed int4 asym/sym and int8 codes, scales, zeros and packing match\n");
}

/* |w − ŵ| ≤ scale/2 for every element (within float rounding). */
static void test_rtn_bound(void)
{
    const int64_t N = 64, K = 256;
    float *w = malloc(sizeof(float) * N * K), *wh = malloc(sizeof(float) * N * K);
    for (int64_t i = 0; i < N * K; i++) w[i] = nrand() * (i % 7 == 0 ? 4.0f : 1.0f);
    const sk_qspec specs[3] = {{8, (int)K, true}, {4, 32, false}, {4, 128, true}};
    for (int s = 0; s < 3; s++) {
        sk_qmat q;
        CHECK(sk_quant_rtn(w, N, K, &specs[s], NULL, &q) == SK_OK);
        sk_qmat_dequant(&q, wh);
        double worst = 0;
        int64_t G = K / specs[s].group;
        for (int64_t n = 0; n < N; n++)
            for (int64_t k = 0; k < K; k++) {
                double sc = q.scales[n * G + k / specs[s].group];
                double r = fabs(w[n * K + k] - wh[n * K + k]) / (sc / 2);
                if (r > worst) worst = r;
            }
        printf("rtn bits %d group %3d %s: worst |w - w_hat| = %.6f x scale/2\n", specs[s].bits, specs[s].group,
               specs[s].sym ? "sym " : "asym", worst);
        CHECK(worst <= 1.0 + 1e-5);
        sk_qmat_free(&q);
    }
    free(w);
    free(wh);
}

/* Y = X·Wᵀ error ‖X(W − Ŵ)ᵀ‖_F² computed directly on X [M, K]. */
static double direct_err(const float *X, int64_t M, const float *W, const float *Wh, int64_t N, int64_t K)
{
    double e = 0;
    for (int64_t m = 0; m < M; m++)
        for (int64_t n = 0; n < N; n++) {
            double d = 0;
            for (int64_t k = 0; k < K; k++) d += (double)X[m * K + k] * (W[n * K + k] - Wh[n * K + k]);
            e += d * d;
        }
    return e;
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

static void test_gptq(void)
{
    const int64_t N = 48, K = 128, M = 1024;
    float *W = malloc(sizeof(float) * N * K), *X = malloc(sizeof(float) * M * K), *Z = malloc(sizeof(float) * M * K);
    float *A = malloc(sizeof(float) * K * K), *Wh = malloc(sizeof(float) * N * K);
    for (int64_t i = 0; i < N * K; i++) W[i] = nrand();
    for (int64_t i = 0; i < M * K; i++) Z[i] = nrand();
    for (int64_t i = 0; i < K * K; i++) A[i] = nrand() / sqrtf((float)K) + (i % (K + 1) == 0 ? 1.0f : 0.0f);
    for (int64_t m = 0; m < M; m++)   /* correlated inputs: X = Z·A */
        for (int64_t k = 0; k < K; k++) {
            double s = 0;
            for (int64_t j = 0; j < K; j++) s += (double)Z[m * K + j] * A[j * K + k];
            X[m * K + k] = (float)s;
        }
    float *H = gram(X, M, K);
    const sk_qspec specs[3] = {{4, 32, false}, {4, 128, true}, {8, (int)K, true}};
    for (int s = 0; s < 3; s++)
        for (int ao = 0; ao < 2; ao++) {
            sk_qmat q;
            CHECK(sk_quant_rtn(W, N, K, &specs[s], NULL, &q) == SK_OK);
            sk_qmat_dequant(&q, Wh);
            sk_qmat_free(&q);
            double e_rtn = direct_err(X, M, W, Wh, N, K);
            sk_gptq_opts o = {0.01, 32, ao != 0};
            double damp = 0;
            CHECK(sk_quant_gptq(W, H, N, K, &specs[s], &o, &q, &damp) == SK_OK);
            sk_qmat_dequant(&q, Wh);
            sk_qmat_free(&q);
            double e_gptq = direct_err(X, M, W, Wh, N, K);
            double e_h = sk_quant_output_err(W, Wh, N, K, H) * (double)M;
            printf("gptq bits %d group %3d %s%s: ||WX - W_hat X||^2 rtn %.4g, gptq %.4g (%.1f%% lower); via H %.4g\n",
                   specs[s].bits, specs[s].group, specs[s].sym ? "sym " : "asym", ao ? " act_order" : "", e_rtn, e_gptq,
                   100 * (1 - e_gptq / e_rtn), e_h);
            CHECK(e_gptq < e_rtn);
            CHECK(fabs(e_h - e_gptq) <= 1e-3 * e_gptq);
            CHECK(damp == 0.01);
        }
    free(W); free(X); free(Z); free(A); free(Wh); free(H);
}

static void test_awq(void)
{
    const int64_t N = 64, K = 128, M = 512;
    float *W = malloc(sizeof(float) * N * K), *X = malloc(sizeof(float) * M * K), *Wh = malloc(sizeof(float) * N * K);
    float *mean = calloc((size_t)K, sizeof *mean), *s = malloc(sizeof(float) * K), *Ws = malloc(sizeof(float) * N * K);
    for (int64_t i = 0; i < N * K; i++) W[i] = nrand();
    for (int64_t m = 0; m < M; m++)   /* a few outlier channels, 20-50x the rest */
        for (int64_t k = 0; k < K; k++) X[m * K + k] = nrand() * (k % 17 == 3 ? 20.0f + (float)(k % 31) : 1.0f);
    for (int64_t m = 0; m < M; m++)
        for (int64_t k = 0; k < K; k++) mean[k] += fabsf(X[m * K + k]) / (float)M;
    float *H = gram(X, M, K);
    sk_qspec spec = {4, 32, false};
    sk_qmat q;
    CHECK(sk_quant_rtn(W, N, K, &spec, NULL, &q) == SK_OK);
    sk_qmat_dequant(&q, Wh);
    sk_qmat_free(&q);
    double e_rtn = direct_err(X, M, W, Wh, N, K);
    sk_awq_layer l = {W, N, spec};
    sk_awq_result r;
    CHECK(sk_quant_awq_search(&l, 1, K, H, mean, 20, s, &r) == SK_OK);
    /* the effective weight Q(W·diag s)·diag(s)⁻¹, measured directly on X */
    for (int64_t n = 0; n < N; n++)
        for (int64_t k = 0; k < K; k++) Ws[n * K + k] = W[n * K + k] * s[k];
    CHECK(sk_quant_rtn(Ws, N, K, &spec, NULL, &q) == SK_OK);
    sk_qmat_dequant(&q, Wh);
    sk_qmat_free(&q);
    for (int64_t n = 0; n < N; n++)
        for (int64_t k = 0; k < K; k++) Wh[n * K + k] /= s[k];
    double e_awq = direct_err(X, M, W, Wh, N, K);
    /* and with the clipping search, in the scaled domain (H' = diag(1/s) H diag(1/s)) */
    float *Hs = malloc(sizeof(float) * K * K);
    for (int64_t a = 0; a < K; a++)
        for (int64_t b = 0; b < K; b++) Hs[a * K + b] = H[a * K + b] / (s[a] * s[b]);
    CHECK(sk_quant_awq_clip(Ws, N, K, Hs, &spec, &q) == SK_OK);
    sk_qmat_dequant(&q, Wh);
    sk_qmat_free(&q);
    for (int64_t n = 0; n < N; n++)
        for (int64_t k = 0; k < K; k++) Wh[n * K + k] /= s[k];
    double e_clip = direct_err(X, M, W, Wh, N, K);
    printf("awq (outlier channels): alpha %.2f; ||WX - W_hat X||^2 rtn %.4g, awq %.4g (%.1f%% lower), "
           "awq+clip %.4g; search loss rtn %.4g best %.4g\n",
           r.alpha, e_rtn, e_awq, 100 * (1 - e_awq / e_rtn), e_clip, r.loss_rtn * M, r.loss * M);
    CHECK(e_awq <= e_rtn * (1 + 1e-6));
    CHECK(e_clip <= e_awq * (1 + 1e-3));
    CHECK(r.loss <= r.loss_rtn);
    CHECK(fabs(r.loss_rtn * M - e_rtn) <= 1e-3 * e_rtn);
    free(W); free(X); free(Wh); free(mean); free(s); free(Ws); free(H); free(Hs);
}

/* ---- a toy model: x → LayerNorm → Linear l1 (wt 1) → Relu → Linear l2 (wt 0) → y ----
 * with residual, the LayerNorm output also feeds an Add to a second output. */
enum { TK = 64, TN1 = 96, TN2 = 32 };

static int add_w(sk_model *m, const char *name, int rank, const int64_t *dims, float scale, float bias)
{
    int64_t n = 1;
    for (int i = 0; i < rank; i++) n *= dims[i];
    float *d = sk_malloc((size_t)n * sizeof *d);
    for (int64_t i = 0; i < n; i++) d[i] = bias + scale * nrand();
    int id = sk_graph_add_const(&m->g, name, SK_DT_F32, rank, dims, d, true);
    m->g.tensors[id].flags |= SK_TF_WEIGHT;
    return id;
}

static sk_model *toy_model(bool residual)
{
    sk_model *m = sk_model_new();
    sk_graph *g = &m->g;
    int64_t dx[2] = {-1, TK}, d1[2] = {-1, TN1}, d2[2] = {-1, TN2};
    int x = sk_graph_add_tensor(g, "x", SK_DT_F32, 2, dx);
    sk_graph_add_input(g, x);
    int gamma = add_w(m, "ln.weight", 1, (int64_t[]){TK}, 0.2f, 1.0f);
    int beta = add_w(m, "ln.bias", 1, (int64_t[]){TK}, 0.2f, 0.0f);
    float *gd = g->tensors[gamma].data;
    gd[3] = 12;   /* outlier channels after the norm */
    gd[40] = -9;
    int w1 = add_w(m, "w1", 2, (int64_t[]){TN1, TK}, 0.2f, 0);
    int b1 = add_w(m, "b1", 1, (int64_t[]){TN1}, 0.1f, 0);
    int w2 = add_w(m, "w2", 2, (int64_t[]){TN1, TN2}, 0.2f, 0);   /* [K, N]: wt = 0 */
    int b2 = add_w(m, "b2", 1, (int64_t[]){TN2}, 0.1f, 0);
    int t_ln = sk_graph_add_tensor(g, "ln.out", SK_DT_F32, 2, dx);
    int nd = sk_graph_add_node(g, SK_OP_LAYERNORM, "ln", (int[]){x, gamma, beta}, 3, &t_ln, 1);
    sk_node_set_i(&g->nodes[nd], "axis", -1);
    sk_node_set_f(&g->nodes[nd], "epsilon", 1e-5f);
    int h1 = sk_graph_add_tensor(g, "h1", SK_DT_F32, 2, d1);
    nd = sk_graph_add_node(g, SK_OP_LINEAR, "l1", (int[]){t_ln, w1, b1}, 3, &h1, 1);
    sk_node_set_i(&g->nodes[nd], "wt", 1);
    int h2 = sk_graph_add_tensor(g, "h2", SK_DT_F32, 2, d1);
    sk_graph_add_node(g, SK_OP_RELU, "relu", &h1, 1, &h2, 1);
    int y = sk_graph_add_tensor(g, "y", SK_DT_F32, 2, d2);
    nd = sk_graph_add_node(g, SK_OP_LINEAR, "l2", (int[]){h2, w2, b2}, 3, &y, 1);
    sk_node_set_i(&g->nodes[nd], "wt", 0);
    sk_graph_add_output(g, y);
    if (residual) {
        int r = sk_graph_add_tensor(g, "res", SK_DT_F32, 2, dx);
        sk_graph_add_node(g, SK_OP_ADD, "residual", (int[]){t_ln, x}, 2, &r, 1);
        sk_graph_add_output(g, r);
    }
    SK_ASSERT(sk_graph_verify(g) == SK_OK);
    return m;
}

/* A copy (malloc'd) of output o of session s when it ran (ok), else NULL with the error printed; frees s. */
static float *output_copy(sk_session *s, bool ok, int o, int64_t *n_out)
{
    float *out = NULL;
    if (ok) {
        const sk_rtensor *t = sk_session_output(s, o);
        *n_out = sk_rt_numel(t);
        out = malloc((size_t)*n_out * sizeof *out);
        memcpy(out, t->data, (size_t)*n_out * sizeof *out);
    } else {
        printf("session: %s\n", sk_errmsg());
    }
    sk_session_free(s);
    return out;
}

/* Run m on X [B, TK]; out (malloc'd) gets output o. */
static float *run_model(const sk_model *m, const float *X, int64_t B, int o, int64_t *n_out)
{
    sk_session *s;
    sk_session_opts so = {.threads = 1};
    if (sk_session_new(m, &so, &s)) return NULL;
    return output_copy(s, !sk_session_set_input(s, "x", SK_DT_F32, 2, (int64_t[]){B, TK}, X) && !sk_session_run(s), o, n_out);
}

static double max_diff(const float *a, const float *b, int64_t n, double *ref_max)
{
    double d = 0, r = 0;
    for (int64_t i = 0; i < n; i++) {
        if (fabs(a[i] - b[i]) > d) d = fabs(a[i] - b[i]);
        if (fabs(a[i]) > r) r = fabs(a[i]);
    }
    if (ref_max) *ref_max = r;
    return d;
}

static char calib_path[256];

static void write_calib(void)
{
    snprintf(calib_path, sizeof calib_path, "/tmp/test_quant_calib_%d.jsonl", (int)getpid());
    FILE *f = fopen(calib_path, "w");
    for (int i = 0; i < 64; i++) {
        fprintf(f, "{\"input\": [");
        for (int k = 0; k < TK; k++) fprintf(f, "%s%.5f", k ? ", " : "", nrand() * (k % 9 == 0 ? 3.0 : 1.0) + 0.5);
        fprintf(f, "], \"label\": 0}\n");
    }
    fclose(f);
}

static void test_smoothquant_fold(void)
{
    const int64_t B = 16;
    float *X = malloc(sizeof(float) * B * TK);
    for (int64_t i = 0; i < B * TK; i++) X[i] = nrand() * 2 + 0.3f;
    for (int residual = 0; residual < 2; residual++) {
        sk_model *m = toy_model(residual);
        int64_t n0, n1;
        float *y0 = run_model(m, X, B, 0, &n0);
        sk_pipe_step step = {"smoothquant", "{\"alpha\": 0.5, \"include\": \"l*\"}"};
        sk_passmgr_opts o = {.calib_path = calib_path, .quiet = true};
        sk_passmgr_result r;
        sk_status st = sk_passmgr_run(m, &step, 1, &o, &r);
        CHECK(st == SK_OK);
        if (st) printf("  %s\n", sk_errmsg());
        float *y1 = run_model(m, X, B, 0, &n1);
        double ref = 0, d = y0 && y1 && n0 == n1 ? max_diff(y0, y1, n0, &ref) : 1e9;
        /* how much the weights moved: the fold is not the identity */
        const float *gd = m->g.tensors[sk_graph_find_tensor(&m->g, "ln.weight")].data;
        printf("smoothquant fold%s: max |y - y_smoothed| = %.3g (|y| up to %.3g); gamma[3] 12 -> %.4g; notes:\n",
               residual ? " (norm output also the residual)" : "", d, ref, gd[3]);
        for (int i = 0; i < r.n_notes; i++) printf("    %s\n", r.notes[i]);
        CHECK(d <= 1e-5 * (ref > 1 ? ref : 1));
        if (!residual) {
            CHECK(gd[3] != 12.0f);
            CHECK(r.n_notes == 1 && strstr(r.notes[0], "2 of 2 layers smoothed"));
        } else {
            CHECK(gd[3] == 12.0f);   /* l1 was left alone: its input is also the residual */
            CHECK(r.n_notes == 2 && !strcmp(r.notes[0], "smoothquant: not smoothed: 1 layer: the input also feeds other nodes (a residual) "
                                               "(e.g. l1: 'ln.out' also feeds Add 'residual')") &&
                  strstr(r.notes[1], "1 of 2 layers smoothed"));
        }
        CHECK(m->n_prov == 1 && !strcmp(m->prov[0].pass, "smoothquant"));
        if (m->n_prov) printf("  provenance: %s %s\n", m->prov[0].pass, m->prov[0].params_json);
        sk_passmgr_result_free(&r);
        free(y0);
        free(y1);
        sk_model_free(m);
    }
    free(X);
}

/* The pass's quantized LINEARs: their codes are RTN of the original weights, and the
 * runtime's output matches the fp32 model with the dequantized weights. */
static void test_quantize_pass(void)
{
    const int64_t B = 8;
    float *X = malloc(sizeof(float) * B * TK);
    for (int64_t i = 0; i < B * TK; i++) X[i] = nrand();
    const char *cases[] = {
        "{\"bits\": 4, \"group\": 32, \"include\": \"l*\", \"act_bits\": 0}",
        "{\"bits\": 4, \"group\": 64, \"sym\": true, \"head\": \"int8\", \"act_bits\": 0}",
        "{\"bits\": 8, \"head\": \"int8\", \"act_bits\": 0}",
        "{\"bits\": 8, \"head\": \"int8\"}",
        "{\"bits\": 4, \"group\": 32, \"method\": \"gptq\", \"include\": \"l*\", \"act_bits\": 0}",
        "{\"bits\": 4, \"group\": 32, \"method\": \"awq\", \"include\": \"l*\", \"act_bits\": 0}",
        "{\"bits\": 8, \"smoothquant\": 0.5, \"include\": \"l*\", \"act_bits\": 0}",
        "{\"bits\": 4, \"group\": 32, \"include\": \"l*\", \"layers\": {\"l2\": {\"bits\": 8}}, \"act_bits\": 0}",
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        sk_model *m = toy_model(false), *ref = toy_model(false);   /* ref's weights: m's, copied below */
        for (int t = 0; t < m->g.n_tensors; t++)
            if (m->g.tensors[t].flags & SK_TF_CONST)
                memcpy(ref->g.tensors[t].data, m->g.tensors[t].data, m->g.tensors[t].nbytes);
        sk_pipe_step step = {"quantize", cases[c]};
        sk_passmgr_opts o = {.calib_path = calib_path, .quiet = true};
        sk_status st = sk_passmgr_run(m, &step, 1, &o, NULL);
        CHECK(st == SK_OK);
        if (st) { printf("  %s: %s\n", cases[c], sk_errmsg()); sk_model_free(m); sk_model_free(ref); continue; }
        /* ref gets m's other constants (AWQ folds into norms and earlier layers), then every
         * quantized LINEAR's W dequantized (W [N, K] → ref's layout) */
        for (int t = 0; t < ref->g.n_tensors; t++) {
            const sk_tensor *a = &m->g.tensors[t];
            sk_tensor *b = &ref->g.tensors[t];
            if ((a->flags & SK_TF_CONST) && a->dtype == SK_DT_F32 && b->dtype == SK_DT_F32 && a->nbytes == b->nbytes)
                memcpy(b->data, a->data, a->nbytes);
        }
        int nq = 0, bits[2] = {0, 0};
        bool rtn_same = true;
        for (int i = 0; i < m->g.n_nodes; i++) {
            const sk_node *n = &m->g.nodes[i];
            if (n->op != SK_OP_LINEAR || n->n_in < 4) continue;
            const sk_tensor *w = &m->g.tensors[n->in[1]], *sc = &m->g.tensors[n->in[3]];
            const sk_tensor *z = n->n_in > 4 && n->in[4] >= 0 ? &m->g.tensors[n->in[4]] : NULL;
            int64_t N = w->dims[0], K = w->dims[1], group = sk_node_attr_i(n, "group", 0);
            sk_qmat q = {.spec = {(int)sk_node_attr_i(n, "bits", 0), (int)group, z == NULL}, .N = N, .K = K,
                         .codes = w->data, .scales = sc->data, .zeros = z ? z->data : NULL};
            CHECK(w->quant && w->quant->scales == n->in[3] && sk_node_attr_i(n, "wt", 0) == 1);
            float *wh = malloc(sizeof(float) * N * K);
            sk_qmat_dequant(&q, wh);
            sk_node *rn = &ref->g.nodes[i];
            bool wt = sk_node_attr_i(rn, "wt", 1) != 0;
            float *rw = ref->g.tensors[rn->in[1]].data;
            if (!strstr(cases[c], "method") && !strstr(cases[c], "smoothquant")) {   /* RTN: the codes of sk_quant_rtn */
                float *w0 = malloc(sizeof(float) * N * K), *wr = malloc(sizeof(float) * N * K);
                for (int64_t a = 0; a < N; a++)
                    for (int64_t k = 0; k < K; k++) w0[a * K + k] = rw[wt ? a * K + k : k * N + a];
                sk_qmat q2;
                sk_quant_rtn(w0, N, K, &q.spec, NULL, &q2);
                sk_qmat_dequant(&q2, wr);
                sk_qmat_free(&q2);
                rtn_same &= !memcmp(wr, wh, sizeof(float) * N * K);
                free(w0);
                free(wr);
            }
            for (int64_t a = 0; a < N; a++)
                for (int64_t k = 0; k < K; k++) rw[wt ? a * K + k : k * N + a] = wh[a * K + k];
            bits[nq < 2 ? nq : 1] = q.spec.bits;
            nq++;
            free(wh);
        }
        int64_t n0, n1;
        float *y0 = run_model(ref, X, B, 0, &n0), *y1 = run_model(m, X, B, 0, &n1);
        double r = 0, d = y0 && y1 && n0 == n1 ? max_diff(y0, y1, n0, &r) : 1e9;
        bool w8a8 = !strstr(cases[c], "\"act_bits\": 0");
        printf("quantize %s: %d layers (bits %d, %d), runtime vs dequantized fp32: max diff %.3g (|y| %.3g)%s%s\n",
               cases[c], nq, bits[0], bits[1], d, r, rtn_same ? "" : " RTN CODES DIFFER",
               w8a8 ? " [activations int8]" : "");
        CHECK(nq == 2 && rtn_same);
        CHECK(d <= (w8a8 ? 0.05 : 1e-4) * (r > 1 ? r : 1));
        if (strstr(cases[c], "layers")) CHECK(bits[0] == 4 && bits[1] == 8);
        CHECK(m->n_prov == 1);
        free(y0);
        free(y1);
        sk_model_free(m);
        sk_model_free(ref);
    }
    free(X);
}

/* ---- staged calibration: runs that continue one another ---- */

/* Three blocks h += l2(relu(l1(LN(h)))) on x [B, TK]: six stages, AWQ folding
 * l1's scales into its norm and l2's into l1 (through the ReLU), so a stage's
 * changes reach back before its own layers. */
static sk_model *toy_deep(void)
{
    sk_model *m = sk_model_new();
    sk_graph *g = &m->g;
    int64_t dx[2] = {-1, TK}, d1[2] = {-1, TN1};
    int h = sk_graph_add_tensor(g, "x", SK_DT_F32, 2, dx);
    sk_graph_add_input(g, h);
    for (int b = 0; b < 3; b++) {
        char nm[64];
#define NM(fmt) (snprintf(nm, sizeof nm, fmt, b), nm)
        int gamma = add_w(m, NM("b%d.ln.weight"), 1, (int64_t[]){TK}, 0.2f, 1.0f);
        int beta = add_w(m, NM("b%d.ln.bias"), 1, (int64_t[]){TK}, 0.2f, 0.0f);
        ((float *)g->tensors[gamma].data)[3 + b] = 10;   /* an outlier channel after each norm */
        int w1 = add_w(m, NM("b%d.w1"), 2, (int64_t[]){TN1, TK}, 0.2f, 0);
        int b1 = add_w(m, NM("b%d.b1"), 1, (int64_t[]){TN1}, 0.1f, 0);
        int w2 = add_w(m, NM("b%d.w2"), 2, (int64_t[]){TN1, TK}, 0.1f, 0);   /* [K, N]: wt = 0 */
        int b2 = add_w(m, NM("b%d.b2"), 1, (int64_t[]){TK}, 0.1f, 0);
        int ln = sk_graph_add_tensor(g, NM("b%d.ln.out"), SK_DT_F32, 2, dx);
        int nd = sk_graph_add_node(g, SK_OP_LAYERNORM, NM("b%d.ln"), (int[]){h, gamma, beta}, 3, &ln, 1);
        sk_node_set_i(&g->nodes[nd], "axis", -1);
        sk_node_set_f(&g->nodes[nd], "epsilon", 1e-5f);
        int h1 = sk_graph_add_tensor(g, NM("b%d.h1"), SK_DT_F32, 2, d1);
        nd = sk_graph_add_node(g, SK_OP_LINEAR, NM("b%d.l1"), (int[]){ln, w1, b1}, 3, &h1, 1);
        sk_node_set_i(&g->nodes[nd], "wt", 1);
        int h2 = sk_graph_add_tensor(g, NM("b%d.h2"), SK_DT_F32, 2, d1);
        sk_graph_add_node(g, SK_OP_RELU, NM("b%d.relu"), &h1, 1, &h2, 1);
        int y = sk_graph_add_tensor(g, NM("b%d.y"), SK_DT_F32, 2, dx);
        nd = sk_graph_add_node(g, SK_OP_LINEAR, NM("b%d.l2"), (int[]){h2, w2, b2}, 3, &y, 1);
        sk_node_set_i(&g->nodes[nd], "wt", 0);
        int r = sk_graph_add_tensor(g, NM("b%d.out"), SK_DT_F32, 2, dx);
        sk_graph_add_node(g, SK_OP_ADD, NM("b%d.add"), (int[]){h, y}, 2, &r, 1);
        h = r;
#undef NM
    }
    sk_graph_add_output(g, h);
    SK_ASSERT(sk_graph_verify(g) == SK_OK);
    return m;
}

static void copy_consts(sk_model *dst, const sk_model *src)
{
    for (int t = 0; t < src->g.n_tensors; t++)
        if (src->g.tensors[t].flags & SK_TF_CONST) memcpy(dst->g.tensors[t].data, src->g.tensors[t].data, src->g.tensors[t].nbytes);
}

/* Constants of a and b that differ (count; -1 when the graphs differ in shape). */
static int consts_differ(const sk_model *a, const sk_model *b)
{
    if (a->g.n_tensors != b->g.n_tensors) return -1;
    int d = 0;
    for (int t = 0; t < a->g.n_tensors; t++) {
        const sk_tensor *x = &a->g.tensors[t], *y = &b->g.tensors[t];
        if (!(x->flags & SK_TF_CONST)) continue;
        d += x->nbytes != y->nbytes || memcmp(x->data, y->data, x->nbytes) != 0;
    }
    return d;
}

/* A run cut at each node and continued in a fresh session gives the whole run's bits;
 * values saved for one batch size do not load into a plan for another. */
static void test_session_cut(void)
{
    enum { B = 5 };
    sk_model *m = toy_deep();
    float X[(B + 1) * TK];   /* B rows, and B + 1 for the misfit below */
    for (int i = 0; i < (B + 1) * TK; i++) X[i] = nrand();
    int64_t n0, dims[2] = {B, TK};
    float *y0 = run_model(m, X, B, 0, &n0);
    int bad = 0, cuts = 0;
    size_t most = 0;
    void *buf = NULL;
    size_t n = 0, cap = 0;
    for (int cut = 1; y0 && cut < m->g.n_nodes; cut++) {
        sk_session *a, *b;
        sk_session_opts so = {.threads = 2};
        sk_session_new(m, &so, &a);
        sk_session_new(m, &so, &b);
        sk_session_set_stop(a, cut - 1);
        sk_status st = sk_session_set_input(a, "x", SK_DT_F32, 2, dims, X);
        if (!st) st = sk_session_run(a);
        if (!st) st = sk_session_save(a, cut, &buf, &n, &cap);
        if (!st) st = sk_session_set_input(b, "x", SK_DT_F32, 2, dims, X);
        if (!st) st = sk_session_load(b, cut, buf, n);
        if (!st) st = sk_session_run_from(b, cut);
        const sk_rtensor *y = st ? NULL : sk_session_output(b, 0);
        if (st) printf("  cut at node %d: %s\n", cut, sk_errmsg());
        bad += !y || sk_rt_numel(y) != n0 || memcmp(y->data, y0, (size_t)n0 * sizeof *y0) != 0;
        if (n > most) most = n;
        cuts++;
        if (cut == 4) {   /* the saved [B, ...] values, into a plan for B + 1 rows */
            sk_session *c;
            sk_session_new(m, &so, &c);
            sk_session_set_input(c, "x", SK_DT_F32, 2, (int64_t[]){B + 1, TK}, X);
            CHECK_MSG(sk_session_load(c, cut, buf, n), "session: the values saved at node 4 do not fit this plan (other inputs or model?)");
            CHECK_MSG(sk_session_run_from(c, cut), "session: cannot continue at node 4: the run was not loaded (sk_session_load)");
            sk_session_free(c);
        }
        sk_session_free(a);
        sk_session_free(b);
    }
    printf("session cut and continued at %d nodes: %d outputs differ from the whole run (saved up to %zu bytes)\n", cuts,
           bad, most);
    CHECK(y0 && cuts == m->g.n_nodes - 1 && bad == 0);
    sk_free(buf);
    free(y0);
    sk_model_free(m);
}

/* GPTQ, AWQ and SparseGPT with each stage's calibration run continuing the last give the
 * bits of runs that start from the inputs every stage (SHRINK_CALIB_RESUME=0).  A stage
 * whose changes were not rerun (an AWQ fold into the norm or linear before it, a layer's
 * own output from before it was quantized) would show here as different weights. */
static void test_staged_calib(void)
{
    const sk_pipe_step cases[] = {
        {"quantize", "{\"bits\": 4, \"group\": 32, \"method\": \"gptq\", \"include\": \"*\", \"act_bits\": 0}"},
        {"quantize", "{\"bits\": 4, \"group\": 32, \"method\": \"awq\", \"include\": \"*\", \"act_bits\": 0}"},
        {"quantize", "{\"bits\": 4, \"group\": 32, \"method\": \"awq\", \"include\": \"*\", \"layers\": {\"b1.*\": {\"method\": \"rtn\"}}}"},
        {"prune", "{\"method\": \"sparsegpt\", \"sparsity\": 0.5, \"include\": \"*\"}"},
        {"prune", "{\"method\": \"wanda\", \"sparsity\": 0.5, \"include\": \"*\"}"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        sk_model *m[2] = {toy_deep(), toy_deep()}, *orig = toy_deep();
        copy_consts(m[1], m[0]);
        copy_consts(orig, m[0]);
        sk_status st[2];
        for (int k = 0; k < 2; k++) {
            if (k) setenv("SHRINK_CALIB_RESUME", "0", 1);
            sk_passmgr_opts o = {.calib_path = calib_path, .quiet = true};
            st[k] = sk_passmgr_run(m[k], &cases[c], 1, &o, NULL);
            if (st[k]) printf("  %s %s: %s\n", cases[c].pass, cases[c].params, sk_errmsg());
            unsetenv("SHRINK_CALIB_RESUME");
        }
        int d = consts_differ(m[0], m[1]);
        const sk_tensor *g1 = &m[0]->g.tensors[sk_graph_find_tensor(&m[0]->g, "b1.ln.weight")];
        bool folded = memcmp(g1->data, orig->g.tensors[sk_graph_find_tensor(&orig->g, "b1.ln.weight")].data, g1->nbytes) != 0;
        printf("%s %s: continued vs from-the-inputs runs: %d constants differ%s\n", cases[c].pass, cases[c].params, d,
               folded ? " (b1's norm took AWQ scales)" : "");
        CHECK(!st[0] && !st[1] && d == 0);
        if (strstr(cases[c].params, "awq") && !strstr(cases[c].params, "rtn")) CHECK(folded);
        for (int k = 0; k < 2; k++) sk_model_free(m[k]);
        sk_model_free(orig);
    }
}

/* Observe-only nodes (sk_calib_stages_run's skip): asked to skip b0.l1 and b0.l2 with the
 * run stopping at b0.l2, only l2 may be skipped (b0.relu reads l1's output before the
 * stop); the inputs l2's observer sees must be those of a run that skips nothing. */
typedef struct { int node; double sum; int64_t n; } in_sum;

static void sum_input(void *ctx, int node, const sk_kctx *k)
{
    in_sum *o = ctx;
    if (node != o->node) return;
    const float *x = k->in[0]->data;
    for (int64_t i = 0; i < sk_rt_numel(k->in[0]); i++) o->sum += x[i];
    o->n += sk_rt_numel(k->in[0]);
}

static void test_calib_skip(void)
{
    sk_model *m = toy_deep();
    sk_calib *c = NULL;
    CHECK(sk_calib_load(m, calib_path, 64, 0, &c) == SK_OK);
    int l1 = -1, l2 = -1;
    for (int i = 0; i < m->g.n_nodes; i++) {
        if (!strcmp(m->g.nodes[i].name, "b0.l1")) l1 = i;
        if (!strcmp(m->g.nodes[i].name, "b0.l2")) l2 = i;
    }
    in_sum o[2] = {{.node = l2}, {.node = l2}};
    for (int k = 0; k < 2 && c; k++) {
        sk_calib_stages *r = NULL;
        CHECK(sk_calib_stages_new(m, c, 1, &r) == SK_OK);
        CHECK(r && sk_calib_stages_run(r, l2, -1, k ? (int[]){l1, l2} : NULL, k ? 2 : 0, sum_input, &o[k]) == SK_OK);
        sk_calib_stages_free(r);
    }
    printf("observe-only b0.l1, b0.l2 up to b0.l2: l2's inputs sum %.6f over %lld values, %.6f without skipping\n",
           o[1].sum, (long long)o[1].n, o[0].sum);
    CHECK(o[0].n > 0 && o[1].n == o[0].n && o[1].sum == o[0].sum);
    sk_calib_free(c);
    sk_model_free(m);
}

/* ---- embedding tables: a toy LM, ids → wte[ids] + wpe[pos] → LayerNorm → l1 → head (tied to wte) ---- */
enum { LV = 37, LB = 2, LS = 5, LP = 8 };

static sk_model *toy_lm(int64_t H)
{
    sk_model *m = sk_model_new();
    sk_graph *g = &m->g;
    int64_t di[2] = {-1, -1}, dh[3] = {-1, -1, H}, dl[3] = {-1, -1, LV};
    int ids = sk_graph_add_tensor(g, "ids", SK_DT_I64, 2, di), pos = sk_graph_add_tensor(g, "pos", SK_DT_I64, 2, di);
    sk_graph_add_input(g, ids);
    sk_graph_add_input(g, pos);
    int wte = add_w(m, "wte", 2, (int64_t[]){LV, H}, 0.5f, 0), wpe = add_w(m, "wpe", 2, (int64_t[]){LP, H}, 0.1f, 0);
    int gamma = add_w(m, "ln.weight", 1, (int64_t[]){H}, 0.1f, 1.0f), beta = add_w(m, "ln.bias", 1, (int64_t[]){H}, 0.1f, 0);
    int w1 = add_w(m, "l1.weight", 2, (int64_t[]){H, H}, 0.2f, 0);
    int e = sk_graph_add_tensor(g, "e", SK_DT_F32, 3, dh), p = sk_graph_add_tensor(g, "p", SK_DT_F32, 3, dh);
    int x = sk_graph_add_tensor(g, "x", SK_DT_F32, 3, dh), h = sk_graph_add_tensor(g, "h", SK_DT_F32, 3, dh);
    int h1 = sk_graph_add_tensor(g, "h1", SK_DT_F32, 3, dh), y = sk_graph_add_tensor(g, "logits", SK_DT_F32, 3, dl);
    sk_graph_add_node(g, SK_OP_GATHER, "wte", (int[]){wte, ids}, 2, &e, 1);
    sk_graph_add_node(g, SK_OP_GATHER, "wpe", (int[]){wpe, pos}, 2, &p, 1);
    sk_graph_add_node(g, SK_OP_ADD, "embed", (int[]){e, p}, 2, &x, 1);
    sk_graph_add_node(g, SK_OP_LAYERNORM, "ln", (int[]){x, gamma, beta}, 3, &h, 1);
    sk_node_set_i(&g->nodes[sk_graph_add_node(g, SK_OP_LINEAR, "l1", (int[]){h, w1}, 2, &h1, 1)], "wt", 1);
    sk_node_set_i(&g->nodes[sk_graph_add_node(g, SK_OP_LINEAR, "lm_head", (int[]){h1, wte}, 2, &y, 1)], "wt", 1);
    sk_graph_add_output(g, y);
    SK_ASSERT(sk_graph_verify(g) == SK_OK);
    return m;
}

static float *run_lm(const sk_model *m, int64_t *n_out)
{
    int64_t ids[LB * LS], pos[LB * LS];
    for (int i = 0; i < LB * LS; i++) { ids[i] = (i * 7 + 3) % LV - (i == 4 ? LV : 0); pos[i] = i % LS; }   /* one negative id */
    sk_session *s;
    sk_session_opts so = {.threads = 1};
    if (sk_session_new(m, &so, &s)) { printf("session: %s\n", sk_errmsg()); return NULL; }
    int64_t d[2] = {LB, LS};
    return output_copy(s, !sk_session_set_input(s, "ids", SK_DT_I64, 2, d, ids) &&
                              !sk_session_set_input(s, "pos", SK_DT_I64, 2, d, pos) && !sk_session_run(s), 0, n_out);
}

/* Quantized tensor w of m (a table or a LINEAR's W, with its quant) as floats [N, K], by ir.h's formula. */
static float *dequant_tensor(const sk_model *m, int w)
{
    const sk_tensor *t = &m->g.tensors[w];
    const sk_quant *q = t->quant;
    int64_t N = t->dims[0], K = t->dims[1], G = (K - 1) / q->group + 1;
    const float *sc = m->g.tensors[q->scales].data;
    const uint8_t *z = q->zeros >= 0 ? m->g.tensors[q->zeros].data : NULL;
    float *v = malloc((size_t)(N * K) * sizeof *v);
    for (int64_t e = 0; e < N * K; e++) {
        int64_t n = e / K, g = e % K / q->group;
        int code = t->dtype == SK_DT_I8 ? ((const int8_t *)t->data)[e] : (((const uint8_t *)t->data)[e / 2] >> (4 * (e % 2))) & 15;
        int zero = t->dtype == SK_DT_I8 ? 0 : z ? z[n * G + g] : 8;
        v[e] = sc[n * G + g] * (float)(code - zero);
    }
    return v;
}

static void test_quantize_tables(void)
{
    static const struct {
        int64_t H;
        const char *params;
        int wte_bits, wpe_bits, head_act;   /* 0 = fp32; head_act -1: the head keeps its own fp32 W */
        const char *note;
    } cases[] = {
        {64, "{\"bits\": 8, \"act_bits\": 0}", 8, 8, 0, "'wte' [37, 64] int8 shared with 'lm_head' (weight-only)"},
        {64, "{\"bits\": 8}", 8, 8, 8, "'wte' [37, 64] int8 shared with 'lm_head', 'wpe' [8, 64] int8"},
        {64, "{\"bits\": 4, \"group\": 32, \"act_bits\": 0}", 4, 4, 0, "int4 g32 asym shared with 'lm_head' (weight-only)"},
        {64, "{\"bits\": 4, \"group\": 64, \"sym\": true, \"embed_group\": 32, \"act_bits\": 0}", 4, 4, 0, "int4 g32 sym"},
        {64, "{\"bits\": 4, \"group\": 32, \"head\": \"int8\", \"act_bits\": 0}", 8, 4, 0, "int8 shared with 'lm_head'"},
        {64, "{\"bits\": 4, \"group\": 32, \"head\": \"int8\"}", 8, 4, 8, "'wte' [37, 64] int8 shared with 'lm_head', "},
        {64, "{\"bits\": 8, \"embed\": \"int4\", \"embed_group\": 32, \"act_bits\": 0}", 4, 4, 0, "'wpe' [8, 64] int4 g32"},
        {64, "{\"bits\": 8, \"embed\": \"fp32\", \"act_bits\": 0}", 0, 0, -1, NULL},
        {64, "{\"bits\": 8, \"include\": \"l1\", \"act_bits\": 0}", 0, 0, -1, NULL},
        {50, "{\"bits\": 4, \"group\": 32, \"act_bits\": 0}", 0, 4, -1, "table 'wte' kept fp32: the tied 'lm_head' stays fp32"},
        {49, "{\"embed\": \"int4\", \"embed_group\": 32, \"act_bits\": 0}", 0, 8, -1, "(odd) are not whole bytes in int4: int8"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int64_t H = cases[c].H;
        sk_model *m = toy_lm(H), *ref = toy_lm(H);
        for (int t = 0; t < m->g.n_tensors; t++)
            if (m->g.tensors[t].flags & SK_TF_CONST) memcpy(ref->g.tensors[t].data, m->g.tensors[t].data, m->g.tensors[t].nbytes);
        sk_pipe_step step = {"quantize", cases[c].params};
        sk_passmgr_opts o = {.quiet = true};
        sk_passmgr_result r;
        sk_status st = sk_passmgr_run(m, &step, 1, &o, &r);
        CHECK(st == SK_OK);
        if (st) { printf("  %s: %s\n", cases[c].params, sk_errmsg()); sk_model_free(m); sk_model_free(ref); continue; }
        bool noted = !cases[c].note;
        for (int i = 0; i < r.n_notes && !noted; i++) noted = strstr(r.notes[i], cases[c].note) != NULL;
        CHECK(noted);
        const sk_graph *g = &m->g;
        int wte = sk_graph_find_tensor(g, "wte"), wpe = sk_graph_find_tensor(g, "wpe");
        const sk_node *head = &g->nodes[5], *gte = &g->nodes[0], *gpe = &g->nodes[1];
        int bits[2] = {0, 0}, tabs[2] = {wte, wpe};
        bool codes_ok = true;
        for (int k = 0; k < 2; k++) {
            const sk_tensor *t = &g->tensors[tabs[k]];
            const sk_node *gn = k ? gpe : gte;
            bits[k] = t->dtype == SK_DT_I8 ? 8 : t->dtype == SK_DT_Q4 ? 4 : 0;
            if (!bits[k]) { CHECK(gn->n_in == 2 && t->dtype == SK_DT_F32); continue; }
            CHECK(t->quant && gn->in[0] == tabs[k] && gn->in[2] == t->quant->scales && gn->n_in == (t->quant->zeros >= 0 ? 4 : 3));
            CHECK(sk_node_attr_i(gn, "bits", 0) == bits[k] && sk_node_attr_i(gn, "group", 0) == t->quant->group);
            /* the codes are RTN of the original table (sk_quant_rtn's when the group divides the row) */
            const float *w0 = ref->g.tensors[tabs[k]].data;
            sk_qspec spec = {bits[k], t->quant->group, t->quant->symmetric};
            sk_qmat q;
            CHECK(sk_qtable_rtn(w0, t->dims[0], H, &spec, &q) == SK_OK);
            size_t nb = bits[k] == 8 ? (size_t)(t->dims[0] * H) : (size_t)(t->dims[0] * H + 1) / 2;
            codes_ok &= !memcmp(q.codes, t->data, nb);
            sk_qmat_free(&q);
            if (H % t->quant->group == 0) {
                CHECK(sk_quant_rtn(w0, t->dims[0], H, &spec, NULL, &q) == SK_OK);
                codes_ok &= !memcmp(q.codes, t->data, nb);
                sk_qmat_free(&q);
            }
            float *dq = dequant_tensor(m, tabs[k]);
            memcpy(ref->g.tensors[tabs[k]].data, dq, (size_t)(t->dims[0] * H) * sizeof *dq);
            free(dq);
        }
        CHECK(codes_ok);
        CHECK(bits[0] == cases[c].wte_bits && bits[1] == cases[c].wpe_bits);
        if (cases[c].head_act >= 0)   /* the head reads the table itself */
            CHECK(head->in[1] == wte && head->n_in >= 4 && head->in[3] == g->tensors[wte].quant->scales &&
                  sk_node_attr_i(head, "act_bits", -1) == cases[c].head_act && sk_node_attr_i(head, "bits", 0) == bits[0]);
        else
            CHECK(g->tensors[head->in[1]].dtype == SK_DT_F32 && head->n_in == 2);
        const sk_node *l1 = &g->nodes[4];   /* l1's W dequantized into ref (act_bits 0 cases compare exactly) */
        if (l1->n_in > 3) {
            float *dq = dequant_tensor(m, l1->in[1]);
            memcpy(ref->g.tensors[sk_graph_find_tensor(&ref->g, "l1.weight")].data, dq, (size_t)(H * H) * sizeof *dq);
            free(dq);
        }
        int64_t n0, n1;
        float *y0 = run_lm(ref, &n0), *y1 = run_lm(m, &n1);
        double rm = 0, d = y0 && y1 && n0 == n1 ? max_diff(y0, y1, n0, &rm) : 1e9;
        bool w8a8 = !strstr(cases[c].params, "\"act_bits\": 0");
        printf("tables %s (H %lld): wte %d-bit, wpe %d-bit, runtime vs dequantized fp32: max diff %.3g (|y| %.3g)%s\n",
               cases[c].params, (long long)H, bits[0], bits[1], d, rm, w8a8 ? " [activations int8]" : "");
        for (int i = 0; i < r.n_notes; i++) printf("    %s\n", r.notes[i]);
        CHECK(d <= (w8a8 ? 0.05 : 1e-4) * (rm > 1 ? rm : 1));
        free(y0);
        free(y1);
        sk_passmgr_result_free(&r);
        sk_model_free(m);
        sk_model_free(ref);
    }
}

static void test_params(void)
{
    sk_pipe_step s = {"quantise", "{}"};
    char names[512], want[700];
    sk_pass_names(names, sizeof names);
    snprintf(want, sizeof want, "unknown pass 'quantise' (available: %s)", names);
    CHECK(!strncmp(names, "quantize, smoothquant", 21));
    CHECK_MSG(sk_passmgr_check(&s, 1), want);
    s = (sk_pipe_step){"quantize", "{\"bitz\": 4}"};
    CHECK_MSG(sk_passmgr_check(&s, 1),
              "quantize: unknown parameter 'bitz' (parameters: bits, method, group, sym, act_bits, smoothquant, head, "
              "embed, embed_group, include, exclude, layers, damp, block, act_order, awq_grid, awq_clip)");
    s.params = "{\"group\": \"64\"}";
    CHECK_MSG(sk_passmgr_check(&s, 1), "quantize: parameter 'group' must be an integer, got \"64\"");
    s.params = "{\"group\": 100}";
    CHECK_MSG(sk_passmgr_check(&s, 1), "quantize: parameter 'group' must be one of 32|64|128, got 100");
    s.params = "{\"sym\": 1}";
    CHECK_MSG(sk_passmgr_check(&s, 1), "quantize: parameter 'sym' must be true or false, got 1");
    s.params = "{\"smoothquant\": 1.5}";
    CHECK_MSG(sk_passmgr_check(&s, 1), "quantize: parameter 'smoothquant' must be in [0, 1], got 1.5");
    s.params = "{\"method\": \"hqq\"}";
    CHECK_MSG(sk_passmgr_check(&s, 1), "quantize: parameter 'method' must be one of rtn|gptq|awq, got \"hqq\"");
    s.params = "[4]";
    CHECK_MSG(sk_passmgr_check(&s, 1), "quantize: parameters must be a JSON object, got [4]");
    sk_pipe_step two[2] = {{"quantize", "{}"}, {"smoothquant", "{\"alpha\": true}"}};
    CHECK_MSG(sk_passmgr_check(two, 2), "step 2: smoothquant: parameter 'alpha' must be a number, got true");
    char *res = NULL;
    CHECK(sk_pass_check_params(sk_pass_find("smoothquant"), "{\"include\": \"a*\"}", &res) == SK_OK);
    CHECK(res && !strcmp(res, "{\"alpha\":0.5,\"include\":[\"a*\"],\"exclude\":[]}"));
    printf("  resolved: %s\n", res ? res : "(null)");
    free(res);

    /* model-dependent checks, before the model changes */
    sk_model *m = toy_model(false);
    size_t nb = m->g.tensors[sk_graph_find_tensor(&m->g, "w1")].nbytes;
    float *w1 = malloc(nb);
    memcpy(w1, m->g.tensors[sk_graph_find_tensor(&m->g, "w1")].data, nb);
    sk_passmgr_opts o = {.quiet = true};
    s.params = "{\"bits\": 4, \"include\": [\"l1\", \"nothing*\"]}";
    CHECK_MSG(sk_passmgr_run(m, &s, 1, &o, NULL),
              "quantize: include pattern 'nothing*' matches no layer (names like 'l1', weight 'w1')");
    s.params = "{\"exclude\": \"zzz\"}";
    CHECK_MSG(sk_passmgr_run(m, &s, 1, &o, NULL), "quantize: exclude pattern 'zzz' matches no layer (names like 'l1', weight 'w1')");
    s.params = "{\"layers\": {\"l9\": {\"bits\": 8}}}";
    CHECK_MSG(sk_passmgr_run(m, &s, 1, &o, NULL), "quantize: layers pattern 'l9' matches no layer (names like 'l1', weight 'w1')");
    s.params = "{\"layers\": {\"l1\": {\"bits\": 5}}}";
    CHECK_MSG(sk_passmgr_run(m, &s, 1, &o, NULL), "quantize: layers['l1']: 'bits' must be 4 or 8, got 5");
    s.params = "{\"layers\": {\"l1\": {\"bitz\": 4}}}";
    CHECK_MSG(sk_passmgr_run(m, &s, 1, &o, NULL),
              "quantize: layers['l1']: unknown key 'bitz' (expected bits, group, sym, method, act_bits)");
    s.params = "{\"bits\": 4, \"method\": \"gptq\"}";
    CHECK_MSG(sk_passmgr_run(m, &s, 1, &o, NULL), "quantize: method gptq: calibration data needed: give --calib FILE");
    s.params = "{\"exclude\": \"l1\"}";
    CHECK_MSG(sk_passmgr_run(m, &s, 1, &o, NULL),
              "quantize: no layer to quantize: 2 candidates, 1 of them the head kept fp32 (head=int8 or include "
              "quantizes it), the rest excluded");
    CHECK(m->n_prov == 0 && m->g.tensors[sk_graph_find_tensor(&m->g, "w1")].dtype == SK_DT_F32 &&
          !memcmp(w1, m->g.tensors[sk_graph_find_tensor(&m->g, "w1")].data, nb));
    printf("params: every rejected run left the model untouched\n");
    free(w1);
    sk_model_free(m);
}

static void test_registry(void)
{
    CHECK(sk_pass_count() >= 2 && sk_pass_find("quantize") && sk_pass_find("smoothquant") && !sk_pass_find("nope"));
    for (int i = 0; i < sk_pass_count(); i++) {
        const struct sk_pass *p = sk_pass_at(i);
        char *res = NULL;
        CHECK(p->api_version == SK_PASS_API_VERSION && p->run && p->summary);
        CHECK(sk_pass_check_params(p, NULL, &res) == SK_OK);
        printf("registry: %s: defaults %s\n", p->name, res ? res : "?");
        free(res);
    }
    CHECK(sk_pass_at(sk_pass_count()) == NULL);
    /* registering a built-in name again is refused */
    CHECK_MSG(sk_pass_register(sk_pass_find("quantize")), "pass 'quantize' is already registered");
}

static const char *plugin_src =
    "#include \"shrink-pass.h\"\n"
    "static sk_status run(sk_pass_ctx *c, sk_model *m) {\n"
    "    double f; const char *tag; sk_status st;\n"
    "    if ((st = c->get_float(c, \"factor\", &f)) || (st = c->get_string(c, \"tag\", &tag))) return st;\n"
    "    if (f == 0) return c->error(c, SK_ERR_INVALID, \"factor must not be 0\");\n"
    "    int n = 0;\n"
    "    for (int i = 0; i < m->g.n_tensors; i++) {\n"
    "        sk_tensor *t = &m->g.tensors[i];\n"
    "        if (!(t->flags & SK_TF_WEIGHT) || t->dtype != SK_DT_F32 || !(t->flags & SK_TF_OWNED)) continue;\n"
    "        for (size_t k = 0; k < t->nbytes / 4; k++) ((float *)t->data)[k] *= (float)f;\n"
    "        n++;\n"
    "    }\n"
    "    c->note(c, \"%s: scaled %d tensors by %g\", tag, n, f);\n"
    "    return SK_OK;\n"
    "}\n"
    "static const struct sk_param params[] = {\n"
    "    {\"factor\", SK_PARAM_FLOAT, \"2\", \"multiply weights by this\", NULL, -10, 10},\n"
    "    {\"tag\", SK_PARAM_STRING, \"x\", \"a label\", NULL, 0, 0},\n"
    "    {0}};\n"
    "static const struct sk_pass scale = {API, \"test-scale\", \"scale every weight\", params, run};\n"
    "static const struct sk_pass *const list[] = {&scale};\n"
    "int sk_pass_plugin_init(int host, const struct sk_pass *const **out) {\n"
    "    if (host < 1) return -1;\n"
    "    *out = list;\n"
    "    return 1;\n"
    "}\n";

static bool build_plugin(const char *dir, const char *name, int api, char *so, size_t cap)
{
    char src[512], cmd[2048];
    snprintf(src, sizeof src, "%s/%s.c", dir, name);
    snprintf(so, cap, "%s/%s.so", dir, name);
    FILE *f = fopen(src, "w");
    if (!f) return false;
    fprintf(f, "#define API %d\n%s", api, plugin_src);
    fclose(f);
    const char *root = getenv("ROOT") ? getenv("ROOT") : ".";
    const char *cc = getenv("CC") ? getenv("CC") : "cc";
    snprintf(cmd, sizeof cmd, "%s -std=c11 -shared -fPIC -Wall -I%s/include -I%s/src -o %s %s 2>&1", cc, root, root, so, src);
    int rc = system(cmd);
    if (rc) printf("plugin build failed: %s\n", cmd);
    return rc == 0;
}

static void test_plugin(void)
{
    char dir[] = "/tmp/test_quant_pluginXXXXXX", so[600];
    if (!mkdtemp(dir)) { printf("FAIL: mkdtemp\n"); fails++; return; }
    CHECK_MSG(sk_pass_load_plugin("/nonexistent/x.so"),
              "/nonexistent/x.so: cannot load plugin: /nonexistent/x.so: cannot open shared object file: No such file or directory");
    if (!build_plugin(dir, "future", 99, so, sizeof so)) { fails++; return; }
    int before = sk_pass_count();
    sk_status st = sk_pass_load_plugin(so);
    char want[800];
    snprintf(want, sizeof want, "%s: pass 'test-scale': api_version 99, this shrink supports 1..%d", so, SK_PASS_API_VERSION);
    CHECK_MSG(st, want);
    CHECK(sk_pass_count() == before);
    if (!build_plugin(dir, "scale", SK_PASS_API_VERSION, so, sizeof so)) { fails++; return; }
    st = sk_pass_load_plugin(so);
    CHECK(st == SK_OK);
    if (st) { printf("  %s\n", sk_errmsg()); return; }
    CHECK(sk_pass_count() == before + 1 && sk_pass_find("test-scale"));
    sk_model *m = toy_model(false);
    int w1 = sk_graph_find_tensor(&m->g, "w1");
    float w0 = ((float *)m->g.tensors[w1].data)[5];
    sk_pipe_step s = {"test-scale", "{\"factor\": 3}"};
    sk_passmgr_opts o = {.quiet = true};
    sk_passmgr_result r;
    st = sk_passmgr_run(m, &s, 1, &o, &r);
    CHECK(st == SK_OK && ((float *)m->g.tensors[w1].data)[5] == 3 * w0);
    CHECK(m->n_prov == 1 && !strcmp(m->prov[0].pass, "test-scale") && !strcmp(m->prov[0].params_json, "{\"factor\":3,\"tag\":\"x\"}"));
    CHECK(r.n_notes == 1 && !strcmp(r.notes[0], "test-scale: x: scaled 6 tensors by 3"));
    printf("plugin: ran '%s' from %s: %s; provenance %s\n", s.pass, so, r.n_notes ? r.notes[0] : "?",
           m->n_prov ? m->prov[0].params_json : "?");
    sk_passmgr_result_free(&r);
    s.params = "{\"factor\": 0}";
    CHECK_MSG(sk_passmgr_run(m, &s, 1, &o, NULL), "test-scale: factor must not be 0");
    s.params = "{\"factor\": 11}";
    CHECK_MSG(sk_passmgr_check(&s, 1), "test-scale: parameter 'factor' must be in [-10, 10], got 11");
    snprintf(want, sizeof want, "%s: pass 'test-scale' is already registered", so);
    CHECK_MSG(sk_pass_load_plugin(so), want);   /* the same file twice */
    sk_model_free(m);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd)) printf("could not remove %s\n", dir);
}

int main(void)
{
    test_rtn_hand();
    test_rtn_bound();
    test_gptq();
    test_awq();
    write_calib();
    test_smoothquant_fold();
    test_quantize_pass();
    test_session_cut();
    test_staged_calib();
    test_calib_skip();
    test_quantize_tables();
    test_params();
    test_registry();
    test_plugin();
    remove(calib_path);
    if (fails) { printf("%d checks failed\n", fails); return 1; }
    printf("all quantization checks passed\n");
    return 0;
}
