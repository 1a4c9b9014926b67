/* onnx.c — the ONNX importer: a ModelProto (unpacked by protobuf-c) → sk_model.
 *
 * Reads one .onnx file (plus its external-data files and, when present, the
 * config.json beside it) and builds the IR: graph inputs, initializers and
 * Constant nodes as constant tensors, every other node as an sk_node whose op
 * comes from src/ir/ops.def.  Nothing is skipped silently: an op, attribute
 * type, data type or opset we do not handle is an error naming it, and every
 * size, count, offset and name reference in the file is checked before use.
 * The importer keeps ONNX's node semantics as they are (Squeeze axes as an
 * attribute before opset 13 and as an input after, and so on) except where
 * an op changed meaning within the opsets we accept, which is rewritten into
 * today's form (Softmax before opset 13), and a few spellings that have one
 * form in the IR (formats.h lists them all).  It knows nothing of passes or
 * the runtime, and never trusts the protobuf: protobuf-c only sees a file
 * after its nesting depth was checked, and every value it yields is checked
 * again here.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "formats.h"
#include "onnx.pb-c.h"
#include "util/util.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "onnx.c reads ONNX's little-endian raw_data in place"
#endif

#define OPSET_MIN 11
#define OPSET_MAX 21            /* 18..21 changed none of our ops' meaning (see check_opsets) */
#define IR_MIN 3                /* opset_import exists from IR 3 on */
#define MAX_DIM ((int64_t)1 << 40)
#define MAX_NEST 64             /* message nesting accepted before protobuf-c sees the bytes */

/* ---- a name → id map (open addressing; keys are borrowed, never freed) ---- */
typedef struct nmap {
    const char **key;
    int *val;
    size_t cap, n;
} nmap;

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;   /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static int nmap_get(const nmap *h, const char *k)
{
    if (!h->cap) return -1;
    for (size_t i = hash_str(k) & (h->cap - 1);; i = (i + 1) & (h->cap - 1)) {
        if (!h->key[i]) return -1;
        if (!strcmp(h->key[i], k)) return h->val[i];
    }
}

static sk_status nmap_put(nmap *h, const char *k, int v)
{
    if (2 * (h->n + 1) > h->cap) {
        nmap g = {0};
        g.cap = h->cap ? 2 * h->cap : 64;
        g.key = sk_calloc(g.cap, sizeof *g.key);
        g.val = sk_calloc(g.cap, sizeof *g.val);
        if (!g.key || !g.val) { sk_free(g.key); sk_free(g.val); return SK_ERR_NOMEM; }
        for (size_t i = 0; i < h->cap; i++)
            if (h->key[i]) nmap_put(&g, h->key[i], h->val[i]);   /* cannot grow again */
        sk_free(h->key);
        sk_free(h->val);
        *h = g;
    }
    size_t i = hash_str(k) & (h->cap - 1);
    while (h->key[i] && strcmp(h->key[i], k)) i = (i + 1) & (h->cap - 1);
    if (!h->key[i]) h->n++;
    h->key[i] = k;
    h->val[i] = v;
    return SK_OK;
}

static void nmap_free(nmap *h)
{
    sk_free(h->key);
    sk_free(h->val);
    memset(h, 0, sizeof *h);
}

/* ---- import state ---- */
typedef struct extfile {       /* one external-data file, mapped once */
    char *location;
    void *addr;
    size_t len;
    bool kept;                 /* tensors point into it: the model owns the mapping */
} extfile;

typedef struct rankinfo { int rank, len; } rankinfo;   /* -1 = unknown; len: elements of a 1-D tensor */

typedef struct ctx {
    const char *path;          /* for messages */
    char *dir;                 /* the model's folder */
    sk_model *m;
    int64_t opset;             /* default domain */
    int64_t ms_opset;          /* com.microsoft, 0 if not imported */
    nmap names;                /* tensor name → tensor id */
    nmap vinfo;                /* value name → index into vi[] */
    const Onnx__ValueInfoProto **vi;
    extfile *ext;
    int n_ext;
    int n_synth;               /* tensors the importer made up (rewrites) */
    rankinfo *rank;            /* rank[t]: what rank_infer can tell of tensor t */
    int n_rank, cap_rank;
} ctx;

static const char *S(const char *s) { return s ? s : ""; }

static const char *onnx_type_name(int t)
{
    static const char *names[] = {
        "UNDEFINED", "FLOAT", "UINT8", "INT8", "UINT16", "INT16", "INT32", "INT64", "STRING", "BOOL",
        "FLOAT16", "DOUBLE", "UINT32", "UINT64", "COMPLEX64", "COMPLEX128", "BFLOAT16", "FLOAT8E4M3FN",
        "FLOAT8E4M3FNUZ", "FLOAT8E5M2", "FLOAT8E5M2FNUZ", "UINT4", "INT4", "FLOAT4E2M1", "FLOAT8E8M0",
        "UINT2", "INT2", "FLOAT6E2M3", "FLOAT6E3M2",
    };
    return t >= 0 && (size_t)t < sizeof names / sizeof names[0] ? names[t] : "unknown";
}

static const char *attr_type_name(int t)
{
    static const char *names[] = {
        "UNDEFINED", "FLOAT", "INT", "STRING", "TENSOR", "GRAPH", "FLOATS", "INTS", "STRINGS",
        "TENSORS", "GRAPHS", "SPARSE_TENSOR", "SPARSE_TENSORS", "TYPE_PROTO", "TYPE_PROTOS",
    };
    return t >= 0 && (size_t)t < sizeof names / sizeof names[0] ? names[t] : "unknown";
}

static void fmt_dims(char *buf, size_t cap, const int64_t *dims, size_t n)
{
    size_t k = (size_t)snprintf(buf, cap, "[");
    for (size_t i = 0; i < n && k < cap; i++) {
        if (i == SK_MAX_RANK) { k += (size_t)snprintf(buf + k, cap - k, ", ..."); break; }
        k += (size_t)snprintf(buf + k, cap - k, "%s%lld", i ? ", " : "", (long long)dims[i]);
    }
    if (k < cap) snprintf(buf + k, cap - k, "]");
}

/* ---- protobuf-c plumbing ---- */
typedef struct pb_alloc_state { bool oom; } pb_alloc_state;

static void *pb_alloc(void *ud, size_t n)
{
    void *p = sk_malloc(n);
    if (!p) ((pb_alloc_state *)ud)->oom = true;
    return p;
}

static void pb_free(void *ud, void *p)
{
    (void)ud;
    sk_free(p);
}

static bool wire_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    *v = 0;
    for (int shift = 0; shift < 64 && *p < end; shift += 7) {
        uint8_t b = *(*p)++;
        *v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) return true;
    }
    return false;
}

/* protobuf-c recurses once per nested message with no depth limit, so a
 * crafted file nesting graphs inside attributes thousands deep would overflow
 * the stack.  Walk the wire format first (cheap: payloads are skipped) and
 * report whether nesting stays within MAX_NEST.  Malformed bytes end the walk
 * with "fine": protobuf-c then rejects them itself. */
static bool wire_nesting_ok(const uint8_t *p, const uint8_t *end, const ProtobufCMessageDescriptor *d, int depth)
{
    if (depth > MAX_NEST) return false;
    while (p < end) {
        uint64_t tag, v;
        if (!wire_varint(&p, end, &tag)) return true;
        switch (tag & 7) {
        case 0: if (!wire_varint(&p, end, &v)) return true; break;
        case 1: if (end - p < 8) return true; p += 8; break;
        case 5: if (end - p < 4) return true; p += 4; break;
        case 2: {
            if (!wire_varint(&p, end, &v) || v > (uint64_t)(end - p)) return true;
            const ProtobufCFieldDescriptor *f =
                tag >> 3 <= UINT_MAX ? protobuf_c_message_descriptor_get_field(d, (unsigned)(tag >> 3)) : NULL;
            if (f && f->type == PROTOBUF_C_TYPE_MESSAGE &&
                !wire_nesting_ok(p, p + v, (const ProtobufCMessageDescriptor *)f->descriptor, depth + 1))
                return false;
            p += v;
            break;
        }
        default: return true;
        }
    }
    return true;
}

/* ---- tensors ---- */
/* Shape of a TensorProto: rank, dims (each 0..2^40), element count without
 * overflow, byte size.  where names the tensor in messages. */
static sk_status tensor_shape(ctx *c, const Onnx__TensorProto *tp, const char *where, sk_dtype *dt, int *rank,
                              int64_t *dims, int64_t *numel, size_t *nbytes)
{
    char db[256];
    int32_t ot = tp->has_data_type ? tp->data_type : 0;
    *dt = sk_dtype_from_onnx(ot);
    if (*dt == SK_DT_UNDEF)
        return sk_err(SK_ERR_UNSUPPORTED, "%s: %s: data type %s (%d) not supported", c->path, where,
                      onnx_type_name(ot), (int)ot);
    fmt_dims(db, sizeof db, tp->dims, tp->n_dims);
    if (tp->n_dims > SK_MAX_RANK)
        return sk_err(SK_ERR_UNSUPPORTED, "%s: %s: rank %zu > %d (dims %s)", c->path, where, tp->n_dims,
                      SK_MAX_RANK, db);
    int64_t n = 1;
    for (size_t i = 0; i < tp->n_dims; i++) {
        if (tp->dims[i] < 0 || tp->dims[i] > MAX_DIM)
            return sk_err(SK_ERR_FORMAT, "%s: %s: dim %zu is %lld (dims %s)", c->path, where, i,
                          (long long)tp->dims[i], db);
        if (__builtin_mul_overflow(n, tp->dims[i], &n))
            return sk_err(SK_ERR_FORMAT, "%s: %s: dims %s: element count overflows", c->path, where, db);
        dims[i] = tp->dims[i];
    }
    if (!sk_dtype_nbytes(*dt, n, nbytes))
        return sk_err(SK_ERR_FORMAT, "%s: %s: dims %s: byte size overflows", c->path, where, db);
    *rank = (int)tp->n_dims;
    *numel = n;
    return SK_OK;
}

static const char *kv_get(Onnx__StringStringEntryProto **kv, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(S(kv[i]->key), key)) return S(kv[i]->value);
    return NULL;
}

/* A decimal count from external_data ("offset", "length"): digits only. */
static bool parse_count(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    if (!*s) return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10) return false;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = v;
    return true;
}

/* The mapping of an external-data file, made on first use. */
static sk_status ext_open(ctx *c, const char *loc, const char *where, extfile **out)
{
    for (int i = 0; i < c->n_ext; i++)
        if (!strcmp(c->ext[i].location, loc)) { *out = &c->ext[i]; return SK_OK; }
    /* location is relative to the model's folder and must stay inside it */
    bool escapes = loc[0] == '/' || !strcmp(loc, "..") || !strncmp(loc, "../", 3) || strstr(loc, "/../") ||
                   (strlen(loc) >= 3 && !strcmp(loc + strlen(loc) - 3, "/.."));
    if (!*loc || escapes)
        return sk_err(SK_ERR_FORMAT, "%s: %s: external data location '%s' is not a path inside the model's folder",
                      c->path, where, loc);
    extfile *e = sk_realloc(c->ext, (size_t)(c->n_ext + 1) * sizeof *e);
    if (!e) return SK_ERR_NOMEM;
    c->ext = e;
    e = &c->ext[c->n_ext];
    memset(e, 0, sizeof *e);
    e->location = sk_strdup(loc);
    char *full = sk_path_join(c->dir, loc);
    if (!e->location || !full) { sk_free(e->location); sk_free(full); return SK_ERR_NOMEM; }
    sk_status st = sk_mmap_file(full, &e->addr, &e->len);
    sk_free(full);
    if (st) { sk_free(e->location); return sk_err_prefix(st, "%s: %s: external data", c->path, where); }
    c->n_ext++;
    *out = e;
    return SK_OK;
}

/* Bytes of an EXTERNAL tensor: a view into the mapping when aligned for the
 * dtype, else a copy. */
static sk_status ext_data(ctx *c, const Onnx__TensorProto *tp, const char *where, sk_dtype dt, size_t nbytes,
                          void **data, bool *owned)
{
    const char *loc = kv_get(tp->external_data, tp->n_external_data, "location");
    const char *off_s = kv_get(tp->external_data, tp->n_external_data, "offset");
    const char *len_s = kv_get(tp->external_data, tp->n_external_data, "length");
    uint64_t off = 0, len = nbytes;
    if (!loc) return sk_err(SK_ERR_FORMAT, "%s: %s: external data without a location", c->path, where);
    if (off_s && !parse_count(off_s, &off))
        return sk_err(SK_ERR_FORMAT, "%s: %s: external data offset '%s' is not a byte count", c->path, where, off_s);
    if (len_s && !parse_count(len_s, &len))
        return sk_err(SK_ERR_FORMAT, "%s: %s: external data length '%s' is not a byte count", c->path, where, len_s);
    if (len != nbytes)
        return sk_err(SK_ERR_FORMAT, "%s: %s: external data length %llu, but its dims and type need %zu bytes",
                      c->path, where, (unsigned long long)len, nbytes);
    extfile *e = NULL;
    sk_status st = ext_open(c, loc, where, &e);
    if (st) return st;
    if (off > e->len || nbytes > e->len - off)
        return sk_err(SK_ERR_FORMAT, "%s: %s: external data '%s' offset %llu + %zu bytes runs past its end (%zu bytes)",
                      c->path, where, loc, (unsigned long long)off, nbytes, e->len);
    *owned = false;
    *data = NULL;
    if (!nbytes) return SK_OK;
    const char *src = (const char *)e->addr + off;
    if ((uintptr_t)src % sk_dtype_info(dt)->block_bytes == 0) {
        if (!e->kept) {
            if (sk_model_add_map(c->m, e->addr, e->len)) return SK_ERR_NOMEM;
            e->kept = true;
        }
        *data = (void *)src;
        return SK_OK;
    }
    if (!(*data = sk_malloc(nbytes))) return SK_ERR_NOMEM;
    memcpy(*data, src, nbytes);
    *owned = true;
    return SK_OK;
}

/* Values of the typed fields (float_data, int32_data, ...), converted to dt. */
static sk_status typed_data(ctx *c, const Onnx__TensorProto *tp, const char *where, sk_dtype dt, int64_t numel,
                            size_t nbytes, void **data)
{
    size_t count = 0;
    const char *field = "";
    switch (dt) {
    case SK_DT_F32: count = tp->n_float_data; field = "float_data"; break;
    case SK_DT_F64: count = tp->n_double_data; field = "double_data"; break;
    case SK_DT_I64: count = tp->n_int64_data; field = "int64_data"; break;
    default: count = tp->n_int32_data; field = "int32_data"; break;
    }
    size_t others = tp->n_float_data + tp->n_int32_data + tp->n_int64_data + tp->n_double_data +
                    tp->n_uint64_data + tp->n_string_data - count;
    if (!count && !others)
        return sk_err(SK_ERR_FORMAT, "%s: %s: no data (its dims need %lld values)", c->path, where, (long long)numel);
    if (others)
        return sk_err(SK_ERR_FORMAT, "%s: %s: values stored in a field that does not match its type %s", c->path,
                      where, sk_dtype_info(dt)->name);
    if ((uint64_t)count != (uint64_t)numel)
        return sk_err(SK_ERR_FORMAT, "%s: %s: %s has %zu values, its dims need %lld", c->path, where, field, count,
                      (long long)numel);
    *data = NULL;
    if (!nbytes) return SK_OK;
    if (!(*data = sk_malloc(nbytes))) return SK_ERR_NOMEM;
    switch (dt) {
    case SK_DT_F32: memcpy(*data, tp->float_data, nbytes); return SK_OK;
    case SK_DT_F64: memcpy(*data, tp->double_data, nbytes); return SK_OK;
    case SK_DT_I64: memcpy(*data, tp->int64_data, nbytes); return SK_OK;
    case SK_DT_I32: memcpy(*data, tp->int32_data, nbytes); return SK_OK;
    default: break;
    }
    /* narrower types ride in int32_data one per value (f16/bf16 as their bits) */
    int32_t lo = 0, hi = 0;
    switch (dt) {
    case SK_DT_I16: lo = INT16_MIN; hi = INT16_MAX; break;
    case SK_DT_I8: lo = INT8_MIN; hi = INT8_MAX; break;
    case SK_DT_U8: hi = UINT8_MAX; break;
    case SK_DT_BOOL: hi = 1; break;
    case SK_DT_F16: case SK_DT_BF16: hi = UINT16_MAX; break;
    default: SK_ASSERT(0);
    }
    for (size_t i = 0; i < count; i++) {
        int32_t v = tp->int32_data[i];
        if (v < lo || v > hi) {
            sk_free(*data);
            *data = NULL;
            return sk_err(SK_ERR_FORMAT, "%s: %s: int32_data[%zu] = %d is out of range for %s", c->path, where, i,
                          (int)v, sk_dtype_info(dt)->name);
        }
        if (sk_dtype_info(dt)->block_bytes == 1) ((uint8_t *)*data)[i] = (uint8_t)v;
        else ((uint16_t *)*data)[i] = (uint16_t)v;
    }
    return SK_OK;
}

/* Index of the first NaN (or ±Inf when inf_too) among n values; -1 if none. */
static int64_t find_nonfinite(sk_dtype dt, const void *p, int64_t n, bool inf_too, bool *is_nan)
{
    const unsigned char *b = p;
    for (int64_t i = 0; i < n; i++) {
        bool bad = false, nan = false;
        if (dt == SK_DT_F32) {
            uint32_t x;
            memcpy(&x, b + 4 * i, 4);
            bad = (x & 0x7f800000u) == 0x7f800000u;
            nan = bad && (x & 0x007fffffu);
        } else if (dt == SK_DT_F64) {
            uint64_t x;
            memcpy(&x, b + 8 * i, 8);
            bad = (x & 0x7ff0000000000000ull) == 0x7ff0000000000000ull;
            nan = bad && (x & 0x000fffffffffffffull);
        } else if (dt == SK_DT_F16 || dt == SK_DT_BF16) {
            uint16_t x, e = dt == SK_DT_F16 ? 0x7c00 : 0x7f80;
            memcpy(&x, b + 2 * i, 2);
            bad = (x & e) == e;
            nan = bad && (x & (uint16_t)~(e | 0x8000));
        }
        if (nan || (bad && inf_too)) { *is_nan = nan; return i; }
    }
    return -1;
}

static bool is_float(sk_dtype dt) { return dt == SK_DT_F32 || dt == SK_DT_F16 || dt == SK_DT_BF16 || dt == SK_DT_F64; }

typedef struct tdata {         /* a decoded TensorProto */
    sk_dtype dt;
    int rank;
    int64_t dims[SK_MAX_RANK];
    int64_t numel;
    size_t nbytes;
    void *data;
    bool owned;
} tdata;

static void tdata_free(tdata *t)
{
    if (t->owned) sk_free(t->data);
    t->data = NULL;
}

/* Decode tp: shape, then its bytes from exactly one of raw_data, the typed
 * fields or external data.  raw_data is taken over from the message (no
 * copy), so tp is modified. */
static sk_status tensor_decode(ctx *c, Onnx__TensorProto *tp, const char *where, tdata *t)
{
    memset(t, 0, sizeof *t);
    sk_status st = tensor_shape(c, tp, where, &t->dt, &t->rank, t->dims, &t->numel, &t->nbytes);
    if (st) return st;
    if (tp->segment) return sk_err(SK_ERR_UNSUPPORTED, "%s: %s: segmented tensors not supported", c->path, where);
    bool ext = tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    bool typed = tp->n_float_data || tp->n_int32_data || tp->n_int64_data || tp->n_double_data ||
                 tp->n_uint64_data || tp->n_string_data;
    if (ext + tp->has_raw_data + typed > 1)
        return sk_err(SK_ERR_FORMAT, "%s: %s: data stored in more than one place (raw_data, typed fields, external)",
                      c->path, where);
    if (ext) {
        st = ext_data(c, tp, where, t->dt, t->nbytes, &t->data, &t->owned);
    } else if (tp->has_raw_data) {
        if (tp->raw_data.len != t->nbytes) {
            char db[256];
            fmt_dims(db, sizeof db, t->dims, (size_t)t->rank);
            return sk_err(SK_ERR_FORMAT, "%s: %s: raw_data has %zu bytes, dims %s of %s need %zu", c->path, where,
                          tp->raw_data.len, db, sk_dtype_info(t->dt)->name, t->nbytes);
        }
        /* protobuf-c allocated it with sk_malloc (pb_alloc): take it over */
        t->data = t->nbytes ? tp->raw_data.data : NULL;
        t->owned = t->data != NULL;
        if (t->owned) { tp->raw_data.data = NULL; tp->raw_data.len = 0; }
    } else if (typed || t->numel) {
        st = typed_data(c, tp, where, t->dt, t->numel, t->nbytes, &t->data);
        t->owned = t->data != NULL;
    }
    if (st) return st;
    if (is_float(t->dt) && t->data) {
        bool nan, weight = t->numel > 1;
        int64_t at = find_nonfinite(t->dt, t->data, t->numel, weight, &nan);
        if (at >= 0) {
            tdata_free(t);
            return sk_err(SK_ERR_FORMAT, "%s: %s: %s at element %lld", c->path, where, nan ? "NaN" : "Inf",
                          (long long)at);
        }
    }
    return SK_OK;
}

/* Register a tensor name; a name defined twice is an error. */
static sk_status name_add(ctx *c, int id, const char *what)
{
    const char *name = c->m->g.tensors[id].name;
    if (nmap_get(&c->names, name) >= 0)
        return sk_err(SK_ERR_FORMAT, "%s: %s: tensor '%s' is defined twice", c->path, what, name);
    return nmap_put(&c->names, name, id);
}

static sk_status add_const(ctx *c, const char *name, tdata *t, const char *what)
{
    int id = sk_graph_add_const(&c->m->g, name, t->dt, t->rank, t->dims, t->data, t->owned);
    t->data = NULL;   /* the graph has it now (or freed it) */
    if (id < 0) return SK_ERR_NOMEM;   /* tensor_shape checked the shape already */
    if (is_float(t->dt) && t->numel > 1) c->m->g.tensors[id].flags |= SK_TF_WEIGHT;
    return name_add(c, id, what);
}

/* dtype and shape from a ValueInfo's type (graph inputs, outputs, value_info). */
static sk_status apply_type(ctx *c, int id, const Onnx__TypeProto *type, const char *what)
{
    sk_tensor *t = &c->m->g.tensors[id];
    if (!type) return SK_OK;
    if (type->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !type->tensor_type)
        return sk_err(SK_ERR_UNSUPPORTED, "%s: %s '%s': only tensor types are supported", c->path, what, t->name);
    const Onnx__TypeProto__Tensor *tt = type->tensor_type;
    if (tt->has_elem_type && tt->elem_type) {
        sk_dtype dt = sk_dtype_from_onnx(tt->elem_type);
        if (dt == SK_DT_UNDEF)
            return sk_err(SK_ERR_UNSUPPORTED, "%s: %s '%s': data type %s (%d) not supported", c->path, what,
                          t->name, onnx_type_name(tt->elem_type), (int)tt->elem_type);
        t->dtype = dt;
    }
    if (!tt->shape) return SK_OK;
    if (tt->shape->n_dim > SK_MAX_RANK)
        return sk_err(SK_ERR_UNSUPPORTED, "%s: %s '%s': rank %zu > %d", c->path, what, t->name, tt->shape->n_dim,
                      SK_MAX_RANK);
    int rank = (int)tt->shape->n_dim;
    int64_t dims[SK_MAX_RANK];
    for (int i = 0; i < rank; i++) {
        const Onnx__TensorShapeProto__Dimension *d = tt->shape->dim[i];
        dims[i] = -1;
        if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE) {
            if (d->dim_value < 0 || d->dim_value > MAX_DIM)
                return sk_err(SK_ERR_FORMAT, "%s: %s '%s': dim %d is %lld", c->path, what, t->name, i,
                              (long long)d->dim_value);
            dims[i] = d->dim_value;
        }
    }
    for (int i = 0; i < SK_MAX_RANK; i++) { sk_free(t->dim_names[i]); t->dim_names[i] = NULL; }
    t->rank = rank;
    for (int i = 0; i < rank; i++) {
        const Onnx__TensorShapeProto__Dimension *d = tt->shape->dim[i];
        t->dims[i] = dims[i];
        if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM && d->dim_param && *d->dim_param &&
            !(t->dim_names[i] = sk_strdup(d->dim_param)))
            return SK_ERR_NOMEM;
    }
    return SK_OK;
}

/* A tensor the graph computes (node output, or a tensor a rewrite makes up);
 * its type comes from value_info when the file has one. */
static sk_status add_value(ctx *c, const char *name, const char *what, int *id)
{
    sk_status st;
    if ((*id = sk_graph_add_tensor(&c->m->g, name, SK_DT_UNDEF, -1, NULL)) < 0) return SK_ERR_NOMEM;
    if ((st = name_add(c, *id, what))) return st;
    int v = nmap_get(&c->vinfo, name);
    return v >= 0 ? apply_type(c, *id, c->vi[v]->type, "value") : SK_OK;
}

static sk_status add_synth(ctx *c, const char *base, const char *suffix, const char *what, int *id)
{
    char nm[512];
    snprintf(nm, sizeof nm, "%s::%s%d", base, suffix, c->n_synth++);
    return add_value(c, nm, what, id);
}

/* ---- nodes ---- */
typedef struct nodeinfo {      /* the node being imported, for messages */
    const Onnx__NodeProto *np;
    const char *name;          /* node name, or op_type_index when it has none */
    char what[600];            /* "node 'x' (Op)" */
} nodeinfo;

static sk_status copy_attr(ctx *c, sk_node *n, const nodeinfo *ni, const Onnx__AttributeProto *a)
{
    const char *an = S(a->name);
    if (!*an) return sk_err(SK_ERR_FORMAT, "%s: %s: attribute without a name", c->path, ni->what);
    if (a->ref_attr_name && *a->ref_attr_name)
        return sk_err(SK_ERR_FORMAT, "%s: %s: attribute '%s' refers to a function's attribute outside a function",
                      c->path, ni->what, an);
    if (!a->has_type)
        return sk_err(SK_ERR_FORMAT, "%s: %s: attribute '%s' has no type", c->path, ni->what, an);
    switch (a->type) {
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT: return sk_node_set_i(n, an, a->i);
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT: return sk_node_set_f(n, an, a->f);
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS:
        if (a->n_ints > INT_MAX) break;
        return sk_node_set_ints(n, an, a->ints, (int)a->n_ints);
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS:
        if (a->n_floats > INT_MAX) break;
        return sk_node_set_floats(n, an, a->floats, (int)a->n_floats);
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING:
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS: {
        /* STRINGS (LSTM activations) become one string joined by ',' */
        size_t len = 0, ns = a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING ? 1 : a->n_strings;
        const ProtobufCBinaryData *sv = ns == 1 && a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING ? &a->s
                                                                                                         : a->strings;
        for (size_t i = 0; i < ns; i++) {
            if (sv[i].len && memchr(sv[i].data, 0, sv[i].len))
                return sk_err(SK_ERR_FORMAT, "%s: %s: attribute '%s' holds a NUL byte", c->path, ni->what, an);
            len += sv[i].len + 1;
        }
        char *s = sk_malloc(len + 1), *p = s;
        if (!s) return SK_ERR_NOMEM;
        for (size_t i = 0; i < ns; i++) {
            if (i) *p++ = ',';
            if (sv[i].len) memcpy(p, sv[i].data, sv[i].len);
            p += sv[i].len;
        }
        *p = 0;
        sk_status st = sk_node_set_s(n, an, s);
        sk_free(s);
        return st;
    }
    default: break;
    }
    return sk_err(SK_ERR_UNSUPPORTED, "%s: %s: attribute '%s' of type %s not supported", c->path, ni->what, an,
                  attr_type_name((int)a->type));
}

/* A Constant node: its value becomes a constant tensor named by its output. */
static sk_status import_constant(ctx *c, const nodeinfo *ni)
{
    const Onnx__NodeProto *np = ni->np;
    if (np->n_output != 1 || !np->output[0][0] || np->n_input)
        return sk_err(SK_ERR_FORMAT, "%s: %s: a Constant needs no inputs and one named output", c->path, ni->what);
    if (np->n_attribute != 1)
        return sk_err(SK_ERR_FORMAT, "%s: %s: a Constant needs exactly one value attribute, has %zu", c->path,
                      ni->what, np->n_attribute);
    Onnx__AttributeProto *a = np->attribute[0];
    const char *an = S(a->name);
    tdata t;
    memset(&t, 0, sizeof t);
    size_t n = 0;
    if (!strcmp(an, "value")) {
        if (!a->t) return sk_err(SK_ERR_FORMAT, "%s: %s: attribute 'value' holds no tensor", c->path, ni->what);
        sk_status st = tensor_decode(c, a->t, ni->what, &t);
        if (st) return st;
    } else if (!strcmp(an, "value_float") || !strcmp(an, "value_int")) {
        t.dt = an[6] == 'f' ? SK_DT_F32 : SK_DT_I64;
        n = 1;
    } else if (!strcmp(an, "value_floats") || !strcmp(an, "value_ints")) {
        t.dt = an[6] == 'f' ? SK_DT_F32 : SK_DT_I64;
        n = t.dt == SK_DT_F32 ? a->n_floats : a->n_ints;
        if ((int64_t)n > MAX_DIM) return sk_err(SK_ERR_FORMAT, "%s: %s: %zu values", c->path, ni->what, n);
        t.rank = 1;
        t.dims[0] = (int64_t)n;
    } else {
        return sk_err(SK_ERR_UNSUPPORTED, "%s: %s: Constant attribute '%s' not supported", c->path, ni->what, an);
    }
    if (!t.data && n) {   /* the scalar and list forms */
        t.numel = (int64_t)n;
        t.nbytes = n * (t.dt == SK_DT_F32 ? 4 : 8);
        if (!(t.data = sk_malloc(t.nbytes))) return SK_ERR_NOMEM;
        t.owned = true;
        if (!strcmp(an, "value_float")) memcpy(t.data, &a->f, 4);
        else if (!strcmp(an, "value_int")) memcpy(t.data, &a->i, 8);
        else memcpy(t.data, t.dt == SK_DT_F32 ? (void *)a->floats : (void *)a->ints, t.nbytes);
        bool nan;
        int64_t at = t.dt == SK_DT_F32 ? find_nonfinite(t.dt, t.data, t.numel, t.numel > 1, &nan) : -1;
        if (at >= 0) {
            tdata_free(&t);
            return sk_err(SK_ERR_FORMAT, "%s: %s: %s at element %lld", c->path, ni->what, nan ? "NaN" : "Inf",
                          (long long)at);
        }
    }
    return add_const(c, np->output[0], &t, ni->what);
}

/* ConstantOfShape's value (a one-element TENSOR attribute) → float attribute
 * "value" plus int attribute "value_dtype" (an sk_dtype). */
static sk_status constant_of_shape_value(ctx *c, sk_node *n, const nodeinfo *ni)
{
    double v = 0;
    sk_dtype dt = SK_DT_F32;
    for (size_t i = 0; i < ni->np->n_attribute; i++) {
        Onnx__AttributeProto *a = ni->np->attribute[i];
        if (strcmp(S(a->name), "value")) continue;
        if (!a->t || a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR)
            return sk_err(SK_ERR_FORMAT, "%s: %s: attribute 'value' is not a tensor", c->path, ni->what);
        tdata t;
        sk_status st = tensor_decode(c, a->t, ni->what, &t);
        if (st) return st;
        if (t.numel != 1) {
            tdata_free(&t);
            return sk_err(SK_ERR_FORMAT, "%s: %s: value has %lld elements, expected 1", c->path, ni->what,
                          (long long)t.numel);
        }
        float f;
        sk_to_f32(t.dt, t.data, &f, 1);
        dt = t.dt;
        v = f;
        if (dt == SK_DT_I64 || dt == SK_DT_I32) {
            int64_t iv;
            int32_t i32;
            if (dt == SK_DT_I64) memcpy(&iv, t.data, 8);
            else { memcpy(&i32, t.data, 4); iv = i32; }
            if ((double)(float)iv != (double)iv) {
                tdata_free(&t);
                return sk_err(SK_ERR_UNSUPPORTED, "%s: %s: value %lld is not exact as a float", c->path, ni->what,
                              (long long)iv);
            }
        }
        tdata_free(&t);
    }
    sk_status st = sk_node_set_f(n, "value", (float)v);
    return st ? st : sk_node_set_i(n, "value_dtype", dt);
}

/* LSTM/GRU/RNN activations that only spell out the defaults (some exporters
 * always write them) are dropped, so that the IR has one form for the common
 * case; any other list is kept, joined by ',', for the kernel to accept or
 * refuse by name. */
static bool default_activations(const Onnx__NodeProto *np, sk_op op, const Onnx__AttributeProto *a)
{
    static const char *dflt[3][3] = {{"Sigmoid", "Tanh", "Tanh"}, {"Sigmoid", "Tanh"}, {"Tanh"}};
    int which = op == SK_OP_LSTM ? 0 : op == SK_OP_GRU ? 1 : 2, per = 3 - which;
    size_t dirs = 1;
    for (size_t i = 0; i < np->n_attribute; i++)
        if (!strcmp(S(np->attribute[i]->name), "direction") && np->attribute[i]->s.len == 13 &&
            !memcmp(np->attribute[i]->s.data, "bidirectional", 13))
            dirs = 2;
    if (a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS || a->n_strings != dirs * (size_t)per) return false;
    for (size_t i = 0; i < a->n_strings; i++) {
        const char *want = dflt[which][i % (size_t)per];
        if (a->strings[i].len != strlen(want) || memcmp(a->strings[i].data, want, strlen(want))) return false;
    }
    return true;
}

/* Map (domain, op_type) to an op; -1 if shrink has no such op. */
static int map_op(ctx *c, const char *domain, const char *op_type, const char **approx)
{
    *approx = NULL;
    if (!*domain || !strcmp(domain, "ai.onnx")) {
        int op = sk_op_from_name(op_type);
        /* only real ONNX names: "Linear" or "Attention" are shrink's own ops */
        return op >= 0 && !strcmp(sk_op_get((sk_op)op)->onnx, op_type) ? op : -1;
    }
    if (!strcmp(domain, "com.microsoft") && c->ms_opset) {
        if (!strcmp(op_type, "Gelu")) { *approx = "none"; return SK_OP_GELU; }
        if (!strcmp(op_type, "FastGelu")) { *approx = "tanh"; return SK_OP_GELU; }
    }
    return -1;
}

/* Ranks, as far as the file and a few ops tell, and the lengths of 1-D
 * shape tensors (Shape → Gather → Unsqueeze → Concat → Reshape is how
 * exports spell a reshape).  Used only to decide whether an old Softmax's
 * axis is the last one (exports before opset 13 rarely state ranks); never
 * written into the IR. */
static sk_status rank_sync(ctx *c)   /* tensors added since the last call start with what the file states */
{
    const sk_graph *g = &c->m->g;
    if (sk_grow((void **)&c->rank, &c->cap_rank, g->n_tensors, sizeof *c->rank)) return SK_ERR_NOMEM;
    for (; c->n_rank < g->n_tensors; c->n_rank++) {
        const sk_tensor *t = &g->tensors[c->n_rank];
        c->rank[c->n_rank].rank = t->rank;
        c->rank[c->n_rank].len = t->rank == 1 && t->dims[0] >= 0 && t->dims[0] <= SK_MAX_RANK ? (int)t->dims[0] : -1;
    }
    return SK_OK;
}

static sk_status rank_infer(ctx *c, const sk_node *n)
{
    if (rank_sync(c)) return SK_ERR_NOMEM;
    int r[8] = {-1, -1, -1, -1, -1, -1, -1, -1}, out = -1, len = -1, hi = -1, sum = 0;
    bool all = true;
    for (int i = 0; i < n->n_in && i < 8; i++) {
        r[i] = n->in[i] >= 0 ? c->rank[n->in[i]].rank : -1;
        if (r[i] < 0) all = false;
        else if (r[i] > hi) hi = r[i];
    }
    int len1 = n->n_in > 1 && n->in[1] >= 0 ? c->rank[n->in[1]].len : -1;
    const sk_attr *axes = sk_node_attr(n, "axes");
    int n_axes = axes && axes->type == SK_ATTR_INTS ? axes->n : len1;
    switch (n->op) {
    case SK_OP_TRANSPOSE: {
        const sk_attr *perm = sk_node_attr(n, "perm");
        out = perm && perm->type == SK_ATTR_INTS ? perm->n : r[0];
        break;
    }
    case SK_OP_MATMUL:
        if (r[0] >= 1 && r[1] >= 1) out = r[0] == 1 ? r[1] - 1 : r[1] == 1 ? r[0] - 1 : (r[0] > r[1] ? r[0] : r[1]);
        break;
    case SK_OP_UNSQUEEZE:
        if (r[0] >= 0 && n_axes >= 0) out = r[0] + n_axes;
        if (r[0] == 0 && out == 1) len = 1;
        break;
    case SK_OP_SQUEEZE: if (r[0] >= 0 && n_axes >= 0) out = r[0] - n_axes; break;
    case SK_OP_REDUCE_MEAN: case SK_OP_REDUCE_SUM:
        if (sk_node_attr_i(n, "keepdims", 1)) out = r[0];
        else if (r[0] >= 0 && n_axes >= 0) out = r[0] - n_axes;
        break;
    case SK_OP_GATHER: if (r[0] >= 1 && r[1] >= 0) out = r[0] - 1 + r[1]; break;
    case SK_OP_RESHAPE: out = len1; break;
    case SK_OP_SHAPE: out = 1; len = r[0]; break;
    case SK_OP_CONCAT:
        out = r[0];
        for (int i = 0; i < n->n_in && sum >= 0; i++) {
            const rankinfo *x = n->in[i] >= 0 ? &c->rank[n->in[i]] : NULL;
            sum = x && x->rank == 1 && x->len >= 0 ? sum + x->len : -1;
        }
        if (out == 1 && sum >= 0 && sum <= SK_MAX_RANK) len = sum;
        break;
    case SK_OP_GEMM: case SK_OP_FLATTEN: out = 2; break;
    case SK_OP_RANGE: out = 1; break;
    case SK_OP_CONSTANT_OF_SHAPE: out = n->in[0] >= 0 ? c->rank[n->in[0]].len : -1; break;
    case SK_OP_EXPAND: if (r[0] >= 0 && len1 >= 0) out = r[0] > len1 ? r[0] : len1; break;
    case SK_OP_IDENTITY: case SK_OP_CAST:
        out = r[0];
        if (n->in[0] >= 0) len = c->rank[n->in[0]].len;
        break;
    case SK_OP_DROPOUT: case SK_OP_SOFTMAX: case SK_OP_LAYERNORM: case SK_OP_SLICE: case SK_OP_SPLIT:
    case SK_OP_PAD: case SK_OP_CONV: case SK_OP_MAX_POOL: case SK_OP_AVG_POOL: case SK_OP_GLOBAL_AVG_POOL:
    case SK_OP_BATCHNORM:
        out = r[0];
        break;
    case SK_OP_WHERE: if (all) out = hi; break;
    default:
        if ((sk_op_get(n->op)->flags & SK_OPF_ELEMWISE) && all) out = hi;
        break;
    }
    for (int k = 0; k < n->n_out && out >= 0 && out <= SK_MAX_RANK; k++) {
        rankinfo *o = n->out[k] >= 0 ? &c->rank[n->out[k]] : NULL;
        if (!o || o->rank >= 0 || (k && n->op != SK_OP_SPLIT)) continue;
        o->rank = out;
        if (out == 1 && o->len < 0) o->len = len;
    }
    return SK_OK;
}

/* Softmax before opset 13 flattens its input to 2-D at axis (default 1) and
 * normalises the trailing block.  That is today's Softmax(axis=-1) when axis
 * is the last dim; otherwise the node becomes Shape, Flatten, Softmax,
 * Reshape, so that every Softmax in the IR has today's meaning. */
static sk_status legacy_softmax(ctx *c, const nodeinfo *ni, int in, int out)
{
    sk_graph *g = &c->m->g;
    int64_t axis = 1;
    for (size_t i = 0; i < ni->np->n_attribute; i++)
        if (!strcmp(S(ni->np->attribute[i]->name), "axis")) axis = ni->np->attribute[i]->i;
    if (rank_sync(c)) return SK_ERR_NOMEM;
    int r = c->rank[in].rank, k;
    if (axis == -1 || (r >= 0 && axis == r - 1)) {
        if ((k = sk_graph_add_node(g, SK_OP_SOFTMAX, ni->name, &in, 1, &out, 1)) < 0) return SK_ERR_NOMEM;
        c->rank[out].rank = r;
        return sk_node_set_i(&g->nodes[k], "axis", -1);
    }
    int sh, fl, sm;
    sk_status st;
    if ((st = add_synth(c, ni->name, "shape", ni->what, &sh)) || (st = add_synth(c, ni->name, "flat", ni->what, &fl)) ||
        (st = add_synth(c, ni->name, "softmax", ni->what, &sm)))
        return st;
    char nm[3][300];
    snprintf(nm[0], sizeof nm[0], "%s::shape", ni->name);
    snprintf(nm[1], sizeof nm[1], "%s::flatten", ni->name);
    snprintf(nm[2], sizeof nm[2], "%s::reshape", ni->name);
    int rs_in[2] = {sm, sh};
    if (sk_graph_add_node(g, SK_OP_SHAPE, nm[0], &in, 1, &sh, 1) < 0 ||
        (k = sk_graph_add_node(g, SK_OP_FLATTEN, nm[1], &in, 1, &fl, 1)) < 0 ||
        sk_node_set_i(&g->nodes[k], "axis", axis) ||
        (k = sk_graph_add_node(g, SK_OP_SOFTMAX, ni->name, &fl, 1, &sm, 1)) < 0 ||
        sk_node_set_i(&g->nodes[k], "axis", -1) ||
        sk_graph_add_node(g, SK_OP_RESHAPE, nm[2], rs_in, 2, &out, 1) < 0 || rank_sync(c))
        return SK_ERR_NOMEM;
    c->rank[out].rank = r;
    return SK_OK;
}

/* Tensor ids of a node's inputs and outputs: "" (an absent optional one) is
 * -1; an input must already exist, an output must not. */
static sk_status node_ids(ctx *c, const nodeinfo *ni, const sk_op_info *oi, size_t n_in, size_t n_out, int *ins,
                          int *outs)
{
    const Onnx__NodeProto *np = ni->np;
    for (size_t i = 0; i < n_in || i < n_out; i++)
        if ((i < n_in && i < (size_t)oi->min_in && !np->input[i][0]) ||
            (i < n_out && i < (size_t)oi->min_out && !np->output[i][0]))
            return sk_err(SK_ERR_FORMAT, "%s: %s: required %s %zu has no name", c->path, ni->what,
                          i < n_in && i < (size_t)oi->min_in && !np->input[i][0] ? "input" : "output", i);
    for (size_t i = 0; i < n_in; i++) {
        ins[i] = -1;
        if (np->input[i][0] && (ins[i] = nmap_get(&c->names, np->input[i])) < 0)
            return sk_err(SK_ERR_FORMAT,
                          "%s: %s: input %zu '%s' is not a graph input, an initializer or an earlier node's output",
                          c->path, ni->what, i, np->input[i]);
    }
    for (size_t i = 0; i < n_out; i++) {
        outs[i] = -1;
        sk_status st = np->output[i][0] ? add_value(c, np->output[i], ni->what, &outs[i]) : SK_OK;
        if (st) return st;
    }
    return SK_OK;
}

static sk_status import_node(ctx *c, const nodeinfo *ni)
{
    const Onnx__NodeProto *np = ni->np;
    sk_graph *g = &c->m->g;
    const char *domain = S(np->domain), *op_type = S(np->op_type), *approx;
    int op = map_op(c, domain, op_type, &approx);
    if (op < 0) {
        if (!*domain || !strcmp(domain, "ai.onnx"))
            return sk_err(SK_ERR_UNSUPPORTED, "%s: %s: op not supported (opset %lld)", c->path, ni->what,
                          (long long)c->opset);
        return sk_err(SK_ERR_UNSUPPORTED, "%s: %s: op not supported (domain '%s')", c->path, ni->what, domain);
    }
    const sk_op_info *oi = sk_op_get((sk_op)op);
    size_t n_in = np->n_input, n_out = np->n_output;
    while (n_in && !np->input[n_in - 1][0]) n_in--;       /* trailing "" = absent optional inputs */
    while (n_out && !np->output[n_out - 1][0]) n_out--;
    bool fast_gelu_bias = approx && !strcmp(approx, "tanh") && n_in == 2;
    /* the IR's Gather takes 2 more inputs when its table is quantized; ONNX's takes 2 */
    int max_in = fast_gelu_bias || op == SK_OP_GATHER ? 2 : oi->max_in;
    if (n_in < (size_t)oi->min_in || (max_in >= 0 && n_in > (size_t)max_in))
        return sk_err(SK_ERR_UNSUPPORTED, "%s: %s: %zu inputs, shrink's %s takes %d..%d", c->path, ni->what, n_in,
                      oi->name, oi->min_in, max_in);
    if (n_out < (size_t)oi->min_out || (oi->max_out >= 0 && n_out > (size_t)oi->max_out))
        return sk_err(SK_ERR_UNSUPPORTED, "%s: %s: %zu outputs, shrink's %s gives %d..%d", c->path, ni->what, n_out,
                      oi->name, oi->min_out, oi->max_out);
    int *ins = sk_malloc((n_in + 1) * sizeof *ins), *outs = sk_malloc((n_out + 1) * sizeof *outs);
    sk_status st = ins && outs ? node_ids(c, ni, oi, n_in, n_out, ins, outs) : SK_ERR_NOMEM;
    if (!st && op == SK_OP_SOFTMAX && c->opset < 13) {
        st = legacy_softmax(c, ni, ins[0], outs[0]);
        goto done;
    }
    if (!st && fast_gelu_bias) {   /* com.microsoft FastGelu(x, bias) = Gelu_tanh(x + bias) */
        int sum;
        char nm[300];
        snprintf(nm, sizeof nm, "%s::bias", ni->name);
        if (!(st = add_synth(c, ni->name, "biased", ni->what, &sum))) {
            if (sk_graph_add_node(g, SK_OP_ADD, nm, ins, 2, &sum, 1) < 0) st = SK_ERR_NOMEM;
            ins[0] = sum;
            n_in = 1;
        }
    }
    int k = st ? -1 : sk_graph_add_node(g, (sk_op)op, ni->name, ins, (int)n_in, outs, (int)n_out);
    if (!st && k < 0) st = SK_ERR_NOMEM;
    for (size_t i = 0; !st && i < np->n_attribute; i++) {
        const Onnx__AttributeProto *a = np->attribute[i];
        if (op == SK_OP_CONSTANT_OF_SHAPE && !strcmp(S(a->name), "value")) continue;
        if ((op == SK_OP_LSTM || op == SK_OP_GRU || op == SK_OP_RNN) && !strcmp(S(a->name), "activations") &&
            default_activations(np, (sk_op)op, a))
            continue;
        st = copy_attr(c, &g->nodes[k], ni, a);
    }
    if (!st && op == SK_OP_CONSTANT_OF_SHAPE) st = constant_of_shape_value(c, &g->nodes[k], ni);
    if (!st && approx) st = sk_node_set_s(&g->nodes[k], "approximate", approx);
    if (!st) st = rank_infer(c, &g->nodes[k]);
done:
    sk_free(ins);
    sk_free(outs);
    return st;
}

/* ---- model-level checks ---- */
/* Opsets 18..21 changed, among our ops, only: ReduceMean (axes became an
 * optional input, v18), Split (num_outputs attribute, v18), AveragePool
 * (dilations, v19), Gelu (new, v20), and added element types to Cast,
 * Constant(OfShape), Equal, Identity, Reshape, Shape, (Un)Squeeze, Transpose,
 * Flatten, Pad.  Each form is representable here and carried as is (axes input
 * or attribute, num_outputs, dilations), so those opsets are accepted too. */
static sk_status check_opsets(ctx *c, const Onnx__ModelProto *mp)
{
    if (!mp->has_ir_version)
        return sk_err(SK_ERR_FORMAT, "%s: not an ONNX model (no ir_version)", c->path);
    if (mp->ir_version < IR_MIN || mp->ir_version > ONNX__VERSION__IR_VERSION)
        return sk_err(SK_ERR_UNSUPPORTED, "%s: ONNX IR version %lld not supported (shrink reads %d..%d)", c->path,
                      (long long)mp->ir_version, IR_MIN, (int)ONNX__VERSION__IR_VERSION);
    c->opset = -1;
    for (size_t i = 0; i < mp->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *o = mp->opset_import[i];
        const char *d = S(o->domain);
        int64_t v = o->has_version ? o->version : 0;
        if (!*d || !strcmp(d, "ai.onnx")) { if (v > c->opset) c->opset = v; }
        else if (!strcmp(d, "com.microsoft")) c->ms_opset = v > 0 ? v : 1;
    }
    if (c->opset < 0) return sk_err(SK_ERR_FORMAT, "%s: no opset imported for the default ONNX domain", c->path);
    if (c->opset < OPSET_MIN || c->opset > OPSET_MAX)
        return sk_err(SK_ERR_UNSUPPORTED, "%s: opset %lld not supported (shrink reads default-domain opsets %d..%d)",
                      c->path, (long long)c->opset, OPSET_MIN, OPSET_MAX);
    return SK_OK;
}

static sk_status import_graph(ctx *c, Onnx__GraphProto *gp)
{
    sk_graph *g = &c->m->g;
    sk_status st;
    char what[600];
    if (gp->n_sparse_initializer)
        return sk_err(SK_ERR_UNSUPPORTED, "%s: sparse initializers not supported", c->path);
    if (gp->n_node > INT_MAX / 4 || gp->n_initializer > INT_MAX / 4 || gp->n_value_info > INT_MAX / 4)
        return sk_err(SK_ERR_FORMAT, "%s: too many nodes or tensors", c->path);

    /* value_info and the outputs' types, looked up when a node makes a tensor */
    size_t nvi = gp->n_value_info + gp->n_output;
    c->vi = sk_malloc((nvi ? nvi : 1) * sizeof *c->vi);
    if (!c->vi) return SK_ERR_NOMEM;
    for (size_t i = 0; i < nvi; i++) {
        c->vi[i] = i < gp->n_value_info ? gp->value_info[i] : gp->output[i - gp->n_value_info];
        if (c->vi[i]->name && *c->vi[i]->name && nmap_put(&c->vinfo, c->vi[i]->name, (int)i)) return SK_ERR_NOMEM;
    }

    for (size_t i = 0; i < gp->n_initializer; i++) {
        Onnx__TensorProto *tp = gp->initializer[i];
        if (!tp->name || !*tp->name) return sk_err(SK_ERR_FORMAT, "%s: initializer #%zu has no name", c->path, i);
        snprintf(what, sizeof what, "initializer '%s'", tp->name);
        tdata t;
        if ((st = tensor_decode(c, tp, what, &t)) || (st = add_const(c, tp->name, &t, what))) return st;
    }
    for (size_t i = 0; i < gp->n_input; i++) {
        const Onnx__ValueInfoProto *vi = gp->input[i];
        if (!vi->name || !*vi->name) return sk_err(SK_ERR_FORMAT, "%s: graph input #%zu has no name", c->path, i);
        int known = nmap_get(&c->names, vi->name);
        if (known >= 0 && (g->tensors[known].flags & SK_TF_CONST)) continue;   /* IR < 4 lists initializers as inputs */
        if (known >= 0) return sk_err(SK_ERR_FORMAT, "%s: graph input '%s' is listed twice", c->path, vi->name);
        snprintf(what, sizeof what, "graph input '%s'", vi->name);
        int id = sk_graph_add_tensor(g, vi->name, SK_DT_UNDEF, -1, NULL);
        if (id < 0) return SK_ERR_NOMEM;
        if ((st = name_add(c, id, what)) || (st = apply_type(c, id, vi->type, "graph input"))) return st;
        if (g->tensors[id].dtype == SK_DT_UNDEF)
            return sk_err(SK_ERR_FORMAT, "%s: graph input '%s' has no element type", c->path, vi->name);
        if ((st = sk_graph_add_input(g, id))) return st;
    }

    for (size_t i = 0; i < gp->n_node; i++) {
        nodeinfo ni = {gp->node[i], NULL, ""};
        const char *op_type = S(ni.np->op_type), *domain = S(ni.np->domain);
        char synth[300];
        if (ni.np->name && *ni.np->name) ni.name = ni.np->name;
        else { snprintf(synth, sizeof synth, "%s_%zu", op_type, i); ni.name = synth; }
        if (*domain && strcmp(domain, "ai.onnx"))
            snprintf(ni.what, sizeof ni.what, "node '%s' (%s.%s)", ni.name, domain, op_type);
        else
            snprintf(ni.what, sizeof ni.what, "node '%s' (%s)", ni.name, op_type);
        if (!*op_type) return sk_err(SK_ERR_FORMAT, "%s: %s: no op_type", c->path, ni.what);
        bool dflt = !*domain || !strcmp(domain, "ai.onnx");
        st = dflt && !strcmp(op_type, "Constant") ? import_constant(c, &ni) : import_node(c, &ni);
        if (st) return st;
    }

    if (!gp->n_output) return sk_err(SK_ERR_FORMAT, "%s: the graph has no outputs", c->path);
    for (size_t i = 0; i < gp->n_output; i++) {
        const Onnx__ValueInfoProto *vi = gp->output[i];
        int id = nmap_get(&c->names, S(vi->name));
        if (id < 0)
            return sk_err(SK_ERR_FORMAT, "%s: graph output '%s' is not produced by any node", c->path, S(vi->name));
        sk_tensor *t = &g->tensors[id];
        if (!(t->flags & (SK_TF_CONST | SK_TF_INPUT)) && (st = apply_type(c, id, vi->type, "graph output"))) return st;
        if ((st = sk_graph_add_output(g, id))) return st;
    }
    return SK_OK;
}

/* ---- architecture metadata ---- */
static int input_named(const sk_graph *g, const char *name)
{
    for (int i = 0; i < g->n_inputs; i++)
        if (!strcmp(g->tensors[g->inputs[i]].name, name)) return g->inputs[i];
    return -1;
}

/* from[t] = true for tensors that are tensor src seen through shape-only ops
 * (GPT-2 reshapes input_ids before its embedding Gather). */
static bool *derived_from(const sk_graph *g, int src)
{
    bool *from = sk_calloc((size_t)g->n_tensors + 1, sizeof *from);
    if (!from || src < 0) return from;
    from[src] = true;
    for (int i = 0; i < g->n_nodes; i++) {
        const sk_node *n = &g->nodes[i];
        bool view = n->op == SK_OP_RESHAPE || n->op == SK_OP_FLATTEN || n->op == SK_OP_UNSQUEEZE ||
                    n->op == SK_OP_SQUEEZE || n->op == SK_OP_IDENTITY || n->op == SK_OP_CAST;
        if (view && n->n_in && n->n_out && n->in[0] >= 0 && from[n->in[0]] && n->out[0] >= 0) from[n->out[0]] = true;
    }
    return from;
}

/* The first constant [rows, width] float table read by a Gather whose indices
 * are marked in want (when want is NULL: not marked in either skip set, and of
 * the given width). */
static const sk_tensor *gather_table(const sk_graph *g, const bool *want, const bool *skip_a, const bool *skip_b,
                                     int64_t width)
{
    for (int i = 0; i < g->n_nodes; i++) {
        const sk_node *n = &g->nodes[i];
        if (n->op != SK_OP_GATHER || n->in[0] < 0 || n->in[1] < 0) continue;
        const sk_tensor *t = &g->tensors[n->in[0]];
        if (!(t->flags & SK_TF_CONST) || t->rank != 2 || !is_float(t->dtype)) continue;
        if (want ? !want[n->in[1]] : (skip_a[n->in[1]] || skip_b[n->in[1]] || t->dims[1] != width)) continue;
        return t;
    }
    return NULL;
}

/* Family and sizes guessed from the graph; config.json, when present,
 * overrides them (read_config). */
static sk_status guess_arch(sk_model *m)
{
    const sk_graph *g = &m->g;
    sk_arch *a = &m->arch;
    int ids = input_named(g, "input_ids"), types = input_named(g, "token_type_ids");
    int counts[SK_OP_COUNT] = {0};
    for (int i = 0; i < g->n_nodes; i++) counts[g->nodes[i].op]++;
    bool *from_ids = derived_from(g, ids), *from_types = derived_from(g, types);
    if (!from_ids || !from_types) { sk_free(from_ids); sk_free(from_types); return SK_ERR_NOMEM; }
    const sk_tensor *wte = ids >= 0 ? gather_table(g, from_ids, NULL, NULL, 0) : NULL;
    const sk_tensor *out0 = g->n_outputs ? &g->tensors[g->outputs[0]] : NULL;
    bool lm_out = false;
    for (int i = 0; wte && i < g->n_outputs; i++) {
        const sk_tensor *o = &g->tensors[g->outputs[i]];
        if (o->rank == 3 && o->dims[2] == wte->dims[0]) lm_out = true;
    }
    if (ids >= 0 && types >= 0) a->family = SK_FAM_BERT;
    else if (lm_out) a->family = SK_FAM_GPT2;
    else if (counts[SK_OP_CONV]) a->family = SK_FAM_CNN;
    else if (counts[SK_OP_LSTM] || counts[SK_OP_GRU] || counts[SK_OP_RNN]) a->family = SK_FAM_RNN;
    else a->family = SK_FAM_MLP;

    if (a->family == SK_FAM_BERT || a->family == SK_FAM_GPT2) {
        if (wte) {
            a->vocab = (int)wte->dims[0];
            a->hidden = (int)wte->dims[1];
            const sk_tensor *wpe = gather_table(g, NULL, from_ids, from_types, wte->dims[1]);
            if (wpe) a->max_pos = (int)wpe->dims[0];
        }
        const sk_tensor *tte = types >= 0 ? gather_table(g, from_types, NULL, NULL, 0) : NULL;
        if (tte) a->type_vocab = (int)tte->dims[0];
        a->n_layers = counts[SK_OP_SOFTMAX];   /* one attention softmax per layer in HF exports */
        for (int i = 0; i < g->n_nodes; i++)
            if (g->nodes[i].op == SK_OP_LAYERNORM) { a->eps = sk_node_attr_f(&g->nodes[i], "epsilon", 1e-5f); break; }
        snprintf(a->act, sizeof a->act, "%s", counts[SK_OP_ERF] ? "gelu" : counts[SK_OP_TANH] ? "gelu_new" : "");
    } else if (counts[SK_OP_RELU]) {
        snprintf(a->act, sizeof a->act, "relu");
    }
    if (a->family == SK_FAM_GPT2) snprintf(a->task, sizeof a->task, "lm");
    else if (out0 && out0->rank == 2 && out0->dims[1] > 0) {
        snprintf(a->task, sizeof a->task, "%s", a->family == SK_FAM_BERT ? "seq-classification"
                                                : a->family == SK_FAM_CNN ? "image-classification" : "classification");
        a->n_labels = out0->dims[1] <= INT_MAX ? (int)out0->dims[1] : 0;
    } else if (a->family == SK_FAM_BERT) snprintf(a->task, sizeof a->task, "base");
    sk_free(from_ids);
    sk_free(from_types);
    return SK_OK;
}

/* The config.json beside the model, when there is one, gives the sizes the
 * graph cannot (heads, layers, eps) and the label names; the graph keeps the
 * task, since one config.json often serves several exports (a classifier and
 * its bare encoder).  A config.json sk_hf_config_load rejects is ignored with
 * a log line: the ONNX file, not the config, defines the model. */
static sk_status read_config(sk_model *m, const char *dir)
{
    char *path = sk_path_join(dir, "config.json");
    if (!path) return SK_ERR_NOMEM;
    if (!sk_file_exists(path)) { sk_free(path); return SK_OK; }
    sk_arch cfg;
    sk_status st = sk_hf_config_load(path, &cfg, NULL);
    sk_free(path);
    if (st == SK_ERR_NOMEM) return st;
    if (st) {
        sk_log("%s; ignored", sk_errmsg());
        sk_err_clear();
        return SK_OK;
    }
    sk_arch *a = &m->arch;
    a->family = cfg.family;
    a->n_layers = cfg.n_layers;
    a->hidden = cfg.hidden;
    a->heads = cfg.heads;
    a->ffn = cfg.ffn;
    a->vocab = cfg.vocab;
    a->max_pos = cfg.max_pos;
    a->type_vocab = cfg.type_vocab;
    a->eps = cfg.eps;
    memcpy(a->act, cfg.act, sizeof a->act);
    if (!a->task[0]) memcpy(a->task, cfg.task, sizeof a->task);
    if (cfg.labels && cfg.n_labels == a->n_labels) {
        a->labels = cfg.labels;
        cfg.labels = NULL;
    }
    sk_hf_arch_clear(&cfg);
    return SK_OK;
}

static sk_status find_tokenizer(sk_model *m, const char *dir)
{
    const char *files[][2] = {{"vocab.txt", NULL}, {"vocab.json", "merges.txt"}};
    for (size_t i = 0; i < 2; i++) {
        bool all = true;
        for (int k = 0; k < 2 && files[i][k]; k++) {
            char *p = sk_path_join(dir, files[i][k]);
            if (!p) return SK_ERR_NOMEM;
            all = all && sk_file_exists(p);
            sk_free(p);
        }
        if (all) return (m->tokenizer_dir = sk_strdup(dir)) ? SK_OK : SK_ERR_NOMEM;
    }
    return SK_OK;
}

/* ---- entry points ---- */
sk_status sk_onnx_load_mem(const void *buf, size_t len, const char *path, sk_model **out)
{
    *out = NULL;
    if (!len) return sk_err(SK_ERR_FORMAT, "%s: empty file (0 bytes), not an ONNX model", path);
    if (len > INT32_MAX)
        return sk_err(SK_ERR_FORMAT, "%s: %zu bytes, over protobuf's 2 GB limit (store weights as external data)",
                      path, len);
    if (!wire_nesting_ok(buf, (const uint8_t *)buf + len, &onnx__model_proto__descriptor, 0))
        return sk_err(SK_ERR_FORMAT, "%s: messages nested more than %d deep; not an ONNX model shrink reads", path,
                      MAX_NEST);
    pb_alloc_state as = {false};
    ProtobufCAllocator alloc = {pb_alloc, pb_free, &as};
    Onnx__ModelProto *mp = onnx__model_proto__unpack(&alloc, len, buf);
    if (!mp) {
        if (as.oom) return sk_err(SK_ERR_NOMEM, "%s: out of memory unpacking the protobuf", path);
        return sk_err(SK_ERR_FORMAT, "%s: not a valid ONNX protobuf", path);
    }
    ctx c = {0};
    c.path = path;
    sk_status st = SK_OK;
    if (!(c.dir = sk_path_dir(path)) || !(c.m = sk_model_new()) || !(c.m->source = sk_strdup(path))) st = SK_ERR_NOMEM;
    if (!st) st = check_opsets(&c, mp);
    if (!st && !mp->graph) st = sk_err(SK_ERR_FORMAT, "%s: not an ONNX model (no graph)", path);
    if (!st) st = import_graph(&c, mp->graph);
    if (!st && (st = sk_graph_verify(&c.m->g))) sk_err_prefix(st, "%s", path);
    if (!st) {
        st = guess_arch(c.m);
        if (!st) st = read_config(c.m, c.dir);
    }
    if (!st) st = find_tokenizer(c.m, c.dir);

    for (int i = 0; i < c.n_ext; i++) {
        if (!c.ext[i].kept) sk_munmap(c.ext[i].addr, c.ext[i].len);
        sk_free(c.ext[i].location);
    }
    sk_free(c.ext);
    sk_free(c.vi);
    sk_free(c.rank);
    nmap_free(&c.names);
    nmap_free(&c.vinfo);
    sk_free(c.dir);
    onnx__model_proto__free_unpacked(mp, &alloc);
    if (st) {
        if (st == SK_ERR_NOMEM && !strstr(sk_errmsg(), path)) sk_err_prefix(st, "%s", path);
        sk_model_free(c.m);
        return st;
    }
    *out = c.m;
    return SK_OK;
}

sk_status sk_onnx_load(const char *path, sk_model **out)
{
    void *addr;
    size_t len;
    *out = NULL;
    sk_status st = sk_mmap_file(path, &addr, &len);
    if (st) return st;
    st = sk_onnx_load_mem(addr, len, path, out);
    sk_munmap(addr, len);
    return st;
}
