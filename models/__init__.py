"""Conditional generators: ``MODELS`` maps each model's key (its file stem) to its class."""

from models.acgan import ACGAN
from models.base import ConditionalGenerator
from models.cgan import CGAN
from models.cvae import CVAE

MODELS: dict[str, type[ConditionalGenerator]] = {
    "cvae": CVAE,
    "cgan": CGAN,
    "acgan": ACGAN,
}

__all__ = ["MODELS", "ConditionalGenerator"]
