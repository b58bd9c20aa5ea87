/*
 * pp_init.h -- deterministic parameter initialisation, keyed by (seed,
 * parameter name, element index), so a model split into stages holds
 * exactly the weights of the whole model, on any rank, in any order.
 * The scheme per family is in docs/ops.md; scripts/gen_fixtures.py
 * reproduces it bit for bit in Python.
 */
#ifndef PP_INIT_H
#define PP_INIT_H

#include <stdint.h>

#include "core/pp_graph.h"
#include "core/pp_zoo.h"

uint64_t pp_init_splitmix64(uint64_t x);
uint64_t pp_init_fnv1a64(const char *s);

/* Element i of the standard normal stream keyed by key. */
double pp_init_normal(uint64_t key, uint64_t i);

/* Fills out (numel floats) with the initial value of parameter tensor t of
 * a graph built from cfg. */
void pp_init_param(const pp_model_config *cfg, const pp_tensor *t, uint64_t seed, float *out);

#endif /* PP_INIT_H */
