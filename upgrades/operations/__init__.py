"""Operations: what load balancers, monitoring and operators read about the service itself.

- `metrics`: the Prometheus metrics (prometheus_client) the engine, events, live and the HTTP middleware
  update, the collector reading upgrades by state from the database at scrape time, and the scrape itself
  (multiprocess mode when PROMETHEUS_MULTIPROC_DIR is set).
- `health`: the readiness checks behind /readyz (database, migrations, channel layer, media root).
- `selectors`: worker heartbeats and periodic-job leases as the /workers/ page shows them, and the staleness
  rule the engine shares.
- `durations`: the usual duration (median, p90) of each node action per cluster-size bucket, from a summary
  of finished runs; the stall payload.
- `eta`: a stage's expected duration and a run's ETA from those statistics (the one home of the ETA rule).
- `run_logs`: every log of one run at once: search across sub-tasks and attempts, the window around one line,
  the streamed zip.
- `archive`: packing a long-finished run's events and task logs into its RunArchive, and reading them back.
- `logs`: JSON log lines (LOG_FORMAT=json), the log context (trace id, DAG, sub-task, job) and secret scrubbing.

A core module: the engine and the presentation layers import it; it imports only models and libraries.
"""
