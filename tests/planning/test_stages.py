"""Node lists of spec 5 for every DAG shape, checked name by name."""

import pytest

from tests.support.factories import make_cluster
from tests.support.spec_nodes import PREFIX_A, PREFIX_B, SUFFIX, rolling_hop, stop_service_hop
from upgrades.planning.stages import Topology, check_nodes, max_stage, upgrade_nodes

OBSHELL_PREFIX = PREFIX_A
BUSINESS_PREFIX = PREFIX_B
STOP_SERVICE_HOP = stop_service_hop()


def names(cluster, mode, hops=1, freeze=False):
    nodes = upgrade_nodes(
        edition=cluster.edition, mode=mode, hops=hops, topology=Topology.of(cluster), freeze_server=freeze
    )
    return [n.name for n in nodes], nodes


@pytest.mark.django_db
def test_community_rolling_three_zones_is_the_30_stage_sample():
    cluster = make_cluster(zones=3)
    got, nodes = names(cluster, "ROLLING")
    expected = OBSHELL_PREFIX + [
        "Backup parameters",
        "Execute upgrade checker script",
        "Execute upgrade pre script",
        "Execute upgrade health checker script",
        "Stop zone1",
        "Reinstall and restart observer",
        "Execute upgrade zone health checker script",
        "Start zone1",
        "Execute upgrade health checker script",
        "Stop zone2",
        "Reinstall and restart observer",
        "Execute upgrade zone health checker script",
        "Start zone2",
        "Execute upgrade health checker script",
        "Stop zone3",
        "Reinstall and restart observer",
        "Execute upgrade zone health checker script",
        "Start zone3",
        "Execute upgrade post script",
        "Restore parameters",
        "Remove upgrade check task dir",
    ]
    assert got == expected
    assert len(nodes) == 30 == max_stage(edition="community", mode="ROLLING", hops=1, zones=3)
    assert [n.hop for n in nodes] == [None] * 9 + [0] * 20 + [None]
    assert [n.zone_name for n in nodes[12:17]] == ["", "zone1", "zone1", "zone1", "zone1"]


@pytest.mark.django_db
def test_community_stop_service_is_18_stages():
    cluster = make_cluster(zones=3)
    got, nodes = names(cluster, "STOPSERVICE")
    assert got == OBSHELL_PREFIX + STOP_SERVICE_HOP + SUFFIX
    assert len(nodes) == 18 == max_stage(edition="community", mode="STOPSERVICE", hops=1, zones=3)


@pytest.mark.django_db
def test_business_edition_has_the_five_node_prefix_and_no_obshell_upgrade():
    cluster = make_cluster(edition="business", zones=3)
    got, nodes = names(cluster, "ROLLING")
    assert got == BUSINESS_PREFIX + rolling_hop(["zone1", "zone2", "zone3"]) + SUFFIX
    assert len(nodes) == 26 == max_stage(edition="business", mode="ROLLING", hops=1, zones=3)
    got, nodes = names(cluster, "STOPSERVICE")
    assert got == BUSINESS_PREFIX + STOP_SERVICE_HOP + SUFFIX
    assert len(nodes) == 14


@pytest.mark.django_db
def test_standalone_uses_the_obshell_prefix():
    cluster = make_cluster(edition="standalone", zones=1)
    got, nodes = names(cluster, "STOPSERVICE")
    assert got == OBSHELL_PREFIX + STOP_SERVICE_HOP + SUFFIX
    assert all(n.agents == [cluster.agent_server()] for n in nodes)


@pytest.mark.django_db
def test_two_hops_repeat_the_hop_block_with_its_index():
    cluster = make_cluster(zones=3)
    got, nodes = names(cluster, "ROLLING", hops=2)
    hop = rolling_hop(["zone1", "zone2", "zone3"])
    assert got == OBSHELL_PREFIX + hop + hop + SUFFIX
    assert len(nodes) == 50 == max_stage(edition="community", mode="ROLLING", hops=2, zones=3)
    assert [n.hop for n in nodes[9:-1]] == [0] * 20 + [1] * 20
    got, nodes = names(cluster, "STOPSERVICE", hops=2)
    assert got == OBSHELL_PREFIX + STOP_SERVICE_HOP + STOP_SERVICE_HOP + SUFFIX
    assert len(nodes) == 26


@pytest.mark.django_db
def test_freeze_server_adds_a_minor_freeze_per_zone_or_one_global():
    cluster = make_cluster(zones=3)
    got, nodes = names(cluster, "ROLLING", freeze=True)
    assert got == OBSHELL_PREFIX + rolling_hop(["zone1", "zone2", "zone3"], freeze=True) + SUFFIX
    assert len(nodes) == 33 == max_stage(edition="community", mode="ROLLING", hops=1, zones=3, freeze_server=True)
    freezes = [n for n in nodes if n.action == "minor_freeze"]
    assert [n.zone_name for n in freezes] == ["zone1", "zone2", "zone3"]
    got, nodes = names(cluster, "STOPSERVICE", freeze=True)
    assert got == OBSHELL_PREFIX + [
        "Backup parameters",
        "Execute upgrade checker script",
        "Minor freeze before stop server",
        "Execute upgrade pre script",
        "Execute upgrade health checker script",
        "Reinstall and restart observer",
        "Execute upgrade health checker script",
        "Execute upgrade post script",
        "Restore parameters",
        "Remove upgrade check task dir",
    ]
    assert [n.zone_name for n in nodes if n.action == "minor_freeze"] == [""]


@pytest.mark.django_db
def test_parallel_nodes_fan_out_and_serial_nodes_run_on_the_cluster_agent():
    cluster = make_cluster(zones=3, servers_per_zone=2)
    servers = list(cluster.servers.order_by("zone__position", "id"))
    _, nodes = names(cluster, "ROLLING")
    agent = cluster.agent_server()
    for node in nodes:
        if node.action == "reinstall_observer":
            assert node.agents == [s for s in servers if s.zone.name == node.zone_name]
            assert len(node.agents) == 2
        elif node.parallel:
            assert node.agents == servers
        else:
            assert node.agents == [agent]
    _, nodes = names(cluster, "STOPSERVICE")
    assert next(n for n in nodes if n.action == "reinstall_observer").agents == servers


@pytest.mark.django_db
def test_capability_flags_follow_spec_5_8():
    cluster = make_cluster(zones=3)
    _, nodes = names(cluster, "ROLLING", freeze=True)

    def key(name):
        return name.split(" ")[0] if name.startswith(("Stop ", "Start ")) else name

    flags = {key(n.name): (n.can_retry, n.can_rollback, n.can_pass, n.can_cancel, n.can_continue) for n in nodes}
    full = (True, True, True, True, True)
    for name in OBSHELL_PREFIX[:7] + ["Minor freeze before stop server"]:
        assert flags[name] == full, name
    for name in ["Restart obshell", "Upgrade post table maintain", "Backup parameters"]:
        assert flags[name] == (True, False, False, True, True), name
    assert flags["Remove upgrade check task dir"] == (True, False, True, True, True)
    for name in [
        "Execute upgrade checker script",
        "Execute upgrade health checker script",
        "Execute upgrade zone health checker script",
        "Execute upgrade post script",
        "Stop",
        "Start",
        "Reinstall and restart observer",
        "Restore parameters",
    ]:
        assert flags[name] == (True, False, False, False, True), name
    assert flags["Execute upgrade pre script"] == (True, False, False, False, False)
    # Consequences spelled out in spec 6.4: cancel through stage 10, rollback through stage 7.
    _, nodes = names(cluster, "ROLLING")
    assert [i for i, n in enumerate(nodes, 1) if not n.can_cancel][0] == 11
    assert [i for i, n in enumerate(nodes, 1) if not n.can_rollback][0] == 8
    assert [i for i, n in enumerate(nodes, 1) if n.can_pass and i > 7] == [30]


@pytest.mark.django_db
def test_check_dag_has_six_parallel_passable_nodes():
    cluster = make_cluster(zones=3)
    nodes = check_nodes(topology=Topology.of(cluster))
    assert [n.name for n in nodes] == OBSHELL_PREFIX[:5] + SUFFIX
    assert all(n.parallel and n.can_pass and len(n.agents) == 3 for n in nodes)
    assert [n.can_rollback for n in nodes] == [True] * 5 + [False]
