"""What kerasprop's encoder-decoder models share: the `Seq2SeqLM` mixin.

`Seq2SeqLM` adds the backprop model contract to a keras-hub `Seq2SeqLM`; the
family classes (`T5MultiTask`, `BartMultiTask`) add nothing but the keras-hub
class they extend. It serves "summarisation", "emotion", "qa" and
"text-generation" through backprop's prompts ("summarise: {text}",
"emotion: {text}", "q: {prev_q} a: {prev_a} ... q: {question} c: {context}")
with backprop's per-task generation settings, and mends three keras-hub
faults: `from_preset` on the base class returns the right subclass,
`generate(strip_prompt=True)` works, and the preprocessor's sequence lengths
survive `save_to_preset`.

Generation pads encoder inputs to a few length buckets and the batch to a
power of two, and keeps one compiled generate function per sampler, so each
task compiles once per shape bucket rather than once per call.

Families that implement the decoding hooks (`encode_for_decoding`,
`empty_decoder_cache`, `decode`; T5 does) generate through kerasprop's loop
(`Seq2SeqLM.generate_step`): the encoder output's cross-attention keys and
values are computed once per prompt and stay outside the sampler's cache, so
beam search neither copies them per beam nor reorders them every step (beams
read their prompt's copy); the self-attention cache is one buffer per layer,
updated in place.
"""

import dataclasses
import importlib
import json
import warnings

import keras_hub
import numpy as np
from keras import ops

from kerasprop.models.runtime.deferred_init import deferred_initialisation
from kerasprop.models.runtime.generation import (
    check_streamable,
    first_of_copies,
    mask_after_end,
    sampler_from_options,
    texts_of_new_tokens,
    wants_sampling,
)
from kerasprop.models.runtime.inference import power_of_two_bucket
from kerasprop.models.runtime.streaming import TextStream, streaming_compile
from kerasprop.models.task_model import KerasTaskModel

GENERATIVE_TASKS = ("summarisation", "emotion", "qa", "text-generation")
#: backprop's prompt prefixes, and T5's for translation. Google's T5 checkpoints spell "summarize: ".
DEFAULT_TASK_PREFIXES = {
    "summarisation": "summarise: ",
    "emotion": "emotion: ",
    "translation": "translate {source_language} to {target_language}: ",
}
#: Family modules whose classes `Seq2SeqLM.from_preset` can return.
FAMILY_MODULES = ("kerasprop.models.t5.t5_multitask", "kerasprop.models.bart.bart_multitask")
#: Encoder inputs are padded to the first of these lengths that fits (or the limit).
ENCODER_BUCKETS = (32, 64, 128, 256, 512, 1024, 2048)
#: The backprop shim generates at most this many inputs at once.
MAX_BATCH_SIZE = 32


@dataclasses.dataclass(frozen=True)
class GenerationSettings:
    """How to generate for a task; lengths count new tokens."""

    max_new_tokens: int
    min_new_tokens: int = 0
    num_beams: int = 1
    no_repeat_ngram_size: int = 0
    do_sample: bool = False
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    repetition_penalty: float = 1.0
    length_penalty: float = 1.0
    num_generations: int = 1
    #: Whether the sampler reports its tokens as it chooses them (see `kerasprop.models.runtime.streaming`).
    stream: bool = False

    def sampler(self):
        """A kerasprop `GenerationSampler` (a keras-hub sampler with logits processing) for these settings."""
        options = {
            "min_length": self.min_new_tokens,
            "max_length": self.max_new_tokens,
            "num_beams": self.num_beams,
            "do_sample": self.do_sample,
            "temperature": self.temperature,
            "top_k": self.top_k,
            "top_p": self.top_p,
            "repetition_penalty": self.repetition_penalty,
            "length_penalty": self.length_penalty,
            "num_generations": self.num_generations,
            "stream": self.stream,
        }
        return sampler_from_options(options, no_repeat_ngram_size=self.no_repeat_ngram_size)


#: backprop's settings: emotion and QA greedy; summaries by beam search.
TASK_GENERATION = {
    "emotion": GenerationSettings(max_new_tokens=30),
    "qa": GenerationSettings(max_new_tokens=96),
    "summarisation": GenerationSettings(max_new_tokens=200, min_new_tokens=30, num_beams=4, no_repeat_ngram_size=3),
}


def qa_prompt(question, context, previous=()):
    """backprop's conversational QA prompt: `q: .. a: .. q: {question} c: {context}`."""
    parts = [f"q: {q} a: {a}" for q, a in previous]
    parts += [f"q: {question}", f"c: {context}"]
    return " ".join(parts)


def _bucket(length, buckets, limit):
    return min(next((b for b in buckets if b >= length), limit), limit)


def _generations_per_prompt(sampler):
    """How many consecutive rows of a batch a beam sampler fills from one search (`num_generations`)."""
    return getattr(getattr(sampler, "sampler", sampler), "num_return_sequences", 1)


def _batch_bucket(size):
    """The padded batch size: a power of two, then multiples of 8."""
    return power_of_two_bucket(size) if size <= 8 else -(-size // 8) * 8


def _pack_for_generation(preprocessor, x, decoder_length):
    """Tokenises once and packs the encoder inputs to the smallest length bucket that fits."""
    if isinstance(x, dict):
        encoder_text, decoder_text = x["encoder_text"], x["decoder_text"]
    else:
        encoder_text, decoder_text = x, preprocessor._empty_decoder_text(x)
    encoder_ids = preprocessor.tokenizer(encoder_text)
    # keras-hub tokenises to lists eagerly and to ragged tensors in tf.data.
    rows = encoder_ids.to_list() if hasattr(encoder_ids, "to_list") else encoder_ids
    packer = preprocessor.encoder_packer
    specials = len(np.atleast_1d(packer.start_value)) if packer.start_value is not None else 0
    longest = max(len(row) for row in rows) + specials + (packer.end_value is not None)
    limit = preprocessor.encoder_sequence_length
    if longest > limit:
        warnings.warn(
            f"An input has {longest} tokens, more than the model's limit of {limit}: it is truncated "
            f"to the first {limit}.",
            stacklevel=4,
        )
    encoder_token_ids, encoder_padding_mask = packer(
        encoder_ids, sequence_length=_bucket(longest, ENCODER_BUCKETS, limit)
    )
    decoder_token_ids, decoder_padding_mask = preprocessor.decoder_packer(
        preprocessor.tokenizer(decoder_text), sequence_length=decoder_length, add_end_value=False
    )
    return {
        "encoder_token_ids": encoder_token_ids,
        "encoder_padding_mask": encoder_padding_mask,
        "decoder_token_ids": decoder_token_ids,
        "decoder_padding_mask": decoder_padding_mask,
    }


class Seq2SeqLM(KerasTaskModel):
    """The mixin that makes a keras-hub Seq2SeqLM serve backprop's generative tasks.

    Put it first among the bases of a keras-hub `Seq2SeqLM` subclass, as
    `T5MultiTask` and `BartMultiTask` do. (It cannot itself subclass keras-hub's
    `Seq2SeqLM`: Keras' functional-model class injection breaks on the diamond
    that would make.) `Seq2SeqLM.from_preset` takes a catalog name, keras-hub preset, `hf://`
    handle or folder and returns the kerasprop family class for its backbone
    (`T5MultiTask` or `BartMultiTask`), or the class a kerasprop preset was
    saved from.

    Args:
        backbone: the keras-hub backbone.
        preprocessor: the keras-hub `Seq2SeqLMPreprocessor`, or `None`.
        task_prefixes: dict task -> prompt prefix, over `DEFAULT_TASK_PREFIXES`.
        encoder_sequence_length, decoder_sequence_length: set on the
            preprocessor (and saved with the model).

    Example:
    >>> from kerasprop.models import Seq2SeqLM
    >>> model = Seq2SeqLM.from_preset("t5-base-qa-summary-emotion")  # doctest: +SKIP
    >>> model({"text": "I love this library!"}, task="emotion")  # doctest: +SKIP
    'joy'
    """

    default_tasks = GENERATIVE_TASKS + ("translation",)
    finetunable_tasks = GENERATIVE_TASKS + ("translation",)
    #: Whether the family implements the decoding hooks that `generate_step` uses (else keras-hub's loop runs).
    has_decoding_hooks = False

    def __init__(
        self,
        backbone,
        preprocessor=None,
        task_prefixes=None,
        encoder_sequence_length=None,
        decoder_sequence_length=None,
        **kwargs,
    ):
        super().__init__(backbone=backbone, preprocessor=preprocessor, **kwargs)
        self.task_prefixes = {**DEFAULT_TASK_PREFIXES, **(task_prefixes or {})}
        if preprocessor is not None and encoder_sequence_length is not None:
            preprocessor.encoder_sequence_length = encoder_sequence_length
        if preprocessor is not None and decoder_sequence_length is not None:
            preprocessor.decoder_sequence_length = decoder_sequence_length
        # One (sampler, compiled generate function) per sampler config.
        self._task_generators = {}

    @classmethod
    @deferred_initialisation()
    def from_preset(cls, preset, load_weights=True, **kwargs):
        """Loads a catalog name, keras-hub preset, `hf://` handle or folder as the right kerasprop class."""
        from kerasprop.hub.catalog import find_entry, resolve_handle
        from kerasprop.hub.converters import get_preset_loader

        entry = find_entry(preset) if isinstance(preset, str) else None
        if entry is not None:
            kwargs = {**entry.init_kwargs, **kwargs}
        preset = resolve_handle(preset)
        loader = get_preset_loader(preset)
        return loader.load_task(cls._class_for_preset(preset, loader), load_weights, True, **kwargs)

    @classmethod
    def _class_for_preset(cls, preset, loader):
        from kerasprop.models.families import saved_class

        saved = saved_class(preset)
        if saved is not None and issubclass(saved, cls):
            return saved
        backbone_cls = loader.check_backbone_class()
        if getattr(cls, "backbone_cls", None) is backbone_cls:
            return cls
        for module in FAMILY_MODULES:
            importlib.import_module(module)
        matches = [c for c in _subclasses(cls) if c.backbone_cls is backbone_cls]
        if not matches:
            raise ValueError(
                f"{cls.__name__}.from_preset() cannot load {preset!r}: it holds a {backbone_cls.__name__}, "
                f"and no kerasprop {cls.__name__} class is built on that backbone."
            )
        return min(matches, key=lambda c: (len(c.__mro__), c.__qualname__))

    def get_config(self):
        config = super().get_config()
        config["task_prefixes"] = dict(self.task_prefixes)
        if self.preprocessor is not None:
            config["encoder_sequence_length"] = self.preprocessor.encoder_sequence_length
            config["decoder_sequence_length"] = self.preprocessor.decoder_sequence_length
        return config

    @classmethod
    def _unpickle_model(cls, bytesio):
        model = super()._unpickle_model(bytesio)
        # Keras restores the preprocessor (and builds its packers) before the
        # tokenizer's vocabulary, so the packers lack the special tokens:
        # build them again, now that the vocabulary is there.
        if model.preprocessor is not None:
            tracker = model.preprocessor._tracker
            tracker.unlock()
            try:
                model.preprocessor.build(None)
            finally:
                tracker.lock()
        return model

    def compile(self, *args, **kwargs):
        super().compile(*args, **kwargs)
        self._task_generators = {}

    # === keras-hub generate, with encoder buckets and seq2seq strip_prompt ===

    def generate(self, inputs, max_length=None, stop_token_ids="auto", strip_prompt=False):
        """Generates text for `inputs` (see keras-hub's `Seq2SeqLM.generate`).

        `max_length` is the decoder length (the decoder prompt included) and
        defaults to the preprocessor's `decoder_sequence_length`. With
        `strip_prompt=True` the decoder prompt (`"decoder_text"`) is left out
        of the output. A `tf.data.Dataset` is generated batch by batch.
        """
        if stop_token_ids == "auto":
            if self.preprocessor is None:
                raise ValueError(
                    'stop_token_ids="auto" needs a preprocessor; this model has none. Pass stop_token_ids=None '
                    "to generate to max_length, or a tuple of token ids to stop on."
                )
            stop_token_ids = (self.preprocessor.tokenizer.end_token_id,)
        elif stop_token_ids is not None:
            stop_token_ids = tuple(stop_token_ids)
        generate_function = self.make_generate_function()
        batches, input_is_scalar = self._normalize_generate_inputs(inputs)
        outputs = []
        for batch in batches:
            x, size = self._generate_inputs(batch, max_length)
            y = generate_function(x, stop_token_ids=stop_token_ids)
            y = {key: value[:size] for key, value in y.items()}
            if strip_prompt:
                prompt_mask = ops.cast(x["decoder_padding_mask"][:size], "bool")
                y["decoder_padding_mask"] = ops.logical_and(y["decoder_padding_mask"], ops.logical_not(prompt_mask))
            outputs.append(y if self.preprocessor is None else self.preprocessor.generate_postprocess(y))
        return self._normalize_generate_outputs(outputs, input_is_scalar)

    def _generate_inputs(self, batch, max_length):
        """Model inputs for one batch, padded to shape buckets, and the real batch size."""
        if self.preprocessor is None:
            x = {key: ops.convert_to_tensor(value) for key, value in batch.items()}
            return x, ops.shape(x["encoder_token_ids"])[0]
        if not self.preprocessor.built:
            self.preprocessor.build(None)
        x = _pack_for_generation(
            self.preprocessor, batch, decoder_length=max_length or self.preprocessor.decoder_sequence_length
        )
        size = ops.shape(x["encoder_token_ids"])[0]
        # Beam search fills groups of `copies` rows; the padding repeats the last group.
        copies = _generations_per_prompt(self.sampler)
        extra = (_batch_bucket(size // copies) - size // copies) * copies
        if extra:
            x = {key: ops.concatenate([value, ops.repeat(value[-1:], extra, axis=0)]) for key, value in x.items()}
        return x, size

    def generate_step(self, inputs, stop_token_ids=None):
        """keras-hub's compilable generation step, encoding once per prompt (see the module docstring).

        The family hooks: `encode_for_decoding(encoder_token_ids, encoder_padding_mask)`
        returns what every decoder step reads from the encoder (batch first);
        `empty_decoder_cache(batch_size, length)` the self-attention cache;
        `decode(token_ids, start, cache, memory)` the decoder's final hidden
        states for `token_ids` at positions `start...` and the updated cache,
        for `token_ids` rows that are consecutive groups of the rows of `memory`
        (the beams of one prompt); `decoding_head()` a function from the
        decoder's hidden states to logits.
        """
        if not self.has_decoding_hooks:
            return super().generate_step(inputs, stop_token_ids)
        token_ids, prompt_mask = inputs["decoder_token_ids"], inputs["decoder_padding_mask"]
        # A beam search that returns n beams gets n copies of each prompt: encode one.
        copies = _generations_per_prompt(self.sampler)
        memory = self.encode_for_decoding(
            first_of_copies(inputs["encoder_token_ids"], copies), first_of_copies(inputs["encoder_padding_mask"], copies)
        )
        batch_size, length = ops.shape(token_ids)
        cache = self.empty_decoder_cache(batch_size, length)
        logits = self.decoding_head()
        index = ops.min(ops.sum(ops.cast(prompt_mask, "int32"), axis=-1))

        def prefill_prompt():
            return self.decode(token_ids, 0, cache, memory)

        def prefill_start_token():
            hidden_states, start_cache = self.decode(token_ids[:, :1], 0, cache, memory)
            return ops.pad(hidden_states, [[0, 0], [0, length - 1], [0, 0]]), start_cache

        # The prompt's cache and hidden states (contrastive search reads them).
        # Most prompts are one start token: decoding the whole length would waste a step's work per position.
        hidden_states, cache = ops.cond(index > 1, prefill_prompt, prefill_start_token)

        def next(prompt, cache, index):
            rows = ops.shape(prompt)[0]
            hidden, cache = self.decode(ops.slice(prompt, [0, index - 1], [rows, 1]), index - 1, cache, memory)
            hidden = ops.squeeze(hidden, axis=1)
            return logits(hidden), hidden, cache

        token_ids = self.sampler(
            next=next, prompt=token_ids, cache=cache, index=index, mask=prompt_mask,
            stop_token_ids=stop_token_ids, hidden_states=hidden_states, model=self,
        )
        return {"decoder_token_ids": token_ids, "decoder_padding_mask": mask_after_end(token_ids, prompt_mask, stop_token_ids)}

    # === The backprop tasks ===

    def task_prompt(self, task, text, **fields):
        """The encoder input for `text` in `task` ("emotion: {text}", ...).

        `fields` fill the prefix's placeholders, e.g. `source_language` and
        `target_language` for "translation".
        """
        prefix = self.task_prefixes.get(task, "")
        return (prefix.format(**fields) if fields else prefix) + text

    @property
    def decoder_prompt_length(self):
        """How many tokens start every decoder sequence (T5: `<pad>`; BART: `</s> <s>`)."""
        if not self.preprocessor.built:
            self.preprocessor.build(None)
        return len(np.atleast_1d(self.preprocessor.decoder_packer.start_value))

    def generate_texts(self, prompts, settings):
        """Generates for a list of encoder prompts with `GenerationSettings`.

        With `settings.num_generations = n`, `prompts` holds n consecutive
        copies of each prompt, and the copies get different generations.
        """
        sampler, key = self.task_sampler(settings)
        saved = self.sampler, self.generate_function
        self.sampler, self.generate_function = self._task_generators[key]
        try:
            max_length = self.decoder_prompt_length + settings.max_new_tokens
            outputs = []
            step = max(MAX_BATCH_SIZE // settings.num_generations, 1) * settings.num_generations
            for start in range(0, len(prompts), step):
                outputs += self.generate(prompts[start : start + step], max_length=max_length)
        finally:
            self._task_generators[key] = self.sampler, self.generate_function
            self.sampler, self.generate_function = saved
        return [text.strip() for text in outputs]

    def task_sampler(self, settings):
        """The sampler for `GenerationSettings` (the same object each time: its compiled function is kept with it)."""
        sampler = settings.sampler()
        key = json.dumps(keras_hub.samplers.serialize(sampler), sort_keys=True)
        return self._task_generators.setdefault(key, (sampler, None))[0], key

    def predict_emotion(self, request):
        prompts = [self.task_prompt("emotion", t) for t in request.inputs["text"]]
        return self.generate_texts(prompts, TASK_GENERATION["emotion"])

    def predict_summarisation(self, request):
        prompts = [self.task_prompt("summarisation", t) for t in request.inputs["text"]]
        return self.generate_texts(prompts, TASK_GENERATION["summarisation"])

    def predict_qa(self, request):
        inputs = request.inputs
        prompts = [
            qa_prompt(question, context, zip(prev_q or (), prev_a or ()))
            for question, context, prev_q, prev_a in zip(
                inputs["question"], inputs["context"], inputs["prev_q"], inputs["prev_a"]
            )
        ]
        return self.generate_texts(prompts, TASK_GENERATION["qa"])

    def predict_text_generation(self, request):
        settings = self.text_generation_settings(request)
        copies = settings.num_generations
        prompts = [self.task_prompt("text-generation", t) for t in request.inputs["text"] for _ in range(copies)]
        outputs = self.generate_texts(prompts, settings)
        if copies == 1:
            return outputs
        return [outputs[i : i + copies] for i in range(0, len(outputs), copies)]

    def stream_text_generation(self, request):
        """The generated text for the request's one prompt, as an iterator of pieces while it is generated.

        The pieces join to exactly what `predict_text_generation` returns for the
        same request (see `kerasprop.models.runtime.streaming`).
        """
        check_streamable(request)
        settings = dataclasses.replace(self.text_generation_settings(request), stream=True)
        prompt = self.task_prompt("text-generation", request.inputs["text"][0])
        stop_token_ids = (self.preprocessor.tokenizer.end_token_id,)

        def generate():
            with streaming_compile(self):
                return self.generate_texts([prompt], settings)[0]

        return TextStream(
            self.task_sampler(settings)[0],
            generate,
            lambda tokens: texts_of_new_tokens(self.preprocessor.tokenizer, [tokens], stop_token_ids)[0].strip(),
            start=self.decoder_prompt_length,
        )

    def text_generation_settings(self, request):
        """`GenerationSettings` from a text-generation request's options."""
        options = request.options
        return GenerationSettings(
            max_new_tokens=options["max_length"],
            min_new_tokens=options["min_length"],
            num_beams=options["num_beams"],
            do_sample=wants_sampling(options, request.given),
            temperature=options["temperature"],
            top_k=options["top_k"],
            top_p=options["top_p"],
            repetition_penalty=options["repetition_penalty"],
            length_penalty=options["length_penalty"],
            num_generations=options["num_generations"],
        )

    def predict_translation(self, request):
        options = request.options
        languages = {key: options[key] for key in ("source_language", "target_language")}
        prompts = [self.task_prompt("translation", t, **languages) for t in request.inputs["text"]]
        settings = GenerationSettings(max_new_tokens=options["max_length"], num_beams=options["num_beams"])
        return self.generate_texts(prompts, settings)

    # === Finetuning ===

    def process_batch(self, params, task, max_input_length=None, max_output_length=None, **prompt_fields):
        """Raw `{"encoder_text", "decoder_text"}` features for `fit`, with the task's prompts.

        Sets the preprocessor's sequence lengths to `max_input_length` and
        `max_output_length`; the preprocessor gives padded label positions a
        zero sample weight. `prompt_fields` fill the task prefix (translation:
        `source_language`, `target_language`).
        """
        self.check_finetunable(task)
        if task == "qa":
            previous = params.get("prev_qas") or [()] * len(params["questions"])
            inputs = [qa_prompt(q, c, p) for q, c, p in zip(params["questions"], params["contexts"], previous)]
            targets = params["answers"]
        else:
            inputs = [self.task_prompt(task, text, **prompt_fields) for text in params["input_text"]]
            targets = params["output_text"]
        if max_input_length is not None:
            self.preprocessor.encoder_sequence_length = max_input_length
        if max_output_length is not None:
            self.preprocessor.decoder_sequence_length = max_output_length
        return {"encoder_text": np.array(inputs), "decoder_text": np.array(targets)}




def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)
