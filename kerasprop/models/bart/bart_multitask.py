"""BART with backprop's tasks: `BartMultiTask`."""

import keras
import keras_hub

from kerasprop.models.generative.seq2seq import Seq2SeqLM


@keras.saving.register_keras_serializable(package="kerasprop")
class BartMultiTask(Seq2SeqLM, keras_hub.models.BartSeq2SeqLM):
    """keras-hub's `BartSeq2SeqLM` serving summarisation, emotion, QA and text generation.

    Loads keras-hub BART presets, kerasprop presets and Hugging Face BART
    checkpoints (through keras-hub's converter). The prompts are backprop's;
    for a checkpoint trained without prefixes (e.g. a CNN/DailyMail
    summariser) pass `task_prefixes={"summarisation": ""}`.

    Example:
    >>> from kerasprop.models.bart.bart_multitask import BartMultiTask
    >>> model = BartMultiTask.from_preset("bart_large_en_cnn", task_prefixes={"summarisation": ""})  # doctest: +SKIP
    >>> model({"text": "A long article ..."}, task="summarisation")  # doctest: +SKIP
    """

    default_description = "BART for summarisation, emotion, QA and text generation (backprop's prompts)."
