/* fuzz_ir_parse.c — libFuzzer target for the text IR parser (src/ir/text.c).
 *
 * Any bytes must give a model or an error, never a crash, a leak or undefined
 * behaviour; and a model that parses must round-trip: print (full values) →
 * parse → print gives the same text.  Build and run from the repo root:
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
 *       -std=c11 -D_GNU_SOURCE -Iinclude -Isrc tests/fuzz/fuzz_ir_parse.c \
 *       src/ir/text.c src/ir/ir.c src/ir/dtype.c src/ir/verify.c src/util/[a-z]*.c \
 *       -lm -lpthread -o build/fuzz_ir_parse
 *   mkdir -p build/fuzz-ir && cp tests/ir/[a-z]*.skir build/fuzz-ir/
 *   build/fuzz_ir_parse -max_len=8192 -max_total_time=600 build/fuzz-ir
 *
 * (the corpus folder is written to, so it is a copy of tests/ir, not tests/ir).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ir/ir.h"
#include "util/util.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static char *print_str(const sk_model *m)
{
    char *s = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&s, &n);
    if (!f) abort();
    sk_status st = sk_ir_print(m, f, true);
    fclose(f);
    if (st) abort();
    return s;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    char *text = malloc(size + 1);   /* the parser reads a NUL-terminated string */
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = 0;
    sk_model *m = NULL;
    if (sk_ir_parse(text, "fuzz.skir", &m) == SK_OK) {
        if (sk_graph_verify(&m->g) != SK_OK) abort();
        char *t1 = print_str(m), *t2;
        sk_model *m2 = NULL;
        if (sk_ir_parse(t1, "fuzz.skir", &m2) != SK_OK) {
            fprintf(stderr, "printed text does not parse: %s\n%s", sk_errmsg(), t1);
            abort();
        }
        t2 = print_str(m2);
        if (strcmp(t1, t2)) {
            fprintf(stderr, "print is not stable:\n%s---\n%s", t1, t2);
            abort();
        }
        free(t1);
        free(t2);
        sk_model_free(m2);
        sk_model_free(m);
    } else if (m != NULL || strncmp(sk_errmsg(), "fuzz.skir", 9) || strchr(sk_errmsg(), '\n')) {
        fprintf(stderr, "bad error: %s\n", sk_errmsg());
        abort();
    }
    free(text);
    return 0;
}
