/*
 * pp_init.c -- parameter initialisation (see pp_init.h and docs/ops.md).
 * Each family's rule is chosen by the parameter's name as pp_zoo.c builds it.
 */
#include "kernels/pp_init.h"

#include <math.h>
#include <string.h>

uint64_t pp_init_splitmix64(uint64_t x) {
    x += 0x9e3779b97f4a7c15ULL;
    uint64_t z = x;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t pp_init_fnv1a64(const char *s) {
    uint64_t h = 14695981039346656037ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

double pp_init_normal(uint64_t key, uint64_t i) {
    uint64_t a = pp_init_splitmix64(key + 2 * i), b = pp_init_splitmix64(key + 2 * i + 1);
    double u1 = (double)((a >> 11) + 1) * 0x1.0p-53, u2 = (double)(b >> 11) * 0x1.0p-53;
    return sqrt(-2.0 * log(u1)) * cos(2.0 * 3.14159265358979323846 * u2);
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

/* 1 for norm weights, 0 for biases, else -1 (a normal draw). */
static int constant_of(const pp_model_config *c, const char *name) {
    if (ends_with(name, ".bias")) return 0;
    if (strstr(name, "ln_") || strstr(name, "ln_f") || strstr(name, "layernorm") || strstr(name, "LayerNorm") ||
        ends_with(name, "norm.weight") || strstr(name, "final_layer_norm"))
        return 1;
    (void)c;
    return -1;
}

void pp_init_param(const pp_model_config *c, const pp_tensor *t, uint64_t seed, float *out) {
    const char *name = t->name;
    long long n = pp_tensor_numel(t);
    int k = constant_of(c, name);
    if (k >= 0) {
        for (long long i = 0; i < n; i++) out[i] = (float)k;
        return;
    }
    double std = 0.02, std_rows2 = 0; /* std_rows2: std of rows >= split_row */
    long long split_row = -1;
    double D = c->d_model, hd = c->head_dim, H = c->n_head, L = c->n_layer;
    switch (c->family) {
    case PP_FAMILY_GPT2:
        if (!strcmp(name, "wpe.weight")) std = 0.01;
        else if (ends_with(name, ".c_proj.weight")) std = 0.02 / sqrt(2.0 * L);
        break;
    case PP_FAMILY_LLAMA:
        if (ends_with(name, ".o_proj.weight") || ends_with(name, ".down_proj.weight")) std = 0.02 / sqrt(2.0 * L);
        break;
    case PP_FAMILY_BERT: break;
    case PP_FAMILY_T5:
        if (!strcmp(name, "shared.weight")) std = 1.0;
        else if (ends_with(name, ".qkv.weight")) {
            std = 1.0 / sqrt(D * hd);
            std_rows2 = 1.0 / sqrt(D);
            split_row = (long long)(H * hd);
        } else if (ends_with(name, "cross_attn.q.weight")) std = 1.0 / sqrt(D * hd);
        else if (ends_with(name, "cross_attn.kv.weight")) std = 1.0 / sqrt(D);
        else if (ends_with(name, ".o.weight")) std = 1.0 / sqrt(H * hd);
        else if (ends_with(name, ".ff.wi.weight")) std = 1.0 / sqrt(D);
        else if (ends_with(name, ".ff.wo.weight")) std = 1.0 / sqrt((double)c->d_ff);
        else if (ends_with(name, "relative_attention_bias.weight")) std = 1.0 / sqrt(D);
        else if (!strcmp(name, "lm_head.weight")) std = 1.0 / sqrt(D);
        break;
    default: break;
    }
    uint64_t key = pp_init_splitmix64(seed ^ pp_init_fnv1a64(name));
    long long cols = t->ndim == 2 ? t->shape[1] : n;
#pragma omp parallel for schedule(static) if (n > 65536)
    for (long long i = 0; i < n; i++) {
        double s = (split_row >= 0 && i / cols >= split_row) ? std_rows2 : std;
        out[i] = (float)(s * pp_init_normal(key, (uint64_t)i));
    }
}
