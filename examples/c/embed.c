/* Embed DNA sequences with a model folder (config.json + model.safetensors + tokenizer.json) and print the first
 * values of each embedding. Build: gcc embed.c $(pkg-config --cflags --libs dnabert)
 * Usage: embed [--int8] MODEL_DIR SEQUENCE [SEQUENCE...]
 * --int8 quantizes the model first (the four linears of each layer in int8; see dnabert_model_quantize). */
#include <dnabert.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    int int8 = argc > 1 && strcmp(argv[1], "--int8") == 0;
    if (int8) { argv++; argc--; }
    if (argc < 3) {
        fprintf(stderr, "usage: %s [--int8] MODEL_DIR SEQUENCE [SEQUENCE...]\n", argv[0]);
        return 2;
    }
    dnabert_model *model = NULL;
    if (dnabert_model_load(argv[1], &model) != DNABERT_OK) {
        fprintf(stderr, "error: %s\n", dnabert_last_error());
        return 1;
    }
    if (int8) {
        dnabert_model *quantized = NULL;
        if (dnabert_model_quantize(model, DNABERT_PRECISION_INT8, &quantized) != DNABERT_OK) {
            fprintf(stderr, "error: %s\n", dnabert_last_error());
            dnabert_model_free(model);
            return 1;
        }
        dnabert_model_free(model);   /* the int8 model is independent of the float32 one */
        model = quantized;
        printf("int8 kernel: %s, attention products: %s\n", dnabert_int8_kernel(), dnabert_int8_attention());
    }
    dnabert_model_info info = { .struct_size = sizeof info };
    dnabert_model_get_info(model, &info);
    char blas[512];
    size_t blas_len = 0;
    if (dnabert_blas_info(blas, sizeof blas, &blas_len) == DNABERT_OK) printf("BLAS: %s\n", blas);
    printf("model: %d layers, hidden %d, %lld parameters, %s\n", info.num_layers, info.hidden_size,
           (long long)info.num_parameters, info.precision == DNABERT_PRECISION_INT8 ? "int8" : "float32");

    size_t n = (size_t)(argc - 2);
    const char **seqs = (const char **)(argv + 2);
    size_t *lens = malloc(n * sizeof *lens);
    for (size_t i = 0; i < n; i++) lens[i] = strlen(seqs[i]);
    float *emb = malloc(n * (size_t)info.hidden_size * sizeof *emb);
    dnabert_embed_params params = dnabert_embed_default_params();
    params.pooling = DNABERT_POOL_MEAN;
    if (dnabert_embed(model, seqs, lens, n, &params, emb) != DNABERT_OK) {
        fprintf(stderr, "error: %s\n", dnabert_last_error());
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        printf("sequence %zu (%zu bp):", i, lens[i]);
        for (int h = 0; h < 4 && h < info.hidden_size; h++) printf(" %.4f", emb[i * (size_t)info.hidden_size + (size_t)h]);
        printf(" ...\n");
    }
    free(emb);
    free(lens);
    dnabert_model_free(model);
    return 0;
}
