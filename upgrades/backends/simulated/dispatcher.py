"""The simulated backend's entry points: which step function carries out a node's action, and the host-level
steps only one agent per host performs."""

from upgrades.backends.base import StepFailed
from upgrades.backends.simulated import hop_steps, package_steps
from upgrades.backends.simulated.executions import recording
from upgrades.backends.simulated.failures import failure_for
from upgrades.backends.simulated.layout import RunLayout
from upgrades.models import ExecutionRecord

RUN_STEPS = {**package_steps.RUN, **hop_steps.RUN}
ROLLBACK_STEPS = package_steps.ROLLBACK

# Host-level steps: on a host running several agents only the first agent of that IP does the work.
HOST_LEVEL_ACTIONS = {
    "check_python",
    "create_upgrade_dir",
    "download_packages",
    "check_packages",
    "unpack_packages",
    "backup_for_upgrade",
    "remove_upgrade_dir",
}


class SimulatedBackend:
    name = "simulated"

    @recording(ExecutionRecord.Phase.RUN)
    def run(self, ctx):
        layout = RunLayout(ctx)
        if ctx.node.action in HOST_LEVEL_ACTIONS and not layout.is_first_agent_on_host():
            ctx.log("Due to multiple obshell being on this machine, only one needs to perform this sub task.")
            ctx.log(f"The actual obshell server executing the task is {layout.first_agent_on_host_address()}")
            return
        step = RUN_STEPS.get(ctx.node.action)
        if step is None:
            raise StepFailed("Common.Unexpected", f"the simulated backend has no step {ctx.node.action!r}")
        if ctx.continuing:
            ctx.log("task is continued after its executor restarted")
        step(ctx, layout)

    @recording(ExecutionRecord.Phase.ROLLBACK)
    def rollback(self, ctx):
        ctx.fault_point()  # only a `fail_rollback` fault fires here
        step = ROLLBACK_STEPS.get(ctx.node.action)
        if step is None:
            ctx.log(f"{ctx.node.name}: nothing to roll back")
            return
        step(ctx, RunLayout(ctx))

    def injected_failure(self, ctx):
        return failure_for(ctx)
