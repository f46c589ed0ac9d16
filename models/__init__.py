"""Conditional generators: ``MODELS`` maps each model's key (its file stem) to its class."""

from models.acgan import ACGAN
from models.base import ConditionalGenerator
from models.cgan import CGAN
from models.cgml import CGML
from models.csvae import CSVAE
from models.cvae import CVAE
from models.lc import LC

MODELS: dict[str, type[ConditionalGenerator]] = {
    "cvae": CVAE,
    "cgan": CGAN,
    "acgan": ACGAN,
    "lc": LC,
    "csvae": CSVAE,
    "cgml": CGML,
}

__all__ = ["MODELS", "ConditionalGenerator"]
