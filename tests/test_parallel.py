"""Meshes from ``jax.make_mesh`` (issue 33, part 1 item 4): the package builds every mesh through
``parallel.build_mesh``, on the 8 fake CPU devices of the tests; the shapes, the axis types and a sharded program."""

from __future__ import annotations

import pathlib
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from infantjax import parallel
from infantjax.errors import ConfigError

REPO = pathlib.Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("instances, batch, shape", [(70, None, (8, 1)), (7, None, (4, 2)), (7, 6, (4, 2)),
                                                     (1, 32, (1, 8)), (3, 3, (8, 1)), (2, None, (2, 4)),
                                                     (2, 2, (4, 2)), (1, 3, (8, 1))])
@pytest.mark.eight_devices
def test_instance_mesh_shapes_on_eight_devices(instances, batch, shape):
    """The mesh keeps every device: where the data axis must shrink to divide the batch, the instance axis grows
    (its extra slots are padding instances; a TPU v5e slice refuses a program that leaves chips out)."""
    mesh = parallel.instance_mesh(instances, batch_size=batch)
    assert mesh.axis_names == (parallel.INSTANCE, parallel.DATA)
    assert tuple(mesh.devices.shape) == shape
    # every axis is Auto: the programs' in_shardings decide, as with the hand-built meshes before
    assert set(mesh.axis_types) == {jax.sharding.AxisType.Auto}
    assert len(set(mesh.devices.flat)) == int(np.prod(shape))


@pytest.mark.eight_devices
def test_an_instance_axis_given_is_kept_and_the_devices_left_over_go_unused():
    mesh = parallel.instance_mesh(2, batch_size=2, instance_axis=2)  # data 4 -> 2
    assert tuple(mesh.devices.shape) == (2, 2) and len(set(mesh.devices.flat)) == 4


@pytest.mark.eight_devices  # devices 2 to 5
def test_build_mesh_uses_the_devices_it_is_given_in_topology_order():
    devices = jax.devices()[2:6]
    mesh = parallel.build_mesh((2, 2), ("instance", "data"), devices)
    assert set(mesh.devices.flat) == set(devices)
    # CPU devices have no topology: jax.make_mesh keeps their order
    assert [d.id for d in mesh.devices.flat] == [d.id for d in devices]
    one = parallel.build_mesh((4,), (parallel.DATA,))
    assert [d.id for d in one.devices.flat] == [d.id for d in jax.devices()[:4]]


def test_build_mesh_refuses_what_cannot_be_built():
    with pytest.raises(ConfigError, match=f"needs 16 devices, only {jax.device_count()}"):
        parallel.build_mesh((4, 4), ("instance", "data"))
    with pytest.raises(ConfigError, match="one positive size per axis"):
        parallel.build_mesh((4,), ("instance", "data"))
    with pytest.raises(ConfigError, match="one positive size per axis"):
        parallel.build_mesh((0, 8), ("instance", "data"))


def test_a_sharded_program_on_a_made_mesh_equals_the_host_result():
    mesh = parallel.instance_mesh(8, batch_size=4)  # instance=8, data=1
    x = np.arange(8 * 4 * 3, dtype=np.float32).reshape(8, 4, 3)
    f = jax.jit(lambda a: jnp.tanh(a).sum(axis=(1, 2)), in_shardings=(parallel.batch_sharding(mesh),),
                out_shardings=parallel.instance_sharding(mesh))
    out = f(x)
    assert out.sharding.spec == parallel.instance_sharding(mesh).spec
    np.testing.assert_allclose(np.asarray(out), np.tanh(x).sum(axis=(1, 2)), rtol=1e-6)


def test_no_hand_built_mesh_in_the_package():
    """Every mesh comes from parallel.build_mesh (jax.make_mesh): no ``Mesh(array, names)`` elsewhere."""
    pattern = re.compile(r"\bMesh\(")
    found = []
    for folder in ("infantjax", "benchmarks", "experiments"):
        for path in sorted((REPO / folder).rglob("*.py")):
            for n, line in enumerate(path.read_text().splitlines(), 1):
                if pattern.search(line) and "make_mesh" not in line:
                    found.append(f"{path.relative_to(REPO)}:{n}: {line.strip()}")
    assert not found, "build meshes with infantjax.parallel.build_mesh:\n" + "\n".join(found)


def test_release_freed_memory_returns_freed_heap_and_changes_nothing(monkeypatch):
    """glibc's malloc_trim where the C library has one (Linux CI); a no-op (False) without it."""
    if parallel._malloc_trim() is None:
        assert parallel.release_freed_memory() is False
    else:
        x = jnp.arange(1024.0)
        assert isinstance(parallel.release_freed_memory(), bool)
        np.testing.assert_array_equal(np.asarray(x), np.arange(1024.0))  # live buffers are untouched
    monkeypatch.setattr(parallel, "_malloc_trim", lambda: None)
    assert parallel.release_freed_memory() is False


def test_release_freed_memory_is_throttled_when_asked(monkeypatch):
    """The engine's per-epoch calls trim at most once a second (epochs of milliseconds pay nothing)."""
    calls = []
    monkeypatch.setattr(parallel, "_malloc_trim", lambda: (lambda pad: calls.append(pad) or 1))
    monkeypatch.setattr(parallel, "_LAST_TRIM", [float("-inf")])
    assert parallel.release_freed_memory(1.0) is True
    assert parallel.release_freed_memory(1.0) is False and len(calls) == 1  # within the second: skipped
    assert parallel.release_freed_memory() is True and len(calls) == 2    # unthrottled: always
