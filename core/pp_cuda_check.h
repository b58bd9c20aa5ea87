/*
 * pp_cuda_check.h -- the one definition of the checks around CUDA, cuBLAS,
 * NCCL and CUPTI calls, used by the CUDA backend (kernels/cuda/), the NCCL
 * transport (comm/pp_nccl.c) and the GPU op profiler (profiler/pp_gpuprof.c).
 *
 * Each macro runs the call once; on failure it sets err (PP_ERR_IO) to
 *
 *     FILE:LINE: CALL failed: LIBRARY'S MESSAGE
 *
 * (the call's own text as written, CUDA's error string and name, cuBLAS's
 * status string, NCCL's error string and the communicator's last error,
 * CUPTI's result string) and jumps to the label `fail` of the calling
 * function. Every function that uses them has exactly one such label, where
 * it releases what it took so far and returns its error value, so an error
 * half-way leaks nothing:
 *
 *     int f(..., pp_err *err) {
 *         void *p = NULL;
 *         PP_CUDA_CHECK(err, cudaMalloc(&p, n));
 *         PP_CUDA_CHECK(err, cudaMemset(p, 0, n));
 *         ...
 *         return 0;
 *     fail:
 *         cudaFree(p);
 *         return -1;
 *     }
 *
 * Why here, in core/: the three modules that check GPU calls are kernels/,
 * comm/ and profiler/, and core/ is the only module every one of them may
 * use (comm/ may not use kernels/). The header includes no CUDA header and
 * core's library never includes it: a macro names cudaGetErrorString,
 * cublasGetStatusString, ncclGetErrorString or cuptiGetResultString only
 * where it is expanded, in a file that includes that library's header
 * (cuda_runtime_api.h, cublas_v2.h, nccl.h, cupti.h) and is built only when
 * the library is found. So core stays libc-only and builds without CUDA.
 */
#ifndef PP_CUDA_CHECK_H
#define PP_CUDA_CHECK_H

#include "core/pp_err.h"

/* A CUDA runtime call (or one of the kernels' launchers, which return
 * cudaGetLastError()); needs cuda_runtime_api.h. */
#define PP_CUDA_CHECK(err, call)                                                                                       \
    do {                                                                                                               \
        cudaError_t e_ = (call);                                                                                       \
        if (e_ != cudaSuccess) {                                                                                       \
            pp_err_set((err), PP_ERR_IO, "%s:%d: %s failed: %s (%s)", __FILE__, __LINE__, #call,                       \
                       cudaGetErrorString(e_), cudaGetErrorName(e_));                                                  \
            goto fail;                                                                                                 \
        }                                                                                                              \
    } while (0)

/* A cuBLAS call; needs cublas_v2.h. */
#define PP_CUBLAS_CHECK(err, call)                                                                                     \
    do {                                                                                                               \
        cublasStatus_t s_ = (call);                                                                                    \
        if (s_ != CUBLAS_STATUS_SUCCESS) {                                                                             \
            pp_err_set((err), PP_ERR_IO, "%s:%d: %s failed: %s", __FILE__, __LINE__, #call,                            \
                       cublasGetStatusString(s_));                                                                     \
            goto fail;                                                                                                 \
        }                                                                                                              \
    } while (0)

/* An NCCL call; comm (an ncclComm_t, or NULL before there is one) adds its
 * last error to the message. ncclInProgress (a nonblocking communicator
 * still working) is not a failure. Needs nccl.h. */
#define PP_NCCL_CHECK(err, comm, call)                                                                                 \
    do {                                                                                                               \
        ncclResult_t r_ = (call);                                                                                      \
        if (r_ != ncclSuccess && r_ != ncclInProgress) {                                                               \
            ncclComm_t c_ = (comm);                                                                                    \
            pp_err_set((err), PP_ERR_IO, "%s:%d: %s failed: %s%s%s", __FILE__, __LINE__, #call,                        \
                       ncclGetErrorString(r_), c_ ? ": " : "", c_ ? ncclGetLastError(c_) : "");                        \
            goto fail;                                                                                                 \
        }                                                                                                              \
    } while (0)

/* A CUPTI call; needs cupti.h. */
#define PP_CUPTI_CHECK(err, call)                                                                                      \
    do {                                                                                                               \
        CUptiResult r_ = (call);                                                                                       \
        if (r_ != CUPTI_SUCCESS) {                                                                                     \
            const char *m_ = "?";                                                                                      \
            cuptiGetResultString(r_, &m_);                                                                             \
            pp_err_set((err), PP_ERR_IO, "%s:%d: %s failed: %s", __FILE__, __LINE__, #call, m_);                       \
            goto fail;                                                                                                 \
        }                                                                                                              \
    } while (0)

#endif /* PP_CUDA_CHECK_H */
