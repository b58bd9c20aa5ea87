#!/usr/bin/env python3
"""torch_step.py -- the PyTorch half of check (e) of issue 9: one F+I+W
(forward + backward) step of GPT-2 on the same GPU, bf16 autocast with fp32
weights (what pippy's CUDA backend computes), median of 5 timed steps after
2 warm-up ones, then the ratio pippy / PyTorch when pippy's step time is
given (gpu_perf's step_ms). Prints "SKIP: ..." and exits 0 when torch with
CUDA is not importable.

usage: torch_step.py CONFIG.json B T [PIPPY_STEP_MS]
"""
import json
import sys


def main():
    cfg_path, B, T = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    pippy_ms = float(sys.argv[4]) if len(sys.argv) > 4 else None
    try:
        import torch
        import torch.nn as nn
        import torch.nn.functional as F
        if not torch.cuda.is_available():
            raise RuntimeError("torch.cuda.is_available() is False")
    except Exception as e:  # noqa: BLE001 -- any failure means no comparison
        print(f"SKIP: torch with CUDA is not importable here: {e}")
        return 0
    cfg = json.load(open(cfg_path))
    V, D, L, H = cfg["vocab_size"], cfg["d_model"], cfg["n_layer"], cfg["n_head"]
    Fd = cfg.get("d_ff", 4 * D)
    P = cfg.get("n_positions", cfg.get("seq_len", T))

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1, self.ln2 = nn.LayerNorm(D), nn.LayerNorm(D)
            self.qkv, self.proj = nn.Linear(D, 3 * D), nn.Linear(D, D)
            self.fc, self.fc2 = nn.Linear(D, Fd), nn.Linear(Fd, D)

        def forward(self, x):
            q, k, v = self.qkv(self.ln1(x)).split(D, dim=-1)
            q, k, v = (t.view(B, T, H, D // H).transpose(1, 2) for t in (q, k, v))
            a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + self.proj(a.transpose(1, 2).reshape(B, T, D))
            return x + self.fc2(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte, self.wpe = nn.Embedding(V, D), nn.Embedding(max(P, T), D)
            self.blocks = nn.ModuleList(Block() for _ in range(L))
            self.lnf = nn.LayerNorm(D)

        def forward(self, tok, lab):
            x = self.wte(tok) + self.wpe(torch.arange(T, device=tok.device))
            for b in self.blocks:
                x = b(x)
            logits = self.lnf(x) @ self.wte.weight.t()
            return F.cross_entropy(logits.float().view(-1, V), lab.view(-1), ignore_index=-1)

    dev = torch.device("cuda")
    m = GPT().to(dev)
    tok = torch.randint(0, V, (B, T), device=dev)
    lab = torch.randint(0, V, (B, T), device=dev)
    times = []
    for i in range(7):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = m(tok, lab)
        loss.backward()
        end.record()
        torch.cuda.synchronize()
        if i >= 2:
            times.append(start.elapsed_time(end))
    times.sort()
    ms = times[len(times) // 2]
    print(f"torch {torch.__version__} on {torch.cuda.get_device_name()}: step F+I+W {ms:.2f} ms "
          f"(bf16 autocast, SDPA), {B * T / ms * 1e3:.0f} tokens/s")
    if pippy_ms:
        r = pippy_ms / ms
        print(f"ratio pippy / torch = {r:.2f} (goal <= 1.2): {'ok' if r <= 1.2 else 'above the goal'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
