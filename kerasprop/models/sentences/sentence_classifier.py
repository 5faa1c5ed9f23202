"""`SentenceClassifier`: labels from a dense head on a sentence embedder's vectors.

The model behind the offline `Emotion` default (the 27 GoEmotions emotions and neutral
on all-MiniLM-L6-v2) and a way to teach a sentence encoder your own labels with no hub:
`SentenceClassifier.from_sentence_embedder("all-minilm-l6-v2", class_names=[...])` puts a
fresh head on the encoder, frozen by default (only the head trains, and a saved preset holds
the head alone: see `kerasprop.models.base_backbone`).
"""

import keras
import numpy as np

from kerasprop.models.runtime.inference import softmax
from kerasprop.models.sentences.sentence_heads import SentenceHead
from kerasprop.models.classifiers.text_classifier import label_mapping


@keras.saving.register_keras_serializable(package="kerasprop")
class SentenceClassifier(SentenceHead):
    """A `SentenceEmbedder` whose outputs are class logits: a dense layer on its (normalised) sentence vectors.

    Tasks: "emotion" (the most probable label, then any other whose probability is at
    least `label_threshold`, at most `max_labels`, comma-separated) and
    "text-classification" (label -> probability over the learnt labels, most probable
    first). Both are finetunable; labels the data has and the model lacks are added to
    the head (the learnt ones keep their weights).

    Args:
        backbone, preprocessor and the `SentenceEmbedder` arguments.
        class_names: the labels, in the order of the head's outputs.
        max_labels: most labels an emotion answer names.
        label_threshold: probability a label after the first needs to be named.

    Example:
    >>> from kerasprop.models import SentenceClassifier
    >>> model = SentenceClassifier.from_sentence_embedder("all-minilm-l6-v2", class_names=["sport", "food"])
    >>> sorted(model({"text": "We won the match"}, task="text-classification"))
    ['food', 'sport']
    """

    default_tasks = ("emotion", "text-classification")
    finetunable_tasks = ("emotion", "text-classification")
    default_description = "Labels from a classifier head on sentence vectors."

    def __init__(self, backbone, class_names, preprocessor=None, max_labels=3, label_threshold=0.3, **kwargs):
        self.class_names = label_mapping(list(class_names)) if not isinstance(class_names, (list, tuple)) \
            else [str(name) for name in class_names]
        self.classifier = keras.layers.Dense(len(self.class_names), dtype=backbone.dtype_policy, name="classifier")
        super().__init__(backbone=backbone, preprocessor=preprocessor, **kwargs)
        self.max_labels = int(max_labels)
        self.label_threshold = float(label_threshold)

    def head_outputs(self, vectors):
        return self.classifier(vectors)

    def get_config(self):
        config = super().get_config()
        config.update(class_names=list(self.class_names), max_labels=self.max_labels,
                      label_threshold=self.label_threshold)
        return config

    # --- inference ---------------------------------------------------------------------

    def probabilities(self, texts):
        """`(texts, classes)` probabilities."""
        return softmax(self.encode_text(list(texts)).astype("float64"))

    def predict_emotion(self, request):
        answers = []
        for row in self.probabilities(request.inputs["text"]):
            order = np.argsort(-row, kind="stable")
            chosen = [order[0]] + [i for i in order[1:self.max_labels] if row[i] >= self.label_threshold]
            answers.append(", ".join(self.class_names[i] for i in chosen))
        return answers

    def predict_text_classification(self, request):
        label_lists = request.inputs["labels"]
        known = set(self.class_names)
        results = []
        for row, labels in zip(self.probabilities(request.inputs["text"]), label_lists):
            scores = dict(zip(self.class_names, row.tolist()))
            if labels is not None:
                unknown = [label for label in labels if label not in known]
                if unknown:
                    raise ValueError(f"'{self.name}' classifies into {self.class_names}; it does not know the "
                                     f"labels {unknown} (finetune it on them, or use a zero-shot model).")
                total = sum(scores[label] for label in labels)
                scores = {label: scores[label] / total for label in labels}
            ranked = sorted(scores.items(), key=lambda pair: -pair[1])
            top_k = request.options["top_k"]
            results.append(dict(ranked[:top_k] if top_k else ranked))
        return results

    # --- finetuning --------------------------------------------------------------------

    def pre_finetuning(self, labels=None, texts=None, **kwargs):
        """Adds the labels the head lacks (a dict index -> label or a list); the learnt ones keep their weights.

        With the training `texts` (one per entry of the list `labels`), a new label starts as the mean vector
        of its texts over the temperature, as a zero-shot label would, so it competes with the learnt ones
        from the first step instead of from a random start.
        """
        new = [name for name in label_mapping(labels) if name not in self.class_names]
        if not new:
            return
        kernel, bias = (np.array(w) for w in self.classifier.get_weights())
        prototypes = None if texts is None else self._mean_vectors(texts, labels, new)
        backbone, preprocessor, base = self.backbone, self.preprocessor, getattr(self, "base_backbone", None)
        config = self.get_config()
        config.update(backbone=backbone, preprocessor=preprocessor, class_names=self.class_names + new)
        type(self).__init__(self, **config)
        # Re-initialising a Keras model under torch drops the sublayers set before Model.__init__ (torch's
        # Module.__init__ runs again); the new classifier is still in the functional graph.
        self.backbone, self.preprocessor = backbone, preprocessor
        self.classifier = self.get_layer("classifier")
        self.base_backbone = base
        grown_kernel, grown_bias = (np.array(w) for w in self.classifier.get_weights())
        grown_kernel[:, : kernel.shape[1]], grown_bias[: bias.shape[0]] = kernel, bias
        if prototypes is not None:
            grown_kernel[:, kernel.shape[1]:], grown_bias[bias.shape[0]:] = prototypes.T / self.temperature, 0.0
        self.classifier.set_weights([grown_kernel, grown_bias])
        self._forward = None

    def _mean_vectors(self, texts, labels, names):
        """`(len(names), dim)`: the mean sentence vector (what the head reads) of each name's texts, normalised."""
        from kerasprop.models.sentences.text_embedder import SentenceEmbedder

        encoder = SentenceEmbedder(backbone=self.backbone, preprocessor=self.preprocessor,
                                   pooling_mode=self.pooling_mode, normalize=self.normalize)
        vectors = encoder.encode_text(list(texts)).astype("float64")
        means = np.stack([vectors[[label == name for label in labels]].mean(axis=0) for name in names])
        return means / np.maximum(np.linalg.norm(means, axis=-1, keepdims=True), 1e-12)

    def process_batch(self, params, task="text-classification", **options):
        """`(token features, class indices)` for `fit`.

        "emotion" params are backprop's `{"input_text", "output_text"}` (an output naming several
        emotions, "joy, love", trains on the first); "text-classification" params `{"texts", "labels"}`.
        """
        self.check_finetunable(task)
        if task == "emotion":
            texts = params["input_text"]
            labels = [label.split(",")[0].strip() for label in params["output_text"]]
            self.pre_finetuning(labels, texts=texts)
        else:
            texts, labels = params["texts"], [str(label) for label in params["labels"]]
        index = {name: i for i, name in enumerate(self.class_names)}
        unknown = sorted(set(labels) - set(index))
        if unknown:
            raise ValueError(f"The labels {unknown} are not among the model's classes {self.class_names}.")
        return self.pack(texts), np.array([index[label] for label in labels])

    def finetuning_compile_kwargs(self, task="text-classification", variant=None):
        return {"loss": keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                "optimizer": self.head_optimizer(), "metrics": ["accuracy"]}
