#!/usr/bin/python3
"""The PyTorch peer of bench_step: one forward + backward of the same model
(same parameter shapes, same op definitions: scripts/gen_fixtures.py's
reference implementation, written with ordinary PyTorch ops) on the same
shapes with the same thread count. Prints "result key=value" lines.

    /usr/bin/python3 bench/torch_step.py --model gpt2-124m --micro-batch 4 --seq 64 --threads 1 --reps 5
"""
import argparse
import os
import statistics
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="gpt2-124m")
    ap.add_argument("--micro-batch", type=int, default=4)
    ap.add_argument("--seq", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--reps", type=int, default=5)
    a = ap.parse_args()
    # torch.set_num_threads does not reach OpenBLAS, which would start one
    # thread per core for every GEMM: fix both before torch loads.
    os.environ["OPENBLAS_NUM_THREADS"] = str(a.threads)
    os.environ["OMP_NUM_THREADS"] = str(a.threads)
    global torch, ref
    import torch
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts"))
    import gen_fixtures as ref
    torch.set_num_threads(a.threads)
    c = ref.load_config(a.model)
    specs = ref.param_specs(c)
    g = torch.Generator().manual_seed(0)
    P = {n: (torch.randn(shape, generator=g) * 0.02).requires_grad_(True) for n, shape in specs}
    B, T, V = a.micro_batch, a.seq, c["vocab_size"]
    inp = {"tokens": torch.randint(0, V, (B, T), generator=g, dtype=torch.int32),
           "labels": torch.randint(0, V, (B, T), generator=g, dtype=torch.int32)}
    if c["family"] == "t5":
        inp["decoder_tokens"] = torch.randint(0, V, (B, T), generator=g, dtype=torch.int32)
    times = []
    for r in range(a.reps + 1):
        for p in P.values():
            p.grad = None
        t0 = time.perf_counter()
        loss = ref.forward(c, P, inp)
        loss.backward()
        t1 = time.perf_counter()
        if r > 0:
            times.append(t1 - t0)
    print("result torch=%s threads=%d model=%s micro_batch=%d seq=%d" % (torch.__version__, a.threads, a.model, B, T))
    print("info torch_config=%r" % torch.__config__.show().replace("\n", " | ")[:300])
    print("result step_ms=%.3f reps=%d" % (statistics.median(times) * 1e3, a.reps))


if __name__ == "__main__":
    main()
