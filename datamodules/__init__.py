"""Shared DataModules: every model of the suite trains and is scored on the same data."""

from datamodules.base import COND_KINDS, ConditionalDataModule, DataNotFoundError
from datamodules.celeba import CelebADataModule
from datamodules.colorization import ColorizationDataModule
from datamodules.completion import CompletionDataModule, MultimodalCompletionDataModule
from datamodules.mnist import MNISTDataModule
from datamodules.synthetic import SyntheticDataModule

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
