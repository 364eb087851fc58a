"""kctsim dashboard: host and port checks, the URL, the server command, offline assets."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from kctsim.cli import main
from kctsim.dashboard import assets, server


@pytest.mark.parametrize("port", ["0", "65536", "http"])
def test_a_bad_port_is_one_line_and_exit_2(capsys, port):
    assert main(["dashboard", "--port", port]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--port" in err and "65535" in err


def test_an_unknown_host_is_one_line_and_exit_2(capsys):
    assert main(["dashboard", "--host", "no-such-host.invalid"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "cannot resolve 'no-such-host.invalid'" in err


def test_a_port_in_use_is_refused_before_starting(capsys):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["dashboard", "--port", str(port)]) == 2
    assert "already in use" in capsys.readouterr().err


def test_serve_prints_the_url_and_becomes_the_solara_server(monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(server.os, "execve", lambda *args: calls.append(args))
    server.serve("127.0.0.1", 0)  # port 0: always free; execve is stubbed
    assert "kctsim dashboard: http://127.0.0.1:0/" in capsys.readouterr().out
    ((path, argv, env),) = calls
    assert argv[2:5] == ["solara", "run", "kctsim.dashboard.app"]
    assert argv[argv.index("--host") + 1] == "127.0.0.1" and "--production" in argv


def test_defaults_listen_on_localhost_port_8765():
    from kctsim.cli import build_parser

    args = build_parser().parse_args(["dashboard"])
    assert (args.host, args.port) == ("127.0.0.1", 8765)


def test_the_assets_solara_asks_for_are_listed_and_missing_ones_found(monkeypatch, tmp_path):
    packages = assets.required_packages()
    names = {p.rsplit("@", 1)[0] for p in packages}
    assert {"requirejs", "katex", "mermaid", "font-awesome"} <= names
    assert any(n.startswith("@widgetti/solara-vuetify") for n in names)
    monkeypatch.setattr(assets, "cache_dir", lambda: tmp_path)
    (tmp_path / packages[0]).mkdir(parents=True)
    assert assets.missing(packages) == packages[1:]


def test_fetching_without_npm_says_so(monkeypatch, tmp_path: Path):
    monkeypatch.setattr(assets, "cache_dir", lambda: tmp_path)
    monkeypatch.setattr(assets.shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="npm is needed"):
        assets.fetch(["requirejs@2.3.6"])
