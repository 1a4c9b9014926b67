/* passes.c — `shrink passes [--json] [--plugin LIB.so]`: the passes this
 * program knows (passes/registry.c, plus plugins) with their parameter
 * schemas, as a table or as JSON for tools that build recipes.
 */
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"
#include "pipeline/pipeline.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: shrink passes [--json] [--plugin LIB.so]...\n"
            "\n"
            "List the passes (built-in, then those of each --plugin) and their parameters: name, type,\n"
            "default, allowed values and a line of help.\n"
            "\n"
            "  --json          one JSON array: [{\"name\", \"summary\", \"api_version\", \"params\": [{\"name\",\n"
            "                  \"type\", \"default\", \"choices\", \"min\", \"max\", \"help\"}]}]\n"
            "  --plugin LIB    load a pass plugin first (see docs/passes.md)\n");
}

static cJSON *pass_json(const struct sk_pass *p)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "name", p->name);
    cJSON_AddStringToObject(j, "summary", p->summary ? p->summary : "");
    cJSON_AddNumberToObject(j, "api_version", p->api_version);
    cJSON *ps = cJSON_AddArrayToObject(j, "params");
    char *resolved = NULL;
    cJSON *defaults = sk_pass_check_params(p, NULL, &resolved) ? NULL : cJSON_Parse(resolved);
    free(resolved);
    for (const struct sk_param *a = p->params; a && a->name; a++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "name", a->name);
        cJSON_AddStringToObject(e, "type", sk_param_type_name(a->type));
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(defaults, a->name);
        if (d) cJSON_AddItemToObject(e, "default", cJSON_Duplicate(d, true));
        else cJSON_AddNullToObject(e, "default");
        if (a->choices) cJSON_AddStringToObject(e, "choices", a->choices);
        if (a->min < a->max) { cJSON_AddNumberToObject(e, "min", a->min); cJSON_AddNumberToObject(e, "max", a->max); }
        cJSON_AddStringToObject(e, "help", a->help ? a->help : "");
        cJSON_AddItemToArray(ps, e);
    }
    cJSON_Delete(defaults);
    return j;
}

static void print_pass(const struct sk_pass *p)
{
    printf("%s — %s\n", p->name, p->summary ? p->summary : "");
    for (const struct sk_param *a = p->params; a && a->name; a++) {
        char dflt[64], range[64] = "";
        if (!a->dflt) snprintf(dflt, sizeof dflt, "(required)");
        else if (a->type == SK_PARAM_STRINGS && !a->dflt[0]) snprintf(dflt, sizeof dflt, "[]");
        else snprintf(dflt, sizeof dflt, "%s", a->dflt);
        if (a->choices) snprintf(range, sizeof range, "  %s", a->choices);
        else if (a->min < a->max) snprintf(range, sizeof range, "  [%g, %g]", a->min, a->max);
        char line[256];
        int k = snprintf(line, sizeof line, "  %-12s %-7s %-6s%s", a->name, sk_param_type_name(a->type), dflt, range);
        while (k > 0 && k < (int)sizeof line && line[k - 1] == ' ') line[--k] = 0;
        printf("%s\n", line);
        printf("               %s\n", a->help ? a->help : "");
    }
}

int cmd_passes(int argc, char **argv)
{
    bool json = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (cli_is_help(a)) { usage(stdout); return 0; }
        if (!strcmp(a, "--json")) json = true;
        else if (!strcmp(a, "--plugin") && i + 1 < argc) {
            sk_status st = sk_pass_load_plugin(argv[++i]);
            if (st) return cli_fail(st);
        } else return cli_usage("passes", "unknown option or missing value '%s'", a);
    }
    if (json) {
        cJSON *arr = cJSON_CreateArray();
        for (int i = 0; i < sk_pass_count(); i++) cJSON_AddItemToArray(arr, pass_json(sk_pass_at(i)));
        char *s = cJSON_Print(arr);
        puts(s ? s : "[]");
        free(s);
        cJSON_Delete(arr);
        return 0;
    }
    for (int i = 0; i < sk_pass_count(); i++) {
        if (i) putchar('\n');
        print_pass(sk_pass_at(i));
    }
    return 0;
}
