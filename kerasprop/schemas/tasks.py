"""The task schemas, from backprop's task tables.

Adding a task is adding one `TaskSchema` here and one `TaskSpec` in
`task_specs.py` (and a model family that serves it): the task classes, the model
shim, the CLI and the HTTP adapter all read these descriptions
(docs/architecture.md, "How to add a task").
"""

from kerasprop.schemas.audio import Audio, resample_request
from kerasprop.schemas.images import Image
from kerasprop.schemas.schema import BATCH, ITEM, Field, FinetuneSchema, TaskSchema
from kerasprop.schemas.specs import (
    AnyOf,
    Boolean,
    Choice,
    DictOf,
    Integer,
    ListOf,
    Null,
    Number,
    Record,
    Text,
    TupleOf,
)

TEXT = Field("text", Text(), BATCH, required=True, description="text or list of texts")
IMAGE = Field("image", Image(), BATCH, required=True, description="image or list of images")
TOP_K = Field("top_k", Integer(minimum=0), default=0, description="number of most probable labels to return (0: all)")
RETURN_TENSOR = Field("return_tensor", Boolean(), default=False, description="return a tensor instead of a list of floats")
#: The vector precisions of sentence-transformers' `encode(precision=...)`.
VECTOR_PRECISIONS = ("float32", "int8", "uint8", "binary", "ubinary")
VECTOR_OPTIONS = (
    Field("truncate_dim", Integer(minimum=1),
          description="keep the first N dimensions (Matryoshka-style); re-normalised when the model normalises"),
    Field("precision", Choice(VECTOR_PRECISIONS), default="float32",
          description="precision of the returned vectors, as sentence-transformers names them: float32, "
                      "int8/uint8 (each dimension's range over the request's vectors in 256 steps; needs 2 or "
                      "more vectors), binary/ubinary (signs packed 8 per byte, as int8/uint8)"),
    RETURN_TENSOR,
)
AUDIO = Field("audio", Audio(), BATCH, required=True, description="audio or list of audio clips (WAV path, bytes, base64 or array)")
SAMPLING_RATE = Field(
    "sampling_rate", Integer(minimum=1), default=16000, description="sampling rate of audio given as arrays; files carry their own"
)
LABEL_SCORES = DictOf(Number(minimum=0.0, maximum=1.0))
VECTOR = ListOf(Number())
TEXTS = ListOf(Text())
STRINGS = ListOf(Text(allow_empty=True))
OFFSET = Integer(minimum=0)
ANSWER = Record(answer=Text(allow_empty=True), score=Number(minimum=0.0), start=OFFSET, end=OFFSET)
ENTITY_GROUP = Record(entity_group=Text(), score=Number(minimum=0.0, maximum=1.0), word=Text(allow_empty=True),
                      start=OFFSET, end=OFFSET)
TOKEN_ENTITY = Record(entity=Text(), score=Number(minimum=0.0, maximum=1.0), index=OFFSET,
                      word=Text(allow_empty=True), start=OFFSET, end=OFFSET)
SECONDS = AnyOf(Number(minimum=0.0), Null())
SPEECH_SEGMENTS = Record(
    text=Text(allow_empty=True),
    chunks=ListOf(Record(text=Text(allow_empty=True), timestamp=TupleOf(SECONDS, SECONDS))),
)
AGGREGATIONS = ("none", "simple", "first", "average", "max")


def _labels_field(description):
    return Field(
        "labels",
        ListOf(Text(), min_items=1, unique=True),
        ITEM,
        broadcast=True,
        description=description,
    )


def _check_qa(request):
    for i, (prev_q, prev_a) in enumerate(zip(request.inputs["prev_q"], request.inputs["prev_a"])):
        where = f" for input {i}" if request.batched else ""
        if (prev_q is None) != (prev_a is None):
            given, missing = ("prev_q", "prev_a") if prev_a is None else ("prev_a", "prev_q")
            raise ValueError(f"'{given}' was given without '{missing}'{where}: give both or neither.")
        if prev_q is not None and len(prev_q) != len(prev_a):
            raise ValueError(
                f"'prev_q' has {len(prev_q)} questions but 'prev_a' has {len(prev_a)} answers{where}: "
                "they must pair up."
            )


#: How a text marks the tokens to fill; a model reads either spelling as its own mask token.
MASK_SPELLINGS = ("[MASK]", "<mask>")
FILL = Record(sequence=Text(allow_empty=True), score=Number(minimum=0.0, maximum=1.0), token=Integer(minimum=0),
              token_str=Text(allow_empty=True))


def _check_fill_mask(request):
    for i, text in enumerate(request.inputs["text"]):
        if not any(mask in text for mask in MASK_SPELLINGS):
            key = f"text[{i}]" if request.batched else "text"
            raise ValueError(
                f"'{key}' has no mask to fill: mark each missing word with {' or '.join(MASK_SPELLINGS)}, "
                f"got {text!r}."
            )


def _check_generation(request):
    options = request.options
    if options["min_length"] > options["max_length"]:
        if "min_length" in request.given:
            raise ValueError(
                f"'min_length' ({options['min_length']}) must not exceed 'max_length' ({options['max_length']})."
            )
        options["min_length"] = options["max_length"]
    if options["num_beams"] > 1 and options["num_generations"] > options["num_beams"]:
        raise ValueError(
            f"'num_generations' ({options['num_generations']}) must not exceed 'num_beams' ({options['num_beams']}): "
            "beam search returns at most its num_beams best beams."
        )


def _check_tags(params):
    for i, (words, tags) in enumerate(zip(params["tokens"], params["tags"])):
        if len(words) != len(tags):
            raise ValueError(f"tokens[{i}] has {len(words)} words but tags[{i}] has {len(tags)} tags: give one tag per word.")


def _check_stride(request):
    if request.options["stride"] is not None and request.options["aggregation"] == "none":
        raise ValueError(
            "'stride' reads a text in overlapping windows, whose entities are merged: it needs an 'aggregation' "
            "other than 'none' (simple, first, average or max)."
        )


def _check_answers(params):
    starts = params.get("answer_starts") or [None] * len(params["answers"])
    for i, (context, answer, start) in enumerate(zip(params["contexts"], params["answers"], starts)):
        if start is None and answer not in context:
            raise ValueError(f"answers[{i}] {answer!r} does not occur in contexts[{i}]; give 'answer_starts'.")
        if start is not None and context[start:start + len(answer)] != answer:
            raise ValueError(
                f"answers[{i}] {answer!r} is not at answer_starts[{i}]={start} of contexts[{i}] "
                f"(found {context[start:start + len(answer)]!r})."
            )


def _text_to_text(description, max_input_length, max_output_length):
    return {
        None: FinetuneSchema(
            fields=(
                Field("input_text", TEXTS, required=True, description="input texts"),
                Field("output_text", TEXTS, required=True, description="target texts, one per input"),
            ),
            options=(
                Field("max_input_length", Integer(minimum=1), default=max_input_length),
                Field("max_output_length", Integer(minimum=1), default=max_output_length),
            ),
            description=description,
        )
    }


def _text_pairs_params():
    return {
        None: FinetuneSchema(
            fields=(
                Field("texts", TEXTS, required=True, description="first text of each pair"),
                Field("text_pairs", TEXTS, required=True, description="second text of each pair"),
                Field("labels", ListOf(AnyOf(Text(), Integer())), required=True, description="label per pair"),
            ),
            options=(Field("max_length", Integer(minimum=1), default=128),),
            description="labelled pairs of texts (paraphrase, entailment, ...), cross-entropy",
        )
    }


def _vector_variants(kind, item_spec):
    one, pair = ("texts", "texts") if kind == "text" else ("images", "imgs")
    return {
        "triplet": FinetuneSchema(
            fields=(
                Field(one, ListOf(item_spec), required=True, description=f"{kind}s to embed"),
                Field("groups", ListOf(Integer()), required=True, description="group id per item; same group = similar"),
            ),
            description="semi-hard triplet loss over items drawn from the same and other groups",
        ),
        "cosine_similarity": FinetuneSchema(
            fields=(
                Field(f"{pair}1", ListOf(item_spec), required=True, description=f"first {kind} of each pair"),
                Field(f"{pair}2", ListOf(item_spec), required=True, description=f"second {kind} of each pair"),
                Field(
                    "similarity_scores",
                    ListOf(Number(minimum=-1.0, maximum=1.0)),
                    required=True,
                    description="target cosine similarity per pair",
                ),
            ),
            description="mean squared error between cosine similarity and the target score",
        ),
    }


SCHEMAS = [
    TaskSchema(
        task="qa",
        description="Answers a question from a context, optionally following earlier questions and answers.",
        fields=(
            Field("question", Text(), BATCH, required=True, description="question or list of questions"),
            Field("context", Text(), BATCH, required=True, description="context or list of contexts"),
            Field("prev_q", STRINGS, ITEM, description="previous questions (a list per input for a batch)"),
            Field("prev_a", STRINGS, ITEM, description="previous answers, paired with prev_q"),
        ),
        output=Text(allow_empty=True),
        output_description="the answer",
        check=_check_qa,
        finetune={
            None: FinetuneSchema(
                fields=(
                    Field("questions", TEXTS, required=True),
                    Field("answers", STRINGS, required=True, description='"": the context holds no answer'),
                    Field("contexts", TEXTS, required=True),
                    Field("prev_qas", ListOf(ListOf(TupleOf(Text(allow_empty=True), Text(allow_empty=True))))),
                ),
                options=(
                    Field("max_input_length", Integer(minimum=1), default=256),
                    Field("max_output_length", Integer(minimum=1), default=32),
                ),
                description="question/answer/context triples, with optional previous (question, answer) pairs",
            )
        },
    ),
    TaskSchema(
        task="text-classification",
        description="Assigns probabilities to labels: zero-shot over given labels, or over the labels a model learnt.",
        fields=(
            TEXT,
            _labels_field("labels to score (zero-shot); one list for all texts or a list per text"),
            TOP_K,
        ),
        output=LABEL_SCORES,
        output_description="label -> probability, most probable first",
        finetune={
            None: FinetuneSchema(
                fields=(
                    Field("texts", TEXTS, required=True),
                    Field("labels", ListOf(AnyOf(Text(), Integer())), required=True, description="label per text"),
                ),
                options=(Field("max_length", Integer(minimum=1), default=128),),
            )
        },
    ),
    TaskSchema(
        task="emotion",
        description="Names the emotions in a text (GoEmotions labels, comma-separated).",
        fields=(TEXT,),
        output=Text(allow_empty=True),
        output_description="comma-separated emotions",
        finetune=_text_to_text("texts and their emotion strings", 256, 32),
    ),
    TaskSchema(
        task="summarisation",
        description="Writes a summary of a text.",
        fields=(TEXT,),
        output=Text(allow_empty=True),
        output_description="the summary",
        finetune=_text_to_text("texts and their summaries", 512, 128),
    ),
    TaskSchema(
        task="text-generation",
        description="Continues a text; returns only the new text.",
        fields=(
            TEXT,
            Field("min_length", Integer(minimum=0), default=10, description="minimum new tokens"),
            Field("max_length", Integer(minimum=1), default=20, description="maximum new tokens"),
            Field("temperature", Number(minimum=0.0), default=1.0, description="0.0 is greedy; higher is more random"),
            Field("top_k", Integer(minimum=0), default=0, description="sample from the k most probable tokens (0: no limit)"),
            Field("top_p", Number(exclusive_minimum=0.0, maximum=1.0), default=1.0, description="nucleus sampling mass"),
            Field("repetition_penalty", Number(exclusive_minimum=0.0), default=1.0, description=">1 discourages repeats"),
            Field("length_penalty", Number(), default=1.0, description="beam score exponent on length: >1 favours longer"),
            Field("num_beams", Integer(minimum=1), default=1, description="beam width (1: no beam search)"),
            Field("num_generations", Integer(minimum=1), default=1, description="generations per input"),
            Field("do_sample", Boolean(), description="sample instead of greedy/beam; on when a sampling option is given"),
        ),
        output=AnyOf(Text(allow_empty=True), ListOf(Text(allow_empty=True))),
        output_description="generated text; a list of texts when num_generations > 1",
        check=_check_generation,
        finetune=_text_to_text("prompts and their continuations", 128, 32),
    ),
    TaskSchema(
        task="text-vectorisation",
        description="Turns text into a vector.",
        fields=(TEXT, *VECTOR_OPTIONS),
        output=VECTOR,
        output_description="the vector",
        finetune=_vector_variants("text", Text()),
        default_variant="triplet",
    ),
    TaskSchema(
        task="image-classification",
        description="Assigns probabilities to labels for an image: zero-shot or over learnt labels.",
        fields=(IMAGE, _labels_field("labels to score (zero-shot); one list for all images or a list per image"), TOP_K),
        output=LABEL_SCORES,
        output_description="label -> probability, most probable first",
        finetune={
            "single_label": FinetuneSchema(
                fields=(
                    Field("images", ListOf(Image()), required=True),
                    Field("labels", ListOf(AnyOf(Text(), Integer())), required=True, description="label per image"),
                ),
                description="one label per image, cross-entropy",
            ),
            "multi_label": FinetuneSchema(
                fields=(
                    Field("images", ListOf(Image()), required=True),
                    Field("labels", ListOf(ListOf(AnyOf(Text(), Integer()))), required=True, description="labels per image"),
                ),
                description="any number of labels per image, sigmoid and binary cross-entropy",
            ),
        },
        default_variant="single_label",
    ),
    TaskSchema(
        task="image-vectorisation",
        description="Turns an image into a vector.",
        fields=(IMAGE, *VECTOR_OPTIONS),
        output=VECTOR,
        output_description="the vector",
        finetune=_vector_variants("image", Image()),
        default_variant="triplet",
    ),
    TaskSchema(
        task="image-text-vectorisation",
        description="Turns an image and a text into one vector (both concatenated, L2-normalised).",
        fields=(
            IMAGE,
            Field("text", Text(), BATCH, required=True, description="text or list of texts, one per image"),
            *VECTOR_OPTIONS,
        ),
        output=VECTOR,
        output_description="the joint vector",
        finetune={
            "triplet": FinetuneSchema(
                fields=(
                    Field("images", ListOf(Image()), required=True),
                    Field("texts", TEXTS, required=True),
                    Field("groups", ListOf(Integer()), required=True),
                ),
            ),
            "cosine_similarity": FinetuneSchema(
                fields=(
                    Field("imgs1", ListOf(Image()), required=True),
                    Field("texts1", TEXTS, required=True),
                    Field("imgs2", ListOf(Image()), required=True),
                    Field("texts2", TEXTS, required=True),
                    Field("similarity_scores", ListOf(Number(minimum=-1.0, maximum=1.0)), required=True),
                ),
            ),
        },
        default_variant="triplet",
    ),
    TaskSchema(
        task="speech-recognition",
        description="Transcribes speech; audio longer than the model's window is transcribed in overlapping windows.",
        fields=(
            AUDIO,
            SAMPLING_RATE,
            Field("return_timestamps", Boolean(), default=False,
                  description="also return the transcript's segments with their start and end (seconds)"),
            Field("language", Text(), description="language code of the speech, e.g. 'de' (multilingual models)"),
            Field("task", Choice(("transcribe", "translate")),
                  description="transcribe, or translate into English (multilingual models)"),
        ),
        output=AnyOf(Text(allow_empty=True), SPEECH_SEGMENTS),
        output_description="the transcript; with return_timestamps, {text, chunks: [{text, timestamp: [start, end]}]}",
        check=resample_request,
        finetune={
            None: FinetuneSchema(
                fields=(
                    Field("audio", ListOf(Audio()), required=True, description="audio clips, each within the model's window"),
                    Field("text", TEXTS, required=True, description="transcript per clip"),
                ),
                options=(
                    SAMPLING_RATE,
                    Field("max_output_length", Integer(minimum=1), default=64, description="transcript tokens kept"),
                ),
                description="audio clips and their transcripts",
            )
        },
    ),
    TaskSchema(
        task="fill-mask",
        description="Fills each [MASK] (or <mask>) in a text with the most probable tokens.",
        fields=(
            Field("text", Text(), BATCH, required=True,
                  description="text or list of texts, each with one or more [MASK] (or <mask>)"),
            Field("top_k", Integer(minimum=1), default=5, description="number of candidates per mask"),
        ),
        output=AnyOf(ListOf(FILL), ListOf(ListOf(FILL))),
        output_description=(
            "candidates, most probable first, each {sequence, score, token, token_str}; "
            "a list of such lists (one per mask) when a text has several masks"
        ),
        check=_check_fill_mask,
        finetune={
            None: FinetuneSchema(
                fields=(Field("texts", TEXTS, required=True, description="texts to learn from, no masks needed"),),
                options=(
                    Field("max_length", Integer(minimum=3), default=128, description="tokens kept per text"),
                    Field("mask_rate", Number(exclusive_minimum=0.0, maximum=1.0), default=0.15,
                          description="share of each text's tokens the loss covers"),
                ),
                description="plain texts, masked as BERT masks them: of the chosen tokens, 80% become the mask "
                            "token, 10% a random token and 10% stay",
            )
        },
    ),
    TaskSchema(
        task="translation",
        description="Translates a text from one language to another.",
        fields=(
            TEXT,
            Field("source_language", Text(), default="English", description="language of the text"),
            Field("target_language", Text(), default="German", description="language to translate into"),
            Field("max_length", Integer(minimum=1), default=128, description="maximum new tokens"),
            Field("num_beams", Integer(minimum=1), default=1, description="beam width (1: greedy)"),
        ),
        output=Text(allow_empty=True),
        output_description="the translation",
        finetune={
            None: FinetuneSchema(
                fields=(
                    Field("input_text", TEXTS, required=True, description="texts in the source language"),
                    Field("output_text", TEXTS, required=True, description="their translations"),
                ),
                options=(
                    Field("source_language", Text(), default="English"),
                    Field("target_language", Text(), default="German"),
                    Field("max_input_length", Integer(minimum=1), default=128),
                    Field("max_output_length", Integer(minimum=1), default=128),
                ),
                description="texts and their translations between two languages",
            )
        },
    ),
    TaskSchema(
        task="audio-classification",
        description="Assigns probabilities to the labels a model learnt for an audio clip.",
        fields=(AUDIO, TOP_K, SAMPLING_RATE),
        output=LABEL_SCORES,
        output_description="label -> probability, most probable first",
        check=resample_request,
        finetune={
            None: FinetuneSchema(
                fields=(
                    Field("audio", ListOf(Audio()), required=True),
                    Field("labels", ListOf(AnyOf(Text(), Integer())), required=True, description="label per clip"),
                ),
                options=(
                    SAMPLING_RATE,
                ),
                description="one label per clip, cross-entropy",
            )
        },
    ),
    TaskSchema(
        task="text-pair-classification",
        description="Classifies a pair of texts (paraphrase, entailment, ...) over the labels a model learnt.",
        fields=(
            Field("text", Text(), BATCH, required=True, description="first text or list of first texts"),
            Field("text_pair", Text(), BATCH, required=True, description="second text or list, one per first text"),
            TOP_K,
        ),
        output=LABEL_SCORES,
        output_description="label -> probability, most probable first",
        finetune=_text_pairs_params(),
    ),
    # The transformers task summary's span tasks (kerasprop.models.tokens.extractive_qa, token_classifier).
    TaskSchema(
        task="extractive-qa",
        description="Finds the answer to a question as a span of the context, with its character offsets.",
        fields=(
            Field("question", Text(), BATCH, required=True, description="question or list of questions"),
            Field("context", Text(), BATCH, required=True, description="context or list of contexts"),
            Field("top_k", Integer(minimum=1), default=1, description="answers per question (more than 1: a list)"),
            Field("max_answer_len", Integer(minimum=1), default=15, description="longest answer in tokens"),
            Field("max_seq_len", Integer(minimum=8), default=384, description="tokens per window (question + context)"),
            Field("doc_stride", Integer(minimum=0), default=128, description="tokens shared by consecutive windows"),
            Field("handle_impossible_answer", Boolean(), default=False, description="allow the empty answer"),
        ),
        output=AnyOf(ANSWER, ListOf(ANSWER)),
        output_description="{answer, score, start, end}; a list of them, best first, when top_k > 1",
        finetune={
            None: FinetuneSchema(
                fields=(
                    Field("questions", TEXTS, required=True),
                    Field("contexts", TEXTS, required=True),
                    Field("answers", STRINGS, required=True,
                          description='answer text, a span of its context ("": the context holds no answer)'),
                    Field("answer_starts", ListOf(Integer(minimum=0)),
                          description="character offset of each answer (default: its first occurrence)"),
                ),
                options=(Field("max_length", Integer(minimum=8), default=384),),
                description="questions, contexts and answer spans (SQuAD style)",
                check=_check_answers,
            )
        },
    ),
    TaskSchema(
        task="token-classification",
        description="Finds named entities (or any token labels) with their character offsets.",
        fields=(
            TEXT,
            Field("aggregation", Choice(AGGREGATIONS), default="average",
                  description="how word pieces become entities: average (a word's pieces agree on the label "
                              "their mean scores give; never splits a word), first, max, simple (piece by "
                              "piece, as the transformers pipeline) or none (one entry per token)"),
            Field("ignore_labels", ListOf(Text()), default=["O"], description="labels left out of the result"),
            Field("stride", Integer(minimum=0),
                  description="read texts longer than the model's sequence length in overlapping windows sharing "
                              "this many tokens (default: truncate); needs an aggregation other than none"),
        ),
        output=ListOf(AnyOf(ENTITY_GROUP, TOKEN_ENTITY)),
        output_description="entities in text order: {entity_group, score, word, start, end} "
                           "({entity, score, index, word, start, end} per token with aggregation 'none')",
        check=_check_stride,
        finetune={
            None: FinetuneSchema(
                fields=(
                    Field("tokens", ListOf(ListOf(Text(), min_items=1)), required=True, description="words per example"),
                    Field("tags", ListOf(ListOf(Text(), min_items=1)), required=True, description="tag per word"),
                ),
                options=(Field("max_length", Integer(minimum=8), default=128),),
                description="words and their tags (e.g. B-PER, I-PER, O), one list per example",
                check=_check_tags,
            )
        },
    ),
]
