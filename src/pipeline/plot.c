/* plot.c — the trade-off plots (SVG) and the HTML page of `shrink report`.
 *
 * Written by hand as text, no library: for each group of rows measured the
 * same way (metric and data), two panels side by side — the metric against
 * size (MB of constants) and against latency p50 — with a labelled point per
 * row, the baselines as squares, failed gates hollow, and each panel's
 * Pareto front (the row marks of report.c) as a step line: along the x axis,
 * the best metric reachable at that size or latency.  Labels are placed
 * beside their point where they overlap no other label or point if such a
 * place exists (8 candidate places, text width estimated from its length).
 * The HTML page is the table (report.c's cells) and this SVG inline, with
 * its own small stylesheet: one file, nothing fetched.
 *
 * This file draws what the rows say; it computes no figure of its own.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "pipeline/pipeline.h"
#include "pipeline/report.h"
#include "util/util.h"

typedef sk_report_row row;

/* layout in px */
#define PANEL_W 520.0          /* one panel, margins included */
#define PANEL_H 360.0
#define M_LEFT 72.0            /* plot area inside a panel */
#define M_RIGHT 24.0
#define M_TOP 34.0
#define M_BOTTOM 52.0
#define LEGEND_H 56.0
#define GROUP_TITLE_H 30.0
#define LABEL_PX 11.0          /* point labels */
#define CHAR_W 0.58            /* average glyph width / font size (sans-serif) */

static const char *const C_PASS = "#1f6fb4", *const C_FAIL = "#c8372d", *const C_BASE = "#222222",
                         *const C_FRONT = "#e8860c", *const C_GRID = "#e3e3e3";

static void xml_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default: fputc(*s, f);
        }
    }
}

typedef struct box { double x0, y0, x1, y1; } box;

static double overlap(const box *a, const box *b)
{
    double w = fmin(a->x1, b->x1) - fmax(a->x0, b->x0), h = fmin(a->y1, b->y1) - fmax(a->y0, b->y0);
    return w > 0 && h > 0 ? w * h : 0;
}

/* An axis: data range [lo, hi] with ticks every step from lo. */
typedef struct axis { double lo, hi, step; int decimals; } axis;

static axis axis_for(double mn, double mx, bool from_zero_ok)
{
    axis a;
    if (!(mx > mn)) {
        double d = fabs(mn) > 0 ? fabs(mn) * 0.1 : 1;
        mn -= d;
        mx += d;
    }
    double pad = (mx - mn) * 0.1, lo = mn - pad, hi = mx + pad;
    if (from_zero_ok && lo < 0 && mn >= 0) lo = 0;
    double raw = (hi - lo) / 5, mag = pow(10, floor(log10(raw))), fr = raw / mag;
    a.step = (fr < 1.5 ? 1 : fr < 3 ? 2 : fr < 7 ? 5 : 10) * mag;
    a.lo = floor(lo / a.step) * a.step;
    a.hi = ceil(hi / a.step) * a.step;
    int d = (int)-floor(log10(a.step) + 1e-9);
    a.decimals = d > 0 ? d : 0;
    return a;
}

typedef struct panel {
    double x0, y0, w, h;       /* plot area */
    axis ax, ay;
} panel;

static double px(const panel *p, double x) { return p->x0 + (x - p->ax.lo) / (p->ax.hi - p->ax.lo) * p->w; }
static double py(const panel *p, double y) { return p->y0 + p->h - (y - p->ay.lo) / (p->ay.hi - p->ay.lo) * p->h; }

/* The value a row shows on an axis. */
static double yval(const row *r) { return r->lower_better ? r->value : r->value * 100; }
static double xval(const row *r, bool lat) { return lat ? r->p50 : r->bytes / 1e6; }

/* The label of a point: the row's name, a baseline as "baseline <model folder or file>". */
static void label_of(const row *r, char *buf, size_t cap)
{
    if (!r->base) { snprintf(buf, cap, "%s", r->name); return; }
    const char *m = r->name + (strncmp(r->name, "baseline ", 9) ? 0 : 9);
    size_t n = strlen(m);
    while (n > 1 && m[n - 1] == '/') n--;
    const char *b = m + n;
    while (b > m && b[-1] != '/') b--;
    snprintf(buf, cap, "baseline %.*s", (int)(m + n - b), b);
}

static void frame(FILE *f, const panel *p, const char *xlabel, const char *ylabel, const char *title)
{
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#fcfcfc\" stroke=\"#999\"/>\n", p->x0, p->y0, p->w, p->h);
    for (double t = p->ax.lo; t <= p->ax.hi + p->ax.step * 1e-6; t += p->ax.step) {
        double x = px(p, t);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"/>", x, p->y0, x, p->y0 + p->h, C_GRID);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#666\"/>", x, p->y0 + p->h, x, p->y0 + p->h + 5);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"11\">%.*f</text>\n", x, p->y0 + p->h + 18,
                p->ax.decimals, fabs(t) < p->ax.step * 1e-9 ? 0.0 : t);
    }
    for (double t = p->ay.lo; t <= p->ay.hi + p->ay.step * 1e-6; t += p->ay.step) {
        double y = py(p, t);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"/>", p->x0, y, p->x0 + p->w, y, C_GRID);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#666\"/>", p->x0 - 5, y, p->x0, y);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" font-size=\"11\">%.*f</text>\n", p->x0 - 8, y + 4,
                p->ay.decimals, fabs(t) < p->ay.step * 1e-9 ? 0.0 : t);
    }
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"13\">", p->x0 + p->w / 2, p->y0 + p->h + 40);
    xml_text(f, xlabel);
    fprintf(f, "</text>\n<text transform=\"translate(%.1f,%.1f) rotate(-90)\" text-anchor=\"middle\" font-size=\"13\">",
            p->x0 - 54, p->y0 + p->h / 2);
    xml_text(f, ylabel);
    fprintf(f, "</text>\n<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"13\" font-weight=\"bold\">", p->x0 + p->w / 2,
            p->y0 - 12);
    xml_text(f, title);
    fputs("</text>\n", f);
}

static int by_x(const void *a, const void *b)
{
    double d = ((const double *)a)[0] - ((const double *)b)[0];
    return d < 0 ? -1 : d > 0;
}

/* The Pareto front of the panel as a step line: at each x, the best metric of
 * the marked rows at or left of it (horizontal at a point's level until the
 * next point, then vertical), carried on to the right edge.  Its segments go
 * into seg (2 per row at most) as thin boxes, for the labels to avoid. */
static sk_status front(FILE *f, const panel *p, const row *rows, const int *idx, int n, bool lat, box *seg, int *n_seg)
{
    double *pts = sk_malloc(((size_t)n + 1) * 2 * sizeof *pts);
    if (!pts) return SK_ERR_NOMEM;
    int k = 0;
    *n_seg = 0;
    for (int i = 0; i < n; i++) {
        const row *r = &rows[idx[i]];
        if (!(lat ? r->par_lat : r->par_size)) continue;
        pts[2 * k] = px(p, xval(r, lat));
        pts[2 * k + 1] = py(p, yval(r));
        k++;
    }
    qsort(pts, (size_t)k, 2 * sizeof *pts, by_x);
    if (k) {
        fprintf(f, "<path class=\"front\" d=\"M%.1f,%.1f", pts[0], pts[1]);
        for (int i = 0; i < k; i++) {
            double x0 = pts[2 * i], y0 = pts[2 * i + 1], x1 = i + 1 < k ? pts[2 * i + 2] : p->x0 + p->w;
            if (i + 1 < k) fprintf(f, " H%.1f V%.1f", x1, pts[2 * i + 3]);
            seg[(*n_seg)++] = (box){x0, y0 - 2, x1, y0 + 2};
            if (i + 1 < k) seg[(*n_seg)++] = (box){x1 - 2, fmin(y0, pts[2 * i + 3]), x1 + 2, fmax(y0, pts[2 * i + 3])};
        }
        fprintf(f, " H%.1f\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\" stroke-dasharray=\"6,3\"/>\n", p->x0 + p->w, C_FRONT);
    }
    sk_free(pts);
    return SK_OK;
}

/* A point: class "pt size" or "pt latency", its figures as a tooltip. */
static void marker(FILE *f, const row *r, double x, double y, bool lat)
{
    const char *cls = lat ? "pt latency" : "pt size";
    if (r->base)
        fprintf(f, "<rect class=\"%s\" x=\"%.1f\" y=\"%.1f\" width=\"10\" height=\"10\" fill=\"%s\">", cls, x - 5, y - 5, C_BASE);
    else if (!strcmp(r->gate, "pass"))
        fprintf(f, "<circle class=\"%s\" cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"%s\">", cls, x, y, C_PASS);
    else
        fprintf(f, "<circle class=\"%s\" cx=\"%.1f\" cy=\"%.1f\" r=\"4.5\" fill=\"white\" stroke=\"%s\" stroke-width=\"2\">", cls,
                x, y, C_FAIL);
    fputs("<title>", f);
    xml_text(f, r->name);
    fprintf(f, ": %s %.6g, %.4g MB, p50 %.4g ms, gate %s</title></%s>\n", r->metric, r->value, r->bytes / 1e6, r->p50, r->gate,
            r->base ? "rect" : "circle");
}

/* Place and draw the labels of the n points; boxes of points and placed labels are avoided. */
static sk_status labels(FILE *f, const panel *p, const row *rows, const int *idx, int n, bool lat, const box *seg, int n_seg)
{
    box *taken = sk_malloc(((size_t)n * 2 + (size_t)n_seg + 1) * sizeof *taken);
    if (!taken) return SK_ERR_NOMEM;
    int nt = 0;
    for (int i = 0; i < n_seg; i++) taken[nt++] = seg[i];
    for (int i = 0; i < n; i++) {
        double x = px(p, xval(&rows[idx[i]], lat)), y = py(p, yval(&rows[idx[i]]));
        taken[nt++] = (box){x - 6, y - 6, x + 6, y + 6};
    }
    box area = {p->x0 + 2, p->y0 + 2, p->x0 + p->w - 2, p->y0 + p->h - 2};
    for (int i = 0; i < n; i++) {
        const row *r = &rows[idx[i]];
        char text[200];
        label_of(r, text, sizeof text);
        double x = px(p, xval(r, lat)), y = py(p, yval(r));
        double w = (double)strlen(text) * LABEL_PX * CHAR_W, h = LABEL_PX + 2;
        /* candidates: the box's left x, top y and the text anchor */
        const struct { double dx, dy; } cand[8] = {
            {8, -h / 2}, {-8 - w, -h / 2}, {-w / 2, -8 - h}, {-w / 2, 8}, {7, -7 - h}, {7, 7}, {-7 - w, -7 - h}, {-7 - w, 7},
        };
        int best = 0;
        double best_cost = INFINITY;
        for (int c = 0; c < 8; c++) {
            box b = {x + cand[c].dx, y + cand[c].dy, x + cand[c].dx + w, y + cand[c].dy + h};
            double cost = 0;
            for (int t = 0; t < nt; t++) cost += overlap(&b, &taken[t]);
            double inside = overlap(&b, &area);
            cost += (w * h - inside) * 4;   /* leaving the plot area is worse than touching a neighbour */
            if (cost < best_cost - 1e-9) { best_cost = cost; best = c; }
        }
        box b = {x + cand[best].dx, y + cand[best].dy, x + cand[best].dx + w, y + cand[best].dy + h};
        taken[nt++] = b;
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"%.0f\" fill=\"%s\" stroke=\"white\" stroke-width=\"3\" "
                   "paint-order=\"stroke\">", b.x0, b.y1 - 3, LABEL_PX,
                r->base ? C_BASE : !strcmp(r->gate, "pass") ? "#14466f" : C_FAIL);
        xml_text(f, text);
        fputs("</text>\n", f);
    }
    sk_free(taken);
    return SK_OK;
}

static sk_status draw_panel(FILE *f, double ox, double oy, const row *rows, const int *idx, int n, bool lat)
{
    const row *r0 = &rows[idx[0]];
    double xmn = INFINITY, xmx = -INFINITY, ymn = INFINITY, ymx = -INFINITY;
    for (int i = 0; i < n; i++) {
        const row *r = &rows[idx[i]];
        xmn = fmin(xmn, xval(r, lat));
        xmx = fmax(xmx, xval(r, lat));
        ymn = fmin(ymn, yval(r));
        ymx = fmax(ymx, yval(r));
    }
    panel p = {ox + M_LEFT, oy + M_TOP, PANEL_W - M_LEFT - M_RIGHT, PANEL_H - M_TOP - M_BOTTOM, axis_for(xmn, xmx, true),
               axis_for(ymn, ymx, true)};
    char ylabel[64];
    snprintf(ylabel, sizeof ylabel, "%s", r0->lower_better ? "perplexity (lower is better)" : "accuracy, % (higher is better)");
    char title[64];
    snprintf(title, sizeof title, "%s vs %s", r0->metric, lat ? "latency" : "size");
    frame(f, &p, lat ? "latency p50, ms (batch 1)" : "size: MB of constants", ylabel, title);
    box *seg = sk_malloc(((size_t)n * 2 + 1) * sizeof *seg);
    int n_seg = 0;
    sk_status st = seg ? front(f, &p, rows, idx, n, lat, seg, &n_seg) : SK_ERR_NOMEM;
    for (int i = 0; !st && i < n; i++) marker(f, &rows[idx[i]], px(&p, xval(&rows[idx[i]], lat)), py(&p, yval(&rows[idx[i]])), lat);
    if (!st) st = labels(f, &p, rows, idx, n, lat, seg, n_seg);
    sk_free(seg);
    return st;
}

static void legend(FILE *f, double width)
{
    double x = 20, y = 24;
    fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" font-size=\"16\" font-weight=\"bold\">shrink: trade-offs</text>\n", x, y);
    y = 46;
    fprintf(f, "<rect x=\"%.0f\" y=\"%.0f\" width=\"10\" height=\"10\" fill=\"%s\"/>", x, y - 9, C_BASE);
    fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" font-size=\"12\">baseline (uncompressed)</text>\n", x + 16, y);
    x += 180;
    fprintf(f, "<circle cx=\"%.0f\" cy=\"%.0f\" r=\"5\" fill=\"%s\"/>", x + 5, y - 4, C_PASS);
    fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" font-size=\"12\">compressed, budgets met</text>\n", x + 16, y);
    x += 185;
    fprintf(f, "<circle cx=\"%.0f\" cy=\"%.0f\" r=\"4.5\" fill=\"white\" stroke=\"%s\" stroke-width=\"2\"/>", x + 5, y - 4, C_FAIL);
    fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" font-size=\"12\">budget failed (not written)</text>\n", x + 16, y);
    x += 195;
    fprintf(f, "<path d=\"M%.0f,%.0f H%.0f V%.0f H%.0f\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\" stroke-dasharray=\"6,3\"/>", x,
            y - 1, x + 12, y - 9, x + 24, C_FRONT);
    fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" font-size=\"12\">Pareto front</text>\n", x + 30, y);
    (void)width;
}

/* Groups in first-seen order: gid[i] is row i's group, *n_groups of them. */
static int *groups_of(const row *rows, int n, int *n_groups)
{
    int *gid = sk_malloc(((size_t)n + 1) * sizeof *gid), k = 0;
    if (!gid) return NULL;
    for (int i = 0; i < n; i++) {
        gid[i] = -1;
        for (int j = 0; j < i && gid[i] < 0; j++)
            if (!strcmp(rows[i].group, rows[j].group)) gid[i] = gid[j];
        if (gid[i] < 0) gid[i] = k++;
    }
    *n_groups = k;
    return gid;
}

static sk_status svg_rows(const row *rows, int n, FILE *f)
{
    int ng;
    int *gid = groups_of(rows, n, &ng), *idx = sk_malloc(((size_t)n + 1) * sizeof *idx);
    if (!gid || !idx) { sk_free(gid); sk_free(idx); return SK_ERR_NOMEM; }
    double W = 2 * PANEL_W, H = LEGEND_H + ng * (GROUP_TITLE_H + PANEL_H) + 10;
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
               "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n", W, H, W, H);
    fprintf(f, "<rect width=\"%.0f\" height=\"%.0f\" fill=\"white\"/>\n", W, H);
    legend(f, W);
    sk_status st = SK_OK;
    for (int g = 0; g < ng && !st; g++) {
        int k = 0;
        for (int i = 0; i < n; i++) if (gid[i] == g) idx[k++] = i;
        const row *r0 = &rows[idx[0]];
        const char *data = strchr(r0->group, '\n');
        double oy = LEGEND_H + g * (GROUP_TITLE_H + PANEL_H);
        fprintf(f, "<text x=\"20\" y=\"%.0f\" font-size=\"14\">%s on ", oy + 22, r0->metric);
        xml_text(f, data ? data + 1 : "?");
        fprintf(f, " (%d configuration%s)</text>\n", k, k == 1 ? "" : "s");
        st = draw_panel(f, 0, oy + GROUP_TITLE_H, rows, idx, k, false);
        if (!st) st = draw_panel(f, PANEL_W, oy + GROUP_TITLE_H, rows, idx, k, true);
    }
    fputs("</svg>\n", f);
    sk_free(gid);
    sk_free(idx);
    if (!st && ferror(f)) st = sk_err(SK_ERR_IO, "plot: write failed");
    return st;
}

sk_status sk_report_svg(struct cJSON *const *reports, int n, FILE *f)
{
    row *rows;
    int k;
    sk_status st = sk_report_rows(reports, n, &rows, &k);
    if (st) return st;
    st = svg_rows(rows, k, f);
    sk_free(rows);
    return st;
}

sk_status sk_report_html_page(const row *rows, int n, FILE *f)
{
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>shrink: trade-offs</title>\n<style>\n"
          "body { font-family: 'DejaVu Sans', Helvetica, Arial, sans-serif; margin: 24px; color: #222; }\n"
          "table { border-collapse: collapse; font-size: 13px; margin: 12px 0 24px; }\n"
          "th, td { border: 1px solid #ccc; padding: 4px 8px; }\n"
          "th { background: #f0f0f0; } td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }\n"
          "tr.base td { background: #f7f7f7; font-style: italic; } td.fail { color: #c8372d; font-weight: bold; }\n"
          "td.front { color: #b0620a; font-weight: bold; }\n"
          "</style>\n</head>\n<body>\n<h1>shrink: trade-offs</h1>\n", f);
    fprintf(f, "<p>%d row%s: each baseline once, then each compressed configuration.  <em>pareto</em>: no other row of the same "
               "metric and data is at most as large (size) or as slow (latency) and at least as good.  Latency: p50, batch 1; "
               "<em>speedup</em> is against the baseline measured in the same run (the baseline row shows the first run's).</p>\n",
            n, n == 1 ? "" : "s");
    fputs("<table>\n<tr>", f);
    for (int c = 0; c < SK_REPORT_COLS; c++) {
        fputs("<th>", f);
        xml_text(f, sk_report_headers[c]);
        fputs("</th>", f);
    }
    fputs("</tr>\n", f);
    for (int i = 0; i < n; i++) {
        char c[SK_REPORT_COLS][192];
        sk_report_cells(&rows[i], c);
        fprintf(f, "<tr%s>", rows[i].base ? " class=\"base\"" : "");
        for (int j = 0; j < SK_REPORT_COLS; j++) {
            const char *cls = j >= 4 && j <= 10 ? " class=\"num\"" : j == 11 && !strcmp(c[j], "FAIL") ? " class=\"fail\""
                              : j == 12 && strcmp(c[j], "-") ? " class=\"front\"" : "";
            fprintf(f, "<td%s>", cls);
            xml_text(f, c[j]);
            fputs("</td>", f);
        }
        fputs("</tr>\n", f);
    }
    fputs("</table>\n", f);
    sk_status st = svg_rows(rows, n, f);
    fputs("</body>\n</html>\n", f);
    if (!st && ferror(f)) st = sk_err(SK_ERR_IO, "report: write failed");
    return st;
}
