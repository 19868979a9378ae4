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
