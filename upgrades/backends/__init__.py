"""Execution backends. The engine asks `backend_for(cluster)` which one carries out a cluster's steps."""

from upgrades.backends.base import ExecutionBackend, StepContext, StepFailed


class NoBackend:
    """A cluster whose backend has no executor in this build: every step fails with a clear error."""

    def __init__(self, name):
        self.name = name

    def run(self, ctx):
        raise StepFailed("Common.Unexpected", f"no execution backend is available for {self.name!r} clusters")

    def rollback(self, ctx):
        self.run(ctx)

    def injected_failure(self, ctx):
        return "Common.Unexpected", f"{ctx.node.name} failed"


def backend_for(cluster) -> ExecutionBackend:
    from upgrades.backends.simulated import SimulatedBackend
    from upgrades.models.cluster import Backend

    if cluster.backend == Backend.SIMULATED:
        return SimulatedBackend()
    return NoBackend(cluster.backend)


__all__ = ["ExecutionBackend", "StepContext", "StepFailed", "backend_for"]
