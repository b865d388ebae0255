"""Model registry: architectures by name, built from a small JSON-able spec.

A `ModelSpec` travels with every checkpoint (and into the sandbox as `model.json`), so that
weights can always be checked against the architecture they claim to be. Registered:

- `mlp`: the CPU default; flatten -> hidden layers with ReLU -> logits. No BatchNorm, so
  replicas batch cleanly with `torch.func` and runs are deterministic.
- `cnn`: a two-convolution network for small images.
- `resnet18`: torchvision `resnet18(num_classes=K)`, the 2023 competition's model (for grey
  images, `conv1` takes one input channel; names unchanged).
- `resnet18-small`: the same network and names at a quarter of the width, for CPU tests.

The names live in `harness.registry.MODELS` (light, so a phase is checked without torch),
each pointing at its `build_*` function here.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import cast

import torch
from torch import nn

from harness.errors import ConfigError
from harness.registry import MODELS

SMALL_RESNET_WIDTH = 16  # channels of resnet18-small's first layer (torchvision's: 64)

__all__ = ["MODELS", "ModelSpec", "build_model"]


@dataclass(frozen=True)
class ModelSpec:
    """Everything needed to rebuild an architecture: its registry name and shapes."""

    name: str
    num_classes: int
    input_shape: tuple[int, ...]
    hidden: tuple[int, ...] = field(default=(256, 256))

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ModelSpec:
        raw = json.loads(text)
        return cls(
            name=str(raw["name"]),
            num_classes=int(raw["num_classes"]),
            input_shape=tuple(int(d) for d in raw["input_shape"]),
            hidden=tuple(int(h) for h in raw.get("hidden", (256, 256))),
        )


def build_mlp(spec: ModelSpec) -> nn.Module:
    layers: list[nn.Module] = [nn.Flatten()]
    width = math.prod(spec.input_shape)
    for hidden in spec.hidden:
        layers += [nn.Linear(width, hidden), nn.ReLU()]
        width = hidden
    layers.append(nn.Linear(width, spec.num_classes))
    return nn.Sequential(*layers)


def build_cnn(spec: ModelSpec) -> nn.Module:
    if len(spec.input_shape) != 3:
        raise ConfigError(f"cnn needs images shaped (C, H, W), got input_shape={spec.input_shape}")
    channels, height, width = spec.input_shape
    return nn.Sequential(
        nn.Conv2d(channels, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(2),
        nn.Flatten(),
        nn.Linear(64 * 4, spec.num_classes),
    )


def _image_channels(spec: ModelSpec, name: str) -> int:
    if len(spec.input_shape) != 3:
        raise ConfigError(
            f"{name} needs images shaped (C, H, W), got input_shape={spec.input_shape}"
        )
    return spec.input_shape[0]


def build_resnet18(spec: ModelSpec) -> nn.Module:
    from torchvision.models import resnet18

    model: nn.Module = resnet18(num_classes=spec.num_classes)
    channels = _image_channels(spec, "resnet18")
    if channels != 3:  # grey images: the same layer, names and shape but its input channels
        model.conv1 = nn.Conv2d(channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
    return model


def build_resnet18_small(spec: ModelSpec) -> nn.Module:
    """torchvision's ResNet-18 at a quarter of the width (16..128 channels), for CPU tests.

    Built from torchvision's own `ResNet` and `BasicBlock`, so every attribute and parameter
    name (`conv1`, `bn1`, `layer1`..`layer4`, `fc`, `...downsample.1.running_mean`) is the
    one a 2023 submission reads; only the channel counts differ.
    """
    from torchvision.models.resnet import BasicBlock, ResNet

    width = SMALL_RESNET_WIDTH
    model = ResNet(BasicBlock, [2, 2, 2, 2], num_classes=spec.num_classes)
    model.inplanes = width
    model.conv1 = nn.Conv2d(
        _image_channels(spec, "resnet18-small"), width, 7, stride=2, padding=3, bias=False
    )
    model.bn1 = nn.BatchNorm2d(width)
    model.layer1 = model._make_layer(BasicBlock, width, 2)
    model.layer2 = model._make_layer(BasicBlock, width * 2, 2, stride=2)
    model.layer3 = model._make_layer(BasicBlock, width * 4, 2, stride=2)
    model.layer4 = model._make_layer(BasicBlock, width * 8, 2, stride=2)
    model.fc = nn.Linear(width * 8, spec.num_classes)
    for module in model.modules():  # torchvision's initialisation, on the new layers
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
    return cast(nn.Module, model)  # torchvision is untyped


def build_model(spec: ModelSpec) -> nn.Module:
    """A freshly initialised model for `spec` (initialisation follows torch's global RNG)."""
    try:
        factory = MODELS[spec.name]
    except KeyError:
        raise ConfigError(
            f"unknown model {spec.name!r}; registered models: {', '.join(sorted(MODELS))}"
        ) from None
    model = factory(spec)
    return model.to(torch.float32)
