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
from keras import ops
from keras_hub.src.layers.preprocessing.start_end_packer import StartEndPacker
from keras_hub.src.models.audio_to_text import AudioToText
from keras_hub.src.models.audio_to_text_preprocessor import AudioToTextPreprocessor
from keras_hub.src.models.whisper.whisper_audio_converter import WhisperAudioConverter
from keras_hub.src.models.whisper.whisper_backbone import WhisperBackbone
from keras_hub.src.models.whisper.whisper_tokenizer import WhisperTokenizer
from keras_hub.src.utils.tensor_utils import any_equal, preprocessing_function, tf

import kerasprop.hub.converters.whisper  # noqa: F401  (registers the Hugging Face Whisper converter)
from kerasprop.models.heads import resize_dense
from kerasprop.models.task_model import KerasTaskModel
from kerasprop.models.speech import CHUNK_OVERLAP, MAX_BATCH_SIZE, audio_windows, merge_overlapping, padded_batch
from kerasprop.schemas.audio import to_model_rate
from kerasprop.schemas.specs import describe


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
    token and `<|transcribe|>`, then `<|notimestamps|>`. For training, `call`
    takes `{"audio": (batch, samples), "text": (batch,)}` and returns
    `(x, y, sample_weight)` with the prompt excluded from the loss.

    Example:
    >>> preprocessor = WhisperSpeechRecognizerPreprocessor.from_preset("whisper_tiny_en")  # doctest: +SKIP
    >>> x, y, w = preprocessor({"audio": np.zeros((1, 16000)), "text": ["hello"]})  # doctest: +SKIP
    """

    backbone_cls = WhisperBackbone
    tokenizer_cls = WhisperTokenizer
    audio_converter_cls = WhisperAudioConverter

    def __init__(self, audio_converter, tokenizer, decoder_sequence_length=None, language="en", **kwargs):
        super().__init__(tokenizer=tokenizer, **kwargs)
        self.audio_converter = audio_converter
        self.decoder_sequence_length = decoder_sequence_length
        self.language = language
        self.decoder_packer = None

    @property
    def prompt_ids(self):
        """The decoder prompt's token ids."""
        tokenizer = self.tokenizer
        ids = [tokenizer.bos_token_id]
        if tokenizer.language_tokens:
            language = f"<|{self.language}|>"
            if language not in tokenizer.language_tokens:
                raise ValueError(f"This Whisper checkpoint has no language {self.language!r}.")
            ids += [tokenizer.language_tokens[language], tokenizer.transcribe_token_id]
        return ids + [tokenizer.no_timestamps_token_id]

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
        config.update(decoder_sequence_length=self.decoder_sequence_length, language=self.language)
        return config


@keras.saving.register_keras_serializable(package="kerasprop")
class WhisperSpeechRecognizer(KerasTaskModel, AudioToText):
    """Whisper speech recognition: a keras-hub `AudioToText` on `WhisperBackbone`.

    Serves "speech-recognition": `model({"audio": "speech.wav"})` returns the
    transcript; audio longer than the encoder's window is transcribed in
    overlapping windows. `generate_step` decodes with a cache through the
    compiled sampler (`compile(sampler=...)`, greedy by default). Loads
    Hugging Face Whisper checkpoints (`hf://openai/whisper-tiny.en` or a local
    folder), kerasprop presets and the catalog's Whisper names.

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

    def __init__(self, backbone, preprocessor=None, **kwargs):
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
        index = ops.min(ops.sum(ops.cast(decoder_padding_mask, "int32"), axis=-1))

        def next(prompt, cache, index):
            self_cache, cross_cache, encoder_states = cache
            token = ops.slice(prompt, [0, index - 1], [ops.shape(prompt)[0], 1])
            logits, hidden, self_cache, _ = self.call_decoder_with_cache(
                encoder_states, token, self_cache, index - 1, cross_cache
            )
            return logits[:, 0, :], hidden[:, 0, :], (self_cache, cross_cache, encoder_states)

        decoder_token_ids = self.sampler(
            next=next,
            prompt=decoder_token_ids,
            cache=(self_attention_cache, cross_attention_cache, encoder_hidden_states),
            index=index,
            mask=decoder_padding_mask,
            stop_token_ids=stop_token_ids,
            hidden_states=hidden_states,
            model=self,
        )
        if stop_token_ids is None:
            return {"decoder_token_ids": decoder_token_ids, "decoder_padding_mask": ops.ones_like(decoder_token_ids, "bool")}
        ends = ops.cast(any_equal(decoder_token_ids, stop_token_ids, ops.logical_not(decoder_padding_mask)), "int32")
        after_end = ops.cumsum(ends, axis=-1) - ends
        return {"decoder_token_ids": decoder_token_ids, "decoder_padding_mask": ops.equal(after_end, 0)}

    # === The backprop task ===

    def window_token_ids(self, windows, max_length=None):
        """Generated text token ids of each audio window (16 kHz arrays no longer than the encoder's window)."""
        preprocessor = self.preprocessor
        if not preprocessor.built:
            preprocessor.build(None)
        prompt = preprocessor.prompt_ids
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
                outputs.append(preprocessor.text_token_ids(ids[row, len(prompt) :][mask[row, len(prompt) :]]))
        return outputs

    def transcribe(self, audio):
        """Transcripts of 16 kHz float arrays of any length."""
        size = self.preprocessor.audio_converter.num_samples
        overlap = int(size * CHUNK_OVERLAP)
        windows = [audio_windows(samples, size, overlap) for samples in audio]
        token_ids = iter(self.window_token_ids([w for clip in windows for w in clip]))
        texts = []
        for clip in windows:
            ids = merge_overlapping([next(token_ids) for _ in clip])
            text = self.preprocessor.tokenizer.detokenize(ids) if ids else ""
            texts.append(keras.ops.convert_to_numpy(text).item().decode("utf-8") if not isinstance(text, str) else text)
        return [text.strip() for text in texts]

    def predict_speech_recognition(self, request):
        return self.transcribe(request.inputs["audio"])

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
        labels = [str(label) for label in labels]
        if not labels or len(set(labels)) != len(labels):
            raise ValueError(f"'labels' must be unique label names, got {describe(labels)}.")
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
        from kerasprop.hub.converters.classification_heads import transformers_config
        from kerasprop.hub.catalog import resolve_handle

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
        from keras_hub.src.utils.transformers.safetensor_utils import SafetensorLoader

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
            outputs = keras.Model.predict_on_batch(self, features)
            logits.append(keras.ops.convert_to_numpy(outputs)[: len(batch)])
        logits = np.concatenate(logits).astype("float64")
        probabilities = np.exp(logits - logits.max(axis=-1, keepdims=True))
        probabilities /= probabilities.sum(axis=-1, keepdims=True)
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
        if isinstance(labels, dict):
            labels = [labels[i] for i in sorted(labels)]
        if isinstance(labels, (str, bytes)) or not isinstance(labels, (list, tuple)) or not labels:
            raise TypeError(f"'labels' must be a non-empty list of label names, got {describe(labels)}.")
        labels = [str(label) for label in labels]
        if len(set(labels)) != len(labels):
            raise ValueError(f"Label names must be unique, got {labels}.")
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
