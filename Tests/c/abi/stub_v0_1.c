/* An unversioned stand-in for the 0.1.0 libdnabert.so: the 0.1.0 function names only, so that test_abi_v0_1 is
 * linked exactly as a program built against 0.1.0 was (symbol references without versions, NEEDED libdnabert.so).
 * At run time the real library is loaded instead. Generated from the 0.1.0 header's function list. */
void dnabert_attention_map(void);
void dnabert_attention_map(void) {}
void dnabert_blas_benchmark(void);
void dnabert_blas_benchmark(void) {}
void dnabert_blas_info(void);
void dnabert_blas_info(void) {}
void dnabert_classifier_evaluate(void);
void dnabert_classifier_evaluate(void) {}
void dnabert_classifier_free(void);
void dnabert_classifier_free(void) {}
void dnabert_classifier_get_info(void);
void dnabert_classifier_get_info(void) {}
void dnabert_classifier_label_name(void);
void dnabert_classifier_label_name(void) {}
void dnabert_classifier_load(void);
void dnabert_classifier_load(void) {}
void dnabert_classifier_logits(void);
void dnabert_classifier_logits(void) {}
void dnabert_classifier_merged_model(void);
void dnabert_classifier_merged_model(void) {}
void dnabert_classifier_predict(void);
void dnabert_classifier_predict(void) {}
void dnabert_classifier_read_dataset(void);
void dnabert_classifier_read_dataset(void) {}
void dnabert_classifier_save(void);
void dnabert_classifier_save(void) {}
void dnabert_clear_error(void);
void dnabert_clear_error(void) {}
void dnabert_convert_pytorch(void);
void dnabert_convert_pytorch(void) {}
void dnabert_dataset_free(void);
void dnabert_dataset_free(void) {}
void dnabert_dataset_from_arrays(void);
void dnabert_dataset_from_arrays(void) {}
void dnabert_dataset_get_info(void);
void dnabert_dataset_get_info(void) {}
void dnabert_dataset_label_name(void);
void dnabert_dataset_label_name(void) {}
void dnabert_dataset_labels(void);
void dnabert_dataset_labels(void) {}
void dnabert_dataset_read(void);
void dnabert_dataset_read(void) {}
void dnabert_decode(void);
void dnabert_decode(void) {}
void dnabert_embed(void);
void dnabert_embed(void) {}
void dnabert_embed_default_params(void);
void dnabert_embed_default_params(void) {}
void dnabert_encode(void);
void dnabert_encode(void) {}
void dnabert_encode_batch(void);
void dnabert_encode_batch(void) {}
void dnabert_encode_batch_padded(void);
void dnabert_encode_batch_padded(void) {}
void dnabert_encode_default_params(void);
void dnabert_encode_default_params(void) {}
void dnabert_finetune_default_params(void);
void dnabert_finetune_default_params(void) {}
void dnabert_finetuner_classifier(void);
void dnabert_finetuner_classifier(void) {}
void dnabert_finetuner_create(void);
void dnabert_finetuner_create(void) {}
void dnabert_finetuner_free(void);
void dnabert_finetuner_free(void) {}
void dnabert_finetuner_get_info(void);
void dnabert_finetuner_get_info(void) {}
void dnabert_finetuner_run(void);
void dnabert_finetuner_run(void) {}
void dnabert_finetuner_step(void);
void dnabert_finetuner_step(void) {}
void dnabert_forward(void);
void dnabert_forward(void) {}
void dnabert_forward_all_hidden(void);
void dnabert_forward_all_hidden(void) {}
void dnabert_forward_default_params(void);
void dnabert_forward_default_params(void) {}
void dnabert_last_error(void);
void dnabert_last_error(void) {}
void dnabert_mlm_logits(void);
void dnabert_mlm_logits(void) {}
void dnabert_model_config_json(void);
void dnabert_model_config_json(void) {}
void dnabert_model_create(void);
void dnabert_model_create(void) {}
void dnabert_model_free(void);
void dnabert_model_free(void) {}
void dnabert_model_get_info(void);
void dnabert_model_get_info(void) {}
void dnabert_model_load(void);
void dnabert_model_load(void) {}
void dnabert_model_save(void);
void dnabert_model_save(void) {}
void dnabert_model_tokenizer(void);
void dnabert_model_tokenizer(void) {}
void dnabert_pretrain_default_params(void);
void dnabert_pretrain_default_params(void) {}
void dnabert_tokenizer_free(void);
void dnabert_tokenizer_free(void) {}
void dnabert_tokenizer_id_to_token(void);
void dnabert_tokenizer_id_to_token(void) {}
void dnabert_tokenizer_load(void);
void dnabert_tokenizer_load(void) {}
void dnabert_tokenizer_load_json(void);
void dnabert_tokenizer_load_json(void) {}
void dnabert_tokenizer_max_tokens(void);
void dnabert_tokenizer_max_tokens(void) {}
void dnabert_tokenizer_save(void);
void dnabert_tokenizer_save(void) {}
void dnabert_tokenizer_special_ids(void);
void dnabert_tokenizer_special_ids(void) {}
void dnabert_tokenizer_to_json(void);
void dnabert_tokenizer_to_json(void) {}
void dnabert_tokenizer_token_to_id(void);
void dnabert_tokenizer_token_to_id(void) {}
void dnabert_tokenizer_train(void);
void dnabert_tokenizer_train(void) {}
void dnabert_tokenizer_train_from_sequences(void);
void dnabert_tokenizer_train_from_sequences(void) {}
void dnabert_tokenizer_vocab_size(void);
void dnabert_tokenizer_vocab_size(void) {}
void dnabert_train_default_params(void);
void dnabert_train_default_params(void) {}
void dnabert_trainer_create(void);
void dnabert_trainer_create(void) {}
void dnabert_trainer_evaluate(void);
void dnabert_trainer_evaluate(void) {}
void dnabert_trainer_free(void);
void dnabert_trainer_free(void) {}
void dnabert_trainer_run(void);
void dnabert_trainer_run(void) {}
void dnabert_trainer_save_checkpoint(void);
void dnabert_trainer_save_checkpoint(void) {}
void dnabert_trainer_step(void);
void dnabert_trainer_step(void) {}
void dnabert_version(void);
void dnabert_version(void) {}
