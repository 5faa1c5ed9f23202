"""Tiny random Hugging Face checkpoints with span heads (token classification, question answering).

Each is written with `transformers` (hidden size 32, 2 layers) and a tokenizer built
here: BERT and DistilBERT with a WordPiece vocabulary that splits some words into
pieces, RoBERTa with a byte-level BPE trained on `CORPUS`.
"""

import json

import torch
import transformers

CORPUS = [
    "Alice Smith works for Acme Corporation in Paris.",
    "Bob lives in London and visits Berlin every summer.",
    "The weather in Madrid was sunny, said Carol.",
    "Dave founded Initech with Eve in 1999.",
]
WORDPIECE_VOCAB = (
    ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", ",", "?", "1999"]
    + "alice smith works for in paris bob lives and every summer the weather was said with where does who what".split()
    + "acme corporation lon ##don ber ##lin mad ##rid sun ##ny car ##ol da ##ve found ##ed init ##ech eve visit ##s".split()
)
NER_TAGS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"]
#: Positions every checkpoint has (RoBERTa adds 2 for its offset).
MAX_LENGTH = 128
SIZE = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=37)


def _wordpiece(folder, lowercase=True):
    (folder / "vocab.txt").write_text("\n".join(WORDPIECE_VOCAB) + "\n")
    return transformers.BertTokenizer(vocab=str(folder / "vocab.txt"), do_lower_case=lowercase)


def _byte_level_bpe(folder):
    from tokenizers import ByteLevelBPETokenizer

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(CORPUS * 3, vocab_size=330, min_frequency=2, show_progress=False,
                            special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    bpe.save_model(str(folder))
    return transformers.RobertaTokenizer(vocab=str(folder / "vocab.json"), merges=str(folder / "merges.txt"))


def _config(model_type, vocab_size, **head):
    if model_type == "bert":
        return transformers.BertConfig(vocab_size=vocab_size, max_position_embeddings=128, **SIZE, **head)
    if model_type == "roberta":
        return transformers.RobertaConfig(vocab_size=vocab_size, max_position_embeddings=130, pad_token_id=1,
                                          bos_token_id=0, eos_token_id=2, **SIZE, **head)
    return transformers.DistilBertConfig(vocab_size=vocab_size, max_position_embeddings=128, dim=32, n_layers=2,
                                         n_heads=2, hidden_dim=37, **head)


HEADS = {
    "token-classification": {
        "bert": transformers.BertForTokenClassification,
        "roberta": transformers.RobertaForTokenClassification,
        "distilbert": transformers.DistilBertForTokenClassification,
    },
    "extractive-qa": {
        "bert": transformers.BertForQuestionAnswering,
        "roberta": transformers.RobertaForQuestionAnswering,
        "distilbert": transformers.DistilBertForQuestionAnswering,
    },
}


def write_checkpoint(folder, model_type, task, seed=0):
    """Writes a tiny `...ForTokenClassification` or `...ForQuestionAnswering` to `folder`; returns (tokenizer, model)."""
    tokenizer = _byte_level_bpe(folder) if model_type == "roberta" else _wordpiece(folder)
    tokenizer.model_max_length = MAX_LENGTH
    head = {}
    if task == "token-classification":
        head = dict(id2label=dict(enumerate(NER_TAGS)), label2id={t: i for i, t in enumerate(NER_TAGS)})
    torch.manual_seed(seed)
    model = HEADS[task][model_type](_config(model_type, len(tokenizer), **head)).eval()
    with torch.no_grad():  # larger logits than the default init, so scores differ clearly between tokens
        for name, weight in model.named_parameters():
            if name.startswith(("classifier", "qa_outputs")) and name.endswith("weight"):
                weight.normal_(0.0, 1.0)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    config = json.loads((folder / "config.json").read_text())
    assert config["model_type"] == model_type
    return tokenizer, model
