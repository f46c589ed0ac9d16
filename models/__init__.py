"""Conditional generators: ``MODELS`` maps each model's key (its file stem) to its class."""

from cgbench.models.acgan import ACGAN
from cgbench.models.base import ConditionalGenerator
from cgbench.models.cgan import CGAN
from cgbench.models.cgml import CGML
from cgbench.models.csvae import CSVAE
from cgbench.models.cvae import CVAE
from cgbench.models.lc import LC

MODELS: dict[str, type[ConditionalGenerator]] = {
    "cvae": CVAE,
    "cgan": CGAN,
    "acgan": ACGAN,
    "lc": LC,
    "csvae": CSVAE,
    "cgml": CGML,
}

__all__ = ["MODELS", "ConditionalGenerator"]
