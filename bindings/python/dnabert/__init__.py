"""dnabert: DNABERT-2 on the CPU (Python bindings of libdnabert).

    import dnabert
    tok = dnabert.Tokenizer.from_file("tokenizer.json")
    ids = tok.encode("ACGTAGCTAGCTAGCATCGA")
    model = dnabert.Model.from_pretrained("path/to/model")
    emb = model.embed(["ACGT...", "GGCA..."])          # [N, hidden]
    clf = dnabert.finetune(model, "train.csv", dev="dev.csv", test="test.csv", lora_r=8)
    clf.predict(["ACGT..."]); clf.test_metrics; clf.save("runs/clf")
"""
from ._lib import DNABertError, lib as _lib_handle, lib_path as library_path
from ._inputs import read_fasta
from .finetune import Classifier, Dataset, FineTuner, LongInputWarning, decide_labels, finetune
from .model import Model, blas_benchmark, blas_info, convert_pytorch, int8_attention, int8_kernel, int8_linear
from .pretrain import Trainer, pretrain
from .tokenizer import BatchEncoding, Tokenizer

__all__ = ["DNABertError", "Tokenizer", "BatchEncoding", "Model", "Trainer", "pretrain", "blas_info", "blas_benchmark",
           "convert_pytorch", "Dataset", "Classifier", "FineTuner", "finetune", "decide_labels", "version", "library_path",
           "read_fasta", "LongInputWarning", "int8_attention", "int8_kernel", "int8_linear"]


def version():
    """Version of the loaded libdnabert."""
    return _lib_handle.dnabert_version().decode()


__version__ = "0.2.0"
