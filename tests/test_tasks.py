"""The task classes: model resolution, backprop call signatures, list_models, save."""

import pytest

import kerasprop
from kerasprop.tasks import QA, TASK_CLASSES, Task, TextGeneration, task_class
from kerasprop.tasks import base as task_base
from kerasprop.models import BaseModel
from test_contract import EchoLength
from tiny_models import tiny_text_classifier


class Recorder(BaseModel):
    """Serves every task and records the task input it received, after schema validation."""

    def __init__(self):
        super().__init__(name="recorder", tasks=list(TASK_CLASSES))
        self.seen = []

    def predict_task(self, task, request):
        self.seen.append((task, request))
        output = {"text-generation": "new text", "qa": "an answer"}.get(task, "label")
        if "vectorisation" in task:
            output = [0.5, 0.5]
        if "classification" in task:
            output = {"a": 1.0}
        return [output] * request.size


def test_every_task_has_a_class_exported_from_kerasprop():
    for task, cls in TASK_CLASSES.items():
        assert cls.task == task and getattr(kerasprop, cls.__name__) is cls
        assert issubclass(cls, Task) and task_class(task) is cls


def test_qa_turns_prev_qa_pairs_into_schema_keys():
    model = Recorder()
    qa = QA(model)
    assert qa("Where?", "In Rome.", prev_qa=[("Who?", "Ann")]) == "an answer"
    request = model.seen[-1][1]
    assert request.inputs["prev_q"] == [["Who?"]] and request.inputs["prev_a"] == [["Ann"]]
    assert qa(["Where?", "When?"], ["In Rome.", "Today."], prev_qa=[[("Who?", "Ann")], []]) == ["an answer"] * 2
    assert model.seen[-1][1].inputs["prev_q"] == [["Who?"], []]
    with pytest.raises(TypeError, match=r"'prev_qa\[0\]' must be a pair"):
        qa("Where?", "In Rome.", prev_qa=["Who?"])


def test_generation_passes_only_the_options_given():
    model = Recorder()
    TextGeneration(model)("Once", max_length=5, temperature=0.7)
    request = model.seen[-1][1]
    assert request.given == {"max_length", "temperature"} and request.options["min_length"] == 5


def test_models_that_do_not_serve_the_task_are_refused():
    with pytest.raises(ValueError, match=r"does not support the task 'summarisation'; its tasks are \['text-class"):
        kerasprop.Summarisation(tiny_text_classifier())
    with pytest.raises(TypeError, match="takes a model name or a kerasprop model"):
        kerasprop.Emotion(42)


def test_text_classification_with_a_model_object_and_top_k():
    classify = kerasprop.TextClassification(tiny_text_classifier())
    result = classify("the food was good", top_k=1)
    assert len(result) == 1 and set(result) <= {"negative", "positive"}
    assert len(classify(["good", "bad", "fine"])) == 3


def test_default_models_are_bundled_and_chosen_without_any_network(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("choosing a default model opened a network connection")

    monkeypatch.setattr(task_base, "hub_reachable", no_network)
    monkeypatch.setattr(task_base.socket, "create_connection", no_network)
    assert kerasprop.TextVectorisation.choose_default_model() == "all-minilm-l6-v2"
    assert kerasprop.TextClassification.choose_default_model() == "all-minilm-l6-v2"
    assert kerasprop.Summarisation.choose_default_model() == "all-minilm-l6-v2"
    assert kerasprop.QA.choose_default_model() == "minilm-qa"
    assert kerasprop.ExtractiveQA.choose_default_model() == "minilm-qa"
    assert kerasprop.Emotion.choose_default_model() == "minilm-emotion"
    assert kerasprop.TokenClassification.choose_default_model() == "minilm-ner"
    # backprop's defaults stay one name away.
    assert kerasprop.QA.hub_model == "t5-base-qa-summary-emotion"
    assert kerasprop.TextVectorisation.hub_model == "msmarco-distilroberta-base-v2"


def test_hub_reachability_honours_offline_variables(monkeypatch):
    monkeypatch.setenv("KERASPROP_OFFLINE", "1")
    assert task_base.hub_reachable() is False


def test_task_list_models_uses_task_aliases():
    models = kerasprop.TextGeneration.list_models(return_dict=True)
    assert models["distilgpt2"]["alias"] == "english-small"
    assert "bart-large-mnli" not in models


def test_task_save_writes_the_model(kerasprop_home):
    classify = kerasprop.TextClassification(tiny_text_classifier())
    folder = classify.save("saved-from-task", description="from a task")
    assert kerasprop.load(folder).description == "from a task"
    assert kerasprop.TextClassification("saved-from-task").model.name == "saved-from-task"


def test_finetune_on_a_model_without_support_is_refused_before_training():
    with pytest.raises(ValueError, match="cannot be finetuned for 'text-vectorisation'"):
        kerasprop.TextVectorisation(EchoLength()).finetune({"texts": ["a", "b"], "groups": [0, 1]})


def test_finetune_takes_positional_arguments_in_backprops_order(monkeypatch):
    import kerasprop.training

    seen = {}
    monkeypatch.setattr(kerasprop.training, "finetune", lambda model, params, task, **kwargs: seen.update(kwargs))
    classify = kerasprop.TextClassification(tiny_text_classifier())
    classify.finetune({"texts": ["a", "b"], "labels": ["x", "y"]}, 0.5, 3, 2, 8, 0, variant="single_label")
    assert seen == {"validation_split": 0.5, "epochs": 3, "batch_size": 2, "optimal_batch_size": 8,
                    "early_stopping_epochs": 0, "variant": "single_label"}


def test_a_task_without_any_default_says_so_instead_of_naming_none(monkeypatch):
    monkeypatch.setenv("KERASPROP_OFFLINE", "1")
    monkeypatch.setattr(kerasprop.ExtractiveQA, "default_model", None)
    with pytest.raises(RuntimeError, match="The task 'extractive-qa' has no default model. Pass a model") as error:
        kerasprop.ExtractiveQA()
    assert "None" not in str(error.value)


def test_constructor_refuses_options_it_would_ignore():
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'devise'. Did you mean 'device'\?"):
        kerasprop.TextVectorisation(devise="cpu")
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'bogus_option'. It takes \['model', 'local'"):
        kerasprop.TextVectorisation(bogus_option=1)
    with pytest.raises(ValueError, match="runs every model locally"):
        kerasprop.Emotion(local=False)
    with pytest.raises(ValueError, match="runs every model locally"):
        kerasprop.Emotion(api_key="secret")
    with pytest.raises(ValueError, match="The device 'nonsense' is not available"):
        kerasprop.TextClassification(tiny_text_classifier(), device="nonsense")
    # backprop's own arguments and the loader's options are accepted.
    model = tiny_text_classifier()
    assert kerasprop.TextClassification(model, local=True, device="cpu").model is model
