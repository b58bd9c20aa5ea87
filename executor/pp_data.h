/*
 * pp_data.h -- training data: a token stream from a file, and the
 * deterministic slicing of it into microbatches.
 *
 * A text file is read byte by byte (token = byte, for the tiny byte-level
 * configs); a file ending in .u16 or .u32 holds little-endian token ids for
 * larger vocabularies. With no file, the corpus is the licence texts every
 * Debian machine has (/usr/share/common-licenses, concatenated in name
 * order).
 *
 * Sample k of the run (k = step x global_batch + sequence index, counted
 * over microbatches and replicas) starts at a pseudo-random offset fixed by
 * (seed, k), so a step computes on the same sequences however it is split
 * into microbatches, stages and replicas.
 */
#ifndef PP_DATA_H
#define PP_DATA_H

#include <stdint.h>

#include "core/pp_err.h"
#include "core/pp_zoo.h"

#define PP_DATA_DEFAULT_DIR "/usr/share/common-licenses"

typedef struct pp_data {
    uint32_t *tok;
    long long n;
    uint32_t max_token;
    char source[512];
} pp_data;

/* Loads path (NULL: the default corpus). Returns 0 or -1 with err naming the file. */
int pp_data_load(const char *path, pp_data *out, pp_err *err);
void pp_data_free(pp_data *d);

/* Entropy of the stream's token frequencies, in nats per token. */
double pp_data_unigram_entropy(const pp_data *d);

/* Checks that every token fits the model's vocabulary and the stream is
 * long enough for its sequences. */
int pp_data_check(const pp_data *d, const pp_model_config *cfg, int seq, pp_err *err);

/* Fills the inputs of B sequences of length T, samples sample0 .. sample0+B-1:
 * tokens and labels [B*T] (labels -1 where ignored), and decoder_tokens
 * [B*T] for t5 (else may be NULL).
 *   gpt2, llama: tokens x[o..o+T), labels x[o+1..o+T].
 *   bert: tokens x[o..o+T) with about 15% replaced by 0, labels the originals
 *         there and -1 elsewhere (at least one per sequence).
 *   t5: tokens x[o..o+T), labels x[o+T..o+2T), decoder_tokens the labels
 *       shifted right behind a 0. */
void pp_data_fill(const pp_data *d, const pp_model_config *cfg, uint64_t seed, long long sample0, int B, int T,
                  int32_t *tokens, int32_t *decoder_tokens, int32_t *labels);

#endif /* PP_DATA_H */
