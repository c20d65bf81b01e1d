/* Fine-tune a pretrained DNABERT-2 model with LoRA on a labelled task (GUE-style CSV files `sequence,label`) in an
 * output folder the library manages (metrics.jsonl, the best adapter saved after each improving dev evaluation so a
 * killed run leaves it, the kept adapter in Hugging Face PEFT format, loss.svg, test metrics and predictions).
 * Build: gcc finetune.c $(pkg-config --cflags --libs dnabert)
 * Usage: finetune MODEL_DIR TASK_DIR OUT_DIR [EPOCHS]
 *   e.g. finetune examples/models/dnabert2-small-5genomes examples/data/tasks/coding_200 runs/clf 1 */
#include <dnabert.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(const char *what) {
    fprintf(stderr, "error: %s: %s\n", what, dnabert_last_error());
    return 1;
}

/* Called after every optimizer step: a progress line, and the dev figures when the dev set was evaluated. */
static int on_step(void *user, const dnabert_finetune_metrics *m) {
    (void)user;
    if (!isnan(m->dev_loss)) {
        printf("step %lld/%lld (epoch %.2f)  loss %.4f  dev loss %.4f  dev accuracy %.4f  dev MCC %.4f\n",
               (long long)m->step, (long long)m->total_steps, m->epoch, m->loss, m->dev_loss, m->dev_accuracy,
               m->dev_mcc);
    } else if (m->step % 20 == 0) {
        printf("step %lld/%lld  loss %.4f  lr %.2e  %.0f tokens/s  eta %.0f s\n", (long long)m->step,
               (long long)m->total_steps, m->loss, m->learning_rate, m->tokens_per_second, m->eta_seconds);
    }
    fflush(stdout);
    return 0;   /* non-zero would stop the run, keeping the best parameters so far */
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s MODEL_DIR TASK_DIR OUT_DIR [EPOCHS]\n", argv[0]);
        return 2;
    }
    const char *task = argv[2], *out = argv[3];
    char train_path[4096], dev_path[4096], test_path[4096];
    snprintf(train_path, sizeof train_path, "%s/train.csv", task);
    snprintf(dev_path, sizeof dev_path, "%s/dev.csv", task);
    snprintf(test_path, sizeof test_path, "%s/test.csv", task);

    dnabert_model *model = NULL;
    if (dnabert_model_load(argv[1], &model) != DNABERT_OK) return fail(argv[1]);

    /* the training file fixes the labels; dev and test are read "like" it so that they map the same way */
    dnabert_dataset *train = NULL, *dev = NULL, *test = NULL;
    if (dnabert_dataset_read(train_path, NULL, DNABERT_PROBLEM_AUTO, &train) != DNABERT_OK) return fail(train_path);
    if (dnabert_dataset_read(dev_path, train, DNABERT_PROBLEM_AUTO, &dev) != DNABERT_OK) return fail(dev_path);
    if (dnabert_dataset_read(test_path, train, DNABERT_PROBLEM_AUTO, &test) != DNABERT_OK) return fail(test_path);
    dnabert_dataset_info di = { .struct_size = sizeof di };
    dnabert_dataset_get_info(train, &di);
    printf("train: %lld sequences, %d labels\n", (long long)di.n_sequences, di.num_labels);

    dnabert_finetune_params p = dnabert_finetune_default_params();   /* LoRA r=8, alpha 32 on Wqkv + attention out */
    p.epochs = argc > 4 ? atof(argv[4]) : 1.0;
    p.batch_size = 32;
    p.select_by = "mcc";                                              /* keep the dev checkpoint with the best MCC */
    p.out_dir = out;                                                  /* the run manages this folder */
    dnabert_finetuner *ft = NULL;
    if (dnabert_finetuner_create(model, train, dev, &p, &ft) != DNABERT_OK) return fail("finetuner");
    dnabert_finetuner_info fi = { .struct_size = sizeof fi };
    dnabert_finetuner_get_info(ft, &fi);
    printf("LoRA fine-tuning: %lld trainable parameters, %lld steps, max length %d tokens\n",
           (long long)fi.trainable_parameters, (long long)fi.total_steps, fi.max_length);
    if (dnabert_finetuner_run(ft, on_step, NULL) != DNABERT_OK) return fail("fine-tuning");
    dnabert_finetuner_get_info(ft, &fi);
    printf("best dev MCC %.4f at step %lld\n", fi.best_value, (long long)fi.best_step);

    dnabert_classifier *clf = NULL;
    if (dnabert_finetuner_classifier(ft, &clf) != DNABERT_OK) return fail("classifier");
    dnabert_eval_result r = { .struct_size = sizeof r };   /* test metrics; also out/test_metrics.json + predictions */
    if (dnabert_finetuner_test(ft, test, &r) != DNABERT_OK) return fail("test");
    printf("test (%lld sequences): loss %.4f  accuracy %.4f  F1 %.4f  MCC %.4f  precision %.4f  recall %.4f\n",
           (long long)r.n, r.loss, r.accuracy, r.f1, r.mcc, r.precision, r.recall);

    printf("adapter, metrics.jsonl, loss.svg, test_metrics.json and test_predictions.csv in %s (load the adapter with "
           "dnabert_classifier_load, or with peft on DNABERT-2)\n", out);

    /* predict two new sequences with the saved adapter */
    dnabert_classifier *loaded = NULL;
    if (dnabert_classifier_load(model, out, &loaded) != DNABERT_OK) return fail("load");
    const char *seqs[2] = {"ATGGCTAAAGCTGGTATTGCTGAAGCTCGTAAAGCTGCTGAAGAAATCGCTCGTCAGCTGGCTGAAGAACTGGCGAAATAA",
                           "TTTTATATATATAAAAATTTTTTAAATATATTTTTAAATTTAAATATATATTTTTATATAAATTTTAAAAATATATATTTTA"};
    size_t lens[2] = {strlen(seqs[0]), strlen(seqs[1])};
    float prob[2 * 2];   /* a binary task here; num_labels columns in general */
    int32_t label[2];
    if (di.num_labels == 2 && dnabert_classifier_predict(loaded, seqs, lens, 2, NULL, prob) == DNABERT_OK &&
        dnabert_decide_labels(DNABERT_PROBLEM_SINGLE_LABEL, prob, 2, 2, label) == DNABERT_OK) {
        for (int i = 0; i < 2; i++) printf("sequence %d: label %d, P(label 1) = %.3f\n", i, label[i], prob[2 * i + 1]);
    }

    dnabert_classifier_free(loaded);
    dnabert_classifier_free(clf);
    dnabert_finetuner_free(ft);
    dnabert_dataset_free(test);
    dnabert_dataset_free(dev);
    dnabert_dataset_free(train);
    dnabert_model_free(model);
    return 0;
}
