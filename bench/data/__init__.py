"""Data sets: specs (shape, classes, statistics), loaders into fixed splits, DataLoaders."""

from bench.data.specs import DatasetSpec, get_dataset_spec, list_datasets
from bench.data.splits import DataSplits, load_splits, make_loader

__all__ = [
    "DataSplits",
    "DatasetSpec",
    "get_dataset_spec",
    "list_datasets",
    "load_splits",
    "make_loader",
]
