"""The finetuning engine: backprop params -> tf.data -> `Task.fit`."""

from kerasprop.training.finetune import (
    default_optimizer,
    find_batch_size,
    finetune,
    split_indices,
)

__all__ = ["default_optimizer", "find_batch_size", "finetune", "split_indices"]
