/*
 * pp_sched.c -- the schedule table (see pp_sched.h): rows of actions per
 * rank, the action cell grammar of PyTorch's torch.distributed.pipelining,
 * and the CSV form in both namings of the backward pass.
 *
 * A cell is read in two steps. The grammar step turns the text into "raw"
 * tokens without deciding what B means:
 *
 *     cell     = "" | simple | "(" simple ";" simple ")OVERLAP_F_B"
 *     simple   = stage token [mb]          (mb only for tokens that take one)
 *     token    = F | I | W | B | BW | SEND_F | RECV_F | SEND_B | RECV_B
 *              | REDUCE_GRAD | OPTIM | UNSHARD | RESHARD   (longest match)
 *     stage,mb = 1 to 9 decimal digits, no sign, no leading zeros
 *
 * The naming step maps tokens to pp_act_type: current B = full backward,
 * I = inputs only, BW refused; legacy B = inputs only, BW = full backward,
 * I refused. A CSV reader given PP_NAMING_AUTO first runs the grammar over
 * the whole table, then calls it legacy when any cell (overlap parts
 * included) uses BW, or uses W while no cell uses I.
 *
 * Why AUTO is safe for valid tables: every W needs an I before it (PyTorch's
 * validation: as many I as W), so a valid current table with W always has
 * an I, and a valid legacy table with W never has one (legacy has no I).
 * Only an invalid table (W without I in current naming) is misread, and
 * then as legacy, where its B cells would turn into I.
 *
 * CSV: one line per rank, cells separated by ",", "\n" or "\r\n" line
 * endings, optional final newline, a cell may be wrapped in double quotes,
 * spaces and tabs around a cell are ignored. An empty line is a rank with no
 * actions; a line holding one empty cell is written (and read) as "".
 */
#include "core/pp_sched.h"

#include "core/pp_io.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- table ---- */

int pp_sched_init(pp_sched *s, int n_ranks, pp_err *err) {
    memset(s, 0, sizeof *s);
    if (n_ranks < 0) return pp_err_set(err, PP_ERR_INVALID, "schedule: negative rank count %d", n_ranks);
    if (n_ranks > 0) {
        s->ranks = pp_calloc((unsigned long long)n_ranks, sizeof *s->ranks, err);
        if (!s->ranks) return -1;
    }
    s->n_ranks = n_ranks;
    return 0;
}

void pp_sched_free(pp_sched *s) {
    if (!s) return;
    for (int r = 0; r < s->n_ranks && s->ranks; r++) free(s->ranks[r].acts);
    free(s->ranks);
    memset(s, 0, sizeof *s);
}

int pp_sched_push(pp_sched *s, int rank, pp_action a, pp_err *err) {
    if (rank < 0 || rank >= s->n_ranks)
        return pp_err_set(err, PP_ERR_INVALID, "schedule: rank %d out of range [0, %d)", rank, s->n_ranks);
    if (a.type < 0 || a.type >= PP_ACT__COUNT)
        return pp_err_set(err, PP_ERR_INVALID, "schedule: unknown action type %d", a.type);
    pp_sched_rank *row = &s->ranks[rank];
    if (row->n == INT_MAX) return pp_err_set(err, PP_ERR_INVALID, "schedule: rank %d has too many actions", rank);
    if (pp_grow((void **)&row->acts, &row->cap, row->n + 1, sizeof *row->acts, err)) return -1;
    row->acts[row->n++] = a;
    return 0;
}

int pp_sched_copy(pp_sched *dst, const pp_sched *src, pp_err *err) {
    pp_sched t;
    if (pp_sched_init(&t, src->n_ranks, err)) return -1;
    for (int r = 0; r < src->n_ranks; r++) {
        const pp_sched_rank *row = &src->ranks[r];
        if (row->n == 0) continue;
        t.ranks[r].acts = pp_malloc((unsigned long long)row->n * sizeof *row->acts, err);
        if (!t.ranks[r].acts) {
            pp_sched_free(&t);
            return -1;
        }
        memcpy(t.ranks[r].acts, row->acts, (size_t)row->n * sizeof *row->acts);
        t.ranks[r].n = t.ranks[r].cap = row->n;
    }
    *dst = t;
    return 0;
}

static int is_step_level(int t) {
    return t == PP_ACT_ALLREDUCE || t == PP_ACT_OPTIM || t == PP_ACT_UNSHARD || t == PP_ACT_RESHARD;
}

/* Equality on the fields an action uses: nothing for NONE, the two parts
 * for OVERLAP_F_B, stage and microbatch otherwise. */
static int action_equal(const pp_action *a, const pp_action *b) {
    if (a->type != b->type) return 0;
    if (a->type == PP_ACT_NONE) return 1;
    if (a->type == PP_ACT_OVERLAP_F_B) {
        for (int k = 0; k < 2; k++)
            if (a->sub[k].type != b->sub[k].type || a->sub[k].stage != b->sub[k].stage ||
                a->sub[k].mb != b->sub[k].mb)
                return 0;
        return 1;
    }
    return a->stage == b->stage && a->mb == b->mb;
}

int pp_sched_equal(const pp_sched *a, const pp_sched *b) {
    if (a->n_ranks != b->n_ranks) return 0;
    for (int r = 0; r < a->n_ranks; r++) {
        const pp_sched_rank *x = &a->ranks[r], *y = &b->ranks[r];
        if (x->n != y->n) return 0;
        for (int i = 0; i < x->n; i++)
            if (!action_equal(&x->acts[i], &y->acts[i])) return 0;
    }
    return 1;
}

int pp_sched_n_stages(const pp_sched *s) {
    int hi = -1;
    for (int r = 0; r < s->n_ranks; r++) {
        for (int i = 0; i < s->ranks[r].n; i++) {
            const pp_action *a = &s->ranks[r].acts[i];
            if (a->type == PP_ACT_NONE) continue;
            if (a->type == PP_ACT_OVERLAP_F_B) {
                for (int k = 0; k < 2; k++)
                    if (a->sub[k].stage > hi) hi = a->sub[k].stage;
            } else if (a->stage > hi) {
                hi = a->stage;
            }
        }
    }
    return hi == INT_MAX ? INT_MAX : hi + 1;
}

int pp_sched_n_microbatches(const pp_sched *s) {
    int hi = -1;
    for (int r = 0; r < s->n_ranks; r++) {
        for (int i = 0; i < s->ranks[r].n; i++) {
            const pp_action *a = &s->ranks[r].acts[i];
            if (a->type == PP_ACT_NONE) continue;
            if (a->type == PP_ACT_OVERLAP_F_B) {
                for (int k = 0; k < 2; k++)
                    if (a->sub[k].mb > hi) hi = a->sub[k].mb;
            } else if (a->mb > hi) {
                hi = a->mb;
            }
        }
    }
    return hi == INT_MAX ? INT_MAX : hi + 1;
}

pp_sched_form pp_sched_form_of(const pp_sched *s) {
    for (int r = 0; r < s->n_ranks; r++) {
        for (int i = 0; i < s->ranks[r].n; i++) {
            int t = s->ranks[r].acts[i].type;
            if (t == PP_ACT_SEND_F || t == PP_ACT_RECV_F || t == PP_ACT_SEND_B || t == PP_ACT_RECV_B)
                return PP_SCHED_COMPUTE_COMMS;
        }
    }
    return PP_SCHED_COMPUTE_ONLY;
}

pp_action pp_action_make(pp_act_type type, int stage, int mb) {
    pp_action a;
    memset(&a, 0, sizeof a);
    a.type = (int)type;
    a.stage = type == PP_ACT_NONE ? -1 : stage;
    a.mb = type == PP_ACT_NONE ? -1 : mb;
    return a;
}

pp_action pp_action_overlap(int f_stage, int f_mb, pp_act_type b_type, int b_stage, int b_mb) {
    pp_action a;
    memset(&a, 0, sizeof a);
    a.type = PP_ACT_OVERLAP_F_B;
    a.stage = -1;
    a.mb = -1;
    a.sub[0] = (pp_subaction){.type = PP_ACT_F, .stage = f_stage, .mb = f_mb};
    a.sub[1] = (pp_subaction){.type = (int)b_type, .stage = b_stage, .mb = b_mb};
    return a;
}

/* ---- names ---- */

static const char *const k_current_names[PP_ACT__COUNT] = {
    [PP_ACT_NONE] = "",          [PP_ACT_F] = "F",           [PP_ACT_I] = "I",
    [PP_ACT_W] = "W",            [PP_ACT_B] = "B",           [PP_ACT_SEND_F] = "SEND_F",
    [PP_ACT_RECV_F] = "RECV_F",  [PP_ACT_SEND_B] = "SEND_B", [PP_ACT_RECV_B] = "RECV_B",
    [PP_ACT_OVERLAP_F_B] = "OVERLAP_F_B",                    [PP_ACT_ALLREDUCE] = "REDUCE_GRAD",
    [PP_ACT_OPTIM] = "OPTIM",    [PP_ACT_UNSHARD] = "UNSHARD", [PP_ACT_RESHARD] = "RESHARD",
};

const char *pp_act_type_name(pp_act_type t, pp_sched_naming naming) {
    if ((int)t < 0 || t >= PP_ACT__COUNT) return "?";
    if (naming == PP_NAMING_LEGACY) {
        if (t == PP_ACT_I) return "B";
        if (t == PP_ACT_B) return "BW";
    }
    return k_current_names[t];
}

/* ---- cell grammar ---- */

/* Type tokens as written, before a naming gives B its meaning. */
enum {
    TK_F, TK_I, TK_W, TK_B, TK_BW, TK_SEND_F, TK_RECV_F, TK_SEND_B, TK_RECV_B,
    TK_REDUCE_GRAD, TK_OPTIM, TK_UNSHARD, TK_RESHARD, TK__COUNT
};

static const struct {
    const char *name;
    int has_mb;
    int type; /* pp_act_type in the current naming; BW maps through the naming step */
} k_tokens[TK__COUNT] = {
    [TK_F] = {"F", 1, PP_ACT_F},
    [TK_I] = {"I", 1, PP_ACT_I},
    [TK_W] = {"W", 1, PP_ACT_W},
    [TK_B] = {"B", 1, PP_ACT_B},
    [TK_BW] = {"BW", 1, PP_ACT_B},
    [TK_SEND_F] = {"SEND_F", 1, PP_ACT_SEND_F},
    [TK_RECV_F] = {"RECV_F", 1, PP_ACT_RECV_F},
    [TK_SEND_B] = {"SEND_B", 1, PP_ACT_SEND_B},
    [TK_RECV_B] = {"RECV_B", 1, PP_ACT_RECV_B},
    [TK_REDUCE_GRAD] = {"REDUCE_GRAD", 0, PP_ACT_ALLREDUCE},
    [TK_OPTIM] = {"OPTIM", 0, PP_ACT_OPTIM},
    [TK_UNSHARD] = {"UNSHARD", 0, PP_ACT_UNSHARD},
    [TK_RESHARD] = {"RESHARD", 0, PP_ACT_RESHARD},
};

#define PP_OVERLAP_SUFFIX "OVERLAP_F_B"
#define PP_MAX_DIGITS 9

typedef struct raw_simple {
    int tk, stage, mb; /* mb -1 when the token takes none */
} raw_simple;

typedef struct raw_cell {
    int kind; /* 0 empty, 1 simple, 2 overlap */
    raw_simple part[2];
} raw_cell;

/* Reads 1..9 decimal digits at s[*i] (no sign, no leading zeros) into *out.
 * `what` names the number in errors. */
static int read_number(const char *s, size_t n, size_t *i, const char *what, int *out, pp_err *err) {
    size_t st = *i;
    while (*i < n && s[*i] >= '0' && s[*i] <= '9') (*i)++;
    size_t k = *i - st;
    if (k == 0) {
        if (st < n && s[st] == '-') return pp_err_set(err, PP_ERR_PARSE, "%s must not be negative", what);
        if (st < n) return pp_err_set(err, PP_ERR_PARSE, "expected a %s, got '%.*s'", what, (int)(n - st), s + st);
        return pp_err_set(err, PP_ERR_PARSE, "expected a %s at the end", what);
    }
    if (k > PP_MAX_DIGITS)
        return pp_err_set(err, PP_ERR_PARSE, "%s: '%.*s' has more than %d digits", what, (int)k, s + st, PP_MAX_DIGITS);
    if (k > 1 && s[st] == '0')
        return pp_err_set(err, PP_ERR_PARSE, "%s: '%.*s' has a leading zero", what, (int)k, s + st);
    int v = 0;
    for (size_t j = st; j < *i; j++) v = v * 10 + (s[j] - '0');
    *out = v;
    return 0;
}

/* Grammar of "{stage}{token}{mb}" over s[0..n). */
static int raw_parse_simple(const char *s, size_t n, raw_simple *out, pp_err *err) {
    size_t i = 0;
    if (n == 0) return pp_err_set(err, PP_ERR_PARSE, "empty action");
    if (read_number(s, n, &i, "stage number", &out->stage, err)) return -1;
    int best = -1;
    size_t best_len = 0;
    for (int t = 0; t < TK__COUNT; t++) {
        size_t k = strlen(k_tokens[t].name);
        if (k > best_len && k <= n - i && memcmp(s + i, k_tokens[t].name, k) == 0) {
            best = t;
            best_len = k;
        }
    }
    if (best < 0) {
        if (i == n) return pp_err_set(err, PP_ERR_PARSE, "expected an action type after the stage number");
        return pp_err_set(err, PP_ERR_PARSE,
                          "unknown action type at '%.*s' (expected F, I, W, B, BW, SEND_F, RECV_F, SEND_B, "
                          "RECV_B, REDUCE_GRAD, OPTIM, UNSHARD or RESHARD)",
                          (int)(n - i), s + i);
    }
    i += best_len;
    out->tk = best;
    out->mb = -1;
    if (k_tokens[best].has_mb) {
        char what[48];
        snprintf(what, sizeof what, "microbatch number after '%s'", k_tokens[best].name);
        if (read_number(s, n, &i, what, &out->mb, err)) return -1;
    }
    if (i < n) {
        if (!k_tokens[best].has_mb && s[i] >= '0' && s[i] <= '9')
            return pp_err_set(err, PP_ERR_PARSE, "%s takes no microbatch number", k_tokens[best].name);
        return pp_err_set(err, PP_ERR_PARSE, "unexpected text '%.*s' after '%.*s'", (int)(n - i), s + i, (int)i, s);
    }
    return 0;
}

static void trim(const char **s, size_t *n) {
    while (*n > 0 && (**s == ' ' || **s == '\t')) {
        (*s)++;
        (*n)--;
    }
    while (*n > 0 && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t')) (*n)--;
}

/* Grammar of one cell (already trimmed) over s[0..n). */
static int raw_parse_cell(const char *s, size_t n, raw_cell *out, pp_err *err) {
    memset(out, 0, sizeof *out);
    if (n == 0) return 0;
    if (s[0] != '(') {
        out->kind = 1;
        return raw_parse_simple(s, n, &out->part[0], err);
    }
    const char *close = memchr(s, ')', n);
    if (!close) return pp_err_set(err, PP_ERR_PARSE, "missing ')' of a compound cell");
    size_t inner_n = (size_t)(close - s) - 1;
    const char *inner = s + 1;
    const char *suffix = close + 1;
    size_t suffix_n = n - (size_t)(suffix - s);
    if (suffix_n != strlen(PP_OVERLAP_SUFFIX) || memcmp(suffix, PP_OVERLAP_SUFFIX, suffix_n) != 0)
        return pp_err_set(err, PP_ERR_PARSE, "expected '" PP_OVERLAP_SUFFIX "' after ')', got '%.*s'", (int)suffix_n,
                          suffix);
    const char *semi = memchr(inner, ';', inner_n);
    if (!semi)
        return pp_err_set(err, PP_ERR_PARSE, "a compound cell holds two actions separated by ';', "
                                             "like (0F7;7B3)" PP_OVERLAP_SUFFIX);
    const char *a = inner, *b = semi + 1;
    size_t an = (size_t)(semi - inner), bn = inner_n - an - 1;
    if (memchr(b, ';', bn))
        return pp_err_set(err, PP_ERR_PARSE, "a compound cell holds exactly two actions");
    trim(&a, &an);
    trim(&b, &bn);
    out->kind = 2;
    if (raw_parse_simple(a, an, &out->part[0], err)) return pp_err_wrap(err, "part '%.*s'", (int)an, a);
    if (raw_parse_simple(b, bn, &out->part[1], err)) return pp_err_wrap(err, "part '%.*s'", (int)bn, b);
    return 0;
}

/* Maps a token to a pp_act_type in a naming (CURRENT or LEGACY). */
static int token_type(int tk, pp_sched_naming naming, int *type, pp_err *err) {
    if (naming == PP_NAMING_LEGACY) {
        if (tk == TK_I)
            return pp_err_set(err, PP_ERR_PARSE,
                              "'I' is not a type in the legacy naming (there 'B' is the backward for inputs)");
        if (tk == TK_B) {
            *type = PP_ACT_I;
            return 0;
        }
    } else if (tk == TK_BW) {
        return pp_err_set(err, PP_ERR_PARSE,
                          "'BW' is the legacy name of the full backward; in the current naming it is 'B'");
    }
    *type = k_tokens[tk].type;
    return 0;
}

/* The naming step: raw cell to action. */
static int raw_to_action(const raw_cell *rc, pp_sched_naming naming, pp_action *out, pp_err *err) {
    int t0, t1;
    switch (rc->kind) {
    case 0: *out = pp_action_make(PP_ACT_NONE, -1, -1); return 0;
    case 1:
        if (token_type(rc->part[0].tk, naming, &t0, err)) return -1;
        *out = pp_action_make((pp_act_type)t0, rc->part[0].stage, rc->part[0].mb);
        return 0;
    default:
        if (token_type(rc->part[0].tk, naming, &t0, err) || token_type(rc->part[1].tk, naming, &t1, err)) return -1;
        if (t0 != PP_ACT_F)
            return pp_err_set(err, PP_ERR_PARSE, PP_OVERLAP_SUFFIX " needs a forward first, got %s",
                              k_tokens[rc->part[0].tk].name);
        if (t1 != PP_ACT_I && t1 != PP_ACT_W && t1 != PP_ACT_B)
            return pp_err_set(err, PP_ERR_PARSE, PP_OVERLAP_SUFFIX " needs a backward second, got %s",
                              k_tokens[rc->part[1].tk].name);
        *out = pp_action_overlap(rc->part[0].stage, rc->part[0].mb, (pp_act_type)t1, rc->part[1].stage,
                                 rc->part[1].mb);
        return 0;
    }
}

/* Replaces control bytes in a message (they come from the cell text) by '?'. */
static int sanitize_msg(pp_err *err) {
    if (err)
        for (char *c = err->msg; *c; c++)
            if ((unsigned char)*c < 0x20 || *c == 0x7f) *c = '?';
    return -1;
}

int pp_action_parse(const char *cell, pp_sched_naming naming, pp_action *out, pp_err *err) {
    if (naming != PP_NAMING_CURRENT && naming != PP_NAMING_LEGACY)
        return pp_err_set(err, PP_ERR_INVALID, "pp_action_parse: naming must be CURRENT or LEGACY");
    raw_cell rc;
    if (raw_parse_cell(cell, strlen(cell), &rc, err) || raw_to_action(&rc, naming, out, err))
        return sanitize_msg(err);
    return 0;
}

static void format_simple(int type, int stage, int mb, pp_sched_naming naming, char *buf, size_t n) {
    char st[16] = "", m[16] = "";
    if (stage >= 0) snprintf(st, sizeof st, "%d", stage);
    if (mb >= 0) snprintf(m, sizeof m, "%d", mb);
    snprintf(buf, n, "%s%s%s", st, pp_act_type_name((pp_act_type)type, naming), m);
}

void pp_action_format(const pp_action *a, pp_sched_naming naming, char *buf, size_t n) {
    if (n == 0) return;
    if (a->type == PP_ACT_NONE) {
        buf[0] = '\0';
    } else if (a->type == PP_ACT_OVERLAP_F_B) {
        char x[32], y[32];
        format_simple(a->sub[0].type, a->sub[0].stage, a->sub[0].mb, naming, x, sizeof x);
        format_simple(a->sub[1].type, a->sub[1].stage, a->sub[1].mb, naming, y, sizeof y);
        snprintf(buf, n, "(%s;%s)" PP_OVERLAP_SUFFIX, x, y);
    } else {
        format_simple(a->type, a->stage, a->mb, naming, buf, n);
    }
}

/* ---- CSV reading ---- */

/* What the grammar pass saw, for PP_NAMING_AUTO. */
typedef struct detect_info {
    int any_i, any_w, any_bw;
    int bw_line, bw_col; /* first BW cell */
    char bw_cell[64];
} detect_info;

/* Copies a cell for messages: at most 40 bytes, unprintable bytes as '?'. */
static void cell_for_msg(const char *s, size_t n, char *buf, size_t cap) {
    size_t o = 0, lim = n > 40 ? 40 : n;
    for (size_t i = 0; i < lim && o + 1 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        buf[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    if (n > lim && o + 4 < cap) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o] = '\0';
}

/* Walks the CSV text. With sched == NULL it runs the grammar only and fills
 * *info; otherwise it reads every cell in `naming` into sched (which has
 * *n_rows rows). Counts rows into *n_rows and cells into *n_cells. */
static int csv_walk(const char *text, size_t len, const char *file, pp_sched_naming naming,
                    const detect_info *det, pp_sched *sched, detect_info *info, int *n_rows, long long *n_cells,
                    pp_err *err) {
    size_t pos = 0;
    int line = 0;
    *n_cells = 0;
    if (len >= 3 && (unsigned char)text[0] == 0xEF && (unsigned char)text[1] == 0xBB &&
        (unsigned char)text[2] == 0xBF)
        pos = 3; /* UTF-8 byte-order mark */
    while (pos < len) {
        const char *ls = text + pos;
        const char *nl = memchr(ls, '\n', len - pos);
        size_t ln = nl ? (size_t)(nl - ls) : len - pos;
        pos += ln + (nl ? 1 : 0);
        if (ln > 0 && ls[ln - 1] == '\r') ln--;
        if (line == INT_MAX) return pp_err_set(err, PP_ERR_PARSE, "%s: too many rows", file);
        line++;
        if (ln == 0) continue; /* a rank with no actions */
        size_t i = 0;
        for (int col = 1;; col++) {
            while (i < ln && (ls[i] == ' ' || ls[i] == '\t')) i++;
            const char *cs;
            size_t cn;
            char shown[64];
            if (i < ln && ls[i] == '"') {
                const char *q = memchr(ls + i + 1, '"', ln - i - 1);
                if (!q) {
                    cell_for_msg(ls + i, ln - i, shown, sizeof shown);
                    return pp_err_set(err, PP_ERR_PARSE, "%s:%d:%d: cell '%s': missing the closing '\"'", file,
                                      line, col, shown);
                }
                cs = ls + i + 1;
                cn = (size_t)(q - cs);
                i = (size_t)(q - ls) + 1;
                while (i < ln && (ls[i] == ' ' || ls[i] == '\t')) i++;
                if (i < ln && ls[i] != ',') {
                    const char *e = memchr(ls + i, ',', ln - i);
                    size_t end = e ? (size_t)(e - ls) : ln;
                    size_t st = (size_t)(cs - 1 - ls);
                    cell_for_msg(ls + st, end - st, shown, sizeof shown);
                    return pp_err_set(err, PP_ERR_PARSE, "%s:%d:%d: cell '%s': unexpected text after the closing '\"'",
                                      file, line, col, shown);
                }
                trim(&cs, &cn);
            } else {
                const char *e = memchr(ls + i, ',', ln - i);
                size_t end = e ? (size_t)(e - ls) : ln;
                cs = ls + i;
                cn = end - i;
                i = end;
                trim(&cs, &cn);
            }
            cell_for_msg(cs, cn, shown, sizeof shown);
            raw_cell rc;
            if (raw_parse_cell(cs, cn, &rc, err)) {
                pp_err_wrap(err, "%s:%d:%d: cell '%s'", file, line, col, shown);
                return sanitize_msg(err);
            }
            if (!sched) {
                for (int k = 0; k < rc.kind; k++) {
                    int tk = rc.part[k].tk;
                    info->any_i |= tk == TK_I;
                    info->any_w |= tk == TK_W;
                    if (tk == TK_BW && !info->any_bw) {
                        info->any_bw = 1;
                        info->bw_line = line;
                        info->bw_col = col;
                        snprintf(info->bw_cell, sizeof info->bw_cell, "%s", shown);
                    }
                }
            } else {
                pp_action a;
                if (raw_to_action(&rc, naming, &a, err)) {
                    if (det && det->any_bw)
                        pp_err_wrap(err, "%s:%d:%d: cell '%s' (legacy naming detected from cell '%s' at %d:%d)",
                                    file, line, col, shown, det->bw_cell, det->bw_line, det->bw_col);
                    else
                        pp_err_wrap(err, "%s:%d:%d: cell '%s'", file, line, col, shown);
                    return -1;
                }
                if (pp_sched_push(sched, line - 1, a, err)) return -1;
            }
            (*n_cells)++;
            if (i >= ln) break;
            i++; /* the ',' */
        }
    }
    *n_rows = line;
    return 0;
}

int pp_sched_parse_csv(const char *text, size_t len, const char *file, pp_sched_naming naming, pp_sched *out,
                       pp_sched_naming *found, pp_err *err) {
    if (!file) file = "<csv>";
    if (naming != PP_NAMING_AUTO && naming != PP_NAMING_CURRENT && naming != PP_NAMING_LEGACY)
        return pp_err_set(err, PP_ERR_INVALID, "%s: unknown naming %d", file, (int)naming);
    detect_info info;
    memset(&info, 0, sizeof info);
    int n_rows = 0;
    long long n_cells = 0;
    if (csv_walk(text, len, file, PP_NAMING_AUTO, NULL, NULL, &info, &n_rows, &n_cells, err)) return -1;
    if (n_cells == 0) return pp_err_set(err, PP_ERR_PARSE, "%s: no rows (a schedule needs one row per rank)", file);
    pp_sched_naming use = naming;
    if (use == PP_NAMING_AUTO)
        use = (info.any_bw || (info.any_w && !info.any_i)) ? PP_NAMING_LEGACY : PP_NAMING_CURRENT;
    pp_sched t;
    if (pp_sched_init(&t, n_rows, err)) return -1;
    int rows2 = 0;
    if (csv_walk(text, len, file, use, naming == PP_NAMING_AUTO ? &info : NULL, &t, NULL, &rows2, &n_cells,
                 err)) {
        pp_sched_free(&t);
        return -1;
    }
    *out = t;
    if (found) *found = use;
    return 0;
}

int pp_sched_load_csv(const char *path, pp_sched_naming naming, pp_sched *out, pp_sched_naming *found,
                      pp_err *err) {
    char *data = NULL;
    size_t len = 0;
    if (pp_io_read_file(path, &data, &len, err)) return -1;
    int rc = pp_sched_parse_csv(data, len, path, naming, out, found, err);
    free(data);
    return rc;
}

/* ---- CSV writing ---- */

static int check_number(int v, const char *what, int rank, int idx, pp_err *err) {
    if (v < 0 || v > PP_SCHED_ID_MAX)
        return pp_err_set(err, PP_ERR_INVALID, "schedule rank %d action %d: %s %d is not in [0, %d]", rank, idx, what,
                          v, PP_SCHED_ID_MAX);
    return 0;
}

/* Checks that an action can be written as a cell that reads back equal. */
static int check_writable(const pp_action *a, pp_sched_naming naming, int rank, int idx, pp_err *err) {
    if (a->type < 0 || a->type >= PP_ACT__COUNT)
        return pp_err_set(err, PP_ERR_INVALID, "schedule rank %d action %d: unknown type %d", rank, idx, a->type);
    if (a->type == PP_ACT_NONE) return 0;
    if (a->type == PP_ACT_OVERLAP_F_B) {
        const pp_subaction *f = &a->sub[0], *b = &a->sub[1];
        if (f->type != PP_ACT_F)
            return pp_err_set(err, PP_ERR_INVALID, "schedule rank %d action %d: " PP_OVERLAP_SUFFIX
                              " needs a forward as its first part", rank, idx);
        if (b->type != PP_ACT_I && b->type != PP_ACT_W && b->type != PP_ACT_B)
            return pp_err_set(err, PP_ERR_INVALID, "schedule rank %d action %d: " PP_OVERLAP_SUFFIX
                              " needs a backward (I, W or B) as its second part", rank, idx);
        if (naming == PP_NAMING_LEGACY && b->type == PP_ACT_I)
            return pp_err_set(err, PP_ERR_INVALID,
                              "schedule rank %d action %d: an " PP_OVERLAP_SUFFIX " with a backward for inputs "
                              "cannot be written in the legacy naming: '(%dF%d;%dB%d)" PP_OVERLAP_SUFFIX
                              "' reads as a full backward in every reader that knows " PP_OVERLAP_SUFFIX,
                              rank, idx, f->stage, f->mb, b->stage, b->mb);
        for (int k = 0; k < 2; k++)
            if (check_number(a->sub[k].stage, "stage", rank, idx, err) ||
                check_number(a->sub[k].mb, "microbatch", rank, idx, err))
                return -1;
        return 0;
    }
    if (check_number(a->stage, "stage", rank, idx, err)) return -1;
    if (is_step_level(a->type)) {
        if (a->mb != -1)
            return pp_err_set(err, PP_ERR_INVALID, "schedule rank %d action %d: %s takes no microbatch (got %d)",
                              rank, idx, pp_act_type_name((pp_act_type)a->type, PP_NAMING_CURRENT), a->mb);
        return 0;
    }
    return check_number(a->mb, "microbatch", rank, idx, err);
}

int pp_sched_write_csv(const pp_sched *s, pp_sched_naming naming, char **out, size_t *len, pp_err *err) {
    if (naming != PP_NAMING_CURRENT && naming != PP_NAMING_LEGACY)
        return pp_err_set(err, PP_ERR_INVALID, "schedule CSV: naming must be CURRENT or LEGACY");
    char *buf = NULL;
    size_t n = 0, cap = 0;
    int rc = -1;
    for (int r = 0; r < s->n_ranks; r++) {
        const pp_sched_rank *row = &s->ranks[r];
        for (int i = 0; i < row->n; i++) {
            if (check_writable(&row->acts[i], naming, r, i, err)) goto done;
            char cell[64];
            pp_action_format(&row->acts[i], naming, cell, sizeof cell);
            /* A row of one empty cell is written "" so that it does not read
             * back as an empty row (what Python's csv module does too). */
            if (row->n == 1 && !cell[0]) snprintf(cell, sizeof cell, "\"\"");
            size_t k = strlen(cell);
            if (n + k + 2 + 1 > cap) {
                size_t ncap = cap ? cap * 2 : 4096;
                while (n + k + 3 > ncap) ncap *= 2;
                char *p = pp_realloc(buf, ncap, err);
                if (!p) goto done;
                buf = p;
                cap = ncap;
            }
            if (i) buf[n++] = ',';
            memcpy(buf + n, cell, k);
            n += k;
        }
        if (n + 2 > cap) {
            size_t ncap = cap ? cap * 2 : 4096;
            char *p = pp_realloc(buf, ncap, err);
            if (!p) goto done;
            buf = p;
            cap = ncap;
        }
        buf[n++] = '\n';
    }
    if (!buf) {
        buf = pp_malloc(1, err);
        if (!buf) goto done;
    }
    buf[n] = '\0';
    *out = buf;
    if (len) *len = n;
    buf = NULL;
    rc = 0;
done:
    free(buf);
    return rc;
}

int pp_sched_save_csv(const pp_sched *s, const char *path, pp_sched_naming naming, pp_err *err) {
    char *text = NULL;
    size_t len = 0;
    if (pp_sched_write_csv(s, naming, &text, &len, err)) return -1;
    int rc = pp_io_write_atomic(path, text, len, err);
    free(text);
    return rc;
}
