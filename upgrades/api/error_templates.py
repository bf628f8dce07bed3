"""The English message templates of every errCode the API answers with, in obshell's printf style (`%s` for
each argument), most specific first. Each is a msgid (msgctxt: the errCode) of locale/zh_Hans/LC_MESSAGES/django.po,
which gives its Chinese text (obshell's own ob/agent/assets/i18n/error/zh.json is the reference for the wording).

upgrades/api/i18n.py matches an error's message against its code's templates to find the arguments, then fills the
translated template. Adding an errCode or a new message: add its template here and its entry to the .po, then
`python manage.py compile_catalogs` (tests/api/test_messages_zh.py checks that every errCode in the code has one).
"""

TEMPLATES = {
    "Agent.Identify.NotSupportOperation": ("'%s' is '%s', instead of '%s', does not support this operation",),
    "Agent.OBVersionNotSupported": (
        "Unsupported OB version '%s', the minimum supported version is '%s'",
        "failed to check version and release: %s",
    ),
    "Agent.RPC.RequestError": (
        "python environment check failed on agent %s: failed to check python environment on agent %s: Request [POST]%s to %s error: %s",
        "Request [%s]%s to %s error: %s",
    ),
    "Agent.RPC.RequestFailed": ("Request [%s]%s to %s failed: %s",),
    "Agent.Unavailable": ("Agent %s is not available",),
    "Agent.Upgrade.ToLowerVersion": (
        "Target version %s is not greater than current version %s. Please verify if the parameters have been filled out correctly",
    ),
    "Common.BadRequest": ("Bad request: %s",),
    "Common.BindJsonFailed": ("Bind JSON failed: %s",),
    "Common.DirNotEmpty": (
        "Directory '%s' is not empty",
        "dir '%s' is not empty",
    ),
    "Common.IllegalArgument": (
        "Illegal argument: %s",
        "The input parameter '%s' is illegal: %s",
        "reason is longer than %s characters",
        "edition must be one of %s",
        "a cluster needs at least one zone and one server per zone",
        "a standalone cluster has exactly one zone with one server",
        "version %s is not of the form A.B.C.D",
        "build %s is not a number",
        "cluster %s already exists",
        "faults can only be injected into simulated clusters",
        "kind must be one of %s",
        "times must be at least 1",
        "a node name is required",
        "a token needs a label",
        "a token's expiry is a positive number of days",
    ),
    "Common.InvalidPath": ("Path '%s' is not valid: %s",),
    "Common.NotFound": (
        "Element not found: %s",
        "cluster %s has no server %s",
        "cluster %s has no agent %s",
    ),
    "Common.Unauthorized": (
        "Unauthorized: %s",
        "Unauthorized",
        "this auth header has been used before",
        "CSRF verification failed",
        "decrypt request body failed",
    ),
    "Common.Unexpected": ("Unexpected error: %s",),
    "Environment.DiskSpaceNotEnough": (
        "The remaining disk space is insufficient, the remaining disk space is %s, and the required disk space is %s",
        "disk space is not enough in '%s'",
    ),
    "Environment.WithoutModule": (
        "python environment check failed on agent %s: %s",
        "Please check if Python module '%s' is installed",
    ),
    "Environment.WithoutPython": (
        "python environment check failed on agent %s: %s",
        "Please check if Python is installed",
    ),
    "Fault.NotFound": ("fault %s is no longer armed on %s: it fired or was disarmed",),
    "Fault.RealCluster": (
        "Fault drills run only on simulated clusters: %s is a real cluster (obshell backend), so nothing was armed.",
    ),
    "Gorm.NoRowAffected": ("%s: no row affected",),
    "MySQL.Error": ("MySQL error: %s",),
    "OB.Cluster.AsyncOperationTimeout": ("%s timeout",),
    "OB.Cluster.UnderMaintenance": ("OceanBase cluster is under maintenance, please try again later",),
    "OB.Cluster.UnderMaintenanceWithDag": (
        "Create task '%s' failed: %s",
        "OceanBase cluster is under maintenance by DAG: %s, please try again later",
    ),
    "OB.Package.DepYaml.Invalid": ("'%s': %s is invalid: %s",),
    "OB.Package.IdentityConflict": (
        "Package %s is already in the store with md5 %s; this file's md5 is %s. A package's name, version, release and arch identify one file for the whole fleet: delete the stored package first to replace it",
    ),
    "OB.Package.InUse": ("Package %s is needed by the unfinished DAG '%s' (%s)",),
    "OB.Package.Keyring.Unavailable": ("PACKAGE_KEYRING cannot be used: %s",),
    "OB.Package.MissingFile": ("These files are missing in package '%s': '%s'",),
    "OB.Package.Name.NotSupport": ("Unsupported name '%s', the supported names are [%s]",),
    "OB.Package.NotExist": ("These packages are missing: '%s'",),
    "OB.Package.Signature.Invalid": ("'%s' is not signed by a key of PACKAGE_KEYRING: %s",),
    "OB.Package.TooLarge": ("The package is larger than the limit of %s bytes (PACKAGE_MAX_BYTES)",),
    "OB.Package.Unsigned": ("'%s' carries no signature (PACKAGE_KEYRING is set)",),
    "OB.Parameter.Scope.Invalid": ("Parameter scope '%s' is invalid",),
    "OB.Server.Unavailable": ("Observer '%s' is not available",),
    "OB.Upgrade.DepYamlMissing": ("Target package upgrade dependency YAML is empty",),
    "OB.Upgrade.ExecScriptFailed": ("execute script %s failed: %s",),
    "OB.Upgrade.HasRunningBackupTask": ("There are %s running backup tasks, upgrade is not allowed temporarily",),
    "OB.Upgrade.MinObserverVersionNotSync": ("min_observer_version is not sync",),
    "OB.Upgrade.Mode.NotSupported": ("Upgrade mode '%s' is not supported",),
    "OB.Upgrade.Path.NotExist": (
        "Cannot find the upgrade path from the current version %s to the target version %s, please check the upgrade dependency YAML file",
    ),
    "OB.Upgrade.TabletInMerging": ("There are %s tablets merging",),
    "OB.Upgrade.TenantCompatibleNotSync": ("Tenant compatible is not sync",),
    "OB.Upgrade.TenantInMajorCompaction": ("There are %s tenants merging",),
    "OB.Upgrade.TenantsSchemaNotRefreshed": ("There are tenants with unfreshed schema: %s",),
    "OB.Upgrade.ToDeprecatedVersion": ("Target version %s is deprecated",),
    "OB.Upgrade.ToLowerVersion": (
        "Target version %s is not greater than current version %s. Please verify if the parameters have been filled out correctly",
    ),
    "OB.Upgrade.UnableToRollingUpgrade": (
        "Rolling upgrade requires at least 3 zones (or 2 zones for shared storage mode)",
    ),
    "Package.ReleaseFormat.Invalid": (
        "Release format %s is illegal",
        "failed to check version and release: %s",
    ),
    "Request.Body.Decrypt.AES.ContentLength.Invalid": ("Invalid content length of AES encrypted body",),
    "Request.Body.Decrypt.AES.KeyAndIv.Invalid": ("Invalid AES key and iv",),
    "Request.File.Missing": ("File '%s' in the request is missing: %s",),
    "Request.Header.NotFound": ("X-OCS-Agent-Header or X-OCS-Header not found in http request header",),
    "Request.Path.Param.Empty": (
        "Path parameter '%s' is empty",
        "Cluster not specified: use /clusters/<name>/api/v1/... with a browser session",
    ),
    "Request.Query.Param.Illegal": (
        "Query parameter '%s' is illegal%s",
        "Invalid query parameter %s: '%s'",
    ),
    "Security.Authentication.Expired": (
        "Unauthorized: auth header has expired",
        "Unauthorized: this API token has expired",
        "Authentication expired",
    ),
    "Security.Authentication.File.Sha256Mismatch": ("File SHA256 mismatch",),
    "Security.Authentication.Header.DecryptFailed": ("Decrypt header failed: %s",),
    "Security.Authentication.Header.UriMismatch": ("Unauthorized: header uri mismatch",),
    "Security.Authentication.IncorrectOceanbasePassword": ("Unauthorized: OceanBase password is incorrect",),
    "Security.Authentication.Timestamp.Invalid": (
        "Unauthorized: invalid timestamp",
        "Unauthorized: timestamp is more than %s s ahead",
    ),
    "Security.User.PermissionDenied": (
        "Permission denied: %s",
        "this API token is read-only",
        "the %s role is required to change packages",
        "the %s role is required",
        "package %s was not uploaded by this cluster",
    ),
    "Task.Dag.Operator.CancelFinishedDag": ("Failed to cancel DAG: DAG is finished",),
    "Task.Dag.Operator.CancelNotAllowed": ("Failed to cancel DAG: node %s cannot cancel",),
    "Task.Dag.Operator.NotSupport": ("Operator %s is not supported",),
    "Task.Dag.Operator.PassNotAllowed": ("Failed to pass DAG: node %s cannot pass",),
    "Task.Dag.Operator.PassNotFailedDag": ("Failed to pass DAG: DAG is not failed",),
    "Task.Dag.Operator.RetryNotAllowed": ("Failed to set DAG retry: node %s cannot retry",),
    "Task.Dag.Operator.RetryNotFailedDag": ("Failed to set DAG retry: DAG state is not failed",),
    "Task.Dag.Operator.RollbackNotAllowed": ("Failed to set DAG rollback: node %s cannot rollback",),
    "Task.Dag.Operator.RollbackNotFailedDag": ("Failed to set DAG rollback: DAG state is not failed",),
    "Task.GenericID.Invalid": (
        "Invalid generic id: '%s'",
        "Invalid ID: %s",
    ),
    "Task.Node.Operator.NotSupport": ("Operator %s is not supported",),
    "Task.Node.Operator.PassNotAllowed": ("Failed to pass node: node %s cannot pass",),
    "Task.Node.Operator.PassNotFailedDag": (
        "Failed to pass node: DAG is not failed",
        "Failed to pass node: assigned DAG is not failed",
    ),
    "Task.Node.Operator.PassNotFailedNode": (
        "Failed to pass node: node is not failed",
        "Failed to pass node: node %s is not failed",
    ),
    "Task.NotFound": (
        "Task not found: %s",
        "Task not found",
        "Cluster is not under maintenance",
        "Agent is not under maintenance",
    ),
}

# Real clusters (the obshell backend), the codes an agent's refusal may carry, and notifications.
_MORE = {
    "Task.Dag.Operator.ContinueRollbackNotRollingBack": (
        "Failed to continue rollback: DAG did not fail while rolling back",
    ),
    "Agent.Unreachable": ("no obshell agent answered at %s",),
    "Security.Authentication.KeyChanged": ("the public key of the agent at %s changed",),
    "Security.Authentication.IncorrectOceanbasePassword": ("the agent rejected the %s password",),
    "Agent.Identify.NotSupportOperation": ("the agent at %s is %s, not a cluster agent",),
    "Common.Unexpected": ("the agent's answer could not be read: %s",),
    "Agent.Unavailable": (
        "the agent reported no servers (is its observer running?)",
        "cluster %s: %s; see its page",
        "the cluster's agent did not answer: %s",
    ),
    "Common.IllegalArgument": (
        "give at least one --agent HOST:PORT",
        "agent address %s is not HOST:PORT",
        "the agent (%s) does not report its edition: give --edition community|business|standalone",
        "cluster %s is simulated: it has no password",
        "no key change is waiting on cluster %s",
        "freeze_server needs obshell 4.4.0 or later (the agent is %s)",
    ),
    "OB.Package.Name.NotSupport": ("business-edition upgrades need obshell 4.4.0 (the agent is %s)",),
    "OB.Upgrade.UnableToRollingUpgrade": (
        "a 2-zone shared-storage rolling upgrade needs obshell 4.4.2 (the agent is %s)",
    ),
    "OB.Package.NotExist": ("These packages are not on the cluster's agent yet: %s; %s",),
    "OB.Server.Process.NotExist": (
        "Observer process does not exist",
        "Task not found: Observer process does not exist",
    ),
    "Common.Known": ("Known error: %s",),
    "Task.CreateFailed": ("Create task '%s' failed: %s",),
    "Common.PermissionDenied": ("Permission denied: %s",),
    "Notification.Subscription.Invalid": (
        "a subscription needs a name of 1 to 100 characters",
        "unknown format %s: use one of %s",
        "an email subscription needs at least one address",
        "at most %s addresses",
        "%s is not an email address",
        "the secret is longer than %s characters",
        "a %s subscription has no signing secret (its URL or addresses are the credential)",
        "a generic webhook needs a secret: its requests are signed with it",
        "unknown event %s: use %s",
        "choose at least one event",
        "choose at least one cluster, or all clusters",
    ),
    "Notification.Target.Refused": ("target refused: %s",),
}
for _code, _templates in _MORE.items():
    TEMPLATES[_code] = TEMPLATES.get(_code, ()) + _templates
