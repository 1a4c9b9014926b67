/* text.c — the text form of the IR: a printer and a parser (docs/ir.md).
 *
 * The text form lets a pass be tested from a 20-line file and lets a user see
 * a model as the IR holds it (`shrink ir dump`).  With full values,
 * print → parse → print is the identity and tensor data survives bit-exactly.
 *
 * The parser takes any bytes: it returns a model that passes sk_graph_verify
 * or an error "file:line:col: what was expected".  It trusts no count or size
 * in its input — buffers grow with the values actually read, never with a
 * declared shape — and it does not recurse, so no input can crash it.  It
 * knows nothing about checkpoint formats or kernels.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ir/ir.h"
#include "util/util.h"

#define INLINE_MAX 16      /* tensors up to this many elements print their values by default */
#define BLOB_INLINE_MAX 64 /* raw-byte data up to this many bytes prints by default */

/* ---- a string → int map (tensor names; keys are borrowed) ---- */
typedef struct namemap {
    const char **keys;
    int *vals;
    size_t cap, n;
} namemap;

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static int map_get(const namemap *m, const char *k)
{
    if (!m->cap) return -1;
    for (size_t i = hash_str(k) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        if (!m->keys[i]) return -1;
        if (!strcmp(m->keys[i], k)) return m->vals[i];
    }
}

/* Insert or overwrite; false on OOM (error set). */
static bool map_put(namemap *m, const char *k, int v)
{
    if (2 * (m->n + 1) > m->cap) {
        size_t nc = m->cap ? 2 * m->cap : 64;
        const char **keys = sk_calloc(nc, sizeof *keys);
        int *vals = sk_calloc(nc, sizeof *vals);
        if (!keys || !vals) { sk_free(keys); sk_free(vals); return false; }
        for (size_t i = 0; i < m->cap; i++) {
            if (!m->keys[i]) continue;
            size_t j = hash_str(m->keys[i]) & (nc - 1);
            while (keys[j]) j = (j + 1) & (nc - 1);
            keys[j] = m->keys[i];
            vals[j] = m->vals[i];
        }
        sk_free(m->keys);
        sk_free(m->vals);
        m->keys = keys;
        m->vals = vals;
        m->cap = nc;
    }
    size_t i = hash_str(k) & (m->cap - 1);
    while (m->keys[i] && strcmp(m->keys[i], k)) i = (i + 1) & (m->cap - 1);
    if (!m->keys[i]) m->n++;
    m->keys[i] = k;
    m->vals[i] = v;
    return true;
}

static void map_free(namemap *m)
{
    sk_free(m->keys);
    sk_free(m->vals);
    memset(m, 0, sizeof *m);
}

/* ---- lexical classes shared by printer and parser ---- */
static bool is_alpha(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static bool is_digit(int c) { return c >= '0' && c <= '9'; }
static bool is_ident_char(int c) { return is_alpha(c) || is_digit(c) || c == '-'; }
/* characters of a bare %name / @name */
static bool is_name_char(int c) { return is_alpha(c) || is_digit(c) || c == '.' || c == '/' || c == '-'; }

/* Can s be written as a bare word (header value, attribute name, dim name)? */
static bool is_ident(const char *s)
{
    if (!is_alpha((unsigned char)s[0])) return false;
    for (const char *c = s + 1; *c; c++)
        if (!is_ident_char((unsigned char)*c)) return false;
    return strcmp(s, "inf") && strcmp(s, "nan") && strcmp(s, "x") && strcmp(s, "X");
}

static bool is_bare_name(const char *s)
{
    if (!s[0]) return false;
    for (const char *c = s; *c; c++)
        if (!is_name_char((unsigned char)*c)) return false;
    return true;
}

/* f32 → bf16, round to nearest even; NaN stays a (quiet) NaN */
static uint16_t f32_to_bf16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40);
    x += 0x7fff + ((x >> 16) & 1);
    return (uint16_t)(x >> 16);
}

/* ======================================================================
 * Printer
 * ====================================================================== */

typedef struct printer {
    FILE *f;
    const sk_model *m;
    char **alias;      /* per tensor: a generated unique name, or NULL to use t->name */
} printer;

static void put_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '"' || *c == '\\') fprintf(f, "\\%c", *c);
        else if (*c == '\n') fputs("\\n", f);
        else if (*c == '\t') fputs("\\t", f);
        else if (*c < 0x20 || *c == 0x7f) fprintf(f, "\\x%02x", *c);
        else fputc(*c, f);
    }
    fputc('"', f);
}

static void put_word(FILE *f, const char *s)   /* bare if it is an identifier, else quoted */
{
    if (is_ident(s)) fputs(s, f);
    else put_str(f, s);
}

static void put_tname(const printer *pr, int id)
{
    const sk_graph *g = &pr->m->g;
    if (id < 0 || id >= g->n_tensors) { fprintf(pr->f, "%%\"!bad-id-%d\"", id); return; }
    const char *s = pr->alias[id] ? pr->alias[id] : g->tensors[id].name;
    fputc('%', pr->f);
    if (is_bare_name(s)) fputs(s, pr->f);
    else put_str(pr->f, s);
}

/* The shorter of %.7g and %.9g that reads back as the same float (%.9g always
 * does), so 0.1f prints as "0.1"; f64: %.15g or %.17g. */
static void fmt_f32(char *b, size_t n, float v)
{
    snprintf(b, n, "%.7g", v);
    float back = strtof(b, NULL);
    if (memcmp(&back, &v, 4) && !isnan(v)) snprintf(b, n, "%.9g", v);
}

static void fmt_f64(char *b, size_t n, double v)
{
    snprintf(b, n, "%.15g", v);
    double back = strtod(b, NULL);
    if (memcmp(&back, &v, 8) && !isnan(v)) snprintf(b, n, "%.17g", v);
}

/* A float attribute: always with a '.' or an exponent so it reads back as a float. */
static void put_float(FILE *f, float v)
{
    char b[48];
    fmt_f32(b, sizeof b, v);
    fputs(b, f);
    if (!strpbrk(b, ".eEn")) fputs(".0", f);   /* 'n': inf, nan */
}

static void put_type(const printer *pr, const sk_tensor *t)
{
    FILE *f = pr->f;
    if (t->dtype == SK_DT_UNDEF && t->rank < 0 && !t->quant) return;
    fprintf(f, ": %s", sk_dtype_info(t->dtype)->name);
    if (t->rank >= 0) {
        fputc('[', f);
        for (int i = 0; i < t->rank && i < SK_MAX_RANK; i++) {
            if (i) fputs(", ", f);
            if (t->dims[i] >= 0) fprintf(f, "%" PRId64, t->dims[i]);
            else if (t->dim_names[i] && t->dim_names[i][0]) put_word(f, t->dim_names[i]);
            else fputc('?', f);
        }
        fputc(']', f);
    }
    if (t->quant) {
        const sk_quant *q = t->quant;
        fprintf(f, " quant{bits=%d, group=%d, axis=%d, sym=%d", q->bits, q->group, q->axis, q->symmetric ? 1 : 0);
        if (q->scales >= 0) { fputs(", scales=", f); put_tname(pr, q->scales); }
        if (q->zeros >= 0) { fputs(", zeros=", f); put_tname(pr, q->zeros); }
        fputc('}', f);
    }
}

static void put_elem(FILE *f, sk_dtype dt, const unsigned char *p)
{
    char b[48];
    switch (dt) {
    case SK_DT_F32: { float v; memcpy(&v, p, 4); fmt_f32(b, sizeof b, v); fputs(b, f); break; }
    case SK_DT_F64: { double v; memcpy(&v, p, 8); fmt_f64(b, sizeof b, v); fputs(b, f); break; }
    case SK_DT_F16: { uint16_t v; memcpy(&v, p, 2); fmt_f32(b, sizeof b, sk_f16_to_f32(v)); fputs(b, f); break; }
    case SK_DT_BF16: { uint16_t v; memcpy(&v, p, 2); fmt_f32(b, sizeof b, sk_bf16_to_f32(v)); fputs(b, f); break; }
    case SK_DT_I64: { int64_t v; memcpy(&v, p, 8); fprintf(f, "%" PRId64, v); break; }
    case SK_DT_I32: { int32_t v; memcpy(&v, p, 4); fprintf(f, "%" PRId32, v); break; }
    case SK_DT_I16: { int16_t v; memcpy(&v, p, 2); fprintf(f, "%d", v); break; }
    case SK_DT_I8: fprintf(f, "%d", (int8_t)p[0]); break;
    case SK_DT_U8: fprintf(f, "%d", p[0]); break;
    case SK_DT_BOOL: fputc(p[0] ? '1' : '0', f); break;
    default: fputc('?', f); break;
    }
}

/* "= [values]", "= x\"hex\"" or the elided "= <N bytes>" */
static void put_data(const printer *pr, const sk_tensor *t, bool full)
{
    FILE *f = pr->f;
    const sk_dtype_traits *dt = sk_dtype_info(t->dtype);
    int64_t n = sk_tensor_numel(t);
    size_t want;
    bool elems = dt->block == 1 && dt->block_bytes && n >= 0 && sk_dtype_nbytes(t->dtype, n, &want) &&
                 want == t->nbytes && t->dtype != SK_DT_UNDEF;
    fputs(" = ", f);
    if (!t->data && t->nbytes) { fprintf(f, "<%zu bytes>", t->nbytes); return; }
    if (elems) {
        if (!full && n > INLINE_MAX) { fprintf(f, "<%zu bytes>", t->nbytes); return; }
        fputc('[', f);
        for (int64_t i = 0; i < n; i++) {
            if (i) fputs(n > INLINE_MAX && i % 8 == 0 ? ",\n    " : ", ", f);
            else if (n > INLINE_MAX) fputs("\n    ", f);
            put_elem(f, t->dtype, (const unsigned char *)t->data + (size_t)i * dt->block_bytes);
        }
        fputc(']', f);
        return;
    }
    if (!full && t->nbytes > BLOB_INLINE_MAX) { fprintf(f, "<%zu bytes>", t->nbytes); return; }
    fputs("x\"", f);
    for (size_t i = 0; i < t->nbytes; i++) {
        if (i && i % 32 == 0) fputs("\n    ", f);
        fprintf(f, "%02x", ((const unsigned char *)t->data)[i]);
    }
    fputc('"', f);
}

static void put_attr(FILE *f, const sk_attr *a)
{
    put_word(f, a->name);
    fputc('=', f);
    switch (a->type) {
    case SK_ATTR_INT: fprintf(f, "%" PRId64, a->i); break;
    case SK_ATTR_FLOAT: put_float(f, a->f); break;
    case SK_ATTR_STRING: put_str(f, a->s ? a->s : ""); break;
    case SK_ATTR_INTS:
        fputc('[', f);
        for (int k = 0; k < a->n; k++) fprintf(f, "%s%" PRId64, k ? ", " : "", a->ints[k]);
        fputc(']', f);
        break;
    case SK_ATTR_FLOATS:
        fputs(a->n ? "[" : "f32[", f);
        for (int k = 0; k < a->n; k++) { if (k) fputs(", ", f); put_float(f, a->floats[k]); }
        fputc(']', f);
        break;
    }
}

static void put_header(const printer *pr)
{
    FILE *f = pr->f;
    const sk_arch *a = &pr->m->arch;
    bool any = a->family || a->task[0] || a->n_layers || a->hidden || a->heads || a->ffn || a->vocab ||
               a->max_pos || a->type_vocab || a->n_labels || a->eps != 0 || a->act[0] || pr->m->tokenizer_dir;
    if (!any) return;
    fputs("model", f);
    if (a->family) fprintf(f, " family=%s", sk_family_name(a->family));
    char task[sizeof a->task + 1], act[sizeof a->act + 1];   /* the arrays need not be terminated */
    snprintf(task, sizeof task, "%.*s", (int)sizeof a->task, a->task);
    snprintf(act, sizeof act, "%.*s", (int)sizeof a->act, a->act);
    if (task[0]) { fputs(" task=", f); put_word(f, task); }
    const struct { const char *k; int v; } ints[] = {
        {"layers", a->n_layers}, {"hidden", a->hidden}, {"heads", a->heads}, {"ffn", a->ffn},
        {"vocab", a->vocab}, {"max_pos", a->max_pos}, {"type_vocab", a->type_vocab},
    };
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
        if (ints[i].v) fprintf(f, " %s=%d", ints[i].k, ints[i].v);
    if (a->labels && a->n_labels > 0) {
        fputs(" labels=[", f);
        for (int i = 0; i < a->n_labels; i++) {
            if (i) fputs(", ", f);
            put_str(f, a->labels[i] ? a->labels[i] : "");
        }
        fputc(']', f);
    } else if (a->n_labels) fprintf(f, " labels=%d", a->n_labels);
    if (a->eps != 0) { fputs(" eps=", f); put_float(f, a->eps); }
    if (act[0]) { fputs(" act=", f); put_word(f, act); }
    if (pr->m->tokenizer_dir) { fputs(" tokenizer=", f); put_str(f, pr->m->tokenizer_dir); }
    fputc('\n', f);
}

/* Names the printer can write and the parser can read back: every tensor gets
 * a unique, non-empty name; duplicates and empty names get "<name>_<id>". */
static sk_status make_aliases(printer *pr)
{
    const sk_graph *g = &pr->m->g;
    namemap seen = {0};
    sk_status st = SK_OK;
    pr->alias = sk_calloc((size_t)(g->n_tensors ? g->n_tensors : 1), sizeof(char *));
    if (!pr->alias) return SK_ERR_NOMEM;
    for (int i = 0; i < g->n_tensors && !st; i++) {
        const char *s = g->tensors[i].name ? g->tensors[i].name : "";
        if (s[0] && map_get(&seen, s) < 0 && !map_put(&seen, s, i)) st = SK_ERR_NOMEM;
    }
    for (int i = 0; i < g->n_tensors && !st; i++) {
        const char *s = g->tensors[i].name ? g->tensors[i].name : "";
        if (s[0] && map_get(&seen, s) == i) continue;
        size_t len = strlen(s) + 16, extra = 0;
        char *a = NULL;
        do {   /* "<name>_<id>", then more '_' until unused */
            sk_free(a);
            a = sk_malloc(len + extra + 1);
            if (!a) { st = SK_ERR_NOMEM; break; }
            int w = snprintf(a, len, "%s_%d", s, i);
            for (size_t k = 0; k < extra; k++) a[w + (int)k] = '_';
            a[w + (int)extra] = 0;
            extra++;
        } while (map_get(&seen, a) >= 0);
        if (st) break;
        pr->alias[i] = a;
        if (!map_put(&seen, a, i)) st = SK_ERR_NOMEM;
    }
    map_free(&seen);
    return st;
}

sk_status sk_ir_print(const sk_model *m, FILE *f, bool full_values)
{
    const sk_graph *g = &m->g;
    printer pr = {f, m, NULL};
    sk_status st = make_aliases(&pr);
    size_t nt = (size_t)(g->n_tensors ? g->n_tensors : 1);
    char *is_in = st ? NULL : sk_calloc(nt, 1);     /* in g->inputs */
    char *done = st ? NULL : sk_calloc(nt, 1);      /* declared already */
    if (!st && (!is_in || !done)) st = SK_ERR_NOMEM;
    if (st) goto out;
    for (int i = 0; i < g->n_inputs; i++)
        if (g->inputs[i] >= 0 && g->inputs[i] < g->n_tensors) is_in[g->inputs[i]] = 1;
    for (int i = 0; i < g->n_nodes; i++)   /* produced tensors are declared by their node */
        for (int k = 0; k < g->nodes[i].n_out; k++) {
            int t = g->nodes[i].out[k];
            if (t >= 0 && t < g->n_tensors) done[t] = 2;
        }

    put_header(&pr);
    for (int i = 0; i < m->n_prov; i++) {
        fputs("prov ", f);
        put_word(f, m->prov[i].pass ? m->prov[i].pass : "");
        fputc(' ', f);
        put_str(f, m->prov[i].params_json ? m->prov[i].params_json : "");
        fputc('\n', f);
    }
    /* constants that are also graph inputs come first, so "input %w" can name them */
    for (int pass = 0; pass < 4; pass++) {
        if (pass == 1) {
            for (int i = 0; i < g->n_inputs; i++) {
                int t = g->inputs[i];
                fputs("input ", f);
                put_tname(&pr, t);
                if (t >= 0 && t < g->n_tensors && !done[t]) { put_type(&pr, &g->tensors[t]); done[t] = 1; }
                fputc('\n', f);
            }
            continue;
        }
        for (int i = 0; i < g->n_tensors; i++) {
            const sk_tensor *t = &g->tensors[i];
            bool cst = t->flags & SK_TF_CONST;
            if (done[i] || (pass == 0 && !(cst && is_in[i])) || (pass == 2 && !cst) || (pass == 3 && cst)) continue;
            fputs(!cst ? "tensor " : t->flags & SK_TF_WEIGHT ? "weight " : "const ", f);
            put_tname(&pr, i);
            put_type(&pr, t);
            if (cst) put_data(&pr, t, full_values);
            fputc('\n', f);
            done[i] = 1;
        }
    }
    for (int i = 0; i < g->n_nodes; i++) {
        const sk_node *n = &g->nodes[i];
        for (int k = 0; k < n->n_out; k++) {
            int t = n->out[k];
            if (k) fputs(", ", f);
            if (t == -1) { fputc('_', f); continue; }
            put_tname(&pr, t);
            if (t >= 0 && t < g->n_tensors && done[t] == 2) { put_type(&pr, &g->tensors[t]); done[t] = 1; }
        }
        if (n->n_out) fputs(" = ", f);
        fprintf(f, "%s(", (unsigned)n->op < SK_OP_COUNT ? sk_op_get(n->op)->name : "?bad-op");
        for (int k = 0; k < n->n_in; k++) {
            if (k) fputs(", ", f);
            if (n->in[k] == -1) fputc('_', f);
            else put_tname(&pr, n->in[k]);
        }
        fputc(')', f);
        if (n->n_attrs) {
            fputs(" {", f);
            for (int a = 0; a < n->n_attrs; a++) {
                if (a) fputs(", ", f);
                put_attr(f, &n->attrs[a]);
            }
            fputc('}', f);
        }
        if (n->name && n->name[0]) {
            fputs(" @", f);
            if (is_bare_name(n->name)) fputs(n->name, f);
            else put_str(f, n->name);
        }
        fputc('\n', f);
    }
    for (int i = 0; i < g->n_outputs; i++) {
        fputs("output ", f);
        put_tname(&pr, g->outputs[i]);
        fputc('\n', f);
    }
    if (ferror(f)) st = sk_err(SK_ERR_IO, "writing the text IR: %s", strerror(errno));
out:
    if (pr.alias)
        for (int i = 0; i < g->n_tensors; i++) sk_free(pr.alias[i]);
    sk_free(pr.alias);
    sk_free(is_in);
    sk_free(done);
    return st;
}

/* ======================================================================
 * Parser
 * ====================================================================== */

typedef enum tkind { T_EOF, T_NL, T_IDENT, T_NUM, T_STR, T_PNAME, T_ANAME, T_BLOB, T_PUNCT, T_ERR } tkind;

typedef struct token {
    tkind k;
    char c;                /* T_PUNCT: the character */
    bool isfloat;          /* T_NUM: has '.', an exponent, or is inf / nan */
    const char *s;         /* raw span in the source */
    size_t n;
    int line, col;
} token;

typedef struct decl {      /* "%name: type quant{...}" as read, before it becomes a tensor */
    char *name;
    int line, col;
    bool typed;
    sk_dtype dtype;
    int rank;
    int64_t dims[SK_MAX_RANK];
    char *dim_names[SK_MAX_RANK];
    bool quant;
    sk_quant q;
    char *scales, *zeros;  /* names, resolved at the end */
} decl;

typedef struct qfix { int tid; char *scales, *zeros; int line, col; } qfix;

typedef struct parser {
    const char *file;
    const char *p;         /* next character */
    const char *bol;       /* start of the current line */
    int line;
    int depth;             /* open brackets: newlines inside them are blanks */
    token tok;
    bool have;             /* tok holds the lookahead */
    char *text;            /* decoded text of tok (NUL-terminated) */
    size_t text_cap;
    sk_status st;          /* first error; later ones are dropped */
    sk_model *m;
    namemap names;         /* tensor name → id (keys are the graph's name strings) */
    int *def_line; int def_cap;
    qfix *fix; int n_fix, cap_fix;
    decl *outs; int n_outs, cap_outs;
    int *ins; int cap_ins;
    unsigned char *buf; size_t buf_cap;     /* values of a constant */
    int64_t *iv; float *fv; int cap_v;      /* values of an attribute list */
    bool seen_model;
    char descbuf[48];
} parser;

/* Names in messages may hold any byte; a message stays one printable line. */
static void one_line(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f) *s = '?';
}

SK_PRINTF(4, 5)
static bool perr_at(parser *p, int line, int col, const char *fmt, ...)
{
    if (p->st) return false;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    one_line(msg);
    p->st = sk_err(SK_ERR_FORMAT, "%s:%d:%d: %s", p->file, line, col, msg);
    return false;
}
#define perr(p, t, ...) perr_at(p, (t)->line, (t)->col, __VA_ARGS__)

static bool oom(parser *p)
{
    if (!p->st) p->st = sk_err_prefix(SK_ERR_NOMEM, "%s:%d", p->file, p->line);
    return false;
}

/* Room for n bytes and a NUL in p->text. */
static bool text_reserve(parser *p, size_t n)
{
    if (n + 1 > p->text_cap) {
        size_t nc = p->text_cap ? p->text_cap : 64;
        while (nc < n + 1) nc *= 2;
        char *t = sk_realloc(p->text, nc);
        if (!t) return oom(p);
        p->text = t;
        p->text_cap = nc;
    }
    return true;
}

static bool text_set(parser *p, const char *s, size_t n)
{
    if (!text_reserve(p, n)) return false;
    memcpy(p->text, s, n);
    p->text[n] = 0;
    return true;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* A quoted string starting at p->p (the '"'); decoded into p->text. */
static bool lex_string(parser *p, token *t)
{
    const char *s = p->p + 1;
    size_t n = 0;
    /* first pass: find the end and check escapes; decoded length <= raw length */
    for (;; s++) {
        if (*s == 0 || *s == '\n') {
            perr(p, t, "unterminated string");
            return false;
        }
        if (*s == '"') break;
        if (*s == '\\') {
            s++;
            if (*s == 'x') {
                if (hexval((unsigned char)s[1]) < 0 || hexval((unsigned char)s[2]) < 0)
                    return perr_at(p, t->line, t->col + (int)(s - p->p), "bad escape '\\x' in string (need 2 hex digits)");
                if (!hexval((unsigned char)s[1]) && !hexval((unsigned char)s[2]))
                    return perr_at(p, t->line, t->col + (int)(s - p->p), "'\\x00' is not allowed in a string");
                s += 2;
            } else if (*s != '"' && *s != '\\' && *s != 'n' && *s != 't')
                return perr_at(p, t->line, t->col + (int)(s - p->p), "unknown escape in string");
        }
        n++;
    }
    if (!text_reserve(p, n)) return false;
    char *d = p->text;
    for (const char *c = p->p + 1; c < s; c++) {
        if (*c != '\\') { *d++ = *c; continue; }
        c++;
        if (*c == 'n') *d++ = '\n';
        else if (*c == 't') *d++ = '\t';
        else if (*c == 'x') { *d++ = (char)(hexval((unsigned char)c[1]) * 16 + hexval((unsigned char)c[2])); c += 2; }
        else *d++ = *c;
    }
    *d = 0;
    p->p = s + 1;
    return true;
}

/* Read the next token into p->tok (decoded text in p->text). */
static void lex(parser *p)
{
    token *t = &p->tok;
    const char *c = p->p;
    for (;;) {   /* blanks, comments, and newlines inside brackets */
        if (*c == ' ' || *c == '\t' || *c == '\r') c++;
        else if (*c == '#') while (*c && *c != '\n') c++;
        else if (*c == '\n' && p->depth > 0) { c++; p->line++; p->bol = c; }
        else break;
    }
    p->p = c;
    memset(t, 0, sizeof *t);
    t->s = c;
    t->line = p->line;
    t->col = (int)(c - p->bol) + 1;
    if (p->st) { t->k = T_ERR; return; }
    if (*c == 0) { t->k = T_EOF; text_set(p, "", 0); return; }
    if (*c == '\n') {
        t->k = T_NL;
        p->p = c + 1;
        p->line++;
        p->bol = p->p;
        t->n = 1;
        text_set(p, "", 0);
        return;
    }
    if (*c == 'x' || *c == 'X') {
        if (c[1] == '"') {   /* x"hex bytes": blanks and newlines allowed inside */
            const char *e = c + 2;
            while (*e && *e != '"') {
                if (*e == '\n') { p->line++; p->bol = e + 1; }
                e++;
            }
            if (!*e) { perr(p, t, "unterminated x\"...\" data"); t->k = T_ERR; return; }
            t->k = T_BLOB;
            t->n = (size_t)(e + 1 - c);
            p->p = e + 1;
            text_set(p, "", 0);
            return;
        }
    }
    bool neg_word = *c == '-' && (!strncmp(c + 1, "inf", 3) || !strncmp(c + 1, "nan", 3)) &&
                    !is_ident_char((unsigned char)c[4]);
    if (is_digit(*c) || (*c == '.' && is_digit(c[1])) || (*c == '-' && (is_digit(c[1]) || c[1] == '.')) || neg_word) {
        const char *e = c + 1;
        for (;;) {
            if (is_alpha(*e) || is_digit(*e) || *e == '.') e++;
            else if ((*e == '+' || *e == '-') && (e[-1] == 'e' || e[-1] == 'E')) e++;
            else break;
        }
        t->k = T_NUM;
        t->n = (size_t)(e - c);
        p->p = e;
        text_set(p, c, t->n);
        if (p->text) {
            const char *x = p->text + (p->text[0] == '-');
            t->isfloat = strpbrk(x, ".eEnN") != NULL;   /* nan, inf: 'n' */
        }
        return;
    }
    if (is_alpha(*c)) {
        const char *e = c + 1;
        while (is_ident_char((unsigned char)*e)) e++;
        t->k = T_IDENT;
        t->n = (size_t)(e - c);
        p->p = e;
        text_set(p, c, t->n);
        if (p->text && (!strcmp(p->text, "inf") || !strcmp(p->text, "nan"))) { t->k = T_NUM; t->isfloat = true; }
        return;
    }
    if (*c == '"') {
        t->k = T_STR;
        if (!lex_string(p, t)) { t->k = T_ERR; return; }
        t->n = (size_t)(p->p - c);
        return;
    }
    if (*c == '%' || *c == '@') {
        t->k = *c == '%' ? T_PNAME : T_ANAME;
        if (c[1] == '"') {
            p->p = c + 1;
            if (!lex_string(p, t)) { t->k = T_ERR; return; }
        } else {
            const char *e = c + 1;
            while (is_name_char((unsigned char)*e)) e++;
            if (e == c + 1) {
                perr(p, t, "expected a name after '%c'", *c);
                t->k = T_ERR;
                return;
            }
            p->p = e;
            text_set(p, c + 1, (size_t)(e - c - 1));
        }
        t->n = (size_t)(p->p - c);
        return;
    }
    if (strchr("()[]{},:=<>?", *c)) {
        t->k = T_PUNCT;
        t->c = *c;
        t->n = 1;
        p->p = c + 1;
        text_set(p, c, 1);
        return;
    }
    if ((unsigned char)*c >= 0x20 && (unsigned char)*c < 0x7f) perr(p, t, "unexpected character '%c'", *c);
    else perr(p, t, "unexpected byte 0x%02x", (unsigned char)*c);
    t->k = T_ERR;
}

static token *peek(parser *p)
{
    if (!p->have) {
        lex(p);
        if (p->st) p->tok.k = T_ERR;   /* including a failed text_set: p->text may be stale */
        p->have = true;
    }
    return &p->tok;
}

static void next(parser *p)
{
    token *t = peek(p);
    if (t->k == T_PUNCT) {
        if (strchr("([{", t->c)) p->depth++;
        else if (strchr(")]}", t->c) && p->depth > 0) p->depth--;
    }
    p->have = false;
}

/* How the token reads in a message: "'foo'", "end of line", ... */
static const char *desc(parser *p, const token *t)
{
    switch (t->k) {
    case T_EOF: return "end of file";
    case T_NL: return "end of line";
    case T_STR: return "a string";
    case T_BLOB: return "x\"...\" data";
    case T_ERR: return "an error";
    default: break;
    }
    size_t n = t->n < 24 ? t->n : 24, k = 0;
    p->descbuf[k++] = '\'';
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)t->s[i];
        p->descbuf[k++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
    }
    if (n < t->n) { memcpy(p->descbuf + k, "...", 3); k += 3; }
    p->descbuf[k++] = '\'';
    p->descbuf[k] = 0;
    return p->descbuf;
}

static bool is_punct(parser *p, char c) { token *t = peek(p); return t->k == T_PUNCT && t->c == c; }

static bool accept(parser *p, char c)
{
    if (!is_punct(p, c)) return false;
    next(p);
    return true;
}

static bool expect(parser *p, char c, const char *what)
{
    if (accept(p, c)) return true;
    token *t = peek(p);
    return perr(p, t, "expected '%c' %s, found %s", c, what, desc(p, t));
}

static bool is_kw(parser *p, const char *kw)
{
    token *t = peek(p);
    return t->k == T_IDENT && !strcmp(p->text, kw);
}

/* ---- numbers ---- */
static bool num_int(parser *p, const char *what, int64_t *v)
{
    token *t = peek(p);
    if (t->k != T_NUM || t->isfloat) return perr(p, t, "expected an integer for %s, found %s", what, desc(p, t));
    char *end;
    errno = 0;
    long long x = strtoll(p->text, &end, 10);
    if (*end) return perr(p, t, "bad integer %s", desc(p, t));
    if (errno == ERANGE) return perr(p, t, "integer %s out of range for %s", desc(p, t), what);
    *v = x;
    next(p);
    return true;
}

static bool num_range(parser *p, const char *what, int64_t lo, int64_t hi, int64_t *v)
{
    token t = *peek(p);
    if (!num_int(p, what, v)) return false;
    if (*v < lo || *v > hi)
        return perr(p, &t, "%s must be in %" PRId64 "..%" PRId64 ", got %" PRId64, what, lo, hi, *v);
    return true;
}

/* Any number as a double (f64 data); as_float: also as a float via strtof (no double rounding). */
static bool num_real(parser *p, const char *what, double *d, float *f)
{
    token *t = peek(p);
    if (t->k != T_NUM) return perr(p, t, "expected a number for %s, found %s", what, desc(p, t));
    char *end;
    errno = 0;
    if (f) {
        *f = strtof(p->text, &end);
        if (!*end && errno == ERANGE && isinf(*f)) return perr(p, t, "%s out of range for f32", desc(p, t));
    } else {
        *d = strtod(p->text, &end);
        if (!*end && errno == ERANGE && isinf(*d)) return perr(p, t, "%s out of range for f64", desc(p, t));
    }
    if (*end) return perr(p, t, "bad number %s", desc(p, t));
    next(p);
    return true;
}

/* ---- tensor declarations ---- */
static void decl_free(decl *d)
{
    sk_free(d->name);
    for (int i = 0; i < SK_MAX_RANK; i++) sk_free(d->dim_names[i]);
    sk_free(d->scales);
    sk_free(d->zeros);
    memset(d, 0, sizeof *d);
}

/* "[d0, d1, ...]" after a dtype */
static bool parse_dims(parser *p, decl *d)
{
    token open = *peek(p);
    next(p);   /* '[' */
    d->rank = 0;
    if (accept(p, ']')) return true;
    for (;;) {
        token *t = peek(p);
        if (d->rank == SK_MAX_RANK) return perr(p, t, "rank exceeds %d", SK_MAX_RANK);
        int i = d->rank++;
        d->dims[i] = -1;
        if (t->k == T_NUM) {
            if (!num_range(p, "a dimension", 0, INT64_MAX, &d->dims[i])) return false;
        } else if (t->k == T_IDENT || t->k == T_STR) {
            if (!p->text[0]) return perr(p, t, "empty dimension name");
            if (!(d->dim_names[i] = sk_strdup(p->text))) return oom(p);
            next(p);
        } else if (!accept(p, '?'))
            return perr(p, t, "expected a dimension (a size, a name or '?'), found %s", desc(p, t));
        if (accept(p, ']')) break;
        if (!expect(p, ',', "or ']' between dimensions")) return false;
    }
    /* a static shape must have a representable element count and byte size */
    int64_t n = 1;
    bool dyn = false;
    for (int i = 0; i < d->rank; i++) {
        if (d->dims[i] < 0) { dyn = true; continue; }
        if (__builtin_mul_overflow(n, d->dims[i], &n))
            return perr(p, &open, "shape of %%%s overflows (more than 2^63 elements)", d->name);
    }
    size_t nb;
    if (!dyn && d->dtype != SK_DT_UNDEF && sk_dtype_info(d->dtype)->block == 1 && !sk_dtype_nbytes(d->dtype, n, &nb))
        return perr(p, &open, "shape of %%%s overflows (%" PRId64 " elements of %s)", d->name, n,
                    sk_dtype_info(d->dtype)->name);
    return true;
}

/* "quant{bits=4, group=32, axis=0, sym=1, scales=%s, zeros=%z}" */
static bool parse_quant(parser *p, decl *d)
{
    next(p);   /* quant */
    d->quant = true;
    d->q = (sk_quant){.scales = -1, .zeros = -1};
    if (!expect(p, '{', "after 'quant'")) return false;
    if (accept(p, '}')) return true;
    for (;;) {
        token kt = *peek(p);
        if (kt.k != T_IDENT) return perr(p, &kt, "expected a quant field, found %s", desc(p, &kt));
        char key[16];
        snprintf(key, sizeof key, "%s", p->text);
        next(p);
        if (!expect(p, '=', "after a quant field")) return false;
        int64_t v;
        if (!strcmp(key, "scales") || !strcmp(key, "zeros")) {
            token *t = peek(p);
            char **dst = key[0] == 's' ? &d->scales : &d->zeros;
            if (t->k != T_PNAME) return perr(p, t, "expected a %%name for quant %s, found %s", key, desc(p, t));
            if (*dst) return perr(p, &kt, "duplicate quant field '%s'", key);
            if (!(*dst = sk_strdup(p->text))) return oom(p);
            next(p);
        } else if (!strcmp(key, "bits")) {
            if (!num_range(p, "quant bits", INT_MIN, INT_MAX, &v)) return false;
            d->q.bits = (int)v;
        } else if (!strcmp(key, "group")) {
            if (!num_range(p, "quant group", INT_MIN, INT_MAX, &v)) return false;
            d->q.group = (int)v;
        } else if (!strcmp(key, "axis")) {
            if (!num_range(p, "quant axis", INT_MIN, INT_MAX, &v)) return false;
            d->q.axis = (int)v;
        } else if (!strcmp(key, "sym")) {
            if (!num_range(p, "quant sym", 0, 1, &v)) return false;
            d->q.symmetric = v != 0;
        } else
            return perr(p, &kt, "unknown quant field %s (bits, group, axis, sym, scales, zeros)", desc(p, &kt));
        if (accept(p, '}')) return true;
        if (!expect(p, ',', "or '}' between quant fields")) return false;
    }
}

/* "%name" [": dtype" ["[dims]"] [quant{...}]] */
static bool parse_decl(parser *p, decl *d, const char *what)
{
    token *t = peek(p);
    memset(d, 0, sizeof *d);
    d->rank = -1;
    if (t->k != T_PNAME) return perr(p, t, "expected a %%name %s, found %s", what, desc(p, t));
    d->line = t->line;
    d->col = t->col;
    if (!(d->name = sk_strdup(p->text))) return oom(p);
    next(p);
    if (!accept(p, ':')) return true;
    t = peek(p);
    if (t->k != T_IDENT) return perr(p, t, "expected a dtype after ':', found %s", desc(p, t));
    d->typed = true;
    d->dtype = sk_dtype_from_name(p->text);
    if (d->dtype == SK_DT_UNDEF && strcmp(p->text, "undef")) {
        char names[256] = "";
        for (int i = 1; i < SK_DT_COUNT; i++)
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i > 1 ? ", " : "",
                     sk_dtype_info((sk_dtype)i)->name);
        return perr(p, t, "unknown dtype %s (one of %s)", desc(p, t), names);
    }
    next(p);
    if (is_punct(p, '[') && !parse_dims(p, d)) return false;
    if (is_kw(p, "quant") && !parse_quant(p, d)) return false;
    return true;
}

static bool note_def(parser *p, int tid, int line)
{
    if (sk_grow((void **)&p->def_line, &p->def_cap, tid + 1, sizeof(int))) return oom(p);
    p->def_line[tid] = line;
    return true;
}

/* Make a tensor of d (moving its dim names into it); data is taken over. */
static int decl_make(parser *p, decl *d, bool cst, void *data, size_t nbytes)
{
    sk_graph *g = &p->m->g;
    int prev = map_get(&p->names, d->name);
    if (prev >= 0) {
        sk_free(data);
        perr_at(p, d->line, d->col, "%%%s is already defined (line %d)", d->name, p->def_line[prev]);
        return -1;
    }
    int id = cst ? sk_graph_add_const(g, d->name, d->dtype, d->rank, d->dims, data, true)
                 : sk_graph_add_tensor(g, d->name, d->dtype, d->rank, d->dims);
    if (id < 0) {
        if (!p->st) p->st = sk_err_prefix(SK_ERR_NOMEM, "%s:%d:%d", p->file, d->line, d->col);
        return -1;
    }
    sk_tensor *t = &g->tensors[id];
    if (cst) t->nbytes = nbytes;   /* equal to the shape's size unless quantized (checked by the caller) */
    for (int i = 0; i < SK_MAX_RANK; i++) { t->dim_names[i] = d->dim_names[i]; d->dim_names[i] = NULL; }
    if (!map_put(&p->names, t->name, id) || !note_def(p, id, d->line)) { oom(p); return -1; }
    if (d->quant) {
        if (!(t->quant = sk_malloc(sizeof *t->quant))) { oom(p); return -1; }
        *t->quant = d->q;
        if (d->scales || d->zeros) {
            if (sk_grow((void **)&p->fix, &p->cap_fix, p->n_fix + 1, sizeof *p->fix)) { oom(p); return -1; }
            p->fix[p->n_fix++] = (qfix){id, d->scales, d->zeros, d->line, d->col};
            d->scales = d->zeros = NULL;
        }
    }
    return id;
}

static bool buf_reserve(parser *p, size_t need)
{
    if (need <= p->buf_cap) return true;
    size_t nc = p->buf_cap ? p->buf_cap : 256;
    while (nc < need) {
        if (nc > SIZE_MAX / 2) return oom(p);
        nc *= 2;
    }
    unsigned char *b = sk_realloc(p->buf, nc);
    if (!b) return oom(p);
    p->buf = b;
    p->buf_cap = nc;
    return true;
}

/* One element of dtype dt from the current token into dst. */
static bool parse_elem(parser *p, sk_dtype dt, unsigned char *dst)
{
    token t = *peek(p);
    const char *dn = sk_dtype_info(dt)->name;
    float f;
    double d;
    int64_t v;
    switch (dt) {
    case SK_DT_F32:
        if (!num_real(p, "an f32 value", NULL, &f)) return false;
        memcpy(dst, &f, 4);
        return true;
    case SK_DT_F64:
        if (!num_real(p, "an f64 value", &d, NULL)) return false;
        memcpy(dst, &d, 8);
        return true;
    case SK_DT_F16: case SK_DT_BF16: {
        if (!num_real(p, dt == SK_DT_F16 ? "an f16 value" : "a bf16 value", NULL, &f)) return false;
        uint16_t h = dt == SK_DT_F16 ? sk_f32_to_f16(f) : f32_to_bf16(f);
        float back = dt == SK_DT_F16 ? sk_f16_to_f32(h) : sk_bf16_to_f32(h);
        if (isinf(back) && !isinf(f)) return perr(p, &t, "%s out of range for %s", desc(p, &t), dn);
        memcpy(dst, &h, 2);
        return true;
    }
    default: break;
    }
    static const int64_t lo[SK_DT_COUNT] = {[SK_DT_I64] = INT64_MIN, [SK_DT_I32] = INT32_MIN, [SK_DT_I16] = INT16_MIN,
                                            [SK_DT_I8] = INT8_MIN};
    static const int64_t hi[SK_DT_COUNT] = {[SK_DT_I64] = INT64_MAX, [SK_DT_I32] = INT32_MAX, [SK_DT_I16] = INT16_MAX,
                                            [SK_DT_I8] = INT8_MAX, [SK_DT_U8] = UINT8_MAX, [SK_DT_BOOL] = 1};
    if (!num_int(p, "an integer element", &v)) return false;
    if (v < lo[dt] || v > hi[dt]) return perr(p, &t, "%" PRId64 " out of range for %s", v, dn);
    switch (dt) {
    case SK_DT_I64: memcpy(dst, &v, 8); break;
    case SK_DT_I32: { int32_t x = (int32_t)v; memcpy(dst, &x, 4); break; }
    case SK_DT_I16: { int16_t x = (int16_t)v; memcpy(dst, &x, 2); break; }
    default: dst[0] = (unsigned char)(v & 0xff); break;   /* i8, u8, bool */
    }
    return true;
}

/* The "= ..." part of a constant: fills *data (sk_malloc'd, caller's) and *nbytes. */
static bool parse_data(parser *p, decl *d, void **data, size_t *nbytes)
{
    int64_t n = 1;
    for (int i = 0; i < d->rank; i++) n *= d->dims[i];   /* checked by parse_dims */
    token *t = peek(p);
    const sk_dtype_traits *dt = sk_dtype_info(d->dtype);
    *data = NULL;
    *nbytes = 0;
    if (t->k == T_BLOB) {   /* x"0a1b..." */
        size_t want = 0, digits = 0, len = 0;
        const char *end = t->s + t->n - 1;
        if (!d->quant && !sk_dtype_nbytes(d->dtype, n, &want))
            return perr(p, t, "%%%s: %s data must be a multiple of %d elements", d->name, dt->name, dt->block);
        for (const char *c = t->s + 2; c < end; c++) {
            if (hexval((unsigned char)*c) >= 0) digits++;
            else if (!strchr(" \t\r\n", *c)) return perr(p, t, "bad hex digit in x\"...\" data of %%%s", d->name);
        }
        if (digits % 2) return perr(p, t, "odd number of hex digits in the data of %%%s", d->name);
        if (!d->quant && digits / 2 != want)
            return perr(p, t, "%%%s: %zu bytes of data, its shape needs %zu", d->name, digits / 2, want);
        unsigned char *b = sk_malloc(digits / 2);
        if (!b) return oom(p);
        for (const char *c = t->s + 2, *hi = NULL; c < end; c++) {
            if (hexval((unsigned char)*c) < 0) continue;
            if (!hi) { hi = c; continue; }
            b[len++] = (unsigned char)(hexval((unsigned char)*hi) * 16 + hexval((unsigned char)*c));
            hi = NULL;
        }
        *data = b;
        *nbytes = len;
        next(p);
        return true;
    }
    if (t->k == T_PUNCT && t->c == '<')
        return perr(p, t, "the values of %%%s were left out ('<N bytes>'); dump with --full to read it back", d->name);
    if (t->k != T_PUNCT || t->c != '[')
        return perr(p, t, "expected '[' values ']' or x\"hex\" for %%%s, found %s", d->name, desc(p, t));
    if (dt->block != 1 || !dt->block_bytes)
        return perr(p, t, "%%%s: %s data must be written as x\"hex\"", d->name, dt->name);
    next(p);
    int64_t count = 0;
    size_t es = dt->block_bytes;
    if (!accept(p, ']')) {
        for (;;) {
            token *v = peek(p);
            if (count == n)
                return perr(p, v, "too many values for %%%s (its shape holds %" PRId64 ")", d->name, n);
            if (!buf_reserve(p, (size_t)(count + 1) * es)) return false;
            if (!parse_elem(p, d->dtype, p->buf + (size_t)count * es)) return false;
            count++;
            if (accept(p, ']')) break;
            if (!expect(p, ',', "or ']' between values")) return false;
        }
    }
    if (count != n)
        return perr_at(p, d->line, d->col, "%%%s needs %" PRId64 " values for its shape, found %" PRId64, d->name, n,
                       count);
    *nbytes = (size_t)count * es;
    if (count) {   /* hand the buffer over, trimmed */
        unsigned char *b = sk_realloc(p->buf, *nbytes);
        if (!b) return oom(p);
        *data = b;
        p->buf = NULL;
        p->buf_cap = 0;
    }
    return true;
}

/* const / weight %name: type = data */
static bool stmt_const(parser *p, bool weight)
{
    decl d;
    void *data = NULL;
    size_t nbytes = 0;
    bool ok = false;
    next(p);
    if (!parse_decl(p, &d, weight ? "after 'weight'" : "after 'const'")) goto out;
    if (!d.typed || d.rank < 0) {
        perr_at(p, d.line, d.col, "constant %%%s needs a dtype and a shape (': f32[2, 3]')", d.name);
        goto out;
    }
    if (d.dtype == SK_DT_UNDEF) { perr_at(p, d.line, d.col, "constant %%%s needs a dtype", d.name); goto out; }
    for (int i = 0; i < d.rank; i++)
        if (d.dims[i] < 0) {
            perr_at(p, d.line, d.col, "constant %%%s needs a static shape (dimension %d is not a number)", d.name, i);
            goto out;
        }
    if (!expect(p, '=', "and the values of a constant") || !parse_data(p, &d, &data, &nbytes)) goto out;
    int id = decl_make(p, &d, true, data, nbytes);
    data = NULL;
    if (id < 0) goto out;
    if (weight) p->m->g.tensors[id].flags |= SK_TF_WEIGHT;
    ok = true;
out:
    sk_free(data);
    decl_free(&d);
    return ok;
}

/* input %a: type, %b   (a bare name that exists marks it as an input) */
static bool stmt_input(parser *p)
{
    next(p);
    for (;;) {
        decl d;
        if (!parse_decl(p, &d, "after 'input'")) { decl_free(&d); return false; }
        int id = map_get(&p->names, d.name);
        if (id < 0 || d.typed) id = decl_make(p, &d, false, NULL, 0);
        decl_free(&d);
        if (id < 0) return false;
        if (sk_graph_add_input(&p->m->g, id)) return oom(p);
        if (!accept(p, ',')) return true;
    }
}

/* tensor %t: type — a tensor no node produces */
static bool stmt_tensor(parser *p)
{
    decl d;
    next(p);
    bool ok = parse_decl(p, &d, "after 'tensor'") && decl_make(p, &d, false, NULL, 0) >= 0;
    decl_free(&d);
    return ok;
}

static bool lookup(parser *p, const char *what, int *id)
{
    token *t = peek(p);
    if (t->k != T_PNAME) return perr(p, t, "expected a %%name %s, found %s", what, desc(p, t));
    *id = map_get(&p->names, p->text);
    if (*id < 0) return perr(p, t, "undefined tensor %%%s", p->text);
    next(p);
    return true;
}

static bool stmt_output(parser *p)
{
    next(p);
    for (;;) {
        int id;
        if (!lookup(p, "after 'output'", &id)) return false;
        if (sk_graph_add_output(&p->m->g, id)) return oom(p);
        if (!accept(p, ',')) return true;
    }
}

static bool stmt_prov(parser *p)
{
    next(p);
    token *t = peek(p);
    if (t->k != T_IDENT && t->k != T_STR) return perr(p, t, "expected a pass name after 'prov', found %s", desc(p, t));
    char *pass = sk_strdup(p->text);
    if (!pass) return oom(p);
    next(p);
    t = peek(p);
    bool ok = false;
    if (t->k != T_STR) perr(p, t, "expected the parameters of pass '%s' as a JSON string, found %s", pass, desc(p, t));
    else if (sk_model_add_prov(p->m, pass, p->text) || !p->m->prov[p->m->n_prov - 1].pass ||
             !p->m->prov[p->m->n_prov - 1].params_json)
        oom(p);
    else { next(p); ok = true; }
    sk_free(pass);
    return ok;
}

/* A bare word or a string into dst (size cap, must fit). */
static bool header_word(parser *p, const char *key, char *dst, size_t cap)
{
    token *t = peek(p);
    if (t->k != T_IDENT && t->k != T_STR) return perr(p, t, "expected a word for '%s', found %s", key, desc(p, t));
    if (strlen(p->text) >= cap) return perr(p, t, "'%s' is longer than %zu bytes", key, cap - 1);
    memcpy(dst, p->text, strlen(p->text) + 1);
    next(p);
    return true;
}

/* model family=bert task=seq-classification layers=2 ... */
static bool stmt_model(parser *p)
{
    token kw = *peek(p);
    sk_model *m = p->m;
    sk_arch *a = &m->arch;
    if (p->seen_model) return perr(p, &kw, "a second 'model' line");
    p->seen_model = true;
    next(p);
    for (;;) {
        token kt = *peek(p);
        if (kt.k == T_NL || kt.k == T_EOF) return true;
        if (kt.k != T_IDENT) return perr(p, &kt, "expected a model field (key=value), found %s", desc(p, &kt));
        char key[32];
        snprintf(key, sizeof key, "%s", p->text);
        next(p);
        if (!expect(p, '=', "after a model field")) return false;
        struct { const char *k; int *v; } ints[] = {
            {"layers", &a->n_layers}, {"hidden", &a->hidden}, {"heads", &a->heads}, {"ffn", &a->ffn},
            {"vocab", &a->vocab}, {"max_pos", &a->max_pos}, {"type_vocab", &a->type_vocab},
        };
        size_t i = 0;
        while (i < sizeof ints / sizeof ints[0] && strcmp(key, ints[i].k)) i++;
        token vt = *peek(p), *t = &vt;
        int64_t v;
        if (i < sizeof ints / sizeof ints[0]) {
            if (!num_range(p, ints[i].k, INT_MIN, INT_MAX, &v)) return false;
            *ints[i].v = (int)v;
        } else if (!strcmp(key, "family")) {
            char w[16];
            int f = 0;
            if (!header_word(p, "family", w, sizeof w)) return false;
            while (f <= SK_FAM_RNN && strcmp(sk_family_name((sk_family)f), w)) f++;
            if (f > SK_FAM_RNN) return perr(p, t, "unknown family '%s' (none, bert, gpt2, mlp, cnn, rnn)", w);
            a->family = (sk_family)f;
        } else if (!strcmp(key, "task")) {
            if (!header_word(p, "task", a->task, sizeof a->task)) return false;
        } else if (!strcmp(key, "act")) {
            if (!header_word(p, "act", a->act, sizeof a->act)) return false;
        } else if (!strcmp(key, "eps")) {
            if (!num_real(p, "eps", NULL, &a->eps)) return false;
        } else if (!strcmp(key, "tokenizer")) {
            if (t->k != T_STR) return perr(p, t, "expected a string for 'tokenizer', found %s", desc(p, t));
            sk_free(m->tokenizer_dir);
            if (!(m->tokenizer_dir = sk_strdup(p->text))) return oom(p);
            next(p);
        } else if (!strcmp(key, "labels")) {
            if (a->labels) {
                for (int k = 0; k < a->n_labels; k++) sk_free(a->labels[k]);
                sk_free(a->labels);
                a->labels = NULL;
                a->n_labels = 0;
            }
            if (t->k == T_NUM) {
                if (!num_range(p, "labels", INT_MIN, INT_MAX, &v)) return false;
                a->n_labels = (int)v;
            } else {
                if (!expect(p, '[', "or a count for 'labels'")) return false;
                int cap = 0;
                while (!accept(p, ']')) {
                    if (a->n_labels && !expect(p, ',', "or ']' between labels")) return false;
                    t = peek(p);
                    if (t->k != T_STR) return perr(p, t, "expected a label string, found %s", desc(p, t));
                    if (sk_grow((void **)&a->labels, &cap, a->n_labels + 1, sizeof *a->labels)) return oom(p);
                    if (!(a->labels[a->n_labels] = sk_strdup(p->text))) return oom(p);
                    a->n_labels++;
                    next(p);
                }
            }
        } else
            return perr(p, &kt, "unknown model field '%s' (family, task, layers, hidden, heads, ffn, vocab, "
                        "max_pos, type_vocab, labels, eps, act, tokenizer)", key);
    }
}

/* An attribute value: 3, 0.5, "s", [1, 2], [1.0, 2.5], f32[...], i64[...] */
static bool parse_attr(parser *p, sk_node *n)
{
    token kt = *peek(p);
    if (kt.k != T_IDENT && kt.k != T_STR) return perr(p, &kt, "expected an attribute name, found %s", desc(p, &kt));
    char *name = sk_strdup(p->text);
    if (!name) return oom(p);
    bool ok = false;
    sk_status st = SK_OK;
    next(p);
    if (sk_node_attr(n, name)) { perr(p, &kt, "duplicate attribute '%s'", name); goto out; }
    if (!expect(p, '=', "after an attribute name")) goto out;
    token *t = peek(p);
    if (t->k == T_NUM && !t->isfloat) {
        int64_t v;
        if (!num_int(p, "an attribute", &v)) goto out;
        st = sk_node_set_i(n, name, v);
    } else if (t->k == T_NUM) {
        float f;
        if (!num_real(p, "an attribute", NULL, &f)) goto out;
        st = sk_node_set_f(n, name, f);
    } else if (t->k == T_STR) {
        st = sk_node_set_s(n, name, p->text);
        next(p);
    } else {
        int forced = 0;   /* 1: f32[...], 2: i64[...] */
        if (t->k == T_IDENT) {
            if (!strcmp(p->text, "f32")) forced = 1;
            else if (!strcmp(p->text, "i64")) forced = 2;
            else { perr(p, t, "expected an attribute value, found %s (strings are quoted)", desc(p, t)); goto out; }
            next(p);
        } else if (!is_punct(p, '[')) {
            perr(p, t, "expected an attribute value (number, \"string\" or [list]), found %s", desc(p, t));
            goto out;
        }
        if (!expect(p, '[', "to open a list")) goto out;
        int count = 0;
        bool isfloat = forced == 1;
        while (!accept(p, ']')) {
            if (count && !expect(p, ',', "or ']' between list values")) goto out;
            t = peek(p);
            if (t->k != T_NUM) { perr(p, t, "expected a number in the list of '%s', found %s", name, desc(p, t)); goto out; }
            if (count == INT_MAX) { perr(p, t, "list too long"); goto out; }
            if (count >= p->cap_v) {
                int nc = p->cap_v ? p->cap_v : 16;
                while (nc <= count) nc = nc > INT_MAX / 2 ? INT_MAX : nc * 2;
                int64_t *iv = sk_realloc(p->iv, (size_t)nc * sizeof *iv);
                if (iv) p->iv = iv;
                float *fv = iv ? sk_realloc(p->fv, (size_t)nc * sizeof *fv) : NULL;
                if (!fv) { oom(p); goto out; }
                p->fv = fv;
                p->cap_v = nc;
            }
            if (t->isfloat) {
                if (forced == 2) { perr(p, t, "expected an integer in i64[...], found %s", desc(p, t)); goto out; }
                isfloat = true;
                if (!num_real(p, "a list value", NULL, &p->fv[count])) goto out;
                p->iv[count] = 0;
            } else {
                if (!num_int(p, "a list value", &p->iv[count])) goto out;
                p->fv[count] = (float)p->iv[count];
            }
            count++;
        }
        st = isfloat ? sk_node_set_floats(n, name, p->fv, count) : sk_node_set_ints(n, name, p->iv, count);
    }
    if (st) { oom(p); goto out; }
    ok = true;
out:
    sk_free(name);
    return ok;
}

/* [outs =] Op(ins) [{attrs}] [@name] */
static bool stmt_node(parser *p)
{
    sk_graph *g = &p->m->g;
    bool ok = false;
    p->n_outs = 0;
    token *t = peek(p);
    if (t->k != T_IDENT || is_kw(p, "_")) {   /* outputs */
        for (;;) {
            if (sk_grow((void **)&p->outs, &p->cap_outs, p->n_outs + 1, sizeof *p->outs)) { oom(p); goto out; }
            decl *d = &p->outs[p->n_outs];
            memset(d, 0, sizeof *d);
            p->n_outs++;
            if (is_kw(p, "_")) { next(p); d->rank = -1; }
            else if (!parse_decl(p, d, "as a node output")) goto out;
            if (!accept(p, ',')) break;
        }
        if (!expect(p, '=', "after the outputs of a node")) goto out;
    }
    token opt = *peek(p);
    if (opt.k != T_IDENT) { perr(p, &opt, "expected an op name, found %s", desc(p, &opt)); goto out; }
    int op = sk_op_from_name(p->text);
    if (op < 0) { perr(p, &opt, "unknown op '%s'", p->text); goto out; }
    const sk_op_info *oi = sk_op_get((sk_op)op);
    next(p);
    char what[64];
    snprintf(what, sizeof what, "after the op name %s", oi->name);
    if (!expect(p, '(', what)) goto out;
    int n_in = 0;
    while (!accept(p, ')')) {
        if (n_in) {
            snprintf(what, sizeof what, "after inputs of %s", oi->name);
            if (!is_punct(p, ',')) {
                t = peek(p);
                perr(p, t, "expected ')' %s, found %s", what, desc(p, t));
                goto out;
            }
            next(p);
        }
        if (sk_grow((void **)&p->ins, &p->cap_ins, n_in + 1, sizeof(int))) { oom(p); goto out; }
        if (is_kw(p, "_")) { next(p); p->ins[n_in++] = -1; continue; }
        snprintf(what, sizeof what, "as an input of %s", oi->name);
        if (!lookup(p, what, &p->ins[n_in])) goto out;
        n_in++;
    }
    /* outputs become tensors only now, so a node cannot read its own output */
    int *outs = sk_malloc((size_t)(p->n_outs ? p->n_outs : 1) * sizeof(int));
    if (!outs) { oom(p); goto out; }
    for (int k = 0; k < p->n_outs; k++) {
        decl *d = &p->outs[k];
        outs[k] = d->name ? decl_make(p, d, false, NULL, 0) : -1;
        if (d->name && outs[k] < 0) { sk_free(outs); goto out; }
    }
    int ni = sk_graph_add_node(g, (sk_op)op, "", p->ins, n_in, outs, p->n_outs);
    sk_free(outs);
    if (ni < 0) { oom(p); goto out; }
    sk_node *n = &g->nodes[ni];
    if (accept(p, '{') && !accept(p, '}')) {
        for (;;) {
            if (!parse_attr(p, n)) goto out;
            if (accept(p, '}')) break;
            if (!expect(p, ',', "or '}' between attributes")) goto out;
        }
    }
    t = peek(p);
    if (t->k == T_ANAME) {
        char *nm = sk_strdup(p->text);
        if (!nm) { oom(p); goto out; }
        sk_free(n->name);
        n->name = nm;
        next(p);
    }
    if (n->n_in < oi->min_in || (oi->max_in >= 0 && n->n_in > oi->max_in)) {
        perr(p, &opt, "node '%s' (%s): %d inputs, expected %d..%d", n->name, oi->name, n->n_in, oi->min_in, oi->max_in);
        goto out;
    }
    if (n->n_out < oi->min_out || (oi->max_out >= 0 && n->n_out > oi->max_out)) {
        perr(p, &opt, "node '%s' (%s): %d outputs, expected %d..%d", n->name, oi->name, n->n_out, oi->min_out,
             oi->max_out);
        goto out;
    }
    ok = true;
out:
    for (int k = 0; k < p->n_outs; k++) decl_free(&p->outs[k]);
    p->n_outs = 0;
    return ok;
}

static bool statement(parser *p)
{
    token *t = peek(p);
    const char *what = "a statement";
    bool ok;
    if (t->k == T_IDENT && !strcmp(p->text, "model")) { what = "the model line"; ok = stmt_model(p); }
    else if (t->k == T_IDENT && !strcmp(p->text, "input")) { what = "an input"; ok = stmt_input(p); }
    else if (t->k == T_IDENT && !strcmp(p->text, "const")) { what = "a constant"; ok = stmt_const(p, false); }
    else if (t->k == T_IDENT && !strcmp(p->text, "weight")) { what = "a weight"; ok = stmt_const(p, true); }
    else if (t->k == T_IDENT && !strcmp(p->text, "tensor")) { what = "a tensor"; ok = stmt_tensor(p); }
    else if (t->k == T_IDENT && !strcmp(p->text, "output")) { what = "an output"; ok = stmt_output(p); }
    else if (t->k == T_IDENT && !strcmp(p->text, "prov")) { what = "a prov line"; ok = stmt_prov(p); }
    else if (t->k == T_IDENT || t->k == T_PNAME) { what = "a node"; ok = stmt_node(p); }
    else
        return perr(p, t, "expected a statement (input, const, weight, tensor, output, model, prov or a node), "
                    "found %s", desc(p, t));
    if (!ok) return false;
    t = peek(p);
    if (t->k != T_NL && t->k != T_EOF) return perr(p, t, "expected end of line after %s, found %s", what, desc(p, t));
    return true;
}

static bool resolve_quant(parser *p)
{
    for (int i = 0; i < p->n_fix; i++) {
        qfix *f = &p->fix[i];
        sk_quant *q = p->m->g.tensors[f->tid].quant;
        const char *nm[2] = {f->scales, f->zeros};
        int *dst[2] = {&q->scales, &q->zeros};
        for (int k = 0; k < 2; k++) {
            if (!nm[k]) continue;
            *dst[k] = map_get(&p->names, nm[k]);
            if (*dst[k] < 0)
                return perr_at(p, f->line, f->col, "undefined tensor %%%s in the quant of %%%s", nm[k],
                               p->m->g.tensors[f->tid].name);
        }
    }
    return true;
}

sk_status sk_ir_parse(const char *text, const char *filename, sk_model **out)
{
    parser p;
    memset(&p, 0, sizeof p);
    SK_ASSERT(text && out);
    if (!strncmp(text, "\xef\xbb\xbf", 3)) text += 3;   /* a UTF-8 byte order mark */
    p.file = filename ? filename : "<text>";
    p.p = p.bol = text;
    p.line = 1;
    *out = NULL;
    if (!(p.m = sk_model_new())) return sk_err_prefix(SK_ERR_NOMEM, "%s", p.file);
    while (!p.st) {
        token *t = peek(&p);
        if (t->k == T_EOF || t->k == T_ERR) break;
        if (t->k == T_NL) { next(&p); continue; }
        statement(&p);
    }
    if (!p.st) resolve_quant(&p);
    if (!p.st && filename && !(p.m->source = sk_strdup(filename))) oom(&p);
    if (!p.st && (p.st = sk_graph_verify(&p.m->g)) != SK_OK) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", sk_errmsg());
        one_line(msg);
        sk_err(p.st, "%s: %s", p.file, msg);
    }
    map_free(&p.names);
    for (int i = 0; i < p.n_fix; i++) { sk_free(p.fix[i].scales); sk_free(p.fix[i].zeros); }
    sk_free(p.fix);
    sk_free(p.def_line);
    sk_free(p.outs);
    sk_free(p.ins);
    sk_free(p.buf);
    sk_free(p.iv);
    sk_free(p.fv);
    sk_free(p.text);
    if (p.st) { sk_model_free(p.m); return p.st; }
    *out = p.m;
    return SK_OK;
}

sk_status sk_ir_parse_file(const char *path, sk_model **out)
{
    char *text;
    size_t len;
    *out = NULL;
    sk_status st = sk_read_file(path, &text, &len);
    if (st) return st;
    if (strlen(text) != len) {
        st = sk_err(SK_ERR_FORMAT, "%s: NUL byte at offset %zu (not a text IR file)", path, strlen(text));
        sk_free(text);
        return st;
    }
    st = sk_ir_parse(text, path, out);
    sk_free(text);
    return st;
}
