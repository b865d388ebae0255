"""The unlearning-challenge harness: data, models, sandboxed runs and scoring."""
