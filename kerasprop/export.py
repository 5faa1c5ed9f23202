"""Artifacts that serve a model without kerasprop: a TensorFlow SavedModel, ONNX and LiteRT.

`export(model, path, format=...)` writes one folder:

- "saved_model": a TensorFlow SavedModel. For text models its `serve` signature
  takes raw text (a batch of strings): keras-hub's tokenizer is TensorFlow, so it
  is exported with the model (load it with `tensorflow_text` imported).
  `serve_tensors` takes the tensors below.
- "onnx" (`model.onnx`) and "litert" (`model.tflite`): text models take
  `token_ids` (int32, batch x length, padded with the pad id), with the
  tokenizer's files beside them; image models take `images` (float32 RGB pixels
  in 0-255, batch x size x size x 3, fitted to the model's size).

Models and what they return: sentence encoders ("text-vectorisation": `vectors`),
text classifiers ("text-classification": `probabilities`), the image tower of an
image-text model ("image-vectorisation": `vectors`) and image classifiers
("image-classification": `probabilities`). `export.json` names the inputs,
outputs, labels and token ids. Exports run on the TensorFlow backend (in a
child process when this one runs JAX or PyTorch); the `export` extra installs
the converters and runtimes.

Example:
>>> import kerasprop  # doctest: +SKIP
>>> kerasprop.export.export("all-minilm-l6-v2", "minilm-onnx", format="onnx")  # doctest: +SKIP
'minilm-onnx'
"""

import importlib.util
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

from kerasprop import distributed
from kerasprop.hub.io import replace_folder, staging_folder
from kerasprop.schemas.specs import describe

#: Export formats and the file each writes in the folder (a SavedModel is the folder itself).
FORMATS = {"saved_model": "saved_model.pb", "onnx": "model.onnx", "litert": "model.tflite"}
#: The packages (the `export` extra) each format needs beyond TensorFlow.
CONVERTERS = {"saved_model": ("tokenizers",), "onnx": ("tf2onnx", "onnx", "tokenizers"), "litert": ("tokenizers",)}
#: What an exported model does, by the kind of model.
EXPORT_TASKS = ("text-vectorisation", "text-classification", "image-vectorisation", "image-classification")
METADATA_FILE = "export.json"


def export(model, path, format="saved_model", task=None, overwrite=False):
    """Exports `model` (a kerasprop model, a task, or a model name or folder) to the folder `path`.

    `task` picks what to export where a model serves several (an image-text model's
    "text-vectorisation" or "image-vectorisation"); it defaults to the first the model
    can export. Returns `path`. The folder is written whole or not at all. In a
    multi-process job only process 0 exports; the others return at once.
    """
    if format not in FORMATS:
        raise ValueError(f"'format' must be one of {sorted(FORMATS)}, got {describe(format)}.")
    if task is not None and task not in EXPORT_TASKS:
        raise ValueError(f"'task' must be one of {list(EXPORT_TASKS)} (the exportable tasks), got {describe(task)}.")
    from kerasprop.tasks.base import Task

    if isinstance(model, Task):
        model = model.model
    if not isinstance(model, (str, os.PathLike)) and not hasattr(model, "write_preset"):
        raise TypeError(f"export() takes a kerasprop model, a task, or a model name or folder, got {describe(model)}.")
    target = pathlib.Path(path)
    if target.exists() and not target.is_dir():
        raise ValueError(f"Cannot export to {str(target)!r}: a file is in the way.")
    if target.exists() and any(target.iterdir()) and not overwrite:
        raise FileExistsError(f"{str(target)!r} is not empty; pass overwrite=True to replace it (or choose a new folder).")
    missing = [name for name in CONVERTERS[format] if importlib.util.find_spec(name) is None]
    if missing:
        raise ValueError(f"format={format!r} needs {', '.join(missing)}: pip install 'kerasprop[export]'.")
    if not isinstance(model, (str, os.PathLike)):
        task = export_task(model, task)  # refused here, before anything is saved or started
    if distributed.process_index() != 0:
        return str(path)
    import keras

    if keras.backend.backend() != "tensorflow":
        return _export_in_tensorflow_process(model, target, format, task, overwrite)
    if isinstance(model, (str, os.PathLike)):
        from kerasprop.models.auto import AutoModel

        model = AutoModel.from_pretrained(str(model))
        task = export_task(model, task)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = staging_folder(target)
    try:
        _write(model, task, format, staging)
        replace_folder(staging, target, overwrite=overwrite or target.exists())
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return str(path)


def export_task(model, task=None):
    """The task `model` exports for: `task` if the model can export it, else the first it can."""
    from kerasprop.models.classifiers.image_classifier import SupervisedImageClassifier
    from kerasprop.models.classifiers.text_classifier import SupervisedTextClassifier
    from kerasprop.models.sentences.image_text_embedder import ImageTextEmbedder
    from kerasprop.models.sentences.sentence_classifier import SentenceClassifier
    from kerasprop.models.sentences.text_embedder import SentenceEmbedder

    if isinstance(model, (SupervisedTextClassifier, SentenceClassifier)):
        tasks = ["text-classification"]
    elif isinstance(model, SupervisedImageClassifier):
        tasks = ["image-classification"]
    elif isinstance(model, ImageTextEmbedder):
        tasks = ["image-vectorisation", "text-vectorisation"]
    elif type(model) is SentenceEmbedder:  # heads on sentence vectors (summaries, spans) are not exported
        tasks = ["text-vectorisation"]
    else:
        tasks = []
    if not tasks:
        raise ValueError(
            f"Model '{getattr(model, 'name', model)}' ({type(model).__name__}) cannot be exported: export() takes "
            f"sentence encoders, text and image classifiers and image-text models ({', '.join(EXPORT_TASKS)})."
        )
    if task is None:
        return tasks[0]
    if task not in tasks:
        raise ValueError(f"Model '{model.name}' exports {tasks}, not {task!r}.")
    return task


#: The export, run by a TensorFlow child process; an error goes back as its type and message.
_CHILD = """
import json, sys
from kerasprop.export import export
model, path, format, task, overwrite, report = json.loads(sys.argv[1])
try:
    export(model, path, format=format, task=task, overwrite=overwrite)
except Exception as error:
    with open(report, "w") as f:
        json.dump({"type": type(error).__name__, "message": str(error)}, f)
    sys.exit(1)
"""
#: Errors the child reports that are raised here as themselves (any other becomes a RuntimeError).
_RERAISED = {error.__name__: error for error in (ValueError, TypeError, FileExistsError)}


def _export_in_tensorflow_process(model, target, format, task, overwrite):
    with tempfile.TemporaryDirectory(prefix="kerasprop-export-") as folder:
        if not isinstance(model, (str, os.PathLike)):
            model.write_preset(os.path.join(folder, "model"))
            model = os.path.join(folder, "model")
        report = os.path.join(folder, "error.json")
        arguments = json.dumps([str(model), str(target), format, task, overwrite, report])
        env = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "3"}
        result = subprocess.run([sys.executable, "-c", _CHILD, arguments], env=env, capture_output=True, text=True)
        if result.returncode != 0 and os.path.exists(report):
            with open(report) as f:
                error = json.load(f)
            raise _RERAISED.get(error["type"], RuntimeError)(error["message"])
    if result.returncode != 0:
        tail = "\n".join(result.stderr.strip().splitlines()[-5:]) or "no output"
        raise RuntimeError(f"The TensorFlow export process exited with code {result.returncode}:\n{tail}")
    return str(target)


def _write(model, task, format, folder):
    import keras
    import tensorflow as tf

    tensors = tensor_model(model, task)
    text = task.startswith("text-")
    name, spec = ("token_ids", tf.TensorSpec([None, None], tf.int32, name="token_ids")) if text else \
        ("images", tf.TensorSpec([None, *tensors.input.shape[1:]], tf.float32, name="images"))
    output = "probabilities" if task.endswith("classification") else "vectors"
    if format == "saved_model":
        archive = keras.export.ExportArchive()
        archive.track(tensors)
        archive.add_endpoint("serve_tensors", lambda x: {output: tensors(x)}, input_signature=[spec])
        if text:
            archive.track(model)  # with its preprocessor: the tokenizer is TensorFlow
            archive.add_endpoint("serve", lambda texts: {output: tensors(_token_ids(model.preprocessor, texts))},
                                 input_signature=[tf.TensorSpec([None], tf.string, name="text")])
        else:
            archive.add_endpoint("serve", lambda x: {output: tensors(x)}, input_signature=[spec])
        archive.write_out(str(folder), verbose=False)
    else:
        tensors.export(str(folder / FORMATS[format]), format=format, input_signature=[spec], verbose=False)
    metadata = {
        "format": format,
        "file": FORMATS[format] if format != "saved_model" else None,
        "task": task,
        "model": model.name,
        "inputs": {name: {"dtype": spec.dtype.name, "shape": [None, *spec.shape[1:]]}},
        "outputs": {output: {"dtype": "float32", "shape": [None, *tensors.output.shape[1:]]}},
    }
    if task.endswith("classification"):
        metadata["labels"] = list(model.class_names if text else model.labels)
    if text:
        tokenizer = model.preprocessor.tokenizer
        metadata["tokenizer"] = {
            "files": write_tokenizer(tokenizer, int(model.preprocessor.sequence_length), folder),
            "max_length": int(model.preprocessor.sequence_length),
            **{key: int(getattr(tokenizer, key)) for key in ("start_token_id", "end_token_id", "pad_token_id")},
        }
    if format == "saved_model":
        metadata["signatures"] = {"serve": "text" if text else name, "serve_tensors": name}
    with open(folder / METADATA_FILE, "w") as f:
        json.dump(metadata, f, indent=2)


def write_tokenizer(tokenizer, max_length, folder):
    """Writes the tokenizer's files beside an artifact; returns their names.

    Every tokenizer: keras-hub's config and vocabulary (`keras_tokenizer/`). A
    WordPiece (BERT-style) tokenizer also gets a Hugging Face `tokenizer.json`
    with the same normalisation, special tokens, truncation and padding, so a
    runtime with no Keras (`tokenizers.Tokenizer.from_file`) gives the same ids.
    """
    import keras_hub

    tokenizer.save_to_preset(str(folder / "keras_tokenizer"))
    files = ["keras_tokenizer"]
    if isinstance(tokenizer, keras_hub.tokenizers.WordPieceTokenizer):
        from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

        vocabulary = tokenizer.get_vocabulary()
        fast = Tokenizer(models.WordPiece({token: i for i, token in enumerate(vocabulary)},
                                          unk_token=tokenizer.oov_token, continuing_subword_prefix=tokenizer.suffix_indicator))
        fast.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=tokenizer.split_on_cjk,
                                                     strip_accents=tokenizer.strip_accents, lowercase=tokenizer.lowercase)
        fast.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        start, end = vocabulary[tokenizer.start_token_id], vocabulary[tokenizer.end_token_id]
        fast.post_processor = processors.TemplateProcessing(
            single=f"{start} $A {end}", special_tokens=[(start, tokenizer.start_token_id), (end, tokenizer.end_token_id)]
        )
        fast.decoder = decoders.WordPiece(prefix=tokenizer.suffix_indicator)
        fast.enable_truncation(max_length)
        fast.enable_padding(pad_id=tokenizer.pad_token_id, pad_token=vocabulary[tokenizer.pad_token_id])
        fast.save(str(folder / "tokenizer.json"))
        files.append("tokenizer.json")
    return files


def tensor_model(model, task):
    """A Keras model from the artifact's input tensor (`token_ids` or `images`) to its output."""
    import keras

    ops = keras.ops
    if task.startswith("text-"):
        token_ids = keras.Input((None,), dtype="int32", name="token_ids")
        features = {"token_ids": token_ids, "padding_mask": ops.not_equal(token_ids, model.preprocessor.tokenizer.pad_token_id)}
        if "segment_ids" in model.backbone.input:
            features["segment_ids"] = ops.zeros_like(token_ids)
        outputs = keras.Model.__call__(model, features)
        if task == "text-classification":
            outputs = ops.softmax(outputs)
        return keras.Model(token_ids, outputs, name=f"{model.name}-{task}")
    if task == "image-vectorisation":
        images = keras.Input((model.image_size, model.image_size, 3), dtype="float32", name="images")
        return keras.Model(images, model.image_encoder(images), name=f"{model.name}-{task}")
    converter = model.preprocessor.image_converter
    images = keras.Input((*converter.image_size, 3), dtype="float32", name="images")
    # As `to_pixels` does; inside a layer, so the constants belong to the traced graph (not captured inputs).
    scale = 1.0 if converter.scale is None else converter.scale
    offset = 0.0 if converter.offset is None else converter.offset
    outputs = keras.Model.__call__(model, keras.layers.Rescaling(scale, offset, name="pixels")(images))
    activation = model.probability_activation()
    if activation:
        outputs = getattr(ops, activation)(outputs)
    return keras.Model(images, outputs, name=f"{model.name}-{task}")


def _token_ids(preprocessor, texts):
    """The preprocessor's token ids of a string batch, cut to the longest text in it (not `sequence_length`)."""
    import keras

    features = preprocessor(texts)
    lengths = keras.ops.sum(keras.ops.cast(features["padding_mask"], "int32"), axis=1)
    length = keras.ops.max(keras.ops.concatenate([lengths, keras.ops.ones((1,), "int32")]))  # an empty batch too
    return features["token_ids"][:, :length]
