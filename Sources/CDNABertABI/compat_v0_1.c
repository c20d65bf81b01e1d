/* Binary compatibility with 0.1.0.
 *
 * 0.1.0's result structs had no struct_size, its pretraining/fine-tuning callbacks received structs without it,
 * and three classifier calls took n_threads as an int32_t argument. A program compiled against 0.1.0 cannot say
 * which layout it has, so the 0.1.0 entry points stay, frozen: each one below is the 0.1.0 function, exported under
 * the 0.1.0 name with the symbol version DNABERT_0.1 (the .symver lines; libdnabert.map defines the versions).
 * Programs linked against 0.1.0 (unversioned references) bind to these; programs linked against 0.2.0 and
 * dlsym() get the 0.2.0 functions (version DNABERT_0.2, the default). Each wrapper calls the 0.2.0 function
 * with a full-size struct and copies the 0.1.0 fields out, so nothing past a 0.1.0 struct is ever written. */
#include <stddef.h>
#include <string.h>
#include "dnabert_internal.h"

#if defined(__ELF__)
#define DNABERT_V01(impl, name) __asm__(".symver " #impl ", " #name "@DNABERT_0.1");
#else
#define DNABERT_V01(impl, name)
#endif

/* ---- the 0.1.0 layouts ---- */
typedef struct { int32_t unk, cls, sep, pad, mask; } v01_special_ids;
typedef struct {
    int32_t vocab_size, hidden_size, num_layers, num_heads, intermediate_size, num_labels;
    int32_t has_mlm_head, has_pooler, has_tokenizer;
    int64_t num_parameters;
} v01_model_info;
typedef struct {
    int64_t step, total_steps, tokens;
    double loss, learning_rate, grad_norm, tokens_per_second, elapsed_seconds, eta_seconds;
    double validation_loss, validation_accuracy;
} v01_train_metrics;
typedef int (*v01_train_callback)(void *user_data, const v01_train_metrics *metrics);
typedef struct {
    int64_t n_sequences;
    int32_t problem_type, num_labels, has_label_names;
} v01_dataset_info;
typedef struct {
    int64_t step, total_steps;
    double epoch, loss, learning_rate, grad_norm, tokens_per_second, elapsed_seconds, eta_seconds;
    double dev_loss, dev_accuracy, dev_f1, dev_mcc, dev_precision, dev_recall, dev_pearson, dev_spearman;
} v01_finetune_metrics;
typedef int (*v01_finetune_callback)(void *user_data, const v01_finetune_metrics *metrics);
typedef struct {
    int64_t step, total_steps, steps_per_epoch, trainable_parameters;
    int32_t max_length;
    double learning_rate;
    int64_t best_step;
    double best_value;
} v01_finetuner_info;
typedef struct {
    int32_t num_labels, problem_type, pooling, lora_r;
    double lora_alpha;
    int64_t trainable_parameters;
    int32_t max_length, has_label_names, reverse_complement;
} v01_classifier_info;
typedef struct {
    int64_t n;
    double loss, accuracy, f1, mcc, precision, recall, pearson, spearman, mse, r2;
} v01_eval_result;

/* ---- the 0.1.0 entry points ---- */

/* A *_default_params() returns its struct by value, into a buffer of the caller's sizeof: when a parameter struct
 * grows, its default_params function must keep a frozen version too. dnabert_finetune_params grew out_dir in 0.2. */
#define V01_FINETUNE_PARAMS_SIZE offsetof(dnabert_finetune_params, out_dir)
typedef struct { unsigned char bytes[V01_FINETUNE_PARAMS_SIZE]; } v01_finetune_params;
typedef char v01_finetune_params_size_check[sizeof(v01_finetune_params) == 136 ? 1 : -1];

v01_finetune_params dnabert_v01_finetune_default_params(void);
v01_finetune_params dnabert_v01_finetune_default_params(void) {
    dnabert_finetune_params p = dnabert_finetune_default_params();
    p.struct_size = (uint32_t)V01_FINETUNE_PARAMS_SIZE;
    /* a 0.1.0 program keeps the 0.1.0 defaults of the fields whose defaults changed in 0.2.0 (the learning rate
       stays 0 = the library's choice, which a 0.1.0 caller may turn into full fine-tuning's by lora_r = 0) */
    p.lora_targets = "Wqkv,attention.output.dense";
    p.pooling = DNABERT_POOL_CLS;
    p.reverse_complement = 0;
    v01_finetune_params o;
    memcpy(&o, &p, sizeof o);
    return o;
}
DNABERT_V01(dnabert_v01_finetune_default_params, dnabert_finetune_default_params)

/* dnabert_pretrain_params and dnabert_embed_params grew `distributed` in 0.2 (data-parallel over MPI). */
#define V01_PRETRAIN_PARAMS_SIZE offsetof(dnabert_pretrain_params, distributed)
typedef struct { unsigned char bytes[V01_PRETRAIN_PARAMS_SIZE]; } v01_pretrain_params;
v01_pretrain_params dnabert_v01_pretrain_default_params(void);
v01_pretrain_params dnabert_v01_pretrain_default_params(void) {
    dnabert_pretrain_params p = dnabert_pretrain_default_params();
    p.struct_size = (uint32_t)V01_PRETRAIN_PARAMS_SIZE;
    v01_pretrain_params o;
    memcpy(&o, &p, sizeof o);
    return o;
}
DNABERT_V01(dnabert_v01_pretrain_default_params, dnabert_pretrain_default_params)

#define V01_EMBED_PARAMS_SIZE offsetof(dnabert_embed_params, distributed)
typedef struct { unsigned char bytes[V01_EMBED_PARAMS_SIZE]; } v01_embed_params;
v01_embed_params dnabert_v01_embed_default_params(void);
v01_embed_params dnabert_v01_embed_default_params(void) {
    dnabert_embed_params p = dnabert_embed_default_params();
    p.struct_size = (uint32_t)V01_EMBED_PARAMS_SIZE;
    v01_embed_params o;
    memcpy(&o, &p, sizeof o);
    return o;
}
DNABERT_V01(dnabert_v01_embed_default_params, dnabert_embed_default_params)

int dnabert_v01_tokenizer_special_ids(const dnabert_tokenizer *tok, v01_special_ids *out);
int dnabert_v01_tokenizer_special_ids(const dnabert_tokenizer *tok, v01_special_ids *out) {
    dnabert_special_ids s;
    memset(&s, 0, sizeof s);
    s.struct_size = sizeof s;
    int rc = dnabert_tokenizer_special_ids(tok, out ? &s : NULL);
    if (rc == DNABERT_OK) {
        out->unk = s.unk; out->cls = s.cls; out->sep = s.sep; out->pad = s.pad; out->mask = s.mask;
    }
    return rc;
}
DNABERT_V01(dnabert_v01_tokenizer_special_ids, dnabert_tokenizer_special_ids)

int dnabert_v01_model_get_info(const dnabert_model *model, v01_model_info *out);
int dnabert_v01_model_get_info(const dnabert_model *model, v01_model_info *out) {
    dnabert_model_info i;
    memset(&i, 0, sizeof i);
    i.struct_size = sizeof i;
    int rc = dnabert_model_get_info(model, out ? &i : NULL);
    if (rc == DNABERT_OK) {
        out->vocab_size = i.vocab_size; out->hidden_size = i.hidden_size; out->num_layers = i.num_layers;
        out->num_heads = i.num_heads; out->intermediate_size = i.intermediate_size; out->num_labels = i.num_labels;
        out->has_mlm_head = i.has_mlm_head; out->has_pooler = i.has_pooler; out->has_tokenizer = i.has_tokenizer;
        out->num_parameters = i.num_parameters;
    }
    return rc;
}
DNABERT_V01(dnabert_v01_model_get_info, dnabert_model_get_info)

static void v01_train_metrics_from(v01_train_metrics *o, const dnabert_pretrain_metrics *m) {
    o->step = m->step; o->total_steps = m->total_steps; o->tokens = m->tokens; o->loss = m->loss;
    o->learning_rate = m->learning_rate; o->grad_norm = m->grad_norm; o->tokens_per_second = m->tokens_per_second;
    o->elapsed_seconds = m->elapsed_seconds; o->eta_seconds = m->eta_seconds;
    o->validation_loss = m->validation_loss; o->validation_accuracy = m->validation_accuracy;
}

int dnabert_v01_trainer_step(dnabert_trainer *trainer, v01_train_metrics *metrics);
int dnabert_v01_trainer_step(dnabert_trainer *trainer, v01_train_metrics *metrics) {
    dnabert_pretrain_metrics m;
    memset(&m, 0, sizeof m);
    m.struct_size = sizeof m;
    int rc = dnabert_trainer_step(trainer, metrics ? &m : NULL);
    if (rc == DNABERT_OK && metrics) v01_train_metrics_from(metrics, &m);
    return rc;
}
DNABERT_V01(dnabert_v01_trainer_step, dnabert_trainer_step)

struct v01_train_trampoline { v01_train_callback callback; void *user_data; };
static int v01_train_trampoline_fn(void *user_data, const dnabert_pretrain_metrics *metrics) {
    const struct v01_train_trampoline *t = user_data;
    v01_train_metrics o;
    v01_train_metrics_from(&o, metrics);
    return t->callback(t->user_data, &o);
}

int dnabert_v01_trainer_run(dnabert_trainer *trainer, v01_train_callback callback, void *user_data);
int dnabert_v01_trainer_run(dnabert_trainer *trainer, v01_train_callback callback, void *user_data) {
    if (callback == NULL) return dnabert_trainer_run(trainer, NULL, user_data);
    struct v01_train_trampoline t = { callback, user_data };
    return dnabert_trainer_run(trainer, v01_train_trampoline_fn, &t);
}
DNABERT_V01(dnabert_v01_trainer_run, dnabert_trainer_run)

int dnabert_v01_dataset_get_info(const dnabert_dataset *ds, v01_dataset_info *out);
int dnabert_v01_dataset_get_info(const dnabert_dataset *ds, v01_dataset_info *out) {
    dnabert_dataset_info i;
    memset(&i, 0, sizeof i);
    i.struct_size = sizeof i;
    int rc = dnabert_dataset_get_info(ds, out ? &i : NULL);
    if (rc == DNABERT_OK) {
        out->n_sequences = i.n_sequences; out->problem_type = i.problem_type; out->num_labels = i.num_labels;
        out->has_label_names = i.has_label_names;
    }
    return rc;
}
DNABERT_V01(dnabert_v01_dataset_get_info, dnabert_dataset_get_info)

static void v01_finetune_metrics_from(v01_finetune_metrics *o, const dnabert_finetune_metrics *m) {
    o->step = m->step; o->total_steps = m->total_steps; o->epoch = m->epoch; o->loss = m->loss;
    o->learning_rate = m->learning_rate; o->grad_norm = m->grad_norm; o->tokens_per_second = m->tokens_per_second;
    o->elapsed_seconds = m->elapsed_seconds; o->eta_seconds = m->eta_seconds; o->dev_loss = m->dev_loss;
    o->dev_accuracy = m->dev_accuracy; o->dev_f1 = m->dev_f1; o->dev_mcc = m->dev_mcc; o->dev_precision = m->dev_precision;
    o->dev_recall = m->dev_recall; o->dev_pearson = m->dev_pearson; o->dev_spearman = m->dev_spearman;
}

int dnabert_v01_finetuner_step(dnabert_finetuner *ft, v01_finetune_metrics *metrics);
int dnabert_v01_finetuner_step(dnabert_finetuner *ft, v01_finetune_metrics *metrics) {
    dnabert_finetune_metrics m;
    memset(&m, 0, sizeof m);
    m.struct_size = sizeof m;
    int rc = dnabert_finetuner_step(ft, metrics ? &m : NULL);
    if (rc == DNABERT_OK && metrics) v01_finetune_metrics_from(metrics, &m);
    return rc;
}
DNABERT_V01(dnabert_v01_finetuner_step, dnabert_finetuner_step)

struct v01_finetune_trampoline { v01_finetune_callback callback; void *user_data; };
static int v01_finetune_trampoline_fn(void *user_data, const dnabert_finetune_metrics *metrics) {
    const struct v01_finetune_trampoline *t = user_data;
    v01_finetune_metrics o;
    v01_finetune_metrics_from(&o, metrics);
    return t->callback(t->user_data, &o);
}

int dnabert_v01_finetuner_run(dnabert_finetuner *ft, v01_finetune_callback callback, void *user_data);
int dnabert_v01_finetuner_run(dnabert_finetuner *ft, v01_finetune_callback callback, void *user_data) {
    if (callback == NULL) return dnabert_finetuner_run(ft, NULL, user_data);
    struct v01_finetune_trampoline t = { callback, user_data };
    return dnabert_finetuner_run(ft, v01_finetune_trampoline_fn, &t);
}
DNABERT_V01(dnabert_v01_finetuner_run, dnabert_finetuner_run)

int dnabert_v01_finetuner_get_info(const dnabert_finetuner *ft, v01_finetuner_info *out);
int dnabert_v01_finetuner_get_info(const dnabert_finetuner *ft, v01_finetuner_info *out) {
    dnabert_finetuner_info i;
    memset(&i, 0, sizeof i);
    i.struct_size = sizeof i;
    int rc = dnabert_finetuner_get_info(ft, out ? &i : NULL);
    if (rc == DNABERT_OK) {
        out->step = i.step; out->total_steps = i.total_steps; out->steps_per_epoch = i.steps_per_epoch;
        out->trainable_parameters = i.trainable_parameters; out->max_length = i.max_length;
        out->learning_rate = i.learning_rate; out->best_step = i.best_step; out->best_value = i.best_value;
    }
    return rc;
}
DNABERT_V01(dnabert_v01_finetuner_get_info, dnabert_finetuner_get_info)

int dnabert_v01_classifier_get_info(const dnabert_classifier *clf, v01_classifier_info *out);
int dnabert_v01_classifier_get_info(const dnabert_classifier *clf, v01_classifier_info *out) {
    dnabert_classifier_info i;
    memset(&i, 0, sizeof i);
    i.struct_size = sizeof i;
    int rc = dnabert_classifier_get_info(clf, out ? &i : NULL);
    if (rc == DNABERT_OK) {
        out->num_labels = i.num_labels; out->problem_type = i.problem_type; out->pooling = i.pooling; out->lora_r = i.lora_r;
        out->lora_alpha = i.lora_alpha; out->trainable_parameters = i.trainable_parameters; out->max_length = i.max_length;
        out->has_label_names = i.has_label_names; out->reverse_complement = i.reverse_complement;
    }
    return rc;
}
DNABERT_V01(dnabert_v01_classifier_get_info, dnabert_classifier_get_info)

static dnabert_forward_params v01_threads(int32_t n_threads) {
    dnabert_forward_params p = dnabert_forward_default_params();
    p.n_threads = n_threads;
    return p;
}

int dnabert_v01_classifier_predict(const dnabert_classifier *clf, const char *const *seqs, const size_t *lens, size_t n,
                                   int32_t n_threads, float *out);
int dnabert_v01_classifier_predict(const dnabert_classifier *clf, const char *const *seqs, const size_t *lens, size_t n,
                                   int32_t n_threads, float *out) {
    dnabert_forward_params p = v01_threads(n_threads);
    return dnabert_classifier_predict(clf, seqs, lens, n, &p, out);
}
DNABERT_V01(dnabert_v01_classifier_predict, dnabert_classifier_predict)

int dnabert_v01_classifier_logits(const dnabert_classifier *clf, const int32_t *ids, const int32_t *attention_mask,
                                  size_t batch, size_t length, int32_t n_threads, float *out);
int dnabert_v01_classifier_logits(const dnabert_classifier *clf, const int32_t *ids, const int32_t *attention_mask,
                                  size_t batch, size_t length, int32_t n_threads, float *out) {
    dnabert_forward_params p = v01_threads(n_threads);
    return dnabert_classifier_logits(clf, ids, attention_mask, batch, length, &p, out);
}
DNABERT_V01(dnabert_v01_classifier_logits, dnabert_classifier_logits)

int dnabert_v01_classifier_evaluate(const dnabert_classifier *clf, const dnabert_dataset *data, int32_t n_threads,
                                    v01_eval_result *out, float *scores);
int dnabert_v01_classifier_evaluate(const dnabert_classifier *clf, const dnabert_dataset *data, int32_t n_threads,
                                    v01_eval_result *out, float *scores) {
    dnabert_forward_params p = v01_threads(n_threads);
    dnabert_eval_result e;
    memset(&e, 0, sizeof e);
    e.struct_size = sizeof e;
    int rc = dnabert_classifier_evaluate(clf, data, &p, out ? &e : NULL, scores);
    if (rc == DNABERT_OK) {
        out->n = e.n; out->loss = e.loss; out->accuracy = e.accuracy; out->f1 = e.f1; out->mcc = e.mcc;
        out->precision = e.precision; out->recall = e.recall; out->pearson = e.pearson; out->spearman = e.spearman;
        out->mse = e.mse; out->r2 = e.r2;
    }
    return rc;
}
DNABERT_V01(dnabert_v01_classifier_evaluate, dnabert_classifier_evaluate)
