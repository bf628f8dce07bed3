import pytest

from tests.campaigns.helpers import scheduler_ticks_only_when_called


@pytest.fixture(autouse=True)
def _only_the_tests_tick():
    with scheduler_ticks_only_when_called():
        yield
