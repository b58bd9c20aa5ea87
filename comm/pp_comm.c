/*
 * pp_comm.c -- pp_comm over MPI (host buffers).
 *
 * Every MPI call goes through PP_MPI_CHECK, which on failure fills the
 * caller's pp_err with this file and line, a context message and MPI's error
 * string, and returns -1 (the NCCLCHECK pattern).
 */
#include "comm/pp_comm.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <time.h>

#include <mpi.h>

struct pp_comm {
    MPI_Comm comm; /* private duplicate of MPI_COMM_WORLD, or a split of one */
    int rank, size;
    int tag_ub;    /* MPI_TAG_UB */
    bool finalize; /* pp_comm_init called MPI_Init */
};

struct pp_comm_req {
    MPI_Request r;
    const pp_comm *c;
    int recv, peer, tag;
    size_t bytes;
};

/* Sets err from an MPI return code; returns -1. */
static int mpi_fail(pp_err *err, int rc, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int mpi_fail(pp_err *err, int rc, const char *file, int line, const char *fmt, ...) {
    char ctx[512], mpimsg[MPI_MAX_ERROR_STRING] = "";
    int len = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx, sizeof ctx, fmt, ap);
    va_end(ap);
    if (MPI_Error_string(rc, mpimsg, &len) != MPI_SUCCESS)
        snprintf(mpimsg, sizeof mpimsg, "MPI error %d", rc);
    return pp_err_set(err, PP_ERR_IO, "%s:%d: %s: %s", file, line, ctx, mpimsg);
}

/* PP_MPI_CHECK(call, err, "context fmt", ...): returns -1 from the calling
 * function with err set when call does not return MPI_SUCCESS. */
#define PP_MPI_CHECK(call, err, ...)                                      \
    do {                                                                  \
        int pp_mpi_rc_ = (call);                                          \
        if (pp_mpi_rc_ != MPI_SUCCESS)                                    \
            return mpi_fail((err), pp_mpi_rc_, __FILE__, __LINE__, __VA_ARGS__); \
    } while (0)

bool pp_comm_under_mpi(void) {
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE") || getenv("SLURM_NTASKS");
}

int pp_comm_init(int *argc, char ***argv, pp_comm **out, pp_err *err) {
    if (!out) return pp_err_set(err, PP_ERR_INVALID, "pp_comm_init: no output pointer");
    *out = NULL;
    int inited = 0, finalized = 0;
    PP_MPI_CHECK(MPI_Initialized(&inited), err, "MPI_Initialized");
    PP_MPI_CHECK(MPI_Finalized(&finalized), err, "MPI_Finalized");
    if (finalized) return pp_err_set(err, PP_ERR_INVALID, "pp_comm_init: MPI was already finalized");
    if (!inited) PP_MPI_CHECK(MPI_Init(argc, argv), err, "MPI_Init");
    pp_comm *c = pp_calloc(1, sizeof *c, err);
    if (!c) {
        if (!inited) MPI_Finalize();
        return -1;
    }
    c->finalize = !inited;
    c->comm = MPI_COMM_NULL;
    int rc = MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    const char *what = "MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN)";
    if (rc == MPI_SUCCESS) {
        rc = MPI_Comm_dup(MPI_COMM_WORLD, &c->comm);
        what = "MPI_Comm_dup(MPI_COMM_WORLD)";
    }
    if (rc == MPI_SUCCESS) {
        rc = MPI_Comm_set_errhandler(c->comm, MPI_ERRORS_RETURN);
        what = "MPI_Comm_set_errhandler";
    }
    if (rc == MPI_SUCCESS) {
        rc = MPI_Comm_rank(c->comm, &c->rank);
        what = "MPI_Comm_rank";
    }
    if (rc == MPI_SUCCESS) {
        rc = MPI_Comm_size(c->comm, &c->size);
        what = "MPI_Comm_size";
    }
    if (rc == MPI_SUCCESS) {
        int *ub = NULL, flag = 0;
        rc = MPI_Comm_get_attr(MPI_COMM_WORLD, MPI_TAG_UB, &ub, &flag);
        what = "MPI_Comm_get_attr(MPI_TAG_UB)";
        c->tag_ub = flag && ub && *ub >= 32767 ? *ub : 32767;
    }
    if (rc != MPI_SUCCESS) {
        mpi_fail(err, rc, __FILE__, __LINE__, "pp_comm_init: %s", what);
        pp_comm_free(c);
        return -1;
    }
    *out = c;
    return 0;
}

void pp_comm_free(pp_comm *c) {
    if (!c) return;
    if (c->comm != MPI_COMM_NULL) MPI_Comm_free(&c->comm);
    if (c->finalize) MPI_Finalize();
    free(c);
}

void pp_comm_abort(pp_comm *c, int code) {
    MPI_Abort(c && c->comm != MPI_COMM_NULL ? c->comm : MPI_COMM_WORLD, code);
}

int pp_comm_rank(const pp_comm *c) { return c->rank; }
int pp_comm_size(const pp_comm *c) { return c->size; }

int pp_comm_hostname(const pp_comm *c, char *buf, size_t n, pp_err *err) {
    (void)c;
    if (!buf || n == 0) return pp_err_set(err, PP_ERR_INVALID, "pp_comm_hostname: no buffer");
    char name[MPI_MAX_PROCESSOR_NAME + 1];
    int len = 0;
    PP_MPI_CHECK(MPI_Get_processor_name(name, &len), err, "MPI_Get_processor_name");
    if (len < 0) len = 0;
    if (len > MPI_MAX_PROCESSOR_NAME) len = MPI_MAX_PROCESSOR_NAME;
    name[len] = '\0';
    size_t l = (size_t)len < n - 1 ? (size_t)len : n - 1;
    memcpy(buf, name, l);
    buf[l] = '\0';
    return 0;
}

/* Checks the arguments shared by send and recv. */
static int check_p2p(const pp_comm *c, const void *buf, size_t bytes, int peer, int tag,
                     const char *what, pp_err *err) {
    if (!c) return pp_err_set(err, PP_ERR_INVALID, "%s: no communicator", what);
    if (!buf && bytes) return pp_err_set(err, PP_ERR_INVALID, "%s: no buffer", what);
    if (bytes > PP_COMM_MAX_BYTES)
        return pp_err_set(err, PP_ERR_INVALID, "%s: %zu bytes is over the %zu-byte limit of one message",
                          what, bytes, PP_COMM_MAX_BYTES);
    if (peer < 0 || peer >= c->size || peer == c->rank)
        return pp_err_set(err, PP_ERR_INVALID, "%s: peer rank %d is not another rank of 0..%d", what,
                          peer, c->size - 1);
    if (tag < 0 || tag > c->tag_ub)
        return pp_err_set(err, PP_ERR_INVALID, "%s: tag %d is outside 0..%d", what, tag, c->tag_ub);
    return 0;
}

int pp_comm_send(pp_comm *c, const void *buf, size_t bytes, int peer, int tag, pp_err *err) {
    if (check_p2p(c, buf, bytes, peer, tag, "pp_comm_send", err)) return -1;
    PP_MPI_CHECK(MPI_Send(buf, (int)bytes, MPI_BYTE, peer, tag, c->comm), err,
                 "MPI_Send from rank %d to rank %d (tag %d, %zu bytes)", c->rank, peer, tag, bytes);
    return 0;
}

int pp_comm_recv(pp_comm *c, void *buf, size_t bytes, int peer, int tag, pp_err *err) {
    if (check_p2p(c, buf, bytes, peer, tag, "pp_comm_recv", err)) return -1;
    MPI_Status st;
    PP_MPI_CHECK(MPI_Recv(buf, (int)bytes, MPI_BYTE, peer, tag, c->comm, &st), err,
                 "MPI_Recv on rank %d from rank %d (tag %d, %zu bytes)", c->rank, peer, tag, bytes);
    int got = 0;
    PP_MPI_CHECK(MPI_Get_count(&st, MPI_BYTE, &got), err, "MPI_Get_count");
    if ((size_t)got != bytes)
        return pp_err_set(err, PP_ERR_IO, "%s:%d: MPI_Recv on rank %d from rank %d (tag %d): %d bytes arrived, %zu expected",
                          __FILE__, __LINE__, c->rank, peer, tag, got, bytes);
    return 0;
}

int pp_comm_barrier(pp_comm *c, pp_err *err) {
    if (!c) return pp_err_set(err, PP_ERR_INVALID, "pp_comm_barrier: no communicator");
    PP_MPI_CHECK(MPI_Barrier(c->comm), err, "MPI_Barrier on rank %d", c->rank);
    return 0;
}

int pp_comm_allgather(pp_comm *c, const void *send, size_t bytes, void *recv, pp_err *err) {
    if (!c) return pp_err_set(err, PP_ERR_INVALID, "pp_comm_allgather: no communicator");
    if (bytes && (!send || !recv)) return pp_err_set(err, PP_ERR_INVALID, "pp_comm_allgather: no buffer");
    if (bytes > PP_COMM_MAX_BYTES / (size_t)c->size)
        return pp_err_set(err, PP_ERR_INVALID, "pp_comm_allgather: %zu bytes from each of %d ranks is over the %zu-byte limit",
                          bytes, c->size, PP_COMM_MAX_BYTES);
    PP_MPI_CHECK(MPI_Allgather(send, (int)bytes, MPI_BYTE, recv, (int)bytes, MPI_BYTE, c->comm), err,
                 "MPI_Allgather on rank %d (%zu bytes each)", c->rank, bytes);
    return 0;
}

int pp_comm_tag_max(const pp_comm *c) { return c->tag_ub; }

/* ---- nonblocking point-to-point ---- */

static int post(pp_comm *c, void *buf, size_t bytes, int peer, int tag, int recv, pp_comm_req **req, pp_err *err) {
    *req = NULL;
    if (check_p2p(c, buf, bytes, peer, tag, recv ? "pp_comm_irecv" : "pp_comm_isend", err)) return -1;
    pp_comm_req *q = pp_calloc(1, sizeof *q, err);
    if (!q) return -1;
    *q = (pp_comm_req){.r = MPI_REQUEST_NULL, .c = c, .recv = recv, .peer = peer, .tag = tag, .bytes = bytes};
    int rc = recv ? MPI_Irecv(buf, (int)bytes, MPI_BYTE, peer, tag, c->comm, &q->r)
                  : MPI_Isend(buf, (int)bytes, MPI_BYTE, peer, tag, c->comm, &q->r);
    if (rc != MPI_SUCCESS) {
        free(q);
        return mpi_fail(err, rc, __FILE__, __LINE__, "%s on rank %d %s rank %d (tag %d, %zu bytes)",
                        recv ? "MPI_Irecv" : "MPI_Isend", c->rank, recv ? "from" : "to", peer, tag, bytes);
    }
    *req = q;
    return 0;
}

int pp_comm_isend(pp_comm *c, const void *buf, size_t bytes, int peer, int tag, pp_comm_req **req, pp_err *err) {
    return post(c, (void *)buf, bytes, peer, tag, 0, req, err);
}

int pp_comm_irecv(pp_comm *c, void *buf, size_t bytes, int peer, int tag, pp_comm_req **req, pp_err *err) {
    return post(c, buf, bytes, peer, tag, 1, req, err);
}

/* Checks a completed request's status (a receive must get all its bytes). */
static int finished(pp_comm_req *q, MPI_Status *st, pp_err *err) {
    if (!q->recv) return 0;
    int got = 0;
    PP_MPI_CHECK(MPI_Get_count(st, MPI_BYTE, &got), err, "MPI_Get_count");
    if ((size_t)got != q->bytes)
        return pp_err_set(err, PP_ERR_IO, "%s:%d: receive on rank %d from rank %d (tag %d): %d bytes arrived, %zu expected",
                          __FILE__, __LINE__, q->c->rank, q->peer, q->tag, got, q->bytes);
    return 0;
}

int pp_comm_test(pp_comm_req *q, pp_err *err) {
    if (!q) return 1;
    if (q->r == MPI_REQUEST_NULL) return 1;
    int flag = 0;
    MPI_Status st;
    PP_MPI_CHECK(MPI_Test(&q->r, &flag, &st), err, "MPI_Test on rank %d (peer %d, tag %d)", q->c->rank, q->peer,
                 q->tag);
    if (flag && finished(q, &st, err)) return -1;
    return flag;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int pp_comm_wait(pp_comm_req *q, double timeout_s, pp_err *err) {
    if (!q) return 0;
    int rc = 0;
    if (timeout_s <= 0) {
        MPI_Status st;
        int mrc = MPI_Wait(&q->r, &st);
        if (mrc != MPI_SUCCESS)
            rc = mpi_fail(err, mrc, __FILE__, __LINE__, "MPI_Wait on rank %d (peer %d, tag %d)", q->c->rank, q->peer,
                          q->tag);
        else
            rc = finished(q, &st, err);
        free(q);
        return rc;
    }
    /* Poll, yielding the core after a short spin: with a core per rank
     * sched_yield returns at once (lowest latency), and with ranks sharing
     * cores it hands the core to the one that computes. (A sleep instead
     * costs a scheduler tick when the machine is busy: milliseconds.) */
    double t0 = now_s();
    for (long spin = 0;; spin++) {
        int done = pp_comm_test(q, err);
        if (done < 0) {
            rc = -1;
            break;
        }
        if (done) break;
        if ((spin & 255) == 255 && now_s() - t0 > timeout_s) {
            rc = pp_err_set(err, PP_ERR_IO, "no %s rank %d after %.0f s (tag %d, %zu bytes): that rank is dead or stuck",
                            q->recv ? "message from" : "receive posted by", q->peer, timeout_s, q->tag, q->bytes);
            MPI_Cancel(&q->r);
            MPI_Request_free(&q->r);
            break;
        }
        if (spin > 200) sched_yield();
    }
    free(q);
    return rc;
}

/* ---- sub-communicators and collectives ---- */

int pp_comm_split(pp_comm *c, int color, int key, pp_comm **out, pp_err *err) {
    *out = NULL;
    MPI_Comm nc = MPI_COMM_NULL;
    PP_MPI_CHECK(MPI_Comm_split(c->comm, color < 0 ? MPI_UNDEFINED : color, key, &nc), err,
                 "MPI_Comm_split on rank %d (color %d)", c->rank, color);
    if (nc == MPI_COMM_NULL) return 0;
    pp_comm *s = pp_calloc(1, sizeof *s, err);
    if (!s) {
        MPI_Comm_free(&nc);
        return -1;
    }
    s->comm = nc;
    s->tag_ub = c->tag_ub;
    MPI_Comm_set_errhandler(nc, MPI_ERRORS_RETURN);
    MPI_Comm_rank(nc, &s->rank);
    MPI_Comm_size(nc, &s->size);
    *out = s;
    return 0;
}

int pp_comm_allreduce_sum_f32(pp_comm *c, float *buf, long long n, pp_err *err) {
    for (long long o = 0; o < n; o += 1 << 28) {
        int k = (int)(n - o < (1 << 28) ? n - o : (1 << 28));
        PP_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, buf + o, k, MPI_FLOAT, MPI_SUM, c->comm), err,
                     "MPI_Allreduce (sum of %d floats) on rank %d of %d", k, c->rank, c->size);
    }
    return 0;
}

int pp_comm_allreduce_sum_f64(pp_comm *c, double *buf, int n, pp_err *err) {
    PP_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, buf, n, MPI_DOUBLE, MPI_SUM, c->comm), err,
                 "MPI_Allreduce (sum of %d doubles) on rank %d of %d", n, c->rank, c->size);
    return 0;
}

int pp_comm_allreduce_max_i32(pp_comm *c, int *buf, int n, pp_err *err) {
    PP_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, buf, n, MPI_INT, MPI_MAX, c->comm), err,
                 "MPI_Allreduce (max of %d ints) on rank %d of %d", n, c->rank, c->size);
    return 0;
}

int pp_comm_bcast(pp_comm *c, void *buf, size_t bytes, int root, pp_err *err) {
    if (bytes > PP_COMM_MAX_BYTES)
        return pp_err_set(err, PP_ERR_INVALID, "pp_comm_bcast: %zu bytes is over the limit", bytes);
    PP_MPI_CHECK(MPI_Bcast(buf, (int)bytes, MPI_BYTE, root, c->comm), err, "MPI_Bcast of %zu bytes from rank %d",
                 bytes, root);
    return 0;
}

int pp_comm_gather_bytes(pp_comm *c, const void *send, size_t bytes, void **out, size_t *out_bytes, pp_err *err) {
    *out = NULL;
    *out_bytes = 0;
    if (bytes > PP_COMM_MAX_BYTES)
        return pp_err_set(err, PP_ERR_INVALID, "pp_comm_gather_bytes: %zu bytes is over the limit", bytes);
    int mine = (int)bytes, *counts = NULL, *displs = NULL, rc = -1;
    char *all = NULL;
    if (c->rank == 0) {
        counts = pp_calloc((unsigned long long)c->size, sizeof(int), err);
        displs = pp_calloc((unsigned long long)c->size, sizeof(int), err);
        if (!counts || !displs) goto done;
    }
    if (MPI_Gather(&mine, 1, MPI_INT, counts, 1, MPI_INT, 0, c->comm) != MPI_SUCCESS) {
        pp_err_set(err, PP_ERR_IO, "%s:%d: MPI_Gather of message sizes on rank %d", __FILE__, __LINE__, c->rank);
        goto done;
    }
    size_t total = 0;
    if (c->rank == 0) {
        for (int i = 0; i < c->size; i++) {
            if (total + (size_t)counts[i] > PP_COMM_MAX_BYTES) {
                pp_err_set(err, PP_ERR_INVALID, "pp_comm_gather_bytes: over %zu bytes in all", PP_COMM_MAX_BYTES);
                goto done;
            }
            displs[i] = (int)total;
            total += (size_t)counts[i];
        }
        if (!(all = pp_malloc(total ? total : 1, err))) goto done;
    }
    if (MPI_Gatherv(send, mine, MPI_BYTE, all, counts, displs, MPI_BYTE, 0, c->comm) != MPI_SUCCESS) {
        pp_err_set(err, PP_ERR_IO, "%s:%d: MPI_Gatherv of %d bytes on rank %d", __FILE__, __LINE__, mine, c->rank);
        goto done;
    }
    *out = all;
    *out_bytes = total;
    all = NULL;
    rc = 0;
done:
    free(all);
    free(counts);
    free(displs);
    return rc;
}
