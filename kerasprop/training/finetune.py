"""`finetune`: backprop params -> validated examples -> tf.data -> `Task.fit`.

The model turns validated params into raw features with `process_batch`; the
engine splits them into training and validation sets, builds shuffled,
batched, prefetched `tf.data` pipelines, picks the per-task optimiser default,
finds a batch size that fits when none is given, accumulates gradients up to
`optimal_batch_size`, stops early on validation loss, and can train on several
devices with Keras' distribution API.
"""

import math

import keras
import numpy as np

from kerasprop import distributed
from kerasprop.schemas import get_schema
from kerasprop.schemas.specs import describe
from kerasprop.schemas.task_specs import task_spec

#: Optimisers a `TaskSpec` can name for its finetuning default.
OPTIMIZERS = {
    "adafactor": lambda rate: keras.optimizers.Adafactor(learning_rate=rate, relative_step=False),
    "adamw": lambda rate: keras.optimizers.AdamW(learning_rate=rate),
    "sgd": lambda rate: keras.optimizers.SGD(learning_rate=rate),
}


def default_optimizer(task):
    """The task's finetuning optimiser as its `TaskSpec` names it (backprop's defaults: Adafactor 1e-3 for
    seq2seq, AdamW 2e-5 for classification, span tasks and fill-mask, AdamW 1e-5 for vectors and speech,
    SGD 0.1 for image classification)."""
    name, rate = task_spec(task).optimizer
    return OPTIMIZERS[name](rate)


def split_indices(n, validation_split, seed):
    """(train, validation) index arrays from a fraction or an explicit pair of index lists."""
    if isinstance(validation_split, (tuple, list)) and len(validation_split) == 2:
        train, val = (np.asarray(list(part), dtype="int64") for part in validation_split)
        for name, part in (("train", train), ("validation", val)):
            if part.size and (part.min() < 0 or part.max() >= n):
                raise ValueError(f"'validation_split' {name} indices must lie in [0, {n}).")
        if set(train.tolist()) & set(val.tolist()):
            raise ValueError("'validation_split' train and validation indices overlap.")
    elif isinstance(validation_split, (int, float)) and not isinstance(validation_split, bool):
        if not 0.0 <= validation_split < 1.0:
            raise ValueError(f"'validation_split' must be in [0, 1), got {validation_split}.")
        order = np.random.default_rng(seed).permutation(n)
        n_val = int(round(n * validation_split))
        val, train = np.sort(order[:n_val]), np.sort(order[n_val:])
    else:
        raise TypeError(
            f"'validation_split' must be a fraction or a (train_indices, val_indices) pair, got {describe(validation_split)}."
        )
    if train.size == 0:
        raise ValueError(f"No training examples left: {n} example(s) with validation_split={validation_split}.")
    return train, val


def _take(params, indices):
    return {k: [v[i] for i in indices] for k, v in params.items()}


def _label_names(task, params, train, val):
    key = task_spec(task).label_key

    def flat(indices):
        out = set()
        for i in indices:
            value = params[key][i]
            out.update(value if isinstance(value, list) else [value])
        return out

    seen, val_labels = flat(train), flat(val)
    unseen = val_labels - seen
    if unseen:
        raise ValueError(
            f"Label(s) {sorted(unseen, key=str)} appear only in the validation split; "
            "every label needs training examples (change validation_split or add data)."
        )
    return sorted(seen, key=lambda v: (not isinstance(v, str), str(v)))


def _dataset(examples, batch_size, shuffle, seed, shard=None):
    """Shuffled, batched, prefetched `tf.data` that repeats, and its batches per pass (one epoch).

    `shard=(count, index)` keeps this process's rows of each batch. The dataset repeats so that `fit`, given
    the steps, keeps one training iterator for the whole run: each new iterator instantiates the preprocessing
    graph that keras-hub's `fit` maps over the data (about 4 s for the GPT-2 tokenizer, on any Keras backend,
    since tf.data runs it), and without the steps Keras makes two per epoch (Keras' `evaluate` still restarts
    the validation iterator once per pass).
    """
    import tensorflow as tf

    rows = len(_first(examples))
    data = tf.data.Dataset.from_tensor_slices(examples)
    if shuffle:
        data = data.shuffle(rows, seed=seed, reshuffle_each_iteration=True)
    if shard is None:
        return data.batch(batch_size).repeat().prefetch(tf.data.AUTOTUNE), math.ceil(rows / batch_size)
    # Every process draws the same global batches (same seed) and keeps its rows of each; whole batches
    # only, or one process would run a step the others never reach.
    count, index = shard
    data = data.batch(batch_size, drop_remainder=True)
    if count > 1:
        data = data.rebatch(batch_size // count).shard(count, index)
    return data.repeat().prefetch(tf.data.AUTOTUNE), rows // batch_size


def _first(examples):
    while isinstance(examples, (tuple, dict)):
        examples = examples[0] if isinstance(examples, tuple) else next(iter(examples.values()))
    return examples


def _is_out_of_memory(error):
    text = f"{type(error).__name__} {error}".lower()
    return isinstance(error, MemoryError) or "out of memory" in text or "resourceexhausted" in text or "oom" in text


def find_batch_size(model, examples, start, seed):
    """The largest batch size from `start` down (halving) whose training step fits in memory.

    Probes with real training steps, then restores the weights and optimiser.
    """
    weights = [np.array(w) for w in model.get_weights()]
    size = start
    try:
        while True:
            try:
                batch = next(iter(_dataset(examples, size, shuffle=False, seed=seed)[0]))
                model.train_on_batch(*batch) if isinstance(batch, tuple) else model.train_on_batch(batch)
                return size
            except Exception as error:  # backends raise their own OOM types
                if size == 1 or not _is_out_of_memory(error):
                    raise
                size = max(1, size // 2)
    finally:
        model.set_weights(weights)


def _distribution(distribution):
    if distribution is None and distributed.process_count() > 1:
        distribution = "data_parallel"
    if distribution is None or (hasattr(distribution, "scope") and hasattr(distribution, "distribute_dataset")):
        return distribution
    if distribution == "data_parallel":
        if keras.backend.backend() != "jax":
            raise ValueError("distribution='data_parallel' needs the JAX backend (Keras' distribution API).")
        return keras.distribution.DataParallel(devices=keras.distribution.list_devices())
    raise ValueError(f"'distribution' must be 'data_parallel' or a keras.distribution object, got {describe(distribution)}.")


def finetune(model, params, task, variant=None, validation_split=0.15, epochs=20, batch_size=None,
             optimal_batch_size=None, early_stopping_epochs=1, optimizer=None, callbacks=None,
             distribution=None, seed=42, verbose="auto", **options):
    """Finetunes `model` for `task` on backprop-style `params`; returns the Keras `History`.

    Args:
        params: the task's params dict (e.g. `{"input_text": [...], "output_text": [...]}`).
        variant: finetuning variant (image classification: "single_label"/"multi_label";
            vectors: "triplet"/"cosine_similarity").
        validation_split: fraction of examples for validation, or `(train_indices, val_indices)`.
        batch_size: `None` finds a batch size that fits in memory (in a multi-process job, where
            no probe runs: `optimal_batch_size` or 32, at most the training examples, rounded
            down to a multiple of the data-parallel replicas).
        optimal_batch_size: effective batch size reached by gradient accumulation.
        early_stopping_epochs: patience on validation loss (0 turns early stopping off).
        optimizer: a Keras optimiser; `None` uses backprop's default for the task.
        distribution: "data_parallel" or a `keras.distribution.Distribution` (JAX). In a
            multi-process job (`kerasprop.distributed.initialize`) it defaults to "data_parallel",
            `batch_size` is the global batch (a multiple of the data-parallel replicas), each
            epoch's last short training batch is dropped, and validation runs on whole batches
            of the size that leaves the fewest validation examples out.
        **options: the variant's options, e.g. `max_input_length`, `max_length`.

    Example:
    >>> import kerasprop
    >>> emotion = kerasprop.Emotion()  # doctest: +SKIP
    >>> emotion.finetune({"input_text": ["I love it"], "output_text": ["love"]}, epochs=1)  # doctest: +SKIP
    """
    schema = get_schema(task)
    model.check_finetunable(task)
    variant = variant or schema.default_variant
    spec = schema.variant(variant)
    params = schema.parse_finetune(params, variant)
    known = {f.key: f for f in spec.options}
    for key in options:
        if key not in known:
            raise ValueError(f"Unknown option {key!r} for finetuning '{task}'; the options are {sorted(known)}.")
    options = {k: f.default if options.get(k) is None else f.spec.check(k, options[k]) for k, f in known.items()}
    for name, value in (("epochs", epochs), ("early_stopping_epochs", early_stopping_epochs)):
        if isinstance(value, bool) or not isinstance(value, int) or value < (1 if name == "epochs" else 0):
            raise ValueError(f"'{name}' must be an integer >= {1 if name == 'epochs' else 0}, got {describe(value)}.")
    for name, value in (("batch_size", batch_size), ("optimal_batch_size", optimal_batch_size)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ValueError(f"'{name}' must be a positive integer or None, got {describe(value)}.")
    distribution = _distribution(distribution)

    n = len(next(iter(params.values())))
    train, val = split_indices(n, validation_split, seed)
    with_variant = {"variant": variant} if variant is not None else {}
    if task_spec(task).label_key:
        names = _label_names(task, params, train, val)
        model.pre_finetuning(labels=dict(enumerate(names)))

    def examples(indices):
        return model.process_batch(_take(params, indices), task=task, **with_variant, **options)

    train_examples = examples(train)
    val_examples = examples(val) if val.size else None

    shard = val_batch_size = None
    if distributed.process_count() > 1:
        # Every process must take the same steps: no per-process memory probe, whole batches only. Keras'
        # own sharding cannot read the batch size through keras-hub's preprocessing map, so it is done here.
        replicas = distribution.num_model_replicas  # a multiple of the processes when it is not below them
        shard = (min(replicas, distributed.process_count()), distribution.data_shard_id)
        batch_size = batch_size or max(replicas, min(optimal_batch_size or 32, len(train)) // replicas * replicas)
        val_batch_size = _check_process_batches(batch_size, replicas, len(train), val.size)
    batch_size = batch_size or None
    accumulation = None
    compile_kwargs = dict(model.finetuning_compile_kwargs(task, variant)) if hasattr(model, "finetuning_compile_kwargs") else {}
    # A model may name its own default optimiser (e.g. a higher learning rate for LoRA adapters).
    chosen = optimizer if optimizer is not None else compile_kwargs.pop("optimizer", None)
    compile_kwargs.pop("optimizer", None)

    def compile_model(target, steps):
        # A fresh optimiser per compile: variables made now take the layout of the active distribution.
        opt = keras.optimizers.deserialize(keras.optimizers.serialize(chosen)) if chosen is not None \
            else default_optimizer(task)
        if steps and steps > 1:
            opt.gradient_accumulation_steps = steps
        target.compile(optimizer=opt, **compile_kwargs)

    if batch_size is None:
        compile_model(model, None)
        batch_size = find_batch_size(model, train_examples, min(optimal_batch_size or 32, len(train)), seed)
    if optimal_batch_size and optimal_batch_size > batch_size:
        accumulation = math.ceil(optimal_batch_size / batch_size)

    callbacks = list(callbacks or [])
    if early_stopping_epochs and val_examples is not None:
        callbacks.append(
            keras.callbacks.EarlyStopping(monitor="val_loss", patience=early_stopping_epochs, restore_best_weights=True)
        )
    train_data, train_steps = _dataset(train_examples, batch_size, shuffle=True, seed=seed, shard=shard)
    val_data, val_steps = _dataset(val_examples, val_batch_size or batch_size, shuffle=False, seed=seed, shard=shard) \
        if val_examples is not None else (None, None)

    def fit(target):
        compile_model(target, accumulation)
        # shuffle=False: the dataset shuffles itself (Keras ignores the flag on a tf.data.Dataset, with a warning).
        return target.fit(train_data, steps_per_epoch=train_steps, validation_data=val_data,
                          validation_steps=val_steps, epochs=epochs, callbacks=callbacks, verbose=verbose,
                          shuffle=False)

    if distribution is None:
        return fit(model)
    return _fit_distributed(model, distribution, fit)


def _check_process_batches(batch_size, step, n_train, n_val):
    """Checks that the global batch splits evenly over the data-parallel replicas; returns the validation batch size.

    The validation batch is the multiple of `step`, at most `batch_size`, that leaves the fewest validation
    examples out of whole batches (the largest of those).
    """
    if batch_size % step:
        raise ValueError(
            f"'batch_size' is the global batch, split evenly over {step} data-parallel replicas across the processes: "
            f"it must be a multiple of {step}, got {batch_size}."
        )
    if n_train < batch_size:
        raise ValueError(
            f"A multi-process job trains on whole batches of {batch_size}, but the training split has only "
            f"{n_train} example(s); lower 'batch_size'."
        )
    if 0 < n_val < step:
        raise ValueError(
            f"The validation split has {n_val} example(s), fewer than the {step} replicas that share each batch; "
            "change 'validation_split'."
        )
    sizes = range(step, min(batch_size, n_val) + 1, step)
    return max(sizes, key=lambda size: (-(n_val % size), size)) if n_val else None


def _fit_distributed(model, distribution, fit):
    """Trains a replica whose variables are laid out by `distribution`, then copies the weights back.

    Variables take their layout when they are created, so the model is rebuilt
    from its preset inside the distribution's scope (each process keeps its own
    temporary copy). Weights split across processes are gathered whole.
    """
    import tempfile

    with tempfile.TemporaryDirectory(prefix="kerasprop-distributed-") as folder:
        model.write_preset(folder)
        auto_shard, distribution.auto_shard_dataset = distribution.auto_shard_dataset, False  # done in `_dataset`
        try:
            with distribution.scope():
                replica = type(model).from_preset(folder)
                history = fit(replica)
        finally:
            distribution.auto_shard_dataset = auto_shard
    model.set_weights(replica.get_weights())  # gathered whole where split across processes
    return history
