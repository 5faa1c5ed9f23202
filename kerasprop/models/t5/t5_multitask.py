"""T5 with backprop's tasks: `T5MultiTask`."""

import keras
import keras_hub
from keras import ops

from kerasprop.models.generative.seq2seq import Seq2SeqLM

#: The additive attention bias of masked positions (keras-hub's T5 uses the same).
MASKED = -1e9


def _split_heads(x, num_heads):
    """`(batch, length, heads * depth)` -> `(batch, heads, length, depth)`."""
    batch_size, length, width = ops.shape(x)
    return ops.transpose(ops.reshape(x, (batch_size, length, num_heads, width // num_heads)), (0, 2, 1, 3))


def attend(queries, keys, values, bias):
    """T5 attention (unscaled scores) of `(rows, heads, length, depth)` queries over shared keys and values.

    `keys` and `values` are `(batch, heads, key_length, depth)`, where `rows`
    is a multiple of `batch` and each consecutive group of `rows // batch`
    rows (the beams of one prompt) reads the same keys and values, without
    copying them per row. `bias` broadcasts to `(batch, heads, group * length,
    key_length)`. Returns `(rows, length, heads * depth)`.
    """
    rows, num_heads, length, depth = ops.shape(queries)
    batch_size = ops.shape(keys)[0]
    group = rows // batch_size
    queries = ops.reshape(ops.transpose(ops.reshape(queries, (batch_size, group, num_heads, length, depth)),
                                        (0, 2, 1, 3, 4)), (batch_size, num_heads, group * length, depth))
    scores = ops.einsum("bhqd,bhkd->bhqk", queries, keys) + bias
    outputs = ops.einsum("bhqk,bhkd->bhqd", ops.softmax(scores, axis=-1), values)
    outputs = ops.transpose(ops.reshape(outputs, (batch_size, num_heads, group, length, depth)), (0, 2, 3, 1, 4))
    return ops.reshape(outputs, (rows, length, num_heads * depth))


@keras.saving.register_keras_serializable(package="kerasprop")
class T5MultiTask(Seq2SeqLM, keras_hub.models.T5Seq2SeqLM):
    """keras-hub's `T5Seq2SeqLM` serving summarisation, emotion, QA and text generation.

    Loads keras-hub T5 presets, kerasprop presets, and Hugging Face T5
    checkpoints (`hf://` handles or local folders; v1.0 and v1.1/FLAN-T5)
    through kerasprop's T5 converter. Google's T5 checkpoints were trained on
    "summarize: ", so pass `task_prefixes={"summarisation": "summarize: "}`
    for them (the catalog's "t5-small" and "t5-base" entries do).

    Generation runs kerasprop's decoding loop (see `Seq2SeqLM.generate_step`):
    the cross-attention keys and values are computed once per prompt and
    shared by its beams.

    Example:
    >>> from kerasprop.models.t5.t5_multitask import T5MultiTask
    >>> model = T5MultiTask.from_preset("t5-base-qa-summary-emotion")  # doctest: +SKIP
    >>> model({"question": "Who wrote it?", "context": "Ada wrote it."}, task="qa")  # doctest: +SKIP
    'Ada'
    >>> model.generate("summarize: Keras is a deep learning library.", max_length=20)  # doctest: +SKIP
    """

    default_description = "T5 for summarisation, emotion, QA and text generation (backprop's prompts)."
    has_decoding_hooks = True

    # === Decoding hooks of Seq2SeqLM.generate_step ===

    def encode_for_decoding(self, encoder_token_ids, encoder_padding_mask):
        """Each decoder layer's cross-attention keys and values, `(batch, heads, length, depth)`, and their mask bias."""
        encoder_states = self.call_encoder(encoder_token_ids, encoder_padding_mask)
        num_heads = self.backbone.num_heads
        keys_and_values = tuple(
            (_split_heads(layer.cross_attention.key_projector(encoder_states), num_heads),
             _split_heads(layer.cross_attention.value_projector(encoder_states), num_heads))
            for layer in self.backbone.decoder_transformer_layers
        )
        visible = ops.cast(encoder_padding_mask, encoder_states.dtype)[:, None, None, :]
        return keys_and_values, (1.0 - visible) * MASKED

    def empty_decoder_cache(self, batch_size, length):
        """Per decoder layer, self-attention keys and values `(batch, heads, length, depth)`."""
        backbone = self.backbone
        depth = backbone.key_value_dim or backbone.hidden_dim // backbone.num_heads
        shape = (batch_size, backbone.num_heads, length, depth)
        return tuple((ops.zeros(shape, self.compute_dtype), ops.zeros(shape, self.compute_dtype))
                     for _ in backbone.decoder_transformer_layers)

    def decoding_head(self):
        """`_logits` with the tied embedding transposed once: a matmul reads a `(hidden, vocabulary)` kernel
        about 25% faster on CPU than the transposed `(vocabulary, hidden)` one, and this one is the largest."""
        backbone = self.backbone
        embedding = backbone.token_embedding
        mode = getattr(embedding, "quantization_mode", None)
        scale = backbone.hidden_dim**-0.5 if backbone.tie_embedding_weights else 1.0
        if mode == "int8" and embedding.tie_weights and embedding.inputs_quantizer:
            # Keras' int8 reverse call, with the int8 kernel transposed here, once per generation: inside the
            # decoding loop the layer transposed all of it at every step (T5-small: 25 -> 12 ms a step at batch 8).
            kernel = ops.transpose(embedding._embeddings)
            kernel_scale = ops.transpose(embedding.embeddings_scale)

            def int8_logits(hidden_states):
                inputs, inputs_scale = embedding.inputs_quantizer(hidden_states * ops.cast(scale, hidden_states.dtype))
                logits = ops.cast(ops.matmul(inputs, kernel), embedding.compute_dtype)
                return ops.divide(logits, ops.multiply(inputs_scale, kernel_scale))

            return int8_logits
        if mode:
            # Other quantized modes (int4, ...): the layer reads its kernel with its scales.
            return lambda hidden_states: embedding(hidden_states * ops.cast(scale, hidden_states.dtype), reverse=True)
        if not backbone.tie_embedding_weights:
            kernel = embedding.reverse_embeddings
            return lambda hidden_states: ops.matmul(hidden_states, kernel)
        kernel = ops.transpose(embedding.embeddings)
        return lambda hidden_states: ops.matmul(hidden_states * ops.cast(scale, hidden_states.dtype), kernel)

    def decode(self, token_ids, start, cache, memory):
        """The decoder's final hidden states for `token_ids` at positions `start...`, and the updated cache."""
        backbone = self.backbone
        layers = backbone.decoder_transformer_layers
        num_heads = backbone.num_heads
        cross_keys_and_values, cross_bias = memory
        length, cache_length = ops.shape(token_ids)[1], ops.shape(cache[0][0])[2]
        # The relative position bias (computed by the first layer, shared by all) and the causal mask.
        bias = layers[0].self_attention.compute_bias(length, cache_length, query_start_index=start)
        query_positions = ops.arange(length)[:, None] + start
        bias = bias + ops.where(ops.arange(cache_length)[None, :] <= query_positions, 0.0, MASKED)
        x = backbone.token_embedding(token_ids)
        updated = []
        for layer, (keys, values), (cross_keys, cross_values) in zip(layers, cache, cross_keys_and_values):
            attention = layer.self_attention
            h = layer.self_attention_layer_norm(x)
            queries = _split_heads(attention.query_projector(h), num_heads)
            keys = ops.slice_update(keys, [0, 0, start, 0], _split_heads(attention.key_projector(h), num_heads))
            values = ops.slice_update(values, [0, 0, start, 0], _split_heads(attention.value_projector(h), num_heads))
            x = x + attention.output_projector(attend(queries, keys, values, bias))
            attention = layer.cross_attention
            queries = _split_heads(attention.query_projector(layer.cross_attention_layer_norm(x)), num_heads)
            x = x + attention.output_projector(attend(queries, cross_keys, cross_values, cross_bias))
            h = layer.layer_norm(x)
            h = layer.input_projector(h) * layer.gate_projector(h) if layer.use_gated_activation else layer.input_projector(h)
            x = x + layer.output_projector(h)
            updated.append((keys, values))
        return backbone.decoder_layer_norm(x), tuple(updated)
