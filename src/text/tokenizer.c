/* tokenizer.c — what WordPiece and BPE share: string tables and hash maps for
 * vocabularies, special tokens, loading from a checkpoint directory, and the
 * encode/decode drivers that split text on special tokens and hand the pieces
 * between them to wordpiece.c or bpe.c.
 *
 * Like Hugging Face's PreTrainedTokenizer.tokenize, special tokens written in
 * the text are cut out first and the text around them is tokenized piece by
 * piece; nothing else about a tokenizer family lives here.
 */
#include <cJSON.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include "text/tok_impl.h"
#include "util/util.h"

/* ---- string tables ---- */

sk_status sk_tok_strs_add(sk_tok_strs *s, const char *p, size_t n)
{
    if (n > SK_TOK_MAX_TOKEN * 4 || s->size + n + 1 > UINT32_MAX)
        return sk_err(SK_ERR_INVALID, "token table too large");
    if (s->n == s->cap_n) {
        int cap = s->cap_n;
        sk_status st = sk_grow((void **)&s->off, &cap, s->n + 1, sizeof(uint32_t));
        if (!st) st = sk_grow((void **)&s->len, &s->cap_n, s->n + 1, sizeof(uint32_t));
        if (st) return st;
    }
    if (s->size + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 4096;
        while (cap < s->size + n + 1) cap *= 2;
        char *b = sk_realloc(s->blob, cap);
        if (!b) return SK_ERR_NOMEM;
        s->blob = b;
        s->cap = cap;
    }
    if (n) memcpy(s->blob + s->size, p, n);
    s->blob[s->size + n] = 0;
    s->off[s->n] = (uint32_t)s->size;
    s->len[s->n] = (uint32_t)n;
    s->size += n + 1;
    s->n++;
    return SK_OK;
}

void sk_tok_strs_free(sk_tok_strs *s)
{
    sk_free(s->blob);
    sk_free(s->off);
    sk_free(s->len);
    memset(s, 0, sizeof *s);
}

/* ---- hash map over a string table ---- */

static uint32_t hash_bytes(const char *p, size_t n)
{
    uint32_t h = 2166136261u;   /* FNV-1a */
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)p[i]) * 16777619u;
    return h ^ (h >> 15);
}

int32_t sk_tok_map_get(const sk_tok_map *m, const sk_tok_strs *s, const char *p, size_t n)
{
    if (!m->slot) return -1;
    for (uint32_t i = hash_bytes(p, n) & m->mask;; i = (i + 1) & m->mask) {
        int32_t v = m->slot[i];
        if (v < 0) return -1;
        if (s->len[v] == n && !memcmp(s->blob + s->off[v], p, n)) return v;
    }
}

static sk_status map_resize(sk_tok_map *m, const sk_tok_strs *s, uint32_t cap)
{
    int32_t *slot = sk_malloc((size_t)cap * sizeof(int32_t));
    if (!slot) return SK_ERR_NOMEM;
    memset(slot, 0xff, (size_t)cap * sizeof(int32_t));
    if (m->slot) {
        for (uint32_t j = 0; j <= m->mask; j++) {
            int32_t v = m->slot[j];
            if (v < 0) continue;
            uint32_t i = hash_bytes(s->blob + s->off[v], s->len[v]) & (cap - 1);
            while (slot[i] >= 0) i = (i + 1) & (cap - 1);
            slot[i] = v;
        }
    }
    sk_free(m->slot);
    m->slot = slot;
    m->mask = cap - 1;
    return SK_OK;
}

sk_status sk_tok_map_put(sk_tok_map *m, const sk_tok_strs *s, int32_t v)
{
    if (!m->slot || (uint32_t)(m->used + 1) * 2 > m->mask + 1) {
        sk_status st = map_resize(m, s, m->slot ? (m->mask + 1) * 2 : 64);
        if (st) return st;
    }
    const char *p = s->blob + s->off[v];
    size_t n = s->len[v];
    uint32_t i = hash_bytes(p, n) & m->mask;
    for (;; i = (i + 1) & m->mask) {
        int32_t w = m->slot[i];
        if (w < 0) break;
        if (s->len[w] == n && !memcmp(s->blob + s->off[w], p, n)) {
            m->slot[i] = v;
            return SK_OK;
        }
    }
    m->slot[i] = v;
    m->used++;
    return SK_OK;
}

void sk_tok_map_free(sk_tok_map *m)
{
    sk_free(m->slot);
    memset(m, 0, sizeof *m);
}

sk_status sk_tok_ids_push(sk_tok_ids *ids, int32_t id)
{
    if (ids->n == ids->cap) {
        sk_status st = sk_grow((void **)&ids->v, &ids->cap, ids->n + 1, sizeof(int32_t));
        if (st) return st;
    }
    ids->v[ids->n++] = id;
    return SK_OK;
}

/* ---- life cycle ---- */

sk_status sk_tok_new(sk_tok_kind kind, sk_tokenizer **out)
{
    sk_tokenizer *t = sk_calloc(1, sizeof *t);
    if (!t) return SK_ERR_NOMEM;
    t->kind = kind;
    for (int k = 0; k < SK_TOK_N_SPECIAL; k++) t->special[k] = -1;
    for (int b = 0; b < 256; b++) t->byte_sym[b] = -1;
    *out = t;
    return SK_OK;
}

void sk_tok_free(sk_tokenizer *t)
{
    if (!t) return;
    sk_tok_strs_free(&t->str);
    sk_tok_map_free(&t->str_map);
    sk_tok_strs_free(&t->raw);
    sk_tok_map_free(&t->raw_map);
    sk_free(t->used);
    sk_free(t->merges);
    sk_free(t);
}

void sk_tok_opts_default(sk_tok_opts *o)
{
    memset(o, 0, sizeof *o);
    o->lowercase = true;
    o->strip_accents = -1;
    o->chinese = true;
}

sk_status sk_tok_read(const char *path, char **data, size_t *len)
{
    struct stat st;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size > SK_TOK_MAX_FILE)
        return sk_err(SK_ERR_FORMAT, "%s: %lld bytes, more than a vocabulary file may hold (%u MB)",
                      path, (long long)st.st_size, SK_TOK_MAX_FILE >> 20);
    return sk_read_file(path, data, len);
}

int sk_tok_line_of(const char *data, size_t off)
{
    int line = 1;
    for (size_t i = 0; i < off; i++) line += data[i] == '\n';
    return line;
}

sk_status sk_tok_set_specials(sk_tokenizer *t, const sk_tok_opts *o, const char *const *defaults)
{
    t->n_split = 0;
    for (int k = 0; k < SK_TOK_N_SPECIAL; k++) {
        const char *name = o && o->special[k] ? o->special[k] : defaults[k];
        t->special[k] = name && *name ? sk_tok_map_get(&t->str_map, &t->str, name, strlen(name)) : -1;
        int32_t id = t->special[k];
        if (id < 0) continue;
        bool dup = false;
        for (int j = 0; j < t->n_split; j++) dup |= t->split[j] == id;
        if (!dup) t->split[t->n_split++] = id;
    }
    /* longest first, so that the longest special token wins where two start */
    for (int i = 1; i < t->n_split; i++)
        for (int j = i; j > 0 && t->str.len[t->split[j]] > t->str.len[t->split[j - 1]]; j--) {
            int32_t x = t->split[j];
            t->split[j] = t->split[j - 1];
            t->split[j - 1] = x;
        }
    return SK_OK;
}

/* ---- accessors ---- */

sk_tok_kind sk_tok_kind_of(const sk_tokenizer *t) { return t->kind; }
int sk_tok_vocab_size(const sk_tokenizer *t) { return t->n_vocab; }
int sk_tok_max_length(const sk_tokenizer *t) { return t->max_length; }

int32_t sk_tok_special(const sk_tokenizer *t, sk_tok_special_kind k)
{
    return (unsigned)k < SK_TOK_N_SPECIAL ? t->special[k] : -1;
}

const char *sk_tok_id_to_str(const sk_tokenizer *t, int32_t id)
{
    if (id < 0 || id >= t->n_vocab || !t->used[id]) return NULL;
    return sk_tok_strs_get(&t->str, id);
}

const char *sk_tok_id_to_bytes(const sk_tokenizer *t, int32_t id, size_t *len)
{
    *len = 0;
    if (id < 0 || id >= t->n_vocab || !t->used[id]) return NULL;
    const sk_tok_strs *s = t->kind == SK_TOK_BPE ? &t->raw : &t->str;
    *len = s->len[id];
    return sk_tok_strs_get(s, id);
}

int32_t sk_tok_str_to_id(const sk_tokenizer *t, const char *tok)
{
    return sk_tok_map_get(&t->str_map, &t->str, tok, strlen(tok));
}

/* ---- loading from a checkpoint's files: a directory, or in memory ---- */

/* The files a checkpoint folder may hold for its tokenizer. */
enum { F_CONFIG, F_SPECIAL, F_VOCAB_JSON, F_MERGES, F_VOCAB_TXT, N_TOK_FILES };
static const char *const tok_file_names[N_TOK_FILES] = {
    "tokenizer_config.json", "special_tokens_map.json", "vocab.json", "merges.txt", "vocab.txt",
};

/* One of them: label names it in messages; data NULL = absent. */
typedef struct tok_src {
    char *label;
    const char *data;
    size_t len;
} tok_src;

/* A special token in tokenizer_config.json: "[UNK]", {"content": "[UNK]", ...} or null */
static sk_status config_token(const char *path, const cJSON *v, const char *key, char **out)
{
    if (cJSON_IsNull(v)) {
        sk_free(*out);
        *out = sk_strdup("");
        return *out ? SK_OK : SK_ERR_NOMEM;
    }
    if (cJSON_IsObject(v)) v = cJSON_GetObjectItemCaseSensitive(v, "content");
    if (!cJSON_IsString(v))
        return sk_err(SK_ERR_FORMAT, "%s: \"%s\": expected a string, an object with \"content\", or null",
                      path, key);
    size_t n = strlen(v->valuestring);
    if (n > SK_TOK_MAX_TOKEN || sk_utf8_valid_prefix(v->valuestring, n) != n)
        return sk_err(SK_ERR_FORMAT, "%s: \"%s\": not a token (bad UTF-8 or over %d bytes)",
                      path, key, SK_TOK_MAX_TOKEN);
    sk_free(*out);
    *out = sk_strdup(v->valuestring);
    return *out ? SK_OK : SK_ERR_NOMEM;
}

static sk_status config_bool(const char *path, const cJSON *root, const char *key, bool *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!v) return SK_OK;
    if (!cJSON_IsBool(v)) return sk_err(SK_ERR_FORMAT, "%s: \"%s\": expected true or false", path, key);
    *out = cJSON_IsTrue(v);
    return SK_OK;
}

/* Parse tokenizer_config.json or special_tokens_map.json, if present. */
static sk_status parse_config(const tok_src *f, sk_tok_opts *o, char **special)
{
    static const char *const keys[SK_TOK_N_SPECIAL] = {
        [SK_TOK_UNK] = "unk_token", [SK_TOK_CLS] = "cls_token", [SK_TOK_SEP] = "sep_token",
        [SK_TOK_PAD] = "pad_token", [SK_TOK_MASK] = "mask_token", [SK_TOK_BOS] = "bos_token",
        [SK_TOK_EOS] = "eos_token",
    };
    if (!f->data) return SK_OK;
    const char *path = f->label, *data = f->data;
    size_t len = f->len;
    if (len > SK_TOK_MAX_FILE)
        return sk_err(SK_ERR_FORMAT, "%s: %zu bytes, more than a tokenizer file may hold (%u MB)",
                      path, len, SK_TOK_MAX_FILE >> 20);
    sk_status st = SK_OK;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(data, len, &end, false);
    if (!root || !cJSON_IsObject(root)) {
        size_t off = root ? 0 : (end && end >= data && end <= data + len ? (size_t)(end - data) : 0);
        st = sk_err(SK_ERR_FORMAT, root ? "%s: expected a JSON object" : "%s: line %d: invalid JSON",
                    path, sk_tok_line_of(data, off));
        goto done;
    }
    if ((st = config_bool(path, root, "do_lower_case", &o->lowercase))) goto done;
    if ((st = config_bool(path, root, "tokenize_chinese_chars", &o->chinese))) goto done;
    if ((st = config_bool(path, root, "add_prefix_space", &o->add_prefix_space))) goto done;
    if ((st = config_bool(path, root, "add_bos_token", &o->add_bos))) goto done;
    bool basic = true;
    if ((st = config_bool(path, root, "do_basic_tokenize", &basic))) goto done;
    if (!basic) {
        st = sk_err(SK_ERR_UNSUPPORTED, "%s: \"do_basic_tokenize\": false is not supported", path);
        goto done;
    }
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "model_max_length");
    if (v && cJSON_IsNumber(v) && v->valuedouble >= 1 && v->valuedouble < 1e9) o->max_length = (int)v->valuedouble;
    v = cJSON_GetObjectItemCaseSensitive(root, "strip_accents");
    if (v) {
        if (cJSON_IsNull(v)) o->strip_accents = -1;
        else if (cJSON_IsBool(v)) o->strip_accents = cJSON_IsTrue(v);
        else {
            st = sk_err(SK_ERR_FORMAT, "%s: \"strip_accents\": expected true, false or null", path);
            goto done;
        }
    }
    for (int k = 0; k < SK_TOK_N_SPECIAL; k++) {
        v = cJSON_GetObjectItemCaseSensitive(root, keys[k]);
        if (v && (st = config_token(path, v, keys[k], &special[k]))) goto done;
    }
done:
    cJSON_Delete(root);
    return st;
}

/* Build the tokenizer the files describe: vocab.json + merges.txt (BPE) or
 * vocab.txt (WordPiece), options from the two configs. */
static sk_status load_files(const char *where, const tok_src *f, sk_tokenizer **out)
{
    char *special[SK_TOK_N_SPECIAL] = {0};
    sk_tok_opts o;
    sk_tok_opts_default(&o);
    /* special_tokens_map.json overrides tokenizer_config.json, as in HF */
    sk_status st = parse_config(&f[F_CONFIG], &o, special);
    if (!st) st = parse_config(&f[F_SPECIAL], &o, special);
    for (int k = 0; k < SK_TOK_N_SPECIAL; k++) o.special[k] = special[k];
    const tok_src *vj = &f[F_VOCAB_JSON], *mt = &f[F_MERGES], *vt = &f[F_VOCAB_TXT];
    if (!st) {
        if (vj->data && mt->data)
            st = sk_tok_bpe_mem(vj->label, vj->data, vj->len, mt->label, mt->data, mt->len, &o, out);
        else if (vt->data)
            st = sk_tok_wordpiece_mem(vt->label, vt->data, vt->len, &o, out);
        else
            st = sk_err(SK_ERR_IO, "%s: no tokenizer files (vocab.txt, or vocab.json and merges.txt)", where);
    }
    if (!st) (*out)->max_length = o.max_length;
    for (int k = 0; k < SK_TOK_N_SPECIAL; k++) sk_free(special[k]);
    return st;
}

sk_status sk_tok_load_dir(const char *dir, sk_tokenizer **out)
{
    *out = NULL;
    tok_src f[N_TOK_FILES] = {{0}};
    bool have[N_TOK_FILES];
    sk_status st = SK_OK;
    for (int i = 0; i < N_TOK_FILES; i++) {
        if (!(f[i].label = sk_path_join(dir, tok_file_names[i]))) st = SK_ERR_NOMEM;
        have[i] = f[i].label && sk_file_exists(f[i].label);
    }
    if (!st && !sk_is_dir(dir)) st = sk_err(SK_ERR_IO, "%s: not a directory", dir);
    /* read only the vocabulary files the tokenizer will be made of */
    if (have[F_VOCAB_JSON] && have[F_MERGES]) have[F_VOCAB_TXT] = false;
    else have[F_VOCAB_JSON] = have[F_MERGES] = false;
    for (int i = 0; !st && i < N_TOK_FILES; i++) {
        char *data;
        if (have[i] && !(st = sk_tok_read(f[i].label, &data, &f[i].len))) f[i].data = data;
    }
    if (!st) st = load_files(dir, f, out);
    for (int i = 0; i < N_TOK_FILES; i++) {
        sk_free(f[i].label);
        sk_free((char *)f[i].data);
    }
    return st;
}

sk_status sk_tok_load_mem(const char *where, const sk_tok_file *files, int n, sk_tokenizer **out)
{
    *out = NULL;
    tok_src f[N_TOK_FILES] = {{0}};
    sk_status st = SK_OK;
    for (int i = 0; !st && i < N_TOK_FILES; i++) {
        int k = 0;
        while (k < n && strcmp(files[k].name, tok_file_names[i])) k++;
        if (k == n) continue;
        size_t cap = strlen(where) + strlen(files[k].name) + 16;
        if (!(f[i].label = sk_malloc(cap))) {
            st = SK_ERR_NOMEM;
            break;
        }
        snprintf(f[i].label, cap, "%s: embedded %s", where, files[k].name);
        f[i].data = files[k].data ? files[k].data : "";
        f[i].len = files[k].len;
    }
    if (!st) st = load_files(where, f, out);
    for (int i = 0; i < N_TOK_FILES; i++) sk_free(f[i].label);
    return st;
}

/* ---- encode ---- */

/* First special token in s[from..n): its position and string index, or n. */
static size_t find_special(const sk_tokenizer *t, const char *s, size_t n, size_t from, int32_t *which)
{
    if (!t->n_split) return n;
    bool first[256] = {0};
    for (int j = 0; j < t->n_split; j++)
        first[(unsigned char)sk_tok_strs_get(&t->str, t->split[j])[0]] = true;
    for (size_t i = from; i < n; i++) {
        if (!first[(unsigned char)s[i]]) continue;
        for (int j = 0; j < t->n_split; j++) {
            size_t len = t->str.len[t->split[j]];
            if (len <= n - i && !memcmp(s + i, sk_tok_strs_get(&t->str, t->split[j]), len)) {
                *which = t->split[j];
                return i;
            }
        }
    }
    return n;
}

sk_status sk_tok_encode_n(const sk_tokenizer *t, const char *text, size_t len, bool add_special,
                          int max_len, int32_t **ids, int *n)
{
    *ids = NULL;
    *n = 0;
    if (!text && len) return sk_err(SK_ERR_INVALID, "encode: no text");
    if (max_len < 0) return sk_err(SK_ERR_INVALID, "encode: max_len %d is negative", max_len);
    if (len > (size_t)INT_MAX / 4) return sk_err(SK_ERR_INVALID, "encode: text of %zu bytes is too long", len);
    /* special tokens added around the text: [CLS] ... [SEP], or <bos> ... */
    int32_t first = -1, last = -1;
    if (add_special && t->kind == SK_TOK_WORDPIECE) {
        first = t->special[SK_TOK_CLS], last = t->special[SK_TOK_SEP];
        if (first < 0 || last < 0)
            return sk_err(SK_ERR_INVALID, "encode: the vocabulary has no [CLS] or no [SEP] token");
    }
    if (add_special && t->kind == SK_TOK_BPE && t->add_bos) first = t->special[SK_TOK_BOS];
    int nspec = (first >= 0) + (last >= 0);
    if (max_len > 0 && max_len < nspec)
        return sk_err(SK_ERR_INVALID, "encode: max_len %d leaves no room for the %d special tokens",
                      max_len, nspec);
    int limit = max_len > 0 ? max_len - nspec : INT_MAX;

    /* work on well-formed UTF-8, with GPT-2's optional leading space */
    char *work = NULL;
    const char *s = text ? text : "";
    size_t sn = len;
    bool prefix = t->kind == SK_TOK_BPE && t->add_prefix_space;
    if (prefix || sk_utf8_valid_prefix(s, sn) != sn) {
        size_t wn;
        sk_status st = sk_utf8_repair(s, sn, &work, &wn);
        if (st) return st;
        if (prefix) {
            char *w = sk_malloc(wn + 2);
            if (!w) {
                sk_free(work);
                return SK_ERR_NOMEM;
            }
            w[0] = ' ';
            memcpy(w + 1, work, wn + 1);
            sk_free(work);
            work = w;
            wn++;
        }
        s = work;
        sn = wn;
    }

    sk_tok_ids out = {0};
    sk_status st = SK_OK;
    if (first >= 0) st = sk_tok_ids_push(&out, first);
    int base = out.n;
    size_t pos = 0;
    while (!st && pos < sn && out.n - base < limit) {
        int32_t sp = -1;
        size_t at = find_special(t, s, sn, pos, &sp);
        if (at > pos) {
            int lim = limit == INT_MAX ? INT_MAX : base + limit;
            st = t->kind == SK_TOK_BPE ? sk_bpe_encode_piece(t, s + pos, at - pos, &out, lim)
                                       : sk_wp_encode_piece(t, s + pos, at - pos, &out, lim);
        }
        if (!st && sp >= 0) st = sk_tok_ids_push(&out, sp);
        pos = sp >= 0 ? at + t->str.len[sp] : at;
    }
    if (!st && out.n - base > limit) out.n = base + limit;
    if (!st && last >= 0) st = sk_tok_ids_push(&out, last);
    if (!st && !out.v && !(out.v = sk_malloc(sizeof(int32_t)))) st = SK_ERR_NOMEM;
    sk_free(work);
    if (st) {
        sk_free(out.v);
        return st;
    }
    *ids = out.v;
    *n = out.n;
    return SK_OK;
}

sk_status sk_tok_encode(const sk_tokenizer *t, const char *text, bool add_special, int max_len,
                        int32_t **ids, int *n)
{
    return sk_tok_encode_n(t, text, text ? strlen(text) : 0, add_special, max_len, ids, n);
}

/* ---- decode ---- */

typedef struct bytes { char *p; size_t n, cap; } bytes;

static sk_status bytes_add(bytes *b, const char *p, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n + 1) cap *= 2;
        char *q = sk_realloc(b->p, cap);
        if (!q) return SK_ERR_NOMEM;
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->n, p, n);
    b->n += n;
    b->p[b->n] = 0;
    return SK_OK;
}

static bool is_special_id(const sk_tokenizer *t, int32_t id)
{
    for (int k = 0; k < SK_TOK_N_SPECIAL; k++)
        if (t->special[k] == id) return true;
    return false;
}

/* HF BertTokenizer.convert_tokens_to_string: " ".join(tokens).replace(" ##", "").strip() */
static sk_status wordpiece_join(const char *s, size_t n, char **out, size_t *out_n)
{
    char *r = sk_malloc(n + 1);
    if (!r) return SK_ERR_NOMEM;
    size_t j = 0;
    for (size_t i = 0; i < n;) {
        if (i + 3 <= n && !memcmp(s + i, " ##", 3)) {
            i += 3;
            continue;
        }
        r[j++] = s[i++];
    }
    /* str.strip(): drop white space at both ends */
    size_t a = 0, b = j;
    while (a < b) {
        uint32_t cp;
        bool ok;
        int k = sk_utf8_next(r + a, b - a, &cp, &ok);
        if (!(sk_uni_flags(cp) & SK_U_PYSPACE)) break;
        a += (size_t)k;
    }
    while (b > a) {
        size_t c = b - 1;
        while (c > a && ((unsigned char)r[c] & 0xC0) == 0x80) c--;
        uint32_t cp;
        bool ok;
        sk_utf8_next(r + c, b - c, &cp, &ok);
        if (!(sk_uni_flags(cp) & SK_U_PYSPACE)) break;
        b = c;
    }
    memmove(r, r + a, b - a);
    r[b - a] = 0;
    *out = r;
    *out_n = b - a;
    return SK_OK;
}

sk_status sk_tok_decode_n(const sk_tokenizer *t, const int32_t *ids, int n, bool skip_special,
                          char **out, size_t *len)
{
    *out = NULL;
    if (len) *len = 0;
    bytes b = {0};
    sk_status st = bytes_add(&b, "", 0);
    bool first = true;
    for (int i = 0; !st && i < n; i++) {
        int32_t id = ids[i];
        if (id < 0 || id >= t->n_vocab || !t->used[id]) {
            st = sk_err(SK_ERR_INVALID, "decode: id %d at position %d is not in the vocabulary (%d ids)",
                        id, i, t->n_vocab);
            break;
        }
        if (skip_special && is_special_id(t, id)) continue;
        if (t->kind == SK_TOK_BPE) {
            st = bytes_add(&b, sk_tok_strs_get(&t->raw, id), t->raw.len[id]);
        } else {
            if (!first) st = bytes_add(&b, " ", 1);
            if (!st) st = bytes_add(&b, sk_tok_strs_get(&t->str, id), t->str.len[id]);
        }
        first = false;
    }
    size_t rn = 0;
    if (!st) st = t->kind == SK_TOK_BPE ? sk_utf8_repair(b.p, b.n, out, &rn) : wordpiece_join(b.p, b.n, out, &rn);
    if (!st && len) *len = rn;
    sk_free(b.p);
    return st;
}

sk_status sk_tok_decode(const sk_tokenizer *t, const int32_t *ids, int n, bool skip_special, char **out)
{
    return sk_tok_decode_n(t, ids, n, skip_special, out, NULL);
}
