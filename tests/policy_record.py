"""Which tests the backend policy reaches: the list CI's accelerator-policy pass runs (tests/accelerator_forms.txt).

A test belongs in the list when the policy of the environment (``$INFANTJAX_BACKEND_POLICY``, or the compute dtype's
``$INFANTJAX_COMPUTE_DTYPE``) decides something while it runs: a test that never asks, or only asks inside a
``backend.use(...)`` block naming its own policy, computes the same thing under every policy, and running it again
under the accelerator policy costs CI time and checks nothing new. Recorded by running the candidate files under that
policy with this plugin on (tests/conftest.py loads it when ``INFANTJAX_RECORD_ACCELERATOR_FORMS`` names the list
to write)::

    INFANTJAX_RECORD_ACCELERATOR_FORMS=tests/accelerator_forms.txt INFANTJAX_BACKEND_POLICY=accelerator \\
        INFANTJAX_COMPUTE_DTYPE=float32 python -m pytest -q -m "not slow" \\
        $(sed -e 's/#.*//' -e 's/::.*//' tests/accelerator_forms.txt | sort -u)

(the candidates are the files the list names; a new file joins them by a line naming it).

What counts as asking, conservatively:

- ``backend.current()`` (every form, dtype and instance decision goes through it) reading the environment's policy
  or dtype — with every compiled program and cached form dropped before each test, so a test asks again what an
  earlier one already compiled;
- starting another process (a CLI subprocess, a NAS worker): it inherits the environment;
- using a shared (module or session) fixture that asked while it was built, or that a test which asked also used
  (it may hold programs or results made under the policy).

A file every one of whose tests is listed is written as the file, so its new tests join the pass by themselves; a
file with tests the policy never reaches is written test by test.
"""

from __future__ import annotations

import collections
import json
import os
import pathlib

import pytest

ENV = "INFANTJAX_RECORD_ACCELERATOR_FORMS"

HEADER = """\
# The tests the backend policy reaches (infantjax/backend.py, docs/backend.md): CI runs them a second time under
# INFANTJAX_BACKEND_POLICY=accelerator on CPU (.ci/run, pass 4), with the same assertions, so the forms a GPU or TPU
# runs (XLA convolutions, einsum aggregation, vmapped instances in training and scoring, whole-batch and
# data-parallel pose inference) are exercised on every CI run. The pass computes in float32
# (INFANTJAX_COMPUTE_DTYPE=float32): bfloat16 has its own tolerances (tests/test_mixed_precision.py sets the dtype it
# checks itself).
#
# Recorded, not written by hand: tests/policy_record.py (its docstring gives the command) ran every test of the files
# below under that policy and kept those during which the environment's policy decided something ({recorded} tests
# ran, {asked} asked the policy; a file whose every test is kept is written as the file). A new test file joins by a
# line naming it; record again after adding tests to a file listed test by test. One pytest node id a line; `#`
# starts a comment; tests/test_backend.py checks that every line names an existing test.

"""

_asked = False


def _mark(*_args, **_kwargs) -> None:
    global _asked
    _asked = True


def _install() -> None:
    """Wrap backend._requested (what current() reads) and process starts so that each marks the running test."""
    import multiprocessing.process
    import subprocess

    from infantjax import backend

    requested = backend._requested

    def recorded_requested():
        name, dtype, forms = requested()
        stack = getattr(backend._local, "stack", None) or []
        named_by_block = any(block_name is not None for block_name, _, _ in stack)
        dtype_by_block = any(block_dtype is not None for _, block_dtype, _ in stack)
        if not named_by_block and os.environ.get(backend.ENV, "").strip():
            _mark()  # the environment's policy decides
        elif not dtype_by_block and os.environ.get(backend.DTYPE_ENV, "").strip() and (
                backend.policy(name).compute_dtype != dtype):
            _mark()  # the environment's dtype overrides the policy a block named
        return name, dtype, forms

    backend._requested = recorded_requested

    popen_init = subprocess.Popen.__init__

    def recorded_popen(self, *args, **kwargs):
        _mark()
        return popen_init(self, *args, **kwargs)

    subprocess.Popen.__init__ = recorded_popen
    start = multiprocessing.process.BaseProcess.start

    def recorded_start(self):
        _mark()
        return start(self)

    multiprocessing.process.BaseProcess.start = recorded_start


class Recorder:
    """The plugin: ``drop(every_cache=True)`` drops every compiled program and cached form of the package before
    each test (tests/conftest.py's ``drop_compiled_programs``), so that a test traces (and asks) again."""

    def __init__(self, config, drop):
        self.config = config
        self.drop = drop
        self.records: list[dict] = []
        self.fixture_asked: set[str] = set()
        _install()

    @staticmethod
    def _key(fixturedef, nodeid: str) -> str:
        if fixturedef.scope == "function":
            return ""
        if fixturedef.scope == "session":
            return fixturedef.argname
        return nodeid.split("::", 1)[0] + "::" + fixturedef.argname

    @pytest.hookimpl(hookwrapper=True)
    def pytest_fixture_setup(self, fixturedef, request):
        global _asked
        before, _asked = _asked, False
        yield
        key = self._key(fixturedef, request.node.nodeid)
        if _asked and key:
            self.fixture_asked.add(key)
        _asked = before or _asked

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item, nextitem):
        global _asked
        self.drop(every_cache=True)
        _asked = False
        yield
        shared = []
        for name, defs in item._fixtureinfo.name2fixturedefs.items():
            key = self._key(defs[-1], item.nodeid)
            if key:  # the project's autouse fixtures (names with a leading _) hold no programs or results
                shared.append((key, name.startswith("_")))
        self.records.append({"nodeid": item.nodeid, "asked": _asked, "shared": shared})

    def pytest_sessionfinish(self, session):
        folder = pathlib.Path(os.environ[ENV] + ".parts")
        folder.mkdir(parents=True, exist_ok=True)
        worker = getattr(session.config, "workerinput", {}).get("workerid", "main")
        (folder / f"{worker}.json").write_text(json.dumps({"records": self.records,
                                                           "fixtures": sorted(self.fixture_asked)}))

    def pytest_unconfigure(self, config):
        if getattr(config, "workerinput", None) is None:
            write_list(pathlib.Path(os.environ[ENV]))


def write_list(out: pathlib.Path) -> list[str]:
    """Merge the workers' records into the list (files whose every test asked, else node ids) and write it."""
    folder = pathlib.Path(str(out) + ".parts")
    records, hot = [], set()
    for part in sorted(folder.glob("*.json")):
        data = json.loads(part.read_text())
        records += data["records"]
        hot |= set(data["fixtures"])
    for record in records:  # a shared fixture a test that asked used may hold what it made
        if record["asked"]:
            hot |= {key for key, auto in record["shared"] if not auto}
    by_file: dict[str, list[tuple[str, bool]]] = collections.defaultdict(list)
    for record in records:
        listed = record["asked"] or any(key in hot for key, _ in record["shared"])
        by_file[record["nodeid"].split("::", 1)[0]].append((record["nodeid"], listed))
    lines = []
    for file in sorted(by_file):
        tests = by_file[file]
        if all(listed for _, listed in tests):
            lines.append(file)
        else:
            lines += sorted({nodeid for nodeid, listed in tests if listed})
    text = HEADER.format(recorded=len(records), asked=sum(r["asked"] for r in records))
    out.write_text(text + "\n".join(lines) + "\n")
    for part in folder.glob("*.json"):
        part.unlink()
    folder.rmdir()
    return lines
