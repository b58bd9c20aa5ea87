/*
 * pp_report.c -- writes a report folder (see pp_report.h): the gnuplot data
 * and scripts of the four charts, gnuplot run on each as a child process
 * (PNG through pngcairo, then SVG), and index.html with the PNGs embedded
 * as base64 data URIs, the SVGs inlined and the predicted-against-measured
 * table. Every file goes in atomically.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/pp_io.h"
#include "core/pp_stats.h"
#include "reports/pp_report.h"
#include "reports/pp_report_sb.h"

/* ---- A growable string: reports/pp_report_sb.h ---- */

static void sb_printf(sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sb *b, const char *fmt, ...) {
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->bad = 1;
        return;
    }
    if ((size_t)n < sizeof tmp) {
        sb_putn(b, tmp, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        b->bad = 1;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb_putn(b, big, (size_t)n);
    free(big);
}

/* HTML-escaped text. */
static void sb_html(sb *b, const char *s) {
    char *e = pp_report_html_escape(s, NULL);
    if (!e) {
        b->bad = 1;
        return;
    }
    sb_puts(b, e);
    free(e);
}

/* A gnuplot double-quoted string's contents ("noenhanced" terminals, so only
 * the quote, the backslash and control characters matter). */
static void sb_gpstr(sb *b, const char *s) {
    for (; s && *s; s++) {
        if (*s == '"' || *s == '\\') sb_putn(b, "\\", 1);
        if ((unsigned char)*s < 32) continue;
        sb_putn(b, s, 1);
    }
}

/* ---- Files -------------------------------------------------------------- */

static int write_file(const char *dir, const char *name, const sb *b, pp_err *err) {
    if (b->bad) return pp_err_set(err, PP_ERR_NOMEM, "out of memory writing %s/%s", dir, name);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return pp_io_write_atomic(path, b->s ? b->s : "", b->n, err);
}

/* mkdir -p. */
static int make_dir(const char *dir, pp_err *err) {
    char p[4096];
    if (snprintf(p, sizeof p, "%s", dir) >= (int)sizeof p) return pp_err_set(err, PP_ERR_IO, "%s: path too long", dir);
    for (char *c = p + 1; *c; c++) {
        if (*c != '/') continue;
        *c = 0;
        if (mkdir(p, 0777) != 0 && errno != EEXIST) return pp_err_set(err, PP_ERR_IO, "%s: cannot create: %s", p, strerror(errno));
        *c = '/';
    }
    if (mkdir(p, 0777) != 0 && errno != EEXIST) return pp_err_set(err, PP_ERR_IO, "%s: cannot create: %s", p, strerror(errno));
    struct stat st;
    if (stat(p, &st) != 0 || !S_ISDIR(st.st_mode)) return pp_err_set(err, PP_ERR_IO, "%s: not a directory", p);
    return 0;
}

/* Runs `gnuplot -e 'out="<tmp>"' <script>` in dir; stderr goes to a
 * temporary log whose last line names what went wrong. */
static int run_gnuplot(const char *gnuplot, const char *dir, const char *script, const char *tmp_stem, pp_err *err) {
    char logname[4096], arg[512];
    snprintf(logname, sizeof logname, "%s/.%s.gnuplot.log", dir, tmp_stem);
    snprintf(arg, sizeof arg, "out=\".%s.tmp\"", tmp_stem);
    int fds[2];
    if (pipe(fds) != 0) return pp_err_set(err, PP_ERR_IO, "gnuplot: pipe: %s", strerror(errno));
    fcntl(fds[1], F_SETFD, FD_CLOEXEC);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return pp_err_set(err, PP_ERR_IO, "gnuplot: fork: %s", strerror(errno));
    }
    if (pid == 0) {
        close(fds[0]);
        int e = 0;
        if (chdir(dir) != 0) e = errno;
        int lf = e ? -1 : open(logname, O_WRONLY | O_CREAT | O_TRUNC, 0666);
        int nul = open("/dev/null", O_RDWR);
        if (nul >= 0) {
            dup2(nul, 0);
            dup2(nul, 1);
        }
        if (lf >= 0) dup2(lf, 2);
        if (!e) {
            execlp(gnuplot, gnuplot, "-e", arg, script, (char *)NULL);
            e = errno;
        }
        ssize_t w = write(fds[1], &e, sizeof e);
        (void)w;
        _exit(127);
    }
    close(fds[1]);
    int child_errno = 0;
    ssize_t got = read(fds[0], &child_errno, sizeof child_errno);
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (got == (ssize_t)sizeof child_errno) {
        unlink(logname);
        if (child_errno == ENOENT)
            return pp_err_set(err, PP_ERR_UNSUPPORTED,
                              "gnuplot not found ('%s'): install gnuplot (Debian: apt-get install gnuplot-nox, "
                              "as scripts/setup.sh does) to draw the report's charts", gnuplot);
        return pp_err_set(err, PP_ERR_IO, "cannot run gnuplot ('%s') in %s: %s", gnuplot, dir, strerror(child_errno));
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        char *log = NULL;
        size_t len = 0;
        char last[512] = "";
        if (pp_io_read_file(logname, &log, &len, NULL) == 0) {
            /* The last non-empty line. */
            size_t e = len;
            while (e > 0 && (log[e - 1] == '\n' || log[e - 1] == ' ')) e--;
            size_t s = e;
            while (s > 0 && log[s - 1] != '\n') s--;
            snprintf(last, sizeof last, "%.*s", (int)(e - s), log + s);
            free(log);
        }
        unlink(logname);
        if (WIFEXITED(status))
            return pp_err_set(err, PP_ERR_IO, "gnuplot failed on %s/%s (exit %d): %s", dir, script, WEXITSTATUS(status),
                              last[0] ? last : "no message");
        return pp_err_set(err, PP_ERR_IO, "gnuplot was killed by signal %d on %s/%s", WTERMSIG(status), dir, script);
    }
    unlink(logname);
    return 0;
}

/* Writes the script, runs it, and renames .<stem>.tmp.{png,svg} to
 * <stem>.{png,svg}. */
static int draw(const pp_report_input *in, const char *dir, const char *stem, const sb *script, pp_err *err) {
    char name[256];
    snprintf(name, sizeof name, "%s.gp", stem);
    if (write_file(dir, name, script, err)) return -1;
    const char *gp = in->gnuplot && in->gnuplot[0] ? in->gnuplot : "gnuplot";
    int rc = run_gnuplot(gp, dir, name, stem, err);
    const char *ext[2] = {"png", "svg"};
    for (int i = 0; i < 2; i++) {
        char from[4096], to[4096];
        snprintf(from, sizeof from, "%s/.%s.tmp.%s", dir, stem, ext[i]);
        snprintf(to, sizeof to, "%s/%s.%s", dir, stem, ext[i]);
        if (rc) {
            unlink(from);
            continue;
        }
        if (rename(from, to) != 0) {
            rc = pp_err_set(err, PP_ERR_IO, "gnuplot wrote no %s (%s: %s)", to, from, strerror(errno));
            unlink(from);
        }
    }
    return rc;
}

/* ---- Charts ------------------------------------------------------------- */

static const char *KIND_NAME[PP_REPORT__KINDS] = {"F (forward)", "I (backward, inputs)", "W (backward, weights)",
                                                   "B (full backward)", "comm (send/recv, all-reduce)", "optimizer"};
static const unsigned KIND_RGB[PP_REPORT__KINDS] = {0x4477aa, 0xee6677, 0xccbb44, 0xaa3377, 0x999999, 0x228833};
static const unsigned SERIES_RGB[] = {0x4477aa, 0xee6677, 0x228833, 0xccbb44, 0x66ccee, 0xaa3377, 0x777777, 0x000000};
#define N_SERIES_RGB ((int)(sizeof SERIES_RGB / sizeof SERIES_RGB[0]))

/* The script's head and its body drawn twice: PNG then SVG. `out` is the
 * output stem without extension (gnuplot -e sets it; the default draws
 * the final names when the script is run by hand). */
static void script_frame(sb *s, const char *stem, int w, int h, const sb *body) {
    sb_printf(s, "# %s.gp -- drawn by pippy report; rerun with: gnuplot %s.gp\n", stem, stem);
    sb_printf(s, "if (!exists(\"out\")) out = \"%s\"\n", stem);
    sb_printf(s, "set terminal pngcairo size %d,%d noenhanced font \"Sans,11\" background rgb \"white\"\n", w, h);
    sb_puts(s, "set output out.\".png\"\n");
    sb_putn(s, body->s ? body->s : "", body->n);
    sb_puts(s, "unset output\n");
    sb_printf(s, "set terminal svg size %d,%d noenhanced font \"Sans,11\" background rgb \"white\"\n", w, h);
    sb_puts(s, "set output out.\".svg\"\n");
    sb_putn(s, body->s ? body->s : "", body->n);
    sb_puts(s, "unset output\n");
}

/* One Gantt panel's data: "x y xlo xhi ylo yhi rgb" per bar. Compute and
 * optimizer bars fill the upper part of a rank's row, comm the lower. */
static void gantt_data(sb *d, const pp_trace *t, int n_ranks, double scale) {
    sb_puts(d, "# x y xlo xhi ylo yhi rgb  (time scaled to the chart's unit; y = rank)\n");
    int any = 0;
    for (int i = 0; t && i < t->n; i++) {
        const pp_trace_event *e = &t->ev[i];
        int k = pp_report_event_kind(e);
        if (k < 0 || e->rank < 0 || e->rank >= n_ranks || !(e->end > e->start)) continue;
        double lo = e->start * scale, hi = e->end * scale;
        double ylo = k == PP_REPORT_COMM ? e->rank + 0.18 : e->rank - 0.40;
        double yhi = k == PP_REPORT_COMM ? e->rank + 0.40 : e->rank + 0.12;
        sb_printf(d, "%.9g %.4g %.9g %.9g %.4g %.4g %u\n", 0.5 * (lo + hi), 0.5 * (ylo + yhi), lo, hi, ylo, yhi,
                  KIND_RGB[k]);
        any = 1;
    }
    if (!any) sb_puts(d, "NaN NaN NaN NaN NaN NaN 0\n");
}

static void gantt_panel(sb *b, const pp_report_input *in, const char *title, const char *data, double xmax,
                        const char *unit, int with_key, int with_xlabel) {
    int R = in->n_ranks;
    sb_puts(b, "set title \"");
    sb_gpstr(b, title);
    sb_puts(b, "\"\n");
    sb_printf(b, "set xrange [0:%.9g]\nset yrange [%g:%g]\n", xmax, R - 0.5, -0.5);
    sb_puts(b, "set ytics (");
    for (int r = 0; r < R; r++) sb_printf(b, "%s\"rank %d\" %d", r ? ", " : "", r, r);
    sb_puts(b, ")\nset grid xtics\nset ylabel \"pipeline rank\"\n");
    if (with_xlabel) sb_printf(b, "set xlabel \"time in the step (%s)\"\n", unit);
    else sb_puts(b, "unset xlabel\n");
    if (with_key) sb_puts(b, "set key outside right top vertical Left reverse samplen 1.5 spacing 1.2\n");
    else sb_puts(b, "unset key\n");
    sb_printf(b, "plot '%s' using 1:2:3:4:5:6:7 with boxxyerror fs solid 1.0 noborder lc rgb variable notitle", data);
    if (with_key)
        for (int k = 0; k < PP_REPORT__KINDS; k++)
            sb_printf(b, ", \\\n     keyentry with boxes fs solid 1.0 noborder lc rgb \"#%06x\" title \"%s\"", KIND_RGB[k],
                      KIND_NAME[k]);
    sb_puts(b, "\n");
}

static int chart_timeline(const pp_report_input *in, const char *dir, pp_err *err) {
    double xmax_s = in->pred.iteration_s;
    if (in->meas.present && in->meas.iteration_s > xmax_s) xmax_s = in->meas.iteration_s;
    for (int side = 0; side < 2; side++) {
        const pp_report_side *sd = side ? &in->meas : &in->pred;
        if (!sd->present || !sd->trace) continue;
        for (int i = 0; i < sd->trace->n; i++)
            if (sd->trace->ev[i].end > xmax_s && pp_report_event_kind(&sd->trace->ev[i]) >= 0) xmax_s = sd->trace->ev[i].end;
    }
    if (!(xmax_s > 0)) xmax_s = 1e-3;
    double scale;
    const char *unit = pp_report_time_unit(xmax_s, &scale);
    double xmax = xmax_s * scale * 1.02;
    sb dp = {0}, dm = {0}, body = {0}, s = {0};
    int rc = -1;
    gantt_data(&dp, in->pred.trace, in->n_ranks, scale);
    if (write_file(dir, "timeline-predicted.dat", &dp, err)) goto done;
    int two = in->meas.present && in->meas.trace;
    if (two) {
        gantt_data(&dm, in->meas.trace, in->n_ranks, scale);
        if (write_file(dir, "timeline-measured.dat", &dm, err)) goto done;
    }
    sb_puts(&body, "set lmargin 12\nset rmargin 36\nset tmargin 3\nset bmargin 3.5\n");
    sb_puts(&body, "set style fill solid 1.0 noborder\n");
    if (two) sb_puts(&body, "set multiplot layout 2,1 title \"Step timeline: predicted (top) and measured (bottom)\" font \",13\"\n");
    else sb_puts(&body, "set multiplot layout 1,1 title \"Step timeline: predicted (no measured run)\" font \",13\"\n");
    char title[256];
    snprintf(title, sizeof title, "Predicted step: %.4g %s", in->pred.iteration_s * scale, unit);
    gantt_panel(&body, in, title, "timeline-predicted.dat", xmax, unit, 1, 1);
    if (two) {
        snprintf(title, sizeof title, "Measured step: run %lld, step %d: %.4g %s", in->run_id, in->run_step,
                 in->meas.iteration_s * scale, unit);
        gantt_panel(&body, in, title, "timeline-measured.dat", xmax, unit, 0, 1);
    }
    sb_puts(&body, "unset multiplot\n");
    int h = (two ? 2 : 1) * (150 + 55 * in->n_ranks) + 60;
    if (h < 380) h = 380;
    script_frame(&s, "timeline", 1200, h, &body);
    rc = draw(in, dir, "timeline", &s, err);
done:
    free(dp.s);
    free(dm.s);
    free(body.s);
    free(s.s);
    return rc;
}

static int series_color(const pp_report_input *in, const char *name, int fallback) {
    for (int i = 0; i < in->n_tput_pred; i++)
        if (name && in->tput_pred[i].name && !strcmp(name, in->tput_pred[i].name)) return i % N_SERIES_RGB;
    return fallback % N_SERIES_RGB;
}

static int chart_throughput(const pp_report_input *in, const char *dir, pp_err *err) {
    sb dp = {0}, dm = {0}, body = {0}, s = {0};
    int rc = -1, np = 0, nm = 0;
    double xmin = 0, xmax = 0, ymax = 0;
    int *order_done = calloc((size_t)(in->n_tput_meas > 0 ? in->n_tput_meas : 1), sizeof *order_done);
    if (!order_done) return pp_err_set(err, PP_ERR_NOMEM, "out of memory drawing the throughput chart");
    /* One index block per series (two blank lines between blocks). */
    sb_puts(&dp, "# m tokens_per_s  (one block per schedule, predicted)\n");
    for (int i = 0; i < in->n_tput_pred; i++) {
        sb_printf(&dp, "# %s\n", in->tput_pred[i].name ? in->tput_pred[i].name : "-");
        for (int j = 0; j < in->tput_pred[i].n; j++) {
            pp_report_point p = in->tput_pred[i].pts[j];
            sb_printf(&dp, "%.9g %.9g\n", p.x, p.y);
            if (np++ == 0 || p.x < xmin) xmin = p.x;
            if (p.x > xmax) xmax = p.x;
            if (p.y > ymax) ymax = p.y;
        }
        if (in->tput_pred[i].n == 0) sb_puts(&dp, "NaN NaN\n");
        sb_puts(&dp, "\n\n");
    }
    sb_puts(&dm, "# m tokens_per_s  (one block per schedule, measured runs)\n");
    for (int i = 0; i < in->n_tput_meas; i++) {
        sb_printf(&dm, "# %s\n", in->tput_meas[i].name ? in->tput_meas[i].name : "-");
        for (int j = 0; j < in->tput_meas[i].n; j++) {
            pp_report_point p = in->tput_meas[i].pts[j];
            sb_printf(&dm, "%.9g %.9g\n", p.x, p.y);
            if ((np + nm++) == 0 || p.x < xmin) xmin = p.x;
            if (p.x > xmax) xmax = p.x;
            if (p.y > ymax) ymax = p.y;
        }
        if (in->tput_meas[i].n == 0) sb_puts(&dm, "NaN NaN\n");
        sb_puts(&dm, "\n\n");
    }
    if (write_file(dir, "throughput-predicted.dat", &dp, err) || write_file(dir, "throughput-measured.dat", &dm, err))
        goto done;
    if (!(xmin > 0)) xmin = 1;
    if (!(xmax > xmin)) xmax = xmin * 2;
    sb_printf(&body, "set title \"Throughput against microbatch count\\npp %d x dp %d, micro-batch %d x seq %d: "
                     "predicted (lines), measured runs (squares)\" font \",13\"\n",
              in->pp, in->dp, in->micro_batch, in->seq_len);
    sb_puts(&body, "set logscale x 2\nset grid\nset key outside right top vertical Left reverse spacing 1.2\n");
    sb_printf(&body, "set xrange [%.9g:%.9g]\n", xmin / 1.25, xmax * 1.25);
    sb_puts(&body, "set xlabel \"microbatches per step, m (log scale)\"\nset ylabel \"throughput (tokens/s)\"\n");
    sb_printf(&body, "set yrange [0:%.9g]\n", ymax > 0 ? ymax * 1.12 : 1.0);
    sb_puts(&body, "set format y \"%.0f\"\nset xtics (");
    /* Ticks at the m values seen. */
    {
        double seen[64];
        int ns = 0;
        for (int pass = 0; pass < 2; pass++) {
            const pp_report_series *ser = pass ? in->tput_meas : in->tput_pred;
            int n = pass ? in->n_tput_meas : in->n_tput_pred;
            for (int i = 0; i < n; i++)
                for (int j = 0; j < ser[i].n; j++) {
                    int dup = 0;
                    for (int k = 0; k < ns; k++) dup |= seen[k] == ser[i].pts[j].x;
                    if (!dup && ns < 64 && ser[i].pts[j].x > 0) {
                        sb_printf(&body, "%s\"%g\" %g", ns ? ", " : "", ser[i].pts[j].x, ser[i].pts[j].x);
                        seen[ns++] = ser[i].pts[j].x;
                    }
                }
        }
        if (ns == 0) sb_puts(&body, "\"1\" 1");
    }
    sb_puts(&body, ")\nset lmargin 12\nset rmargin 30\n");
    sb_puts(&body, "plot ");
    int first = 1;
    for (int i = 0; i < in->n_tput_pred; i++) {
        if (in->tput_pred[i].n == 0) continue;
        /* Distinct dashes and markers, so that equal predictions (GPipe and
         * 1F1B without a memory limit) stay visible one over the other. */
        static const int pt[] = {7, 9, 11, 13, 15, 4, 6, 8};
        sb_printf(&body, "%s'throughput-predicted.dat' index %d using 1:2 with linespoints lw 2 dt %d pt %d ps 1.3 "
                         "lc rgb \"#%06x\" title \"",
                  first ? "" : ", \\\n     ", i, i % 5 + 1, pt[i % 8], SERIES_RGB[i % N_SERIES_RGB]);
        sb_gpstr(&body, in->tput_pred[i].name);
        sb_puts(&body, " predicted\"");
        first = 0;
    }
    /* Measured series in the legend order of the predicted ones, each
     * nudged sideways (by a few percent of m on the log axis) so that
     * schedules measured at the same m do not hide one another. */
    int nmeas = 0;
    for (int i = 0; i < in->n_tput_meas; i++) nmeas += in->tput_meas[i].n > 0;
    for (int o = 0, shown = 0; o < in->n_tput_meas; o++) {
        int i = -1, bestc = 1 << 30;
        for (int k = 0; k < in->n_tput_meas; k++) {
            int ck = series_color(in, in->tput_meas[k].name, 1000 + k);
            int done_k = 0;
            for (int q = 0; q < o; q++) done_k |= order_done[q] == k;
            if (!done_k && (i < 0 || ck < bestc)) i = k, bestc = ck;
        }
        order_done[o] = i;
        if (in->tput_meas[i].n == 0) continue;
        int c = series_color(in, in->tput_meas[i].name, in->n_tput_pred + i);
        double nudge = nmeas > 1 ? pow(2.0, 0.06 * (shown - 0.5 * (nmeas - 1))) : 1.0;
        shown++;
        sb_printf(&body, "%s'throughput-measured.dat' index %d using ($1*%.6f):2 with points pt 5 ps 1.8 lc rgb \"#%06x\" title \"",
                  first ? "" : ", \\\n     ", i, nudge, SERIES_RGB[c]);
        sb_gpstr(&body, in->tput_meas[i].name);
        sb_puts(&body, " measured\"");
        first = 0;
    }
    if (first) sb_puts(&body, "NaN notitle");
    sb_puts(&body, "\n");
    script_frame(&s, "throughput", 1100, 560, &body);
    rc = draw(in, dir, "throughput", &s, err);
done:
    free(order_done);
    free(dp.s);
    free(dm.s);
    free(body.s);
    free(s.s);
    return rc;
}

static int chart_balance(const pp_report_input *in, const char *dir, pp_err *err) {
    sb d = {0}, body = {0}, s = {0};
    int S = in->n_stages, rc = -1;
    double mx = 0;
    for (int i = 0; i < 2 * S; i++) {
        if (in->pred.stage_fb && isfinite(in->pred.stage_fb[i])) mx = fmax(mx, in->pred.stage_fb[i]);
        if (in->meas.present && in->meas.stage_fb && isfinite(in->meas.stage_fb[i])) mx = fmax(mx, in->meas.stage_fb[i]);
    }
    double scale;
    const char *unit = pp_report_time_unit(2 * mx, &scale);
    sb_printf(&d, "# stage pred_F pred_IW meas_F meas_IW  (%s per microbatch; NaN: none)\n", unit);
    double top = 0;
    for (int st = 0; st < S; st++) {
        double v[4];
        for (int k = 0; k < 2; k++) {
            v[k] = in->pred.stage_fb ? in->pred.stage_fb[2 * st + k] * scale : NAN;
            v[2 + k] = in->meas.present && in->meas.stage_fb ? in->meas.stage_fb[2 * st + k] * scale : NAN;
        }
        sb_printf(&d, "%d %.9g %.9g %.9g %.9g\n", st, v[0], v[1], v[2], v[3]);
        if (isfinite(v[0] + v[1])) top = fmax(top, v[0] + v[1]);
        if (isfinite(v[2] + v[3])) top = fmax(top, v[2] + v[3]);
    }
    if (S == 0) sb_puts(&d, "NaN NaN NaN NaN NaN\n");
    if (write_file(dir, "balance.dat", &d, err)) goto done;
    if (!(top > 0)) top = 1;
    sb_puts(&body, "set title \"Per-stage compute balance: F and I+W per microbatch, predicted (solid) against measured (light)\" font \",13\"\n");
    sb_printf(&body, "set xrange [-0.6:%g]\nset yrange [0:%.9g]\n", S - 0.4, top * 1.15);
    sb_printf(&body, "set xlabel \"pipeline stage\"\nset ylabel \"compute per microbatch (%s)\"\n", unit);
    if (in->stage_rank && S > 0) {
        sb_puts(&body, "set xtics (");
        for (int st = 0; st < S; st++) sb_printf(&body, "%s\"%d\\n(rank %d)\" %d", st ? ", " : "", st, in->stage_rank[st], st);
        sb_puts(&body, ")\nset bmargin 5.5\nset xlabel \"pipeline stage (and the rank holding it)\" offset 0,-1\n");
    } else {
        sb_puts(&body, "set xtics 1\n");
    }
    sb_puts(&body, "set grid ytics\nset key outside right top vertical Left reverse spacing 1.2\n");
    sb_puts(&body, "set lmargin 12\nset rmargin 30\n");
    unsigned cf = KIND_RGB[PP_REPORT_F], cb = KIND_RGB[PP_REPORT_B];
    /* Predicted bar left of the stage tick, measured right; F at the bottom, I+W on top. */
    sb_printf(&body,
              "plot 'balance.dat' using ($1-0.2):($2/2):($1-0.38):($1-0.02):(0):2 with boxxyerror lc rgb \"#%06x\" fs solid 1.0 border lc rgb \"#444444\" title \"F predicted\", \\\n"
              "     '' using ($1-0.2):($2+$3/2):($1-0.38):($1-0.02):2:($2+$3) with boxxyerror lc rgb \"#%06x\" fs solid 1.0 border lc rgb \"#444444\" title \"I+W predicted\", \\\n"
              "     '' using ($1+0.2):($4/2):($1+0.02):($1+0.38):(0):4 with boxxyerror lc rgb \"#%06x\" fs solid 0.35 border lc rgb \"#444444\" title \"F measured\", \\\n"
              "     '' using ($1+0.2):($4+$5/2):($1+0.02):($1+0.38):4:($4+$5) with boxxyerror lc rgb \"#%06x\" fs solid 0.35 border lc rgb \"#444444\" title \"I+W measured (B = I+W)\", \\\n"
              "     '' using ($1-0.2):($2+$3):(sprintf(\"%%.3g\", $2+$3)) with labels offset 0,0.7 notitle, \\\n"
              "     '' using ($1+0.2):($4+$5):(sprintf(\"%%.3g\", $4+$5)) with labels offset 0,0.7 notitle\n",
              cf, cb, cf, cb);
    script_frame(&s, "balance", 1100, 560, &body);
    rc = draw(in, dir, "balance", &s, err);
done:
    free(d.s);
    free(body.s);
    free(s.s);
    return rc;
}

static const char *bytes_unit(double max_b, double *scale) {
    if (max_b >= 1024.0 * 1024 * 1024) {
        *scale = 1.0 / (1024.0 * 1024 * 1024);
        return "GiB";
    }
    if (max_b >= 1024.0 * 1024) {
        *scale = 1.0 / (1024.0 * 1024);
        return "MiB";
    }
    *scale = 1.0 / 1024;
    return "KiB";
}

static int chart_memory(const pp_report_input *in, const char *dir, pp_err *err) {
    sb d = {0}, body = {0}, s = {0};
    int R = in->n_ranks, rc = -1;
    double tmax = in->pred.iteration_s, bmax = 0;
    for (int r = 0; r < R; r++) {
        if (in->pred_memory)
            for (int j = 0; j < in->pred_memory[r].n; j++) {
                tmax = fmax(tmax, in->pred_memory[r].pts[j].x);
                bmax = fmax(bmax, in->pred_memory[r].pts[j].y);
            }
        if (in->pred.peak_bytes) bmax = fmax(bmax, in->pred.peak_bytes[r]);
        if (in->meas.present && in->meas.peak_bytes) bmax = fmax(bmax, in->meas.peak_bytes[r]);
    }
    double ts, bs;
    const char *tu = pp_report_time_unit(tmax, &ts), *bu = bytes_unit(bmax, &bs);
    sb_printf(&d, "# t(%s) memory(%s)  (one block per rank, predicted: activations + static)\n", tu, bu);
    for (int r = 0; r < R; r++) {
        sb_printf(&d, "# rank %d\n", r);
        int n = in->pred_memory ? in->pred_memory[r].n : 0;
        double last = 0;
        for (int j = 0; j < n; j++) {
            pp_report_point p = in->pred_memory[r].pts[j];
            last = p.y;
            /* Of several changes at one instant, the level after them. */
            if (j + 1 < n && in->pred_memory[r].pts[j + 1].x == p.x) continue;
            sb_printf(&d, "%.9g %.9g\n", p.x * ts, p.y * bs);
        }
        if (n > 0 && in->pred.iteration_s > in->pred_memory[r].pts[n - 1].x)
            sb_printf(&d, "%.9g %.9g\n", in->pred.iteration_s * ts, last * bs);
        if (n == 0) sb_puts(&d, "NaN NaN\n");
        sb_puts(&d, "\n\n");
    }
    if (write_file(dir, "memory.dat", &d, err)) goto done;
    sb_puts(&body, "set title \"Memory per rank over the step: predicted (solid), predicted peak (dotted), measured peak (dashed)\" font \",13\"\n");
    sb_printf(&body, "set xrange [0:%.9g]\nset yrange [0:%.9g]\n", (tmax > 0 ? tmax : 1e-3) * ts * 1.02,
              (bmax > 0 ? bmax : 1) * bs * 1.15);
    sb_printf(&body, "set xlabel \"time in the step (%s)\"\nset ylabel \"memory (%s)\"\n", tu, bu);
    sb_puts(&body, "set grid\nset key outside right top vertical Left reverse spacing 1.2\nset lmargin 12\nset rmargin 34\n");
    sb_puts(&body, "plot ");
    for (int r = 0; r < R; r++) {
        unsigned c = SERIES_RGB[r % N_SERIES_RGB];
        sb_printf(&body, "%s'memory.dat' index %d using 1:2 with steps lw 2 lc rgb \"#%06x\" title \"rank %d predicted\"",
                  r ? ", \\\n     " : "", r, c, r);
        /* The predicted peak includes the transient peaks inside passes,
         * which the timeline (levels between actions) does not show. */
        if (in->pred.peak_bytes)
            sb_printf(&body, ", \\\n     %.9g with lines dt 3 lw 1.5 lc rgb \"#%06x\" title \"rank %d predicted peak\"",
                      in->pred.peak_bytes[r] * bs, c, r);
        if (in->meas.present && in->meas.peak_bytes)
            sb_printf(&body, ", \\\n     %.9g with lines dt 2 lw 2 lc rgb \"#%06x\" title \"rank %d measured peak\"",
                      in->meas.peak_bytes[r] * bs, c, r);
    }
    if (R == 0) sb_puts(&body, "NaN notitle");
    sb_puts(&body, "\n");
    script_frame(&s, "memory", 1100, 560, &body);
    rc = draw(in, dir, "memory", &s, err);
done:
    free(d.s);
    free(body.s);
    free(s.s);
    return rc;
}

/* ---- The page ----------------------------------------------------------- */

static void fmt_num(char *buf, size_t n, double v, const char *fmt) {
    if (!isfinite(v)) snprintf(buf, n, "-");
    else snprintf(buf, n, fmt, v);
}

/* One table row: label, predicted, measured, relative error. */
static void row(sb *b, const char *label, double pred, double meas, int have_meas, double shown_scale, const char *fmt) {
    char p[64], m[64], e[64];
    fmt_num(p, sizeof p, pred * shown_scale, fmt);
    fmt_num(m, sizeof m, have_meas ? meas * shown_scale : NAN, fmt);
    double re = have_meas ? pp_stats_rel_error(meas, pred) : NAN;
    if (isfinite(re)) snprintf(e, sizeof e, "%+.1f%%", 100 * re);
    else snprintf(e, sizeof e, "-");
    /* Classed by the error as shown (to 0.1%), so +10.0% is within 10%. */
    double shown = isfinite(re) ? round(1000 * fabs(re)) : 0;
    const char *cls = !isfinite(re) ? "" : shown <= 50 ? " class=\"good\"" : shown <= 100 ? " class=\"fair\"" : " class=\"bad\"";
    sb_puts(b, "<tr><td>");
    sb_html(b, label);
    sb_printf(b, "</td><td>%s</td><td>%s</td><td%s>%s</td></tr>\n", p, m, cls, e);
}

static void table(sb *b, const pp_report_input *in) {
    int R = in->n_ranks, hm = in->meas.present;
    double ts;
    double tmax = in->pred.iteration_s > (hm ? in->meas.iteration_s : 0) ? in->pred.iteration_s : in->meas.iteration_s;
    const char *tu = pp_report_time_unit(tmax, &ts);
    double bmax = 0;
    for (int r = 0; r < R; r++) {
        if (in->pred.peak_bytes) bmax = fmax(bmax, in->pred.peak_bytes[r]);
        if (hm && in->meas.peak_bytes) bmax = fmax(bmax, in->meas.peak_bytes[r]);
    }
    double bs;
    const char *bu = bytes_unit(bmax, &bs);
    char label[128];
    sb_puts(b, "<table>\n<tr><th>quantity</th><th>predicted</th><th>measured</th><th>relative error</th></tr>\n");
    snprintf(label, sizeof label, "iteration time (%s)", tu);
    row(b, label, in->pred.iteration_s, in->meas.iteration_s, hm, ts, "%.4g");
    row(b, "throughput (tokens/s)", in->pred.tokens_per_s, in->meas.tokens_per_s, hm, 1, "%.0f");
    /* Bubble: idle / iteration, idle = iteration - busy per rank. */
    double ip = 0, im = 0;
    for (int r = 0; r < R; r++) {
        if (in->pred.busy_s) ip += fmax(0, in->pred.iteration_s - in->pred.busy_s[r]);
        if (hm && in->meas.busy_s) im += fmax(0, in->meas.iteration_s - in->meas.busy_s[r]);
    }
    double bp = R && in->pred.iteration_s > 0 ? ip / (R * in->pred.iteration_s) : NAN;
    double bm = hm && R && in->meas.iteration_s > 0 ? im / (R * in->meas.iteration_s) : NAN;
    row(b, "bubble, all ranks (%: idle / (ranks x iteration))", bp, bm, hm, 100, "%.1f");
    for (int r = 0; r < R; r++) {
        double pb = in->pred.busy_s ? in->pred.busy_s[r] : NAN, mb = hm && in->meas.busy_s ? in->meas.busy_s[r] : NAN;
        snprintf(label, sizeof label, "rank %d busy time (%s)", r, tu);
        row(b, label, pb, mb, hm, ts, "%.4g");
        snprintf(label, sizeof label, "rank %d bubble (%%: idle / iteration)", r);
        double fp = in->pred.iteration_s > 0 ? fmax(0, in->pred.iteration_s - pb) / in->pred.iteration_s : NAN;
        double fm = hm && in->meas.iteration_s > 0 ? fmax(0, in->meas.iteration_s - mb) / in->meas.iteration_s : NAN;
        row(b, label, fp, fm, hm, 100, "%.1f");
        snprintf(label, sizeof label, "rank %d peak memory (%s)", r, bu);
        row(b, label, in->pred.peak_bytes ? in->pred.peak_bytes[r] : NAN,
            hm && in->meas.peak_bytes ? in->meas.peak_bytes[r] : NAN, hm, bs, "%.4g");
    }
    sb_puts(b, "</table>\n");
}

static int embed_chart(sb *b, const char *dir, const char *stem, const char *title, const char *caption, pp_err *err) {
    char path[4096];
    char *png = NULL, *svg = NULL, *b64 = NULL, *inl = NULL;
    size_t plen, slen;
    int rc = -1;
    snprintf(path, sizeof path, "%s/%s.png", dir, stem);
    if (pp_io_read_file(path, &png, &plen, err)) goto done;
    snprintf(path, sizeof path, "%s/%s.svg", dir, stem);
    if (pp_io_read_file(path, &svg, &slen, err)) goto done;
    char prefix[64];
    snprintf(prefix, sizeof prefix, "%s_", stem);
    if (!(b64 = pp_report_base64(png, plen, NULL, err)) || !(inl = pp_report_svg_inline(svg, slen, prefix, err)))
        goto done;
    sb_printf(b, "<section id=\"%s\">\n<h2>", stem);
    sb_html(b, title);
    sb_puts(b, "</h2>\n<p class=\"cap\">");
    sb_html(b, caption);
    sb_printf(b, "</p>\n<img alt=\"%s\" src=\"data:image/png;base64,", stem);
    sb_puts(b, b64);
    sb_printf(b, "\">\n<details><summary>the same chart as SVG (vector; files %s.png, %s.svg, %s.gp)</summary>\n"
                 "<div class=\"svg\">\n", stem, stem, stem);
    sb_puts(b, inl);
    sb_puts(b, "</div></details>\n</section>\n");
    rc = 0;
done:
    free(png);
    free(svg);
    free(b64);
    free(inl);
    return rc;
}

static void head_item(sb *b, const char *k, const char *v) {
    sb_puts(b, "<tr><th>");
    sb_html(b, k);
    sb_puts(b, "</th><td>");
    sb_html(b, v);
    sb_puts(b, "</td></tr>\n");
}

int pp_report_write(const pp_report_input *in, const char *dir, pp_err *err) {
    if (!in || !dir || !dir[0]) return pp_err_set(err, PP_ERR_INVALID, "pp_report_write: no input or folder");
    if (in->n_ranks < 1 || in->n_ranks > 4096 || in->n_stages < 0)
        return pp_err_set(err, PP_ERR_INVALID, "pp_report_write: %d ranks, %d stages", in->n_ranks, in->n_stages);
    if (make_dir(dir, err)) return -1;
    if (chart_timeline(in, dir, err) || chart_throughput(in, dir, err) || chart_balance(in, dir, err) ||
        chart_memory(in, dir, err))
        return -1;
    sb b = {0};
    char buf[512];
    sb_puts(&b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>pippy report: ");
    sb_html(&b, in->model);
    sb_puts(&b, "</title>\n<style>\n"
                "body{font-family:sans-serif;max-width:1240px;margin:1em auto;padding:0 1em;color:#222}\n"
                "table{border-collapse:collapse;margin:0.5em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}\n"
                "td:nth-child(n+2){text-align:right;font-variant-numeric:tabular-nums}\n"
                ".head th{background:#f3f3f3}.good{background:#dfd}.fair{background:#ffd}.bad{background:#fdd}\n"
                "img{max-width:100%;border:1px solid #ddd}.cap{color:#555}.note{background:#ffd;padding:0.5em;border:1px solid #cc9}\n"
                ".svg svg{max-width:100%;height:auto}\n"
                "</style>\n</head>\n<body>\n<h1>pippy report: ");
    sb_html(&b, in->model);
    sb_puts(&b, ", predicted against measured</h1>\n<table class=\"head\">\n");
    head_item(&b, "model", in->model);
    head_item(&b, "plan hash", in->plan_hash);
    head_item(&b, "schedule", in->schedule);
    snprintf(buf, sizeof buf, "pp %d x dp %d (%d ranks per replica, %d stages)", in->pp, in->dp, in->n_ranks, in->n_stages);
    head_item(&b, "parallelism", buf);
    snprintf(buf, sizeof buf, "%d microbatches of %d sequences x %d tokens (global batch %d)", in->n_microbatches,
             in->micro_batch, in->seq_len, in->global_batch);
    head_item(&b, "microbatches", buf);
    head_item(&b, "prediction's costs", in->cost_src);
    head_item(&b, "prediction's links", in->link_src);
    if (in->run_id > 0) {
        snprintf(buf, sizeof buf, "run %lld of %s", in->run_id, in->run_date ? in->run_date : "-");
        head_item(&b, "measured run", buf);
        snprintf(buf, sizeof buf, "step %d (%s)", in->run_step, in->step_choice ? in->step_choice : "-");
        head_item(&b, "measured step", buf);
    } else {
        head_item(&b, "measured run", "none: prediction only");
    }
    sb_puts(&b, "</table>\n");
    if (in->note && in->note[0]) {
        sb_puts(&b, "<p class=\"note\">");
        sb_html(&b, in->note);
        sb_puts(&b, "</p>\n");
    }
    sb_puts(&b, "<section id=\"table\">\n<h2>Predicted against measured</h2>\n<p class=\"cap\">Relative error = "
                "(measured &minus; predicted) / measured: +10% means the prediction was low by a tenth of the "
                "measured value, &minus;10% that it was high (green within 5%, yellow within 10%). Busy time = "
                "compute (F, I, W, B) and the optimizer step on the rank; idle = iteration &minus; busy; bubble = "
                "idle / iteration per rank, and summed idle / (ranks &times; iteration) over all ranks. The measured "
                "figures are those of the step shown (its wall time, the events' busy time; the measured optimizer "
                "interval includes its gradient synchronisation); measured peak memory is the run's peak per rank.</p>\n");
    table(&b, in);
    sb_puts(&b, "</section>\n");
    struct {
        const char *stem, *title, *cap;
    } charts[4] = {
        {"timeline", "Step timeline: predicted and measured",
         "One row per rank, the same time axis for both: compute bars (F, I, W, B, optimizer) on the upper part of a "
         "row, communication (sends, receives and their waits, all-reduces) on the lower part. The predicted optimizer "
         "step is placed at the end of each rank's step (the simulator does not trace it). The measured step's times "
         "are shifted to start at 0."},
        {"throughput", "Throughput against microbatch count",
         "Predicted tokens/s (lines: the planner's search with this pp, micro-batch and sequence length, each schedule "
         "and m fixed) against the measured runs of this model with the same pp, dp, micro-batch and sequence length "
         "(squares: the median per schedule and m, nudged sideways per schedule so that none hides another)."},
        {"balance", "Per-stage compute balance",
         "Compute per microbatch of each stage: forward F and backward I+W, predicted (the cost profile the prediction "
         "used) against measured (mean over the run's steps after the first; a full backward B counts as I+W)."},
        {"memory", "Memory per rank over the step",
         "Predicted memory per rank over the step (activations plus parameters, gradients and optimizer state) "
         "between actions (solid), the predicted peak (dotted: it includes the transient peaks inside a pass, "
         "which the levels between actions do not show), and the measured peak of each rank over the run (dashed)."},
    };
    int rc = 0;
    for (int i = 0; i < 4 && !rc; i++) rc = embed_chart(&b, dir, charts[i].stem, charts[i].title, charts[i].cap, err);
    if (!rc) {
        sb_puts(&b, "<p class=\"cap\">Written by pippy report. The charts were drawn by gnuplot from the .dat and .gp "
                    "files beside this page.</p>\n</body>\n</html>\n");
        rc = write_file(dir, "index.html", &b, err);
    }
    free(b.s);
    return rc;
}
