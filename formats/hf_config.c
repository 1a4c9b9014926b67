/* hf_config.c — Hugging Face checkpoints: config.json and the folder layout.
 *
 * sk_hf_config_load turns a config.json into an sk_arch, checking every key
 * it reads (type, sign, sane maximum) and naming the key when one is wrong.
 * sk_hf_load finds config.json and the safetensors file(s) of a checkpoint,
 * and builds the model with the templates of src/arch, handing them the
 * mapped tensors through a weight callback: f32 weights are used in place,
 * f16/bf16/f64 ones converted to f32, and any NaN or Inf is rejected.
 *
 * What tensors mean is the templates' business; the byte format is
 * safetensors.c's.  This file only connects them.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cJSON.h>
#include "formats.h"
#include "arch/arch.h"
#include "util/util.h"

/* ---- config.json ---- */

/* JSON text of j, shortened, for messages. */
static const char *brief(const cJSON *j, char *buf, size_t size)
{
    char *s = cJSON_PrintUnformatted(j);
    if (!s) return "?";
    size_t n = strlen(s);
    if (n >= size) { memcpy(buf, s, size - 4); memcpy(buf + size - 4, "...", 4); }
    else memcpy(buf, s, n + 1);
    cJSON_free(s);
    return buf;
}

/* Integer key in [1, max]; dflt < 0 means the key is required, else absent
 * (or null when null_ok) gives dflt. */
static sk_status get_int(const char *path, const cJSON *cfg, const char *key, int dflt, int max, bool null_ok,
                         int *out)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(cfg, key);
    char b[64];
    if (!j || (null_ok && cJSON_IsNull(j))) {
        if (dflt < 0) return sk_err(SK_ERR_FORMAT, "%s: missing key '%s'", path, key);
        *out = dflt;
        return SK_OK;
    }
    if (!cJSON_IsNumber(j) || !(j->valuedouble >= 1) || j->valuedouble != floor(j->valuedouble))
        return sk_err(SK_ERR_FORMAT, "%s: key '%s': expected a positive integer, got %s", path, key, brief(j, b, sizeof b));
    if (j->valuedouble > max)
        return sk_err(SK_ERR_FORMAT, "%s: key '%s': %s is too large (at most %d)", path, key, brief(j, b, sizeof b), max);
    *out = (int)j->valuedouble;
    return SK_OK;
}

/* Float key in (0, 1), absent → dflt. */
static sk_status get_eps(const char *path, const cJSON *cfg, const char *key, float dflt, float *out)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(cfg, key);
    char b[64];
    if (!j) { *out = dflt; return SK_OK; }
    if (!cJSON_IsNumber(j) || !(j->valuedouble > 0 && j->valuedouble < 1))
        return sk_err(SK_ERR_FORMAT, "%s: key '%s': expected a number in (0, 1), got %s", path, key, brief(j, b, sizeof b));
    *out = (float)j->valuedouble;
    return SK_OK;
}

/* String key, absent → dflt (NULL: required). */
static sk_status get_str(const char *path, const cJSON *cfg, const char *key, const char *dflt, const char **out)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(cfg, key);
    char b[64];
    if (!j) {
        if (!dflt) return sk_err(SK_ERR_FORMAT, "%s: missing key '%s'", path, key);
        *out = dflt;
        return SK_OK;
    }
    if (!cJSON_IsString(j))
        return sk_err(SK_ERR_FORMAT, "%s: key '%s': expected a string, got %s", path, key, brief(j, b, sizeof b));
    *out = j->valuestring;
    return SK_OK;
}

/* A boolean option shrink supports only at its default value. */
static sk_status need_bool(const char *path, const cJSON *cfg, const char *key, bool want)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(cfg, key);
    char b[64];
    if (!j || cJSON_IsNull(j)) return SK_OK;
    if (!cJSON_IsBool(j))
        return sk_err(SK_ERR_FORMAT, "%s: key '%s': expected true or false, got %s", path, key, brief(j, b, sizeof b));
    if ((bool)cJSON_IsTrue(j) != want)
        return sk_err(SK_ERR_UNSUPPORTED, "%s: key '%s': %s is not supported (only %s)", path, key,
                      want ? "false" : "true", want ? "true" : "false");
    return SK_OK;
}

/* HF activation name → sk_arch act ("gelu" erf form, "gelu_new" tanh form, "relu"). */
static sk_status get_act(const char *path, const cJSON *cfg, const char *key, const char *dflt, char *act, size_t size)
{
    const char *s;
    sk_status st = get_str(path, cfg, key, dflt, &s);
    if (st) return st;
    const char *ours = !strcmp(s, "gelu") ? "gelu"
                     : !strcmp(s, "gelu_new") || !strcmp(s, "gelu_pytorch_tanh") || !strcmp(s, "gelu_fast") ? "gelu_new"
                     : !strcmp(s, "relu") ? "relu" : NULL;
    if (!ours)
        return sk_err(SK_ERR_UNSUPPORTED, "%s: key '%s': activation \"%.40s\" is not supported (gelu, gelu_new, "
                      "gelu_pytorch_tanh, gelu_fast, relu)", path, key, s);
    snprintf(act, size, "%s", ours);
    return SK_OK;
}

/* id2label {"0": "neg", "1": "pos"} → arch->labels / n_labels. */
static sk_status get_labels(const char *path, const cJSON *cfg, sk_arch *a)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(cfg, "id2label");
    char b[64];
    if (!j) {   /* HF omits id2label when it is the default: LABEL_0, LABEL_1 */
        int n;
        sk_status st = get_int(path, cfg, "num_labels", 2, 100000, false, &n);
        if (st) return st;
        if (!(a->labels = sk_calloc((size_t)n, sizeof *a->labels))) return SK_ERR_NOMEM;
        a->n_labels = n;
        for (int i = 0; i < n; i++) {
            char nm[32];
            snprintf(nm, sizeof nm, "LABEL_%d", i);
            if (!(a->labels[i] = sk_strdup(nm))) return SK_ERR_NOMEM;
        }
        return SK_OK;
    }
    if (!cJSON_IsObject(j))
        return sk_err(SK_ERR_FORMAT, "%s: key 'id2label': expected an object, got %s", path, brief(j, b, sizeof b));
    int n = cJSON_GetArraySize(j);
    if (n < 1 || n > 100000)
        return sk_err(SK_ERR_FORMAT, "%s: key 'id2label': %d labels (expected 1..100000)", path, n);
    a->labels = sk_calloc((size_t)n, sizeof *a->labels);
    if (!a->labels) return SK_ERR_NOMEM;
    a->n_labels = n;
    const cJSON *e;
    cJSON_ArrayForEach(e, j) {
        char *end = NULL;
        long id = strtol(e->string, &end, 10);
        if (!e->string[0] || *end || id < 0 || id >= n)
            return sk_err(SK_ERR_FORMAT, "%s: key 'id2label': id \"%.20s\" is not an integer in 0..%d", path, e->string,
                          n - 1);
        if (!cJSON_IsString(e))
            return sk_err(SK_ERR_FORMAT, "%s: key 'id2label': label %ld: expected a string, got %s", path, id,
                          brief(e, b, sizeof b));
        if (a->labels[id])
            return sk_err(SK_ERR_FORMAT, "%s: key 'id2label': id %ld appears twice", path, id);
        if (!(a->labels[id] = sk_strdup(e->valuestring))) return SK_ERR_NOMEM;
    }
    return SK_OK;
}

typedef struct arch_name { const char *name, *model_type, *task; } arch_name;
static const arch_name known_archs[] = {
    {"BertForSequenceClassification", "bert", "seq-classification"},
    {"BertModel", "bert", "base"},
    {"GPT2LMHeadModel", "gpt2", "lm"},
    {"GPT2Model", "gpt2", "base"},
};

static sk_status parse_bert(const char *path, const cJSON *cfg, sk_arch *a)
{
    sk_status st;
    const char *pet;
    if ((st = get_int(path, cfg, "num_hidden_layers", -1, 1000, false, &a->n_layers)) ||
        (st = get_int(path, cfg, "hidden_size", -1, 65536, false, &a->hidden)) ||
        (st = get_int(path, cfg, "num_attention_heads", -1, 65536, false, &a->heads)) ||
        (st = get_int(path, cfg, "intermediate_size", -1, 1 << 20, false, &a->ffn)) ||
        (st = get_int(path, cfg, "vocab_size", -1, 10000000, false, &a->vocab)) ||
        (st = get_int(path, cfg, "max_position_embeddings", -1, 1 << 20, false, &a->max_pos)) ||
        (st = get_int(path, cfg, "type_vocab_size", 2, 1000, false, &a->type_vocab)) ||
        (st = get_eps(path, cfg, "layer_norm_eps", 1e-12f, &a->eps)) ||
        (st = get_act(path, cfg, "hidden_act", "gelu", a->act, sizeof a->act)) ||
        (st = get_str(path, cfg, "position_embedding_type", "absolute", &pet)) ||
        (st = need_bool(path, cfg, "is_decoder", false)) ||
        (st = need_bool(path, cfg, "add_cross_attention", false)))
        return st;
    if (strcmp(pet, "absolute"))
        return sk_err(SK_ERR_UNSUPPORTED, "%s: key 'position_embedding_type': \"%.20s\" is not supported (only "
                      "\"absolute\")", path, pet);
    return SK_OK;
}

static sk_status parse_gpt2(const char *path, const cJSON *cfg, sk_arch *a)
{
    sk_status st;
    if ((st = get_int(path, cfg, "n_layer", -1, 1000, false, &a->n_layers)) ||
        (st = get_int(path, cfg, "n_embd", -1, 65536, false, &a->hidden)) ||
        (st = get_int(path, cfg, "n_head", -1, 65536, false, &a->heads)) ||
        (st = get_int(path, cfg, "vocab_size", -1, 10000000, false, &a->vocab)) ||
        (st = get_int(path, cfg, "n_positions", -1, 1 << 20, false, &a->max_pos)) ||
        (st = get_eps(path, cfg, "layer_norm_epsilon", 1e-5f, &a->eps)) ||
        (st = get_act(path, cfg, "activation_function", "gelu_new", a->act, sizeof a->act)) ||
        (st = need_bool(path, cfg, "scale_attn_weights", true)) ||
        (st = need_bool(path, cfg, "scale_attn_by_inverse_layer_idx", false)) ||
        (st = need_bool(path, cfg, "add_cross_attention", false)))
        return st;
    /* n_inner: null or absent means 4 × n_embd */
    return get_int(path, cfg, "n_inner", 4 * a->hidden, 1 << 20, true, &a->ffn);
}

void sk_hf_arch_clear(sk_arch *a)
{
    if (a->labels)
        for (int i = 0; i < a->n_labels; i++) sk_free(a->labels[i]);
    sk_free(a->labels);
    memset(a, 0, sizeof *a);
}

/* pruned_heads: {"3": [0, 2], ...}: layer index → distinct head indices; *out heads kept per layer, NULL if none. */
static sk_status get_pruned(const char *path, const cJSON *cfg, const sk_arch *a, int **out)
{
    *out = NULL;
    const cJSON *ph = cJSON_GetObjectItemCaseSensitive(cfg, "pruned_heads"), *e, *h;
    char b[64];
    if (!ph || cJSON_IsNull(ph) || (cJSON_IsObject(ph) && !ph->child)) return SK_OK;
    if (!cJSON_IsObject(ph))
        return sk_err(SK_ERR_FORMAT, "%s: key 'pruned_heads': expected an object of layer: [heads], got %s", path,
                      brief(ph, b, sizeof b));
    int *kept = sk_malloc((size_t)a->n_layers * sizeof *kept);
    uint8_t *gone = sk_calloc((size_t)a->heads, 1);
    sk_status st = kept && gone ? SK_OK : SK_ERR_NOMEM;
    for (int i = 0; !st && i < a->n_layers; i++) kept[i] = a->heads;
    cJSON_ArrayForEach(e, ph) {
        if (st) break;
        char *end;
        long l = strtol(e->string, &end, 10);
        if (!e->string[0] || *end || l < 0 || l >= a->n_layers) {
            st = sk_err(SK_ERR_FORMAT, "%s: key 'pruned_heads': layer \"%.20s\" is not one of 0..%d", path, e->string,
                        a->n_layers - 1);
            break;
        }
        if (!cJSON_IsArray(e) || kept[l] != a->heads) {
            st = sk_err(SK_ERR_FORMAT, "%s: key 'pruned_heads': layer %ld: expected one list of head indices, got %s",
                        path, l, brief(e, b, sizeof b));
            break;
        }
        memset(gone, 0, (size_t)a->heads);
        cJSON_ArrayForEach(h, e) {
            double v = cJSON_IsNumber(h) ? h->valuedouble : -1;
            if (v < 0 || v >= a->heads || v != (double)(int)v || gone[(int)v]) {
                st = sk_err(SK_ERR_FORMAT, "%s: key 'pruned_heads': layer %ld: head %s is not a distinct index in 0..%d",
                            path, l, brief(h, b, sizeof b), a->heads - 1);
                break;
            }
            gone[(int)v] = 1;
            kept[l]--;
        }
        if (!st && kept[l] < 1)
            st = sk_err(SK_ERR_UNSUPPORTED, "%s: key 'pruned_heads': layer %ld: all %d heads pruned", path, l, a->heads);
    }
    sk_free(gone);
    if (st) { sk_free(kept); return st; }
    *out = kept;
    return SK_OK;
}

sk_status sk_hf_config_load(const char *path, sk_arch *a, sk_hf_info *info)
{
    memset(a, 0, sizeof *a);
    if (info) info->layer_heads = NULL;
    char *text = NULL;
    size_t len = 0;
    sk_status st = sk_read_file(path, &text, &len);
    if (st) return st;
    cJSON *cfg = cJSON_ParseWithLength(text, len);
    sk_free(text);
    if (!cfg) return sk_err(SK_ERR_FORMAT, "%s: not valid JSON", path);
    if (!cJSON_IsObject(cfg)) { cJSON_Delete(cfg); return sk_err(SK_ERR_FORMAT, "%s: not a JSON object", path); }

    const char *mt = NULL, *an = "";
    const cJSON *archs = cJSON_GetObjectItemCaseSensitive(cfg, "architectures");
    char b[64];
    st = get_str(path, cfg, "model_type", NULL, &mt);
    if (!st && archs && !cJSON_IsNull(archs)) {
        const cJSON *first = cJSON_GetArrayItem(archs, 0);
        if (!cJSON_IsArray(archs) || cJSON_GetArraySize(archs) < 1 || !cJSON_IsString(first))
            st = sk_err(SK_ERR_FORMAT, "%s: key 'architectures': expected a list of class names, got %s", path,
                        brief(archs, b, sizeof b));
        else an = first->valuestring;
    }
    if (!st) {
        if (!strcmp(mt, "bert")) a->family = SK_FAM_BERT;
        else if (!strcmp(mt, "gpt2")) a->family = SK_FAM_GPT2;
        else st = sk_err(SK_ERR_UNSUPPORTED, "%s: model_type \"%.40s\" is not supported (bert, gpt2)", path, mt);
    }
    if (!st) {
        const char *task = an[0] ? NULL : "base";   /* no architectures: the bare model */
        for (size_t i = 0; i < sizeof known_archs / sizeof known_archs[0] && !task; i++)
            if (!strcmp(an, known_archs[i].name) && !strcmp(mt, known_archs[i].model_type)) task = known_archs[i].task;
        if (!task)
            st = sk_err(SK_ERR_UNSUPPORTED, "%s: architecture \"%.60s\" is not supported for model_type %s (%s)", path,
                        an, mt, a->family == SK_FAM_BERT ? "BertModel, BertForSequenceClassification"
                                                        : "GPT2Model, GPT2LMHeadModel");
        else snprintf(a->task, sizeof a->task, "%s", task);
    }
    if (!st) st = a->family == SK_FAM_BERT ? parse_bert(path, cfg, a) : parse_gpt2(path, cfg, a);
    if (!st && a->hidden % a->heads)
        st = sk_err(SK_ERR_FORMAT, "%s: hidden size %d is not divisible by the number of heads %d", path, a->hidden,
                    a->heads);
    if (!st && !strcmp(a->task, "seq-classification")) st = get_labels(path, cfg, a);
    int *kept = NULL;
    if (!st) st = get_pruned(path, cfg, a, &kept);
    if (info) info->layer_heads = kept;
    else sk_free(kept);
    if (!st && info) {
        snprintf(info->model_type, sizeof info->model_type, "%s", mt);
        snprintf(info->architecture, sizeof info->architecture, "%s", an);
    }
    cJSON_Delete(cfg);
    if (!st && (st = sk_arch_check(a))) sk_err_prefix(st, "%s", path);
    if (st) {
        sk_hf_arch_clear(a);
        if (info) { sk_free(info->layer_heads); info->layer_heads = NULL; }
    }
    return st;
}

/* ---- loading a checkpoint ---- */

typedef struct hf_ctx {
    const sk_st_set *set;
    const char *weights;     /* the .safetensors or .index.json path */
    const char *prefix;      /* "bert." / "transformer.": HF loads either layout into either head */
    bool named;              /* the last error already names the file */
} hf_ctx;

/* The checkpoint's tensor for a template name: as asked, with the family
 * prefix toggled, and with old LayerNorm gamma/beta names. */
static const sk_st_tensor *find_weight(const hf_ctx *c, const char *name, const sk_st_file **file)
{
    char alt[300];
    const sk_st_tensor *t = sk_st_set_find(c->set, name, file);
    size_t pl = strlen(c->prefix);
    if (!t) {
        if (!strncmp(name, c->prefix, pl)) snprintf(alt, sizeof alt, "%s", name + pl);
        else snprintf(alt, sizeof alt, "%s%s", c->prefix, name);
        t = sk_st_set_find(c->set, alt, file);
    }
    for (int pass = 0; !t && pass < 2; pass++) {
        const char *base = pass ? alt : name;
        size_t n = strlen(base);
        char old[300];
        if (n >= 16 && !strcmp(base + n - 16, "LayerNorm.weight"))
            snprintf(old, sizeof old, "%.*sLayerNorm.gamma", (int)(n - 16), base);
        else if (n >= 14 && !strcmp(base + n - 14, "LayerNorm.bias"))
            snprintf(old, sizeof old, "%.*sLayerNorm.beta", (int)(n - 14), base);
        else continue;
        t = sk_st_set_find(c->set, old, file);
    }
    return t;
}

/* Index of the first NaN/Inf among n floats, or -1. */
static int64_t first_nonfinite(const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return i;
    return -1;
}

static sk_status load_weight(const hf_ctx *c, sk_model *m, const char *name, int rank, const int64_t *dims,
                             bool optional, int *id)
{
    const sk_st_file *f = NULL;
    const sk_st_tensor *t = find_weight(c, name, &f);
    *id = -1;
    if (!t) return optional ? SK_OK : sk_err(SK_ERR_FORMAT, "%s: weight '%s' not found", c->weights, name);
    const char *path = sk_st_path(f);
    int have = sk_graph_find_tensor(&m->g, t->name);
    if (have >= 0) { *id = have; return SK_OK; }

    /* shape first, so a wrong config is reported as such, not as a size */
    bool same = t->rank == rank;
    for (int i = 0; same && i < rank; i++) same = t->dims[i] == dims[i];
    if (!same) {
        char got[128] = "[", want[128] = "[";
        for (int i = 0; i < t->rank; i++)
            snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", i ? ", " : "", (long long)t->dims[i]);
        for (int i = 0; i < rank; i++)
            snprintf(want + strlen(want), sizeof want - strlen(want), "%s%lld", i ? ", " : "", (long long)dims[i]);
        return sk_err(SK_ERR_FORMAT, "%s: tensor '%s': shape %s], expected %s] from config.json", path, t->name, got, want);
    }
    int64_t n = 1;
    for (int i = 0; i < rank; i++) n *= dims[i];   /* fits: the file holds n elements */
    const float *x = NULL;
    void *data = NULL;
    bool owned = false;
    if (t->dtype == SK_DT_F32 && ((uintptr_t)t->data % sizeof(float)) == 0) {
        data = (void *)(uintptr_t)t->data;   /* a view into the read-only mapping */
    } else if (t->dtype == SK_DT_F32 || t->dtype == SK_DT_F16 || t->dtype == SK_DT_BF16 || t->dtype == SK_DT_F64) {
        size_t nb;
        if (!sk_mul_size((size_t)n, sizeof(float), &nb) || !(data = sk_malloc(nb ? nb : 1))) return SK_ERR_NOMEM;
        if (t->dtype == SK_DT_F32) memcpy(data, t->data, nb);   /* misaligned in the file */
        else if (t->dtype == SK_DT_F64) for (int64_t i = 0; i < n; i++) {
            double d;
            memcpy(&d, (const char *)t->data + i * 8, 8);
            ((float *)data)[i] = (float)d;
        } else for (int64_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, (const char *)t->data + i * 2, 2);
            ((float *)data)[i] = t->dtype == SK_DT_F16 ? sk_f16_to_f32(h) : sk_bf16_to_f32(h);
        }
        owned = true;
    } else {
        return sk_err(SK_ERR_FORMAT, "%s: tensor '%s': dtype %s, expected a float type (F32, F16, BF16, F64)", path,
                      t->name, sk_dtype_info(t->dtype)->st_name);
    }
    x = data;
    int64_t bad = first_nonfinite(x, n);
    if (bad >= 0) {
        sk_status st = sk_err(SK_ERR_FORMAT, "%s: tensor '%s': element %lld is %s", path, t->name, (long long)bad,
                              isnan(x[bad]) ? "NaN" : "Inf");
        if (owned) sk_free(data);
        return st;
    }
    *id = sk_graph_add_const(&m->g, t->name, SK_DT_F32, rank, dims, data, owned);
    if (*id < 0) return SK_ERR_NOMEM;
    m->g.tensors[*id].flags |= SK_TF_WEIGHT;
    return SK_OK;
}

/* The template's weight callback (arch.h). */
static sk_status hf_weight(void *ctx, sk_model *m, const char *name, int rank, const int64_t *dims, bool optional,
                           int *id)
{
    hf_ctx *c = ctx;
    sk_status st = load_weight(c, m, name, rank, dims, optional, id);
    c->named = st != SK_OK;
    return st;
}

/* *out = dir/name when that exists (new string), else NULL. */
static sk_status existing(const char *dir, const char *name, char **out)
{
    *out = sk_path_join(dir, name);
    if (!*out) return SK_ERR_NOMEM;
    if (!sk_file_exists(*out)) { sk_free(*out); *out = NULL; }
    return SK_OK;
}

sk_status sk_hf_load(const char *path, sk_model **out)
{
    *out = NULL;
    char *dir = NULL, *weights = NULL, *config = NULL;
    sk_st_set set = {0};
    sk_model *m = NULL;
    sk_status st = SK_OK;
    size_t pl = strlen(path);

    if (sk_is_dir(path)) {
        char *bin = NULL;
        if (!(dir = sk_strdup(path))) return SK_ERR_NOMEM;
        st = existing(dir, "model.safetensors.index.json", &weights);
        if (!st && !weights) st = existing(dir, "model.safetensors", &weights);
        if (!st && !weights && !(st = existing(dir, "pytorch_model.bin", &bin)))
            st = sk_err(SK_ERR_FORMAT, "%s: no model.safetensors or model.safetensors.index.json%s", path,
                        bin ? " (pytorch_model.bin is not read: re-save with save_pretrained(safe_serialization=True))" : "");
        sk_free(bin);
    } else if (sk_file_exists(path) && ((pl >= 12 && !strcmp(path + pl - 12, ".safetensors")) ||
                                        (pl >= 11 && !strcmp(path + pl - 11, ".index.json")))) {
        dir = sk_path_dir(path);
        weights = sk_strdup(path);
        if (!dir || !weights) st = SK_ERR_NOMEM;
    } else {
        st = sk_err(SK_ERR_IO, "%s: not a Hugging Face folder or a .safetensors file", path);
    }
    if (!st && !(st = existing(dir, "config.json", &config)) && !config)
        st = sk_err(SK_ERR_FORMAT, "%s: no config.json beside the weights (in %s)", path, dir);

    if (!st && !(m = sk_model_new())) st = SK_ERR_NOMEM;
    sk_hf_info info = {0};
    if (!st) st = sk_hf_config_load(config, &m->arch, &info);
    if (!st) st = sk_st_set_open(weights, &set);
    for (int i = 0; !st && i < set.n_files; i++) st = sk_st_give_map(set.files[i], m);
    if (!st) {
        hf_ctx c = {&set, weights, m->arch.family == SK_FAM_BERT ? "bert." : "transformer.", false};
        m->arch.layer_heads = info.layer_heads;
        if ((st = sk_arch_build(m, &m->arch, hf_weight, &c)) && !c.named) sk_err_prefix(st, "%s", weights);
        m->arch.layer_heads = NULL;
    }
    sk_free(info.layer_heads);
    if (!st && !(m->source = sk_strdup(path))) st = SK_ERR_NOMEM;
    if (!st) {   /* a tokenizer beside the weights */
        char *v = NULL, *vj = NULL, *mg = NULL;
        if (!(st = existing(dir, "vocab.txt", &v)) && !(st = existing(dir, "vocab.json", &vj)) &&
            !(st = existing(dir, "merges.txt", &mg)) && (v || (vj && mg)) && !(m->tokenizer_dir = sk_strdup(dir)))
            st = SK_ERR_NOMEM;
        sk_free(v); sk_free(vj); sk_free(mg);
    }
    sk_st_set_close(&set);   /* the mappings now belong to m */
    sk_free(dir); sk_free(weights); sk_free(config);
    if (st) { sk_model_free(m); return st; }
    *out = m;
    return SK_OK;
}
