"""Where the tests find the project and the files it ships.

`SHIPPED_DEP_FILE` is the one place the tests name the dep file the product ships: if the planning package
moves, this line is the only one to change.
"""

import functools
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SHIPPED_DEP_FILE = PROJECT_ROOT / "upgrades" / "planning" / "depfiles" / "oceanbase_upgrade_dep.yml"


@functools.cache
def shipped_dep_yaml():
    """The text of the shipped `oceanbase_upgrade_dep.yml` (OceanBase's 4.0 to 4.3 history)."""
    return SHIPPED_DEP_FILE.read_text()
