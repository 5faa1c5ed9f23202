"""backprop's task classes on Keras models: `Summarisation()(text)`, `Emotion().finetune(params)`.

Each class takes `model=None` (the task's default), a catalog name or alias, a
saved model's name or folder, or a model object, and is called with backprop's
arguments. A single input gives a single result; a list gives a list.

Example:
>>> import kerasprop
>>> vectorise = kerasprop.TextVectorisation()  # all-MiniLM-L6-v2 when offline
>>> len(vectorise(["one sentence", "another one"]))
2
"""

from kerasprop.schemas.specs import ListOf, Text, TupleOf, describe
from kerasprop.schemas.task_specs import TASK_SPECS
from kerasprop.tasks.base import Task, _given


class QA(Task):
    """Answers questions from a context; `prev_qa` holds earlier (question, answer) pairs.

    Example:
    >>> qa = QA()  # doctest: +SKIP
    >>> qa("Where does Sally live?", "Sally lives in London.")  # doctest: +SKIP
    'London'
    """

    task = "qa"

    def __call__(self, question, context, prev_qa=None):
        task_input = {"question": question, "context": context}
        if prev_qa is not None:
            task_input.update(_split_prev_qa(prev_qa, batched=isinstance(question, (list, tuple))))
        return self.run(task_input)


_PAIRS = ListOf(TupleOf(Text(allow_empty=True), Text(allow_empty=True)))


def _split_prev_qa(prev_qa, batched):
    """[(q, a), ...] (a list of those for a batch) -> prev_q and prev_a lists."""
    if batched:
        if not isinstance(prev_qa, (list, tuple)):
            raise TypeError(f"'prev_qa' must hold a list of (question, answer) pairs per question, got {describe(prev_qa)}.")
        per_item = [_PAIRS.check(f"prev_qa[{i}]", pairs) for i, pairs in enumerate(prev_qa)]
        return {"prev_q": [[q for q, _ in p] for p in per_item], "prev_a": [[a for _, a in p] for p in per_item]}
    pairs = _PAIRS.check("prev_qa", prev_qa)
    return {"prev_q": [q for q, _ in pairs], "prev_a": [a for _, a in pairs]}


class TextClassification(Task):
    """Scores labels for a text: zero-shot over `labels`, or over the labels a model learnt.

    Example:
    >>> classify = TextClassification()
    >>> scores = classify("I am mad because my product broke.", ["product issue", "nature"])
    >>> max(scores, key=scores.get)
    'product issue'
    """

    task = "text-classification"

    def __call__(self, text, labels=None, top_k=0):
        return self.run(_given(text=text, labels=labels, top_k=top_k))


class Emotion(Task):
    """Names the emotions in a text, comma-separated (GoEmotions labels).

    Example:
    >>> Emotion()("I really like what you did there")  # doctest: +SKIP
    'approval'
    """

    task = "emotion"

    def __call__(self, text):
        return self.run({"text": text})


class Summarisation(Task):
    """Summarises a text.

    Example:
    >>> Summarisation()("This is a long document that contains plenty of words")  # doctest: +SKIP
    'short summary of document'
    """

    task = "summarisation"

    def __call__(self, text):
        return self.run({"text": text})


class TextGeneration(Task):
    """Continues a text and returns only the new text.

    Options as in backprop: `min_length`/`max_length` count new tokens;
    `temperature=0.0` is greedy; giving a sampling option turns `do_sample` on.
    `stream=True` returns an iterator of text pieces as they are generated (one
    text, one generation, no beam search); the pieces join to the same text.

    Example:
    >>> TextGeneration()("I like to go to", max_length=8)  # doctest: +SKIP
    ' the beach because I love the sun.'
    >>> for piece in TextGeneration()("I like to go to", max_length=8, stream=True):  # doctest: +SKIP
    ...     print(piece, end="", flush=True)
    """

    task = "text-generation"

    def __call__(self, text, min_length=None, max_length=None, temperature=None, top_k=None, top_p=None,
                 repetition_penalty=None, length_penalty=None, num_beams=None, num_generations=None,
                 do_sample=None, stream=False):
        task_input = _given(
            text=text, min_length=min_length, max_length=max_length, temperature=temperature, top_k=top_k,
            top_p=top_p, repetition_penalty=repetition_penalty, length_penalty=length_penalty,
            num_beams=num_beams, num_generations=num_generations, do_sample=do_sample,
        )
        return self.model.stream(task_input, task=self.task) if stream else self.run(task_input)


class TextVectorisation(Task):
    """Turns text into a vector (a list of floats; a tensor with `return_tensor=True`).

    `truncate_dim` keeps the first dimensions (re-normalised when the model
    normalises) and `precision` returns "int8", "uint8", "binary" or "ubinary"
    vectors, as sentence-transformers' `encode` does.

    Example:
    >>> len(TextVectorisation()("kerasprop turns text into vectors"))
    384
    >>> len(TextVectorisation()("kerasprop turns text into vectors", precision="ubinary"))
    48
    """

    task = "text-vectorisation"

    def __call__(self, text, return_tensor=False, truncate_dim=None, precision=None):
        return self.run(_given(text=text, return_tensor=return_tensor, truncate_dim=truncate_dim,
                               precision=precision))


class ImageClassification(Task):
    """Scores labels for an image: zero-shot over `labels`, or over the labels a model learnt.

    Example:
    >>> ImageClassification()("dog.png", ["cat", "dog"])  # doctest: +SKIP
    {'dog': 0.99, 'cat': 0.01}
    """

    task = "image-classification"

    def __call__(self, image, labels=None, top_k=0):
        return self.run(_given(image=image, labels=labels, top_k=top_k))


class ImageVectorisation(Task):
    """Turns an image into a vector.

    Example:
    >>> len(ImageVectorisation()("dog.png"))  # doctest: +SKIP
    512
    """

    task = "image-vectorisation"

    def __call__(self, image, return_tensor=False, truncate_dim=None, precision=None):
        return self.run(_given(image=image, return_tensor=return_tensor, truncate_dim=truncate_dim,
                               precision=precision))


class ImageTextVectorisation(Task):
    """Turns an image and a text into one joint vector.

    Example:
    >>> len(ImageTextVectorisation()("dog.png", "a dog on a beach"))  # doctest: +SKIP
    1024
    """

    task = "image-text-vectorisation"

    def __call__(self, image, text, return_tensor=False, truncate_dim=None, precision=None):
        return self.run(_given(image=image, text=text, return_tensor=return_tensor, truncate_dim=truncate_dim,
                               precision=precision))


class SpeechRecognition(Task):
    """Transcribes speech: a WAV path, WAV bytes, base64 WAV or an array (with `sampling_rate`).

    Audio longer than the model's window (30 s for Whisper) is transcribed in
    overlapping windows and the texts joined. Whisper models also take
    `return_timestamps=True` (`{"text", "chunks": [{"text", "timestamp"}]}`)
    and, when multilingual, `language` ("de") and `task` ("transcribe" or
    "translate").

    Example:
    >>> SpeechRecognition()("speech.wav")  # doctest: +SKIP
    'Hello world.'
    """

    task = "speech-recognition"

    def __call__(self, audio, sampling_rate=None, return_timestamps=None, language=None, task=None):
        return self.run(
            _given(audio=audio, sampling_rate=sampling_rate, return_timestamps=return_timestamps, language=language,
                   task=task)
        )


class AudioClassification(Task):
    """Scores the labels a model learnt for an audio clip.

    Example:
    >>> AudioClassification()("tone.wav")  # doctest: +SKIP
    {'rising': 0.97, 'falling': 0.02, 'steady': 0.01, 'noise': 0.0}
    """

    task = "audio-classification"

    def __call__(self, audio, top_k=0, sampling_rate=None):
        return self.run(_given(audio=audio, top_k=top_k, sampling_rate=sampling_rate))


class FillMask(Task):
    """Fills each `[MASK]` (or `<mask>`) in a text with the most probable tokens.

    One mask gives a list of `top_k` candidates `{"sequence", "score", "token",
    "token_str"}`; several masks give one such list per mask.

    Example:
    >>> FillMask()("Paris is the [MASK] of France.", top_k=1)  # doctest: +SKIP
    [{'sequence': 'Paris is the capital of France.', 'score': 0.99, 'token': 3007, 'token_str': 'capital'}]
    """

    task = "fill-mask"

    def __call__(self, text, top_k=None):
        return self.run(_given(text=text, top_k=top_k))


class Translation(Task):
    """Translates a text (T5's prompt: "translate English to German: {text}").

    Example:
    >>> Translation()("the red circle", source_language="English", target_language="German")  # doctest: +SKIP
    'der rote Kreis'
    """

    task = "translation"

    def __call__(self, text, source_language=None, target_language=None, max_length=None, num_beams=None):
        return self.run(
            _given(text=text, source_language=source_language, target_language=target_language,
                   max_length=max_length, num_beams=num_beams)
        )


class TextPairClassification(Task):
    """Classifies pairs of texts (paraphrase, entailment, ...) over the labels a model learnt.

    Example:
    >>> pairs = TextPairClassification()  # doctest: +SKIP
    >>> pairs("A man is eating.", "Someone eats.")  # doctest: +SKIP
    {'entailment': 0.93, 'neutral': 0.05, 'contradiction': 0.02}
    """

    task = "text-pair-classification"

    def __call__(self, text, text_pair, top_k=0):
        return self.run(_given(text=text, text_pair=text_pair, top_k=top_k))


class ExtractiveQA(Task):
    """Finds the answer to a question as a span of the context: `{"answer", "score", "start", "end"}`.

    Long contexts are read in overlapping windows; `top_k` > 1 gives a list of answers.

    Example:
    >>> ExtractiveQA()("Where does Sally live?", "Sally lives in London.")  # doctest: +SKIP
    {'answer': 'London', 'score': 0.9, 'start': 15, 'end': 21}
    """

    task = "extractive-qa"

    def __call__(self, question, context, top_k=None, max_answer_len=None, max_seq_len=None, doc_stride=None,
                 handle_impossible_answer=None):
        return self.run(_given(question=question, context=context, top_k=top_k, max_answer_len=max_answer_len,
                               max_seq_len=max_seq_len, doc_stride=doc_stride,
                               handle_impossible_answer=handle_impossible_answer))


class TokenClassification(Task):
    """Finds named entities: `[{"entity_group", "score", "word", "start", "end"}, ...]` per text.

    `aggregation` is "average" (default: a word's pieces take one label, so a word is never split),
    "first", "max", "simple" (piece by piece) or "none" (one entry per token).
    A text longer than the model's sequence length is truncated, or with `stride` read in
    overlapping windows sharing `stride` tokens.

    Example:
    >>> TokenClassification()("Alice works for Acme in Paris.")  # doctest: +SKIP
    [{'entity_group': 'PER', 'score': 0.99, 'word': 'alice', 'start': 0, 'end': 5}, ...]
    """

    task = "token-classification"

    def __call__(self, text, aggregation=None, ignore_labels=None, stride=None):
        return self.run(_given(text=text, aggregation=aggregation, ignore_labels=ignore_labels, stride=stride))


#: Task string -> task class, one per `TaskSpec`.
TASK_CLASSES = {spec.task: globals()[spec.task_class] for spec in TASK_SPECS.values()}


def task_class(task):
    """The task class of a task string."""
    from kerasprop.schemas import get_schema

    get_schema(task)
    if task not in TASK_CLASSES:
        raise ValueError(f"Task '{task}' has no task class yet.")
    return TASK_CLASSES[task]


__all__ = [
    "Task", "task_class", "TASK_CLASSES", "QA", "TextClassification", "Emotion", "Summarisation", "TextGeneration",
    "TextVectorisation", "ImageClassification", "ImageVectorisation", "ImageTextVectorisation", "FillMask",
    "Translation", "TextPairClassification", "SpeechRecognition", "AudioClassification", "ExtractiveQA",
    "TokenClassification",
]
