"""The seed 003 network as coded: parameter counts, Keras conventions, causal convolution, clip attention."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from infantjax.errors import ConfigError
from infantjax.models import build, count_parameters
from infantjax.models.passmore import PARAMETERS, TRAINABLE_PARAMETERS, PassmoreSpec, l2_kernels

# Every initialisation and forward below is one jitted program: run eagerly, flax's init and apply compiled one
# small program per operation and shape (270 in this file).


@pytest.fixture(scope="module")
def net():
    spec = PassmoreSpec()
    model = build(spec)
    zeros = np.zeros((1, 1, 46, 128), np.float32)
    variables = jax.jit(lambda k, x: model.init(k, x, train=False))(jax.random.PRNGKey(0), zeros)
    return model, variables


def _intermediates(model, **kwargs):
    """``model.apply(variables, x, **kwargs)`` jitted, capturing the intermediates (and the batch statistics when
    training)."""
    mutable = ["batch_stats", "intermediates"] if kwargs.get("train") else ["intermediates"]
    return jax.jit(lambda v, x: model.apply(v, x, mutable=mutable, capture_intermediates=True, **kwargs))


def _normal(seed: int, shape) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


def test_parameter_counts_are_those_of_the_coded_model():
    spec = PassmoreSpec()
    assert count_parameters(spec) == PARAMETERS == 46_721
    assert count_parameters(spec, collections=("params",)) == TRAINABLE_PARAMETERS == 46_337
    assert count_parameters(spec, collections=("batch_stats",)) == 384


def test_keras_batch_norm_convention_after_relu(net):
    model, variables = net
    x = _normal(1, (2, 3, 46, 128))
    _, state = _intermediates(model, train=True, rngs={"dropout": jax.random.PRNGKey(2)})(variables, x)
    conv = state["intermediates"]["conv1"]["__call__"][0]  # (6, 128, 64), before the ReLU
    h = np.maximum(np.asarray(conv, np.float64), 0.0)  # BatchNorm sees the ReLU output (reference order)
    mean, var = h.reshape(-1, 64).mean(0), h.reshape(-1, 64).var(0)
    n = h.size // 64  # 2 videos × 3 clips × 128 steps per channel
    # momentum 0.99: the running mean moves 1 % of the way from 0 (variance from 1); Keras's fused kernel averages
    # the unbiased batch variance into the moving variance (× n/(n − 1)) and normalises with the biased one
    np.testing.assert_allclose(state["batch_stats"]["bn1"]["mean"], 0.01 * mean, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(state["batch_stats"]["bn1"]["var"], 0.99 + 0.01 * var * n / (n - 1), rtol=1e-6)
    bn = state["intermediates"]["bn1"]["__call__"][0]
    np.testing.assert_allclose(bn, (h - mean) / np.sqrt(var + 1e-3), atol=2e-4)  # epsilon 1e-3
    # bn_numerics="flax" (the biased variance) stays available and differs by exactly the factor n/(n − 1)
    flax_model = build(PassmoreSpec(bn_numerics="flax"))
    _, flax_state = jax.jit(lambda v, x: flax_model.apply(v, x, train=True, rngs={"dropout": jax.random.PRNGKey(2)},
                                                          mutable=["batch_stats"]))(variables, x)
    np.testing.assert_allclose(flax_state["batch_stats"]["bn1"]["var"], 0.99 + 0.01 * var, rtol=1e-5)
    with pytest.raises(ConfigError, match="bn_numerics"):
        PassmoreSpec(bn_numerics="torch")


def test_he_uniform_fan_in(net):
    _, variables = net
    p = variables["params"]
    for kernel, fan_in in ((p["conv1"]["kernel"], 3 * 46), (p["conv2"]["kernel"], 3 * 64),
                           (p["dense1"]["kernel"], 128), (p["attention"]["W"], 64), (p["logit"]["kernel"], 64)):
        limit = np.sqrt(6.0 / fan_in)
        k = np.asarray(kernel)
        assert np.abs(k).max() <= limit and np.abs(k).max() > 0.9 * limit
        if k.size > 1000:
            assert k.var() == pytest.approx(2.0 / fan_in, rel=0.1)
    assert p["conv1"]["kernel"].shape == (3, 46, 64) and "bias" not in p["conv1"]
    assert {k.shape for k in l2_kernels(p)} == {(3, 46, 64), (3, 64, 64), (128, 64), (64, 64), (64, 1)}
    assert len(l2_kernels(p)) == 6  # 3 conv + dense + attention W + logit; never biases, BN or u


def test_causal_convolution_equals_a_numpy_reference(net):
    model, variables = net
    x = _normal(3, (1, 2, 46, 128))
    forward = _intermediates(model, train=False)
    _, state = forward(variables, x)
    out = np.asarray(state["intermediates"]["conv1"]["__call__"][0])  # (2, 128, 64)
    w = np.asarray(variables["params"]["conv1"]["kernel"], np.float64)  # (3, 46, 64)
    seq = np.swapaxes(x[0], 1, 2).astype(np.float64)  # (2, 128, 46)
    padded = np.concatenate([np.zeros((2, 2, 46)), seq], axis=1)  # Keras 'causal': left pad k − 1
    ref = sum(padded[:, k:k + 128] @ w[k] for k in range(3))
    np.testing.assert_allclose(out, ref, atol=1e-4)
    # causality: the output at t does not change when the future changes
    x2 = x.copy()
    x2[..., 100:] += 5.0
    _, s2 = forward(variables, x2)
    np.testing.assert_allclose(s2["intermediates"]["conv1"]["__call__"][0][:, :100], out[:, :100], atol=1e-5)


def test_sigmoid_attention_is_the_mean_of_gated_clip_features(net):
    model, variables = net
    x = _normal(4, (2, 5, 46, 128))
    (logits, attention), state = _intermediates(model, train=False)(variables, x)
    assert logits.shape == (2,) and attention.shape == (2, 5)
    feats = np.asarray(state["intermediates"]["dense1"]["__call__"][0], np.float64)
    feats = np.maximum(feats, 0)  # (2, 5, 64) after the ReLU
    a = variables["params"]["attention"]
    e = np.tanh(feats @ np.asarray(a["W"]) + np.asarray(a["b"])) @ np.asarray(a["u"])
    gate = 1 / (1 + np.exp(-e))
    np.testing.assert_allclose(attention, gate, rtol=1e-4)
    pooled = (gate[..., None] * feats).mean(1)  # mean over clips, no normalisation by the sum of the gates
    ref = pooled @ np.asarray(variables["params"]["logit"]["kernel"])[:, 0] + np.asarray(
        variables["params"]["logit"]["bias"])[0]
    np.testing.assert_allclose(logits, ref, rtol=1e-4, atol=1e-5)
    # any number of clips per video: 1 in training, all at inference
    one, _ = jax.jit(lambda v, x: model.apply(v, x, train=False))(variables, x[:, :1])
    assert one.shape == (2,)


def test_switched_off_options_are_spec_fields():
    assert PassmoreSpec.from_json(PassmoreSpec(attention="softmax").to_json()).attention == "softmax"
    soft = build(PassmoreSpec(attention="softmax"))
    def init_and_apply(x):
        return soft.apply(soft.init(jax.random.PRNGKey(0), jnp.zeros_like(x)), x)

    _, attention = jax.jit(init_and_apply)(_normal(1, (1, 3, 46, 128)))
    assert float(attention.sum()) == pytest.approx(1.0, abs=1e-5)
    for option in ({"squeeze": True}, {"residuals": True}, {"attention_heads": 2}, {"meta_features": 4}):
        with pytest.raises(ConfigError, match="not implemented"):
            PassmoreSpec(**option)
    with pytest.raises(ConfigError, match="attention"):
        PassmoreSpec(attention="tanh")


def test_causal_conv_keeps_flax_conv_variables_values_and_gradients():
    """CausalConv1D (products on CPU) is flax.linen.Conv with Keras 'causal' padding: same variables, same initial
    values, same outputs and gradients, also under a vmap over stacked weights."""
    import flax.linen as nn

    from infantjax.models.passmore.network import CausalConv1D, he_uniform

    ours = CausalConv1D(8, 3)
    ref = nn.Conv(8, (3,), padding=((2, 0),), use_bias=False, kernel_init=he_uniform)
    x = _normal(1, (4, 16, 5))

    def loss(module, v, x):
        return jnp.sum(jnp.sin(module.apply(v, x)))

    @jax.jit
    def run(x):  # each module's initial variables, output, gradients and doubled-weight output: one program
        v_ours, v_ref = ours.init(jax.random.PRNGKey(2), x), ref.init(jax.random.PRNGKey(2), x)
        stacked = jax.tree_util.tree_map(lambda a: jnp.stack([a, 2 * a]), v_ours)
        return {"ours": (v_ours, ours.apply(v_ours, x), jax.grad(loss, argnums=(1, 2))(ours, v_ours, x),
                         jax.vmap(ours.apply, in_axes=(0, None))(stacked, x)[1]),
                "ref": (v_ref, ref.apply(v_ref, x), jax.grad(loss, argnums=(1, 2))(ref, v_ref, x),
                        ref.apply(jax.tree_util.tree_map(lambda a: 2 * a, v_ref), x))}

    (v_ours, out_ours, grads_ours, doubled_ours), (v_ref, out_ref, grads_ref, doubled_ref) = run(x).values()
    assert jax.tree_util.tree_structure(v_ours) == jax.tree_util.tree_structure(v_ref)
    np.testing.assert_array_equal(v_ours["params"]["kernel"], v_ref["params"]["kernel"])
    np.testing.assert_allclose(out_ours, out_ref, atol=1e-5)
    for a, b in zip(grads_ours, grads_ref):
        for la, lb in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
            np.testing.assert_allclose(la, lb, atol=1e-4)
    np.testing.assert_allclose(doubled_ours, doubled_ref, atol=1e-5)
