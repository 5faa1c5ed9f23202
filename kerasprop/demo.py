"""`kerasprop demo`: every task once, on models that work with no network.

Each task runs with its default model as `Task()` picks it: its bundled preset,
on this machine, so the demo opens no network connection. A task whose default
is missing (a broken install) is listed as unavailable, with the reason.
"""

import json
import sys

from kerasprop.progress import Progress
from kerasprop.schemas import get_schema
from kerasprop.schemas.task_specs import TASK_SPECS


def _demo_image(shape="circle", colour=(220, 30, 30), size=96):
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(image)
    box = (size // 4, size // 4, 3 * size // 4, 3 * size // 4)
    (draw.ellipse if shape == "circle" else draw.rectangle)(box, fill=colour)
    return image


def _demo_tone(start=800.0, end=2000.0, seconds=1.0, rate=16000):
    """A sine sweeping from `start` to `end` Hz (16 kHz float32 samples)."""
    import numpy as np

    t = np.arange(int(seconds * rate)) / rate
    frequency = start * (end / start) ** (t / seconds)
    return (0.4 * np.sin(2 * np.pi * np.cumsum(frequency) / rate)).astype("float32")


def _demo_clip():
    """The committed clip of the speech-recognition default (`presets/whisper-tiny-commands/assets/clips`)."""
    from kerasprop.hub.catalog import bundled_path

    folder = bundled_path("whisper-tiny-commands")
    return _demo_tone() if folder is None else str(folder / "assets" / "clips" / "demo.wav")


def examples():
    """(task, task_input, printable input) for every task, from the task specs' examples."""
    media = {"circle": _demo_image, "speech": _demo_clip, "tone": _demo_tone}
    made = {}
    rows = []
    for spec in TASK_SPECS.values():
        for kind in spec.example_media.values():
            if kind not in made:
                made[kind] = media[kind]()
        task_input = {**{key: made[kind] for key, kind in spec.example_media.items()}, **spec.example}
        rows.append((spec.task, task_input, spec.example_shown))
    return rows


def _printable(task_input, shown):
    return {k: (shown if k in ("image", "audio") else v) for k, v in task_input.items()}


def run_demo(as_json=False, out=None):
    """Runs every task; prints a readable report or one JSON document. Returns the report dict."""
    from kerasprop.tasks import task_class

    out = out or sys.stdout
    report = {"results": [], "unavailable": []}
    for task, task_input, shown in examples():
        cls = task_class(task)
        try:
            name = cls.choose_default_model()
        except RuntimeError as error:
            report["unavailable"].append({"task": task, "reason": str(error)})
            continue
        with Progress(f"loading {name} for {task}", enabled=False if as_json else None):
            runner = cls(name)
        output = runner.run(task_input)
        get_schema(task).check_output(output)
        entry = {"task": task, "model": name, "input": _printable(task_input, shown), "output": output}
        report["results"].append(entry)
        if not as_json:
            _print_entry(entry, out)
    if as_json:
        out.write(json.dumps(report, ensure_ascii=False) + "\n")
    else:
        for item in report["unavailable"]:
            out.write(f"\n[{item['task']}] not available offline yet: {item['reason']}\n")
    return report


def _print_entry(entry, out):
    out.write(f"\n[{entry['task']}] model: {entry['model']}\n")
    for key, value in entry["input"].items():
        if value not in (None, [], ""):
            out.write(f"  {key}: {value}\n")
    output = entry["output"]
    if isinstance(output, dict) and "answer" in output:  # extractive QA
        out.write(f"  -> {output['answer']!r} (score {output['score']:.3f}, characters "
                  f"{output['start']}-{output['end']})\n")
    elif isinstance(output, list) and output and isinstance(output[0], dict) and "entity_group" in output[0]:
        for entity in output:
            out.write(f"  -> {entity['entity_group']}: {entity['word']!r} ({entity['score']:.3f})\n")
    elif isinstance(output, dict):
        for label, score in output.items():
            out.write(f"  -> {score:.3f}  {label}\n")
    elif isinstance(output, list) and output and isinstance(output[0], float):
        out.write(f"  -> vector of {len(output)} floats: [{', '.join(f'{v:.3f}' for v in output[:6])}, ...]\n")
    elif isinstance(output, list) and output and isinstance(output[0], dict):  # fill-mask candidates
        for candidate in output:
            out.write(f"  -> {candidate['score']:.3f}  {candidate['sequence']}\n")
    else:
        out.write(f"  -> {output}\n")
