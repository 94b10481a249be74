"""``infantjax info``: versions, devices and the state of optional backends."""

from __future__ import annotations

import importlib
import platform


def register(sub) -> None:
    p = sub.add_parser("info", help="print versions, devices and optional backends")
    p.set_defaults(func=run)


def _version(name: str) -> str:
    try:
        module = importlib.import_module(name)
    except Exception as err:  # any import failure means "not available"; say why
        return f"not available ({type(err).__name__}: {err})".splitlines()[0]
    return str(getattr(module, "__version__", "installed"))


def collect() -> dict:
    """Return the information ``infantjax info`` prints, as a dict."""
    import infantjax

    out = {
        "infantjax": infantjax.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    for name in ("numpy", "scipy", "jax", "jaxlib", "flax", "optax", "orbax.checkpoint", "optuna", "h5py",
                 "tensorboardX", "sklearn", "matplotlib"):
        out[name] = _version(name)
    out["video backend pyav"] = _version("av")
    out["video backend decord"] = _version("decord")
    try:
        import jax

        from infantjax import backend

        out["jax backend"] = backend.platform()
        out["backend policy"] = backend.current().name
        out["devices"] = ", ".join(f"{d.platform}:{d.id}" for d in jax.devices())
        out["process count"] = str(jax.process_count())
    except Exception as err:  # report, do not crash: info is what users run when something is broken
        out["devices"] = f"unavailable ({err})"
    from infantjax.models.zoo import available

    for e in available():  # the offline zoo: every family's shipped models (infantjax.models.zoo, docs/zoo.md)
        if e.family == "pose":
            out[f"pose weights {e.name}"] = f"{e.skeleton}, {e.resolution} px, {e.licence}"
        else:
            out[f"zoo {e.family} {e.name}"] = f"{e.held_out}; {e.licence}; synthetic infants only, not for clinical use"
    out["export formats"] = (f"stablehlo (jax.export); onnx: jax2onnx {_distribution('jax2onnx')}, onnxruntime "
                             f"{_distribution('onnxruntime')}; litert: tensorflow {_distribution('tensorflow-cpu', 'tensorflow')}"
                             f", ai-edge-litert {_distribution('ai-edge-litert')}")
    return out


def _distribution(*names: str) -> str:
    """The installed version of the first of ``names`` (a distribution; not imported: TensorFlow takes seconds)."""
    from importlib import metadata

    for name in names:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return "not installed"


def run(args) -> int:
    info = collect()
    width = max(len(k) for k in info)
    for key, value in info.items():
        print(f"{key:<{width}}  {value}")
    return 0
