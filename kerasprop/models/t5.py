"""T5 with backprop's tasks: `T5MultiTask`."""

import keras
import keras_hub

from kerasprop.models.seq2seq import Seq2SeqLM


@keras.saving.register_keras_serializable(package="kerasprop")
class T5MultiTask(Seq2SeqLM, keras_hub.models.T5Seq2SeqLM):
    """keras-hub's `T5Seq2SeqLM` serving summarisation, emotion, QA and text generation.

    Loads keras-hub T5 presets, kerasprop presets, and Hugging Face T5
    checkpoints (`hf://` handles or local folders; v1.0 and v1.1/FLAN-T5)
    through kerasprop's T5 converter. Google's T5 checkpoints were trained on
    "summarize: ", so pass `task_prefixes={"summarisation": "summarize: "}`
    for them (the catalog's "t5-small" and "t5-base" entries do).

    Example:
    >>> from kerasprop.models.t5 import T5MultiTask
    >>> model = T5MultiTask.from_preset("t5-base-qa-summary-emotion")  # doctest: +SKIP
    >>> model({"question": "Who wrote it?", "context": "Ada wrote it."}, task="qa")  # doctest: +SKIP
    'Ada'
    >>> model.generate("summarize: Keras is a deep learning library.", max_length=20)  # doctest: +SKIP
    """

    default_description = "T5 for summarisation, emotion, QA and text generation (backprop's prompts)."
