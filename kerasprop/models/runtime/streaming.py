"""Text as it is generated: the compiled generation loop reports each token to an iterator.

A `GenerationSampler` built with `report_tokens=True` calls `host_callback` once
per step of its compiled loop (JAX `jax.debug.callback`, TensorFlow
`tf.py_function`, PyTorch a plain call: the loop is eager there) with the token
the previous step chose. `TextStream` runs the generation in a worker thread,
turns the reported tokens into text pieces as they arrive, and ends with the
rest of the finished text, so the pieces always join to exactly the text the
same call returns without streaming. The compiled function is built once per
sampler settings and prompt bucket, like the non-streaming one, never per token.

Example:
>>> from kerasprop import TextGeneration
>>> pieces = list(TextGeneration("gpt2-tiny-pydocs")("Return the", max_length=8, stream=True))
>>> "".join(pieces) == TextGeneration("gpt2-tiny-pydocs")("Return the", max_length=8)
True
"""

import contextlib
import queue
import threading

import keras


def host_callback(function, *tensors):
    """Calls `function(*numpy_arrays)` on the host from inside a compiled function, each time it runs."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        jax.debug.callback(function, *tensors)
    elif backend == "tensorflow":
        import tensorflow as tf

        def call(*values):
            function(*(value.numpy() for value in values))
            return 0

        tf.py_function(call, list(tensors), Tout=tf.int32)
    else:  # eager loop
        function(*(keras.ops.convert_to_numpy(tensor) for tensor in tensors))


@contextlib.contextmanager
def streaming_compile(model):
    """Builds generate functions that can call back to the host: TensorFlow's XLA cannot, so it is off here."""
    if keras.backend.backend() != "tensorflow":
        yield
        return
    jit_compile = model.jit_compile
    model.jit_compile = False
    try:
        yield
    finally:
        model.jit_compile = jit_compile


class TextStream:
    """An iterator of text pieces from one generation, as its tokens are chosen.

    Args:
        sampler: the `GenerationSampler` (built with `report_tokens=True`) the generation runs with.
        generate: a function of no arguments that generates and returns the finished text.
        text_of: a function from the new token ids so far (a list) to their text, as the finished
            text would read (end token and special tokens dropped).
        start: the position of the first new token (the prompt's length).

    Pieces are yielded as soon as their text is settled: trailing whitespace and
    an unfinished UTF-8 character wait for the next token. `finished` tells
    whether the generation has ended; `reported` counts the tokens that came
    from the compiled loop.
    """

    _lock = threading.Lock()  # one streaming generation at a time: the sampler holds the sink

    def __init__(self, sampler, generate, text_of, start):
        self.sampler, self.generate, self.text_of, self.start = sampler, generate, text_of, int(start)
        self.finished = False
        self.reported = 0

    def __iter__(self):
        events = queue.Queue()
        tokens = {}

        def sink(indices, token_ids):
            events.put(("token", (int(indices), int(token_ids[0]))))

        def work():
            with self._lock:
                self.sampler.sink = sink
                try:
                    events.put(("done", self.generate()))
                except BaseException as error:  # raised again in the reading thread
                    events.put(("error", error))
                finally:
                    self.sampler.sink = None

        threading.Thread(target=work, daemon=True).start()
        emitted = ""
        while True:
            kind, value = events.get()
            if kind == "error":
                self.finished = True
                raise value
            if kind == "done":
                self.finished = True
                if not value.startswith(emitted):
                    raise RuntimeError(f"Streamed {emitted!r}, which does not begin the finished text {value!r}.")
                if value[len(emitted):]:
                    yield value[len(emitted):]
                return
            index, token = value
            if index < self.start or index in tokens:
                continue
            tokens[index] = token
            self.reported += 1
            new, position = [], self.start
            while position in tokens:  # callbacks may arrive out of order: read the unbroken run
                new.append(tokens[position])
                position += 1
            settled = self.text_of(new).rstrip().rstrip("\ufffd")
            if len(settled) > len(emitted) and settled.startswith(emitted):
                yield settled[len(emitted):]
                emitted = settled
