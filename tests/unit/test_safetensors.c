/* test_safetensors.c — safetensors reading, config.json parsing, HF import.
 *
 * Without arguments: writes bad files (truncated, lying headers, overlapping
 * offsets, bad configs, NaN weights, ...) to a temp dir and checks that each
 * is refused with a message naming the file and the place; then builds tiny
 * GPT-2 and BERT checkpoints in C and checks they import (weights in place,
 * f16/bf16 converted, misaligned data copied).
 *
 * Debug entries used by tests/py/test_hf_import.py:
 *   test_safetensors --summary MODEL            print the imported graph as JSON
 *   test_safetensors --run MODEL IN_DIR OUT_DIR  run it on IN_DIR/in.NAME.npy, write OUT_DIR/out.NAME.npy
 *   test_safetensors --dump MODEL DIR            DIR/graph.json and every constant as DIR/const.ID.npy
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cJSON.h>
#include "formats.h"
#include "arch/arch.h"
#include "runtime/runtime.h"
#include "util/util.h"

static int fails, checks;
#define CHECK(c) do { checks++; if (!(c)) { printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #c); fails++; } } while (0)

static char tmpdir[64];

static char *tpath(const char *name)
{
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

static void write_bytes(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) { perror(path); exit(1); }
    if (n) fwrite(p, 1, n, f);
    fclose(f);
}

static void write_text(const char *path, const char *s) { write_bytes(path, s, strlen(s)); }

/* A safetensors file: header JSON text as given, then ndata bytes 0..ndata-1. */
static void write_st(const char *path, uint64_t hlen_claim, const char *hdr, size_t ndata)
{
    size_t hl = strlen(hdr), n = 8 + hl + ndata;
    unsigned char *b = malloc(n);
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(hlen_claim >> (8 * i));
    memcpy(b + 8, hdr, hl);
    for (size_t i = 0; i < ndata; i++) b[8 + hl + i] = (unsigned char)i;
    write_bytes(path, b, n);
    free(b);
}

/* Expect sk_st_open(path) to fail with a message containing want (and the file name). */
static void expect_st_fail(const char *what, const char *path, const char *want)
{
    sk_st_file *f = NULL;
    sk_status st = sk_st_open(path, &f);
    printf("  %-28s -> %s\n", what, sk_errmsg());
    CHECK(st != SK_OK && f == NULL);
    CHECK(strstr(sk_errmsg(), want) != NULL);
    CHECK(strstr(sk_errmsg(), path) != NULL);
    sk_st_close(f);
}

static void st_case(const char *what, const char *hdr, size_t ndata, const char *want)
{
    char *p = tpath("bad.safetensors");
    write_st(p, strlen(hdr), hdr, ndata);
    expect_st_fail(what, p, want);
}

static void test_bad_safetensors(void)
{
    printf("bad safetensors files:\n");
    char *p = tpath("bad.safetensors");
    write_bytes(p, "", 0);
    expect_st_fail("zero-length file", p, "too short (0 bytes)");
    write_bytes(p, "\x10\0\0\0\0", 5);
    expect_st_fail("truncated (5 bytes)", p, "too short (5 bytes)");
    write_st(p, 1000, "{}", 0);
    expect_st_fail("header length > file", p, "header length 1000 is larger than the file (10 bytes)");
    { /* a sparse 150 MB file whose header claims 150 MB */
        uint64_t big = 150u << 20;
        write_st(p, big, "{", 0);
        CHECK(truncate(p, (off_t)(big + 8)) == 0);
        expect_st_fail("header length > 100 MB", p, "exceeds the 100 MB limit");
        write_bytes(p, "", 0);
    }
    st_case("invalid JSON", "{\"a\": {\"dtype\": ", 0, "not valid JSON");
    st_case("JSON not an object", "[1, 2, 3]", 0, "not a JSON object");
    st_case("trailing garbage", "{}xx", 0, "trailing bytes");
    st_case("unknown dtype", "{\"w\":{\"dtype\":\"F8_E4M3\",\"shape\":[2],\"data_offsets\":[0,2]}}", 2,
            "tensor 'w': unknown dtype \"F8_E4M3\"");
    st_case("missing dtype", "{\"w\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "tensor 'w': missing or non-string 'dtype'");
    st_case("offsets past end",
            "{\"bert.encoder.layer.0.attention.self.query.weight\":{\"dtype\":\"F32\",\"shape\":[4,4],"
            "\"data_offsets\":[0,64]}}", 32,
            "tensor 'bert.encoder.layer.0.attention.self.query.weight': data_offsets [0, 64] past end of data (size 32)");
    st_case("offsets end < begin", "{\"w\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,4]}}", 8,
            "end before begin");
    st_case("offsets not a pair", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 8,
            "'data_offsets' must be [begin, end]");
    st_case("negative offset", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 8,
            "'data_offsets' must be [begin, end]");
    st_case("overlapping offsets",
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
            "\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[8,24]}}", 24,
            "tensor 'b': data_offsets [8, 24] overlap tensor 'a' [0, 16]");
    st_case("size mismatch with shape", "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,8]}}", 8,
            "tensor 'w': data_offsets [0, 8] hold 8 bytes, but F32 [4] needs 16");
    st_case("overflowing shape",
            "{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],\"data_offsets\":[0,8]}}", 8,
            "tensor 'w': shape [4294967296,4294967296,4294967296] overflows");
    st_case("byte count overflow", "{\"w\":{\"dtype\":\"F64\",\"shape\":[4503599627370496,1024],\"data_offsets\":[0,8]}}",
            8, "tensor 'w': shape [4503599627370496,1024] overflows");
    st_case("dim beyond 2^53", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1e300],\"data_offsets\":[0,8]}}", 8,
            "dimension 0 is too large");
    st_case("negative dim", "{\"w\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8,
            "dimension 0 is not a non-negative integer");
    st_case("fractional dim", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,8]}}", 8,
            "dimension 0 is not a non-negative integer");
    st_case("rank 9", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4,
            "rank 9 > 8");
    st_case("tensor entry not object", "{\"w\": 3}", 0, "tensor 'w': expected an object");
    st_case("duplicate name",
            "{\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
            "\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}", 2, "tensor 'w' appears twice");
    st_case("metadata not object", "{\"__metadata__\": 5}", 0, "'__metadata__' is not an object");
    sk_st_file *f = NULL;
    CHECK(sk_st_open(tpath("does-not-exist.safetensors"), &f) == SK_ERR_IO && !f);
}

static void test_good_safetensors(void)
{
    /* header padded with spaces as HF does, an empty tensor sharing an offset, metadata */
    const char *hdr = "{\"__metadata__\":{\"format\":\"pt\"},"
                      "\"z\":{\"dtype\":\"I64\",\"shape\":[0,3],\"data_offsets\":[8,8]},"
                      "\"b\":{\"dtype\":\"U8\",\"shape\":[2,4],\"data_offsets\":[8,16]},"
                      "\"a\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[0,8]}}    ";
    char *p = tpath("good.safetensors");
    write_st(p, strlen(hdr), hdr, 16);
    sk_st_file *f = NULL;
    CHECK(sk_st_open(p, &f) == SK_OK);
    if (!f) { printf("  good file: %s\n", sk_errmsg()); return; }
    CHECK(sk_st_count(f) == 3);
    CHECK(!strcmp(sk_st_at(f, 0)->name, "a") && !strcmp(sk_st_at(f, 2)->name, "z"));
    const sk_st_tensor *b = sk_st_find(f, "b");
    CHECK(b && b->dtype == SK_DT_U8 && b->rank == 2 && b->dims[1] == 4 && b->nbytes == 8);
    CHECK(b && ((const unsigned char *)b->data)[0] == 8 && ((const unsigned char *)b->data)[7] == 15);
    CHECK(sk_st_find(f, "z") && sk_st_find(f, "z")->nbytes == 0);
    CHECK(!sk_st_find(f, "__metadata__") && !sk_st_find(f, "c"));
    printf("good file: 3 tensors, lookups by name ok\n");
    sk_st_close(f);
}

/* ---- tiny checkpoints written from C ---- */

typedef struct tdesc { char name[128]; const char *dtype; int rank; int64_t dims[3]; } tdesc;

static const char *nan_tensor;   /* write NaN (or Inf) at element 5 of this tensor */
static float nan_value;

static size_t dt_size(const char *dt)
{
    return !strcmp(dt, "F32") ? 4 : !strcmp(dt, "I64") || !strcmp(dt, "F64") ? 8 : 2;
}

static float val(int ti, int64_t i) { return 0.01f * (float)((ti * 7 + i * 3) % 23) - 0.1f; }

/* Write the tensors t[n] with values val(); pad = the header's length is
 * rounded up to a multiple of pad (1 gives misaligned data). */
static void write_tensors(const char *path, const tdesc *t, int n, int pad)
{
    cJSON *root = cJSON_CreateObject();
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        int64_t numel = 1;
        for (int d = 0; d < t[i].rank; d++) numel *= t[i].dims[d];
        size_t nb = (size_t)numel * dt_size(t[i].dtype);
        cJSON *e = cJSON_AddObjectToObject(root, t[i].name);
        cJSON_AddStringToObject(e, "dtype", t[i].dtype);
        cJSON *s = cJSON_AddArrayToObject(e, "shape");
        for (int d = 0; d < t[i].rank; d++) cJSON_AddItemToArray(s, cJSON_CreateNumber((double)t[i].dims[d]));
        cJSON *o = cJSON_AddArrayToObject(e, "data_offsets");
        cJSON_AddItemToArray(o, cJSON_CreateNumber((double)off));
        cJSON_AddItemToArray(o, cJSON_CreateNumber((double)(off + nb)));
        off += nb;
    }
    char *js = cJSON_PrintUnformatted(root);
    size_t hl = strlen(js), hp = (hl + (size_t)pad - 1) / (size_t)pad * (size_t)pad;
    unsigned char *buf = calloc(1, 8 + hp + off);
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)((uint64_t)hp >> (8 * i));
    memcpy(buf + 8, js, hl);
    memset(buf + 8 + hl, ' ', hp - hl);
    unsigned char *d = buf + 8 + hp;
    for (int i = 0; i < n; i++) {
        int64_t numel = 1;
        for (int k = 0; k < t[i].rank; k++) numel *= t[i].dims[k];
        for (int64_t k = 0; k < numel; k++) {
            float v = val(i, k);
            if (nan_tensor && !strcmp(nan_tensor, t[i].name) && k == 5) v = nan_value;
            if (!strcmp(t[i].dtype, "F32")) { memcpy(d, &v, 4); d += 4; }
            else if (!strcmp(t[i].dtype, "F16")) { uint16_t h = sk_f32_to_f16(v); memcpy(d, &h, 2); d += 2; }
            else if (!strcmp(t[i].dtype, "BF16")) { uint32_t u; memcpy(&u, &v, 4); uint16_t h = (uint16_t)(u >> 16); memcpy(d, &h, 2); d += 2; }
            else { int64_t x = k; memcpy(d, &x, 8); d += 8; }
        }
    }
    write_bytes(path, buf, 8 + hp + off);
    free(buf);
    cJSON_free(js);
    cJSON_Delete(root);
}

#define ADD(nm, r, d0, d1) do { snprintf(t[n].name, sizeof t[n].name, "%s%s", pre, nm); t[n].dtype = dt; \
    t[n].rank = r; t[n].dims[0] = d0; t[n].dims[1] = d1; n++; } while (0)

/* A GPT-2 with L layers, hidden H, vocab V, positions P (ffn 4H); returns the count. */
static int gpt2_tensors(tdesc *t, const char *pre, const char *dt, int L, int H, int V, int P)
{
    int n = 0;
    char nm[96];
    ADD("wte.weight", 2, V, H);
    ADD("wpe.weight", 2, P, H);
    for (int i = 0; i < L; i++) {
#define LADD(s, r, a, b) do { snprintf(nm, sizeof nm, "h.%d.%s", i, s); ADD(nm, r, a, b); } while (0)
        LADD("ln_1.weight", 1, H, 0); LADD("ln_1.bias", 1, H, 0);
        LADD("attn.c_attn.weight", 2, H, 3 * H); LADD("attn.c_attn.bias", 1, 3 * H, 0);
        LADD("attn.c_proj.weight", 2, H, H); LADD("attn.c_proj.bias", 1, H, 0);
        LADD("ln_2.weight", 1, H, 0); LADD("ln_2.bias", 1, H, 0);
        LADD("mlp.c_fc.weight", 2, H, 4 * H); LADD("mlp.c_fc.bias", 1, 4 * H, 0);
        LADD("mlp.c_proj.weight", 2, 4 * H, H); LADD("mlp.c_proj.bias", 1, H, 0);
#undef LADD
    }
    ADD("ln_f.weight", 1, H, 0);
    ADD("ln_f.bias", 1, H, 0);
    return n;
}

static int64_t count_params(const tdesc *t, int n)
{
    int64_t s = 0;
    for (int i = 0; i < n; i++) {
        int64_t k = 1;
        for (int d = 0; d < t[i].rank; d++) k *= t[i].dims[d];
        s += k;
    }
    return s;
}

static const char *gpt2_config =
    "{\"model_type\": \"gpt2\", \"architectures\": [\"GPT2LMHeadModel\"], \"n_layer\": 2, \"n_embd\": 8,"
    " \"n_head\": 2, \"n_inner\": null, \"vocab_size\": 11, \"n_positions\": 6, \"layer_norm_epsilon\": 1e-5,"
    " \"activation_function\": \"gelu_new\"}";

/* Import dir; expect success, or failure with want in the message. */
static sk_model *expect_load(const char *what, const char *path, const char *want)
{
    sk_model *m = NULL;
    sk_status st = sk_model_load(path, &m);
    printf("  %-28s -> %s\n", what, st ? sk_errmsg() : "ok");
    if (want) {
        CHECK(st != SK_OK && !m);
        CHECK(strstr(sk_errmsg(), want) != NULL);
        sk_model_free(m);
        return NULL;
    }
    CHECK(st == SK_OK && m);
    return m;
}

static void test_gpt2_import(void)
{
    printf("tiny GPT-2 written from C:\n");
    tdesc t[64];
    mkdir(tpath("g"), 0755);
    write_text(tpath("g/config.json"), gpt2_config);
    int n = gpt2_tensors(t, "transformer.", "F32", 2, 8, 11, 6);
    write_tensors(tpath("g/model.safetensors"), t, n, 8);
    sk_model *m = expect_load("f32, aligned", tpath("g"), NULL);
    if (m) {
        CHECK(sk_model_params(m, NULL) == count_params(t, n));
        CHECK(m->arch.family == SK_FAM_GPT2 && !strcmp(m->arch.task, "lm") && m->arch.ffn == 32);
        CHECK(m->g.n_inputs == 3 && m->g.n_outputs == 1);
        CHECK(!strcmp(m->g.tensors[m->g.outputs[0]].name, "logits"));
        CHECK(m->n_maps == 1 && !m->tokenizer_dir);
        int w = sk_graph_find_tensor(&m->g, "transformer.h.1.mlp.c_fc.weight");
        CHECK(w >= 0 && !(m->g.tensors[w].flags & SK_TF_OWNED));   /* a view into the mapping */
        CHECK(w >= 0 && ((float *)m->g.tensors[w].data)[3] == val(2 + 12 + 8, 3));
        int linear = 0, att = 0;
        for (int i = 0; i < m->g.n_nodes; i++) {
            linear += m->g.nodes[i].op == SK_OP_LINEAR;
            att += m->g.nodes[i].op == SK_OP_ATTENTION && sk_node_attr_i(&m->g.nodes[i], "causal", 0) == 1;
        }
        CHECK(linear == 2 * 4 + 1 && att == 2);
        printf("  params %lld, %d nodes, %d linear\n", (long long)sk_model_params(m, NULL), m->g.n_nodes, linear);
    }
    sk_model_free(m);

    /* misaligned f32 data is copied; the values survive */
    write_tensors(tpath("g/model.safetensors"), t, n, 1);
    m = expect_load("f32, misaligned", tpath("g/model.safetensors"), NULL);
    if (m) {
        int w = sk_graph_find_tensor(&m->g, "transformer.wpe.weight");
        CHECK(w >= 0 && ((float *)m->g.tensors[w].data)[7] == val(1, 7));
    }
    sk_model_free(m);

    /* f16 and bf16 become f32 */
    n = gpt2_tensors(t, "transformer.", "F16", 2, 8, 11, 6);
    write_tensors(tpath("g/model.safetensors"), t, n, 8);
    m = expect_load("f16 -> f32", tpath("g"), NULL);
    if (m) {
        int w = sk_graph_find_tensor(&m->g, "transformer.h.0.attn.c_attn.weight");
        CHECK(w >= 0 && m->g.tensors[w].dtype == SK_DT_F32 && (m->g.tensors[w].flags & SK_TF_OWNED));
        CHECK(w >= 0 && ((float *)m->g.tensors[w].data)[9] == sk_f16_to_f32(sk_f32_to_f16(val(4, 9))));
        CHECK(sk_model_params(m, NULL) == count_params(t, n));
    }
    sk_model_free(m);
    n = gpt2_tensors(t, "", "BF16", 2, 8, 11, 6);   /* and a GPT2Model layout under GPT2LMHeadModel */
    write_tensors(tpath("g/model.safetensors"), t, n, 8);
    m = expect_load("bf16, no prefix", tpath("g"), NULL);
    if (m) {
        int w = sk_graph_find_tensor(&m->g, "wte.weight");
        CHECK(w >= 0 && fabsf(((float *)m->g.tensors[w].data)[2] - val(0, 2)) < 1e-2f);
    }
    sk_model_free(m);

    /* NaN / Inf anywhere in a weight */
    n = gpt2_tensors(t, "transformer.", "F32", 2, 8, 11, 6);
    nan_tensor = "transformer.h.1.mlp.c_fc.weight";
    nan_value = NAN;
    write_tensors(tpath("g/model.safetensors"), t, n, 8);
    expect_load("NaN weight", tpath("g"), "model.safetensors: tensor 'transformer.h.1.mlp.c_fc.weight': element 5 is NaN");
    nan_tensor = "transformer.ln_f.bias";
    nan_value = -INFINITY;
    write_tensors(tpath("g/model.safetensors"), t, n, 8);
    expect_load("Inf weight", tpath("g"), "tensor 'transformer.ln_f.bias': element 5 is Inf");
    n = gpt2_tensors(t, "transformer.", "F16", 2, 8, 11, 6);
    nan_value = 1e6f;   /* overflows f16 to Inf */
    write_tensors(tpath("g/model.safetensors"), t, n, 8);
    expect_load("Inf after f16", tpath("g"), "tensor 'transformer.ln_f.bias': element 5 is Inf");
    nan_tensor = NULL;

    /* every allocation of an import failing in turn: a clean error, nothing leaked (ASan) */
    n = gpt2_tensors(t, "transformer.", "F16", 2, 8, 11, 6);
    write_tensors(tpath("g/model.safetensors"), t, n, 8);
    int nomem = 0, other = 0, k;
    for (k = 1; k < 5000; k++) {
        sk_model *mf = NULL;
        sk_alloc_fail_after(k);
        sk_status st = sk_model_load(tpath("g"), &mf);
        sk_alloc_fail_after(0);
        if (st == SK_OK) { CHECK(mf != NULL); sk_model_free(mf); break; }
        CHECK(mf == NULL);
        if (st == SK_ERR_NOMEM) nomem++;
        else { other++; printf("  allocation %d failed -> %s: %s\n", k, sk_status_name(st), sk_errmsg()); }
    }
    printf("  allocation failures: %d injected, %d reported as out of memory, %d otherwise\n", k - 1, nomem, other);
    CHECK(k < 5000 && k > 100 && other == 0);

    /* mutated headers: each load either succeeds or fails with a message, never crashes */
    {
        char mp[512], gdir[512];   /* tpath's buffers are reused */
        snprintf(mp, sizeof mp, "%s", tpath("g/model.safetensors"));
        snprintf(gdir, sizeof gdir, "%s", tpath("g"));
        char *orig = NULL;
        size_t olen = 0;
        CHECK(sk_read_file(mp, &orig, &olen) == SK_OK);
        uint64_t hl = 0;
        for (int i = 7; i >= 0; i--) hl = hl << 8 | (unsigned char)orig[i];
        uint32_t rng = 12345;
        int ok = 0, bad = 0, runs = 3000;
        char *buf = malloc(olen);
        for (int r = 0; r < runs; r++) {
            memcpy(buf, orig, olen);
            int flips = 1 + r % 4;
            for (int f = 0; f < flips; f++) {
                rng = rng * 1103515245u + 12345u;
                size_t at = (rng >> 8) % (8 + hl);
                rng = rng * 1103515245u + 12345u;
                static const char pool[] = "0123456789[]{},:\"-.eE FIL";
                buf[at] = r % 3 ? pool[(rng >> 8) % (sizeof pool - 1)] : (char)(rng >> 16);
            }
            write_bytes(mp, buf, olen);
            sk_model *mf = NULL;
            if (sk_model_load(gdir, &mf) == SK_OK) ok++;
            else { bad++; CHECK(sk_errmsg()[0] != 0); }
            sk_model_free(mf);
        }
        printf("  %d mutated headers: %d loaded, %d refused\n", runs, ok, bad);
        write_bytes(mp, orig, olen);
        free(buf);
        sk_free(orig);
    }

    /* checkpoint and config disagree */
    n = gpt2_tensors(t, "transformer.", "F32", 2, 4, 11, 6);
    write_tensors(tpath("g/model.safetensors"), t, n, 8);
    expect_load("shape vs config", tpath("g"), "tensor 'transformer.wte.weight': shape [11, 4], expected [11, 8] from config.json");
    n = gpt2_tensors(t, "transformer.", "F32", 1, 8, 11, 6);
    write_tensors(tpath("g/model.safetensors"), t, n, 8);
    expect_load("missing layer", tpath("g"), "weight 'transformer.h.1.ln_1.weight' not found");
    n = gpt2_tensors(t, "transformer.", "F32", 2, 8, 11, 6);
    t[1].dtype = "I64";
    write_tensors(tpath("g/model.safetensors"), t, n, 8);
    expect_load("integer weight", tpath("g"), "tensor 'transformer.wpe.weight': dtype I64, expected a float type");

    /* the layout around the weights */
    expect_load("no config.json", tpath("good.safetensors"), "no config.json beside the weights");
    unlink(tpath("g/model.safetensors"));
    expect_load("no weights", tpath("g"), "no model.safetensors");
    write_text(tpath("x.bin"), "hello");
    expect_load("unknown kind", tpath("x.bin"), "unknown model kind");
    expect_load(".skm", tpath("x.skm"), "x.skm: No such file or directory");
    expect_load("missing path", tpath("nothing"), "no such file");
}

/* A BERT for sequence classification, one layer, and a sharded copy of it. */
static void test_bert_import(void)
{
    printf("tiny BERT written from C:\n");
    const int H = 8, F = 12, V = 13, P = 5, NL = 3;
    tdesc t[64];
    int n = 0;
    const char *pre = "bert.", *dt = "F32";
    ADD("embeddings.word_embeddings.weight", 2, V, H);
    ADD("embeddings.position_embeddings.weight", 2, P, H);
    ADD("embeddings.token_type_embeddings.weight", 2, 2, H);
    ADD("embeddings.LayerNorm.gamma", 1, H, 0);   /* old names are accepted */
    ADD("embeddings.LayerNorm.beta", 1, H, 0);
    const char *lin[][2] = {{"attention.self.query", "H"}, {"attention.self.key", "H"}, {"attention.self.value", "H"},
                            {"attention.output.dense", "H"}, {"intermediate.dense", "F"}, {"output.dense", "O"}};
    char nm[96];
    for (int i = 0; i < 6; i++) {
        int out = lin[i][1][0] == 'F' ? F : H, in = lin[i][1][0] == 'O' ? F : H;
        snprintf(nm, sizeof nm, "encoder.layer.0.%s.weight", lin[i][0]); ADD(nm, 2, out, in);
        snprintf(nm, sizeof nm, "encoder.layer.0.%s.bias", lin[i][0]); ADD(nm, 1, out, 0);
    }
    ADD("encoder.layer.0.attention.output.LayerNorm.weight", 1, H, 0);
    ADD("encoder.layer.0.attention.output.LayerNorm.bias", 1, H, 0);
    ADD("encoder.layer.0.output.LayerNorm.weight", 1, H, 0);
    ADD("encoder.layer.0.output.LayerNorm.bias", 1, H, 0);
    ADD("pooler.dense.weight", 2, H, H);
    ADD("pooler.dense.bias", 1, H, 0);
    pre = "";
    ADD("classifier.weight", 2, NL, H);
    ADD("classifier.bias", 1, NL, 0);
    mkdir(tpath("b"), 0755);
    write_text(tpath("b/config.json"),
               "{\"model_type\": \"bert\", \"architectures\": [\"BertForSequenceClassification\"],"
               " \"num_hidden_layers\": 1, \"hidden_size\": 8, \"num_attention_heads\": 2, \"intermediate_size\": 12,"
               " \"vocab_size\": 13, \"max_position_embeddings\": 5, \"type_vocab_size\": 2, \"layer_norm_eps\": 1e-12,"
               " \"hidden_act\": \"gelu\", \"id2label\": {\"1\": \"b\", \"0\": \"a\", \"2\": \"c\"}}");
    write_text(tpath("b/vocab.txt"), "[PAD]\n[UNK]\n");
    /* shards: the first 10 tensors in one file, the rest in another */
    write_tensors(tpath("b/s1.safetensors"), t, 10, 8);
    write_tensors(tpath("b/s2.safetensors"), t + 10, n - 10, 8);
    char idx[8192];
    size_t k = (size_t)snprintf(idx, sizeof idx, "{\"metadata\": {}, \"weight_map\": {");
    for (int i = 0; i < n; i++)
        k += (size_t)snprintf(idx + k, sizeof idx - k, "%s\"%s\": \"%s\"", i ? ", " : "", t[i].name, i < 10 ? "s1.safetensors" : "s2.safetensors");
    snprintf(idx + k, sizeof idx - k, "}}");
    write_text(tpath("b/model.safetensors.index.json"), idx);
    sk_model *m = expect_load("sharded, 2 files", tpath("b"), NULL);
    if (m) {
        CHECK(sk_model_params(m, NULL) == count_params(t, n));
        CHECK(m->n_maps == 2 && m->tokenizer_dir && !strcmp(m->tokenizer_dir, tpath("b")));
        CHECK(m->arch.n_labels == 3 && m->arch.labels && !strcmp(m->arch.labels[1], "b"));
        CHECK(m->g.n_inputs == 3 && m->g.n_outputs == 1 && !strcmp(m->g.tensors[m->g.outputs[0]].name, "logits"));
        CHECK(m->g.tensors[m->g.outputs[0]].dims[1] == NL);
        printf("  params %lld, %d nodes, labels %s %s %s\n", (long long)sk_model_params(m, NULL), m->g.n_nodes,
               m->arch.labels[0], m->arch.labels[1], m->arch.labels[2]);
    }
    sk_model_free(m);

    /* an index that lies */
    char *bad = strstr(idx, "\"bert.pooler.dense.bias\": \"s2.safetensors\"");
    CHECK(bad != NULL);
    if (bad) memcpy(strstr(bad, "s2"), "s1", 2);
    write_text(tpath("b/model.safetensors.index.json"), idx);
    expect_load("index points wrong", tpath("b"), "tensor 'bert.pooler.dense.bias' is listed in shard 's1.safetensors' but not found there");
    write_text(tpath("b/model.safetensors.index.json"), "{\"weight_map\": {\"a\": \"../etc/passwd\"}}");
    expect_load("index path escape", tpath("b"), "shard must be a file name in the same folder");
    write_text(tpath("b/model.safetensors.index.json"), "{\"weight_map\": {\"a\": \"nope.safetensors\"}}");
    expect_load("index missing shard", tpath("b"), "nope.safetensors");
    write_text(tpath("b/model.safetensors.index.json"), "{\"weight_map\": [1]}");
    expect_load("index malformed", tpath("b"), "missing or non-object 'weight_map'");
    unlink(tpath("b/model.safetensors.index.json"));
    unlink(tpath("b/s1.safetensors"));
    unlink(tpath("b/s2.safetensors"));
    unlink(tpath("b/vocab.txt"));
    unlink(tpath("b/config.json"));
    rmdir(tpath("b"));
}

/* ---- config.json ---- */

static void cfg_case(const char *what, const char *json, const char *want)
{
    char *p = tpath("config.json");
    write_text(p, json);
    sk_arch a;
    sk_status st = sk_hf_config_load(p, &a, NULL);
    printf("  %-28s -> %s\n", what, st ? sk_errmsg() : "ok");
    CHECK(st != SK_OK);
    CHECK(strstr(sk_errmsg(), want) != NULL);
    CHECK(strstr(sk_errmsg(), "config.json") != NULL);
    CHECK(a.labels == NULL);
}

#define BERT_KEYS "\"model_type\": \"bert\", \"num_hidden_layers\": 2, \"intermediate_size\": 37, \"vocab_size\": 99, " \
                  "\"max_position_embeddings\": 40"

static void test_configs(void)
{
    printf("bad config.json:\n");
    cfg_case("not JSON", "{\"model_type\": ", "not valid JSON");
    cfg_case("not an object", "[]", "not a JSON object");
    cfg_case("missing key", "{" BERT_KEYS ", \"hidden_size\": 32}", "missing key 'num_attention_heads'");
    cfg_case("wrong type", "{" BERT_KEYS ", \"hidden_size\": 32, \"num_attention_heads\": \"x\"}",
             "key 'num_attention_heads': expected a positive integer, got \"x\"");
    cfg_case("negative value", "{" BERT_KEYS ", \"hidden_size\": -4, \"num_attention_heads\": 4}",
             "key 'hidden_size': expected a positive integer, got -4");
    cfg_case("fractional value", "{" BERT_KEYS ", \"hidden_size\": 32.5, \"num_attention_heads\": 4}",
             "key 'hidden_size': expected a positive integer, got 32.5");
    cfg_case("not divisible by heads", "{" BERT_KEYS ", \"hidden_size\": 30, \"num_attention_heads\": 4}",
             "hidden size 30 is not divisible by the number of heads 4");
    cfg_case("too large", "{" BERT_KEYS ", \"hidden_size\": 1e9, \"num_attention_heads\": 4}",
             "key 'hidden_size': 1000000000 is too large (at most 65536)");
    cfg_case("bad eps", "{" BERT_KEYS ", \"hidden_size\": 32, \"num_attention_heads\": 4, \"layer_norm_eps\": \"small\"}",
             "key 'layer_norm_eps': expected a number in (0, 1)");
    cfg_case("unknown activation", "{" BERT_KEYS ", \"hidden_size\": 32, \"num_attention_heads\": 4, \"hidden_act\": \"swish\"}",
             "key 'hidden_act': activation \"swish\" is not supported");
    cfg_case("model_type missing", "{\"hidden_size\": 32}", "missing key 'model_type'");
    cfg_case("model_type unknown", "{\"model_type\": \"t5\"}", "model_type \"t5\" is not supported");
    cfg_case("architecture unknown", "{" BERT_KEYS ", \"architectures\": [\"BertForMaskedLM\"]}",
             "architecture \"BertForMaskedLM\" is not supported");
    cfg_case("architecture mismatch", "{" BERT_KEYS ", \"architectures\": [\"GPT2Model\"]}", "not supported for model_type bert");
    cfg_case("architectures type", "{" BERT_KEYS ", \"architectures\": \"BertModel\"}", "key 'architectures'");
    cfg_case("id2label bad id", "{" BERT_KEYS ", \"hidden_size\": 32, \"num_attention_heads\": 4, \"architectures\": "
             "[\"BertForSequenceClassification\"], \"id2label\": {\"0\": \"a\", \"5\": \"b\"}}",
             "key 'id2label': id \"5\" is not an integer in 0..1");
    cfg_case("id2label bad label", "{" BERT_KEYS ", \"hidden_size\": 32, \"num_attention_heads\": 4, \"architectures\": "
             "[\"BertForSequenceClassification\"], \"id2label\": {\"0\": \"a\", \"1\": 2}}",
             "key 'id2label': label 1: expected a string, got 2");
    cfg_case("relative positions", "{" BERT_KEYS ", \"hidden_size\": 32, \"num_attention_heads\": 4, "
             "\"position_embedding_type\": \"relative_key\"}", "key 'position_embedding_type'");
    cfg_case("gpt2 negative n_head", "{\"model_type\": \"gpt2\", \"n_layer\": 2, \"n_embd\": 8, \"n_head\": -2, "
             "\"vocab_size\": 11, \"n_positions\": 6}", "key 'n_head': expected a positive integer, got -2");
    cfg_case("gpt2 n_inner string", "{\"model_type\": \"gpt2\", \"n_layer\": 2, \"n_embd\": 8, \"n_head\": 2, "
             "\"vocab_size\": 11, \"n_positions\": 6, \"n_inner\": \"4x\"}", "key 'n_inner': expected a positive integer");
    cfg_case("gpt2 unscaled attention", "{\"model_type\": \"gpt2\", \"n_layer\": 2, \"n_embd\": 8, \"n_head\": 2, "
             "\"vocab_size\": 11, \"n_positions\": 6, \"scale_attn_weights\": false}", "key 'scale_attn_weights'");
#define BERT4 "{" BERT_KEYS ", \"hidden_size\": 32, \"num_attention_heads\": 4, \"pruned_heads\": "
    cfg_case("pruned_heads not an object", BERT4 "[1]}", "key 'pruned_heads': expected an object");
    cfg_case("pruned_heads layer", BERT4 "{\"2\": [0]}}", "key 'pruned_heads': layer \"2\" is not one of 0..1");
    cfg_case("pruned_heads head", BERT4 "{\"0\": [4]}}", "layer 0: head 4 is not a distinct index in 0..3");
    cfg_case("pruned_heads twice", BERT4 "{\"1\": [1, 1]}}", "layer 1: head 1 is not a distinct index");
    cfg_case("pruned_heads all", BERT4 "{\"1\": [0, 1, 2, 3]}}", "layer 1: all 4 heads pruned");
    sk_arch a;
    char *p = tpath("config.json");
    sk_hf_info info;
    write_text(p, BERT4 "{\"0\": [3, 1], \"1\": []}}");
    CHECK(sk_hf_config_load(p, &a, &info) == SK_OK);
    printf("  pruned_heads {\"0\": [3, 1], \"1\": []}: heads kept %d, %d\n", info.layer_heads ? info.layer_heads[0] : -1,
           info.layer_heads ? info.layer_heads[1] : -1);
    CHECK(info.layer_heads && info.layer_heads[0] == 2 && info.layer_heads[1] == 4);
    sk_free(info.layer_heads);
    sk_hf_arch_clear(&a);
#undef BERT4
    write_text(p, gpt2_config);
    CHECK(sk_hf_config_load(p, &a, &info) == SK_OK);
    CHECK(a.family == SK_FAM_GPT2 && a.ffn == 32 && a.hidden == 8 && a.heads == 2 && !strcmp(a.act, "gelu_new"));
    CHECK(!strcmp(info.architecture, "GPT2LMHeadModel") && !strcmp(a.task, "lm") && fabsf(a.eps - 1e-5f) < 1e-12f);
    CHECK(info.layer_heads == NULL);
    sk_hf_arch_clear(&a);
    unlink(p);
}

/* ---- debug entries for the Python tests ---- */

static cJSON *tensor_json(const sk_tensor *t)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", t->name);
    cJSON_AddStringToObject(o, "dtype", sk_dtype_info(t->dtype)->name);
    cJSON *d = cJSON_AddArrayToObject(o, "dims");
    for (int i = 0; i < t->rank; i++)
        cJSON_AddItemToArray(d, t->dims[i] < 0 && t->dim_names[i] ? cJSON_CreateString(t->dim_names[i])
                                                                   : cJSON_CreateNumber((double)t->dims[i]));
    return o;
}

static int summary(const char *path)
{
    sk_model *m = NULL;
    sk_status st = sk_model_load(path, &m);
    if (st) { fprintf(stderr, "%s\n", sk_errmsg()); return 1; }
    cJSON *o = cJSON_CreateObject();
    const sk_arch *a = &m->arch;
    cJSON_AddNumberToObject(o, "params", (double)sk_model_params(m, NULL));
    cJSON_AddStringToObject(o, "family", sk_family_name(a->family));
    cJSON_AddStringToObject(o, "task", a->task);
    cJSON_AddNumberToObject(o, "layers", a->n_layers);
    cJSON_AddNumberToObject(o, "hidden", a->hidden);
    cJSON_AddNumberToObject(o, "heads", a->heads);
    cJSON_AddNumberToObject(o, "ffn", a->ffn);
    cJSON_AddNumberToObject(o, "vocab", a->vocab);
    cJSON_AddNumberToObject(o, "max_pos", a->max_pos);
    cJSON_AddNumberToObject(o, "n_labels", a->n_labels);
    cJSON_AddStringToObject(o, "act", a->act);
    cJSON_AddNumberToObject(o, "eps", a->eps);
    cJSON *lb = cJSON_AddArrayToObject(o, "labels");
    for (int i = 0; a->labels && i < a->n_labels; i++) cJSON_AddItemToArray(lb, cJSON_CreateString(a->labels[i]));
    cJSON *in = cJSON_AddArrayToObject(o, "inputs"), *out = cJSON_AddArrayToObject(o, "outputs");
    for (int i = 0; i < m->g.n_inputs; i++) cJSON_AddItemToArray(in, tensor_json(&m->g.tensors[m->g.inputs[i]]));
    for (int i = 0; i < m->g.n_outputs; i++) cJSON_AddItemToArray(out, tensor_json(&m->g.tensors[m->g.outputs[i]]));
    cJSON *ops = cJSON_AddObjectToObject(o, "ops");
    for (int i = 0; i < m->g.n_nodes; i++) {
        const char *nm = sk_op_get(m->g.nodes[i].op)->name;
        cJSON *c = cJSON_GetObjectItemCaseSensitive(ops, nm);
        if (c) cJSON_SetNumberValue(c, c->valuedouble + 1);
        else cJSON_AddNumberToObject(ops, nm, 1);
    }
    int owned = 0, mapped = 0;
    cJSON *wn = cJSON_AddArrayToObject(o, "weights");
    for (int i = 0; i < m->g.n_tensors; i++) {
        const sk_tensor *t = &m->g.tensors[i];
        if (!(t->flags & SK_TF_WEIGHT)) continue;
        if (t->flags & SK_TF_OWNED) owned++;
        else mapped++;
        cJSON_AddItemToArray(wn, cJSON_CreateString(t->name));
    }
    cJSON_AddNumberToObject(o, "owned_weights", owned);
    cJSON_AddNumberToObject(o, "mapped_weights", mapped);
    cJSON_AddNumberToObject(o, "nodes", m->g.n_nodes);
    cJSON_AddItemToObject(o, "tokenizer_dir", m->tokenizer_dir ? cJSON_CreateString(m->tokenizer_dir) : cJSON_CreateNull());
    char *s = cJSON_Print(o);
    printf("%s\n", s);
    cJSON_free(s);
    cJSON_Delete(o);
    sk_model_free(m);
    return 0;
}

/* The graph as JSON (DIR/graph.json) and every constant as DIR/const.<id>.npy,
 * for an independent interpreter of the op semantics (test_hf_import.py). */
static int dump(const char *path, const char *dir)
{
    sk_model *m = NULL;
    sk_status st = sk_model_load(path, &m);
    if (st) { fprintf(stderr, "%s\n", sk_errmsg()); return 1; }
    cJSON *o = cJSON_CreateObject();
    cJSON *ts = cJSON_AddArrayToObject(o, "tensors"), *ns = cJSON_AddArrayToObject(o, "nodes");
    for (int i = 0; i < m->g.n_tensors && !st; i++) {
        const sk_tensor *t = &m->g.tensors[i];
        cJSON *j = tensor_json(t);
        cJSON_AddBoolToObject(j, "const", (t->flags & SK_TF_CONST) != 0);
        cJSON_AddItemToArray(ts, j);
        if (t->flags & SK_TF_CONST) {
            char p[1024];
            snprintf(p, sizeof p, "%s/const.%d.npy", dir, i);
            st = sk_npy_write(p, t->dtype, t->rank, t->dims, t->data, true);
        }
    }
    for (int i = 0; i < m->g.n_nodes; i++) {
        const sk_node *n = &m->g.nodes[i];
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "op", sk_op_get(n->op)->name);
        cJSON_AddStringToObject(j, "name", n->name);
        cJSON_AddItemToObject(j, "in", cJSON_CreateIntArray(n->in, n->n_in));
        cJSON_AddItemToObject(j, "out", cJSON_CreateIntArray(n->out, n->n_out));
        cJSON *at = cJSON_AddObjectToObject(j, "attrs");
        for (int k = 0; k < n->n_attrs; k++) {
            const sk_attr *a = &n->attrs[k];
            if (a->type == SK_ATTR_INT) cJSON_AddNumberToObject(at, a->name, (double)a->i);
            else if (a->type == SK_ATTR_FLOAT) cJSON_AddNumberToObject(at, a->name, a->f);
            else if (a->type == SK_ATTR_STRING) cJSON_AddStringToObject(at, a->name, a->s);
        }
        cJSON_AddItemToArray(ns, j);
    }
    cJSON_AddItemToObject(o, "inputs", cJSON_CreateIntArray(m->g.inputs, m->g.n_inputs));
    cJSON_AddItemToObject(o, "outputs", cJSON_CreateIntArray(m->g.outputs, m->g.n_outputs));
    char *s = cJSON_Print(o), p[1024];
    snprintf(p, sizeof p, "%s/graph.json", dir);
    FILE *f = st ? NULL : fopen(p, "w");
    if (f) { fputs(s, f); fclose(f); }
    cJSON_free(s);
    cJSON_Delete(o);
    sk_model_free(m);
    if (st || !f) fprintf(stderr, "dump failed: %s\n", st ? sk_errmsg() : p);
    return st || !f;
}

static int run(const char *path, const char *in_dir, const char *out_dir)
{
    sk_model *m = NULL;
    sk_session *s = NULL;
    sk_npy x[8];   /* the session reads bound inputs during sk_session_run */
    int nx = 0;
    sk_status st = sk_model_load(path, &m);
    if (!st) st = sk_session_new(m, NULL, &s);
    for (int i = 0; !st && i < m->g.n_inputs && nx < 8; i++) {
        const char *name = m->g.tensors[m->g.inputs[i]].name;
        char p[1024];
        snprintf(p, sizeof p, "%s/in.%s.npy", in_dir, name);
        if (!sk_file_exists(p)) continue;   /* the session fills defaults */
        if ((st = sk_npy_read(p, &x[nx]))) break;
        nx++;
        st = sk_session_set_input(s, name, (sk_dtype)x[nx - 1].dtype, x[nx - 1].rank, x[nx - 1].dims, x[nx - 1].data);
    }
    if (!st) st = sk_session_run(s);
    for (int i = 0; !st && i < sk_session_n_outputs(s); i++) {
        const sk_rtensor *o = sk_session_output(s, i);
        char p[1024];
        snprintf(p, sizeof p, "%s/out.%s.npy", out_dir, sk_session_output_name(s, i));
        st = sk_npy_write(p, o->dtype, o->rank, o->dims, o->data, true);
    }
    if (st) fprintf(stderr, "%s\n", sk_errmsg());
    for (int i = 0; i < nx; i++) sk_free(x[i].data);
    sk_session_free(s);
    sk_model_free(m);
    return st ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "--summary")) return summary(argv[2]);
    if (argc == 5 && !strcmp(argv[1], "--run")) return run(argv[2], argv[3], argv[4]);
    if (argc == 4 && !strcmp(argv[1], "--dump")) return dump(argv[2], argv[3]);
    if (argc != 1) { fprintf(stderr, "usage: test_safetensors [--summary MODEL | --run MODEL IN_DIR OUT_DIR | --dump MODEL DIR]\n"); return 2; }
    snprintf(tmpdir, sizeof tmpdir, "/tmp/sk_st_XXXXXX");
    if (!mkdtemp(tmpdir)) { perror("mkdtemp"); return 1; }
    test_bad_safetensors();
    test_good_safetensors();
    test_configs();
    test_gpt2_import();
    test_bert_import();
    const char *files[] = {"bad.safetensors", "good.safetensors", "x.bin", "g/config.json", "g/model.safetensors"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) unlink(tpath(files[i]));
    rmdir(tpath("g"));
    rmdir(tmpdir);
    printf("%d checks, %d failed\n", checks, fails);
    return fails ? 1 : 0;
}
