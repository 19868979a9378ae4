"""No Docker engine runs here: check the compose file's structure instead."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_qdrant_service_is_pinned_with_ports_volume_and_healthcheck() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    service = compose["services"]["qdrant"]
    assert re.fullmatch(r"qdrant/qdrant:v\d+\.\d+\.\d+", service["image"])
    assert {"6333:6333", "6334:6334"} <= {str(port).split()[0] for port in service["ports"]}
    volume, target = service["volumes"][0].split(":", 1)
    assert target == "/qdrant/storage" and volume in compose["volumes"]
    test = service["healthcheck"]["test"]
    command = " ".join(test[1:])
    assert test[0] == "CMD-SHELL"
    assert "/dev/tcp/127.0.0.1/6333" in command and "curl" not in command and "wget" not in command


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _cluster_nodes(compose: dict) -> dict[str, dict]:
    return {name: s for name, s in compose["services"].items() if "cluster" in s.get("profiles", [])}


def _flag(command: list[str], flag: str) -> str | None:
    return command[command.index(flag) + 1] if flag in command else None


def test_cluster_profile_has_three_clustered_nodes_with_own_storage() -> None:
    compose = _compose()
    nodes = _cluster_nodes(compose)
    assert len(nodes) == 3
    assert compose["services"]["qdrant"]["profiles"] == ["single"]  # never up together with the cluster on :6333
    volumes = set()
    for service in nodes.values():
        assert service["image"] == compose["services"]["qdrant"]["image"]
        assert service["environment"]["QDRANT__CLUSTER__ENABLED"] == "true"
        assert service["environment"]["QDRANT__CLUSTER__P2P__PORT"] == "6335"
        assert "6335" in [str(port) for port in service["expose"]]
        assert not any("6335" in str(port) for port in service.get("ports", []))  # p2p stays between the nodes
        volume, target = service["volumes"][0].split(":", 1)
        assert target == "/qdrant/storage" and volume in compose["volumes"]
        volumes.add(volume)
        assert "/dev/tcp/127.0.0.1/6333" in " ".join(service["healthcheck"]["test"][1:])
    assert len(volumes) == 3


def test_cluster_node1_bootstraps_the_others_and_serves_the_clients() -> None:
    nodes = _cluster_nodes(_compose())
    seeds = [name for name, s in nodes.items() if _flag(s["command"], "--bootstrap") is None]
    assert len(seeds) == 1
    seed = seeds[0]
    assert _flag(nodes[seed]["command"], "--uri") == f"http://{seed}:6335"
    assert {"6333:6333", "6334:6334"} <= {str(port) for port in nodes[seed]["ports"]}
    for name, service in nodes.items():
        if name == seed:
            continue
        assert _flag(service["command"], "--bootstrap") == f"http://{seed}:6335"
        assert _flag(service["command"], "--uri") == f"http://{name}:6335"
        assert service["depends_on"][seed]["condition"] == "service_healthy"
        assert "ports" not in service
