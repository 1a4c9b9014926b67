/* common.c — helpers shared by shape functions and kernels. */
#include <string.h>
#include "runtime/runtime.h"

int64_t sk_rt_numel(const sk_rtensor *t)
{
    int64_t n = 1;
    for (int i = 0; i < t->rank; i++) n *= t->dims[i];
    return n;
}

void sk_rt_set_shape(sk_rtensor *t, sk_dtype dt, int rank, const int64_t *dims)
{
    t->dtype = dt;
    t->rank = rank;
    for (int i = 0; i < rank; i++) t->dims[i] = dims[i];
}

bool sk_norm_axis(int64_t *axis, int rank)
{
    if (*axis < 0) *axis += rank;
    return *axis >= 0 && *axis < (rank ? rank : 1);
}

int64_t sk_rt_get_i(const sk_rtensor *t, int64_t i)
{
    switch (t->dtype) {
    case SK_DT_I64: return ((const int64_t *)t->data)[i];
    case SK_DT_I32: return ((const int32_t *)t->data)[i];
    case SK_DT_I16: return ((const int16_t *)t->data)[i];
    case SK_DT_I8: return ((const int8_t *)t->data)[i];
    case SK_DT_U8: case SK_DT_BOOL: return ((const uint8_t *)t->data)[i];
    case SK_DT_F32: return (int64_t)((const float *)t->data)[i];
    case SK_DT_F64: return (int64_t)((const double *)t->data)[i];
    default: SK_ASSERT(!"sk_rt_get_i: not an integer dtype");
    }
    return 0;
}

sk_status sk_broadcast_shape(const sk_kctx *k, const sk_rtensor *a, const sk_rtensor *b, sk_rtensor *out)
{
    int r = a->rank > b->rank ? a->rank : b->rank;
    for (int i = 0; i < r; i++) {
        int ia = i - (r - a->rank), ib = i - (r - b->rank);
        int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
        if (da != db && da != 1 && db != 1)
            return sk_err(SK_ERR_INVALID, "node '%s' (%s): cannot broadcast dim %d: %lld vs %lld", k->node->name,
                          sk_op_get(k->node->op)->name, i, (long long)da, (long long)db);
        out->dims[i] = da == 1 ? db : da;
    }
    out->rank = r;
    return SK_OK;
}
