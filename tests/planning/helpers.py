"""Planning-specific setup: the hand-written dep files in tests/planning/depfiles/ and a plan's checks by key.
The shipped dep file, named builds and package rows come from tests/support/."""

from pathlib import Path

DEPFILES = Path(__file__).parent / "depfiles"


def depfile(name):
    return (DEPFILES / name).read_text()


def checks_by_key(plan):
    return {check.key: check for check in plan.checks}
