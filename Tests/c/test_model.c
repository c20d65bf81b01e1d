/* C API tests of the encoder: hidden states against the project's PyTorch reference (model_expected.bin, made by
 * tools/reference/make_c_model_fixture.py), several threads sharing one model, and every error path.
 * Usage: test_model FIXTURE_MODEL_DIR */
#define _POSIX_C_SOURCE 200809L
#include <dnabert.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

static int32_t B, L, H;
static int32_t *ids, *mask;
static float *expected;
static dnabert_model *shared_model;

static float max_abs_diff(const float *a, const float *b, size_t n) {
    float m = 0;
    for (size_t i = 0; i < n; i++) {
        float d = fabsf(a[i] - b[i]);
        if (d > m) m = d;
    }
    return m;
}

static void *worker(void *arg) {
    float *out = malloc((size_t)B * L * H * sizeof *out);
    int *ok = arg;
    dnabert_forward_params p = dnabert_forward_default_params();
    p.n_threads = 1;
    *ok = 1;
    for (int i = 0; i < 10; i++) {
        if (dnabert_forward(shared_model, ids, mask, (size_t)B, (size_t)L, &p, out) != DNABERT_OK ||
            max_abs_diff(out, expected, (size_t)B * L * H) > 1e-4f)
            *ok = 0;
    }
    free(out);
    return NULL;
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "Tests/DNABertTests/Fixtures/model";
    FILE *f = fopen("Tests/c/model_expected.bin", "rb");
    CHECK(f != NULL, "fixture");
    if (!f) return 1;
    int32_t dims[3];
    CHECK(fread(dims, sizeof dims, 1, f) == 1, "dims");
    B = dims[0], L = dims[1], H = dims[2];
    size_t n = (size_t)B * L;
    ids = malloc(n * sizeof *ids);
    mask = malloc(n * sizeof *mask);
    expected = malloc(n * H * sizeof *expected);
    CHECK(fread(ids, sizeof *ids, n, f) == n && fread(mask, sizeof *mask, n, f) == n &&
              fread(expected, sizeof *expected, n * H, f) == n * H, "fixture body");
    fclose(f);

    char info[1024];
    size_t len = 0;
    CHECK(dnabert_blas_info(info, sizeof info, &len) == DNABERT_OK && strstr(info, "core") != NULL, "blas info: %s", info);

    dnabert_model *m = NULL;
    CHECK(dnabert_model_load(dir, &m) == DNABERT_OK && m != NULL, "load %s", dir);
    if (!m) {
        return REPORT();
    }
    dnabert_model_info mi = { .struct_size = sizeof mi };
    CHECK(dnabert_model_get_info(m, &mi) == DNABERT_OK && mi.hidden_size == H && mi.num_heads == 6 && mi.has_mlm_head,
          "info");
    float *out = malloc(n * H * sizeof *out);
    CHECK(dnabert_forward(m, ids, mask, (size_t)B, (size_t)L, NULL, out) == DNABERT_OK, "forward");
    float d = max_abs_diff(out, expected, n * H);
    CHECK(d < 1e-4f, "hidden states match PyTorch (max abs diff %g)", (double)d);

    /* four threads share the model */
    shared_model = m;
    pthread_t th[4];
    int ok[4];
    for (int i = 0; i < 4; i++) pthread_create(&th[i], NULL, worker, &ok[i]);
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    CHECK(ok[0] && ok[1] && ok[2] && ok[3], "concurrent forward calls agree with the reference");

    /* errors */
    dnabert_model *bad = NULL;
    CHECK(dnabert_model_load("/nonexistent-model", &bad) < 0 && bad == NULL, "missing folder");
    CHECK(dnabert_model_load(NULL, &bad) == DNABERT_ERR_INVALID_ARGUMENT, "NULL dir");
    CHECK(dnabert_forward(NULL, ids, mask, (size_t)B, (size_t)L, NULL, out) == DNABERT_ERR_INVALID_ARGUMENT, "NULL model");
    CHECK(dnabert_forward(m, NULL, mask, (size_t)B, (size_t)L, NULL, out) == DNABERT_ERR_INVALID_ARGUMENT, "NULL ids");
    CHECK(dnabert_forward(m, ids, mask, (size_t)B, (size_t)L, NULL, NULL) == DNABERT_ERR_INVALID_ARGUMENT, "NULL out");
    CHECK(dnabert_forward(m, ids, mask, 0, (size_t)L, NULL, out) == DNABERT_ERR_INVALID_ARGUMENT, "batch 0");
    int32_t bad_ids[3] = {1, 99999, 2};
    CHECK(dnabert_forward(m, bad_ids, NULL, 1, 3, NULL, out) == DNABERT_ERR_INVALID_ARGUMENT, "id out of range");
    int32_t neg_ids[3] = {1, -7, 2};
    CHECK(dnabert_forward(m, neg_ids, NULL, 1, 3, NULL, out) == DNABERT_ERR_INVALID_ARGUMENT, "negative id");
    int32_t bad_mask[3] = {1, 5, 1};
    int32_t good_ids[3] = {1, 5, 2};
    CHECK(dnabert_forward(m, good_ids, bad_mask, 1, 3, NULL, out) == DNABERT_ERR_INVALID_ARGUMENT, "mask value 5");
    CHECK(dnabert_attention_map(m, good_ids, NULL, 1, 3, 7, NULL, out) == DNABERT_ERR_INVALID_ARGUMENT, "layer 7");
    dnabert_embed_params ep = dnabert_embed_default_params();
    const char *seqs[1] = {"ACGT"};
    size_t lens[1] = {4};
    CHECK(dnabert_embed(m, seqs, lens, 1, &ep, out) == DNABERT_ERR_INVALID_ARGUMENT, "embed without a tokenizer");
    dnabert_tokenizer *t = NULL;
    CHECK(dnabert_model_tokenizer(m, &t) == DNABERT_ERR_NOT_FOUND && t == NULL, "no tokenizer");
    CHECK(dnabert_model_create("{", 1, NULL, 0, &bad) == DNABERT_ERR_FORMAT, "bad config json");
    const char *neg = "{\"vocab_size\": 4096, \"hidden_size\": 0, \"num_hidden_layers\": 2, \"num_attention_heads\": 2, "
                      "\"intermediate_size\": 8}";
    CHECK(dnabert_model_create(neg, strlen(neg), NULL, 0, &bad) == DNABERT_ERR_INVALID_ARGUMENT, "zero hidden size");
    CHECK(dnabert_convert_pytorch("/nonexistent.bin", "/tmp/x.safetensors") < 0, "convert missing file");

    dnabert_model_free(m);
    CHECK(dnabert_forward(m, ids, mask, (size_t)B, (size_t)L, NULL, out) == DNABERT_ERR_INVALID_ARGUMENT, "freed model");
    dnabert_model_free(m);
    dnabert_model_free(NULL);
    free(out);
    free(ids);
    free(mask);
    free(expected);
    return REPORT();
}
