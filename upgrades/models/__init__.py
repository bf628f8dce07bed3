from upgrades.models.audit import AuditEntry
from upgrades.models.cluster import Cluster, Fault, Server, Zone
from upgrades.models.dag import Dag, DagEvent, Node, SubTask, TaskLog
from upgrades.models.executions import ExecutionRecord
from upgrades.models.firstrun import Dismissal, LoginLink
from upgrades.models.operations import PeriodicJobLease, WorkerHeartbeat
from upgrades.models.package import Package
from upgrades.models.security import ApiToken, AuthFailureTally, RsaKeyPair, SeenHeader

__all__ = [
    "ApiToken",
    "AuditEntry",
    "AuthFailureTally",
    "Cluster",
    "Dag",
    "DagEvent",
    "Dismissal",
    "ExecutionRecord",
    "Fault",
    "LoginLink",
    "Node",
    "Package",
    "PeriodicJobLease",
    "RsaKeyPair",
    "SeenHeader",
    "Server",
    "SubTask",
    "TaskLog",
    "WorkerHeartbeat",
    "Zone",
]
