/* C API tests of pretraining: a tiny model learns a motif genome, the callback sees every step and can stop
 * the run, bad arguments are errors. Usage: test_pretrain SHARED_DIR */
#define _POSIX_C_SOURCE 200809L
#include <dnabert.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

typedef struct {
    int calls;
    int stop_at;
    double first_loss, last_val;
} run_state;

static int on_step(void *user, const dnabert_pretrain_metrics *m) {
    run_state *s = user;
    s->calls++;
    if (m->step == 1) s->first_loss = m->loss;
    if (!isnan(m->validation_loss)) s->last_val = m->validation_loss;
    return s->stop_at > 0 && m->step >= s->stop_at;
}

int main(int argc, char **argv) {
    const char *shared = argc > 1 ? argv[1] : "../shared";
    char path[1400], dir[] = "/tmp/dnabert-c-pretrain-XXXXXX", fasta[200], out[200];
    if (!mkdtemp(dir)) return 2;
    /* a genome of repeated 40 bp motifs with point mutations */
    snprintf(fasta, sizeof fasta, "%s/motifs.fa", dir);
    FILE *f = fopen(fasta, "w");
    char motifs[6][41];
    srand(7);
    for (int i = 0; i < 6; i++) {
        for (int j = 0; j < 40; j++) motifs[i][j] = "ACGT"[rand() % 4];
        motifs[i][40] = 0;
    }
    fprintf(f, ">motifs\n");
    for (int k = 0; k < 1500; k++) {
        char m[41];
        memcpy(m, motifs[rand() % 6], 41);
        if (rand() % 4 == 0) m[rand() % 40] = "ACGT"[rand() % 4];
        fprintf(f, "%s\n", m);
    }
    fclose(f);

    snprintf(path, sizeof path, "%s/data/dnabert2/tokenizer.json", shared);
    dnabert_tokenizer *tok = NULL;
    CHECK(dnabert_tokenizer_load(path, &tok) == DNABERT_OK, "tokenizer");
    const char *cfg = "{\"vocab_size\": 4096, \"hidden_size\": 32, \"num_hidden_layers\": 1, \"num_attention_heads\": 2, "
                      "\"intermediate_size\": 64}";
    dnabert_model *model = NULL;
    CHECK(dnabert_model_create(cfg, strlen(cfg), tok, 1, &model) == DNABERT_OK, "model");

    dnabert_pretrain_params p = dnabert_pretrain_default_params();
    p.steps = 40;
    p.batch_size = 8;
    p.seq_len = 32;
    p.learning_rate = 3e-3;
    p.warmup_steps = 2;
    p.eval_every = 40;
    p.checkpoint_every = 20;
    p.validation_windows = 16;
    p.seed = 3;
    snprintf(out, sizeof out, "%s/run", dir);
    const char *files[1] = {fasta};
    dnabert_trainer *t = NULL;
    CHECK(dnabert_trainer_create(model, files, 1, out, &p, &t) == DNABERT_OK && t != NULL, "trainer");
    double before = 0, acc = 0;
    CHECK(dnabert_trainer_evaluate(t, &before, &acc) == DNABERT_OK && before > 7.5, "untrained loss %g", before);
    dnabert_pretrain_metrics m = { .struct_size = sizeof m };
    CHECK(dnabert_trainer_step(t, &m) == DNABERT_OK && m.step == 1 && m.total_steps == 40 && isnan(m.validation_loss),
          "one step");
    run_state s = {0, 0, 0, 0};
    CHECK(dnabert_trainer_run(t, on_step, &s) == DNABERT_OK, "run");
    CHECK(s.calls == 39, "callback per step (%d)", s.calls);
    CHECK(s.last_val < before - 1.5, "validation loss falls: %g -> %g", before, s.last_val);
    snprintf(path, sizeof path, "%s/model/model.safetensors", out);
    CHECK(access(path, R_OK) == 0, "final model written");
    snprintf(path, sizeof path, "%s/checkpoint-20/checkpoint.json", out);
    CHECK(access(path, R_OK) == 0, "checkpoint written");
    CHECK(dnabert_trainer_step(t, &m) == DNABERT_ERR_INVALID_ARGUMENT, "no step after the last");
    dnabert_trainer_free(t);

    /* stopping from the callback writes a checkpoint and returns CANCELLED */
    p.resume = 0;
    snprintf(out, sizeof out, "%s/run2", dir);
    CHECK(dnabert_trainer_create(model, files, 1, out, &p, &t) == DNABERT_OK, "second trainer");
    run_state s2 = {0, 5, 0, 0};
    CHECK(dnabert_trainer_run(t, on_step, &s2) == DNABERT_ERR_CANCELLED && s2.calls == 5, "stop after 5 steps");
    snprintf(path, sizeof path, "%s/checkpoint-5/checkpoint.json", out);
    CHECK(access(path, R_OK) == 0, "checkpoint at the stop");
    dnabert_trainer_free(t);
    CHECK(dnabert_trainer_step(t, &m) == DNABERT_ERR_INVALID_ARGUMENT, "freed trainer");

    /* errors */
    dnabert_trainer *bad = NULL;
    CHECK(dnabert_trainer_create(NULL, files, 1, out, &p, &bad) == DNABERT_ERR_INVALID_ARGUMENT, "NULL model");
    CHECK(dnabert_trainer_create(model, files, 0, out, &p, &bad) == DNABERT_ERR_INVALID_ARGUMENT, "no files");
    const char *missing[1] = {"/nonexistent.fa"};
    CHECK(dnabert_trainer_create(model, missing, 1, out, &p, &bad) < 0 && bad == NULL, "missing file");
    p.steps = 0;
    CHECK(dnabert_trainer_create(model, files, 1, out, &p, &bad) == DNABERT_ERR_INVALID_ARGUMENT, "steps 0");
    p = dnabert_pretrain_default_params();
    p.struct_size = 3;
    CHECK(dnabert_trainer_create(model, files, 1, out, &p, &bad) == DNABERT_ERR_INVALID_ARGUMENT, "bad struct size");
    dnabert_model *bare = NULL;
    CHECK(dnabert_model_create(cfg, strlen(cfg), NULL, 1, &bare) == DNABERT_OK, "model without tokenizer");
    p = dnabert_pretrain_default_params();
    CHECK(dnabert_trainer_create(bare, files, 1, out, &p, &bad) == DNABERT_ERR_INVALID_ARGUMENT, "needs a tokenizer");
    dnabert_model_free(bare);
    dnabert_model_free(model);
    dnabert_tokenizer_free(tok);
    return REPORT();
}
