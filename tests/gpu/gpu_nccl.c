/*
 * gpu_nccl.c -- the NCCL transport on the GPUs this machine has, under MPI
 * (a singleton when started alone): the communicator made from the id
 * broadcast over MPI, an all-reduce (every rank adds rank + 1), a grouped
 * ring exchange (each rank sends to rank + 1 and receives from rank - 1 in
 * one group; with one rank that is a send to itself), a split into even and
 * odd ranks with an all-reduce on each, and with two ranks or more the GPU
 * link benchmark 0 -> 1 (alpha-beta fit). Rank r uses GPU r % count; NCCL
 * needs a GPU per rank, so on one GPU run it with one rank.
 * Exit 0 / 1 / 77 (SKIP: no GPU or no NCCL in this build).
 */
#include "gpu_common.h"

#include "comm/pp_comm.h"
#include "comm/pp_nccl.h"
#include "kernels/cuda/pp_cuda_backend.h"
#include "profiler/pp_gpulink.h"

static int check_all(pp_backend *be, const float *dev, long n, float want, const char *what, int rank) {
    float *h = gpu_download(be, dev, n);
    int bad = 0;
    for (long i = 0; i < n && !bad; i++) bad = h[i] != want;
    printf("nccl rank %d: %-28s %s (want %g, got %g)\n", rank, what, bad ? "FAIL" : "ok", want, h[0]);
    free(h);
    return bad;
}

int main(int argc, char **argv) {
    if (!pp_nccl_available()) {
        printf("SKIP: gpu_nccl: the NCCL transport is not part of this build\n");
        return GPU_SKIP;
    }
    pp_backend *be = gpu_open_or_skip("gpu_nccl");
    pp_err err = {0};
    pp_comm *world;
    if (pp_comm_init(&argc, &argv, &world, &err)) {
        fprintf(stderr, "gpu_nccl: %s\n", err.msg);
        return 1;
    }
    int rank = pp_comm_rank(world), size = pp_comm_size(world), fail = 0;
    pp_nccl *nc = NULL, *half = NULL;
    void *st = pp_cuda_backend_stream(be);
    long n = 1 << 20;
    size_t bytes = (size_t)n * sizeof(float);
    float *a = pp_backend_alloc(be, bytes, &err), *b = pp_backend_alloc(be, bytes, &err);
    float *h = malloc(bytes);
    if (!a || !b || !h || pp_nccl_init(world, pp_cuda_backend_device(be), &nc, &err)) goto bad;
    for (long i = 0; i < n; i++) h[i] = (float)(rank + 1);
    pp_backend_upload(be, a, h, bytes);
    if (pp_nccl_allreduce_sum_f32(nc, a, n, st, &err) || pp_nccl_wait(nc, st, 30, &err)) goto bad;
    fail |= check_all(be, a, n, (float)size * (size + 1) / 2, "all-reduce", rank);
    pp_backend_upload(be, a, h, bytes);
    pp_nccl_xfer x[2] = {{.send = 1, .buf = a, .bytes = bytes, .peer = (rank + 1) % size},
                         {.send = 0, .buf = b, .bytes = bytes, .peer = (rank + size - 1) % size}};
    if (pp_nccl_group(nc, x, 2, st, &err) || pp_nccl_wait(nc, st, 30, &err)) goto bad;
    fail |= check_all(be, b, n, (float)((rank + size - 1) % size + 1), "grouped ring send/recv", rank);
    if (pp_nccl_split(nc, rank % 2, rank, &half, &err)) goto bad;
    pp_backend_upload(be, a, h, bytes);
    if (pp_nccl_allreduce_sum_f32(half, a, n, st, &err) || pp_nccl_wait(half, st, 30, &err)) goto bad;
    float want = 0;
    for (int r = rank % 2; r < size; r += 2) want += (float)(r + 1);
    fail |= check_all(be, a, n, want, "split all-reduce", rank);
    if (size >= 2) {
        pp_linkprof_opts o;
        pp_linkprof_opts_default(&o);
        pp_link_result lr;
        if (pp_gpulink_measure(world, nc, be, 0, 1, &o, &lr, &err)) goto bad;
        if (rank == 0)
            printf("nccl link 0 -> 1: alpha %.2f us, beta %.1f GB/s, residual %.3f over %d sizes\n", lr.alpha_s * 1e6,
                   lr.beta_Bps / 1e9, lr.residual, lr.n_sizes);
    } else {
        printf("nccl: one rank: the GPU link benchmark needs two ranks on two GPUs (not run)\n");
    }
    goto done;
bad:
    fprintf(stderr, "gpu_nccl rank %d: %s\n", rank, err.msg);
    fail = 1;
done:
    pp_nccl_free(half);
    pp_nccl_free(nc);
    pp_backend_free(be, a, bytes);
    pp_backend_free(be, b, bytes);
    free(h);
    pp_backend_close(be);
    pp_comm_free(world);
    return fail;
}
