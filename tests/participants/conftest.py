"""The sandbox fixtures (image built from this tree, test-sized settings) for these tests."""

from tests.sandbox.conftest import sandbox_image, test_settings

__all__ = ["sandbox_image", "test_settings"]
