"""Running the project's migrations back and forth inside a test (tests of data migrations)."""

from django.db import connection
from django.db.migrations.executor import MigrationExecutor


def migrate_to(target=None):
    """Migrate `upgrades` to `target` (None: every app to its latest migration); returns the apps there."""
    executor = MigrationExecutor(connection)
    targets = [("upgrades", target)] if target else executor.loader.graph.leaf_nodes()
    executor.migrate(targets)
    executor.loader.build_graph()
    return executor.loader.project_state(targets).apps
