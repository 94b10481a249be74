"""A new family is its modules: a toy family written into a package of its own (a temporary folder on
``sys.path``: its network, its family module with its zoo entry, its training module) is registered by importing
it, and loads by zoo name and by path, predicts, saves, exports and passes the task contract, with no list of the
package edited — the registry, the zoo and the task contract find it from its registration."""

from __future__ import annotations

import importlib
import sys
import textwrap

import numpy as np
import pytest
import test_task_contract as contract  # the contract's checks (importing it registers the documented toy family)

PACKAGE = "slopefam"

#: the toy family, one module a layer: network (models), family (infer: forward, trained model, zoo entry),
#: training (train: config and task, bound to the trained model)
MODULES = {
    "__init__.py": "",
    "network.py": '''
        import dataclasses

        import flax.linen as nn

        from infantjax import models


        class SlopeNet(nn.Module):
            spec: "SlopeSpec"

            @nn.compact
            def __call__(self, x, train=False):
                return nn.Dense(1)(x)[..., 0]


        @models.register(build=lambda spec: SlopeNet(spec), sample_input=lambda spec: (1, spec.features))
        @dataclasses.dataclass(frozen=True)
        class SlopeSpec(models.JsonConfig):
            features: int = 1
            dtype: str = "float32"
        ''',
    "family.py": '''
        import dataclasses

        import numpy as np

        from infantjax.infer.forward import Forward, Inputs
        from infantjax.infer.inputs import as_array
        from infantjax.infer.registry import register_family
        from infantjax.infer.trained import TrainedModel
        from infantjax.models.zoo import ZooEntry
        from slopefam.network import SlopeSpec


        @dataclasses.dataclass(frozen=True)
        class SlopeInputs(Inputs):
            scale: float = 1.0


        class SlopeForward(Forward):
            inputs_type = SlopeInputs

            def prepare(self, x):
                return as_array(x, (None, self.spec.features), where="SlopeModel.predict", what="x values")

            def apply(self, variables, x):
                return self.inputs.scale * self.model.apply(variables, x)


        @register_family(recording="x values (N, 1)", zoo=(
            ZooEntry("slope-toy", "slope", "slope_toy.npz", "Apache-2.0", "tests/test_family_package.py",
                     "a line fitted by a toy family of a package of its own", "two lines of 64 points",
                     package="slopefam"),))
        class SlopeModel(TrainedModel):
            kind, spec_type, forward_type = "slope", SlopeSpec, SlopeForward
            training_module = "slopefam.training"

            def predict(self, x):
                return self.predictor()(self.forward.prepare(x)).mean(axis=0)

            def example_input(self, seed=0):
                return (np.random.default_rng(seed).uniform(-1, 1, (4, 1)).astype(np.float32),)
        ''',
    "training.py": '''
        import dataclasses

        import jax.numpy as jnp
        import numpy as np

        from infantjax.train import Selection, ShuffledBatches, Task, TrainConfig
        from slopefam.family import SlopeForward, SlopeModel
        from slopefam.network import SlopeSpec


        @dataclasses.dataclass(frozen=True)
        class SlopeConfig(TrainConfig):
            l2: float = 0.0
            scale: float = 1.0


        class SlopeTask(Task):
            def __init__(self, spec, config):
                self.spec, self.config, self.forward = spec, config, SlopeForward(spec, config)
                self.model = self.forward.model

            def init(self, key):
                return self.forward.init(key)

            def loss(self, variables, batch, key, step):
                error = self.forward.apply(variables, batch["x"]) - batch["y"][:, 0]
                penalty = self.config.l2 * jnp.sum(variables["params"]["Dense_0"]["kernel"] ** 2)
                return jnp.mean(error ** 2) + penalty, {}, {}

            def epoch_batches(self, data, epoch, rng):
                return ShuffledBatches(data, rng.permutation(len(data["x"])), self.config.batch_size)

            def predict(self, variables, x):
                return self.forward.apply(variables, x)

            def eval_inputs(self, data):
                return data["x"]

            def score(self, data, outputs):
                return {"val_mse": float(np.mean((outputs - data["y"][:, 0]) ** 2))}

            def selection(self):
                return Selection("val_mse", "min")

            @classmethod
            def example(cls, seed=0):
                config = SlopeConfig(epochs=4, batch_size=8, optimizer="adam", learning_rate=0.1, progress=False)
                return cls(SlopeSpec(), config), [slope_data(seed), slope_data(seed + 1)]


        def slope_data(seed, n=64):
            rng = np.random.default_rng(seed)
            x = rng.uniform(-1, 1, (n, 1)).astype(np.float32)
            return {"x": x, "y": (3 * x - 1 + 0.1 * rng.normal(size=x.shape)).astype(np.float32)}


        SlopeModel.trained_with(SlopeConfig, SlopeTask)
        ''',
}


@pytest.fixture
def package(tmp_path, monkeypatch):
    """The toy family's package, written under tmp_path and put on sys.path; what it registers (its family, zoo
    entry, spec and task) is forgotten afterwards, so that the other tests see the shipped families only."""
    from infantjax.infer import registry
    from infantjax.models import _registry as networks
    from infantjax.models import zoo
    from infantjax.train import task

    registry.shipped()  # every shipped family registered first (the docs' toy too: contract): none is forgotten
    monkeypatch.setattr(registry, "_FAMILIES", dict(registry._FAMILIES))
    monkeypatch.setattr(zoo, "_BY_FAMILY", dict(zoo._BY_FAMILY))
    monkeypatch.setattr(networks, "_ENTRIES", dict(networks._ENTRIES))
    monkeypatch.setattr(task, "_REGISTERED", list(task._REGISTERED))
    root = tmp_path / "site" / PACKAGE
    (root / "weights").mkdir(parents=True)
    for name, text in MODULES.items():
        (root / name).write_text(textwrap.dedent(text))
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    yield root
    for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
        del sys.modules[name]


def test_a_family_in_a_package_of_its_own_loads_predicts_saves_exports_and_passes_the_task_contract(
        package, tmp_path, caplog):
    import infantjax
    from infantjax import deploy
    from infantjax.errors import DataError
    from infantjax.infer import registry
    from infantjax.models import zoo
    from infantjax.train import fit, registered_tasks

    family = importlib.import_module(f"{PACKAGE}.family")  # importing its module registers the family and its entry
    SlopeModel = family.SlopeModel
    assert registry.family("slope").model is SlopeModel and "slope" not in [f.kind for f in registry.shipped()]
    assert [e.name for e in zoo.available("slope")] == ["slope-toy"] and zoo.default("slope") == "slope-toy"
    assert "slope-toy" in zoo.ZOO and zoo.families()[-1] == "slope"  # after the shipped families

    # the task: the family names its training module, whose import registers the task and binds the config
    assert SlopeModel.training_config_type().__name__ == "SlopeConfig"
    Task = SlopeModel.task_type
    assert Task.__module__ == f"{PACKAGE}.training" and Task in registered_tasks()
    task, data = Task.example()
    result = fit(task, data, seeds=[0, 1])
    model = SlopeModel(task.spec, task.config.replace(epochs=4), result.variables)

    # the zoo entry: its file in the package's weights/ folder, loaded by name
    model.save(package / "weights" / "slope_toy.npz")
    named = infantjax.load("slope-toy")
    assert type(named) is SlopeModel and named.num_instances == 2
    assert type(SlopeModel.pretrained()) is SlopeModel
    np.testing.assert_allclose(named.predict(*named.example_input()), model.predict(*model.example_input()),
                               rtol=1e-6)
    np.testing.assert_allclose(named.predict([[0.0], [1.0]]), [-1.0, 2.0], atol=0.5)
    with pytest.raises(DataError):
        named.predict("not x values")

    # save and load by path, a folder and a file; the kind checked before the weights are read
    folder = named.save(tmp_path / "slope")
    again = infantjax.load(folder, kind="slope")
    assert type(again) is SlopeModel and again.config == model.config
    np.testing.assert_allclose(again.predict([[0.5]]), model.predict([[0.5]]), rtol=1e-6)
    assert type(infantjax.load(again.save(tmp_path / "slope.npz"))) is SlopeModel

    # export: the forward of every instance, checked against the stacked inference on the spot
    exported = deploy.export(again, "stablehlo", tmp_path / "slope.stablehlo")
    assert exported.path.is_file() and max(a for a, _ in exported.differences.values()) < 1e-5

    # the task contract, as it checks every registered task
    contract.test_resume_is_exact_and_a_stacked_instance_equals_it_alone(Task, tmp_path / "contract", caplog)
    contract.test_epoch_batches_depend_on_seed_and_epoch_only(Task)
    contract.test_compile_key_ignores_host_only_fields(Task)
