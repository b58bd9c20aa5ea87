/*
 * pp_sched_print.c -- naming and showing a schedule table (see "printing"
 * in pp_sched.h): the names of the two namings as a command reads them,
 * the text `pippy schedule show` prints (size, form, naming, then per rank
 * the count of each action type and every cell), the line `pippy schedule
 * check` prints for a valid table, and the one JSON object `pippy schedule
 * --json` writes. Printing only: the table is read, never changed, and
 * nothing here checks it.
 */
#include <stdio.h>
#include <string.h>

#include "core/pp_json.h"
#include "core/pp_sched.h"

int pp_sched_naming_parse(const char *s, int allow_auto, pp_sched_naming *out) {
    if (allow_auto && !strcmp(s, "auto")) *out = PP_NAMING_AUTO;
    else if (!strcmp(s, "current")) *out = PP_NAMING_CURRENT;
    else if (!strcmp(s, "legacy")) *out = PP_NAMING_LEGACY;
    else return -1;
    return 0;
}

static const char *form_name(const pp_sched *s) {
    return pp_sched_form_of(s) == PP_SCHED_COMPUTE_COMMS ? "compute_comms" : "compute_only";
}

static const char *naming_name(pp_sched_naming naming) {
    return naming == PP_NAMING_LEGACY ? "legacy" : "current";
}

void pp_sched_write_json(pp_jw *w, const pp_sched *s, const char *file, const char *output, pp_sched_naming naming,
                         int checked, const char *error, int cells) {
    pp_jw_obj_begin(w);
    if (file) {
        pp_jw_kstr(w, "file", file);
    }
    if (output) {
        pp_jw_kstr(w, "output", output);
    }
    pp_jw_kint(w, "ranks", s->n_ranks);
    pp_jw_kint(w, "stages", pp_sched_n_stages(s));
    pp_jw_kint(w, "microbatches", pp_sched_n_microbatches(s));
    pp_jw_kstr(w, "form", form_name(s));
    pp_jw_kstr(w, "naming", naming_name(naming));
    if (checked) {
        pp_jw_kbool(w, "valid", error == NULL);
        pp_jw_key(w, "error");
        if (error) pp_jw_str(w, error);
        else pp_jw_null(w);
    }
    if (cells) {
        pp_jw_key(w, "cells");
        pp_jw_arr_begin(w);
        for (int r = 0; r < s->n_ranks; r++) {
            pp_jw_arr_begin_inline(w);
            for (int j = 0; j < s->ranks[r].n; j++) {
                char cell[96];
                pp_action_format(&s->ranks[r].acts[j], PP_NAMING_CURRENT, cell, sizeof cell);
                pp_jw_str(w, cell);
            }
            pp_jw_arr_end(w);
        }
        pp_jw_arr_end(w);
    }
    pp_jw_obj_end(w);
}

void pp_sched_print_text(FILE *f, const pp_sched *s, const char *path, pp_sched_naming naming) {
    fprintf(f, "%s: %d ranks, %d stages, %d microbatches, %s, %s naming\n", path, s->n_ranks, pp_sched_n_stages(s),
            pp_sched_n_microbatches(s), form_name(s), naming_name(naming));
    for (int r = 0; r < s->n_ranks; r++) {
        int counts[PP_ACT__COUNT] = {0};
        for (int j = 0; j < s->ranks[r].n; j++) counts[s->ranks[r].acts[j].type]++;
        fprintf(f, "rank %d: %d cells:", r, s->ranks[r].n);
        for (int t = 0; t < PP_ACT__COUNT; t++) {
            if (!counts[t]) continue;
            fprintf(f, " %d %s", counts[t],
                    t == PP_ACT_NONE ? "idle" : pp_act_type_name((pp_act_type)t, PP_NAMING_CURRENT));
        }
        fprintf(f, "\n  ");
        for (int j = 0; j < s->ranks[r].n; j++) {
            char cell[96];
            pp_action_format(&s->ranks[r].acts[j], PP_NAMING_CURRENT, cell, sizeof cell);
            fprintf(f, "%s%s", j ? " " : "", cell[0] ? cell : "_");
        }
        fprintf(f, "\n");
    }
}

void pp_sched_print_valid(FILE *f, const pp_sched *s, const char *path) {
    fprintf(f, "%s: valid (%d ranks, %d stages, %d microbatches) and free of deadlock\n", path, s->n_ranks,
            pp_sched_n_stages(s), pp_sched_n_microbatches(s));
}
