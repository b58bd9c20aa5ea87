/*
 * pp_zoo.h -- the model zoo: model configs (JSON) and the builders that turn
 * a config into a graph (pp_graph.h) for one microbatch size and sequence.
 *
 * Four families:
 *   gpt2  learned positions, pre-layernorm, GELU (tanh) MLP, token embedding
 *         tied to the LM head;
 *   llama RMSNorm, rotary positions, SwiGLU MLP, grouped-query attention,
 *         untied head, no biases;
 *   bert  post-layernorm bidirectional encoder with token-type embeddings and
 *         the pooler; trained through a masked-LM head tied to the word
 *         embedding (no extra parameters);
 *   t5    encoder-decoder with RMS layer norms, ReLU MLP, relative position
 *         bias (one table per stack, shared by its layers), and cross
 *         attention in every decoder block that reads the encoder output --
 *         the skip connection a pipeline split must route to every decoder
 *         stage; embedding shared by encoder, decoder and LM head.
 *
 * A config file names its family and the sizes; fields that do not apply to
 * the family, unknown fields and values out of range are refused with file,
 * line, column and field. Optional fields take the family's default.
 *
 *     pp_model_config cfg;
 *     pp_graph g;
 *     if (pp_model_config_load("configs/models/gpt2-124m.json", &cfg, &err) ||
 *         pp_zoo_build(&cfg, 1, cfg.seq_len, PP_DTYPE_F32, &g, &err)) ...
 *     printf("%lld parameters\n", pp_graph_param_count(&g));
 *     pp_graph_free(&g);
 */
#ifndef PP_ZOO_H
#define PP_ZOO_H

#include <stddef.h>

#include "core/pp_err.h"
#include "core/pp_graph.h"
#include "core/pp_json.h"

typedef enum pp_family {
    PP_FAMILY_GPT2 = 0,
    PP_FAMILY_LLAMA,
    PP_FAMILY_BERT,
    PP_FAMILY_T5,
    PP_FAMILY__COUNT
} pp_family;

#define PP_MODEL_NAME_MAX 64
/* Largest head_dim, given or derived (d_model / n_head). */
#define PP_HEAD_DIM_MAX 65536
/* Largest model pippy takes: parameter counts and bytes stay exact in a
 * double and far inside int64 (2^53 parameters). */
#define PP_MODEL_PARAMS_MAX 9007199254740992.0

typedef struct pp_model_config {
    char name[PP_MODEL_NAME_MAX];
    pp_family family;
    int vocab_size;
    int d_model;
    int n_layer;          /* t5: encoder layers */
    int n_decoder_layer;  /* t5 only */
    int n_head;
    int n_kv_head;        /* llama (grouped-query attention); others = n_head */
    int head_dim;         /* default d_model / n_head; t5's d_kv */
    int d_ff;
    int n_positions;      /* gpt2, bert: learned position table rows */
    int type_vocab_size;  /* bert */
    int pooler;           /* bert */
    int rel_buckets;      /* t5 */
    int rel_max_distance; /* t5 */
    int seq_len;          /* default training sequence length */
    int tie_embeddings;
    double norm_eps;
    double rope_theta;    /* llama */
} pp_model_config;

const char *pp_family_name(pp_family f);

/* Sets every field to the family's defaults (sizes 0). */
void pp_model_config_defaults(pp_model_config *cfg, pp_family family);

/* Reads a config from a parsed JSON object (`file` names it in errors), from
 * text, or from a file. Returns 0, or -1 with err set ("file:line:col: field
 * 'n_head': ..."). */
int pp_model_config_from_json(const pp_jr *r, pp_json *obj, pp_model_config *cfg);
int pp_model_config_parse(const char *text, size_t len, const char *file, pp_model_config *cfg, pp_err *err);
int pp_model_config_load(const char *path, pp_model_config *cfg, pp_err *err);

/* Cross-field checks (head counts divide, head_dim even for rotary, at most
 * about PP_MODEL_PARAMS_MAX parameters, ...). Called by the readers;
 * builders call it too. Returns 0, or -1 with err set. */
int pp_model_config_check(const pp_model_config *cfg, pp_err *err);

/* Writes the config as a JSON object into w (every field, family order). */
void pp_model_config_to_json(const pp_model_config *cfg, pp_jw *w);
/* Canonical JSON text of the config; *out is malloc'ed. */
int pp_model_config_write(const pp_model_config *cfg, char **out, size_t *len, pp_err *err);
int pp_model_config_save(const pp_model_config *cfg, const char *path, pp_err *err);
/* SHA-256 (hex) of the canonical JSON text: the model's identity. */
int pp_model_config_hash(const pp_model_config *cfg, char hex[65], pp_err *err);

/* Builds the graph of the model for micro_batch sequences of seq tokens in
 * dtype. seq must not exceed n_positions where the family has a position
 * table. On failure the graph is freed and err says why. */
int pp_zoo_build(const pp_model_config *cfg, int micro_batch, int seq, pp_dtype dtype, pp_graph *g, pp_err *err);

#endif /* PP_ZOO_H */
