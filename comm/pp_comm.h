/*
 * pp_comm.h -- messages between ranks (MPI, host buffers).
 *
 * Only comm/ speaks MPI: other modules see an opaque pp_comm holding this
 * process's rank in a private duplicate of MPI_COMM_WORLD (or of a part of
 * it, pp_comm_split). Point-to-point comes blocking (pp_comm_send/recv) and
 * nonblocking (pp_comm_isend/irecv, then pp_comm_wait with a time limit, so
 * that a peer that died never hangs its partner); collectives are
 * blocking. Every MPI call is checked; a failure returns -1 with a pp_err
 * (code PP_ERR_IO) naming the source file and line, the MPI call, its peer,
 * tag and size, and MPI's own error string, e.g.
 *
 *     comm/pp_comm.c:140: MPI_Send to rank 1 (tag 7, 4096 bytes): MPI_ERR_RANK: invalid rank
 *
 * MPI_COMM_WORLD is set to MPI_ERRORS_RETURN so that errors come back here
 * instead of aborting. A rank that cannot go on while others wait on it
 * should call pp_comm_abort so that every rank exits rather than hangs.
 *
 *     pp_comm *c;
 *     pp_err err = {0};
 *     if (pp_comm_init(&argc, &argv, &c, &err) != 0) { ... }
 *     if (pp_comm_rank(c) == 0) pp_comm_send(c, buf, n, 1, 0, &err);
 *     else pp_comm_recv(c, buf, n, 0, 0, &err);
 *     pp_comm_free(c);
 */
#ifndef PP_COMM_H
#define PP_COMM_H

#include <stdbool.h>
#include <stddef.h>

#include "core/pp_err.h"

typedef struct pp_comm pp_comm;

/* Largest message one pp_comm_send/recv moves (1 GiB). */
#define PP_COMM_MAX_BYTES ((size_t)1 << 30)

/* Initialises MPI (unless it already is; then it is also left running at
 * pp_comm_free) and returns a communicator over every rank. Started without
 * mpirun this is a singleton of one rank. argc/argv may be NULL. */
int pp_comm_init(int *argc, char ***argv, pp_comm **out, pp_err *err);
/* Frees the communicator and finalises MPI when pp_comm_init started it.
 * NULL is allowed. */
void pp_comm_free(pp_comm *c);
/* Ends every rank's process with this exit code (MPI_Abort). */
void pp_comm_abort(pp_comm *c, int code);

int pp_comm_rank(const pp_comm *c);
int pp_comm_size(const pp_comm *c);
/* This rank's host name (MPI_Get_processor_name), cut to fit n bytes with
 * its terminating NUL. */
int pp_comm_hostname(const pp_comm *c, char *buf, size_t n, pp_err *err);

/* Blocking send / receive of `bytes` (at most PP_COMM_MAX_BYTES) to / from
 * rank `peer` with a tag in 0..pp_comm_tag_max(c) (at least 32767). A receive fails unless exactly `bytes`
 * arrive. */
int pp_comm_send(pp_comm *c, const void *buf, size_t bytes, int peer, int tag, pp_err *err);
int pp_comm_recv(pp_comm *c, void *buf, size_t bytes, int peer, int tag, pp_err *err);
int pp_comm_barrier(pp_comm *c, pp_err *err);
/* Every rank contributes `bytes` from send; recv (size * bytes) receives
 * them in rank order on every rank. */
int pp_comm_allgather(pp_comm *c, const void *send, size_t bytes, void *recv, pp_err *err);

/* The largest tag MPI allows (MPI_TAG_UB; at least 32767). */
int pp_comm_tag_max(const pp_comm *c);

/* ---- nonblocking point-to-point ----
 *
 * A request is posted by pp_comm_isend or pp_comm_irecv and ended by
 * pp_comm_wait (which frees it, success or not). The buffer must stay put
 * and (for a send) unchanged until then. */
typedef struct pp_comm_req pp_comm_req;

/* Posts a send / receive (arguments as pp_comm_send/recv). Returns 0 with a
 * new request in *req, or -1 (err set, *req NULL). */
int pp_comm_isend(pp_comm *c, const void *buf, size_t bytes, int peer, int tag, pp_comm_req **req, pp_err *err);
int pp_comm_irecv(pp_comm *c, void *buf, size_t bytes, int peer, int tag, pp_comm_req **req, pp_err *err);
/* Waits until the request completes, at most timeout_s seconds (<= 0: no
 * limit), and frees it (NULL: nothing to do). A receive fails unless
 * exactly its size arrived. On time-out returns -1 with err (code
 * PP_ERR_IO) saying what was waited for, from which peer and for how long;
 * the request is then cancelled. */
int pp_comm_wait(pp_comm_req *req, double timeout_s, pp_err *err);
/* 1 when the request has completed (pp_comm_wait then returns at once),
 * 0 when not yet, -1 on error. */
int pp_comm_test(pp_comm_req *req, pp_err *err);

/* ---- sub-communicators and collectives ---- */

/* Splits c: ranks passing the same color >= 0 form one new communicator,
 * ordered by key (then by rank in c); color < 0 gets *out = NULL.
 * Collective over c. Free the result with pp_comm_free. */
int pp_comm_split(pp_comm *c, int color, int key, pp_comm **out, pp_err *err);
/* In-place sums over every rank of c: n floats / doubles. */
int pp_comm_allreduce_sum_f32(pp_comm *c, float *buf, long long n, pp_err *err);
int pp_comm_allreduce_sum_f64(pp_comm *c, double *buf, int n, pp_err *err);
/* In-place maximum over every rank of c of n ints. */
int pp_comm_allreduce_max_i32(pp_comm *c, int *buf, int n, pp_err *err);
/* Copies bytes from root's buf to every rank's buf. */
int pp_comm_bcast(pp_comm *c, void *buf, size_t bytes, int root, pp_err *err);
/* Rank i sends n_i bytes (any count, n_i may be 0); rank 0 receives all of
 * them concatenated in rank order into *out (malloc'd, *out_bytes long;
 * caller frees). Other ranks get *out = NULL, *out_bytes = 0. */
int pp_comm_gather_bytes(pp_comm *c, const void *send, size_t bytes, void **out, size_t *out_bytes, pp_err *err);

/* True when this process was started by mpirun or srun (the environment has
 * OMPI_COMM_WORLD_SIZE, PMI_SIZE or SLURM_NTASKS). */
bool pp_comm_under_mpi(void);

#endif /* PP_COMM_H */
