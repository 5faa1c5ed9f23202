"""Character offsets for keras-hub tokenizers.

keras-hub tokenizers return token ids, not where each token sits in the text.
Span tasks (extractive QA, named entities) need both. `fast_tokenizer` builds,
from a keras-hub WordPiece (BERT, DistilBERT) or byte-level BPE (RoBERTa)
tokenizer, the equivalent Hugging Face `tokenizers.Tokenizer`: the same
vocabulary, normalisation and special tokens, so the same ids, plus character
offsets, word indices, sequence indices and overlapping windows (stride).
The ids are those of the keras-hub tokenizer (the tests check it).

Example:
>>> import keras_hub
>>> vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "sally", "lives", "in", "london", "lon", "##don"]
>>> encoding = fast_tokenizer(keras_hub.models.BertTokenizer(vocabulary=vocab)).encode("Sally lives in London")
>>> encoding.tokens, encoding.offsets[1]
(['[CLS]', 'sally', 'lives', 'in', 'london', '[SEP]'], (0, 5))
"""

import keras_hub

from kerasprop.schemas.specs import describe

#: Characters after which WordPiece gives up on a word (as keras-hub and Hugging Face do).
MAX_CHARS_PER_WORD = 100


def fast_tokenizer(tokenizer):
    """The `tokenizers.Tokenizer` equivalent to a keras-hub tokenizer, with offsets and pair templates."""
    from tokenizers import (
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
    )

    if isinstance(tokenizer, keras_hub.tokenizers.WordPieceTokenizer):
        vocabulary = tokenizer.get_vocabulary()
        fast = Tokenizer(models.WordPiece({t: i for i, t in enumerate(vocabulary)}, unk_token=tokenizer.oov_token,
                                          max_input_chars_per_word=MAX_CHARS_PER_WORD))
        fast.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=tokenizer.split_on_cjk,
                                                     strip_accents=tokenizer.strip_accents,
                                                     lowercase=tokenizer.lowercase)
        fast.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        fast.decoder = decoders.WordPiece(prefix=tokenizer.suffix_indicator)
        cls, sep = tokenizer.cls_token, tokenizer.sep_token
        fast.post_processor = processors.BertProcessing((sep, tokenizer.sep_token_id), (cls, tokenizer.cls_token_id))
        special = [cls, sep, tokenizer.pad_token, tokenizer.oov_token, getattr(tokenizer, "mask_token", None)]
    elif isinstance(tokenizer, keras_hub.tokenizers.BytePairTokenizer):
        merges = [tuple(m.split(" ")) for m in tokenizer.merges if not m.lstrip().startswith("#version")]
        fast = Tokenizer(models.BPE(dict(tokenizer.vocabulary), merges))
        fast.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=tokenizer.add_prefix_space)
        fast.decoder = decoders.ByteLevel()
        start, end = tokenizer.start_token, tokenizer.end_token
        fast.post_processor = processors.RobertaProcessing(
            (end, tokenizer.end_token_id), (start, tokenizer.start_token_id),
            trim_offsets=True, add_prefix_space=tokenizer.add_prefix_space,
        )
        special = [start, end, tokenizer.pad_token, getattr(tokenizer, "mask_token", None)]
    else:
        raise TypeError(
            f"Character offsets need a WordPiece or byte-level BPE tokenizer (BERT, DistilBERT, RoBERTa), "
            f"got {describe(tokenizer)}."
        )
    fast.add_special_tokens([t for t in special if t is not None])
    return fast


def decode_tokens(fast, tokens):
    """Joins token strings into text as the tokenizer's decoder does (`"lon", "##don"` -> `"london"`)."""
    return fast.decoder.decode(list(tokens))
