"""Each task class end to end on a test preset: call, finetune through the engine, save, reload."""

import numpy as np
import pytest

import kerasprop
from tiny_models import tiny_gpt2_folder


@pytest.fixture(scope="module")
def gpt2_folder(tmp_path_factory):
    return str(tiny_gpt2_folder(tmp_path_factory.mktemp("tiny-gpt2")))


def test_text_generation_end_to_end(gpt2_folder, tmp_path):
    generate = kerasprop.TextGeneration(gpt2_folder)
    params = {"input_text": [f"the cat sat on the {w}" for w in ("mat", "log", "cat", "dog") * 4],
              "output_text": ["the dog sat on the log."] * 16}
    history = generate.finetune(params, validation_split=0.25, epochs=4, batch_size=4, early_stopping_epochs=0,
                                verbose=0, optimizer=__import__("keras").optimizers.Adam(1e-2))
    losses = history.history["val_loss"]
    assert losses[-1] < losses[0]
    before = generate("the cat sat on the mat", max_length=6, temperature=0.0)
    assert isinstance(before, str)
    reloaded = kerasprop.TextGeneration(generate.save(path=tmp_path / "tuned-gpt2"))
    assert reloaded("the cat sat on the mat", max_length=6, temperature=0.0) == before
    batch = reloaded(["the cat", "the dog sat"], max_length=4, temperature=0.0)
    assert isinstance(batch, list) and len(batch) == 2
    many = reloaded("the cat", max_length=4, num_generations=2, top_k=5)
    assert isinstance(many, list) and len(many) == 2 and all(isinstance(t, str) for t in many)
