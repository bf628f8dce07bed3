"""The five checks over facts (upgrades/operations/verification.py): passed only with evidence, failed with what
was found, unknown with why."""

from datetime import UTC, datetime

from upgrades.operations.verification import MAX_FOUND, Facts, outcome_of, verify

AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
BUILD = "4.3.0.1_101000062023110109"
OLD = "4.2.1.0_100000102023092807"


def agreeing():
    servers = {f"10.0.0.{i}:2882": BUILD for i in range(1, 4)}
    return Facts(
        source="test",
        servers=servers,
        min_observer_version=dict.fromkeys(servers, "4.3.0.1"),
        upgrade_mode=dict.fromkeys(servers, "False"),
        tenants={"sys": "4.3.0.1", "app": "4.3.0.1"},
        zones={"zone1": "ACTIVE", "zone2": "ACTIVE", "zone3": "ACTIVE"},
    )


def by_key(result):
    return {check["key"]: check for check in result["checks"]}


def test_every_check_passes_with_evidence():
    result = verify(agreeing(), target_build=BUILD, at=AT)
    assert result["outcome"] == "passed" and result["target_version"] == "4.3.0.1"
    assert [c["status"] for c in result["checks"]] == ["passed"] * 5
    assert by_key(result)["tenant_compatible"]["total"] == 2
    assert result["checked_at"] == AT.isoformat()


def test_each_check_fails_with_what_it_found():
    facts = agreeing()
    facts.servers["10.0.0.3:2882"] = OLD
    facts.min_observer_version["10.0.0.1:2882"] = "4.2.1.0"
    facts.upgrade_mode["10.0.0.2:2882"] = "True"
    facts.tenants["app"] = "4.2.1.0"
    facts.zones["zone2"] = "INACTIVE"
    checks = by_key(verify(facts, target_build=BUILD, at=AT))
    assert checks["servers_on_target"]["found"] == [["10.0.0.3:2882", OLD]]
    assert checks["min_observer_version"]["found"] == [["10.0.0.1:2882", "4.2.1.0"]]
    assert checks["upgrade_mode_off"]["found"] == [["10.0.0.2:2882", "True"]]
    assert checks["tenant_compatible"]["found"] == [["app", "4.2.1.0"]]
    assert checks["no_stopped_zone"]["found"] == [["zone2", "INACTIVE"]]
    assert {c["status"] for c in checks.values()} == {"failed"}


def test_upgrade_mode_reads_any_false_spelling_and_nothing_else_as_off():
    facts = agreeing()
    facts.upgrade_mode = {"a:1": "false", "b:1": "0", "c:1": "OFF", "d:1": ""}
    check = by_key(verify(facts, target_build=BUILD, at=AT))["upgrade_mode_off"]
    assert check["status"] == "failed" and check["found"] == [["d:1", ""]]


def test_missing_facts_are_unknown_with_the_reason_never_passed():
    facts = agreeing()
    facts.min_observer_version = None
    facts.unknown["min_observer_version"] = "obshell 4.2.3.0 does not serve cluster parameters"
    facts.tenants = {}
    result = verify(facts, target_build=BUILD, at=AT)
    checks = by_key(result)
    assert checks["min_observer_version"]["status"] == "unknown"
    assert checks["min_observer_version"]["reason"] == "obshell 4.2.3.0 does not serve cluster parameters"
    assert checks["tenant_compatible"]["status"] == "unknown"  # an empty list is no evidence either
    assert checks["tenant_compatible"]["reason"] == "no tenant was listed"
    assert result["outcome"] == "unknown"
    nothing = verify(Facts(source="test"), target_build=BUILD, at=AT)
    assert {c["status"] for c in nothing["checks"]} == {"unknown"} and nothing["outcome"] == "unknown"


def test_a_failure_outweighs_an_unknown():
    facts = agreeing()
    facts.zones = None
    facts.tenants["sys"] = "4.2.1.0"
    assert verify(facts, target_build=BUILD, at=AT)["outcome"] == "failed"
    assert outcome_of([]) == "unknown"


def test_a_long_list_of_deviations_is_cut_but_counted():
    servers = {f"10.0.{i // 250}.{i % 250}:2882": OLD for i in range(MAX_FOUND + 15)}
    facts = Facts(source="test", servers=servers)
    check = by_key(verify(facts, target_build=BUILD, at=AT))["servers_on_target"]
    assert len(check["found"]) == MAX_FOUND and check["found_count"] == MAX_FOUND + 15
