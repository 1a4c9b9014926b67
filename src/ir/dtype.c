/* dtype.c — the dtype traits table and scalar conversions.
 *
 * The scalar conversions here are the reference every faster path is tested
 * against.  Quantized block types join this table in the quantization passes.
 */
#include <math.h>
#include <string.h>
#include "ir/ir.h"
#include "util/util.h"

static const sk_dtype_traits traits[SK_DT_COUNT] = {
    [SK_DT_UNDEF] = {"undef", 1, 0, 0, NULL},
    [SK_DT_F32] = {"f32", 1, 4, 1, "F32"},
    [SK_DT_F16] = {"f16", 1, 2, 10, "F16"},
    [SK_DT_BF16] = {"bf16", 1, 2, 16, "BF16"},
    [SK_DT_F64] = {"f64", 1, 8, 11, "F64"},
    [SK_DT_I64] = {"i64", 1, 8, 7, "I64"},
    [SK_DT_I32] = {"i32", 1, 4, 6, "I32"},
    [SK_DT_I16] = {"i16", 1, 2, 5, "I16"},
    [SK_DT_I8] = {"i8", 1, 1, 3, "I8"},
    [SK_DT_U8] = {"u8", 1, 1, 2, "U8"},
    [SK_DT_BOOL] = {"bool", 1, 1, 9, "BOOL"},
    [SK_DT_Q4] = {"q4", 2, 1, 21, NULL},   /* ONNX UINT4 */
};

const sk_dtype_traits *sk_dtype_info(sk_dtype dt)
{
    if ((unsigned)dt >= SK_DT_COUNT) dt = SK_DT_UNDEF;
    return &traits[dt];
}

sk_dtype sk_dtype_from_name(const char *name)
{
    for (int i = 1; i < SK_DT_COUNT; i++)
        if (!strcmp(traits[i].name, name)) return (sk_dtype)i;
    return SK_DT_UNDEF;
}

sk_dtype sk_dtype_from_onnx(int onnx_type)
{
    for (int i = 1; i < SK_DT_COUNT; i++)
        if (traits[i].onnx == onnx_type) return (sk_dtype)i;
    return SK_DT_UNDEF;
}

sk_dtype sk_dtype_from_st(const char *st_name)
{
    for (int i = 1; i < SK_DT_COUNT; i++)
        if (traits[i].st_name && !strcmp(traits[i].st_name, st_name)) return (sk_dtype)i;
    return SK_DT_UNDEF;
}

bool sk_dtype_nbytes(sk_dtype dt, int64_t n, size_t *out)
{
    const sk_dtype_traits *t = sk_dtype_info(dt);
    if (n < 0 || t->block_bytes == 0 || n % t->block) return false;
    return sk_mul_size((size_t)(n / t->block), t->block_bytes, out);
}

float sk_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0) {
        if (man == 0) bits = sign;
        else {  /* subnormal: renormalise */
            int e = -1;
            do { man <<= 1; e++; } while (!(man & 0x400));
            bits = sign | (uint32_t)(127 - 15 - e) << 23 | (man & 0x3ff) << 13;
        }
    } else if (exp == 31) bits = sign | 0x7f800000u | man << 13;
    else bits = sign | (exp + 112) << 23 | man << 13;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t sk_f32_to_f16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000;
    int32_t exp = (int32_t)((x >> 23) & 0xff) - 127 + 15;
    uint32_t man = x & 0x7fffff;
    if (((x >> 23) & 0xff) == 0xff) return (uint16_t)(sign | 0x7c00 | (man ? 0x200 : 0));
    if (exp >= 31) return (uint16_t)(sign | 0x7c00);
    if (exp <= 0) {
        if (exp < -10) return (uint16_t)sign;
        man |= 0x800000;
        uint32_t shift = (uint32_t)(14 - exp);
        uint32_t h = man >> shift, rem = man & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (h & 1))) h++;
        return (uint16_t)(sign | h);
    }
    uint32_t h = sign | (uint32_t)exp << 10 | man >> 13, rem = man & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) h++;   /* round to nearest even; carries into exp */
    return (uint16_t)h;
}

float sk_bf16_to_f32(uint16_t h)
{
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

void sk_to_f32(sk_dtype s, const void *src, float *dst, int64_t n)
{
    switch (s) {
    case SK_DT_F32: memmove(dst, src, (size_t)n * 4); break;
    case SK_DT_F16: for (int64_t i = 0; i < n; i++) dst[i] = sk_f16_to_f32(((const uint16_t *)src)[i]); break;
    case SK_DT_BF16: for (int64_t i = 0; i < n; i++) dst[i] = sk_bf16_to_f32(((const uint16_t *)src)[i]); break;
    case SK_DT_F64: for (int64_t i = 0; i < n; i++) dst[i] = (float)((const double *)src)[i]; break;
    case SK_DT_I64: for (int64_t i = 0; i < n; i++) dst[i] = (float)((const int64_t *)src)[i]; break;
    case SK_DT_I32: for (int64_t i = 0; i < n; i++) dst[i] = (float)((const int32_t *)src)[i]; break;
    case SK_DT_I16: for (int64_t i = 0; i < n; i++) dst[i] = (float)((const int16_t *)src)[i]; break;
    case SK_DT_I8: for (int64_t i = 0; i < n; i++) dst[i] = (float)((const int8_t *)src)[i]; break;
    case SK_DT_U8: case SK_DT_BOOL: for (int64_t i = 0; i < n; i++) dst[i] = (float)((const uint8_t *)src)[i]; break;
    default: SK_ASSERT(!"sk_to_f32: not a plain dtype");
    }
}
