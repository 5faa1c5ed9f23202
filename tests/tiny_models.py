"""A tiny Keras task model for testing the foundation (contract, save/load, finetuning engine).

The real model families have their own tests; this one is the smallest honest
`KerasTaskModel`: a 1-layer BERT text classifier over a 30-word vocabulary.
"""

import random

import keras
import keras_hub
import numpy as np

from kerasprop.models.task_model import KerasTaskModel

WORDS = ["good", "great", "love", "nice", "fine", "bad", "awful", "hate", "poor", "sad",
         "the", "food", "was", "service", "very", "movie", "is", "it", "a", "and"]
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + WORDS


@keras.saving.register_keras_serializable(package="kerasprop_tests")
class TinyTextClassifier(KerasTaskModel, keras_hub.models.BertTextClassifier):
    default_tasks = ("text-classification",)
    finetunable_tasks = ("text-classification",)

    def __init__(self, *args, label_names=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.label_names = list(label_names or [])

    def pre_finetuning(self, labels):
        self.label_names = [labels[i] for i in sorted(labels)]

    def process_batch(self, params, task, max_length=128):
        self.preprocessor.sequence_length = min(max_length, 16)
        index = {name: i for i, name in enumerate(self.label_names)}
        return params["texts"], np.array([index[label] for label in params["labels"]], dtype="int32")

    def predict_text_classification(self, request):
        probs = keras.ops.convert_to_numpy(keras.ops.softmax(self.predict(request.inputs["text"], verbose=0)))
        top_k = request.options["top_k"]
        outputs = []
        for row in probs:
            scores = sorted(zip(self.label_names, row.tolist()), key=lambda p: -p[1])
            outputs.append(dict(scores[:top_k] if top_k else scores))
        return outputs

    def get_config(self):
        return {**super().get_config(), "label_names": list(self.label_names)}


def tiny_text_classifier(name="tiny-classifier", labels=("negative", "positive"), dropout=0.1):
    tokenizer = keras_hub.models.BertTokenizer(vocabulary=VOCAB, lowercase=True)
    preprocessor = keras_hub.models.BertTextClassifierPreprocessor(tokenizer, sequence_length=16)
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=len(VOCAB), num_layers=1, num_heads=2, hidden_dim=16, intermediate_dim=32,
        max_sequence_length=16, dropout=dropout,
    )
    return TinyTextClassifier(
        backbone=backbone, preprocessor=preprocessor, num_classes=len(labels), label_names=list(labels),
        name=name, activation=None, dropout=dropout,
    )


def sentiment_params(n=40, seed=0):
    """Short texts whose label is decided by one sentiment word."""
    rng = np.random.default_rng(seed)
    positive, negative = WORDS[:5], WORDS[5:10]
    texts, labels = [], []
    for i in range(n):
        label = "positive" if i % 2 == 0 else "negative"
        word = rng.choice(positive if label == "positive" else negative)
        subject = rng.choice(["the food", "the service", "the movie"])
        texts.append(f"{subject} was very {word}")
        labels.append(label)
    return {"texts": texts, "labels": labels}


def tiny_gpt2_folder(folder):
    """A tiny random GPT-2 in Hugging Face format (written with transformers), with a byte-level BPE vocabulary."""
    import json

    import torch
    import transformers
    from tokenizers import ByteLevelBPETokenizer

    corpus = ["the cat sat on the mat. the dog sat on the log. " * 3, "Keras is a deep learning library for humans."]
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(corpus, vocab_size=300, min_frequency=1, show_progress=False)
    bpe.save_model(str(folder))
    vocab = json.loads((folder / "vocab.json").read_text())
    end = vocab["<|endoftext|>"] = len(vocab)  # not 0: keras-hub pads GPT-2 with id 0
    (folder / "vocab.json").write_text(json.dumps(vocab))
    config = transformers.GPT2Config(vocab_size=len(vocab), n_positions=128, n_embd=32, n_layer=2, n_head=2,
                                     bos_token_id=end, eos_token_id=end)
    torch.manual_seed(0)
    transformers.GPT2LMHeadModel(config).save_pretrained(folder)
    return folder


KEYWORDS = {"sports": ["ball", "goal", "team"], "food": ["pizza", "bread", "soup"]}
FILLER = ["the", "a", "today", "we", "saw", "some", "very", "nice", "and", "then", "it", "was"]


def keyword_dataset(size, seed):
    """Texts of filler words and keywords of one class, which is the label."""
    rng = random.Random(seed)
    texts, labels = [], []
    for _ in range(size):
        label = rng.choice(sorted(KEYWORDS))
        words = rng.sample(FILLER, 3) + rng.choices(KEYWORDS[label], k=3)
        rng.shuffle(words)
        texts.append(" ".join(words))
        labels.append(label)
    return {"texts": texts, "labels": labels}


IMAGE_SIZE = 32


def tiny_resnet_classifier(num_classes):
    """A keras-hub ResNet image classifier small enough to train in seconds."""
    backbone = keras_hub.models.ResNetBackbone(
        input_conv_filters=[64], input_conv_kernel_sizes=[3], stackwise_num_filters=[64, 16],
        stackwise_num_blocks=[1, 1], stackwise_num_strides=[1, 2], block_type="basic_block",
        image_shape=(IMAGE_SIZE, IMAGE_SIZE, 3),
    )
    converter = keras_hub.layers.ResNetImageConverter(image_size=(IMAGE_SIZE, IMAGE_SIZE), scale=1 / 255.0)
    preprocessor = keras_hub.models.ResNetImageClassifierPreprocessor(image_converter=converter)
    return keras_hub.models.ResNetImageClassifier(backbone=backbone, num_classes=num_classes, preprocessor=preprocessor)


def _tiny_bpe(words):
    """A byte-level BPE vocabulary (bytes, end-of-word bytes, merges for `words`) and its merges."""
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    chars = list(bytes_to_unicode().values())
    vocab, merges = chars + [c + "</w>" for c in chars], []
    for word in words:
        pieces = list(word[:-1]) + [word[-1] + "</w>"]
        while len(pieces) > 1:
            merges.append((pieces[0], pieces[1]))
            pieces = [pieces[0] + pieces[1]] + pieces[2:]
            vocab.append(pieces[0])
    # CLIP's end token has the largest id: the text pooler takes the argmax.
    vocab = list(dict.fromkeys(vocab)) + ["<|startoftext|>", "<|endoftext|>"]
    return {token: i for i, token in enumerate(vocab)}, list(dict.fromkeys(merges))


def tiny_clip_folder(folder):
    """Writes a tiny random Hugging Face CLIP to `folder`; returns (model, tokenizer, image processor)."""
    import torch
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor, CLIPTokenizer

    vocab, merges = _tiny_bpe(["a", "photo", "of", "cat", "dog", "the", "and"])
    tokenizer = CLIPTokenizer(vocab=vocab, merges=merges)
    end = vocab["<|endoftext|>"]
    config = CLIPConfig(
        text_config=dict(
            vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
            num_attention_heads=4, max_position_embeddings=77,
            bos_token_id=vocab["<|startoftext|>"], eos_token_id=end, pad_token_id=end,
        ),
        vision_config=dict(
            hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
            image_size=32, patch_size=8,
        ),
        projection_dim=16,
    )
    torch.manual_seed(0)
    model = CLIPModel(config).eval()
    model.save_pretrained(folder)
    processor = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    CLIPProcessor(image_processor=processor, tokenizer=tokenizer).save_pretrained(folder)
    return model, tokenizer, processor
