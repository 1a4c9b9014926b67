/* report.h — the rows of a trade-off table, shared by the tables
 * (report.c) and the plots and HTML page (plot.c).  Internal to
 * src/pipeline; the public side is in pipeline.h. */
#ifndef SK_PIPELINE_REPORT_H
#define SK_PIPELINE_REPORT_H

#include "pipeline/pipeline.h"

/* One configuration: a baseline (once per model, data and metric) or a
 * compressed model.  group is "metric\ndata": rows are compared (Pareto)
 * and plotted together only within a group. */
typedef struct sk_report_row {
    char name[160], method[80], bits[80], sparsity[80], gate[8];
    char metric[16], unit[4], group[512];
    double params, bytes, ratio, value, delta, p50, speedup;
    double p50_lo, p50_hi;   /* baseline: its p50 over every run that measured it */
    int runs;
    bool base, lower_better, par_size, par_lat;
} sk_report_row;

/* The rows of reports[0..n), Pareto marks set; *out is the caller's (sk_free). */
sk_status sk_report_rows(struct cJSON *const *reports, int n, sk_report_row **out, int *n_out);

/* The cells of a row as the markdown table prints them. */
#define SK_REPORT_COLS 13
extern const char *const sk_report_headers[SK_REPORT_COLS];
void sk_report_cells(const sk_report_row *r, char c[SK_REPORT_COLS][192]);

/* The HTML page (plot.c): the table and the plots, self-contained. */
sk_status sk_report_html_page(const sk_report_row *rows, int n, FILE *f);

#endif
