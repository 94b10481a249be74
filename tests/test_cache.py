"""The persistent compilation cache (infantjax.cache) and how the CLI turns it on."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

import pytest

from infantjax import cache, cli
from infantjax.errors import ConfigError

_CHILD = r"""
import json, sys
from infantjax import cache
target = cache.enable_compilation_cache(sys.argv[1], min_compile_time_s=0)
import jax, jax.numpy as jnp
hits = []
jax.monitoring.register_event_listener(lambda name, **kw: hits.append(name) if name.endswith("cache_hits") else None)
y = jax.jit(lambda x: jnp.tanh(x @ x.T).sum())(jnp.ones((8, 8)))
print(json.dumps({"dir": str(target), "hits": len(hits), "value": float(y)}))
"""


def _child(directory) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("JAX_COMPILATION_CACHE_DIR", cache.CACHE_ENV)}
    out = subprocess.run([sys.executable, "-c", _CHILD, str(directory)], capture_output=True, text=True, env=env,
                         timeout=300, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_second_process_loads_the_program_from_the_cache(tmp_path):
    directory = tmp_path / "xla"
    first = _child(directory)
    assert first["dir"] == str(directory) and first["hits"] == 0
    written = [p for p in directory.rglob("*") if p.is_file()]
    assert written, "the first process wrote no program"
    second = _child(directory)
    assert second["hits"] >= 1 and second["value"] == first["value"]


def test_settings_and_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv(cache.CACHE_ENV, raising=False)
    default = cache.compilation_cache_dir()
    assert default.parent == tmp_path / "xdg" / "infantjax" / "xla" and default.name.startswith("jax")
    assert cache.cache_setting("off") == (False, None) and cache.cache_setting("0") == (False, None)
    assert cache.cache_setting("on") == (True, None) and cache.cache_setting("") == (True, None)
    assert cache.cache_setting(str(tmp_path / "d")) == (True, tmp_path / "d")
    monkeypatch.setenv(cache.CACHE_ENV, "off")
    assert cache.cache_setting(None) == (False, None)
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(ConfigError, match="cannot use .*a-file.* as the compilation cache"):
        cache.enable_compilation_cache(blocker / "sub")
    with pytest.raises(ConfigError, match="min_compile_time_s"):
        cache.enable_compilation_cache(tmp_path / "ok", min_compile_time_s=-1)


def _args(command: str, value: str | None, opt_out: bool = False) -> argparse.Namespace:
    ns = argparse.Namespace(command=command, compilation_cache=value)
    if opt_out:
        ns.compilation_cache_default = False
    return ns


def test_cli_turns_the_cache_on_except_for_bench(tmp_path, monkeypatch, caplog):
    calls = []
    monkeypatch.setattr(cache, "enable_compilation_cache", lambda path=None, **kw: calls.append(path))
    monkeypatch.delenv(cache.CACHE_ENV, raising=False)
    cli._compilation_cache(_args("predict", None))
    cli._compilation_cache(_args("bench", None, opt_out=True))  # bench: first calls include compiling
    cli._compilation_cache(_args("bench", str(tmp_path / "b"), opt_out=True))  # unless asked
    cli._compilation_cache(_args("predict", "off"))
    assert calls == [None, tmp_path / "b"]
    monkeypatch.setenv(cache.CACHE_ENV, "off")
    cli._compilation_cache(_args("predict", None))
    assert len(calls) == 2

    def refuse(path=None, **kw):
        raise ConfigError("cannot use it")

    monkeypatch.setattr(cache, "enable_compilation_cache", refuse)
    monkeypatch.delenv(cache.CACHE_ENV, raising=False)
    cli._compilation_cache(_args("predict", None))  # the default directory: a warning, the command goes on
    assert "running without the compilation cache" in caplog.text
    with pytest.raises(ConfigError):  # a directory the user named: the error
        cli._compilation_cache(_args("predict", str(tmp_path / "x")))


def test_bench_parser_opts_out():
    args = cli.build_parser().parse_args(["bench", "--quick"])
    assert args.compilation_cache_default is False and args.compilation_cache is None
    assert getattr(cli.build_parser().parse_args(["info"]), "compilation_cache_default", True) is True
