/*
 * gpu_common.h -- what the GPU check programs of tests/gpu/ share: opening
 * the CUDA backend or skipping (exit 77, "SKIP: ..." on stdout, which ctest
 * counts as skipped), loading a preset, deterministic random tensors made
 * on the host and uploaded, and the relative error used by every check:
 * ||a - b||_2 / ||b||_2 (b the reference; absolute when ||b|| is 0).
 */
#ifndef PP_GPU_COMMON_H
#define PP_GPU_COMMON_H

#include "core/pp_graph.h"
#include "core/pp_zoo.h"
#include "kernels/pp_backend.h"
#include "kernels/pp_engine.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GPU_SKIP 77

/* Opens the CUDA backend or exits 77 saying why. */
static inline pp_backend *gpu_open_or_skip(const char *prog) {
    pp_backend *be = NULL;
    pp_err err = {0};
    if (pp_backend_open(PP_BACKEND_CUDA, 1, &be, &err)) {
        printf("SKIP: %s: %s\n", prog, err.msg);
        fflush(stdout);
        exit(GPU_SKIP);
    }
    return be;
}

static inline int gpu_load_preset(const char *name, pp_model_config *cfg, pp_err *err) {
    char path[2048];
    if (strchr(name, '/') || strstr(name, ".json")) snprintf(path, sizeof path, "%s", name);
    else snprintf(path, sizeof path, "%s/configs/models/%s.json", PP_SOURCE_DIR, name);
    return pp_model_config_load(path, cfg, err);
}

static inline uint64_t gpu_rng(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Host data for tensor t: floats uniform in [-scale, scale], ints in
 * [0, limit) (every 8th label -1 when labels). Caller frees. */
static inline void *gpu_host_tensor(const pp_tensor *t, uint64_t seed, float scale, long long limit, int labels) {
    long long n = pp_tensor_numel(t);
    void *h = malloc((size_t)(n ? n : 1) * 4);
    if (!h) return NULL;
    uint64_t s = seed * 2654435761ULL + 88172645463325252ULL;
    for (long long i = 0; i < n; i++) {
        uint64_t r = gpu_rng(&s);
        if (t->dtype == PP_DTYPE_I32) {
            int32_t v = (int32_t)(r % (uint64_t)(limit > 0 ? limit : 1));
            if (labels && i % 8 == 7) v = -1;
            ((int32_t *)h)[i] = v;
        } else {
            ((float *)h)[i] = scale * (2.0f * (float)((r >> 11) * (1.0 / 9007199254740992.0)) - 1.0f);
        }
    }
    return h;
}

/* Fills backend buffer `dst` of tensor t as gpu_host_tensor does. Returns 0 or -1. */
static inline int gpu_fill(pp_backend *be, const pp_tensor *t, void *dst, uint64_t seed, float scale, long long limit,
                           int labels) {
    void *h = gpu_host_tensor(t, seed, scale, limit, labels);
    if (!h) return -1;
    pp_backend_upload(be, dst, h, (size_t)pp_tensor_bytes(t));
    free(h);
    return 0;
}

/* A host copy of n floats of backend memory (caller frees). */
static inline float *gpu_download(pp_backend *be, const void *src, long long n) {
    float *h = malloc((size_t)(n ? n : 1) * sizeof *h);
    if (h) pp_backend_download(be, h, src, (size_t)n * sizeof *h);
    return h;
}

static inline double gpu_rel_err(const float *a, const float *ref, long long n) {
    double d = 0, r = 0;
    for (long long i = 0; i < n; i++) {
        double x = (double)a[i] - ref[i];
        d += x * x;
        r += (double)ref[i] * ref[i];
    }
    if (!isfinite(d)) return INFINITY;
    return r > 0 ? sqrt(d / r) : sqrt(d);
}

#endif /* PP_GPU_COMMON_H */
