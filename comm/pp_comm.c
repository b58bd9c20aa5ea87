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

#include <mpi.h>

struct pp_comm {
    MPI_Comm comm; /* private duplicate of MPI_COMM_WORLD */
    int rank, size;
    bool finalize; /* pp_comm_init called MPI_Init */
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
    if (tag < 0 || tag > 32767)
        return pp_err_set(err, PP_ERR_INVALID, "%s: tag %d is outside 0..32767", what, tag);
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
