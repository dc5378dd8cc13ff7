"""Putting the metrics together for a scrape: this process's values, or every
worker's (prometheus-client's multiprocess mode, PROMETHEUS_MULTIPROC_DIR), plus
the outbox figures read from the database at that moment."""

from __future__ import annotations

import hmac
import logging
import os
from collections.abc import Iterator

from flask import Flask
from prometheus_client import REGISTRY, start_http_server
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector

from ciam.ops.metrics import OutboxCollector

log = logging.getLogger(__name__)


class ScrapeRegistry:
    """What generate_latest and the port server need of a registry: collect()."""

    def __init__(self, app: Flask) -> None:
        directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        # MultiProcessCollector reads every worker's files at each collect().
        self.workers = MultiProcessCollector(None, directory) if directory else REGISTRY
        self.outbox = OutboxCollector(app)

    def collect(self) -> Iterator:
        yield from self.workers.collect()
        try:
            yield from list(self.outbox.collect())
        except Exception:  # the database is down: the request metrics still count
            log.warning("metrics: the outbox figures could not be read", exc_info=True)


def scrape_registry(app: Flask) -> ScrapeRegistry:
    found = app.extensions.get("ciam.ops.scrape")
    if found is None:
        found = app.extensions["ciam.ops.scrape"] = ScrapeRegistry(app)
    return found


def render(app: Flask, accept: str | None) -> tuple[bytes, str]:
    encoder, content_type = choose_encoder(accept or "")
    return encoder(scrape_registry(app)), content_type


def bearer_matches(header: str | None, token: str) -> bool:
    scheme, _, presented = (header or "").partition(" ")
    # Constant time: the comparison must not tell how much of a guess was right.
    return scheme.lower() == "bearer" and hmac.compare_digest(
        presented.strip().encode(), token.encode()
    )


def metrics_port_opener(app: Flask, port: int):
    """The first request a worker serves opens the metrics port, if no other worker
    of this machine has (the port is taken: that one serves every worker's values in
    multiprocess mode). Not at create_app: CLI commands build the app too."""

    def open_port() -> None:
        try:
            server, _ = start_http_server(port, registry=scrape_registry(app))
            app.extensions["ciam.ops.metrics_server"] = server  # for shutdown()
        except OSError:
            log.info("metrics port %s is served by another process", port)

    return open_port
