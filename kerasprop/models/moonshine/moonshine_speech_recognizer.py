"""Moonshine for speech: `MoonshineSpeechRecognizer` on keras-hub's `MoonshineAudioToText`.

keras-hub 0.32 has Moonshine's backbone, raw-audio converter and task, but its
tokenizer reads SentencePiece protos while Hugging Face checkpoints
(`UsefulSensors/moonshine-tiny`, ...) carry a `tokenizer.json`.
`MoonshineFastTokenizer` is a keras-hub `Tokenizer` around the `tokenizers`
library that reads that file as it is, so ids and text match transformers
exactly. The recogniser loads those checkpoints through kerasprop's Moonshine
converter.

Moonshine reads 16 kHz samples directly (no spectrogram) and takes audio of any
length; the recogniser cuts audio longer than `max_audio_length` seconds into
windows overlapping by a sixth. Windows of the same length share a batch, so
no window is padded: padding would change the group norm statistics of the
conv stem, and results would differ from transcribing the window alone.
"""

import os

import keras
import numpy as np
import tensorflow as tf
from keras import ops
from keras_hub.layers import MoonshineAudioConverter
from keras_hub.models import (
    MoonshineAudioToText,
    MoonshineAudioToTextPreprocessor,
    MoonshineBackbone,
)
from keras_hub.tokenizers import Tokenizer

import kerasprop.hub.converters.moonshine  # noqa: F401  (registers the Hugging Face Moonshine converter)
from kerasprop.compat import preprocessing_function
from kerasprop.models.runtime.generation import mask_after_end
from kerasprop.models.generative.speech import (
    CHUNK_OVERLAP,
    MAX_BATCH_SIZE,
    audio_windows,
    merge_overlapping,
    padded_batch,
)
from kerasprop.models.task_model import KerasTaskModel
from kerasprop.schemas.audio import MODEL_SAMPLING_RATE, to_model_rate

#: The shortest input the conv stem (kernels 127, 7, 3; strides 64, 3, 2) turns into one encoder frame.
MIN_SAMPLES = 127 + 64 * (7 - 1 + 3 * (3 - 1))
_TOKENIZER_FILE = "tokenizer.json"


@keras.saving.register_keras_serializable(package="kerasprop")
class MoonshineFastTokenizer(Tokenizer):
    """A Hugging Face `tokenizer.json` (read by the `tokenizers` library) as a keras-hub tokenizer.

    `tokenize` works on strings in Python and inside `tf.data` (through
    `tf.py_function`) and adds no special tokens; `detokenize` skips special
    tokens, like `transformers`' `decode(ids, skip_special_tokens=True)`. The
    start token is the decoder's start id; padding uses the end token (as
    Moonshine's checkpoints do). The file is saved as a preset asset.

    Example:
    >>> tokenizer = MoonshineFastTokenizer.from_preset("hf://UsefulSensors/moonshine-tiny")  # doctest: +SKIP
    >>> tokenizer.detokenize(tokenizer("hello world"))  # doctest: +SKIP
    'hello world'
    """

    backbone_cls = MoonshineBackbone

    def __init__(self, tokenizer_json=None, start_token_id=1, end_token_id=2, **kwargs):
        super().__init__(**kwargs)
        self.file_assets = [_TOKENIZER_FILE]
        self.start_token_id = start_token_id
        self.end_token_id = end_token_id
        self.pad_token_id = min({0, 1, 2} - {start_token_id, end_token_id})
        self._tokenizer = None
        if tokenizer_json is not None:
            self.set_tokenizer(tokenizer_json)

    def set_tokenizer(self, tokenizer_json):
        """Reads a `tokenizer.json` given as its text."""
        from tokenizers import Tokenizer as FastTokenizer

        self._tokenizer = FastTokenizer.from_str(tokenizer_json)
        size = self.vocabulary_size()
        for name in ("start_token_id", "end_token_id"):
            if not 0 <= getattr(self, name) < size:
                raise ValueError(f"'{name}' is {getattr(self, name)}, outside the vocabulary of {size} tokens.")
        self.start_token = self.id_to_token(self.start_token_id)
        self.end_token = self.id_to_token(self.end_token_id)
        self.pad_token = self.id_to_token(self.pad_token_id)
        self._special_token_attrs = ["start_token", "end_token", "pad_token"]

    def _check_tokenizer(self):
        if self._tokenizer is None:
            raise ValueError("This MoonshineFastTokenizer has no tokenizer.json yet: load it with from_preset.")

    def save_assets(self, dir_path):
        self._check_tokenizer()
        with open(os.path.join(dir_path, _TOKENIZER_FILE), "w", encoding="utf-8") as f:
            f.write(self._tokenizer.to_str())

    def load_assets(self, dir_path):
        with open(os.path.join(dir_path, _TOKENIZER_FILE), encoding="utf-8") as f:
            self.set_tokenizer(f.read())

    def get_vocabulary(self):
        self._check_tokenizer()
        vocabulary = self._tokenizer.get_vocab(with_added_tokens=True)
        return [token for token, _ in sorted(vocabulary.items(), key=lambda item: item[1])]

    def vocabulary_size(self):
        self._check_tokenizer()
        return self._tokenizer.get_vocab_size(with_added_tokens=True)

    def id_to_token(self, id):
        self._check_tokenizer()
        token = self._tokenizer.id_to_token(int(id))
        if token is None:
            raise ValueError(f"Token id {id} is outside the vocabulary of {self.vocabulary_size()} tokens.")
        return token

    def token_to_id(self, token):
        self._check_tokenizer()
        id = self._tokenizer.token_to_id(token)
        if id is None:
            raise ValueError(f"Token {token!r} is not in the vocabulary.")
        return id

    def _encode(self, texts):
        """`(flat ids, row lengths)` of a 1-D tensor of strings (runs in Python, also from `tf.py_function`)."""
        texts = [t.decode("utf-8") for t in texts.numpy().tolist()]
        ids = [e.ids for e in self._tokenizer.encode_batch(texts, add_special_tokens=False)]
        return np.array([i for row in ids for i in row], "int32"), np.array([len(row) for row in ids], "int64")

    @preprocessing_function
    def tokenize(self, inputs):
        """Token ids (no special tokens) of a string or a batch of strings; batches are ragged."""
        self._check_tokenizer()
        inputs = tf.convert_to_tensor(inputs, dtype=tf.string)
        flat, lengths = tf.py_function(self._encode, [tf.reshape(inputs, [-1])], Tout=[tf.int32, tf.int64])
        flat.set_shape([None])
        lengths.set_shape([None])
        ids = tf.RaggedTensor.from_row_lengths(flat, lengths)
        return ids[0] if inputs.shape.rank == 0 else ids

    def detokenize(self, inputs):
        """Text of a sequence of ids, or a list of texts of a batch, without special tokens (runs in Python)."""
        self._check_tokenizer()
        if tf is not None and isinstance(inputs, tf.RaggedTensor):
            inputs = inputs.to_list()
        elif not isinstance(inputs, (list, tuple)):
            inputs = keras.ops.convert_to_numpy(inputs).tolist()
        if not isinstance(inputs, list):
            inputs = [inputs]
        if inputs and not isinstance(inputs[0], (list, tuple)):
            return self._tokenizer.decode([int(i) for i in inputs], skip_special_tokens=True)
        return self._tokenizer.decode_batch([[int(i) for i in row] for row in inputs], skip_special_tokens=True)

    def get_config(self):
        config = super().get_config()
        config.update(start_token_id=self.start_token_id, end_token_id=self.end_token_id)
        return config


@keras.saving.register_keras_serializable(package="kerasprop")
class MoonshineSpeechRecognizerPreprocessor(MoonshineAudioToTextPreprocessor):
    """keras-hub's Moonshine preprocessor with `MoonshineFastTokenizer` and the recogniser's window length.

    `max_audio_length` (seconds) is the longest window the recogniser
    transcribes at once; longer audio is cut into overlapping windows. Unlike
    keras-hub's, its config keeps `decoder_sequence_length`.

    Example:
    >>> preprocessor = MoonshineSpeechRecognizerPreprocessor.from_preset("hf://UsefulSensors/moonshine-tiny")  # doctest: +SKIP
    >>> x, y, w = preprocessor({"audio": np.zeros((1, 16000)), "text": ["hello"]})  # doctest: +SKIP
    """

    tokenizer_cls = MoonshineFastTokenizer
    audio_converter_cls = MoonshineAudioConverter

    def __init__(self, audio_converter, tokenizer, decoder_sequence_length=195, max_audio_length=30, **kwargs):
        super().__init__(audio_converter, tokenizer, decoder_sequence_length=decoder_sequence_length, **kwargs)
        self.max_audio_length = max_audio_length

    @preprocessing_function
    def call(self, x, y=None, sample_weight=None, sequence_length=None):
        """`{"audio": (batch, samples), "text": (batch,)}` -> `(x, y, sample_weight)` for `fit`, in TensorFlow.

        (keras-hub's `call` runs its audio converter through `keras.ops`, which
        fails inside `tf.data` under JAX and PyTorch.) The audio is raw samples;
        the encoder padding mask ends after each clip's last sample that is not
        the padding value.
        """
        if not self.built:
            self.build(None)
        audio = tf.convert_to_tensor(x["audio"], dtype="float32")
        is_sound = tf.cast(tf.not_equal(audio, self.audio_converter.padding_value), "int32")
        encoder_padding_mask = tf.reverse(tf.cumsum(tf.reverse(is_sound, [-1]), axis=-1), [-1]) > 0
        token_ids, padding_mask = self.decoder_packer(
            self.tokenizer(x["text"]), sequence_length=(sequence_length or self.decoder_sequence_length) + 1,
            add_end_value=True,
        )
        x = {
            "encoder_input_values": audio[..., None],
            "encoder_padding_mask": encoder_padding_mask,
            "decoder_token_ids": token_ids[..., :-1],
            "decoder_padding_mask": padding_mask[..., :-1],
        }
        return keras.utils.pack_x_y_sample_weight(x, token_ids[..., 1:], padding_mask[..., 1:])

    def get_config(self):
        config = super().get_config()
        config.update(decoder_sequence_length=self.decoder_sequence_length, max_audio_length=self.max_audio_length)
        return config


@keras.saving.register_keras_serializable(package="kerasprop")
class MoonshineSpeechRecognizer(KerasTaskModel, MoonshineAudioToText):
    """Moonshine speech recognition: keras-hub's `MoonshineAudioToText`, greedy by default.

    Serves "speech-recognition": `model({"audio": "speech.wav"})` returns the
    transcript. Decoding runs keras-hub's cached `generate_step` through the
    compiled sampler (`compile(sampler=...)`; greedy, where the checkpoints'
    `generation_config.json` asks transformers for 5 beams) up to the
    preprocessor's `decoder_sequence_length` tokens. Loads Hugging Face
    Moonshine checkpoints (`hf://UsefulSensors/moonshine-tiny` or a local
    folder), kerasprop presets and the catalog name "moonshine-tiny".
    Finetune with `finetune({"audio": [...], "text": [...]})`.

    Example:
    >>> model = MoonshineSpeechRecognizer.from_preset("moonshine-tiny")  # doctest: +SKIP
    >>> model({"audio": "speech.wav"}, task="speech-recognition")  # doctest: +SKIP
    'Hello world.'
    """

    backbone_cls = MoonshineBackbone
    preprocessor_cls = MoonshineSpeechRecognizerPreprocessor
    default_tasks = ("speech-recognition",)
    default_description = "Moonshine speech recognition."
    finetunable_tasks = ("speech-recognition",)

    @classmethod
    def from_preset(cls, preset, load_weights=True, **kwargs):
        """`Task.from_preset` with the current dtype policy unless `dtype` is given.

        (keras-hub 0.32's `MoonshineBackbone.get_config` saves its dtype as a
        string, which its preset loader cannot read back.)
        """
        kwargs["dtype"] = kwargs.get("dtype") or keras.config.dtype_policy().name
        return super().from_preset(preset, load_weights=load_weights, **kwargs)

    def compile(self, optimizer="auto", loss="auto", *, weighted_metrics="auto", sampler="greedy", **kwargs):
        """keras-hub's `Seq2SeqLM.compile`, with greedy decoding as the sampler."""
        super().compile(optimizer=optimizer, loss=loss, weighted_metrics=weighted_metrics, sampler=sampler, **kwargs)

    def generate_step(self, inputs, stop_token_ids=None):
        """keras-hub's cached generation; the returned padding mask ends after each row's first end token.

        (keras-hub 0.32 looks for end tokens only where the ids equal the padding id.)
        """
        outputs = super().generate_step(inputs, stop_token_ids=stop_token_ids)
        if stop_token_ids is None:
            return outputs
        token_ids = outputs["decoder_token_ids"]
        prompt = ops.cast(inputs["decoder_padding_mask"], "bool")
        return {"decoder_token_ids": token_ids, "decoder_padding_mask": mask_after_end(token_ids, prompt, stop_token_ids)}

    # === The backprop task ===

    def window_token_ids(self, windows, max_length=None):
        """Generated text token ids of each window (16 kHz arrays); windows of one length share a batch."""
        preprocessor = self.preprocessor
        if not preprocessor.built:
            preprocessor.build(None)
        tokenizer = preprocessor.tokenizer
        max_length = max_length or preprocessor.decoder_sequence_length
        if self.generate_function is None:
            self.make_generate_function()
        windows = [w if len(w) >= MIN_SAMPLES else np.pad(w, (0, MIN_SAMPLES - len(w))) for w in windows]
        by_length = {}
        for i, window in enumerate(windows):
            by_length.setdefault(len(window), []).append(i)
        outputs = [None] * len(windows)
        for length, indices in by_length.items():
            for start in range(0, len(indices), MAX_BATCH_SIZE):
                batch = indices[start : start + MAX_BATCH_SIZE]
                audio = padded_batch([windows[i] for i in batch], length)
                token_ids = np.full((len(audio), max_length), tokenizer.pad_token_id, dtype="int32")
                token_ids[:, 0] = tokenizer.start_token_id
                inputs = {
                    "encoder_input_values": preprocessor.audio_converter(audio),
                    "encoder_padding_mask": np.ones(audio.shape, dtype="bool"),
                    "decoder_token_ids": token_ids,
                    "decoder_padding_mask": token_ids != tokenizer.pad_token_id,
                }
                inputs = keras.tree.map_structure(keras.ops.convert_to_tensor, inputs)
                y = self.generate_function(inputs, stop_token_ids=(tokenizer.end_token_id,))
                ids = keras.ops.convert_to_numpy(y["decoder_token_ids"])
                mask = keras.ops.convert_to_numpy(y["decoder_padding_mask"])
                for row, i in enumerate(batch):
                    outputs[i] = self.text_token_ids(ids[row, 1:][mask[row, 1:]])
        return outputs

    def text_token_ids(self, token_ids):
        """The ids of a generated sequence that are text (no start, end or out-of-vocabulary ids)."""
        tokenizer = self.preprocessor.tokenizer
        special = {tokenizer.start_token_id, tokenizer.end_token_id}
        size = tokenizer.vocabulary_size()
        return [int(t) for t in token_ids if int(t) not in special and 0 <= int(t) < size]

    def transcribe(self, audio):
        """Transcripts of 16 kHz float arrays of any length."""
        size = int(self.preprocessor.max_audio_length * MODEL_SAMPLING_RATE)
        windows = [audio_windows(samples, size, int(size * CHUNK_OVERLAP)) for samples in audio]
        token_ids = iter(self.window_token_ids([w for clip in windows for w in clip]))
        texts = []
        for clip in windows:
            ids = merge_overlapping([next(token_ids) for _ in clip])
            texts.append(self.preprocessor.tokenizer.detokenize(ids) if ids else "")
        return [text.strip() for text in texts]

    def predict_speech_recognition(self, request):
        return self.transcribe(request.inputs["audio"])

    # === Finetuning ===

    def process_batch(self, params, task="speech-recognition", sampling_rate=None, max_output_length=None):
        """`{"audio", "text"}` features for `fit`: 16 kHz clips zero-padded to the longest, and transcripts."""
        self.check_finetunable(task)
        audio = to_model_rate(params["audio"], sampling_rate)
        limit = self.preprocessor.max_audio_length * MODEL_SAMPLING_RATE
        too_long = [i for i, samples in enumerate(audio) if len(samples) > limit]
        if too_long:
            raise ValueError(
                f"'audio[{too_long[0]}]' is longer than the model's window of {self.preprocessor.max_audio_length:g} s; "
                "finetune on clips that fit in one window."
            )
        if max_output_length is not None:
            self.preprocessor.decoder_sequence_length = max_output_length + 1
        batch = np.zeros((len(audio), max(MIN_SAMPLES, *(len(a) for a in audio))), dtype="float32")
        for i, samples in enumerate(audio):
            batch[i, : len(samples)] = samples
        return {"audio": batch, "text": np.array(params["text"])}
