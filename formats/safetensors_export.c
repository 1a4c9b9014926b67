/* safetensors_export.c — write a model as a Hugging Face checkpoint:
 * model.safetensors + config.json (+ the tokenizer's files), which
 * transformers' from_pretrained loads.
 *
 * Only models built by the BERT / GPT-2 templates (src/arch: the HF import,
 * and what passes made of it) have a Hugging Face form.  Their node names are
 * HF's module names, so each weight's HF name is the node's name, the
 * family's prefix ("bert." / "transformer." for the task models, none for
 * the classifier and the LM head) and the slot's suffix (".weight" /
 * ".bias").  Every parameter the template would ask for must be there as
 * fp32, with shapes that fit the config written; anything else (a quantized
 * layer, an ONNX-imported graph) is refused naming the first problem.
 *
 * Pruned models: attention heads removed per layer are written the way
 * transformers itself saves a model after prune_heads — num_attention_heads
 * (n_head) stays hidden / head width and config.json lists "pruned_heads"
 * per layer, so layers may keep different numbers of heads; the FFN width is
 * one intermediate_size (n_inner), so every layer must have the same.
 *
 * Files are written to temporaries and renamed into place only when all of
 * them were written; without o->force an existing file is refused first.
 */
#include <cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "formats.h"
#include "util/util.h"

#define MAX_FILES 8

typedef struct ent {        /* one tensor of the checkpoint */
    char *name;
    int tid;
} ent;

typedef struct exp_ctx {
    const sk_model *m;
    const char *path;
    ent *e; int n, cap;
} exp_ctx;

static int by_name(const void *a, const void *b) { return strcmp(((const ent *)a)->name, ((const ent *)b)->name); }

static sk_status add(exp_ctx *x, const char *name, int tid)
{
    for (int i = 0; i < x->n; i++) {
        if (strcmp(x->e[i].name, name)) continue;
        if (x->e[i].tid == tid) return SK_OK;
        return sk_err(SK_ERR_INVALID, "%s: two different tensors would both be '%s'", x->path, name);
    }
    if (sk_grow((void **)&x->e, &x->cap, x->n + 1, sizeof *x->e)) return SK_ERR_NOMEM;
    if (!(x->e[x->n].name = sk_strdup(name))) return SK_ERR_NOMEM;
    x->e[x->n++].tid = tid;
    return SK_OK;
}

static const ent *find(const exp_ctx *x, const char *name)
{
    for (int i = 0; i < x->n; i++) if (!strcmp(x->e[i].name, name)) return &x->e[i];
    return NULL;
}

/* The HF suffix of input slot k of a template node, or NULL for none. */
static const char *slot_suffix(sk_op op, int k)
{
    switch (op) {
    case SK_OP_LINEAR: return k == 1 ? "weight" : k == 2 ? "bias" : NULL;
    case SK_OP_LAYERNORM: return k == 1 ? "weight" : k == 2 ? "bias" : NULL;
    case SK_OP_SKIP_LAYERNORM: return k == 2 ? "weight" : k == 3 ? "bias" : NULL;
    case SK_OP_GATHER: return k == 0 ? "weight" : NULL;
    default: return NULL;
    }
}

/* Collect every parameter under its HF name. */
static sk_status collect(exp_ctx *x, const char *prefix)
{
    const sk_graph *g = &x->m->g;
    char name[512];
    int wte = -1;
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i].op == SK_OP_GATHER && !strcmp(g->nodes[i].name, "wte")) wte = g->nodes[i].in[0];
    for (int i = 0; i < g->n_nodes; i++) {
        const sk_node *n = &g->nodes[i];
        for (int k = 0; k < n->n_in; k++) {
            const char *suf = slot_suffix(n->op, k);
            int t = n->in[k];
            if (!suf || t < 0 || !(g->tensors[t].flags & SK_TF_CONST)) continue;
            const sk_tensor *tt = &g->tensors[t];
            if (n->op == SK_OP_GATHER && !(tt->flags & SK_TF_WEIGHT)) continue;
            if ((n->op == SK_OP_LINEAR && n->n_in > 3 && n->in[3] >= 0) || (n->op == SK_OP_GATHER && n->n_in > 2))
                return sk_err(SK_ERR_UNSUPPORTED, "%s: %s '%s' is quantized (%s); a Hugging Face checkpoint here holds "
                              "fp32 weights (write .skm or .onnx instead)", x->path,
                              n->op == SK_OP_GATHER ? "table" : "layer", n->name, sk_dtype_info(tt->dtype)->name);
            if (tt->dtype != SK_DT_F32)
                return sk_err(SK_ERR_UNSUPPORTED, "%s: '%s' input %d is %s, expected f32", x->path, n->name, k,
                              sk_dtype_info(tt->dtype)->name);
            bool bare = !strcmp(n->name, "classifier") || !strcmp(n->name, "lm_head");
            if (!strcmp(n->name, "lm_head") && t == wte) continue;   /* tied to the embedding */
            snprintf(name, sizeof name, "%s%s.%s", bare ? "" : prefix, n->name, suf);
            sk_status st = add(x, name, t);
            if (st) return st;
        }
    }
    return SK_OK;
}

/* ---- checking the parameters against the template ---- */

/* The tensor called name, with rank 2 (cols > 0: [rows, cols]) or rank 1
 * (cols 0: [rows]); rows / cols -1 = any, reported through *r / *c. */
static sk_status need(const exp_ctx *x, const char *name, int64_t rows, int64_t cols, int64_t *r, int64_t *c)
{
    const ent *e = find(x, name);
    if (!e)
        return sk_err(SK_ERR_UNSUPPORTED, "%s: the model has no '%s': not a %s graph from the Hugging Face template "
                      "(write .skm or .onnx instead)", x->path, name, sk_family_name(x->m->arch.family));
    const sk_tensor *t = &x->m->g.tensors[e->tid];
    int rank = cols ? 2 : 1;
    bool ok = t->rank == rank && (rows < 0 || t->dims[0] == rows) && (rank == 1 || cols < 0 || t->dims[1] == cols);
    if (!ok) {
        char got[64];
        if (t->rank == 2) snprintf(got, sizeof got, "[%lld, %lld]", (long long)t->dims[0], (long long)t->dims[1]);
        else snprintf(got, sizeof got, "rank %d", t->rank);
        return sk_err(SK_ERR_INVALID, "%s: '%s' has shape %s, which does not fit the config (%lld%s%lld)", x->path, name,
                      got, (long long)rows, rank == 2 ? " x " : "", (long long)(rank == 2 ? cols : 0));
    }
    if (r) *r = t->dims[0];
    if (c) *c = rank == 2 ? t->dims[1] : 0;
    return SK_OK;
}

typedef struct layer_dims { int64_t hq, ffn; } layer_dims;

/* BERT: every parameter; per layer its q width and FFN width. */
static sk_status check_bert(const exp_ctx *x, const char *p, layer_dims *ld, bool *pooler)
{
    const sk_arch *a = &x->m->arch;
    const int64_t H = a->hidden;
    char n[512];
    sk_status st;
#define NEED(rows, cols, r, c, ...) (snprintf(n, sizeof n, __VA_ARGS__), need(x, n, rows, cols, r, c))
    if ((st = NEED(a->vocab, H, NULL, NULL, "%sembeddings.word_embeddings.weight", p)) ||
        (st = NEED(a->max_pos, H, NULL, NULL, "%sembeddings.position_embeddings.weight", p)) ||
        (st = NEED(a->type_vocab, H, NULL, NULL, "%sembeddings.token_type_embeddings.weight", p)) ||
        (st = NEED(H, 0, NULL, NULL, "%sembeddings.LayerNorm.weight", p)) ||
        (st = NEED(H, 0, NULL, NULL, "%sembeddings.LayerNorm.bias", p)))
        return st;
    for (int i = 0; i < a->n_layers; i++) {
        int64_t hq, f;
        const char *L = "encoder.layer";
        if ((st = NEED(-1, H, &hq, NULL, "%s%s.%d.attention.self.query.weight", p, L, i)) ||
            (st = NEED(hq, 0, NULL, NULL, "%s%s.%d.attention.self.query.bias", p, L, i)) ||
            (st = NEED(hq, H, NULL, NULL, "%s%s.%d.attention.self.key.weight", p, L, i)) ||
            (st = NEED(hq, 0, NULL, NULL, "%s%s.%d.attention.self.key.bias", p, L, i)) ||
            (st = NEED(hq, H, NULL, NULL, "%s%s.%d.attention.self.value.weight", p, L, i)) ||
            (st = NEED(hq, 0, NULL, NULL, "%s%s.%d.attention.self.value.bias", p, L, i)) ||
            (st = NEED(H, hq, NULL, NULL, "%s%s.%d.attention.output.dense.weight", p, L, i)) ||
            (st = NEED(H, 0, NULL, NULL, "%s%s.%d.attention.output.dense.bias", p, L, i)) ||
            (st = NEED(H, 0, NULL, NULL, "%s%s.%d.attention.output.LayerNorm.weight", p, L, i)) ||
            (st = NEED(H, 0, NULL, NULL, "%s%s.%d.attention.output.LayerNorm.bias", p, L, i)) ||
            (st = NEED(-1, H, &f, NULL, "%s%s.%d.intermediate.dense.weight", p, L, i)) ||
            (st = NEED(f, 0, NULL, NULL, "%s%s.%d.intermediate.dense.bias", p, L, i)) ||
            (st = NEED(H, f, NULL, NULL, "%s%s.%d.output.dense.weight", p, L, i)) ||
            (st = NEED(H, 0, NULL, NULL, "%s%s.%d.output.dense.bias", p, L, i)) ||
            (st = NEED(H, 0, NULL, NULL, "%s%s.%d.output.LayerNorm.weight", p, L, i)) ||
            (st = NEED(H, 0, NULL, NULL, "%s%s.%d.output.LayerNorm.bias", p, L, i)))
            return st;
        ld[i] = (layer_dims){hq, f};
    }
    snprintf(n, sizeof n, "%spooler.dense.weight", p);
    *pooler = find(x, n) != NULL;
    if (*pooler && ((st = NEED(H, H, NULL, NULL, "%spooler.dense.weight", p)) ||
                    (st = NEED(H, 0, NULL, NULL, "%spooler.dense.bias", p))))
        return st;
    if (!strcmp(a->task, "seq-classification") &&
        ((st = NEED(a->n_labels, H, NULL, NULL, "classifier.weight")) || (st = NEED(a->n_labels, 0, NULL, NULL, "classifier.bias"))))
        return st;
    return SK_OK;
}

/* GPT-2 (Conv1D weights, [in, out]). */
static sk_status check_gpt2(const exp_ctx *x, const char *p, layer_dims *ld, bool *tied)
{
    const sk_arch *a = &x->m->arch;
    const int64_t H = a->hidden;
    char n[512];
    sk_status st;
    if ((st = NEED(a->vocab, H, NULL, NULL, "%swte.weight", p)) || (st = NEED(a->max_pos, H, NULL, NULL, "%swpe.weight", p)) ||
        (st = NEED(H, 0, NULL, NULL, "%sln_f.weight", p)) || (st = NEED(H, 0, NULL, NULL, "%sln_f.bias", p)))
        return st;
    for (int i = 0; i < a->n_layers; i++) {
        int64_t q3, f;
        if ((st = NEED(H, 0, NULL, NULL, "%sh.%d.ln_1.weight", p, i)) || (st = NEED(H, 0, NULL, NULL, "%sh.%d.ln_1.bias", p, i)) ||
            (st = NEED(H, -1, NULL, &q3, "%sh.%d.attn.c_attn.weight", p, i)) ||
            (st = NEED(q3, 0, NULL, NULL, "%sh.%d.attn.c_attn.bias", p, i)))
            return st;
        if (q3 % 3) return sk_err(SK_ERR_INVALID, "%s: h.%d.attn.c_attn has %lld outputs, not q|k|v", x->path, i, (long long)q3);
        if ((st = NEED(q3 / 3, H, NULL, NULL, "%sh.%d.attn.c_proj.weight", p, i)) ||
            (st = NEED(H, 0, NULL, NULL, "%sh.%d.attn.c_proj.bias", p, i)) ||
            (st = NEED(H, 0, NULL, NULL, "%sh.%d.ln_2.weight", p, i)) || (st = NEED(H, 0, NULL, NULL, "%sh.%d.ln_2.bias", p, i)) ||
            (st = NEED(H, -1, NULL, &f, "%sh.%d.mlp.c_fc.weight", p, i)) ||
            (st = NEED(f, 0, NULL, NULL, "%sh.%d.mlp.c_fc.bias", p, i)) ||
            (st = NEED(f, H, NULL, NULL, "%sh.%d.mlp.c_proj.weight", p, i)) ||
            (st = NEED(H, 0, NULL, NULL, "%sh.%d.mlp.c_proj.bias", p, i)))
            return st;
        ld[i] = (layer_dims){q3 / 3, f};
    }
    *tied = !find(x, "lm_head.weight");
    if (!*tied && (st = NEED(a->vocab, H, NULL, NULL, "lm_head.weight"))) return st;
    return SK_OK;
#undef NEED
}

/* ---- config.json ---- */

static cJSON *num(double v) { return cJSON_CreateNumber(v); }

/* A float as the shortest decimal that reads back to it (1e-12, not 9.99999996e-13). */
static cJSON *flt(float f)
{
    char b[32];
    for (int prec = 6; prec <= 9; prec++) {
        snprintf(b, sizeof b, "%.*g", prec, (double)f);
        if ((float)strtod(b, NULL) == f) break;
    }
    return cJSON_CreateNumber(strtod(b, NULL));
}

/* The per-layer head width of the model's ATTENTION nodes (all equal), or an error. */
static sk_status head_width(const exp_ctx *x, const layer_dims *ld, int64_t *hd, int *heads)
{
    const sk_graph *g = &x->m->g;
    int l = 0;
    *hd = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const sk_node *n = &g->nodes[i];
        if (n->op != SK_OP_ATTENTION) continue;
        if (l >= x->m->arch.n_layers) return sk_err(SK_ERR_INVALID, "%s: more Attention nodes than layers", x->path);
        int64_t h = sk_node_attr_i(n, "num_heads", 0);
        if (h < 1 || ld[l].hq % h) return sk_err(SK_ERR_INVALID, "%s: Attention '%s': num_heads %lld does not divide %lld",
                                                 x->path, n->name, (long long)h, (long long)ld[l].hq);
        int64_t w = ld[l].hq / h;
        if (*hd && w != *hd)
            return sk_err(SK_ERR_UNSUPPORTED, "%s: layers have different head widths (%lld, %lld)", x->path, (long long)*hd,
                          (long long)w);
        *hd = w;
        heads[l++] = (int)h;
    }
    if (l != x->m->arch.n_layers)
        return sk_err(SK_ERR_INVALID, "%s: %d Attention nodes for %d layers", x->path, l, x->m->arch.n_layers);
    if (x->m->arch.hidden % *hd)
        return sk_err(SK_ERR_UNSUPPORTED, "%s: head width %lld does not divide the hidden size %d", x->path, (long long)*hd,
                      x->m->arch.hidden);
    return SK_OK;
}

static char *config_json(const exp_ctx *x, const layer_dims *ld, const int *heads, int64_t hd, bool extra, sk_status *st)
{
    const sk_arch *a = &x->m->arch;
    bool bert = a->family == SK_FAM_BERT;
    int h0 = (int)(a->hidden / hd);
    int64_t F = ld[0].ffn;
    for (int i = 1; i < a->n_layers; i++)
        if (ld[i].ffn != F) {
            *st = sk_err(SK_ERR_UNSUPPORTED, "%s: layers have different FFN widths (layer 0: %lld, layer %d: %lld); a Hugging "
                         "Face config has one %s: prune with uniform=true, or write .skm / .onnx", x->path, (long long)F,
                         i, (long long)ld[i].ffn, bert ? "intermediate_size" : "n_inner");
            return NULL;
        }
    cJSON *c = cJSON_CreateObject(), *ar = cJSON_AddArrayToObject(c, "architectures");
    const char *cls = bert ? (!strcmp(a->task, "seq-classification") ? "BertForSequenceClassification" : "BertModel")
                           : (!strcmp(a->task, "lm") ? "GPT2LMHeadModel" : "GPT2Model");
    cJSON_AddItemToArray(ar, cJSON_CreateString(cls));
    cJSON_AddStringToObject(c, "model_type", bert ? "bert" : "gpt2");
    if (bert) {
        cJSON_AddItemToObject(c, "hidden_size", num(a->hidden));
        cJSON_AddItemToObject(c, "num_hidden_layers", num(a->n_layers));
        cJSON_AddItemToObject(c, "num_attention_heads", num(h0));
        cJSON_AddItemToObject(c, "intermediate_size", num((double)F));
        cJSON_AddItemToObject(c, "vocab_size", num(a->vocab));
        cJSON_AddItemToObject(c, "max_position_embeddings", num(a->max_pos));
        cJSON_AddItemToObject(c, "type_vocab_size", num(a->type_vocab));
        cJSON_AddItemToObject(c, "layer_norm_eps", flt(a->eps));
        cJSON_AddStringToObject(c, "hidden_act", a->act);
        cJSON_AddStringToObject(c, "position_embedding_type", "absolute");
        cJSON_AddItemToObject(c, "hidden_dropout_prob", num(0.1));
        cJSON_AddItemToObject(c, "attention_probs_dropout_prob", num(0.1));
    } else {
        cJSON_AddItemToObject(c, "n_embd", num(a->hidden));
        cJSON_AddItemToObject(c, "n_layer", num(a->n_layers));
        cJSON_AddItemToObject(c, "n_head", num(h0));
        cJSON_AddItemToObject(c, "n_inner", num((double)F));
        cJSON_AddItemToObject(c, "vocab_size", num(a->vocab));
        cJSON_AddItemToObject(c, "n_positions", num(a->max_pos));
        cJSON_AddItemToObject(c, "n_ctx", num(a->max_pos));
        cJSON_AddItemToObject(c, "layer_norm_epsilon", flt(a->eps));
        cJSON_AddStringToObject(c, "activation_function", a->act);
        cJSON_AddBoolToObject(c, "tie_word_embeddings", extra);
        cJSON_AddBoolToObject(c, "scale_attn_weights", true);
    }
    if (a->labels && a->n_labels > 0) {
        cJSON *i2l = cJSON_AddObjectToObject(c, "id2label"), *l2i = cJSON_AddObjectToObject(c, "label2id");
        for (int i = 0; i < a->n_labels; i++) {
            char k[16];
            snprintf(k, sizeof k, "%d", i);
            cJSON_AddStringToObject(i2l, k, a->labels[i]);
            cJSON_AddItemToObject(l2i, a->labels[i], num(i));
        }
    }
    cJSON *ph = NULL;
    for (int i = 0; i < a->n_layers; i++) {
        if (heads[i] >= h0) continue;
        if (!ph) ph = cJSON_AddObjectToObject(c, "pruned_heads");
        char k[16];
        snprintf(k, sizeof k, "%d", i);
        cJSON *l = cJSON_AddArrayToObject(ph, k);
        for (int h = heads[i]; h < h0; h++) cJSON_AddItemToArray(l, num(h));   /* which ones does not matter: shapes do */
    }
    cJSON_AddStringToObject(c, "torch_dtype", "float32");
    char *s = cJSON_Print(c);
    cJSON_Delete(c);
    if (!s) *st = SK_ERR_NOMEM;
    return s;
}

/* ---- writing ---- */

static sk_status write_st(exp_ctx *x, sk_afile *af)
{
    qsort(x->e, (size_t)x->n, sizeof *x->e, by_name);
    cJSON *h = cJSON_CreateObject(), *meta = cJSON_AddObjectToObject(h, "__metadata__");
    cJSON_AddStringToObject(meta, "format", "pt");
    size_t off = 0;
    for (int i = 0; i < x->n; i++) {
        const sk_tensor *t = &x->m->g.tensors[x->e[i].tid];
        cJSON *o = cJSON_AddObjectToObject(h, x->e[i].name), *shape = cJSON_AddArrayToObject(o, "shape");
        cJSON_AddStringToObject(o, "dtype", "F32");
        for (int d = 0; d < t->rank; d++) cJSON_AddItemToArray(shape, num((double)t->dims[d]));
        cJSON *offs = cJSON_AddArrayToObject(o, "data_offsets");
        cJSON_AddItemToArray(offs, num((double)off));
        cJSON_AddItemToArray(offs, num((double)(off + t->nbytes)));
        off += t->nbytes;
    }
    char *text = cJSON_PrintUnformatted(h);
    cJSON_Delete(h);
    if (!text) return SK_ERR_NOMEM;
    size_t len = strlen(text), padded = (len + 7) / 8 * 8;
    unsigned char pre[8];
    for (int i = 0; i < 8; i++) pre[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    sk_status st = sk_afile_write(af, pre, 8);
    if (!st) st = sk_afile_write(af, text, len);
    if (!st) st = sk_afile_write(af, "        ", padded - len);
    cJSON_free(text);
    for (int i = 0; !st && i < x->n; i++) {
        const sk_tensor *t = &x->m->g.tensors[x->e[i].tid];
        st = sk_afile_write(af, t->data, t->nbytes);
    }
    return st;
}

/* The tokenizer's files: the model's embedded ones, else those in its tokenizer folder. */
static const char *const tok_files[] = {
    "tokenizer_config.json", "special_tokens_map.json", "vocab.json", "merges.txt", "vocab.txt",
};

sk_status sk_st_save(const sk_model *m, const char *path, const sk_st_save_opts *o)
{
    sk_st_save_opts def = {0};
    if (!o) o = &def;
    const sk_arch *a = &m->arch;
    size_t pl = strlen(path);
    bool file = pl >= 12 && !strcmp(path + pl - 12, ".safetensors");
    if (a->family != SK_FAM_BERT && a->family != SK_FAM_GPT2)
        return sk_err(SK_ERR_UNSUPPORTED, "%s: a Hugging Face checkpoint needs a BERT or GPT-2 model, this one is %s", path,
                      sk_family_name(a->family));
    if (a->n_layers < 1 || a->hidden < 1) return sk_err(SK_ERR_INVALID, "%s: the model's arch has no layers", path);
    exp_ctx x = {.m = m, .path = path};
    bool bert = a->family == SK_FAM_BERT, task = !strcmp(a->task, bert ? "seq-classification" : "lm"), extra = false;
    const char *prefix = task ? (bert ? "bert." : "transformer.") : "";
    layer_dims *ld = sk_calloc((size_t)a->n_layers, sizeof *ld);
    int *heads = sk_calloc((size_t)a->n_layers, sizeof *heads);
    char *cfg = NULL, *dir = NULL;
    int64_t hd = 0;
    sk_status st = ld && heads ? SK_OK : SK_ERR_NOMEM;
    if (!st) st = collect(&x, prefix);
    if (!st) st = bert ? check_bert(&x, prefix, ld, &extra) : check_gpt2(&x, prefix, ld, &extra);
    if (!st) st = head_width(&x, ld, &hd, heads);
    if (!st) cfg = config_json(&x, ld, heads, hd, extra, &st);

    /* the files: weights, config, tokenizer */
    const char *names[MAX_FILES];
    const void *data[MAX_FILES];
    size_t lens[MAX_FILES];
    char *own[MAX_FILES] = {0};
    int nf = 0;
    if (!st) {
        dir = file ? sk_path_dir(path) : sk_strdup(path);
        if (!dir) st = SK_ERR_NOMEM;
        else if (!file && !sk_is_dir(dir) && mkdir(dir, 0777) != 0)
            st = sk_err(SK_ERR_IO, "%s: cannot create the folder: %s", dir, strerror(errno));
    }
    if (!st) {
        names[nf] = NULL;   /* the weights, written by write_st */
        data[nf] = NULL;
        lens[nf++] = 0;
        names[nf] = "config.json";
        data[nf] = cfg;
        lens[nf++] = strlen(cfg);
        for (size_t i = 0; i < sizeof tok_files / sizeof tok_files[0] && !st; i++) {
            const sk_blob *b = NULL;
            for (int k = 0; k < m->n_files; k++) if (!strcmp(m->files[k].name, tok_files[i])) b = &m->files[k];
            if (b) {
                names[nf] = tok_files[i];
                data[nf] = b->data;
                lens[nf++] = b->len;
            } else if (!m->n_files && m->tokenizer_dir) {
                char *p = sk_path_join(m->tokenizer_dir, tok_files[i]);
                if (!p) { st = SK_ERR_NOMEM; break; }
                if (sk_file_exists(p) && !(st = sk_read_file(p, &own[nf], &lens[nf]))) {
                    names[nf] = tok_files[i];
                    data[nf] = own[nf];
                    nf++;
                }
                sk_free(p);
            }
        }
    }
    sk_afile af[MAX_FILES];
    int opened = 0;
    for (int i = 0; !st && i < nf; i++) {
        char *dest = i == 0 ? (file ? sk_strdup(path) : sk_path_join(dir, "model.safetensors")) : sk_path_join(dir, names[i]);
        if (!dest) { st = SK_ERR_NOMEM; break; }
        if (!o->force && sk_file_exists(dest)) st = sk_err(SK_ERR_IO, "%s: already exists (use --force to overwrite)", dest);
        else if (!(st = sk_afile_open(&af[i], dest, o->force))) opened++;
        sk_free(dest);
    }
    for (int i = 0; !st && i < nf; i++) st = i == 0 ? write_st(&x, &af[0]) : sk_afile_write(&af[i], data[i], lens[i]);
    for (int i = 0; i < opened; i++) {
        if (st) sk_afile_abort(&af[i]);
        else st = sk_afile_commit(&af[i]);
    }
    for (int i = 0; i < nf; i++) sk_free(own[i]);
    for (int i = 0; i < x.n; i++) sk_free(x.e[i].name);
    sk_free(x.e);
    sk_free(ld);
    sk_free(heads);
    sk_free(dir);
    free(cfg);
    return st;
}
