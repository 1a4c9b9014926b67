/* shrink.h — the public API of libshrink.
 *
 * shrink imports a checkpoint (ONNX, Hugging Face safetensors, .skm) into its
 * IR, runs passes over it and executes it in its own runtime.  Everything a
 * program using the library may call is declared here; the IR structures a
 * pass plugin needs are in shrink-pass.h.
 *
 * Conventions: functions that can fail on input return sk_status; the message
 * is then in sk_errmsg() (per thread).  Objects returned through an out
 * parameter belong to the caller, who frees them with the matching _free
 * function; _free(NULL) is a no-op.
 */
#ifndef SHRINK_H
#define SHRINK_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SK_VERSION "0.1.0"

typedef enum sk_status {
    SK_OK = 0,
    SK_ERR_IO,          /* a file could not be read or written */
    SK_ERR_FORMAT,      /* a file is malformed, truncated or lies about sizes */
    SK_ERR_UNSUPPORTED, /* a valid input shrink does not handle (op, dtype, opset) */
    SK_ERR_INVALID,     /* a bad argument or an inconsistent model */
    SK_ERR_NOMEM,       /* an allocation failed */
    SK_ERR_USAGE,       /* bad command-line usage (CLI exit 2) */
    SK_ERR_GATE,        /* a validation budget failed (CLI exit 3) */
} sk_status;

/* The message of the last failure on this thread ("" if none).  Owned by the
 * library; valid until the next failing call on this thread. */
const char *sk_errmsg(void);
const char *sk_status_name(sk_status st);

typedef struct sk_model sk_model;      /* IR: graph + metadata (shrink-pass.h) */
typedef struct sk_session sk_session;  /* a model planned for fixed input shapes */

/* Load MODEL: a .onnx file, a .skm file, a .safetensors file with config.json
 * beside it, or a directory in Hugging Face layout.  *out is the caller's. */
sk_status sk_model_load(const char *path, sk_model **out);
void sk_model_free(sk_model *m);

#ifdef __cplusplus
}
#endif
#endif
