"""A faithful simulator of the Gcore IAM endpoints offboard uses, served over real HTTP.

    world = load_world(mapping, origin="jobs/demo.yaml: sandbox")   # or demo_world()
    with Sandbox(world) as sb:
        ...  # point a client at sb.url with sb.api_key; check sb.has_access(...) afterwards

Modules: world (the immutable scenario model), scenario (loading and validation) and checks
(its typed value checks), state (the mutable, locked state of one running sandbox), endpoints
and shapes (the API itself; invite and activity hold POST /iam/clients/invite_user and GET
/iam/activity_log/logins, scenario_logins their world-file keys, exchange the request and
response types all endpoints share), faults (fault decisions), app (the ASGI app tying them
together), server (uvicorn in a thread).
"""

from offboard.sandbox.demo import DEMO_WORLD_PATH, demo_world
from offboard.sandbox.log import RequestRecord
from offboard.sandbox.scenario import load_world
from offboard.sandbox.server import PortUnavailable, Sandbox, serve
from offboard.sandbox.state import State
from offboard.sandbox.world import SandboxError, World

__all__ = [
    "DEMO_WORLD_PATH",
    "PortUnavailable",
    "RequestRecord",
    "Sandbox",
    "SandboxError",
    "State",
    "World",
    "demo_world",
    "load_world",
    "serve",
]
