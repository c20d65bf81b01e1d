/* Int8 from C: dnabert_model_quantize, the precision field of dnabert_model_info (and a caller built before it
 * was appended), bad precision codes, double quantization, every inference entry point of an int8 model close to
 * float32's (forward, all hidden states, MLM logits, embed, a classifier's probabilities and logits; cosines and
 * agreement computed here), QLoRA steps on the int8 base, dnabert_int8_linear_smoothed.
 * Usage: test_precision MODEL_DIR */
#define _POSIX_C_SOURCE 200809L
#include <dnabert.h>
#include <dirent.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "FAILED %s:%d: %s (%s)\n", __FILE__, __LINE__, #cond, dnabert_last_error()); return 1; } } while (0)

/* cos(a, b) over n floats, in double */
static double cosine_of(const float *a, const float *b, size_t n) {
    double dot = 0, na = 0, nb = 0;
    for (size_t i = 0; i < n; i++) { dot += (double)a[i] * b[i]; na += (double)a[i] * a[i]; nb += (double)b[i] * b[i]; }
    return na > 0 && nb > 0 ? dot / sqrt(na * nb) : 0;
}

/* A flat folder and its files (a saved LoRA classifier). */
static void remove_folder(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    char path[1200];
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

/* The other entry points at int8 against float32: hidden states of every layer, MLM logits, embeddings, and a
 * classifier trained on the float32 base run on the int8 base; then LoRA steps on the int8 base itself. */
static int every_entry_point(dnabert_model *m, dnabert_model *q, const dnabert_model_info *info) {
    enum { B = 2, T = 40, NSEQ = 16, SEQ = 240 };
    size_t H = (size_t)info->hidden_size, layers = (size_t)info->num_layers + 1, V = (size_t)info->vocab_size;
    int32_t ids[B * T], mask[B * T];
    for (int i = 0; i < B * T; i++) {
        int t = i % T;
        ids[i] = t == 0 ? 1 : t == T - 1 ? 2 : 5 + (i * 7919) % 4000;
        mask[i] = i >= T + 30 ? 0 : 1;                             /* the second row padded after 30 tokens */
    }
    size_t nh = layers * B * T * H, nl = (size_t)B * T * V;
    float *ha = malloc(nh * sizeof *ha), *hb = malloc(nh * sizeof *hb);
    float *la = malloc(nl * sizeof *la), *lb = malloc(nl * sizeof *lb);
    CHECK(ha && hb && la && lb);
    CHECK(dnabert_forward_all_hidden(m, ids, mask, B, T, NULL, ha) == DNABERT_OK);
    CHECK(dnabert_forward_all_hidden(q, ids, mask, B, T, NULL, hb) == DNABERT_OK);
    for (size_t l = 0; l < layers; l++) {
        double c = cosine_of(ha + l * B * T * H, hb + l * B * T * H, B * T * H);
        CHECK(c > 0.999);
    }
    CHECK(memcmp(ha, hb, (size_t)B * T * H * sizeof *ha) == 0);     /* the embeddings stay float32 */
    CHECK(memcmp(ha + (layers - 1) * B * T * H, hb + (layers - 1) * B * T * H, (size_t)B * T * H * sizeof *ha) != 0);
    CHECK(dnabert_mlm_logits(m, ids, mask, B, T, NULL, la) == DNABERT_OK);
    CHECK(dnabert_mlm_logits(q, ids, mask, B, T, NULL, lb) == DNABERT_OK);
    int agree = 0, real = 0;
    for (int i = 0; i < B * T; i++) {
        if (!mask[i]) continue;
        const float *a = la + (size_t)i * V, *b = lb + (size_t)i * V;
        size_t ia = 0, ib = 0;
        for (size_t v = 1; v < V; v++) { if (a[v] > a[ia]) ia = v; if (b[v] > b[ib]) ib = v; }
        agree += ia == ib;
        real++;
    }
    double lc = cosine_of(la, lb, nl);
    printf("int8 vs float32 from C: MLM logits cosine %.6f, argmax agreement %d of %d\n", lc, agree, real);
    CHECK(lc > 0.999 && agree >= real * 9 / 10 && memcmp(la, lb, nl * sizeof *la) != 0);   /* close, and really int8 */
    free(ha); free(hb); free(la); free(lb);

    /* sequences: a fixed pseudo-random DNA generator (the model does not care that it is not a genome here) */
    static char seqbuf[NSEQ][SEQ + 1];
    const char *seqs[NSEQ], *labels[NSEQ];
    size_t lens[NSEQ];
    unsigned x = 12345u;
    for (int i = 0; i < NSEQ; i++) {
        for (int j = 0; j < SEQ; j++) { x = x * 1103515245u + 12345u; seqbuf[i][j] = "ACGT"[(x >> 16) & 3]; }
        if (i % 2) for (int j = 0; j < SEQ; j += 3) seqbuf[i][j] = 'G';  /* a learnable difference for label 1 */
        seqbuf[i][SEQ] = 0;
        seqs[i] = seqbuf[i]; lens[i] = SEQ; labels[i] = i % 2 ? "1" : "0";
    }
    static float ea[NSEQ * 1024], eb[NSEQ * 1024];
    CHECK(H <= 1024);
    CHECK(dnabert_embed(m, seqs, lens, NSEQ, NULL, ea) == DNABERT_OK);
    CHECK(dnabert_embed(q, seqs, lens, NSEQ, NULL, eb) == DNABERT_OK);
    for (int i = 0; i < NSEQ; i++) CHECK(cosine_of(ea + i * H, eb + i * H, H) > 0.999);

    /* a classifier fine-tuned (briefly) on the float32 base, saved, loaded on the int8 base */
    dnabert_dataset *train = NULL;
    CHECK(dnabert_dataset_from_arrays(seqs, lens, labels, NSEQ, NULL, DNABERT_PROBLEM_SINGLE_LABEL, &train) == DNABERT_OK);
    dnabert_finetune_params fp = dnabert_finetune_default_params();
    fp.max_steps = 6; fp.batch_size = 8; fp.seed = 3; fp.learning_rate = 5e-3;
    dnabert_finetuner *ft = NULL, *qft = NULL;
    dnabert_classifier *clf = NULL, *on8 = NULL;
    CHECK(dnabert_finetuner_create(m, train, NULL, &fp, &ft) == DNABERT_OK);
    CHECK(dnabert_finetuner_run(ft, NULL, NULL) == DNABERT_OK);
    CHECK(dnabert_finetuner_classifier(ft, &clf) == DNABERT_OK);
    char dir[] = "/tmp/dnabert-c-precision-XXXXXX", sub[64];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(sub, sizeof sub, "%s/lora", dir);
    int saved = dnabert_classifier_save(clf, sub) == DNABERT_OK;
    int loaded = saved && dnabert_classifier_load(q, sub, &on8) == DNABERT_OK;
    remove_folder(sub);
    rmdir(dir);
    CHECK(saved && loaded);
    float pa[NSEQ * 2], pb[NSEQ * 2], ga[B * 2], gb[B * 2];
    CHECK(dnabert_classifier_predict(clf, seqs, lens, NSEQ, NULL, pa) == DNABERT_OK);
    CHECK(dnabert_classifier_predict(on8, seqs, lens, NSEQ, NULL, pb) == DNABERT_OK);
    double worst = 0;
    for (int i = 0; i < NSEQ * 2; i++) worst = fmax(worst, fabs((double)pa[i] - pb[i]));
    CHECK(dnabert_classifier_logits(clf, ids, mask, B, T, NULL, ga) == DNABERT_OK);
    CHECK(dnabert_classifier_logits(on8, ids, mask, B, T, NULL, gb) == DNABERT_OK);
    for (int i = 0; i < B * 2; i++) worst = fmax(worst, fabs((double)ga[i] - gb[i]) / (1 + fabs((double)ga[i])));
    printf("int8 vs float32 from C: classifier probabilities and logits within %.4f\n", worst);
    CHECK(worst < 0.02);

    /* QLoRA: LoRA steps on the frozen int8 base, and its classifier predicts */
    CHECK(dnabert_finetuner_create(q, train, NULL, &fp, &qft) == DNABERT_OK);
    dnabert_finetune_metrics mt;
    memset(&mt, 0, sizeof mt);
    mt.struct_size = sizeof mt;
    CHECK(dnabert_finetuner_step(qft, &mt) == DNABERT_OK && isfinite(mt.loss) && mt.loss > 0);
    dnabert_classifier *qc = NULL;
    CHECK(dnabert_finetuner_classifier(qft, &qc) == DNABERT_OK);
    CHECK(dnabert_classifier_predict(qc, seqs, lens, NSEQ, NULL, pb) == DNABERT_OK);
    for (int i = 0; i < NSEQ; i++) CHECK(fabs(pb[2 * i] + pb[2 * i + 1] - 1) < 1e-5);
    dnabert_classifier_free(qc);
    dnabert_classifier_free(on8);
    dnabert_classifier_free(clf);
    dnabert_finetuner_free(qft);
    dnabert_finetuner_free(ft);
    dnabert_dataset_free(train);
    return 0;
}

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
    if (every_entry_point(m, q, &info) != 0) return 1;

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
