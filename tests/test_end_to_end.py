"""Each task class end to end on a test preset: call, finetune through the engine, save, reload."""

import keras
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
                                verbose=0, optimizer=keras.optimizers.Adam(1e-2))
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


def _colour_images(n, seed=0):
    """Reddish and bluish squares with noise: an easy two-class problem."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    images, labels = [], []
    for i in range(n):
        label = ("red", "blue")[i % 2]
        base = np.array([200, 40, 40] if label == "red" else [40, 40, 200])
        pixels = np.clip(base + rng.normal(0, 30, (32, 32, 3)), 0, 255).astype("uint8")
        images.append(Image.fromarray(pixels))
        labels.append(label)
    return images, labels


@pytest.mark.parametrize("variant", ["single_label", "multi_label"])
def test_image_classification_end_to_end(variant, tmp_path):
    from kerasprop.models import SupervisedImageClassifier
    from tiny_models import tiny_resnet_classifier

    folder = tmp_path / "resnet"
    tiny_resnet_classifier(3).save_to_preset(str(folder))
    classify = kerasprop.ImageClassification(SupervisedImageClassifier.from_preset(str(folder)))
    images, labels = _colour_images(24)
    if variant == "multi_label":
        labels = [[label, "square"] if i % 3 == 0 else [label] for i, label in enumerate(labels)]
    # Ten epochs of three steps: training accuracy reaches 1.0 within two, but batch normalisation's moving
    # statistics, which inference uses, need the rest (after six, red squares scored 0.47-0.71 by batch order).
    history = classify.finetune({"images": images, "labels": labels}, variant=variant, validation_split=0.25,
                                epochs=10, batch_size=6, early_stopping_epochs=0, verbose=0,
                                optimizer=keras.optimizers.Adam(3e-3))
    losses = history.history["val_loss"]
    assert losses[-1] < losses[0]
    expected = {"blue", "red", "square"} if variant == "multi_label" else {"blue", "red"}
    assert set(classify.model.labels) == expected
    test_images, test_labels = _colour_images(8, seed=3)
    predictions = classify(test_images, labels=["red", "blue"])
    assert np.mean([max(p, key=p.get) == t for p, t in zip(predictions, test_labels)]) >= 0.75
    reloaded = kerasprop.ImageClassification(classify.save(path=tmp_path / "tuned"))
    for got, want in zip(reloaded(test_images[:3]), classify(test_images[:3])):
        assert list(got) == list(want)
        np.testing.assert_allclose(list(got.values()), list(want.values()), atol=1e-5)


def test_clip_tasks_end_to_end(tmp_path):
    from tiny_models import tiny_clip_folder

    tiny_clip_folder(tmp_path)
    images, _ = _colour_images(3)
    vectorise = kerasprop.ImageVectorisation(str(tmp_path))  # a Hugging Face CLIP folder, by architecture
    vectors = vectorise(images)
    assert len(vectors) == 3 and len(vectors[0]) == 16 and all(type(v) is float for v in vectors[0])
    joint = kerasprop.ImageTextVectorisation(vectorise.model)
    vector = joint(images[0], "a photo of a cat")
    assert len(vector) == 32 and abs(float(np.linalg.norm(vector)) - 1.0) < 1e-5
    classify = kerasprop.ImageClassification(vectorise.model)
    scores = classify(images, labels=["cat", "dog"], top_k=1)
    assert len(scores) == 3 and all(len(s) == 1 for s in scores)
    with pytest.raises(ValueError, match="labels"):
        classify(images[0])


@pytest.fixture(scope="module")
def t5_folder(tmp_path_factory):
    from test_t5_converter import write_tiny_t5

    # Ordinary initial weights and no dropout: a model that learns steadily from a dozen examples.
    return str(write_tiny_t5(tmp_path_factory.mktemp("t5"), "gated-gelu", initializer_factor=1.0, dropout_rate=0.0))


@pytest.mark.parametrize(
    "task_class, params, call",
    [
        (kerasprop.Emotion, {"input_text": ["I love it", "I hate it", "so happy", "so sad"] * 3,
                             "output_text": ["joy", "anger", "joy", "sadness"] * 3},
         lambda task: task(["I love it", "so sad"])),
        (kerasprop.Summarisation, {"input_text": ["the cat sat on the mat all day long"] * 12,
                                   "output_text": ["cat sat"] * 12},
         lambda task: task("the cat sat on the mat all day long")),
        (kerasprop.QA, {"questions": ["Who sat?", "Where?"] * 6, "answers": ["the cat", "the mat"] * 6,
                        "contexts": ["The cat sat on the mat."] * 12, "prev_qas": [[], [("Who sat?", "the cat")]] * 6},
         lambda task: task("Where?", "The cat sat on the mat.", prev_qa=[("Who sat?", "the cat")])),
    ],
)
def test_seq2seq_tasks_end_to_end(t5_folder, tmp_path, task_class, params, call):
    task = task_class(t5_folder)  # a Hugging Face T5 folder, through the T5 converter
    history = task.finetune(params, validation_split=0.25, epochs=6, batch_size=3, early_stopping_epochs=0,
                            verbose=0, max_input_length=32, max_output_length=8)  # backprop's Adafactor 1e-3
    losses = history.history["val_loss"]
    assert losses[-1] < losses[0]
    before = call(task)
    reloaded = task_class(task.save(path=tmp_path / "tuned"))
    assert call(reloaded) == before


def test_text_vectorisation_finetune_end_to_end(tmp_path):
    vectorise = kerasprop.TextVectorisation()  # all-MiniLM-L6-v2, bundled
    texts = ["I love pizza", "pizza is great", "the stock market fell", "shares dropped today"] * 2
    params = {"texts": texts, "groups": [0, 0, 1, 1] * 2}
    history = vectorise.finetune(params, validation_split=0.25, epochs=1, batch_size=4, early_stopping_epochs=0,
                                 verbose=0)
    assert np.isfinite(history.history["loss"][-1])
    before = vectorise("pizza")
    reloaded = kerasprop.TextVectorisation(vectorise.save(path=tmp_path / "tuned-minilm"))
    np.testing.assert_allclose(reloaded("pizza"), before, atol=1e-5)
