/* symshape.c — symbolic shapes: what is known of every tensor's dims (and of
 * small integer values such as Shape outputs) for ANY input shape.
 *
 * ONNX exports spell a reshape as Shape → Gather → Unsqueeze → Concat →
 * Reshape, so whether a Reshape only splits the hidden dim into heads, or
 * whether a Slice of a Shape picks a dim that is a constant, is a question
 * about values computed from dims.  Each dim is a monomial c·s0·s1·…
 * (rewrite.h): dynamic graph-input dims with the same name share a symbol,
 * everything this file cannot work out gets a fresh symbol, so equal
 * monomials are equal for every input and a constant monomial is a
 * constant for every input.  The rules below cover the ops exporters use in
 * shape arithmetic and the ones whose output shape follows from their
 * inputs; any other op's outputs are unknown (or what the file declared).
 * Nothing here changes the graph.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include "rewrite.h"

typedef struct sctx {
    const sk_graph *g;
    sk_symtab *s;
    const char **names;     /* dim names seen, index = symbol id when < n_names */
    int *name_sym;
    int n_names, cap_names;
} sctx;

/* ---- monomials ---- */
static sk_mono mk(int64_t c)
{
    sk_mono m;
    memset(&m, 0, sizeof m);
    m.c = c;
    return m;
}

static sk_mono fresh(sctx *x)
{
    sk_mono m = mk(1);
    m.n = 1;
    m.s[0] = x->s->next++;
    return m;
}

bool sk_mono_eq(const sk_mono *a, const sk_mono *b)
{
    if (a->c != b->c || a->n != b->n) return false;
    for (int i = 0; i < a->n; i++)
        if (a->s[i] != b->s[i]) return false;
    return true;
}

bool sk_mono_const(const sk_mono *a, int64_t *v)
{
    if (a->n && a->c) return false;
    if (v) *v = a->c;
    return true;
}

bool sk_mono_is(const sk_mono *a, int64_t v)
{
    int64_t c;
    return sk_mono_const(a, &c) && c == v;
}

static bool same_syms(const sk_mono *a, const sk_mono *b)
{
    if (a->n != b->n) return false;
    for (int i = 0; i < a->n; i++)
        if (a->s[i] != b->s[i]) return false;
    return true;
}

static bool mono_mul(const sk_mono *a, const sk_mono *b, sk_mono *o)
{
    if (!a->c || !b->c) { *o = mk(0); return true; }
    sk_mono r = mk(0);
    if (__builtin_mul_overflow(a->c, b->c, &r.c) || a->n + b->n > SK_MONO_SYMS) return false;
    int i = 0, j = 0;
    while (i < a->n || j < b->n) r.s[r.n++] = j >= b->n || (i < a->n && a->s[i] <= b->s[j]) ? a->s[i++] : b->s[j++];
    *o = r;
    return true;
}

/* Exact division (b's symbols a sub-multiset of a's, coefficients dividing). */
static bool mono_div(const sk_mono *a, const sk_mono *b, sk_mono *o)
{
    if (!b->c) return false;
    if (!a->c) { *o = mk(0); return true; }
    if (a->c % b->c) return false;
    sk_mono r = mk(a->c / b->c);
    bool used[SK_MONO_SYMS] = {false};
    for (int j = 0; j < b->n; j++) {
        int k = 0;
        while (k < a->n && (used[k] || a->s[k] != b->s[j])) k++;
        if (k == a->n) return false;
        used[k] = true;
    }
    for (int k = 0; k < a->n; k++)
        if (!used[k]) r.s[r.n++] = a->s[k];
    *o = r;
    return true;
}

static bool mono_add(const sk_mono *a, const sk_mono *b, int64_t sign, sk_mono *o)
{
    if (!b->c) { *o = *a; return true; }
    if (!a->c) {
        if (__builtin_mul_overflow(b->c, sign, &o->c)) return false;
        o->n = b->n;
        memcpy(o->s, b->s, sizeof o->s);
        return true;
    }
    if (!same_syms(a, b)) return false;
    int64_t bc, c;
    if (__builtin_mul_overflow(b->c, sign, &bc) || __builtin_add_overflow(a->c, bc, &c)) return false;
    if (!c) { *o = mk(0); return true; }
    *o = *a;
    o->c = c;
    return true;
}

/* ---- helpers ---- */
static void unknown(sctx *x, sk_sym *t, int rank)
{
    t->rank = rank;
    t->nval = -1;
    for (int i = 0; i < rank && i < SK_MAX_RANK; i++) t->dims[i] = fresh(x);
}

static bool is_int(sk_dtype dt)
{
    return dt == SK_DT_I64 || dt == SK_DT_I32 || dt == SK_DT_I16 || dt == SK_DT_I8 || dt == SK_DT_U8 ||
           dt == SK_DT_BOOL;
}

bool sk_sym_static(const sk_sym *t, int64_t *n)
{
    if (t->rank < 0) return false;
    int64_t p = 1, v;
    for (int i = 0; i < t->rank; i++) {
        if (!sk_mono_const(&t->dims[i], &v) || v < 0 || (v && p > INT64_MAX / v)) return false;
        p *= v;
    }
    if (n) *n = p;
    return true;
}

bool sk_sym_same_dims(const sk_sym *a, const sk_sym *b)
{
    if (a->rank < 0 || a->rank != b->rank) return false;
    for (int i = 0; i < a->rank; i++)
        if (!sk_mono_eq(&a->dims[i], &b->dims[i])) return false;
    return true;
}

static int sym_for_name(sctx *x, const char *name)
{
    for (int i = 0; i < x->n_names; i++)
        if (!strcmp(x->names[i], name)) return x->name_sym[i];
    if (sk_grow((void **)&x->names, &x->cap_names, x->n_names + 1, sizeof *x->names)) return -1;
    int cap = x->cap_names;   /* name_sym grows alongside */
    int *ns = sk_realloc(x->name_sym, (size_t)cap * sizeof *ns);
    if (!ns) return -1;
    x->name_sym = ns;
    x->names[x->n_names] = name;
    x->name_sym[x->n_names] = x->s->next++;
    return x->name_sym[x->n_names++];
}

/* What a tensor declares (constants, inputs, value_info): dims, named dims
 * as shared symbols, small integer constants' values. */
static sk_status from_tensor(sctx *x, const sk_tensor *t, sk_sym *o)
{
    o->dtype = t->dtype;
    o->nval = -1;
    o->rank = t->rank;
    if (t->rank < 0) return SK_OK;
    for (int i = 0; i < t->rank; i++) {
        if (t->dims[i] >= 0) o->dims[i] = mk(t->dims[i]);
        else if (t->dim_names[i] && t->dim_names[i][0]) {
            int id = sym_for_name(x, t->dim_names[i]);
            if (id < 0) return SK_ERR_NOMEM;
            o->dims[i] = mk(1);
            o->dims[i].n = 1;
            o->dims[i].s[0] = id;
        } else o->dims[i] = fresh(x);
    }
    int64_t n = sk_tensor_numel(t);
    if ((t->flags & SK_TF_CONST) && t->data && is_int(t->dtype) && t->rank <= 1 && n >= 0 && n <= SK_SYM_MAXVAL) {
        sk_rtensor r = {.dtype = t->dtype, .data = t->data};
        o->nval = (int)n;
        for (int64_t i = 0; i < n; i++) o->val[i] = mk(sk_rt_get_i(&r, i));
    }
    return SK_OK;
}

/* A node's integer list from the INTS attribute attr, or else from input idx
 * when its value is known and constant. */
static bool ints_of(const sctx *x, const sk_node *n, const char *attr, int idx, int64_t *v, int max, int *cnt)
{
    const sk_attr *a = attr ? sk_node_attr(n, attr) : NULL;
    if (a && a->type == SK_ATTR_INTS) {
        if (a->n > max) return false;
        for (int i = 0; i < a->n; i++) v[i] = a->ints[i];
        *cnt = a->n;
        return true;
    }
    if (a && a->type == SK_ATTR_INT && max >= 1) { v[0] = a->i; *cnt = 1; return true; }
    if (idx < 0 || idx >= n->n_in || n->in[idx] < 0) return false;
    const sk_sym *t = &x->s->t[n->in[idx]];
    if (t->nval < 0 || t->nval > max) return false;
    for (int i = 0; i < t->nval; i++)
        if (!sk_mono_const(&t->val[i], &v[i])) return false;
    *cnt = t->nval;
    return true;
}

static bool norm_axis(int64_t *a, int rank)
{
    if (*a < 0) *a += rank;
    return *a >= 0 && *a < rank;
}

/* numpy broadcasting of a and b into o's dims */
static void bcast(sctx *x, const sk_sym *a, const sk_sym *b, sk_sym *o)
{
    if (a->rank < 0 || b->rank < 0) { o->rank = -1; return; }
    int r = a->rank > b->rank ? a->rank : b->rank;
    o->rank = r;
    for (int i = 0; i < r; i++) {
        int ia = i - (r - a->rank), ib = i - (r - b->rank);
        sk_mono one = mk(1);
        const sk_mono *da = ia >= 0 ? &a->dims[ia] : &one, *db = ib >= 0 ? &b->dims[ib] : &one;
        if (sk_mono_eq(da, db) || sk_mono_is(db, 1)) o->dims[i] = *da;
        else if (sk_mono_is(da, 1)) o->dims[i] = *db;
        else if (sk_mono_const(da, NULL) && sk_mono_const(db, NULL)) o->dims[i] = fresh(x);   /* an error at run time */
        else if (sk_mono_const(da, NULL)) o->dims[i] = *da;   /* the other is that or 1 */
        else if (sk_mono_const(db, NULL)) o->dims[i] = *db;
        else o->dims[i] = fresh(x);
    }
}

/* Product of dims [lo, hi) of t; false when not a monomial. */
static bool dims_prod(const sk_sym *t, int lo, int hi, sk_mono *p)
{
    *p = mk(1);
    for (int i = lo; i < hi; i++)
        if (!mono_mul(p, &t->dims[i], p)) return false;
    return true;
}

/* Elementwise integer arithmetic on known values. */
static void int_binary(sctx *x, sk_op op, const sk_sym *a, const sk_sym *b, sk_sym *o)
{
    if (a->nval < 0 || b->nval < 0 || !is_int(a->dtype)) return;
    int n = a->nval > b->nval ? a->nval : b->nval;
    if ((a->nval != n && a->nval != 1) || (b->nval != n && b->nval != 1)) return;
    for (int i = 0; i < n; i++) {
        const sk_mono *p = &a->val[a->nval == 1 ? 0 : i], *q = &b->val[b->nval == 1 ? 0 : i];
        int64_t u, v;
        bool ok = false;
        sk_mono r;
        switch (op) {
        case SK_OP_ADD: ok = mono_add(p, q, 1, &r); break;
        case SK_OP_SUB: ok = mono_add(p, q, -1, &r); break;
        case SK_OP_MUL: ok = mono_mul(p, q, &r); break;
        case SK_OP_DIV:
            if (sk_mono_const(p, &u) && sk_mono_const(q, &v)) {
                ok = v != 0 && !(u == INT64_MIN && v == -1);
                if (ok) r = mk(u / v);
            } else ok = mono_div(p, q, &r);
            break;
        default: return;
        }
        o->val[i] = ok ? r : fresh(x);
    }
    o->nval = n;
}

/* Slice of one dim of length d by [s, e) step st (all known here except d
 * maybe); false when the length cannot be told. */
static bool slice_len(sctx *x, const sk_mono *d, int64_t s, const sk_mono *e, int64_t st, sk_mono *len)
{
    (void)x;
    int64_t dv, ev;
    bool dk = sk_mono_const(d, &dv), ek = sk_mono_const(e, &ev);
    if (st == 0) return false;
    if (dk && ek) {
        int64_t lo = s, hi = ev;
        if (st > 0) {
            if (lo < 0) lo += dv;
            if (hi < 0) hi += dv;
            lo = lo < 0 ? 0 : lo > dv ? dv : lo;
            hi = hi < 0 ? 0 : hi > dv ? dv : hi;
            *len = mk(hi > lo ? (hi - lo + st - 1) / st : 0);
        } else {
            if (lo < 0) lo += dv;
            if (hi < -dv) hi = -1;
            else if (hi < 0) hi += dv;
            lo = lo < 0 ? -1 : lo > dv - 1 ? dv - 1 : lo;
            hi = hi < -1 ? -1 : hi > dv - 1 ? dv - 1 : hi;
            *len = mk(lo > hi ? (lo - hi + (-st) - 1) / (-st) : 0);
        }
        return true;
    }
    if (st != 1) return false;
    if (ek && ev >= INT_MAX) {         /* to the end */
        if (s == 0) { *len = *d; return true; }
        if (s < 0 && dk) { *len = mk(-s < dv ? -s : dv); return true; }
        return false;
    }
    if (s == 0 && !ek) { *len = *e; return true; }   /* [0, e): e ≤ d is the model's own assumption */
    return false;
}

/* ---- one node ---- */
static void infer_node(sctx *x, const sk_node *n)
{
    sk_symtab *S = x->s;
    const sk_graph *g = x->g;
    sk_sym *in[8] = {NULL};
    for (int i = 0; i < n->n_in && i < 8; i++) in[i] = n->in[i] >= 0 ? &S->t[n->in[i]] : NULL;
    sk_sym *o = n->n_out && n->out[0] >= 0 ? &S->t[n->out[0]] : NULL;
    if (!o) return;
    sk_sym r;
    memset(&r, 0, sizeof r);
    r.rank = -1;
    r.nval = -1;
    r.dtype = in[0] ? in[0]->dtype : SK_DT_UNDEF;
    const sk_sym *a = in[0];
    int64_t v[SK_MAX_RANK + 2];
    int cnt = 0;
    unsigned flags = sk_op_get(n->op)->flags;
    switch (n->op) {
    case SK_OP_IDENTITY:
    case SK_OP_DROPOUT:
        if (a) r = *a;
        break;
    case SK_OP_CAST: {
        int64_t to = sk_node_attr_i(n, "to", 0);
        sk_dtype dt = sk_dtype_from_onnx((int)to);
        if (a) { r = *a; r.dtype = dt; }
        if (!is_int(dt) || (a && !is_int(a->dtype))) r.nval = -1;
        break;
    }
    case SK_OP_SHAPE:
        r.dtype = SK_DT_I64;
        if (a && a->rank >= 0) {
            int64_t st = sk_node_attr_i(n, "start", 0), en = sk_node_attr_i(n, "end", a->rank);
            if (st < 0) st += a->rank;
            if (en < 0) en += a->rank;
            st = st < 0 ? 0 : st > a->rank ? a->rank : st;
            en = en < 0 ? 0 : en > a->rank ? a->rank : en;
            int len = en > st ? (int)(en - st) : 0;
            r.rank = 1;
            r.dims[0] = mk(len);
            if (len <= SK_SYM_MAXVAL) {
                r.nval = len;
                for (int i = 0; i < len; i++) r.val[i] = a->dims[st + i];
            }
        } else unknown(x, &r, 1);
        break;
    case SK_OP_GATHER: {
        const sk_sym *ix = in[1];
        int64_t axis = sk_node_attr_i(n, "axis", 0);
        if (!a || !ix || a->rank < 0 || ix->rank < 0 || !norm_axis(&axis, a->rank) || a->rank - 1 + ix->rank > SK_MAX_RANK)
            break;
        r.rank = 0;
        for (int i = 0; i < axis; i++) r.dims[r.rank++] = a->dims[i];
        for (int i = 0; i < ix->rank; i++) r.dims[r.rank++] = ix->dims[i];
        for (int i = (int)axis + 1; i < a->rank; i++) r.dims[r.rank++] = a->dims[i];
        if (a->rank == 1 && a->nval >= 0 && ix->nval >= 0) {
            r.nval = ix->nval;
            for (int i = 0; i < ix->nval; i++) {
                int64_t k;
                if (!sk_mono_const(&ix->val[i], &k)) { r.val[i] = fresh(x); continue; }
                if (k < 0) k += a->nval;
                r.val[i] = k >= 0 && k < a->nval ? a->val[k] : fresh(x);
            }
        }
        break;
    }
    case SK_OP_UNSQUEEZE:
    case SK_OP_SQUEEZE: {
        if (!a || a->rank < 0) break;
        bool un = n->op == SK_OP_UNSQUEEZE, have = ints_of(x, n, "axes", 1, v, SK_MAX_RANK, &cnt);
        if (!have) {
            if (un) break;
            cnt = 0;   /* Squeeze without axes: every dim known to be 1 (an unknown dim makes the rank unknown) */
            for (int i = 0; i < a->rank; i++) {
                if (sk_mono_is(&a->dims[i], 1)) v[cnt++] = i;
                else if (!sk_mono_const(&a->dims[i], NULL)) { cnt = -1; break; }
            }
            if (cnt < 0) break;
        }
        int orank = un ? a->rank + cnt : a->rank - cnt;
        if (orank < 0 || orank > SK_MAX_RANK) break;
        bool mark[SK_MAX_RANK] = {false};
        for (int i = 0; i < cnt; i++) {
            int64_t ax = v[i];
            if (!norm_axis(&ax, un ? orank : a->rank) || mark[ax]) { orank = -1; break; }
            mark[ax] = true;
        }
        if (orank < 0) break;
        r.rank = orank;
        if (un)
            for (int i = 0, k = 0; i < orank; i++) r.dims[i] = mark[i] ? mk(1) : a->dims[k++];
        else
            for (int i = 0, k = 0; i < a->rank; i++)
                if (!mark[i]) r.dims[k++] = a->dims[i];
        r.nval = a->nval;
        memcpy(r.val, a->val, sizeof r.val);
        break;
    }
    case SK_OP_CONCAT: {
        int64_t axis = sk_node_attr_i(n, "axis", 0);
        if (!a || a->rank < 0 || !norm_axis(&axis, a->rank)) break;
        r.rank = a->rank;
        memcpy(r.dims, a->dims, sizeof r.dims);
        bool vals = a->rank == 1;
        int nv = 0;
        for (int i = 0; i < n->n_in; i++) {
            const sk_sym *t = in[i < 8 ? i : 7];
            if (i >= 8 || !t || t->rank != a->rank) { r.rank = -1; break; }
            if (i && !mono_add(&r.dims[axis], &t->dims[axis], 1, &r.dims[axis])) r.dims[axis] = fresh(x);
            for (int d = 0; d < r.rank; d++)   /* other dims: any input that knows them */
                if (d != axis && !sk_mono_const(&r.dims[d], NULL) && sk_mono_const(&t->dims[d], NULL)) r.dims[d] = t->dims[d];
            if (vals && t->nval >= 0 && nv + t->nval <= SK_SYM_MAXVAL) {
                memcpy(&r.val[nv], t->val, (size_t)t->nval * sizeof *t->val);
                nv += t->nval;
            } else vals = false;
        }
        if (r.rank >= 0 && vals) r.nval = nv;
        break;
    }
    case SK_OP_RESHAPE: {
        const sk_sym *sh = in[1];
        if (!sh) break;
        bool allowzero = sk_node_attr_i(n, "allowzero", 0) != 0;
        if (sh->nval < 0) {
            int64_t len;
            if (sh->rank == 1 && sk_mono_const(&sh->dims[0], &len) && len >= 0 && len <= SK_MAX_RANK) unknown(x, &r, (int)len);
            break;
        }
        r.rank = sh->nval;
        int neg = -1;
        for (int i = 0; i < sh->nval; i++) {
            if (sk_mono_is(&sh->val[i], 0) && !allowzero) {
                r.dims[i] = a && a->rank > i ? a->dims[i] : fresh(x);
            } else if (sk_mono_is(&sh->val[i], -1)) {
                if (neg >= 0) { r.rank = -1; break; }
                neg = i;
            } else r.dims[i] = sh->val[i];
        }
        if (r.rank < 0) break;
        if (neg >= 0) {
            sk_mono all, rest = mk(1);
            bool ok = a && a->rank >= 0 && dims_prod(a, 0, a->rank, &all);
            for (int i = 0; ok && i < r.rank; i++)
                if (i != neg) ok = mono_mul(&rest, &r.dims[i], &rest);
            if (!ok || !mono_div(&all, &rest, &r.dims[neg])) r.dims[neg] = fresh(x);
        }
        if (a && a->nval >= 0) {   /* values keep their order */
            int64_t cnt2;
            if (sk_sym_static(&r, &cnt2) && cnt2 == a->nval) { r.nval = a->nval; memcpy(r.val, a->val, sizeof r.val); }
        }
        break;
    }
    case SK_OP_FLATTEN: {
        int64_t axis = sk_node_attr_i(n, "axis", 1);
        if (!a || a->rank < 0) break;
        if (axis < 0) axis += a->rank;
        if (axis < 0 || axis > a->rank) break;
        r.rank = 2;
        if (!dims_prod(a, 0, (int)axis, &r.dims[0])) r.dims[0] = fresh(x);
        if (!dims_prod(a, (int)axis, a->rank, &r.dims[1])) r.dims[1] = fresh(x);
        break;
    }
    case SK_OP_TRANSPOSE: {
        if (!a || a->rank < 0) break;
        const sk_attr *p = sk_node_attr(n, "perm");
        r.rank = a->rank;
        for (int i = 0; i < a->rank; i++) {
            int64_t k = p && p->type == SK_ATTR_INTS && p->n == a->rank ? p->ints[i] : a->rank - 1 - i;
            if (!norm_axis(&k, a->rank)) { r.rank = -1; break; }
            r.dims[i] = a->dims[k];
        }
        break;
    }
    case SK_OP_SLICE: {
        if (!a || a->rank < 0 || !in[1] || !in[2]) break;
        const sk_sym *ss = in[1], *ee = in[2];
        int64_t axes[SK_MAX_RANK], steps[SK_MAX_RANK];
        int na = 0, ns = 0;
        if (ss->nval < 0 || ee->nval < 0 || ss->nval != ee->nval) { unknown(x, &r, a->rank); break; }
        int k = ss->nval;
        if (n->n_in > 3 && n->in[3] >= 0) {
            if (!ints_of(x, n, NULL, 3, axes, SK_MAX_RANK, &na) || na != k) { unknown(x, &r, a->rank); break; }
        } else for (na = 0; na < k && na < SK_MAX_RANK; na++) axes[na] = na;
        if (n->n_in > 4 && n->in[4] >= 0) {
            if (!ints_of(x, n, NULL, 4, steps, SK_MAX_RANK, &ns) || ns != k) { unknown(x, &r, a->rank); break; }
        } else for (ns = 0; ns < k && ns < SK_MAX_RANK; ns++) steps[ns] = 1;
        r.rank = a->rank;
        memcpy(r.dims, a->dims, sizeof r.dims);
        int64_t lo1 = 0, hi1 = 0, st1 = 1;   /* 1-D values: the slice */
        bool vals = a->rank == 1 && a->nval >= 0 && k == 1;
        for (int i = 0; i < k; i++) {
            int64_t ax = axes[i], s0;
            if (!norm_axis(&ax, a->rank)) { r.rank = -1; break; }
            if (!sk_mono_const(&ss->val[i], &s0) || !slice_len(x, &a->dims[ax], s0, &ee->val[i], steps[i], &r.dims[ax])) {
                r.dims[ax] = fresh(x);
                vals = false;
            } else if (vals) {
                int64_t e0 = 0;
                vals = sk_mono_const(&ee->val[i], &e0);
                lo1 = s0;
                hi1 = e0;
                st1 = steps[i];
            }
        }
        if (r.rank >= 0 && vals && st1 > 0) {
            int64_t d = a->nval;
            if (lo1 < 0) lo1 += d;
            if (hi1 < 0) hi1 += d;
            lo1 = lo1 < 0 ? 0 : lo1 > d ? d : lo1;
            hi1 = hi1 < 0 ? 0 : hi1 > d ? d : hi1;
            r.nval = 0;
            for (int64_t i = lo1; i < hi1; i += st1) r.val[r.nval++] = a->val[i];
        }
        break;
    }
    case SK_OP_SPLIT: {
        int64_t axis = sk_node_attr_i(n, "axis", 0), sz[16];
        int k = 0;
        if (!a || a->rank < 0 || !norm_axis(&axis, a->rank) || n->n_out > 16) break;
        bool have = ints_of(x, n, "split", 1, sz, 16, &k) && k == n->n_out;
        for (int i = 0; i < n->n_out; i++) {
            if (n->out[i] < 0) continue;
            sk_sym *t = &S->t[n->out[i]];
            sk_dtype dt = t->dtype;
            *t = *a;
            t->nval = -1;
            t->dtype = a->dtype != SK_DT_UNDEF ? a->dtype : dt;
            if (have) t->dims[axis] = mk(sz[i]);
            else if (!mono_div(&a->dims[axis], &(sk_mono){n->n_out, 0, {0}}, &t->dims[axis])) t->dims[axis] = fresh(x);
        }
        return;
    }
    case SK_OP_EXPAND: {
        const sk_sym *sh = in[1];
        if (!a || !sh || sh->nval < 0) break;
        sk_sym t;
        memset(&t, 0, sizeof t);
        t.rank = sh->nval;
        memcpy(t.dims, sh->val, sizeof t.dims);
        bcast(x, a, &t, &r);
        break;
    }
    case SK_OP_CONSTANT_OF_SHAPE: {
        r.dtype = (sk_dtype)sk_node_attr_i(n, "value_dtype", SK_DT_F32);
        if (!a || a->nval < 0 || a->nval > SK_MAX_RANK) {
            int64_t len;
            if (a && a->rank == 1 && sk_mono_const(&a->dims[0], &len) && len >= 0 && len <= SK_MAX_RANK) unknown(x, &r, (int)len);
            break;
        }
        r.rank = a->nval;
        memcpy(r.dims, a->val, sizeof r.dims);
        int64_t cnt2;
        if (is_int(r.dtype) && sk_sym_static(&r, &cnt2) && cnt2 <= SK_SYM_MAXVAL) {
            r.nval = (int)cnt2;
            for (int i = 0; i < r.nval; i++) r.val[i] = mk((int64_t)sk_node_attr_f(n, "value", 0));
        }
        break;
    }
    case SK_OP_RANGE: {
        r.rank = 1;
        const sk_sym *s0 = in[0], *l0 = in[1], *d0 = in[2];
        int64_t st, li, de;
        r.dims[0] = fresh(x);
        if (!s0 || !l0 || !d0 || s0->nval != 1 || l0->nval != 1 || d0->nval != 1) break;
        bool sk = sk_mono_const(&s0->val[0], &st), lk = sk_mono_const(&l0->val[0], &li), dk = sk_mono_const(&d0->val[0], &de);
        if (sk && dk && st == 0 && de == 1) r.dims[0] = lk ? mk(li > 0 ? li : 0) : l0->val[0];
        else if (sk && lk && dk && de != 0) {
            int64_t len = (li - st + de + (de > 0 ? -1 : 1)) / de;
            r.dims[0] = mk(len > 0 ? len : 0);
        }
        int64_t len;
        if (sk && lk && dk && sk_mono_const(&r.dims[0], &len) && len <= SK_SYM_MAXVAL) {
            r.nval = (int)len;
            for (int i = 0; i < len; i++) r.val[i] = mk(st + i * de);
        }
        break;
    }
    case SK_OP_WHERE:
        if (in[0] && in[1] && in[2]) {
            sk_sym t;
            bcast(x, in[0], in[1], &t);
            bcast(x, &t, in[2], &r);
            r.dtype = in[1]->dtype;
        }
        break;
    case SK_OP_MATMUL: {
        const sk_sym *b = in[1];
        if (!a || !b || a->rank < 1 || b->rank < 1) break;
        sk_sym ba, bb, bo;
        memset(&ba, 0, sizeof ba);
        memset(&bb, 0, sizeof bb);
        ba.rank = a->rank > 2 ? a->rank - 2 : 0;
        bb.rank = b->rank > 2 ? b->rank - 2 : 0;
        memcpy(ba.dims, a->dims, sizeof(sk_mono) * (size_t)ba.rank);
        memcpy(bb.dims, b->dims, sizeof(sk_mono) * (size_t)bb.rank);
        bcast(x, &ba, &bb, &bo);
        r.rank = bo.rank;
        memcpy(r.dims, bo.dims, sizeof r.dims);
        if (a->rank >= 2) r.dims[r.rank++] = a->dims[a->rank - 2];
        if (b->rank >= 2) r.dims[r.rank++] = b->dims[b->rank - 1];
        break;
    }
    case SK_OP_GEMM: {
        const sk_sym *b = in[1];
        if (!a || !b || a->rank != 2 || b->rank != 2) break;
        r.rank = 2;
        r.dims[0] = a->dims[sk_node_attr_i(n, "transA", 0) ? 1 : 0];
        r.dims[1] = b->dims[sk_node_attr_i(n, "transB", 0) ? 0 : 1];
        break;
    }
    case SK_OP_LINEAR: {
        const sk_sym *w = in[1];
        if (!a || !w || a->rank < 1 || w->rank != 2) break;
        r = *a;
        r.nval = -1;
        r.dtype = SK_DT_F32;
        r.dims[a->rank - 1] = w->dims[sk_node_attr_i(n, "wt", 1) ? 0 : 1];
        break;
    }
    case SK_OP_REDUCE_MEAN:
    case SK_OP_REDUCE_SUM: {
        if (!a || a->rank < 0) break;
        bool keep = sk_node_attr_i(n, "keepdims", 1) != 0, mark[SK_MAX_RANK] = {false};
        if (!ints_of(x, n, "axes", 1, v, SK_MAX_RANK, &cnt)) {
            if (n->n_in > 1 && n->in[1] >= 0) { unknown(x, &r, keep ? a->rank : -1); break; }
            cnt = a->rank;
            for (int i = 0; i < cnt; i++) v[i] = i;
        }
        for (int i = 0; i < cnt; i++) {
            int64_t ax = v[i];
            if (!norm_axis(&ax, a->rank)) { cnt = -1; break; }
            mark[ax] = true;
        }
        if (cnt < 0) break;
        r.rank = 0;
        for (int i = 0; i < a->rank; i++) {
            if (!mark[i]) r.dims[r.rank++] = a->dims[i];
            else if (keep) r.dims[r.rank++] = mk(1);
        }
        break;
    }
    case SK_OP_EQUAL: case SK_OP_LESS: case SK_OP_GREATER:
        if (a && in[1]) bcast(x, a, in[1], &r);
        r.dtype = SK_DT_BOOL;
        break;
    case SK_OP_NOT:
        if (a) { r = *a; r.nval = -1; }
        r.dtype = SK_DT_BOOL;
        break;
    case SK_OP_SOFTMAX: case SK_OP_LAYERNORM: case SK_OP_GELU: case SK_OP_BATCHNORM:
        if (a) { r = *a; r.nval = -1; }
        break;
    case SK_OP_ATTENTION: case SK_OP_SKIP_LAYERNORM:
        if (a) { r = *a; r.nval = -1; r.dtype = SK_DT_F32; }
        break;
    default:
        if ((flags & SK_OPF_ELEMWISE) && n->n_in == 2 && a && in[1]) {
            bcast(x, a, in[1], &r);
            int_binary(x, n->op, a, in[1], &r);
        } else if ((flags & SK_OPF_ELEMWISE) && n->n_in == 1 && a) {
            r = *a;
            r.nval = -1;
            if (n->op == SK_OP_NEG && a->nval >= 0 && is_int(a->dtype)) {
                r.nval = a->nval;
                for (int i = 0; i < a->nval; i++) {
                    sk_mono m1 = mk(-1);
                    if (!mono_mul(&a->val[i], &m1, &r.val[i])) r.val[i] = fresh(x);
                }
            }
        } else {
            r.rank = -2;   /* no rule: keep what the file declared */
        }
        break;
    }
    if (r.rank == -2) return;
    if (r.rank < 0 && o->rank >= 0) {   /* the file declared more than the rule knows */
        if (o->dtype == SK_DT_UNDEF) o->dtype = r.dtype;
        return;
    }
    if (r.dtype == SK_DT_UNDEF) r.dtype = o->dtype;
    if (r.nval >= 0 && !is_int(r.dtype)) r.nval = -1;
    for (int k = 0; k < n->n_out; k++) {
        if (n->out[k] < 0) continue;
        sk_sym *t = &S->t[n->out[k]];
        if (k && n->op == SK_OP_DROPOUT) { *t = *a; t->dtype = SK_DT_BOOL; t->nval = -1; continue; }
        if (k) continue;
        *t = r;
    }
    (void)g;
}

sk_status sk_sym_infer(const sk_graph *g, sk_symtab *s)
{
    sk_free(s->t);
    memset(s, 0, sizeof *s);
    s->t = sk_calloc((size_t)g->n_tensors + 1, sizeof *s->t);
    if (!s->t) return SK_ERR_NOMEM;
    s->n = g->n_tensors;
    sctx x = {g, s, NULL, NULL, 0, 0};
    sk_status st = SK_OK;
    for (int i = 0; i < g->n_tensors && !st; i++) st = from_tensor(&x, &g->tensors[i], &s->t[i]);
    for (int i = 0; i < g->n_nodes && !st; i++) infer_node(&x, &g->nodes[i]);
    sk_free(x.names);
    sk_free(x.name_sym);
    return st;
}

void sk_sym_free(sk_symtab *s)
{
    sk_free(s->t);
    memset(s, 0, sizeof *s);
}

static size_t mono_str(const sk_mono *m, char *buf, size_t cap)
{
    size_t k = 0;
    if (!m->n || m->c != 1) k += (size_t)snprintf(buf, cap, "%lld", (long long)m->c);
    for (int i = 0; i < m->n && k < cap; i++)
        k += (size_t)snprintf(buf + k, cap - k, "%ss%d", k ? "*" : "", (int)m->s[i]);
    return k;
}

void sk_sym_str(const sk_symtab *s, const sk_sym *t, char *buf, size_t cap)
{
    (void)s;
    if (!cap) return;
    if (t->rank < 0) { snprintf(buf, cap, "[?]"); return; }
    size_t k = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < t->rank && k < cap; i++) {
        if (i) k += (size_t)snprintf(buf + k, cap - k, ", ");
        if (k < cap) k += mono_str(&t->dims[i], buf + k, cap - k);
    }
    if (k < cap) snprintf(buf + k, cap - k, "]");
}
