/* skm.c — shrink's own artifact: write and read .skm files.
 *
 * The format is specified in docs/formats.md; this file follows it.  A .skm
 * is a 32-byte preamble, a JSON header (the graph, arch, provenance and a
 * payload table) and 64-aligned payloads (tensor bytes and the tokenizer's
 * files), each optionally zstd-compressed, each with an XXH64 checksum of its
 * raw bytes.
 *
 * Loading trusts nothing: every size, offset, id and name is checked before
 * it is used, every payload's checksum is verified, and a failure frees what
 * was built and names the file and the place.  Uncompressed tensors point
 * into the read-only mapping (no copy); compressed ones are decompressed into
 * memory the model owns.  Writing is deterministic (no timestamps, a fixed
 * order) and atomic (sk_afile).  Nothing here knows about passes or the
 * runtime.
 */
#include <cJSON.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>
#include <zstd_errors.h>
#include "formats.h"
#include "util/util.h"

#define SKM_VERSION   1
#define PREAMBLE      32
#define ALIGN         64
#define MAX_EXPANSION 32768                 /* a zstd block expands at most this much */
#define MAX_FILE_NAME 255
#define JSON_EXACT    ((int64_t)1 << 53)    /* integers up to this are exact in a double */
#define FLAG_ENCODED  0x2u                  /* preamble flag: some payloads have an "encoding" (bitmask) */
#define SPARSE_MIN    64                    /* elements below which a tensor is never bitmask-encoded */

static const unsigned char magic[8] = {0x89, 'S', 'K', 'M', '\r', '\n', 0x1a, '\n'};

/* the files of a tokenizer folder that a .skm embeds (the set sk_tok_load_dir reads) */
static const char *const tok_files[] = {
    "tokenizer_config.json", "special_tokens_map.json", "vocab.json", "merges.txt", "vocab.txt",
};

static const struct { unsigned flag; const char *name; } flag_names[] = {
    {SK_TF_WEIGHT, "weight"}, {SK_TF_CONST, "const"}, {SK_TF_INPUT, "input"}, {SK_TF_OUTPUT, "output"},
};
#define N_FLAGS (sizeof flag_names / sizeof flag_names[0])

/* ---- XXH64 (xxHash, 64-bit) ---- */

static const uint64_t P1 = 11400714785074694791ULL, P2 = 14029467366897019727ULL,
                      P3 = 1609587929392839161ULL, P4 = 9650029242287828579ULL, P5 = 2870177450012600261ULL;

static uint64_t rotl64(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
static uint64_t le64(const unsigned char *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static uint32_t le32(const unsigned char *p) { uint32_t v; memcpy(&v, p, 4); return v; }
#else
static uint64_t le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
#endif

static void put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t xxround(uint64_t acc, uint64_t in)
{
    acc += in * P2;
    return rotl64(acc, 31) * P1;
}

static uint64_t xxmerge(uint64_t h, uint64_t v)
{
    h ^= xxround(0, v);
    return h * P1 + P4;
}

uint64_t sk_skm_xxh64(const void *data, size_t n, uint64_t seed)
{
    const unsigned char *p = data;
    size_t left = n;
    uint64_t h;
    if (left >= 32) {
        uint64_t v1 = seed + P1 + P2, v2 = seed + P2, v3 = seed, v4 = seed - P1;
        do {
            v1 = xxround(v1, le64(p));
            v2 = xxround(v2, le64(p + 8));
            v3 = xxround(v3, le64(p + 16));
            v4 = xxround(v4, le64(p + 24));
            p += 32;
            left -= 32;
        } while (left >= 32);
        h = rotl64(v1, 1) + rotl64(v2, 7) + rotl64(v3, 12) + rotl64(v4, 18);
        h = xxmerge(h, v1);
        h = xxmerge(h, v2);
        h = xxmerge(h, v3);
        h = xxmerge(h, v4);
    } else {
        h = seed + P5;
    }
    h += (uint64_t)n;
    for (; left >= 8; p += 8, left -= 8) {
        h ^= xxround(0, le64(p));
        h = rotl64(h, 27) * P1 + P4;
    }
    if (left >= 4) {
        h ^= (uint64_t)le32(p) * P1;
        h = rotl64(h, 23) * P2 + P3;
        p += 4;
        left -= 4;
    }
    for (; left; p++, left--) {
        h ^= *p * P5;
        h = rotl64(h, 11) * P1;
    }
    h ^= h >> 33;
    h *= P2;
    h ^= h >> 29;
    h *= P3;
    h ^= h >> 32;
    return h;
}

static uint64_t align_up(uint64_t x) { return (x + ALIGN - 1) & ~(uint64_t)(ALIGN - 1); }

/* ---- JSON values: integers and floats that round-trip exactly ---- */

static cJSON *j_int(int64_t v)
{
    char b[32];
    snprintf(b, sizeof b, "%" PRId64, v);
    return v >= -JSON_EXACT && v <= JSON_EXACT ? cJSON_CreateRaw(b) : cJSON_CreateString(b);
}

static cJSON *j_float(float f)
{
    char b[32];
    uint32_t u;
    memcpy(&u, &f, 4);
    if (!isfinite(f)) {
        snprintf(b, sizeof b, "0x%08" PRIx32, u);
        return cJSON_CreateString(b);
    }
    for (int prec = 7; prec <= 9; prec++) {
        snprintf(b, sizeof b, "%.*g", prec, (double)f);
        float back = (float)strtod(b, NULL);
        uint32_t ub;
        memcpy(&ub, &back, 4);
        if (ub == u) break;
    }
    return cJSON_CreateRaw(b);
}

/* Integer from a JSON number (exact, |v| <= 2^53) or a decimal string. */
static bool get_int(const cJSON *v, int64_t lo, int64_t hi, int64_t *out)
{
    int64_t x;
    if (cJSON_IsNumber(v)) {
        double d = v->valuedouble;
        if (!(d >= (double)-JSON_EXACT && d <= (double)JSON_EXACT) || d != floor(d)) return false;
        x = (int64_t)d;
    } else if (cJSON_IsString(v)) {
        const char *s = v->valuestring;
        size_t i = s[0] == '-';
        if (!s[i] || strlen(s + i) > 19) return false;
        uint64_t u = 0;
        for (; s[i]; i++) {
            if (s[i] < '0' || s[i] > '9') return false;
            unsigned dgt = (unsigned)(s[i] - '0');
            if (u > (UINT64_MAX - dgt) / 10) return false;
            u = u * 10 + dgt;
        }
        if (s[0] == '-') {
            if (u > (uint64_t)INT64_MAX + 1) return false;
            x = u == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)u;
        } else {
            if (u > (uint64_t)INT64_MAX) return false;
            x = (int64_t)u;
        }
    } else {
        return false;
    }
    if (x < lo || x > hi) return false;
    *out = x;
    return true;
}

/* Float from a JSON number (finite, in float range) or a "0x%08x" bit pattern. */
static bool get_float(const cJSON *v, float *out)
{
    if (cJSON_IsNumber(v)) {
        double d = v->valuedouble;
        float f = (float)d;
        if (!isfinite(d) || !isfinite(f)) return false;
        *out = f;
        return true;
    }
    if (!cJSON_IsString(v)) return false;
    const char *s = v->valuestring;
    if (strlen(s) != 10 || s[0] != '0' || s[1] != 'x') return false;
    uint32_t u = 0;
    for (int i = 2; i < 10; i++) {
        char c = s[i];
        int dgt = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (dgt < 0) return false;
        u = u << 4 | (uint32_t)dgt;
    }
    memcpy(out, &u, 4);
    return true;
}

/* ================================================================ save ==== */

typedef struct payload {     /* one payload being written */
    const void *raw;         /* raw_size bytes (borrowed) */
    size_t raw_size;
    void *z;                 /* zstd frame (owned) when it is smaller, else NULL */
    size_t z_size;
    uint64_t offset, hash;
    void *enc;               /* bitmask encoding (owned; raw points at it), else NULL */
} payload;

/* Add item to parent (an object when key, else an array); on any failure
 * item is freed and *ok cleared.  Returns item or NULL. */
static cJSON *put(cJSON *parent, const char *key, cJSON *item, bool *ok)
{
    if (item && parent && (key ? cJSON_AddItemToObject(parent, key, item) : cJSON_AddItemToArray(parent, item)))
        return item;
    cJSON_Delete(item);
    *ok = false;
    return NULL;
}

static cJSON *j_payload(const payload *p, bool *ok)
{
    char hex[17];
    snprintf(hex, sizeof hex, "%016" PRIx64, p->hash);
    cJSON *o = cJSON_CreateObject();
    put(o, "offset", j_int((int64_t)p->offset), ok);
    put(o, "size", j_int((int64_t)(p->z ? p->z_size : p->raw_size)), ok);
    put(o, "raw_size", j_int((int64_t)p->raw_size), ok);
    put(o, "compression", cJSON_CreateString(p->z ? "zstd" : "none"), ok);
    put(o, "xxh64", cJSON_CreateString(hex), ok);
    if (p->enc) put(o, "encoding", cJSON_CreateString("bitmask"), ok);
    return o;
}

/* ---- sparse tensors: a bitmask of the non-zero elements, then those elements ---- */

/* Bytes per element when t may be bitmask-encoded (a constant weight of a
 * plain dtype whose bytes are exactly its elements), else 0. */
static size_t encodable(const sk_tensor *t)
{
    const sk_dtype_traits *d = sk_dtype_info(t->dtype);
    int64_t n = sk_tensor_numel(t);
    if (!(t->flags & SK_TF_WEIGHT) || d->block != 1 || n < SPARSE_MIN || !t->data) return 0;
    size_t esz = d->block_bytes;
    if ((esz != 1 && esz != 2 && esz != 4 && esz != 8) || t->nbytes != (size_t)n * esz) return 0;
    return esz;
}

static bool all_zero(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) if (p[i]) return false;
    return true;
}

/* Encode t when that saves at least an eighth of its bytes: bit i of byte
 * i/8 (least significant first) says element i has a non-zero bit pattern
 * (so -0.0 is kept), then the non-zero elements in order.  *out is NULL
 * when the tensor stays dense. */
static sk_status sparse_encode(const sk_tensor *t, void **out, size_t *len)
{
    *out = NULL;
    size_t esz = encodable(t);
    if (!esz) return SK_OK;
    size_t n = (size_t)sk_tensor_numel(t), nnz = 0, mask = (n + 7) / 8;
    const unsigned char *src = t->data;
    for (size_t i = 0; i < n; i++) nnz += !all_zero(src + i * esz, esz);
    size_t enc = mask + nnz * esz;
    if (enc > t->nbytes - t->nbytes / 8) return SK_OK;
    unsigned char *e = sk_calloc(enc ? enc : 1, 1);
    if (!e) return SK_ERR_NOMEM;
    unsigned char *vals = e + mask;
    for (size_t i = 0; i < n; i++)
        if (!all_zero(src + i * esz, esz)) {
            e[i / 8] |= (unsigned char)(1u << (i % 8));
            memcpy(vals, src + i * esz, esz);
            vals += esz;
        }
    *out = e;
    *len = enc;
    return SK_OK;
}

static cJSON *j_arch(const sk_arch *a, bool *ok)
{
    cJSON *o = cJSON_CreateObject();
    put(o, "family", cJSON_CreateString(sk_family_name(a->family)), ok);
    put(o, "task", cJSON_CreateString(a->task), ok);
    const struct { const char *k; int v; } ints[] = {
        {"n_layers", a->n_layers}, {"hidden", a->hidden}, {"heads", a->heads}, {"ffn", a->ffn},
        {"vocab", a->vocab}, {"max_pos", a->max_pos}, {"type_vocab", a->type_vocab}, {"n_labels", a->n_labels},
    };
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) put(o, ints[i].k, j_int(ints[i].v), ok);
    put(o, "eps", j_float(a->eps), ok);
    put(o, "act", cJSON_CreateString(a->act), ok);
    if (a->labels) {
        cJSON *l = put(o, "labels", cJSON_CreateArray(), ok);
        for (int i = 0; i < a->n_labels; i++) put(l, NULL, cJSON_CreateString(a->labels[i]), ok);
    } else {
        put(o, "labels", cJSON_CreateNull(), ok);
    }
    return o;
}

static cJSON *j_tensor(const sk_tensor *t, const payload *p, bool *ok)
{
    cJSON *o = cJSON_CreateObject();
    put(o, "name", cJSON_CreateString(t->name), ok);
    put(o, "dtype", cJSON_CreateString(sk_dtype_info(t->dtype)->name), ok);
    if (t->rank < 0) {
        put(o, "shape", cJSON_CreateNull(), ok);
    } else {
        cJSON *s = put(o, "shape", cJSON_CreateArray(), ok);
        bool named = false;
        for (int d = 0; d < t->rank; d++) {
            put(s, NULL, j_int(t->dims[d]), ok);
            named |= t->dim_names[d] != NULL;
        }
        if (named) {
            cJSON *dn = put(o, "dim_names", cJSON_CreateArray(), ok);
            for (int d = 0; d < t->rank; d++)
                put(dn, NULL, t->dim_names[d] ? cJSON_CreateString(t->dim_names[d]) : cJSON_CreateNull(), ok);
        }
    }
    cJSON *f = put(o, "flags", cJSON_CreateArray(), ok);
    for (size_t k = 0; k < N_FLAGS; k++)
        if (t->flags & flag_names[k].flag) put(f, NULL, cJSON_CreateString(flag_names[k].name), ok);
    if (t->quant) {
        const sk_quant *q = t->quant;
        cJSON *qo = put(o, "quant", cJSON_CreateObject(), ok);
        put(qo, "bits", j_int(q->bits), ok);
        put(qo, "group", j_int(q->group), ok);
        put(qo, "axis", j_int(q->axis), ok);
        put(qo, "symmetric", cJSON_CreateBool(q->symmetric), ok);
        put(qo, "scales", j_int(q->scales), ok);
        put(qo, "zeros", j_int(q->zeros), ok);
    }
    if (p) put(o, "data", j_payload(p, ok), ok);
    return o;
}

static cJSON *j_node(const sk_node *n, bool *ok)
{
    cJSON *o = cJSON_CreateObject();
    put(o, "op", cJSON_CreateString(sk_op_get(n->op)->name), ok);
    put(o, "name", cJSON_CreateString(n->name), ok);
    cJSON *in = put(o, "inputs", cJSON_CreateArray(), ok);
    for (int k = 0; k < n->n_in; k++) put(in, NULL, j_int(n->in[k]), ok);
    cJSON *out = put(o, "outputs", cJSON_CreateArray(), ok);
    for (int k = 0; k < n->n_out; k++) put(out, NULL, j_int(n->out[k]), ok);
    cJSON *attrs = put(o, "attrs", cJSON_CreateObject(), ok);
    for (int k = 0; k < n->n_attrs; k++) {
        const sk_attr *a = &n->attrs[k];
        cJSON *v = put(attrs, a->name, cJSON_CreateObject(), ok);
        switch (a->type) {
        case SK_ATTR_INT: put(v, "int", j_int(a->i), ok); break;
        case SK_ATTR_FLOAT: put(v, "float", j_float(a->f), ok); break;
        case SK_ATTR_STRING: put(v, "string", cJSON_CreateString(a->s ? a->s : ""), ok); break;
        case SK_ATTR_INTS: {
            cJSON *l = put(v, "ints", cJSON_CreateArray(), ok);
            for (int i = 0; i < a->n; i++) put(l, NULL, j_int(a->ints[i]), ok);
            break;
        }
        case SK_ATTR_FLOATS: {
            cJSON *l = put(v, "floats", cJSON_CreateArray(), ok);
            for (int i = 0; i < a->n; i++) put(l, NULL, j_float(a->floats[i]), ok);
            break;
        }
        }
    }
    return o;
}

/* cJSON gives no reason when a parse fails.  When its allocations go through
 * sk_malloc (tests install that hook), a failed allocation has left its
 * message; callers clear the message before parsing. */
static bool parse_ran_out(void) { return !strncmp(sk_errmsg(), "out of memory", 13); }

/* params_json as JSON when it is in cJSON's compact form (so that printing it
 * back gives the same string), else as a string holding it.  NULL on OOM. */
static cJSON *j_params(const char *s)
{
    sk_err_clear();
    cJSON *v = cJSON_ParseWithLengthOpts(s, strlen(s), NULL, false);   /* trailing bytes fail the comparison */
    if (!v) return parse_ran_out() ? NULL : cJSON_CreateString(s);
    char *back = cJSON_PrintUnformatted(v);
    if (!back) {
        cJSON_Delete(v);
        return NULL;
    }
    bool same = !strcmp(back, s);
    cJSON_free(back);
    if (same) return v;
    cJSON_Delete(v);
    return cJSON_CreateString(s);
}

static cJSON *j_header(const sk_model *m, const payload *pay, const sk_blob *files, int n_files,
                       uint64_t data_bytes, bool *ok)
{
    const sk_graph *g = &m->g;
    cJSON *h = cJSON_CreateObject();
    put(h, "shrink_version", cJSON_CreateString(SK_VERSION), ok);
    put(h, "data_bytes", j_int((int64_t)data_bytes), ok);
    put(h, "arch", j_arch(&m->arch, ok), ok);
    cJSON *ts = put(h, "tensors", cJSON_CreateArray(), ok);
    int k = 0;
    for (int i = 0; i < g->n_tensors && *ok; i++) {
        const sk_tensor *t = &g->tensors[i];
        put(ts, NULL, j_tensor(t, t->flags & SK_TF_CONST ? &pay[k] : NULL, ok), ok);
        k += (t->flags & SK_TF_CONST) != 0;
    }
    cJSON *ns = put(h, "nodes", cJSON_CreateArray(), ok);
    for (int i = 0; i < g->n_nodes && *ok; i++) put(ns, NULL, j_node(&g->nodes[i], ok), ok);
    cJSON *in = put(h, "inputs", cJSON_CreateArray(), ok);
    for (int i = 0; i < g->n_inputs; i++) put(in, NULL, j_int(g->inputs[i]), ok);
    cJSON *out = put(h, "outputs", cJSON_CreateArray(), ok);
    for (int i = 0; i < g->n_outputs; i++) put(out, NULL, j_int(g->outputs[i]), ok);
    cJSON *pv = put(h, "provenance", cJSON_CreateArray(), ok);
    for (int i = 0; i < m->n_prov; i++) {
        cJSON *e = put(pv, NULL, cJSON_CreateObject(), ok);
        put(e, "pass", cJSON_CreateString(m->prov[i].pass), ok);
        put(e, "params", j_params(m->prov[i].params_json), ok);
    }
    cJSON *fs = put(h, "files", cJSON_CreateArray(), ok);
    for (int i = 0; i < n_files; i++) {
        cJSON *e = put(fs, NULL, cJSON_CreateObject(), ok);
        put(e, "name", cJSON_CreateString(files[i].name), ok);
        put(e, "data", j_payload(&pay[k + i], ok), ok);
    }
    return h;
}

static bool file_name_ok(const char *s)
{
    size_t n = strlen(s);
    return n && n <= MAX_FILE_NAME && !strchr(s, '/') && strcmp(s, ".") && strcmp(s, "..");
}

/* What save checks beyond sk_graph_verify: what load would refuse. */
static sk_status check_saveable(const sk_model *m, const char *path, const sk_blob *files, int n_files)
{
    const sk_graph *g = &m->g;
    for (int i = 0; i < g->n_tensors; i++) {
        const sk_tensor *t = &g->tensors[i];
        if ((t->flags & SK_TF_CONST) && (t->rank < 0 || sk_tensor_numel(t) < 0 || t->dtype == SK_DT_UNDEF))
            return sk_err(SK_ERR_INVALID, "%s: tensor '%s': a constant needs a dtype and a known shape", path, t->name);
        const sk_quant *q = t->quant;
        if (q && ((q->scales != -1 && (q->scales < 0 || q->scales >= g->n_tensors || q->scales == i ||
                                       !(g->tensors[q->scales].flags & SK_TF_CONST))) ||
                  (q->zeros != -1 && (q->zeros < 0 || q->zeros >= g->n_tensors || q->zeros == i ||
                                      !(g->tensors[q->zeros].flags & SK_TF_CONST)))))
            return sk_err(SK_ERR_INVALID, "%s: tensor '%s': quant scales/zeros must be other constant tensors", path,
                          t->name);
    }
    const sk_arch *a = &m->arch;
    if (strnlen(a->task, sizeof a->task) == sizeof a->task || strnlen(a->act, sizeof a->act) == sizeof a->act)
        return sk_err(SK_ERR_INVALID, "%s: arch task or act is not terminated", path);
    if (a->labels && a->n_labels < 0) return sk_err(SK_ERR_INVALID, "%s: arch has labels but n_labels < 0", path);
    for (int i = 0; a->labels && i < a->n_labels; i++)
        if (!a->labels[i]) return sk_err(SK_ERR_INVALID, "%s: arch label %d is missing", path, i);
    for (int i = 0; i < n_files; i++) {
        if (!file_name_ok(files[i].name))
            return sk_err(SK_ERR_INVALID, "%s: embedded file '%s': not a plain file name", path, files[i].name);
        for (int j = 0; j < i; j++)
            if (!strcmp(files[i].name, files[j].name))
                return sk_err(SK_ERR_INVALID, "%s: embedded file '%s' appears twice", path, files[i].name);
    }
    return SK_OK;
}

/* The tokenizer files to embed: m->files, or those in m->tokenizer_dir
 * (read into *own, which the caller frees). */
static sk_status gather_files(const sk_model *m, sk_blob **files, int *n, sk_blob **own)
{
    *files = m->files;
    *n = m->n_files;
    *own = NULL;
    if (m->n_files || !m->tokenizer_dir) return SK_OK;
    const int max = (int)(sizeof tok_files / sizeof tok_files[0]);
    sk_blob *b = sk_calloc((size_t)max, sizeof *b);
    if (!b) return SK_ERR_NOMEM;
    int k = 0;
    sk_status st = SK_OK;
    for (int i = 0; i < max && !st; i++) {
        char *p = sk_path_join(m->tokenizer_dir, tok_files[i]);
        if (!p) { st = SK_ERR_NOMEM; break; }
        if (sk_file_exists(p)) {
            char *data;
            size_t len;
            if (!(st = sk_read_file(p, &data, &len))) {
                b[k] = (sk_blob){sk_strdup(tok_files[i]), data, len};
                if (!b[k++].name) st = SK_ERR_NOMEM;
            }
        }
        sk_free(p);
    }
    if (st) {
        for (int i = 0; i < k; i++) { sk_free(b[i].name); sk_free(b[i].data); }
        sk_free(b);
        return st;
    }
    *files = *own = b;
    *n = k;
    return SK_OK;
}

static sk_status write_zeros(sk_afile *af, uint64_t n)
{
    static const unsigned char zero[ALIGN];
    sk_status st = SK_OK;
    while (n && !st) {
        size_t k = n < ALIGN ? (size_t)n : ALIGN;
        st = sk_afile_write(af, zero, k);
        n -= k;
    }
    return st;
}

sk_status sk_skm_save(const sk_model *m, const char *path, const sk_skm_opts *o)
{
    sk_skm_opts def = {0};
    if (!o) o = &def;
    if (o->zstd_level < 0 || o->zstd_level > ZSTD_maxCLevel())
        return sk_err(SK_ERR_INVALID, "%s: zstd level %d outside 0..%d", path, o->zstd_level, ZSTD_maxCLevel());
    sk_status st = sk_graph_verify(&m->g);
    if (st) return sk_err_prefix(st, "%s: cannot save an invalid graph", path);
    sk_blob *files, *own = NULL;
    int n_files;
    if ((st = gather_files(m, &files, &n_files, &own))) return st;
    payload *pay = NULL;
    int n_pay = 0;
    ZSTD_CCtx *cc = NULL;
    cJSON *hdr = NULL;
    char *text = NULL;
    sk_afile af = {0};
    bool opened = false;
    if ((st = check_saveable(m, path, files, n_files))) goto done;
    if ((st = sk_afile_open(&af, path, o->force))) goto done;
    opened = true;

    /* payloads: constant tensors in id order, then files */
    const sk_graph *g = &m->g;
    int n_const = 0;
    for (int i = 0; i < g->n_tensors; i++) n_const += (g->tensors[i].flags & SK_TF_CONST) != 0;
    if (!(pay = sk_calloc((size_t)n_const + (size_t)n_files + 1, sizeof *pay))) { st = SK_ERR_NOMEM; goto done; }
    bool encoded = false;
    for (int i = 0; i < g->n_tensors; i++) {
        const sk_tensor *t = &g->tensors[i];
        if (!(t->flags & SK_TF_CONST)) continue;
        payload *p = &pay[n_pay++];
        *p = (payload){.raw = t->data, .raw_size = t->nbytes};
        if (!o->dense && (st = sparse_encode(t, &p->enc, &p->raw_size))) goto done;
        if (p->enc) { p->raw = p->enc; encoded = true; }
    }
    for (int i = 0; i < n_files; i++) pay[n_pay++] = (payload){.raw = files[i].data, .raw_size = files[i].len};
    if (o->zstd_level > 0 && !(cc = ZSTD_createCCtx())) { st = sk_err(SK_ERR_NOMEM, "%s: out of memory (zstd)", path); goto done; }
    uint64_t off = 0;
    for (int i = 0; i < n_pay; i++) {
        payload *p = &pay[i];
        if (!p->raw) p->raw = "";   /* an empty constant may have no data */
        p->hash = sk_skm_xxh64(p->raw, p->raw_size, 0);
        if (cc && p->raw_size) {
            size_t cap = ZSTD_compressBound(p->raw_size);
            if (ZSTD_isError(cap) || !(p->z = sk_malloc(cap))) { st = SK_ERR_NOMEM; goto done; }
            size_t r = ZSTD_compressCCtx(cc, p->z, cap, p->raw, p->raw_size, o->zstd_level);
            if (ZSTD_isError(r)) {
                st = sk_err(ZSTD_getErrorCode(r) == ZSTD_error_memory_allocation ? SK_ERR_NOMEM : SK_ERR_IO,
                            "%s: zstd: %s", path, ZSTD_getErrorName(r));
                goto done;
            }
            if (r < p->raw_size) {
                p->z_size = r;
            } else {
                sk_free(p->z);
                p->z = NULL;
            }
        }
        p->offset = align_up(off);
        off = p->offset + (p->z ? p->z_size : p->raw_size);
    }

    bool ok = true;
    hdr = j_header(m, pay, files, n_files, off, &ok);
    if (ok && hdr) text = cJSON_PrintUnformatted(hdr);
    if (!ok || !hdr || !text) { st = sk_err(SK_ERR_NOMEM, "%s: out of memory writing the header", path); goto done; }
    size_t hlen = strlen(text);
    unsigned char pre[PREAMBLE] = {0};
    memcpy(pre, magic, 8);
    pre[8] = SKM_VERSION;
    pre[12] = encoded ? FLAG_ENCODED : 0;
    put64(pre + 16, hlen);
    put64(pre + 24, sk_skm_xxh64(text, hlen, 0));
    if ((st = sk_afile_write(&af, pre, PREAMBLE))) goto done;
    if ((st = sk_afile_write(&af, text, hlen))) goto done;
    uint64_t pos = PREAMBLE + hlen, data = align_up(pos);
    if ((st = write_zeros(&af, data - pos))) goto done;
    pos = 0;
    for (int i = 0; i < n_pay && !st; i++) {
        const payload *p = &pay[i];
        st = write_zeros(&af, p->offset - pos);
        if (!st) st = p->z ? sk_afile_write(&af, p->z, p->z_size) : sk_afile_write(&af, p->raw, p->raw_size);
        pos = p->offset + (p->z ? p->z_size : p->raw_size);
    }
    if (!st) {
        st = sk_afile_commit(&af);
        opened = false;   /* commit closes, on failure too */
    }
done:
    if (opened) sk_afile_abort(&af);
    cJSON_free(text);
    cJSON_Delete(hdr);
    ZSTD_freeCCtx(cc);
    for (int i = 0; pay && i < n_pay; i++) { sk_free(pay[i].z); sk_free(pay[i].enc); }
    sk_free(pay);
    for (int i = 0; own && i < n_files; i++) { sk_free(own[i].name); sk_free(own[i].data); }
    sk_free(own);
    return st;
}

/* ================================================================ load ==== */

typedef struct lpay {        /* a payload as the header describes it */
    uint64_t off, size, raw, hash;
    bool zstd;
    bool bitmask;            /* "encoding": "bitmask" (tensors only) */
    size_t esz, dense;       /* bitmask: bytes per element, bytes of the decoded tensor */
    int tensor, file;        /* whose: a tensor id or a file index (the other -1) */
} lpay;

typedef struct loader {
    const char *path;
    const unsigned char *base;   /* the mapping */
    size_t len;
    const unsigned char *data;   /* the data section */
    uint32_t flags;              /* of the preamble */
    uint64_t data_bytes;
    sk_model *m;
    lpay *pay;
    int n_pay, cap_pay;
    char where[192];             /* the place being read, for messages: "tensor 'x'" */
} loader;

static sk_status bad(loader *L, sk_status st, const char *fmt, ...) SK_PRINTF(3, 4);
static sk_status bad(loader *L, sk_status st, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (L->where[0]) return sk_err(st, "%s: %s: %s", L->path, L->where, msg);
    return sk_err(st, "%s: %s", L->path, msg);
}

static void set_where(loader *L, const char *kind, int idx, const char *name)
{
    if (name && name[0]) snprintf(L->where, sizeof L->where, "%s '%.120s'", kind, name);
    else snprintf(L->where, sizeof L->where, "%s #%d", kind, idx);
}

static const cJSON *field(const cJSON *o, const char *key) { return cJSON_GetObjectItemCaseSensitive(o, key); }

static sk_status need_int(loader *L, const cJSON *o, const char *key, int64_t lo, int64_t hi, int64_t *out)
{
    *out = 0;
    if (!get_int(field(o, key), lo, hi, out))
        return bad(L, SK_ERR_FORMAT, "\"%s\": expected an integer in [%" PRId64 ", %" PRId64 "]", key, lo, hi);
    return SK_OK;
}

static sk_status need_array(loader *L, const cJSON *o, const char *key, const cJSON **out)
{
    const cJSON *v = field(o, key);
    *out = NULL;
    if (!cJSON_IsArray(v)) return bad(L, SK_ERR_FORMAT, "\"%s\": expected an array", key);
    *out = v;
    return SK_OK;
}

static sk_status need_string(loader *L, const cJSON *o, const char *key, const char **out)
{
    const cJSON *v = field(o, key);
    *out = "";
    if (!cJSON_IsString(v)) return bad(L, SK_ERR_FORMAT, "\"%s\": expected a string", key);
    *out = v->valuestring;
    return SK_OK;
}

/* A payload object: checked against the data section and queued. */
static sk_status read_payload(loader *L, const cJSON *o, int tensor, int file, lpay **out)
{
    if (!cJSON_IsObject(o)) return bad(L, SK_ERR_FORMAT, "\"data\": expected a payload object");
    lpay p = {.tensor = tensor, .file = file};
    int64_t v;
    sk_status st;
    if ((st = need_int(L, o, "offset", 0, INT64_MAX, &v))) return st;
    p.off = (uint64_t)v;
    if ((st = need_int(L, o, "size", 0, INT64_MAX, &v))) return st;
    p.size = (uint64_t)v;
    if ((st = need_int(L, o, "raw_size", 0, INT64_MAX, &v))) return st;
    p.raw = (uint64_t)v;
    const char *comp, *hex;
    if ((st = need_string(L, o, "compression", &comp))) return st;
    if ((st = need_string(L, o, "xxh64", &hex))) return st;
    if (!strcmp(comp, "zstd")) p.zstd = true;
    else if (strcmp(comp, "none")) return bad(L, SK_ERR_FORMAT, "unknown compression '%.32s' (none, zstd)", comp);
    const cJSON *enc = field(o, "encoding");
    if (enc) {
        if (!cJSON_IsString(enc) || strcmp(enc->valuestring, "bitmask"))
            return bad(L, SK_ERR_FORMAT, "unknown encoding (bitmask)");
        if (tensor < 0) return bad(L, SK_ERR_FORMAT, "an embedded file cannot have an encoding");
        if (!(L->flags & FLAG_ENCODED))
            return bad(L, SK_ERR_FORMAT, "an encoded payload, but the preamble's flags do not announce encodings");
        p.bitmask = true;
    }
    if (strlen(hex) != 16 || strspn(hex, "0123456789abcdef") != 16)
        return bad(L, SK_ERR_FORMAT, "\"xxh64\": expected 16 lowercase hex digits");
    for (int i = 0; i < 16; i++) p.hash = p.hash << 4 | (uint64_t)(hex[i] <= '9' ? hex[i] - '0' : hex[i] - 'a' + 10);
    if (p.off % ALIGN) return bad(L, SK_ERR_FORMAT, "payload offset %" PRIu64 " is not a multiple of %d", p.off, ALIGN);
    if (p.off > L->data_bytes || p.size > L->data_bytes - p.off)
        return bad(L, SK_ERR_FORMAT, "payload [%" PRIu64 ", %" PRIu64 ") runs past the end of the data (%" PRIu64 " bytes)",
                   p.off, p.off + p.size, L->data_bytes);
    if (!p.zstd && p.size != p.raw)
        return bad(L, SK_ERR_FORMAT, "uncompressed payload of %" PRIu64 " bytes but raw_size %" PRIu64, p.size, p.raw);
    if (p.zstd && p.raw > p.size * MAX_EXPANSION + 65536)
        return bad(L, SK_ERR_FORMAT, "raw_size %" PRIu64 " is impossible for %" PRIu64 " zstd bytes", p.raw, p.size);
    if (p.raw > SIZE_MAX - ALIGN) return bad(L, SK_ERR_FORMAT, "raw_size %" PRIu64 " too large", p.raw);
    if (L->n_pay == L->cap_pay && sk_grow((void **)&L->pay, &L->cap_pay, L->n_pay + 1, sizeof *L->pay))
        return SK_ERR_NOMEM;
    L->pay[L->n_pay] = p;
    *out = &L->pay[L->n_pay++];
    return SK_OK;
}

static sk_status read_arch(loader *L, const cJSON *o)
{
    snprintf(L->where, sizeof L->where, "arch");
    if (!cJSON_IsObject(o)) return bad(L, SK_ERR_FORMAT, "expected an object");
    sk_arch *a = &L->m->arch;
    const char *s;
    sk_status st;
    if ((st = need_string(L, o, "family", &s))) return st;
    int fam = -1;
    for (int f = SK_FAM_NONE; f <= SK_FAM_RNN; f++)
        if (!strcmp(s, sk_family_name((sk_family)f))) fam = f;
    if (fam < 0) return bad(L, SK_ERR_FORMAT, "unknown family '%.32s'", s);
    a->family = (sk_family)fam;
    if ((st = need_string(L, o, "task", &s))) return st;
    if (strlen(s) >= sizeof a->task) return bad(L, SK_ERR_FORMAT, "\"task\": longer than %zu bytes", sizeof a->task - 1);
    strcpy(a->task, s);
    if ((st = need_string(L, o, "act", &s))) return st;
    if (strlen(s) >= sizeof a->act) return bad(L, SK_ERR_FORMAT, "\"act\": longer than %zu bytes", sizeof a->act - 1);
    strcpy(a->act, s);
    struct { const char *k; int *v; } ints[] = {
        {"n_layers", &a->n_layers}, {"hidden", &a->hidden}, {"heads", &a->heads}, {"ffn", &a->ffn},
        {"vocab", &a->vocab}, {"max_pos", &a->max_pos}, {"type_vocab", &a->type_vocab}, {"n_labels", &a->n_labels},
    };
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        int64_t v;
        if ((st = need_int(L, o, ints[i].k, INT_MIN, INT_MAX, &v))) return st;
        *ints[i].v = (int)v;
    }
    if (!get_float(field(o, "eps"), &a->eps)) return bad(L, SK_ERR_FORMAT, "\"eps\": expected a float");
    const cJSON *l = field(o, "labels");
    if (cJSON_IsNull(l)) return SK_OK;
    if (!cJSON_IsArray(l) || cJSON_GetArraySize(l) != a->n_labels || a->n_labels < 0)
        return bad(L, SK_ERR_FORMAT, "\"labels\": expected null or an array of n_labels (%d) strings", a->n_labels);
    if (!(a->labels = sk_calloc((size_t)a->n_labels + 1, sizeof *a->labels))) return SK_ERR_NOMEM;
    int i = 0;
    for (const cJSON *e = l->child; e; e = e->next, i++) {
        if (!cJSON_IsString(e)) return bad(L, SK_ERR_FORMAT, "\"labels\": entry %d is not a string", i);
        if (!(a->labels[i] = sk_strdup(e->valuestring))) return SK_ERR_NOMEM;
    }
    return SK_OK;
}

static sk_status read_tensor(loader *L, int id, const cJSON *o)
{
    set_where(L, "tensor", id, NULL);
    if (!cJSON_IsObject(o)) return bad(L, SK_ERR_FORMAT, "expected an object");
    const char *name, *dts;
    sk_status st;
    if ((st = need_string(L, o, "name", &name))) return st;
    set_where(L, "tensor", id, name);
    if ((st = need_string(L, o, "dtype", &dts))) return st;
    sk_dtype dt = sk_dtype_from_name(dts);
    if (dt == SK_DT_UNDEF && strcmp(dts, "undef")) return bad(L, SK_ERR_UNSUPPORTED, "unknown dtype '%.32s'", dts);
    const cJSON *shape = field(o, "shape");
    int rank = -1;
    int64_t dims[SK_MAX_RANK];
    if (!cJSON_IsNull(shape)) {
        if (!cJSON_IsArray(shape) || cJSON_GetArraySize(shape) > SK_MAX_RANK)
            return bad(L, SK_ERR_FORMAT, "\"shape\": expected null or an array of at most %d integers", SK_MAX_RANK);
        rank = 0;
        for (const cJSON *e = shape->child; e; e = e->next)
            if (!get_int(e, -1, INT64_MAX, &dims[rank++]))
                return bad(L, SK_ERR_FORMAT, "\"shape\": dim %d is not an integer >= -1", rank - 1);
    }
    if (sk_graph_add_tensor(&L->m->g, name, dt, rank, dims) != id) return SK_ERR_NOMEM;
    sk_tensor *t = &L->m->g.tensors[id];
    const cJSON *dn = field(o, "dim_names");
    if (dn) {
        if (!cJSON_IsArray(dn) || cJSON_GetArraySize(dn) != (rank < 0 ? 0 : rank))
            return bad(L, SK_ERR_FORMAT, "\"dim_names\": expected an array of one string or null per dim");
        int d = 0;
        for (const cJSON *e = dn->child; e; e = e->next, d++) {
            if (cJSON_IsNull(e)) continue;
            if (!cJSON_IsString(e)) return bad(L, SK_ERR_FORMAT, "\"dim_names\": entry %d is not a string or null", d);
            if (!(t->dim_names[d] = sk_strdup(e->valuestring))) return SK_ERR_NOMEM;
        }
    }
    const cJSON *fl;
    if ((st = need_array(L, o, "flags", &fl))) return st;
    for (const cJSON *e = fl->child; e; e = e->next) {
        size_t k = 0;
        while (k < N_FLAGS && !(cJSON_IsString(e) && !strcmp(e->valuestring, flag_names[k].name))) k++;
        if (k == N_FLAGS) return bad(L, SK_ERR_FORMAT, "\"flags\": unknown flag (weight, const, input, output)");
        t->flags |= flag_names[k].flag;
    }
    const cJSON *q = field(o, "quant");
    if (q) {
        if (!cJSON_IsObject(q)) return bad(L, SK_ERR_FORMAT, "\"quant\": expected an object");
        if (!(t->quant = sk_calloc(1, sizeof *t->quant))) return SK_ERR_NOMEM;
        int64_t v[5];
        const char *keys[5] = {"bits", "group", "axis", "scales", "zeros"};
        for (int k = 0; k < 5; k++)
            if (!get_int(field(q, keys[k]), INT_MIN, INT_MAX, &v[k]))
                return bad(L, SK_ERR_FORMAT, "\"quant\": \"%s\": expected an integer", keys[k]);
        const cJSON *sym = field(q, "symmetric");
        if (!cJSON_IsBool(sym)) return bad(L, SK_ERR_FORMAT, "\"quant\": \"symmetric\": expected true or false");
        *t->quant = (sk_quant){(int)v[0], (int)v[1], (int)v[2], cJSON_IsTrue(sym), (int)v[3], (int)v[4]};
    }
    const cJSON *data = field(o, "data");
    if (!(t->flags & SK_TF_CONST)) {
        if (data) return bad(L, SK_ERR_FORMAT, "has \"data\" but is not \"const\"");
        return SK_OK;
    }
    if (!data) return bad(L, SK_ERR_FORMAT, "a \"const\" tensor without \"data\"");
    int64_t n = sk_tensor_numel(t);
    if (rank < 0 || n < 0) return bad(L, SK_ERR_FORMAT, "a constant with an unknown or overflowing shape");
    if (dt == SK_DT_UNDEF) return bad(L, SK_ERR_FORMAT, "a constant without a dtype");
    lpay *p;
    if ((st = read_payload(L, data, id, -1, &p))) return st;
    size_t want;
    if (p->bitmask) {   /* a bitmask of n bits, then at most n elements */
        const sk_dtype_traits *d = sk_dtype_info(dt);
        uint64_t mask = ((uint64_t)n + 7) / 8;
        if (d->block != 1 || !sk_dtype_nbytes(dt, n, &want))
            return bad(L, SK_ERR_FORMAT, "encoding bitmask needs a dtype of whole bytes, not %s", dts);
        p->esz = d->block_bytes;
        p->dense = want;
        if (p->raw < mask || (p->raw - mask) % p->esz || p->raw - mask > want)
            return bad(L, SK_ERR_FORMAT, "bitmask payload of %" PRIu64 " bytes does not fit %" PRId64 " elements of %s",
                       p->raw, n, dts);
        t->nbytes = want;
        return SK_OK;
    }
    if (!t->quant && (!sk_dtype_nbytes(dt, n, &want) || want != p->raw))
        return bad(L, SK_ERR_FORMAT, "payload of %" PRIu64 " bytes, but %" PRId64 " elements of %s need %zu",
                   p->raw, n, dts, sk_dtype_nbytes(dt, n, &want) ? want : 0);
    t->nbytes = (size_t)p->raw;
    return SK_OK;
}

static sk_status read_node(loader *L, int idx, const cJSON *o)
{
    set_where(L, "node", idx, NULL);
    if (!cJSON_IsObject(o)) return bad(L, SK_ERR_FORMAT, "expected an object");
    const char *name, *opname;
    sk_status st;
    if ((st = need_string(L, o, "name", &name))) return st;
    set_where(L, "node", idx, name);
    if ((st = need_string(L, o, "op", &opname))) return st;
    int op = sk_op_from_name(opname);
    if (op < 0) return bad(L, SK_ERR_UNSUPPORTED, "unknown op '%.64s'", opname);
    const cJSON *ins, *outs, *attrs = field(o, "attrs");
    if ((st = need_array(L, o, "inputs", &ins))) return st;
    if ((st = need_array(L, o, "outputs", &outs))) return st;
    if (!cJSON_IsObject(attrs)) return bad(L, SK_ERR_FORMAT, "\"attrs\": expected an object");
    int n_in = cJSON_GetArraySize(ins), n_out = cJSON_GetArraySize(outs), n_t = L->m->g.n_tensors;
    int *ids = sk_malloc(((size_t)n_in + (size_t)n_out + 1) * sizeof *ids);
    if (!ids) return SK_ERR_NOMEM;
    int k = 0;
    for (const cJSON *e = ins->child; e && !st; e = e->next, k++) {
        int64_t v;
        if (!get_int(e, -1, n_t - 1, &v)) st = bad(L, SK_ERR_FORMAT, "input %d: not a tensor id in [-1, %d)", k, n_t);
        else ids[k] = (int)v;
    }
    for (const cJSON *e = outs->child; e && !st; e = e->next, k++) {
        int64_t v;
        if (!get_int(e, -1, n_t - 1, &v)) st = bad(L, SK_ERR_FORMAT, "output %d: not a tensor id in [-1, %d)", k - n_in, n_t);
        else ids[k] = (int)v;
    }
    if (!st && sk_graph_add_node(&L->m->g, (sk_op)op, name, ids, n_in, ids + n_in, n_out) != idx) st = SK_ERR_NOMEM;
    sk_free(ids);
    if (st) return st;
    for (const cJSON *a = attrs->child; a; a = a->next) {
        sk_node *n = &L->m->g.nodes[idx];
        const char *an = a->string;
        if (sk_node_attr(n, an)) return bad(L, SK_ERR_FORMAT, "attribute '%.64s' appears twice", an);
        const cJSON *v = cJSON_IsObject(a) ? a->child : NULL;
        if (!v || v->next)
            return bad(L, SK_ERR_FORMAT, "attribute '%.64s': expected {\"TYPE\": value} with one TYPE", an);
        const char *ty = v->string;
        if (!strcmp(ty, "int")) {
            int64_t x;
            if (!get_int(v, INT64_MIN, INT64_MAX, &x)) return bad(L, SK_ERR_FORMAT, "attribute '%.64s': not an integer", an);
            st = sk_node_set_i(n, an, x);
        } else if (!strcmp(ty, "float")) {
            float x;
            if (!get_float(v, &x)) return bad(L, SK_ERR_FORMAT, "attribute '%.64s': not a float", an);
            st = sk_node_set_f(n, an, x);
        } else if (!strcmp(ty, "string")) {
            if (!cJSON_IsString(v)) return bad(L, SK_ERR_FORMAT, "attribute '%.64s': not a string", an);
            st = sk_node_set_s(n, an, v->valuestring);
        } else if (!strcmp(ty, "ints") || !strcmp(ty, "floats")) {
            bool fl = ty[0] == 'f';
            if (!cJSON_IsArray(v)) return bad(L, SK_ERR_FORMAT, "attribute '%.64s': not an array", an);
            int cnt = cJSON_GetArraySize(v), i = 0;
            void *buf = sk_malloc((size_t)(cnt ? cnt : 1) * (fl ? sizeof(float) : sizeof(int64_t)));
            if (!buf) return SK_ERR_NOMEM;
            for (const cJSON *e = v->child; e && !st; e = e->next, i++)
                if (fl ? !get_float(e, (float *)buf + i) : !get_int(e, INT64_MIN, INT64_MAX, (int64_t *)buf + i))
                    st = bad(L, SK_ERR_FORMAT, "attribute '%.64s': entry %d is not %s", an, i, fl ? "a float" : "an integer");
            if (!st) st = fl ? sk_node_set_floats(n, an, buf, cnt) : sk_node_set_ints(n, an, buf, cnt);
            sk_free(buf);
        } else {
            return bad(L, SK_ERR_FORMAT, "attribute '%.64s': unknown type '%.16s' (int, float, string, ints, floats)", an, ty);
        }
        if (st) return st;
    }
    return SK_OK;
}

static sk_status read_ids(loader *L, const cJSON *h, const char *key, bool input)
{
    snprintf(L->where, sizeof L->where, "graph %s", key);
    const cJSON *a = NULL;
    sk_status st = need_array(L, h, key, &a);
    int k = 0;
    for (const cJSON *e = a ? a->child : NULL; e && !st; e = e->next, k++) {
        int64_t v;
        if (!get_int(e, 0, L->m->g.n_tensors - 1, &v))
            return bad(L, SK_ERR_FORMAT, "entry %d: not a tensor id in [0, %d)", k, L->m->g.n_tensors);
        st = input ? sk_graph_add_input(&L->m->g, (int)v) : sk_graph_add_output(&L->m->g, (int)v);
    }
    return st;
}

static sk_status read_prov(loader *L, const cJSON *h)
{
    snprintf(L->where, sizeof L->where, "provenance");
    const cJSON *a = NULL;
    sk_status st = need_array(L, h, "provenance", &a);
    int k = 0;
    for (const cJSON *e = a ? a->child : NULL; e && !st; e = e->next, k++) {
        snprintf(L->where, sizeof L->where, "provenance entry %d", k);
        const char *pass;
        if (!cJSON_IsObject(e)) return bad(L, SK_ERR_FORMAT, "expected an object");
        if ((st = need_string(L, e, "pass", &pass))) return st;
        const cJSON *p = field(e, "params");
        if (!p) return bad(L, SK_ERR_FORMAT, "\"params\": missing");
        if (cJSON_IsString(p)) {
            st = sk_model_add_prov(L->m, pass, p->valuestring);
        } else {
            char *s = cJSON_PrintUnformatted(p);
            if (!s) return bad(L, SK_ERR_NOMEM, "out of memory");
            st = sk_model_add_prov(L->m, pass, s);
            cJSON_free(s);
        }
    }
    return st;
}

static sk_status read_files(loader *L, const cJSON *h)
{
    snprintf(L->where, sizeof L->where, "files");
    const cJSON *a;
    sk_status st = need_array(L, h, "files", &a);
    if (st) return st;
    int n = cJSON_GetArraySize(a);
    if (n && !(L->m->files = sk_calloc((size_t)n, sizeof *L->m->files))) return SK_ERR_NOMEM;
    int k = 0;
    for (const cJSON *e = a->child; e; e = e->next, k++) {
        set_where(L, "file", k, NULL);
        const char *name;
        if (!cJSON_IsObject(e)) return bad(L, SK_ERR_FORMAT, "expected an object");
        if ((st = need_string(L, e, "name", &name))) return st;
        set_where(L, "file", k, name);
        if (!file_name_ok(name)) return bad(L, SK_ERR_FORMAT, "not a plain file name");
        for (int j = 0; j < k; j++)
            if (!strcmp(L->m->files[j].name, name)) return bad(L, SK_ERR_FORMAT, "appears twice");
        if (!(L->m->files[k].name = sk_strdup(name))) return SK_ERR_NOMEM;
        L->m->n_files = k + 1;
        lpay *p;
        if ((st = read_payload(L, field(e, "data"), -1, k, &p))) return st;
    }
    return SK_OK;
}

static void where_payload(loader *L, const lpay *p)
{
    if (p->tensor >= 0) set_where(L, "tensor", p->tensor, L->m->g.tensors[p->tensor].name);
    else set_where(L, "file", p->file, L->m->files[p->file].name);
}

static int by_offset(const void *a, const void *b)
{
    const lpay *x = *(const lpay *const *)a, *y = *(const lpay *const *)b;
    return x->off < y->off ? -1 : x->off > y->off;
}

/* Payloads must not overlap (empty ones aside). */
static sk_status check_overlaps(loader *L)
{
    lpay **ord = sk_malloc(((size_t)L->n_pay + 1) * sizeof *ord);
    if (!ord) return SK_ERR_NOMEM;
    int n = 0;
    for (int i = 0; i < L->n_pay; i++)
        if (L->pay[i].size) ord[n++] = &L->pay[i];
    qsort(ord, (size_t)n, sizeof *ord, by_offset);
    sk_status st = SK_OK;
    for (int i = 1; i < n && !st; i++) {
        const lpay *a = ord[i - 1], *b = ord[i];
        if (a->off + a->size > b->off) {
            char first[192];
            where_payload(L, a);
            memcpy(first, L->where, sizeof first);
            where_payload(L, b);
            st = bad(L, SK_ERR_FORMAT, "payload [%" PRIu64 ", %" PRIu64 ") overlaps that of %s [%" PRIu64 ", %" PRIu64 ")",
                     b->off, b->off + b->size, first, a->off, a->off + a->size);
        }
    }
    sk_free(ord);
    return st;
}

/* Expand a bitmask payload (raw, verified) into t's own memory; frees the
 * decompressed copy own (which t pointed at) when there is one. */
static sk_status sparse_decode(loader *L, const lpay *p, sk_tensor *t, const unsigned char *raw, unsigned char *own)
{
    size_t n = p->dense / p->esz, mask = (n + 7) / 8, nnz = (size_t)(p->raw - mask) / p->esz, ones = 0;
    for (size_t i = 0; i < mask; i++) ones += (size_t)__builtin_popcount(raw[i]);
    if (n % 8 && raw[mask - 1] >> (n % 8))
        return bad(L, SK_ERR_FORMAT, "bitmask has bits set past the last of its %zu elements", n);
    if (ones != nnz)
        return bad(L, SK_ERR_FORMAT, "bitmask marks %zu non-zero elements but %zu follow", ones, nnz);
    unsigned char *d = sk_aligned_alloc(ALIGN, p->dense ? p->dense : 1);
    if (!d) return SK_ERR_NOMEM;
    memset(d, 0, p->dense);
    const unsigned char *v = raw + mask;
    for (size_t i = 0; i < n; i++)
        if (raw[i / 8] >> (i % 8) & 1) {
            memcpy(d + i * p->esz, v, p->esz);
            v += p->esz;
        }
    if (own) sk_free(own);   /* t->data pointed at it, owned */
    t->data = d;
    t->flags |= SK_TF_OWNED;
    return SK_OK;
}

/* Verify (and decompress) one payload; point its tensor or file at the bytes. */
static sk_status load_payload(loader *L, const lpay *p, ZSTD_DCtx **dc, bool *used_map)
{
    where_payload(L, p);
    const unsigned char *src = L->data + p->off;
    const void *raw = src;
    unsigned char *own = NULL;
    sk_tensor *t = p->tensor >= 0 ? &L->m->g.tensors[p->tensor] : NULL;
    sk_blob *f = p->file >= 0 ? &L->m->files[p->file] : NULL;
    if (p->zstd) {
        unsigned long long fcs = ZSTD_getFrameContentSize(src, (size_t)p->size);
        if (fcs == ZSTD_CONTENTSIZE_ERROR) return bad(L, SK_ERR_FORMAT, "payload is not a zstd frame");
        if (fcs == ZSTD_CONTENTSIZE_UNKNOWN) return bad(L, SK_ERR_FORMAT, "zstd frame without a content size");
        if (fcs != p->raw)
            return bad(L, SK_ERR_FORMAT, "zstd frame holds %llu bytes, the header says raw_size %" PRIu64, fcs, p->raw);
        /* files get a NUL after their bytes (sk_blob); tensors 64-aligned memory */
        own = t ? sk_aligned_alloc(ALIGN, (size_t)p->raw) : sk_malloc((size_t)p->raw + 1);
        if (!own) return SK_ERR_NOMEM;
        if (t) { t->data = own; t->flags |= SK_TF_OWNED; }
        else { f->data = own; f->len = (size_t)p->raw; own[p->raw] = 0; }
        if (!*dc && !(*dc = ZSTD_createDCtx())) return bad(L, SK_ERR_NOMEM, "out of memory (zstd)");
        size_t r = ZSTD_decompressDCtx(*dc, own, (size_t)p->raw, src, (size_t)p->size);
        if (ZSTD_isError(r))
            return bad(L, ZSTD_getErrorCode(r) == ZSTD_error_memory_allocation ? SK_ERR_NOMEM : SK_ERR_FORMAT,
                       "zstd: %s (payload corrupt)", ZSTD_getErrorName(r));
        if (r != p->raw)
            return bad(L, SK_ERR_FORMAT, "decompressed to %zu bytes, the header says raw_size %" PRIu64, r, p->raw);
        raw = own;
    }
    if (sk_skm_xxh64(raw, (size_t)p->raw, 0) != p->hash) return bad(L, SK_ERR_FORMAT, "checksum mismatch (payload corrupt)");
    if (p->bitmask) return sparse_decode(L, p, t, raw, own);
    if (p->zstd) return SK_OK;
    if (t) {
        t->data = (void *)src;   /* read-only view into the mapping */
        *used_map = true;
        return SK_OK;
    }
    if (!(own = sk_malloc((size_t)p->raw + 1))) return SK_ERR_NOMEM;
    memcpy(own, src, (size_t)p->raw);
    own[p->raw] = 0;
    f->data = own;
    f->len = (size_t)p->raw;
    return SK_OK;
}

static sk_status load(loader *L)
{
    const unsigned char *b = L->base;
    size_t len = L->len;
    if (len == 0) return bad(L, SK_ERR_FORMAT, "empty file (0 bytes), not a .skm");
    if (memcmp(b, magic, len < 8 ? len : 8)) return bad(L, SK_ERR_FORMAT, "not a .skm file (bad magic)");
    if (len < PREAMBLE) return bad(L, SK_ERR_FORMAT, "truncated: %zu bytes, shorter than the %d-byte preamble", len, PREAMBLE);
    uint32_t version = le32(b + 8), flags = le32(b + 12);
    if (version != SKM_VERSION)
        return bad(L, SK_ERR_UNSUPPORTED, "format version %" PRIu32 "; this shrink reads version %d", version, SKM_VERSION);
    if (flags & ~FLAG_ENCODED) return bad(L, SK_ERR_FORMAT, "unknown flags 0x%" PRIx32 " in the preamble", flags);
    L->flags = flags;
    uint64_t hlen = le64(b + 16);
    if (hlen > len - PREAMBLE)
        return bad(L, SK_ERR_FORMAT, "header length %" PRIu64 " runs past the end of the file (%zu bytes): truncated?", hlen, len);
    const char *text = (const char *)b + PREAMBLE;
    if (sk_skm_xxh64(text, (size_t)hlen, 0) != le64(b + 24))
        return bad(L, SK_ERR_FORMAT, "header checksum mismatch (header corrupt)");
    const char *end = NULL;
    sk_err_clear();
    cJSON *h = cJSON_ParseWithLengthOpts(text, (size_t)hlen, &end, false);
    if (!h) {
        if (parse_ran_out()) return bad(L, SK_ERR_NOMEM, "out of memory reading the header");
        size_t at = end && end >= text && end <= text + hlen ? (size_t)(end - text) : 0;
        return bad(L, SK_ERR_FORMAT, "header: invalid JSON near byte %zu", at);
    }
    sk_status st = SK_OK;
    snprintf(L->where, sizeof L->where, "header");
    for (const char *p = end; p && p < text + hlen && !st; p++)
        if (!strchr(" \t\r\n", *p)) st = bad(L, SK_ERR_FORMAT, "bytes after the JSON object");
    if (!st && !cJSON_IsObject(h)) st = bad(L, SK_ERR_FORMAT, "not a JSON object");
    int64_t db = 0;
    if (!st) st = need_int(L, h, "data_bytes", 0, INT64_MAX - 2 * ALIGN, &db);
    const char *ver;
    if (!st) st = need_string(L, h, "shrink_version", &ver);
    L->where[0] = 0;
    if (!st) {
        uint64_t data = align_up(PREAMBLE + hlen), need = data + (uint64_t)db;
        if (need > len) st = bad(L, SK_ERR_FORMAT, "truncated: %zu bytes, the header says %" PRIu64, len, need);
        else if (need < len) st = bad(L, SK_ERR_FORMAT, "%" PRIu64 " bytes after the end of the data", len - need);
        L->data = b + data;
        L->data_bytes = (uint64_t)db;
    }
    if (!st && !(L->m = sk_model_new())) st = SK_ERR_NOMEM;
    if (st) {
        cJSON_Delete(h);
        return st;
    }
    st = read_arch(L, field(h, "arch"));
    const cJSON *ts = NULL, *ns = NULL;
    L->where[0] = 0;
    if (!st) st = need_array(L, h, "tensors", &ts);
    if (!st) st = need_array(L, h, "nodes", &ns);
    int k = 0;
    for (const cJSON *e = ts ? ts->child : NULL; e && !st; e = e->next) st = read_tensor(L, k++, e);
    /* quant references, now that every tensor exists */
    for (int i = 0; i < L->m->g.n_tensors && !st; i++) {
        const sk_tensor *t = &L->m->g.tensors[i];
        if (!t->quant) continue;
        int r[2] = {t->quant->scales, t->quant->zeros};
        for (int j = 0; j < 2 && !st; j++)
            if (r[j] != -1 && (r[j] < 0 || r[j] >= L->m->g.n_tensors || r[j] == i ||
                               !(L->m->g.tensors[r[j]].flags & SK_TF_CONST))) {
                set_where(L, "tensor", i, t->name);
                st = bad(L, SK_ERR_FORMAT, "quant %s: tensor id %d is not another constant tensor",
                         j ? "zeros" : "scales", r[j]);
            }
    }
    k = 0;
    for (const cJSON *e = ns ? ns->child : NULL; e && !st; e = e->next) st = read_node(L, k++, e);
    if (!st) st = read_ids(L, h, "inputs", true);
    if (!st) st = read_ids(L, h, "outputs", false);
    if (!st) st = read_prov(L, h);
    if (!st) st = read_files(L, h);
    cJSON_Delete(h);
    if (!st) st = check_overlaps(L);
    ZSTD_DCtx *dc = NULL;
    bool used_map = false;
    for (int i = 0; i < L->n_pay && !st; i++) st = load_payload(L, &L->pay[i], &dc, &used_map);
    ZSTD_freeDCtx(dc);
    L->where[0] = 0;
    if (!st && (st = sk_graph_verify(&L->m->g))) sk_err_prefix(st, "%s: invalid graph", L->path);
    if (!st && !(L->m->source = sk_strdup(L->path))) st = SK_ERR_NOMEM;
    /* the model keeps the mapping while a tensor points into it */
    if (!st && used_map && !(st = sk_model_add_map(L->m, (void *)L->base, L->len))) L->base = NULL;
    return st;
}

sk_status sk_skm_load(const char *path, sk_model **out)
{
    *out = NULL;
    void *addr;
    size_t len;
    sk_status st = sk_mmap_file(path, &addr, &len);
    if (st) return st;
    loader L = {.path = path, .base = addr, .len = len};
    if ((st = load(&L))) {
        sk_model_free(L.m);
        L.m = NULL;
    }
    if (L.base) sk_munmap((void *)L.base, len);
    sk_free(L.pay);
    *out = L.m;
    return st;
}
