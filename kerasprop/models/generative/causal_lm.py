"""`CausalLM`: backprop's text-generation task for any keras-hub `CausalLM`.

Mix it in first, before the keras-hub class:

    @keras.saving.register_keras_serializable(package="kerasprop")
    class OPTTextGenerator(CausalLM, keras_hub.models.OPTCausalLM):
        pass

`CausalLM.from_preset(...)` on the mixin returns the kerasprop class for the
preset's backbone (`GPT2TextGenerator` for GPT-2), as keras-hub's
`CausalLM.from_preset` does.

The model then answers `model({"text": ..., "max_length": 30}, task="text-generation")`
with only the new text of each prompt. Prompts of one call are tokenised once,
right-padded together to a length bucket and generated in one batch; the
compiled generate function is kept per (options, bucket), so a second call
with similar prompts and the same options does not compile again.
"""

import json

import keras
import numpy as np

from kerasprop.models.runtime.generation import (
    check_streamable,
    repeat_rows,
    sampler_from_options,
    texts_of_new_tokens,
)
from kerasprop.models.runtime.streaming import TextStream, streaming_compile
from kerasprop.models.task_model import KerasTaskModel


def _to_lists(token_ids):
    return token_ids.to_list() if hasattr(token_ids, "to_list") else [list(ids) for ids in token_ids]


class CausalLM(KerasTaskModel):
    """The mixin that makes a keras-hub `CausalLM` serve backprop's text generation.

    Put it first among the bases of a keras-hub `CausalLM` subclass, as
    `GPT2TextGenerator` does (like `Seq2SeqLM`, it cannot itself subclass
    keras-hub's `CausalLM`: Keras' functional-model class injection breaks on
    the diamond). `CausalLM.from_preset` returns the kerasprop class for the
    preset's backbone, which is a `keras_hub.models.CausalLM`, so the whole
    keras-hub API is there. `CausalLMTextGeneration` is its former name.

    Example:
    >>> from kerasprop.models import CausalLM
    >>> model = CausalLM.from_preset("gpt2-tiny-pydocs")
    >>> model.compile(sampler="greedy")
    >>> isinstance(model.generate("The list", max_length=12), str)
    True
    """

    default_tasks = ("text-generation",)
    finetunable_tasks = ("text-generation",)
    default_description = "Continues a text; returns only the new text."
    #: Prompt lengths are padded up to the first bucket that fits (then to multiples of the last).
    prompt_buckets = (16, 32, 64, 128, 256, 512)

    # Generation ---------------------------------------------------------------------------------

    def predict_text_generation(self, request):
        options = request.options
        copies = options["num_generations"]
        texts = self.generate_new_text(request.inputs["text"], options, request.given)
        if copies == 1:
            return texts
        return [texts[i : i + copies] for i in range(0, len(texts), copies)]

    def generate_new_text(self, texts, options, given=()):
        """The new text for each prompt (`num_generations` consecutive results per prompt).

        `options` are backprop's text-generation options (see the task schema);
        `given` names those the caller set.
        """
        if self.preprocessor is None:
            raise ValueError(f"{type(self).__name__} needs a preprocessor to generate from text.")
        inputs, prompt_lengths = self.pack_prompts(texts, options["max_length"])
        return self.new_texts_of_packed(inputs, prompt_lengths, options, given)

    def new_texts_of_packed(self, inputs, prompt_lengths, options, given=()):
        """`generate_new_text` for prompts `pack_prompts` already tokenised and packed."""
        max_new_tokens, copies = options["max_length"], options["num_generations"]
        inputs = repeat_rows(inputs, copies)
        prompt_lengths = np.repeat(prompt_lengths, copies)
        generate = self.generate_function_for(options, given)
        token_ids = keras.ops.convert_to_numpy(generate(inputs, stop_token_ids=self.stop_token_ids())["token_ids"])
        return self.texts_of([row[start : start + max_new_tokens].tolist() for row, start in zip(token_ids, prompt_lengths)])

    def stream_text_generation(self, request):
        """The new text of the request's one prompt, as an iterator of pieces while it is generated.

        The pieces join to exactly what `predict_text_generation` returns for the
        same request (see `kerasprop.models.runtime.streaming`).
        """
        check_streamable(request)
        options = {**request.options, "stream": True}
        inputs, prompt_lengths = self.pack_prompts(request.inputs["text"], options["max_length"])
        with streaming_compile(self):
            generate = self.generate_function_for(options, request.given)
        return TextStream(
            generate.sampler,
            lambda: self.new_texts_of_packed(inputs, prompt_lengths, options, request.given)[0],
            lambda tokens: self.texts_of([tokens])[0],
            start=prompt_lengths[0],
        )

    def texts_of(self, new_tokens):
        """The text of each list of new token ids: up to the first end token, special tokens left out."""
        return texts_of_new_tokens(self.preprocessor.tokenizer, new_tokens, self.stop_token_ids())

    def stop_token_ids(self):
        tokenizer = self.preprocessor.tokenizer
        return tuple(
            getattr(tokenizer, name) for name in ("end_token_id", "end_token2_id")
            if getattr(tokenizer, name, None) is not None
        )

    def prompt_bucket(self, length, max_new_tokens):
        """The padded prompt length for a longest prompt of `length` tokens."""
        largest = self.prompt_buckets[-1]
        bucket = next((b for b in self.prompt_buckets if b >= length), -(-length // largest) * largest)
        limit = getattr(self.backbone, "max_sequence_length", None)
        if limit is None:
            return bucket
        if length + max_new_tokens > limit:
            raise ValueError(
                f"The prompt has {length} tokens and 'max_length' asks for {max_new_tokens} new ones, "
                f"but the model reads at most {limit} tokens: shorten the text or lower 'max_length'."
            )
        return min(bucket, limit - max_new_tokens)

    def prompt_positions(self, length):
        """How many leading positions of a `length`-token generate input can hold prompt tokens.

        Inside `generate_new_text` the last `max_length` positions are room for
        new tokens only (the sampler knows how many); elsewhere all may be prompt.
        A `generate_step` may read the prompt in one pass over these positions.
        """
        max_new_tokens = getattr(self.sampler, "max_new_tokens", None)
        return length if max_new_tokens is None else max(1, length - max_new_tokens)

    def pack_prompts(self, texts, max_new_tokens):
        """Tokenises `texts` once and right-pads them to a bucket with room for the new tokens.

        Returns the generate inputs (`token_ids`, `padding_mask`) and each prompt's length.
        """
        preprocessor = self.preprocessor
        tokenizer = preprocessor.tokenizer
        prompts = _to_lists(tokenizer(list(texts)))
        if getattr(preprocessor, "add_start_token", False):
            prompts = [[tokenizer.start_token_id] + prompt for prompt in prompts]
        lengths = np.array([len(prompt) for prompt in prompts], "int32")
        sequence_length = self.prompt_bucket(int(lengths.max()), max_new_tokens) + max_new_tokens
        token_ids = np.full((len(prompts), sequence_length), tokenizer.pad_token_id, "int32")
        padding_mask = np.zeros((len(prompts), sequence_length), bool)
        for row, prompt in enumerate(prompts):
            token_ids[row, : len(prompt)] = prompt
            padding_mask[row, : len(prompt)] = True
        return {"token_ids": token_ids, "padding_mask": padding_mask}, lengths

    def generate_function_for(self, options, given=()):
        """The compiled generate function for these options, built once and kept.

        The model's own `sampler` and `generate_function` (what `compile(sampler=...)`
        set for `generate`) are left as they were.
        """
        key = json.dumps([options, sorted(given)], sort_keys=True, default=str)
        functions = self.__dict__.setdefault("_generate_functions", {})
        if key not in functions:
            sampler = sampler_from_options(options, given)
            functions[key] = self._compiled_generate(sampler)
        return functions[key]

    def _compiled_generate(self, sampler):
        own = getattr(self, "sampler", None), getattr(self, "generate_function", None)
        self.sampler, self.generate_function = sampler, None
        function = self.make_generate_function()
        self.sampler, self.generate_function = own

        def generate(inputs, stop_token_ids):
            own = self.sampler, self.generate_function
            self.sampler, self.generate_function = sampler, function
            try:
                return function(inputs, stop_token_ids=stop_token_ids)
            finally:
                self.sampler, self.generate_function = own

        generate.sampler = sampler
        return generate

    # Finetuning ---------------------------------------------------------------------------------

    def process_batch(self, params, task="text-generation", max_input_length=128, max_output_length=32):
        """Prompt/continuation pairs as raw features for `fit`; the loss covers the continuation only.

        Returns `{"prompts": ..., "responses": ...}`; `preprocess_samples` packs
        each pair into one sequence with at most `max_input_length` prompt tokens
        and `max_output_length` continuation tokens (plus the end token).
        """
        self.check_finetunable(task)
        limit = getattr(self.backbone, "max_sequence_length", None)
        if limit is not None and max_input_length + max_output_length + 1 > limit:
            # Keep the continuation whole; the prompt gives way to fit the model's positions.
            max_input_length = max(1, limit - max_output_length - 1)
        self.finetune_lengths = (int(max_input_length), int(max_output_length))
        self.preprocessor.sequence_length = max_input_length + max_output_length + 1
        return {"prompts": np.array(params["input_text"]), "responses": np.array(params["output_text"])}

    def preprocess_samples(self, x, y=None, sample_weight=None):
        if not (isinstance(x, dict) and set(x) == {"prompts", "responses"}):
            return super().preprocess_samples(x, y=y, sample_weight=sample_weight)
        import tensorflow as tf

        preprocessor = self.preprocessor
        if not preprocessor.built:
            preprocessor.build(None)
        tokenizer = preprocessor.tokenizer
        max_input_length, max_output_length = getattr(self, "finetune_lengths", (None, None))
        def tokenize(texts, max_length):
            token_ids = tokenizer(tf.convert_to_tensor(texts))
            if not isinstance(token_ids, tf.RaggedTensor):  # eager, outside tf.data
                token_ids = tf.ragged.constant(token_ids, dtype="int32")
            return token_ids[:, :max_length]

        prompts = tokenize(x["prompts"], max_input_length)
        responses = tokenize(x["responses"], max_output_length)
        token_ids, padding_mask = preprocessor.packer(
            tf.concat([prompts, responses], axis=1),
            sequence_length=preprocessor.sequence_length + 1,
            add_start_value=preprocessor.add_start_token,
            add_end_value=True,
        )
        token_ids, padding_mask = tf.convert_to_tensor(token_ids), tf.convert_to_tensor(padding_mask)
        prompt_lengths = prompts.row_lengths() + int(bool(preprocessor.add_start_token))
        positions = tf.range(tf.shape(token_ids)[-1], dtype=prompt_lengths.dtype)
        is_response = positions[None, :] >= prompt_lengths[:, None]
        x = {"token_ids": token_ids[..., :-1], "padding_mask": padding_mask[..., :-1]}
        weights = tf.cast(tf.logical_and(tf.cast(padding_mask, "bool"), is_response)[..., 1:], "float32")
        return x, token_ids[..., 1:], weights


# Former name (until the next release).
CausalLMTextGeneration = CausalLM
