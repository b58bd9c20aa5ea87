/*
 * pp_graph_facts.h -- what `pippy model` shows of a graph, computed once for
 * the whole graph: each block's op range, the bytes a pipeline cut before
 * each op sends, which parameters several blocks share (and which blocks
 * hold each), and for any op range its parameters, FLOPs per pass, kept
 * activation bytes and cut bytes. Also the model's facts as one JSON object
 * (the `pippy model --json` document).
 *
 * Computing the per-block tables here once keeps a model of many layers
 * linear: one query per row over the whole graph would make it quadratic.
 * Built on the graph queries of pp_graph.h. The table `pippy model` prints
 * and its number formats are pp_graph_facts_print.c's; they write only to
 * the FILE handed to them.
 */
#ifndef PP_GRAPH_FACTS_H
#define PP_GRAPH_FACTS_H

#include <stddef.h>
#include <stdio.h>

#include "core/pp_err.h"
#include "core/pp_graph.h"
#include "core/pp_json.h"
#include "core/pp_zoo.h"

/* Whole-graph facts, owned by the struct (pp_graph_facts_free). */
typedef struct pp_graph_facts {
    int *lo, *hi;          /* [n_blocks]: op range [lo, hi) of each block (-1, -1: no ops) */
    long long *cut;        /* [n_ops + 1]: bytes crossing a cut before each op */
    unsigned char *shared; /* [n_tensors]: 1 for a parameter read by several blocks */
    /* The blocks holding each shared parameter, in op order, each once:
     * blocks_of[blocks_off[t] .. blocks_off[t + 1]) ([n_tensors + 1]). */
    int *blocks_off, *blocks_of;
} pp_graph_facts;

/* The figures of one op range [lo, hi). */
typedef struct pp_graph_range_facts {
    long long params, param_bytes;     /* distinct parameter elements and bytes */
    double flops[PP_PASS__COUNT];      /* FLOPs of F, I and W per microbatch */
    long long keep_f_bytes;            /* kept from F until I */
    long long keep_w_bytes;            /* kept from I until W */
    long long cut_bytes;               /* what a cut at hi sends (0 at the end or outside the graph) */
    int tied;                          /* 1: the range holds a shared parameter */
} pp_graph_range_facts;

/* Computes the whole-graph facts of g into *fx (zeroed first). Returns 0,
 * or -1 with err set (out of memory) and *fx holding nothing to free. */
int pp_graph_facts_get(const pp_graph *g, pp_graph_facts *fx, pp_err *err);

/* Frees what pp_graph_facts_get allocated; a zeroed struct is fine. */
void pp_graph_facts_free(pp_graph_facts *fx);

/* The figures of ops [lo, hi) of g (lo = hi = -1 gives an empty range). */
void pp_graph_facts_range(const pp_graph *g, const pp_graph_facts *fx, int lo, int hi, pp_graph_range_facts *out);

/* Appends to w one JSON object: the model config, its hash, micro-batch,
 * sequence length, dtype, op count, the totals, one entry per block (name,
 * op range, figures), with by_op one per op (kind, block, output shape,
 * parameters, FLOPs and bytes per pass, parameter and kept bytes), and the
 * shared parameters with the blocks holding them. Errors (nesting) are the
 * writer's, reported by pp_jw_finish. */
void pp_graph_facts_json(const pp_graph *g, const pp_graph_facts *fx, const pp_model_config *cfg, const char *hash,
                         int micro_batch, int seq, int by_op, pp_jw *w);

/* ---- text (pp_graph_facts_print.c) ---- */

/* Prints to f what `pippy model` prints for g: a header (model name,
 * family, parameters, layers, d_model, heads, kv heads when fewer,
 * micro-batch, sequence length, dtype, the first 16 characters of hash),
 * one row per block (by_op: per op) with its op count (kind), parameters
 * ("*" when it holds a shared one), FLOPs of F, I and W, the bytes kept
 * from F until I and from I until W, and what a cut after it sends ("-"
 * after the last), a total row, and the shared parameters with the blocks
 * holding each. fx is g's (pp_graph_facts_get). */
void pp_graph_facts_print_text(FILE *f, const pp_graph *g, const pp_graph_facts *fx, const pp_model_config *cfg,
                               const char *hash, int micro_batch, int seq, int by_op);

#endif /* PP_GRAPH_FACTS_H */
