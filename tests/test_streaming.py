"""Streamed text generation: pieces come from the compiled loop as tokens are chosen and join to the
non-streamed text, on the bundled GPT-2 (`CausalLM`) and T5 (`Seq2SeqLM`), with one compiled function
per settings, whatever the number of tokens."""

import pytest

from kerasprop import TextGeneration, cli

PROMPTS = ["A good friend is", "Return the", "def"]


@pytest.fixture(scope="module")
def gpt2():
    return TextGeneration("gpt2-tiny-pydocs")


@pytest.fixture(scope="module")
def t5():
    return TextGeneration("t5-tiny-multitask")


def _stream(task, text, **options):
    stream = task.model.stream({"text": text, **options}, task="text-generation")
    return list(stream), stream


@pytest.mark.parametrize("fixture", ["gpt2", "t5"])
def test_pieces_arrive_token_by_token_and_join_to_the_whole_text(fixture, request):
    task = request.getfixturevalue(fixture)
    for text in PROMPTS:
        whole = task(text, max_length=16, temperature=0.0)
        pieces, stream = _stream(task, text, max_length=16, temperature=0.0)
        assert "".join(pieces) == whole
        # The tokens came from the compiled loop one step at a time, not from the finished text.
        assert stream.finished and stream.reported >= len(pieces) - 1 >= 2, (whole, pieces)


def test_sampling_streams_with_the_same_options_and_lengths(gpt2):
    pieces, stream = _stream(gpt2, "A good friend is", max_length=12, min_length=12, do_sample=True, top_k=5)
    tokens = gpt2.model.preprocessor.tokenizer("".join(pieces))
    assert stream.reported == 12 and len(pieces) >= 3  # exactly min_length = max_length new tokens
    assert 8 <= len(tokens) <= 14  # 12 new tokens, re-tokenised


def test_streaming_compiles_once_per_settings_not_per_token(gpt2):
    model = gpt2.model
    before = dict(model._generate_functions)
    _stream(gpt2, "Return the", max_length=10, temperature=0.0, repetition_penalty=1.2)
    functions = dict(model._generate_functions)
    new_keys = set(functions) - set(before)
    assert len(new_keys) == 1 and '"stream": true' in new_keys.pop()
    for text in PROMPTS:  # same settings and prompt bucket: the same compiled function
        _stream(gpt2, text, max_length=10, temperature=0.0, repetition_penalty=1.2)
    assert model._generate_functions == functions
    # The non-streaming path keeps its own function, without host callbacks.
    gpt2("Return the", max_length=10, temperature=0.0, repetition_penalty=1.2)
    assert len(model._generate_functions) == len(functions) + 1


@pytest.mark.parametrize("options, message", [
    ({"num_beams": 2}, "num_beams=1"),
    ({"num_generations": 2, "do_sample": True}, "num_generations"),
])
def test_what_cannot_stream_is_refused_by_name(gpt2, options, message):
    with pytest.raises(ValueError, match=message):
        gpt2("A good friend is", stream=True, **options)
    with pytest.raises(ValueError, match="one text at a time"):
        gpt2(["one", "two"], stream=True)


def test_only_generating_tasks_stream():
    from kerasprop import TextVectorisation

    with pytest.raises(ValueError, match="cannot stream 'text-vectorisation'"):
        TextVectorisation().model.stream({"text": "x"}, task="text-vectorisation")


def test_cli_streams_text_generation(gpt2, capsys):
    whole = gpt2("Return the", max_length=12, temperature=0.0)
    assert cli.main(["run", "text-generation", "--text", "Return the", "--max-length", "12", "--temperature", "0.0",
                     "--stream"]) == 0
    assert capsys.readouterr().out == whole + "\n"
    assert cli.main(["run", "text-generation", "--text", "x", "--stream", "--json"]) == 2
    assert "cannot be combined with --json" in capsys.readouterr().err
