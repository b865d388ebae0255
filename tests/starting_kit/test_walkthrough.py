"""The walkthrough notebook executes from top to bottom (on a tiny phase), so it never rots."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

KIT = Path(__file__).resolve().parents[2] / "starting_kit"


@pytest.mark.slow
def test_walkthrough_notebook_executes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Small but real: 16 models per side (the calibrated noise floor needs two halves of 8),
    # sklearn's digits (shipped in its wheel), 2 training epochs.
    monkeypatch.setenv("WALKTHROUGH_REPLICAS", "16")
    monkeypatch.setenv("WALKTHROUGH_EPOCHS", "2")
    monkeypatch.setenv("WALKTHROUGH_DATASET", "digits")
    monkeypatch.setenv("WALKTHROUGH_CACHE_DIR", str(tmp_path / "cache"))
    notebook = nbformat.read(KIT / "walkthrough.ipynb", as_version=4)
    client = NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(KIT)}}
    )
    client.execute()
    outputs = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
    ]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    assert "forget quality F" in text and "do_nothing: F = 0.000" in text
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) == 5  # the data, the three report plots, the close-up
