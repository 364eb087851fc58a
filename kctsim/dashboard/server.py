"""Starting the dashboard: check host and port, print the URL, run the Solara server."""

from __future__ import annotations

import errno
import os
import socket
import sys
from typing import NoReturn

APP = "kctsim.dashboard.app"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


class ServerError(ValueError):
    """The host or port cannot be used; the message says why."""


def check_host(host: str) -> str:
    """The host if this machine can listen on it."""
    try:
        socket.getaddrinfo(host, None)
    except (socket.gaierror, UnicodeError) as exc:
        raise ServerError(f"--host: cannot resolve {host!r} ({exc})") from exc
    return host


def check_port_free(host: str, port: int) -> None:
    """Raise unless ``port`` on ``host`` can be bound now."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # As the server will (uvicorn): connections lingering in TIME_WAIT do not count.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ServerError(f"--port: port {port} on {host} is already in use") from exc
            raise ServerError(f"--host/--port: cannot listen on {host}:{port} ({exc})") from exc


def url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


def command(host: str, port: int) -> list[str]:
    """The Solara command line that serves the app."""
    return [
        sys.executable,
        "-m",
        "solara",
        "run",
        APP,
        "--host",
        host,
        "--port",
        str(port),
        "--production",  # no auto-reload, minified front end
        "--no-open",
        "--log-level",
        "warning",
    ]


def serve(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> NoReturn:
    """Check host and port, print the URL, then become the Solara server.

    The process is replaced (``exec``), so Ctrl-C and signals reach the server
    itself and no orphan is left behind.

    Raises:
        ServerError: the host does not resolve or the port cannot be bound.
    """
    check_host(host)
    check_port_free(host, port)
    print(f"kctsim dashboard: {url(host, port)}  (Ctrl-C to stop)", flush=True)
    env = dict(os.environ)
    env.setdefault("SOLARA_TELEMETRY_MIXPANEL_ENABLE", "False")  # no calls home
    argv = command(host, port)
    os.execve(argv[0], argv, env)
