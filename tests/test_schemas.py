"""The task schemas: normalisation, batching rules, and clear errors for bad input."""

import base64
import io
import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image as PILImage

from kerasprop.schemas import get_schema, load_image, task_names

BACKPROP_TASKS = [
    "qa", "text-classification", "emotion", "summarisation", "image-classification",
    "image-vectorisation", "image-text-vectorisation", "text-generation", "text-vectorisation",
]


def png_bytes(colour=(255, 0, 0), size=(5, 4)):
    buffer = io.BytesIO()
    PILImage.new("RGB", size, colour).save(buffer, format="PNG")
    return buffer.getvalue()


def test_every_backprop_task_has_a_schema_with_inputs_output_and_finetuning():
    assert set(BACKPROP_TASKS) <= set(task_names())
    for task in BACKPROP_TASKS:
        schema = get_schema(task)
        assert schema.batch_keys, task
        assert schema.finetunable, task
        json.dumps(schema.json_schema())
        for variant in schema.finetune:
            json.dumps(schema.finetune[variant].json_schema())


def test_single_input_gives_single_request_and_list_gives_batch():
    schema = get_schema("summarisation")
    single = schema.parse({"text": "A long text."})
    batch = schema.parse({"text": ["One.", "Two.", "Three."]})
    assert (single.batched, single.size, single.inputs["text"]) == (False, 1, ["A long text."])
    assert (batch.batched, batch.size) == (True, 3)
    assert single.result(["summary"]) == "summary"
    assert batch.result(["a", "b", "c"]) == ["a", "b", "c"]
    with pytest.raises(RuntimeError, match="2 result"):
        batch.result(["a", "b"])


def test_qa_pairs_previous_questions_per_item():
    request = get_schema("qa").parse(
        {"question": ["Who?", "Where?"], "context": ["Ann is here.", "In Rome."],
         "prev_q": [["What?"], []], "prev_a": [["A test"], []]}
    )
    assert request.inputs["prev_q"] == [["What?"], []]
    with pytest.raises(ValueError, match="'prev_q' has 2 questions but 'prev_a' has 1"):
        get_schema("qa").parse({"question": "Q?", "context": "C.", "prev_q": ["a", "b"], "prev_a": ["x"]})
    with pytest.raises(ValueError, match="'prev_a' was given without 'prev_q'"):
        get_schema("qa").parse({"question": "Q?", "context": "C.", "prev_a": ["x"]})
    with pytest.raises(ValueError, match="'context' has 1 items but 'question' has 2"):
        get_schema("qa").parse({"question": ["Q?", "R?"], "context": ["C."]})
    with pytest.raises(ValueError, match="both be single values or both be lists"):
        get_schema("qa").parse({"question": ["Q?"], "context": "C."})


def test_labels_are_shared_or_per_text_in_a_batch():
    schema = get_schema("text-classification")
    shared = schema.parse({"text": ["a", "b"], "labels": ["x", "y"]})
    per_text = schema.parse({"text": ["a", "b"], "labels": [["x"], ["y", "z"]]})
    assert shared.inputs["labels"] == [["x", "y"], ["x", "y"]]
    assert per_text.inputs["labels"] == [["x"], ["y", "z"]]
    with pytest.raises(ValueError, match="'labels' has 3 entries but the batch has 2"):
        schema.parse({"text": ["a", "b"], "labels": [["x"], ["y"], ["z"]]})
    with pytest.raises(ValueError, match="must not repeat items; 'x' appears twice"):
        schema.parse({"text": "a", "labels": ["x", "x"]})
    with pytest.raises(ValueError, match=r"'labels\[1\]' must be a non-empty string"):
        schema.parse({"text": "a", "labels": ["x", " "]})
    with pytest.raises(ValueError, match="'top_k' must be at least 0"):
        schema.parse({"text": "a", "labels": ["x"], "top_k": -1})


@pytest.mark.parametrize(
    "task_input, error, message",
    [
        ({"text": ""}, ValueError, "'text' must be a non-empty string"),
        ({"text": ["ok", 3]}, TypeError, r"'text\[1\]' must be a string, got 3 \(int\)"),
        ({"text": []}, ValueError, "'text' is an empty list"),
        ({}, ValueError, "needs the key 'text'"),
        ({"txt": "hi"}, ValueError, "Unknown key 'txt'.*Did you mean 'text'"),
        ("just a string", TypeError, "must be a dict"),
        ({"text": ["ok", "bad \ud800 text"]}, ValueError, r"'text\[1\]' is not valid text: character 4 is a lone surrogate"),
    ],
)
def test_text_input_errors_name_the_key(task_input, error, message):
    with pytest.raises(error, match=message):
        get_schema("emotion").parse(task_input)


@pytest.mark.parametrize(
    "options, message",
    [
        ({"min_length": 30, "max_length": 20}, r"'min_length' \(30\) must not exceed 'max_length' \(20\)"),
        ({"top_p": 0.0}, "'top_p' must be greater than 0.0"),
        ({"top_p": 1.5}, "'top_p' must be at most 1.0"),
        ({"num_beams": 0}, "'num_beams' must be at least 1"),
        ({"max_length": -1}, "'max_length' must be at least 1"),
        ({"temperature": float("nan")}, "'temperature' must be a finite number"),
        ({"repetition_penalty": 0}, "'repetition_penalty' must be greater than 0.0"),
    ],
)
def test_generation_options_are_range_checked(options, message):
    with pytest.raises(ValueError, match=message):
        get_schema("text-generation").parse({"text": "Hello", **options})


def test_generation_defaults_and_type_errors():
    request = get_schema("text-generation").parse({"text": "Hello", "max_length": 5})
    assert request.options["max_length"] == 5
    assert request.options["min_length"] == 5  # default 10 clamped to the given maximum
    assert request.given == {"max_length"}
    with pytest.raises(TypeError, match="'num_beams' must be an integer, got 2.5"):
        get_schema("text-generation").parse({"text": "Hello", "num_beams": 2.5})
    with pytest.raises(TypeError, match="'do_sample' must be a boolean"):
        get_schema("text-generation").parse({"text": "Hello", "do_sample": "yes"})
    with pytest.raises(TypeError, match="'top_k' must be an integer"):
        get_schema("text-generation").parse({"text": "Hello", "top_k": True})


def test_images_in_every_supported_form_decode_to_the_same_pixels(tmp_path):
    raw = png_bytes()
    path = tmp_path / "red.png"
    path.write_bytes(raw)
    encoded = base64.b64encode(raw).decode()
    forms = [
        str(path), path, raw, encoded, "data:image/png;base64," + encoded, PILImage.open(io.BytesIO(raw)),
        np.full((4, 5, 3), [255, 0, 0], dtype="uint8"), np.full((4, 5, 3), [1.0, 0.0, 0.0], dtype="float32"),
    ]
    for form in forms:
        image = load_image(form)
        assert image.mode == "RGB" and image.size == (5, 4)
        assert image.getpixel((2, 2)) == (255, 0, 0), type(form)


@pytest.mark.parametrize(
    "value, error, message",
    [
        (base64.b64encode(b"this is not an image at all").decode(), ValueError, "not an image in a format"),
        ("data:image/png;base64,@@@@", ValueError, "does not decode"),
        (b"\x89PNG\r\n\x1a\n broken", ValueError, "bytes is"),
        ("/no/such/file.png", ValueError, "neither an existing image file nor base64"),
        (np.zeros((4, 4, 2)), ValueError, "array must have shape"),
        (np.zeros((0, 4, 3)), ValueError, "array is empty"),
        (np.array([["a"]]), TypeError, "array must hold numbers"),
        (42, TypeError, "must be an image"),
    ],
)
def test_bad_images_get_clear_errors(value, error, message):
    with pytest.raises(error, match=message):
        load_image(value)


def test_batched_image_error_names_the_index():
    with pytest.raises(ValueError, match=r"'image\[1\]'"):
        get_schema("image-vectorisation").parse({"image": [png_bytes(), b"nope"]})


def test_finetune_params_validation():
    schema = get_schema("qa")
    params = schema.parse_finetune(
        {"questions": ["Q?"], "answers": ["A"], "contexts": ["C."], "prev_qas": [[("q0", "a0")]]}
    )
    assert params["prev_qas"] == [[("q0", "a0")]]
    with pytest.raises(ValueError, match="'answers' has 2 items but 'questions' has 1"):
        schema.parse_finetune({"questions": ["Q?"], "answers": ["A", "B"], "contexts": ["C."]})
    with pytest.raises(ValueError, match="'questions' is empty"):
        schema.parse_finetune({"questions": [], "answers": [], "contexts": []})
    with pytest.raises(ValueError, match="need the key 'contexts'"):
        schema.parse_finetune({"questions": ["Q?"], "answers": ["A"]})
    with pytest.raises(ValueError, match="no finetuning variant 'pairs'"):
        get_schema("text-vectorisation").parse_finetune({"texts": ["a"], "groups": [0]}, variant="pairs")
    with pytest.raises(ValueError, match="similarity_scores"):
        get_schema("text-vectorisation").parse_finetune(
            {"texts1": ["a"], "texts2": ["b"], "similarity_scores": [2.0]}, variant="cosine_similarity"
        )


def test_unknown_task_names_close_matches():
    with pytest.raises(ValueError, match="Did you mean 'summarisation'"):
        get_schema("summarization")


def test_output_specs_accept_backprop_shapes_and_refuse_others():
    get_schema("text-classification").check_output({"a": 0.75, "b": 0.25})
    get_schema("text-vectorisation").check_output([[0.1, 0.2], [0.3, 0.4]], batched=True)
    get_schema("text-generation").check_output(["one", "two"])
    with pytest.raises(TypeError):
        get_schema("text-vectorisation").check_output("not a vector")
    with pytest.raises(ValueError):
        get_schema("text-classification").check_output({"a": 1.5})


# Property-based: no input whatsoever makes a schema raise anything but the documented errors.

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.floats(allow_nan=True) | st.text(max_size=8)
    | st.binary(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=8,
)


def key_strategy(task):
    return st.sampled_from([f.key for f in get_schema(task).fields] + ["bogus"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), task=st.sampled_from(BACKPROP_TASKS))
def test_any_input_raises_only_documented_errors(data, task):
    task_input = data.draw(st.dictionaries(key_strategy(task), json_values, max_size=5))
    try:
        request = get_schema(task).parse(task_input)
    except (TypeError, ValueError) as error:
        assert str(error)  # every error says what was wrong
    else:
        assert len(next(iter(request.inputs.values()))) == request.size


@settings(max_examples=40, deadline=None)
@given(data=st.data(), task=st.sampled_from(BACKPROP_TASKS))
def test_any_finetune_params_raise_only_documented_errors(data, task):
    schema = get_schema(task)
    variant = data.draw(st.sampled_from(list(schema.finetune)))
    keys = [f.key for f in schema.finetune[variant].fields] + ["bogus"]
    params = data.draw(st.dictionaries(st.sampled_from(keys), st.lists(json_values, max_size=3), max_size=4))
    try:
        schema.parse_finetune(params, variant)
    except (TypeError, ValueError) as error:
        assert str(error)


def test_files_named_as_inputs_are_read_only_when_regular_and_small(tmp_path, monkeypatch):
    import io
    import os

    from PIL import Image

    from kerasprop.schemas import encoded

    schema = get_schema("image-vectorisation")
    with pytest.raises(ValueError, match="not a regular file"):
        schema.parse({"image": "/dev/zero"})  # would be read without end
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match="not a regular file"):
        schema.parse({"image": str(fifo)})  # would block the worker until someone writes
    picture = tmp_path / "small.png"
    Image.new("RGB", (8, 8), "red").save(picture)
    monkeypatch.setattr(encoded, "MAX_FILE_BYTES", 10)
    with pytest.raises(ValueError, match=r"over the limit of 10 \(KERASPROP_MAX_FILE_BYTES\)"):
        schema.parse({"image": str(picture)})
    monkeypatch.undo()
    bomb = io.BytesIO()
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    Image.new("L", (64, 64)).save(bomb, format="PNG")  # 4,096 pixels, over twice the limit
    with pytest.raises(ValueError, match="decodes to too many pixels"):
        schema.parse({"image": bomb.getvalue()})


def test_classifier_label_names_are_checked_in_one_place():
    """The image classifier and the Whisper audio classifier take their labels through `label_names`."""
    from kerasprop.models.classifiers import image_classifier
    from kerasprop.models.whisper import whisper_speech
    from kerasprop.schemas.models import label_names

    assert label_names({1: "dog", 0: "cat"}) == ["cat", "dog"]
    assert label_names(("a", 2)) == ["a", "2"]
    for bad in ("cat", [], None, {"a": 1}.keys()):
        with pytest.raises(TypeError, match="'labels' must be a non-empty list of label names"):
            label_names(bad)
    with pytest.raises(ValueError, match=r"Label names must be unique, got \['a', 'b', 'a'\] \(3 labels\)"):
        label_names(["a", "b", "a"])
    assert image_classifier.label_names is label_names and whisper_speech.label_names is label_names
