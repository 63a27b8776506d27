"""The classic CNN model zoo: a timm-style registry over one file per architecture family."""

# Importing a family module registers its models.
from bench.zoo import (  # noqa: F401
    alexnet,
    cifar_resnet,
    densenet,
    googlenet,
    inception,
    lenet,
    nin,
    resnet,
    vgg,
)
from bench.zoo.builder import check_build_options, create_model
from bench.zoo.registry import (
    get_model_spec,
    list_models,
    register_model,
    resolve_model_names,
)
from bench.zoo.spec import ModelConfig, ModelSpec, Reference

__all__ = [
    "ModelConfig",
    "ModelSpec",
    "Reference",
    "check_build_options",
    "create_model",
    "get_model_spec",
    "list_models",
    "register_model",
    "resolve_model_names",
]
