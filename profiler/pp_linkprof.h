/*
 * pp_linkprof.h -- the link benchmark: latency alpha and bandwidth beta of
 * the link between two ranks, measured over comm/ (host buffers).
 *
 * For each ordered pair src -> dst and each message size n:
 *   - ping-pong: src sends n bytes, dst sends them back; t_pingpong is half
 *     the round trip;
 *   - streaming: src sends k messages back to back, dst acknowledges the
 *     last one with an empty message; t_stream is the total time / k.
 * Each figure is the median of several repetitions, fewer for large sizes
 * (see pp_linkprof_opts). Only src reads the clock, so clocks need not agree.
 *
 * Sizes: min_bytes, min_bytes * factor, min_bytes * factor^2, ... while at
 * most max_bytes, then max_bytes itself when the series missed it. The
 * default, 8 B by powers of 4 up to 32 MiB and then 64 MiB, gives 13 sizes.
 *
 * Model: t(n) = alpha + n / beta, fitted to the ping-pong times by least
 * squares on relative errors (see pp_linkprof_fit).
 *
 * Pairs: on up to sample_above ranks (8) every ordered pair is measured,
 * n (n - 1) of them. On more, a sample (pp_linkprof_pairs): the ring
 * neighbours r -> r+1 and r+1 -> r for every rank r (mod n: the links that
 * consecutive pipeline stages use), then every ordered pair of distinct
 * hosts that no ring pair joins yet, once, between the first ranks of the
 * two hosts, at most max_host_pairs of these. That is 2n pairs plus the
 * host pairs the ring misses: 64 ranks on 8 hosts of 8 ranks in rank order
 * give 128 + 40 pairs instead of 4032.
 */
#ifndef PP_LINKPROF_H
#define PP_LINKPROF_H

#include <stddef.h>

#include "comm/pp_comm.h"
#include "core/pp_err.h"

#define PP_LINK_MAX_SIZES 32

typedef struct pp_link_result {
    int src, dst;                    /* ranks */
    char src_host[128], dst_host[128];
    double alpha_s;                  /* latency, seconds */
    double beta_Bps;                 /* bandwidth, bytes per second */
    double residual;                 /* RMS of (fit - measured) / measured */
    int n_sizes;
    double sizes[PP_LINK_MAX_SIZES];      /* bytes */
    double t_pingpong[PP_LINK_MAX_SIZES]; /* seconds, half round trip, median */
    double t_stream[PP_LINK_MAX_SIZES];   /* seconds per message, median */
} pp_link_result;

typedef struct pp_linkprof_opts {
    size_t min_bytes;    /* smallest message (8) */
    size_t max_bytes;    /* largest message (64 MiB; at most PP_COMM_MAX_BYTES) */
    int factor;          /* ratio of successive sizes, >= 2 (4) */
    int warmup;          /* untimed exchanges per size (1) */
    int min_reps;        /* repetitions per size: rep_bytes / n, clamped to */
    int max_reps;        /*   min_reps..max_reps (3..50) */
    size_t rep_bytes;    /*   (256 MiB) */
    int min_stream;      /* messages per stream: stream_bytes / n, clamped */
    int max_stream;      /*   to min_stream..max_stream (2..64) */
    size_t stream_bytes; /*   (64 MiB) */
    int sample_above;    /* more ranks than this: measure a sample of the pairs, not all (8; 0: always all) */
    int max_host_pairs;  /* at most this many host pairs added to a sample (256) */
} pp_linkprof_opts;

void pp_linkprof_opts_default(pp_linkprof_opts *o);

/* The message sizes of o, in bytes, into sizes[0..*n). Pure. */
int pp_linkprof_sizes(const pp_linkprof_opts *o, double *sizes, int *n, pp_err *err);

/* Fits t = a + b n to k points (n[i] bytes, t[i] seconds) by least squares
 * on relative errors, i.e. minimising sum ((a + b n_i - t_i) / t_i)^2, so
 * that an 8-byte and a 64 MiB message weigh alike (an unweighted fit lets
 * the largest sizes decide alpha, which then comes out as noise or negative).
 * When that a is negative the fit is redone with a = 0. Sets *alpha = a
 * (seconds), *beta = 1 / b (bytes per second) and *residual = RMS over the
 * points of (a + b n_i - t_i) / t_i. Returns 0, or -1 when the input is
 * degenerate: k < 2, fewer than two distinct sizes, a size negative or not
 * finite, a time not positive or not finite, or b <= 0 (times that do not
 * grow with size, b n_max under 1e-9 of t at n_max counting as flat). Pure: no MPI, no clock. */
int pp_linkprof_fit(const double *n, const double *t, int k, double *alpha, double *beta, double *residual);

/* The ordered pairs to measure among n_ranks ranks whose host names are
 * hosts[0..n_ranks) (NULL: all on one host): every pair, or the sample
 * described above when n_ranks > o->sample_above > 0. Ring pairs come first
 * (0->1, 1->0, 1->2, 2->1, ..., n-1->0, 0->n-1), then host pairs in host
 * order (hosts numbered by their first rank); no pair twice. Sets *pairs to
 * a malloc'd array of 2 *n_pairs ranks (src, dst; free it; NULL when
 * *n_pairs is 0). Returns 0 or -1 (err: bad options, n_ranks < 1, out of
 * memory). Pure: no MPI. */
int pp_linkprof_pairs(const pp_linkprof_opts *o, int n_ranks, const char (*hosts)[128], int **pairs, int *n_pairs,
                      pp_err *err);

/* Measures the links of n_pairs ordered pairs (pairs[2i] -> pairs[2i+1]),
 * or of the pairs pp_linkprof_pairs chooses (every ordered pair of distinct
 * ranks up to o->sample_above ranks, a sample above) when pairs is NULL,
 * one pair at a time. Collective: every rank calls it with the same arguments. On rank 0
 * *out is a malloc'd array of *n_out results in pair order (free it); on
 * other ranks *out = NULL and *n_out = 0. A failure on one rank can leave
 * the others waiting: the caller should pp_comm_abort on error. */
int pp_linkprof_run(pp_comm *c, const pp_linkprof_opts *o, const int *pairs, int n_pairs,
                    pp_link_result **out, int *n_out, pp_err *err);

/* The all-reduce benchmark: a sum of n floats over every rank of c
 * (pp_comm_allreduce_sum_f32, the executor's tied and data-parallel
 * reductions), for the message sizes of o from 4 KiB on, timed on rank 0
 * after a barrier, median of the repetitions; fitted as
 * t(bytes) = alpha + bytes / beta (pp_linkprof_fit). A reduction is not a
 * copy: it reads two buffers and writes one, so its beta is well below the
 * link's. Collective; *alpha, *beta, *residual on every rank. Returns 0 or
 * -1 (err). */
int pp_linkprof_allreduce(pp_comm *c, const pp_linkprof_opts *o, double *alpha, double *beta, double *residual,
                          pp_err *err);

#endif /* PP_LINKPROF_H */
