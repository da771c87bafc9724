"""Model cards of the pocket pair, built with huggingface_hub.ModelCard: Hub metadata (licence, base model, data
set, measured accuracy) in the YAML header, and the recipe, data, hyperparameters and training cost below it."""

from __future__ import annotations

import json
import platform

import torch
from huggingface_hub import EvalResult, ModelCard, ModelCardData

from benchmarks.core.data import LabelledTexts

BASE_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
_TEMPLATE = """---
{{ card_data }}
---

# {{ title }}

Part of the dashboard's offline "pocket pair", built by `python -m benchmarks distill`.

## Recipe
{{ recipe }}

## Data
{{ data_source }}: {{ n_train }} labelled sentences (GLUE SST-2, binary sentiment: 1 = positive).

## Hyperparameters
```json
{{ hyperparameters }}
```
Optimiser AdamW (weight decay 0.01), linear warm-up then linear decay, gradient clipping at 1.0,
length-bucketed batches (sorted within chunks of 50 batches), fp32 training; weights stored in fp16.

## Training
{{ training }}

## Accuracy (SST-2 dev, all {{ acc.n }} sentences, weights as stored)
**{{ "%.2f" | format(acc.accuracy * 100) }} %** ({{ acc.correct }}/{{ acc.n }}), 95 % Wilson interval
[{{ "%.2f" | format(acc.ci_low * 100) }}, {{ "%.2f" | format(acc.ci_high * 100) }}] %.

{{ extra }}

## Licence
Starts from {{ base_model }} (Apache-2.0); SST-2 from GLUE.
Attention maps and predictions of this small model are for teaching, not for production decisions.
"""


def model_card(title: str, recipe: str, hyperparameters: dict, data: LabelledTexts, fit: dict, acc: dict,
               extra: str) -> ModelCard:
    """The card of one model of the pair; `fit` and `acc` are what training and evaluation returned."""
    card_data = ModelCardData(
        language="en", license="apache-2.0", library_name="transformers", pipeline_tag="text-classification",
        base_model=BASE_MODEL, datasets=["nyu-mll/glue"], metrics=["accuracy"], model_name=title,
        eval_results=[EvalResult(task_type="text-classification", dataset_type="nyu-mll/glue", dataset_name="SST-2",
                                 dataset_config="sst2", dataset_split="validation", metric_type="accuracy",
                                 metric_value=round(acc["accuracy"], 4))],
    )
    training = (f"{fit['steps']} steps in {fit['train_seconds'] / 60:.1f} min ({fit['tokens_per_second']:.0f} real "
                f"tokens/s) on\n{platform.processor() or platform.machine()} with {torch.get_num_threads()} threads, "
                f"torch {torch.__version__}.")
    return ModelCard.from_template(
        card_data,
        template_str=_TEMPLATE,
        title=title,
        recipe=recipe,
        data_source=data.source,
        n_train=f"{len(data):,}",
        hyperparameters=json.dumps(hyperparameters, indent=2),
        training=training,
        acc=acc,
        extra=extra,
        base_model=BASE_MODEL,
    )
