"""The built-in demo world, kept as YAML beside this module so jobs/demo.yaml can share it."""

from __future__ import annotations

from pathlib import Path

import yaml

from offboard.sandbox.scenario import load_world
from offboard.sandbox.world import World

DEMO_WORLD_PATH = Path(__file__).with_name("demo_world.yaml")


def demo_world() -> World:
    with DEMO_WORLD_PATH.open(encoding="utf-8") as file:
        return load_world(yaml.safe_load(file), origin=str(DEMO_WORLD_PATH))
