/*
 * pp_engine.h -- the stage engine: runs a contiguous op range [lo, hi) of a
 * graph (one pipeline stage, or the whole model) for one microbatch at a
 * time, with the forward (F), backward-for-inputs (I) and
 * backward-for-weights (W) passes as separate calls, so a schedule can
 * place them freely (zero-bubble schedules run W late).
 *
 * Memory follows the graph's promise exactly. After F a microbatch holds
 * what its ops keep from F until I (pp_graph_range_keep_bytes(.., 0)); after
 * I only what W needs (pp_graph_range_keep_bytes(.., 1)); after W nothing.
 * pp_engine_held_bytes measures what is actually allocated, so tests and
 * the profiler can check it against the prediction.
 *
 * At the stage boundary: activations produced before lo and read in range
 * are the stage's inputs, activations produced in range and read at or
 * after hi are its outputs (skip connections included), and graph inputs
 * and labels (tokens) are given per microbatch. For one microbatch:
 *
 *     pp_engine_begin(e, mb, &err);
 *     memcpy(pp_engine_buffer(e, mb, tokens, &err), data, bytes);   // each input
 *     pp_engine_forward(e, mb, &err);
 *     send(pp_engine_output(e, mb, t)); pp_engine_release_outputs(e, mb);
 *     memcpy(pp_engine_output_grad(e, mb, t, &err), dgrad, bytes);  // each output
 *     pp_engine_backward_input(e, mb, 1.0f / n_microbatches, &err);
 *     send(pp_engine_input_grad(e, mb, t)); pp_engine_release_input_grads(e, mb);
 *     pp_engine_backward_weight(e, mb, &err);                        // ends the microbatch
 *
 * Every buffer the engine hands out (inputs, outputs, gradients, parameters)
 * is backend memory: with a device backend (CUDA) callers fill and read it
 * with pp_backend_upload / pp_backend_download instead of memcpy, and the
 * engine itself touches tensor data only through the backend.
 *
 * Parameters of the stage live in one allocation carved into the graph's
 * parameter tensors, gradients in another with the same layout; W passes
 * accumulate into the gradients until pp_engine_zero_grads.
 */
#ifndef PP_ENGINE_H
#define PP_ENGINE_H

#include "core/pp_err.h"
#include "core/pp_graph.h"
#include "kernels/pp_backend.h"

typedef struct pp_engine pp_engine;

/* Creates an engine for ops [lo, hi) of g (which must outlive it).
 * Parameters and gradients are allocated (zero). Returns 0 or -1. */
int pp_engine_create(const pp_graph *g, int lo, int hi, pp_backend *be, pp_engine **out, pp_err *err);
void pp_engine_free(pp_engine *e);

/* The stage's distinct parameter tensors (graph tensor indices). */
int pp_engine_n_params(const pp_engine *e);
int pp_engine_param_tensor(const pp_engine *e, int i);
/* Data and gradient of a parameter tensor; NULL when the stage lacks it. */
float *pp_engine_param(pp_engine *e, int tensor);
float *pp_engine_grad(pp_engine *e, int tensor);
/* All parameters / gradients as one flat array of *n floats. */
float *pp_engine_params_flat(pp_engine *e, long long *n);
float *pp_engine_grads_flat(pp_engine *e, long long *n);
void pp_engine_zero_grads(pp_engine *e);

/* Boundary tensors (graph tensor indices). Inputs: activations from earlier
 * stages and graph inputs/labels read in range. */
int pp_engine_n_inputs(const pp_engine *e);
int pp_engine_input_tensor(const pp_engine *e, int i);
int pp_engine_n_outputs(const pp_engine *e);
int pp_engine_output_tensor(const pp_engine *e, int i);

/* Starts microbatch mb (any int id not in flight). */
int pp_engine_begin(pp_engine *e, int mb, pp_err *err);
/* Buffer for one of the stage's inputs of microbatch mb, to be filled
 * before pp_engine_forward (allocated on first call). NULL with err set when
 * the tensor is not an input of this stage or mb is not begun. */
void *pp_engine_buffer(pp_engine *e, int mb, int tensor, pp_err *err);
int pp_engine_forward(pp_engine *e, int mb, pp_err *err);
/* An output of the stage after F; valid until pp_engine_release_outputs. */
void *pp_engine_output(pp_engine *e, int mb, int tensor);
void pp_engine_release_outputs(pp_engine *e, int mb);
/* The loss of microbatch mb after F, when the stage holds the LM head (else 0). */
float pp_engine_loss(const pp_engine *e, int mb);
/* Buffer (zeroed) for the gradient of an output, filled before I. */
float *pp_engine_output_grad(pp_engine *e, int mb, int tensor, pp_err *err);
/* Adds n = numel floats of src (backend memory) into the gradient of output
 * `tensor` of mb (the buffer of pp_engine_output_grad): an output read by
 * several stages (a skip connection) gets the sum of their gradients.
 * Returns 0 or -1. */
int pp_engine_add_output_grad(pp_engine *e, int mb, int tensor, const float *src, pp_err *err);
/* Backward for inputs. loss_grad: d(step loss)/d(this microbatch's loss),
 * used by the LM head (1 / n_microbatches for a mean over microbatches). */
int pp_engine_backward_input(pp_engine *e, int mb, float loss_grad, pp_err *err);
/* The gradient of an input activation after I; valid until released. */
float *pp_engine_input_grad(pp_engine *e, int mb, int tensor);
void pp_engine_release_input_grads(pp_engine *e, int mb);
/* Backward for weights: accumulates parameter gradients, ends the microbatch. */
int pp_engine_backward_weight(pp_engine *e, int mb, pp_err *err);
/* I then W. */
int pp_engine_backward(pp_engine *e, int mb, float loss_grad, pp_err *err);

/* dst[i] += src[i] for i < n, host memory (pp_backend_add for backend memory). */
void pp_engine_add_f32(float *dst, const float *src, long long n);

/* Bytes microbatch mb holds now, not counting outputs and input gradients
 * waiting to be sent. -1 when mb is not in flight. */
long long pp_engine_held_bytes(const pp_engine *e, int mb);
/* Microbatches in flight. */
int pp_engine_in_flight(const pp_engine *e);

#endif /* PP_ENGINE_H */
