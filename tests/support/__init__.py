"""Shared test support: one home for what more than one test folder needs. Folder-specific helpers stay in
that folder's helpers.py; shared fixtures are registered for every test by tests/conftest.py.

- builds.py       the OceanBase builds tests install, named `OB_<version>_<build date>` (`Build`: version,
                  release, build_number, build_version, label).
- paths.py        the project root and the shipped dep file (`SHIPPED_DEP_FILE`, `shipped_dep_yaml()`): the
                  one line to change if the planning package moves.
- factories.py    clusters (`make_cluster`, starting on `START_BUILD`) and users (`make_user`) made through
                  the product's services.
- packages.py     package rows (`add_package`, `add_packages`, `stock_packages`) and real RPM files
                  (`write_rpms`, `ingest_rpms`).
- dags.py         `start_upgrade(cluster, build, ...)`: the one way tests start an upgrade DAG.
- history.py      finished runs made as rows with chosen stage durations (`finished_run`, `done`): duration
                  statistics and stalls.
- waiting.py      `wait_until(predicate, timeout=..., what=...)`: the one polling loop (with a deadline), and
                  the states tests wait for (`wait_until_running`, `wait_for_idle_engine`).
- live_server.py  `LiveServer`: daphne in a spawned child on the test database (`database_url()`,
                  `child_environment()` hand the database to any child process, SQLite or PostgreSQL).
- fixtures.py     fixtures for every folder (`live_server_factory`, `fast_password_hashing`, `target`,
                  `as_role`).
- migrations.py   `migrate_to(target)`: migrate back to a migration and forward again (data-migration tests).
- environment.py  what the machine provides: `IN_CI`, `CHROMIUM`, `missing_service()`.
- spec_nodes.py   spec 5's node names, written out independently of the planner.
- fake_agent.py   `FakeCluster`: obshell agents over HTTP, written from the two reference documents and importing
                  nothing from `upgrades` (v1/v2 auth, 512/1024-bit keys, restarts, re-keying, observer outages).
- webhook_receiver.py  `WebhookReceiver`: a real HTTP server in a thread that records what webhooks POST and
                  answers what a test queues (notification tests, pages, browser).
"""
