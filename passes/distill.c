/* distill.c — the "distill" pass: train the model at this point of the
 * pipeline (the student) against a teacher, in place, with the loop of
 * `shrink distill` (src/train/distill.c).  Its use is to win back what an
 * earlier pass lost: fuse → prune_structured → distill → quantize.
 *
 * The teacher is, by default, the model the pipeline was given, before any
 * pass (the pass manager keeps a copy because wants_input says so); or a
 * model file (`teacher`).  The data are, by default, the pipeline's
 * calibration samples, already tokenized, as unlabelled examples (the
 * teacher's outputs are the only targets: KD and the hidden-state /
 * attention losses; cross-entropy has no labels to use); or a file as
 * `shrink distill --data` reads it (`data`).
 *
 * Everything that can be checked is checked before any weight changes: f32
 * weights (quantized ones cannot be trained, so distill goes before
 * quantize), the teacher, the data, and sk_distill's own checks of the pair
 * (family, task, vocabulary, classes, lengths).  The trainer changes the
 * weights in place; a failure after that leaves the model half-trained, and
 * the pass manager's caller discards it.  Nothing is printed but through
 * the context (progress, one note).
 */
#include <stdio.h>
#include <string.h>
#include "pipeline/pipeline.h"
#include "train/distill.h"

static bool distill_wants_input(sk_pass_ctx *c)
{
    const char *t;
    return !c->get_string(c, "teacher", &t) && !t[0];
}

/* The first weight that training cannot change, or NULL. */
static const sk_tensor *untrainable(const sk_model *m)
{
    for (int i = 0; i < m->g.n_tensors; i++) {
        const sk_tensor *t = &m->g.tensors[i];
        if ((t->flags & SK_TF_WEIGHT) && (t->dtype != SK_DT_F32 || t->quant)) return t;
    }
    return NULL;
}

/* The pipeline's calibration samples as unlabelled training examples. */
static sk_status calib_dataset(sk_pass_ctx *c, const sk_model *m, sk_dataset *d, const char **path)
{
    const sk_calib *k;
    sk_status st = c->calib(c, m, &k);
    if (st == SK_ERR_USAGE)
        return c->error(c, st, "no training data: 'data' is \"\" (the pipeline's calibration samples) and there is no "
                        "--calib FILE; give --calib FILE or set 'data' to a JSONL or text file");
    if (st) return st;
    *path = k->path;
    bool lm = m->arch.family == SK_FAM_GPT2;
    for (int i = 0; i < k->n && !st; i++) {
        const sk_calib_sample *s = &k->s[i];
        if (!s->ids)
            return c->error(c, SK_ERR_UNSUPPORTED, "%s: calibration samples are %s, not token ids; distillation trains "
                            "BERT classifiers and GPT-2 language models", k->path, k->kind);
        if (s->n > INT32_MAX) return c->error(c, SK_ERR_INVALID, "%s: sample %d is too long", k->path, i + 1);
        /* a classifier's set is labelled, every label -1 (no label: KD only); an LM's windows have none */
        st = sk_dataset_add(d, s->ids, (int)s->n, -1, !lm);
    }
    if (!st && d->n == 0) st = c->error(c, SK_ERR_INVALID, "%s: no calibration samples to train on", k->path);
    return st;
}

typedef struct { sk_pass_ctx *c; long total; } progress;

static void on_step(void *ctx, int64_t step, double loss)
{
    progress *p = ctx;
    char what[48];
    snprintf(what, sizeof what, "loss %.4f", loss);
    p->c->progress(p->c, (long)step, p->total, what);
}

static sk_status distill_run(sk_pass_ctx *c, sk_model *m)
{
    sk_distill_opts o;
    sk_distill_opts_default(&o);
    /* the float parameters, as sk_distill_opts holds them */
    const struct { const char *name; float *dst; } fl[] = {
        {"lr", &o.lr}, {"wd", &o.wd}, {"clip", &o.clip}, {"warmup", &o.warmup}, {"temperature", &o.temperature},
        {"alpha_kd", &o.alpha_kd}, {"alpha_ce", &o.alpha_ce}, {"alpha_cos", &o.alpha_cos}, {"alpha_mse", &o.alpha_mse},
        {"alpha_att", &o.alpha_att},
    };
    int64_t epochs, batch, seed, max_len;
    const char *sched, *data, *tpath;
    sk_status st;
    for (size_t i = 0; i < sizeof fl / sizeof fl[0]; i++) {
        double v;
        if ((st = c->get_float(c, fl[i].name, &v))) return st;
        *fl[i].dst = (float)v;
    }
    if ((st = c->get_int(c, "epochs", &epochs)) || (st = c->get_int(c, "batch", &batch)) ||
        (st = c->get_int(c, "seed", &seed)) || (st = c->get_int(c, "max_len", &max_len)) ||
        (st = c->get_string(c, "schedule", &sched)) || (st = c->get_string(c, "data", &data)) ||
        (st = c->get_string(c, "teacher", &tpath)))
        return st;
    if (o.warmup >= 1)
        return c->error(c, SK_ERR_INVALID, "warmup is a fraction of the steps in [0, 1), got %g", (double)o.warmup);
    o.epochs = (int)epochs;
    o.batch = (int)batch;
    o.seed = (uint64_t)seed;
    o.sched = !strcmp(sched, "cosine") ? SK_SCHED_COSINE : !strcmp(sched, "constant") ? SK_SCHED_CONSTANT : SK_SCHED_LINEAR;
    o.threads = c->threads;

    const sk_tensor *q = untrainable(m);
    if (q)
        return c->error(c, SK_ERR_INVALID, "weight '%s' is already %s%s: only f32 weights can be trained, so distill "
                        "must come before quantize in the pipeline", q->name, sk_dtype_info(q->dtype)->name,
                        q->quant ? " (quantized)" : "");

    const sk_model *teacher = NULL;
    sk_model *loaded = NULL;
    sk_dataset train = {0};
    const char *from = data;
    if (tpath[0]) {
        if ((st = sk_model_load(tpath, &loaded))) return sk_err_prefix(st, "teacher");
        teacher = loaded;
    } else if ((st = c->input_model(c, &teacher))) {
        return st;
    }
    if (data[0]) st = sk_dataset_load(teacher, data, (int)max_len, &train);
    else st = calib_dataset(c, m, &train, &from);
    if (st) goto done;
    bool labelled = false;
    for (int i = 0; train.labels && i < train.n; i++) labelled |= train.labels[i] >= 0;

    progress pg = {c, (long)(((int64_t)train.n + o.batch - 1) / o.batch * o.epochs)};
    o.on_step = on_step;
    o.ctx = &pg;
    sk_distill_result r;
    if ((st = sk_distill(teacher, m, &train, NULL, &o, &r))) {
        /* sk_distill's messages start with "distill: ", which the pass manager adds already */
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", sk_errmsg());
        st = sk_err(st, "%s", strncmp(msg, "distill: ", 9) ? msg : msg + 9);
        goto done;
    }
    c->note(c, "%lld steps (%lld epoch%s of %d %s example%s from %s%s, batch %d) in %.1f s; final loss %.4f "
            "(kd %.4f ce %.4f cos %.4f mse %.4f att %.4f); teacher %s (%lld params), student %lld params",
            (long long)r.steps, (long long)epochs, epochs == 1 ? "" : "s", train.n, labelled ? "labelled" : "unlabelled",
            train.n == 1 ? "" : "s", data[0] ? "" : "the calibration file ", from, o.batch, r.seconds, r.loss, r.kd, r.ce,
            r.cos, r.mse, r.att, tpath[0] ? tpath : "the input model", (long long)sk_model_params(teacher, NULL),
            (long long)sk_model_params(m, NULL));
done:
    sk_dataset_free(&train);
    sk_model_free(loaded);
    return st;
}

static const struct sk_param distill_params[] = {
    {"epochs", SK_PARAM_INT, "3", "passes over the training data", NULL, 1, 1000},
    {"batch", SK_PARAM_INT, "16", "examples per step", NULL, 1, 4096},
    {"lr", SK_PARAM_FLOAT, "5e-5", "peak learning rate (AdamW)", NULL, 1e-9, 1},
    {"wd", SK_PARAM_FLOAT, "0.01", "decoupled weight decay (matrices only)", NULL, 0, 1},
    {"clip", SK_PARAM_FLOAT, "1", "global gradient-norm clipping (0 = none)", NULL, 0, 1e6},
    {"warmup", SK_PARAM_FLOAT, "0.1", "linear warm-up, a fraction of all steps in [0, 1)", NULL, 0, 1},
    {"schedule", SK_PARAM_STRING, "linear", "learning-rate decay after the warm-up", "linear|cosine|constant", 0, 0},
    {"temperature", SK_PARAM_FLOAT, "2", "softmax temperature of the KD loss", NULL, 0.01, 100},
    {"alpha_kd", SK_PARAM_FLOAT, "0.5", "weight of KL(teacher/T || student/T)·T²", NULL, 0, 1000},
    {"alpha_ce", SK_PARAM_FLOAT, "0.5", "weight of the cross-entropy with labels / next tokens (labelled data only "
     "for a classifier)", NULL, 0, 1000},
    {"alpha_cos", SK_PARAM_FLOAT, "0", "weight of 1 − cos of the last hidden states", NULL, 0, 1000},
    {"alpha_mse", SK_PARAM_FLOAT, "0", "weight of the MSE of the last hidden states", NULL, 0, 1000},
    {"alpha_att", SK_PARAM_FLOAT, "0", "weight of TinyBERT's attention-score MSE (needs equal head counts)", NULL, 0, 1000},
    {"seed", SK_PARAM_INT, "42", "data order: one seed and one thread give the same bits", NULL, 0, 9.0e15},
    {"max_len", SK_PARAM_INT, "0", "tokens per example of 'data' (0 = as shrink distill: the tokenizer's "
     "model_max_length, else 128; LM windows 64)", NULL, 0, 1 << 20},
    {"data", SK_PARAM_STRING, "", "JSONL {\"text\", \"label\"} (a line without a label is KD only) or raw text (LM); "
     "\"\" = the pipeline's calibration samples, unlabelled", NULL, 0, 0},
    {"teacher", SK_PARAM_STRING, "", "a model file; \"\" = the model the pipeline was given, before any pass", NULL, 0, 0},
    {NULL, 0, NULL, NULL, NULL, 0, 0},
};

const struct sk_pass sk_pass_distill = {
    .api_version = SK_PASS_API_VERSION,
    .name = "distill",
    .summary = "knowledge distillation: train the model so far against the input model (or a teacher file)",
    .params = distill_params,
    .run = distill_run,
    .wants_input = distill_wants_input,
};
