"""`GPT2TextGenerator`: keras-hub's `GPT2CausalLM` serving backprop's text-generation task."""

import keras
import keras_hub

from kerasprop.models.causal_lm import CausalLMTextGeneration


@keras.saving.register_keras_serializable(package="kerasprop")
class GPT2TextGenerator(CausalLMTextGeneration, keras_hub.models.GPT2CausalLM):
    """GPT-2 for text generation: a `GPT2CausalLM` that also answers backprop's task dict.

    Loads keras-hub presets and Hugging Face GPT-2 folders (`config.json` with
    `model_type` gpt2). `min_length` and `max_length` count new tokens, and
    only the new text is returned.

    Example:
    >>> from kerasprop.models import GPT2TextGenerator
    >>> model = GPT2TextGenerator.from_preset("gpt2_base_en")  # doctest: +SKIP
    >>> model({"text": "Keras is", "max_length": 12, "temperature": 0.0}, task="text-generation")  # doctest: +SKIP
    ' a deep learning library for Python...'
    >>> model.generate("Keras is", max_length=20)  # keras-hub's API is all there  # doctest: +SKIP
    """

    default_description = "GPT-2: continues a text; returns only the new text."
