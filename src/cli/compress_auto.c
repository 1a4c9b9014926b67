/* compress_auto.c — `shrink compress MODEL --auto --max-drop X ...`: search
 * the precision of every linear layer for the smallest (or fastest) model
 * that meets the accuracy goal, within a time budget.
 *
 * Units and levels.  A unit is a linear layer the quantize pass can take
 * (passes/quant.c, sk_qlayers_find after fuse), the head (the layer writing
 * the output), and, when the pass has the "embed" option, the embedding
 * tables as one unit.  A configuration gives each unit a level on the ladder
 * int4 g128 → int4 g32 → int8 → fp32 (the head and the tables start at
 * int8; a layer whose K no group divides starts higher), written as one
 * quantize step: base bits 4 group 128, "layers" overrides for g32 / int8,
 * "exclude" for fp32, "head" and "embed" for those two.
 *
 * The search, phase by phase, each trial logged:
 *   reference   plain int8 (the quantize pass's defaults at bits 8), for
 *               comparison: the search looks for something smaller;
 *   aggressive  every unit at its lowest level; when it meets the goal the
 *               search is done (nothing is smaller);
 *   sensitivity per linear layer, quantize only that layer (the rest fp32)
 *               and measure the KL divergence of the output distribution
 *               from the fp32 model's on the calibration samples (or DATA's
 *               inputs without --calib); for the head and the tables, leave
 *               one out of the aggressive configuration instead (KL with it
 *               minus KL without it), and when quantizing one of them saves
 *               no bytes (a tied LM head copied) it stays fp32;
 *   single      the three most sensitive units one level up, one at a time;
 *   cumulative  rounds to g32, to int8, then to fp32: the k most sensitive
 *               units raised, k = 1, 2, 4, ... until the goal is met, then
 *               bisected to the smallest k (assuming more precision does not
 *               hurt); the search ends with the first round that meets it.
 * Every trial is measured like the gate measures: bytes of constants first
 * (with objective size, a configuration no smaller than the best found so
 * far is skipped, and so is the rest of its round), then, on large eval
 * sets, the metric on the first quarter (a trial whose loss there exceeds
 * twice the goal plus one example is dropped), then the whole set, and the
 * benchmark when latency matters.  Trials with the same parameters are
 * measured once.
 *
 * The best configuration meeting every budget (by bytes, or by p50) is built
 * again from MODEL, measured in full, written to OUT with OUT.recipe.json and
 * the reports (the search log under "search").  When none meets the goal the
 * one with the smallest loss is written all the same, and the exit is 3.
 */
#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"
#include "cli/compress.h"
#include "eval/calib.h"
#include "formats.h"
#include "runtime/runtime.h"
#include "util/util.h"
#include "../../passes/quant.h"

enum { L_G128, L_G32, L_INT8, L_FP32, N_LEVELS };
static const char *const level_names[N_LEVELS] = {"int4 g128", "int4 g32", "int8", "fp32"};
enum { U_LINEAR, U_HEAD, U_EMBED };
static const char *const kind_names[] = {"linear", "head", "embeddings"};

#define N_SINGLE 3               /* units tried one level up alone */
#define SENS_TEXTS 32            /* sensitivity samples: texts / inputs */
#define SENS_WINDOWS 8           /*                      LM windows */

typedef struct unit {
    char *name;                  /* node name ("embedding tables" for U_EMBED) */
    char *pat;                   /* a glob matching only this node's name */
    int kind, lo;                /* lo: its most aggressive level */
    bool fixed;                  /* kept fp32: quantizing it saves no bytes */
    double kl, saved;            /* sensitivity; bytes saved by quantizing it */
} unit;

typedef struct trial {
    int id;
    double bytes, value, loss, p50, kl, seconds;
    bool measured;               /* the eval step ran (evaluated, screened out or skipped) */
    bool evaluated, met;         /* on the whole eval set; and every budget held */
    bool skipped;                /* not evaluated for its size: over max_size, or not smaller than the best */
} trial;

typedef struct search {
    const compress_auto_opts *o;
    sk_eval_opts eo, eo_sub;
    sk_bench_opts bo;
    measure base;
    double base_sub, screen_thr, fp32_bytes;
    bool screen, has_embed;
    const char *unit_txt;        /* "pt" or "%" */
    unit *u;
    int n;
    int *rank;                   /* units by sensitivity, most sensitive first */
    sk_calib *cal;
    float *ref;                  /* fp32 output of the fused model on cal, in run order */
    size_t n_ref;
    cJSON *trials, *cache;       /* log; params text -> trial id */
    trial *t;
    int n_t, cap_t, cap_p;
    double t0, slowest;
    int best, closest, int8_ref; /* trial ids (-1 none): best meeting the goal, smallest loss, plain int8 */
    char **params;               /* params text per trial */
    const char *stopped;         /* why the search ended */
} search;

static double elapsed(const search *s) { return sk_now() - s->t0; }

static bool out_of_time(search *s)
{
    if (elapsed(s) + s->slowest <= s->o->budget_s) return false;
    if (!s->stopped) s->stopped = "time budget reached";
    return true;
}

/* ---- configurations as quantize parameters ---- */

static char *glob_escape(const char *name)
{
    size_t n = strlen(name);
    char *p = sk_malloc(2 * n + 1), *q = p;
    if (!p) return NULL;
    for (const char *c = name; *c; c++) {
        if (strchr("*?[]\\", *c)) *q++ = '\\';
        *q++ = *c;
    }
    *q = 0;
    return p;
}

static void add_common(const search *s, cJSON *p)
{
    cJSON_AddNumberToObject(p, "bits", 4);
    cJSON_AddNumberToObject(p, "group", 128);
    cJSON_AddStringToObject(p, "method", s->o->method);
}

/* The quantize parameters of levels lv (one per unit); text to free(). */
static char *config_params(const search *s, const int *lv)
{
    cJSON *p = cJSON_CreateObject(), *layers = cJSON_CreateObject(), *excl = cJSON_CreateArray();
    add_common(s, p);
    for (int i = 0; i < s->n; i++) {
        const unit *u = &s->u[i];
        int l = u->fixed ? L_FP32 : lv[i];
        if (u->kind == U_HEAD) cJSON_AddStringToObject(p, "head", l == L_FP32 ? "fp32" : "int8");
        else if (u->kind == U_EMBED) cJSON_AddStringToObject(p, "embed", l == L_FP32 ? "fp32" : "int8");
        else if (l == L_FP32) cJSON_AddItemToArray(excl, cJSON_CreateString(u->pat));
        else if (l == L_G32) cJSON_AddItemToObject(cJSON_AddObjectToObject(layers, u->pat), "group", cJSON_CreateNumber(32));
        else if (l == L_INT8) cJSON_AddItemToObject(cJSON_AddObjectToObject(layers, u->pat), "bits", cJSON_CreateNumber(8));
    }
    if (cJSON_GetArraySize(layers)) cJSON_AddItemToObject(p, "layers", layers);
    else cJSON_Delete(layers);
    if (cJSON_GetArraySize(excl)) cJSON_AddItemToObject(p, "exclude", excl);
    else cJSON_Delete(excl);
    char *t = cJSON_PrintUnformatted(p);
    cJSON_Delete(p);
    return t;
}

/* Only unit i at its lowest level, every other layer fp32. */
static char *single_params(const search *s, int i)
{
    cJSON *p = cJSON_CreateObject();
    add_common(s, p);
    if (s->u[i].lo == L_INT8) cJSON_ReplaceItemInObject(p, "bits", cJSON_CreateNumber(8));
    if (s->u[i].lo == L_G32) cJSON_ReplaceItemInObject(p, "group", cJSON_CreateNumber(32));
    cJSON *inc = cJSON_AddArrayToObject(p, "include");
    cJSON_AddItemToArray(inc, cJSON_CreateString(s->u[i].pat));
    if (s->has_embed) cJSON_AddStringToObject(p, "embed", "fp32");
    char *t = cJSON_PrintUnformatted(p);
    cJSON_Delete(p);
    return t;
}

/* "20 int4 g128, 3 int8, 1 fp32; head int8; tables int8" */
static void describe(const search *s, const int *lv, char *buf, size_t cap)
{
    int cnt[N_LEVELS] = {0};
    const char *head = NULL, *emb = NULL;
    for (int i = 0; i < s->n; i++) {
        int l = s->u[i].fixed ? L_FP32 : lv[i];
        if (s->u[i].kind == U_HEAD) head = level_names[l];
        else if (s->u[i].kind == U_EMBED) emb = level_names[l];
        else cnt[l]++;
    }
    size_t k = 0;
    for (int l = 0; l < N_LEVELS; l++)
        if (cnt[l] && k < cap) k += (size_t)snprintf(buf + k, cap - k, "%s%d %s", k ? ", " : "", cnt[l], level_names[l]);
    if (head && k < cap) k += (size_t)snprintf(buf + k, cap - k, "; head %s", head);
    if (emb && k < cap) snprintf(buf + k, cap - k, "; tables %s", emb);
}

/* ---- the KL divergence of the output from the fp32 model's ---- */

typedef struct klctx {
    int node;                    /* the node writing graph output 0 */
    bool record;
    float *ref;
    size_t n, cap, pos;
    double sum;
    long rows;
    bool bad;
} klctx;

static double kl_row(const float *p, const float *q, int64_t V)   /* KL(softmax p || softmax q), logits */
{
    double mp = p[0], mq = q[0], zp = 0, zq = 0, kl = 0;
    for (int64_t i = 1; i < V; i++) { mp = fmax(mp, p[i]); mq = fmax(mq, q[i]); }
    for (int64_t i = 0; i < V; i++) { zp += exp(p[i] - mp); zq += exp(q[i] - mq); }
    double lp0 = mp + log(zp), lq0 = mq + log(zq);
    for (int64_t i = 0; i < V; i++) {
        double lp = p[i] - lp0, lq = q[i] - lq0;
        kl += exp(lp) * (lp - lq);
    }
    return kl > 0 ? kl : 0;
}

static void kl_observe(void *ctx, int node, const sk_kctx *k)
{
    klctx *c = ctx;
    if (node != c->node || c->bad || k->n_out < 1 || !k->out[0] || k->out[0]->dtype != SK_DT_F32) return;
    const sk_rtensor *t = k->out[0];
    int64_t n = sk_rt_numel(t), V = t->rank ? t->dims[t->rank - 1] : 1;
    const float *x = t->data;
    if (n <= 0 || V <= 0) return;
    if (c->record) {
        if (c->n + (size_t)n > c->cap) {
            size_t cap = (c->n + (size_t)n) * 2;
            float *r = sk_realloc(c->ref, cap * sizeof *r);
            if (!r) { c->bad = true; return; }
            c->ref = r;
            c->cap = cap;
        }
        memcpy(c->ref + c->n, x, (size_t)n * sizeof *x);
        c->n += (size_t)n;
        return;
    }
    if (c->pos + (size_t)n > c->n) { c->bad = true; return; }
    for (int64_t r = 0; r < n / V; r++) c->sum += kl_row(c->ref + c->pos + r * V, x + r * V, V);
    c->rows += n / V;
    c->pos += (size_t)n;
}

static int output_node(const sk_model *m)
{
    if (m->g.n_outputs < 1) return -1;
    for (int i = m->g.n_nodes - 1; i >= 0; i--)
        for (int k = 0; k < m->g.nodes[i].n_out; k++)
            if (m->g.nodes[i].out[k] == m->g.outputs[0]) return i;
    return -1;
}

/* KL of m's output against the reference, mean over output rows (positions or examples). */
static sk_status kl_of(search *s, const sk_model *m, double *kl)
{
    klctx c = {.node = output_node(m), .ref = s->ref, .n = s->n_ref};
    sk_status st = sk_calib_run(m, s->cal, s->o->threads, -1, kl_observe, &c);
    if (!st && (c.bad || c.pos != c.n || !c.rows)) st = sk_err(SK_ERR_INVALID, "auto: the output does not line up with the fp32 reference");
    *kl = st ? NAN : c.sum / (double)c.rows;
    return st;
}

/* ---- a trial ---- */

static sk_status build(const search *s, const char *params, sk_model **out)
{
    sk_model *m = NULL;
    sk_status st = cli_load_model(s->o->model, &m);
    sk_pipe_step steps[2] = {{"fuse", NULL}, {"quantize", params}};
    sk_passmgr_opts po = {.calib_path = s->o->calib, .threads = s->o->threads, .quiet = true};
    if (!st) st = sk_passmgr_run(m, steps, params ? 2 : 1, &po, NULL);
    if (st) { sk_model_free(m); m = NULL; }
    *out = m;
    return st;
}

static bool better(const search *s, const trial *a, const trial *b)   /* a better than b by the objective */
{
    if (s->o->latency && a->p50 != b->p50) return a->p50 < b->p50;
    if (a->bytes != b->bytes) return a->bytes < b->bytes;
    return a->loss < b->loss;
}

/* Measure the configuration params (a quantize step after fuse) and log it.
 * eval false: bytes (and KL when want_kl) only.  *id gets the trial's id.
 * A skipped trial (not smaller than the best) has evaluated false and met false. */
static sk_status trial_run(search *s, const char *phase, const char *what, char *params, bool eval, bool want_kl, int *id)
{
    const cJSON *hit = cJSON_GetObjectItemCaseSensitive(s->cache, params);
    if (hit && (!eval || s->t[hit->valueint].measured) && (!want_kl || !isnan(s->t[hit->valueint].kl))) {
        *id = hit->valueint;
        free(params);
        return SK_OK;
    }
    if (sk_grow((void **)&s->t, &s->cap_t, s->n_t + 1, sizeof *s->t) ||
        sk_grow((void **)&s->params, &s->cap_p, s->n_t + 1, sizeof *s->params)) {
        free(params);
        return SK_ERR_NOMEM;
    }
    double t0 = sk_now();
    trial *t = &s->t[s->n_t];
    *t = (trial){.id = s->n_t, .value = NAN, .loss = NAN, .p50 = NAN, .kl = NAN};
    s->params[s->n_t] = params;
    *id = s->n_t++;
    sk_model *m;
    sk_status st = build(s, params, &m);
    if (st) return sk_err_prefix(st, "auto: %s %s", phase, what);
    t->bytes = (double)cli_const_bytes(m);
    char note[160] = "";
    if (want_kl) st = kl_of(s, m, &t->kl);
    const sk_budgets *g = &s->o->goal;
    const trial *best = s->best >= 0 ? &s->t[s->best] : NULL;
    measure comp = {.const_bytes = t->bytes};
    snprintf(comp.ev.metric, sizeof comp.ev.metric, "%s", s->base.ev.metric);
    if (!st && eval) {
        t->measured = true;
        t->skipped = true;
        if ((g->max_size_bytes > 0 && t->bytes > g->max_size_bytes) || (g->max_size_ratio > 0 && t->bytes > g->max_size_ratio * s->base.const_bytes))
            snprintf(note, sizeof note, "over max_size: not evaluated");
        else if (!s->o->latency && best && t->bytes >= best->bytes)
            snprintf(note, sizeof note, "skipped: not smaller than the best so far (#%d, %.0f B)", best->id, best->bytes);
        else {
            sk_eval_result r;
            double sub_loss = -INFINITY;
            t->skipped = false;
            const char *u;
            if (s->screen) {
                if (!(st = sk_eval_auto(m, s->o->data, &s->eo_sub, &r))) {
                    sk_free(r.pred);
                    sub_loss = compress_loss(&g->max_drop, r.metric, s->base_sub, r.value, &u);
                    if (sub_loss > s->screen_thr)
                        snprintf(note, sizeof note, "screened out: loss %.3g%s on the first %ld > %.3g%s", sub_loss, u, s->eo_sub.limit,
                                 s->screen_thr, u);
                }
            }
            if (!st && !note[0] && !(st = sk_eval_auto(m, s->o->data, &s->eo, &r))) {
                sk_free(r.pred);
                t->evaluated = true;
                t->value = comp.ev.value = r.value;
                t->loss = compress_loss(&g->max_drop, r.metric, s->base.ev.value, r.value, &u);
                bool ok = compress_gate(&(sk_budgets){.max_drop = g->max_drop}, &s->base, &comp, NULL, false);
                if (ok && (s->o->latency || g->min_speedup > 0)) {
                    if (!(st = sk_bench(m, &s->bo, &comp.bench))) t->p50 = comp.bench.p50_ms;
                }
                t->met = !st && ok && compress_gate(g, &s->base, &comp, NULL, false);
                if (!st && ok && !t->met) snprintf(note, sizeof note, "accuracy goal met, another budget not");
            }
        }
    }
    sk_model_free(m);
    if (st) return sk_err_prefix(st, "auto: %s %s", phase, what);
    t->seconds = sk_now() - t0;
    if (t->seconds > s->slowest) s->slowest = t->seconds;
    if (t->met && (!best || better(s, t, best))) s->best = t->id;
    /* the closest to the goal: the smallest loss; while nothing is evaluated, the smallest candidate */
    const trial *c = s->closest >= 0 ? &s->t[s->closest] : NULL;
    if (t->measured && (!c || (t->evaluated && (!c->evaluated || t->loss < c->loss || (t->loss == c->loss && better(s, t, c)))) ||
                        (!t->evaluated && !c->evaluated && t->bytes < c->bytes)))
        s->closest = t->id;

    cJSON *e = cJSON_CreateObject();
    cJSON_AddNumberToObject(e, "id", t->id);
    cJSON_AddStringToObject(e, "phase", phase);
    cJSON_AddStringToObject(e, "what", what);
    cJSON_AddItemToObject(e, "params", cJSON_Parse(params));
    cJSON_AddNumberToObject(e, "bytes", t->bytes);
    if (!isnan(t->kl)) cJSON_AddNumberToObject(e, "kl", t->kl);
    if (t->evaluated) {
        cJSON_AddNumberToObject(e, "value", t->value);
        cJSON_AddNumberToObject(e, "loss", t->loss);
        cJSON_AddStringToObject(e, "loss_unit", s->unit_txt);
    }
    if (!isnan(t->p50)) cJSON_AddNumberToObject(e, "p50_ms", t->p50);
    cJSON_AddBoolToObject(e, "evaluated", t->evaluated);
    cJSON_AddBoolToObject(e, "met", t->met);
    if (note[0]) cJSON_AddStringToObject(e, "note", note);
    cJSON_AddNumberToObject(e, "seconds", t->seconds);
    cJSON_AddItemToArray(s->trials, e);
    if (hit) cJSON_ReplaceItemInObjectCaseSensitive(s->cache, params, cJSON_CreateNumber(t->id));
    else cJSON_AddNumberToObject(s->cache, params, t->id);

    char res[320];
    if (t->evaluated)
        snprintf(res, sizeof res, "%s %.6g, loss %.3g%s: %s%s%s", s->base.ev.metric, t->value, t->loss, s->unit_txt,
                 t->met ? "meets the goal" : "misses", note[0] ? "; " : "", note);
    else if (eval) snprintf(res, sizeof res, "%s", note);
    else if (!isnan(t->kl)) snprintf(res, sizeof res, "KL %.3g", t->kl);
    else res[0] = 0;
    fprintf(stderr, "auto: #%d %s %s: %.3f MB%s%s (%.1fs)\n", t->id, phase, what, t->bytes / 1e6, res[0] ? ", " : "", res, t->seconds);
    return SK_OK;
}

/* Measure the configuration lv, its level counts in the log line; *id gets the trial. */
static sk_status try_levels(search *s, const char *phase, const char *what, const int *lv, int *id)
{
    char *p = config_params(s, lv);
    if (!p) return SK_ERR_NOMEM;
    char desc[300];
    describe(s, lv, desc, sizeof desc);
    char full[400];
    snprintf(full, sizeof full, "%s [%s]", what, desc);
    return trial_run(s, phase, full, p, true, false, id);
}

/* ---- the phases ---- */

static sk_status find_units(search *s)
{
    sk_model *m;
    sk_status st = build(s, NULL, &m);
    if (st) return st;
    sk_qlayer *ls;
    int n;
    s->fp32_bytes = (double)cli_const_bytes(m);
    if ((st = sk_qlayers_find(m, &ls, &n))) { sk_model_free(m); return st; }
    s->u = sk_calloc((size_t)n + 1, sizeof *s->u);
    if (!s->u) st = SK_ERR_NOMEM;
    for (int i = 0; !st && i < n; i++) {
        unit *u = &s->u[s->n];
        const char *name = m->g.nodes[ls[i].node].name;
        u->kind = ls[i].head ? U_HEAD : U_LINEAR;
        u->lo = ls[i].head ? L_INT8 : ls[i].K % 128 == 0 ? L_G128 : ls[i].K % 32 == 0 ? L_G32 : L_INT8;
        u->kl = NAN;
        if (!(u->name = sk_strdup(name)) || !(u->pat = glob_escape(name))) st = SK_ERR_NOMEM;
        s->n++;
    }
    sk_free(ls);
    bool tables = false;   /* an embedding table: a Gather over a constant f32 [V, H] */
    for (int i = 0; i < m->g.n_nodes && !tables; i++) {
        const sk_node *nd = &m->g.nodes[i];
        const sk_tensor *t = nd->op == SK_OP_GATHER && nd->n_in > 0 && nd->in[0] >= 0 ? &m->g.tensors[nd->in[0]] : NULL;
        tables = t && (t->flags & SK_TF_CONST) && t->dtype == SK_DT_F32 && t->rank == 2;
    }
    if (!tables) s->has_embed = false;
    if (!st && s->has_embed) {
        unit *u = &s->u[s->n++];
        *u = (unit){.kind = U_EMBED, .lo = L_INT8, .kl = NAN};
        if (!(u->name = sk_strdup("embedding tables")) || !(u->pat = sk_strdup(""))) st = SK_ERR_NOMEM;
    }
    int lin = 0;
    for (int i = 0; i < s->n; i++) lin += s->u[i].kind == U_LINEAR;
    if (!st && !lin) st = sk_err(SK_ERR_INVALID, "auto: %s has no linear layer the quantize pass can take", s->o->model);
    /* the fp32 reference outputs on the sensitivity samples */
    const char *src = s->o->calib ? s->o->calib : s->o->data;
    if (!st) st = sk_calib_load(m, src, SENS_TEXTS, 0, &s->cal);
    if (!st && !strcmp(s->cal->kind, "windows")) {
        sk_calib_free(s->cal);
        s->cal = NULL;
        st = sk_calib_load(m, src, SENS_WINDOWS, 0, &s->cal);
    }
    if (!st) {
        klctx c = {.node = output_node(m), .record = true};
        st = sk_calib_run(m, s->cal, s->o->threads, -1, kl_observe, &c);
        s->ref = c.ref;
        s->n_ref = c.n;
        if (!st && (c.bad || !c.n)) st = sk_err(SK_ERR_INVALID, "auto: no output recorded on %s", src);
    }
    if (!st)
        fprintf(stderr, "auto: %d units (%d linear layers%s%s), sensitivity on %d %s of %s\n", s->n, lin,
                lin < s->n - s->has_embed ? ", the head" : "", s->has_embed ? ", the embedding tables" : "", s->cal->n, s->cal->kind, src);
    sk_model_free(m);
    return st;
}

static int by_kl_desc(const void *a, const void *b, void *ctx)
{
    const search *s = ctx;
    double x = s->u[*(const int *)a].kl, y = s->u[*(const int *)b].kl;
    if (isnan(x)) x = -1;
    if (isnan(y)) y = -1;
    return x < y ? 1 : x > y ? -1 : *(const int *)a - *(const int *)b;
}

/* Raise the k most sensitive eligible units of start to level (eligible: not
 * fixed, below level); to fp32, never the last quantized linear layer. */
static int raise_top(const search *s, const int *start, int level, int k, int *lv)
{
    memcpy(lv, start, (size_t)s->n * sizeof *lv);
    int done = 0, linear_q = 0;
    for (int i = 0; i < s->n; i++) linear_q += s->u[i].kind == U_LINEAR && !s->u[i].fixed && start[i] < L_FP32;
    for (int r = 0; r < s->n && done < k; r++) {
        int i = s->rank[r];
        if (s->u[i].fixed || start[i] >= level) continue;
        if (level == L_FP32 && s->u[i].kind == U_LINEAR && linear_q <= 1) continue;
        if (level == L_FP32 && s->u[i].kind == U_LINEAR) linear_q--;
        lv[i] = level;
        done++;
    }
    return done;
}

/* One cumulative round to level: the smallest k meeting the goal (galloping, then bisection).
 * start: every unit below level-1 raised to level-1.  *met set when the round met it. */
static sk_status round_to(search *s, const int *start, int level, int *lv, bool *met)
{
    int eligible = 0, linear_q = 0;
    for (int i = 0; i < s->n; i++) {
        eligible += !s->u[i].fixed && start[i] < level;
        linear_q += s->u[i].kind == U_LINEAR && !s->u[i].fixed && start[i] < level;
    }
    if (level == L_FP32 && linear_q > 0) eligible--;   /* one linear layer stays quantized */
    *met = false;
    char phase[32], what[64];
    snprintf(phase, sizeof phase, "cumulative %s", level_names[level]);
    int lo = 0, hi = -1;   /* k = lo failed (0: not tried), k = hi met */
    sk_status st = SK_OK;
    for (int k = 1; k <= eligible && !st; k = k * 2 > eligible && k < eligible ? eligible : k * 2) {
        if (out_of_time(s)) return SK_OK;
        raise_top(s, start, level, k, lv);
        snprintf(what, sizeof what, "top %d", k);
        int id;
        if ((st = try_levels(s, phase, what, lv, &id))) return st;
        if (s->t[id].met) { hi = k; break; }
        if (s->t[id].skipped) return SK_OK;   /* larger k are larger still */
        lo = k;
    }
    if (st || hi < 0) return st;
    *met = true;
    while (hi - lo > 1 && !out_of_time(s)) {
        int mid = (lo + hi) / 2, id;
        raise_top(s, start, level, mid, lv);
        snprintf(what, sizeof what, "top %d", mid);
        if ((st = try_levels(s, phase, what, lv, &id))) return st;
        if (s->t[id].met) hi = mid;
        else lo = mid;
    }
    return SK_OK;
}

static sk_status run_search(search *s)
{
    int *lv = sk_malloc(((size_t)s->n + 1) * sizeof *lv), *start = sk_malloc(((size_t)s->n + 1) * sizeof *start);
    sk_status st = lv && start ? SK_OK : SK_ERR_NOMEM;
    int id = -1;
    /* plain int8, for reference */
    cJSON *p8 = st ? NULL : cJSON_CreateObject();
    if (p8) {
        cJSON_AddNumberToObject(p8, "bits", 8);
        char *t = cJSON_PrintUnformatted(p8);
        cJSON_Delete(p8);
        st = t ? trial_run(s, "reference", "plain int8 (quantize bits 8, its defaults)", t, true, false, &s->int8_ref) : SK_ERR_NOMEM;
    }
    /* the most aggressive configuration */
    for (int i = 0; !st && i < s->n; i++) lv[i] = s->u[i].lo;
    int aggressive = -1;
    if (!st) {
        char *p = config_params(s, lv), desc[300], what[400];
        describe(s, lv, desc, sizeof desc);
        snprintf(what, sizeof what, "every unit at its lowest level [%s]", desc);
        st = p ? trial_run(s, "aggressive", what, p, true, true, &aggressive) : SK_ERR_NOMEM;
    }
    /* head and tables: left out one at a time; those that save nothing stay fp32 */
    int fixed = 0;
    for (int i = 0; !st && i < s->n && !out_of_time(s); i++) {
        unit *u = &s->u[i];
        if (u->kind == U_LINEAR) continue;
        lv[i] = L_FP32;
        char what[300];
        snprintf(what, sizeof what, "%s fp32, the rest at their lowest level", u->name);
        char *p = config_params(s, lv);
        lv[i] = u->lo;
        if (!p) { st = SK_ERR_NOMEM; break; }
        if ((st = trial_run(s, "sensitivity", what, p, false, true, &id))) break;
        u->kl = s->t[aggressive].kl - s->t[id].kl;
        u->saved = s->t[id].bytes - s->t[aggressive].bytes;
        if (u->saved <= 0) {
            u->fixed = true;
            fixed++;
            fprintf(stderr, "auto: %s: quantizing it saves no bytes here (%+.0f B): kept fp32\n", u->name, u->saved);
        }
    }
    if (!st && fixed && !out_of_time(s)) st = try_levels(s, "aggressive", "without what saves nothing", lv, &id);
    bool met = !st && s->best >= 0 && s->best != s->int8_ref;
    /* linear layers: each alone */
    for (int i = 0; !st && !met && i < s->n && !out_of_time(s); i++) {
        unit *u = &s->u[i];
        if (u->kind != U_LINEAR) continue;
        char what[300];
        snprintf(what, sizeof what, "%s alone at %s", u->name, level_names[u->lo]);
        char *p = single_params(s, i);
        if (!p) { st = SK_ERR_NOMEM; break; }
        if ((st = trial_run(s, "sensitivity", what, p, false, true, &id))) break;
        u->kl = s->t[id].kl;
        u->saved = s->fp32_bytes - s->t[id].bytes;
    }
    for (int i = 0; i < s->n; i++) s->rank[i] = i;
    qsort_r(s->rank, (size_t)s->n, sizeof *s->rank, by_kl_desc, s);
    /* the most sensitive units one level up, one at a time */
    for (int r = 0, tried = 0; !st && !met && r < s->n && tried < N_SINGLE && !out_of_time(s); r++) {
        int i = s->rank[r];
        if (s->u[i].fixed || lv[i] == L_FP32) continue;
        int keep = lv[i];
        lv[i] = s->u[i].kind == U_LINEAR && keep < L_INT8 ? L_INT8 : L_FP32;
        char what[300];
        snprintf(what, sizeof what, "%s to %s", s->u[i].name, level_names[lv[i]]);
        st = try_levels(s, "single", what, lv, &id);
        lv[i] = keep;
        tried++;
    }
    /* cumulative rounds */
    for (int level = L_G32; !st && !met && level < N_LEVELS && !out_of_time(s); level++) {
        for (int i = 0; i < s->n; i++) start[i] = s->u[i].lo > level - 1 ? s->u[i].lo : level - 1;
        st = round_to(s, start, level, lv, &met);
    }
    if (!st && !s->stopped) s->stopped = met ? "goal met; more precision would only grow the model" : "search space exhausted";
    sk_free(lv);
    sk_free(start);
    return st;
}

/* ---- the result ---- */

static void conclusion(const search *s, char *buf, size_t cap)
{
    const trial *r8 = s->int8_ref >= 0 ? &s->t[s->int8_ref] : NULL;
    char goal[64];
    snprintf(goal, sizeof goal, "max_drop %g%s", s->o->goal.max_drop.v, s->unit_txt);
    if (s->best >= 0 && s->o->latency) {
        const trial *b = &s->t[s->best];
        size_t k = (size_t)snprintf(buf, cap, "fastest meeting %s: #%d, p50 %.4g ms (baseline %.4g ms), %.0f B, loss %.3g%s", goal,
                                    b->id, b->p50, s->base.bench.p50_ms, b->bytes, b->loss, s->unit_txt);
        if (r8 && k < cap && b->id != r8->id && !isnan(r8->p50))
            snprintf(buf + k, cap - k, "; plain int8: p50 %.4g ms, %.0f B", r8->p50, r8->bytes);
        else if (r8 && k < cap && b->id == r8->id)
            snprintf(buf + k, cap - k, "; it is plain int8");
    } else if (s->best >= 0) {
        const trial *b = &s->t[s->best];
        size_t k = (size_t)snprintf(buf, cap, "best meeting %s: #%d, %.0f B (%.2fx smaller than fp32), loss %.3g%s", goal, b->id,
                                    b->bytes, s->base.const_bytes / b->bytes, b->loss, s->unit_txt);
        if (r8 && k < cap) {
            if (b->id == r8->id) snprintf(buf + k, cap - k, "; it is plain int8: nothing smaller met the goal");
            else if (b->bytes < r8->bytes) snprintf(buf + k, cap - k, "; %.1f%% smaller than plain int8 (%.0f B, loss %.3g%s)",
                                                    (1 - b->bytes / r8->bytes) * 100, r8->bytes, r8->loss, s->unit_txt);
            else snprintf(buf + k, cap - k, "; plain int8 is %.0f B (loss %.3g%s)", r8->bytes, r8->loss, s->unit_txt);
        }
    } else if (s->closest >= 0) {
        const trial *c = &s->t[s->closest];
        if (c->evaluated)
            snprintf(buf, cap, "no configuration met every budget (%s); the closest to %s, #%d (%.0f B), lost %.3g%s", 
                     s->stopped ? s->stopped : "?", goal, c->id, c->bytes, c->loss, s->unit_txt);
        else
            snprintf(buf, cap, "no configuration met every budget (%s); none was evaluated, the smallest is #%d (%.0f B)",
                     s->stopped ? s->stopped : "?", c->id, c->bytes);
    } else {
        snprintf(buf, cap, "no configuration was evaluated (%s)", s->stopped ? s->stopped : "?");
    }
}

static cJSON *search_json(const search *s, const char *concl)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *g = cJSON_AddObjectToObject(o, "goal");
    cJSON_AddNumberToObject(g, "max_drop", s->o->goal.max_drop.v);
    cJSON_AddStringToObject(g, "unit", s->unit_txt);
    if (s->o->goal.min_speedup > 0) cJSON_AddNumberToObject(g, "min_speedup", s->o->goal.min_speedup);
    if (s->o->goal.max_size_bytes > 0) cJSON_AddNumberToObject(g, "max_size_bytes", s->o->goal.max_size_bytes);
    if (s->o->goal.max_size_ratio > 0) cJSON_AddNumberToObject(g, "max_size_ratio", s->o->goal.max_size_ratio);
    cJSON_AddStringToObject(o, "objective", s->o->latency ? "latency" : "size");
    cJSON_AddStringToObject(o, "method", s->o->method);
    cJSON_AddNumberToObject(o, "budget_seconds", s->o->budget_s);
    cJSON_AddNumberToObject(o, "seconds", elapsed(s));
    cJSON_AddStringToObject(o, "stopped", s->stopped ? s->stopped : "");
    cJSON_AddStringToObject(o, "sensitivity_data", s->o->calib ? s->o->calib : s->o->data);
    if (s->screen) cJSON_AddNumberToObject(o, "screen_examples", (double)s->eo_sub.limit);
    cJSON *us = cJSON_AddArrayToObject(o, "units");
    for (int r = 0; r < s->n; r++) {
        const unit *u = &s->u[s->rank[r]];
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "name", u->name);
        cJSON_AddStringToObject(e, "kind", kind_names[u->kind]);
        cJSON_AddStringToObject(e, "lowest", level_names[u->fixed ? L_FP32 : u->lo]);
        if (!isnan(u->kl)) cJSON_AddNumberToObject(e, "kl", u->kl);
        cJSON_AddNumberToObject(e, "saved_bytes", u->saved);
        cJSON_AddBoolToObject(e, "fixed_fp32", u->fixed);
        cJSON_AddItemToArray(us, e);
    }
    cJSON_AddItemToObject(o, "trials", cJSON_Duplicate(s->trials, true));
    if (s->int8_ref >= 0) cJSON_AddNumberToObject(o, "int8_reference", s->int8_ref);
    if (s->best >= 0) cJSON_AddNumberToObject(o, "best", s->best);
    else cJSON_AddNullToObject(o, "best");
    int chosen = s->best >= 0 ? s->best : s->closest;
    if (chosen >= 0) cJSON_AddNumberToObject(o, "written", chosen);
    else cJSON_AddNullToObject(o, "written");
    cJSON_AddBoolToObject(o, "met", s->best >= 0);
    cJSON_AddStringToObject(o, "conclusion", concl);
    return o;
}

/* The recipe that rebuilds trial id: fuse, then its quantize step, and the goal as budgets. */
static char *recipe_of(const search *s, int id, const char *name)
{
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "name", name);
    char d[200];
    snprintf(d, sizeof d, "found by shrink compress --auto (objective %s, trial #%d)", s->o->latency ? "latency" : "size", id);
    cJSON_AddStringToObject(r, "description", d);
    cJSON *ps = cJSON_AddArrayToObject(r, "passes"), *f = cJSON_CreateObject(), *q = cJSON_Parse(s->params[id]);
    cJSON_AddStringToObject(f, "pass", "fuse");
    cJSON_AddItemToArray(ps, f);
    cJSON *qs = cJSON_CreateObject();
    cJSON_AddStringToObject(qs, "pass", "quantize");
    while (q && q->child) {
        cJSON *it = cJSON_DetachItemViaPointer(q, q->child);
        cJSON_AddItemToArray(qs, it);   /* keeps its key: qs stays an object */
    }
    cJSON_Delete(q);
    cJSON_AddItemToArray(ps, qs);
    cJSON *b = cJSON_AddObjectToObject(r, "budgets");
    const sk_budgets *g = &s->o->goal;
    char v[64];
    if (g->max_drop.plain) cJSON_AddNumberToObject(b, "max_drop", g->max_drop.v);
    else {
        snprintf(v, sizeof v, "%g%s", g->max_drop.v, g->max_drop.relative ? "%" : "pt");
        cJSON_AddStringToObject(b, "max_drop", v);
    }
    if (g->min_speedup > 0) cJSON_AddNumberToObject(b, "min_speedup", g->min_speedup);
    if (g->max_size_ratio > 0) cJSON_AddNumberToObject(b, "max_size", g->max_size_ratio);
    if (g->max_size_bytes > 0) {
        snprintf(v, sizeof v, "%.0fB", g->max_size_bytes);
        cJSON_AddStringToObject(b, "max_size", v);
    }
    char *t = cJSON_PrintUnformatted(r);
    cJSON_Delete(r);
    return t;
}

/* Build trial id again from MODEL, measure it in full, write OUT, OUT.recipe.json and the reports. */
static int finish(search *s, int id, const char *started)
{
    const compress_auto_opts *o = s->o;
    const char *b = strrchr(o->out, '/') ? strrchr(o->out, '/') + 1 : o->out;
    char name[160];
    snprintf(name, sizeof name, "%.*s", (int)(strlen(b) - strlen(sk_path_ext(b))), b);
    char *recipe = recipe_of(s, id, name), concl[600];
    conclusion(s, concl, sizeof concl);
    fprintf(stderr, "auto: %s\n", concl);
    fprintf(stderr, "auto: building #%d again and measuring it in full\n", id);
    sk_model *m = NULL;
    sk_passmgr_result pr = {0};
    measure comp = {0};
    sk_status st = recipe ? cli_load_model(o->model, &m) : SK_ERR_NOMEM;
    int prov0 = m ? m->n_prov : 0;
    sk_pipe_step steps[2] = {{"fuse", NULL}, {"quantize", s->params[id]}};
    sk_passmgr_opts po = {.calib_path = o->calib, .threads = o->threads, .progress = true};
    if (!st) st = sk_passmgr_run(m, steps, 2, &po, &pr);
    if (!st) st = compress_measure(m, o->data, &s->eo, &s->bo, "compressed", &comp);
    int code = 0;
    char *js = NULL;
    if (!st) {
        if (comp.ev.value != s->t[id].value)
            fprintf(stderr, "auto: note: the full measurement gives %.6g, the trial gave %.6g\n", comp.ev.value, s->t[id].value);
        cJSON *checks = cJSON_CreateArray();
        bool passed = compress_gate(&o->goal, &s->base, &comp, checks, true);
        code = passed ? 0 : 3;
        fprintf(stderr, "auto: %s %s\n", passed ? "every budget holds, writing" : "a budget failed; writing the best found to", o->out);
        char rp[1100];
        snprintf(rp, sizeof rp, "%s.recipe.json", o->out);
        if (!(st = cli_write_model(m, o->out, &(cli_write_opts){.force = o->force}))) st = sk_afile_write_file(rp, recipe, strlen(recipe), true);
        if (!st) comp.file_bytes = (double)cli_path_bytes(o->out);
        char finished[32];
        compress_timestamp(finished, sizeof finished);
        compress_run run = {.name = name, .model = o->model, .out = o->out, .recipe_file = NULL, .recipe_json = recipe,
                            .data = o->data, .calib = o->calib, .started = started, .finished = finished, .written = !st,
                            .passed = passed, .threads = o->threads, .limit = 0, .bo = &s->bo, .base = &s->base,
                            .comp = &comp, .checks = checks, .m = m, .prov0 = prov0, .pr = &pr};
        cJSON *rep = st ? NULL : compress_report(&run);
        if (rep) {
            cJSON_AddItemToObject(rep, "search", search_json(s, concl));
            if (!(st = compress_write_reports(rep, o->out, &js))) compress_summary(js, o->json, &run);
            cJSON_Delete(rep);
        } else if (!st) {
            cJSON_Delete(checks);
            st = SK_ERR_NOMEM;
        } else {
            cJSON_Delete(checks);
        }
    }
    free(js);
    free(recipe);
    sk_passmgr_result_free(&pr);
    sk_model_free(m);
    if (st) return cli_fail(st);
    return code;
}

static bool pass_has_param(const char *pass, const char *param)
{
    const struct sk_pass *p = sk_pass_find(pass);
    for (const struct sk_param *q = p ? p->params : NULL; q && q->name; q++)
        if (!strcmp(q->name, param)) return true;
    return false;
}

int compress_auto(const compress_auto_opts *o)
{
    search s = {.o = o, .best = -1, .closest = -1, .int8_ref = -1, .t0 = sk_now()};
    char started[32];
    compress_timestamp(started, sizeof started);
    s.has_embed = pass_has_param("quantize", "embed");
    s.trials = cJSON_CreateArray();
    s.cache = cJSON_CreateObject();
    fprintf(stderr, "auto: objective %s, int4 method %s, time budget %.0fs; loading %s\n", o->latency ? "latency" : "size",
            o->method, o->budget_s, o->model);
    sk_model *m = NULL;
    sk_status st = s.trials && s.cache ? cli_load_model(o->model, &m) : SK_ERR_NOMEM;
    if (!st) {
        compress_bench_opts(m, 0, o->threads, &s.bo);
        s.eo = (sk_eval_opts){.threads = o->threads};
        st = compress_measure(m, o->data, &s.eo, &s.bo, "baseline", &s.base);
    }
    if (!st) {
        s.base.file_bytes = (double)cli_path_bytes(o->model);
        bool acc = !strcmp(s.base.ev.metric, "accuracy");
        const char *u;
        compress_loss(&o->goal.max_drop, s.base.ev.metric, 1, 1, &u);
        s.unit_txt = u;
        fprintf(stderr, "auto: goal: %s loss at most %g%s\n", s.base.ev.metric, o->goal.max_drop.v, u);
        long items = acc ? s.base.ev.n : s.base.ev.n_windows;
        if (items / 4 >= (acc ? 50 : 16)) {   /* screen on the first quarter */
            sk_eval_result r;
            s.screen = true;
            s.eo_sub = s.eo;
            s.eo_sub.limit = items / 4;
            if (!(st = sk_eval_auto(m, o->data, &s.eo_sub, &r))) {
                sk_free(r.pred);
                s.base_sub = r.value;
                double one = 0;   /* one example of the subset, in the loss unit */
                if (acc) one = compress_loss(&o->goal.max_drop, "accuracy", s.base_sub, s.base_sub - 1.0 / (double)s.eo_sub.limit, &u);
                s.screen_thr = 2 * o->goal.max_drop.v + one;
            }
        }
    }
    sk_model_free(m);
    if (!st) st = find_units(&s);
    if (!st && !(s.rank = sk_malloc(((size_t)s.n + 1) * sizeof *s.rank))) st = SK_ERR_NOMEM;
    for (int i = 0; !st && i < s.n; i++) s.rank[i] = i;
    if (!st) st = run_search(&s);
    int code;
    int chosen = s.best >= 0 ? s.best : s.closest;
    if (st) code = cli_fail(st);
    else if (chosen < 0) {
        char c[600];
        conclusion(&s, c, sizeof c);
        fprintf(stderr, "shrink: auto: %s\n", c);
        code = 3;
    } else {
        code = finish(&s, chosen, started);
    }
    for (int i = 0; i < s.n; i++) { sk_free(s.u[i].name); sk_free(s.u[i].pat); }
    for (int i = 0; i < s.n_t; i++) free(s.params[i]);
    sk_free(s.params);
    sk_free(s.u);
    sk_free(s.rank);
    sk_free(s.t);
    sk_free(s.ref);
    sk_calib_free(s.cal);
    cJSON_Delete(s.trials);
    cJSON_Delete(s.cache);
    return code;
}
