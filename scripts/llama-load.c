/* The libllama oracle for big files on the GPU machine, where there is no Rust
 * toolchain to build kchat's test binaries: load a GGUF file (any shard of a
 * split model) with libllama, print what libllama sees, and decode a few
 * tokens to prove it accepts every tensor. Used by scripts/gpu-foundation.sh.
 *
 *   llama-load MODEL [N_GPU_LAYERS]
 * Exit status 0 only if the model loads and the logits are finite. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "llama.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: llama-load MODEL [N_GPU_LAYERS]\n");
        return 2;
    }
    llama_backend_init();
    struct llama_model_params mp = llama_model_default_params();
    mp.n_gpu_layers = argc > 2 ? atoi(argv[2]) : 0;
    double t0 = now();
    struct llama_model *model = llama_model_load_from_file(argv[1], mp);
    if (!model) {
        fprintf(stderr, "llama-load: libllama refused %s\n", argv[1]);
        return 1;
    }
    double t_load = now() - t0;
    const struct llama_vocab *vocab = llama_model_get_vocab(model);
    char arch[64] = {0};
    llama_model_meta_val_str(model, "general.architecture", arch, sizeof arch);
    printf("libllama: arch %s, %d layers, n_embd %d, %d heads, vocab %d, %.2f GiB, %.2fB params, load %.2f s (ngl %d)\n",
           arch, llama_model_n_layer(model), llama_model_n_embd(model), llama_model_n_head(model),
           llama_vocab_n_tokens(vocab), llama_model_size(model) / 1073741824.0, llama_model_n_params(model) / 1e9,
           t_load, mp.n_gpu_layers);

    struct llama_context_params cp = llama_context_default_params();
    cp.n_ctx = 512;
    cp.n_batch = 64;
    struct llama_context *ctx = llama_init_from_model(model, cp);
    if (!ctx) {
        fprintf(stderr, "llama-load: cannot create a context\n");
        return 1;
    }
    llama_token prompt[8] = {200006, 1428, 200008, 13225, 11, 2375, 0, 200007};
    double t1 = now();
    if (llama_decode(ctx, llama_batch_get_one(prompt, 8)) != 0) {
        fprintf(stderr, "llama-load: decode failed\n");
        return 1;
    }
    const float *logits = llama_get_logits_ith(ctx, -1);
    int n_vocab = llama_vocab_n_tokens(vocab), best = 0, finite = 1;
    for (int i = 0; i < n_vocab; i++) {
        if (!isfinite(logits[i])) finite = 0;
        if (logits[i] > logits[best]) best = i;
    }
    printf("libllama: decoded 8 tokens in %.3f s, logits finite: %s, argmax %d\n", now() - t1, finite ? "yes" : "NO", best);
    llama_free(ctx);
    llama_model_free(model);
    return finite ? 0 : 1;
}
