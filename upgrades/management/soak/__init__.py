"""`manage.py soak`: the chaos soak of the scale-out profile (README: The chaos soak).

- driver: the run (private services through upgrades.operations.processes, upgrades, faults, watchers, report);
- chaos: the faults and their repair; watch: the websocket watchers; fleet: the soak's clusters, packages and
  watcher session; facts: what the checks read from the database; checks: the verdicts, pure functions.
"""
