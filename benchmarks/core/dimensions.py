"""A model's sizes read from its config under either name: BERT's (num_hidden_layers, hidden_size, ...) or
DistilBERT's (n_layers, dim, ...), from a loaded config object or a raw config.json alike."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# what -> (BERT name, DistilBERT name, transformers' BERT default)
NAMES = {
    "layers": ("num_hidden_layers", "n_layers", 12),
    "hidden": ("hidden_size", "dim", 768),
    "heads": ("num_attention_heads", "n_heads", 12),
    "vocab": ("vocab_size", "vocab_size", 30_522),
    "intermediate": ("intermediate_size", "hidden_dim", 3_072),
    "positions": ("max_position_embeddings", "max_position_embeddings", 512),
}


def dimension(config: Mapping | object, what: str) -> Any:
    """The raw value (unchecked: a config.json may hold anything) of `what` (a key of NAMES), under the BERT name,
    else the DistilBERT one, else transformers' BERT default."""
    bert, distil, default = NAMES[what]
    if isinstance(config, Mapping):
        return config.get(bert, config.get(distil, default))
    value = getattr(config, bert, None)
    return value if value is not None else getattr(config, distil, default)

