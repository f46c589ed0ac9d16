"""Shared DataModules: every model of the suite trains and is scored on the same data."""

from cgbench.datamodules.base import COND_KINDS, ConditionalDataModule, DataNotFoundError
from cgbench.datamodules.celeba import CelebADataModule
from cgbench.datamodules.colorization import ColorizationDataModule
from cgbench.datamodules.completion import CompletionDataModule, MultimodalCompletionDataModule
from cgbench.datamodules.mnist import MNISTDataModule
from cgbench.datamodules.synthetic import SyntheticDataModule

__all__ = [
    "COND_KINDS",
    "CelebADataModule",
    "ColorizationDataModule",
    "CompletionDataModule",
    "ConditionalDataModule",
    "DataNotFoundError",
    "MNISTDataModule",
    "MultimodalCompletionDataModule",
    "SyntheticDataModule",
]
