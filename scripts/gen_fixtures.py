#!/usr/bin/python3
"""Reference fixtures for pippy's kernels and engine (see docs/ops.md).

For each tiny preset (configs/models/{gpt2,llama,bert,t5}-tiny.json) this
builds the model with pippy's parameter names and shapes (core/pp_zoo.c),
initialises every parameter with pippy's deterministic init (docs/ops.md,
seed 1234), runs the forward and backward in PyTorch (fp32) on a fixed
batch, and writes tests/data/fixtures/<preset>.bin:

    magic b"PPFX0001", uint32 n_entries, then per entry:
      uint32 name_len, name (UTF-8), uint32 dtype (0 = f32, 1 = i32),
      uint32 ndim, ndim x uint32 dims, data (little-endian, row-major)

Entries: tokens, decoder_tokens (t5), labels, meta.B, meta.T, meta.seed,
loss, param.<name> for a few probe tensors, grad.<name> for every parameter.

Run with Debian's python (PyTorch 1.13 CPU):
    /usr/bin/python3 scripts/gen_fixtures.py              # writes the fixtures
    /usr/bin/python3 scripts/gen_fixtures.py --check tests/data/fixtures
    /usr/bin/python3 scripts/gen_fixtures.py --selftest   # float64 finite differences
"""
import argparse
import json
import math
import os
import struct
import sys
import tempfile

import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PRESETS = ["gpt2-tiny", "llama-tiny", "bert-tiny", "t5-tiny"]
SEED = 1234  # parameter init seed
DATA_SEED = 7  # torch.Generator seed for tokens / labels
B, T = 2, 16
VOCAB_DRAW = 256  # tokens and labels are drawn in [0, 256)
MAGIC = b"PPFX0001"
DT_F32, DT_I32 = 0, 1
M64 = (1 << 64) - 1

# ---------------------------------------------------------------- config

FIELDS = {  # key -> families it applies to (as core/pp_zoo.c's table)
    "vocab_size": "gpt2 llama bert t5", "d_model": "gpt2 llama bert t5", "n_layer": "gpt2 llama bert t5",
    "n_decoder_layer": "t5", "n_head": "gpt2 llama bert t5", "n_kv_head": "llama",
    "head_dim": "gpt2 llama bert t5", "d_ff": "gpt2 llama bert t5", "n_positions": "gpt2 bert",
    "type_vocab_size": "bert", "pooler": "bert", "relative_attention_num_buckets": "t5",
    "relative_attention_max_distance": "t5", "seq_len": "gpt2 llama bert t5",
    "tie_embeddings": "gpt2 llama bert t5", "norm_eps": "gpt2 llama bert t5", "rope_theta": "llama",
}


def load_config(preset):
    with open(os.path.join(ROOT, "configs", "models", preset + ".json")) as f:
        j = json.load(f)
    fam = j["family"]
    for k in j:
        if k in ("name", "family"):
            continue
        if k not in FIELDS or fam not in FIELDS[k].split():
            raise SystemExit("%s: field %r does not apply to family %s" % (preset, k, fam))
    c = {
        "name": j["name"], "family": fam,
        "pooler": fam == "bert", "type_vocab_size": 2 if fam == "bert" else 0,
        "relative_attention_num_buckets": 32 if fam == "t5" else 0,
        "relative_attention_max_distance": 128 if fam == "t5" else 0,
        "tie_embeddings": fam != "llama", "rope_theta": 10000.0 if fam == "llama" else 0.0,
        "norm_eps": {"gpt2": 1e-5, "llama": 1e-5, "bert": 1e-12, "t5": 1e-6}[fam],
        "head_dim": 0, "n_kv_head": 0, "n_decoder_layer": 0, "n_positions": 0,
    }
    c.update(j)
    if not c["head_dim"]:
        assert c["d_model"] % c["n_head"] == 0
        c["head_dim"] = c["d_model"] // c["n_head"]
    if not c["n_kv_head"]:
        c["n_kv_head"] = c["n_head"]
    if fam == "t5" and not c["n_decoder_layer"]:
        c["n_decoder_layer"] = c["n_layer"]
    assert c["n_head"] % c["n_kv_head"] == 0
    return c


# ---------------------------------------------------------------- parameters (pp_zoo.c order)

def param_specs(c):
    """[(name, shape)] in the order core/pp_zoo.c creates them."""
    fam, D, Fd, V = c["family"], c["d_model"], c["d_ff"], c["vocab_size"]
    H, Hkv, hd = c["n_head"], c["n_kv_head"], c["head_dim"]
    HD, HKV = H * hd, Hkv * hd
    p = []
    if fam == "gpt2":
        p += [("wte.weight", (V, D)), ("wpe.weight", (c["n_positions"], D))]
        for i in range(c["n_layer"]):
            h = "h.%d." % i
            p += [(h + "ln_1.weight", (D,)), (h + "ln_1.bias", (D,)),
                  (h + "attn.c_attn.weight", (3 * HD, D)), (h + "attn.c_attn.bias", (3 * HD,)),
                  (h + "attn.c_proj.weight", (D, HD)), (h + "attn.c_proj.bias", (D,)),
                  (h + "ln_2.weight", (D,)), (h + "ln_2.bias", (D,)),
                  (h + "mlp.c_fc.weight", (Fd, D)), (h + "mlp.c_fc.bias", (Fd,)),
                  (h + "mlp.c_proj.weight", (D, Fd)), (h + "mlp.c_proj.bias", (D,))]
        p += [("ln_f.weight", (D,)), ("ln_f.bias", (D,))]
    elif fam == "llama":
        p += [("embed_tokens.weight", (V, D))]
        for i in range(c["n_layer"]):
            h = "layers.%d." % i
            p += [(h + "input_layernorm.weight", (D,)), (h + "self_attn.qkv_proj.weight", (HD + 2 * HKV, D)),
                  (h + "self_attn.o_proj.weight", (D, HD)), (h + "post_attention_layernorm.weight", (D,)),
                  (h + "mlp.gate_up_proj.weight", (2 * Fd, D)), (h + "mlp.down_proj.weight", (D, Fd))]
        p += [("norm.weight", (D,))]
    elif fam == "bert":
        p += [("embeddings.word_embeddings.weight", (V, D)),
              ("embeddings.position_embeddings.weight", (c["n_positions"], D)),
              ("embeddings.token_type_embeddings.weight", (c["type_vocab_size"], D)),
              ("embeddings.LayerNorm.weight", (D,)), ("embeddings.LayerNorm.bias", (D,))]
        for i in range(c["n_layer"]):
            h = "layer.%d." % i
            p += [(h + "attention.qkv.weight", (3 * HD, D)), (h + "attention.qkv.bias", (3 * HD,)),
                  (h + "attention.output.dense.weight", (D, HD)), (h + "attention.output.dense.bias", (D,)),
                  (h + "attention.output.LayerNorm.weight", (D,)), (h + "attention.output.LayerNorm.bias", (D,)),
                  (h + "intermediate.dense.weight", (Fd, D)), (h + "intermediate.dense.bias", (Fd,)),
                  (h + "output.dense.weight", (D, Fd)), (h + "output.dense.bias", (D,)),
                  (h + "output.LayerNorm.weight", (D,)), (h + "output.LayerNorm.bias", (D,))]
        if c["pooler"]:
            p += [("pooler.dense.weight", (D, D)), ("pooler.dense.bias", (D,))]
    elif fam == "t5":
        NB = c["relative_attention_num_buckets"]
        p += [("shared.weight", (V, D)), ("encoder.relative_attention_bias.weight", (NB, H)),
              ("decoder.relative_attention_bias.weight", (NB, H))]
        for i in range(c["n_layer"]):
            h = "encoder.%d." % i
            p += [(h + "ln_1.weight", (D,)), (h + "attn.qkv.weight", (3 * HD, D)), (h + "attn.o.weight", (D, HD)),
                  (h + "ln_2.weight", (D,)), (h + "ff.wi.weight", (Fd, D)), (h + "ff.wo.weight", (D, Fd))]
        p += [("encoder.final_layer_norm.weight", (D,))]
        for i in range(c["n_decoder_layer"]):
            h = "decoder.%d." % i
            p += [(h + "ln_1.weight", (D,)), (h + "self_attn.qkv.weight", (3 * HD, D)),
                  (h + "self_attn.o.weight", (D, HD)), (h + "ln_2.weight", (D,)),
                  (h + "cross_attn.q.weight", (HD, D)), (h + "cross_attn.kv.weight", (2 * HD, D)),
                  (h + "cross_attn.o.weight", (D, HD)), (h + "ln_3.weight", (D,)),
                  (h + "ff.wi.weight", (Fd, D)), (h + "ff.wo.weight", (D, Fd))]
        p += [("decoder.final_layer_norm.weight", (D,))]
    else:
        raise SystemExit("unknown family " + fam)
    if not c["tie_embeddings"]:
        p += [("lm_head.weight", (V, D))]
    return p


# probe tensors stored as param.<name> so the C test can check its init bit for bit
PROBES = {
    "gpt2": ["wte.weight", "h.0.ln_1.weight", "h.0.attn.c_attn.weight", "h.0.mlp.c_proj.weight"],
    "llama": ["embed_tokens.weight", "layers.0.input_layernorm.weight", "layers.0.self_attn.qkv_proj.weight",
              "layers.0.self_attn.o_proj.weight"],
    "bert": ["embeddings.word_embeddings.weight", "embeddings.LayerNorm.weight", "layer.0.attention.qkv.weight",
             "embeddings.token_type_embeddings.weight"],
    "t5": ["shared.weight", "encoder.0.ln_1.weight", "encoder.0.attn.qkv.weight",
           "encoder.relative_attention_bias.weight"],
}

# ---------------------------------------------------------------- init (docs/ops.md)


def fnv1a64(s):
    h = 14695981039346656037
    for ch in s.encode("utf-8"):
        h = ((h ^ ch) * 1099511628211) & M64
    return h


def splitmix64(x):
    x = (x + 0x9E3779B97F4A7C15) & M64
    z = x
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def normal_values(name, n, std_of):
    """n doubles std_of(i) * z_i (then rounded to float32 by the caller)."""
    key = splitmix64((SEED ^ fnv1a64(name)) & M64)
    out = [0.0] * n
    two53 = 2.0 ** -53
    log, sqrt, cos, twopi = math.log, math.sqrt, math.cos, 2.0 * math.pi
    for i in range(n):
        a = splitmix64((key + 2 * i) & M64)
        b = splitmix64((key + 2 * i + 1) & M64)
        u1 = ((a >> 11) + 1) * two53
        u2 = (b >> 11) * two53
        z = sqrt(-2.0 * log(u1)) * cos(twopi * u2)
        out[i] = std_of(i) * z
    return out


def rsqrt(x):
    # std = 1.0 / sqrt(x) in double (the same expression pp_zoo.c uses for its scales)
    return 1.0 / math.sqrt(float(x))


def is_norm_weight(fam, name):
    if fam == "gpt2":
        return name.endswith(("ln_1.weight", "ln_2.weight")) or name == "ln_f.weight"
    if fam == "llama":
        return name.endswith("layernorm.weight") or name == "norm.weight"
    if fam == "bert":
        return name.endswith("LayerNorm.weight")
    if fam == "t5":
        return name.endswith(("ln_1.weight", "ln_2.weight", "ln_3.weight", "final_layer_norm.weight"))
    return False


def init_param(c, name, shape):
    """float32 tensor with pippy's deterministic init of this parameter."""
    fam = c["family"]
    n = 1
    for d in shape:
        n *= d
    if is_norm_weight(fam, name):
        return torch.ones(shape, dtype=torch.float32)
    if name.endswith(".bias"):
        return torch.zeros(shape, dtype=torch.float32)
    D, hd, H, L = c["d_model"], c["head_dim"], c["n_head"], c["n_layer"]
    std = 0.02
    row_std = None
    if name == "lm_head.weight":
        std = rsqrt(D) if fam == "t5" else 0.02
    elif fam == "gpt2":
        if name == "wpe.weight":
            std = 0.01
        elif name.endswith((".attn.c_proj.weight", ".mlp.c_proj.weight")):
            std = 0.02 / math.sqrt(2.0 * L)
    elif fam == "llama":
        if name.endswith((".o_proj.weight", ".down_proj.weight")):
            std = 0.02 / math.sqrt(2.0 * L)
    elif fam == "bert":
        pass
    elif fam == "t5":
        if name == "shared.weight":
            std = 1.0
        elif name.endswith(".qkv.weight"):
            q_rows, cols = H * hd, shape[1]
            sq, skv = rsqrt(D * hd), rsqrt(D)
            row_std = lambda i: sq if i // cols < q_rows else skv  # noqa: E731
        elif name.endswith("cross_attn.q.weight"):
            std = rsqrt(D * hd)
        elif name.endswith("cross_attn.kv.weight"):
            std = rsqrt(D)
        elif name.endswith(".o.weight"):
            std = rsqrt(H * hd)
        elif name.endswith(".ff.wi.weight"):
            std = rsqrt(D)
        elif name.endswith(".ff.wo.weight"):
            std = rsqrt(c["d_ff"])
        elif name.endswith("relative_attention_bias.weight"):
            std = rsqrt(D)
        else:
            raise SystemExit("t5: no init rule for " + name)
    vals = normal_values(name, n, row_std if row_std else (lambda i: std))
    # double -> float32 with round-to-nearest, as C's (float) cast
    return torch.tensor(vals, dtype=torch.float64).to(torch.float32).reshape(shape)


# ---------------------------------------------------------------- ops (docs/ops.md)


def layernorm(x, g, b, eps):
    return F.layer_norm(x, (x.shape[-1],), g, b, eps)


def rmsnorm(x, g, eps):
    rstd = torch.rsqrt((x * x).mean(-1, keepdim=True) + eps)
    return x * rstd * g


def linear(x, w, b=None):
    return F.linear(x, w, b)


def rope(qkv, H, Hkv, hd, theta):
    """Half-split RoPE on the q and k parts of a fused [B, T, (H + 2Hkv) hd]."""
    Bn, Tn, _ = qkv.shape
    half = hd // 2
    # angles, cos and sin in double, rounded to the model dtype
    freq = torch.tensor([theta ** (-2.0 * k / hd) for k in range(half)], dtype=torch.float64)
    a = torch.arange(Tn, dtype=torch.float64)[:, None] * freq[None, :]
    cs, sn = torch.cos(a).to(qkv.dtype), torch.sin(a).to(qkv.dtype)  # [T, half]
    nqk = (H + Hkv) * hd
    qk = qkv[..., :nqk].reshape(Bn, Tn, H + Hkv, hd)
    v = qkv[..., nqk:]
    x1, x2 = qk[..., :half], qk[..., half:]
    c_, s_ = cs[None, :, None, :], sn[None, :, None, :]
    out = torch.cat([x1 * c_ - x2 * s_, x2 * c_ + x1 * s_], dim=-1).reshape(Bn, Tn, nqk)
    return torch.cat([out, v], dim=-1)


def t5_bucket(r, NB, MD, bidirectional):
    ret = 0
    n_b = NB
    if bidirectional:
        n_b = NB // 2
        if r > 0:
            ret = n_b
        n = abs(r)
    else:
        n = max(-r, 0)
    max_exact = n_b // 2
    if n < max_exact:
        ret += n
    else:
        ret += min(n_b - 1, max_exact + int(math.log(n / max_exact) / math.log(MD / max_exact) * (n_b - max_exact)))
    return ret


def relpos_bias(table, Tq, Tk, NB, MD, bidirectional):
    """bias[h, i, j] = table[bucket(j - i), h]."""
    idx = torch.tensor([[t5_bucket(j - i, NB, MD, bidirectional) for j in range(Tk)] for i in range(Tq)],
                       dtype=torch.long)
    return table[idx].permute(2, 0, 1)  # [H, Tq, Tk]


def attention_core(q, k, v, H, Hkv, hd, scale, causal, bias=None):
    """q [B, Tq, H hd], k/v [B, Tk, Hkv hd] -> [B, Tq, H hd]."""
    Bn, Tq, _ = q.shape
    Tk = k.shape[1]
    q = q.reshape(Bn, Tq, H, hd).transpose(1, 2)
    k = k.reshape(Bn, Tk, Hkv, hd).transpose(1, 2)
    v = v.reshape(Bn, Tk, Hkv, hd).transpose(1, 2)
    if Hkv != H:  # query head h reads kv head h / (H / Hkv)
        k = k.repeat_interleave(H // Hkv, dim=1)
        v = v.repeat_interleave(H // Hkv, dim=1)
    s = scale * (q @ k.transpose(-1, -2))
    if bias is not None:
        s = s + bias[None]
    if causal:
        m = torch.ones(Tq, Tk, dtype=torch.bool).triu(1)
        s = s.masked_fill(m, float("-inf"))
    p = torch.softmax(s, dim=-1)
    return (p @ v).transpose(1, 2).reshape(Bn, Tq, H * hd)


def self_attention(qkv, H, Hkv, hd, scale, causal, bias=None):
    q = qkv[..., : H * hd]
    k = qkv[..., H * hd: (H + Hkv) * hd]
    v = qkv[..., (H + Hkv) * hd:]
    return attention_core(q, k, v, H, Hkv, hd, scale, causal, bias)


def cross_attention(q, kv, H, Hkv, hd, scale):
    return attention_core(q, kv[..., : Hkv * hd], kv[..., Hkv * hd:], H, Hkv, hd, scale, False)


def lm_head_loss(x, w, scale, labels):
    logits = (x @ w.t()) * scale
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1).long(), ignore_index=-1)


# ---------------------------------------------------------------- models


def forward(c, P, inp):
    fam, eps = c["family"], c["norm_eps"]
    H, Hkv, hd = c["n_head"], c["n_kv_head"], c["head_dim"]
    tok, labels = inp["tokens"].long(), inp["labels"]
    Tn = tok.shape[1]
    head_w = lambda emb: P[emb] if c["tie_embeddings"] else P["lm_head.weight"]  # noqa: E731
    if fam == "gpt2":
        x = P["wte.weight"][tok] + P["wpe.weight"][:Tn][None]
        sc = 1.0 / math.sqrt(hd)
        for i in range(c["n_layer"]):
            h = "h.%d." % i
            a = layernorm(x, P[h + "ln_1.weight"], P[h + "ln_1.bias"], eps)
            a = linear(a, P[h + "attn.c_attn.weight"], P[h + "attn.c_attn.bias"])
            a = self_attention(a, H, Hkv, hd, sc, True)
            a = linear(a, P[h + "attn.c_proj.weight"], P[h + "attn.c_proj.bias"])
            x = x + a
            m = layernorm(x, P[h + "ln_2.weight"], P[h + "ln_2.bias"], eps)
            m = linear(m, P[h + "mlp.c_fc.weight"], P[h + "mlp.c_fc.bias"])
            m = F.gelu(m, approximate="tanh")
            m = linear(m, P[h + "mlp.c_proj.weight"], P[h + "mlp.c_proj.bias"])
            x = x + m
        x = layernorm(x, P["ln_f.weight"], P["ln_f.bias"], eps)
        return lm_head_loss(x, head_w("wte.weight"), 1.0, labels)
    if fam == "llama":
        x = P["embed_tokens.weight"][tok]
        sc = 1.0 / math.sqrt(hd)
        Fd = c["d_ff"]
        for i in range(c["n_layer"]):
            h = "layers.%d." % i
            a = rmsnorm(x, P[h + "input_layernorm.weight"], eps)
            a = linear(a, P[h + "self_attn.qkv_proj.weight"])
            a = rope(a, H, Hkv, hd, c["rope_theta"])
            a = self_attention(a, H, Hkv, hd, sc, True)
            a = linear(a, P[h + "self_attn.o_proj.weight"])
            x = x + a
            m = rmsnorm(x, P[h + "post_attention_layernorm.weight"], eps)
            m = linear(m, P[h + "mlp.gate_up_proj.weight"])
            m = F.silu(m[..., :Fd]) * m[..., Fd:]
            m = linear(m, P[h + "mlp.down_proj.weight"])
            x = x + m
        x = rmsnorm(x, P["norm.weight"], eps)
        return lm_head_loss(x, head_w("embed_tokens.weight"), 1.0, labels)
    if fam == "bert":
        x = (P["embeddings.word_embeddings.weight"][tok] + P["embeddings.position_embeddings.weight"][:Tn][None]
             + P["embeddings.token_type_embeddings.weight"][0])
        x = layernorm(x, P["embeddings.LayerNorm.weight"], P["embeddings.LayerNorm.bias"], eps)
        sc = 1.0 / math.sqrt(hd)
        for i in range(c["n_layer"]):
            h = "layer.%d." % i
            a = linear(x, P[h + "attention.qkv.weight"], P[h + "attention.qkv.bias"])
            a = self_attention(a, H, Hkv, hd, sc, False)
            a = linear(a, P[h + "attention.output.dense.weight"], P[h + "attention.output.dense.bias"])
            x = layernorm(x + a, P[h + "attention.output.LayerNorm.weight"], P[h + "attention.output.LayerNorm.bias"],
                          eps)
            m = linear(x, P[h + "intermediate.dense.weight"], P[h + "intermediate.dense.bias"])
            m = F.gelu(m)
            m = linear(m, P[h + "output.dense.weight"], P[h + "output.dense.bias"])
            x = layernorm(x + m, P[h + "output.LayerNorm.weight"], P[h + "output.LayerNorm.bias"], eps)
        if c["pooler"]:  # computed, not used by the loss (its gradients are 0)
            _pooled = torch.tanh(linear(x[:, 0], P["pooler.dense.weight"], P["pooler.dense.bias"]))
        return lm_head_loss(x, head_w("embeddings.word_embeddings.weight"), 1.0, labels)
    if fam == "t5":
        NB, MD = c["relative_attention_num_buckets"], c["relative_attention_max_distance"]
        dtok = inp["decoder_tokens"].long()
        Td = dtok.shape[1]
        enc_bias = relpos_bias(P["encoder.relative_attention_bias.weight"], Tn, Tn, NB, MD, True)
        dec_bias = relpos_bias(P["decoder.relative_attention_bias.weight"], Td, Td, NB, MD, False)
        x = P["shared.weight"][tok]
        for i in range(c["n_layer"]):
            h = "encoder.%d." % i
            a = rmsnorm(x, P[h + "ln_1.weight"], eps)
            a = linear(a, P[h + "attn.qkv.weight"])
            a = self_attention(a, H, Hkv, hd, 1.0, False, enc_bias)
            x = x + linear(a, P[h + "attn.o.weight"])
            m = rmsnorm(x, P[h + "ln_2.weight"], eps)
            m = linear(torch.relu(linear(m, P[h + "ff.wi.weight"])), P[h + "ff.wo.weight"])
            x = x + m
        enc = rmsnorm(x, P["encoder.final_layer_norm.weight"], eps)
        x = P["shared.weight"][dtok]
        for i in range(c["n_decoder_layer"]):
            h = "decoder.%d." % i
            a = rmsnorm(x, P[h + "ln_1.weight"], eps)
            a = linear(a, P[h + "self_attn.qkv.weight"])
            a = self_attention(a, H, Hkv, hd, 1.0, True, dec_bias)
            x = x + linear(a, P[h + "self_attn.o.weight"])
            a = rmsnorm(x, P[h + "ln_2.weight"], eps)
            q = linear(a, P[h + "cross_attn.q.weight"])
            kv = linear(enc, P[h + "cross_attn.kv.weight"])
            a = cross_attention(q, kv, H, Hkv, hd, 1.0)
            x = x + linear(a, P[h + "cross_attn.o.weight"])
            m = rmsnorm(x, P[h + "ln_3.weight"], eps)
            m = linear(torch.relu(linear(m, P[h + "ff.wi.weight"])), P[h + "ff.wo.weight"])
            x = x + m
        x = rmsnorm(x, P["decoder.final_layer_norm.weight"], eps)
        scale = 1.0 / math.sqrt(c["d_model"]) if c["tie_embeddings"] else 1.0
        return lm_head_loss(x, head_w("shared.weight"), scale, labels)
    raise SystemExit("unknown family " + fam)


def make_inputs(c):
    g = torch.Generator().manual_seed(DATA_SEED)
    inp = {"tokens": torch.randint(0, VOCAB_DRAW, (B, T), generator=g, dtype=torch.int64)}
    if c["family"] == "t5":
        inp["decoder_tokens"] = torch.randint(0, VOCAB_DRAW, (B, T), generator=g, dtype=torch.int64)
    labels = torch.randint(0, VOCAB_DRAW, (B, T), generator=g, dtype=torch.int64)
    if c["family"] == "bert":  # ~25% of positions ignored
        drop = torch.rand((B, T), generator=g) < 0.25
        labels = labels.masked_fill(drop, -1)
        if not (labels >= 0).any():
            labels[0, 0] = 0
    inp["labels"] = labels
    for v in inp.values():
        assert v.max() < c["vocab_size"]
    return {k: v.to(torch.int32) for k, v in inp.items()}


def build(preset):
    c = load_config(preset)
    specs = param_specs(c)
    params = {name: init_param(c, name, shape) for name, shape in specs}
    return c, specs, params


def run_model(c, specs, params, inp, dtype=torch.float32):
    P = {n: params[n].detach().to(dtype).clone().requires_grad_(True) for n, _ in specs}
    loss = forward(c, P, inp)
    loss.backward()
    # parameters the loss does not reach (bert's pooler) have gradient 0
    return loss.detach(), {n: (P[n].grad.detach().clone() if P[n].grad is not None else torch.zeros_like(P[n]))
                           for n, _ in specs}


# ---------------------------------------------------------------- file format


def write_fixture(path, entries):
    out = bytearray(MAGIC)
    out += struct.pack("<I", len(entries))
    for name, t in entries:
        nb = name.encode("utf-8")
        if t.dtype == torch.float32:
            dt, fmt = DT_F32, "<%df"
        elif t.dtype == torch.int32:
            dt, fmt = DT_I32, "<%di"
        else:
            raise ValueError("%s: dtype %s" % (name, t.dtype))
        out += struct.pack("<I", len(nb)) + nb + struct.pack("<II", dt, t.dim())
        out += struct.pack("<%dI" % t.dim(), *t.shape)
        flat = t.contiguous().reshape(-1).tolist()
        out += struct.pack(fmt % len(flat), *flat)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(out)
    os.replace(tmp, path)
    return len(out)


def read_fixture(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != MAGIC:
        raise ValueError("%s: bad magic" % path)
    off = 8
    (n,) = struct.unpack_from("<I", data, off)
    off += 4
    entries = {}
    order = []
    for _ in range(n):
        (ln,) = struct.unpack_from("<I", data, off)
        off += 4
        name = data[off: off + ln].decode("utf-8")
        off += ln
        dt, nd = struct.unpack_from("<II", data, off)
        off += 8
        dims = struct.unpack_from("<%dI" % nd, data, off)
        off += 4 * nd
        cnt = 1
        for d in dims:
            cnt *= d
        vals = struct.unpack_from(("<%df" if dt == DT_F32 else "<%di") % cnt, data, off)
        off += 4 * cnt
        t = torch.tensor(vals, dtype=torch.float32 if dt == DT_F32 else torch.int32).reshape(dims)
        entries[name] = t
        order.append(name)
    if off != len(data):
        raise ValueError("%s: %d trailing bytes" % (path, len(data) - off))
    return order, entries


# ---------------------------------------------------------------- driver


def generate(preset, outdir, quiet=False):
    """Writes <outdir>/<preset>.bin; returns (path, n_params, loss)."""
    c, specs, params = build(preset)
    inp = make_inputs(c)
    loss, grads = run_model(c, specs, params, inp)
    entries = [("tokens", inp["tokens"])]
    if "decoder_tokens" in inp:
        entries.append(("decoder_tokens", inp["decoder_tokens"]))
    entries += [("labels", inp["labels"]),
                ("meta.B", torch.tensor([B], dtype=torch.int32)),
                ("meta.T", torch.tensor([T], dtype=torch.int32)),
                ("meta.seed", torch.tensor([SEED], dtype=torch.int32)),
                ("loss", loss.reshape(1).to(torch.float32))]
    for name in PROBES[c["family"]]:
        entries.append(("param." + name, params[name]))
    for name, _ in specs:
        entries.append(("grad." + name, grads[name]))
    path = os.path.join(outdir, preset + ".bin")
    size = write_fixture(path, entries)
    n_params = sum(params[n].numel() for n, _ in specs)
    if not quiet:
        print("%-11s params %7s  loss %.6f  %s (%d bytes)" % (preset, format(n_params, ","), loss.item(),
                                                               os.path.relpath(path, ROOT), size))
    return path, n_params, loss.item()


def compare(preset, ref_path, new_path):
    errs = []
    ro, ref = read_fixture(ref_path)
    no, new = read_fixture(new_path)
    if ro != no:
        errs.append("entry lists differ: %s" % sorted(set(ro) ^ set(no)))
    for name in ro:
        if name not in new:
            continue
        a, b = ref[name], new[name]
        if a.shape != b.shape or a.dtype != b.dtype:
            errs.append("%s: shape/dtype %s %s vs %s %s" % (name, tuple(a.shape), a.dtype, tuple(b.shape), b.dtype))
        elif a.dtype == torch.int32 or name.startswith("param."):
            if not torch.equal(a, b):
                errs.append("%s: differs (exact comparison)" % name)
        elif not torch.allclose(a, b, rtol=1e-5, atol=1e-8):
            d = (a - b).abs().max().item()
            errs.append("%s: max abs diff %.3g" % (name, d))
    for e in errs:
        print("  %s: %s" % (preset, e))
    return not errs


def selftest(verbose=False):
    """Float64 gradients vs central finite differences, and fp32 vs fp64 gradients."""
    ok = True
    torch.manual_seed(0)
    for preset in PRESETS:
        c, specs, params = build(preset)
        inp = make_inputs(c)
        l32, g32 = run_model(c, specs, params, inp, torch.float32)
        l64, g64 = run_model(c, specs, params, inp, torch.float64)
        worst_fd, worst_32 = 0.0, 0.0
        P = {n: params[n].to(torch.float64) for n, _ in specs}
        rng = torch.Generator().manual_seed(3)
        names = [n for n, _ in specs]
        picks = []
        for k in range(12):  # a few elements of a few params, plus the largest gradient entries
            n = names[int(torch.randint(len(names), (1,), generator=rng))]
            picks.append((n, int(torch.randint(P[n].numel(), (1,), generator=rng))))
        for n in names[:3] + names[-3:]:
            picks.append((n, int(g64[n].abs().reshape(-1).argmax())))
        eps = 1e-6
        for n, idx in picks:
            flat = P[n].view(-1)
            old = flat[idx].item()
            with torch.no_grad():
                flat[idx] = old + eps
                lp = forward(c, P, inp).item()
                flat[idx] = old - eps
                lm = forward(c, P, inp).item()
                flat[idx] = old
            fd = (lp - lm) / (2 * eps)
            an = g64[n].reshape(-1)[idx].item()
            # relative error, floored at 1e-4 (finite differences of a tiny entry are dominated by the
            # loss's rounding, ~1e-16 * loss / eps ~ 1e-9 absolute)
            err = abs(fd - an) / max(abs(fd), abs(an), 1e-4)
            if verbose or err > 1e-5:
                print("    %s[%d]: autograd %.9e  finite diff %.9e  rel %.2e" % (n, idx, an, fd, err))
            worst_fd = max(worst_fd, err)
        for n in names:
            scale = g64[n].abs().max().item()
            if scale > 0:
                worst_32 = max(worst_32, (g32[n].double() - g64[n]).abs().max().item() / scale)
        good = worst_fd < 1e-5 and worst_32 < 1e-3 and abs(l32.item() - l64.item()) < 1e-4
        ok &= good
        print("%-11s loss f32 %.6f f64 %.6f  fd-vs-autograd(f64) worst rel %.2e over %d entries  "
              "f32-vs-f64 grads worst rel %.2e  %s" % (preset, l32.item(), l64.item(), worst_fd, len(picks),
                                                      worst_32, "ok" if good else "FAIL"))
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "data", "fixtures"),
                    help="output folder (default tests/data/fixtures)")
    ap.add_argument("--check", metavar="DIR", help="regenerate into a temp folder and compare with DIR")
    ap.add_argument("--selftest", action="store_true", help="check the reference against finite differences")
    ap.add_argument("-v", "--verbose", action="store_true", help="with --selftest: print every probed entry")
    ap.add_argument("presets", nargs="*", default=PRESETS, help="presets (default: the four tiny ones)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    if args.selftest:
        return 0 if selftest(args.verbose) else 1
    if args.check:
        ok = True
        with tempfile.TemporaryDirectory() as tmp:
            for p in args.presets:
                new, n_params, loss = generate(p, tmp, quiet=True)
                ref = os.path.join(args.check, p + ".bin")
                if not os.path.exists(ref):
                    print("  %s: missing %s" % (p, ref))
                    ok = False
                    continue
                good = compare(p, ref, new)
                print("%-11s params %7s  loss %.6f  %s" % (p, format(n_params, ","), loss,
                                                          "matches" if good else "MISMATCH"))
                ok &= good
        return 0 if ok else 1
    os.makedirs(args.out, exist_ok=True)
    for p in args.presets:
        generate(p, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
