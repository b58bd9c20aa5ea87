/*
 * pp_cuda_backend.h -- what the CUDA backend offers beyond pp_backend.h,
 * for the modules that must meet it on the device: the stream its work runs
 * on (NCCL transfers and CUDA events go on the same stream, so they are
 * ordered with the kernels), its device, and a bf16 GEMM timing entry point
 * for the GEMM-rate check. Only meaningful in a build with PP_HAVE_CUDA; on
 * any other backend the functions return NULL / -1.
 */
#ifndef PP_CUDA_BACKEND_H
#define PP_CUDA_BACKEND_H

#include "core/pp_err.h"
#include "kernels/pp_backend.h"

/* The cudaStream_t of be's compute stream (as void *), NULL when be is not CUDA. */
void *pp_cuda_backend_stream(pp_backend *be);
/* The CUDA device ordinal of be, -1 when be is not CUDA. */
int pp_cuda_backend_device(const pp_backend *be);

/* Row-major C [M, N] = alpha op(A) op(B) + beta C with fp32 A, B, C in
 * backend memory, computed as the backend's GEMMs are (operands converted
 * to bf16, cuBLAS with fp32 accumulation). bf16_inputs = 1 takes A and B as
 * already-bf16 dense buffers (no conversion: the raw cuBLAS rate). Returns
 * 0 or -1 with err set. */
int pp_cuda_backend_gemm(pp_backend *be, int trans_a, int trans_b, int M, int N, int K, float alpha, const void *A,
                         const void *B, float beta, float *C, int bf16_inputs, pp_err *err);

/* Converts n floats of backend memory to bf16 (dst: 2 n bytes of backend memory). */
int pp_cuda_backend_to_bf16(pp_backend *be, void *dst, const float *src, long n, pp_err *err);

#endif /* PP_CUDA_BACKEND_H */
