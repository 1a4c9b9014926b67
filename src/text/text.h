/* text.h — tokenizers: BERT WordPiece and GPT-2 byte-level BPE.
 *
 * A tokenizer turns UTF-8 text into token ids and back, agreeing id for id
 * with Hugging Face's BertTokenizer and GPT2Tokenizer (transformers' Python
 * "slow" tokenizers) on the same vocabulary files.  It is loaded from the
 * files a checkpoint ships (vocab.txt, or vocab.json + merges.txt) and is
 * read-only once loaded, so one tokenizer may serve many threads.
 *
 * Every file is untrusted: bad UTF-8, huge lines, bad JSON, ids out of range
 * are reported as SK_ERR_FORMAT naming the file and the line or token.  Text
 * to encode may hold ill-formed UTF-8: each bad subpart reads as U+FFFD, as
 * Python's bytes.decode("utf-8", "replace") has it.
 */
#ifndef SK_TEXT_H
#define SK_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "shrink.h"

typedef struct sk_tokenizer sk_tokenizer;

typedef enum sk_tok_kind { SK_TOK_WORDPIECE, SK_TOK_BPE } sk_tok_kind;

/* Special tokens; a tokenizer has an id for some of them (else -1). */
typedef enum sk_tok_special_kind {
    SK_TOK_UNK, SK_TOK_CLS, SK_TOK_SEP, SK_TOK_PAD, SK_TOK_MASK, SK_TOK_BOS, SK_TOK_EOS,
    SK_TOK_N_SPECIAL
} sk_tok_special_kind;

/* Options as Hugging Face's tokenizer_config.json spells them. */
typedef struct sk_tok_opts {
    bool lowercase;          /* WordPiece do_lower_case (default true) */
    int strip_accents;       /* WordPiece: -1 = as lowercase (HF None, default), 0 = no, 1 = yes */
    bool chinese;            /* WordPiece tokenize_chinese_chars (default true) */
    bool add_prefix_space;   /* BPE: encode " " + text (default false) */
    bool add_bos;            /* BPE add_bos_token: add_special puts <bos> first (default false) */
    int max_length;          /* model_max_length of tokenizer_config.json: the truncation the model
                              * was trained with (0 = none given) */
    /* token strings of the special tokens; NULL = the family's default:
     * WordPiece [UNK] [CLS] [SEP] [PAD] [MASK]; BPE <|endoftext|> as unk, bos, eos.
     * A special token absent from the vocabulary has no id.  Borrowed while loading. */
    const char *special[SK_TOK_N_SPECIAL];
} sk_tok_opts;

void sk_tok_opts_default(sk_tok_opts *o);

/* Load a BERT vocab.txt (one token per line, id = line number - 1).
 * *out is the caller's, free with sk_tok_free. */
sk_status sk_tok_load_wordpiece(const char *vocab_txt, bool lowercase, sk_tokenizer **out);
sk_status sk_tok_load_wordpiece_opts(const char *vocab_txt, const sk_tok_opts *o, sk_tokenizer **out);
/* Load a GPT-2 byte-level BPE: vocab.json ({token: id}) and merges.txt (one
 * "a b" pair a line, best first, after an optional "#version" line). */
sk_status sk_tok_load_bpe(const char *vocab_json, const char *merges_txt, sk_tokenizer **out);
sk_status sk_tok_load_bpe_opts(const char *vocab_json, const char *merges_txt, const sk_tok_opts *o,
                               sk_tokenizer **out);
/* Load from a checkpoint directory: vocab.json + merges.txt (BPE) or vocab.txt
 * (WordPiece); options from tokenizer_config.json and special_tokens_map.json
 * when present. */
sk_status sk_tok_load_dir(const char *dir, sk_tokenizer **out);
/* A tokenizer file held in memory (e.g. embedded in a .skm), named as in a
 * checkpoint folder: "vocab.txt", "vocab.json", "merges.txt",
 * "tokenizer_config.json", "special_tokens_map.json". */
typedef struct sk_tok_file {
    const char *name;
    const void *data;    /* len bytes, not necessarily NUL-terminated; borrowed during the call */
    size_t len;
} sk_tok_file;
/* Load from n such files exactly as sk_tok_load_dir would from a folder
 * holding them (other names are ignored; of two with one name the first
 * counts).  where names them in messages: "m.skm: embedded vocab.txt: line 3: ...". */
sk_status sk_tok_load_mem(const char *where, const sk_tok_file *files, int n, sk_tokenizer **out);
void sk_tok_free(sk_tokenizer *t);

/* The tokenizer of a model (model_tok.c): the files embedded in it (a model
 * loaded from a .skm, m->files) when there are any, else those in
 * m->tokenizer_dir.  SK_ERR_INVALID naming m->source when it has neither;
 * sk_model_has_tokenizer says beforehand.  *out is the caller's. */
bool sk_model_has_tokenizer(const sk_model *m);
sk_status sk_model_tokenizer(const sk_model *m, sk_tokenizer **out);
/* The truncation length for m's text inputs: the tokenizer's model_max_length
 * when given, capped by the model's max positions; 0 = no limit known. */
int sk_model_max_len(const sk_model *m, const sk_tokenizer *t);

sk_tok_kind sk_tok_kind_of(const sk_tokenizer *t);
/* Ids run over [0, vocab_size) (some may be unused if the file skips them). */
int sk_tok_vocab_size(const sk_tokenizer *t);
/* The model_max_length the tokenizer's config gives (the default truncation), 0 if none. */
int sk_tok_max_length(const sk_tokenizer *t);
int32_t sk_tok_special(const sk_tokenizer *t, sk_tok_special_kind k);   /* -1 if none */
/* The token as the vocabulary file spells it (BPE: in GPT-2's byte-to-unicode
 * alphabet, "Ġthe"), NULL for an unused or out-of-range id.  Owned by t. */
const char *sk_tok_id_to_str(const sk_tokenizer *t, int32_t id);
int32_t sk_tok_str_to_id(const sk_tokenizer *t, const char *tok);   /* -1 if absent */

/* Encode text (NUL-terminated, or len bytes for _n, which may include NULs).
 * add_special: WordPiece wraps the ids in [CLS] ... [SEP]; BPE adds nothing
 * (like GPT2Tokenizer), or <bos> first if loaded with add_bos.  Special
 * tokens written in the text ("[MASK]", "<|endoftext|>") are matched whole.
 * max_len > 0 truncates like HF truncation=True: the text's tokens are cut
 * so that, with the specials, at most max_len remain (a WordPiece [SEP]
 * stays last); max_len smaller than the specials is SK_ERR_INVALID.  *ids
 * (sk_free it) holds *n ids; it is non-NULL even when *n is 0. */
sk_status sk_tok_encode(const sk_tokenizer *t, const char *text, bool add_special, int max_len,
                        int32_t **ids, int *n);
sk_status sk_tok_encode_n(const sk_tokenizer *t, const char *text, size_t len, bool add_special,
                          int max_len, int32_t **ids, int *n);

/* Decode ids to a NUL-terminated UTF-8 string (sk_free it), like HF decode
 * with clean_up_tokenization_spaces=False: BPE joins the tokens' bytes
 * exactly (ill-formed UTF-8 becomes U+FFFD); WordPiece joins tokens with
 * spaces and glues "##" pieces to the one before.  skip_special drops the
 * special tokens' ids.  An id outside the vocabulary is SK_ERR_INVALID.
 * _n also gives the length, for text that holds NULs (len may be NULL). */
sk_status sk_tok_decode(const sk_tokenizer *t, const int32_t *ids, int n, bool skip_special, char **out);
sk_status sk_tok_decode_n(const sk_tokenizer *t, const int32_t *ids, int n, bool skip_special,
                          char **out, size_t *len);
/* The bytes one token stands for when decoded, in *len bytes, owned by t; NULL
 * for an unused id.  BPE: a token may hold part of a UTF-8 character, so a
 * program printing tokens as they come (generation) writes these bytes
 * rather than decoding token by token, which would show U+FFFD for each
 * split character.  WordPiece: the token's spelling. */
const char *sk_tok_id_to_bytes(const sk_tokenizer *t, int32_t id, size_t *len);

#endif
