"""Whisper for speech: `WhisperSpeechRecognizer` and `WhisperAudioClassifier`.

keras-hub 0.32 has Whisper's backbone, tokenizer and log-mel audio converter
but no task on them. `WhisperSpeechRecognizer` is a keras-hub `AudioToText`
(a `Seq2SeqLM`) with cached decoding through keras-hub samplers (greedy by
default); `WhisperAudioClassifier` is Hugging Face's
`WhisperForAudioClassification` head (projection, mean over time, dense) on
the Whisper encoder. Both load Hugging Face checkpoints through kerasprop's
Whisper converter, and both finetune.

Audio reaches them as 16 kHz float32 arrays (the task schemas resample). The
recogniser cuts long audio into windows the encoder takes (30 s for OpenAI's
checkpoints) overlapping by a sixth, transcribes the windows as one batch and
joins the token sequences where they overlap; the classifier averages its
probabilities over windows.
"""

import keras
import keras_hub
import numpy as np
import tensorflow as tf
from keras import ops
from keras_hub.layers import StartEndPacker, WhisperAudioConverter
from keras_hub.models import WhisperBackbone
from keras_hub.tokenizers import WhisperTokenizer

import kerasprop.hub.converters.whisper  # noqa: F401  (registers the Hugging Face Whisper converter)
from kerasprop.compat import (
    AudioToText,
    AudioToTextPreprocessor,
    preprocessing_function,
)
from kerasprop.models.runtime.generation import mask_after_end
from kerasprop.models.classifiers.heads import resize_dense
from kerasprop.models.runtime.inference import softmax
from kerasprop.models.generative.speech import (
    CHUNK_OVERLAP,
    MAX_BATCH_SIZE,
    audio_windows,
    merge_overlapping,
    padded_batch,
)
from kerasprop.models.task_model import KerasTaskModel
from kerasprop.schemas.audio import to_model_rate
from kerasprop.schemas.models import label_names


def encode(backbone, features):
    """Whisper's encoder on log-mel `features`: the encoder half of `WhisperBackbone`'s graph."""
    x = keras.activations.gelu(backbone.encoder_conv_layer_1(features), approximate=False)
    x = keras.activations.gelu(backbone.encoder_conv_layer_2(backbone.encoder_padder(x)), approximate=False)
    x = backbone.encoder_embeddings_add((x, backbone.encoder_position_embedding(x)))
    x = backbone.encoder_embeddings_dropout(x)
    for layer in backbone.encoder_transformer_layers:
        x = layer(x)
    return backbone.encoder_layer_norm(x)


def _features(audio_converter, batch):
    """Log-mel features (numpy float32) of a `(batch, samples)` array."""
    return np.asarray(keras.ops.convert_to_numpy(audio_converter(batch)), dtype="float32")


@keras.saving.register_keras_serializable(package="kerasprop")
class WhisperSpeechRecognizerPreprocessor(AudioToTextPreprocessor):
    """Log-mel features of 16 kHz audio and Whisper's decoder prompt and targets.

    Every decoder sequence starts with Whisper's prompt:
    `<|startoftranscript|>` then, for multilingual checkpoints, the language
    token and the task token (`<|transcribe|>` or `<|translate|>`), then
    `<|notimestamps|>` unless timestamps are asked for. `language` and `task`
    are the defaults of `decoder_prompt`. For training, `call` takes
    `{"audio": (batch, samples), "text": (batch,)}` and returns
    `(x, y, sample_weight)` with the prompt excluded from the loss.

    Example:
    >>> preprocessor = WhisperSpeechRecognizerPreprocessor.from_preset("whisper_tiny_en")  # doctest: +SKIP
    >>> x, y, w = preprocessor({"audio": np.zeros((1, 16000)), "text": ["hello"]})  # doctest: +SKIP
    """

    backbone_cls = WhisperBackbone
    tokenizer_cls = WhisperTokenizer
    audio_converter_cls = WhisperAudioConverter

    def __init__(self, audio_converter, tokenizer, decoder_sequence_length=None, language="en", task="transcribe",
                 **kwargs):
        super().__init__(tokenizer=tokenizer, **kwargs)
        self.audio_converter = audio_converter
        self.decoder_sequence_length = decoder_sequence_length
        self.language = language
        self.task = task
        self.decoder_packer = None

    @property
    def is_multilingual(self):
        return bool(self.tokenizer.language_tokens)

    def decoder_prompt(self, language=None, task=None, timestamps=False):
        """The decoder prompt's token ids for `language` and `task` (the preprocessor's own when `None`)."""
        tokenizer = self.tokenizer
        if not self.is_multilingual:
            given = [f"{key}={value!r}" for key, value in (("language", language), ("task", task)) if value]
            if given:
                raise ValueError(f"This Whisper checkpoint is English-only: it takes no {' or '.join(given)}.")
            ids = [tokenizer.bos_token_id]
        else:
            ids = [tokenizer.bos_token_id, self.language_token_id(language or self.language),
                   self.task_token_id(task or self.task)]
        return ids if timestamps else ids + [tokenizer.no_timestamps_token_id]

    @property
    def prompt_ids(self):
        """The decoder prompt's token ids with the preprocessor's language and task, without timestamps."""
        return self.decoder_prompt()

    def language_token_id(self, language):
        """The id of `language`'s token: a code (`"de"`) or the token itself (`"<|de|>"`)."""
        token = language if language.startswith("<|") else f"<|{language.lower()}|>"
        if token not in self.tokenizer.language_tokens:
            known = ", ".join(sorted(t[2:-2] for t in self.tokenizer.language_tokens))
            raise ValueError(f"This Whisper checkpoint has no language {language!r}; it knows {known}.")
        return self.tokenizer.language_tokens[token]

    def task_token_id(self, task):
        ids = {"transcribe": self.tokenizer.transcribe_token_id, "translate": self.tokenizer.translate_token_id}
        if task not in ids:
            raise ValueError(f"Whisper's task must be 'transcribe' or 'translate', got {task!r}.")
        return ids[task]

    def build(self, input_shape):
        self.decoder_packer = StartEndPacker(
            start_value=self.prompt_ids,
            end_value=self.tokenizer.eos_token_id,
            pad_value=self.tokenizer.pad_token_id,
            sequence_length=self.decoder_sequence_length,
            return_padding_mask=True,
        )
        self.built = True

    @preprocessing_function
    def call(self, x, y=None, sample_weight=None, sequence_length=None):
        if not self.built:
            self.build(None)
        sequence_length = sequence_length or self.decoder_sequence_length
        token_ids, padding_mask = self.decoder_packer(
            self.tokenizer(x["text"]), sequence_length=sequence_length + 1, add_end_value=True
        )
        # Preprocessing runs in TensorFlow on every backend. The loss skips the prompt's tokens.
        prompt = len(self.prompt_ids)
        weights = tf.concat([tf.zeros_like(padding_mask[..., : prompt - 1]), padding_mask[..., prompt:]], axis=-1)
        x = {
            "encoder_features": self.audio_converter(x["audio"]),
            "decoder_token_ids": token_ids[..., :-1],
            "decoder_padding_mask": padding_mask[..., :-1],
        }
        return keras.utils.pack_x_y_sample_weight(x, token_ids[..., 1:], weights)

    def text_token_ids(self, token_ids):
        """The ids of a generated sequence that are text (no prompt, special or timestamp tokens)."""
        if not self.built:
            self.build(None)
        special = set(self.tokenizer.special_token_ids) | set((self.tokenizer.language_tokens or {}).values())
        vocabulary_size = self.tokenizer.vocabulary_size()
        return [int(t) for t in token_ids if int(t) not in special and 0 <= int(t) < vocabulary_size]

    def get_config(self):
        config = super().get_config()
        config.update(decoder_sequence_length=self.decoder_sequence_length, language=self.language, task=self.task)
        return config


@keras.saving.register_keras_serializable(package="kerasprop")
class WhisperSpeechRecognizer(KerasTaskModel, AudioToText):
    """Whisper speech recognition: a keras-hub `AudioToText` on `WhisperBackbone`.

    Serves "speech-recognition": `model({"audio": "speech.wav"})` returns the
    transcript; audio longer than the encoder's window is transcribed in
    overlapping windows. `return_timestamps=True` adds the transcript's
    segments with their times, `language` and `task` pick a multilingual
    checkpoint's prompt. `generate_step` decodes with a cache through the
    compiled sampler (`compile(sampler=...)`, greedy by default) and applies
    Whisper's logits processors as transformers does: `suppress_tokens` at
    every step, `begin_suppress_tokens` at the first generated token, and the
    timestamp rules when the prompt lacks `<|notimestamps|>`. Loads Hugging
    Face Whisper checkpoints (`hf://openai/whisper-tiny.en` or a local folder,
    with their `generation_config.json`), kerasprop presets and the catalog's
    Whisper names.

    Example:
    >>> model = WhisperSpeechRecognizer.from_preset("whisper-tiny-en")  # doctest: +SKIP
    >>> model({"audio": "speech.wav"}, task="speech-recognition")  # doctest: +SKIP
    'Hello world.'
    """

    backbone_cls = WhisperBackbone
    preprocessor_cls = WhisperSpeechRecognizerPreprocessor
    default_tasks = ("speech-recognition",)
    default_description = "Whisper speech recognition."
    finetunable_tasks = ("speech-recognition",)

    def __init__(self, backbone, preprocessor=None, suppress_tokens=(), begin_suppress_tokens=(),
                 max_initial_timestamp_index=None, **kwargs):
        # === Layers ===
        self.backbone = backbone
        self.preprocessor = preprocessor
        if preprocessor is not None and preprocessor.decoder_sequence_length is None:
            preprocessor.decoder_sequence_length = backbone.max_decoder_sequence_length
        # === Functional Model ===
        inputs = backbone.input
        hidden_states = backbone(inputs)["decoder_sequence_output"]
        outputs = backbone.token_embedding(hidden_states, reverse=True)
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        # === Config ===
        self.suppress_tokens = [int(t) for t in suppress_tokens]
        self.begin_suppress_tokens = [int(t) for t in begin_suppress_tokens]
        self.max_initial_timestamp_index = max_initial_timestamp_index

    @classmethod
    def from_preset(cls, preset, load_weights=True, **kwargs):
        """Loads a kerasprop preset, the catalog's names, or a Hugging Face `WhisperForConditionalGeneration`
        with the suppression settings, language and task of its `generation_config.json`."""
        from kerasprop.hub.catalog import resolve_handle
        from kerasprop.hub.converters.classification_heads import transformers_config
        from kerasprop.hub.converters.whisper import load_generation_config

        handle = resolve_handle(preset)
        hf_config = transformers_config(handle)
        if hf_config is None:
            return super().from_preset(preset, load_weights=load_weights, **kwargs)
        settings = load_generation_config(handle, hf_config)
        language_token_id, task_token_id = settings.pop("language_token_id"), settings.pop("task_token_id")
        model = super().from_preset(preset, load_weights=load_weights, **{**settings, **kwargs})
        tokenizer = model.preprocessor.tokenizer
        languages = {i: token[2:-2] for token, i in (tokenizer.language_tokens or {}).items()}
        if language_token_id in languages:
            model.preprocessor.language = languages[language_token_id]
        if task_token_id == tokenizer.translate_token_id:
            model.preprocessor.task = "translate"
        return model

    def compile(self, optimizer="auto", loss="auto", *, weighted_metrics="auto", sampler="greedy", **kwargs):
        """keras-hub's `Seq2SeqLM.compile`, with greedy decoding (Whisper's default) as the sampler."""
        super().compile(optimizer=optimizer, loss=loss, weighted_metrics=weighted_metrics, sampler=sampler, **kwargs)

    def call_decoder_with_cache(
        self,
        encoder_hidden_states,
        decoder_token_ids,
        self_attention_cache,
        self_attention_cache_update_index,
        cross_attention_cache,
        cross_attention_cache_update_index=None,
    ):
        """Runs the decoder on `decoder_token_ids` at `self_attention_cache_update_index`.

        Returns `(logits, hidden_states, self_attention_cache, cross_attention_cache)`;
        the caches are `(batch, num_layers, 2, length, num_heads, head_dim)`.
        """
        backbone = self.backbone
        x = backbone.decoder_embeddings(decoder_token_ids, start_index=self_attention_cache_update_index)
        x = backbone.decoder_embeddings_dropout(x)
        self_caches, cross_caches = [], []
        for i, layer in enumerate(backbone.decoder_transformer_layers):
            x, self_cache, cross_cache = layer(
                decoder_sequence=x,
                encoder_sequence=encoder_hidden_states,
                self_attention_cache=self_attention_cache[:, i, ...],
                self_attention_cache_update_index=self_attention_cache_update_index,
                cross_attention_cache=cross_attention_cache[:, i, ...],
                cross_attention_cache_update_index=cross_attention_cache_update_index,
            )
            self_caches.append(self_cache)
            cross_caches.append(cross_cache)
        if cross_attention_cache_update_index is not None:
            cross_attention_cache = ops.stack(cross_caches, axis=1)
        hidden_states = backbone.decoder_layer_norm(x)
        logits = backbone.token_embedding(hidden_states, reverse=True)
        return logits, hidden_states, ops.stack(self_caches, axis=1), cross_attention_cache

    def generate_step(self, inputs, stop_token_ids=None):
        """One compiled generation call on `{"encoder_features", "decoder_token_ids", "decoder_padding_mask"}`."""
        decoder_token_ids = inputs["decoder_token_ids"]
        decoder_padding_mask = inputs["decoder_padding_mask"]
        encoder_hidden_states = encode(self.backbone, inputs["encoder_features"])
        backbone = self.backbone
        batch_size = ops.shape(decoder_token_ids)[0]
        shape = [batch_size, backbone.num_layers, 2, ops.shape(decoder_token_ids)[1], backbone.num_heads,
                 backbone.hidden_dim // backbone.num_heads]
        self_attention_cache = ops.zeros(shape, dtype=self.compute_dtype)
        shape[3] = ops.shape(encoder_hidden_states)[1]
        cross_attention_cache = ops.zeros(shape, dtype=self.compute_dtype)
        _, hidden_states, self_attention_cache, cross_attention_cache = self.call_decoder_with_cache(
            encoder_hidden_states, decoder_token_ids, self_attention_cache, 0, cross_attention_cache, 0
        )
        begin = ops.min(ops.sum(ops.cast(decoder_padding_mask, "int32"), axis=-1))

        def next(prompt, cache, index):
            self_cache, cross_cache, encoder_states = cache
            token = ops.slice(prompt, [0, index - 1], [ops.shape(prompt)[0], 1])
            logits, hidden, self_cache, _ = self.call_decoder_with_cache(
                encoder_states, token, self_cache, index - 1, cross_cache
            )
            logits = self.process_logits(logits[:, 0, :], prompt, index, begin)
            return logits, hidden[:, 0, :], (self_cache, cross_cache, encoder_states)

        decoder_token_ids = self.sampler(
            next=next,
            prompt=decoder_token_ids,
            cache=(self_attention_cache, cross_attention_cache, encoder_hidden_states),
            index=begin,
            mask=decoder_padding_mask,
            stop_token_ids=stop_token_ids,
            hidden_states=hidden_states,
            model=self,
        )
        if stop_token_ids is None:
            return {"decoder_token_ids": decoder_token_ids, "decoder_padding_mask": ops.ones_like(decoder_token_ids, "bool")}
        return {
            "decoder_token_ids": decoder_token_ids,
            "decoder_padding_mask": mask_after_end(decoder_token_ids, decoder_padding_mask, stop_token_ids),
        }

    def process_logits(self, logits, prompt, index, begin):
        """Whisper's logits processors on the `(batch, vocabulary)` logits of position `index`.

        As `WhisperForConditionalGeneration.generate` applies them, in its
        order: `begin_suppress_tokens` at the first generated position
        (`begin`), `suppress_tokens` always, then, in rows whose prompt does not
        end with `<|notimestamps|>`, transformers' `WhisperTimeStampLogitsProcessor`.
        """
        vocabulary_size = logits.shape[-1]
        banned = np.zeros(vocabulary_size, dtype="bool")
        banned[[t for t in self.suppress_tokens if t < vocabulary_size]] = True
        at_begin = np.zeros(vocabulary_size, dtype="bool")
        at_begin[[t for t in self.begin_suppress_tokens if t < vocabulary_size]] = True
        banned = ops.logical_or(banned, ops.logical_and(ops.equal(index, begin), at_begin))
        logits = ops.where(banned[None, :], float("-inf"), logits)
        if self.preprocessor is None or self.timestamp_begin >= vocabulary_size:
            return logits
        timestamps = ops.not_equal(ops.take(prompt, begin - 1, axis=1), self.preprocessor.tokenizer.no_timestamps_token_id)
        return ops.where(timestamps[:, None], self._timestamp_rules(logits, prompt, index, begin), logits)

    @property
    def timestamp_begin(self):
        """The id of `<|0.00|>`; the timestamp tokens follow it every `time_precision` seconds."""
        return self.preprocessor.tokenizer.no_timestamps_token_id + 1

    @property
    def time_precision(self):
        """Seconds between consecutive timestamp tokens (0.02 for OpenAI's checkpoints)."""
        converter = self.preprocessor.audio_converter
        return converter.num_samples / converter.sampling_rate / (self.backbone.max_encoder_sequence_length // 2)

    def _timestamp_rules(self, logits, prompt, index, begin):
        """transformers' `WhisperTimeStampLogitsProcessor`, for all rows at once."""
        first = self.timestamp_begin
        ids = ops.arange(logits.shape[-1], dtype="int32")[None, :]
        is_timestamp = ids >= first
        generated = index - begin
        last = ops.take(prompt, ops.maximum(index - 1, 0), axis=1)
        penultimate = ops.take(prompt, ops.maximum(index - 2, 0), axis=1)
        last_is_timestamp = ops.logical_and(generated >= 1, last >= first)
        penultimate_is_timestamp = ops.logical_or(generated < 2, penultimate >= first)
        closes_pair = ops.logical_and(last_is_timestamp, ops.logical_not(penultimate_is_timestamp))
        # Timestamps come in pairs (a closing one may end the text) and never go back.
        positions = ops.arange(ops.shape(prompt)[1], dtype="int32")[None, :]
        in_output = ops.logical_and(positions >= begin, positions < index)
        latest = ops.max(ops.where(ops.logical_and(in_output, prompt >= first), prompt, -1), axis=1)
        lowest = ops.where(latest >= first, ops.where(closes_pair, latest, latest + 1), first)
        banned = ops.equal(ids, self.preprocessor.tokenizer.no_timestamps_token_id)
        banned = ops.logical_or(banned, ops.logical_and(
            ops.logical_and(last_is_timestamp, penultimate_is_timestamp)[:, None], is_timestamp))
        banned = ops.logical_or(banned, ops.logical_and(
            closes_pair[:, None], ids < self.preprocessor.tokenizer.eos_token_id))
        banned = ops.logical_or(banned, ops.logical_and(is_timestamp, ids < lowest[:, None]))
        # The output starts with a timestamp, at most `max_initial_timestamp_index` steps in.
        initial = ops.logical_not(is_timestamp)
        if self.max_initial_timestamp_index is not None:
            initial = ops.logical_or(initial, ids > first + self.max_initial_timestamp_index)
        banned = ops.logical_or(banned, ops.logical_and(ops.equal(generated, 0), initial))
        logits = ops.where(banned, float("-inf"), logits)
        # A timestamp wins when all of them together are likelier than the likeliest other token.
        log_probabilities = ops.log_softmax(ops.cast(logits, "float32"), axis=-1)
        timestamp_log_probability = _log_sum_exp(ops.where(is_timestamp, log_probabilities, float("-inf")))
        text_log_probability = ops.max(ops.where(is_timestamp, float("-inf"), log_probabilities), axis=-1)
        prefer_timestamp = ops.greater(timestamp_log_probability, text_log_probability)[:, None]
        return ops.where(ops.logical_and(prefer_timestamp, ops.logical_not(is_timestamp)), float("-inf"), logits)

    # === The backprop task ===

    def generated_token_ids(self, windows, prompt=None, max_length=None):
        """The token ids generated after `prompt` (the preprocessor's by default) up to the end token, for each
        audio window (16 kHz arrays no longer than the encoder's window)."""
        preprocessor = self.preprocessor
        if not preprocessor.built:
            preprocessor.build(None)
        prompt = preprocessor.prompt_ids if prompt is None else list(prompt)
        max_length = max_length or preprocessor.decoder_sequence_length
        if self.generate_function is None:
            self.make_generate_function()
        eos = preprocessor.tokenizer.eos_token_id
        outputs = []
        for start in range(0, len(windows), MAX_BATCH_SIZE):
            batch = windows[start : start + MAX_BATCH_SIZE]
            audio = padded_batch(batch, preprocessor.audio_converter.num_samples)
            # Not Whisper's pad id: it is also the end id, which would stop the sampler before it starts.
            token_ids = np.zeros((len(audio), max_length), dtype="int32")
            token_ids[:, : len(prompt)] = prompt
            padding_mask = np.zeros((len(audio), max_length), dtype="bool")
            padding_mask[:, : len(prompt)] = True
            inputs = {
                "encoder_features": ops.convert_to_tensor(_features(preprocessor.audio_converter, audio)),
                "decoder_token_ids": ops.convert_to_tensor(token_ids),
                "decoder_padding_mask": ops.convert_to_tensor(padding_mask),
            }
            y = self.generate_function(inputs, stop_token_ids=(eos,))
            ids = keras.ops.convert_to_numpy(y["decoder_token_ids"])
            mask = keras.ops.convert_to_numpy(y["decoder_padding_mask"])
            for row in range(len(batch)):
                generated = ids[row, len(prompt) :][mask[row, len(prompt) :]]
                outputs.append([int(t) for t in generated if t != eos])
        return outputs

    def window_token_ids(self, windows, max_length=None):
        """Generated text token ids of each audio window (no prompt, special or timestamp tokens)."""
        generated = self.generated_token_ids(windows, max_length=max_length)
        return [self.preprocessor.text_token_ids(ids) for ids in generated]

    def detokenize(self, token_ids):
        """The text of `token_ids` (a Python `str`)."""
        if not token_ids:
            return ""
        text = self.preprocessor.tokenizer.detokenize(list(token_ids))
        return text if isinstance(text, str) else keras.ops.convert_to_numpy(text).item().decode("utf-8")

    def timestamp_chunks(self, token_ids, offset=0.0):
        """The segments `[{"text", "timestamp": [start, end]}]` of one window's generated ids, times in seconds
        shifted by `offset`, read as transformers' ASR pipeline reads them (an unclosed last segment ends at None)."""
        first = self.timestamp_begin
        special = set(self.preprocessor.tokenizer.special_token_ids) - set(range(first, self.backbone.vocabulary_size))
        special |= set((self.preprocessor.tokenizer.language_tokens or {}).values())
        chunks, start, text_ids = [], None, []
        for token in token_ids:
            if token in special:
                continue
            if token < first:
                text_ids.append(token)
                continue
            time = round((token - first) * self.time_precision + offset, 2)
            if start is None:
                start = time
            elif time != start:
                chunks.append({"text": self.detokenize(text_ids), "timestamp": [start, time]})
                start, text_ids = None, []
        if text_ids:
            chunks.append({"text": self.detokenize(text_ids), "timestamp": [start, None]})
        return chunks

    def transcribe(self, audio, language=None, task=None, return_timestamps=False):
        """Transcripts of 16 kHz float arrays of any length; with `return_timestamps`, dicts of the transcript
        (`"text"`) and its segments (`"chunks"`, see `timestamp_chunks`)."""
        converter = self.preprocessor.audio_converter
        size, overlap = converter.num_samples, int(converter.num_samples * CHUNK_OVERLAP)
        if return_timestamps and self.timestamp_begin >= self.backbone.vocabulary_size:
            raise ValueError("This Whisper checkpoint has no timestamp tokens: it cannot return timestamps.")
        prompt = self.preprocessor.decoder_prompt(language, task, timestamps=return_timestamps)
        windows = [audio_windows(samples, size, overlap) for samples in audio]
        generated = iter(self.generated_token_ids([w for clip in windows for w in clip], prompt))
        outputs = []
        for clip in windows:
            sequences = [next(generated) for _ in clip]
            if not return_timestamps:
                text_ids = merge_overlapping([self.preprocessor.text_token_ids(ids) for ids in sequences])
                outputs.append(self.detokenize(text_ids).strip())
                continue
            chunks = []
            for i, ids in enumerate(sequences):
                # Each window keeps the segments centred in its share of the overlaps.
                start = i * (size - overlap) / converter.sampling_rate
                low = start + overlap / 2 / converter.sampling_rate if i else float("-inf")
                high = start + (size - overlap / 2) / converter.sampling_rate if i < len(sequences) - 1 else float("inf")
                for chunk in self.timestamp_chunks(ids, offset=start):
                    times = [t for t in chunk["timestamp"] if t is not None]
                    if not times or low <= sum(times) / len(times) < high:
                        chunks.append(chunk)
            outputs.append({"text": "".join(chunk["text"] for chunk in chunks).strip(), "chunks": chunks})
        return outputs

    def predict_speech_recognition(self, request):
        options = request.options
        return self.transcribe(request.inputs["audio"], language=options["language"], task=options["task"],
                               return_timestamps=options["return_timestamps"])

    # === Finetuning ===

    def process_batch(self, params, task="speech-recognition", sampling_rate=None, max_output_length=None):
        """`{"audio", "text"}` features for `fit`: 16 kHz audio padded to the encoder's window, and transcripts."""
        self.check_finetunable(task)
        size = self.preprocessor.audio_converter.num_samples
        audio = to_model_rate(params["audio"], sampling_rate)
        too_long = [i for i, samples in enumerate(audio) if len(samples) > size]
        if too_long:
            raise ValueError(
                f"'audio[{too_long[0]}]' is longer than the model's window of {size / 16000:g} s; "
                "finetune on clips that fit in one window."
            )
        if max_output_length is not None:
            self.preprocessor.decoder_sequence_length = min(
                max_output_length + len(self.preprocessor.prompt_ids), self.backbone.max_decoder_sequence_length
            )
        batch = np.zeros((len(audio), size), dtype="float32")
        for i, samples in enumerate(audio):
            batch[i, : len(samples)] = samples
        return {"audio": batch, "text": np.array(params["text"])}

    def get_config(self):
        config = super().get_config()
        config.update(suppress_tokens=self.suppress_tokens, begin_suppress_tokens=self.begin_suppress_tokens,
                      max_initial_timestamp_index=self.max_initial_timestamp_index)
        return config


def _log_sum_exp(x):
    """`log(sum(exp(x)))` over the last axis; `-inf` (not NaN) where all of `x` is `-inf`."""
    peak = ops.max(x, axis=-1, keepdims=True)
    peak = ops.where(ops.isfinite(peak), peak, 0.0)
    return ops.log(ops.sum(ops.exp(x - peak), axis=-1)) + peak[..., 0]


@keras.saving.register_keras_serializable(package="kerasprop")
class WhisperAudioClassifierPreprocessor(keras_hub.models.Preprocessor):
    """Log-mel features of 16 kHz audio (`(batch, samples)`) for `WhisperAudioClassifier`."""

    backbone_cls = WhisperBackbone
    audio_converter_cls = WhisperAudioConverter

    def __init__(self, audio_converter, **kwargs):
        super().__init__(**kwargs)
        self.audio_converter = audio_converter

    @preprocessing_function
    def call(self, x, y=None, sample_weight=None):
        return keras.utils.pack_x_y_sample_weight(self.audio_converter(x), y, sample_weight)


@keras.saving.register_keras_serializable(package="kerasprop")
class WhisperAudioClassifier(KerasTaskModel, keras_hub.models.Task):
    """Audio classification on the Whisper encoder (Hugging Face's `WhisperForAudioClassification`).

    The encoder's states go through a `projection_dim` dense projection, are
    averaged over time and mapped to one logit per label. Audio longer than
    the encoder's window is classified per window and the probabilities
    averaged. Finetune with `finetune({"audio": [...], "labels": [...]})`.

    Example:
    >>> model = WhisperAudioClassifier.from_preset("whisper-tiny-tones")
    >>> import numpy as np
    >>> tone = np.sin(2 * np.pi * np.linspace(300, 1200, 16000) * np.arange(16000) / 16000)
    >>> max(model({"audio": tone}, task="audio-classification").items(), key=lambda kv: kv[1])[0]  # doctest: +SKIP
    'rising'
    """

    backbone_cls = WhisperBackbone
    preprocessor_cls = WhisperAudioClassifierPreprocessor
    default_tasks = ("audio-classification",)
    default_description = "Audio classification on the Whisper encoder."
    finetunable_tasks = ("audio-classification",)

    def __init__(self, backbone, labels, projection_dim=256, preprocessor=None, **kwargs):
        labels = label_names(labels)
        # === Layers ===
        self.backbone = backbone
        self.preprocessor = preprocessor
        self.projector = keras.layers.Dense(projection_dim, dtype=backbone.dtype_policy, name="projector")
        self.pooling = keras.layers.GlobalAveragePooling1D(dtype=backbone.dtype_policy, name="pooling")
        self.output_dense = keras.layers.Dense(len(labels), dtype=backbone.dtype_policy, name="output_dense")
        # === Functional Model ===
        features = keras.Input(shape=(None, backbone.num_mels), dtype="float32", name="encoder_features")
        outputs = self.output_dense(self.pooling(self.projector(encode(backbone, features))))
        super().__init__(inputs=features, outputs=outputs, **kwargs)
        # === Config ===
        self.labels = labels
        self.projection_dim = projection_dim

    @classmethod
    def from_preset(cls, preset, load_weights=True, **kwargs):
        """Loads a kerasprop preset, the catalog's names, or a Hugging Face `WhisperForAudioClassification`
        (or any Whisper checkpoint, given `labels=[...]` for a new head)."""
        from kerasprop.hub.catalog import resolve_handle
        from kerasprop.hub.converters.classification_heads import transformers_config

        hf_config = transformers_config(resolve_handle(preset))
        if hf_config is None:
            return super().from_preset(preset, load_weights=load_weights, **kwargs)
        is_classifier = any(a.endswith("ForAudioClassification") for a in hf_config.get("architectures") or ())
        if not is_classifier and "labels" not in kwargs:
            raise ValueError(f"{preset!r} has no audio-classification head: give 'labels' for a new one.")
        kwargs.setdefault("projection_dim", hf_config.get("classifier_proj_size", 256))
        model = super().from_preset(preset, load_weights=load_weights, **kwargs)
        if is_classifier and load_weights and len(model.labels) == len(hf_config.get("id2label") or ()):
            model._port_head(resolve_handle(preset))
        return model

    def _port_head(self, preset):
        from kerasprop.compat import SafetensorLoader

        with SafetensorLoader(preset, prefix="") as loader:
            for dense, name in ((self.projector, "projector"), (self.output_dense, "classifier")):
                loader.port_weight(dense.kernel, f"{name}.weight", lambda tensor, shape: np.transpose(tensor))
                loader.port_weight(dense.bias, f"{name}.bias")

    def compile(self, optimizer="auto", loss="auto", *, metrics="auto", **kwargs):
        """Adam (1e-4), sparse categorical cross-entropy on logits and accuracy, unless given."""
        optimizer = keras.optimizers.Adam(1e-4) if optimizer == "auto" else optimizer
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True) if loss == "auto" else loss
        metrics = [keras.metrics.SparseCategoricalAccuracy()] if metrics == "auto" else metrics
        super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)

    def probabilities(self, audio):
        """Label probabilities (numpy, `(n, labels)`) of 16 kHz float arrays."""
        converter = self.preprocessor.audio_converter
        windows = [audio_windows(samples, converter.num_samples) for samples in audio]
        flat = [w for clip in windows for w in clip]
        logits = []
        for start in range(0, len(flat), MAX_BATCH_SIZE):
            batch = flat[start : start + MAX_BATCH_SIZE]
            features = _features(converter, padded_batch(batch, converter.num_samples))
            logits.append(self.predict_features(features)[: len(batch)])
        probabilities = softmax(np.concatenate(logits).astype("float64"))
        bounds = np.cumsum([0] + [len(clip) for clip in windows])
        return np.stack([probabilities[a:b].mean(axis=0) for a, b in zip(bounds[:-1], bounds[1:])])

    def predict_audio_classification(self, request):
        top_k = request.options["top_k"] or None
        outputs = []
        for probabilities in self.probabilities(request.inputs["audio"]):
            ranked = np.argsort(-probabilities, kind="stable")[:top_k]
            outputs.append({self.labels[c]: float(probabilities[c]) for c in ranked})
        return outputs

    # === Finetuning ===

    def pre_finetuning(self, labels=None):
        """Sets the label names (a list, or backprop's `{index: name}` dict); a different number of
        labels gets a new, randomly initialised output layer."""
        labels = label_names(labels)
        if len(labels) != len(self.labels):
            resize_dense(self.output_dense, len(labels))
            self.predict_function = self.train_function = self.test_function = None
        self.labels = labels

    def process_batch(self, params, task="audio-classification", sampling_rate=None):
        """`(audio, labels)` for `fit`: 16 kHz audio fitted to the encoder's window, class indices."""
        self.check_finetunable(task)
        size = self.preprocessor.audio_converter.num_samples
        audio = np.zeros((len(params["audio"]), size), dtype="float32")
        for i, samples in enumerate(to_model_rate(params["audio"], sampling_rate)):
            audio[i, : min(len(samples), size)] = samples[:size]
        labels = np.array([self._class_index(label, f"labels[{i}]") for i, label in enumerate(params["labels"])])
        return audio, labels.astype("int32")

    def _class_index(self, label, key):
        if isinstance(label, str):
            if label not in self.labels:
                raise ValueError(f"'{key}' is {label!r}, which is not one of the model's labels {self.labels}.")
            return self.labels.index(label)
        if not 0 <= label < len(self.labels):
            raise ValueError(f"'{key}' is class index {label}, but the model has {len(self.labels)} labels.")
        return int(label)

    def get_config(self):
        config = super().get_config()
        config.update(labels=list(self.labels), projection_dim=self.projection_dim)
        return config
