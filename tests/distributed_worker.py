"""One process of tests/test_distributed_jobs.py's training job: `python distributed_worker.py OUT ROLE`.

ROLE "worker" joins the job named by the KERAS_DISTRIBUTION_* variables; ROLE
"single" is the one-process reference. Each trains the tiny classifier from the
same weights under data and model parallelism and writes what it ends with.
"""

import json
import os
import sys

os.environ["KERAS_BACKEND"] = "jax"
sys.path.insert(0, os.path.dirname(__file__))

import kerasprop  # noqa: E402

out, role = sys.argv[1], sys.argv[2]
if role == "worker":
    kerasprop.distributed.initialize()  # from the environment

import keras  # noqa: E402
import numpy as np  # noqa: E402

from kerasprop.training import finetune  # noqa: E402
from tiny_models import sentiment_params, tiny_text_classifier  # noqa: E402

index = kerasprop.distributed.process_index()
name = f"{role}-{index}"


def model_parallel():
    # The feed-forward kernels split across the two processes: no process holds them whole.
    mesh = keras.distribution.DeviceMesh((1, 2), ["batch", "model"], keras.distribution.list_devices())
    layout = keras.distribution.LayoutMap(mesh)
    layout[".*intermediate_dense.*kernel"] = (None, "model")
    return keras.distribution.ModelParallel(layout_map=layout, batch_dim_name="batch")


report = {"processes": kerasprop.distributed.process_count()}
keras.utils.set_random_seed(0)
start = [np.array(w) for w in tiny_text_classifier(dropout=0.0).get_weights()]
np.savez(os.path.join(out, f"{name}-start.npz"), *start)
for scenario in ("data_parallel", "model_parallel"):
    if role == "single" and scenario == "model_parallel":
        break  # one reference serves both
    model = tiny_text_classifier(dropout=0.0)
    model.set_weights(start)
    distribution = None if role == "single" else (model_parallel() if scenario == "model_parallel" else None)
    if distribution is not None:
        with distribution.scope():
            report["split_weights"] = sum(not w.value.is_fully_addressable for w in tiny_text_classifier().weights)
    finetune(model, sentiment_params(38), "text-classification", validation_split=0.15, epochs=2, batch_size=8,
             optimizer=keras.optimizers.SGD(0.5), early_stopping_epochs=1, distribution=distribution, verbose=0)
    np.savez(os.path.join(out, f"{name}-{scenario}.npz"), *[np.asarray(w) for w in model.get_weights()])
    report[f"saved-{scenario}"] = kerasprop.save(model, path=os.path.join(out, f"saved-{scenario}-by-{name}"))
if role == "worker":
    try:
        finetune(tiny_text_classifier(), sentiment_params(40), "text-classification", batch_size=7, verbose=0)
    except ValueError as error:
        report["odd_batch"] = str(error)
with open(os.path.join(out, f"{name}.json"), "w") as f:
    json.dump(report, f)
