"""The catalogue of programs ``infantjax compile`` knows: a name, a builder and a default batch each, filled
in by the families (:mod:`infantjax.aot.programs`: one module a family, each registering its programs with
:func:`register` next to the shapes it knows), and the steps every builder shares: the engine's training step
over abstract state and batch (:func:`engine_step`), a stacked task's step at the papers' size or its contract
example (:func:`task_step`).

A family adds a program in its module of :mod:`infantjax.aot.programs`:

    from infantjax.aot.catalogue import register, task_step

    def _paper(batch):                      # the task at the paper's size and one instance's batch of it
        task = MyTask(MySpec(), MyConfig(batch_size=batch, progress=False))
        leaves = {"x": ((batch, 64, 3), np.float32), "y": ((batch,), np.int32)}
        return task, leaves, batch, "windows", f"my family's training step, {batch} windows"

    def _build(devices, batch, instances, size):
        return task_step(devices, batch, instances, size, paper=_paper, example=lambda: MyTask.example(0))

    register("my-train", _build, batch=32, line="my family's stacked training step", example=True)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from infantjax.errors import ConfigError

__all__ = ["PROGRAMS", "Built", "Program", "abstract", "engine_step", "graph_product", "program", "register",
           "task_step"]


@dataclasses.dataclass
class Built:
    """A program ready to lower: the jitted function, its abstract arguments (``jax.ShapeDtypeStruct`` with
    shardings) and what one call does.

    Attributes:
        fn: the jitted function.
        args: its abstract arguments.
        items: work items of one call (windows, images, recordings, steps).
        unit: their name.
        description: a line for the tables.
        instance_parallel: instances stacked over the mesh's ``instance`` axis (they must never exchange data).
        analytical_flops: the library's analytical FLOP count of one call over all devices, or None.
        mesh_shape: the mesh's axes and sizes.
        devices: the devices the program runs on, where fewer than the target's (one NAS trial: one chip).
    """

    fn: Callable
    args: tuple
    items: float
    unit: str
    description: str
    instance_parallel: bool
    analytical_flops: float | None
    mesh_shape: dict
    devices: int | None = None


@dataclasses.dataclass(frozen=True)
class Program:
    """A program of the catalogue.

    Attributes:
        name: its name (``infantjax compile --program``).
        build: ``build(devices, batch, instances, size) -> Built`` (``size``: ``"paper"`` or ``"small"``).
        batch: the default batch (per instance and call).
        line: one line for ``--help`` and the docs.
        example: at ``size="small"`` it runs its task's contract example, whose batch is the example's own.
    """

    name: str
    build: Callable[..., Built]
    batch: int
    line: str
    example: bool = False


#: program name -> :class:`Program`, in registration order (complete once :mod:`infantjax.aot.programs` is
#: imported)
PROGRAMS: dict[str, Program] = {}


def register(name: str, build: Callable[..., Built], *, batch: int, line: str,
             example: bool = False) -> Program:
    """Add a program to the catalogue (a family's module of :mod:`infantjax.aot.programs` does, on import).

    Raises:
        ConfigError: the name is taken, or the default batch is below 1.
    """
    if name in PROGRAMS:
        raise ConfigError(f"a program called {name!r} is registered already; give the new one another name")
    if batch < 1:
        raise ConfigError(f"program {name!r}: the default batch must be at least 1, got {batch}")
    PROGRAMS[name] = entry = Program(name, build, int(batch), line, example)
    return entry


def program(name: str) -> Program:
    """The program called ``name``.

    Raises:
        ConfigError: an unknown name (the message lists the known ones).
    """
    if name not in PROGRAMS:
        raise ConfigError(f"unknown program {name!r}; use one of {', '.join(PROGRAMS)}")
    return PROGRAMS[name]


def abstract(tree, sharding):
    """``tree`` as abstract arrays (``jax.ShapeDtypeStruct``) placed with ``sharding``."""
    import jax

    return jax.tree_util.tree_map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=sharding), tree)


def engine_step(task, devices, instances: int, batch_tree: dict, *, steps_per_epoch: int = 10):
    """The engine's training step over ``instance_mesh(instances)`` with abstract state and batch
    (``batch_tree``: name -> (shape of one instance's batch, dtype)). The mesh is the one the engine builds
    (``train.engine``): its ``data`` axis shrunk until it divides the task's batch, its ``instance`` axis
    grown to keep every device (MAM's 2 bags a step for 64 folds on a v5e-256: instance 128 x data 2, 64 of
    the slots padding).

    Returns:
        (the jitted step, its abstract arguments ``(state, batch, active)``, the mesh's shape, the padded
        instance count).
    """
    import jax
    import jax.numpy as jnp

    from infantjax import parallel
    from infantjax.train.engine import Programs

    batch_size = getattr(getattr(task, "config", None), "batch_size", None)
    mesh = parallel.instance_mesh(instances, devices=devices, batch_size=batch_size)
    n = parallel.padded_size(instances, mesh)
    programs = Programs(task, steps_per_epoch, mesh)
    inst, batch = parallel.instance_sharding(mesh), parallel.batch_sharding(mesh)
    stacked = {k: jax.ShapeDtypeStruct((n, *shape), dtype, sharding=batch) for k, (shape, dtype) in
               batch_tree.items()}
    state = abstract(jax.eval_shape(programs.init, jax.ShapeDtypeStruct((n, 2), jnp.uint32)), inst)
    active = jax.ShapeDtypeStruct((n,), jnp.bool_, sharding=inst)
    return programs.train_step, (state, stacked, active), dict(mesh.shape), n


def task_step(devices, batch: int, instances: int, size: str, *, paper: Callable, example: Callable) -> Built:
    """The engine's training step of a family's task, its instances stacked over the mesh's ``instance`` axis.

    Arguments:
        paper: ``paper(batch) -> (task, leaves, items, unit, line)``: the task at the papers' size, one
            instance's batch of it (``leaves``: name -> (shape, dtype)), the work items of that batch, their
            unit, a line. Used at ``size="paper"``.
        example: ``example() -> (task, data)``: a small task and the data of its instances (its contract
            example, ``Task.example(0)``), whose first batch is compiled at ``size="small"``.
    """
    import jax
    import numpy as np

    if size == "paper":
        task, leaves, items, unit, line = paper(batch)
        fn, args, mesh, _ = engine_step(task, devices, instances, leaves)
        return Built(fn, args, instances * items, unit, f"{line}; {instances} instances", True, None, mesh)
    task, data = example()
    first = task.epoch_batches(data[0], 0, np.random.default_rng([0, 0]))[0]
    flat = jax.tree_util.tree_leaves(first)
    leaves = {f"leaf{i}": (np.shape(a), np.asarray(a).dtype) for i, a in enumerate(flat)}
    fn, args, mesh, _ = engine_step(task, devices, instances, leaves)
    state, stacked, active = args
    stacked = jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(first),
                                           [stacked[f"leaf{i}"] for i in range(len(leaves))])
    items = int(np.shape(flat[0])[0])
    return Built(fn, (state, stacked, active), instances * items, "examples",
                 f"{type(task).__name__} training step (its contract example), {instances} instances x "
                 f"{items} examples", True, None, mesh)


def graph_product() -> str:
    """How the policy in force runs the GCN graph convolutions, as :func:`~infantjax.models.gcn.count_flops`
    names it (the analytical count of the program that is compiled)."""
    from infantjax import backend

    return "dense" if backend.current().graph_product == "dense" else "factored"
