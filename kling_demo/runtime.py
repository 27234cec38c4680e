"""Start what the app talks to: the real API with a key, or the built-in simulator without one."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .client import KlingClient
from .config import AppConfig
from .eta import EtaBook
from .service import JobService

SIMULATOR_KEY = "offline-simulator"


@dataclass
class Backend:
    """The running service and, in offline mode, the simulator behind it."""

    config: AppConfig
    service: JobService
    simulator: Any = None

    @property
    def offline(self) -> bool:
        """True when videos come from the local simulator, not Kling."""
        return self.simulator is not None

    @property
    def server_key_set(self) -> bool:
        """True when the server spends its own AIMLAPI_KEY."""
        return bool(self.config.api_key)

    def close(self) -> None:
        """Stop the simulator if this process started one."""
        if self.simulator is not None:
            self.simulator.stop()


def browser_secret(data_dir: Path) -> str:
    """A per-installation secret so browser storage stays readable across restarts."""
    path = data_dir / "browser-secret"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()


def start_backend(config: AppConfig) -> Backend:
    """Build the service; start the simulator on loopback when there is no key and no base URL."""
    data_dir = config.data_dir
    if not config.use_simulator:
        client = KlingClient(config.api_key, config.base_url)
        service = JobService(
            client,
            data_dir,
            deadline=config.deadline_seconds,
            keep_videos=config.keep_videos,
            keep_days=config.keep_days,
        )
        return Backend(config, service)
    from .simulator import Simulator, SimulatorConfig

    sim = Simulator(
        SimulatorConfig(
            data_dir=data_dir / "simulator",
            queue_seconds=config.sim_queue_seconds,
            generate_seconds=config.sim_generate_seconds,
        )
    )
    base_url = sim.start()
    simulated = config.sim_queue_seconds + config.sim_generate_seconds

    def seed(model_id: str, duration: int) -> float:
        return simulated + 0.5

    eta = EtaBook(data_dir / "eta-simulator.json", seed=seed)
    service = JobService(
        KlingClient(SIMULATOR_KEY, base_url),
        data_dir,
        deadline=config.deadline_seconds,
        eta=eta,
        keep_videos=config.keep_videos,
        keep_days=config.keep_days,
    )
    return Backend(config, service, sim)
