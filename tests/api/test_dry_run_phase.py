"""`unlearn dry-run --phase ID --server URL` (the command a phase page shows) takes the
server's phase settings from its public JSON, through the one phase schema."""

from __future__ import annotations

import pytest
import typer

from harness.phase_schema import public_phase
from unlearn.participant import fetch_phase


@pytest.mark.parametrize("migrated_url", ["sqlite"], indirect=True)
def test_server_phase_reads_the_phase_settings(live_server, world):
    body = fetch_phase(world.phase_id, server=live_server.url)
    phase = public_phase(body)
    assert (phase.dataset.kind, phase.model, phase.replicas) == ("mnist1d", "mlp", 8)
    assert phase.estimator == "neurips2023" and phase.max_run_fraction == 0.2
    assert phase.recipe.epochs == 3
    assert phase.split.dev_seed == body["split_spec"]["dev_seed"]  # the published dev split


@pytest.mark.parametrize("migrated_url", ["sqlite"], indirect=True)
def test_server_phase_says_what_is_wrong(live_server, world, capsys):
    with pytest.raises(typer.Exit):
        fetch_phase(999, server=live_server.url)
    assert "phase 999 not found" in capsys.readouterr().err
    with pytest.raises(typer.Exit):
        fetch_phase(world.phase_id, server="http://127.0.0.1:9")
    assert "127.0.0.1:9" in capsys.readouterr().err
