/* bpe.c — GPT-2's byte-level BPE: vocab.json + merges.txt loading and encoding.
 *
 * Follows transformers' GPT2Tokenizer: the text is cut by GPT-2's
 * pre-tokenization regex
 *     's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * (written out by hand below, with the classes of Python's regex module from
 * unicode_tables.h), each piece's UTF-8 bytes become symbols, and the pair of
 * adjacent symbols with the best (lowest) merges.txt rank is merged, every
 * occurrence left to right, until no pair has a rank.
 *
 * Symbols are byte strings, not GPT-2's printable stand-in characters: the
 * vocabulary is translated to bytes when loaded, so encoding never maps
 * characters back and forth.  Symbol i < n_vocab is token id i; a merge
 * result missing from vocab.json gets a symbol past n_vocab and encodes as
 * the unknown token, as in GPT2Tokenizer.
 */
#include <cJSON.h>
#include <math.h>
#include <string.h>
#include "text/tok_impl.h"
#include "util/util.h"

static const char *const bpe_defaults[SK_TOK_N_SPECIAL] = {
    [SK_TOK_UNK] = "<|endoftext|>", [SK_TOK_BOS] = "<|endoftext|>", [SK_TOK_EOS] = "<|endoftext|>",
};

/* ---- GPT-2's bytes_to_unicode ---- */
/* Printable bytes 33-126, 161-172, 174-255 stand for themselves; the other 68
 * (0-32, 127-160, 173) become U+0100.. in byte order. */
uint32_t sk_bpe_byte_char(int b)
{
    if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255)) return (uint32_t)b;
    if (b <= 32) return 256u + (uint32_t)b;
    if (b <= 160) return 256u + 33u + (uint32_t)(b - 127);
    return 256u + 33u + 34u;   /* 173 */
}

int sk_bpe_char_byte(uint32_t cp)
{
    if ((cp >= 33 && cp <= 126) || (cp >= 161 && cp <= 172) || (cp >= 174 && cp <= 255)) return (int)cp;
    if (cp >= 256 && cp < 256 + 33) return (int)(cp - 256);
    if (cp >= 256 + 33 && cp < 256 + 67) return (int)(cp - 256 - 33 + 127);
    if (cp == 256 + 67) return 173;
    return -1;
}

/* Translate a token spelled in the byte alphabet to its bytes; false if a
 * character is outside the alphabet (out then holds the UTF-8 unchanged). */
static bool to_bytes(const char *s, size_t n, char *out, size_t *out_n)
{
    size_t i = 0, j = 0;
    while (i < n) {
        uint32_t cp;
        bool ok;
        i += (size_t)sk_utf8_next(s + i, n - i, &cp, &ok);
        int b = sk_bpe_char_byte(cp);
        if (b < 0) {
            memcpy(out, s, n);
            *out_n = n;
            return false;
        }
        out[j++] = (char)b;
    }
    *out_n = j;
    return true;
}

/* ---- loading ---- */

/* The symbol of byte string p[0..n), added past the vocabulary if new. */
static sk_status intern(sk_tokenizer *t, const char *p, size_t n, int32_t *sym)
{
    *sym = sk_tok_map_get(&t->raw_map, &t->raw, p, n);
    if (*sym >= 0) return SK_OK;
    sk_status st = sk_tok_strs_add(&t->raw, p, n);
    if (!st) st = sk_tok_map_put(&t->raw_map, &t->raw, t->raw.n - 1);
    *sym = t->raw.n - 1;
    return st;
}

static sk_status parse_vocab(sk_tokenizer *t, const char *path, const char *data, size_t len)
{
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(data, len, &end, false);
    if (!root) {
        size_t off = end && end >= data && end <= data + len ? (size_t)(end - data) : 0;
        return sk_err(SK_ERR_FORMAT, "%s: line %d: invalid JSON", path, sk_tok_line_of(data, off));
    }
    sk_status st = SK_OK;
    const cJSON **by_id = NULL;
    char *buf = NULL;
    if (!cJSON_IsObject(root)) {
        st = sk_err(SK_ERR_FORMAT, "%s: expected a JSON object {\"token\": id, ...}", path);
        goto done;
    }
    /* check every entry and find the largest id */
    int max_id = -1, count = 0;
    for (const cJSON *it = root->child; it; it = it->next) {
        const char *key = it->string;
        size_t kn = strlen(key);
        if (kn > SK_TOK_MAX_TOKEN || sk_utf8_valid_prefix(key, kn) != kn) {
            st = sk_err(SK_ERR_FORMAT, "%s: entry %d: token is not UTF-8 of at most %d bytes",
                        path, count + 1, SK_TOK_MAX_TOKEN);
            goto done;
        }
        double d = it->valuedouble;
        if (!cJSON_IsNumber(it) || !(d >= 0 && d < SK_TOK_MAX_VOCAB) || d != floor(d)) {
            st = sk_err(SK_ERR_FORMAT, "%s: token \"%.64s\": id must be an integer in [0, %d)",
                        path, key, SK_TOK_MAX_VOCAB);
            goto done;
        }
        if ((int)d > max_id) max_id = (int)d;
        count++;
    }
    if (!count) {
        st = sk_err(SK_ERR_FORMAT, "%s: no tokens", path);
        goto done;
    }
    t->n_vocab = max_id + 1;
    by_id = sk_calloc((size_t)t->n_vocab, sizeof *by_id);
    t->used = sk_calloc((size_t)t->n_vocab, 1);
    buf = sk_malloc(SK_TOK_MAX_TOKEN + 1);
    if (!by_id || !t->used || !buf) {
        st = SK_ERR_NOMEM;
        goto done;
    }
    for (const cJSON *it = root->child; it; it = it->next) {
        int id = (int)it->valuedouble;
        if (by_id[id]) {
            st = sk_err(SK_ERR_FORMAT, "%s: id %d is given to both \"%.64s\" and \"%.64s\"",
                        path, id, by_id[id]->string, it->string);
            goto done;
        }
        by_id[id] = it;
        t->used[id] = 1;
    }
    /* spellings and byte strings, in id order; unused ids get "" */
    for (int id = 0; id < t->n_vocab; id++) {
        const char *key = by_id[id] ? by_id[id]->string : "";
        size_t kn = strlen(key), bn;
        bool in_alphabet = to_bytes(key, kn, buf, &bn);
        if ((st = sk_tok_strs_add(&t->str, key, kn))) goto done;
        if ((st = sk_tok_strs_add(&t->raw, buf, bn))) goto done;
        if (!by_id[id]) continue;
        if (sk_tok_map_get(&t->str_map, &t->str, key, kn) >= 0) {
            st = sk_err(SK_ERR_FORMAT, "%s: token \"%.64s\" appears twice", path, key);
            goto done;
        }
        if ((st = sk_tok_map_put(&t->str_map, &t->str, id))) goto done;
        /* a token outside the byte alphabet can only be a special token matched whole */
        if (in_alphabet && (st = sk_tok_map_put(&t->raw_map, &t->raw, id))) goto done;
    }
done:
    sk_free(buf);
    sk_free(by_id);
    cJSON_Delete(root);
    return st;
}

static sk_bpe_merge *merge_slot(const sk_tokenizer *t, uint64_t key)
{
    uint64_t h = key * 0x9E3779B97F4A7C15ull;
    for (uint32_t i = (uint32_t)(h >> 32) & t->merge_mask;; i = (i + 1) & t->merge_mask) {
        sk_bpe_merge *m = &t->merges[i];
        if (m->rank < 0 || m->key == key) return m;
    }
}

/* One merges.txt line "a b" in the byte alphabet. */
static sk_status parse_merge(sk_tokenizer *t, const char *path, int line, const char *s, size_t n,
                             int rank, char *buf)
{
    const char *part[3];
    size_t plen[3];
    int np = 0;
    size_t i = 0;
    while (i < n) {
        while (i < n && (s[i] == ' ' || s[i] == '\t')) i++;
        if (i == n) break;
        size_t j = i;
        while (j < n && s[j] != ' ' && s[j] != '\t') j++;
        if (np == 3) break;
        part[np] = s + i;
        plen[np++] = j - i;
        i = j;
    }
    if (np != 2)
        return sk_err(SK_ERR_FORMAT, "%s: line %d: expected two symbols \"a b\", found %s",
                      path, line, np < 2 ? "fewer" : "more");
    size_t an, bn;
    if (!to_bytes(part[0], plen[0], buf, &an) ||
        !to_bytes(part[1], plen[1], buf + an, &bn))
        return sk_err(SK_ERR_FORMAT, "%s: line %d: a symbol has a character outside GPT-2's byte alphabet",
                      path, line);
    int32_t a, b, r;
    sk_status st = intern(t, buf, an, &a);
    if (!st) st = intern(t, buf + an, bn, &b);
    if (!st) st = intern(t, buf, an + bn, &r);
    if (st) return st;
    uint64_t key = (uint64_t)(uint32_t)a << 32 | (uint32_t)b;
    sk_bpe_merge *m = merge_slot(t, key);
    if (m->rank < 0) t->n_merges++;
    /* a repeated pair keeps its last rank, as dict(zip(merges, range(n))) does */
    m->key = key;
    m->rank = rank;
    m->result = r;
    return SK_OK;
}

static sk_status parse_merges(sk_tokenizer *t, const char *path, const char *data, size_t len)
{
    /* size the table by the number of lines: at most half full */
    size_t lines = 1;
    for (size_t i = 0; i < len; i++) lines += data[i] == '\n';
    if (lines > SK_TOK_MAX_VOCAB)
        return sk_err(SK_ERR_FORMAT, "%s: more than %d lines", path, SK_TOK_MAX_VOCAB);
    uint32_t cap = 64;
    while (cap < 2 * lines) cap *= 2;
    t->merges = sk_malloc((size_t)cap * sizeof *t->merges);
    char *buf = sk_malloc(2 * SK_TOK_MAX_TOKEN + 8);
    if (!t->merges || !buf) {
        sk_free(buf);
        return SK_ERR_NOMEM;
    }
    for (uint32_t i = 0; i < cap; i++) t->merges[i].rank = -1;
    t->merge_mask = cap - 1;
    sk_status st = SK_OK;
    int line = 0, rank = 0;
    for (size_t i = 0; !st && i < len;) {
        line++;
        size_t e = i;
        while (e < len && data[e] != '\n') e++;
        size_t n = e - i;
        if (n && data[i + n - 1] == '\r') n--;
        const char *s = data + i;
        i = e + 1;
        if (line == 1 && n >= 8 && !memcmp(s, "#version", 8)) continue;
        if (n > 2 * SK_TOK_MAX_TOKEN) {
            st = sk_err(SK_ERR_FORMAT, "%s: line %d: %zu bytes long (at most %d)", path, line, n,
                        2 * SK_TOK_MAX_TOKEN);
            break;
        }
        size_t ok = sk_utf8_valid_prefix(s, n);
        if (ok != n) {
            st = sk_err(SK_ERR_FORMAT, "%s: line %d: invalid UTF-8 at byte %zu of the line", path, line, ok + 1);
            break;
        }
        size_t k = 0;
        while (k < n && (s[k] == ' ' || s[k] == '\t')) k++;
        if (k == n) continue;   /* blank line */
        st = parse_merge(t, path, line, s, n, rank++, buf);
    }
    sk_free(buf);
    return st;
}

sk_status sk_tok_load_bpe_opts(const char *vocab_json, const char *merges_txt, const sk_tok_opts *o,
                               sk_tokenizer **out)
{
    *out = NULL;
    char *vdata = NULL, *mdata = NULL;
    size_t vlen, mlen;
    sk_status st = sk_tok_read(vocab_json, &vdata, &vlen);
    if (!st) st = sk_tok_read(merges_txt, &mdata, &mlen);
    if (!st) st = sk_tok_bpe_mem(vocab_json, vdata, vlen, merges_txt, mdata, mlen, o, out);
    sk_free(vdata);
    sk_free(mdata);
    return st;
}

sk_status sk_tok_bpe_mem(const char *vocab_json, const char *vdata, size_t vlen,
                         const char *merges_txt, const char *mdata, size_t mlen,
                         const sk_tok_opts *o, sk_tokenizer **out)
{
    *out = NULL;
    sk_tok_opts def;
    if (!o) {
        sk_tok_opts_default(&def);
        o = &def;
    }
    if (vlen > SK_TOK_MAX_FILE || mlen > SK_TOK_MAX_FILE)
        return sk_err(SK_ERR_FORMAT, "%s: %zu bytes, more than a vocabulary file may hold (%u MB)",
                      vlen > SK_TOK_MAX_FILE ? vocab_json : merges_txt, vlen > SK_TOK_MAX_FILE ? vlen : mlen,
                      SK_TOK_MAX_FILE >> 20);
    sk_tokenizer *t;
    sk_status st = sk_tok_new(SK_TOK_BPE, &t);
    if (st) return st;
    st = parse_vocab(t, vocab_json, vdata, vlen);
    for (int b = 0; !st && b < 256; b++) {
        char c = (char)b;
        st = intern(t, &c, 1, &t->byte_sym[b]);
    }
    if (!st) st = parse_merges(t, merges_txt, mdata, mlen);
    if (!st) st = sk_tok_set_specials(t, o, bpe_defaults);
    /* without an unknown token every symbol encoding can make must be a token */
    if (!st && t->special[SK_TOK_UNK] < 0) {
        for (int b = 0; !st && b < 256; b++)
            if (t->byte_sym[b] >= t->n_vocab)
                st = sk_err(SK_ERR_FORMAT, "%s: byte 0x%02x has no token and there is no unknown token",
                            vocab_json, b);
        for (uint32_t i = 0; !st && i <= t->merge_mask; i++)
            if (t->merges[i].rank >= 0 && t->merges[i].result >= t->n_vocab)
                st = sk_err(SK_ERR_FORMAT, "%s: merge %d makes a token missing from %s and there is no "
                            "unknown token", merges_txt, t->merges[i].rank + 1, vocab_json);
    }
    if (st) {
        sk_tok_free(t);
        return st;
    }
    if (!st && o->add_bos && t->special[SK_TOK_BOS] < 0) {
        const char *bos = o->special[SK_TOK_BOS] ? o->special[SK_TOK_BOS] : bpe_defaults[SK_TOK_BOS];
        st = sk_err(SK_ERR_FORMAT, "%s: add_bos_token is set but the token '%s' is not in the vocabulary",
                    vocab_json, bos);
        sk_tok_free(t);
        return st;
    }
    t->add_prefix_space = o->add_prefix_space;
    t->add_bos = o->add_bos;
    *out = t;
    return SK_OK;
}

sk_status sk_tok_load_bpe(const char *vocab_json, const char *merges_txt, sk_tokenizer **out)
{
    return sk_tok_load_bpe_opts(vocab_json, merges_txt, NULL, out);
}

/* ---- pre-tokenization ---- */

static unsigned cls_at(const char *s, size_t n, size_t i, size_t *next)
{
    uint32_t cp;
    bool ok;
    *next = i + (size_t)sk_utf8_next(s + i, n - i, &cp, &ok);
    return sk_uni_flags(cp) & (SK_U_L | SK_U_N | SK_U_S);
}

/* Length of the regex match at the start of s[0..n) (n > 0, valid UTF-8). */
static size_t pretok_next(const char *s, size_t n)
{
    if (s[0] == '\'' && n >= 2) {   /* 's|'t|'re|'ve|'m|'ll|'d */
        char c = s[1];
        if (c == 's' || c == 't' || c == 'm' || c == 'd') return 2;
        if (n >= 3 && ((c == 'r' && s[2] == 'e') || (c == 'v' && s[2] == 'e') || (c == 'l' && s[2] == 'l')))
            return 3;
    }
    size_t next;
    unsigned c = cls_at(s, n, 0, &next);
    if (s[0] == ' ' && n > 1) {   /* " ?" then a letter, number or other run */
        size_t n2;
        unsigned c2 = cls_at(s, n, 1, &n2);
        if (c2 != SK_U_S) {
            c = c2;
            next = n2;
        }
    }
    if (c != SK_U_S) {   /* \p{L}+, \p{N}+ or [^\s\p{L}\p{N}]+: a run of one class */
        size_t j = next, k;
        while (j < n && cls_at(s, n, j, &k) == c) j = k;
        return j;
    }
    /* \s+(?!\S) | \s+ : a white space run, less its last character when a
     * non-space follows and the run is longer than one character */
    size_t j = 0, last = 0, k;
    int count = 0;
    while (j < n && cls_at(s, n, j, &k) == SK_U_S) {
        last = j;
        j = k;
        count++;
    }
    if (j == n || count == 1) return j;
    return last;
}

/* ---- BPE of one word ---- */

typedef struct hent { int32_t rank, pos, a, b, result; } hent;

typedef struct scratch {
    int32_t *sym, *prev, *next;    /* [cap]: the word's symbols as a linked list */
    int cap;
    hent *heap;                    /* [hcap]: candidate merges, min (rank, pos) first */
    int nh, hcap;
    int *touched;                  /* [cap] */
} scratch;

static bool hless(const hent *x, const hent *y)
{
    return x->rank < y->rank || (x->rank == y->rank && x->pos < y->pos);
}

static sk_status heap_push(scratch *s, hent e)
{
    if (s->nh == s->hcap) {
        sk_status st = sk_grow((void **)&s->heap, &s->hcap, s->nh + 1, sizeof(hent));
        if (st) return st;
    }
    int i = s->nh++;
    while (i > 0 && hless(&e, &s->heap[(i - 1) / 2])) {
        s->heap[i] = s->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    s->heap[i] = e;
    return SK_OK;
}

static hent heap_pop(scratch *s)
{
    hent top = s->heap[0], e = s->heap[--s->nh];
    int i = 0;
    for (;;) {
        int c = 2 * i + 1;
        if (c >= s->nh) break;
        if (c + 1 < s->nh && hless(&s->heap[c + 1], &s->heap[c])) c++;
        if (!hless(&s->heap[c], &e)) break;
        s->heap[i] = s->heap[c];
        i = c;
    }
    if (s->nh) s->heap[i] = e;
    return top;
}

static sk_status push_pair(const sk_tokenizer *t, scratch *s, int p)
{
    if (p < 0 || s->next[p] < 0) return SK_OK;
    int q = s->next[p];
    uint64_t key = (uint64_t)(uint32_t)s->sym[p] << 32 | (uint32_t)s->sym[q];
    const sk_bpe_merge *m = merge_slot(t, key);
    if (m->rank < 0) return SK_OK;
    return heap_push(s, (hent){m->rank, p, s->sym[p], s->sym[q], m->result});
}

/* GPT2Tokenizer.bpe on the bytes w[0..m): repeatedly merge every occurrence,
 * left to right, of the adjacent pair with the lowest rank.  Merges of one
 * rank are all done before any pair they create is considered. */
static sk_status bpe_word(const sk_tokenizer *t, const unsigned char *w, int m, scratch *s, sk_tok_ids *out)
{
    int32_t unk = t->special[SK_TOK_UNK];
    if (m > s->cap) {
        int cap = s->cap, cap2 = s->cap, cap3 = s->cap;
        sk_status st = sk_grow((void **)&s->sym, &cap, m, sizeof(int32_t));
        if (!st) st = sk_grow((void **)&s->prev, &cap2, m, sizeof(int32_t));
        if (!st) st = sk_grow((void **)&s->touched, &cap3, m, sizeof(int));
        if (!st) st = sk_grow((void **)&s->next, &s->cap, m, sizeof(int32_t));
        if (st) return st;
    }
    for (int i = 0; i < m; i++) {
        s->sym[i] = t->byte_sym[w[i]];
        s->prev[i] = i - 1;
        s->next[i] = i + 1 < m ? i + 1 : -1;
    }
    s->nh = 0;
    sk_status st = SK_OK;
    for (int i = 0; !st && i + 1 < m; i++) st = push_pair(t, s, i);
    while (!st && s->nh) {
        int32_t rank = s->heap[0].rank;
        int nt = 0;
        while (s->nh && s->heap[0].rank == rank) {
            hent e = heap_pop(s);
            int p = e.pos, q = s->next[p];
            if (s->sym[p] != e.a || q < 0 || s->sym[q] != e.b) continue;   /* stale */
            s->sym[p] = e.result;
            s->sym[q] = -1;   /* dead: no entry can name it */
            s->next[p] = s->next[q];
            if (s->next[q] >= 0) s->prev[s->next[q]] = p;
            s->touched[nt++] = p;
        }
        for (int k = 0; !st && k < nt; k++) {
            int p = s->touched[k];
            if (s->sym[p] < 0) continue;
            st = push_pair(t, s, s->prev[p]);
            if (!st) st = push_pair(t, s, p);
        }
    }
    for (int p = 0; !st && p >= 0; p = s->next[p]) {
        int32_t sym = s->sym[p];
        st = sk_tok_ids_push(out, sym < t->n_vocab ? sym : unk);
    }
    return st;
}

sk_status sk_bpe_encode_piece(const sk_tokenizer *t, const char *text, size_t n, sk_tok_ids *out, int limit)
{
    scratch s = {0};
    sk_status st = SK_OK;
    size_t pos = 0;
    while (!st && pos < n && out->n < limit) {
        size_t len = pretok_next(text + pos, n - pos);
        if (len == 1) {
            int32_t sym = t->byte_sym[(unsigned char)text[pos]];
            st = sk_tok_ids_push(out, sym < t->n_vocab ? sym : t->special[SK_TOK_UNK]);
        } else {
            st = bpe_word(t, (const unsigned char *)text + pos, (int)len, &s, out);
        }
        pos += len;
    }
    sk_free(s.sym);
    sk_free(s.prev);
    sk_free(s.next);
    sk_free(s.touched);
    sk_free(s.heap);
    return st;
}
