"""`GPT2TextGenerator`: keras-hub's `GPT2CausalLM` serving backprop's text-generation task.

Generation runs on its own key/value cache, laid out for decoding on memory-bound
hardware: one `(key, value)` pair per layer, each `(batch, heads, length, head_dim)`,
so a step writes one position of each in place and attends over it without copying
the cache (keras-hub's stacked `(batch, layers, 2, length, heads, head_dim)` cache is
sliced, transposed and re-stacked every step). The prompt is read in one pass over
the prompt positions only, not over the room left for new tokens. On CPU a GPT-2
124M step then costs what a bare read of its weights costs (see benchmarks/README.md).
keras-hub's `call_with_cache` is left as it is.
"""

import keras
import keras_hub
from keras import ops

from kerasprop.models.generative.causal_lm import CausalLM
from kerasprop.models.runtime.generation import mask_after_end


@keras.saving.register_keras_serializable(package="kerasprop")
class GPT2TextGenerator(CausalLM, keras_hub.models.GPT2CausalLM):
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

    def decode_with_cache(self, token_ids, cache, index):
        """Logits, final hidden states and updated cache for `token_ids` at positions `index`, `index + 1`, ...

        `cache` is a tuple of one `(key, value)` pair per layer, each of shape
        `(batch, heads, length, head_dim)` (see `empty_decoding_cache`); the new
        keys and values are written at `index` and the tokens attend to every
        position up to their own.
        """
        backbone = self.backbone
        tokens = backbone.token_embedding(token_ids)
        x = backbone.embeddings_add((tokens, backbone.position_embedding(tokens, start_index=index)))
        new_cache = []
        for layer, layer_cache in zip(backbone.transformer_layers, cache):
            x, layer_cache = _decoder_layer_with_cache(layer, x, layer_cache, index)
            new_cache.append(layer_cache)
        hidden_states = backbone.layer_norm(x)
        logits = backbone.token_embedding(hidden_states, reverse=True)
        return logits, hidden_states, tuple(new_cache)

    def empty_decoding_cache(self, batch_size, length):
        backbone = self.backbone
        shape = (batch_size, backbone.num_heads, length, backbone.hidden_dim // backbone.num_heads)
        return tuple(
            (ops.zeros(shape, self.compute_dtype), ops.zeros(shape, self.compute_dtype))
            for _ in range(backbone.num_layers)
        )

    def generate_step(self, inputs, stop_token_ids=None):
        """keras-hub's `generate_step` on the decoding cache, with the prompt read in one pass."""
        token_ids, padding_mask = inputs["token_ids"], inputs["padding_mask"]
        batch_size, length = ops.shape(token_ids)
        prefill_length = self.prompt_positions(length)
        cache = self.empty_decoding_cache(batch_size, length)
        _, hidden_states, cache = self.decode_with_cache(token_ids[:, :prefill_length], cache, 0)
        row_lengths = ops.sum(ops.cast(padding_mask, "int32"), axis=-1)
        # Positions from `index - 1` on are (re)written by the loop, so any prompt longer than the pass is fine.
        index = ops.minimum(ops.min(row_lengths), prefill_length + 1)

        def next(prompt, cache, index):
            token = ops.slice(prompt, [0, index - 1], [ops.shape(prompt)[0], 1])
            logits, hidden_states, cache = self.decode_with_cache(token, cache, index - 1)
            return ops.squeeze(logits, axis=1), ops.squeeze(hidden_states, axis=1), cache

        token_ids = self.sampler(
            next=next,
            prompt=token_ids,
            cache=cache,
            index=index,
            mask=padding_mask,
            stop_token_ids=stop_token_ids,
            hidden_states=hidden_states,
            model=self,
        )
        # As keras-hub: mask everything after the first stop token past the prompt.
        return {"token_ids": token_ids, "padding_mask": mask_after_end(token_ids, padding_mask, stop_token_ids)}


def _decoder_layer_with_cache(layer, x, cache, index):
    """A GPT-2 `TransformerDecoder` layer (pre-norm, inference) over `(key, value)` caches in head-major layout."""
    attention = layer._self_attention_layer
    key_cache, value_cache = cache
    h = layer._self_attention_layer_norm(x)
    query = attention._query_dense(h) * ops.cast(attention._inverse_sqrt_key_dim, h.dtype)
    start = [0, 0, index, 0]
    key_cache = ops.slice_update(key_cache, start, ops.transpose(attention._key_dense(h), (0, 2, 1, 3)))
    value_cache = ops.slice_update(value_cache, start, ops.transpose(attention._value_dense(h), (0, 2, 1, 3)))
    scores = ops.cast(ops.einsum("bqhd,bhkd->bhqk", query, key_cache), "float32")
    query_positions = ops.arange(ops.shape(x)[1]) + index
    visible = ops.arange(ops.shape(key_cache)[2])[None, :] <= query_positions[:, None]
    weights = ops.softmax(ops.where(visible, scores, -1e9), axis=-1)
    attended = ops.einsum("bhqk,bhkd->bqhd", ops.cast(weights, value_cache.dtype), value_cache)
    x = x + attention._output_dense(attended)
    h = layer._feedforward_layer_norm(x)
    x = x + layer._feedforward_output_dense(layer._feedforward_intermediate_dense(h))
    return x, (key_cache, value_cache)
