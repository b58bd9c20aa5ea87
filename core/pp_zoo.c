/*
 * pp_zoo.c -- model configs and the graph builders of the four families
 * (see pp_zoo.h for what each family is).
 *
 * Parameter names follow the checkpoints people know (HF-like), with q, k
 * and v fused into one projection ("qkv", weight [(H + 2 Hkv) hd, D]) and
 * SwiGLU's gate and up fused ("gate_up_proj", [2F, D]); the counts are the
 * same as the unfused layers'. Dropout is not modelled (training here is
 * deterministic).
 */
#include "core/pp_zoo.h"

#include "core/pp_hash.h"
#include "core/pp_io.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const family_names[] = {"gpt2", "llama", "bert", "t5"};

const char *pp_family_name(pp_family f) { return (unsigned)f < PP_FAMILY__COUNT ? family_names[f] : "?"; }

void pp_model_config_defaults(pp_model_config *cfg, pp_family family) {
    memset(cfg, 0, sizeof *cfg);
    cfg->family = family;
    cfg->pooler = family == PP_FAMILY_BERT;
    cfg->type_vocab_size = family == PP_FAMILY_BERT ? 2 : 0;
    cfg->rel_buckets = family == PP_FAMILY_T5 ? 32 : 0;
    cfg->rel_max_distance = family == PP_FAMILY_T5 ? 128 : 0;
    cfg->tie_embeddings = family != PP_FAMILY_LLAMA;
    cfg->rope_theta = family == PP_FAMILY_LLAMA ? 10000.0 : 0;
    switch (family) {
    case PP_FAMILY_GPT2: cfg->norm_eps = 1e-5; break;
    case PP_FAMILY_LLAMA: cfg->norm_eps = 1e-5; break;
    case PP_FAMILY_BERT: cfg->norm_eps = 1e-12; break;
    case PP_FAMILY_T5: cfg->norm_eps = 1e-6; break;
    default: break;
    }
}

/* ---- reading ---- */

enum { F_GPT2 = 1, F_LLAMA = 2, F_BERT = 4, F_T5 = 8, F_ALL = 15 };
enum { K_INT, K_NUM, K_BOOL };

typedef struct field {
    const char *key;
    int kind;
    size_t off;
    double lo, hi;
    int applies;  /* family mask */
    int required; /* family mask */
} field;

#define OFF(f) offsetof(pp_model_config, f)
static const field fields[] = {
    {"vocab_size", K_INT, OFF(vocab_size), 2, 1e7, F_ALL, F_ALL},
    {"d_model", K_INT, OFF(d_model), 1, 1 << 20, F_ALL, F_ALL},
    {"n_layer", K_INT, OFF(n_layer), 1, 10000, F_ALL, F_ALL},
    {"n_decoder_layer", K_INT, OFF(n_decoder_layer), 1, 10000, F_T5, 0},
    {"n_head", K_INT, OFF(n_head), 1, 4096, F_ALL, F_ALL},
    {"n_kv_head", K_INT, OFF(n_kv_head), 1, 4096, F_LLAMA, 0},
    {"head_dim", K_INT, OFF(head_dim), 1, PP_HEAD_DIM_MAX, F_ALL, 0},
    {"d_ff", K_INT, OFF(d_ff), 1, 1 << 22, F_ALL, F_ALL},
    {"n_positions", K_INT, OFF(n_positions), 1, 1 << 22, F_GPT2 | F_BERT, F_GPT2 | F_BERT},
    {"type_vocab_size", K_INT, OFF(type_vocab_size), 1, 1024, F_BERT, 0},
    {"pooler", K_BOOL, OFF(pooler), 0, 1, F_BERT, 0},
    {"relative_attention_num_buckets", K_INT, OFF(rel_buckets), 1, 4096, F_T5, 0},
    {"relative_attention_max_distance", K_INT, OFF(rel_max_distance), 1, 1 << 20, F_T5, 0},
    {"seq_len", K_INT, OFF(seq_len), 1, 1 << 22, F_ALL, 0},
    {"tie_embeddings", K_BOOL, OFF(tie_embeddings), 0, 1, F_ALL, 0},
    {"norm_eps", K_NUM, OFF(norm_eps), 1e-30, 1, F_ALL, 0},
    {"rope_theta", K_NUM, OFF(rope_theta), 1, 1e12, F_LLAMA, 0},
};
#define N_FIELDS ((int)(sizeof fields / sizeof fields[0]))

int pp_model_config_from_json(const pp_jr *r, pp_json *obj, pp_model_config *cfg) {
    if (pp_json_expect(r, obj, PP_JSON_OBJECT)) return -1;
    int fam = 0;
    const char *name = NULL;
    if (pp_json_read_enum(r, obj, "family", PP_JSON_REQUIRED, family_names, PP_FAMILY__COUNT, &fam)) return -1;
    pp_model_config c;
    pp_model_config_defaults(&c, (pp_family)fam);
    if (pp_json_read_str(r, obj, "name", PP_JSON_REQUIRED, &name)) return -1;
    if (!*name || strlen(name) >= PP_MODEL_NAME_MAX)
        return pp_json_error(r, pp_json_get(obj, "name"), "must be 1 to %d characters", PP_MODEL_NAME_MAX - 1);
    snprintf(c.name, sizeof c.name, "%s", name);
    int bit = 1 << fam;
    for (int i = 0; i < N_FIELDS; i++) {
        const field *f = &fields[i];
        if (!(f->applies & bit)) {
            pp_json *v = pp_json_get(obj, f->key);
            if (v) return pp_json_error(r, v, "does not apply to family '%s'", family_names[fam]);
            continue;
        }
        int req = (f->required & bit) ? PP_JSON_REQUIRED : PP_JSON_OPTIONAL;
        char *p = (char *)&c + f->off;
        if (f->kind == K_INT) {
            if (pp_json_read_i32(r, obj, f->key, req, (int)f->lo, (int)f->hi, (int *)p)) return -1;
        } else if (f->kind == K_BOOL) {
            if (pp_json_read_bool(r, obj, f->key, req, (int *)p)) return -1;
        } else {
            if (pp_json_read_num(r, obj, f->key, req, f->lo, f->hi, (double *)p)) return -1;
        }
    }
    if (pp_json_check_unknown(r, obj)) return -1;
    if (!c.head_dim) {
        if (c.d_model % c.n_head)
            return pp_json_error(r, pp_json_get(obj, "n_head"),
                                 "d_model %d is not a multiple of n_head %d (give head_dim explicitly)", c.d_model,
                                 c.n_head);
        c.head_dim = c.d_model / c.n_head;
        if (c.head_dim > PP_HEAD_DIM_MAX) /* what the file would say when written back */
            return pp_json_error(r, pp_json_get(obj, "n_head"),
                                 "d_model %d / n_head %d = head_dim %d, above %d (use more heads or give head_dim)",
                                 c.d_model, c.n_head, c.head_dim, PP_HEAD_DIM_MAX);
    }
    if (!c.n_kv_head) c.n_kv_head = c.n_head;
    if (fam == PP_FAMILY_T5 && !c.n_decoder_layer) c.n_decoder_layer = c.n_layer;
    if (!c.seq_len) c.seq_len = c.n_positions ? c.n_positions : (fam == PP_FAMILY_LLAMA ? 2048 : 512);
    pp_err tmp;
    if (pp_model_config_check(&c, &tmp)) return pp_json_error(r, obj, "%s", tmp.msg);
    *cfg = c;
    return 0;
}

/* An upper bound on the parameter count (self and cross attention in every
 * layer, three MLP matrices, norms and biases, untied embeddings), in double
 * so that it cannot overflow. */
static double param_bound(const pp_model_config *c) {
    double D = c->d_model, F = c->d_ff, HQ = (double)c->n_head * c->head_dim,
           HKV = (double)c->n_kv_head * c->head_dim;
    double layers = (double)c->n_layer + (c->family == PP_FAMILY_T5 ? c->n_decoder_layer : 0);
    double per_layer = 8 * D * HQ + 2 * D * HKV + 3 * D * F + 8 * D + 4 * HQ + 2 * HKV + 2 * F;
    return layers * per_layer + 2 * (double)c->vocab_size * D +
           ((double)c->n_positions + c->type_vocab_size + D + 4) * D + 2.0 * c->rel_buckets * c->n_head;
}

int pp_model_config_check(const pp_model_config *c, pp_err *err) {
    if ((unsigned)c->family >= PP_FAMILY__COUNT) return pp_err_set(err, PP_ERR_INVALID, "unknown family");
    if (c->vocab_size < 2 || c->d_model < 1 || c->n_layer < 1 || c->n_head < 1 || c->d_ff < 1 || c->head_dim < 1)
        return pp_err_set(err, PP_ERR_INVALID, "model '%s': sizes must be positive", c->name);
    if (c->n_kv_head < 1 || c->n_head % c->n_kv_head)
        return pp_err_set(err, PP_ERR_INVALID, "model '%s': n_head %d must be a multiple of n_kv_head %d", c->name,
                          c->n_head, c->n_kv_head);
    if (c->family == PP_FAMILY_LLAMA && c->head_dim % 2)
        return pp_err_set(err, PP_ERR_INVALID, "model '%s': head_dim %d must be even for rotary embeddings", c->name,
                          c->head_dim);
    if ((c->family == PP_FAMILY_GPT2 || c->family == PP_FAMILY_BERT) && c->seq_len > c->n_positions)
        return pp_err_set(err, PP_ERR_INVALID, "model '%s': seq_len %d exceeds n_positions %d", c->name, c->seq_len,
                          c->n_positions);
    if (c->family == PP_FAMILY_T5 && (c->n_decoder_layer < 1 || c->rel_buckets < 1 || c->rel_max_distance < 1))
        return pp_err_set(err, PP_ERR_INVALID, "model '%s': t5 needs decoder layers and relative buckets", c->name);
    double params = param_bound(c);
    if (params > PP_MODEL_PARAMS_MAX)
        return pp_err_set(err, PP_ERR_INVALID,
                          "model '%s': up to %.3g parameters, more than pippy counts exactly (%.3g); make it smaller",
                          c->name, params, PP_MODEL_PARAMS_MAX);
    return 0;
}

int pp_model_config_parse(const char *text, size_t len, const char *file, pp_model_config *cfg, pp_err *err) {
    pp_json *root = NULL;
    if (pp_json_parse(text, len, file, &root, err)) return -1;
    pp_jr r = {.file = file, .err = err};
    int rc = pp_model_config_from_json(&r, root, cfg);
    pp_json_free(root);
    return rc;
}

int pp_model_config_load(const char *path, pp_model_config *cfg, pp_err *err) {
    char *text;
    size_t len;
    if (pp_io_read_file(path, &text, &len, err)) return -1;
    int rc = pp_model_config_parse(text, len, path, cfg, err);
    free(text);
    return rc;
}

/* ---- writing ---- */

void pp_model_config_to_json(const pp_model_config *c, pp_jw *w) {
    int bit = 1 << c->family;
    pp_jw_obj_begin(w);
    pp_jw_kstr(w, "name", c->name);
    pp_jw_kstr(w, "family", pp_family_name(c->family));
    for (int i = 0; i < N_FIELDS; i++) {
        const field *f = &fields[i];
        if (!(f->applies & bit)) continue;
        const char *p = (const char *)c + f->off;
        pp_jw_key(w, f->key);
        if (f->kind == K_INT) pp_jw_int(w, *(const int *)p);
        else if (f->kind == K_BOOL) pp_jw_bool(w, *(const int *)p);
        else pp_jw_num(w, *(const double *)p);
    }
    pp_jw_obj_end(w);
}

int pp_model_config_write(const pp_model_config *cfg, char **out, size_t *len, pp_err *err) {
    pp_jw w;
    pp_jw_init(&w);
    pp_model_config_to_json(cfg, &w);
    return pp_jw_finish(&w, out, len, err);
}

int pp_model_config_save(const pp_model_config *cfg, const char *path, pp_err *err) {
    char *text;
    size_t len;
    if (pp_model_config_write(cfg, &text, &len, err)) return -1;
    int rc = pp_io_write_atomic(path, text, len, err);
    free(text);
    return rc;
}

int pp_model_config_hash(const pp_model_config *cfg, char hex[65], pp_err *err) {
    char *text;
    size_t len;
    if (pp_model_config_write(cfg, &text, &len, err)) return -1;
    pp_sha256_hex(text, len, hex);
    free(text);
    return 0;
}

/* ---- builders ---- */

typedef struct bld {
    pp_graph *g;
    pp_err *err;
    int failed;
    char block[96];
} bld;

static const char *fmt(char *buf, size_t n, const char *f, va_list ap) {
    vsnprintf(buf, n, f, ap);
    return buf;
}

/* A parameter; dims in d0, d1 (d1 = 0 for a vector). */
static int P(bld *b, long long d0, long long d1, const char *f, ...) __attribute__((format(printf, 4, 5)));
static int P(bld *b, long long d0, long long d1, const char *f, ...) {
    if (b->failed) return -1;
    char name[256];
    va_list ap;
    va_start(ap, f);
    fmt(name, sizeof name, f, ap);
    va_end(ap);
    long long shape[2] = {d0, d1};
    int t = pp_graph_add_param(b->g, name, d1 ? 2 : 1, shape, b->err);
    if (t < 0) b->failed = 1;
    return t;
}

static void set_block(bld *b, const char *f, ...) __attribute__((format(printf, 2, 3)));
static void set_block(bld *b, const char *f, ...) {
    va_list ap;
    va_start(ap, f);
    fmt(b->block, sizeof b->block, f, ap);
    va_end(ap);
}

/* An op in the current block; name is "<block>.<suffix>" unless suffix starts with '/'. */
static int OP(bld *b, pp_op_kind kind, const char *suffix, int in0, int in1, int p0, int p1, const pp_op_attrs *a) {
    if (b->failed) return -1;
    char name[256];
    if (suffix[0] == '/') snprintf(name, sizeof name, "%s", suffix + 1);
    else snprintf(name, sizeof name, "%s.%s", b->block, suffix);
    int in[2] = {in0, in1}, pr[2] = {p0, p1};
    int n_in = in1 >= 0 ? 2 : 1, n_p = p1 >= 0 ? 2 : (p0 >= 0 ? 1 : 0);
    int t = pp_graph_add_op(b->g, kind, name, b->block, in, n_in, pr, n_p, a, b->err);
    if (t < 0) b->failed = 1;
    return t;
}

static pp_op_attrs attn_attrs(const pp_model_config *c, pp_attn_mask mask, double scale, int relpos) {
    pp_op_attrs a;
    memset(&a, 0, sizeof a);
    a.mask = mask;
    a.n_head = c->n_head;
    a.n_kv_head = c->n_kv_head;
    a.head_dim = c->head_dim;
    a.scale = scale;
    if (relpos) {
        a.relpos_buckets = c->rel_buckets;
        a.relpos_max_distance = c->rel_max_distance;
    }
    return a;
}

static pp_op_attrs norm_attrs(const pp_model_config *c) {
    pp_op_attrs a;
    memset(&a, 0, sizeof a);
    a.eps = c->norm_eps;
    return a;
}

static int io_tensor(bld *b, const char *name, pp_tensor_kind kind, long long batch, long long seq) {
    if (b->failed) return -1;
    long long shape[2] = {batch, seq};
    int t = pp_graph_add_tensor(b->g, name, kind, PP_DTYPE_I32, 2, shape, b->err);
    if (t < 0) b->failed = 1;
    return t;
}

static void build_gpt2(bld *b, const pp_model_config *c, long long B, long long T) {
    long long D = c->d_model, F = c->d_ff, HD = (long long)c->n_head * c->head_dim;
    int tokens = io_tensor(b, "tokens", PP_TENSOR_INPUT, B, T);
    int labels = io_tensor(b, "labels", PP_TENSOR_LABEL, B, T);
    int wte = P(b, c->vocab_size, D, "wte.weight");
    int wpe = P(b, c->n_positions, D, "wpe.weight");
    set_block(b, "embed");
    int x = OP(b, PP_OP_EMBEDDING, "/embed", tokens, -1, wte, wpe, NULL);
    pp_op_attrs na = norm_attrs(c), aa = attn_attrs(c, PP_ATTN_CAUSAL, 1.0 / sqrt((double)c->head_dim), 0);
    pp_op_attrs ga = {.gelu_tanh = 1};
    for (int i = 0; i < c->n_layer && !b->failed; i++) {
        set_block(b, "h.%d", i);
        int h = OP(b, PP_OP_LAYERNORM, "ln_1", x, -1, P(b, D, 0, "h.%d.ln_1.weight", i), P(b, D, 0, "h.%d.ln_1.bias", i), &na);
        h = OP(b, PP_OP_LINEAR, "attn.c_attn", h, -1, P(b, 3 * HD, D, "h.%d.attn.c_attn.weight", i),
               P(b, 3 * HD, 0, "h.%d.attn.c_attn.bias", i), NULL);
        h = OP(b, PP_OP_ATTENTION, "attn.core", h, -1, -1, -1, &aa);
        h = OP(b, PP_OP_LINEAR, "attn.c_proj", h, -1, P(b, D, HD, "h.%d.attn.c_proj.weight", i),
               P(b, D, 0, "h.%d.attn.c_proj.bias", i), NULL);
        x = OP(b, PP_OP_ADD, "add_1", x, h, -1, -1, NULL);
        h = OP(b, PP_OP_LAYERNORM, "ln_2", x, -1, P(b, D, 0, "h.%d.ln_2.weight", i), P(b, D, 0, "h.%d.ln_2.bias", i), &na);
        h = OP(b, PP_OP_LINEAR, "mlp.c_fc", h, -1, P(b, F, D, "h.%d.mlp.c_fc.weight", i),
               P(b, F, 0, "h.%d.mlp.c_fc.bias", i), NULL);
        h = OP(b, PP_OP_GELU, "mlp.gelu", h, -1, -1, -1, &ga);
        h = OP(b, PP_OP_LINEAR, "mlp.c_proj", h, -1, P(b, D, F, "h.%d.mlp.c_proj.weight", i),
               P(b, D, 0, "h.%d.mlp.c_proj.bias", i), NULL);
        x = OP(b, PP_OP_ADD, "add_2", x, h, -1, -1, NULL);
    }
    set_block(b, "head");
    x = OP(b, PP_OP_LAYERNORM, "/ln_f", x, -1, P(b, D, 0, "ln_f.weight"), P(b, D, 0, "ln_f.bias"), &na);
    int head = c->tie_embeddings ? wte : P(b, c->vocab_size, D, "lm_head.weight");
    pp_op_attrs la = {.scale = 1.0};
    OP(b, PP_OP_LM_HEAD, "/lm_head", x, labels, head, -1, &la);
}

static void build_llama(bld *b, const pp_model_config *c, long long B, long long T) {
    long long D = c->d_model, F = c->d_ff, HQ = (long long)c->n_head * c->head_dim,
              HKV = (long long)c->n_kv_head * c->head_dim;
    int tokens = io_tensor(b, "tokens", PP_TENSOR_INPUT, B, T);
    int labels = io_tensor(b, "labels", PP_TENSOR_LABEL, B, T);
    int emb = P(b, c->vocab_size, D, "embed_tokens.weight");
    set_block(b, "embed");
    int x = OP(b, PP_OP_EMBEDDING, "/embed", tokens, -1, emb, -1, NULL);
    pp_op_attrs na = norm_attrs(c), aa = attn_attrs(c, PP_ATTN_CAUSAL, 1.0 / sqrt((double)c->head_dim), 0);
    pp_op_attrs ra = aa;
    ra.rope_theta = c->rope_theta;
    for (int i = 0; i < c->n_layer && !b->failed; i++) {
        set_block(b, "layers.%d", i);
        int h = OP(b, PP_OP_RMSNORM, "input_layernorm", x, -1, P(b, D, 0, "layers.%d.input_layernorm.weight", i), -1, &na);
        h = OP(b, PP_OP_LINEAR, "self_attn.qkv_proj", h, -1, P(b, HQ + 2 * HKV, D, "layers.%d.self_attn.qkv_proj.weight", i),
               -1, NULL);
        h = OP(b, PP_OP_ROPE, "self_attn.rope", h, -1, -1, -1, &ra);
        h = OP(b, PP_OP_ATTENTION, "self_attn.core", h, -1, -1, -1, &aa);
        h = OP(b, PP_OP_LINEAR, "self_attn.o_proj", h, -1, P(b, D, HQ, "layers.%d.self_attn.o_proj.weight", i), -1, NULL);
        x = OP(b, PP_OP_ADD, "add_1", x, h, -1, -1, NULL);
        h = OP(b, PP_OP_RMSNORM, "post_attention_layernorm", x, -1,
               P(b, D, 0, "layers.%d.post_attention_layernorm.weight", i), -1, &na);
        h = OP(b, PP_OP_LINEAR, "mlp.gate_up_proj", h, -1, P(b, 2 * F, D, "layers.%d.mlp.gate_up_proj.weight", i), -1,
               NULL);
        h = OP(b, PP_OP_SWIGLU, "mlp.swiglu", h, -1, -1, -1, NULL);
        h = OP(b, PP_OP_LINEAR, "mlp.down_proj", h, -1, P(b, D, F, "layers.%d.mlp.down_proj.weight", i), -1, NULL);
        x = OP(b, PP_OP_ADD, "add_2", x, h, -1, -1, NULL);
    }
    set_block(b, "head");
    x = OP(b, PP_OP_RMSNORM, "/norm", x, -1, P(b, D, 0, "norm.weight"), -1, &na);
    int head = c->tie_embeddings ? emb : P(b, c->vocab_size, D, "lm_head.weight");
    pp_op_attrs la = {.scale = 1.0};
    OP(b, PP_OP_LM_HEAD, "/lm_head", x, labels, head, -1, &la);
}

static void build_bert(bld *b, const pp_model_config *c, long long B, long long T) {
    long long D = c->d_model, F = c->d_ff, HD = (long long)c->n_head * c->head_dim;
    int tokens = io_tensor(b, "tokens", PP_TENSOR_INPUT, B, T);
    int labels = io_tensor(b, "labels", PP_TENSOR_LABEL, B, T);
    int we = P(b, c->vocab_size, D, "embeddings.word_embeddings.weight");
    int pe = P(b, c->n_positions, D, "embeddings.position_embeddings.weight");
    int te = P(b, c->type_vocab_size, D, "embeddings.token_type_embeddings.weight");
    pp_op_attrs na = norm_attrs(c), aa = attn_attrs(c, PP_ATTN_BIDIRECTIONAL, 1.0 / sqrt((double)c->head_dim), 0);
    pp_op_attrs ga = {.gelu_tanh = 0};
    set_block(b, "embed");
    if (!b->failed) {
        int in[1] = {tokens}, pr[3] = {we, pe, te};
        int x0 = pp_graph_add_op(b->g, PP_OP_EMBEDDING, "embeddings", "embed", in, 1, pr, 3, NULL, b->err);
        if (x0 < 0) b->failed = 1;
        tokens = x0;
    }
    int x = OP(b, PP_OP_LAYERNORM, "/embeddings.LayerNorm", tokens, -1, P(b, D, 0, "embeddings.LayerNorm.weight"),
               P(b, D, 0, "embeddings.LayerNorm.bias"), &na);
    for (int i = 0; i < c->n_layer && !b->failed; i++) {
        set_block(b, "layer.%d", i);
        int h = OP(b, PP_OP_LINEAR, "attention.qkv", x, -1, P(b, 3 * HD, D, "layer.%d.attention.qkv.weight", i),
                   P(b, 3 * HD, 0, "layer.%d.attention.qkv.bias", i), NULL);
        h = OP(b, PP_OP_ATTENTION, "attention.core", h, -1, -1, -1, &aa);
        h = OP(b, PP_OP_LINEAR, "attention.output.dense", h, -1, P(b, D, HD, "layer.%d.attention.output.dense.weight", i),
               P(b, D, 0, "layer.%d.attention.output.dense.bias", i), NULL);
        h = OP(b, PP_OP_ADD, "attention.add", x, h, -1, -1, NULL);
        x = OP(b, PP_OP_LAYERNORM, "attention.output.LayerNorm", h, -1,
               P(b, D, 0, "layer.%d.attention.output.LayerNorm.weight", i),
               P(b, D, 0, "layer.%d.attention.output.LayerNorm.bias", i), &na);
        h = OP(b, PP_OP_LINEAR, "intermediate.dense", x, -1, P(b, F, D, "layer.%d.intermediate.dense.weight", i),
               P(b, F, 0, "layer.%d.intermediate.dense.bias", i), NULL);
        h = OP(b, PP_OP_GELU, "intermediate.gelu", h, -1, -1, -1, &ga);
        h = OP(b, PP_OP_LINEAR, "output.dense", h, -1, P(b, D, F, "layer.%d.output.dense.weight", i),
               P(b, D, 0, "layer.%d.output.dense.bias", i), NULL);
        h = OP(b, PP_OP_ADD, "output.add", x, h, -1, -1, NULL);
        x = OP(b, PP_OP_LAYERNORM, "output.LayerNorm", h, -1, P(b, D, 0, "layer.%d.output.LayerNorm.weight", i),
               P(b, D, 0, "layer.%d.output.LayerNorm.bias", i), &na);
    }
    set_block(b, "head");
    if (c->pooler) OP(b, PP_OP_POOLER, "/pooler", x, -1, P(b, D, D, "pooler.dense.weight"), P(b, D, 0, "pooler.dense.bias"), NULL);
    int head = c->tie_embeddings ? we : P(b, c->vocab_size, D, "lm_head.weight");
    pp_op_attrs la = {.scale = 1.0};
    OP(b, PP_OP_LM_HEAD, "/lm_head", x, labels, head, -1, &la);
}

/* One T5 feed-forward sub-block: RMS norm, wi, ReLU, wo, residual add. */
static int t5_ff(bld *b, const pp_model_config *c, const char *stack, int i, int x, int norm_idx, int add_idx) {
    long long D = c->d_model, F = c->d_ff;
    pp_op_attrs na = norm_attrs(c);
    char s[64];
    snprintf(s, sizeof s, "ln_%d", norm_idx);
    int h = OP(b, PP_OP_RMSNORM, s, x, -1, P(b, D, 0, "%s.%d.ln_%d.weight", stack, i, norm_idx), -1, &na);
    h = OP(b, PP_OP_LINEAR, "ff.wi", h, -1, P(b, F, D, "%s.%d.ff.wi.weight", stack, i), -1, NULL);
    h = OP(b, PP_OP_RELU, "ff.relu", h, -1, -1, -1, NULL);
    h = OP(b, PP_OP_LINEAR, "ff.wo", h, -1, P(b, D, F, "%s.%d.ff.wo.weight", stack, i), -1, NULL);
    snprintf(s, sizeof s, "add_%d", add_idx);
    return OP(b, PP_OP_ADD, s, x, h, -1, -1, NULL);
}

static void build_t5(bld *b, const pp_model_config *c, long long B, long long T) {
    long long D = c->d_model, IN = (long long)c->n_head * c->head_dim;
    pp_op_attrs na = norm_attrs(c);
    pp_op_attrs enc_a = attn_attrs(c, PP_ATTN_BIDIRECTIONAL, 1.0, 1);
    pp_op_attrs dec_a = attn_attrs(c, PP_ATTN_CAUSAL, 1.0, 1);
    pp_op_attrs x_a = attn_attrs(c, PP_ATTN_CROSS, 1.0, 0);
    int tokens = io_tensor(b, "tokens", PP_TENSOR_INPUT, B, T);
    int dtokens = io_tensor(b, "decoder_tokens", PP_TENSOR_INPUT, B, T);
    int labels = io_tensor(b, "labels", PP_TENSOR_LABEL, B, T);
    int shared = P(b, c->vocab_size, D, "shared.weight");
    int enc_rel = P(b, c->rel_buckets, c->n_head, "encoder.relative_attention_bias.weight");
    int dec_rel = P(b, c->rel_buckets, c->n_head, "decoder.relative_attention_bias.weight");
    set_block(b, "encoder.embed");
    int x = OP(b, PP_OP_EMBEDDING, "/encoder.embed", tokens, -1, shared, -1, NULL);
    for (int i = 0; i < c->n_layer && !b->failed; i++) {
        set_block(b, "encoder.%d", i);
        int h = OP(b, PP_OP_RMSNORM, "ln_1", x, -1, P(b, D, 0, "encoder.%d.ln_1.weight", i), -1, &na);
        h = OP(b, PP_OP_LINEAR, "attn.qkv", h, -1, P(b, 3 * IN, D, "encoder.%d.attn.qkv.weight", i), -1, NULL);
        h = OP(b, PP_OP_ATTENTION, "attn.core", h, -1, enc_rel, -1, &enc_a);
        h = OP(b, PP_OP_LINEAR, "attn.o", h, -1, P(b, D, IN, "encoder.%d.attn.o.weight", i), -1, NULL);
        x = OP(b, PP_OP_ADD, "add_1", x, h, -1, -1, NULL);
        x = t5_ff(b, c, "encoder", i, x, 2, 2);
    }
    set_block(b, "encoder.final");
    int enc = OP(b, PP_OP_RMSNORM, "/encoder.final_layer_norm", x, -1, P(b, D, 0, "encoder.final_layer_norm.weight"), -1, &na);
    set_block(b, "decoder.embed");
    x = OP(b, PP_OP_EMBEDDING, "/decoder.embed", dtokens, -1, shared, -1, NULL);
    for (int i = 0; i < c->n_decoder_layer && !b->failed; i++) {
        set_block(b, "decoder.%d", i);
        int h = OP(b, PP_OP_RMSNORM, "ln_1", x, -1, P(b, D, 0, "decoder.%d.ln_1.weight", i), -1, &na);
        h = OP(b, PP_OP_LINEAR, "self_attn.qkv", h, -1, P(b, 3 * IN, D, "decoder.%d.self_attn.qkv.weight", i), -1, NULL);
        h = OP(b, PP_OP_ATTENTION, "self_attn.core", h, -1, dec_rel, -1, &dec_a);
        h = OP(b, PP_OP_LINEAR, "self_attn.o", h, -1, P(b, D, IN, "decoder.%d.self_attn.o.weight", i), -1, NULL);
        x = OP(b, PP_OP_ADD, "add_1", x, h, -1, -1, NULL);
        h = OP(b, PP_OP_RMSNORM, "ln_2", x, -1, P(b, D, 0, "decoder.%d.ln_2.weight", i), -1, &na);
        int q = OP(b, PP_OP_LINEAR, "cross_attn.q", h, -1, P(b, IN, D, "decoder.%d.cross_attn.q.weight", i), -1, NULL);
        int kv = OP(b, PP_OP_LINEAR, "cross_attn.kv", enc, -1, P(b, 2 * IN, D, "decoder.%d.cross_attn.kv.weight", i), -1, NULL);
        h = OP(b, PP_OP_ATTENTION, "cross_attn.core", q, kv, -1, -1, &x_a);
        h = OP(b, PP_OP_LINEAR, "cross_attn.o", h, -1, P(b, D, IN, "decoder.%d.cross_attn.o.weight", i), -1, NULL);
        x = OP(b, PP_OP_ADD, "add_2", x, h, -1, -1, NULL);
        x = t5_ff(b, c, "decoder", i, x, 3, 3);
    }
    set_block(b, "head");
    x = OP(b, PP_OP_RMSNORM, "/decoder.final_layer_norm", x, -1, P(b, D, 0, "decoder.final_layer_norm.weight"), -1, &na);
    int head = c->tie_embeddings ? shared : P(b, c->vocab_size, D, "lm_head.weight");
    /* A tied head rescales the decoder output by d_model^-1/2. */
    pp_op_attrs la = {.scale = c->tie_embeddings ? 1.0 / sqrt((double)D) : 1.0};
    OP(b, PP_OP_LM_HEAD, "/lm_head", x, labels, head, -1, &la);
}

int pp_zoo_build(const pp_model_config *cfg, int micro_batch, int seq, pp_dtype dtype, pp_graph *g, pp_err *err) {
    pp_graph_init(g, dtype);
    if (pp_model_config_check(cfg, err)) return -1;
    if (micro_batch < 1) return pp_err_set(err, PP_ERR_INVALID, "micro-batch must be at least 1, got %d", micro_batch);
    if (seq < 1) return pp_err_set(err, PP_ERR_INVALID, "sequence length must be at least 1, got %d", seq);
    if (dtype == PP_DTYPE_I32 || (unsigned)dtype >= PP_DTYPE__COUNT)
        return pp_err_set(err, PP_ERR_INVALID, "model dtype must be f32, bf16 or f16");
    if ((cfg->family == PP_FAMILY_GPT2 || cfg->family == PP_FAMILY_BERT) && seq > cfg->n_positions)
        return pp_err_set(err, PP_ERR_INVALID, "model '%s': sequence length %d exceeds its %d positions", cfg->name, seq,
                          cfg->n_positions);
    bld b = {.g = g, .err = err};
    switch (cfg->family) {
    case PP_FAMILY_GPT2: build_gpt2(&b, cfg, micro_batch, seq); break;
    case PP_FAMILY_LLAMA: build_llama(&b, cfg, micro_batch, seq); break;
    case PP_FAMILY_BERT: build_bert(&b, cfg, micro_batch, seq); break;
    case PP_FAMILY_T5: build_t5(&b, cfg, micro_batch, seq); break;
    default: b.failed = 1; pp_err_set(err, PP_ERR_INVALID, "unknown family"); break;
    }
    if (!b.failed && pp_graph_validate(g, err)) b.failed = 1;
    if (b.failed) {
        pp_err_wrap(err, "building model '%s'", cfg->name);
        pp_graph_free(g);
        return -1;
    }
    return 0;
}
