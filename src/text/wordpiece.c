/* wordpiece.c — BERT's tokenizer: vocab.txt loading and WordPiece encoding.
 *
 * Follows transformers' BertTokenizer (4.37) step by step, because a model
 * only works on ids made the way its training data's were:
 *   1. with do_lower_case, PreTrainedTokenizer.tokenize lower-cases the text
 *      one character at a time (a regex substitution), so no final-sigma rule;
 *   2. BasicTokenizer: drop U+0000, U+FFFD and control characters, turn
 *      white space into ' ', put spaces around CJK ideographs, NFC, split on
 *      white space (str.split); per word lower-case again (a no-op after 1,
 *      checked by gen_unicode.py), strip accents (NFD, drop Mn), split off
 *      each punctuation character;
 *   3. WordpieceTokenizer: greedy longest match first, "##" on every piece
 *      but the first, [UNK] for a word with no match or over 100 characters.
 * Special tokens in the text were cut out before this file sees it
 * (tokenizer.c).  It must not change the ids HF makes: any deviation is a bug
 * that tests/py/test_tokenizers.py should catch.
 */
#include <string.h>
#include "text/tok_impl.h"
#include "util/util.h"

#define MAX_WORD_CHARS 100   /* BertTokenizer max_input_chars_per_word */

static const char *const wp_defaults[SK_TOK_N_SPECIAL] = {
    [SK_TOK_UNK] = "[UNK]", [SK_TOK_CLS] = "[CLS]", [SK_TOK_SEP] = "[SEP]",
    [SK_TOK_PAD] = "[PAD]", [SK_TOK_MASK] = "[MASK]",
};

/* ---- loading ---- */

static int count_chars(const char *s, size_t n)
{
    int c = 0;
    for (size_t i = 0; i < n; i++) c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

/* vocab.txt: one token a line, the id is the line number - 1.  Lines end in
 * \n, \r\n or \r (Python's universal newlines); a final line needs none. */
static sk_status parse_vocab(sk_tokenizer *t, const char *path, const char *data, size_t len)
{
    size_t i = 0;
    int line = 0;
    while (i < len) {
        line++;
        size_t e = i;
        while (e < len && data[e] != '\n' && data[e] != '\r') e++;
        size_t n = e - i;
        if (n > SK_TOK_MAX_TOKEN)
            return sk_err(SK_ERR_FORMAT, "%s: line %d: token of %zu bytes (at most %d)",
                          path, line, n, SK_TOK_MAX_TOKEN);
        if (memchr(data + i, 0, n))
            return sk_err(SK_ERR_FORMAT, "%s: line %d: NUL byte in token", path, line);
        size_t ok = sk_utf8_valid_prefix(data + i, n);
        if (ok != n)
            return sk_err(SK_ERR_FORMAT, "%s: line %d: invalid UTF-8 at byte %zu of the line",
                          path, line, ok + 1);
        if (t->str.n >= SK_TOK_MAX_VOCAB)
            return sk_err(SK_ERR_FORMAT, "%s: line %d: more than %d tokens", path, line, SK_TOK_MAX_VOCAB);
        sk_status st = sk_tok_strs_add(&t->str, data + i, n);
        if (st) return st;
        int chars = count_chars(data + i, n);
        if (chars > t->max_piece_chars) t->max_piece_chars = chars;
        i = e;
        if (i < len && data[i] == '\r') i++;
        if (i < len && data[i] == '\n') i++;   /* \n alone, or the \n of \r\n */
    }
    if (!t->str.n) return sk_err(SK_ERR_FORMAT, "%s: no tokens", path);
    return SK_OK;
}

sk_status sk_tok_load_wordpiece_opts(const char *vocab_txt, const sk_tok_opts *o, sk_tokenizer **out)
{
    *out = NULL;
    char *data;
    size_t len;
    sk_status st = sk_tok_read(vocab_txt, &data, &len);
    if (st) return st;
    st = sk_tok_wordpiece_mem(vocab_txt, data, len, o, out);
    sk_free(data);
    return st;
}

sk_status sk_tok_wordpiece_mem(const char *label, const char *data, size_t len, const sk_tok_opts *o,
                               sk_tokenizer **out)
{
    *out = NULL;
    sk_tok_opts def;
    if (!o) {
        sk_tok_opts_default(&def);
        o = &def;
    }
    if (len > SK_TOK_MAX_FILE)
        return sk_err(SK_ERR_FORMAT, "%s: %zu bytes, more than a vocabulary file may hold (%u MB)",
                      label, len, SK_TOK_MAX_FILE >> 20);
    sk_tokenizer *t;
    sk_status st = sk_tok_new(SK_TOK_WORDPIECE, &t);
    if (st) return st;
    st = parse_vocab(t, label, data, len);
    if (!st) {
        t->n_vocab = t->str.n;
        t->used = sk_malloc((size_t)t->n_vocab);
        if (!t->used) st = SK_ERR_NOMEM;
        else memset(t->used, 1, (size_t)t->n_vocab);
    }
    for (int32_t id = 0; !st && id < t->n_vocab; id++) st = sk_tok_map_put(&t->str_map, &t->str, id);
    if (!st) st = sk_tok_set_specials(t, o, wp_defaults);
    if (!st && t->special[SK_TOK_UNK] < 0) {
        const char *unk = o->special[SK_TOK_UNK] ? o->special[SK_TOK_UNK] : wp_defaults[SK_TOK_UNK];
        st = sk_err(SK_ERR_FORMAT, "%s: the unknown token '%s' is not in the vocabulary", label, unk);
    }
    if (st) {
        sk_tok_free(t);
        return st;
    }
    t->lowercase = o->lowercase;
    t->strip = o->lowercase ? o->strip_accents != 0 : o->strip_accents == 1;
    t->chinese = o->chinese;
    *out = t;
    return SK_OK;
}

sk_status sk_tok_load_wordpiece(const char *vocab_txt, bool lowercase, sk_tokenizer **out)
{
    sk_tok_opts o;
    sk_tok_opts_default(&o);
    o.lowercase = lowercase;
    return sk_tok_load_wordpiece_opts(vocab_txt, &o, out);
}

/* ---- encoding ---- */

typedef struct scratch {
    sk_cpbuf a, b, c;      /* code points between the stages */
    char *key;             /* [key_cap]: "##" + a word's UTF-8 */
    int *off;              /* [MAX_WORD_CHARS + 1]: byte offset of each character of the word */
    size_t key_cap;
} scratch;

/* Greedy longest-match-first WordPiece of one word w[0..m). */
static sk_status wordpiece_word(const sk_tokenizer *t, const uint32_t *w, int m, scratch *s, sk_tok_ids *out)
{
    int32_t unk = t->special[SK_TOK_UNK];
    if (m > MAX_WORD_CHARS) return sk_tok_ids_push(out, unk);
    /* the word's bytes start at key + 2, after room for "##" */
    char *word = s->key + 2;
    int nb = 0;
    for (int k = 0; k < m; k++) {
        s->off[k] = nb;
        nb += sk_utf8_put(w[k], word + nb);
    }
    s->off[m] = nb;
    char *buf = word + nb;   /* a second area to build "##" + piece */
    int saved = out->n;
    for (int start = 0; start < m;) {
        int end = start + t->max_piece_chars < m ? start + t->max_piece_chars : m;
        int32_t id = -1;
        for (; end > start; end--) {
            size_t pn = (size_t)(s->off[end] - s->off[start]);
            if (start == 0) {
                id = sk_tok_map_get(&t->str_map, &t->str, word, pn);
            } else {
                buf[0] = buf[1] = '#';
                memcpy(buf + 2, word + s->off[start], pn);
                id = sk_tok_map_get(&t->str_map, &t->str, buf, pn + 2);
            }
            if (id >= 0) break;
        }
        if (id < 0) {
            out->n = saved;
            return sk_tok_ids_push(out, unk);
        }
        sk_status st = sk_tok_ids_push(out, id);
        if (st) return st;
        start = end;
    }
    return SK_OK;
}

/* Is w[0..m) the code points of UTF-8 string p[0..n)? */
static bool same_text(const uint32_t *w, int m, const char *p, size_t n)
{
    size_t i = 0;
    int k = 0;
    while (i < n && k < m) {
        uint32_t cp;
        bool ok;
        i += (size_t)sk_utf8_next(p + i, n - i, &cp, &ok);
        if (cp != w[k++]) return false;
    }
    return i == n && k == m;
}

/* One white-space-separated token w[0..m) of BasicTokenizer: strip accents,
 * split off punctuation, WordPiece each part. */
static sk_status basic_token(const sk_tokenizer *t, const uint32_t *w, int m, scratch *s, sk_tok_ids *out)
{
    /* a token spelled like a special token is never split (BasicTokenizer never_split) */
    for (int j = 0; j < t->n_split; j++)
        if (same_text(w, m, sk_tok_strs_get(&t->str, t->split[j]), t->str.len[t->split[j]]))
            return sk_tok_ids_push(out, t->split[j]);
    if (t->strip) {
        s->c.n = 0;
        sk_status st = sk_uni_nfd(w, m, &s->c);
        if (st) return st;
        int k = 0;
        for (int i = 0; i < s->c.n; i++)
            if (!(sk_uni_flags(s->c.v[i]) & SK_U_MN)) s->c.v[k++] = s->c.v[i];
        s->c.n = k;
        w = s->c.v;
        m = k;
    }
    int i = 0;
    while (i < m) {
        int j = i;
        if (sk_uni_flags(w[i]) & SK_U_BPUNCT) j = i + 1;
        else
            while (j < m && !(sk_uni_flags(w[j]) & SK_U_BPUNCT)) j++;
        sk_status st = wordpiece_word(t, w + i, j - i, s, out);
        if (st) return st;
        i = j;
    }
    return SK_OK;
}

static sk_status encode_piece(const sk_tokenizer *t, const char *text, size_t n, scratch *s,
                              sk_tok_ids *out, int limit)
{
    /* 1. decode, lower-case one code point at a time */
    sk_status st = sk_utf8_decode(text, n, &s->a);
    if (st) return st;
    if (t->lowercase) {
        for (int i = 0; !st && i < s->a.n; i++) {
            uint32_t lo[2];
            int k = sk_uni_lower(s->a.v[i], lo);
            st = sk_cpbuf_push(&s->b, lo[0]);
            if (!st && k == 2) st = sk_cpbuf_push(&s->b, lo[1]);
        }
        sk_cpbuf x = s->a;
        s->a = s->b;
        s->b = x;
        s->b.n = 0;
    }
    /* 2. clean text, space around CJK ideographs */
    for (int i = 0; !st && i < s->a.n; i++) {
        uint32_t cp = s->a.v[i];
        unsigned f = sk_uni_flags(cp);
        if (cp == 0 || cp == SK_U_REPLACEMENT || (f & SK_U_BCTRL)) continue;
        if (f & SK_U_BWS) {
            st = sk_cpbuf_push(&s->b, ' ');
        } else if (t->chinese && sk_uni_is_cjk(cp)) {
            st = sk_cpbuf_push(&s->b, ' ');
            if (!st) st = sk_cpbuf_push(&s->b, cp);
            if (!st) st = sk_cpbuf_push(&s->b, ' ');
        } else {
            st = sk_cpbuf_push(&s->b, cp);
        }
    }
    /* 3. NFC */
    s->a.n = 0;
    if (!st) st = sk_uni_nfc(s->b.v, s->b.n, &s->a);
    /* 4. split on white space; each token through basic_token and WordPiece */
    const uint32_t *v = s->a.v;
    int m = s->a.n, i = 0;
    while (!st && i < m && out->n < limit) {
        while (i < m && (sk_uni_flags(v[i]) & SK_U_PYSPACE)) i++;
        int j = i;
        while (j < m && !(sk_uni_flags(v[j]) & SK_U_PYSPACE)) j++;
        if (j > i) st = basic_token(t, v + i, j - i, s, out);
        i = j;
    }
    return st;
}

sk_status sk_wp_encode_piece(const sk_tokenizer *t, const char *text, size_t n, sk_tok_ids *out, int limit)
{
    scratch s = {0};
    /* the longest word: MAX_WORD_CHARS code points of 4 bytes, twice, plus "##" */
    s.key_cap = 2 * (4 * MAX_WORD_CHARS + 2);
    s.key = sk_malloc(s.key_cap);
    s.off = sk_malloc((MAX_WORD_CHARS + 1) * sizeof(int));
    sk_status st = s.key && s.off ? encode_piece(t, text, n, &s, out, limit) : SK_ERR_NOMEM;
    sk_free(s.a.v);
    sk_free(s.b.v);
    sk_free(s.c.v);
    sk_free(s.key);
    sk_free(s.off);
    return st;
}
