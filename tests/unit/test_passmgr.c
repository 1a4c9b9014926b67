/* test_passmgr.c — sk_model_clone and the pass manager's copy of the input
 * model (pass API version 2: sk_pass.wants_input, sk_pass_ctx.input_model).
 *
 * Checks: a clone prints (full values) exactly as its original, owns copies
 * of owned data and shares mapped views, and changing one leaves the other;
 * every one of its allocations failing in turn gives SK_ERR_NOMEM and no leak;
 * a pipeline step that wants the input model sees it as it was before the
 * first pass even after an earlier pass rewrote the weights; a step that did
 * not ask gets an error naming it, and so does one after the last step that
 * asked (the copy is gone by then); wants_input is asked once per step, and
 * a version-1 pass's is never read.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pipeline/pipeline.h"

static int fails;
#define CHECK(c) do { if (!(c)) { printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #c); fails++; } } while (0)

static const char *toy =
    "model family=mlp task=classification labels=2\n"
    "prov loaded \"{\\\"from\\\":\\\"test\\\"}\"\n"
    "input  %x: f32[batch, 4]\n"
    "weight %w1: f32[3, 4] = [0.1, -0.2, 0.3, 0.4, 0.5, 0.6, -0.7, 0.8, 0.9, 1.0, 1.1, -1.2]\n"
    "weight %b1: f32[3] = [0, 0.5, -0.5]\n"
    "weight %w2: f32[2, 3] = [1, 2, 3, 4, 5, 6]\n"
    "weight %b2: f32[2] = [0.25, -0.25]\n"
    "%h: f32[batch, 3] = Linear(%x, %w1, %b1) {act=\"relu\"} @fc1\n"
    "%z: f32[batch, 2] = Linear(%h, %w2, %b2) @fc2\n"
    "%y: f32[batch, 2] = Softmax(%z) {axis=-1}\n"
    "output %y\n";

static char *print(const sk_model *m)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return NULL;
    sk_status st = sk_ir_print(m, f, true);
    fclose(f);
    if (st) { free(buf); return NULL; }
    return buf;
}

static float *weight(sk_model *m, const char *name)
{
    int t = sk_graph_find_tensor(&m->g, name);
    return t < 0 ? NULL : m->g.tensors[t].data;
}

static void test_clone(void)
{
    sk_model *m = NULL, *c = NULL;
    CHECK(sk_ir_parse(toy, "toy.skir", &m) == SK_OK);
    if (!m) return;
    CHECK(sk_model_add_file(m, "vocab.txt", "a\nb\n", 4) == SK_OK);
    CHECK(sk_model_clone(m, &c) == SK_OK);
    if (!c) { sk_model_free(m); return; }
    char *a = print(m), *b = print(c);
    CHECK(a && b && !strcmp(a, b));
    CHECK(c->n_files == 1 && c->files[0].len == 4 && !memcmp(c->files[0].data, "a\nb\n", 4) && c->files[0].data != m->files[0].data);
    CHECK(c->n_prov == 1 && !strcmp(c->prov[0].params_json, "{\"from\":\"test\"}") && c->arch.family == SK_FAM_MLP &&
          c->arch.n_labels == 2);
    float *w = weight(c, "w1");
    CHECK(w && w != weight(m, "w1"));   /* owned data is copied */
    if (w) w[0] = 42;
    CHECK(weight(m, "w1")[0] == 0.1f);
    printf("clone: prints as its original (%zu bytes of text IR), owned data copied, files and provenance kept\n",
           a ? strlen(a) : 0);
    /* every allocation failing in turn: NULL and SK_ERR_NOMEM, nothing leaked (ASan) */
    int k = 1;
    for (;; k++) {
        sk_model *f = (sk_model *)1;
        sk_alloc_fail_after(k);
        sk_status st = sk_model_clone(m, &f);
        sk_alloc_fail_after(0);
        if (st == SK_OK) { sk_model_free(f); break; }
        CHECK(st == SK_ERR_NOMEM && f == NULL);
    }
    printf("clone: each of its %d allocations failing in turn gives SK_ERR_NOMEM and a NULL model\n", k - 1);
    free(a);
    free(b);
    sk_model_free(c);
    sk_model_free(m);

    /* a model whose weights are views of a mapped file: the clone shares them, maps nothing */
    const char *root = getenv("ROOT") ? getenv("ROOT") : ".";
    char path[512];
    snprintf(path, sizeof path, "%s/samples/zoo/bert-fortunes", root);
    if (sk_model_load(path, &m)) { printf("FAIL: %s\n", sk_errmsg()); fails++; return; }
    CHECK(sk_model_clone(m, &c) == SK_OK);
    int views = 0, shared = 0, owned_n = 0;
    for (int i = 0; c && i < m->g.n_tensors; i++) {
        const sk_tensor *x = &m->g.tensors[i], *y = &c->g.tensors[i];
        if (!(x->flags & SK_TF_CONST)) continue;
        bool owned = x->flags & SK_TF_OWNED;
        views += !owned;
        owned_n += owned;
        shared += !owned && y->data == x->data && !(y->flags & SK_TF_OWNED);
        CHECK(x->nbytes == y->nbytes && !memcmp(x->data, y->data, x->nbytes));
        CHECK(owned ? y->data != x->data && (y->flags & SK_TF_OWNED) : y->data == x->data);
    }
    CHECK(c && c->n_maps == 0 && views > 0 && shared == views);
    printf("clone of %s: %d mapped views shared, %d owned constants copied, all bytes equal\n", path, views, owned_n);
    sk_model_free(c);   /* before m: it borrows m's mappings */
    sk_model_free(m);
}

/* ---- passes for the pipeline checks ---- */
static int v1_asked;   /* times a version-1 pass's wants_input was called (must stay 0) */

static sk_status scale_run(sk_pass_ctx *c, sk_model *m)
{
    (void)c;
    for (int i = 0; i < m->g.n_tensors; i++) {
        sk_tensor *t = &m->g.tensors[i];
        if (!(t->flags & SK_TF_WEIGHT)) continue;
        for (size_t k = 0; k < t->nbytes / 4; k++) ((float *)t->data)[k] *= 3;
    }
    return SK_OK;
}

static int peek_asked;   /* calls of t-peek's wants_input */

static bool peek_wants(sk_pass_ctx *c)
{
    bool w = false;
    peek_asked++;
    return !c->get_bool(c, "want", &w) && w;
}

static double peek_ratio;   /* m's w1[1] / the input model's w1[1], as the last peek saw them */

static sk_status peek_run(sk_pass_ctx *c, sk_model *m)
{
    const sk_model *in;
    sk_status st = c->input_model(c, &in);
    if (st) return st;
    int t = sk_graph_find_tensor(&in->g, "w1");
    if (in == m || t < 0) return c->error(c, SK_ERR_INVALID, "not a copy");
    peek_ratio = (double)weight(m, "w1")[1] / (double)((const float *)in->g.tensors[t].data)[1];
    return SK_OK;
}

static bool v1_wants(sk_pass_ctx *c)
{
    (void)c;
    v1_asked++;
    return true;
}

static const struct sk_param peek_params[] = {
    {"want", SK_PARAM_BOOL, "true", "ask for the input model", NULL, 0, 0},
    {NULL, 0, NULL, NULL, NULL, 0, 0},
};
static const struct sk_pass p_scale = {.api_version = SK_PASS_API_VERSION, .name = "t-scale", .summary = "x3",
                                       .run = scale_run};
static const struct sk_pass p_peek = {.api_version = SK_PASS_API_VERSION, .name = "t-peek", .summary = "input model",
                                      .params = peek_params, .run = peek_run, .wants_input = peek_wants};
/* a version-1 pass: its struct ends before wants_input, so whatever lies there is never read */
static const struct sk_pass p_old = {.api_version = 1, .name = "t-old", .summary = "v1", .params = peek_params,
                                     .run = peek_run, .wants_input = v1_wants};

static sk_status pipe(sk_model *m, const sk_pipe_step *s, int n)
{
    sk_passmgr_opts o = {.quiet = true};
    return sk_passmgr_run(m, s, n, &o, NULL);
}

static void check_err(sk_status st, const char *want)
{
    bool ok = st != SK_OK && !strcmp(sk_errmsg(), want);
    if (!ok) {
        printf("FAIL: status %s\n  got:  %s\n  want: %s\n", sk_status_name(st), sk_errmsg(), want);
        fails++;
    } else {
        printf("  error as expected: %s\n", want);
    }
}

static void test_input_model(void)
{
    CHECK(sk_pass_register(&p_scale) == SK_OK && sk_pass_register(&p_peek) == SK_OK && sk_pass_register(&p_old) == SK_OK);
    sk_model *m = NULL;
    CHECK(sk_ir_parse(toy, "toy.skir", &m) == SK_OK);
    if (!m) return;
    /* scale ×3 twice, then look: the input model is the one before both */
    sk_pipe_step s1[] = {{"t-scale", NULL}, {"t-scale", NULL}, {"t-peek", NULL}};
    peek_ratio = 0;
    peek_asked = 0;
    CHECK(pipe(m, s1, 3) == SK_OK);
    printf("input model: after two x3 passes, w1[1] / input w1[1] = %g (want 9); wants_input asked %d time(s)\n",
           peek_ratio, peek_asked);
    CHECK(peek_asked == 1);
    CHECK(peek_ratio > 8.999 && peek_ratio < 9.001);
    CHECK(weight(m, "w1")[1] > -1.8001f && weight(m, "w1")[1] < -1.7999f);
    /* a step that did not ask */
    sk_pipe_step s2[] = {{"t-peek", "{\"want\": false}"}};
    check_err(pipe(m, s2, 1), "t-peek: pass 't-peek' asked for the input model, which its wants_input did not ask to keep");
    /* the copy is freed after the last step that asked: a later step that does not ask cannot have it */
    sk_pipe_step s3[] = {{"t-peek", NULL}, {"t-scale", NULL}, {"t-peek", "{\"want\": false}"}};
    check_err(pipe(m, s3, 3), "t-peek: pass 't-peek' asked for the input model, which its wants_input did not ask to keep");
    /* a version-1 pass: wants_input is not read, so no copy */
    sk_pipe_step s4[] = {{"t-old", NULL}};
    v1_asked = 0;
    check_err(pipe(m, s4, 1), "t-old: pass 't-old' asked for the input model, which its wants_input did not ask to keep");
    CHECK(v1_asked == 0);
    sk_model_free(m);
}

int main(void)
{
    test_clone();
    test_input_model();
    if (fails) { printf("%d checks failed\n", fails); return 1; }
    printf("all pass-manager checks passed\n");
    return 0;
}
