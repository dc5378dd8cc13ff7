"""The app-wide commands of `ciam` (ciam.console): `serve`, `demo`, `init`."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from ciam.extensions import db


def _server_executable(name: str) -> str:
    """The server installed next to this Python (the venv), else one on PATH."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if not found:
        raise click.ClickException(f"{name} is not installed (pip install 'ciam[{name}]').")
    return found


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=None, type=int, help="Default: 2 x cores + 1.")
@click.option(
    "--server",
    "server_name",
    type=click.Choice(["gunicorn", "granian"]),
    default="gunicorn",
    show_default=True,
)
@click.option(
    "--threads",
    default=4,
    show_default=True,
    type=int,
    help="granian: blocking threads per worker (requests waiting on the database overlap).",
)
def serve(host, port, workers, server_name, threads):
    """Serve the app with gunicorn (sync workers) or granian."""
    workers = workers or (2 * (os.cpu_count() or 1) + 1)
    bind = f"{host}:{port}"
    exe = _server_executable(server_name)
    # The factory form works from any directory, unlike `wsgi:app`.
    if server_name == "granian":
        argv = [
            exe,
            "--interface",
            "wsgi",
            "--factory",
            "--host",
            host,
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--blocking-threads",
            str(threads),
            "ciam:create_app",
        ]
        # glibc gives each thread its own malloc arena, and each arena keeps the
        # 19 MiB argon2id buffer of the last hash it served (glibc's dynamic mmap
        # threshold: reusing it avoids page-faulting 19 MiB per login, which would
        # double a hash's time). One arena: one such buffer per worker, as with a
        # sync worker; the threads take turns on the GIL and at most one argon2id
        # per core runs at a time anyway (passwords._hashing_slots). docs/deploy.md.
        os.environ.setdefault("MALLOC_ARENA_MAX", "1")
    else:
        argv = [
            exe,
            "--bind",
            bind,
            "--workers",
            str(workers),
            # No gunicorn access log: its request line has the path and query, where
            # reset and invitation links carry their token; ciam writes its own line
            # per request, with the route template (ciam.ops.observer).
            "ciam:create_app()",
        ]
    reset_multiprocess_metrics()
    click.echo(f"ciam serving on http://{bind} with {server_name} ({workers} workers)")
    sys.stdout.flush()
    os.execvp(argv[0], argv)  # noqa: S606 - replaces this process with the server


def reset_multiprocess_metrics() -> None:
    """prometheus-client's multiprocess mode: the directory must start empty, or
    the counts of an earlier run (and its dead workers) are added in."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        return
    Path(directory).mkdir(parents=True, exist_ok=True)
    for stale in Path(directory).glob("*.db"):
        stale.unlink()


@click.command("demo")
@click.option("--quiet", is_flag=True)
@with_appcontext
def demo(quiet):
    """Load demo organizations, users and portals (idempotent) and print them."""
    from ciam.demo import load_demo

    info = load_demo()
    db.session.commit()
    if not quiet:
        click.echo(info)


@click.command("init")
@with_appcontext
def init():
    """Create signing keys if there are none (the server also does at its first request)."""
    from ciam.oidc.keys import create_first_keys

    created = create_first_keys()
    click.echo(f"{len(created)} signing key(s) created; issuer {current_app.config['CIAM_ISSUER']}")


def setup_cli(app: Flask) -> None:
    for command in (serve, demo, init):
        app.cli.add_command(command)
