/* test_train.c — the optimizer, schedules, students and the distillation loop.
 *
 *   AdamW        against the textbook update (decoupled decay, bias
 *                correction) computed here in double, over 5 steps
 *   schedule     warm-up, linear and cosine decay at known points; clipping
 *   students     layers copied from the right teacher layers (every other),
 *                fresh students seeded, and the errors before training
 *                (more layers than the teacher, vocab mismatch, empty data,
 *                labels outside the classes, cosine loss across widths)
 *   loop         two runs with one seed on one thread: bit-identical loss
 *                curves and weights; a run stopped at a checkpoint and resumed
 *                ends with the same bits as an uninterrupted one; the loss
 *                falls (BERT classifier KD+CE+cos, GPT-2 LM KD+CE, a narrower
 *                student with the hidden-state MSE through a projection)
 *   small        MLP / GRU / LSTM / CNN students: the loss falls with a
 *                third of the examples unlabelled (KD only); a padded batch
 *                gives each row the logits of that example alone; the
 *                attention-score loss alone falls, and is refused across
 *                head counts or without attention
 * Teachers are small random models built from the templates.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "arch/arch.h"
#include "train/distill.h"

static int fails, checks;
#define CHECK(c) do { checks++; if (!(c)) { printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #c); fails++; } } while (0)

static sk_rng rng = {777};

static sk_status rand_weight(void *ctx, sk_model *m, const char *name, int rank, const int64_t *dims, bool optional,
                             int *id)
{
    (void)ctx;
    if (optional && !strcmp(name, "lm_head.weight")) { *id = -1; return SK_OK; }
    int64_t n = 1;
    for (int i = 0; i < rank; i++) n *= dims[i];
    float *d = sk_malloc((size_t)n * sizeof *d);
    bool ln = (strstr(name, "LayerNorm.weight") || strstr(name, "ln_")) && strstr(name, ".weight");
    for (int64_t i = 0; i < n; i++) d[i] = (ln ? 1.0f : 0.0f) + 0.3f * sk_rng_normal(&rng);
    *id = sk_graph_add_const(&m->g, name, SK_DT_F32, rank, dims, d, true);
    return SK_OK;
}

static sk_model *teacher(sk_family fam, int layers, int vocab)
{
    sk_model *m = sk_model_new();
    sk_arch a = {.family = fam, .n_layers = layers, .hidden = 16, .heads = 2, .ffn = 32, .vocab = vocab,
                 .max_pos = 32, .type_vocab = 2, .n_labels = 3, .eps = 1e-5f};
    strcpy(a.task, fam == SK_FAM_GPT2 ? "lm" : "seq-classification");
    strcpy(a.act, fam == SK_FAM_GPT2 ? "gelu_new" : "gelu");
    m->arch = a;
    if (sk_arch_build(m, &a, rand_weight, NULL)) { printf("build: %s\n", sk_errmsg()); exit(1); }
    return m;
}

static void dataset(sk_dataset *d, int n, int vocab, bool labelled, uint64_t seed)
{
    sk_rng r = {seed};
    memset(d, 0, sizeof *d);
    for (int i = 0; i < n; i++) {
        int len = labelled ? 3 + (int)(sk_rng_next(&r) % 10) : 12;
        int32_t ids[16];
        for (int p = 0; p < len; p++) ids[p] = (int32_t)(sk_rng_next(&r) % (uint64_t)vocab);
        sk_dataset_add(d, ids, len, (int32_t)(ids[1] % 3), labelled);   /* a learnable label */
    }
}

/* the defaults with these threads, epochs, batch and lr */
static sk_distill_opts opts(int threads, int epochs, int batch, float lr)
{
    sk_distill_opts o;
    sk_distill_opts_default(&o);
    o.threads = threads;
    o.epochs = epochs;
    o.batch = batch;
    o.lr = lr;
    return o;
}

static const float *weight(const sk_model *m, const char *name)
{
    int id = sk_graph_find_tensor(&m->g, name);
    return id >= 0 ? m->g.tensors[id].data : NULL;
}

static bool same_weights(const sk_model *a, const sk_model *b)
{
    if (a->g.n_tensors != b->g.n_tensors) return false;
    for (int i = 0; i < a->g.n_tensors; i++) {
        const sk_tensor *x = &a->g.tensors[i], *y = &b->g.tensors[i];
        if (!(x->flags & SK_TF_WEIGHT)) continue;
        if (x->nbytes != y->nbytes || memcmp(x->data, y->data, x->nbytes)) return false;
    }
    return true;
}

/* ---- AdamW, schedule, clipping ---- */
static void t_optim(void)
{
    enum { N = 6 };
    float p[N] = {0.5f, -1.0f, 2.0f, 0.0f, 0.1f, -0.3f}, g[N];
    double rp[N], rm[N] = {0}, rv[N] = {0};
    unsigned char decay[N] = {1, 1, 0, 1, 0, 1};
    for (int i = 0; i < N; i++) rp[i] = p[i];
    sk_adamw o;
    CHECK(sk_adamw_init(&o, N, 0.1f) == SK_OK);
    double worst = 0;
    for (int t = 1; t <= 5; t++) {
        float lr = 0.01f * (float)t;
        for (int i = 0; i < N; i++) g[i] = (float)sin(t * 1.7 + i) * (float)(i + 1);
        sk_adamw_step(&o, p, g, decay, lr);
        for (int i = 0; i < N; i++) {   /* torch.optim.AdamW: decay first, then the Adam update */
            rm[i] = 0.9 * rm[i] + 0.1 * g[i];
            rv[i] = 0.999 * rv[i] + 0.001 * (double)g[i] * g[i];
            if (decay[i]) rp[i] -= lr * 0.1 * rp[i];
            double mh = rm[i] / (1 - pow(0.9, t)), vh = rv[i] / (1 - pow(0.999, t));
            rp[i] -= lr * mh / (sqrt(vh) + 1e-8);
            worst = fmax(worst, fabs(p[i] - rp[i]) / fmax(1e-3, fabs(rp[i])));
        }
    }
    printf("  AdamW vs textbook (5 steps, decoupled decay): worst rel err %.2e\n", worst);
    CHECK(worst < 1e-5);
    sk_adamw_free(&o);

    float l0 = sk_lr_at(SK_SCHED_LINEAR, 1.0f, 0, 100, 10), l9 = sk_lr_at(SK_SCHED_LINEAR, 1.0f, 9, 100, 10);
    float l55 = sk_lr_at(SK_SCHED_LINEAR, 1.0f, 55, 100, 10), c55 = sk_lr_at(SK_SCHED_COSINE, 1.0f, 55, 100, 10);
    float end = sk_lr_at(SK_SCHED_COSINE, 1.0f, 100, 100, 10);
    printf("  schedule: warm-up %.2f..%.2f, mid linear %.3f cosine %.3f, end %.3f\n", (double)l0, (double)l9,
           (double)l55, (double)c55, (double)end);
    CHECK(fabsf(l0 - 0.1f) < 1e-6f && fabsf(l9 - 1.0f) < 1e-6f && fabsf(l55 - 0.5f) < 1e-6f);
    CHECK(fabsf(c55 - 0.5f) < 1e-6f && fabsf(end) < 1e-6f);
    float gg[4] = {3, 4, 0, 0};
    double nrm = sk_grad_clip(gg, 4, 1.0);
    CHECK(fabs(nrm - 5.0) < 1e-9 && fabsf(gg[0] - 0.6f) < 1e-5f && fabsf(gg[1] - 0.8f) < 1e-5f);
}

/* ---- students ---- */
static void t_students(void)
{
    sk_model *t = teacher(SK_FAM_BERT, 4, 50), *s = NULL;
    sk_student_spec sp;
    CHECK(sk_student_parse("layers=2", &sp) == SK_OK && sp.layers == 2 && sp.hidden == 0);
    CHECK(sk_student_parse("layers=2,hidden=8,heads=2,ffn=16", &sp) == SK_OK && sp.hidden == 8 && sp.ffn == 16);
    CHECK(sk_student_parse("layers=2,width=3", &sp) == SK_ERR_USAGE);
    CHECK(sk_student_parse("layers=x", &sp) == SK_ERR_USAGE);
    CHECK(sk_student_parse("mlp", &sp) == SK_OK && sp.kind == SK_STUDENT_MLP && sp.hidden == 0);
    CHECK(sk_student_parse("mlp=bag,hidden=32,emb=8", &sp) == SK_OK && sp.hidden == 32 && sp.emb == 8);
    CHECK(sk_student_parse("rnn=gru,dirs=2,layers=2", &sp) == SK_OK && sp.kind == SK_STUDENT_RNN &&
          sp.cell == SK_OP_GRU && sp.dirs == 2 && sp.layers == 2);
    CHECK(sk_student_parse("cnn,kernel=5", &sp) == SK_OK && sp.kind == SK_STUDENT_CNN && sp.kernel == 5);
    static const char *const bad[] = {"rnn", "rnn=tanh", "cnn,kernel=4", "mlp,heads=2", "layers=2,emb=8",
                                      "mlp,dirs=2", "mlp,cnn", "rnn=lstm,dirs=3", "mlp=deep", "layers=2,init=zero",
                                      "mlp,init=fresh"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sk_status st = sk_student_parse(bad[i], &sp);
        if (i == 0) printf("  bad spec: %s\n", sk_errmsg());
        CHECK(st == SK_ERR_USAGE);
    }
    sk_student_parse("layers=2", &sp);
    CHECK(sk_student_build(t, &sp, 1, &s) == SK_OK);
    if (s) {
        const char *nm[2][2] = {{"bert.encoder.layer.0.attention.self.query.weight", "bert.encoder.layer.0.attention.self.query.weight"},
                                {"bert.encoder.layer.1.output.dense.weight", "bert.encoder.layer.2.output.dense.weight"}};
        bool ok = s->arch.n_layers == 2;
        for (int i = 0; i < 2; i++) {
            const float *a = weight(s, nm[i][0]), *b = weight(t, nm[i][1]);
            ok = ok && a && b && !memcmp(a, b, 16 * 16 * sizeof(float));
        }
        const float *ce = weight(s, "classifier.weight"), *te = weight(t, "classifier.weight");
        ok = ok && ce && te && !memcmp(ce, te, 3 * 16 * sizeof(float));
        printf("  student layers=2 of 4: layers 0, 2 and the head copied: %s\n", ok ? "yes" : "NO");
        CHECK(ok);
        sk_model_free(s);
    }
    sp.layers = 5;
    CHECK(sk_student_build(t, &sp, 1, &s) == SK_ERR_INVALID);
    printf("  5 layers from 4: %s\n", sk_errmsg());
    /* init=fresh at the teacher's widths: nothing copied; init=copy at another width: an error */
    CHECK(sk_student_parse("layers=2,init=fresh", &sp) == SK_OK && sp.init == SK_INIT_FRESH);
    CHECK(sk_student_build(t, &sp, 1, &s) == SK_OK);
    if (s) {
        static const char *const nm[] = {"bert.encoder.layer.0.attention.self.query.weight", "classifier.weight",
                                         "bert.embeddings.word_embeddings.weight"};
        bool fresh = s->arch.n_layers == 2 && s->arch.hidden == t->arch.hidden;
        for (int i = 0; i < 3; i++) {
            const float *a = weight(s, nm[i]), *b = weight(t, nm[i]);
            fresh = fresh && a && b && memcmp(a, b, 3 * 16 * sizeof(float));
        }
        const float *ln = weight(s, "bert.encoder.layer.1.output.LayerNorm.weight");
        fresh = fresh && ln && ln[0] == 1.0f && ln[15] == 1.0f;
        printf("  student layers=2,init=fresh at the teacher's widths: fresh weights: %s\n", fresh ? "yes" : "NO");
        CHECK(fresh);
        sk_model_free(s);
    }
    sp.layers = 5;
    CHECK(sk_student_build(t, &sp, 1, &s) == SK_OK && s && s->arch.n_layers == 5);
    sk_model_free(s);
    CHECK(sk_student_parse("layers=2,hidden=8,heads=2,ffn=16,init=copy", &sp) == SK_OK);
    CHECK(sk_student_build(t, &sp, 1, &s) == SK_ERR_INVALID);
    printf("  init=copy at hidden 8: %s\n", sk_errmsg());
    sk_student_parse("layers=2,hidden=8,heads=2,ffn=16", &sp);
    sk_model *f1 = NULL, *f2 = NULL;
    CHECK(sk_student_build(t, &sp, 9, &f1) == SK_OK && sk_student_build(t, &sp, 9, &f2) == SK_OK);
    CHECK(f1 && f2 && same_weights(f1, f2) && f1->arch.hidden == 8);
    /* errors of the loop, before anything runs */
    sk_distill_opts o;
    sk_distill_opts_default(&o);
    o.threads = 1;
    sk_distill_result r;
    sk_dataset d, empty = {0};
    dataset(&d, 8, 50, true, 3);
    CHECK(sk_distill(t, f1, &empty, NULL, &o, &r) == SK_ERR_INVALID);
    printf("  empty data: %s\n", sk_errmsg());
    d.labels[2] = 7;
    CHECK(sk_distill(t, f1, &d, NULL, &o, &r) == SK_ERR_INVALID);
    printf("  bad label: %s\n", sk_errmsg());
    d.labels[2] = 1;
    o.alpha_cos = 1;
    CHECK(sk_distill(t, f1, &d, NULL, &o, &r) == SK_ERR_INVALID);
    printf("  cosine across widths: %s\n", sk_errmsg());
    o.alpha_cos = 0;
    sk_model *t2 = teacher(SK_FAM_BERT, 2, 60);
    CHECK(sk_distill(t2, f1, &d, NULL, &o, &r) == SK_ERR_INVALID);
    printf("  vocab mismatch: %s\n", sk_errmsg());
    sk_dataset_free(&d);
    sk_model_free(t2);
    sk_model_free(f1);
    sk_model_free(f2);
    sk_model_free(t);
}

/* ---- the loop ---- */
typedef struct { double *loss; int n, cap; } curve;

static void record(void *ctx, int64_t step, double loss)
{
    curve *c = ctx;
    (void)step;
    if (c->n == c->cap) c->loss = realloc(c->loss, (size_t)(c->cap = c->cap * 2 + 16) * sizeof *c->loss);
    c->loss[c->n++] = loss;
}

static sk_model *run(const sk_model *t, const char *spec, const sk_dataset *d, sk_distill_opts *o, curve *c,
                     sk_distill_result *r)
{
    sk_student_spec sp;
    sk_model *s = NULL;
    sk_student_parse(spec, &sp);
    if (sk_student_build(t, &sp, o->seed, &s)) { printf("student: %s\n", sk_errmsg()); CHECK(0); return NULL; }
    o->on_step = record;
    o->ctx = c;
    sk_status st = sk_distill(t, s, d, NULL, o, r);
    if (st) { printf("distill: %s\n", sk_errmsg()); CHECK(0); }
    return s;
}

static void t_loop(void)
{
    sk_model *t = teacher(SK_FAM_BERT, 4, 50);
    sk_dataset d;
    dataset(&d, 37, 50, true, 5);
    sk_distill_opts o = opts(1, 4, 8, 2e-3f);
    o.alpha_cos = 0.5f;
    sk_distill_result r1, r2, r3;
    curve c1 = {0}, c2 = {0}, c3 = {0};
    sk_model *s1 = run(t, "layers=2", &d, &o, &c1, &r1);
    sk_model *s2 = run(t, "layers=2", &d, &o, &c2, &r2);
    bool same_curve = c1.n == c2.n && c1.n == 20 && !memcmp(c1.loss, c2.loss, (size_t)c1.n * sizeof *c1.loss);
    printf("  two runs, seed %llu, 1 thread: %d steps, loss %.4f -> %.4f, curves %s, weights %s\n",
           (unsigned long long)o.seed, c1.n, c1.n ? c1.loss[0] : 0, r1.loss, same_curve ? "bit-identical" : "DIFFER",
           s1 && s2 && same_weights(s1, s2) ? "bit-identical" : "DIFFER");
    CHECK(same_curve && s1 && s2 && same_weights(s1, s2));
    CHECK(c1.n > 4 && r1.loss < c1.loss[0]);

    /* stop at step 7 (mid-epoch) with a checkpoint, resume, compare with the uninterrupted run */
    char ck[64];
    snprintf(ck, sizeof ck, "/tmp/test_train_%d.ckpt", (int)getpid());
    o.checkpoint = ck;
    o.stop_after = 7;
    sk_model *s3 = run(t, "layers=2", &d, &o, &c3, &r3);
    CHECK(r3.interrupted && r3.steps == 7);
    o.stop_after = 0;
    o.resume = ck;
    sk_student_spec sp;
    sk_student_parse("layers=2", &sp);
    sk_model *s4 = NULL;
    sk_student_build(t, &sp, o.seed, &s4);   /* a fresh student; the checkpoint brings the weights */
    o.on_step = record;
    o.ctx = &c3;
    CHECK(sk_distill(t, s4, &d, NULL, &o, &r3) == SK_OK);
    bool same = c3.n == c1.n && !memcmp(c3.loss, c1.loss, (size_t)c1.n * sizeof *c1.loss) && same_weights(s1, s4);
    printf("  stopped at step 7, resumed: %d steps, loss curve and weights %s the uninterrupted run's\n", c3.n,
           same ? "bit-identical to" : "DIFFER from");
    CHECK(same);
    /* a checkpoint of another student is refused */
    sk_student_parse("layers=1", &sp);
    sk_model *s5 = NULL;
    sk_student_build(t, &sp, o.seed, &s5);
    CHECK(sk_distill(t, s5, &d, NULL, &o, &r3) == SK_ERR_INVALID);
    printf("  resume into another student: %s\n", sk_errmsg());
    unlink(ck);
    o.resume = o.checkpoint = NULL;

    /* narrower fresh student: hidden-state MSE through a learned projection */
    curve c6 = {0};
    o.alpha_cos = 0;
    o.alpha_mse = 1;
    sk_distill_result r6;
    sk_model *s6 = run(t, "layers=1,hidden=8,heads=2,ffn=16", &d, &o, &c6, &r6);
    printf("  fresh hidden=8 student, KD+CE+MSE(projection): loss %.4f -> %.4f\n", c6.n ? c6.loss[0] : 0, r6.loss);
    CHECK(c6.n > 0 && r6.loss < c6.loss[0]);

    /* GPT-2 LM: KD over every position + next-token CE, with a validation perplexity */
    sk_model *g = teacher(SK_FAM_GPT2, 2, 40);
    sk_dataset lm, lmv;
    dataset(&lm, 24, 40, false, 8);
    dataset(&lmv, 6, 40, false, 9);
    o = opts(2, 3, 4, 3e-3f);
    curve c7 = {0};
    sk_student_parse("layers=1", &sp);
    sk_model *s7 = NULL;
    sk_student_build(g, &sp, 1, &s7);
    o.on_step = record;
    o.ctx = &c7;
    sk_distill_result r7;
    CHECK(sk_distill(g, s7, &lm, &lmv, &o, &r7) == SK_OK);
    printf("  GPT-2 1-of-2 layers, LM: loss %.4f -> %.4f, val perplexity %.2f (teacher %.2f)\n", c7.n ? c7.loss[0] : 0,
           r7.loss, r7.val, r7.teacher_val);
    CHECK(c7.n == 18 && r7.loss < c7.loss[0] && r7.val > 1 && r7.teacher_val > 1);

    free(c1.loss); free(c2.loss); free(c3.loss); free(c6.loss); free(c7.loss);
    sk_model_free(s1); sk_model_free(s2); sk_model_free(s3); sk_model_free(s4); sk_model_free(s5);
    sk_model_free(s6); sk_model_free(s7); sk_model_free(g); sk_model_free(t);
    sk_dataset_free(&d); sk_dataset_free(&lm); sk_dataset_free(&lmv);
}

/* ---- small students: token classifiers over the teacher's vocabulary ---- */
/* max |logits of row i in a padded batch − logits of example i alone| */
static double padded_vs_alone(const sk_model *m, const sk_dataset *d, int n)
{
    int S = 1;
    for (int i = 0; i < n; i++) if (d->len[i] > S) S = d->len[i];
    int64_t *ids = calloc((size_t)(n * S), sizeof *ids), *mask = calloc((size_t)(n * S), sizeof *mask);
    for (int i = 0; i < n; i++)
        for (int p = 0; p < d->len[i]; p++) { ids[i * S + p] = d->ids[i][p]; mask[i * S + p] = 1; }
    sk_session *s;
    double worst = INFINITY;
    if (sk_session_new(m, NULL, &s)) goto out;
    int64_t dims[2] = {n, S};
    sk_session_set_input(s, "input_ids", SK_DT_I64, 2, dims, ids);
    sk_session_set_input(s, "attention_mask", SK_DT_I64, 2, dims, mask);
    if (sk_session_run(s)) goto out;
    const sk_rtensor *y = sk_session_output(s, 0);
    int64_t C = y->dims[1];
    float *all = malloc((size_t)(n * C) * sizeof *all);
    memcpy(all, y->data, (size_t)(n * C) * sizeof *all);
    worst = 0;
    for (int i = 0; i < n; i++) {   /* alone: no mask bound (the default: all ones), as shrink eval runs it */
        sk_session *one;
        sk_session_new(m, NULL, &one);
        int64_t d1[2] = {1, d->len[i]};
        sk_session_set_input(one, "input_ids", SK_DT_I64, 2, d1, ids + i * S);
        if (sk_session_run(one)) { worst = INFINITY; sk_session_free(one); break; }
        const float *v = sk_session_output(one, 0)->data;
        for (int64_t c = 0; c < C; c++) worst = fmax(worst, fabs(v[c] - all[i * C + c]));
        sk_session_free(one);
    }
    free(all);
out:
    sk_session_free(s);
    free(ids);
    free(mask);
    return worst;
}

static void t_small_students(void)
{
    sk_model *t = teacher(SK_FAM_BERT, 2, 50);
    sk_dataset d;
    dataset(&d, 40, 50, true, 11);
    for (int i = 0; i < d.n; i += 3) d.labels[i] = -1;   /* a third unlabelled: KD only */
    static const char *const specs[] = {"mlp,emb=16,hidden=16", "rnn=gru,emb=16,hidden=12",
                                        "rnn=lstm,emb=8,hidden=8,dirs=2,layers=2", "cnn,emb=16,hidden=12,layers=2"};
    for (size_t k = 0; k < sizeof specs / sizeof specs[0]; k++) {
        sk_distill_opts o = opts(1, 6, 8, 1e-2f);
        curve c = {0};
        sk_distill_result r;
        sk_model *s = run(t, specs[k], &d, &o, &c, &r);
        double diff = s ? padded_vs_alone(s, &d, 8) : INFINITY;
        printf("  %-40s KD+CE, 1/3 unlabelled: loss %.4f -> %.4f; padded batch vs alone: max |diff| %.2e\n", specs[k],
               c.n ? c.loss[0] : 0, r.loss, diff);
        CHECK(s && c.n == 30 && r.loss < 0.8 * c.loss[0] && diff < 1e-5);
        CHECK(s && !strcmp(s->arch.task, "seq-classification") && s->arch.n_labels == 3 && s->n_files == t->n_files);
        free(c.loss);
        sk_model_free(s);
    }
    sk_student_spec sp;
    sk_model *s = NULL, *g = teacher(SK_FAM_GPT2, 1, 40);
    sk_student_parse("mlp", &sp);
    CHECK(sk_student_build(g, &sp, 1, &s) == SK_ERR_UNSUPPORTED && !s);
    printf("  mlp from a GPT-2 teacher: %s\n", sk_errmsg());
    /* the attention loss: alone it falls; across head counts it is refused */
    sk_distill_opts o = opts(1, 5, 8, 3e-3f);
    o.alpha_kd = o.alpha_ce = 0;
    o.alpha_att = 1;
    curve c = {0};
    sk_distill_result r;
    s = run(t, "layers=1,hidden=8,heads=2,ffn=16", &d, &o, &c, &r);
    printf("  attention-score loss alone, fresh 1-layer student: %.4f -> %.4f (att %.4f)\n", c.n ? c.loss[0] : 0,
           r.loss, r.att);
    CHECK(s && c.n == 25 && r.loss < 0.8 * c.loss[0] && r.att == r.loss);
    sk_model_free(s);
    sk_student_parse("layers=1,hidden=8,heads=1,ffn=16", &sp);
    sk_student_build(t, &sp, 1, &s);
    CHECK(sk_distill(t, s, &d, NULL, &o, &r) == SK_ERR_INVALID);
    printf("  attention loss across head counts: %s\n", sk_errmsg());
    sk_model_free(s);
    sk_student_parse("mlp", &sp);
    sk_student_build(t, &sp, 1, &s);
    CHECK(sk_distill(t, s, &d, NULL, &o, &r) == SK_ERR_INVALID);
    printf("  attention loss for an mlp: %s\n", sk_errmsg());
    free(c.loss);
    sk_model_free(s);
    sk_model_free(g);
    sk_model_free(t);
    sk_dataset_free(&d);
}

int main(void)
{
    printf("test_train: optimizer, schedule, students, distillation loop\n");
    t_optim();
    t_students();
    t_loop();
    t_small_students();
    printf("test_train: %d checks, %d failed\n", checks, fails);
    return fails ? 1 : 0;
}
