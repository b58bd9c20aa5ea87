/*
 * pp_profile_print.c -- what a run of the profiler measured, as the text
 * `pippy profile` prints and as its JSON object (written to a stream with
 * pp_profile_print_json), and the links part handed from the ranks to the
 * process that started them through a temporary file (see pp_profile.h).
 */
#include "profiler/pp_profile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/pp_io.h"

void pp_profile_print_text(FILE *f, const pp_profile_result *o) {
    static const char pass[3] = {'F', 'I', 'W'};
    if (o->g) {
        fprintf(f, "device %.12s: %s\n", o->fp, o->desc);
        fprintf(f,
                "%s, micro-batch %lld x seq %lld: %d ops, %d distinct signatures: %d measured in %.2f s, %d reused\n",
                o->model, o->mb, o->seq, o->g->n_ops, o->uniq, o->measured, o->seconds, o->reused);
        fprintf(f, "sum of per-op F+I+W times for one microbatch: %.4f ms\n", o->sum * 1e3);
        pp_profile_agreement a;
        pp_profile_compare(o->g->n_ops, o->m, o->prev, o->had_prev, o->res, &a);
        if (a.total)
            fprintf(f,
                    "stability: %d/%d op medians within the spread of the previous profile "
                    "(|median new - median old| <= max(spread new, spread old))\n",
                    a.agree, a.total);
        if (a.total && a.worst_op >= 0) {
            const pp_op_measure *w = &o->m[a.worst_op], *b = &o->prev[a.worst_op];
            int p = a.worst_pass;
            fprintf(f, "  farthest outside: %s %c: %.4f ms now, %.4f ms before, spread %.4f ms\n",
                    pp_op_kind_name(o->g->ops[a.worst_op].kind), pass[p], w->t[p] * 1e3, b->t[p] * 1e3,
                    (w->spread[p] > b->spread[p] ? w->spread[p] : b->spread[p]) * 1e3);
        }
        if (o->check) {
            fprintf(f, "whole F+I+W step (median of 5 to 15): %.4f ms; sum of ops / whole step = %.3f\n",
                    o->whole * 1e3, o->sum / o->whole);
            fprintf(f, "optimizer step (norm, AdamW, zeroing): %.3f ns per parameter\n", o->optim * 1e9);
        }
        fprintf(f, "stored in %s (device %.12s)\n", o->db_path, o->fp);
    }
    if (o->ranks < 2) return;
    fprintf(f, "%-6s %-24s %12s %12s %10s\n", "link", "hosts", "alpha us", "beta GB/s", "residual");
    for (int i = 0; i < o->n_links; i++) {
        const pp_link_result *r = &o->links[i];
        char hosts[300];
        snprintf(hosts, sizeof hosts, "%s -> %s", r->src_host, r->dst_host);
        fprintf(f, "%d->%-3d %-24s %12.4f %12.3f %10.3f\n", r->src, r->dst, hosts, r->alpha_s * 1e6, r->beta_Bps / 1e9,
                r->residual);
    }
    if (o->ar[1] > 0)
        fprintf(f, "all-reduce over %d ranks: %.2f us + bytes / %.3f GB/s (residual %.3f)\n", o->ranks, o->ar[0] * 1e6,
                o->ar[1] / 1e9, o->ar[2]);
    int all = o->ranks * (o->ranks - 1);
    if (o->n_links < all)
        fprintf(f,
                "measured %d of %d ordered rank pairs: a sample on more than %d ranks (ring neighbours both ways, "
                "every host pair at least once)\n",
                o->n_links, all, o->sample_above);
    else
        fprintf(f, "measured %d of %d ordered rank pairs: all\n", o->n_links, all);
    fprintf(f, "links stored in %s (device %.12s)\n", o->db_path, o->fp);
}

/* Key and number, or null where v < 0 (not measured). */
static void jnum(pp_jw *w, const char *key, double v) {
    pp_jw_key(w, key);
    if (v < 0)
        pp_jw_null(w);
    else
        pp_jw_num(w, v);
}

void pp_profile_write_json(pp_jw *w, const pp_profile_result *o) {
    pp_jw_obj_begin(w);
    pp_jw_key(w, "device");
    pp_jw_obj_begin(w);
    pp_jw_kstr(w, "fingerprint", o->fp);
    pp_jw_kstr(w, "description", o->desc);
    pp_jw_obj_end(w);
    pp_jw_kstr(w, "db", o->db_path);
    pp_jw_key(w, "ops");
    if (!o->g)
        pp_jw_null(w);
    else {
        pp_profile_agreement a;
        pp_profile_compare(o->g->n_ops, o->m, o->prev, o->had_prev, o->res, &a);
        pp_jw_obj_begin(w);
        pp_jw_kstr(w, "model", o->model);
        pp_jw_kint(w, "micro_batch", o->mb);
        pp_jw_kint(w, "seq", o->seq);
        pp_jw_kint(w, "n_ops", o->g->n_ops);
        pp_jw_kint(w, "signatures", o->uniq);
        pp_jw_kint(w, "measured", o->measured);
        pp_jw_kint(w, "reused", o->reused);
        jnum(w, "seconds", o->seconds);
        pp_jw_key(w, "profiles");
        pp_jw_arr_begin(w);
        for (int i = 0; i < o->g->n_ops; i++) {
            if (o->first[i] != i) continue;
            int count = 0;
            for (int j = i; j < o->g->n_ops; j++) count += o->first[j] == i;
            pp_jw_obj_begin(w);
            pp_jw_kstr(w, "signature", o->sig[i]);
            pp_jw_kstr(w, "kind", pp_op_kind_name(o->g->ops[i].kind));
            pp_jw_kint(w, "ops", count);
            pp_jw_kbool(w, "measured", o->fresh[i]);
            jnum(w, "f_s", o->m[i].t[0]);
            jnum(w, "i_s", o->m[i].t[1]);
            jnum(w, "w_s", o->m[i].t[2]);
            pp_jw_key(w, "spread_s");
            pp_jw_arr_begin_inline(w);
            for (int p = 0; p < 3; p++) pp_jw_num(w, o->m[i].spread[p]);
            pp_jw_arr_end(w);
            pp_jw_obj_end(w);
        }
        pp_jw_arr_end(w);
        jnum(w, "sum_s", o->sum);
        pp_jw_key(w, "whole_step");
        if (!o->check)
            pp_jw_null(w);
        else {
            pp_jw_obj_begin(w);
            jnum(w, "measured_s", o->whole);
            jnum(w, "sum_of_ops_s", o->sum);
            jnum(w, "ratio", o->whole > 0 ? o->sum / o->whole : -1);
            jnum(w, "optim_per_param_s", o->optim);
            pp_jw_obj_end(w);
        }
        pp_jw_key(w, "comparison"); /* with --force: against the profile stored before */
        if (!a.total)
            pp_jw_null(w);
        else {
            pp_jw_obj_begin(w);
            pp_jw_kint(w, "within_spread", a.agree);
            pp_jw_kint(w, "compared", a.total);
            pp_jw_key(w, "farthest_outside");
            if (a.worst_op < 0) pp_jw_null(w);
            else {
                const pp_op_measure *now = &o->m[a.worst_op], *before = &o->prev[a.worst_op];
                int p = a.worst_pass;
                char pass[2] = {"FIW"[p], '\0'};
                pp_jw_obj_begin(w);
                pp_jw_kstr(w, "signature", o->sig[a.worst_op]);
                pp_jw_kstr(w, "pass", pass);
                jnum(w, "now_s", now->t[p]);
                jnum(w, "before_s", before->t[p]);
                jnum(w, "spread_s", now->spread[p] > before->spread[p] ? now->spread[p] : before->spread[p]);
                pp_jw_obj_end(w);
            }
            pp_jw_obj_end(w);
        }
        pp_jw_obj_end(w);
    }
    pp_jw_key(w, "links");
    if (o->ranks < 2)
        pp_jw_null(w);
    else {
        pp_jw_obj_begin(w);
        pp_jw_kint(w, "ranks", o->ranks);
        pp_jw_kint(w, "pairs_measured", o->n_links);
        pp_jw_kint(w, "pairs_all", (long long)o->ranks * (o->ranks - 1));
        pp_jw_key(w, "pairs");
        pp_jw_arr_begin(w);
        for (int i = 0; i < o->n_links; i++) {
            const pp_link_result *r = &o->links[i];
            pp_jw_obj_begin(w);
            pp_jw_kint(w, "src", r->src);
            pp_jw_kint(w, "dst", r->dst);
            pp_jw_kstr(w, "src_host", r->src_host);
            pp_jw_kstr(w, "dst_host", r->dst_host);
            jnum(w, "alpha_s", r->alpha_s);
            jnum(w, "beta_Bps", r->beta_Bps);
            jnum(w, "residual", r->residual);
            pp_jw_obj_end(w);
        }
        pp_jw_arr_end(w);
        pp_jw_key(w, "allreduce");
        if (!(o->ar[1] > 0))
            pp_jw_null(w);
        else {
            pp_jw_obj_begin(w);
            jnum(w, "alpha_s", o->ar[0]);
            jnum(w, "beta_Bps", o->ar[1]);
            jnum(w, "residual", o->ar[2]);
            pp_jw_obj_end(w);
        }
        pp_jw_obj_end(w);
    }
    pp_jw_obj_end(w);
}

/* The links part in a file: this header, then n_links pp_link_result. */
typedef struct links_file {
    char magic[16];
    char fp[65], desc[1024];
    int ranks, n_links, sample_above;
    double ar[3];
} links_file;

static const char LINKS_MAGIC[16] = "pippy-links 1";

int pp_profile_links_save(const char *path, const pp_profile_result *r, pp_err *err) {
    links_file h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, LINKS_MAGIC, sizeof h.magic);
    memcpy(h.fp, r->fp, sizeof h.fp);
    memcpy(h.desc, r->desc, sizeof h.desc);
    h.ranks = r->ranks;
    h.n_links = r->n_links;
    h.sample_above = r->sample_above;
    memcpy(h.ar, r->ar, sizeof h.ar);
    const void *parts[2] = {&h, r->links};
    size_t lens[2] = {sizeof h, (size_t)r->n_links * sizeof *r->links};
    return pp_io_write_atomic_parts(path, parts, lens, r->n_links > 0 ? 2 : 1, err);
}

int pp_profile_links_load(const char *path, pp_profile_result *r, pp_err *err) {
    char *data;
    size_t len;
    links_file h;
    if (pp_io_read_file(path, &data, &len, err)) return -1;
    if (len < sizeof h) goto bad;
    memcpy(&h, data, sizeof h);
    if (memcmp(h.magic, LINKS_MAGIC, sizeof h.magic) || h.n_links < 0 || h.ranks < 2 ||
        len != sizeof h + (size_t)h.n_links * sizeof *r->links)
        goto bad;
    pp_link_result *links = pp_malloc(len - sizeof h + 1, err);
    if (!links) {
        free(data);
        return -1;
    }
    memcpy(links, data + sizeof h, len - sizeof h);
    free(data);
    r->links = links;
    memcpy(r->fp, h.fp, sizeof r->fp);
    memcpy(r->desc, h.desc, sizeof r->desc);
    r->fp[sizeof r->fp - 1] = r->desc[sizeof r->desc - 1] = '\0';
    r->ranks = h.ranks;
    r->n_links = h.n_links;
    r->sample_above = h.sample_above;
    memcpy(r->ar, h.ar, sizeof r->ar);
    return 0;
bad:
    free(data);
    return pp_err_set(err, PP_ERR_PARSE, "%s: not the links a pippy profile run left", path);
}

int pp_profile_print_json(FILE *f, const char *name, const pp_profile_result *r, pp_err *err) {
    pp_jw w;
    pp_jw_init(&w);
    pp_profile_write_json(&w, r);
    return pp_jw_write(&w, f, name, err);
}

int pp_profile_links_tmpfile(char *path, size_t n, pp_err *err) {
    const char *tmp = getenv("TMPDIR");
    const char *dir = tmp && *tmp ? tmp : "/tmp";
    snprintf(path, n, "%s/pippy-links-XXXXXX", dir);
    int fd = mkstemp(path);
    if (fd < 0) return pp_err_set(err, PP_ERR_IO, "cannot create a temporary file in %s", dir);
    close(fd);
    return 0;
}

int pp_profile_links_report(FILE *f, const char *name, const pp_profile_result *r, int json, const char *links_out,
                            pp_err *err) {
    if (links_out) return pp_profile_links_save(links_out, r, err);
    if (json) return pp_profile_print_json(f, name, r, err);
    pp_profile_print_text(f, r);
    return 0;
}
