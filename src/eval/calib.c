/* calib.c — calibration samples for passes, and running them through a
 * session with an observer.
 *
 * Passes that look at activations (GPTQ, AWQ, SmoothQuant) ask for these
 * through their sk_pass_ctx.  Loading turns a file into token windows, token
 * sequences or input arrays once; running feeds them to a fresh session,
 * batching samples of equal shape, and lets the caller's observer see each
 * executed node's tensors.  Nothing is accumulated here: statistics are the
 * observer's business, so memory stays at one batch of activations.
 *
 * Staged runs (sk_calib_stages_*) serve passes that rewrite layers stage by
 * stage: each run continues the previous one from the node where the caller
 * said its changes begin (keep), from the activations crossing that node,
 * saved per batch (sk_session_save / sk_session_load), instead of running
 * every sample from the inputs again.  Each run still gets a fresh session,
 * so weights changed in between are packed anew and nothing is shared with
 * the previous run but those saved values.
 */
#include <cJSON.h>
#include <stdlib.h>
#include <string.h>
#include "eval/calib.h"
#include "text/text.h"

#define BATCH_TOKENS 2048   /* ids per run when samples are batched */
#define BATCH_INPUTS 256    /* array samples per run */

void sk_calib_free(sk_calib *c)
{
    if (!c) return;
    for (int i = 0; i < c->n; i++) {
        sk_free((void *)c->s[i].ids);
        sk_free((void *)c->s[i].x);
    }
    sk_free(c->s);
    sk_free((void *)c->path);
    sk_free(c);
}

/* The first graph input that is not a constant: what array samples bind. */
static const sk_tensor *first_input(const sk_model *m)
{
    for (int i = 0; i < m->g.n_inputs; i++) {
        const sk_tensor *t = &m->g.tensors[m->g.inputs[i]];
        if (!(t->flags & SK_TF_CONST)) return t;
    }
    return NULL;
}

static bool is_int(sk_dtype dt) { return dt == SK_DT_I64 || dt == SK_DT_I32; }

static bool has_input(const sk_model *m, const char *name)
{
    for (int i = 0; i < m->g.n_inputs; i++)
        if (!strcmp(m->g.tensors[m->g.inputs[i]].name, name)) return true;
    return false;
}

static sk_status add_sample(sk_calib *c, int *cap, sk_calib_sample s)
{
    if (sk_grow((void **)&c->s, cap, c->n + 1, sizeof *c->s)) {
        sk_free((void *)s.ids);
        sk_free((void *)s.x);
        return SK_ERR_NOMEM;
    }
    c->s[c->n++] = s;
    if (s.ids) c->tokens += s.n;
    return SK_OK;
}

/* Shape of one sample of n values for input t: batch dim 1, one unknown dim inferred. */
static sk_status sample_shape(const char *path, long line, const sk_tensor *t, int64_t n, sk_calib_sample *s)
{
    int64_t known = 1;
    int unknown = -1;
    if (t->rank < 1) return sk_err(SK_ERR_UNSUPPORTED, "%s: input '%s' has no known rank", path, t->name);
    s->rank = t->rank;
    for (int d = 0; d < t->rank; d++) {
        s->dims[d] = d == 0 && t->dims[0] < 0 ? 1 : t->dims[d];
        if (s->dims[d] < 0) {
            if (unknown >= 0) return sk_err(SK_ERR_UNSUPPORTED, "%s: input '%s' has more than one unknown dim", path, t->name);
            unknown = d;
        } else {
            known *= s->dims[d];
        }
    }
    if (unknown >= 0 && known > 0 && n % known == 0) s->dims[unknown] = n / known, known *= s->dims[unknown];
    if (known != n)
        return sk_err(SK_ERR_INVALID, "%s: line %ld: %lld input values do not fit input '%s'", path, line,
                      (long long)n, t->name);
    return SK_OK;
}

/* Lines of text that hold something besides blanks, NUL-terminated in place. */
static sk_status split_lines(char *text, char ***lines, long **numbers, int *n)
{
    int cap = 0;
    long no = 0;
    *lines = NULL;
    *numbers = NULL;
    *n = 0;
    int cap2 = 0;
    for (char *line = text, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = 0;
        no++;
        size_t len = strlen(line);
        if (len && line[len - 1] == '\r') line[--len] = 0;
        if (strspn(line, " \t") == len) continue;
        if (sk_grow((void **)lines, &cap, *n + 1, sizeof **lines) ||
            sk_grow((void **)numbers, &cap2, *n + 1, sizeof **numbers))
            return SK_ERR_NOMEM;
        (*lines)[*n] = line;
        (*numbers)[(*n)++] = no;
    }
    return SK_OK;
}

static sk_status load_jsonl(sk_calib *c, const sk_model *m, char *text, int want, int n_ctx, bool lm,
                            sk_tokenizer **tok)
{
    char **lines;
    long *nos;
    int nl, cap = 0;
    sk_status st = split_lines(text, &lines, &nos, &nl);
    int take = nl < want ? nl : want;
    c->kind = "texts";
    for (int i = 0; i < take && !st; i++) {
        int li = (int)((int64_t)i * nl / take);
        cJSON *j = cJSON_Parse(lines[li]);
        cJSON *txt = cJSON_GetObjectItemCaseSensitive(j, "text");
        cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, "input");
        if (!cJSON_IsObject(j) || (!cJSON_IsString(txt) && !cJSON_IsArray(arr))) {
            st = sk_err(SK_ERR_FORMAT, "%s: line %ld: expected a JSON object with \"text\": string or \"input\": [numbers]",
                        c->path, nos[li]);
        } else if (cJSON_IsString(txt)) {
            if (!*tok && !sk_model_has_tokenizer(m))
                st = sk_err(SK_ERR_INVALID, "%s: text samples need a tokenizer beside the model", c->path);
            else if (!*tok)
                st = sk_model_tokenizer(m, tok);
            int32_t *ids = NULL;
            int n = 0;
            if (!st) st = sk_tok_encode(*tok, txt->valuestring, !lm, n_ctx, &ids, &n);
            if (!st && n > 0) st = add_sample(c, &cap, (sk_calib_sample){.n = n, .ids = ids});
            else sk_free(ids);
        } else if (first_input(m) && is_int(first_input(m)->dtype)) {   /* token ids given as numbers */
            int n = cJSON_GetArraySize(arr), k = 0;
            int32_t *ids = sk_malloc((size_t)(n ? n : 1) * sizeof *ids);
            if (!ids) st = SK_ERR_NOMEM;
            for (cJSON *e = arr->child; e && !st; e = e->next) {
                if (!cJSON_IsNumber(e) || e->valuedouble != (double)(int32_t)e->valuedouble)
                    st = sk_err(SK_ERR_FORMAT, "%s: line %ld: \"input\" of a token model must hold integer ids", c->path, nos[li]);
                else ids[k++] = (int32_t)e->valuedouble;
            }
            if (!st && n > 0) st = add_sample(c, &cap, (sk_calib_sample){.n = n, .ids = ids});
            else sk_free(ids);
        } else {
            const sk_tensor *in = first_input(m);
            sk_calib_sample s = {.n = cJSON_GetArraySize(arr)};
            float *x = sk_malloc((size_t)(s.n ? s.n : 1) * sizeof *x);
            if (!in) st = sk_err(SK_ERR_INVALID, "%s: the model has no input", c->path);
            else if (!x) st = SK_ERR_NOMEM;
            int64_t k = 0;
            for (cJSON *e = arr->child; e && !st; e = e->next) {
                if (!cJSON_IsNumber(e)) st = sk_err(SK_ERR_FORMAT, "%s: line %ld: \"input\" holds a non-number", c->path, nos[li]);
                else x[k++] = (float)e->valuedouble;
            }
            if (!st) st = sample_shape(c->path, nos[li], in, s.n, &s);
            if (!st) {
                s.x = x;
                c->kind = "inputs";
                st = add_sample(c, &cap, s);
            } else {
                sk_free(x);
            }
        }
        cJSON_Delete(j);
    }
    sk_free(lines);
    sk_free(nos);
    return st;
}

static sk_status load_text(sk_calib *c, const sk_model *m, char *text, int want, int n_ctx, bool lm,
                           sk_tokenizer *tok)
{
    int cap = 0;
    sk_status st = SK_OK;
    if (lm) {   /* windows of n_ctx tokens, like perplexity */
        int32_t *ids;
        int n;
        if ((st = sk_tok_encode(tok, text, false, 0, &ids, &n))) return st;
        int windows = n / n_ctx, take = windows < want ? windows : want;
        if (windows == 0) st = sk_err(SK_ERR_INVALID, "%s: %d tokens, fewer than one window of %d", c->path, n, n_ctx);
        c->kind = "windows";
        for (int i = 0; i < take && !st; i++) {
            int w = (int)((int64_t)i * windows / take);
            int32_t *win = sk_malloc((size_t)n_ctx * sizeof *win);
            if (!win) { st = SK_ERR_NOMEM; break; }
            memcpy(win, ids + (size_t)w * (size_t)n_ctx, (size_t)n_ctx * sizeof *win);
            st = add_sample(c, &cap, (sk_calib_sample){.n = n_ctx, .ids = win});
        }
        sk_free(ids);
        return st;
    }
    (void)m;
    char **lines;
    long *nos;
    int nl;
    st = split_lines(text, &lines, &nos, &nl);
    int take = nl < want ? nl : want;
    c->kind = "texts";
    for (int i = 0; i < take && !st; i++) {
        int32_t *ids = NULL;
        int n = 0;
        st = sk_tok_encode(tok, lines[(int64_t)i * nl / take], true, n_ctx, &ids, &n);
        if (!st && n > 0) st = add_sample(c, &cap, (sk_calib_sample){.n = n, .ids = ids});
        else sk_free(ids);
    }
    sk_free(lines);
    sk_free(nos);
    return st;
}

static int by_length(const void *a, const void *b)
{
    const sk_calib_sample *x = a, *y = b;
    if (x->n != y->n) return x->n < y->n ? -1 : 1;
    return x < y ? -1 : x > y;   /* qsort is not stable; the position keeps the file's order */
}

sk_status sk_calib_load(const sk_model *m, const char *path, int n, int n_ctx, sk_calib **out)
{
    *out = NULL;
    if (n <= 0) n = SK_CALIB_N_DEFAULT;
    int max_pos = m->arch.max_pos > 0 ? m->arch.max_pos : 0;
    if (n_ctx <= 0) n_ctx = max_pos && max_pos < SK_CALIB_CTX_DEFAULT ? max_pos : SK_CALIB_CTX_DEFAULT;
    if (max_pos && n_ctx > max_pos)
        return sk_err(SK_ERR_INVALID, "%s: %d tokens per sample, more than the model's %d positions", path, n_ctx, max_pos);
    if (n_ctx < 2) return sk_err(SK_ERR_INVALID, "%s: %d tokens per sample is too few", path, n_ctx);
    char *text;
    size_t len;
    sk_status st = sk_read_file(path, &text, &len);
    if (st) return st;
    sk_calib *c = sk_calloc(1, sizeof *c);
    char *p = sk_strdup(path);
    if (!c || !p) {
        sk_free(c);
        sk_free(p);
        sk_free(text);
        return SK_ERR_NOMEM;
    }
    c->path = p;
    c->n_ctx = n_ctx;
    sk_tokenizer *tok = NULL;
    bool lm = m->arch.family == SK_FAM_GPT2;
    const char *ext = sk_path_ext(path);
    if (!strcmp(ext, ".jsonl") || !strcmp(ext, ".json")) {
        st = load_jsonl(c, m, text, n, n_ctx, lm, &tok);
    } else if (!has_input(m, "input_ids")) {
        st = sk_err(SK_ERR_INVALID, "%s: raw text calibrates models with token inputs; for this model give JSONL lines "
                    "{\"input\": [numbers]}", path);
    } else if (!sk_model_has_tokenizer(m)) {
        st = sk_err(SK_ERR_INVALID, "%s: text calibration needs a tokenizer beside the model", path);
    } else if (!(st = sk_model_tokenizer(m, &tok))) {
        st = load_text(c, m, text, n, n_ctx, lm, tok);
    }
    if (!st && c->n == 0) st = sk_err(SK_ERR_INVALID, "%s: no calibration samples", path);
    /* statistics do not depend on the order: equal lengths next to each other run as one batch, one plan */
    if (!st) qsort(c->s, (size_t)c->n, sizeof *c->s, by_length);
    sk_tok_free(tok);
    sk_free(text);
    if (st) { sk_calib_free(c); return st; }
    *out = c;
    return SK_OK;
}

static bool same_shape(const sk_calib_sample *a, const sk_calib_sample *b)
{
    if (a->n != b->n || !a->ids != !b->ids || a->rank != b->rank) return false;
    for (int d = 0; d < a->rank; d++) if (a->dims[d] != b->dims[d]) return false;
    return true;
}

typedef struct cbatch {      /* samples s[first, first + n) run together */
    int first, n;
    void *live; size_t live_n, live_cap;   /* its values at the cut (sk_session_save) */
} cbatch;

struct sk_calib_stages {
    const sk_model *m;
    const sk_calib *c;
    const sk_tensor *in;     /* what the samples bind */
    int threads;
    bool restart;            /* SHRINK_CALIB_RESUME=0: every run from the inputs (tests compare the two) */
    cbatch *b; int n_b;
    int at;                  /* where the next run starts: 0 = the inputs, else the cut the batches were saved at */
    void *buf; size_t cap;   /* one batch of input values */
};

void sk_calib_stages_free(sk_calib_stages *r)
{
    if (!r) return;
    for (int i = 0; i < r->n_b; i++) sk_free(r->b[i].live);
    sk_free(r->b);
    sk_free(r->buf);
    sk_free(r);
}

sk_status sk_calib_stages_new(const sk_model *m, const sk_calib *c, int threads, sk_calib_stages **out)
{
    *out = NULL;
    const sk_tensor *in = first_input(m);
    if (!in) return sk_err(SK_ERR_INVALID, "calibration: the model has no input");
    sk_calib_stages *r = sk_calloc(1, sizeof *r);
    if (!r) return SK_ERR_NOMEM;
    *r = (sk_calib_stages){.m = m, .c = c, .in = in, .threads = threads};
    const char *env = getenv("SHRINK_CALIB_RESUME");
    r->restart = env && !strcmp(env, "0");
    int cap = 0;
    for (int i = 0; i < c->n;) {   /* equal shapes side by side (sk_calib_load sorted them) */
        const sk_calib_sample *a = &c->s[i];
        int max_b = a->ids ? (int)(BATCH_TOKENS / a->n) : BATCH_INPUTS;
        if (!a->ids && in->rank >= 1 && in->dims[0] >= 0) max_b = 1;   /* a fixed batch dim */
        if (max_b < 1) max_b = 1;
        int b = 1;
        while (i + b < c->n && b < max_b && same_shape(a, &c->s[i + b])) b++;
        if (sk_grow((void **)&r->b, &cap, r->n_b + 1, sizeof *r->b)) { sk_calib_stages_free(r); return SK_ERR_NOMEM; }
        r->b[r->n_b++] = (cbatch){.first = i, .n = b};
        i += b;
    }
    *out = r;
    return SK_OK;
}

/* Bind batch b's samples to the model's input. */
static sk_status bind_batch(sk_calib_stages *r, sk_session *s, const cbatch *b)
{
    const sk_calib_sample *a = &r->c->s[b->first];
    size_t esz = a->ids ? sizeof(int64_t) : sizeof(float), need = (size_t)b->n * (size_t)a->n * esz;
    if (need > r->cap) {
        sk_free(r->buf);
        r->cap = 0;
        if (!(r->buf = sk_malloc(need ? need : 1))) return SK_ERR_NOMEM;
        r->cap = need;
    }
    for (int k = 0; k < b->n; k++) {
        const sk_calib_sample *e = &r->c->s[b->first + k];
        if (e->ids)
            for (int64_t t = 0; t < e->n; t++) ((int64_t *)r->buf)[k * e->n + t] = e->ids[t];
        else
            memcpy((float *)r->buf + k * e->n, e->x, (size_t)e->n * sizeof(float));
    }
    if (a->ids) {   /* token ids go to the first input (input_ids) */
        int64_t dims[2] = {b->n, a->n};
        return sk_session_set_input(s, r->in->name, SK_DT_I64, 2, dims, r->buf);
    }
    int64_t dims[SK_MAX_RANK];
    memcpy(dims, a->dims, sizeof dims);
    dims[0] = b->n;
    return sk_session_set_input(s, r->in->name, SK_DT_F32, a->rank, dims, r->buf);
}

/* Does a node after n, up to stop (-1: the end), read what n writes? */
static bool read_later(const sk_graph *g, int n, int stop)
{
    int end = stop < 0 || stop >= g->n_nodes ? g->n_nodes - 1 : stop;
    for (int j = n + 1; j <= end; j++)
        for (int a = 0; a < g->nodes[j].n_in; a++)
            for (int o = 0; o < g->nodes[n].n_out; o++)
                if (g->nodes[j].in[a] >= 0 && g->nodes[j].in[a] == g->nodes[n].out[o]) return true;
    return false;
}

sk_status sk_calib_stages_run(sk_calib_stages *r, int stop, int keep, const int *skip, int n_skip,
                              sk_session_observer fn, void *ctx)
{
    int from = stop >= 0 && stop < r->at ? 0 : r->at;   /* a stop before the cut: from the inputs */
    /* a cut is kept only where this run passes: at or after its start, before its end */
    bool cut = !r->restart && keep > 0 && keep >= from && (stop < 0 || keep <= stop + 1);
    /* observe-only nodes: at or after the cut (what is saved there is computed), read by nothing up to stop */
    const sk_graph *g = &r->m->g;
    uint8_t *sk = NULL;
    int n_skipped = 0;
    if (!r->restart && n_skip > 0) {
        if (!(sk = sk_calloc((size_t)g->n_nodes, 1))) return SK_ERR_NOMEM;
        for (int i = 0; i < n_skip; i++) {
            int n = skip[i];
            if (n < 0 || n >= g->n_nodes || n < keep || sk[n] || read_later(g, n, stop)) continue;
            sk[n] = 1;
            n_skipped++;
        }
    }
    sk_session *s = NULL;
    sk_session_opts so = {.threads = r->threads};
    sk_status st = sk_session_new(r->m, &so, &s);   /* fresh: packed weights from the weights as they are now */
    if (st) { sk_free(sk); return st; }
    sk_session_set_observer(s, fn, ctx);
    sk_session_set_skip(s, sk);
    for (int i = 0; i < r->n_b && !st; i++) {
        cbatch *b = &r->b[i];
        st = bind_batch(r, s, b);
        if (!st && from > 0) st = sk_session_load(s, from, b->live, b->live_n);
        if (!st && cut && keep > from) {   /* up to the cut, save there, then on */
            sk_session_set_stop(s, keep - 1);
            if (!(st = sk_session_run_from(s, from))) st = sk_session_save(s, keep, &b->live, &b->live_n, &b->live_cap);
            sk_session_set_stop(s, stop);
            if (!st) st = sk_session_run_from(s, keep);
        } else if (!st) {   /* keep == from: what was loaded is still what the next run needs */
            sk_session_set_stop(s, stop);
            st = sk_session_run_from(s, from);
        }
    }
    sk_session_free(s);
    sk_free(sk);
    size_t kept = 0;
    for (int i = 0; i < r->n_b && cut; i++) kept += r->b[i].live_n;
    sk_log("calibration: %d samples from %s to node %d, %d nodes observed only; %s%.1f MB kept", r->c->n,
           from ? "a cut" : "the inputs", stop, n_skipped, cut ? "cut at the next run's start, " : "no cut, ",
           (double)kept / 1e6);
    r->at = cut && !st ? keep : 0;
    for (int i = 0; i < r->n_b && !r->at; i++) {
        sk_free(r->b[i].live);
        r->b[i].live = NULL;
        r->b[i].live_n = r->b[i].live_cap = 0;
    }
    return st;
}

sk_status sk_calib_run(const sk_model *m, const sk_calib *c, int threads, int stop, sk_session_observer fn, void *ctx)
{
    sk_calib_stages *r;
    sk_status st = sk_calib_stages_new(m, c, threads, &r);
    if (st) return st;
    st = sk_calib_stages_run(r, stop, -1, NULL, 0, fn, ctx);
    sk_calib_stages_free(r);
    return st;
}
