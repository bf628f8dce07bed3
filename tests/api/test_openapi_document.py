"""The OpenAPI document names every body and answer: no operation declares a bare object, the request bodies
are the views' own binding definitions, and the auth headers are security schemes."""

import functools

import pytest

from upgrades.api.views_tasks import OPERATOR_FIELDS
from upgrades.api.views_upgrade import CHECK_FIELDS, UPGRADE_FIELDS

OPEN = {"info", "status", "secret"}


@functools.cache
def _document():
    """The document /api/schema serves (built once for this module)."""
    from drf_spectacular.generators import SchemaGenerator

    return SchemaGenerator().get_schema(request=None, public=True)


def _operations(document):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield method, path, operation


def test_every_answer_and_body_is_a_named_component():
    document = _document()
    schemas = document["components"]["schemas"]
    count = 0
    for method, path, operation in _operations(document):
        count += 1
        for status, response in operation["responses"].items():
            schema = response["content"]["application/json"]["schema"]
            ref = schema.get("$ref") or schema["allOf"][0]["$ref"]
            name = ref.rsplit("/", 1)[1]
            assert name in schemas, (method, path, status)
            assert name.endswith("Response"), (method, path, status, name)
        if "requestBody" in operation:
            assert operation["requestBody"]["required"] is True
            for content in operation["requestBody"]["content"].values():
                assert content["schema"]["$ref"].rsplit("/", 1)[1] in schemas
        data = schemas[operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].rsplit("/")[-1]]
        if "data" in data["properties"]:
            assert set(data["properties"]["data"]) == {"$ref"}, (method, path)
    assert count >= 40


def test_envelopes_and_dtos():
    schemas = _document()["components"]["schemas"]
    for name in ("DagDetailDTO", "NodeDetailDTO", "TaskDetailDTO", "UpgradePkg", "UpgradePkgInfo", "AgentInfo"):
        assert schemas[name]["additionalProperties"] is False
        assert set(schemas[name]["required"]) == set(schemas[name]["properties"])
    envelope = schemas["DagDetailDTOResponse"]
    assert list(envelope["properties"]) == ["successful", "timestamp", "duration", "status", "traceId", "data"]
    error = schemas["ErrorResponse"]
    assert error["properties"]["error"] == {"$ref": "#/components/schemas/Error"}
    assert set(schemas["Error"]["properties"]) == {"code", "errCode", "message"}
    assert schemas["Error"]["required"] == ["errCode", "message"]


@pytest.mark.parametrize(
    ("component", "fields"),
    [
        ("UpgradeCheckParam", CHECK_FIELDS),
        ("ObUpgradeParam", UPGRADE_FIELDS),
        ("DagOperatorParam", OPERATOR_FIELDS),
        ("NodeOperatorParam", OPERATOR_FIELDS),
    ],
)
def test_request_bodies_are_the_binding_definitions(component, fields):
    schema = _document()["components"]["schemas"][component]
    assert list(schema["properties"]) == [f.key for f in fields]
    assert schema["required"] == [f.key for f in fields if f.required]


def test_security_schemes():
    document = _document()
    schemes = document["components"]["securitySchemes"]
    assert schemes["X-OCS-Header"] == {**schemes["X-OCS-Header"], "type": "apiKey", "in": "header"}
    assert {"X-OCS-Header", "X-OCS-Agent-Header", "X-OCS-Auth"} <= set(schemes)
    for method, path, operation in _operations(document):
        route = path.split("/api/v1/")[1]
        if route in OPEN:
            assert "security" not in operation, (method, path)
        else:
            assert {"X-OCS-Header": []} in operation["security"], (method, path)
