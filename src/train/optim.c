/* optim.c — AdamW, the learning-rate schedule, gradient clipping, the RNG
 * and checkpoints.
 *
 * Everything is sequential and in a fixed order, so two runs from the same
 * seed on one thread give the same bits.  A checkpoint holds the parameter
 * block, both Adam moments, the step counters and the seed, with the
 * trainer's layout hash (so it cannot be loaded into another student) and an
 * XXH64 of the whole file; it is written atomically (sk_afile).
 *
 * Layout (little-endian): "SKCKPT01", u64 layout hash, u64 n floats,
 * i64 step, epoch, step_in_epoch, u64 seed, i64 adam t, f32 params[n],
 * m[n], v[n], u64 xxh64 of all the preceding bytes.
 */
#include <math.h>
#include <string.h>
#include "formats.h"
#include "train/train.h"

/* ---- RNG: splitmix64 ---- */
uint64_t sk_rng_next(sk_rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

double sk_rng_uniform(sk_rng *r) { return (double)(sk_rng_next(r) >> 11) * (1.0 / 9007199254740992.0); }

float sk_rng_normal(sk_rng *r)
{
    double u1 = sk_rng_uniform(r), u2 = sk_rng_uniform(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

/* ---- AdamW ---- */
sk_status sk_adamw_init(sk_adamw *o, size_t n, float wd)
{
    memset(o, 0, sizeof *o);
    o->beta1 = 0.9f;
    o->beta2 = 0.999f;
    o->eps = 1e-8f;
    o->wd = wd;
    o->n = n;
    o->m = sk_calloc(2 * n + 1, sizeof(float));
    if (!o->m) return SK_ERR_NOMEM;
    o->v = o->m + n;
    return SK_OK;
}

void sk_adamw_free(sk_adamw *o)
{
    sk_free(o->m);
    o->m = o->v = NULL;
}

void sk_adamw_step(sk_adamw *o, float *p, const float *g, const unsigned char *decay, float lr)
{
    o->t++;
    double bc1 = 1.0 - pow(o->beta1, (double)o->t), bc2 = 1.0 - pow(o->beta2, (double)o->t);
    float a = (float)(lr / bc1), rb2 = (float)(1.0 / sqrt(bc2)), b1 = o->beta1, b2 = o->beta2;
    float wdl = lr * o->wd;
    for (size_t i = 0; i < o->n; i++) {
        float gi = g[i];
        float m = o->m[i] = b1 * o->m[i] + (1.0f - b1) * gi;
        float v = o->v[i] = b2 * o->v[i] + (1.0f - b2) * gi * gi;
        if (decay && decay[i]) p[i] -= wdl * p[i];
        p[i] -= a * m / (sqrtf(v) * rb2 + o->eps);
    }
}

double sk_grad_clip(float *g, size_t n, double max_norm)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)g[i] * g[i];
    double norm = sqrt(s);
    if (max_norm > 0 && norm > max_norm) {
        float k = (float)(max_norm / (norm + 1e-6));
        for (size_t i = 0; i < n; i++) g[i] *= k;
    }
    return norm;
}

float sk_lr_at(sk_sched s, float base, int64_t step, int64_t total, int64_t warmup)
{
    if (warmup > 0 && step < warmup) return base * (float)(step + 1) / (float)warmup;
    if (s == SK_SCHED_CONSTANT || total <= warmup) return base;
    double f = (double)(step - warmup) / (double)(total - warmup);
    if (f > 1) f = 1;
    if (s == SK_SCHED_COSINE) return (float)(base * 0.5 * (1 + cos(3.14159265358979323846 * f)));
    return (float)(base * (1 - f));
}

/* ---- checkpoints ---- */
#define CK_MAGIC "SKCKPT01"
#define CK_HDR (8 + 8 * 8)

sk_status sk_ckpt_save(const char *path, sk_train *t, const sk_adamw *o, const sk_ckpt_info *info)
{
    size_t n;
    float *p = sk_train_params(t, &n);
    if (o->n != n) return sk_err(SK_ERR_INVALID, "%s: optimizer holds %zu floats, the trainer %zu", path, o->n, n);
    unsigned char hdr[CK_HDR];
    memcpy(hdr, CK_MAGIC, 8);
    uint64_t f[8] = {sk_train_layout_hash(t), (uint64_t)n, (uint64_t)info->step, (uint64_t)info->epoch,
                     (uint64_t)info->step_in_epoch, info->seed, (uint64_t)o->t, 0};
    memcpy(hdr + 8, f, 8 * 8);
    size_t bytes = n * sizeof(float);
    /* the checksum runs over one buffer: header and the three arrays, copied once */
    size_t total = CK_HDR + 3 * bytes;
    unsigned char *buf = sk_malloc(total + 8);
    if (!buf) return SK_ERR_NOMEM;
    memcpy(buf, hdr, CK_HDR);
    memcpy(buf + CK_HDR, p, bytes);
    memcpy(buf + CK_HDR + bytes, o->m, bytes);
    memcpy(buf + CK_HDR + 2 * bytes, o->v, bytes);
    uint64_t h = sk_skm_xxh64(buf, total, 0);
    memcpy(buf + total, &h, 8);
    sk_afile af;
    sk_status st = sk_afile_open(&af, path, true);
    if (!st) st = sk_afile_write(&af, buf, total + 8);
    if (!st) st = sk_afile_commit(&af);
    else sk_afile_abort(&af);
    sk_free(buf);
    return st;
}

sk_status sk_ckpt_load(const char *path, sk_train *t, sk_adamw *o, sk_ckpt_info *info)
{
    char *data;
    size_t len;
    sk_status st = sk_read_file(path, &data, &len);
    if (st) return st;
    size_t n;
    float *p = sk_train_params(t, &n);
    uint64_t f[8];
    if (len < CK_HDR + 8 || memcmp(data, CK_MAGIC, 8)) {
        st = sk_err(SK_ERR_FORMAT, "%s: not a shrink checkpoint (bad magic or truncated)", path);
        goto done;
    }
    memcpy(f, data + 8, sizeof f);
    if (f[0] != sk_train_layout_hash(t) || f[1] != n) {
        st = sk_err(SK_ERR_INVALID, "%s: checkpoint of another student (%llu floats, layout %016llx; this one: %zu, %016llx)",
                    path, (unsigned long long)f[1], (unsigned long long)f[0], n,
                    (unsigned long long)sk_train_layout_hash(t));
        goto done;
    }
    size_t bytes = n * sizeof(float), total = CK_HDR + 3 * bytes;
    if (len != total + 8) { st = sk_err(SK_ERR_FORMAT, "%s: %zu bytes, expected %zu", path, len, total + 8); goto done; }
    uint64_t h;
    memcpy(&h, data + total, 8);
    if (h != sk_skm_xxh64(data, total, 0)) { st = sk_err(SK_ERR_FORMAT, "%s: checksum mismatch", path); goto done; }
    if (o->n != n) { st = sk_err(SK_ERR_INVALID, "%s: optimizer size differs", path); goto done; }
    memcpy(p, data + CK_HDR, bytes);
    memcpy(o->m, data + CK_HDR + bytes, bytes);
    memcpy(o->v, data + CK_HDR + 2 * bytes, bytes);
    o->t = (int64_t)f[6];
    info->step = (int64_t)f[2];
    info->epoch = (int64_t)f[3];
    info->step_in_epoch = (int64_t)f[4];
    info->seed = f[5];
done:
    sk_free(data);
    return st;
}
