/*
 * test_report.c -- the reports module (reports/pp_report.h): the choice of
 * the measured step, how trace events are drawn and summed, base64 against
 * RFC 4648's vectors, HTML escaping, SVG inlining (ids prefixed, no http
 * address left), and a whole report written with gnuplot (its table's
 * relative errors, (measured - predicted) / measured, the embedded PNGs;
 * fails where gnuplot is missing, a dependency) or refused when the gnuplot
 * named is missing or fails. The data preparation is test_report_data.c.
 */
#include "core/pp_io.h"
#include "core/pp_sched.h"
#include "core/pp_trace.h"
#include "reports/pp_report.h"

#include <check.h>

#include "tests/pp_test.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

START_TEST(median_step_choice) {
    /* The first step is left out: of 4, 2, 7 s the median is step 1. */
    int s1[] = {0, 1, 2, 3};
    double t1[] = {9, 4, 2, 7};
    ck_assert_int_eq(pp_report_median_step(s1, t1, 4), 1);
    /* An even count takes the lower middle: 2, 3, 4, 5 -> 3 s (step 2). */
    int s2[] = {0, 1, 2, 3, 4};
    double t2[] = {1, 5, 3, 4, 2};
    ck_assert_int_eq(pp_report_median_step(s2, t2, 5), 2);
    /* Ties go to the smaller step number. */
    int s3[] = {10, 11, 12, 13};
    double t3[] = {0.5, 2, 2, 2};
    ck_assert_int_eq(pp_report_median_step(s3, t3, 4), 2);
    /* "First" is the smallest step number, wherever it is (a resumed run). */
    int s4[] = {105, 103, 104};
    double t4[] = {1, 100, 2};
    ck_assert_int_eq(pp_report_median_step(s4, t4, 3), 0);
    /* One step: that one; none: -1. */
    ck_assert_int_eq(pp_report_median_step(s4, t4, 1), 0);
    ck_assert_int_eq(pp_report_median_step(s4, t4, 0), -1);
    /* Two steps: the second. */
    int s5[] = {0, 1};
    double t5[] = {9, 1};
    ck_assert_int_eq(pp_report_median_step(s5, t5, 2), 1);
}
END_TEST

static pp_trace_event ev(int rank, int stream, int action, int stage, int mb, double start, double end) {
    return (pp_trace_event){.rank = rank, .stream = stream, .action = action, .stage = stage, .mb = mb,
                            .start = start, .end = end};
}

START_TEST(event_kinds_busy_and_stage_means) {
    pp_trace_event e = ev(0, PP_STREAM_COMPUTE, PP_ACT_F, 0, 0, 0, 1);
    ck_assert_int_eq(pp_report_event_kind(&e), PP_REPORT_F);
    e.action = PP_ACT_B;
    ck_assert_int_eq(pp_report_event_kind(&e), PP_REPORT_B);
    e.action = PP_ACT_OVERLAP_F_B;
    ck_assert_int_eq(pp_report_event_kind(&e), PP_REPORT_B);
    e = ev(0, PP_STREAM_COLLECTIVE, PP_ACT_OPTIM, -1, -1, 1, 2);
    ck_assert_int_eq(pp_report_event_kind(&e), PP_REPORT_OPTIM);
    e = ev(0, PP_STREAM_RECV, PP_ACT_RECV_F, 0, 0, 1, 2);
    ck_assert_int_eq(pp_report_event_kind(&e), PP_REPORT_COMM);
    e.end = e.start; /* an instant (a posted send) is not drawn */
    ck_assert_int_eq(pp_report_event_kind(&e), -1);
    e = ev(0, PP_STREAM_COMPUTE, PP_ACT_NONE, 0, 0, 0, 1);
    ck_assert_int_eq(pp_report_event_kind(&e), -1);

    const pp_trace_event evs[] = {
        ev(0, PP_STREAM_COMPUTE, PP_ACT_F, 0, 0, 0.0, 1.0),
        ev(0, PP_STREAM_COMPUTE, PP_ACT_F, 0, 1, 1.0, 4.0),
        ev(0, PP_STREAM_COMPUTE, PP_ACT_I, 0, 0, 4.0, 4.5),
        ev(0, PP_STREAM_COMPUTE, PP_ACT_W, 0, 0, 4.5, 5.0),
        ev(0, PP_STREAM_COMPUTE, PP_ACT_I, 0, 1, 5.0, 5.5),
        ev(0, PP_STREAM_COMPUTE, PP_ACT_W, 0, 1, 5.5, 6.0),
        ev(0, PP_STREAM_RECV, PP_ACT_RECV_B, 0, 1, 6.0, 9.0),   /* a wait: not busy */
        ev(0, PP_STREAM_COLLECTIVE, PP_ACT_OPTIM, -1, -1, 9.0, 9.5),
        ev(1, PP_STREAM_COMPUTE, PP_ACT_F, 1, 0, 1.0, 2.0),
        ev(1, PP_STREAM_COMPUTE, PP_ACT_B, 1, 0, 2.0, 5.0),
        ev(7, PP_STREAM_COMPUTE, PP_ACT_F, 1, 0, 1.0, 2.0),     /* another replica's rank: ignored */
    };
    long long n = sizeof evs / sizeof evs[0];
    double busy[2];
    pp_report_busy(evs, n, 2, busy);
    ck_assert_double_eq_tol(busy[0], 6.5, 1e-12);
    ck_assert_double_eq_tol(busy[1], 4.0, 1e-12);
    double fb[6];
    pp_report_stage_means(evs, n - 1, 3, fb);
    ck_assert_double_eq_tol(fb[0], 2.0, 1e-12); /* (1 + 3) / 2 */
    ck_assert_double_eq_tol(fb[1], 1.0, 1e-12); /* (0.5 + 0.5 + 0.5 + 0.5) / 2 */
    ck_assert_double_eq_tol(fb[2], 1.0, 1e-12);
    ck_assert_double_eq_tol(fb[3], 3.0, 1e-12); /* B = I + W */
    ck_assert(isnan(fb[4]) && isnan(fb[5]));
}
END_TEST

START_TEST(base64_rfc4648) {
    const char *in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    const char *out[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (int i = 0; i < 7; i++) {
        size_t len = 99;
        char *b = pp_report_base64(in[i], strlen(in[i]), &len, NULL);
        ck_assert_ptr_nonnull(b);
        ck_assert_str_eq(b, out[i]);
        ck_assert_uint_eq(len, strlen(out[i]));
        free(b);
    }
    const unsigned char bin[] = {0xff, 0x00, 0xfe, 0x89, 'P', 'N', 'G'};
    char *b = pp_report_base64(bin, sizeof bin, NULL, NULL);
    ck_assert_str_eq(b, "/wD+iVBORw==");
    free(b);
}
END_TEST

START_TEST(html_escaping) {
    char *s = pp_report_html_escape("<a href=\"x\">Tom & Jerry's</a>", NULL);
    ck_assert_str_eq(s, "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;");
    free(s);
    s = pp_report_html_escape(NULL, NULL);
    ck_assert_str_eq(s, "-");
    free(s);
    s = pp_report_html_escape("plain", NULL);
    ck_assert_str_eq(s, "plain");
    free(s);
}
END_TEST

START_TEST(svg_inlining) {
    const char *svg =
        "<?xml version=\"1.0\" encoding=\"utf-8\"  standalone=\"no\"?>\n"
        "<!DOCTYPE svg PUBLIC \"-//W3C//DTD SVG 1.1//EN\" \"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd\">\n"
        "<svg width=\"10\" height=\"10\"\n xmlns=\"http://www.w3.org/2000/svg\"\n"
        " xmlns:xlink=\"http://www.w3.org/1999/xlink\">\n"
        "<defs><clipPath id=\"gpclip_1\"><rect/></clipPath><path id='gpPt1' stroke-width='1'/></defs>\n"
        "<g clip-path=\"url(#gpclip_1)\" data-id=\"keep\"><use xlink:href='#gpPt1'/><use href=\"#gpPt1\"/></g>\n"
        "</svg>\n";
    pp_err err = {0};
    char *o = pp_report_svg_inline(svg, strlen(svg), "mem_", &err);
    ck_assert_msg(o != NULL, "%s", err.msg);
    ck_assert(strncmp(o, "<svg width=\"10\"", 15) == 0);
    ck_assert_ptr_null(strstr(o, "http"));
    ck_assert_ptr_null(strstr(o, "xmlns"));
    ck_assert_ptr_nonnull(strstr(o, "<clipPath id=\"mem_gpclip_1\">"));
    ck_assert_ptr_nonnull(strstr(o, "<path id='mem_gpPt1' stroke-width='1'/>"));
    ck_assert_ptr_nonnull(strstr(o, "clip-path=\"url(#mem_gpclip_1)\""));
    ck_assert_ptr_nonnull(strstr(o, "data-id=\"keep\""));
    ck_assert_ptr_nonnull(strstr(o, "xlink:href='#mem_gpPt1'"));
    ck_assert_ptr_nonnull(strstr(o, "<use href=\"#mem_gpPt1\"/>"));
    ck_assert_ptr_nonnull(strstr(o, "</svg>"));
    free(o);
    ck_assert_ptr_null(pp_report_svg_inline("<html></html>", 13, "x_", &err));
    ck_assert_ptr_nonnull(strstr(err.msg, "no <svg> element"));
}
END_TEST

START_TEST(time_units) {
    double s;
    ck_assert_str_eq(pp_report_time_unit(0.0019, &s), "ms");
    ck_assert_double_eq(s, 1e3);
    ck_assert_str_eq(pp_report_time_unit(2.5, &s), "s");
    ck_assert_double_eq(s, 1.0);
    ck_assert_str_eq(pp_report_time_unit(5e-5, &s), "us");
    ck_assert_double_eq(s, 1e6);
    ck_assert_str_eq(pp_report_time_unit(0, &s), "s");
}
END_TEST

/* A small two-rank report: predicted 0.9 ms against measured 1.0 ms. */
static void fill_input(pp_report_input *in, pp_trace *pt, pp_trace *mt, const char *gnuplot) {
    static double pbusy[2] = {0.6e-3, 0.7e-3}, mbusy[2] = {0.7e-3, 0.8e-3};
    static double ppeak[2] = {1 << 20, 900000}, mpeak[2] = {1 << 20, 1000000};
    static double pfb[4] = {1e-4, 2e-4, 1.1e-4, 2.1e-4}, mfb[4] = {1.2e-4, 2.2e-4, NAN, NAN};
    static const pp_report_point mem0[] = {{0, 500000}, {0.3e-3, 900000}, {0.3e-3, 1000000}, {0.8e-3, 600000}};
    static const pp_report_point mem1[] = {{0.1e-3, 400000}, {0.5e-3, 800000}};
    static pp_report_series mem[2];
    static const pp_report_point tp1[] = {{2, 1000}, {4, 1500}, {8, 1700}}, tm1[] = {{4, 1400}};
    static pp_report_series tps[2], tms[1];
    mem[0] = (pp_report_series){"rank 0", mem0, 4};
    mem[1] = (pp_report_series){"rank 1", mem1, 2};
    tps[0] = (pp_report_series){"1f1b", tp1, 3};
    tps[1] = (pp_report_series){"gpipe", tp1, 0};
    tms[0] = (pp_report_series){"1f1b", tm1, 1};
    pp_trace_init(pt);
    pp_trace_init(mt);
    pp_trace_add(pt, ev(0, PP_STREAM_COMPUTE, PP_ACT_F, 0, 0, 0, 0.1e-3), NULL);
    pp_trace_add(pt, ev(1, PP_STREAM_COMPUTE, PP_ACT_F, 1, 0, 0.1e-3, 0.2e-3), NULL);
    pp_trace_add(pt, ev(1, PP_STREAM_COMPUTE, PP_ACT_B, 1, 0, 0.2e-3, 0.5e-3), NULL);
    pp_trace_add(pt, ev(0, PP_STREAM_COMPUTE, PP_ACT_B, 0, 0, 0.5e-3, 0.8e-3), NULL);
    pp_trace_add(mt, ev(0, PP_STREAM_COMPUTE, PP_ACT_F, 0, 0, 0, 0.12e-3), NULL);
    pp_trace_add(mt, ev(1, PP_STREAM_RECV, PP_ACT_RECV_F, 1, 0, 0, 0.13e-3), NULL);
    pp_trace_add(mt, ev(0, PP_STREAM_COLLECTIVE, PP_ACT_OPTIM, -1, -1, 0.9e-3, 1.0e-3), NULL);
    memset(in, 0, sizeof *in);
    in->model = "tiny <&> model";
    in->plan_hash = "abc123";
    in->schedule = "1f1b";
    in->cost_src = "measured profile in test.db";
    in->link_src = "links: the cluster spec's";
    in->pp = 2, in->dp = 1, in->n_microbatches = 4, in->micro_batch = 2, in->seq_len = 32, in->global_batch = 8;
    in->n_stages = 2, in->n_ranks = 2;
    in->run_id = 7, in->run_date = "2026-01-01T00:00:00Z", in->run_step = 2, in->step_choice = "median";
    in->pred = (pp_report_side){1, 0.9e-3, 110, pbusy, ppeak, pt, pfb};
    in->meas = (pp_report_side){1, 1.0e-3, 100, mbusy, mpeak, mt, mfb};
    in->pred_memory = mem;
    in->tput_pred = tps;
    in->n_tput_pred = 2;
    in->tput_meas = tms;
    in->n_tput_meas = 1;
    in->gnuplot = gnuplot;
}

static int have_gnuplot(void) { return system("command -v gnuplot >/dev/null 2>&1") == 0; }

/* gnuplot is a dependency (scripts/setup.sh installs gnuplot-nox), so a
 * machine without it fails here rather than passing untested. */
START_TEST(write_report_with_gnuplot) {
    ck_assert_msg(have_gnuplot(), "gnuplot is not installed (scripts/setup.sh installs gnuplot-nox); "
                                  "pippy report cannot draw its charts without it");
    char dir[] = "/tmp/pp_report_test.XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char sub[256];
    snprintf(sub, sizeof sub, "%s/a/b", dir); /* created, parents too */
    pp_report_input in;
    pp_trace pt, mt;
    fill_input(&in, &pt, &mt, NULL);
    pp_err err = {0};
    ck_assert_msg(pp_report_write(&in, sub, &err) == 0, "%s", err.msg);
    char path[512], *html = NULL;
    size_t len;
    snprintf(path, sizeof path, "%s/index.html", sub);
    ck_assert_int_eq(pp_io_read_file(path, &html, &len, &err), 0);
    if (getenv("PP_REPORT_TEST_DUMP")) fputs(html, stderr);
    ck_assert_ptr_null(strstr(html, "http://"));
    ck_assert_ptr_null(strstr(html, "https://"));
    /* Every src is a data URI: four PNGs. */
    int n_src = 0;
    for (const char *p = html; (p = strstr(p, "src=\"")); p++, n_src++)
        ck_assert(strncmp(p, "src=\"data:image/png;base64,iVBORw0KGgo", 38) == 0);
    ck_assert_int_eq(n_src, 4);
    int n_svg = 0;
    for (const char *p = html; (p = strstr(p, "<svg")); p++) n_svg++;
    ck_assert_int_eq(n_svg, 4);
    /* The table: (measured - predicted) / measured. */
    ck_assert_ptr_nonnull(strstr(html, "<td>iteration time (ms)</td><td>0.9</td><td>1</td><td class=\"fair\">+10.0%</td>"));
    ck_assert_ptr_nonnull(strstr(html, "<td>throughput (tokens/s)</td><td>110</td><td>100</td><td class=\"fair\">-10.0%</td>"));
    ck_assert_ptr_nonnull(strstr(html, "tiny &lt;&amp;&gt; model"));
    ck_assert_ptr_nonnull(strstr(html, "Step timeline: predicted and measured"));
    ck_assert_ptr_nonnull(strstr(html, "Memory per rank over the step"));
    free(html);
    const char *files[] = {"timeline.png", "timeline.svg", "throughput.png", "balance.svg", "memory.png", "memory.gp",
                           "balance.dat"};
    for (int i = 0; i < 7; i++) {
        snprintf(path, sizeof path, "%s/%s", sub, files[i]);
        ck_assert_msg(access(path, R_OK) == 0, "%s missing", path);
    }
    /* No temporary file is left behind. */
    char cmd[600];
    snprintf(cmd, sizeof cmd, "test -z \"$(ls -A %s | grep -E '^\\.|tmp')\"", sub);
    ck_assert_int_eq(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
    pp_trace_free(&pt);
    pp_trace_free(&mt);
}
END_TEST

START_TEST(missing_or_failing_gnuplot) {
    char dir[] = "/tmp/pp_report_test.XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    pp_report_input in;
    pp_trace pt, mt;
    fill_input(&in, &pt, &mt, "/nonexistent/gnuplot");
    pp_err err = {0};
    ck_assert_int_eq(pp_report_write(&in, dir, &err), -1);
    ck_assert_msg(strstr(err.msg, "gnuplot not found") != NULL, "%s", err.msg);
    in.gnuplot = "false";
    ck_assert_int_eq(pp_report_write(&in, dir, &err), -1);
    ck_assert_msg(strstr(err.msg, "gnuplot failed") && strstr(err.msg, "(exit 1)"), "%s", err.msg);
    char path[512];
    snprintf(path, sizeof path, "%s/index.html", dir);
    ck_assert_int_ne(access(path, F_OK), 0);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
    pp_trace_free(&pt);
    pp_trace_free(&mt);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("report");
    TCase *tc = tcase_create("pure");
    tcase_add_test(tc, median_step_choice);
    tcase_add_test(tc, event_kinds_busy_and_stage_means);
    tcase_add_test(tc, base64_rfc4648);
    tcase_add_test(tc, html_escaping);
    tcase_add_test(tc, svg_inlining);
    tcase_add_test(tc, time_units);
    suite_add_tcase(s, tc);
    TCase *tw = tcase_create("write");
    tcase_set_timeout(tw, 60);
    tcase_add_test(tw, write_report_with_gnuplot);
    tcase_add_test(tw, missing_or_failing_gnuplot);
    suite_add_tcase(s, tw);
    return s;
}

int main(void) { return pp_test_run(suite()); }
