from upgrades.models.approvals import Approval, UpgradeRequest
from upgrades.models.audit import AuditEntry
from upgrades.models.cluster import Cluster, Fault, Server, Zone
from upgrades.models.dag import Dag, DagEvent, Node, SubTask, TaskLog
from upgrades.models.executions import ExecutionRecord
from upgrades.models.firstrun import Dismissal, LoginLink
from upgrades.models.history import RunArchive, StepDurationStat
from upgrades.models.labels import ClusterLabel
from upgrades.models.notifications import Delivery, NotificationCursor, Subscription
from upgrades.models.operations import PeriodicJobLease, WorkerHeartbeat
from upgrades.models.package import Package, PackageSync
from upgrades.models.security import ApiToken, AuthFailureTally, RsaKeyPair, SeenHeader
from upgrades.models.windows import MaintenanceWindow

__all__ = [
    "ApiToken",
    "Approval",
    "AuditEntry",
    "AuthFailureTally",
    "Cluster",
    "ClusterLabel",
    "Dag",
    "DagEvent",
    "Delivery",
    "Dismissal",
    "ExecutionRecord",
    "Fault",
    "LoginLink",
    "MaintenanceWindow",
    "Node",
    "NotificationCursor",
    "Package",
    "PackageSync",
    "PeriodicJobLease",
    "RsaKeyPair",
    "RunArchive",
    "SeenHeader",
    "Server",
    "StepDurationStat",
    "SubTask",
    "Subscription",
    "TaskLog",
    "UpgradeRequest",
    "WorkerHeartbeat",
    "Zone",
]
