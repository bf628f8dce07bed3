"""The execution-backend interface: how one sub-task of a node is carried out on a cluster.

The engine owns states, leases, logs and events; a backend only performs a node's `action` for one agent
through the StepContext it is given, and raises StepFailed when the step fails. A backend never writes
DAG state itself, so the simulated backend and a real-agent (obshell) backend are interchangeable.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from upgrades.models import Dag, Node, Server, SubTask


class StepFailed(Exception):
    """The step failed; the engine logs `ERROR: [<err_code>]: <message>` and fails the attempt."""

    def __init__(self, err_code, message):
        super().__init__(message)
        self.err_code = err_code
        self.message = message

    @property
    def line(self):
        return f"[{self.err_code}]: {self.message}"


class StepContext(Protocol):
    """What the engine hands a backend for one attempt of one sub-task."""

    continuing: bool  # re-entered after its worker stopped while it ran (obshell's continue flag)

    # Read-only to a backend: properties, so an engine context typed with the models satisfies the protocol.
    @property
    def dag(self) -> Dag: ...  # the frozen plan is dag.plan

    @property
    def node(self) -> Node: ...  # its action, hop and zone_name say what to do

    @property
    def sub_task(self) -> SubTask: ...

    @property
    def server(self) -> Server | None: ...  # the server the sub-task runs on (its execute agent)

    def log(self, text, level="INFO"): ...

    def sleep(self, seconds): ...

    def effect(self, change): ...

    def fault_point(self): ...


class ExecutionBackend(Protocol):
    name: str

    def run(self, ctx: StepContext) -> None:
        """Perform the node's action for ctx.sub_task; raise StepFailed on failure."""

    def rollback(self, ctx: StepContext) -> None:
        """Undo the node's action for ctx.sub_task (ROLLBACK, and before a RETRY re-runs a failed attempt)."""

    def injected_failure(self, ctx: StepContext) -> tuple[str, str]:
        """The (err_code, message) this step reports when an injected `fail` fault spoils the attempt."""
