"""Shared DataModules: every model of the suite trains and is scored on the same data."""

from datamodules.base import COND_KINDS, ConditionalDataModule, DataNotFoundError
from datamodules.mnist import MNISTDataModule
from datamodules.synthetic import SyntheticDataModule

__all__ = [
    "COND_KINDS",
    "ConditionalDataModule",
    "DataNotFoundError",
    "MNISTDataModule",
    "SyntheticDataModule",
]
