"""The phase form's fields: what each one is, its choices, and the way back and forth between
a form post and the body the JSON API validates.

    FIELDS                          every field of the form, in order, with its label and group
    choices(field)                  a select's options, read from the harness's registries now
    form_values(phase)              a phase (or None: a new one) as the form's strings
    form_body(raw, editable, phase) a form post -> the PhaseCreate/PhaseUpdate input + errors
    field_errors(ValidationError)   the validator's errors, one per form field, in its label's words

The rules live in one place, `api.schemas.PhaseCreate`/`PhaseUpdate` (which call the harness's
phase schema): this module only turns the separate fields into that body (the split and the
recipe are assembled into their dicts, the dates read as UTC) and turns the validator's
errors back into the field they belong to. A value the form cannot even read (a letter in a
number field) is the only error found here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC
from typing import Any, Literal

from pydantic import ValidationError

from api.pages import words
from competition.models import Phase
from harness import phase as harness_phase
from harness import registry
from harness.phase_schema import flat_fields
from harness.scoring import estimators, racing

__all__ = [
    "FIELDS",
    "GROUPS",
    "Field",
    "choices",
    "field_errors",
    "form_body",
    "form_values",
    "in_form_order",
    "label_words",
]

Kind = Literal["text", "area", "number", "datetime", "select", "flag"]
Group = Literal["phase", "experiment", "split", "recipe", "racing", "submissions"]
Choices = Callable[[], list[tuple[str, str]]]

GROUPS: tuple[tuple[Group, str], ...] = (
    ("phase", "The phase"),
    ("experiment", "What is evaluated"),
    ("split", "Forget set and split"),
    ("recipe", "Training recipe of the original and retrained models"),
    ("racing", "Racing (stop hopeless submissions early)"),
    ("submissions", "Submissions"),
)


def _names(entries: Mapping[str, Any], table: dict[str, str] | None = None) -> Choices:
    # The registry is read when the form is drawn: a newly registered entry is offered.
    return lambda: [(name, words.words(table or {}, name)) for name in entries]


def _fixed(*options: tuple[str, str]) -> Choices:
    return lambda: list(options)


@dataclass(frozen=True)
class Field:
    """One form field. `target` is the body's field it fills; `key` its key inside the split
    spec, the recipe or the racing settings (None: the field is the body's own)."""

    name: str
    label: str
    group: Group
    kind: Kind = "text"
    hint: str = ""
    target: str = ""
    key: str | None = None
    cast: type = str
    options: Choices | None = None
    placeholder: str = ""

    @property
    def body_field(self) -> str:
        return self.target or self.name


def _split(key: str, label: str, cast: type, hint: str = "", **kw: Any) -> Field:
    default = harness_phase.SplitConfig.model_fields[key].default
    return Field(
        f"split_{key}", label, "split", kw.pop("kind", "number"), hint or f"Default {default}.",
        "split_spec", key, cast, placeholder=str(default), **kw,
    )  # fmt: skip


def _recipe(key: str, label: str, cast: type, hint: str = "", **kw: Any) -> Field:
    return Field(
        f"recipe_{key}", label, "recipe", kw.pop("kind", "number"),
        hint or "Empty: the preset's value.", "recipe", key, cast, **kw,
    )  # fmt: skip


def _racing(key: str, label: str, cast: type, hint: str, **kw: Any) -> Field:
    default = getattr(racing.RacingConfig(), key)
    return Field(
        f"racing_{key}", label, "racing", kw.pop("kind", "number"), f"{hint} Default {default}.",
        "racing", key, cast, placeholder=str(default), **kw,
    )  # fmt: skip


PRESET_CHOICE: Choices = _names(harness_phase.RECIPES)
KEEP = ("", "the preset's")

FIELDS: tuple[Field, ...] = (
    Field("name", "Name", "phase", hint="Unique; shown on every page."),
    Field("description", "Description (Markdown)", "phase", "area",
          "Shown on the phase page; HTML is escaped."),
    Field("starts_at", "Opens", "phase", "datetime", "Date and time in UTC."),
    Field("ends_at", "Closes", "phase", "datetime",
          "In UTC, after the opening; the private leaderboard is revealed then."),
    Field("dataset", "Dataset", "experiment", "select",
          options=_names(registry.DATASETS, {"mnist1d": "mnist1d (embedded, no download)"})),
    Field("dataset_path", "Dataset folder", "experiment", hint="On the workers; needed by "
          "cifar10 and folder, empty for the others.", target="dataset"),
    Field("model", "Model", "experiment", "select", options=_names(registry.MODELS)),
    Field("interface", "Batches given to submissions", "experiment", "select",
          options=_names(registry.INTERFACES, words.INTERFACE)),
    Field("replicas", "Runs N", "experiment", "number",
          "Unlearning runs and retrained models per side, 2 to 10000."),
    Field("estimator", "Estimator", "experiment", "select",
          options=_names(estimators.ESTIMATORS, words.ESTIMATOR)),
    Field("max_run_fraction", "Efficiency gate", "experiment", "number",
          "Largest median run time, as a fraction of one retraining (0.2 = 20%)."),
    _split("forget_mode", "Forget", str, "Default random.", kind="select",
           options=lambda: [(m, words.words(words.FORGET_MODE, m))
                            for m in harness_phase.FORGET_MODES]),
    _split("forget_fraction", "Forget fraction", float,
           "Share of the training set forgotten when the forget set is random (0.02 = 2%)."),
    _split("forget_count", "Classes or groups forgotten", int,
           "When whole classes or groups are forgotten."),
    _split("val_fraction", "Validation fraction", float),
    _split("test_fraction", "Test fraction", float),
    _split("data_seed", "Seed of the train/validation/test split", int),
    _split("dev_seed", "Seed of the development split", int,
           "Published: participants dry-run on this split."),
    Field("recipe_preset", "Preset", "recipe", "select", "The recipe the fields below change.",
          "recipe", "preset", options=PRESET_CHOICE),
    _recipe("epochs", "Epochs", int),
    _recipe("batch_size", "Batch size", int),
    _recipe("lr", "Learning rate", float),
    _recipe("optimizer", "Optimizer", str, kind="select",
            options=_fixed(KEEP, ("adam", "Adam"), ("sgd", "SGD"))),
    _recipe("momentum", "Momentum (SGD)", float),
    _recipe("weight_decay", "Weight decay", float),
    _recipe("schedule", "Learning-rate schedule", str, kind="select",
            options=_fixed(KEEP, ("constant", "constant"), ("cosine", "cosine, to zero"))),
    _recipe("class_weighted", "Weight classes by inverse frequency", bool, kind="select",
            options=_fixed(KEEP, ("yes", "yes"), ("no", "no"))),
    Field("racing_on", "Race: evaluate in rounds and stop a submission that cannot reach "
          "the top", "racing", "flag", target="racing"),
    _racing("rule", "Racing rule", str, "Which bounds may stop a submission.", kind="select",
            options=lambda: [(r, words.words(words.RACING_RULE, r)) for r in racing.RULES]),
    _racing("top_k", "Rows always run in full", int, "The leading rows get the full N."),
    _racing("first_round", "Seeds in the first round", int, "Rounds double up to N."),
    _racing("error_rate", "Error rate", float,
            "Chance of stopping a submission that would reach the top."),
    Field("daily_quota", "Daily quota", "submissions", "number",
          "Submissions per team per UTC day."),
    Field("max_in_flight", "At once", "submissions", "number",
          "A team's submissions evaluated at the same time; 0: no cap."),
    Field("show_logs", "Show each submission's own output to its team (development phases "
          "only)", "submissions", "flag"),
    Field("sanity_check_required", "Run a short sanity check first", "submissions", "flag"),
)  # fmt: skip
BY_NAME = {field.name: field for field in FIELDS}
RECIPE_DEFAULT_PRESET = harness_phase.DEFAULT_PRESET
_EXPERIMENT = harness_phase.PhaseConfig()  # the phase model's defaults
NEW_PHASE_DEFAULTS = {
    "dataset": _EXPERIMENT.dataset.kind,
    "model": _EXPERIMENT.model,
    "replicas": str(_EXPERIMENT.replicas),
    "max_run_fraction": str(_EXPERIMENT.max_run_fraction),
    "daily_quota": str(Phase.__table__.c.daily_quota.default.arg),
    "max_in_flight": "0",
    "interface": _EXPERIMENT.interface,
    "estimator": _EXPERIMENT.estimator,
    "recipe_preset": RECIPE_DEFAULT_PRESET,
    "sanity_check_required": "on",
}


def choices(field: Field) -> list[tuple[str, str]]:
    return field.options() if field.options else []


def _text(value: Any, cast: type) -> str:
    if value is None:
        return ""
    if cast is bool:
        return "yes" if value else "no"
    return str(value)


def form_values(phase: Phase | None) -> dict[str, str]:
    """The form's strings for a phase (its stored values) or a new one (the defaults)."""
    if phase is None:
        return dict(NEW_PHASE_DEFAULTS)
    values: dict[str, str] = {}
    flat = flat_fields(phase.config)  # the experiment as the API's flat body writes it
    nested = {name: flat[name] for name in ("split_spec", "recipe", "racing")}
    for field in FIELDS:
        if field.kind == "flag" and field.name != "racing_on":
            values[field.name] = "on" if getattr(phase, field.name) else ""
        elif field.key is not None:
            values[field.name] = _text((nested[field.target] or {}).get(field.key), field.cast)
        elif field.kind == "datetime":
            values[field.name] = (
                getattr(phase, field.name).astimezone(UTC).strftime("%Y-%m-%dT%H:%M")
            )
    kind, _, path = flat["dataset"].partition(":")
    values.update(dataset=kind, dataset_path=path, racing_on="on" if flat["racing"] else "")
    values["recipe_preset"] = flat["recipe"].get("preset", RECIPE_DEFAULT_PRESET)
    for name in ("model", "interface", "estimator", "replicas", "max_run_fraction"):
        values[name] = str(flat[name])
    for name in ("name", "description", "daily_quota", "max_in_flight"):
        values[name] = str(getattr(phase, name))
    return values


def _utc(value: str) -> str:
    # A datetime-local input sends "2026-12-01T20:00" with no zone: the form says it is UTC.
    text = value.strip().replace(" ", "T")
    if text and not (text.endswith("Z") or "+" in text[10:] or "-" in text[10:]):
        text += "Z"
    return text


def _cast(field: Field, value: str) -> Any:
    """A field's text as its type; ValueError with the label's words if it cannot be read."""
    if field.cast is bool:
        return value == "yes"
    if field.cast is int:
        try:
            return int(value)
        except ValueError:
            raise ValueError(f"{field.label} must be a whole number.") from None
    if field.cast is float:
        try:
            return float(value)
        except ValueError:
            raise ValueError(f"{field.label} must be a number.") from None
    return value


def form_body(
    raw: dict[str, str], editable: tuple[str, ...] | None, phase: Phase | None
) -> tuple[dict[str, Any], dict[str, str]]:
    """A form post as the JSON API's body, for the body fields in `editable` (None: all).

    The split spec, recipe and racing settings are assembled from their fields (an empty
    field is left out, so the default applies); on an edit, recipe keys the form does not
    show (a phase file's `hidden`, `run_batch_size`) are kept.
    """
    data: dict[str, Any] = {}
    errors: dict[str, str] = {}
    nested: dict[str, dict[str, Any]] = {"split_spec": {}, "recipe": {}, "racing": {}}
    if phase is not None:
        shown = {f.key for f in FIELDS if f.target == "recipe"}
        recipe = flat_fields(phase.config)["recipe"]
        nested["recipe"] = {k: v for k, v in recipe.items() if k not in shown}
    for field in FIELDS:
        if editable is not None and field.body_field not in editable:
            continue
        value = raw.get(field.name, "")
        if field.key is not None:
            if not value.strip():
                continue
            try:
                nested[field.target][field.key] = _cast(field, value.strip())
            except ValueError as exc:
                errors[field.name] = str(exc)
        elif field.kind == "flag":
            if field.name != "racing_on":
                data[field.name] = value == "on"
        elif field.kind == "datetime":
            if value.strip():
                data[field.name] = _utc(value)
        elif field.name == "dataset_path":
            continue
        elif field.name == "description":
            data[field.name] = value
        elif value.strip() or field.kind not in ("number", "select"):  # empty: the default
            data[field.name] = value.strip()
    if "dataset" in data and raw.get("dataset_path", "").strip():
        data["dataset"] += ":" + raw["dataset_path"].strip()
    if nested["recipe"].get("preset") == RECIPE_DEFAULT_PRESET:
        del nested["recipe"]["preset"]  # the default, stored as the JSON API's {} stores it
    for target in ("split_spec", "recipe"):
        if editable is None or target in editable:
            data[target] = nested[target]
    if editable is None:
        data["racing"] = nested["racing"] if raw.get("racing_on") == "on" else None
    return data, errors


# Internal names in the validator's messages -> the form field they belong to.
_PATHS = {
    "dataset.kind": "dataset",
    "dataset.path": "dataset_path",
    "split": "split_forget_fraction",
    "split_spec": "split_forget_fraction",
    "recipe": "recipe_preset",
    **{f"{f.target}.{f.key}": f.name for f in FIELDS if f.key is not None},
    **{f"split.{f.key}": f.name for f in FIELDS if f.target == "split_spec"},
    **{f.name: f.name for f in FIELDS},
    **{f.key: f.name for f in FIELDS if f.key is not None and f.target != "racing"},
}
_PATHS.update(preset="recipe_preset", replicas="replicas")
# Where a problem of a whole group goes when its message names no field of it.
_GROUP_FIELDS = ("split_forget_fraction", "recipe_preset")
# Names that cannot be plain English ("model" can), longest first, so `forget_fraction` is
# found before a shorter name inside it.
_NAMES = sorted(
    (name for name in _PATHS if "_" in name or "." in name or name == "replicas"),
    key=len,
    reverse=True,
)
_REWORD = (
    (re.compile(r"^Input should be greater than or equal to (\S+)"), r"must be at least \1"),
    (re.compile(r"^Input should be less than or equal to (\S+)"), r"must be at most \1"),
    (re.compile(r"^Input should be greater than (\S+)"), r"must be more than \1"),
    (re.compile(r"^Input should be less than (\S+)"), r"must be less than \1"),
    (re.compile(r"^Input should be a valid integer.*"), "must be a whole number"),
    (re.compile(r"^Input should be a valid number.*"), "must be a number"),
    (re.compile(r"^Input should be a valid datetime.*"), "must be a date and time"),
    (re.compile(r"^Input should be ('.*' or '.*')$"), r"must be one of \1"),
    (re.compile(r"^Input should be (.*)"), r"must be \1"),
    (re.compile(r"^(Field required|String should have at least 1 character)$"), "is required"),
    (re.compile(r"^String should have at most (\d+) characters?$"), r"is too long (at most \1 "
     "characters)"),
)  # fmt: skip


def label_words(text: str) -> str:
    """A message with the internal field names in it replaced by the form's labels."""
    for name in _NAMES:
        field = BY_NAME[_PATHS[name]]
        text = re.sub(rf"(?<![\w.]){re.escape(name)}(?![\w.])", field.label, text)
    return text


def _field_of(path: str, message: str) -> str:
    """The form field of a problem: the most precise known part of its path, or, where that
    is only a group (the split spec, the recipe), the field its message names."""
    parts = [p for p in path.split(".") if p and not p.startswith("function")]
    best = None
    for size in range(len(parts), 0, -1):  # longest, then rightmost
        for start in range(len(parts) - size, -1, -1):
            best = best or _PATHS.get(".".join(parts[start : start + size]))
    if best is None or best in _GROUP_FIELDS:  # the field the message names first
        named = [
            (found.start(), -len(name), _PATHS[name])
            for name in _NAMES
            if _PATHS[name] not in _GROUP_FIELDS
            and (found := re.search(rf"(?<![\w.]){re.escape(name)}(?![\w.])", message))
        ]
        if named:
            return min(named)[2]
    return best or "form"


def _sentence(field: str, message: str) -> str:
    message = message.strip().rstrip(".")
    for pattern, replacement in _REWORD:
        if pattern.match(message):
            label = BY_NAME[field].label if field in BY_NAME else "This field"
            return f"{label} {pattern.sub(replacement, message).replace(chr(39), '')}."
    worded = words.sentence(label_words(message))
    if field in BY_NAME and not worded.startswith(BY_NAME[field].label):
        worded = f"{BY_NAME[field].label}: {worded[:1].lower()}{worded[1:]}"
    return worded + "."


def _problems(path: str, message: str) -> list[tuple[str, str]]:
    """(path, message) pairs; the harness's `invalid phase: a: ...; b: ...` split apart."""
    message = re.sub(r"^(split_spec|recipe): ", "", message.removeprefix("Value error, "))
    if not message.startswith("invalid phase: "):  # one message, which may name its field
        return [(path, message)]
    found = []
    for part in message.removeprefix("invalid phase: ").split("; "):
        head, sep, rest = part.partition(": ")
        if sep and re.fullmatch(r"[\w.\[\]',-]+", head):
            found.append((f"{path}.{head}".strip("."), rest))
        else:
            found.append((path, part))
    # A recipe given as a table fails the "preset name" branch too: only its own errors count.
    tables = {where.split(".")[0] for where, _ in found if "Schema." in where}
    return [
        (where, text) for where, text in found
        if not ("literal[" in where and where.split(".")[0] in tables)
    ]  # fmt: skip


def field_errors(exc: ValidationError) -> dict[str, str]:
    """One message per form field (the first), in the field's label's words."""
    found: dict[str, str] = {}
    for err in exc.errors():
        path = ".".join(str(part) for part in err["loc"])
        for where, message in _problems(path, str(err["msg"])):
            field = _field_of(where, message)
            found.setdefault(field, _sentence(field, message))
    return found


def in_form_order(errors: dict[str, str]) -> dict[str, str]:
    """The errors in the order of the form's fields (a problem of no field first)."""
    order = {field.name: index for index, field in enumerate(FIELDS)}
    return dict(sorted(errors.items(), key=lambda item: order.get(item[0], -1)))


def message_errors(message: str) -> dict[str, str]:
    """A plain message (a conflict from the data layer) beside the field it names."""
    field = _field_of("", message)
    return {field: _sentence(field, message)}
