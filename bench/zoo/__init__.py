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
from bench.zoo.registry import (
    ModelConfig,
    ModelSpec,
    Reference,
    create_model,
    get_model_spec,
    list_models,
    register_model,
    resolve_model_names,
)

__all__ = [
    "ModelConfig",
    "ModelSpec",
    "Reference",
    "create_model",
    "get_model_spec",
    "list_models",
    "register_model",
    "resolve_model_names",
]
