"""Sequence-classification heads on top of the reference DNABERT-2 encoder (dnabert2_reference.py), differentiable.

`DNABert2ForSequenceClassification` is the equivalent of Hugging Face DNABERT-2's BertForSequenceClassification
(written from its documented behaviour, no code copied):

    pooled = tanh(bert.pooler.dense(last_hidden[:, 0]))          # [CLS] position
    logits = classifier(dropout(pooled))                          # dropout p = hidden_dropout_prob
    loss   = single_label_classification: CrossEntropyLoss (mean; optional class weights -> torch's weighted mean
                                          sum_i w[y_i] nll_i / sum_i w[y_i], our extension)
             multi_label_classification:  BCEWithLogitsLoss (mean over all B*C elements, float 0/1 targets)
             regression:                  MSELoss (mean); with num_labels 1 both logits and labels are squeezed

pooling="mean" is our extension (no HF equivalent): pooled = mean of the last hidden states over the positions with
attention_mask 1 ([CLS] and [SEP] included) -> dropout -> classifier; there is no pooler dense/tanh and the model
has no bert.pooler module at all.

Module / state-dict names equal HF's: bert.embeddings..., bert.encoder.layer.N..., bert.pooler.dense, classifier.
The forward takes the keyword arguments a transformers model takes (input_ids, attention_mask, labels, ...) so the
model can be wrapped by peft (PeftModelForSequenceClassification passes inputs_embeds/return_dict/... through).
"""
import math
from types import SimpleNamespace

import torch
import torch.nn as nn
import torch.nn.functional as F

from dnabert2_reference import Bert, Config, alibi_slopes

PROBLEM_TYPES = ("single_label_classification", "multi_label_classification", "regression")


def attention_bias(mask: torch.Tensor, n_heads: int, dtype) -> torch.Tensor:
    """[B, nh, L, L]: -slope_h * |i - j| + (-10000 where key j is padding), as in the spec."""
    B, L = mask.shape
    pos = torch.arange(L, dtype=torch.float64)
    dist = (pos[None, :] - pos[:, None]).abs()
    alibi = -alibi_slopes(n_heads)[:, None, None] * dist
    pad = (1.0 - mask.to(torch.float64))[:, None, None, :] * -10000.0
    return (alibi[None] + pad).to(dtype)


class DNABert2ForSequenceClassification(nn.Module):
    def __init__(self, c: Config, num_labels: int, problem_type: str = "single_label_classification",
                 pooling: str = "cls", hidden_dropout_prob: float = 0.0, class_weights=None):
        super().__init__()
        if problem_type not in PROBLEM_TYPES:
            raise ValueError(f"problem_type {problem_type!r}")
        if pooling not in ("cls", "mean"):
            raise ValueError(f"pooling {pooling!r}")
        c.mlm_head = False
        c.pooler = pooling == "cls"
        c.num_labels = num_labels
        self.c = c
        self.num_labels = num_labels
        self.problem_type = problem_type
        self.pooling = pooling
        # peft reads model.config (dict or object with to_dict); a plain dict is enough.
        self.config = {"model_type": "bert", "num_labels": num_labels, "problem_type": problem_type}
        self.bert = Bert(c)
        self.dropout = nn.Dropout(hidden_dropout_prob)
        self.classifier = nn.Linear(c.hidden_size, num_labels)
        self.class_weights = None if class_weights is None else torch.as_tensor(class_weights)

    def encode(self, input_ids, attention_mask):
        dtype = self.bert.embeddings.word_embeddings.weight.dtype
        bias = attention_bias(attention_mask, self.c.num_attention_heads, dtype)
        x = self.bert.embeddings(input_ids)
        for layer in self.bert.encoder.layer:
            x = layer(x, bias)
        return x * attention_mask.to(dtype)[..., None]

    def pool(self, last, attention_mask):
        if self.pooling == "cls":
            return torch.tanh(self.bert.pooler.dense(last[:, 0]))
        m = attention_mask.to(last.dtype)[..., None]
        return (last * m).sum(dim=1) / m.sum(dim=1)

    def loss(self, logits, labels):
        if self.problem_type == "single_label_classification":
            w = None if self.class_weights is None else self.class_weights.to(logits.dtype)
            return F.cross_entropy(logits.view(-1, self.num_labels), labels.view(-1), weight=w)
        if self.problem_type == "multi_label_classification":
            return F.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype))
        if self.num_labels == 1:
            return F.mse_loss(logits.squeeze(), labels.to(logits.dtype).squeeze())
        return F.mse_loss(logits, labels.to(logits.dtype))

    def forward(self, input_ids=None, attention_mask=None, labels=None, **kwargs):
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        last = self.encode(input_ids, attention_mask)
        pooled = self.pool(last, attention_mask)
        logits = self.classifier(self.dropout(pooled))
        loss = None if labels is None else self.loss(logits, labels)
        return SimpleNamespace(loss=loss, logits=logits, last_hidden_state=last, pooled_output=pooled)


def config_from_hf(cfg: dict) -> Config:
    """Reference Config from an HF-style config.json dict."""
    return Config(vocab_size=cfg["vocab_size"], hidden_size=cfg["hidden_size"],
                  num_hidden_layers=cfg["num_hidden_layers"], num_attention_heads=cfg["num_attention_heads"],
                  intermediate_size=cfg["intermediate_size"], type_vocab_size=cfg.get("type_vocab_size", 2),
                  layer_norm_eps=cfg.get("layer_norm_eps", 1e-12), mlm_head=False)


def decay_groups(named_params, weight_decay):
    """The HF Trainer recipe: no weight decay on biases and LayerNorm weights (two param groups)."""
    decay, no_decay = [], []
    for n, p in named_params:
        if not p.requires_grad:
            continue
        if n.endswith("bias") or "LayerNorm.weight" in n or "layernorm.weight" in n:
            no_decay.append(p)
        else:
            decay.append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
