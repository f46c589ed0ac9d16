"""Conditional generators: ``MODELS`` maps each model's key (its file stem) to its class."""

from models.base import ConditionalGenerator
from models.cvae import CVAE

MODELS: dict[str, type[ConditionalGenerator]] = {
    "cvae": CVAE,
}

__all__ = ["MODELS", "ConditionalGenerator"]
