/* test_tokenizer.c — WordPiece and byte-level BPE on hand-checked cases, bad
 * vocabulary files, allocation failures; also the C side of
 * tests/py/test_tokenizers.py, which compares it with Hugging Face:
 *
 *   test_tokenizer                       run the checks below; exit 1 on a failure
 *   test_tokenizer --dump KIND DIR FILE [--max-len N] [--no-special] [--decode]
 *       KIND: wordpiece (options from DIR as sk_tok_load_dir reads them),
 *       wordpiece-cased (DIR/vocab.txt, do_lower_case false) or bpe.
 *       FILE holds one text a line, hex-encoded (so texts may hold newlines
 *       and bad UTF-8); prints each text's ids, space-separated, and with
 *       --decode a tab and the hex of sk_tok_decode(ids).
 *   test_tokenizer --bench KIND DIR FILE   encode FILE as one text, print the speed
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "text/text.h"
#include "util/util.h"

static int fails, checks;
#define CHECK(c) do { checks++; if (!(c)) { printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #c); fails++; } } while (0)

static char tmpdir[64];

static char *write_tmp(const char *name, const char *data, size_t n)
{
    char *path = sk_path_join(tmpdir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n) {
        printf("cannot write %s\n", path);
        exit(1);
    }
    fclose(f);
    return path;
}

/* encode and compare with the expected ids (terminated by -2) */
static bool ids_are(const sk_tokenizer *t, const char *text, size_t len, bool special, int max_len,
                    const int32_t *want)
{
    int32_t *ids;
    int n;
    sk_status st = sk_tok_encode_n(t, text, len, special, max_len, &ids, &n);
    if (st) {
        printf("  encode(\"%s\"): %s\n", text, sk_errmsg());
        return false;
    }
    int nw = 0;
    while (want[nw] != -2) nw++;
    bool ok = n == nw && (n == 0 || !memcmp(ids, want, (size_t)n * sizeof *ids));
    if (!ok) {
        printf("  encode(\"%s\") =", text);
        for (int i = 0; i < n; i++) printf(" %d", ids[i]);
        printf(", expected");
        for (int i = 0; i < nw; i++) printf(" %d", want[i]);
        printf("\n");
    }
    sk_free(ids);
    return ok;
}
#define IDS(t, text, special, max_len, ...) \
    ids_are(t, text, strlen(text), special, max_len, (const int32_t[]){__VA_ARGS__, -2})
#define NO_IDS (-2)

static bool decodes_to(const sk_tokenizer *t, const int32_t *ids, int n, bool skip, const char *want)
{
    char *s = NULL;
    size_t len;
    if (sk_tok_decode_n(t, ids, n, skip, &s, &len)) {
        printf("  decode: %s\n", sk_errmsg());
        return false;
    }
    bool ok = !strcmp(s, want) && len == strlen(want);
    if (!ok) printf("  decode = \"%s\", expected \"%s\"\n", s, want);
    sk_free(s);
    return ok;
}

/* ---- WordPiece ---- */

static const char wp_vocab[] =
    "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n"          /* 0-4 */
    "hello\n,\nworld\n!\nun\n"                       /* 5-9 */
    "##aff\n##able\ncafe\nnaive\n##s\n"              /* 10-14 */
    "\xe4\xb8\xad\n'\nt\ndon\n3\n"                   /* 15-19: 中 */
    ".\n14\nangstrom\nmuller\r\nσοφια\r"             /* 20-24, CRLF and CR line ends */
    "Hello";                                         /* 25, no final newline */

static void test_wordpiece(void)
{
    char *path = write_tmp("vocab.txt", wp_vocab, sizeof wp_vocab - 1);
    sk_tokenizer *t = NULL;
    CHECK(sk_tok_load_wordpiece(path, true, &t) == SK_OK);
    if (!t) {
        printf("  %s\n", sk_errmsg());
        return;
    }
    CHECK(sk_tok_kind_of(t) == SK_TOK_WORDPIECE);
    CHECK(sk_tok_vocab_size(t) == 26);
    CHECK(sk_tok_special(t, SK_TOK_CLS) == 2 && sk_tok_special(t, SK_TOK_SEP) == 3);
    CHECK(sk_tok_special(t, SK_TOK_PAD) == 0 && sk_tok_special(t, SK_TOK_UNK) == 1);
    CHECK(sk_tok_special(t, SK_TOK_MASK) == 4 && sk_tok_special(t, SK_TOK_EOS) == -1);
    CHECK(!strcmp(sk_tok_id_to_str(t, 5), "hello") && sk_tok_id_to_str(t, 26) == NULL);
    CHECK(!strcmp(sk_tok_id_to_str(t, 23), "muller") && !strcmp(sk_tok_id_to_str(t, 25), "Hello"));
    CHECK(sk_tok_str_to_id(t, "world") == 7 && sk_tok_str_to_id(t, "nope") == -1);

    CHECK(IDS(t, "Hello, world!", true, 0, 2, 5, 6, 7, 8, 3));
    CHECK(IDS(t, "Hello, world!", false, 0, 5, 6, 7, 8));
    CHECK(IDS(t, "unaffable", false, 0, 9, 10, 11));
    CHECK(IDS(t, "hellos", false, 0, 5, 14));
    CHECK(IDS(t, "unaffablex", false, 0, 1));                 /* no match for the rest: the word is [UNK] */
    CHECK(IDS(t, "Caf\xc3\xa9 NA\xc3\x8fVE", false, 0, 12, 13));  /* accents stripped after lower-casing */
    CHECK(IDS(t, "cafe\xcc\x81", false, 0, 12));             /* decomposed accent */
    CHECK(IDS(t, "\xc3\x85ngstr\xc3\xb6m M\xc3\xbcller", false, 0, 22, 23));
    CHECK(IDS(t, "\xce\xa3\xce\x9f\xce\xa6\xce\x99\xce\x91", false, 0, 24));   /* ΣΟΦΙΑ: no final sigma */
    CHECK(IDS(t, "\xe4\xb8\xad\xe6\x96\x87", false, 0, 15, 1));            /* 中文: one ideograph per word */
    CHECK(IDS(t, "don't", false, 0, 18, 16, 17));
    CHECK(IDS(t, "3.14", false, 0, 19, 20, 21));
    CHECK(IDS(t, "\t hello \n\r world\xe3\x80\x80!  ", false, 0, 5, 7, 8));   /* U+3000 is white space */
    CHECK(IDS(t, "hel\x01lo\xe2\x80\x8b", false, 0, 5));                 /* control, U+200B (Cf) dropped */
    CHECK(IDS(t, "hello\xff world\xe0\x80", false, 0, 5, 7));             /* bad UTF-8 reads as U+FFFD, dropped */
    CHECK(IDS(t, "hello [MASK] world[SEP]", false, 0, 5, 4, 7, 3));      /* special tokens matched whole */
    CHECK(IDS(t, "[mask]", false, 0, 1, 1, 1));                          /* ... but only as spelled */
    CHECK(IDS(t, "", true, 0, 2, 3));
    CHECK(IDS(t, "", false, 0, NO_IDS));
    CHECK(IDS(t, " \t\n", false, 0, NO_IDS));
    CHECK(ids_are(t, "hel\0lo", 6, false, 0, (const int32_t[]){5, -2}));           /* NUL dropped */
    char longw[128];
    memset(longw, 'a', 101);
    memcpy(longw, "hello", 5);
    longw[101] = 0;
    CHECK(IDS(t, longw, false, 0, 1));                                   /* over 100 characters */
    /* truncation keeps [SEP] last */
    CHECK(IDS(t, "hello world hello world", true, 4, 2, 5, 7, 3));
    CHECK(IDS(t, "hello world", true, 2, 2, 3));
    CHECK(IDS(t, "hello world hello", false, 2, 5, 7));
    int32_t *ids;
    int n;
    CHECK(sk_tok_encode(t, "hello", true, 1, &ids, &n) == SK_ERR_INVALID);

    int32_t a[] = {2, 5, 6, 7, 8, 3}, b[] = {9, 10, 11, 14}, c[] = {1, 0, 5};
    CHECK(decodes_to(t, a, 6, false, "[CLS] hello , world ! [SEP]"));
    CHECK(decodes_to(t, a, 6, true, "hello , world !"));
    CHECK(decodes_to(t, b, 4, false, "unaffables"));
    CHECK(decodes_to(t, c, 3, true, "hello"));
    CHECK(decodes_to(t, c, 0, false, ""));
    int32_t bad[] = {5, 26};
    char *s;
    CHECK(sk_tok_decode(t, bad, 2, false, &s) == SK_ERR_INVALID && strstr(sk_errmsg(), "id 26"));
    sk_tok_free(t);

    /* do_lower_case false: nothing lower-cased, accents kept, NFC */
    CHECK(sk_tok_load_wordpiece(path, false, &t) == SK_OK);
    CHECK(IDS(t, "Hello hello", false, 0, 25, 5));
    CHECK(IDS(t, "cafe\xcc\x81", false, 0, 1));
    sk_tok_free(t);

    /* the same through a directory with tokenizer_config.json */
    static const char cfg[] = "{\"do_lower_case\": false, \"unk_token\": {\"content\": \"[MASK]\"}}";
    char *cpath = write_tmp("tokenizer_config.json", cfg, sizeof cfg - 1);
    CHECK(sk_tok_load_dir(tmpdir, &t) == SK_OK);
    if (t) {
        CHECK(sk_tok_special(t, SK_TOK_UNK) == 4);
        CHECK(IDS(t, "Hello HELLO", false, 0, 25, 4));
        sk_tok_free(t);
    }
    unlink(cpath);
    sk_free(cpath);
    unlink(path);
    sk_free(path);
    printf("wordpiece: hand-checked encodes, decodes, truncation, config\n");
}

/* ---- BPE ---- */

/* GPT-2's bytes_to_unicode, written as in the Python original */
static uint32_t byte_char(int b)
{
    uint32_t extra = 0;
    for (int x = 0; x < 256; x++) {
        bool printable = (x >= '!' && x <= '~') || (x >= 0xA1 && x <= 0xAC) || (x >= 0xAE && x <= 0xFF);
        if (x == b) return printable ? (uint32_t)x : 256 + extra;
        if (!printable) extra++;
    }
    return 0;
}

static void put_json_str(char **p, const char *bytes, size_t n)
{
    /* a token spelled in GPT-2's byte alphabet, as a JSON string */
    *(*p)++ = '"';
    for (size_t i = 0; i < n; i++) {
        uint32_t cp = byte_char((unsigned char)bytes[i]);
        if (cp == '"' || cp == '\\') *(*p)++ = '\\', *(*p)++ = (char)cp;
        else if (cp < 0x80) *(*p)++ = (char)cp;
        else *(*p)++ = (char)(0xC0 | cp >> 6), *(*p)++ = (char)(0x80 | (cp & 0x3F));
    }
    *(*p)++ = '"';
}

static void test_bpe(void)
{
    /* ids 0-255: the single bytes; then merged tokens and <|endoftext|> */
    static const char *const merged[] = {"<|endoftext|>", " t", "he", " the", "ll", "hell", "hello",
                                         "ab", "aba", "n'", "  "};
    enum { EOT = 256, T_T, HE, T_THE, LL, HELL, HELLO, AB, ABA, N_Q, SP2 };
    char *json = malloc(65536), *p = json;
    *p++ = '{';
    for (int b = 0; b < 256; b++) {
        char c = (char)b;
        put_json_str(&p, &c, 1);
        p += sprintf(p, ": %d, ", b);
    }
    for (int i = 0; i < 11; i++) {
        if (i == 0) p += sprintf(p, "\"<|endoftext|>\"");
        else put_json_str(&p, merged[i], strlen(merged[i]));
        p += sprintf(p, ": %d%s", 256 + i, i < 10 ? ", " : "}");
    }
    char *vpath = write_tmp("vocab.json", json, (size_t)(p - json));
    /* "ab a" outranks "a b": merging every "a b" first must still win, as in GPT2Tokenizer */
    static const char merges[] = "#version: 0.2\n\xc4\xa0 t\nh e\n\xc4\xa0t he\nl l\nhe ll\nhell o\n"
                                 "ab a\na b\nn '\n\xc4\xa0 \xc4\xa0\n";
    char *mpath = write_tmp("merges.txt", merges, sizeof merges - 1);
    sk_tokenizer *t = NULL;
    CHECK(sk_tok_load_bpe(vpath, mpath, &t) == SK_OK);
    if (!t) {
        printf("  %s\n", sk_errmsg());
        free(json);
        return;
    }
    CHECK(sk_tok_kind_of(t) == SK_TOK_BPE && sk_tok_vocab_size(t) == 267);
    CHECK(sk_tok_special(t, SK_TOK_EOS) == EOT && sk_tok_special(t, SK_TOK_UNK) == EOT);
    CHECK(sk_tok_special(t, SK_TOK_CLS) == -1 && sk_tok_special(t, SK_TOK_PAD) == -1);
    CHECK(!strcmp(sk_tok_id_to_str(t, T_THE), "\xc4\xa0the"));   /* "Ġthe" */
    CHECK(!strcmp(sk_tok_id_to_str(t, ' '), "\xc4\xa0"));
    size_t blen;
    const char *bytes = sk_tok_id_to_bytes(t, T_THE, &blen);
    CHECK(bytes && blen == 4 && !memcmp(bytes, " the", 4));
    bytes = sk_tok_id_to_bytes(t, 0xe4, &blen);
    CHECK(bytes && blen == 1 && (unsigned char)bytes[0] == 0xe4);
    CHECK(sk_tok_id_to_bytes(t, 267, &blen) == NULL && blen == 0);

    CHECK(IDS(t, "hello the", true, 0, HELLO, T_THE));             /* no specials added for GPT-2 */
    CHECK(IDS(t, "abab", false, 0, AB, AB));                       /* all "a b" merged before "ab a" */
    CHECK(IDS(t, "don't", false, 0, 'd', 'o', 'n', '\'', 't'));     /* "'t" splits off, so no "n '" merge */
    CHECK(IDS(t, "don'x", false, 0, 'd', 'o', 'n', '\'', 'x'));     /* "'x" is punctuation then a letter */
    CHECK(IDS(t, "a  the", false, 0, 'a', ' ', T_THE));             /* white space run leaves its last space */
    CHECK(IDS(t, "a   ", false, 0, 'a', SP2, ' '));                 /* ... except at the end */
    CHECK(IDS(t, "a\n\nthe", false, 0, 'a', '\n', '\n', 't', HE));
    CHECK(IDS(t, "hi<|endoftext|>the", false, 0, 'h', 'i', EOT, 't', HE));
    CHECK(IDS(t, "<|endoftext|", false, 0, '<', '|', 'e', 'n', 'd', 'o', 'f', 't', 'e', 'x', 't', '|'));
    CHECK(IDS(t, "3.14", false, 0, '3', '.', '1', '4'));
    CHECK(IDS(t, "hello the hello", false, 2, HELLO, T_THE));
    CHECK(IDS(t, "\xe4\xb8\xad", false, 0, 0xe4, 0xb8, 0xad));       /* bytes of 中 */
    CHECK(IDS(t, "x\xff", false, 0, 'x', 0xef, 0xbf, 0xbd));         /* bad UTF-8: U+FFFD's bytes */
    CHECK(IDS(t, "", true, 0, NO_IDS));

    /* decoding is exact */
    const char *texts[] = {"h\xc3\xa9llo w\xc3\xb6rld \xf0\x9f\x98\x80 \t\n  the<|endoftext|>x", "", "   "};
    for (int i = 0; i < 3; i++) {
        int32_t *ids;
        int n;
        CHECK(sk_tok_encode(t, texts[i], false, 0, &ids, &n) == SK_OK);
        CHECK(decodes_to(t, ids, n, false, texts[i]));
        sk_free(ids);
    }
    int32_t half[] = {HELLO, 0xe4, 0xb8}, sp[] = {HELLO, EOT, T_THE};
    CHECK(decodes_to(t, half, 3, false, "hello\xef\xbf\xbd"));       /* a cut character: one U+FFFD */
    CHECK(decodes_to(t, sp, 3, true, "hello the"));
    CHECK(decodes_to(t, sp, 3, false, "hello<|endoftext|> the"));
    sk_tok_free(t);

    /* add_prefix_space from a directory's tokenizer_config.json */
    static const char cfg[] = "{\"add_prefix_space\": true}";
    char *cpath = write_tmp("tokenizer_config.json", cfg, sizeof cfg - 1);
    CHECK(sk_tok_load_dir(tmpdir, &t) == SK_OK);
    if (t) {
        CHECK(sk_tok_kind_of(t) == SK_TOK_BPE);
        CHECK(IDS(t, "the", false, 0, T_THE));
        sk_tok_free(t);
    }
    unlink(cpath);
    sk_free(cpath);
    unlink(vpath);
    unlink(mpath);
    sk_free(vpath);
    sk_free(mpath);
    free(json);
    printf("bpe: hand-checked encodes (merge order, pre-tokenizer, <|endoftext|>), exact decodes\n");
}

/* ---- bad files ---- */

/* loading name (written with data) must fail with st and a message holding want */
static void bad_file(const char *name, const char *data, size_t n, sk_status want_st, const char *want)
{
    char *path = write_tmp(name, data, n);
    sk_tokenizer *t = NULL;
    sk_status st;
    if (!strcmp(name, "vocab.txt")) {
        st = sk_tok_load_wordpiece(path, true, &t);
    } else {
        static const char good_vocab[] = "{\"a\": 0, \"b\": 1, \"ab\": 2}";
        static const char good_merges[] = "#version: 0.2\na b\n";
        char *v = !strcmp(name, "vocab.json") ? sk_strdup(path) : write_tmp("vocab.json", good_vocab, sizeof good_vocab - 1);
        char *m = !strcmp(name, "merges.txt") ? sk_strdup(path) : write_tmp("merges.txt", good_merges, sizeof good_merges - 1);
        st = sk_tok_load_bpe(v, m, &t);
        unlink(v);
        unlink(m);
        sk_free(v);
        sk_free(m);
    }
    bool ok = st == want_st && !t && strstr(sk_errmsg(), name) && strstr(sk_errmsg(), want);
    printf("  %-10s -> %s\n", name, sk_errmsg());
    CHECK(ok);
    sk_tok_free(t);
    unlink(path);
    sk_free(path);
}

#define BAD(name, lit, st, want) bad_file(name, lit, sizeof lit - 1, st, want)

static void test_bad_files(void)
{
    printf("bad files:\n");
    BAD("vocab.txt", "[UNK]\nok\nbad\xc3\x28\n", SK_ERR_FORMAT, "line 3: invalid UTF-8");
    char *big = malloc(6000);
    memcpy(big, "[UNK]\n", 6);
    memset(big + 6, 'x', 5000);
    bad_file("vocab.txt", big, 5006, SK_ERR_FORMAT, "line 2: token of 5000 bytes");
    free(big);
    BAD("vocab.txt", "", SK_ERR_FORMAT, "no tokens");
    BAD("vocab.txt", "a\nb\n", SK_ERR_FORMAT, "unknown token '[UNK]'");
    BAD("vocab.txt", "[UNK]\na\0b\n", SK_ERR_FORMAT, "line 2: NUL");
    BAD("vocab.json", "{\"a\": 0,\n\"b\": 1,\n\"c\" 2}", SK_ERR_FORMAT, "line 3: invalid JSON");
    BAD("vocab.json", "[1, 2]", SK_ERR_FORMAT, "expected a JSON object");
    BAD("vocab.json", "{\"a\": 0, \"b\": -1}", SK_ERR_FORMAT, "token \"b\": id must be");
    BAD("vocab.json", "{\"a\": 0, \"b\": 1.5}", SK_ERR_FORMAT, "token \"b\": id must be");
    BAD("vocab.json", "{\"a\": 0, \"b\": \"1\"}", SK_ERR_FORMAT, "token \"b\": id must be");
    BAD("vocab.json", "{\"a\": 0, \"b\": 1e9}", SK_ERR_FORMAT, "token \"b\": id must be");
    BAD("vocab.json", "{\"a\": 0, \"b\": 0}", SK_ERR_FORMAT, "id 0 is given to both");
    BAD("vocab.json", "{\"a\": 0, \"a\": 1}", SK_ERR_FORMAT, "\"a\" appears twice");
    BAD("vocab.json", "{}", SK_ERR_FORMAT, "no tokens");
    BAD("vocab.json", "{\"a\\u00ff\xff\": 0}", SK_ERR_FORMAT, "not UTF-8");
    /* "a b" made "ab"; without "<|endoftext|>" every byte must be a token */
    BAD("vocab.json", "{\"a\": 0, \"b\": 1, \"ab\": 2}", SK_ERR_FORMAT, "byte 0x00 has no token");
    BAD("merges.txt", "#version: 0.2\na b\nb a\na b c\n", SK_ERR_FORMAT, "line 4: expected two symbols");
    BAD("merges.txt", "a b\nb\n", SK_ERR_FORMAT, "line 2: expected two symbols");
    BAD("merges.txt", "a \xe4\xb8\xad\n", SK_ERR_FORMAT, "line 1: a symbol has a character outside");
    BAD("merges.txt", "a b\na \xff\n", SK_ERR_FORMAT, "line 2: invalid UTF-8");

    sk_tokenizer *t = NULL;
    CHECK(sk_tok_load_wordpiece("/nonexistent/vocab.txt", true, &t) == SK_ERR_IO && !t);
    CHECK(strstr(sk_errmsg(), "/nonexistent/vocab.txt") != NULL);
    printf("  missing   -> %s\n", sk_errmsg());
    CHECK(sk_tok_load_dir(tmpdir, &t) == SK_ERR_IO && !t && strstr(sk_errmsg(), "no tokenizer files"));
    printf("  empty dir -> %s\n", sk_errmsg());
    char *v = write_tmp("vocab.txt", "[UNK]\n", sizeof "[UNK]\n" - 1);
    char *c = write_tmp("tokenizer_config.json", "{\"do_lower_case\": 1}", sizeof "{\"do_lower_case\": 1}" - 1);
    CHECK(sk_tok_load_dir(tmpdir, &t) == SK_ERR_FORMAT && !t && strstr(sk_errmsg(), "tokenizer_config.json"));
    printf("  config    -> %s\n", sk_errmsg());
    unlink(c);
    sk_free(c);
    c = write_tmp("tokenizer_config.json", "{\n\"do_lower_case\": tru\n}", sizeof "{\n\"do_lower_case\": tru\n}" - 1);
    CHECK(sk_tok_load_dir(tmpdir, &t) == SK_ERR_FORMAT && !t && strstr(sk_errmsg(), "line 2: invalid JSON"));
    printf("  config    -> %s\n", sk_errmsg());
    unlink(c);
    unlink(v);
    sk_free(c);
    sk_free(v);
}

/* ---- allocation failures: every one fails cleanly (ASan sees any leak) ---- */

static void test_alloc_failures(void)
{
    char *path = write_tmp("vocab.txt", wp_vocab, sizeof wp_vocab - 1);
    int tried = 0, clean = 0;
    for (long k = 1; k < 10000; k++) {
        sk_tokenizer *t = NULL;
        sk_alloc_fail_after(k);
        sk_status st = sk_tok_load_wordpiece(path, true, &t);
        int32_t *ids = NULL;
        int n;
        if (!st) st = sk_tok_encode(t, "Hello, w\xc3\xb6rld! unaffable [MASK] \xe4\xb8\xad", true, 0, &ids, &n);
        char *s = NULL;
        if (!st) st = sk_tok_decode(t, ids, n, false, &s);
        sk_alloc_fail_after(0);
        tried++;
        sk_free(s);
        sk_free(ids);
        sk_tok_free(t);
        if (st == SK_OK) break;   /* the k-th allocation came after the last one */
        clean += st == SK_ERR_NOMEM;
    }
    unlink(path);
    sk_free(path);
    printf("allocation failures: %d injected, %d reported as out of memory\n", tried - 1, clean);
    CHECK(tried > 10 && clean == tried - 1);
}

/* ---- --dump and --bench for tests/py/test_tokenizers.py ---- */

static sk_status load_kind(const char *kind, const char *dir, sk_tokenizer **t)
{
    if (!strcmp(kind, "wordpiece-cased")) {
        char *p = sk_path_join(dir, "vocab.txt");
        sk_status st = sk_tok_load_wordpiece(p, false, t);
        sk_free(p);
        return st;
    }
    sk_status st = sk_tok_load_dir(dir, t);
    if (st) return st;
    sk_tok_kind want = !strcmp(kind, "bpe") ? SK_TOK_BPE : SK_TOK_WORDPIECE;
    if (sk_tok_kind_of(*t) != want) {
        sk_tok_free(*t);
        *t = NULL;
        return sk_err(SK_ERR_INVALID, "%s: not a %s tokenizer", dir, kind);
    }
    return SK_OK;
}

static int hexval(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static int dump(int argc, char **argv)
{
    int max_len = 0;
    bool special = true, decode = false;
    for (int i = 5; i < argc; i++) {
        if (!strcmp(argv[i], "--max-len") && i + 1 < argc) max_len = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--no-special")) special = false;
        else if (!strcmp(argv[i], "--decode")) decode = true;
        else {
            fprintf(stderr, "unknown option %s\n", argv[i]);
            return 2;
        }
    }
    sk_tokenizer *t;
    if (load_kind(argv[2], argv[3], &t)) {
        fprintf(stderr, "%s\n", sk_errmsg());
        return 1;
    }
    char *data;
    size_t len;
    if (sk_read_file(argv[4], &data, &len)) {
        fprintf(stderr, "%s\n", sk_errmsg());
        sk_tok_free(t);
        return 1;
    }
    char *text = sk_malloc(len / 2 + 1);
    int rc = 0;
    for (char *line = data; line < data + len;) {
        char *e = memchr(line, '\n', (size_t)(data + len - line));
        if (!e) e = data + len;
        size_t n = 0;
        for (char *q = line; q + 1 < e; q += 2) {
            int hi = hexval(q[0]), lo = hexval(q[1]);
            if (hi < 0 || lo < 0) {
                fprintf(stderr, "%s: bad hex\n", argv[4]);
                rc = 1;
                goto done;
            }
            text[n++] = (char)(hi << 4 | lo);
        }
        int32_t *ids;
        int nid;
        if (sk_tok_encode_n(t, text, n, special, max_len, &ids, &nid)) {
            fprintf(stderr, "%s\n", sk_errmsg());
            rc = 1;
            goto done;
        }
        for (int i = 0; i < nid; i++) printf(i ? " %d" : "%d", ids[i]);
        if (decode) {
            char *s;
            size_t sn;
            if (sk_tok_decode_n(t, ids, nid, false, &s, &sn)) {
                fprintf(stderr, "%s\n", sk_errmsg());
                sk_free(ids);
                rc = 1;
                goto done;
            }
            putchar('\t');
            for (size_t q = 0; q < sn; q++) printf("%02x", (unsigned char)s[q]);
            sk_free(s);
        }
        putchar('\n');
        sk_free(ids);
        line = e + 1;
    }
done:
    sk_free(text);
    sk_free(data);
    sk_tok_free(t);
    return rc;
}

static int bench(char **argv)
{
    sk_tokenizer *t;
    char *data;
    size_t len;
    if (load_kind(argv[2], argv[3], &t) || sk_read_file(argv[4], &data, &len)) {
        fprintf(stderr, "%s\n", sk_errmsg());
        return 1;
    }
    double best = 1e9;
    int n = 0;
    for (int rep = 0; rep < 3; rep++) {
        int32_t *ids;
        double t0 = sk_now();
        if (sk_tok_encode_n(t, data, len, false, 0, &ids, &n)) {
            fprintf(stderr, "%s\n", sk_errmsg());
            return 1;
        }
        double dt = sk_now() - t0;
        if (dt < best) best = dt;
        sk_free(ids);
    }
    printf("bench %s: %zu bytes -> %d tokens in %.3f s (%.1f MB/s)\n", argv[2], len, n, best, len / best / 1e6);
    sk_free(data);
    sk_tok_free(t);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 5 && !strcmp(argv[1], "--dump")) return dump(argc, argv);
    if (argc == 5 && !strcmp(argv[1], "--bench")) return bench(argv);
    if (argc != 1) {
        fprintf(stderr, "usage: test_tokenizer [--dump|--bench KIND DIR FILE [options]]\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IONBF, 0);
    snprintf(tmpdir, sizeof tmpdir, "/tmp/sk_tok_XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_wordpiece();
    test_bpe();
    test_bad_files();
    test_alloc_failures();
    rmdir(tmpdir);
    printf("%d checks, %d failed\n", checks, fails);
    return fails ? 1 : 0;
}
