/* student.c — build a distillation student from its teacher.
 *
 * A student is the teacher's template (arch/bert.c, arch/gpt2.c) with a
 * smaller config, or (for a classifier teacher) a small token classifier
 * built here: a bag-of-embeddings MLP, an LSTM / GRU or a 1-D CNN over the
 * teacher's vocabulary, initialised as PyTorch initialises those layers.
 * With the teacher's widths (or init=copy) a transformer student starts from
 * the teacher's weights: embeddings, final norm, pooler and classifier as they
 * are, and student layer i from teacher layer i·L_t/L_s (DistilBERT: every
 * other layer).  With another width nothing can be copied; then, or with
 * init=fresh, every weight is initialised from the seed the way Hugging Face
 * initialises BERT / GPT-2: N(0, 0.02) matrices and embeddings, norm scales 1,
 * biases and norm shifts 0.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "arch/arch.h"
#include "train/train.h"

/* key=value or a bare key (value NULL); false at the end of spec */
static bool next_kv(const char **p, char *key, size_t kcap, char *val, size_t vcap, bool *has_val)
{
    if (!**p) return false;
    size_t n = strcspn(*p, ",");
    const char *eq = memchr(*p, '=', n);
    size_t kl = eq ? (size_t)(eq - *p) : n, vl = eq ? n - kl - 1 : 0;
    snprintf(key, kcap, "%.*s", (int)(kl < kcap ? kl : kcap - 1), *p);
    snprintf(val, vcap, "%.*s", (int)(vl < vcap ? vl : vcap - 1), eq ? eq + 1 : "");
    *has_val = eq != NULL;
    *p += n + ((*p)[n] == ',');
    return true;
}

sk_status sk_student_parse(const char *spec, sk_student_spec *s)
{
    static const char *const kinds[] = {"", "mlp", "rnn", "cnn"};
    memset(s, 0, sizeof *s);
    if (!*spec)
        return sk_err(SK_ERR_USAGE, "student spec is empty (expected e.g. layers=2, mlp,hidden=256 or rnn=gru)");
    char key[32], val[32];
    bool has_val;
    for (const char *p = spec; next_kv(&p, key, sizeof key, val, sizeof val, &has_val);) {
        int kind = 0;
        for (int k = 1; k < 4; k++) if (!strcmp(key, kinds[k])) kind = k;
        if (kind) {
            if (s->kind) return sk_err(SK_ERR_USAGE, "student spec '%s': more than one of mlp, rnn, cnn", spec);
            s->kind = (sk_student_kind)kind;
            if (kind == SK_STUDENT_RNN) {
                if (!strcmp(val, "lstm")) s->cell = SK_OP_LSTM;
                else if (!strcmp(val, "gru")) s->cell = SK_OP_GRU;
                else return sk_err(SK_ERR_USAGE, "student spec '%s': rnn=lstm or rnn=gru", spec);
            } else if (has_val && strcmp(val, kind == SK_STUDENT_MLP ? "bag" : "1d")) {
                return sk_err(SK_ERR_USAGE, "student spec '%s': '%s' takes no value%s", spec, key,
                              kind == SK_STUDENT_MLP ? " (or bag)" : " (or 1d)");
            }
            continue;
        }
        if (!strcmp(key, "init")) {
            if (!strcmp(val, "copy")) s->init = SK_INIT_COPY;
            else if (!strcmp(val, "fresh")) s->init = SK_INIT_FRESH;
            else return sk_err(SK_ERR_USAGE, "student spec '%s': init=copy or init=fresh", spec);
            continue;
        }
        char *end;
        long v = strtol(val, &end, 10);
        if (!has_val || end == val || *end || v < 1 || v > 1 << 20)
            return sk_err(SK_ERR_USAGE, "student spec '%s': bad value for '%s'", spec, key);
        int *dst = !strcmp(key, "layers") ? &s->layers : !strcmp(key, "hidden") ? &s->hidden
                 : !strcmp(key, "heads") ? &s->heads : !strcmp(key, "ffn") ? &s->ffn
                 : !strcmp(key, "emb") ? &s->emb : !strcmp(key, "kernel") ? &s->kernel
                 : !strcmp(key, "dirs") ? &s->dirs : NULL;
        if (!dst)
            return sk_err(SK_ERR_USAGE, "student spec '%s': unknown key '%s' (layers, hidden, heads, ffn, init; mlp, "
                          "rnn=lstm|gru, cnn with emb, hidden, layers, kernel, dirs)", spec, key);
        *dst = (int)v;
    }
    bool small = s->kind != SK_STUDENT_SAME;
    const char *bad = small && s->heads ? "heads" : small && s->ffn ? "ffn" : small && s->init ? "init"
                    : !small && s->emb ? "emb"
                    : s->kernel && s->kind != SK_STUDENT_CNN ? "kernel" : s->dirs && s->kind != SK_STUDENT_RNN ? "dirs" : NULL;
    if (bad)
        return sk_err(SK_ERR_USAGE, "student spec '%s': '%s' does not apply to a%s student", spec, bad,
                      small ? (s->kind == SK_STUDENT_RNN ? "n rnn" : s->kind == SK_STUDENT_MLP ? "n mlp" : " cnn") : " transformer");
    if (s->kernel && s->kernel % 2 == 0)
        return sk_err(SK_ERR_USAGE, "student spec '%s': kernel must be odd (padded to keep the length)", spec);
    if (s->dirs > 2) return sk_err(SK_ERR_USAGE, "student spec '%s': dirs is 1 or 2", spec);
    return SK_OK;
}

int sk_student_hidden_node(const sk_model *m)
{
    const sk_graph *g = &m->g;
    int last = -1;
    for (int i = 0; i < g->n_nodes; i++) {
        const char *n = g->nodes[i].name ? g->nodes[i].name : "";
        if (m->arch.family == SK_FAM_GPT2 && !strcmp(n, "ln_f")) return i;
        if (m->arch.family == SK_FAM_BERT && g->nodes[i].op == SK_OP_SKIP_LAYERNORM && strstr(n, ".output.LayerNorm") &&
            !strstr(n, "attention"))
            last = i;
    }
    return last;
}

typedef struct {
    const sk_model *t;
    const int *map;          /* student layer → teacher layer */
    int n_layers;
    bool copy;
    sk_rng rng;
} sctx;

/* name with its layer index ("encoder.layer.3." or "h.3.") mapped; false if it has none */
static bool remap(const char *name, const int *map, int n, char *out, size_t cap)
{
    static const char *const keys[] = {"layer.", "h."};
    for (int k = 0; k < 2; k++) {
        size_t kl = strlen(keys[k]);
        for (const char *p = strstr(name, keys[k]); p; p = strstr(p + 1, keys[k])) {
            if (p != name && p[-1] != '.') continue;
            const char *d = p + kl;
            if (!isdigit((unsigned char)*d)) continue;
            char *end;
            long i = strtol(d, &end, 10);
            if (*end != '.' || i < 0 || i >= n) continue;
            snprintf(out, cap, "%.*s%d%s", (int)(d - name), name, map[i], end);
            return true;
        }
    }
    snprintf(out, cap, "%s", name);
    return false;
}

static int find_teacher(const sk_model *t, const char *name)
{
    int id = sk_graph_find_tensor(&t->g, name);
    if (id >= 0) return id;
    static const char *const pre[] = {"bert.", "transformer."};   /* HF saves base models without them */
    for (int i = 0; i < 2; i++) {
        size_t l = strlen(pre[i]);
        if (!strncmp(name, pre[i], l) && (id = sk_graph_find_tensor(&t->g, name + l)) >= 0) return id;
    }
    return -1;
}

static bool is_norm_scale(const char *name)
{
    const char *last = strrchr(name, '.');
    if (!last || strcmp(last, ".weight")) return false;
    return strstr(name, "LayerNorm.") || strstr(name, "ln_");
}

static sk_status student_weight(void *ctx, sk_model *m, const char *name, int rank, const int64_t *dims,
                                bool optional, int *id)
{
    sctx *c = ctx;
    *id = -1;
    int64_t n = 1;
    for (int i = 0; i < rank; i++) n *= dims[i];
    float *d = NULL;
    if (c->copy) {
        char tname[256];
        remap(name, c->map, c->n_layers, tname, sizeof tname);
        int tid = find_teacher(c->t, tname);
        if (tid < 0) {
            if (optional) return SK_OK;
            return sk_err(SK_ERR_INVALID, "student: teacher has no weight '%s'", tname);
        }
        const sk_tensor *tt = &c->t->g.tensors[tid];
        if (tt->dtype != SK_DT_F32 || tt->quant || !tt->data)
            return sk_err(SK_ERR_UNSUPPORTED, "student: teacher weight '%s' is not f32 (distil from the unquantized "
                          "teacher)", tname);
        if (sk_tensor_numel(tt) != n)
            return sk_err(SK_ERR_UNSUPPORTED, "student: teacher weight '%s' has %lld values, a copy at the config's "
                          "widths needs %lld (a teacher with pruned heads or FFN neurons: use init=fresh, or distil "
                          "from the unpruned model)", tname, (long long)sk_tensor_numel(tt), (long long)n);
        if (!(d = sk_malloc((size_t)(n ? n : 1) * sizeof *d))) return SK_ERR_NOMEM;
        memcpy(d, tt->data, (size_t)n * sizeof *d);
    } else {
        if (optional && !strcmp(name, "lm_head.weight")) return SK_OK;   /* tied to wte, as GPT-2 */
        if (!(d = sk_malloc((size_t)(n ? n : 1) * sizeof *d))) return SK_ERR_NOMEM;
        bool bias = strlen(name) > 5 && !strcmp(name + strlen(name) - 5, ".bias");
        for (int64_t i = 0; i < n; i++)
            d[i] = is_norm_scale(name) ? 1.0f : bias ? 0.0f : 0.02f * sk_rng_normal(&c->rng);
    }
    if ((*id = sk_graph_add_const(&m->g, name, SK_DT_F32, rank, dims, d, true)) < 0) return SK_ERR_NOMEM;
    return SK_OK;
}

static sk_status copy_arch(sk_arch *dst, const sk_arch *src)
{
    *dst = *src;
    dst->labels = NULL;
    if (!src->labels) return SK_OK;
    if (!(dst->labels = sk_calloc((size_t)src->n_labels + 1, sizeof *dst->labels))) return SK_ERR_NOMEM;
    for (int i = 0; i < src->n_labels; i++)
        if (src->labels[i] && !(dst->labels[i] = sk_strdup(src->labels[i]))) return SK_ERR_NOMEM;
    return SK_OK;
}

/* ---- small students: token classifiers built here, initialised as PyTorch does ---- */
typedef struct {
    sk_rng rng;
    float bound;             /* U(±bound); 0 = N(0, 1) (nn.Embedding) */
} ictx;

static sk_status small_weight(void *ctx, sk_model *m, const char *name, int rank, const int64_t *dims, bool optional,
                              int *id)
{
    ictx *c = ctx;
    (void)optional;
    int64_t n = 1;
    for (int i = 0; i < rank; i++) n *= dims[i];
    float *d = sk_malloc((size_t)(n ? n : 1) * sizeof *d);
    if (!d) return SK_ERR_NOMEM;
    for (int64_t i = 0; i < n; i++)
        d[i] = c->bound > 0 ? (float)((2 * sk_rng_uniform(&c->rng) - 1) * c->bound) : sk_rng_normal(&c->rng);
    if ((*id = sk_graph_add_const(&m->g, name, SK_DT_F32, rank, dims, d, true)) < 0) return SK_ERR_NOMEM;
    return SK_OK;
}

/* a weight initialised U(±1/√fan_in) (fan_in 0: N(0, 1)) */
static int init_w(sk_ab *b, ictx *c, int64_t fan_in, int rank, const int64_t *dims, const char *name)
{
    c->bound = fan_in > 0 ? (float)(1.0 / sqrt((double)fan_in)) : 0.0f;
    return sk_ab_weight(b, false, rank, dims, "%s", name);
}

/* sk_ab_node with an INTS attribute (perm, axes, pads); *node (may be NULL) gets the node */
static int node_ints(sk_ab *b, sk_op op, const char *name, const int *ins, int n_in, sk_dtype dt, int rank,
                     const int64_t *dims, const char *attr, const int64_t *v, int nv, int *node)
{
    int nd = -1, y = sk_ab_node(b, op, name, ins, n_in, dt, rank, dims, &nd);
    if (y >= 0 && sk_node_set_ints(&b->m->g.nodes[nd], attr, v, nv)) b->st = SK_ERR_NOMEM;
    if (node) *node = nd;
    return b->st ? -1 : y;
}

/* ReduceSum of x over axis 1 ([B, S, ...] → [B, ...], or [B, 1] with keep) */
static int sum_axis1(sk_ab *b, const char *name, int x, sk_dtype dt, int rank, const int64_t *dims, bool keep)
{
    int nd = -1, y = node_ints(b, SK_OP_REDUCE_SUM, name, &x, 1, dt, rank, dims, "axes", (int64_t[]){1}, 1, &nd);
    sk_ab_set_i(b, nd, "keepdims", keep);
    return b->st ? -1 : y;
}

/* x [B, S, C] → Σ_s x·mask / Σ_s mask  [B, C] (mask3 [B, S, 1] f32, count [B, 1]) */
static int masked_mean(sk_ab *b, int x, int mask3, int count, int64_t C)
{
    int xm = sk_ab_node(b, SK_OP_MUL, "pool.masked", (int[]){x, mask3}, 2, SK_DT_F32, 3, (int64_t[]){-1, -1, C}, NULL);
    int sum = sum_axis1(b, "pool.sum", xm, SK_DT_F32, 2, (int64_t[]){-1, C}, false);
    return sk_ab_node(b, SK_OP_DIV, "pool.mean", (int[]){sum, count}, 2, SK_DT_F32, 2, (int64_t[]){-1, C}, NULL);
}

/* one LSTM / GRU layer over x [S, B, I]: outputs Y [S, dirs, B, H] and Y_h [dirs, B, H] */
static void rnn_layer(sk_ab *b, ictx *c, const sk_student_spec *s, int l, int x, int lens, int64_t I, int64_t H,
                      int *y, int *yh)
{
    int64_t D = s->dirs, G = s->cell == SK_OP_LSTM ? 4 : 3;
    char n[64];
    snprintf(n, sizeof n, "rnn.%d.W", l);
    int w = init_w(b, c, H, 3, (int64_t[]){D, G * H, I}, n);
    snprintf(n, sizeof n, "rnn.%d.R", l);
    int r = init_w(b, c, H, 3, (int64_t[]){D, G * H, H}, n);
    snprintf(n, sizeof n, "rnn.%d.B", l);
    int bias = init_w(b, c, H, 2, (int64_t[]){D, 2 * G * H}, n);
    if (b->st) return;
    snprintf(n, sizeof n, "rnn.%d", l);
    sk_graph *g = &b->m->g;
    *y = sk_graph_add_tensor(g, n, SK_DT_F32, 4, (int64_t[]){-1, D, -1, H});
    snprintf(n, sizeof n, "rnn.%d.Y_h", l);
    *yh = sk_graph_add_tensor(g, n, SK_DT_F32, 3, (int64_t[]){D, -1, H});
    int nd = *y < 0 || *yh < 0 ? -1 : sk_graph_add_node(g, s->cell, g->tensors[*y].name, (int[]){x, w, r, bias, lens}, 5,
                                                       (int[]){*y, *yh}, 2);
    if (nd < 0) { b->st = SK_ERR_NOMEM; return; }
    sk_ab_set_i(b, nd, "hidden_size", H);
    sk_ab_set_s(b, nd, "direction", D == 2 ? "bidirectional" : "forward");
    if (s->cell == SK_OP_GRU) sk_ab_set_i(b, nd, "linear_before_reset", 1);   /* PyTorch's GRU */
}

/* embeddings x [B, S, E] → the last state of each direction of the last layer [B, dirs·H] */
static int rnn_features(sk_ab *b, ictx *c, const sk_student_spec *s, int x, int mask, int64_t E, int64_t H, int L)
{
    const int64_t D = s->dirs;
    char n[64];
    int nd = -1, sum = sum_axis1(b, "rnn.lengths.sum", mask, SK_DT_I64, 1, (int64_t[]){-1}, false);
    int lens = sk_ab_node(b, SK_OP_CAST, "rnn.lengths", &sum, 1, SK_DT_I32, 1, (int64_t[]){-1}, &nd);
    sk_ab_set_i(b, nd, "to", 6);   /* ONNX int32, as sequence_lens must be */
    int h = node_ints(b, SK_OP_TRANSPOSE, "rnn.time_major", &x, 1, SK_DT_F32, 3, (int64_t[]){-1, -1, E}, "perm",
                      (int64_t[]){1, 0, 2}, 3, NULL);
    int shp = sk_ab_const_i64(b, "rnn.shape.sbf", 1, (int64_t[]){3}, (int64_t[]){0, 0, -1});
    int64_t I = E;
    int y = -1, yh = -1;
    for (int l = 0; l < L && !b->st; l++) {
        rnn_layer(b, c, s, l, h, lens, I, H, &y, &yh);
        if (l + 1 == L) break;
        snprintf(n, sizeof n, "rnn.%d.out", l);   /* Y [S, D, B, H] → [S, B, D·H] */
        int t = node_ints(b, SK_OP_TRANSPOSE, n, &y, 1, SK_DT_F32, 4, (int64_t[]){-1, -1, D, H}, "perm",
                          (int64_t[]){0, 2, 1, 3}, 4, NULL);
        snprintf(n, sizeof n, "rnn.%d.next", l);
        h = sk_ab_node(b, SK_OP_RESHAPE, n, (int[]){t, shp}, 2, SK_DT_F32, 3, (int64_t[]){-1, -1, D * H}, NULL);
        I = D * H;
    }
    if (b->st) return -1;
    int t = node_ints(b, SK_OP_TRANSPOSE, "rnn.last", &yh, 1, SK_DT_F32, 3, (int64_t[]){-1, D, H}, "perm",
                      (int64_t[]){1, 0, 2}, 3, NULL);
    int shp2 = sk_ab_const_i64(b, "rnn.shape.bf", 1, (int64_t[]){2}, (int64_t[]){0, -1});
    return sk_ab_node(b, SK_OP_RESHAPE, "rnn.features", (int[]){t, shp2}, 2, SK_DT_F32, 2, (int64_t[]){-1, D * H}, NULL);
}

/* embeddings x [B, S, E] with padding zeroed → [B, H, S] after L × (Conv1d, ReLU, padding zeroed) → [B, S, H] */
static int cnn_layers(sk_ab *b, ictx *c, int x, int maskf, int64_t E, int64_t H, int64_t K, int L)
{
    char n[64];
    int mc = node_ints(b, SK_OP_UNSQUEEZE, "cnn.mask", &maskf, 1, SK_DT_F32, 3, (int64_t[]){-1, 1, -1}, "axes",
                       (int64_t[]){1}, 1, NULL);
    x = node_ints(b, SK_OP_TRANSPOSE, "cnn.channels_first", &x, 1, SK_DT_F32, 3, (int64_t[]){-1, E, -1}, "perm",
                  (int64_t[]){0, 2, 1}, 3, NULL);
    for (int l = 0; l < L && !b->st; l++) {
        int64_t Cin = l ? H : E;
        snprintf(n, sizeof n, "cnn.%d.weight", l);
        int w = init_w(b, c, Cin * K, 3, (int64_t[]){H, Cin, K}, n);
        snprintf(n, sizeof n, "cnn.%d.bias", l);
        int bias = init_w(b, c, Cin * K, 1, (int64_t[]){H}, n);
        snprintf(n, sizeof n, "cnn.%d", l);
        int y = node_ints(b, SK_OP_CONV, n, (int[]){x, w, bias}, 3, SK_DT_F32, 3, (int64_t[]){-1, H, -1}, "pads",
                          (int64_t[]){K / 2, K / 2}, 2, NULL);
        snprintf(n, sizeof n, "cnn.%d.relu", l);
        y = sk_ab_node(b, SK_OP_RELU, n, &y, 1, SK_DT_F32, 3, (int64_t[]){-1, H, -1}, NULL);
        snprintf(n, sizeof n, "cnn.%d.masked", l);   /* padding back to 0, as the next conv's zero padding */
        x = sk_ab_node(b, SK_OP_MUL, n, (int[]){y, mc}, 2, SK_DT_F32, 3, (int64_t[]){-1, H, -1}, NULL);
    }
    return node_ints(b, SK_OP_TRANSPOSE, "cnn.channels_last", &x, 1, SK_DT_F32, 3, (int64_t[]){-1, -1, H}, "perm",
                     (int64_t[]){0, 2, 1}, 3, NULL);
}

static sk_status build_small(sk_model *m, const sk_model *teacher, const sk_student_spec *s, uint64_t seed)
{
    sk_arch *a = &m->arch;
    if (teacher->arch.family != SK_FAM_BERT || strcmp(teacher->arch.task, "seq-classification") ||
        teacher->arch.n_labels < 1 || teacher->arch.vocab < 1)
        return sk_err(SK_ERR_UNSUPPORTED, "student: mlp, rnn and cnn students need a classifier teacher over tokens "
                      "(BERT seq-classification); this one is %s %s", sk_family_name(teacher->arch.family),
                      teacher->arch.task);
    const bool rnn = s->kind == SK_STUDENT_RNN, cnn = s->kind == SK_STUDENT_CNN;
    const int64_t E = s->emb ? s->emb : 128, H = s->hidden ? s->hidden : rnn || cnn ? 128 : 256;
    const int64_t V = a->vocab, Cl = a->n_labels, K = s->kernel ? s->kernel : 3;
    const int L = s->layers ? s->layers : 1;
    sk_student_spec sp = *s;
    if (!sp.dirs) sp.dirs = 1;
    a->family = rnn ? SK_FAM_RNN : cnn ? SK_FAM_CNN : SK_FAM_MLP;
    a->n_layers = L;
    a->hidden = (int)H;
    a->heads = a->ffn = a->type_vocab = 0;
    snprintf(a->act, sizeof a->act, "%s", rnn ? (s->cell == SK_OP_LSTM ? "lstm" : "gru") : "relu");
    ictx c = {{seed ^ 0x5a11ull}, 0};
    sk_ab b = {.m = m, .wfn = small_weight, .wctx = &c};
    int ids = sk_ab_input2(&b, "input_ids", "batch", "sequence");
    int mask = sk_ab_input2(&b, "attention_mask", "batch", "sequence");
    int wemb = init_w(&b, &c, 0, 2, (int64_t[]){V, E}, "embeddings.word_embeddings.weight");
    int nd = -1, x = sk_ab_node(&b, SK_OP_GATHER, "embeddings.word_embeddings", (int[]){wemb, ids}, 2, SK_DT_F32, 3,
                                 (int64_t[]){-1, -1, E}, &nd);
    sk_ab_set_i(&b, nd, "axis", 0);
    int feat;
    int64_t F = rnn ? sp.dirs * H : cnn ? H : E;
    if (rnn) {
        feat = rnn_features(&b, &c, &sp, x, mask, E, H, L);
    } else {   /* padding masked out, mean over the tokens */
        int maskf = sk_ab_node(&b, SK_OP_CAST, "pool.mask", &mask, 1, SK_DT_F32, 2, (int64_t[]){-1, -1}, &nd);
        sk_ab_set_i(&b, nd, "to", 1);
        int mask3 = node_ints(&b, SK_OP_UNSQUEEZE, "pool.mask3", &maskf, 1, SK_DT_F32, 3, (int64_t[]){-1, -1, 1}, "axes",
                              (int64_t[]){2}, 1, NULL);
        int count = sum_axis1(&b, "pool.count", maskf, SK_DT_F32, 2, (int64_t[]){-1, 1}, true);
        if (cnn) {
            int xm = sk_ab_node(&b, SK_OP_MUL, "cnn.input.masked", (int[]){x, mask3}, 2, SK_DT_F32, 3,
                                (int64_t[]){-1, -1, E}, NULL);
            x = cnn_layers(&b, &c, xm, maskf, E, H, K, L);
        }
        feat = masked_mean(&b, x, mask3, count, F);
        for (int l = 0; !cnn && l < L && !b.st; l++) {   /* the MLP */
            char n[64];
            int64_t in = l ? H : E;
            snprintf(n, sizeof n, "mlp.%d.weight", l);
            int w = init_w(&b, &c, in, 2, (int64_t[]){H, in}, n);
            snprintf(n, sizeof n, "mlp.%d.bias", l);
            int bias = init_w(&b, &c, in, 1, (int64_t[]){H}, n);
            snprintf(n, sizeof n, "mlp.%d", l);
            feat = sk_ab_linear(&b, n, feat, w, bias, 1, H, "relu");
            F = H;
        }
    }
    int wc = init_w(&b, &c, F, 2, (int64_t[]){Cl, F}, "classifier.weight");
    int bc = init_w(&b, &c, F, 1, (int64_t[]){Cl}, "classifier.bias");
    int logits = sk_ab_linear(&b, "classifier", feat, wc, bc, 1, Cl, NULL);
    sk_ab_output(&b, logits, "logits", (const char *const[]){"batch", NULL});
    return b.st;
}

sk_status sk_student_build(const sk_model *teacher, const sk_student_spec *s, uint64_t seed, sk_model **out)
{
    *out = NULL;
    const sk_arch *ta = &teacher->arch;
    if (ta->family != SK_FAM_BERT && ta->family != SK_FAM_GPT2)
        return sk_err(SK_ERR_UNSUPPORTED, "student: teacher family '%s' has no template (bert, gpt2)",
                      sk_family_name(ta->family));
    sk_model *m = sk_model_new();
    if (!m) return SK_ERR_NOMEM;
    int *map = NULL;
    sk_status st = copy_arch(&m->arch, ta);
    if (st) goto fail;
    if (s->kind != SK_STUDENT_SAME) {
        if ((st = build_small(m, teacher, s, seed))) goto fail;
        goto files;
    }
    sk_arch *a = &m->arch;
    if (s->layers) a->n_layers = s->layers;
    if (s->hidden) a->hidden = s->hidden;
    if (s->heads) a->heads = s->heads;
    if (s->ffn) a->ffn = s->ffn;
    bool same_width = a->hidden == ta->hidden && a->heads == ta->heads && a->ffn == ta->ffn;
    bool copy = s->init == SK_INIT_COPY || (s->init == SK_INIT_AUTO && same_width);
    if (copy && !same_width) {
        st = sk_err(SK_ERR_INVALID, "student: init=copy needs the teacher's widths (hidden %d, heads %d, ffn %d); this "
                    "student has hidden %d, heads %d, ffn %d (drop init=copy to train it from a fresh init)",
                    ta->hidden, ta->heads, ta->ffn, a->hidden, a->heads, a->ffn);
        goto fail;
    }
    if (copy && a->n_layers > ta->n_layers) {
        st = sk_err(SK_ERR_INVALID, "student: %d layers copied from a teacher of %d (use fewer layers, or init=fresh "
                    "to train a fresh student)", a->n_layers, ta->n_layers);
        goto fail;
    }
    if ((st = sk_arch_check(a))) goto fail;
    if (!(map = sk_malloc((size_t)a->n_layers * sizeof *map))) { st = SK_ERR_NOMEM; goto fail; }
    for (int i = 0; i < a->n_layers; i++) map[i] = (int)((int64_t)i * ta->n_layers / a->n_layers);
    sctx c = {teacher, map, a->n_layers, copy, {seed ^ 0x5eed5eedull}};
    if ((st = sk_arch_build(m, a, student_weight, &c))) goto fail;
files:
    for (int i = 0; i < teacher->n_files; i++)
        if ((st = sk_model_add_file(m, teacher->files[i].name, teacher->files[i].data, teacher->files[i].len))) goto fail;
    if (teacher->tokenizer_dir && !(m->tokenizer_dir = sk_strdup(teacher->tokenizer_dir))) { st = SK_ERR_NOMEM; goto fail; }
    if ((st = sk_graph_verify(&m->g))) goto fail;
    sk_free(map);
    *out = m;
    return SK_OK;
fail:
    sk_free(map);
    sk_model_free(m);
    return st;
}
