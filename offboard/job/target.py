"""Where requests go: the real API (URL and key), or a sandbox world started for the run."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ..core.errors import SettingsError
from ..core.job import Job
from ..core.settings import Secret, chosen_base_url, read_api_key
from ..source.read import Batch


@dataclass(frozen=True, slots=True)
class Target:
    base_url: str = ""
    api_key: Secret | None = None
    world: Any = None


def check_target(job: Job, batch: Batch, environ: Mapping[str, str]) -> Target:
    """Check the URL and key (or the sandbox world) before anything is made or sent."""
    if not job.sandbox:
        return Target(
            chosen_base_url(job.base_url, environ), read_api_key(job.api_key_file, environ)
        )
    if job.base_url is not None or job.api_key_file is not None:
        raise SettingsError("--sandbox brings its own URL and key: drop --base-url/--api-key-file")
    from ..sandbox import SandboxError, demo_world, load_world

    try:
        return Target(
            world=load_world(batch.sandbox, origin=f"{batch.source}: sandbox")
            if batch.sandbox is not None
            else demo_world()
        )
    except SandboxError as exc:
        raise SettingsError(str(exc)) from None


@contextmanager
def connect(target: Target) -> Iterator[tuple[str, Secret]]:
    """The base URL and key to use; for a sandbox world, the sandbox is started here."""
    if target.world is None:
        assert target.api_key is not None
        yield target.base_url, target.api_key
        return
    from ..sandbox import Sandbox

    with Sandbox(target.world, port=0) as sandbox:
        yield sandbox.url, Secret(sandbox.api_key)
