"""Traced programs kept beside the compilation cache (infantjax.infer.stored): an ensemble scored through the store
gives the values it gives without it, bit for bit; a later scoring reads the stored programs instead of tracing; a
damaged file is traced again and replaced; what decides a program (the mapping over instances, the shapes) names
another file; the store follows JAX's cache and its own switch."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from infantjax.infer import stored


@pytest.fixture
def store(tmp_path, monkeypatch):
    """JAX's persistent cache (and so the store) in a folder of this test's; the module's programs dropped before
    and after, so every scoring here traces or reads the store afresh."""
    from conftest import drop_compiled_programs

    monkeypatch.delenv(stored.STORE_ENV, raising=False)
    previous = jax.config.jax_compilation_cache_dir
    jax.config.update("jax_compilation_cache_dir", str(tmp_path / "xla"))
    drop_compiled_programs()
    yield tmp_path / "xla" / "infantjax-programs"
    drop_compiled_programs()
    jax.config.update("jax_compilation_cache_dir", previous)


def _score(windows):
    from infantjax.ensemble import Ensemble

    ensemble = Ensemble.pretrained("cp-gcn-synthetic-3folds")
    probs, cams = ensemble.window_predictions(windows)
    return np.asarray(probs), np.asarray(cams)


def _windows(n: int = 11) -> np.ndarray:
    rng = np.random.default_rng(0)
    return (200 + 5 * rng.normal(size=(n, 150, 19, 2)).cumsum(1)).astype(np.float32)


def test_scoring_through_the_store_equals_scoring_without_it_and_reads_it_later(store, monkeypatch):
    from conftest import drop_compiled_programs

    windows = _windows()
    monkeypatch.setenv(stored.STORE_ENV, "off")
    assert stored.store_dir() is None
    plain = _score(windows)
    assert not store.exists()
    monkeypatch.delenv(stored.STORE_ENV)
    drop_compiled_programs()
    first = _score(windows)
    files = sorted(store.glob("*.jaxexport"))
    assert files and not list(store.glob(".*partial"))
    for a, b in zip(plain, first, strict=True):
        np.testing.assert_array_equal(a, b)
    # a later scoring (a new process: nothing compiled in memory) reads the store and traces no network
    drop_compiled_programs()

    def refuse(*args, **kwargs):
        raise AssertionError("traced and exported again although the store holds the program")

    monkeypatch.setattr(jax.export, "export", refuse)
    again = _score(windows)
    for a, b in zip(plain, again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert sorted(store.glob("*.jaxexport")) == files


def test_a_damaged_stored_program_is_traced_again_and_replaced(store):
    from conftest import drop_compiled_programs

    windows = _windows()
    before = _score(windows)
    damaged = min(store.glob("*.jaxexport"))
    damaged.write_bytes(b"not a program")
    drop_compiled_programs()
    after = _score(windows)
    for a, b in zip(before, after, strict=True):
        np.testing.assert_array_equal(a, b)
    assert damaged.read_bytes() != b"not a program"


def test_what_decides_a_program_names_another_file_and_a_function_without_a_key_is_not_stored(store):
    f = jax.jit(lambda x: 2 * x)
    x = jax.ShapeDtypeStruct((4,), np.float32)
    kw = {"in_shardings": None, "out_shardings": None}

    def keyed(v):
        return 2 * v

    keyed.program_key = "twice"
    stored.lower(f, lambda v: 2 * v, (x,), **kw)
    assert not store.exists()  # no program_key: lowered as it is
    stored.lower(f, keyed, (x,), program_of="map", **kw)
    stored.lower(f, keyed, (x,), program_of="vmap", **kw)
    stored.lower(f, keyed, (jax.ShapeDtypeStruct((8,), np.float32),), program_of="map", **kw)
    stored.lower(f, keyed, (x,), program_of="map", **kw)  # read back: no new file
    assert len(list(store.glob("*.jaxexport"))) == 3
    compiled = stored.lower(f, keyed, (x,), program_of="map", **kw).compile()
    np.testing.assert_array_equal(compiled(np.arange(4, dtype=np.float32)), [0, 2, 4, 6])
