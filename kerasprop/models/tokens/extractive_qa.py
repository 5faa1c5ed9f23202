"""Extractive QA: `ExtractiveQuestionAnswerer` finds the answer to a question as a span of the context.

Decoding is that of the transformers question-answering pipeline (4.x): the
question and context are tokenised as a pair; a long context is cut into
overlapping windows (`max_seq_len`, `doc_stride`); per window, start and end
logits are masked to the context (and the first token), turned into
probabilities, and spans of at most `max_answer_len` tokens score
p(start) * p(end); spans are widened to whole words, answers with the same text
(ignoring case) add their scores, and the best `top_k` across windows are returned
as `{"answer", "score", "start", "end"}` with character offsets into the context.
"""

import keras
import numpy as np

from kerasprop.models.runtime.inference import softmax
from kerasprop.models.task_model import register_former_name
from kerasprop.models.tokens.token_heads import TokenHeadTask

#: Logit given to tokens that cannot be in the answer (as transformers).
MASKED = -10000.0
#: How backprop's `qa` task reads: one answer, possibly none, up to 15 tokens long (as the transformers pipeline).
QA_OPTIONS = {"top_k": 1, "max_answer_len": 15, "max_seq_len": 384, "doc_stride": 128, "handle_impossible_answer": True}
#: Earlier turns of a conversation that join a follow-up question.
HISTORY_TURNS = 2


def question_with_history(question, prev_q=None, prev_a=None):
    """A follow-up question with the last turns before it, as the span models read it.

    Example:
    >>> question_with_history("When did he move there?", ["Where does Tom live?"], ["Toronto"])
    'Where does Tom live? Toronto. When did he move there?'
    """
    turns = list(zip(prev_q or [], prev_a or []))[-HISTORY_TURNS:]
    history = " ".join(f"{q.strip()} {a.strip().rstrip('.')}." for q, a in turns)
    return f"{history} {question}" if history else question


@keras.saving.register_keras_serializable(package="kerasprop")
class ExtractiveQuestionAnswerer(TokenHeadTask):
    """Span-extraction QA on a BERT, RoBERTa or DistilBERT backbone (start and end logits per token).

    The model behind the `ExtractiveQA` task; `kerasprop.models.ExtractiveQA`
    is its former name, kept for one release.

    Example:
    >>> from kerasprop.models import ExtractiveQuestionAnswerer
    >>> model = ExtractiveQuestionAnswerer.from_preset("bert-tiny-squad")  # doctest: +SKIP
    >>> model({"question": "Where does Sally live?", "context": "Sally lives in London."}, task="extractive-qa")  # doctest: +SKIP
    {'answer': 'London', 'score': 0.97, 'start': 15, 'end': 21}
    """

    hf_head = "ForQuestionAnswering"
    default_tasks = ("extractive-qa", "qa")
    finetunable_tasks = ("extractive-qa", "qa")
    default_description = "Extractive question answering: the answer is a span of the context."

    def __init__(self, backbone, preprocessor=None, **kwargs):
        super().__init__(backbone=backbone, num_outputs=2, preprocessor=preprocessor, **kwargs)

    def predict_extractive_qa(self, request):
        answers = self.answer(request.inputs["question"], request.inputs["context"], request.options)
        return [found[0] if request.options["top_k"] == 1 else found for found in answers]

    def predict_qa(self, request):
        """backprop's `qa`: the answer's text, "" when the context holds none; history joins the question."""
        inputs = request.inputs
        questions = [question_with_history(*item) for item in zip(inputs["question"], inputs["prev_q"], inputs["prev_a"])]
        return [found[0]["answer"] for found in self.answer(questions, inputs["context"], QA_OPTIONS)]

    def answer(self, questions, contexts, options):
        """The best `options["top_k"]` answers per question, reading long contexts in overlapping windows."""
        max_length = min(options["max_seq_len"], self.sequence_length)
        stride = min(options["doc_stride"], max_length // 2)
        windows = self.encode(questions, contexts, stride=stride, max_length=max_length)
        flat = [window for per_input in windows for window in per_input]
        logits = iter(self.token_logits(flat))
        return [self.answers(context, [(window, next(logits)) for window in per_input], options)
                for context, per_input in zip(contexts, windows)]

    def answers(self, context, windows, options):
        """The best `top_k` answers over the windows of one context."""
        top_k, candidates = options["top_k"], top_k_with_spare(options["top_k"])
        found, null_score = [], None
        for encoding, logits in windows:
            allowed = np.array([s == 1 for s in encoding.sequence_ids])
            allowed[0] = True  # the first token stands for "no answer"
            start, end = (softmax(np.where(allowed, logits[:, i], MASKED)) for i in (0, 1))
            if options["handle_impossible_answer"]:
                score = float(start[0] * end[0])
                null_score = score if null_score is None else min(null_score, score)
            start[0] = end[0] = 0.0
            for s, e, score in best_spans(start, end, candidates, options["max_answer_len"], allowed):
                first, last = _word_span(encoding, s), _word_span(encoding, e)
                begin, finish = first[0], last[1]
                text = context[begin:finish]
                same = next((a for a in found if a["answer"].lower() == text.lower()), None)
                if same is not None:
                    same["score"] += score
                else:
                    found.append({"answer": text, "score": score, "start": begin, "end": finish})
        if null_score is not None:
            found.append({"answer": "", "score": null_score, "start": 0, "end": 0})
        found.sort(key=lambda answer: answer["score"], reverse=True)
        return [{k: (float(v) if k == "score" else v) for k, v in a.items()} for a in found[:top_k]]

    # === Finetuning ===

    def process_batch(self, params, task="extractive-qa", max_length=384, **options):
        """`(features, [start token, end token])` for `fit` from {"questions", "contexts", "answers", "answer_starts"}.

        Without `answer_starts` each answer's first occurrence in its context is used (the schema checks both).
        An empty answer (no answer in the context) and an answer cut off with its context (past `max_length`
        tokens) point at the first token. "qa" params (backprop's: `prev_qas` holds the history) join each
        question with its history as `predict_qa` does, and `max_input_length` is the sequence length.
        """
        self.check_finetunable(task)
        if task == "qa":
            max_length = options.get("max_input_length", max_length)
            history = params.get("prev_qas") or [[]] * len(params["questions"])
            questions = [question_with_history(q, [p for p, _ in h], [a for _, a in h])
                         for q, h in zip(params["questions"], history)]
            params = {"questions": questions, "contexts": params["contexts"], "answers": params["answers"]}
        starts = params.get("answer_starts") or [context.find(a) for context, a in zip(params["contexts"], params["answers"])]
        spans = [(start, start + len(answer)) for start, answer in zip(starts, params["answers"])]
        windows = self.encode(params["questions"], params["contexts"], max_length=max_length)
        encodings = [per_input[0] for per_input in windows]
        positions = np.zeros((len(encodings), 2), dtype="int32")
        for row, (encoding, (begin, finish)) in enumerate(zip(encodings, spans)):
            context_tokens = [t for t, s in enumerate(encoding.sequence_ids) if s == 1]
            first = [t for t in context_tokens if encoding.offsets[t][1] > begin]
            last = [t for t in context_tokens if encoding.offsets[t][0] < finish]
            if first and last and first[0] <= last[-1]:
                positions[row] = first[0], last[-1]
        return self.pack(encodings, max_length), positions

    def finetuning_compile_kwargs(self, task, variant=None):
        # Span heads train with AdamW 2e-5 (backprop's default); LoRA adapters on a frozen base need more.
        learning_rate = 5e-4 if (getattr(self, "base_backbone", None) or {}).get("lora_rank") else 2e-5
        return {"loss": span_loss, "optimizer": keras.optimizers.AdamW(learning_rate)}


# Former name (until the next release): it was easy to confuse with the task class `kerasprop.ExtractiveQA`.
ExtractiveQA = ExtractiveQuestionAnswerer
register_former_name(ExtractiveQuestionAnswerer, "ExtractiveQA")


@keras.saving.register_keras_serializable(package="kerasprop")
def span_loss(y_true, y_pred):
    """Mean cross-entropy of the start and end token: y_true (batch, 2) positions, y_pred (batch, tokens, 2) logits."""
    logits = keras.ops.transpose(y_pred, (0, 2, 1))
    return keras.ops.mean(
        keras.losses.sparse_categorical_crossentropy(keras.ops.cast(y_true, "int32"), logits, from_logits=True),
        axis=-1,
    )


def top_k_with_spare(top_k):
    """Candidates to decode for `top_k` answers: some are merged when widened to whole words (as transformers)."""
    return top_k * 2 + 10


def best_spans(start, end, top_k, max_answer_len, allowed):
    """The `top_k` (start, end, p(start) * p(end)) spans with start <= end < start + max_answer_len."""
    scores = np.tril(np.triu(np.outer(start, end)), max_answer_len - 1)
    flat = scores.ravel()
    if top_k >= flat.size:
        order = np.argsort(-flat)
    else:
        order = np.argpartition(-flat, top_k)[:top_k]
        order = order[np.argsort(-flat[order])]
    spans = []
    for s, e in zip(*np.unravel_index(order, scores.shape)):
        if allowed[s] and allowed[e]:
            spans.append((int(s), int(e), float(scores[s, e])))
    return spans


def _word_span(encoding, token):
    """Character span of the whole word that holds `token`."""
    word = encoding.word_ids[token]
    if word is None:
        return encoding.offsets[token]
    return encoding.word_to_chars(word, 1)
