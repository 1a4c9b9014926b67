/* unicode.h — the Unicode services the tokenizers need (internal to src/text).
 *
 * UTF-8 decoding that repairs bad input the way Python's
 * bytes.decode("utf-8", "replace") does, per-code-point class flags, one-code-
 * point lower-casing, and NFD / NFC.  The data is generated from Python by
 * scripts/gen_unicode.py into unicode_tables.h, so these agree with the Hugging
 * Face tokenizers running on the same Python.  Nothing here knows about
 * vocabularies.
 */
#ifndef SK_TEXT_UNICODE_H
#define SK_TEXT_UNICODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "shrink.h"

/* class flags of a code point (sk_uni_flags) */
enum {
    SK_U_BCTRL = 1 << 0,    /* BERT _is_control: category C*, but not \t \n \r */
    SK_U_BWS = 1 << 1,      /* BERT _is_whitespace: ' ' \t \n \r or category Zs */
    SK_U_BPUNCT = 1 << 2,   /* BERT _is_punctuation: ASCII non-alphanumerics or category P* */
    SK_U_MN = 1 << 3,       /* category Mn (stripped with accents) */
    SK_U_PYSPACE = 1 << 4,  /* Python str.isspace (what str.split() splits on) */
    SK_U_L = 1 << 5,        /* regex \p{L} */
    SK_U_N = 1 << 6,        /* regex \p{N} */
    SK_U_S = 1 << 7,        /* regex \s */
};

#define SK_U_REPLACEMENT 0xFFFDu

/* A growable array of code points; free v with sk_free. */
typedef struct sk_cpbuf {
    uint32_t *v;
    int n, cap;
} sk_cpbuf;

sk_status sk_cpbuf_push(sk_cpbuf *b, uint32_t cp);

unsigned sk_uni_flags(uint32_t cp);
/* Python's str.lower() of the one-character string chr(cp): writes 1 or 2 code
 * points to out and returns how many. */
int sk_uni_lower(uint32_t cp, uint32_t out[2]);
/* BERT's _is_chinese_char: the CJK ideograph blocks. */
bool sk_uni_is_cjk(uint32_t cp);

/* Decode one code point of s[0..n) (n > 0).  Invalid input gives U+FFFD for
 * each maximal ill-formed subpart, as Python's "replace" error handler does.
 * Returns the number of bytes consumed (>= 1); *valid says whether they were
 * well-formed. */
int sk_utf8_next(const char *s, size_t n, uint32_t *cp, bool *valid);
/* Encode cp (<= 0x10FFFF, not a surrogate) into out; returns 1..4. */
int sk_utf8_put(uint32_t cp, char out[4]);
/* Length of the well-formed prefix of s[0..n): n when s is valid UTF-8. */
size_t sk_utf8_valid_prefix(const char *s, size_t n);
/* A copy of s[0..n) with every ill-formed subpart replaced by U+FFFD; NUL-
 * terminated, length in *out_n; sk_free it. */
sk_status sk_utf8_repair(const char *s, size_t n, char **out, size_t *out_n);
/* Append the code points of UTF-8 text s[0..n) to b (repairing bad bytes). */
sk_status sk_utf8_decode(const char *s, size_t n, sk_cpbuf *b);

/* Canonical decomposition (NFD) / composition (NFC) of in[0..n), appended to
 * out (which must not alias in). */
sk_status sk_uni_nfd(const uint32_t *in, int n, sk_cpbuf *out);
sk_status sk_uni_nfc(const uint32_t *in, int n, sk_cpbuf *out);

#endif
