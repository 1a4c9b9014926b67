/* registry.c — the passes this process knows: one table of built-ins, then
 * the passes of plugins loaded with `--plugin lib.so`.
 *
 * Adding a built-in pass = one extern line and one table row here.  A
 * plugin is a shared library defining sk_pass_plugin_init (shrink-pass.h);
 * every pass it returns is checked like a built-in (api version, unique
 * name, a schema whose defaults parse) before it is listed.  Libraries are
 * never unloaded: their passes' strings and functions must stay valid.
 */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include "pipeline/pipeline.h"

extern const struct sk_pass sk_pass_quantize;      /* quant.c */
extern const struct sk_pass sk_pass_smoothquant;   /* quant_int8.c */
extern const struct sk_pass sk_pass_prune;         /* prune.c */
extern const struct sk_pass sk_pass_prune_structured;   /* prune_structured.c */
extern const struct sk_pass sk_pass_fold;          /* fold.c */
extern const struct sk_pass sk_pass_fuse;          /* fuse.c */
extern const struct sk_pass sk_pass_distill;       /* distill.c */

static const struct sk_pass *const builtins[] = {
    &sk_pass_quantize,
    &sk_pass_smoothquant,
    &sk_pass_fold,
    &sk_pass_fuse,
    &sk_pass_prune,
    &sk_pass_prune_structured,
    &sk_pass_distill,
};
#define N_BUILTINS ((int)(sizeof builtins / sizeof builtins[0]))

static const struct sk_pass **extra;   /* plugin passes */
static int n_extra, cap_extra;

int sk_pass_count(void) { return N_BUILTINS + n_extra; }

const struct sk_pass *sk_pass_at(int i)
{
    if (i < 0 || i >= sk_pass_count()) return NULL;
    return i < N_BUILTINS ? builtins[i] : extra[i - N_BUILTINS];
}

const struct sk_pass *sk_pass_find(const char *name)
{
    for (int i = 0; i < sk_pass_count(); i++)
        if (!strcmp(sk_pass_at(i)->name, name)) return sk_pass_at(i);
    return NULL;
}

void sk_pass_names(char *buf, size_t cap)
{
    size_t k = 0;
    if (cap) buf[0] = 0;
    for (int i = 0; i < sk_pass_count() && k < cap; i++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%s", i ? ", " : "", sk_pass_at(i)->name);
}

/* A pass is usable when its fields and schema are sane; errors name it. */
static sk_status check_pass(const struct sk_pass *p)
{
    if (!p || !p->name || !p->name[0]) return sk_err(SK_ERR_INVALID, "a pass without a name");
    if (p->api_version < 1 || p->api_version > SK_PASS_API_VERSION)
        return sk_err(SK_ERR_UNSUPPORTED, "pass '%s': api_version %d, this shrink supports 1..%d", p->name,
                      p->api_version, SK_PASS_API_VERSION);
    if (!p->run) return sk_err(SK_ERR_INVALID, "pass '%s': no run function", p->name);
    if (sk_pass_find(p->name)) return sk_err(SK_ERR_INVALID, "pass '%s' is already registered", p->name);
    for (const struct sk_param *a = p->params; a && a->name; a++) {
        for (const struct sk_param *b = p->params; b < a; b++)
            if (!strcmp(a->name, b->name)) return sk_err(SK_ERR_INVALID, "pass '%s': parameter '%s' twice", p->name, a->name);
        if ((unsigned)a->type > SK_PARAM_OBJECT)
            return sk_err(SK_ERR_INVALID, "pass '%s': parameter '%s' has an unknown type %d", p->name, a->name, (int)a->type);
    }
    /* the defaults must pass the schema itself */
    char *resolved = NULL;
    bool required = false;
    for (const struct sk_param *a = p->params; a && a->name; a++) required |= !a->dflt;
    if (!required) {
        sk_status st = sk_pass_check_params(p, NULL, &resolved);
        free(resolved);
        if (st) return sk_err_prefix(st, "pass '%s': bad default", p->name);
    }
    return SK_OK;
}

sk_status sk_pass_register(const struct sk_pass *p)
{
    sk_status st = check_pass(p);
    if (st) return st;
    if (sk_grow((void **)&extra, &cap_extra, n_extra + 1, sizeof *extra)) return SK_ERR_NOMEM;
    extra[n_extra++] = p;
    return SK_OK;
}

sk_status sk_pass_load_plugin(const char *path)
{
    /* dlopen searches the library path for a bare name; a plugin is a file */
    char *full = strchr(path, '/') ? sk_strdup(path) : sk_path_join(".", path);
    if (!full) return SK_ERR_NOMEM;
    void *h = dlopen(full, RTLD_NOW | RTLD_LOCAL);
    sk_free(full);
    if (!h) return sk_err(SK_ERR_IO, "%s: cannot load plugin: %s", path, dlerror());
    sk_pass_plugin_init_fn init;
    *(void **)&init = dlsym(h, "sk_pass_plugin_init");   /* POSIX's way to get a function from dlsym */
    if (!init) {
        dlclose(h);
        return sk_err(SK_ERR_FORMAT, "%s: not a shrink plugin (no sk_pass_plugin_init)", path);
    }
    const struct sk_pass *const *passes = NULL;
    int n = init(SK_PASS_API_VERSION, &passes);
    if (n < 0) {
        dlclose(h);
        return sk_err(SK_ERR_UNSUPPORTED, "%s: plugin refused this shrink (pass API %d)", path, SK_PASS_API_VERSION);
    }
    if (n > 0 && !passes) {
        dlclose(h);
        return sk_err(SK_ERR_FORMAT, "%s: sk_pass_plugin_init returned %d passes but no array", path, n);
    }
    int before = n_extra;
    for (int i = 0; i < n; i++) {
        sk_status st = sk_pass_register(passes[i]);
        if (st) {
            n_extra = before;   /* all or nothing */
            dlclose(h);
            return sk_err_prefix(st, "%s", path);
        }
    }
    return SK_OK;   /* h stays open: the passes point into it */
}
