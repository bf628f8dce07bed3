"""The OpenAPI description of the obshell routes (served at /api/schema, OpenAPI 3.1).

Every answer is obshell's envelope (spec 1.1), described once (`envelope()`), with the route's `data` as a
named component; every request body is a named component built from the same `bind.Field` tuples the views
bind with, so a field the view reads is a field the document shows. The components are strict (every key
the DTO builders in dto.py, agent.py, obinfo.py and package_store.py write is required, no other key is
allowed), so tests/api/test_openapi_responses.py, which validates real answers of every route against this
document, fails as soon as a builder and its description differ. The schemathesis fuzz
(tests/security/test_api_fuzz.py) generates its requests from the same document.

Views declare their answers with `documented(...)` (an `extend_schema`); `add_components` (a drf-spectacular
post-processing hook) adds the components and the security schemes.

Bodies: under X-OCS-Header (v2) a body travels AES-encrypted (base64 text, spec 2.2); the document
describes the plaintext, which is what the server binds after decryption.
"""

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema

REF = "#/components/schemas/"

# Go's RFC 3339 nano layout (spec 1.1): fraction of up to 9 digits without trailing zeros, `Z` for UTC.
GO_TIME = {
    "type": "string",
    "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{0,8}[1-9])?(Z|[+-]\d{2}:\d{2})$",
}
INT = {"type": "integer"}
STR = {"type": "string"}
BOOL = {"type": "boolean"}
ANY_MAP = {"type": ["object", "null"]}
CLUSTER_GENERIC_ID = {"type": "string", "pattern": r"^1[1-9][0-9]*$"}
STATE = {"type": "string", "enum": ["PENDING", "READY", "RUNNING", "FAILED", "SUCCEED"]}
OPERATOR = {"type": "string", "enum": ["RUN", "RETRY", "ROLLBACK", "CANCEL", "PASS"]}
IDENTITY = {
    "type": "string",
    "enum": [
        "MASTER",
        "FOLLOWER",
        "SINGLE",
        "CLUSTER AGENT",
        "TAKE OVER MASTER",
        "TAKE OVER FOLLOWER",
        "SCALING OUT",
        "SCALING IN",
        "UNIDENTIFIED",
    ],
}


def ref(name):
    return {"$ref": REF + name}


def nullable(schema):
    return {"anyOf": [schema, {"type": "null"}]}


def strict(properties, *, optional=(), description=None):
    """An object with exactly these keys: all required but `optional`, nothing else allowed."""
    schema = {
        "type": "object",
        "properties": properties,
        "required": [key for key in properties if key not in optional],
        "additionalProperties": False,
    }
    if description:
        schema["description"] = description
    return schema


def array(items):
    return {"type": "array", "items": items}


def contents(item_name, *, nil=False):
    """Go slices are wrapped in {"contents": [...]}; a nil slice is `"contents": null` (spec 1.1)."""
    items = array(ref(item_name))
    return strict({"contents": nullable(items) if nil else items})


# --- request bodies, from the views' binding definitions --------------------------------------------------------

_JSON_TYPES = {str: "string", bool: "boolean", int: "integer"}
NO_NUL = "^[^\\u0000]*$"  # bind.py refuses a NUL character in any bound string


def request_body(fields, *, description):
    """The JSON body a view binds with `bind(raw, struct, fields)`. Gin matches keys case-insensitively and
    ignores unknown keys, so other keys are allowed; a required string is present and non-empty."""
    properties = {}
    for field in fields:
        kind = _JSON_TYPES[field.type]
        text = {"pattern": NO_NUL} if field.type is str else {}
        if field.max_length is not None:
            text["maxLength"] = field.max_length  # e.g. reason: upgrades.audit.REASON_MAX_LENGTH
        if field.required:
            properties[field.key] = {"type": kind, **text, **({"minLength": 1} if field.type is str else {})}
        else:
            properties[field.key] = {"type": [kind, "null"], **text}
    return {
        "type": "object",
        "properties": properties,
        "required": [f.key for f in fields if f.required],
        "description": description,
    }


def _request_components():
    # Imported here: the views import this module for their decorators.
    from upgrades.api.views_tasks import OPERATOR_FIELDS
    from upgrades.api.views_upgrade import AGENT_UPGRADE_FIELDS, CHECK_FIELDS, UPGRADE_FIELDS

    return {
        "UpgradeCheckParam": request_body(
            CHECK_FIELDS, description="POST /api/v1/ob/upgrade/check and /api/v1/agent/upgrade/check (spec 3.1)"
        ),
        "AgentUpgradeParam": request_body(
            AGENT_UPGRADE_FIELDS, description="POST /api/v1/agent/upgrade (spec 3.1): UpgradeCheckParam and a reason"
        ),
        "ObUpgradeParam": request_body(
            UPGRADE_FIELDS, description="POST /api/v1/ob/upgrade (spec 3.1); mode ROLLING or STOPSERVICE"
        ),
        "DagOperatorParam": request_body(
            OPERATOR_FIELDS, description="POST /api/v1/task/dag/:id: RETRY, ROLLBACK, CANCEL or PASS (spec 6.4)"
        ),
        "NodeOperatorParam": request_body(
            OPERATOR_FIELDS, description="POST /api/v1/task/node/:id: PASS only (spec 6.4)"
        ),
        "RestoreParams": {
            "type": "object",
            "properties": {"params": {"type": "array", "items": ref("ObParameters")}},
            "description": "POST /api/v1/upgrade/params/restore: the rows to set (keys matched case-insensitively); "
            "an empty body or no `params` restores the last backup (obshell never reads this body)",
        },
        "PackageUploadForm": {
            "type": "object",
            "properties": {"file": {"type": "string", "contentMediaType": "application/octet-stream"}},
            "required": ["file"],
            "description": "multipart/form-data with one file part `file` (the rpm); under v2 the whole "
            "multipart body is AES-encrypted, the Content-Type with its boundary stays in clear (spec 3.1)",
        },
    }


# --- answers --------------------------------------------------------------------------------------------------

TASK_DETAIL = strict(
    {
        "id": CLUSTER_GENERIC_ID,
        "task_id": INT,
        "name": STR,
        "state": STATE,
        "operator": OPERATOR,
        "start_time": GO_TIME,
        "end_time": GO_TIME,
        "additional_data": ANY_MAP,
        "execute_times": INT,
        "execute_agent": strict({"ip": STR, "port": INT}),
        "task_logs": nullable(array(STR)),
    },
    description="A sub-task (spec 6.2); task_logs is null while PENDING/READY",
)
NODE_DETAIL = strict(
    {
        "id": CLUSTER_GENERIC_ID,
        "node_id": INT,
        "name": STR,
        "state": STATE,
        "operator": OPERATOR,
        "start_time": GO_TIME,
        "end_time": GO_TIME,
        "additional_data": ANY_MAP,
        "sub_tasks": array(ref("TaskDetailDTO")),
    },
    description="A node with its sub-tasks (spec 6.2)",
)
DAG_DETAIL = strict(
    {
        "id": CLUSTER_GENERIC_ID,
        "dag_id": INT,
        "name": STR,
        "stage": INT,
        "max_stage": INT,
        "maintenance_type": {"type": "integer", "enum": [0, 1, 2, 3, 4]},
        "maintenance_key": STR,
        "state": STATE,
        "operator": OPERATOR,
        "start_time": GO_TIME,
        "end_time": GO_TIME,
        "additional_data": ANY_MAP,
        "nodes": nullable(array(ref("NodeDetailDTO"))),
    },
    description="A DAG (spec 6.2); nodes is null on create answers and with show_details=false",
)
TASK_LOG = strict(
    {
        "id": INT,
        "sub_task_id": INT,
        "execute_times": INT,
        "log_content": STR,
        "is_sync": BOOL,
        "create_time": GO_TIME,
        "update_time": GO_TIME,
    },
    description="One log line of one attempt (spec 3.2)",
)
UPGRADE_PKG = strict(
    {
        "PkgId": INT,
        "Name": STR,
        "Version": STR,
        "ReleaseDistribution": STR,
        "Distribution": STR,
        "Release": STR,
        "Architecture": STR,
        "Size": INT,
        "PayloadSize": INT,
        "ChunkCount": INT,
        "Md5": STR,
        "UpgradeDepYaml": STR,
        "GmtModify": GO_TIME,
    },
    description="The stored package as the upload answers it: Go field names, GmtModify the zero time (spec 3.1)",
)
UPGRADE_PKG_INFO = strict(
    {
        "pkg_id": INT,
        "name": STR,
        "version": STR,
        "release_distribution": STR,
        "distribution": STR,
        "release": STR,
        "architecture": STR,
        "size": INT,
        "payload_size": INT,
        "chunk_count": INT,
        "md5": STR,
        "upgrade_dep_yaml": STR,
        "gmt_modify": GO_TIME,
    },
    description="A package in the listing (bo.UpgradePkgInfo, spec 3.1); upgrade_dep_yaml is always empty",
)
AGENT_INFO = strict(
    {
        "pid": INT,
        "state": {"type": "integer", "enum": [0, 1, 2, 3, 4]},
        "startAt": INT,
        "homePath": STR,
        "obVersion": STR,
        "architecture": STR,
        "ip": STR,
        "port": INT,
        "zone": STR,
        "identity": IDENTITY,
        "version": STR,
        "isObproxyAgent": BOOL,
        "security": BOOL,
        "supportedAuth": array({"type": "string", "enum": ["v1", "v2"]}),
    },
    description="GET /api/v1/info (spec 3.3)",
)
AGENT_STATUS = strict(
    {
        "agent": strict({"ip": STR, "port": INT, "identity": IDENTITY}),
        "state": {"type": "integer", "enum": [0, 1, 2, 3, 4]},
        "version": STR,
        "pid": INT,
        "startAt": INT,
        "port": INT,
        "obState": {"type": "integer", "enum": [0, 1, 2, 3]},
        "sqlPort": INT,
        "underMaintenance": BOOL,
    },
    optional=("sqlPort",),
    description="GET /api/v1/status (spec 3.3)",
)
OB_PARAMETERS = strict(
    {
        "SvrIp": STR,
        "SvrPort": INT,
        "Zone": STR,
        "Scope": STR,
        "Name": STR,
        "Value": STR,
        "TenantId": INT,
        "EditLevel": STR,
        "DefaultValue": STR,
        "Section": STR,
        "Info": STR,
        "DataType": STR,
    },
    description="A GV$OB_PARAMETERS row (oceanbase.ObParameters: no JSON tags, so Go field names; the columns "
    "the backup does not select are empty)",
)
AGENTS_STATUS = {
    "type": "object",
    "additionalProperties": ref("AgentStatus"),
    "description": 'GET /api/v1/agents/status: "ip:port" -> that agent\'s status; agents that do not answer are '
    "left out",
}
PUBLIC_KEY = strict(
    {"ip": STR, "port": INT, "public_key": {"type": "string", "contentEncoding": "base64"}},
    description="GET /api/v1/secret: the RSA public key, PKCS#1 DER in base64 (spec 2.1)",
)
OB_INFO = strict(
    {
        "agent_info": array(strict({"ip": STR, "port": INT, "zone": STR, "identity": IDENTITY, "version": STR})),
        "obcluster_info": strict(
            {
                "id": INT,
                "name": STR,
                "version": STR,
                "topology": {
                    "type": "object",
                    "additionalProperties": array(
                        strict(
                            {
                                "svr_ip": STR,
                                "svr_port": INT,
                                "sql_port": INT,
                                "agent_port": INT,
                                "with_rootserver": BOOL,
                                "status": STR,
                                "build_version": STR,
                            }
                        )
                    ),
                },
                "is_shared_storage": BOOL,
            }
        ),
    },
    description="GET /api/v1/ob/info (ObInfoResp, spec 3.3)",
)
ERROR = strict(
    {
        "code": {
            "type": "integer",
            "description": "legacy numeric code: 10008 for auth failures, 1 for header decrypt",
        },
        "errCode": {"type": "string", "pattern": r"^[A-Za-z0-9]+(\.[A-Za-z0-9]+)+$"},
        "message": STR,
    },
    optional=("code",),
    description="The envelope's error (spec 1.2)",
)

# data component name -> schema
DATA_COMPONENTS = {
    "DagDetailDTO": DAG_DETAIL,
    "NodeDetailDTO": NODE_DETAIL,
    "TaskDetailDTO": TASK_DETAIL,
    "TaskLogDTO": TASK_LOG,
    "DagDetailList": contents("DagDetailDTO"),
    "DagDetailNilList": contents("DagDetailDTO", nil=True),
    "TaskLogList": contents("TaskLogDTO"),
    "UpgradePkg": UPGRADE_PKG,
    "UpgradePkgInfo": UPGRADE_PKG_INFO,
    "UpgradePkgInfoList": contents("UpgradePkgInfo"),
    "ObParameters": OB_PARAMETERS,
    "ObParametersList": contents("ObParameters", nil=True),
    "AgentsStatus": AGENTS_STATUS,
    "AgentInfo": AGENT_INFO,
    "AgentStatus": AGENT_STATUS,
    "PublicKey": PUBLIC_KEY,
    "ObInfo": OB_INFO,
}
# Envelopes whose `data` is a component: <data>Response.
ENVELOPED = [name for name in DATA_COMPONENTS if name not in ("TaskLogDTO", "ObParameters")]


def envelope(data=None, *, failure=False):
    """obshell's envelope (spec 1.1): a success carries `data` (or none), a failure carries `error` (and, from
    handlers that pass a typed nil, `"data": null`)."""
    properties = {
        "successful": {"const": not failure},
        "timestamp": GO_TIME,
        "duration": {"type": "integer", "minimum": 0, "description": "handling time in whole milliseconds"},
        "status": {"type": "integer", "minimum": 400 if failure else 200, "maximum": 599 if failure else 200},
        "traceId": {
            "type": "string",
            "pattern": r"^[A-Za-z0-9._-]{0,64}$",
            "description": "X-OBSHELL-Trace-ID if it matches ^[A-Za-z0-9._-]{1,64}$, else 16 random hex characters; "
            "empty on /api/v1/status and on the crash answer",
        },
    }
    optional = ()
    if failure:
        properties["data"] = {"type": "null"}
        properties["error"] = ref("Error")
        optional = ("data",)
    elif data is not None:
        properties["data"] = ref(data)
    return strict(properties, optional=optional)


def components():
    schemas = {"Error": ERROR, "ErrorResponse": envelope(failure=True), "EmptyResponse": envelope()}
    schemas.update(DATA_COMPONENTS)
    schemas.update({f"{name}Response": envelope(name) for name in ENVELOPED})
    schemas.update(_request_components())
    return dict(sorted(schemas.items()))


SECURITY_SCHEMES = {
    "X-OCS-Header": {
        "type": "apiKey",
        "in": "header",
        "name": "X-OCS-Header",
        "description": "obshell auth v2 (spec 2.2): base64 of RSA-PKCS#1 v1.5 blocks (53-byte chunks, the key of "
        "GET /api/v1/secret) of the JSON {auth: <API token>, ts: <expiry, unix seconds as a string>, uri: <path?query "
        "as sent>, keys: <base64 of AES-128 key and IV>}; a body is then base64(AES-128-CBC(PKCS#7(plaintext))). "
        "Each header is accepted once.",
    },
    "X-OCS-Agent-Header": {
        "type": "apiKey",
        "in": "header",
        "name": "X-OCS-Agent-Header",
        "description": "Read like X-OCS-Header (this server has no agent password).",
    },
    "X-OCS-Auth": {
        "type": "apiKey",
        "in": "header",
        "name": "X-OCS-Auth",
        "description": "obshell auth v1 (4.2.2.0-era clients; only with OCS_AUTH_V1=1): one RSA block of "
        "{password, ts: int}; no uri, plain body.",
    },
    "session": {
        "type": "apiKey",
        "in": "cookie",
        "name": "sessionid",
        "description": "A dashboard session: viewer for reads, operator for changes (with CSRF).",
    },
}
AUTHENTICATED = [{name: []} for name in SECURITY_SCHEMES]

# Every route can answer these (a malformed request, an unknown /clusters/<name>/ prefix or id).
_COMMON_ERRORS = {
    400: "Bad request: bad parameter, body or header (Common.BindJsonFailed, Request.Header.NotFound, ...)",
    404: "Unknown route, cluster, task or package (Common.NotFound, Task.NotFound)",
}
_AUTH_ERROR = "Authentication failed (Security.Authentication.*, Common.Unauthorized; legacy code 10008 or 1)"
# obshell answers an unusable AES key or body length with 500 (spec 1.3): any route with a body.
BODY_500 = ("Request.Body.Decrypt.AES.KeyAndIv.Invalid", "Request.Body.Decrypt.AES.ContentLength.Invalid")


def server_errors(err_codes):
    """obshell's "known" 500s (spec 1.3: conflicts are 500, never 409) this route may answer, and no other."""
    return {
        "allOf": [
            ref("ErrorResponse"),
            {"properties": {"error": {"properties": {"errCode": {"enum": sorted(set(err_codes))}}}}},
        ]
    }


def _responses(data, *, authenticated, errors_500):
    success = ref(f"{data}Response" if data else "EmptyResponse")
    responses = {200: OpenApiResponse(response=success, description="Success")}
    for status, text in _COMMON_ERRORS.items():
        responses[status] = OpenApiResponse(response=ref("ErrorResponse"), description=text)
    if authenticated:
        responses[401] = OpenApiResponse(response=ref("ErrorResponse"), description=_AUTH_ERROR)
    if errors_500:
        responses[500] = OpenApiResponse(
            response=server_errors(errors_500), description="obshell's known 500s: " + ", ".join(errors_500)
        )
    return responses


_AUTH_NOTE = (
    "Authenticated: an API token in X-OCS-Header (v2; the body, if any, AES-encrypted with the header's keys), "
    "or a dashboard session."
)
TRACE_ID = OpenApiParameter(
    "X-OBSHELL-Trace-ID",
    str,
    location=OpenApiParameter.HEADER,
    description="The trace id the answer carries (spec 1.1); without it one is generated",
)
SHOW_DETAILS = OpenApiParameter(
    "show_details",
    {"type": "string", "enum": ["1", "t", "T", "TRUE", "true", "True", "0", "f", "F", "FALSE", "false", "False"]},
    description="Go ParseBool value, default true (spec 3.2)",
)


def documented(*, summary, data=None, request=None, authenticated=True, errors_500=(), show_details=False, **kw):
    """`extend_schema` for an obshell route: `data` names the success answer's data component (None: no data),
    `request` the body component (or a {media type: component} map), `errors_500` obshell's known 500s."""
    if isinstance(request, str):
        request = {"application/json": ref(request)}
    elif isinstance(request, dict):
        request = {media_type: ref(name) for media_type, name in request.items()}
    if "description" not in kw:
        kw["description"] = _AUTH_NOTE if authenticated else "Open route: no authentication."
    return extend_schema(
        summary=summary,
        request=request,
        responses=_responses(data, authenticated=authenticated, errors_500=errors_500),
        auth=AUTHENTICATED if authenticated else [],
        parameters=[TRACE_ID, SHOW_DETAILS] if show_details else [TRACE_ID],
        **kw,
    )


def add_components(result, generator, request, public):
    """drf-spectacular post-processing hook: the named components and the security schemes."""
    spec_components = result.setdefault("components", {})
    spec_components.setdefault("schemas", {}).update(components())
    spec_components.setdefault("securitySchemes", {}).update(SECURITY_SCHEMES)
    for item in result.get("paths", {}).values():
        for operation in item.values():
            if "requestBody" in operation:
                operation["requestBody"]["required"] = True  # a missing body is 400 Common.BindJsonFailed (EOF)
    return result
