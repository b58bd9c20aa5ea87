/*
 * pp_run_print.c -- the lines and documents a run prints: a pipelined run's
 * notes and summary, its measured trace file, and a single-process run's
 * steps, JSON and summary (see pp_run_print.h).
 */
#include "core/pp_fmt.h"
#include "executor/pp_run_print.h"

#include <stdlib.h>
#include <string.h>

#include "core/pp_trace.h"

void pp_run_print_note(void *ctx, const pp_run_note *n) {
    pp_run_printer *p = ctx;
    const pp_plan *pl = p->plan;
    FILE *tx = p->f;
    if (!p->print) return;
    switch (n->kind) {
    case PP_RUN_RESUMED: fprintf(tx, "resuming from %s at step %d\n", p->checkpoint_dir, n->step + 1); break;
    case PP_RUN_STARTING:
        p->first = n->step;
        fprintf(tx, "running %s: plan %.12s, %s, pp %d x dp %d, %d stages, %d microbatches of %d x %d tokens, steps "
                    "%d..%d of %d\n",
                pl->model.name, p->hash, pl->schedule_name, pl->pp, pl->dp, pl->n_stages, pl->n_microbatches,
                pl->micro_batch, pl->seq_len, n->step + 1, n->last, p->total_steps);
        break;
    case PP_RUN_STEP: {
        const pp_exec_step_result *r = n->result;
        int s = n->step;
        if ((s + 1) % p->log_every == 0 || s == p->first || s + 1 == n->last)
            fprintf(tx, "step %4d/%d  loss %.6f  grad-norm %.4f  lr %.2e  %.0f tokens/s  %.1f ms\n", s + 1,
                    p->total_steps, r->loss, r->grad_norm, r->lr, (double)pl->global_batch * pl->seq_len / r->seconds,
                    r->seconds * 1e3);
        break;
    }
    case PP_RUN_CHECKPOINT: fprintf(tx, "checkpoint: step %d in %s\n", n->step, p->checkpoint_dir); break;
    case PP_RUN_STOPPING: fprintf(tx, "%s\n", n->message); break;
    }
    fflush(tx);
}

void pp_run_print_summary(FILE *tx, const pp_plan *plan, const pp_run_result *r, int n_ranks, double pred_s,
                          const double *pred_peak) {
    double med = r->median_s;
    fprintf(tx, "\nmeasured: %.2f ms per step (median of %d%s), %.0f tokens/s", med * 1e3, r->median_of,
            r->first_left_out ? ", the first step left out" : "",
            med > 0 ? (double)plan->global_batch * plan->seq_len / med : 0);
    if (pred_s > 0) fprintf(tx, "; predicted %.2f ms (measured/predicted %.3f)", pred_s * 1e3, med / pred_s);
    fprintf(tx, "\n");
    for (int i = 0; i < n_ranks; i++) {
        const pp_run_rank *k = &r->ranks[i];
        char a[32];
        fprintf(tx, "rank %d (%s): peak memory %s bytes", i, k->host, pp_fmt_count(k->peak_bytes, a, sizeof a));
        double pm = pred_peak ? pred_peak[i % plan->pp] : 0;
        if (pm > 0) fprintf(tx, " (predicted %.0f, measured/predicted %.3f)", pm, k->peak_bytes / pm);
        fprintf(tx, ", busy %.1f%%\n", med > 0 && r->n_done ? 100 * k->busy_s / (med * r->n_done) : 0);
    }
}

int pp_run_save_trace(const char *path, const pp_run_event *ev, long long n, pp_err *err) {
    pp_trace t;
    pp_trace_init(&t);
    int rc = 0;
    for (long long i = 0; i < n && !rc; i++) rc = pp_trace_add(&t, ev[i].ev, err);
    if (!rc) {
        pp_trace_sort(&t);
        rc = pp_trace_save_chrome(&t, path, err);
    }
    pp_trace_free(&t);
    return rc;
}

void pp_run_print_launch_end(FILE *f, const char *name, int rc, const pp_launch_result *res) {
    if (res->signal)
        fprintf(f, "%s: interrupted by %s after %.0f s\n", name, pp_launch_signal_name(res->signal), res->seconds);
    else if (rc)
        fprintf(f, "%s: the run failed after %.0f s (exit %d)%s\n", name, res->seconds, res->exit_code,
                res->died ? "" : "; the failing rank's message is above");
}

void pp_train_print_step(FILE *f, int every, const pp_train_step *s) {
    if (s->step % every && s->step != s->steps && s->step != 1) return;
    fprintf(f, "step %4d/%d  loss %.4f  grad-norm %.3f  lr %.2e  %.0f tokens/s  %.1f ms\n", s->step, s->steps, s->loss,
            s->grad_norm, s->lr, s->tokens_per_s, s->seconds * 1e3);
    fflush(f);
}

void pp_train_json(pp_jw *w, const char *model, const pp_train_opts *o, const pp_train_summary *sum,
                   const pp_train_step *steps) {
    pp_jw_obj_begin(w);
    pp_jw_kstr(w, "model", model);
    pp_jw_kint(w, "steps", o->steps);
    pp_jw_kint(w, "batch", o->batch);
    pp_jw_kint(w, "microbatches", o->microbatches);
    pp_jw_kint(w, "seq_len", o->seq);
    pp_jw_kint(w, "seed", (long long)o->seed);
    pp_jw_kint(w, "threads", o->threads);
    pp_jw_kstr(w, "data", sum->data_source);
    pp_jw_kint(w, "data_tokens", sum->data_tokens);
    pp_jw_kint(w, "parameters", sum->params);
    pp_jw_kint(w, "peak_bytes", sum->peak_bytes);
    pp_jw_knum(w, "unigram_entropy_nats", sum->unigram_entropy);
    pp_jw_knum(w, "first_loss", sum->first_loss);
    pp_jw_knum(w, "final_loss", sum->final_loss);
    pp_jw_key(w, "step_results");
    pp_jw_arr_begin(w);
    for (int i = 0; i < o->steps; i++) {
        pp_jw_obj_begin(w);
        pp_jw_kint(w, "step", steps[i].step);
        pp_jw_knum(w, "loss", steps[i].loss);
        pp_jw_knum(w, "grad_norm", steps[i].grad_norm);
        pp_jw_knum(w, "lr", steps[i].lr);
        pp_jw_knum(w, "tokens_per_s", steps[i].tokens_per_s);
        pp_jw_knum(w, "seconds", steps[i].seconds);
        pp_jw_obj_end(w);
    }
    pp_jw_arr_end(w);
    pp_jw_obj_end(w);
}

/* The step callback of pp_train_logged: keeps each step (for the JSON)
 * and prints its line. */
typedef struct step_log {
    FILE *tx;
    int every;
    pp_train_step *steps; /* [steps] every step, for the JSON; NULL without */
} step_log;

static void log_step(void *ctx, const pp_train_step *s) {
    const step_log *p = ctx;
    if (p->steps && s->step >= 1 && s->step <= s->steps) p->steps[s->step - 1] = *s;
    pp_train_print_step(p->tx, p->every, s);
}

int pp_train_logged(const pp_model_config *cfg, const pp_train_opts *o, FILE *tx, int every, pp_jw *json,
                    pp_train_summary *sum, pp_err *err) {
    fprintf(tx, "training %s: %d steps of %d x %d tokens in %d microbatches, %d thread%s, seed %llu\n", cfg->name,
            o->steps, o->batch, o->seq, o->microbatches, o->threads, o->threads == 1 ? "" : "s",
            (unsigned long long)o->seed);
    fflush(tx);
    step_log lg = {.tx = tx, .every = every};
    if (json && !(lg.steps = calloc((size_t)o->steps, sizeof *lg.steps)))
        return pp_err_set(err, PP_ERR_NOMEM, "out of memory");
    int rc = pp_train(cfg, o, log_step, &lg, sum, err);
    if (!rc && json) pp_train_json(json, cfg->name, o, sum, lg.steps);
    free(lg.steps);
    return rc;
}

void pp_train_print_summary(FILE *tx, const pp_train_opts *o, const pp_train_summary *sum) {
    char a[32], b[32];
    fprintf(tx, "\ndata: %s, %s tokens\n", sum->data_source, pp_fmt_count(sum->data_tokens, a, sizeof a));
    fprintf(tx, "parameters: %s; backend peak memory %s bytes\n", pp_fmt_count(sum->params, a, sizeof a),
            pp_fmt_count(sum->peak_bytes, b, sizeof b));
    fprintf(tx, "unigram entropy of the data: %.4f nats/token (%.3f bits)\n", sum->unigram_entropy,
            sum->unigram_entropy / 0.6931471805599453);
    fprintf(tx, "loss: first step %.4f, last %d steps %.4f nats/token (%.3f bits): %.2f of the unigram entropy\n",
            sum->first_loss, o->steps < 10 ? o->steps : 10, sum->final_loss, sum->final_loss / 0.6931471805599453,
            sum->final_loss / sum->unigram_entropy);
}
