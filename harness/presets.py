"""Phase presets: a whole phase's settings by name, as an organizer starts from them.

    PHASE_PRESETS["competition"]        the NeurIPS 2023 setting
    PHASE_PRESETS["competition-fast"]   the same with the `resnet-fast` recipe and 64 models
    PHASE_PRESETS[name].fields()        -> phase-schema fields (`harness.phase_schema`)
    with_preset(raw)                    -> raw's `preset` filled in, raw's fields winning

A preset fixes everything but the data: the organizer brings a set shaped as the preset
expects (`inputs`) and may override any field (the server's `POST /phases` takes `preset`
beside the fields it changes; a test cuts the epochs and replicas this way). A phase file's
`preset = "..."` and `unlearn dry-run --preset` are read by `with_preset`, with the same
rule: the fields given beside it win, key by key inside `recipe` and `split`. The 2023 setting
(docs/evaluation.md, DESIGN.md section 3): 32x32 RGB face images in 10 age groups,
torchvision's ResNet-18, 30 epochs of the `competition` recipe, the forget set = every train
image of 15 subjects (groups), N = 512 models per side, the `neurips2023` rule, runs slower
than 20% of a retraining rejected, batches as the Kaggle template's dicts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.errors import ConfigError

__all__ = ["PHASE_PRESETS", "PhasePreset", "phase_preset", "with_preset"]


@dataclass(frozen=True)
class PhasePreset:
    """A phase's settings but its data; `inputs` says what data it expects (for people)."""

    description: str
    inputs: str
    model: str
    recipe: str  # a preset of `harness.phase.RECIPES`
    split: dict[str, Any] = field(default_factory=dict)  # SplitConfig fields
    replicas: int = 64
    estimator: str = "neurips2023"
    interface: str = "tuple"
    max_run_fraction: float = 0.2

    def fields(self) -> dict[str, Any]:
        """The preset as phase-schema fields (no dataset): a phase file's or dry-run's raw."""
        return {
            "model": self.model,
            "recipe": self.recipe,
            "split": dict(self.split),
            "replicas": self.replicas,
            "estimator": self.estimator,
            "interface": self.interface,
            "max_run_fraction": self.max_run_fraction,
        }


SUBJECTS_2023 = {"forget_mode": "groups", "forget_count": 15}  # all images of 15 people
FACES_2023 = "3x32x32 RGB images, 10 classes (age groups), a group (subject) id per image"

PHASE_PRESETS: dict[str, PhasePreset] = {
    "competition": PhasePreset(
        description="the NeurIPS 2023 Machine Unlearning Challenge's setting",
        inputs=FACES_2023,
        model="resnet18",
        recipe="competition",
        split=SUBJECTS_2023,
        replicas=512,
        interface="kaggle2023",
    ),
    "competition-fast": PhasePreset(
        description="the 2023 setting at a fraction of its training: the resnet-fast "
        "recipe (10 epochs) and 64 models per side",
        inputs=FACES_2023,
        model="resnet18",
        recipe="resnet-fast",
        split=SUBJECTS_2023,
        replicas=64,
        interface="kaggle2023",
    ),
}


def phase_preset(name: str) -> PhasePreset:
    """The preset `name`, or a ConfigError naming the registered ones."""
    try:
        return PHASE_PRESETS[name]
    except KeyError:
        raise ConfigError(
            f"unknown phase preset {name!r}; choose one of {', '.join(PHASE_PRESETS)}"
        ) from None


def with_preset(raw: dict[str, Any], *, split_key: str = "split") -> dict[str, Any]:
    """Phase fields with raw's `preset` (if any) filled in beneath them.

    The fields given beside the preset win, key by key inside `recipe` (a table starting
    from the preset's recipe) and the split (`split` in a phase file, `split_spec` in the
    server's flat body: `split_key`); ConfigError for an unknown preset."""
    if raw.get("preset") is None:
        return {key: value for key, value in raw.items() if key != "preset"}
    name = raw["preset"]
    if not isinstance(name, str):
        raise ConfigError(f"preset must be a preset's name, got {name!r}")
    merged = phase_preset(name).fields()
    merged["recipe"] = {"preset": merged["recipe"]}
    merged[split_key] = merged.pop("split")
    for key, value in raw.items():
        if key == "preset":
            continue
        if key in ("recipe", split_key) and isinstance(value, dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged
