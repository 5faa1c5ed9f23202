"""Generated English for the bundled span models: named entities and extractive QA.

People, places and organisations come from the pools of `synthetic_text`, whose
`split="heldout"` pools are disjoint from the training ones, so held-out quality
measures whether a model finds entities and answers it never saw. A shared
`wordpiece_vocabulary` builds the small cased WordPiece vocabulary both presets use.

Example:
>>> import random
>>> example = ner_examples(random.Random(0), 1, split="heldout")[0]
>>> [example["text"][start:end] for _, start, end in example["entities"]] != []
True
"""

import re

from presets.recipes import synthetic_text

#: CoNLL-style tags, "O" first.
NER_TAGS = ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC")
SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")

_NER_TEMPLATES = (
    "{PER} works for {ORG} in {LOC} .",
    "{PER} flew from {LOC} to {LOC} last week .",
    "{ORG} opened a new office in {LOC} on Monday .",
    "Yesterday {PER} met {PER} at the {ORG} headquarters .",
    "According to {PER} , {ORG} will hire more people next year .",
    "{PER} was born in {LOC} and studied in {LOC} .",
    "The mayor of {LOC} thanked {ORG} for the donation .",
    "{PER} and {PER} moved to {LOC} in the spring .",
    "{ORG} signed a contract with {ORG} .",
    "In {LOC} , {PER} gave a talk about the weather .",
    "Shares of {ORG} rose after {PER} spoke in {LOC} .",
    "We visited {LOC} with {PER} .",
    "The new bridge will open next year .",
    "She said the food was cold and the music too loud .",
    "My brother bought a bicycle and a tent .",
)


_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_ORG_SUFFIXES = "Bank|Foods|Systems|Motors|Group|Press|Labs|Insurance|Corporation|Company|Partners|Energy".split("|")


def _made_up_word(rng):
    """Random letters: like unseen names, they are split into small WordPiece pieces."""
    return "".join(rng.choice(_LETTERS) for _ in range(rng.randint(3, 10))).capitalize()


def _entity_pools(split):
    """Entity type -> a function of `rng` that draws an entity.

    Half the training entities are made-up capitalised words, so the model learns
    entities from their context and shape rather than memorising the pools.
    """
    pools = synthetic_text._pools(split)
    made_up = split == "train"

    def draw(rng, pool, invent):
        return invent(rng) if made_up and rng.random() < 0.5 else rng.choice(pool)

    first = lambda rng: draw(rng, pools["first"], _made_up_word)
    surname = lambda rng: draw(rng, pools["surname"], _made_up_word)
    # Named organisations only ("the city council" is not a name).
    organisations = [org for org in pools["org"] if org[0].isupper()]
    return {
        "PER": lambda rng: first(rng) if rng.random() < 0.5 else f"{first(rng)} {surname(rng)}",
        "LOC": lambda rng: draw(rng, pools["city"], _made_up_word),
        "ORG": lambda rng: draw(rng, organisations, lambda r: f"{_made_up_word(r)} {r.choice(_ORG_SUFFIXES)}"),
    }


def ner_examples(rng, count, split="train"):
    """`count` dicts: `tokens` and `tags` (finetuning params), `text` and gold `entities` [(type, start, end)]."""
    pools = _entity_pools(split)
    examples = []
    for _ in range(count):
        tokens, tags = [], []
        for part in rng.choice(_NER_TEMPLATES).split():
            kind = part[1:-1] if part.startswith("{") else None
            words = pools[kind](rng).split() if kind else [part]
            tokens += words
            tags += [f"{'B' if i == 0 else 'I'}-{kind}" if kind else "O" for i in range(len(words))]
        text, entities = "", []
        for word, tag in zip(tokens, tags):
            if text and word not in ".,":
                text += " "
            start = len(text)
            text += word
            if tag.startswith("B-"):
                entities.append([tag[2:], start, len(text)])
            elif tag.startswith("I-"):
                entities[-1][2] = len(text)
        examples.append({"tokens": tokens, "tags": tags, "text": text, "entities": [tuple(e) for e in entities]})
    return examples


_PRONOUN = re.compile(r"\b(he|she|his|her)\b")


def qa_examples(rng, count, split="train"):
    """`count` dicts with `question`, `context`, `answer` and `answer_start` (the answer's only occurrence).

    Contexts describe two people (from `synthetic_text.qa_examples`); questions ask for a city, job,
    object, date or age. In training, half the examples have their names and cities made up. Follow-up questions (a pronoun, no name) and answers that occur twice are left out.
    """
    pools = synthetic_text._pools(split)
    names = re.compile(r"\b(" + "|".join(pools["first"] + pools["surname"] + pools["city"]) + r")\b")
    examples = []
    while len(examples) < count:
        for example in synthetic_text.qa_examples(rng, count, split):
            question, context, answer = example["question"], example["context"], example["answer"]
            if split == "train" and rng.random() < 0.5:
                # Made-up names and cities (one per real one), so answers do not rest on memorised names.
                made_up = {}
                rename = lambda match: made_up.setdefault(match.group(0), _made_up_word(rng))
                question, context, answer = (names.sub(rename, text) for text in (question, context, answer))
            if _PRONOUN.search(question) or context.count(answer) != 1:
                continue
            examples.append({"question": question, "context": context, "answer": answer,
                             "answer_start": context.index(answer)})
    return examples[:count]


def wordpiece_vocabulary(texts, size):
    """A cased WordPiece vocabulary of about `size` tokens learnt from `texts`, special tokens first."""
    from tokenizers import BertWordPieceTokenizer

    tokenizer = BertWordPieceTokenizer(lowercase=False, strip_accents=False)
    tokenizer.train_from_iterator(texts, vocab_size=size, min_frequency=2, show_progress=False,
                                  special_tokens=list(SPECIAL_TOKENS))
    vocabulary = tokenizer.get_vocab()
    return sorted(vocabulary, key=vocabulary.get)


def tiny_bert(vocabulary, sequence_length, width=64, layers=2):
    """A randomly initialised cased BERT backbone on `vocabulary` and its keras-hub preprocessor."""
    import keras_hub

    from kerasprop.models.tokens.token_heads import preprocessor_for

    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=len(vocabulary), num_layers=layers, num_heads=2, hidden_dim=width,
        intermediate_dim=2 * width, max_sequence_length=sequence_length,
    )
    tokenizer = keras_hub.models.BertTokenizer(vocabulary=vocabulary, lowercase=False)
    return backbone, preprocessor_for(backbone, tokenizer, sequence_length)


def save_weights_only(model, folder):
    """Saves a trained model as a preset without its optimiser state (which `save_weights` would keep)."""
    model.optimizer, model.compiled = None, False
    model.save_to_preset(folder)
