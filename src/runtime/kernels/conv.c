/* conv.c — Conv (1D/2D/3D, pads, strides, dilations, groups, auto_pad),
 * MaxPool, AveragePool and GlobalAveragePool over NC(D)(H)W fp32 tensors.
 *
 * Every op sees its spatial part as three dims (D, H, W): a 1-D input is
 * (1, 1, L), a 2-D one (1, H, W), so one loop nest serves all ranks.  Conv is
 * im2col into k->scratch followed by one BLAS sgemm per (image, group); a
 * 1×1 convolution with unit strides and no padding multiplies the input
 * directly.  Pools follow onnxruntime's CPU kernels, including its ceil_mode
 * and count_include_pad rules, and run over (image, channel) planes on the
 * pool.
 */
#include <float.h>
#include <string.h>
#include "runtime/kernels/conv.h"
#include "runtime/kernels/f32.h"

/* Read an INTS attribute of nd values into v[3 - nd ..] (right-aligned); dflt where absent. */
static sk_status ints_attr(const sk_kctx *k, const char *name, int nd, int64_t dflt, int64_t *v, int count)
{
    const sk_attr *a = sk_node_attr(k->node, name);
    for (int i = 0; i < 3 * (count / nd); i++) v[i] = dflt;
    if (!a) return SK_OK;
    if (a->type != SK_ATTR_INTS || a->n != count)
        return sk_kerr(k, SK_ERR_INVALID, "attribute '%s' has %d values, expected %d", name,
                       a->type == SK_ATTR_INTS ? a->n : 1, count);
    for (int r = 0; r < count / nd; r++)
        for (int i = 0; i < nd; i++) v[r * 3 + 3 - nd + i] = a->ints[r * nd + i];
    return SK_OK;
}

/* Spatial geometry from X's shape, the kernel size and the attributes.
 * ceil: pool ceil_mode.  Conv passes its kernel from W's shape. */
static sk_status spatial_plan(const sk_kctx *k, const sk_rtensor *x, const int64_t *kernel, bool ceil, sk_spatial *sp)
{
    sk_status st;
    memset(sp, 0, sizeof *sp);
    int nd = x->rank - 2;
    sp->nd = nd;
    for (int i = 0; i < 3; i++) sp->in[i] = sp->k[i] = sp->s[i] = sp->d[i] = sp->out[i] = 1;
    for (int i = 0; i < nd; i++) sp->in[3 - nd + i] = x->dims[2 + i];
    int64_t ks[3], pads[6];
    if ((st = ints_attr(k, "kernel_shape", nd, 1, ks, nd))) return st;
    if (kernel) {
        const sk_attr *a = sk_node_attr(k->node, "kernel_shape");
        for (int i = 0; i < nd; i++)
            if (a && ks[3 - nd + i] != kernel[i])
                return sk_kerr(k, SK_ERR_INVALID, "kernel_shape disagrees with the weight's shape");
        for (int i = 0; i < nd; i++) ks[3 - nd + i] = kernel[i];
    } else if (!sk_node_attr(k->node, "kernel_shape")) {
        return sk_kerr(k, SK_ERR_INVALID, "attribute kernel_shape is missing");
    }
    if ((st = ints_attr(k, "strides", nd, 1, sp->s, nd)) || (st = ints_attr(k, "dilations", nd, 1, sp->d, nd)))
        return st;
    int64_t pz[6] = { 0 };
    if ((st = ints_attr(k, "pads", nd, 0, pads, 2 * nd))) return st;
    memcpy(pz, pads, sizeof pz);
    const char *ap = sk_node_attr_s(k->node, "auto_pad", "NOTSET");
    for (int i = 3 - nd; i < 3; i++) {
        sp->k[i] = ks[i];
        sp->pb[i] = pz[i];
        sp->pe[i] = pz[3 + i];
        if (sp->k[i] < 1 || sp->s[i] < 1 || sp->d[i] < 1 || sp->pb[i] < 0 || sp->pe[i] < 0)
            return sk_kerr(k, SK_ERR_INVALID, "kernel, strides and dilations must be ≥ 1 and pads ≥ 0");
        int64_t span = sp->d[i] * (sp->k[i] - 1) + 1;
        if (!strcmp(ap, "SAME_UPPER") || !strcmp(ap, "SAME_LOWER")) {
            int64_t out = (sp->in[i] + sp->s[i] - 1) / sp->s[i];
            int64_t total = (out - 1) * sp->s[i] + span - sp->in[i];
            if (total < 0) total = 0;
            sp->pb[i] = !strcmp(ap, "SAME_UPPER") ? total / 2 : total - total / 2;
            sp->pe[i] = total - sp->pb[i];
        } else if (!strcmp(ap, "VALID")) {
            sp->pb[i] = sp->pe[i] = 0;
        } else if (strcmp(ap, "NOTSET") != 0) {
            return sk_kerr(k, SK_ERR_INVALID, "auto_pad '%s'", ap);
        }
        int64_t room = sp->in[i] + sp->pb[i] + sp->pe[i] - span;
        if (room < 0)
            return sk_kerr(k, SK_ERR_INVALID, "spatial dim %d: kernel span %lld exceeds the padded input %lld",
                           i - (3 - nd),
                           (long long)span, (long long)(sp->in[i] + sp->pb[i] + sp->pe[i]));
        sp->out[i] = (ceil ? (room + sp->s[i] - 1) / sp->s[i] : room / sp->s[i]) + 1;
        /* ceil_mode: a last window starting in the end padding is dropped */
        if (ceil && (sp->out[i] - 1) * sp->s[i] >= sp->in[i] + sp->pb[i]) sp->out[i]--;
    }
    return SK_OK;
}

static void out_shape(sk_rtensor *y, const sk_rtensor *x, int64_t C, const sk_spatial *sp)
{
    int64_t dims[SK_MAX_RANK];
    dims[0] = x->dims[0];
    dims[1] = C;
    for (int i = 0; i < sp->nd; i++) dims[2 + i] = sp->out[3 - sp->nd + i];
    sk_rt_set_shape(y, SK_DT_F32, x->rank, dims);
}

static int64_t sp_numel(const int64_t *v) { return v[0] * v[1] * v[2]; }

/* ---- Conv(X, W, B?) ---- */
sk_status sk_conv_geometry(const sk_kctx *k, sk_spatial *sp, int64_t *group)
{
    sk_status st;
    if ((st = sk_kcheck_input(k, 0, SK_DT_F32, 3, 5)) || (st = sk_kcheck_input(k, 1, SK_DT_F32, 3, 5))) return st;
    const sk_rtensor *x = k->in[0], *w = k->in[1], *b = k->n_in > 2 ? k->in[2] : NULL;
    if (w->rank != x->rank) return sk_kerr(k, SK_ERR_INVALID, "W has rank %d, X has rank %d", w->rank, x->rank);
    *group = sk_node_attr_i(k->node, "group", 1);
    int64_t C = x->dims[1], M = w->dims[0];
    if (*group < 1 || C % *group || M % *group || w->dims[1] * *group != C)
        return sk_kerr(k, SK_ERR_INVALID, "X has %lld channels, W is [%lld, %lld, ...], group %lld", (long long)C,
                       (long long)M, (long long)w->dims[1], (long long)*group);
    if (b) {
        if ((st = sk_kcheck_input(k, 2, SK_DT_F32, 1, 1))) return st;
        if (b->dims[0] != M)
            return sk_kerr(k, SK_ERR_INVALID, "B has %lld values, expected %lld", (long long)b->dims[0], (long long)M);
    }
    return spatial_plan(k, x, w->dims + 2, false, sp);
}

static bool conv_direct(const sk_spatial *sp)   /* 1×1, unit strides, no padding: X is its own im2col */
{
    for (int i = 0; i < 3; i++)
        if (sp->k[i] != 1 || sp->s[i] != 1 || sp->pb[i] || sp->pe[i]) return false;
    return true;
}

sk_status sk_shape_CONV(sk_kctx *k)
{
    sk_spatial sp;
    int64_t group;
    sk_status st = sk_conv_geometry(k, &sp, &group);
    if (st) return st;
    int64_t Cg = k->in[0]->dims[1] / group;
    size_t rows = (size_t)(Cg * sp_numel(sp.k)), cols = (size_t)sp_numel(sp.out), n;
    if (!sk_mul_size(rows, cols, &n) || !sk_mul_size(n, sizeof(float), &n) || rows > 0x7fffffff || cols > 0x7fffffff)
        return sk_kerr(k, SK_ERR_UNSUPPORTED, "im2col buffer too large");
    k->scratch_need = conv_direct(&sp) ? 0 : n;
    out_shape(k->out[0], k->in[0], k->in[1]->dims[0], &sp);
    return sk_kcheck_int(k, k->out[0]);
}

/* The taps of a convolution over x [Cg, D, H, W] as col [Cg·kd·kh·kw, od·oh·ow]:
 * back = false reads them (im2col: col := x at each tap, 0 in the padding),
 * back = true is the adjoint (col2im: x += col at each tap inside x). */
static void taps(float *col, float *x, int64_t Cg, const sk_spatial *sp, bool back)
{
    int64_t D = sp->in[0], H = sp->in[1], W = sp->in[2];
    int64_t OD = sp->out[0], OH = sp->out[1], OW = sp->out[2];
    for (int64_t c = 0; c < Cg; c++)
        for (int64_t kd = 0; kd < sp->k[0]; kd++)
            for (int64_t kh = 0; kh < sp->k[1]; kh++)
                for (int64_t kw = 0; kw < sp->k[2]; kw++) {
                    for (int64_t od = 0; od < OD; od++) {
                        int64_t id = od * sp->s[0] - sp->pb[0] + kd * sp->d[0];
                        for (int64_t oh = 0; oh < OH; oh++) {
                            int64_t ih = oh * sp->s[1] - sp->pb[1] + kh * sp->d[1];
                            float *cr = col + (od * OH + oh) * OW;
                            if (id < 0 || id >= D || ih < 0 || ih >= H) {
                                if (!back) memset(cr, 0, (size_t)OW * sizeof(float));
                                continue;
                            }
                            float *xr = x + ((c * D + id) * H + ih) * W;
                            for (int64_t ow = 0; ow < OW; ow++) {
                                int64_t iw = ow * sp->s[2] - sp->pb[2] + kw * sp->d[2];
                                bool in = iw >= 0 && iw < W;
                                if (!back) cr[ow] = in ? xr[iw] : 0.0f;
                                else if (in) xr[iw] += cr[ow];
                            }
                        }
                    }
                    col += OD * OH * OW;
                }
}

void sk_im2col(float *col, const float *x, int64_t Cg, const sk_spatial *sp)
{
    taps(col, (float *)x, Cg, sp, false);   /* only read */
}

void sk_col2im(float *x, const float *col, int64_t Cg, const sk_spatial *sp)
{
    taps((float *)col, x, Cg, sp, true);    /* only read */
}

sk_status sk_kern_CONV(sk_kctx *k)
{
    sk_spatial sp;
    int64_t group;
    sk_status st = sk_conv_geometry(k, &sp, &group);
    if (st) return st;
    const sk_rtensor *x = k->in[0], *w = k->in[1], *b = k->n_in > 2 ? k->in[2] : NULL;
    int64_t N = x->dims[0], C = x->dims[1], M = w->dims[0], Cg = C / group, Mg = M / group;
    int64_t isz = sp_numel(sp.in), osz = sp_numel(sp.out), K = Cg * sp_numel(sp.k);
    const float *xd = x->data, *wd = w->data;
    float *y = k->out[0]->data;
    bool direct = conv_direct(&sp);
    if (!direct && !k->scratch && K * osz > 0) return sk_kerr(k, SK_ERR_INVALID, "no scratch for im2col");
    for (int64_t n = 0; n < N; n++)
        for (int64_t g = 0; g < group; g++) {
            const float *xg = xd + (n * C + g * Cg) * isz;
            float *yg = y + (n * M + g * Mg) * osz;
            const float *col = xg;
            if (!direct) {
                sk_im2col(k->scratch, xg, Cg, &sp);
                col = k->scratch;
            }
            if (Mg * osz == 0) continue;
            if (K == 0) { memset(yg, 0, (size_t)(Mg * osz) * sizeof(float)); continue; }
            sk_sgemm(false, false, (int)Mg, (int)osz, (int)K, 1.0f, wd + g * Mg * K, (int)K, col, (int)osz, 0.0f, yg,
                     (int)osz);
        }
    if (b) {
        const float *bd = b->data;
        for (int64_t p = 0; p < N * M; p++) {
            float bv = bd[p % M], *yp = y + p * osz;
            for (int64_t i = 0; i < osz; i++) yp[i] += bv;
        }
    }
    return SK_OK;
}

/* ---- MaxPool / AveragePool ---- */
int64_t sk_pool_window(const sk_spatial *sp, int64_t o, int64_t *st, int64_t *en)
{
    int64_t oi[3] = { o / (sp->out[1] * sp->out[2]), o / sp->out[2] % sp->out[1], o % sp->out[2] }, cnt_pad = 1;
    for (int i = 0; i < 3; i++) {
        st[i] = oi[i] * sp->s[i] - sp->pb[i];
        en[i] = st[i] + sp->k[i] * sp->d[i];
        int64_t e = en[i] < sp->in[i] + sp->pe[i] ? en[i] : sp->in[i] + sp->pe[i];
        cnt_pad *= 1 + (e - st[i] - 1) / sp->d[i];   /* taps inside input + padding */
    }
    return cnt_pad;
}

typedef struct { const float *x; float *y; const sk_spatial *sp; bool max, include_pad; } pool_job;

static void pool_planes(void *ctx, int64_t lo, int64_t hi)
{
    const pool_job *j = ctx;
    const sk_spatial *sp = j->sp;
    int64_t isz = sp_numel(sp->in), osz = sp_numel(sp->out);
    for (int64_t p = lo; p < hi; p++) {
        const float *x = j->x + p * isz;
        float *y = j->y + p * osz;
        for (int64_t o = 0; o < osz; o++) {
            int64_t st[3], en[3], cnt_pad = sk_pool_window(sp, o, st, en);
            float m = -FLT_MAX;
            double s = 0;
            int64_t cnt = 0;
            for (int64_t a = st[0]; a < en[0]; a += sp->d[0]) {
                if (a < 0 || a >= sp->in[0]) continue;
                for (int64_t b = st[1]; b < en[1]; b += sp->d[1]) {
                    if (b < 0 || b >= sp->in[1]) continue;
                    const float *row = x + (a * sp->in[1] + b) * sp->in[2];
                    for (int64_t c = st[2]; c < en[2]; c += sp->d[2]) {
                        if (c < 0 || c >= sp->in[2]) continue;
                        float v = row[c];
                        if (v > m) m = v;
                        s += v;
                        cnt++;
                    }
                }
            }
            if (j->max) y[o] = m;
            else y[o] = cnt ? (float)(s / (double)(j->include_pad ? cnt_pad : cnt)) : 0.0f;
        }
    }
}

sk_status sk_pool_geometry(const sk_kctx *k, sk_spatial *sp)
{
    return spatial_plan(k, k->in[0], NULL, sk_node_attr_i(k->node, "ceil_mode", 0) != 0, sp);
}

static sk_status pool_shape(sk_kctx *k)
{
    sk_status st = sk_kcheck_input(k, 0, SK_DT_F32, 3, 5);
    if (st) return st;
    if (k->n_out > 1 && k->out[1]) return sk_kerr(k, SK_ERR_UNSUPPORTED, "the Indices output is not supported");
    sk_spatial sp;
    if ((st = sk_pool_geometry(k, &sp))) return st;
    out_shape(k->out[0], k->in[0], k->in[0]->dims[1], &sp);
    return SK_OK;
}

static sk_status pool_run(sk_kctx *k, bool max)
{
    sk_spatial sp;
    sk_status st = sk_pool_geometry(k, &sp);
    if (st) return st;
    pool_job j = { k->in[0]->data, k->out[0]->data, &sp, max, sk_node_attr_i(k->node, "count_include_pad", 0) != 0 };
    int64_t planes = k->in[0]->dims[0] * k->in[0]->dims[1], work = sp_numel(sp.out) * sp_numel(sp.k);
    sk_kpar(k, planes, 32768 / (work ? work : 1) + 1, pool_planes, &j);
    return SK_OK;
}

sk_status sk_shape_MAX_POOL(sk_kctx *k) { return pool_shape(k); }
sk_status sk_kern_MAX_POOL(sk_kctx *k) { return pool_run(k, true); }
sk_status sk_shape_AVG_POOL(sk_kctx *k) { return pool_shape(k); }
sk_status sk_kern_AVG_POOL(sk_kctx *k) { return pool_run(k, false); }

/* ---- GlobalAveragePool: mean over every spatial dim ---- */
typedef struct { const float *x; float *y; int64_t plane; } gap_job;

static void gap_planes(void *ctx, int64_t lo, int64_t hi)
{
    const gap_job *j = ctx;
    for (int64_t p = lo; p < hi; p++) {
        const float *x = j->x + p * j->plane;
        double s = 0;
        for (int64_t i = 0; i < j->plane; i++) s += x[i];
        j->y[p] = (float)(s / (double)j->plane);
    }
}

sk_status sk_shape_GLOBAL_AVG_POOL(sk_kctx *k)
{
    sk_status st = sk_kcheck_input(k, 0, SK_DT_F32, 3, SK_MAX_RANK);
    if (st) return st;
    const sk_rtensor *x = k->in[0];
    int64_t dims[SK_MAX_RANK];
    for (int i = 0; i < x->rank; i++) dims[i] = i < 2 ? x->dims[i] : 1;
    sk_rt_set_shape(k->out[0], SK_DT_F32, x->rank, dims);
    return SK_OK;
}

sk_status sk_kern_GLOBAL_AVG_POOL(sk_kctx *k)
{
    const sk_rtensor *x = k->in[0];
    int64_t planes = x->dims[0] * x->dims[1];
    gap_job j = { x->data, k->out[0]->data, planes ? sk_rt_numel(x) / planes : 0 };
    if (j.plane == 0) {
        for (int64_t p = 0; p < planes; p++) j.y[p] = 0.0f;   /* ORT would give NaN; keep it finite */
        return SK_OK;
    }
    sk_kpar(k, planes, 32768 / j.plane + 1, gap_planes, &j);
    return SK_OK;
}
