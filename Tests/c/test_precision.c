/* Int8 from C: dnabert_model_quantize, the precision field of dnabert_model_info (and a caller built before it
 * was appended), bad precision codes, double quantization, and an int8 forward close to the float32 one
 * (cosine computed here), dnabert_int8_linear_smoothed. Usage: test_precision MODEL_DIR */
#include <dnabert.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "FAILED %s:%d: %s (%s)\n", __FILE__, __LINE__, #cond, dnabert_last_error()); return 1; } } while (0)

int main(int argc, char **argv) {
    CHECK(argc == 2);
    dnabert_model *m = NULL, *q = NULL, *qq = NULL;
    CHECK(dnabert_model_load(argv[1], &m) == DNABERT_OK);
    CHECK(dnabert_model_quantize(m, 7, &q) == DNABERT_ERR_INVALID_ARGUMENT && q == NULL);
    CHECK(strstr(dnabert_last_error(), "unknown precision") != NULL);
    CHECK(dnabert_model_quantize(NULL, DNABERT_PRECISION_INT8, &q) == DNABERT_ERR_INVALID_ARGUMENT);
    CHECK(dnabert_model_quantize(m, DNABERT_PRECISION_INT8, NULL) == DNABERT_ERR_INVALID_ARGUMENT);
    CHECK(dnabert_model_quantize(m, DNABERT_PRECISION_INT8, &q) == DNABERT_OK && q != NULL);
    CHECK(dnabert_model_quantize(q, DNABERT_PRECISION_INT8, &qq) == DNABERT_ERR_INVALID_ARGUMENT && qq == NULL);
    CHECK(strstr(dnabert_last_error(), "already int8") != NULL);

    dnabert_model_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    CHECK(dnabert_model_get_info(q, &info) == DNABERT_OK && info.precision == DNABERT_PRECISION_INT8);
    CHECK(dnabert_model_get_info(m, &info) == DNABERT_OK && info.precision == DNABERT_PRECISION_FP32);
    dnabert_model_info old;                       /* a caller compiled before `precision` was appended */
    memset(&old, 0, sizeof old);
    old.struct_size = (uint32_t)offsetof(dnabert_model_info, precision);
    old.precision = 42;
    CHECK(dnabert_model_get_info(q, &old) == DNABERT_OK && old.precision == 42 && old.hidden_size == info.hidden_size);

    enum { L = 48 };
    int32_t ids[L];
    for (int i = 0; i < L; i++) ids[i] = i == 0 ? 1 : i == L - 1 ? 2 : 5 + (i * 37) % 4000;
    static float a[L * 1024], b[L * 1024];
    CHECK(info.hidden_size <= 1024);
    CHECK(dnabert_forward(m, ids, NULL, 1, L, NULL, a) == DNABERT_OK);
    CHECK(dnabert_forward(q, ids, NULL, 1, L, NULL, b) == DNABERT_OK);
    double dot = 0, na = 0, nb = 0, diff = 0;
    for (int i = 0; i < L * info.hidden_size; i++) {
        dot += (double)a[i] * b[i]; na += (double)a[i] * a[i]; nb += (double)b[i] * b[i];
        diff += fabs((double)a[i] - b[i]);
    }
    double cosine = dot / sqrt(na * nb);
    const char *att = dnabert_int8_attention();
    printf("int8 kernel %s, attention products %s: hidden-state cosine to float32 %.6f\n", dnabert_int8_kernel(), att,
           cosine);
    CHECK(cosine > 0.999 && diff > 0);
    CHECK(att && (strcmp(att, "bf16") == 0 || strcmp(att, "float32") == 0));

    /* dnabert_int8_linear_smoothed: NULL smoothing is dnabert_int8_linear; s = 1 too; a bad factor is refused */
    enum { R = 5, K = 40, N = 24 };
    static float x[R * K], w[N * K], s[K], y0[R * N], y1[R * N], y2[R * N], y3[R * N];
    for (int i = 0; i < R * K; i++) x[i] = (float)((i * 7919) % 101) / 50.0f - 1.0f;
    for (int i = 0; i < N * K; i++) w[i] = (float)((i * 104729) % 97) / 970.0f - 0.05f;
    for (int i = 0; i < K; i++) s[i] = 1.0f;
    CHECK(dnabert_int8_linear(x, R, K, w, N, NULL, 1, 1, y0, NULL) == DNABERT_OK);
    CHECK(dnabert_int8_linear_smoothed(x, R, K, w, N, NULL, NULL, 1, 1, y1, NULL) == DNABERT_OK);
    CHECK(dnabert_int8_linear_smoothed(x, R, K, w, N, s, NULL, 1, 1, y2, NULL) == DNABERT_OK);
    CHECK(memcmp(y0, y1, sizeof y0) == 0 && memcmp(y0, y2, sizeof y0) == 0);
    for (int i = 0; i < K; i++) s[i] = 0.25f + (float)(i % 5);
    CHECK(dnabert_int8_linear_smoothed(x, R, K, w, N, s, NULL, 1, 1, y3, NULL) == DNABERT_OK);
    double dd = 0;
    for (int i = 0; i < R * N; i++) dd += fabs((double)y3[i] - y0[i]);
    CHECK(dd > 0);                                  /* smoothing changed the rounding, not the product */
    for (int i = 0; i < R * N; i++) CHECK(fabs((double)y3[i] - y0[i]) < 0.05);
    s[3] = 0.0f;
    CHECK(dnabert_int8_linear_smoothed(x, R, K, w, N, s, NULL, 1, 1, y3, NULL) == DNABERT_ERR_INVALID_ARGUMENT);
    CHECK(strstr(dnabert_last_error(), "smoothing factor") != NULL);

    dnabert_model_free(q);
    dnabert_model_free(m);
    printf("test_precision: all passed\n");
    return 0;
}
