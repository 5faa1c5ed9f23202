"""Named entities in texts longer than the sequence length: `stride` reads them in overlapping windows.

The reference is `pipeline("token-classification", stride=..., aggregation_strategy=...)` on the
tiny random checkpoints of `span_checkpoints`, with a window of `WINDOW` tokens on both sides, so a
text of a few sentences spans many windows whose entities the pipeline merges.
"""

import pytest
import torch
import transformers

import kerasprop
from kerasprop.models import TokenClassifier
from span_checkpoints import CORPUS, NER_TAGS, write_checkpoint
from test_token_classification import assert_same_entities

#: Tokens per window, special tokens included.
WINDOW = 24
LONG_TEXTS = [" ".join(CORPUS * 2), " ".join(reversed(CORPUS * 2)) + " Where does Alice Smith live? In Paris."]


@pytest.fixture(scope="module", params=["bert", "roberta"])
def checkpoint(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp(request.param)
    tokenizer, hf_model = write_checkpoint(folder, request.param, "token-classification")
    tokenizer.model_max_length = WINDOW
    model = TokenClassifier.from_preset(str(folder))
    model.preprocessor.sequence_length = WINDOW
    return tokenizer, hf_model, model


@pytest.mark.parametrize("aggregation,stride", [("simple", 8), ("first", 8), ("average", 8), ("max", 0)])
def test_long_texts_match_the_pipeline_with_stride(checkpoint, aggregation, stride):
    tokenizer, hf_model, model = checkpoint
    pipe = transformers.pipeline("token-classification", model=hf_model, tokenizer=tokenizer,
                                 aggregation_strategy=aggregation, stride=stride)
    ours = model({"text": LONG_TEXTS, "aggregation": aggregation, "stride": stride}, task="token-classification")
    for text, entities in zip(LONG_TEXTS, ours):
        assert len(tokenizer(text)["input_ids"]) > 3 * WINDOW
        assert_same_entities(entities, pipe(text))


def test_stride_is_validated(checkpoint):
    model = checkpoint[2]
    with pytest.raises(ValueError, match="'stride' .* needs an 'aggregation' other than 'none'"):
        model({"text": CORPUS[0], "stride": 4, "aggregation": "none"}, task="token-classification")
    with pytest.raises(ValueError, match=f"'stride' must be less than the {WINDOW - 2} text tokens of a window"):
        model({"text": CORPUS[0], "stride": WINDOW - 2}, task="token-classification")
    with pytest.raises(ValueError, match="'stride' must be at least 0"):
        model({"text": CORPUS[0], "stride": -1}, task="token-classification")


#: The tag of each word piece of the context-free tagger (other pieces are "O").
TAGGED = {"alice": "B-PER", "smith": "I-PER", "bob": "B-PER", "eve": "B-PER", "paris": "B-LOC", "lon": "B-LOC",
          "##don": "I-LOC", "ber": "B-LOC", "##lin": "I-LOC", "acme": "B-ORG", "corporation": "I-ORG"}


def write_context_free_tagger(folder):
    """A BERT token classifier whose tag for a piece depends on the piece alone (see `TAGGED`).

    Position embeddings and every residual branch are zero, so each token's hidden state is the
    layer norm of its own embedding: a large value in the dimension of its tag.
    """
    tokenizer, hf_model = write_checkpoint(folder, "bert", "token-classification")
    vocabulary = tokenizer.get_vocab()
    with torch.no_grad():
        embeddings = hf_model.bert.embeddings
        embeddings.position_embeddings.weight.zero_()
        embeddings.token_type_embeddings.weight.zero_()
        embeddings.word_embeddings.weight.zero_()
        for piece, index in vocabulary.items():
            embeddings.word_embeddings.weight[index, NER_TAGS.index(TAGGED.get(piece, "O"))] = 10.0
        for layer in hf_model.bert.encoder.layer:
            for dense in (layer.attention.output.dense, layer.output.dense):
                dense.weight.zero_()
                dense.bias.zero_()
        hf_model.classifier.weight.zero_()
        hf_model.classifier.weight[:, :len(NER_TAGS)] = 4 * torch.eye(len(NER_TAGS))
        hf_model.classifier.bias.zero_()
    hf_model.save_pretrained(folder)
    return TokenClassifier.from_preset(str(folder))


def test_every_entity_of_a_long_text_is_found_up_to_its_end(tmp_path):
    model = write_context_free_tagger(tmp_path)
    model.preprocessor.sequence_length = WINDOW
    text = " ".join(["the weather was sunny ."] * 12 + ["alice smith visits london , then paris with bob ."])
    want = [("PER", "alice smith"), ("LOC", "london"), ("LOC", "paris"), ("PER", "bob")]
    starts = [text.rindex(word) for _, word in want]

    # "simple" scores each piece as the tagger gave it; "average" would mix in the pieces' other tags.
    found = kerasprop.TokenClassification(model)(text, aggregation="simple", stride=6)
    assert [(e["entity_group"], e["word"], e["start"], e["end"]) for e in found] \
        == [(tag, word, start, start + len(word)) for (tag, word), start in zip(want, starts)]
    assert all(e["score"] > 0.99 for e in found)
    # Read in one window the text is cut short, and the entities at its end are lost.
    assert len(model.encode([text], stride=6)[0]) > 4
    assert kerasprop.TokenClassification(model)(text) == []
