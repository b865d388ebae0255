"""``unlearn score``: forget quality of two saved confidence matrices, from the shell.

Inputs: two ``.npy`` files holding [N models, S forget examples] logit-scaled confidences
(unlearned and retrained). Output: F, the per-example epsilons and the noise floor, as text
or (``--json``) one JSON object with at least ``estimator``, ``forget_quality``,
``epsilons``, ``n_models``, ``n_examples`` and ``noise_floor``. Bad input exits with code 2
and a message that says what to fix.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from harness.scoring import (
    DEFAULT_ESTIMATOR,
    ESTIMATORS,
    forget_quality,
    forget_quality_interval,
    get_estimator,
    noise_floor,
)

__all__ = ["score"]

BAD_INPUT_EXIT_CODE = 2


def _load_matrix(path: Path, label: str) -> np.ndarray:
    try:
        matrix = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise ValueError(f"{label} file not found: {path}") from None
    except (OSError, ValueError) as error:
        raise ValueError(f"{label} file {path} is not a readable .npy array ({error})") from None
    if not isinstance(matrix, np.ndarray) or not np.issubdtype(matrix.dtype, np.number):
        raise ValueError(f"{label} file {path} must hold a numeric array; got {matrix.dtype}")
    return matrix


def _result(
    unlearned_path: Path, retrained_path: Path, estimator: str, seed: int, bootstrap: int
) -> dict[str, Any]:
    chosen = get_estimator(estimator)
    unlearned = _load_matrix(unlearned_path, "--unlearned")
    retrained = _load_matrix(retrained_path, "--retrained")
    result = forget_quality(unlearned, retrained, estimator=estimator, seed=seed)
    payload = result.to_dict()
    payload["noise_floor"] = (
        noise_floor(retrained, estimator=estimator, seed=seed)
        if result.n_models // 2 >= chosen.min_models
        else None
    )
    if bootstrap:
        low, high = forget_quality_interval(
            unlearned, retrained, estimator=estimator, n_bootstrap=bootstrap, seed=seed
        )
        payload["forget_quality_ci"] = [low, high]
    return payload


def score(
    unlearned: Annotated[
        Path, typer.Option("--unlearned", help="[N, S] confidences of the unlearned models (.npy)")
    ],
    retrained: Annotated[
        Path, typer.Option("--retrained", help="[N, S] confidences of the retrained models (.npy)")
    ],
    estimator: Annotated[
        str, typer.Option(help=f"one of: {', '.join(sorted(ESTIMATORS))}")
    ] = DEFAULT_ESTIMATOR,
    seed: Annotated[int, typer.Option(help="seed of randomised estimators and resampling")] = 0,
    bootstrap: Annotated[
        int, typer.Option(help="bootstrap replicates for a 95% interval of F (0: none)")
    ] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Forget quality F of unlearned vs retrained confidences, with the noise floor."""
    try:
        payload = _result(unlearned, retrained, estimator, seed, bootstrap)
    except ValueError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=BAD_INPUT_EXIT_CODE) from None
    if as_json:
        typer.echo(json.dumps(payload))
        return
    floor = payload["noise_floor"]
    typer.echo(f"estimator       {payload['estimator']}")
    typer.echo(f"models/examples {payload['n_models']} x {payload['n_examples']}")
    typer.echo(f"forget quality  {payload['forget_quality']:.4f}")
    if "forget_quality_ci" in payload:
        low, high = payload["forget_quality_ci"]
        typer.echo(f"95% interval    [{low:.4f}, {high:.4f}]")
    typer.echo(
        "noise floor     "
        + ("n/a (too few models for two halves)" if floor is None else f"{floor:.4f}")
        + "  (F of retrained vs retrained halves: what a perfect unlearner scores)"
    )
    epsilons = np.asarray(payload["epsilons"])
    typer.echo(f"epsilon         median {np.median(epsilons):.3f}, max {epsilons.max():.3f}")
