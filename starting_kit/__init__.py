"""The participant's starting kit: baselines, the baseline table generator, the walkthrough."""
