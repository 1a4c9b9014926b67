/* eltwise.c — elementwise ops: broadcast arithmetic, comparisons, Where, unary math, Cast.
 *
 * Binary ops (Add Sub Mul Div Pow, Equal Less Greater) and Where use numpy
 * broadcasting through sk_nd: the output shape comes from sk_broadcast_shape,
 * the operands are read through strides (0 along broadcast dims), and
 * coalescing turns the common cases into long unit-stride rows — same shape
 * is one row, [.., N] + [N] is rows of N, a [B,1,1,S] mask against
 * [B,H,S,S] scores is rows of S — so the inner loops below are plain loops
 * marked `omp simd` (the Makefile passes -fopenmp-simd; GCC 12 at -O2 would
 * not vectorise them otherwise).  Big tensors are split across the session's
 * threads.
 *
 * Dtypes: float math in f32; the shape arithmetic of exported graphs on i64
 * and i32 (wrapping like two's complement, integer Div truncating toward zero
 * and failing on a zero divisor); comparisons give bool (one byte, 0/1).
 * Cast converts between f32 f16 bf16 f64 i64 i32 i16 i8 u8 bool.
 * Tanh and Sigmoid use the vectorised activations of f32.h; the other
 * transcendental ops call libm (erff, expf, logf) per element.
 */
#include <math.h>
#include <string.h>
#include "runtime/kernels/f32.h"

#define GRAIN 32768   /* elements per thread below which an op runs on one thread */
#define SIMD _Pragma("omp simd")   /* vectorise: no dependence between iterations */

static const char *dtn(sk_dtype dt) { return sk_dtype_info(dt)->name; }

static bool is_int(sk_dtype dt) { return dt == SK_DT_I64 || dt == SK_DT_I32; }

static bool is_float(sk_dtype dt) { return dt == SK_DT_F32 || dt == SK_DT_F16 || dt == SK_DT_BF16 || dt == SK_DT_F64; }

static double load_f(sk_dtype dt, const void *p, int64_t i)
{
    switch (dt) {
    case SK_DT_F32: return ((const float *)p)[i];
    case SK_DT_F16: return sk_f16_to_f32(((const uint16_t *)p)[i]);
    case SK_DT_BF16: return sk_bf16_to_f32(((const uint16_t *)p)[i]);
    default: return ((const double *)p)[i];
    }
}

/* double → int64 without undefined behaviour: saturate, NaN → 0 */
static int64_t d2i(double v)
{
    if (!(v == v)) return 0;
    if (v >= 9223372036854775807.0) return INT64_MAX;
    if (v <= -9223372036854775808.0) return INT64_MIN;
    return (int64_t)v;
}

/* ---- binary ops ---- */
typedef enum { OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_POW, OP_EQ, OP_LT, OP_GT } binop;

static sk_status bin_shape(sk_kctx *k, binop op)
{
    sk_status st = sk_kcheck(k, 2);
    if (st) return st;
    const sk_rtensor *a = k->in[0], *b = k->in[1];
    bool ok;
    switch (op) {
    case OP_POW:   /* exponent of any numeric type (ONNX T1) */
        ok = (a->dtype == SK_DT_F32 || is_int(a->dtype)) && b->dtype != SK_DT_BOOL &&
             sk_dtype_info(b->dtype)->block == 1 && b->dtype != SK_DT_UNDEF;
        break;
    case OP_EQ:
        ok = a->dtype == b->dtype && (a->dtype == SK_DT_F32 || is_int(a->dtype) || a->dtype == SK_DT_BOOL ||
                                      a->dtype == SK_DT_U8 || a->dtype == SK_DT_I8);
        break;
    default: ok = a->dtype == b->dtype && (a->dtype == SK_DT_F32 || is_int(a->dtype)); break;
    }
    if (!ok) {
        if (op != OP_POW && a->dtype != b->dtype)
            return sk_kerr(k, SK_ERR_INVALID, "inputs have different dtypes: %s and %s", dtn(a->dtype), dtn(b->dtype));
        return sk_kerr(k, SK_ERR_UNSUPPORTED, "dtypes %s, %s are not supported", dtn(a->dtype), dtn(b->dtype));
    }
    sk_rtensor *o = k->out[0];
    if ((st = sk_broadcast_shape(k, a, b, o))) return st;
    o->dtype = op >= OP_EQ ? SK_DT_BOOL : a->dtype;
    return SK_OK;
}

typedef struct {
    binop op;
    sk_dtype dt;           /* dtype of a (and of b, except Pow's converted exponent) */
    const void *a, *b;     /* b is f32 for an f32 Pow, f64 for an integer Pow */
    void *o;
} bin_job;

/* One run of n outputs: the stride patterns a row can have after coalescing. */
#define BIN_LOOP(TA, TO, F) do { \
    const TA *x = (const TA *)j->a + off[0], *y = (const TA *)j->b + off[1]; \
    TO *z = (TO *)j->o + pos; \
    if (sa == 1 && sb == 1) { \
        SIMD for (int64_t i = 0; i < n; i++) z[i] = F(x[i], y[i]); \
    } else if (sa == 1 && sb == 0) { \
        const TA yv = y[0]; \
        SIMD for (int64_t i = 0; i < n; i++) z[i] = F(x[i], yv); \
    } else if (sa == 0 && sb == 1) { \
        const TA xv = x[0]; \
        SIMD for (int64_t i = 0; i < n; i++) z[i] = F(xv, y[i]); \
    } else { \
        for (int64_t i = 0; i < n; i++) z[i] = F(x[i * sa], y[i * sb]); \
    } \
} while (0)

/* Integer ops wrap through the unsigned type (signed overflow is undefined in C). */
#define ADD_F(a, b) ((a) + (b))
#define SUB_F(a, b) ((a) - (b))
#define MUL_F(a, b) ((a) * (b))
#define DIV_F(a, b) ((a) / (b))
#define ADD_64(a, b) ((int64_t)((uint64_t)(a) + (uint64_t)(b)))
#define SUB_64(a, b) ((int64_t)((uint64_t)(a) - (uint64_t)(b)))
#define MUL_64(a, b) ((int64_t)((uint64_t)(a) * (uint64_t)(b)))
#define DIV_64(a, b) ((b) == -1 ? (int64_t)(0 - (uint64_t)(a)) : (a) / (b))
#define ADD_32(a, b) ((int32_t)((uint32_t)(a) + (uint32_t)(b)))
#define SUB_32(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)))
#define MUL_32(a, b) ((int32_t)((uint32_t)(a) * (uint32_t)(b)))
#define DIV_32(a, b) ((b) == -1 ? (int32_t)(0 - (uint32_t)(a)) : (a) / (b))
#define EQ(a, b) ((uint8_t)((a) == (b)))
#define LT(a, b) ((uint8_t)((a) < (b)))
#define GT(a, b) ((uint8_t)((a) > (b)))
#define POW_F(a, b) powf(a, b)
#define SQUARE(a, b) ((void)(b), (a) * (a))
#define CUBE(a, b) ((void)(b), (a) * (a) * (a))
#define SQRT_B(a, b) ((void)(b), sqrtf(a))

#define POW_64(a, b) d2i(pow((double)(a), (b)))
#define POW_32(a, b) ((int32_t)d2i(pow((double)(a), (b))))

static void pow_row(const bin_job *j, int64_t pos, const int64_t *off, int64_t sa, int64_t sb, int64_t n)
{
    if (j->dt == SK_DT_I64) {
        const int64_t *x = (const int64_t *)j->a + off[0];
        const double *y = (const double *)j->b + off[1];
        int64_t *z = (int64_t *)j->o + pos;
        for (int64_t i = 0; i < n; i++) z[i] = POW_64(x[i * sa], y[i * sb]);
        return;
    }
    if (j->dt == SK_DT_I32) {
        const int32_t *x = (const int32_t *)j->a + off[0];
        const double *y = (const double *)j->b + off[1];
        int32_t *z = (int32_t *)j->o + pos;
        for (int64_t i = 0; i < n; i++) z[i] = POW_32(x[i * sa], y[i * sb]);
        return;
    }
    if (sb == 0) {   /* one exponent for the run: x^2 (LayerNorm variance), x^3 (gelu_tanh), x^0.5 */
        float e = ((const float *)j->b)[off[1]];
        if (e == 2.0f) { BIN_LOOP(float, float, SQUARE); return; }
        if (e == 3.0f) { BIN_LOOP(float, float, CUBE); return; }
        if (e == 0.5f) { BIN_LOOP(float, float, SQRT_B); return; }
    }
    BIN_LOOP(float, float, POW_F);
}

static void bin_row(void *p, int64_t pos, const int64_t *off, const int64_t *step, int64_t n)
{
    const bin_job *j = p;
    int64_t sa = step[0], sb = step[1];
    bool f = j->dt == SK_DT_F32, l = j->dt == SK_DT_I64;
    switch (j->op) {
    case OP_ADD:
        if (f) BIN_LOOP(float, float, ADD_F);
        else if (l) BIN_LOOP(int64_t, int64_t, ADD_64);
        else BIN_LOOP(int32_t, int32_t, ADD_32);
        break;
    case OP_SUB:
        if (f) BIN_LOOP(float, float, SUB_F);
        else if (l) BIN_LOOP(int64_t, int64_t, SUB_64);
        else BIN_LOOP(int32_t, int32_t, SUB_32);
        break;
    case OP_MUL:
        if (f) BIN_LOOP(float, float, MUL_F);
        else if (l) BIN_LOOP(int64_t, int64_t, MUL_64);
        else BIN_LOOP(int32_t, int32_t, MUL_32);
        break;
    case OP_DIV:
        if (f) BIN_LOOP(float, float, DIV_F);
        else if (l) BIN_LOOP(int64_t, int64_t, DIV_64);
        else BIN_LOOP(int32_t, int32_t, DIV_32);
        break;
    case OP_POW: pow_row(j, pos, off, sa, sb, n); break;
    case OP_EQ:
        if (f) BIN_LOOP(float, uint8_t, EQ);
        else if (l) BIN_LOOP(int64_t, uint8_t, EQ);
        else if (j->dt == SK_DT_I32) BIN_LOOP(int32_t, uint8_t, EQ);
        else BIN_LOOP(uint8_t, uint8_t, EQ);
        break;
    case OP_LT:
        if (f) BIN_LOOP(float, uint8_t, LT);
        else if (l) BIN_LOOP(int64_t, uint8_t, LT);
        else BIN_LOOP(int32_t, uint8_t, LT);
        break;
    case OP_GT:
        if (f) BIN_LOOP(float, uint8_t, GT);
        else if (l) BIN_LOOP(int64_t, uint8_t, GT);
        else BIN_LOOP(int32_t, uint8_t, GT);
        break;
    }
}

static sk_status bin_kern(sk_kctx *k, binop op)
{
    const sk_rtensor *a = k->in[0], *b = k->in[1];
    sk_rtensor *o = k->out[0];
    bin_job j = {op, a->dtype, a->data, b->data, o->data};
    void *conv = NULL;
    int64_t nb = sk_rt_numel(b);
    if (op == OP_DIV && is_int(a->dtype))
        for (int64_t i = 0; i < nb; i++)
            if (sk_rt_get_i(b, i) == 0) return sk_kerr(k, SK_ERR_INVALID, "integer division by zero");
    if (op == OP_POW && a->dtype == SK_DT_F32 && b->dtype != SK_DT_F32) {   /* exponent to f32 */
        if (!(conv = sk_malloc((size_t)(nb ? nb : 1) * sizeof(float)))) return SK_ERR_NOMEM;
        sk_to_f32(b->dtype, b->data, conv, nb);
        j.b = conv;
    } else if (op == OP_POW && is_int(a->dtype)) {   /* integer base: exponent to f64, exact for integers */
        if (!(conv = sk_malloc((size_t)(nb ? nb : 1) * sizeof(double)))) return SK_ERR_NOMEM;
        for (int64_t i = 0; i < nb; i++)
            ((double *)conv)[i] = is_float(b->dtype) ? load_f(b->dtype, b->data, i) : (double)sk_rt_get_i(b, i);
        j.b = conv;
    }
    sk_nd it;
    sk_nd_init(&it, o->rank, o->dims);
    sk_nd_bcast(&it, a);
    sk_nd_bcast(&it, b);
    sk_nd_coalesce(&it);
    sk_nd_run(k, &it, GRAIN, bin_row, &j);
    sk_free(conv);
    return SK_OK;
}

#define BINARY(ID, OP) \
    sk_status sk_shape_##ID(sk_kctx *k) { return bin_shape(k, OP); } \
    sk_status sk_kern_##ID(sk_kctx *k) { return bin_kern(k, OP); }
BINARY(ADD, OP_ADD)
BINARY(SUB, OP_SUB)
BINARY(MUL, OP_MUL)
BINARY(DIV, OP_DIV)
BINARY(POW, OP_POW)
BINARY(EQUAL, OP_EQ)
BINARY(LESS, OP_LT)
BINARY(GREATER, OP_GT)

/* ---- Where(cond, x, y): three-way broadcast, x and y of any plain dtype ---- */
sk_status sk_shape_WHERE(sk_kctx *k)
{
    sk_status st = sk_kcheck(k, 3);
    if (st) return st;
    const sk_rtensor *c = k->in[0], *x = k->in[1], *y = k->in[2];
    if (c->dtype != SK_DT_BOOL) return sk_kerr(k, SK_ERR_INVALID, "condition has dtype %s, expected bool", dtn(c->dtype));
    if (x->dtype != y->dtype)
        return sk_kerr(k, SK_ERR_INVALID, "inputs have different dtypes: %s and %s", dtn(x->dtype), dtn(y->dtype));
    if (sk_dtype_info(x->dtype)->block != 1 || sk_dtype_info(x->dtype)->block_bytes == 0)
        return sk_kerr(k, SK_ERR_UNSUPPORTED, "dtype %s", dtn(x->dtype));
    sk_rtensor xy, *o = k->out[0];
    if ((st = sk_broadcast_shape(k, x, y, &xy)) || (st = sk_broadcast_shape(k, c, &xy, o))) return st;
    o->dtype = x->dtype;
    return SK_OK;
}

typedef struct {
    const uint8_t *c;
    const void *x, *y;
    void *o;
    sk_dtype dt;
} where_job;

#define WHERE_LOOP(T) do { \
    const uint8_t *c = j->c + off[0]; \
    const T *x = (const T *)j->x + off[1], *y = (const T *)j->y + off[2]; \
    T *z = (T *)j->o + pos; \
    int64_t sc = step[0], sx = step[1], sy = step[2]; \
    if (sc == 1 && sx == 1 && sy == 1) { \
        SIMD for (int64_t i = 0; i < n; i++) z[i] = c[i] ? x[i] : y[i]; \
    } else if (sc == 1 && sx == 1 && sy == 0) { \
        const T yv = y[0]; \
        SIMD for (int64_t i = 0; i < n; i++) z[i] = c[i] ? x[i] : yv; \
    } else if (sc == 1 && sx == 0 && sy == 1) { \
        const T xv = x[0]; \
        SIMD for (int64_t i = 0; i < n; i++) z[i] = c[i] ? xv : y[i]; \
    } else { \
        for (int64_t i = 0; i < n; i++) z[i] = c[i * sc] ? x[i * sx] : y[i * sy]; \
    } \
} while (0)

static void where_row(void *p, int64_t pos, const int64_t *off, const int64_t *step, int64_t n)
{
    const where_job *j = p;
    switch (j->dt) {
    case SK_DT_F32: WHERE_LOOP(float); break;
    case SK_DT_F64: WHERE_LOOP(double); break;
    case SK_DT_I64: WHERE_LOOP(int64_t); break;
    case SK_DT_I32: WHERE_LOOP(int32_t); break;
    case SK_DT_I16: WHERE_LOOP(int16_t); break;
    case SK_DT_F16: case SK_DT_BF16: WHERE_LOOP(uint16_t); break;
    case SK_DT_I8: WHERE_LOOP(int8_t); break;
    default: WHERE_LOOP(uint8_t); break;
    }
}

sk_status sk_kern_WHERE(sk_kctx *k)
{
    const sk_rtensor *x = k->in[1];
    sk_rtensor *o = k->out[0];
    where_job j = {k->in[0]->data, x->data, k->in[2]->data, o->data, x->dtype};
    sk_nd it;
    sk_nd_init(&it, o->rank, o->dims);
    sk_nd_bcast(&it, k->in[0]);
    sk_nd_bcast(&it, x);
    sk_nd_bcast(&it, k->in[2]);
    sk_nd_coalesce(&it);
    sk_nd_run(k, &it, GRAIN, where_row, &j);
    return SK_OK;
}

/* ---- unary ops: same shape, contiguous ---- */
typedef enum { U_NOT, U_SQRT, U_RECIP, U_NEG, U_EXP, U_LOG, U_ERF, U_TANH, U_RELU, U_SIGMOID } unop;

static sk_status un_shape(sk_kctx *k, unop op)
{
    sk_status st = sk_kcheck(k, 1);
    if (st) return st;
    sk_dtype dt = k->in[0]->dtype;
    bool ok = op == U_NOT ? dt == SK_DT_BOOL : dt == SK_DT_F32 || ((op == U_NEG || op == U_RELU) && is_int(dt));
    if (!ok) return sk_kerr(k, SK_ERR_UNSUPPORTED, "dtype %s is not supported", dtn(dt));
    sk_rt_set_shape(k->out[0], dt, k->in[0]->rank, k->in[0]->dims);
    return SK_OK;
}

typedef struct {
    unop op;
    sk_dtype dt;
    const void *x;
    void *y;
} un_job;

#define UN_LOOP(T, EXPR) do { \
    const T *x = (const T *)j->x; \
    T *y = (T *)j->y; \
    SIMD for (int64_t i = lo; i < hi; i++) { T v = x[i]; y[i] = (EXPR); } \
} while (0)

static void un_range(void *p, int64_t lo, int64_t hi)
{
    const un_job *j = p;
    switch (j->op) {
    case U_NOT: UN_LOOP(uint8_t, (uint8_t)!v); break;
    case U_SQRT: UN_LOOP(float, sqrtf(v)); break;
    case U_RECIP: UN_LOOP(float, 1.0f / v); break;
    case U_NEG:
        if (j->dt == SK_DT_F32) UN_LOOP(float, -v);
        else if (j->dt == SK_DT_I64) UN_LOOP(int64_t, (int64_t)(0 - (uint64_t)v));
        else UN_LOOP(int32_t, (int32_t)(0 - (uint32_t)v));
        break;
    case U_EXP: UN_LOOP(float, expf(v)); break;
    case U_LOG: UN_LOOP(float, logf(v)); break;
    case U_ERF: UN_LOOP(float, erff(v)); break;
    case U_TANH: sk_bias_act_f32((float *)j->y + lo, (const float *)j->x + lo, NULL, hi - lo, SK_ACT_TANH); break;
    case U_RELU:
        if (j->dt == SK_DT_F32) UN_LOOP(float, v > 0.0f ? v : 0.0f);
        else if (j->dt == SK_DT_I64) UN_LOOP(int64_t, v > 0 ? v : 0);
        else UN_LOOP(int32_t, v > 0 ? v : 0);
        break;
    case U_SIGMOID: sk_bias_act_f32((float *)j->y + lo, (const float *)j->x + lo, NULL, hi - lo, SK_ACT_SIGMOID); break;
    }
}

static sk_status un_kern(sk_kctx *k, unop op)
{
    un_job j = {op, k->in[0]->dtype, k->in[0]->data, k->out[0]->data};
    /* transcendental ops cost more per element: split earlier */
    int64_t grain = op == U_NOT || op == U_NEG || op == U_RELU || op == U_RECIP || op == U_SQRT ? GRAIN : GRAIN / 4;
    sk_kpar(k, sk_rt_numel(k->in[0]), grain, un_range, &j);
    return SK_OK;
}

#define UNARY(ID, OP) \
    sk_status sk_shape_##ID(sk_kctx *k) { return un_shape(k, OP); } \
    sk_status sk_kern_##ID(sk_kctx *k) { return un_kern(k, OP); }
UNARY(NOT, U_NOT)
UNARY(SQRT, U_SQRT)
UNARY(RECIPROCAL, U_RECIP)
UNARY(NEG, U_NEG)
UNARY(EXP, U_EXP)
UNARY(LOG, U_LOG)
UNARY(ERF, U_ERF)
UNARY(TANH, U_TANH)
UNARY(RELU, U_RELU)
UNARY(SIGMOID, U_SIGMOID)

/* ---- Cast: attribute `to` is an ONNX TensorProto data type ---- */
static bool cast_ok(sk_dtype dt)
{
    switch (dt) {
    case SK_DT_F32: case SK_DT_F16: case SK_DT_BF16: case SK_DT_F64: case SK_DT_I64: case SK_DT_I32:
    case SK_DT_I16: case SK_DT_I8: case SK_DT_U8: case SK_DT_BOOL: return true;
    default: return false;
    }
}

sk_status sk_shape_CAST(sk_kctx *k)
{
    sk_status st = sk_kcheck(k, 1);
    if (st) return st;
    int64_t to = sk_node_attr_i(k->node, "to", -1);
    sk_dtype dt = to > 0 && to < 1000 ? sk_dtype_from_onnx((int)to) : SK_DT_UNDEF;
    if (!cast_ok(dt)) return sk_kerr(k, SK_ERR_UNSUPPORTED, "cast to ONNX type %lld is not supported", (long long)to);
    if (!cast_ok(k->in[0]->dtype)) return sk_kerr(k, SK_ERR_UNSUPPORTED, "cast from %s is not supported", dtn(k->in[0]->dtype));
    sk_rt_set_shape(k->out[0], dt, k->in[0]->rank, k->in[0]->dims);
    return SK_OK;
}

/* f32 → bf16, rounding to nearest even as onnxruntime's BFloat16 does */
static uint16_t f32_to_bf16(float f)
{
    uint32_t b;
    memcpy(&b, &f, 4);
    if (f != f) return 0x7fc1;
    return (uint16_t)((b + 0x7fff + ((b >> 16) & 1)) >> 16);
}

/* Float → integer as a C cast does for in-range values (truncation); out of range
 * saturates to int64 first, then narrows by wrapping (the result x86 gives). */
static void store_f(sk_dtype dt, void *p, int64_t i, double v)
{
    switch (dt) {
    case SK_DT_F32: ((float *)p)[i] = (float)v; break;
    case SK_DT_F16: ((uint16_t *)p)[i] = sk_f32_to_f16((float)v); break;
    case SK_DT_BF16: ((uint16_t *)p)[i] = f32_to_bf16((float)v); break;
    case SK_DT_F64: ((double *)p)[i] = v; break;
    case SK_DT_I64: ((int64_t *)p)[i] = d2i(v); break;
    case SK_DT_I32: ((int32_t *)p)[i] = (int32_t)d2i(v); break;
    case SK_DT_I16: ((int16_t *)p)[i] = (int16_t)d2i(v); break;
    case SK_DT_I8: ((int8_t *)p)[i] = (int8_t)d2i(v); break;
    case SK_DT_U8: ((uint8_t *)p)[i] = (uint8_t)d2i(v); break;
    default: ((uint8_t *)p)[i] = v != 0; break;   /* bool: NaN is true, as in C++ */
    }
}

static void store_i(sk_dtype dt, void *p, int64_t i, int64_t v)
{
    switch (dt) {
    case SK_DT_F32: ((float *)p)[i] = (float)v; break;
    case SK_DT_F16: ((uint16_t *)p)[i] = sk_f32_to_f16((float)v); break;
    case SK_DT_BF16: ((uint16_t *)p)[i] = f32_to_bf16((float)v); break;
    case SK_DT_F64: ((double *)p)[i] = (double)v; break;
    case SK_DT_I64: ((int64_t *)p)[i] = v; break;
    case SK_DT_I32: ((int32_t *)p)[i] = (int32_t)v; break;
    case SK_DT_I16: ((int16_t *)p)[i] = (int16_t)v; break;
    case SK_DT_I8: ((int8_t *)p)[i] = (int8_t)v; break;
    case SK_DT_U8: ((uint8_t *)p)[i] = (uint8_t)v; break;
    default: ((uint8_t *)p)[i] = v != 0; break;
    }
}

typedef struct {
    const sk_rtensor *x;
    sk_dtype to;
    void *y;
} cast_job;

static void cast_range(void *p, int64_t lo, int64_t hi)
{
    const cast_job *c = p;
    const sk_rtensor *x = c->x;
    if (c->to == SK_DT_F32) {   /* the common case: masks and ids to float */
        size_t e = sk_dtype_info(x->dtype)->block_bytes;
        sk_to_f32(x->dtype, (const char *)x->data + lo * (int64_t)e, (float *)c->y + lo, hi - lo);
        return;
    }
    if (c->to == SK_DT_BOOL && x->dtype == SK_DT_F32) {
        const float *s = x->data;
        uint8_t *d = c->y;
        for (int64_t i = lo; i < hi; i++) d[i] = s[i] != 0.0f;   /* NaN != 0 is true */
        return;
    }
    if (is_float(x->dtype))
        for (int64_t i = lo; i < hi; i++) store_f(c->to, c->y, i, load_f(x->dtype, x->data, i));
    else
        for (int64_t i = lo; i < hi; i++) store_i(c->to, c->y, i, sk_rt_get_i(x, i));
}

sk_status sk_kern_CAST(sk_kctx *k)
{
    const sk_rtensor *x = k->in[0];
    sk_rtensor *o = k->out[0];
    int64_t n = sk_rt_numel(x);
    if (x->dtype == o->dtype) {
        size_t nb = (size_t)n * sk_dtype_info(x->dtype)->block_bytes;
        if (nb && o->data != x->data) memmove(o->data, x->data, nb);
        return SK_OK;
    }
    cast_job c = {x, o->dtype, o->data};
    sk_kpar(k, n, GRAIN, cast_range, &c);
    return SK_OK;
}
