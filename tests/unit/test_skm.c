/* test_skm.c — the .skm artifact (formats/skm.c, spec docs/formats.md).
 *
 * A small model is built by hand with a constant of every dtype (q4 with its
 * quant parameters), nodes carrying every attribute type (floats such as -0,
 * NaN with a payload and subnormals; int64 extremes), arch with labels,
 * provenance and embedded tokenizer files.  Saved without and with zstd and
 * loaded back, every field and every byte must be equal, and saving the
 * loaded model again must give the same file bytes.  Then hostile files: cut
 * at many points, bad magic / version / flags, lying lengths, corrupt JSON,
 * flipped payload bytes, wrong checksums, overlapping / unaligned / out of
 * range payloads, unknown dtypes and ops, dangling ids, zstd size lies —
 * each must fail naming the file and the place.  Last, every allocation of a
 * save and of a load is made to fail in turn (run under SAN=1 for leaks).
 */
#include <cJSON.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "formats.h"
#include "text/text.h"
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
    if (!f) { perror(path); exit(2); }
    if (n) fwrite(p, 1, n, f);
    fclose(f);
}

static unsigned char *read_bytes(const char *path, size_t *n)
{
    char *d;
    if (sk_read_file(path, &d, n)) { printf("cannot read %s: %s\n", path, sk_errmsg()); exit(2); }
    return (unsigned char *)d;
}

/* ---- the model ---- */

#define UNUSED10(d) "[unused" d "0]\n[unused" d "1]\n[unused" d "2]\n[unused" d "3]\n[unused" d "4]\n" \
                    "[unused" d "5]\n[unused" d "6]\n[unused" d "7]\n[unused" d "8]\n[unused" d "9]\n"
static const char vocab_txt[] = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\nworld\n##s\n"
    UNUSED10("1") UNUSED10("2") UNUSED10("3") UNUSED10("4") UNUSED10("5") UNUSED10("6");
static const char tok_config[] = "{\"do_lower_case\": true}";

static uint32_t rng = 12345;
static uint32_t rnd(void) { rng = rng * 1664525u + 1013904223u; return rng >> 8; }

/* A constant of n bytes: random (incompressible) or a compressible ramp. */
static void *bytes_of(size_t n, bool compressible)
{
    unsigned char *p = sk_malloc(n ? n : 1);
    for (size_t i = 0; i < n; i++) p[i] = compressible ? (unsigned char)(i / 64) : (unsigned char)rnd();
    return p;
}

static int add_const(sk_model *m, const char *name, sk_dtype dt, int rank, const int64_t *dims, bool compressible)
{
    int64_t n = 1;
    for (int i = 0; i < rank; i++) n *= dims[i];
    size_t nb;
    if (!sk_dtype_nbytes(dt, n, &nb)) { printf("bad test shape for %s\n", name); exit(2); }
    int id = sk_graph_add_const(&m->g, name, dt, rank, dims, bytes_of(nb, compressible), true);
    if (id < 0) { printf("add_const %s: %s\n", name, sk_errmsg()); exit(2); }
    m->g.tensors[id].flags |= SK_TF_WEIGHT;
    return id;
}

static float fbits(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

static sk_model *build_model(void)
{
    sk_model *m = sk_model_new();
    sk_graph *g = &m->g;
    /* one constant of every plain dtype (f32 twice: random and compressible) */
    int64_t d16[2] = {4, 16}, d3[1] = {3}, d0[1] = {0}, d257[1] = {257};
    static const sk_dtype plain[] = {SK_DT_F16, SK_DT_BF16, SK_DT_F64, SK_DT_I64, SK_DT_I32, SK_DT_I16,
                                     SK_DT_I8, SK_DT_U8, SK_DT_BOOL};
    add_const(m, "w_f32", SK_DT_F32, 2, d16, false);
    add_const(m, "ramp_i64", SK_DT_I64, 1, d257, true);
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "c_%s", sk_dtype_info(plain[i])->name);
        add_const(m, name, plain[i], i % 2 ? 1 : 2, i % 2 ? d3 : d16, i == 3);
    }
    int empty = sk_graph_add_const(g, "empty", SK_DT_F32, 1, d0, NULL, false);
    CHECK(empty >= 0);
    /* a 4-bit linear: W q4 [8, 16], scales f32 [8, 4], zeros u8 [8, 4] */
    int64_t dw[2] = {8, 16}, ds[2] = {8, 4}, db[1] = {8};
    int w = add_const(m, "lin.weight", SK_DT_Q4, 2, dw, false);
    int sc = add_const(m, "lin.scales", SK_DT_F32, 2, ds, false);
    int zp = add_const(m, "lin.zeros", SK_DT_U8, 2, ds, false);
    int bias = add_const(m, "lin.bias", SK_DT_F32, 1, db, false);
    g->tensors[w].quant = sk_malloc(sizeof(sk_quant));
    *g->tensors[w].quant = (sk_quant){.bits = 4, .group = 4, .axis = 1, .symmetric = false, .scales = sc, .zeros = zp};
    /* graph: x [batch, 16] -> Linear -> h -> Add(h, bias) -> y; an unnamed, untyped intermediate */
    int64_t dx[2] = {-1, 16};
    int x = sk_graph_add_tensor(g, "x", SK_DT_F32, 2, dx);
    g->tensors[x].dim_names[0] = sk_strdup("batch");
    int h = sk_graph_add_tensor(g, "", SK_DT_UNDEF, -1, NULL);
    int64_t dy[2] = {-1, 8};
    int y = sk_graph_add_tensor(g, "y \"quoted\" \xc3\xa9", SK_DT_F32, 2, dy);
    sk_graph_add_input(g, x);
    int ins[5] = {x, w, -1, sc, zp}, outs[1] = {h};
    int n0 = sk_graph_add_node(g, SK_OP_LINEAR, "lin", ins, 5, outs, 1);
    sk_node *n = &g->nodes[n0];
    sk_node_set_i(n, "bits", 4);
    sk_node_set_i(n, "group", 4);
    sk_node_set_i(n, "big", INT64_MAX);
    sk_node_set_i(n, "small", INT64_MIN);
    sk_node_set_i(n, "edge", ((int64_t)1 << 53) + 1);
    sk_node_set_f(n, "negzero", -0.0f);
    sk_node_set_f(n, "nan", fbits(0x7fc00123));   /* NaN with a payload */
    sk_node_set_f(n, "ninf", -INFINITY);
    sk_node_set_f(n, "subnormal", fbits(0x00000001));
    sk_node_set_f(n, "tenth", 0.1f);
    sk_node_set_f(n, "max", 3.4028235e38f);
    sk_node_set_s(n, "act", "");
    sk_node_set_s(n, "text", "a\"b\\c\n\x01 \xc3\xa9\xe4\xb8\xad");
    int64_t iv[5] = {0, -1, ((int64_t)1 << 53) + 1, INT64_MAX, INT64_MIN};
    sk_node_set_ints(n, "ints", iv, 5);
    sk_node_set_ints(n, "no_ints", NULL, 0);
    float fv[6] = {1.5f, -0.0f, 1e-40f, 3.4028235e38f, 0.1f, fbits(0xff800001)};
    sk_node_set_floats(n, "floats", fv, 6);
    sk_node_set_floats(n, "no_floats", NULL, 0);
    int ins2[2] = {h, bias}, outs2[1] = {y};
    sk_graph_add_node(g, SK_OP_ADD, "", ins2, 2, outs2, 1);
    sk_graph_add_output(g, y);
    /* a quantized embedding table (ir.h Gather): q4 [5, 6] (rows start mid-byte), groups of 4 (the last one
     * 2 wide): scales f32 [5, 2], zeros u8 [5, 2] */
    int64_t dt[2] = {5, 6}, dts[2] = {5, 2}, di[2] = {-1, -1}, de[3] = {-1, -1, 6};
    int tab = add_const(m, "emb.weight", SK_DT_Q4, 2, dt, false);
    int tsc = add_const(m, "emb.weight.scales", SK_DT_F32, 2, dts, false);
    int tz = add_const(m, "emb.weight.zeros", SK_DT_U8, 2, dts, true);
    g->tensors[tab].quant = sk_malloc(sizeof(sk_quant));
    *g->tensors[tab].quant = (sk_quant){.bits = 4, .group = 4, .axis = 1, .symmetric = false, .scales = tsc, .zeros = tz};
    int ids = sk_graph_add_tensor(g, "ids", SK_DT_I64, 2, di), emb = sk_graph_add_tensor(g, "emb", SK_DT_F32, 3, de);
    sk_graph_add_input(g, ids);
    int n1 = sk_graph_add_node(g, SK_OP_GATHER, "emb", (int[]){tab, ids, tsc, tz}, 4, &emb, 1);
    sk_node_set_i(&g->nodes[n1], "bits", 4);
    sk_node_set_i(&g->nodes[n1], "group", 4);
    sk_graph_add_output(g, emb);
    /* arch, provenance, files */
    m->arch.family = SK_FAM_BERT;
    strcpy(m->arch.task, "seq-classification");
    m->arch.n_layers = 2, m->arch.hidden = 16, m->arch.heads = 2, m->arch.ffn = 64, m->arch.vocab = 8;
    m->arch.max_pos = 32, m->arch.type_vocab = 2, m->arch.n_labels = 3;
    m->arch.eps = 1e-12f;
    strcpy(m->arch.act, "gelu");
    m->arch.labels = sk_calloc(3, sizeof(char *));
    m->arch.labels[0] = sk_strdup("neg");
    m->arch.labels[1] = sk_strdup("pos");
    m->arch.labels[2] = sk_strdup("\xc3\xbcnicode");
    sk_model_add_prov(m, "fuse", "{}");
    sk_model_add_prov(m, "quantize", "{\"bits\":4,\"group\":4,\"scheme\":\"rtn\"}");
    sk_model_add_prov(m, "spaced", "{ \"a\" : 1 }");
    sk_model_add_prov(m, "raw", "not json at all");
    sk_model_add_file(m, "vocab.txt", vocab_txt, sizeof vocab_txt - 1);
    sk_model_add_file(m, "tokenizer_config.json", tok_config, sizeof tok_config - 1);
    if (sk_graph_verify(g)) { printf("test model invalid: %s\n", sk_errmsg()); exit(2); }
    return m;
}

/* ---- comparing two models field by field ---- */

static int diffs;
#define SAME(c, ...) do { if (!(c)) { diffs++; printf("  differs: "); printf(__VA_ARGS__); printf("\n"); } } while (0)

static bool same_str(const char *a, const char *b) { return (!a && !b) || (a && b && !strcmp(a, b)); }

static void compare_models(const sk_model *a, const sk_model *b)
{
    diffs = 0;
    const sk_graph *ga = &a->g, *gb = &b->g;
    SAME(ga->n_tensors == gb->n_tensors, "tensor count %d vs %d", ga->n_tensors, gb->n_tensors);
    for (int i = 0; i < ga->n_tensors && i < gb->n_tensors; i++) {
        const sk_tensor *x = &ga->tensors[i], *y = &gb->tensors[i];
        SAME(!strcmp(x->name, y->name), "tensor %d name", i);
        SAME(x->dtype == y->dtype && x->rank == y->rank, "tensor %d type", i);
        for (int d = 0; d < x->rank && d < SK_MAX_RANK; d++) {
            SAME(x->dims[d] == y->dims[d], "tensor %d dim %d", i, d);
            SAME(same_str(x->dim_names[d], y->dim_names[d]), "tensor %d dim name %d", i, d);
        }
        SAME((x->flags & ~SK_TF_OWNED) == (y->flags & ~SK_TF_OWNED), "tensor %d flags %x vs %x", i, x->flags, y->flags);
        SAME(x->nbytes == y->nbytes, "tensor %d nbytes", i);
        if (x->nbytes == y->nbytes && x->nbytes) SAME(!memcmp(x->data, y->data, x->nbytes), "tensor %d bytes", i);
        SAME(!x->quant == !y->quant, "tensor %d quant presence", i);
        if (x->quant && y->quant)
            SAME(x->quant->bits == y->quant->bits && x->quant->group == y->quant->group &&
                 x->quant->axis == y->quant->axis && x->quant->symmetric == y->quant->symmetric &&
                 x->quant->scales == y->quant->scales && x->quant->zeros == y->quant->zeros, "tensor %d quant", i);
    }
    SAME(ga->n_nodes == gb->n_nodes, "node count");
    for (int i = 0; i < ga->n_nodes && i < gb->n_nodes; i++) {
        const sk_node *x = &ga->nodes[i], *y = &gb->nodes[i];
        SAME(x->op == y->op && !strcmp(x->name, y->name), "node %d op/name", i);
        SAME(x->n_in == y->n_in && x->n_out == y->n_out, "node %d arity", i);
        if (x->n_in == y->n_in) SAME(!memcmp(x->in, y->in, (size_t)x->n_in * sizeof(int)), "node %d inputs", i);
        if (x->n_out == y->n_out) SAME(!memcmp(x->out, y->out, (size_t)x->n_out * sizeof(int)), "node %d outputs", i);
        SAME(x->n_attrs == y->n_attrs, "node %d attr count", i);
        for (int k = 0; k < x->n_attrs && k < y->n_attrs; k++) {
            const sk_attr *p = &x->attrs[k], *q = &y->attrs[k];
            SAME(!strcmp(p->name, q->name) && p->type == q->type, "node %d attr %d name/type", i, k);
            if (p->type != q->type) continue;
            switch (p->type) {
            case SK_ATTR_INT: SAME(p->i == q->i, "attr %s", p->name); break;
            case SK_ATTR_FLOAT: SAME(!memcmp(&p->f, &q->f, 4), "attr %s bits", p->name); break;
            case SK_ATTR_STRING: SAME(!strcmp(p->s, q->s), "attr %s", p->name); break;
            case SK_ATTR_INTS:
                SAME(p->n == q->n && (!p->n || !memcmp(p->ints, q->ints, (size_t)p->n * 8)), "attr %s", p->name);
                break;
            case SK_ATTR_FLOATS:
                SAME(p->n == q->n && (!p->n || !memcmp(p->floats, q->floats, (size_t)p->n * 4)), "attr %s bits", p->name);
                break;
            }
        }
    }
    SAME(ga->n_inputs == gb->n_inputs && !memcmp(ga->inputs, gb->inputs, (size_t)ga->n_inputs * sizeof(int)), "inputs");
    SAME(ga->n_outputs == gb->n_outputs && !memcmp(ga->outputs, gb->outputs, (size_t)ga->n_outputs * sizeof(int)), "outputs");
    const sk_arch *p = &a->arch, *q = &b->arch;
    SAME(p->family == q->family && !strcmp(p->task, q->task) && !strcmp(p->act, q->act), "arch names");
    SAME(p->n_layers == q->n_layers && p->hidden == q->hidden && p->heads == q->heads && p->ffn == q->ffn &&
         p->vocab == q->vocab && p->max_pos == q->max_pos && p->type_vocab == q->type_vocab &&
         p->n_labels == q->n_labels, "arch sizes");
    SAME(!memcmp(&p->eps, &q->eps, 4), "arch eps bits");
    SAME(!p->labels == !q->labels, "arch labels presence");
    for (int i = 0; p->labels && q->labels && i < p->n_labels; i++) SAME(!strcmp(p->labels[i], q->labels[i]), "label %d", i);
    SAME(a->n_prov == b->n_prov, "provenance count");
    for (int i = 0; i < a->n_prov && i < b->n_prov; i++)
        SAME(!strcmp(a->prov[i].pass, b->prov[i].pass) && !strcmp(a->prov[i].params_json, b->prov[i].params_json),
             "provenance %d: '%s' vs '%s'", i, a->prov[i].params_json, b->prov[i].params_json);
    SAME(a->n_files == b->n_files, "file count %d vs %d", a->n_files, b->n_files);
    for (int i = 0; i < a->n_files && i < b->n_files; i++)
        SAME(!strcmp(a->files[i].name, b->files[i].name) && a->files[i].len == b->files[i].len &&
             !memcmp(a->files[i].data, b->files[i].data, a->files[i].len), "file %d", i);
}

/* ---- round trips ---- */

static cJSON *header_of(const unsigned char *f, size_t len, size_t *hlen)
{
    uint64_t h = 0;
    for (int i = 7; i >= 0; i--) h = h << 8 | f[16 + i];
    *hlen = (size_t)h;
    if (len < 32 || h > len - 32) return NULL;
    return cJSON_ParseWithLength((const char *)f + 32, (size_t)h);
}

static void test_roundtrip(int level)
{
    printf("round trip, zstd level %d\n", level);
    sk_model *m = build_model();
    char *a = tpath(level ? "rt_z.skm" : "rt.skm"), *b = tpath(level ? "rt_z2.skm" : "rt2.skm");
    sk_skm_opts o = {.zstd_level = level, .force = true};
    CHECK(sk_skm_save(m, a, &o) == SK_OK);
    sk_model *l = NULL;
    sk_status st = sk_skm_load(a, &l);
    CHECK(st == SK_OK && l);
    if (st) { printf("  load: %s\n", sk_errmsg()); sk_model_free(m); return; }
    compare_models(m, l);
    printf("  every field and byte equal after save -> load: %s (%d differences)\n", diffs ? "NO" : "yes", diffs);
    CHECK(diffs == 0);
    CHECK(l->source && !strcmp(l->source, a) && !l->tokenizer_dir);
    /* payloads: in place (64-aligned, in the mapping, not owned) unless compressed */
    size_t len;
    unsigned char *f = read_bytes(a, &len);
    size_t hlen;
    cJSON *h = header_of(f, len, &hlen);
    CHECK(h != NULL);
    int n_z = 0, n_raw = 0, bad_place = 0;
    const cJSON *ts = cJSON_GetObjectItem(h, "tensors");
    int i = 0;
    for (const cJSON *t = ts ? ts->child : NULL; t; t = t->next, i++) {
        const cJSON *d = cJSON_GetObjectItem(t, "data");
        if (!d) continue;
        bool z = !strcmp(cJSON_GetObjectItem(d, "compression")->valuestring, "zstd");
        const sk_tensor *lt = &l->g.tensors[i];
        n_z += z, n_raw += !z;
        bool owned = (lt->flags & SK_TF_OWNED) != 0;
        bool in_map = l->n_maps == 1 && (const char *)lt->data >= (const char *)l->maps[0].addr &&
                      (const char *)lt->data <= (const char *)l->maps[0].addr + l->maps[0].len;
        if (owned != z || in_map == z || ((uintptr_t)lt->data % 64)) bad_place++;
    }
    printf("  %d payloads stored zstd, %d raw (raw ones 64-aligned in the mapping, zstd ones owned: %s)\n",
           n_z, n_raw, bad_place ? "NO" : "yes");
    CHECK(bad_place == 0);
    if (level) CHECK(n_z > 0 && n_raw > 0);   /* the ramp compresses, random bytes do not */
    else CHECK(n_z == 0);
    /* provenance: compact JSON is embedded as JSON, anything else kept as a string */
    const cJSON *pv = cJSON_GetObjectItem(h, "provenance");
    bool prov_ok = cJSON_GetArraySize(pv) == 4 && cJSON_IsObject(cJSON_GetObjectItem(cJSON_GetArrayItem(pv, 0), "params")) &&
                   cJSON_IsObject(cJSON_GetObjectItem(cJSON_GetArrayItem(pv, 1), "params")) &&
                   cJSON_IsString(cJSON_GetObjectItem(cJSON_GetArrayItem(pv, 2), "params")) &&
                   cJSON_IsString(cJSON_GetObjectItem(cJSON_GetArrayItem(pv, 3), "params"));
    printf("  provenance params: compact JSON embedded as JSON, the rest as strings: %s\n", prov_ok ? "yes" : "NO");
    CHECK(prov_ok);
    cJSON_Delete(h);
    /* deterministic: the loaded model saves to the same bytes */
    CHECK(sk_skm_save(l, b, &o) == SK_OK);
    size_t len2;
    unsigned char *f2 = read_bytes(b, &len2);
    printf("  save -> load -> save gives identical bytes: %s (%zu bytes)\n",
           len == len2 && !memcmp(f, f2, len) ? "yes" : "NO", len);
    CHECK(len == len2 && !memcmp(f, f2, len));
    /* the embedded tokenizer works and matches one from a folder */
    sk_tokenizer *tok = NULL;
    CHECK(sk_model_has_tokenizer(l));
    st = sk_model_tokenizer(l, &tok);
    CHECK(st == SK_OK);
    int32_t *ids = NULL;
    int n = 0;
    if (!st) CHECK(sk_tok_encode(tok, "Hello worlds", true, 0, &ids, &n) == SK_OK);
    int32_t want[5] = {2, 5, 6, 7, 3};
    CHECK(n == 5 && ids && !memcmp(ids, want, sizeof want));
    printf("  embedded tokenizer: 'Hello worlds' -> %d ids%s\n", n, n == 5 && !memcmp(ids, want, sizeof want) ? " (as expected)" : " (WRONG)");
    sk_free(ids);
    sk_tok_free(tok);
    /* sk_model_load dispatches .skm */
    sk_model *l2 = NULL;
    CHECK(sk_model_load(a, &l2) == SK_OK && l2);
    if (l2) { compare_models(m, l2); CHECK(diffs == 0); }
    sk_model_free(l2);
    sk_free(f);
    sk_free(f2);
    sk_model_free(l);
    sk_model_free(m);
}

/* A model whose tokenizer is a folder: the files are embedded on save. */
static void test_tokenizer_dir(void)
{
    char *dir = tpath("tok");
    mkdir(dir, 0755);
    char *vp = sk_path_join(dir, "vocab.txt"), *cp = sk_path_join(dir, "tokenizer_config.json");
    write_bytes(vp, vocab_txt, sizeof vocab_txt - 1);
    write_bytes(cp, tok_config, sizeof tok_config - 1);
    sk_model *m = build_model();
    for (int i = 0; i < m->n_files; i++) { sk_free(m->files[i].name); sk_free(m->files[i].data); }
    sk_free(m->files);
    m->files = NULL;
    m->n_files = 0;
    m->tokenizer_dir = sk_strdup(dir);
    char *p = tpath("tokdir.skm");
    CHECK(sk_skm_save(m, p, &(sk_skm_opts){.force = true}) == SK_OK);
    sk_model *l = NULL;
    CHECK(sk_skm_load(p, &l) == SK_OK && l);
    bool ok = l && l->n_files == 2 && !strcmp(l->files[0].name, "tokenizer_config.json") &&
              !strcmp(l->files[1].name, "vocab.txt") && l->files[1].len == sizeof vocab_txt - 1 &&
              !memcmp(l->files[1].data, vocab_txt, l->files[1].len);
    printf("tokenizer folder embedded on save: %s\n", ok ? "yes (tokenizer_config.json, vocab.txt)" : "NO");
    CHECK(ok);
    sk_model_free(l);
    sk_model_free(m);
    unlink(vp);
    unlink(cp);
    rmdir(dir);
    sk_free(vp);
    sk_free(cp);
}

static int count_temp_files(void)
{
    DIR *d = opendir(tmpdir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));) n += strstr(e->d_name, ".tmp") != NULL;
    if (d) closedir(d);
    return n;
}

static void test_overwrite_and_invalid(void)
{
    sk_model *m = build_model();
    char *p = tpath("exists.skm");
    write_bytes(p, "keep", 4);
    sk_status st = sk_skm_save(m, p, NULL);
    printf("overwrite without force -> %s\n", sk_errmsg());
    CHECK(st == SK_ERR_IO && strstr(sk_errmsg(), "already exists") && strstr(sk_errmsg(), p));
    size_t n;
    unsigned char *b = read_bytes(p, &n);
    CHECK(n == 4 && !memcmp(b, "keep", 4));
    sk_free(b);
    CHECK(sk_skm_save(m, p, &(sk_skm_opts){.force = true}) == SK_OK);
    CHECK(sk_skm_save(m, p, &(sk_skm_opts){.zstd_level = 23, .force = true}) == SK_ERR_INVALID);
    /* an invalid graph is refused, nothing written */
    m->g.nodes[0].in[0] = 999;
    char *q = tpath("invalid.skm");
    st = sk_skm_save(m, q, NULL);
    printf("invalid graph -> %s\n", sk_errmsg());
    CHECK(st == SK_ERR_INVALID && !sk_file_exists(q));
    CHECK(count_temp_files() == 0);
    sk_model_free(m);
}

/* ---- hostile files ---- */

static unsigned char *good;      /* a valid file, uncompressed */
static size_t good_len;
static unsigned char *goodz;     /* the same model with zstd */
static size_t goodz_len;

static void expect_fail(const char *what, const unsigned char *bytes, size_t n, sk_status want_st, const char *want)
{
    char *p = tpath("bad.skm");
    write_bytes(p, bytes, n);
    sk_model *m = (sk_model *)1;
    sk_status st = sk_skm_load(p, &m);
    printf("  %-34s -> %s\n", what, sk_errmsg());
    bool ok = st != SK_OK && m == NULL && strstr(sk_errmsg(), p) && strstr(sk_errmsg(), want) &&
              (want_st == SK_OK || st == want_st);
    if (!ok) printf("FAIL   (wanted '%s', status %s)\n", want, sk_status_name(st));
    CHECK(ok);
    if (st == SK_OK) sk_model_free(m);
}

/* Rebuild a file around a new header (correct length and checksum), keeping
 * the data section; the result is malloc'd. */
static unsigned char *with_header(const unsigned char *f, size_t len, const cJSON *h, size_t *out_len)
{
    size_t hlen;
    cJSON *old = header_of(f, len, &hlen);
    cJSON_Delete(old);
    size_t data = (32 + hlen + 63) / 64 * 64;
    char *text = cJSON_PrintUnformatted(h);
    size_t nh = strlen(text), nd = (32 + nh + 63) / 64 * 64;
    unsigned char *r = calloc(1, nd + (len - data));
    memcpy(r, f, 32);
    for (int i = 0; i < 8; i++) r[16 + i] = (unsigned char)((uint64_t)nh >> (8 * i));
    uint64_t x = sk_skm_xxh64(text, nh, 0);
    for (int i = 0; i < 8; i++) r[24 + i] = (unsigned char)(x >> (8 * i));
    memcpy(r + 32, text, nh);
    memcpy(r + nd, f + data, len - data);
    *out_len = nd + (len - data);
    cJSON_free(text);
    return r;
}

static cJSON *tensor_named(cJSON *h, const char *name)
{
    for (cJSON *t = cJSON_GetObjectItem(h, "tensors")->child; t; t = t->next)
        if (!strcmp(cJSON_GetObjectItem(t, "name")->valuestring, name)) return t;
    printf("no tensor %s in the header\n", name);
    exit(2);
}

static void set_item(cJSON *o, const char *key, cJSON *v) { cJSON_ReplaceItemInObject(o, key, v); }

enum edit {
    E_DTYPE, E_OP, E_INPUT_ID, E_OUTPUT_ID, E_QUANT_REF, E_HASH, E_OFF_PAST, E_OVERLAP, E_UNALIGNED, E_SIZE_LIE,
    E_RAW_LIE_FILE, E_NO_NODES, E_DUP_ATTR, E_ATTR_TYPE, E_CONST_NO_DATA, E_DATA_NOT_CONST, E_ORDER, E_SHAPE,
    E_COMPRESSION, E_LABELS, E_FILE_NAME, E_FLOAT_BITS, E_DATA_BYTES, E_QUANT_SELF, E_DUP_FILE, E_SHAPE_OVERFLOW,
};

static void edit_case(const char *what, enum edit e, bool z, const char *want)
{
    const unsigned char *f = z ? goodz : good;
    size_t len = z ? goodz_len : good_len, hlen;
    cJSON *h = header_of(f, len, &hlen);
    cJSON *nodes = cJSON_GetObjectItem(h, "nodes"), *lin = nodes->child;
    cJSON *w = tensor_named(h, "w_f32"), *wd = cJSON_GetObjectItem(w, "data");
    cJSON *r = tensor_named(h, "ramp_i64"), *rd = cJSON_GetObjectItem(r, "data");
    cJSON *file = cJSON_GetObjectItem(h, "files")->child;
    sk_status want_st = SK_ERR_FORMAT;
    switch (e) {
    case E_DTYPE: set_item(w, "dtype", cJSON_CreateString("f33")); want_st = SK_ERR_UNSUPPORTED; break;
    case E_OP: set_item(lin, "op", cJSON_CreateString("Frobnicate")); want_st = SK_ERR_UNSUPPORTED; break;
    case E_INPUT_ID: cJSON_ReplaceItemInArray(cJSON_GetObjectItem(lin, "inputs"), 1, cJSON_CreateNumber(999)); break;
    case E_OUTPUT_ID: cJSON_ReplaceItemInArray(cJSON_GetObjectItem(h, "outputs"), 0, cJSON_CreateNumber(-1)); break;
    case E_QUANT_REF: set_item(cJSON_GetObjectItem(tensor_named(h, "lin.weight"), "quant"), "scales", cJSON_CreateNumber(999)); break;
    case E_QUANT_SELF: {
        cJSON *lw = tensor_named(h, "lin.weight");
        int id = 0;
        for (cJSON *t = cJSON_GetObjectItem(h, "tensors")->child; t != lw; t = t->next) id++;
        set_item(cJSON_GetObjectItem(lw, "quant"), "zeros", cJSON_CreateNumber(id));
        break;
    }
    case E_HASH: set_item(wd, "xxh64", cJSON_CreateString("0123456789abcdef")); break;
    case E_OFF_PAST: set_item(wd, "offset", cJSON_CreateNumber((double)(len / 64 * 64 + 64))); break;
    case E_OVERLAP: set_item(rd, "offset", cJSON_CreateNumber(cJSON_GetObjectItem(wd, "offset")->valuedouble)); break;
    case E_UNALIGNED: set_item(rd, "offset", cJSON_CreateNumber(cJSON_GetObjectItem(rd, "offset")->valuedouble + 4)); break;
    case E_SIZE_LIE:
        set_item(wd, "size", cJSON_CreateNumber(cJSON_GetObjectItem(wd, "size")->valuedouble + 4));
        set_item(wd, "raw_size", cJSON_CreateNumber(cJSON_GetObjectItem(wd, "raw_size")->valuedouble + 4));
        break;
    case E_RAW_LIE_FILE: {
        cJSON *fd = cJSON_GetObjectItem(file, "data");
        set_item(fd, "raw_size", cJSON_CreateNumber(cJSON_GetObjectItem(fd, "raw_size")->valuedouble + 1));
        break;
    }
    case E_NO_NODES: cJSON_DeleteItemFromObject(h, "nodes"); break;
    case E_DUP_ATTR: {
        cJSON *v = cJSON_CreateObject();
        cJSON_AddNumberToObject(v, "int", 5);
        cJSON_AddItemToObject(cJSON_GetObjectItem(lin, "attrs"), "bits", v);
        break;
    }
    case E_ATTR_TYPE: {
        cJSON *v = cJSON_CreateObject();
        cJSON_AddNumberToObject(v, "double", 5);
        set_item(cJSON_GetObjectItem(lin, "attrs"), "bits", v);
        break;
    }
    case E_CONST_NO_DATA: cJSON_DeleteItemFromObject(w, "data"); break;
    case E_DATA_NOT_CONST: set_item(w, "flags", cJSON_CreateArray()); break;
    case E_ORDER: {   /* the Add before the Linear that makes its input */
        cJSON *first = cJSON_DetachItemFromArray(nodes, 0);
        cJSON_AddItemToArray(nodes, first);
        want_st = SK_ERR_INVALID;
        break;
    }
    case E_SHAPE: cJSON_ReplaceItemInArray(cJSON_GetObjectItem(w, "shape"), 0, cJSON_CreateNumber(5)); break;
    case E_SHAPE_OVERFLOW:
        cJSON_ReplaceItemInArray(cJSON_GetObjectItem(w, "shape"), 0, cJSON_CreateString("4611686018427387904"));
        break;
    case E_COMPRESSION: set_item(wd, "compression", cJSON_CreateString("lz4")); break;
    case E_LABELS: set_item(cJSON_GetObjectItem(h, "arch"), "n_labels", cJSON_CreateNumber(7)); break;
    case E_FILE_NAME: set_item(file, "name", cJSON_CreateString("../../etc/passwd")); break;
    case E_DUP_FILE: set_item(file->next, "name", cJSON_CreateString(cJSON_GetObjectItem(file, "name")->valuestring)); break;
    case E_FLOAT_BITS: {
        cJSON *v = cJSON_CreateObject();
        cJSON_AddStringToObject(v, "float", "0x7fc0000");
        set_item(cJSON_GetObjectItem(lin, "attrs"), "nan", v);
        break;
    }
    case E_DATA_BYTES: set_item(h, "data_bytes", cJSON_CreateString("-5")); break;
    }
    size_t n;
    unsigned char *b = with_header(f, len, h, &n);
    expect_fail(what, b, n, want_st, want);
    free(b);
    cJSON_Delete(h);
}

/* offset of the first byte of tensor name's payload */
static size_t payload_at(const unsigned char *f, size_t len, const char *name)
{
    size_t hlen;
    cJSON *h = header_of(f, len, &hlen);
    size_t off = (size_t)cJSON_GetObjectItem(cJSON_GetObjectItem(tensor_named(h, name), "data"), "offset")->valuedouble;
    cJSON_Delete(h);
    return (32 + hlen + 63) / 64 * 64 + off;
}

static void test_bad_files(void)
{
    printf("bad files:\n");
    sk_model *m = build_model();
    CHECK(sk_skm_save(m, tpath("good.skm"), &(sk_skm_opts){.force = true}) == SK_OK);
    CHECK(sk_skm_save(m, tpath("goodz.skm"), &(sk_skm_opts){.zstd_level = 3, .force = true}) == SK_OK);
    sk_model_free(m);
    good = read_bytes(tpath("good.skm"), &good_len);
    goodz = read_bytes(tpath("goodz.skm"), &goodz_len);
    size_t hlen;
    cJSON_Delete(header_of(good, good_len, &hlen));
    size_t data = (32 + hlen + 63) / 64 * 64;
    unsigned char *b = malloc(good_len + 64);

    /* truncation at many points: every cut fails, and says why */
    expect_fail("zero length", good, 0, SK_ERR_FORMAT, "empty file");
    expect_fail("cut at 5 (in the magic)", good, 5, SK_ERR_FORMAT, "shorter than the 32-byte preamble");
    expect_fail("cut at 20 (in the preamble)", good, 20, SK_ERR_FORMAT, "shorter than the 32-byte preamble");
    expect_fail("cut at 40 (in the header)", good, 40, SK_ERR_FORMAT, "runs past the end of the file");
    expect_fail("cut at the header's end - 1", good, 32 + hlen - 1, SK_ERR_FORMAT, "runs past the end of the file");
    expect_fail("cut in the data", good, data + 100, SK_ERR_FORMAT, "truncated");
    expect_fail("cut 1 byte short", good, good_len - 1, SK_ERR_FORMAT, "truncated");
    int cuts = 0, cut_ok = 0;
    for (size_t cut = 0; cut < good_len; cut += cut < 64 ? 1 : 97, cuts++) {
        write_bytes(tpath("cut.skm"), good, cut);
        sk_model *l = NULL;
        sk_status st = sk_skm_load(tpath("cut.skm"), &l);
        cut_ok += st == SK_ERR_FORMAT && !l && strstr(sk_errmsg(), "cut.skm");
        sk_model_free(l);
    }
    printf("  %d cut points from 0 to %zu bytes: %d refused with a message naming the file\n", cuts, good_len, cut_ok);
    CHECK(cuts == cut_ok);
    memcpy(b, good, good_len);
    memcpy(b + good_len, "junk", 4);
    expect_fail("4 bytes appended", b, good_len + 4, SK_ERR_FORMAT, "4 bytes after the end of the data");

    /* the preamble */
    memcpy(b, good, good_len);
    b[1] = 'Z';
    expect_fail("wrong magic", b, good_len, SK_ERR_FORMAT, "bad magic");
    expect_fail("a text file", (const unsigned char *)"{\"tensors\": []}\n", 16, SK_ERR_FORMAT, "bad magic");
    memcpy(b, good, good_len);
    b[8] = 2;
    expect_fail("version 2", b, good_len, SK_ERR_UNSUPPORTED, "format version 2; this shrink reads version 1");
    memcpy(b, good, good_len);
    b[12] = 1;
    expect_fail("flags set", b, good_len, SK_ERR_FORMAT, "unknown flags 0x1");
    memcpy(b, good, good_len);
    for (int i = 0; i < 8; i++) b[16 + i] = (unsigned char)((uint64_t)good_len >> (8 * i));
    expect_fail("header length = file length", b, good_len, SK_ERR_FORMAT, "runs past the end of the file");
    memset(b + 16, 0xff, 8);
    expect_fail("header length 2^64-1", b, good_len, SK_ERR_FORMAT, "runs past the end of the file");
    memcpy(b, good, good_len);
    b[32 + hlen / 2] ^= 0x20;
    expect_fail("flipped byte in the header", b, good_len, SK_ERR_FORMAT, "header checksum mismatch");

    /* invalid JSON (checksum made right) */
    {
        memcpy(b, good, good_len);
        b[32 + hlen - 1] = ',';   /* the closing brace */
        uint64_t x = sk_skm_xxh64(b + 32, hlen, 0);
        for (int i = 0; i < 8; i++) b[24 + i] = (unsigned char)(x >> (8 * i));
        expect_fail("invalid JSON", b, good_len, SK_ERR_FORMAT, "header: invalid JSON");
        cJSON *arr = cJSON_CreateArray();
        size_t n;
        unsigned char *c = with_header(good, good_len, arr, &n);
        expect_fail("header is an array", c, n, SK_ERR_FORMAT, "not a JSON object");
        free(c);
        cJSON_Delete(arr);
    }

    /* payload bytes */
    memcpy(b, good, good_len);
    b[payload_at(good, good_len, "w_f32") + 17] ^= 1;
    expect_fail("flipped bit in a payload", b, good_len, SK_ERR_FORMAT, "tensor 'w_f32': checksum mismatch (payload corrupt)");
    unsigned char *bz = malloc(goodz_len);
    memcpy(bz, goodz, goodz_len);
    bz[payload_at(goodz, goodz_len, "ramp_i64") + 20] ^= 0x55;
    expect_fail("flipped byte in a zstd payload", bz, goodz_len, SK_ERR_FORMAT, "tensor 'ramp_i64': ");
    memcpy(bz, goodz, goodz_len);
    memset(bz + payload_at(goodz, goodz_len, "ramp_i64"), 0, 4);
    expect_fail("zstd payload without its magic", bz, goodz_len, SK_ERR_FORMAT, "tensor 'ramp_i64': payload is not a zstd frame");
    free(bz);

    /* the header lying */
    edit_case("wrong checksum in the header", E_HASH, false, "tensor 'w_f32': checksum mismatch");
    edit_case("payload offset past the end", E_OFF_PAST, false, "tensor 'w_f32': payload [");
    edit_case("payloads overlapping", E_OVERLAP, false, "overlaps that of tensor 'w_f32'");
    edit_case("payload offset unaligned", E_UNALIGNED, false, "tensor 'ramp_i64': payload offset");
    edit_case("payload size lie", E_SIZE_LIE, false, "tensor 'w_f32': payload of 260 bytes, but 64 elements of f32 need 256");
    edit_case("decompressed size lie", E_RAW_LIE_FILE, true, "file 'vocab.txt': zstd frame holds");
    edit_case("data_bytes not an integer", E_DATA_BYTES, false, "\"data_bytes\": expected an integer");
    edit_case("unknown dtype", E_DTYPE, false, "tensor 'w_f32': unknown dtype 'f33'");
    edit_case("unknown op", E_OP, false, "node 'lin': unknown op 'Frobnicate'");
    edit_case("dangling input id", E_INPUT_ID, false, "node 'lin': input 1: not a tensor id");
    edit_case("dangling output id", E_OUTPUT_ID, false, "graph outputs: entry 0: not a tensor id");
    edit_case("dangling quant scales", E_QUANT_REF, false, "tensor 'lin.weight': quant scales: tensor id 999");
    edit_case("quant zeros = itself", E_QUANT_SELF, false, "tensor 'lin.weight': quant zeros");
    edit_case("no nodes", E_NO_NODES, false, "\"nodes\": expected an array");
    edit_case("duplicate attribute", E_DUP_ATTR, false, "node 'lin': attribute 'bits' appears twice");
    edit_case("unknown attribute type", E_ATTR_TYPE, false, "attribute 'bits': unknown type 'double'");
    edit_case("bad float bit pattern", E_FLOAT_BITS, false, "attribute 'nan': not a float");
    edit_case("const without data", E_CONST_NO_DATA, false, "tensor 'w_f32': a \"const\" tensor without \"data\"");
    edit_case("data on a non-const", E_DATA_NOT_CONST, false, "tensor 'w_f32': has \"data\" but is not \"const\"");
    edit_case("shape not matching the data", E_SHAPE, false, "tensor 'w_f32': payload of 256 bytes, but 80 elements");
    edit_case("shape overflowing", E_SHAPE_OVERFLOW, false, "tensor 'w_f32': a constant with an unknown or overflowing shape");
    edit_case("unknown compression", E_COMPRESSION, false, "unknown compression 'lz4'");
    edit_case("labels vs n_labels", E_LABELS, false, "arch: \"labels\"");
    edit_case("file name with a path", E_FILE_NAME, false, "not a plain file name");
    edit_case("file name twice", E_DUP_FILE, false, "appears twice");
    edit_case("nodes out of order", E_ORDER, false, "invalid graph");
    free(b);
}

/* ---- mutation fuzzing of the header: any input gives a model or an error ---- */

/* good with its header replaced by text[0..n) (length and checksum made right) */
static unsigned char *with_header_text(const char *text, size_t n, size_t *out_len)
{
    size_t hlen;
    cJSON_Delete(header_of(good, good_len, &hlen));
    size_t data = (32 + hlen + 63) / 64 * 64, nd = (32 + n + 63) / 64 * 64;
    unsigned char *r = calloc(1, nd + (good_len - data));
    memcpy(r, good, 32);
    for (int i = 0; i < 8; i++) r[16 + i] = (unsigned char)((uint64_t)n >> (8 * i));
    uint64_t x = sk_skm_xxh64(text, n, 0);
    for (int i = 0; i < 8; i++) r[24 + i] = (unsigned char)(x >> (8 * i));
    memcpy(r + 32, text, n);
    memcpy(r + nd, good + data, good_len - data);
    *out_len = nd + (good_len - data);
    return r;
}

static void test_fuzz(void)
{
    static const char *const repl[] = {
        "-1", "0", "1", "63", "64", "4096", "1e309", "-0", "0.5", "99999999999999999999", "9007199254740993",
        "\"9223372036854775807\"", "\"-9223372036854775808\"", "\"0x7fc00000\"", "\"x\"", "null", "true", "[]", "{}",
        "[-1]", "\"undef\"", "\"q4\"", "\"zstd\"", "\"none\"",
    };
    static const char chars[] = "0123456789-+.eE\"[]{},:ntfx\\ \xff";
    size_t hlen;
    cJSON_Delete(header_of(good, good_len, &hlen));
    const char *hdr = (const char *)good + 32;
    int loaded = 0, refused = 0, bad_msg = 0;
    char *p = tpath("fuzz.skm");
    for (int it = 0; it < 3000; it++) {
        char *t = malloc(hlen + 64 * 4);
        size_t n = hlen;
        memcpy(t, hdr, n);
        int muts = 1 + (int)(rnd() % 3);
        for (int k = 0; k < muts && n; k++) {
            size_t at = rnd() % n;
            if (rnd() % 2) {
                t[at] = chars[rnd() % (sizeof chars - 1)];
            } else {   /* replace the token (number / word) at 'at' */
                size_t e = at;
                while (e < n && (t[e] == '-' || t[e] == '.' || (t[e] >= '0' && t[e] <= '9') || (t[e] >= 'a' && t[e] <= 'z'))) e++;
                const char *r = repl[rnd() % (sizeof repl / sizeof repl[0])];
                size_t rl = strlen(r);
                if (n - (e - at) + rl > hlen + 64 * 4) continue;
                memmove(t + at + rl, t + e, n - e);
                memcpy(t + at, r, rl);
                n = n - (e - at) + rl;
            }
        }
        size_t len;
        unsigned char *f = with_header_text(t, n, &len);
        write_bytes(p, f, len);
        sk_model *m = NULL;
        sk_status st = sk_skm_load(p, &m);
        if (st == SK_OK) {
            loaded++;
            CHECK(m && sk_graph_verify(&m->g) == SK_OK);
        } else {
            refused++;
            CHECK(!m);
            if (!strstr(sk_errmsg(), p)) {
                bad_msg++;
                if (bad_msg < 5) printf("  message without the file name: %s\n", sk_errmsg());
            }
        }
        sk_model_free(m);
        free(f);
        free(t);
    }
    printf("fuzzing: 3000 mutated headers: %d loaded (and verify), %d refused, %d messages without the file name\n",
           loaded, refused, bad_msg);
    CHECK(bad_msg == 0 && refused > 1000);
}

/* ---- allocation failures ---- */

static void *hook_malloc(size_t n) { return sk_malloc(n); }

static void test_alloc_failures(void)
{
    /* cJSON's allocations go through the failing hook too */
    cJSON_Hooks hooks = {hook_malloc, sk_free};
    cJSON_InitHooks(&hooks);
    sk_model *m = build_model();
    for (int level = 0; level <= 3; level += 3) {
        char *p = tpath("oom.skm");
        int k, nomem = 0, other = 0;
        for (k = 1; k < 100000; k++) {
            unlink(p);
            sk_alloc_fail_after(k);
            sk_status st = sk_skm_save(m, p, &(sk_skm_opts){.zstd_level = level});
            sk_alloc_fail_after(0);
            if (st == SK_OK) break;
            if (st == SK_ERR_NOMEM && !sk_file_exists(p)) nomem++;
            else { other++; printf("FAIL save alloc failure %d: %s: %s\n", k, sk_status_name(st), sk_errmsg()); }
        }
        printf("allocation failures, save (zstd %d): %d allocations failed in turn, %d clean NOMEM, %d temp files left\n",
               level, k - 1, nomem, count_temp_files());
        CHECK(other == 0 && k > 10 && count_temp_files() == 0);
        nomem = other = 0;
        for (k = 1; k < 100000; k++) {
            sk_model *l = (sk_model *)1;
            sk_alloc_fail_after(k);
            sk_status st = sk_skm_load(p, &l);
            sk_alloc_fail_after(0);
            if (st == SK_OK) {
                compare_models(m, l);
                CHECK(diffs == 0);
                sk_model_free(l);
                break;
            }
            if (st == SK_ERR_NOMEM && !l) nomem++;
            else { other++; printf("FAIL load alloc failure %d: %s: %s\n", k, sk_status_name(st), sk_errmsg()); }
        }
        printf("allocation failures, load (zstd %d): %d allocations failed in turn, %d clean NOMEM\n", level, k - 1, nomem);
        CHECK(other == 0 && k > 10);
    }
    sk_model_free(m);
    cJSON_InitHooks(NULL);
}

/* ---- small pieces ---- */

static void test_pieces(void)
{
    /* XXH64 reference values from libxxhash 0.8.1 (XXH64(data, len, seed)) */
    static const struct { const char *s; uint64_t seed, want; } kat[] = {
        {"", 0, 0xef46db3751d8e999ULL}, {"a", 0, 0xd24ec4f1a98c6e5bULL}, {"abc", 0, 0x44bc2cf5ad770999ULL},
        {"xxhash", 0, 0x32dd38952c4bc720ULL}, {"xxhash", 20141025, 0xb559b98d844e0635ULL},
        {"Nobody inspects the spammish repetition", 0, 0xfbcea83c8a378bf1ULL},
    };
    int ok = 0;
    for (size_t i = 0; i < sizeof kat / sizeof kat[0]; i++)
        ok += sk_skm_xxh64(kat[i].s, strlen(kat[i].s), kat[i].seed) == kat[i].want;
    unsigned char buf[768];
    for (int i = 0; i < 768; i++) buf[i] = (unsigned char)i;
    ok += sk_skm_xxh64(buf, 768, 0) == 0x8e03c838c596036fULL;
    printf("xxh64: %d of %zu reference values\n", ok, sizeof kat / sizeof kat[0] + 1);
    CHECK(ok == (int)(sizeof kat / sizeof kat[0]) + 1);
    /* every op's display name reads back as that op */
    int back = 0;
    for (int op = 0; op < SK_OP_COUNT; op++) back += sk_op_from_name(sk_op_get((sk_op)op)->name) == op;
    printf("op names: %d of %d read back as themselves\n", back, SK_OP_COUNT);
    CHECK(back == SK_OP_COUNT);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/sk_skm_XXXXXX");
    if (!mkdtemp(tmpdir)) { perror("mkdtemp"); return 2; }
    test_pieces();
    test_roundtrip(0);
    test_roundtrip(3);
    test_tokenizer_dir();
    test_overwrite_and_invalid();
    test_bad_files();
    test_fuzz();
    test_alloc_failures();
    /* clean up the temp dir */
    DIR *d = opendir(tmpdir);
    for (struct dirent *e; d && (e = readdir(d));)
        if (e->d_name[0] != '.' || strstr(e->d_name, ".tmp")) unlink(tpath(e->d_name));
    if (d) closedir(d);
    rmdir(tmpdir);
    sk_free(good);
    sk_free(goodz);
    printf("%d checks, %d failed\n", checks, fails);
    return fails != 0;
}
