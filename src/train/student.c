/* student.c — build a distillation student from its teacher.
 *
 * A student is the teacher's template (arch/bert.c, arch/gpt2.c) with a
 * smaller config.  With the teacher's widths it starts from the teacher's
 * weights: embeddings, final norm, pooler and classifier as they are, and
 * student layer i from teacher layer i·L_t/L_s (DistilBERT: every other
 * layer).  With another width nothing can be copied, and every weight is
 * initialised from the seed the way Hugging Face initialises BERT / GPT-2:
 * N(0, 0.02) matrices and embeddings, norm scales 1, biases and norm shifts 0.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "arch/arch.h"
#include "train/train.h"

sk_status sk_student_parse(const char *spec, sk_student_spec *s)
{
    memset(s, 0, sizeof *s);
    const char *p = spec;
    if (!*p) return sk_err(SK_ERR_USAGE, "student spec is empty (expected e.g. layers=2 or layers=2,hidden=128,heads=2,ffn=256)");
    while (*p) {
        const char *eq = strchr(p, '=');
        if (!eq) return sk_err(SK_ERR_USAGE, "student spec '%s': expected key=value", spec);
        size_t kl = (size_t)(eq - p);
        char *end;
        long v = strtol(eq + 1, &end, 10);
        if (end == eq + 1 || (*end && *end != ',') || v < 1 || v > 1 << 20)
            return sk_err(SK_ERR_USAGE, "student spec '%s': bad value for '%.*s'", spec, (int)kl, p);
        int *dst = kl == 6 && !strncmp(p, "layers", 6) ? &s->layers
                 : kl == 6 && !strncmp(p, "hidden", 6) ? &s->hidden
                 : kl == 5 && !strncmp(p, "heads", 5) ? &s->heads
                 : kl == 3 && !strncmp(p, "ffn", 3) ? &s->ffn : NULL;
        if (!dst)
            return sk_err(SK_ERR_USAGE, "student spec '%s': unknown key '%.*s' (layers, hidden, heads, ffn)", spec,
                          (int)kl, p);
        *dst = (int)v;
        p = *end ? end + 1 : end;
    }
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
        if (tt->dtype != SK_DT_F32 || tt->quant || !tt->data || sk_tensor_numel(tt) != n)
            return sk_err(SK_ERR_UNSUPPORTED, "student: teacher weight '%s' is not an f32 tensor of %lld values "
                          "(distil from the unquantized teacher)", tname, (long long)n);
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
    sk_arch *a = &m->arch;
    if (s->layers) a->n_layers = s->layers;
    if (s->hidden) a->hidden = s->hidden;
    if (s->heads) a->heads = s->heads;
    if (s->ffn) a->ffn = s->ffn;
    bool copy = a->hidden == ta->hidden && a->heads == ta->heads && a->ffn == ta->ffn;
    if (copy && a->n_layers > ta->n_layers) {
        st = sk_err(SK_ERR_INVALID, "student: %d layers copied from a teacher of %d (use fewer layers, or change a "
                    "width to train a fresh student)", a->n_layers, ta->n_layers);
        goto fail;
    }
    if ((st = sk_arch_check(a))) goto fail;
    if (!(map = sk_malloc((size_t)a->n_layers * sizeof *map))) { st = SK_ERR_NOMEM; goto fail; }
    for (int i = 0; i < a->n_layers; i++) map[i] = (int)((int64_t)i * ta->n_layers / a->n_layers);
    sctx c = {teacher, map, a->n_layers, copy, {seed ^ 0x5eed5eedull}};
    if ((st = sk_arch_build(m, a, student_weight, &c))) goto fail;
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
