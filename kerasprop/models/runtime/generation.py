"""Generation controls for any keras-hub generative Task: logits processing and beam search.

keras-hub samplers pick the next token from the logits that a Task's
`generate_step` computes through a `next(prompt, cache, index)` function.
`GenerationSampler` wraps any keras-hub sampler (greedy, top_k, top_p, random,
beam, contrastive) and edits those logits inside the compiled loop, the way
Hugging Face's logits processors do:

- `min_new_tokens`: end tokens are banned until a row has that many new tokens
  (counted per row, so prompts of different lengths in one batch are fine);
- `max_new_tokens`: a row that has that many new tokens is made to end, so the
  loop stops as soon as every row is done;
- `no_repeat_ngram_size`: no n-gram occurs twice (prompt included);
- `repetition_penalty`: logits of tokens already in the sequence (prompt
  included) are divided by the penalty when positive, multiplied when negative;
- `temperature` is the wrapped sampler's (`make_sampler` sets it; 0.0 means greedy).

A row that has ended keeps emitting its end token with probability one, so a
finished beam keeps its score. `BeamSampler` adds Hugging Face's length penalty
(score / new_tokens ** length_penalty) and can return the n best beams of each
prompt into n consecutive copies of it (`repeat_rows`), which is how
`num_generations` works for beams; for sampling, repeating the rows is enough.

Prompts are right-padded, as keras-hub's preprocessors pack them; the wrapper
reads each row's prompt length from the `mask` the Task passes to its sampler,
and the stop tokens from `stop_token_ids`. Use it from a Task's `generate`:

    sampler = sampler_from_options({"min_length": 30, "max_length": 200,
                                    "num_beams": 4}, no_repeat_ngram_size=3)
    seq2seq_lm.compile(sampler=sampler)
    seq2seq_lm.generate(texts, max_length=...)  # sequence length: room for 200 new tokens

Example:
>>> import keras_hub
>>> from kerasprop.models.runtime.generation import GenerationSampler
>>> sampler = GenerationSampler("greedy", min_new_tokens=5, repetition_penalty=1.3)
>>> causal_lm = keras_hub.models.GPT2CausalLM.from_preset("gpt2_base_en")  # doctest: +SKIP
>>> causal_lm.compile(sampler=sampler)  # doctest: +SKIP
>>> causal_lm.generate("Keras is", max_length=30)  # doctest: +SKIP
"""

import keras
import keras_hub
from keras import ops, tree

from kerasprop.models.runtime.streaming import host_callback

#: The logit given to banned tokens: low enough to vanish under softmax, finite so nothing is NaN.
BANNED = -1e9


def _stop_mask(tokens, stop_token_ids):
    found = ops.zeros_like(tokens, dtype="bool")
    for token_id in stop_token_ids:
        found = ops.logical_or(found, ops.equal(tokens, token_id))
    return found


def mask_after_end(token_ids, prompt_mask, stop_token_ids):
    """The padding mask of generated `token_ids`: true up to and including each row's first stop token after
    the prompt (`prompt_mask` true on prompt tokens), all true without `stop_token_ids`; any leading shape.

    (keras-hub 0.32's samplers look for end tokens only where the ids equal the
    padding id, so kerasprop's generators rebuild the mask from the ids.)
    """
    if not stop_token_ids:
        return ops.ones_like(token_ids, dtype="bool")
    generated = ops.logical_not(ops.cast(prompt_mask, "bool"))
    ends = ops.cast(ops.logical_and(_stop_mask(token_ids, stop_token_ids), generated), "int32")
    return ops.equal(ops.cumsum(ends, axis=-1) - ends, 0)


def _mark_tokens(tokens, weights, vocabulary_size):
    """A `(batch, vocabulary)` float tensor: the sum of `weights` over each row's occurrences of each token."""
    batch_size, length = ops.shape(tokens)
    rows = ops.broadcast_to(ops.arange(batch_size, dtype="int32")[:, None], (batch_size, length))
    indices = ops.stack([rows, ops.cast(tokens, "int32")], axis=-1)
    indices = ops.reshape(indices, (-1, 2))
    zeros = ops.zeros((batch_size, vocabulary_size), dtype="float32")
    return ops.scatter_update(zeros, indices, ops.reshape(ops.cast(weights, "float32"), (-1,)), reduction="add")


def apply_repetition_penalty(logits, tokens, index, penalty):
    """Hugging Face's repetition penalty over the tokens before `index` (prompt included)."""
    seen = ops.arange(ops.shape(tokens)[1])[None, :] < index
    seen = ops.broadcast_to(seen, ops.shape(tokens))
    present = _mark_tokens(tokens, seen, ops.shape(logits)[-1]) > 0
    penalised = ops.where(logits < 0, logits * penalty, logits / penalty)
    return ops.where(present, penalised, logits)


def ban_repeated_ngrams(logits, tokens, index, ngram_size):
    """Bans every token that would complete an n-gram already present before `index`."""
    length = ops.shape(tokens)[1]
    if ngram_size > length:
        return logits
    starts = length - ngram_size + 1
    # The (n-1)-gram that the next token would extend: tokens[index-n+1 : index].
    suffix_start = ops.maximum(index - ngram_size + 1, 0)
    suffix = ops.slice(tokens, [0, suffix_start], [ops.shape(tokens)[0], ngram_size - 1])
    # n-grams wholly before `index` whose first n-1 tokens equal the suffix.
    matches = ops.arange(starts)[None, :] + ngram_size - 1 < index
    matches = ops.broadcast_to(matches, (ops.shape(tokens)[0], starts))
    for offset in range(ngram_size - 1):
        matches = ops.logical_and(matches, ops.equal(tokens[:, offset : offset + starts], suffix[:, offset, None]))
    completions = tokens[:, ngram_size - 1 :]
    banned = _mark_tokens(completions, matches, ops.shape(logits)[-1]) > 0
    return ops.where(banned, BANNED, logits)


@keras.saving.register_keras_serializable(package="kerasprop")
class GenerationSampler(keras_hub.samplers.Sampler):
    """Wraps a keras-hub sampler and processes the logits it samples from.

    Args:
        sampler: a keras-hub sampler, or its name ("greedy", "top_k", ...).
        min_new_tokens: int. End tokens are banned until a row has this many new tokens.
        max_new_tokens: int or None. A row with this many new tokens is made to end.
        no_repeat_ngram_size: int. If > 0, no n-gram of this size occurs twice.
        repetition_penalty: float. 1.0 is none; > 1 discourages tokens already present.
        report_tokens: bool. If True, each step of the compiled loop reports the
            token the previous step chose to `sink(index, token_ids)` on the host
            (see `kerasprop.models.runtime.streaming`).

    Example:
    >>> from kerasprop.models.runtime.generation import GenerationSampler
    >>> sampler = GenerationSampler("beam", min_new_tokens=30, max_new_tokens=200, no_repeat_ngram_size=3)
    >>> type(sampler.sampler).__name__
    'BeamSampler'
    """

    def __init__(self, sampler="greedy", min_new_tokens=0, max_new_tokens=None, no_repeat_ngram_size=0,
                 repetition_penalty=1.0, report_tokens=False):
        super().__init__()
        self.sampler = keras_hub.samplers.get(sampler)
        self.report_tokens = bool(report_tokens)
        #: Where reported tokens go: a function `(index, token_ids)`, set by whoever reads the stream.
        self.sink = None
        self.min_new_tokens = int(min_new_tokens)
        self.max_new_tokens = None if max_new_tokens is None else int(max_new_tokens)
        self.no_repeat_ngram_size = int(no_repeat_ngram_size)
        self.repetition_penalty = float(repetition_penalty)

    @property
    def variables(self):
        return self.sampler.variables

    def __call__(self, next, prompt, cache=None, index=0, mask=None, stop_token_ids=None, hidden_states=None,
                 model=None, **kwargs):
        mask = ops.zeros_like(prompt, dtype="bool") if mask is None else ops.cast(mask, "bool")
        prompt_lengths = ops.sum(ops.cast(mask, "int32"), axis=-1)
        stop_token_ids = tuple(stop_token_ids) if stop_token_ids is not None else ()
        has_cache = cache is not None

        # Per-row state rides in the cache, so that samplers which repeat or
        # reorder rows (beam, contrastive) carry it along with the rows.
        def processed_next(prompt, state, index):
            cache, prompt_lengths = state
            if self.report_tokens:
                host_callback(self.send_to_sink, index - 1, prompt[:, index - 1])
            logits, hidden_states, cache = next(prompt, cache if has_cache else None, index)
            logits = self.process_logits(logits, prompt, index, prompt_lengths, stop_token_ids)
            return logits, hidden_states, (cache if has_cache else (), prompt_lengths)

        return self.sampler(
            next=processed_next,
            prompt=prompt,
            cache=(cache if has_cache else (), prompt_lengths),
            index=index,
            mask=mask,
            stop_token_ids=stop_token_ids or None,
            hidden_states=hidden_states,
            model=model,
            **kwargs,
        )

    def send_to_sink(self, index, token_ids):
        if self.sink is not None:
            self.sink(index, token_ids)

    def process_logits(self, logits, tokens, index, prompt_lengths, stop_token_ids=()):
        """The logits for position `index` of `tokens`, after every configured rule.

        Args:
            logits: `(batch, vocabulary)` logits for the token at `index`.
            tokens: `(batch, length)` token ids; those before `index` are final.
            index: the position being filled.
            prompt_lengths: `(batch,)` prompt length of each row.
            stop_token_ids: the end token ids.
        """
        logits = ops.cast(logits, "float32")
        if self.repetition_penalty != 1.0:
            logits = apply_repetition_penalty(logits, tokens, index, self.repetition_penalty)
        if self.no_repeat_ngram_size > 0:
            logits = ban_repeated_ngrams(logits, tokens, index, self.no_repeat_ngram_size)
        if not stop_token_ids:
            return logits
        vocabulary = ops.arange(ops.shape(logits)[-1])[None, :]
        is_stop = _stop_mask(vocabulary, stop_token_ids)
        new_tokens = index - prompt_lengths
        if self.min_new_tokens > 0:
            too_short = (new_tokens < self.min_new_tokens)[:, None]
            logits = ops.where(ops.logical_and(too_short, is_stop), BANNED, logits)
        positions = ops.arange(ops.shape(tokens)[1])[None, :]
        generated = ops.logical_and(positions >= prompt_lengths[:, None], positions < index)
        done = ops.any(ops.logical_and(_stop_mask(tokens, stop_token_ids), generated), axis=-1)
        if self.max_new_tokens is not None:
            done = ops.logical_or(done, new_tokens >= self.max_new_tokens)
        end_only = ops.where(ops.equal(vocabulary, stop_token_ids[0]), 0.0, BANNED)
        return ops.where(done[:, None], end_only, logits)

    def get_config(self):
        return {
            "sampler": keras_hub.samplers.serialize(self.sampler),
            "min_new_tokens": self.min_new_tokens,
            "max_new_tokens": self.max_new_tokens,
            "no_repeat_ngram_size": self.no_repeat_ngram_size,
            "repetition_penalty": self.repetition_penalty,
            "report_tokens": self.report_tokens,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["sampler"] = keras_hub.samplers.deserialize(config["sampler"])
        return cls(**config)


@keras.saving.register_keras_serializable(package="kerasprop")
class BeamSampler(keras_hub.samplers.BeamSampler):
    """keras-hub's beam search with Hugging Face's length penalty and n-best output.

    The final beam is the one with the best `log_prob / new_tokens ** length_penalty`,
    where `new_tokens` counts the tokens after the prompt up to and including
    the first end token. With `num_return_sequences=n`, the batch holds n
    consecutive copies of each prompt (see `repeat_rows`): the search runs once
    per prompt and the copies receive its n best beams, best first.

    Example:
    >>> from kerasprop.models.runtime.generation import BeamSampler
    >>> BeamSampler(num_beams=4, length_penalty=2.0).length_penalty
    2.0
    """

    def __init__(self, num_beams=4, length_penalty=1.0, num_return_sequences=1, **kwargs):
        kwargs.pop("return_all_beams", None)
        super().__init__(num_beams=num_beams, return_all_beams=True, **kwargs)
        if num_return_sequences > num_beams:
            raise ValueError(
                f"'num_generations' ({num_return_sequences}) must not exceed 'num_beams' ({num_beams}) "
                "for beam search."
            )
        self.length_penalty = float(length_penalty)
        self.num_return_sequences = int(num_return_sequences)

    def __call__(self, next, prompt, cache=None, index=0, mask=None, stop_token_ids=None, hidden_states=None,
                 model=None):
        copies = self.num_return_sequences
        mask = ops.zeros_like(prompt, dtype="bool") if mask is None else ops.cast(mask, "bool")
        if copies > 1:
            prompt, mask = first_of_copies(prompt, copies), first_of_copies(mask, copies)
            cache = None if cache is None else tree.map_structure(lambda x: first_of_copies(x, copies), cache)
        beams, log_probs = super().__call__(
            next, prompt, cache=cache, index=index, mask=mask, stop_token_ids=stop_token_ids, model=model
        )
        batch_size, num_beams, length = ops.shape(beams)
        generated = ops.logical_not(ops.repeat(mask[:, None, :], num_beams, axis=1))
        generated = ops.logical_and(generated, mask_after_end(beams, ops.logical_not(generated), stop_token_ids))
        new_tokens = ops.maximum(ops.sum(ops.cast(generated, "float32"), axis=-1), 1.0)
        scores = log_probs / new_tokens**self.length_penalty
        order = ops.argsort(-scores, axis=-1)[:, :copies]
        best = ops.take_along_axis(beams, order[:, :, None], axis=1)
        return ops.reshape(best, (batch_size * copies, length))

    def get_config(self):
        config = super().get_config()
        del config["return_all_beams"]
        config.update(length_penalty=self.length_penalty, num_return_sequences=self.num_return_sequences)
        return config


def repeat_rows(inputs, copies):
    """Repeats each row of every tensor in `inputs` `copies` times, consecutively."""
    if copies == 1:
        return inputs
    return tree.map_structure(lambda x: ops.repeat(x, copies, axis=0), inputs)


def first_of_copies(x, copies):
    """The first row of each group of `copies` consecutive rows (the inverse of `repeat_rows`)."""
    shape = ops.shape(x)
    return ops.reshape(x, (-1, copies) + tuple(shape[1:]))[:, 0]


#: backprop's sampling options: giving any of them turns sampling on (unless `do_sample` is given).
SAMPLING_OPTIONS = ("temperature", "top_k", "top_p", "repetition_penalty", "length_penalty", "num_beams",
                    "num_generations")


def wants_sampling(options, given=()):
    """backprop's rule for `do_sample`: the caller's value, else on when a sampling option was given;
    always off at temperature 0.0."""
    if options.get("temperature") == 0.0:
        return False
    if options.get("do_sample") is not None:
        return bool(options["do_sample"])
    return any(key in given for key in SAMPLING_OPTIONS)


def make_sampler(do_sample=False, temperature=1.0, top_k=0, top_p=1.0, num_beams=1, length_penalty=1.0,
                 num_return_sequences=1, seed=None):
    """The keras-hub sampler for Hugging Face style options (temperature 0.0 means greedy).

    Beam search is deterministic here (sampling options do not make it sample).
    """
    if num_beams > 1:
        return BeamSampler(num_beams=num_beams, length_penalty=length_penalty,
                           num_return_sequences=num_return_sequences)
    if num_return_sequences > 1 and (not do_sample or temperature == 0.0):
        raise ValueError(
            f"'num_generations' is {num_return_sequences}, but greedy search gives one generation per input: "
            "turn on sampling (do_sample=True) or use num_beams >= num_generations."
        )
    if not do_sample or temperature == 0.0:
        return keras_hub.samplers.GreedySampler()
    if top_p < 1.0:
        return keras_hub.samplers.TopPSampler(p=top_p, k=top_k or None, seed=seed, temperature=temperature)
    if top_k > 0:
        return keras_hub.samplers.TopKSampler(k=top_k, seed=seed, temperature=temperature)
    return keras_hub.samplers.RandomSampler(seed=seed, temperature=temperature)


def sampler_from_options(options, given=(), no_repeat_ngram_size=0, seed=None):
    """A `GenerationSampler` for backprop's generation options.

    `options` holds backprop's keys (`min_length` and `max_length` count new
    tokens); missing keys take the text-generation defaults; `"stream": True` makes a sampler that reports
    its tokens (see `GenerationSampler`). `given` names the
    keys the caller set (a `Request`'s `given`), for backprop's `do_sample` rule.
    """
    get = {
        "min_length": 0, "max_length": None, "temperature": 1.0, "top_k": 0, "top_p": 1.0,
        "repetition_penalty": 1.0, "length_penalty": 1.0, "num_beams": 1, "num_generations": 1, **options,
    }
    sampler = make_sampler(
        do_sample=wants_sampling(options, given),
        temperature=get["temperature"],
        top_k=get["top_k"],
        top_p=get["top_p"],
        num_beams=get["num_beams"],
        length_penalty=get["length_penalty"],
        num_return_sequences=get["num_generations"],
        seed=seed,
    )
    return GenerationSampler(
        sampler,
        min_new_tokens=get["min_length"],
        max_new_tokens=get["max_length"],
        no_repeat_ngram_size=no_repeat_ngram_size,
        repetition_penalty=get["repetition_penalty"],
        report_tokens=bool(options.get("stream")),
    )


def check_streamable(request):
    """Raises a `ValueError` unless a text-generation `request` can stream: one text, one generation, no beams."""
    if request.batched or request.size != 1:
        raise ValueError(f"stream=True streams one text at a time; got a list of {request.size}.")
    if request.options.get("num_beams", 1) > 1:
        raise ValueError("stream=True needs num_beams=1: beam search settles on its tokens only at the end.")
    if request.options.get("num_generations", 1) > 1:
        raise ValueError("stream=True gives one generation: 'num_generations' must be 1.")


def texts_of_new_tokens(tokenizer, new_tokens, stop_token_ids):
    """The text of each list of new token ids: up to its first stop token, the tokenizer's special tokens left out."""
    skip = set(stop_token_ids) | set(getattr(tokenizer, "special_token_ids", None) or ())
    kept = []
    for new in new_tokens:
        ends = [i for i, token in enumerate(new) if token in stop_token_ids]
        new = new[: ends[0]] if ends else new
        kept.append([token for token in new if token not in skip])
    detokenized = tokenizer.detokenize(kept)
    if hasattr(detokenized, "numpy"):
        detokenized = detokenized.numpy()
    return [text.decode("utf-8") if isinstance(text, bytes) else str(text) for text in detokenized]
