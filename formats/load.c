/* load.c — sk_model_load: pick the importer from the path, then verify.
 *
 * A directory or a .safetensors file is a Hugging Face checkpoint, .onnx is
 * ONNX, .skm is shrink's own artifact.  Whatever the importer, the graph it
 * built is checked with sk_graph_verify before anyone else sees it.
 */
#include <string.h>
#include "formats.h"
#include "util/util.h"

sk_status sk_model_load(const char *path, sk_model **out)
{
    *out = NULL;
    if (!path || !path[0]) return sk_err(SK_ERR_INVALID, "no model path given");
    const char *ext = sk_path_ext(path);
    size_t n = strlen(path);
    sk_model *m = NULL;
    sk_status st;
    if (sk_is_dir(path) || !strcmp(ext, ".safetensors") || (n >= 11 && !strcmp(path + n - 11, ".index.json")))
        st = sk_hf_load(path, &m);
    else if (!strcmp(ext, ".onnx"))
        st = sk_onnx_load(path, &m);
    else if (!strcmp(ext, ".skm"))
        st = sk_skm_load(path, &m);
    else if (!strcmp(ext, ".skir"))
        st = sk_ir_parse_file(path, &m);
    else if (!sk_file_exists(path))
        st = sk_err(SK_ERR_IO, "%s: no such file or directory", path);
    else
        st = sk_err(SK_ERR_UNSUPPORTED, "%s: unknown model kind (expected a .onnx file, a .skm file, a .safetensors "
                    "file with config.json beside it, a Hugging Face folder, or a .skir text IR file)", path);
    if (st) { sk_model_free(m); return st; }
    if ((st = sk_graph_verify(&m->g))) {
        sk_err_prefix(st, "%s: imported graph is invalid", path);
        sk_model_free(m);
        return st;
    }
    if (!m->source && !(m->source = sk_strdup(path))) { sk_model_free(m); return SK_ERR_NOMEM; }
    *out = m;
    return SK_OK;
}
