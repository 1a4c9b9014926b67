/* tok_impl.h — the inside of sk_tokenizer, shared by tokenizer.c (common
 * parts: string tables, hash maps, special tokens, encode/decode drivers),
 * wordpiece.c and bpe.c.  Not for use outside src/text.
 */
#ifndef SK_TEXT_TOK_IMPL_H
#define SK_TEXT_TOK_IMPL_H

#include "text/text.h"
#include "text/unicode.h"

/* limits on what a vocabulary file may hold */
#define SK_TOK_MAX_FILE  (256u << 20)   /* bytes of one file */
#define SK_TOK_MAX_VOCAB (1 << 22)      /* ids */
#define SK_TOK_MAX_TOKEN 1024           /* bytes of one token */

/* A list of byte strings kept in one blob; string i is blob[off[i] .. off[i]+len[i]). */
typedef struct sk_tok_strs {
    char *blob;        /* each string is followed by a NUL */
    size_t size, cap;
    uint32_t *off, *len;
    int n, cap_n;
} sk_tok_strs;

sk_status sk_tok_strs_add(sk_tok_strs *s, const char *p, size_t n);   /* appends as string s->n */
void sk_tok_strs_free(sk_tok_strs *s);
static inline const char *sk_tok_strs_get(const sk_tok_strs *s, int i) { return s->blob + s->off[i]; }

/* An open-addressing map from byte strings to their index in a sk_tok_strs. */
typedef struct sk_tok_map {
    int32_t *slot;     /* [mask + 1]: string index, -1 = empty */
    uint32_t mask;
    int used;
} sk_tok_map;

int32_t sk_tok_map_get(const sk_tok_map *m, const sk_tok_strs *s, const char *p, size_t n);   /* -1 */
/* Map string i of s; a string already mapped is re-pointed to i (the later
 * line wins, as in a Python dict built from the file). */
sk_status sk_tok_map_put(sk_tok_map *m, const sk_tok_strs *s, int32_t i);
void sk_tok_map_free(sk_tok_map *m);

/* A growable id list */
typedef struct sk_tok_ids {
    int32_t *v;
    int n, cap;
} sk_tok_ids;

sk_status sk_tok_ids_push(sk_tok_ids *ids, int32_t id);

/* A merge of two BPE symbols: key = (left << 32 | right) */
typedef struct sk_bpe_merge {
    uint64_t key;
    int32_t rank, result;   /* result: a symbol id; rank -1 = empty slot */
} sk_bpe_merge;

struct sk_tokenizer {
    sk_tok_kind kind;
    int n_vocab;               /* ids are [0, n_vocab) */
    sk_tok_strs str;           /* [n_vocab]: the token as the file spells it ("" if unused) */
    uint8_t *used;             /* [n_vocab]: id appears in the file */
    sk_tok_map str_map;        /* spelling -> id */
    int32_t special[SK_TOK_N_SPECIAL];
    /* special tokens matched whole in text, longest first: ids into str */
    int n_split;
    int32_t split[SK_TOK_N_SPECIAL];

    /* WordPiece */
    bool lowercase, chinese, strip;
    int max_piece_chars;       /* longest token in code points: no longer match can exist */

    /* BPE: symbols are byte strings; symbol i < n_vocab is token id i */
    sk_tok_strs raw;           /* [n_sym]: the bytes of each symbol */
    sk_tok_map raw_map;        /* bytes -> symbol (tokens in the byte alphabet only) */
    int32_t byte_sym[256];     /* symbol of each single byte */
    sk_bpe_merge *merges;      /* [merge_mask + 1], open addressing */
    uint32_t merge_mask;
    int n_merges;
    bool add_prefix_space, add_bos;
    int max_length;           /* model_max_length, 0 = none */
};

/* tokenizer.c */
sk_status sk_tok_new(sk_tok_kind kind, sk_tokenizer **out);
/* Read a vocabulary file whole, refusing huge files; *data is NUL-terminated. */
sk_status sk_tok_read(const char *path, char **data, size_t *len);
/* After str/str_map are built: look up opts' special tokens and build the
 * list matched whole in text. */
sk_status sk_tok_set_specials(sk_tokenizer *t, const sk_tok_opts *o, const char *const *defaults);
/* 1-based line number of byte offset off in data */
int sk_tok_line_of(const char *data, size_t off);

/* wordpiece.c / bpe.c: build a tokenizer from file contents in memory (not
 * necessarily NUL-terminated); the labels name the files in messages. */
sk_status sk_tok_wordpiece_mem(const char *label, const char *data, size_t len, const sk_tok_opts *o,
                               sk_tokenizer **out);
sk_status sk_tok_bpe_mem(const char *vocab_label, const char *vdata, size_t vlen,
                         const char *merges_label, const char *mdata, size_t mlen,
                         const sk_tok_opts *o, sk_tokenizer **out);

/* wordpiece.c / bpe.c: append the ids of text s[0..n) (valid UTF-8, no special
 * tokens in it) to out, stopping at a word boundary once out->n >= limit. */
sk_status sk_wp_encode_piece(const sk_tokenizer *t, const char *s, size_t n, sk_tok_ids *out, int limit);
sk_status sk_bpe_encode_piece(const sk_tokenizer *t, const char *s, size_t n, sk_tok_ids *out, int limit);
/* bpe.c: GPT-2's byte-to-unicode alphabet: the code point standing for byte b,
 * and the byte a code point stands for (-1 if none). */
uint32_t sk_bpe_byte_char(int b);
int sk_bpe_char_byte(uint32_t cp);

#endif
