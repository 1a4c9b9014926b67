/* npy.c — NumPy .npy files: the CLI's tensor input and output format.
 *
 * Reads versions 1–3, little-endian or byte-order-free dtypes, C order only.
 * The header is a Python dict literal; we parse just the three keys.
 */
#include <string.h>
#include "ir/ir.h"
#include "util/util.h"

static const struct { const char *descr; sk_dtype dt; } npy_types[] = {
    {"<f4", SK_DT_F32}, {"<f2", SK_DT_F16}, {"<f8", SK_DT_F64}, {"<i8", SK_DT_I64},
    {"<i4", SK_DT_I32}, {"<i2", SK_DT_I16}, {"|i1", SK_DT_I8}, {"|u1", SK_DT_U8}, {"|b1", SK_DT_BOOL},
};

/* Find 'key': in the header and return a pointer just after the colon. */
static const char *hdr_key(const char *h, const char *key)
{
    const char *p = strstr(h, key);
    if (!p) return NULL;
    p += strlen(key);
    while (*p == ' ' || *p == '\'' || *p == '"') p++;
    if (*p != ':') return NULL;
    p++;
    while (*p == ' ') p++;
    return p;
}

sk_status sk_npy_read(const char *path, sk_npy *out)
{
    memset(out, 0, sizeof *out);
    char *buf;
    size_t len;
    sk_status st = sk_read_file(path, &buf, &len);
    if (st) return st;
    const unsigned char *u = (const unsigned char *)buf;
    if (len < 10 || memcmp(buf, "\x93NUMPY", 6) != 0) {
        sk_free(buf);
        return sk_err(SK_ERR_FORMAT, "%s: not a .npy file (bad magic)", path);
    }
    size_t hlen, hoff;
    if (u[6] == 1) { hlen = u[8] | (size_t)u[9] << 8; hoff = 10; }
    else if ((u[6] == 2 || u[6] == 3) && len >= 12) {
        hlen = u[8] | (size_t)u[9] << 8 | (size_t)u[10] << 16 | (size_t)u[11] << 24;
        hoff = 12;
    } else {
        sk_free(buf);
        return sk_err(SK_ERR_FORMAT, "%s: unsupported .npy version %d", path, u[6]);
    }
    if (hlen > len - hoff || hlen > 65536) {
        sk_free(buf);
        return sk_err(SK_ERR_FORMAT, "%s: header length %zu past end of file", path, hlen);
    }
    char hdr[65537];
    memcpy(hdr, buf + hoff, hlen);
    hdr[hlen] = 0;
    const char *p = hdr_key(hdr, "descr");
    sk_dtype dt = SK_DT_UNDEF;
    if (p) {
        for (size_t i = 0; i < sizeof npy_types / sizeof npy_types[0]; i++) {
            size_t n = strlen(npy_types[i].descr);
            if ((p[0] == '\'' || p[0] == '"') && strncmp(p + 1, npy_types[i].descr, n) == 0) dt = npy_types[i].dt;
            /* '=' and '|' byte orders mean native = little here */
            if ((p[0] == '\'' || p[0] == '"') && (p[1] == '=' || p[1] == '|') &&
                strncmp(p + 2, npy_types[i].descr + 1, n - 1) == 0 && p[n + 1] == p[0]) dt = npy_types[i].dt;
        }
    }
    if (dt == SK_DT_UNDEF) {
        sk_free(buf);
        return sk_err(SK_ERR_UNSUPPORTED, "%s: unsupported dtype in header %s", path, hdr);
    }
    p = hdr_key(hdr, "fortran_order");
    if (!p || strncmp(p, "False", 5) != 0) {
        sk_free(buf);
        return sk_err(SK_ERR_UNSUPPORTED, "%s: only C-order arrays are supported", path);
    }
    p = hdr_key(hdr, "shape");
    if (!p || *p != '(') {
        sk_free(buf);
        return sk_err(SK_ERR_FORMAT, "%s: header has no shape", path);
    }
    p++;
    int64_t n = 1;
    out->rank = 0;
    for (;;) {
        while (*p == ' ' || *p == ',') p++;
        if (*p == ')') break;
        if (*p < '0' || *p > '9' || out->rank >= SK_MAX_RANK) {
            sk_free(buf);
            return sk_err(SK_ERR_FORMAT, "%s: bad shape in header", path);
        }
        int64_t d = 0;
        while (*p >= '0' && *p <= '9') {
            if (d > (INT64_MAX - 9) / 10) { sk_free(buf); return sk_err(SK_ERR_FORMAT, "%s: dimension overflows", path); }
            d = d * 10 + (*p++ - '0');
        }
        if (d != 0 && n > INT64_MAX / d) { sk_free(buf); return sk_err(SK_ERR_FORMAT, "%s: shape overflows", path); }
        n *= d;
        out->dims[out->rank++] = d;
    }
    size_t nbytes;
    if (!sk_dtype_nbytes(dt, n, &nbytes) || nbytes != len - hoff - hlen) {
        sk_free(buf);
        return sk_err(SK_ERR_FORMAT, "%s: data is %zu bytes, shape needs %lld elements", path,
                      len - hoff - hlen, (long long)n);
    }
    out->data = sk_malloc(nbytes);
    if (!out->data) { sk_free(buf); return SK_ERR_NOMEM; }
    memcpy(out->data, buf + hoff + hlen, nbytes);
    out->nbytes = nbytes;
    out->dtype = dt;
    sk_free(buf);
    return SK_OK;
}

sk_status sk_npy_write(const char *path, int dtype, int rank, const int64_t *dims, const void *data, bool force)
{
    const char *descr = NULL;
    for (size_t i = 0; i < sizeof npy_types / sizeof npy_types[0]; i++)
        if (npy_types[i].dt == (sk_dtype)dtype) descr = npy_types[i].descr;
    if (!descr) return sk_err(SK_ERR_UNSUPPORTED, "%s: dtype %s cannot be written as .npy", path,
                              sk_dtype_info(dtype)->name);
    char shape[256] = "";
    int64_t n = 1;
    for (int i = 0; i < rank; i++) {
        size_t l = strlen(shape);
        snprintf(shape + l, sizeof shape - l, "%lld%s", (long long)dims[i], rank == 1 ? "," : (i + 1 < rank ? ", " : ""));
        n *= dims[i];
    }
    char hdr[512];
    int hl = snprintf(hdr, sizeof hdr, "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", descr, shape);
    int total = 10 + hl + 1;
    int pad = (64 - total % 64) % 64;
    memset(hdr + hl, ' ', (size_t)pad);
    hl += pad;
    hdr[hl++] = '\n';
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hl & 0xff), (unsigned char)(hl >> 8)};
    size_t nbytes;
    if (!sk_dtype_nbytes(dtype, n, &nbytes)) return sk_err(SK_ERR_INVALID, "%s: tensor too large", path);
    sk_afile af;
    sk_status st = sk_afile_open(&af, path, force);
    if (st) return st;
    if ((st = sk_afile_write(&af, pre, 10)) || (st = sk_afile_write(&af, hdr, (size_t)hl)) ||
        (st = sk_afile_write(&af, data, nbytes))) {
        sk_afile_abort(&af);
        return st;
    }
    return sk_afile_commit(&af);
}
