/* safetensors.c — reading .safetensors files and sharded checkpoints.
 *
 * A safetensors file is a u64 little-endian header length, a JSON header
 * {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}
 * and a byte buffer the offsets point into.  sk_st_open maps the file and
 * checks everything the header claims before anything uses it: the header
 * fits the file, every dtype is known, shapes do not overflow, every byte
 * range lies inside the buffer, matches its shape and overlaps no other.
 * After that, tensor data is a plain pointer into the mapping.
 *
 * This file knows the byte format only; what the tensors mean (which model,
 * which layer) is hf_config.c's business and src/arch's.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <cJSON.h>
#include "formats.h"
#include "util/util.h"

#define MAX_HEADER (100u << 20)          /* 100 MB, as the reference implementation */
#define MAX_EXACT  9007199254740992.0    /* 2^53: JSON numbers beyond this are not exact */

struct sk_st_file {
    char *path;
    void *map; size_t len;
    bool map_given;        /* the model unmaps it */
    sk_st_tensor *t;       /* n tensors, sorted by name */
    int n;
    char *names;           /* one block holding every name */
};

/* Offsets kept beside each tensor while validating. */
typedef struct span { size_t begin, end; int idx; } span;

static int cmp_tensor_name(const void *a, const void *b)
{
    return strcmp(((const sk_st_tensor *)a)->name, ((const sk_st_tensor *)b)->name);
}

static int cmp_span(const void *a, const void *b)
{
    const span *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

/* A JSON number that is a non-negative integer representable exactly. */
static bool json_uint(const cJSON *j, double *v)
{
    if (!cJSON_IsNumber(j)) return false;
    double d = j->valuedouble;
    if (!(d >= 0 && d <= MAX_EXACT) || d != floor(d)) return false;
    *v = d;
    return true;
}

/* The JSON text of j, shortened, for messages (static buffer: one per message). */
static const char *json_brief(const cJSON *j)
{
    static _Thread_local char buf[64];
    char *s = cJSON_PrintUnformatted(j);
    if (!s) return "?";
    size_t n = strlen(s);
    if (n >= sizeof buf) { memcpy(buf, s, sizeof buf - 4); memcpy(buf + sizeof buf - 4, "...", 4); }
    else memcpy(buf, s, n + 1);
    cJSON_free(s);
    return buf;
}

/* Fill *t from one header entry; name is already set.  data_size is the
 * size of the byte buffer. */
static sk_status parse_entry(const char *path, const cJSON *e, size_t data_size, const uint8_t *data,
                             sk_st_tensor *t, span *sp)
{
    const char *name = t->name;
    if (!cJSON_IsObject(e))
        return sk_err(SK_ERR_FORMAT, "%s: tensor '%s': expected an object, got %s", path, name, json_brief(e));
    const cJSON *jd = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    const cJSON *js = cJSON_GetObjectItemCaseSensitive(e, "shape");
    const cJSON *jo = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    if (!cJSON_IsString(jd))
        return sk_err(SK_ERR_FORMAT, "%s: tensor '%s': missing or non-string 'dtype'", path, name);
    t->dtype = sk_dtype_from_st(jd->valuestring);
    if (t->dtype == SK_DT_UNDEF)
        return sk_err(SK_ERR_FORMAT, "%s: tensor '%s': unknown dtype \"%.32s\" (expected F32 F16 BF16 F64 I64 I32 "
                      "I16 I8 U8 BOOL)", path, name, jd->valuestring);

    if (!cJSON_IsArray(js))
        return sk_err(SK_ERR_FORMAT, "%s: tensor '%s': missing or non-array 'shape'", path, name);
    int rank = cJSON_GetArraySize(js);
    if (rank > SK_MAX_RANK)
        return sk_err(SK_ERR_UNSUPPORTED, "%s: tensor '%s': rank %d > %d", path, name, rank, SK_MAX_RANK);
    t->rank = rank;
    int64_t numel = 1;
    bool overflow = false;
    for (int i = 0; i < rank; i++) {
        double d;
        const cJSON *jd_i = cJSON_GetArrayItem(js, i);
        if (cJSON_IsNumber(jd_i) && jd_i->valuedouble > MAX_EXACT)
            return sk_err(SK_ERR_FORMAT, "%s: tensor '%s': shape %s: dimension %d is too large", path, name,
                          json_brief(js), i);
        if (!json_uint(jd_i, &d))
            return sk_err(SK_ERR_FORMAT, "%s: tensor '%s': shape %s: dimension %d is not a non-negative integer",
                          path, name, json_brief(js), i);
        t->dims[i] = (int64_t)d;
        if (t->dims[i] && numel > INT64_MAX / t->dims[i]) overflow = true;
        else numel *= t->dims[i];
    }
    if (overflow || !sk_dtype_nbytes(t->dtype, numel, &t->nbytes))
        return sk_err(SK_ERR_FORMAT, "%s: tensor '%s': shape %s overflows", path, name, json_brief(js));

    double b, en;
    if (!cJSON_IsArray(jo) || cJSON_GetArraySize(jo) != 2 || !json_uint(cJSON_GetArrayItem(jo, 0), &b) ||
        !json_uint(cJSON_GetArrayItem(jo, 1), &en))
        return sk_err(SK_ERR_FORMAT, "%s: tensor '%s': 'data_offsets' must be [begin, end] (non-negative "
                      "integers), got %s", path, name, jo ? json_brief(jo) : "nothing");
    if (b > en)
        return sk_err(SK_ERR_FORMAT, "%s: tensor '%s': data_offsets [%.0f, %.0f] end before begin", path, name, b, en);
    if (en > (double)data_size)
        return sk_err(SK_ERR_FORMAT, "%s: tensor '%s': data_offsets [%.0f, %.0f] past end of data (size %zu)",
                      path, name, b, en, data_size);
    sp->begin = (size_t)b;
    sp->end = (size_t)en;
    if (sp->end - sp->begin != t->nbytes)
        return sk_err(SK_ERR_FORMAT, "%s: tensor '%s': data_offsets [%zu, %zu] hold %zu bytes, but %s %s needs %zu",
                      path, name, sp->begin, sp->end, sp->end - sp->begin, jd->valuestring, json_brief(js), t->nbytes);
    t->data = data + sp->begin;
    return SK_OK;
}

/* Parse and validate the header of f (already mapped). */
static sk_status parse_header(sk_st_file *f)
{
    const char *path = f->path;
    const uint8_t *p = f->map;
    if (f->len < 8)
        return sk_err(SK_ERR_FORMAT, "%s: file too short (%zu bytes) to be a safetensors file", path, f->len);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | p[i];
    if (hlen > f->len - 8)
        return sk_err(SK_ERR_FORMAT, "%s: header length %llu is larger than the file (%zu bytes)", path,
                      (unsigned long long)hlen, f->len);
    if (hlen > MAX_HEADER)
        return sk_err(SK_ERR_FORMAT, "%s: header length %llu exceeds the 100 MB limit", path, (unsigned long long)hlen);
    const char *h = (const char *)p + 8;
    size_t data_size = f->len - 8 - (size_t)hlen;
    const uint8_t *data = p + 8 + hlen;
    if (hlen < 2 || h[0] != '{')
        return sk_err(SK_ERR_FORMAT, "%s: header is not a JSON object (length %llu)", path, (unsigned long long)hlen);

    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(h, (size_t)hlen, &end, 0);
    if (!root) {
        const char *e = cJSON_GetErrorPtr();
        long at = e && e >= h && e <= h + hlen ? (long)(e - h) : -1;
        return sk_err(SK_ERR_FORMAT, "%s: header is not valid JSON (error near byte %ld of %llu)", path, at,
                      (unsigned long long)hlen);
    }
    sk_status st = SK_OK;
    /* the header may be padded with spaces, nothing else */
    for (const char *q = end; q && q < h + hlen && !st; q++)
        if (*q != ' ' && *q != '\t' && *q != '\n' && *q != '\r' && *q != 0)
            st = sk_err(SK_ERR_FORMAT, "%s: header has trailing bytes after the JSON object (at byte %ld)", path,
                        (long)(q - h));
    if (!st && !cJSON_IsObject(root))
        st = sk_err(SK_ERR_FORMAT, "%s: header is not a JSON object", path);

    /* count tensors and the bytes of their names */
    int n = 0;
    size_t name_bytes = 0;
    const cJSON *e;
    if (!st) cJSON_ArrayForEach(e, root) {
        if (!e->string) { st = sk_err(SK_ERR_FORMAT, "%s: header entry without a name", path); break; }
        if (!strcmp(e->string, "__metadata__")) {
            if (!cJSON_IsObject(e)) { st = sk_err(SK_ERR_FORMAT, "%s: '__metadata__' is not an object", path); break; }
            continue;
        }
        n++;
        name_bytes += strlen(e->string) + 1;
    }
    span *sp = NULL;
    if (!st) {
        f->t = sk_calloc((size_t)(n ? n : 1), sizeof *f->t);
        sp = sk_calloc((size_t)(n ? n : 1), sizeof *sp);
        f->names = sk_malloc(name_bytes ? name_bytes : 1);
        if (!f->t || !sp || !f->names) st = SK_ERR_NOMEM;
    }
    int k = 0;
    char *nm = f->names;
    if (!st) cJSON_ArrayForEach(e, root) {
        if (!strcmp(e->string, "__metadata__")) continue;
        size_t l = strlen(e->string) + 1;
        memcpy(nm, e->string, l);
        f->t[k].name = nm;
        nm += l;
        sp[k].idx = k;
        if ((st = parse_entry(path, e, data_size, data, &f->t[k], &sp[k]))) break;
        k++;
    }
    cJSON_Delete(root);
    if (!st) f->n = n;

    /* byte ranges must not overlap (empty tensors overlap nothing) */
    if (!st && n > 1) {
        qsort(sp, (size_t)n, sizeof *sp, cmp_span);
        size_t prev_end = 0;
        int prev = -1;
        for (int i = 0; i < n && !st; i++) {
            if (sp[i].begin == sp[i].end) continue;
            if (prev >= 0 && sp[i].begin < prev_end)
                st = sk_err(SK_ERR_FORMAT, "%s: tensor '%s': data_offsets [%zu, %zu] overlap tensor '%s' [%zu, %zu]",
                            path, f->t[sp[i].idx].name, sp[i].begin, sp[i].end, f->t[sp[prev].idx].name,
                            sp[prev].begin, sp[prev].end);
            prev = i;
            prev_end = sp[i].end;
        }
    }
    sk_free(sp);
    if (!st && n > 1) {
        qsort(f->t, (size_t)n, sizeof *f->t, cmp_tensor_name);
        for (int i = 1; i < n && !st; i++)
            if (!strcmp(f->t[i].name, f->t[i - 1].name))
                st = sk_err(SK_ERR_FORMAT, "%s: tensor '%s' appears twice in the header", path, f->t[i].name);
    }
    return st;
}

sk_status sk_st_open(const char *path, sk_st_file **out)
{
    *out = NULL;
    sk_st_file *f = sk_calloc(1, sizeof *f);
    if (!f) return SK_ERR_NOMEM;
    f->path = sk_strdup(path);
    if (!f->path) { sk_free(f); return SK_ERR_NOMEM; }
    sk_status st = sk_mmap_file(path, &f->map, &f->len);
    if (!st) st = parse_header(f);
    if (st) { sk_st_close(f); return st; }
    *out = f;
    return SK_OK;
}

void sk_st_close(sk_st_file *f)
{
    if (!f) return;
    if (!f->map_given) sk_munmap(f->map, f->len);
    sk_free(f->t);
    sk_free(f->names);
    sk_free(f->path);
    sk_free(f);
}

const char *sk_st_path(const sk_st_file *f) { return f->path; }
int sk_st_count(const sk_st_file *f) { return f->n; }

const sk_st_tensor *sk_st_at(const sk_st_file *f, int i)
{
    return i >= 0 && i < f->n ? &f->t[i] : NULL;
}

const sk_st_tensor *sk_st_find(const sk_st_file *f, const char *name)
{
    sk_st_tensor key = {.name = name};
    return f->n ? bsearch(&key, f->t, (size_t)f->n, sizeof *f->t, cmp_tensor_name) : NULL;
}

sk_status sk_st_give_map(sk_st_file *f, sk_model *m)
{
    if (f->map_given || !f->map) return SK_OK;
    sk_status st = sk_model_add_map(m, f->map, f->len);
    if (!st) f->map_given = true;
    return st;
}

/* ---- sharded checkpoints ---- */

static sk_status set_add(sk_st_set *s, const char *path)
{
    sk_st_file **a = sk_realloc(s->files, (size_t)(s->n_files + 1) * sizeof *a);
    if (!a) return SK_ERR_NOMEM;
    s->files = a;
    sk_status st = sk_st_open(path, &s->files[s->n_files]);
    if (!st) s->n_files++;
    return st;
}

/* Open the shards an index lists, each once, and check the index against them. */
static sk_status open_index(const char *path, sk_st_set *s)
{
    char *text = NULL;
    size_t len = 0;
    sk_status st = sk_read_file(path, &text, &len);
    if (st) return st;
    cJSON *root = cJSON_ParseWithLength(text, len);
    sk_free(text);
    if (!root) return sk_err(SK_ERR_FORMAT, "%s: not valid JSON", path);
    const cJSON *wm = cJSON_GetObjectItemCaseSensitive(root, "weight_map");
    if (!cJSON_IsObject(wm)) st = sk_err(SK_ERR_FORMAT, "%s: missing or non-object 'weight_map'", path);
    char *dir = st ? NULL : sk_path_dir(path);
    if (!st && !dir) st = SK_ERR_NOMEM;
    const cJSON *e;
    if (!st) cJSON_ArrayForEach(e, wm) {
        const char *shard = cJSON_IsString(e) ? e->valuestring : NULL;
        if (!shard || !shard[0] || strchr(shard, '/') || !strcmp(shard, "..") || !strcmp(shard, ".")) {
            st = sk_err(SK_ERR_FORMAT, "%s: tensor '%s': shard must be a file name in the same folder, got %s", path,
                        e->string, json_brief(e));
            break;
        }
        char *sp = sk_path_join(dir, shard);
        if (!sp) { st = SK_ERR_NOMEM; break; }
        bool have = false;
        for (int i = 0; i < s->n_files && !have; i++) have = !strcmp(sk_st_path(s->files[i]), sp);
        if (!have && (st = set_add(s, sp))) sk_err_prefix(st, "%s", path);
        if (!st) {
            const sk_st_file *f = NULL;
            for (int i = 0; i < s->n_files; i++)
                if (!strcmp(sk_st_path(s->files[i]), sp)) f = s->files[i];
            if (!f || !sk_st_find(f, e->string))
                st = sk_err(SK_ERR_FORMAT, "%s: tensor '%s' is listed in shard '%s' but not found there", path,
                            e->string, shard);
        }
        sk_free(sp);
        if (st) break;
    }
    if (!st && s->n_files == 0) st = sk_err(SK_ERR_FORMAT, "%s: 'weight_map' lists no tensors", path);
    sk_free(dir);
    cJSON_Delete(root);
    return st;
}

sk_status sk_st_set_open(const char *path, sk_st_set *s)
{
    memset(s, 0, sizeof *s);
    size_t n = strlen(path);
    sk_status st = n > 5 && !strcmp(path + n - 5, ".json") ? open_index(path, s) : set_add(s, path);
    if (st) {
        sk_st_set_close(s);
        return st;
    }
    return SK_OK;
}

void sk_st_set_close(sk_st_set *s)
{
    for (int i = 0; i < s->n_files; i++) sk_st_close(s->files[i]);
    sk_free(s->files);
    memset(s, 0, sizeof *s);
}

const sk_st_tensor *sk_st_set_find(const sk_st_set *s, const char *name, const sk_st_file **file)
{
    for (int i = 0; i < s->n_files; i++) {
        const sk_st_tensor *t = sk_st_find(s->files[i], name);
        if (t) {
            if (file) *file = s->files[i];
            return t;
        }
    }
    return NULL;
}
