/* distill.c — the distillation loop: data sets, batches, teacher targets,
 * the student's losses and steps, validation, checkpoints.
 *
 * The teacher runs in a runtime session (it is never differentiated).  A
 * classifier's logits are computed once for every example before training
 * (in index order, so every run — resumed or not — sees the same bits) when
 * no hidden-state loss needs its activations; otherwise the teacher runs on
 * each batch.  Its last hidden state, when a loss
 * needs it, is copied out by a session observer.  Nothing here prints except
 * through o->log and the progress bar; nothing exits.
 */
#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "train/distill.h"
#include "text/text.h"

void sk_distill_opts_default(sk_distill_opts *o)
{
    memset(o, 0, sizeof *o);
    o->epochs = 3;
    o->batch = 16;
    o->lr = 5e-5f;
    o->wd = 0.01f;
    o->clip = 1.0f;
    o->warmup = 0.1f;
    o->sched = SK_SCHED_LINEAR;
    o->temperature = 2.0f;
    o->alpha_kd = 0.5f;
    o->alpha_ce = 0.5f;
    o->seed = 42;
}

/* ---- data ---- */
static bool is_lm(const sk_model *m) { return m->arch.family == SK_FAM_GPT2; }

sk_status sk_dataset_add(sk_dataset *d, const int32_t *ids, int len, int32_t label, bool labelled)
{
    if ((d->n & (d->n - 1)) == 0) {   /* n is 0 or a power of two: room for 2·max(n, 8) */
        size_t cap = 2 * (size_t)(d->n > 8 ? d->n : 8);
        int32_t **a = sk_realloc(d->ids, cap * sizeof *a);
        if (!a) return SK_ERR_NOMEM;
        d->ids = a;
        int *l = sk_realloc(d->len, cap * sizeof *l);
        if (!l) return SK_ERR_NOMEM;
        d->len = l;
        if (labelled) {
            int32_t *y = sk_realloc(d->labels, cap * sizeof *y);
            if (!y) return SK_ERR_NOMEM;
            d->labels = y;
        }
    }
    int32_t *c = sk_malloc((size_t)(len ? len : 1) * sizeof *c);
    if (!c) return SK_ERR_NOMEM;
    memcpy(c, ids, (size_t)len * sizeof *c);
    d->ids[d->n] = c;
    d->len[d->n] = len;
    if (labelled) d->labels[d->n] = label;
    d->n++;
    d->tokens += len;
    return SK_OK;
}

void sk_dataset_free(sk_dataset *d)
{
    for (int i = 0; i < d->n; i++) sk_free(d->ids[i]);
    sk_free(d->ids);
    sk_free(d->len);
    sk_free(d->labels);
    memset(d, 0, sizeof *d);
}

sk_status sk_dataset_load(const sk_model *teacher, const char *path, int max_len, sk_dataset *d)
{
    memset(d, 0, sizeof *d);
    bool lm = is_lm(teacher);
    if (!lm && strcmp(teacher->arch.task, "seq-classification"))
        return sk_err(SK_ERR_UNSUPPORTED, "distill: teacher task '%s' (expected a BERT classifier or a GPT-2 LM)",
                      teacher->arch.task);
    int mp = teacher->arch.max_pos > 0 ? teacher->arch.max_pos : 512;
    bool dflt = max_len <= 0 || max_len > mp;
    if (dflt) max_len = lm ? (mp < 64 ? mp : 64) : (mp < 128 ? mp : 128);
    char *text;
    size_t len;
    sk_status st = sk_read_file(path, &text, &len);
    if (st) return st;
    sk_tokenizer *tok = NULL;
    int32_t *ids = NULL;
    int n = 0;
    if (!sk_model_has_tokenizer(teacher)) {
        st = sk_err(SK_ERR_INVALID, "%s: the teacher has no tokenizer to encode it with", path);
        goto done;
    }
    if ((st = sk_model_tokenizer(teacher, &tok))) goto done;
    if (dflt && !lm && sk_model_max_len(teacher, tok) > 0) max_len = sk_model_max_len(teacher, tok);   /* as shrink eval */
    if (lm) {
        if ((st = sk_tok_encode(tok, text, false, 0, &ids, &n))) goto done;
        for (int at = 0; at + 2 <= n; at += max_len) {
            int w = n - at < max_len ? n - at : max_len;
            if ((st = sk_dataset_add(d, ids + at, w, 0, false))) goto done;
        }
    } else {
        long lineno = 0;
        for (char *line = text, *next; line && *line; line = next) {
            next = strchr(line, '\n');
            if (next) *next++ = 0;
            lineno++;
            if (strspn(line, " \t\r") == strlen(line)) continue;
            cJSON *j = cJSON_Parse(line);
            cJSON *lab = j ? cJSON_GetObjectItemCaseSensitive(j, "label") : NULL;
            cJSON *txt = j ? cJSON_GetObjectItemCaseSensitive(j, "text") : NULL;
            if ((lab && !cJSON_IsNumber(lab)) || !cJSON_IsString(txt)) {
                cJSON_Delete(j);
                st = sk_err(SK_ERR_FORMAT, "%s: line %ld: expected {\"text\": string, \"label\": integer} (the label "
                            "may be left out: KD only)", path, lineno);
                goto done;
            }
            int label = lab ? lab->valueint : -1;   /* unlabelled: the teacher's targets only */
            if (lab && (label < 0 || label >= teacher->arch.n_labels || lab->valuedouble != (double)label)) {
                cJSON_Delete(j);
                st = sk_err(SK_ERR_INVALID, "%s: line %ld: label %g outside the teacher's %d classes", path, lineno,
                            lab->valuedouble, teacher->arch.n_labels);
                goto done;
            }
            sk_free(ids);
            ids = NULL;
            st = sk_tok_encode(tok, txt->valuestring, true, max_len, &ids, &n);
            cJSON_Delete(j);
            if (st || (st = sk_dataset_add(d, ids, n, label, true))) goto done;
        }
    }
    if (d->n == 0) st = sk_err(SK_ERR_INVALID, "%s: no examples%s", path, lm ? " (fewer than 2 tokens)" : "");
done:
    sk_free(ids);
    sk_tok_free(tok);
    sk_free(text);
    if (st) sk_dataset_free(d);
    return st;
}

/* ---- batches ---- */
typedef struct batch {
    int B, S;
    int64_t *ids, *mask;     /* [B, S] */
    int32_t *labels;         /* [B] */
    const int *idx;          /* example index of each row */
    int64_t tokens;          /* unpadded */
} batch;

static sk_status make_batch(const sk_dataset *d, const int *idx, int B, batch *b, size_t *cap)
{
    int S = 1;
    for (int i = 0; i < B; i++) if (d->len[idx[i]] > S) S = d->len[idx[i]];
    size_t need = (size_t)B * (size_t)S;
    if (need > *cap) {
        int64_t *p = sk_realloc(b->ids, need * sizeof *p), *q = p ? sk_realloc(b->mask, need * sizeof *q) : NULL;
        if (p) b->ids = p;
        if (!q) return SK_ERR_NOMEM;
        b->mask = q;
        *cap = need;
    }
    b->B = B;
    b->S = S;
    b->idx = idx;
    b->tokens = 0;
    for (int i = 0; i < B; i++) {
        const int32_t *x = d->ids[idx[i]];
        int l = d->len[idx[i]];
        for (int p = 0; p < S; p++) {
            b->ids[i * S + p] = p < l ? x[p] : 0;
            b->mask[i * S + p] = p < l;
        }
        b->tokens += l;
        if (d->labels) b->labels[i] = d->labels[idx[i]];
    }
    return SK_OK;
}

/* The permutation of epoch e: a Fisher-Yates shuffle seeded by (seed, e) only. */
static void epoch_order(int *perm, int n, uint64_t seed, int64_t e)
{
    sk_rng r = {seed * 0x9e3779b97f4a7c15ull + (uint64_t)e * 0xd1b54a32d192ed03ull + 1};
    for (int i = 0; i < n; i++) perm[i] = i;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)(sk_rng_next(&r) % (uint64_t)(i + 1));
        int t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}

/* ---- the teacher ---- */
/* A tensor of the teacher's that a loss needs, copied out by the session
 * observer when node runs: its output 0 (which = -1) or input `which`. */
typedef struct { int node, which; float *buf; size_t cap; int64_t n; } grab;
typedef struct { grab *g; int n; sk_status st; } grabs;

static void capture(void *ctx, int node, const sk_kctx *k)
{
    grabs *gs = ctx;
    for (int i = 0; i < gs->n; i++) {
        grab *h = &gs->g[i];
        if (node != h->node) continue;
        const sk_rtensor *x = h->which < 0 ? k->out[0] : k->in[h->which];
        int64_t n = sk_rt_numel(x);
        if ((size_t)n > h->cap) {
            float *p = sk_realloc(h->buf, (size_t)n * sizeof *p);
            if (!p) { gs->st = SK_ERR_NOMEM; return; }
            h->buf = p;
            h->cap = (size_t)n;
        }
        memcpy(h->buf, x->data, (size_t)n * sizeof(float));
        h->n = n;
    }
}

/* The ATTENTION nodes of m in order (at most max); returns their count. */
static int attention_nodes(const sk_model *m, int *out, int max)
{
    int n = 0;
    for (int i = 0; i < m->g.n_nodes; i++)
        if (m->g.nodes[i].op == SK_OP_ATTENTION) {
            if (n < max) out[n] = i;
            n++;
        }
    return n;
}

/* TinyBERT's layer map for the attention loss: student layer i ↔ teacher
 * layer (i + 1)·L_t/L_s − 1 (the last to the last; layer 0 when the student
 * is deeper).  Fills snode / tnode (n entries each, the caller's); errors
 * when either has no attention or the head counts differ. */
static sk_status att_map(const sk_model *t, const sk_model *s, int **snode, int **tnode, int *n)
{
    int ns = attention_nodes(s, NULL, 0), nt = attention_nodes(t, NULL, 0);
    if (!ns || !nt)
        return sk_err(SK_ERR_INVALID, "distill: the attention loss needs attention layers in teacher and student "
                      "(the %s has none)", nt ? "student" : "teacher");
    int *all = sk_malloc((size_t)nt * sizeof *all);
    *snode = sk_malloc((size_t)ns * sizeof **snode);
    *tnode = sk_malloc((size_t)ns * sizeof **tnode);
    if (!all || !*snode || !*tnode) { sk_free(all); return SK_ERR_NOMEM; }
    attention_nodes(s, *snode, ns);
    attention_nodes(t, all, nt);
    sk_status st = SK_OK;
    for (int i = 0; i < ns && !st; i++) {
        int j = (int)((int64_t)(i + 1) * nt / ns) - 1;
        if (j < 0) j = 0;
        (*tnode)[i] = all[j];
        int64_t hs = sk_node_attr_i(&s->g.nodes[(*snode)[i]], "num_heads", 0);
        int64_t ht = sk_node_attr_i(&t->g.nodes[all[j]], "num_heads", 0);
        if (hs != ht)
            st = sk_err(SK_ERR_INVALID, "distill: the attention loss compares head by head: student layer %d has %lld "
                        "heads, teacher layer %d has %lld", i, (long long)hs, j, (long long)ht);
    }
    sk_free(all);
    *n = ns;
    return st;
}

static float att_scale(const sk_node *nd, int64_t H)
{
    float sc = sk_node_attr_f(nd, "scale", 0.0f);
    int64_t heads = sk_node_attr_i(nd, "num_heads", 1);
    return sc != 0.0f ? sc : (float)(1.0 / sqrt((double)(H / heads)));
}

/* Σ over the mapped layers of weight/n · sk_loss_att (seeding the student's
 * q and k gradients); *mean gets the mean loss over the layers */
static sk_status att_losses(sk_train *t, const sk_model *s, const sk_model *tm, const int *snode, const int *tnode,
                            const grab *tg, int n, const batch *b, float weight, double *mean)
{
    double sum = 0;
    int64_t rows = (int64_t)b->B * b->S;
    for (int l = 0; l < n; l++) {
        const sk_node *sn = &s->g.nodes[snode[l]], *tn = &tm->g.nodes[tnode[l]];
        const sk_rtensor *q = sk_train_value(t, sn->in[0]), *k = sk_train_value(t, sn->in[1]);
        int64_t H = q->dims[q->rank - 1], Ht = rows ? tg[2 * l].n / rows : 0;
        if (!Ht || tg[2 * l].n != rows * Ht || tg[2 * l + 1].n != rows * Ht)
            return sk_err(SK_ERR_INVALID, "distill: teacher attention inputs of layer %d missing", l);
        sk_att_qk sq = {q->data, k->data, H, att_scale(sn, H)}, tq = {tg[2 * l].buf, tg[2 * l + 1].buf, Ht, att_scale(tn, Ht)};
        sum += sk_loss_att(&sq, &tq, b->mask, b->B, b->S, sk_node_attr_i(sn, "num_heads", 1),
                           sk_node_attr_i(sn, "causal", 0) != 0, weight / (float)n, sk_train_grad_of(t, sn->in[0]),
                           sk_train_grad_of(t, sn->in[1]));
    }
    *mean = sum / n;
    return SK_OK;
}

static sk_status run_batch(sk_session *s, const batch *b)
{
    int64_t dims[2] = {b->B, b->S};
    sk_status st = sk_session_set_input(s, "input_ids", SK_DT_I64, 2, dims, b->ids);
    if (!st) st = sk_session_set_input(s, "attention_mask", SK_DT_I64, 2, dims, b->mask);
    if (!st) st = sk_session_run(s);
    return st;
}

sk_status sk_distill_eval(const sk_model *m, const sk_dataset *d, int bsz, int threads, double *value)
{
    sk_session_opts so = {.threads = threads};
    sk_session *s;
    sk_status st = sk_session_new(m, &so, &s);
    if (st) return st;
    int *idx = sk_malloc((size_t)d->n * sizeof *idx);
    batch b = {0};
    b.labels = sk_malloc((size_t)(bsz > 0 ? bsz : 1) * sizeof *b.labels);
    size_t cap = 0;
    if (!idx || !b.labels) { st = SK_ERR_NOMEM; goto done; }
    for (int i = 0; i < d->n; i++) idx[i] = i;
    double correct = 0, nll = 0;
    int64_t scored = 0;
    for (int at = 0; at < d->n && !st; at += bsz) {
        int B = d->n - at < bsz ? d->n - at : bsz;
        if ((st = make_batch(d, idx + at, B, &b, &cap)) || (st = run_batch(s, &b))) break;
        const sk_rtensor *y = sk_session_output(s, 0);
        int64_t C = y->dims[y->rank - 1];
        const float *v = y->data;
        if (d->labels) {
            for (int i = 0; i < B; i++) {
                int64_t best = 0;
                for (int64_t c = 1; c < C; c++) if (v[i * C + c] > v[i * C + best]) best = c;
                correct += best == b.labels[i];
            }
        } else {
            int64_t n;
            double l = sk_loss_lm(v, b.ids, b.mask, B, b.S, C, 0, NULL, &n);
            nll += l * (double)n;
            scored += n;
        }
    }
    if (!st) *value = d->labels ? correct / d->n : exp(nll / (double)(scored ? scored : 1));
done:
    sk_free(idx);
    sk_free(b.ids);
    sk_free(b.mask);
    sk_free(b.labels);
    sk_session_free(s);
    return st;
}

/* ---- checks before training ---- */
static sk_status check_pair(const sk_model *t, const sk_model *s, const sk_dataset *train, const sk_dataset *val,
                            const sk_distill_opts *o)
{
    for (int i = 0; val && val->labels && i < val->n; i++)
        if (val->labels[i] < 0) return sk_err(SK_ERR_INVALID, "distill: validation example %d has no label", i + 1);
    bool small = s->arch.family == SK_FAM_MLP || s->arch.family == SK_FAM_RNN || s->arch.family == SK_FAM_CNN;
    if ((t->arch.family != s->arch.family && (is_lm(t) || !small)) || strcmp(t->arch.task, s->arch.task))
        return sk_err(SK_ERR_INVALID, "distill: teacher is %s %s, student %s %s", sk_family_name(t->arch.family),
                      t->arch.task, sk_family_name(s->arch.family), s->arch.task);
    if (t->arch.vocab != s->arch.vocab)
        return sk_err(SK_ERR_INVALID, "distill: vocabularies differ: teacher %d tokens, student %d", t->arch.vocab,
                      s->arch.vocab);
    if (!is_lm(t) && t->arch.n_labels != s->arch.n_labels)
        return sk_err(SK_ERR_INVALID, "distill: teacher has %d classes, student %d", t->arch.n_labels, s->arch.n_labels);
    if (!train || train->n == 0) return sk_err(SK_ERR_INVALID, "distill: the training set is empty");
    if (!is_lm(t) && !train->labels) return sk_err(SK_ERR_INVALID, "distill: training examples have no labels");
    for (int i = 0; !is_lm(t) && i < train->n; i++)
        if (train->labels[i] < -1 || train->labels[i] >= t->arch.n_labels)
            return sk_err(SK_ERR_INVALID, "distill: example %d: label %d outside the %d classes", i, train->labels[i],
                          t->arch.n_labels);
    for (int i = 0; i < train->n; i++) {
        if (train->len[i] > s->arch.max_pos || train->len[i] > t->arch.max_pos)
            return sk_err(SK_ERR_INVALID, "distill: example %d has %d tokens, more than the models' positions", i,
                          train->len[i]);
        for (int p = 0; p < train->len[i]; p++)
            if (train->ids[i][p] < 0 || train->ids[i][p] >= s->arch.vocab)
                return sk_err(SK_ERR_INVALID, "distill: example %d: token id %d outside the vocabulary", i,
                              train->ids[i][p]);
    }
    if (o->epochs < 1 || o->batch < 1 || !(o->lr > 0) || !(o->temperature > 0))
        return sk_err(SK_ERR_INVALID, "distill: epochs, batch, lr and temperature must be positive");
    if (o->alpha_kd < 0 || o->alpha_ce < 0 || o->alpha_cos < 0 || o->alpha_mse < 0 || o->alpha_att < 0 ||
        o->alpha_kd + o->alpha_ce + o->alpha_cos + o->alpha_mse + o->alpha_att <= 0)
        return sk_err(SK_ERR_INVALID, "distill: loss weights must be ≥ 0 and not all 0");
    if (o->alpha_cos > 0 && t->arch.hidden != s->arch.hidden)
        return sk_err(SK_ERR_INVALID, "distill: the cosine loss needs equal widths (teacher %d, student %d); use the "
                      "hidden-state MSE, which learns a projection", t->arch.hidden, s->arch.hidden);
    return SK_OK;
}

/* ---- the loop ---- */
typedef struct {
    double loss, kd, ce, cos, mse, att;
    int64_t n;
} sums;

sk_status sk_distill(const sk_model *teacher, sk_model *student, const sk_dataset *train, const sk_dataset *val,
                     const sk_distill_opts *o, sk_distill_result *r)
{
    memset(r, 0, sizeof *r);
    r->val = r->teacher_val = -1;
    const bool lm = is_lm(teacher);
    r->metric = lm ? "perplexity" : "accuracy";
    sk_status st = check_pair(teacher, student, train, val, o);
    if (st) return st;
    const bool need_hid = o->alpha_cos > 0 || o->alpha_mse > 0;
    const int64_t Hs = student->arch.hidden, Ht = teacher->arch.hidden;
    const bool proj = o->alpha_mse > 0 && Hs != Ht;
    int t_hnode = need_hid ? sk_student_hidden_node(teacher) : -1, s_hnode = need_hid ? sk_student_hidden_node(student) : -1;
    if (need_hid && (t_hnode < 0 || s_hnode < 0))
        return sk_err(SK_ERR_UNSUPPORTED, "distill: cannot find the last hidden state of the %s", t_hnode < 0 ? "teacher" : "student");
    const bool need_att = o->alpha_att > 0;

    sk_train *t = NULL;
    sk_session *ts = NULL;
    sk_adamw opt = {0};
    int *perm = NULL;
    float *tcache = NULL;
    float *tl = NULL;
    batch b = {0};
    size_t bcap = 0;
    int *s_att = NULL, *t_att = NULL, n_att = 0;
    grabs tg = {0};
    sk_session_opts so = {.threads = o->threads};
    if (need_att && (st = att_map(teacher, student, &s_att, &t_att, &n_att))) goto done;
    /* the teacher's last hidden state (grab 0), then q and k of each mapped attention layer */
    if (!(tg.g = sk_calloc((size_t)(1 + 2 * n_att), sizeof *tg.g))) { st = SK_ERR_NOMEM; goto done; }
    tg.n = 1 + 2 * n_att;
    tg.g[0] = (grab){.node = t_hnode, .which = -1};
    for (int l = 0; l < n_att; l++) {
        tg.g[1 + 2 * l] = (grab){.node = t_att[l], .which = 0};
        tg.g[2 + 2 * l] = (grab){.node = t_att[l], .which = 1};
    }
    if ((st = sk_train_new(student, o->threads, proj ? (size_t)(Ht * Hs) : 0, &t))) goto done;
    size_t np;
    float *params = sk_train_params(t, &np);
    if ((st = sk_adamw_init(&opt, np, o->wd)) || (st = sk_session_new(teacher, &so, &ts))) goto done;
    if (proj) {
        sk_rng pr = {o->seed ^ 0x9a0bull};
        float *P = sk_train_extra(t);
        for (int64_t i = 0; i < Ht * Hs; i++) P[i] = 0.02f * sk_rng_normal(&pr);
    }
    if (need_hid || need_att) sk_session_set_observer(ts, capture, &tg);
    const int64_t C = lm ? teacher->arch.vocab : teacher->arch.n_labels;
    perm = sk_malloc((size_t)train->n * sizeof *perm);
    b.labels = sk_malloc((size_t)o->batch * sizeof *b.labels);
    if (!perm || !b.labels) { st = SK_ERR_NOMEM; goto done; }
    const bool cache = !lm && !need_hid && !need_att;
    if (cache) {
        tcache = sk_malloc((size_t)train->n * (size_t)C * sizeof *tcache);
        tl = sk_malloc((size_t)o->batch * (size_t)C * sizeof *tl);
        if (!tcache || !tl) { st = SK_ERR_NOMEM; goto done; }
        /* in index order, whatever the epoch or a resume: the same targets every run */
        for (int i = 0; i < train->n; i++) perm[i] = i;
        for (int at = 0; at < train->n; at += o->batch) {
            int B = train->n - at < o->batch ? train->n - at : o->batch;
            if ((st = make_batch(train, perm + at, B, &b, &bcap)) || (st = run_batch(ts, &b))) goto done;
            memcpy(tcache + (size_t)at * C, sk_session_output(ts, 0)->data, (size_t)B * (size_t)C * sizeof *tcache);
        }
    }
    const int64_t spe = (train->n + o->batch - 1) / o->batch, total = spe * o->epochs;
    const int64_t warm = (int64_t)(o->warmup * (float)total);
    r->total_steps = total;
    int64_t step = 0, e0 = 0, skip = 0;
    if (o->resume) {
        sk_ckpt_info ci;
        if ((st = sk_ckpt_load(o->resume, t, &opt, &ci))) goto done;
        if (ci.seed != o->seed) {
            st = sk_err(SK_ERR_INVALID, "%s: checkpoint was made with --seed %llu, this run has %llu", o->resume,
                        (unsigned long long)ci.seed, (unsigned long long)o->seed);
            goto done;
        }
        step = ci.step;
        e0 = ci.epoch;
        skip = ci.step_in_epoch;
    }
    if (val && (st = sk_distill_eval(teacher, val, o->batch, o->threads, &r->teacher_val))) goto done;
    int s_out = student->g.outputs[0];
    int s_hid = s_hnode >= 0 ? student->g.nodes[s_hnode].out[0] : -1;
    sk_progress pg;
    sk_progress_start(&pg, "distill", (long)total);
    pg.on = pg.on && o->progress;
    double t0 = sk_now();
    int64_t tokens = 0, steps_run = 0;
    for (int64_t e = e0; e < o->epochs; e++) {
        epoch_order(perm, train->n, o->seed, e);
        sums sm = {0};
        for (int64_t bi = (e == e0 ? skip : 0); bi < spe; bi++) {
            if ((o->stop && *o->stop) || (o->stop_after && step >= o->stop_after)) {
                r->interrupted = true;
                if (o->checkpoint) {
                    sk_ckpt_info ci = {step, e, bi, o->seed};
                    if ((st = sk_ckpt_save(o->checkpoint, t, &opt, &ci))) goto done;
                }
                goto out;
            }
            int from = (int)(bi * o->batch), B = train->n - from < o->batch ? train->n - from : o->batch;
            if ((st = make_batch(train, perm + from, B, &b, &bcap))) goto done;
            int64_t dims[2] = {B, b.S};
            /* teacher targets */
            const float *tlog;
            if (cache) {
                for (int i = 0; i < B; i++) memcpy(tl + i * C, tcache + (size_t)b.idx[i] * C, (size_t)C * sizeof *tl);
                tlog = tl;
            } else {
                if ((st = run_batch(ts, &b)) || (st = tg.st)) goto done;
                tlog = sk_session_output(ts, 0)->data;
            }
            /* student forward, losses, backward */
            sk_train_zero_grad(t);
            if ((st = sk_train_set_input(t, "input_ids", SK_DT_I64, 2, dims, b.ids)) ||
                (st = sk_train_set_input(t, "attention_mask", SK_DT_I64, 2, dims, b.mask)) || (st = sk_train_forward(t)))
                goto done;
            const float *slog = sk_train_value(t, s_out)->data;
            float *gl = sk_train_grad_of(t, s_out);
            double kd = 0, ce = 0, cs = 0, ms = 0, at = 0;
            if (lm) {
                int64_t valid = 0;
                for (int64_t i = 0; i < (int64_t)B * b.S; i++) valid += b.mask[i];
                for (int64_t i = 0; o->alpha_kd > 0 && i < (int64_t)B * b.S; i++)
                    if (b.mask[i])
                        kd += sk_loss_kd(slog + i * C, tlog + i * C, 1, C, o->temperature, o->alpha_kd / (float)valid,
                                         gl + i * C) / (double)valid;
                if (o->alpha_ce > 0) ce = sk_loss_lm(slog, b.ids, b.mask, B, b.S, C, o->alpha_ce, gl, NULL);
            } else {
                if (o->alpha_kd > 0) kd = sk_loss_kd(slog, tlog, B, C, o->temperature, o->alpha_kd, gl);
                if (o->alpha_ce > 0) ce = sk_loss_ce(slog, b.labels, B, C, o->alpha_ce, gl);
            }
            if (need_hid) {
                const float *sh = sk_train_value(t, s_hid)->data;
                float *gh = sk_train_grad_of(t, s_hid);
                const grab *hc = &tg.g[0];
                if (hc->n != (int64_t)B * b.S * Ht) { st = sk_err(SK_ERR_INVALID, "distill: teacher hidden state missing"); goto done; }
                if (o->alpha_cos > 0) cs = sk_loss_cos(sh, hc->buf, b.mask, (int64_t)B * b.S, Hs, o->alpha_cos, gh);
                if (o->alpha_mse > 0)
                    ms = sk_loss_mse(sh, hc->buf, b.mask, (int64_t)B * b.S, Hs, Ht, proj ? sk_train_extra(t) : NULL,
                                     o->alpha_mse, gh, proj ? sk_train_extra_grad(t) : NULL);
            }
            if (need_att && (st = att_losses(t, student, teacher, s_att, t_att, tg.g + 1, n_att, &b, o->alpha_att, &at)))
                goto done;
            double loss = o->alpha_kd * kd + o->alpha_ce * ce + o->alpha_cos * cs + o->alpha_mse * ms + o->alpha_att * at;
            if (!isfinite(loss)) {
                st = sk_err(SK_ERR_INVALID, "distill: loss became %g at step %lld (lower --lr?)", loss, (long long)step);
                goto done;
            }
            if ((st = sk_train_backward(t))) goto done;
            sk_grad_clip(sk_train_grads(t), np, o->clip);
            sk_adamw_step(&opt, params, sk_train_grads(t), sk_train_decay_mask(t),
                          sk_lr_at(o->sched, o->lr, step, total, warm));
            step++;
            steps_run++;
            tokens += b.tokens;
            sm.loss += loss; sm.kd += kd; sm.ce += ce; sm.cos += cs; sm.mse += ms; sm.att += at; sm.n++;
            if (o->on_step) o->on_step(o->ctx, step, loss);
            if (pg.on) {
                char extra[160];
                double el = sk_now() - t0;
                snprintf(extra, sizeof extra, "loss %.4f (kd %.3f ce %.3f cos %.3f mse %.3f att %.3f)  %.0f tok/s", loss,
                         kd, ce, cs, ms, at, el > 0 ? (double)tokens / el : 0.0);
                sk_progress_update(&pg, (long)step, extra);
            }
            if (o->checkpoint && o->checkpoint_every > 0 && step % o->checkpoint_every == 0) {
                sk_ckpt_info ci = {step, e, bi + 1, o->seed};
                if ((st = sk_ckpt_save(o->checkpoint, t, &opt, &ci))) goto done;
            }
        }
        if (sm.n) {
            r->loss = sm.loss / sm.n; r->kd = sm.kd / sm.n; r->ce = sm.ce / sm.n;
            r->cos = sm.cos / sm.n; r->mse = sm.mse / sm.n; r->att = sm.att / sm.n;
        }
        if (val && (st = sk_distill_eval(student, val, o->batch, o->threads, &r->val))) goto done;
        if (o->log) {
            sk_progress_end(&pg);
            fprintf(o->log, "epoch %lld/%d: loss %.4f (kd %.4f ce %.4f cos %.4f mse %.4f att %.4f)", (long long)e + 1,
                    o->epochs, r->loss, r->kd, r->ce, r->cos, r->mse, r->att);
            if (val) fprintf(o->log, "  val %s %.4f (teacher %.4f)", r->metric, r->val, r->teacher_val);
            fprintf(o->log, "\n");
            fflush(o->log);
        }
    }
out:
    sk_progress_end(&pg);
    r->steps = step;
    r->seconds = sk_now() - t0;
    if (r->seconds > 0) {
        r->tokens_per_s = (double)tokens / r->seconds;
        r->steps_per_s = (double)steps_run / r->seconds;
    }
done:
    sk_free(perm);
    sk_free(tcache);
    sk_free(tl);
    sk_free(b.ids);
    sk_free(b.mask);
    sk_free(b.labels);
    for (int i = 0; i < tg.n; i++) sk_free(tg.g[i].buf);
    sk_free(tg.g);
    sk_free(s_att);
    sk_free(t_att);
    sk_session_free(ts);
    sk_adamw_free(&opt);
    sk_train_free(t);   /* the student owns its trained weights again */
    return st;
}
