"""The simulated backend: each step changes the simulated cluster as the real step would (zones stop and
start, observers are killed, reinstalled with the hop's build and restarted) and logs what obshell's step
logs. Durations are seconds at SIMULATION_SPEED=1 (the demo 3-zone rolling upgrade takes about a minute);
the context divides them by the speed, and 0 means no waiting at all.

dispatcher: the backend; layout: a sub-task's paths and hop build; package_steps and hop_steps: the steps;
failures: what a failing attempt reports."""

from upgrades.backends.simulated.dispatcher import SimulatedBackend
from upgrades.backends.simulated.failures import failure_for

__all__ = ["SimulatedBackend", "failure_for"]
