"""Kept importable for code written before the move: the factories live in `tests.support.factories`."""

from tests.support.factories import *  # noqa: F403
from tests.support.factories import __all__  # noqa: F401
