"""Analytic parameter and FLOP counts of the searchable GCN and ST-GCN (seed 002, Table A.4; gcn_reference B).

Nothing here builds a model: the counters walk the architecture of a :class:`GCNSpec` or :class:`STGCNSpec`
layer by layer, exactly as the reference code (DeepInMotion/MovementOutcome ``Model``) builds and runs it, and
record every layer in a ledger. Each entry knows whether the reference *builds* it and whether the forward pass
*runs* it, which gives the two parameter conventions:

* ``count_parameters(spec, convention="reference")`` (:func:`infantjax.models.count_parameters`, the one counter,
  with this module's convention registered for the GCN specs) — every parameter the reference builds, including the layers it
  builds but never runs (gcn_reference A.8: the unused 1×1 down/up convs of basic blocks, the multi-scale fusion
  conv and outer SE at one temporal scale). These are the numbers of Table A.4.
* ``count_parameters(spec, convention="live")`` — the parameters that are used, which is exactly what the Flax model
  creates (it builds only what runs).

and the two FLOP conventions:

* ``count_flops(spec, convention="reference")`` — the rule under which all eleven GFLOP figures of the paper
  reproduce (gcn_reference B.2): 2 × multiply–accumulates of convolutions and linear layers, plus elementwise
  multiplications (SE and attention scaling, Swish, the edge-importance product A ⊙ M), plus the outputs of
  average pooling and means; the graph aggregation einsum and BatchNorm are not counted. The reference profiled
  a batch of two and halved (``profile_macs(model, 2 samples) // 2 * 2``), so the batch-independent A ⊙ M product
  enters at half weight and the result is rounded down to an even number; the counter reproduces that.
* ``count_flops(spec, convention="full")`` — additionally the graph aggregation (as a dense einsum,
  K·C·T·V·V multiply–accumulates per module) and one operation per BatchNorm output element.

Both take ``mode="reference"`` (default) or ``"corrected"`` (see :mod:`infantjax.models.gcn.searchable`); in
``corrected`` mode the live structure changes where a quirk is fixed, and ``convention="reference"`` is then
meaningless and refused.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

from infantjax.errors import ConfigError
from infantjax.models.gcn.spec import MODES, GCNSpec, ModulePlan, STGCNSpec

__all__ = ["LedgerEntry", "count_flops", "ledger", "mbconv_outer_se_ratio"]


@dataclasses.dataclass(frozen=True)
class LedgerEntry:
    """One layer of the reference architecture.

    ``params``: trainable parameters; ``macs``: per-sample multiply–accumulates counted by the paper's rule
    (convs, linears, elementwise products, pooling outputs); ``macs_batch``: batch-independent products counted
    once per forward (the A ⊙ M edge-importance product); ``einsum``/``bn``: per-sample operations counted only
    by the ``full`` FLOP convention; ``built``/``live``: whether the reference builds / runs the layer.
    """

    name: str
    params: int = 0
    macs: int = 0
    macs_batch: int = 0
    einsum: int = 0
    bn: int = 0
    built: bool = True
    live: bool = True
    dense: int = 0


def mbconv_outer_se_ratio(ratio: int, expansion: int, mode: str = "reference") -> int:
    """Outer SE ratio of an MBConv temporal block (gcn_reference A.6).

    The reference rescales it to ``int(r / e)`` when that is at least one and to 1 otherwise — also when SE is
    off (r = 0), so every MBConv temporal block has an outer SE of ratio 1 (reference quirk: MBConv outer SE is
    always on). ``corrected`` keeps SE off when it is off. Returns 0 for no SE.
    """
    if ratio == 0 and mode == "corrected":
        return 0
    return int(ratio / expansion) if ratio / expansion >= 1 else 1


class _Ledger:
    def __init__(self):
        self.entries: list[LedgerEntry] = []

    def add(self, name, live=True, **kw):
        self.entries.append(LedgerEntry(name=name, live=bool(live), **kw))

    # layers -------------------------------------------------------------------------------------------
    def conv(self, name, c_in, c_out, *, elems, kernel=1, bias=True, groups=1, live=True):
        """A (kernel×1) conv; ``elems`` = output positions T_out·V per sample."""
        params = c_out * (c_in // groups) * kernel + (c_out if bias else 0)
        self.add(name, live, params=params, macs=elems * c_out * (c_in // groups) * kernel)

    def bn(self, name, c, *, elems, live=True):
        self.add(name, live, params=2 * c, bn=elems * c)

    def act(self, name, act, n, live=True):
        # Swish is x·sigmoid(x): one counted multiplication per element; ReLU and sigmoid count nothing.
        if act == "swish":
            self.add(name, live, macs=n)

    def se(self, name, c, ratio, act, *, elems, live=True):
        """Squeeze-and-excitation (gcn_reference A.6): pool → Linear(c, c//r) → act → Linear(c//r, c) → ×."""
        hidden = c // ratio
        self.add(name + ".pool", live, macs=c)
        self.add(name + ".fc1", live, params=c * hidden, macs=c * hidden)
        self.act(name + ".act", act, hidden, live)
        self.add(name + ".fc2", live, params=hidden * c, macs=hidden * c)
        self.add(name + ".scale", live, macs=elems * c)

    def graph_conv(self, name, c_in, c_out, k, *, v, elems, bias=True, groups=1, live=True):
        """1×1 conv to K·c_out channels, then aggregation over the graph (einsum, not counted by the paper)."""
        from infantjax.nn.graph import DENSE_MAX

        self.conv(name + ".conv", c_in, c_out * k, elems=elems, bias=bias, groups=groups, live=live)
        dense = (elems // v) * (v * c_in) * (v * c_out) if groups == 1 and v * max(c_in, c_out) <= DENSE_MAX else 0
        self.add(name + ".einsum", live, einsum=elems * v * k * c_out, dense=dense)


def _temporal_length(t: int, stride: int) -> int:
    # padding ((k-1)//2)·d keeps the length at stride 1; stride s gives floor((T-1)/s)+1 (odd k)
    return (t - 1) // stride + 1


def _bottleneck(led, b, c_in, inter, c_out, se_ratio, act, *, bottleneck, e_in, e_out, core):
    """The rows of a basic or bottleneck block (A.6) named ``b``..., ``core()`` adding its middle convolution;
    ``e_in``/``e_out``: elements per channel before / from the core. The reference builds conv_down/up (+ BN) for
    basic blocks too and never runs them (A.8)."""
    led.conv(b + "conv_down", c_in, inter, elems=e_in, live=bottleneck)
    led.bn(b + "bn_down", inter, elems=e_in, live=bottleneck)
    if bottleneck:
        led.act(b + "act_down", act, e_in * inter)
    core()
    led.bn(b + "bn", inter, elems=e_out)
    if bottleneck:
        led.act(b + "act", act, e_out * inter)
    led.conv(b + "conv_up", inter, c_out, elems=e_out, live=bottleneck)
    led.bn(b + "bn_up", c_out, elems=e_out, live=bottleneck)
    if se_ratio:
        led.se(b + "se", c_out, se_ratio, act, elems=e_out)


def _mbconv(led, b, c_in, inter, c_out, se_ratio, act, *, e_in, e_out, core):
    """The rows of an MBConv block (A.6) named ``b``..., as :func:`_bottleneck`: expand, ``core()`` (its depthwise
    convolution), inner SE, project."""
    led.conv(b + "conv_expand", c_in, inter, elems=e_in, bias=False)
    led.bn(b + "bn_expand", inter, elems=e_in)
    led.act(b + "act_expand", act, e_in * inter)
    core()
    led.bn(b + "bn", inter, elems=e_out)
    led.act(b + "act", act, e_out * inter)
    if se_ratio:
        led.se(b + "se", inter, se_ratio, act, elems=e_out)
    led.conv(b + "conv_project", inter, c_out, elems=e_out, bias=False)
    led.bn(b + "bn_project", c_out, elems=e_out)


def _spatial_block(led, p: ModulePlan, k, act, *, v, t, mode, prefix):
    e = t * v
    c_in, c_out, f = p.in_channels, p.out_channels, None
    if p.block_residual and c_in != c_out:
        led.conv(prefix + "residual", c_in, c_out, elems=e)
        led.bn(prefix + "residual_bn", c_out, elems=e)
    if p.block_type in ("basic", "bottleneck"):
        f = p.factor
        bottleneck = p.block_type == "bottleneck"
        inter = c_out // f if bottleneck else c_out
        _bottleneck(led, prefix, c_in, inter, c_out, p.inner_se_ratio, act, bottleneck=bottleneck, e_in=e, e_out=e,
                    core=lambda: led.graph_conv(prefix + "gcn", inter if bottleneck else c_in, inter, k, v=v, elems=e))
    else:  # mbconv
        f = p.factor
        inter = max(12, c_in * f)
        _mbconv(led, prefix, c_in, inter, c_out, p.inner_se_ratio, act, e_in=e, e_out=e,
                core=lambda: led.graph_conv(prefix + "gcn", inter, inter, k, v=v, elems=e, bias=False, groups=inter))
    led.act(prefix + "act_out", act, e * c_out)


def _temporal_block(led, p: ModulePlan, kernel, act, *, v, t_in, t_out, mode, prefix):
    c, s, f = p.out_channels, p.stride, p.factor
    e_in, e_out = t_in * v, t_out * v
    if p.block_residual and s != 1:
        led.conv(prefix + "residual", c, c, elems=e_out)
        led.bn(prefix + "residual_bn", c, elems=e_out)
    scales = p.temporal_scales
    if p.block_type == "mbconv":
        outer = mbconv_outer_se_ratio(p.outer_se_ratio, f, mode)
        inter = c * f
        for d in range(1, scales + 1):
            b = f"{prefix}branch{d}."
            _mbconv(led, b, c, inter, c, p.inner_se_ratio, act, e_in=e_in, e_out=e_out,
                    core=lambda: led.conv(b + "conv", inter, inter, kernel=kernel, elems=e_out, bias=False,
                                          groups=inter))
    else:
        outer = p.outer_se_ratio
        bottleneck = p.block_type == "bottleneck"
        inter = c // f if bottleneck else c
        for d in range(1, scales + 1):
            b = f"{prefix}branch{d}."
            _bottleneck(led, b, c, inter, c, p.inner_se_ratio, act, bottleneck=bottleneck, e_in=e_in, e_out=e_out,
                        core=lambda: led.conv(b + "conv", inter, inter, kernel=kernel, elems=e_out))
    # multi-scale fusion: built always, run only with more than one scale (A.6, A.8)
    multi = scales > 1
    led.conv(prefix + "fusion", c * scales, c, elems=e_out, live=multi)
    led.bn(prefix + "fusion_bn", c, elems=e_out, live=multi)
    if outer:
        # reference quirk: no outer SE at one temporal scale (built and counted, never run)
        led.se(prefix + "outer_se", c, outer, act, elems=e_out, live=multi or mode == "corrected")
    led.act(prefix + "act_out", act, e_out * c)


def _softmax_weights(led, prefix, width, hidden, act):
    """The rows of channel and joint attention's weights (:mod:`infantjax.nn.attention`): the pool to ``width``
    values, fc1 to ``hidden``, its BN and activation, fc2 back to ``width``."""
    led.add(prefix + "pool", macs=width)
    led.conv(prefix + "fc1", width, hidden, elems=1)
    led.bn(prefix + "fc1_bn", hidden, elems=1)
    led.act(prefix + "fc1_act", act, hidden)
    led.conv(prefix + "fc2", hidden, width, elems=1)


def _attention(led, kind, c, kernel, act, *, v, t, prefix):
    e = t * v
    if kind == "channel":
        _softmax_weights(led, prefix, c, c // 4, act)
    elif kind == "frame":
        led.add(prefix + "pool", macs=t)  # mean over (C, V); the max pool counts nothing
        led.conv(prefix + "conv", 2, 1, kernel=kernel, elems=t)
    elif kind == "joint":
        _softmax_weights(led, prefix, v, v // 2, act)
    else:
        return
    led.add(prefix + "scale", macs=e * c)
    led.bn(prefix + "bn", c, elems=e)
    led.act(prefix + "act", act, e * c)


def _module(led, spec: GCNSpec, p: ModulePlan, k, *, v, t_in, mode, prefix, edge_importance=True):
    act, kernel = spec.nonlinearity, int(spec.temporal_kernel_size)
    t_out = _temporal_length(t_in, p.stride)
    if edge_importance:
        # the mask is a parameter of the network (one per module); A ⊙ M runs once per forward pass
        led.add(prefix + "edge_importance", params=k * v * v, macs_batch=k * v * v)
    if p.module_residual and not (p.stride == 1 and p.in_channels == p.out_channels):
        led.conv(prefix + "residual", p.in_channels, p.out_channels, elems=t_out * v)
        led.bn(prefix + "residual_bn", p.out_channels, elems=t_out * v)
    _spatial_block(led, p, k, act, v=v, t=t_in, mode=mode, prefix=prefix + "spatial.")
    _temporal_block(led, p, kernel, act, v=v, t_in=t_in, t_out=t_out, mode=mode, prefix=prefix + "temporal.")
    _attention(led, spec.attention, p.out_channels, kernel, act, v=v, t=t_out, prefix=prefix + "attention.")
    return t_out


def _gcn_ledger(spec: GCNSpec, *, num_joints: int, num_frames: int, mode: str) -> _Ledger:
    led, v, t = _Ledger(), num_joints, num_frames
    k_in, k_main = spec.partitions
    c_total = spec.num_input_branches * spec.in_channels_per_branch
    led.bn("data_bn", v * c_total, elems=t)
    for b in range(spec.num_input_branches):
        t_b = t
        for i, p in enumerate(spec.input_modules()):
            t_b = _module(led, spec, p, k_in, v=v, t_in=t_b, mode=mode, prefix=f"input{b}.module{i}.",
                          edge_importance=spec.edge_importance)
    if spec.num_input_branches > 1:
        c_in, c_out = spec.fusion_channels
        led.conv("fusion", c_in, c_out, elems=t * v)
        led.bn("fusion_bn", c_out, elems=t * v)
    for i, p in enumerate(spec.main_modules()):
        t = _module(led, spec, p, k_main, v=v, t_in=t, mode=mode, prefix=f"main{p.level}.module{p.index}.",
                    edge_importance=spec.edge_importance)
    c = spec.head_channels
    _head(led, c, spec.pool, spec.num_classes, v=v, t=t)
    return led


def _head(led, c, pool, num_classes, *, v, t):
    if pool == "spatial":
        # average over T, then the N×M mean (M = 1 person), flatten to C·V, 1×1 conv C·V → C
        led.add("head.pool", macs=c * v)
        led.add("head.mean", macs=c * v)
        led.conv("head.pool_fc", c * v, c, elems=1)
    else:
        led.add("head.pool", macs=c)
        led.add("head.mean", macs=c)
    led.conv("head.fc", c, num_classes, elems=1)


def _stgcn_ledger(spec: STGCNSpec, *, num_joints: int, num_frames: int) -> _Ledger:
    """yysijie/st-gcn: graph conv (1×1 to K·C, aggregation) → BN → ReLU → (9×1) conv → BN, + residual, ReLU."""
    led, v, t, k = _Ledger(), num_joints, num_frames, spec.partitions
    led.bn("data_bn", v * spec.in_channels, elems=t)
    c_in = spec.in_channels
    for i, (c, s) in enumerate(zip(spec.channels, spec.strides)):
        pre = f"module{i}."
        t_out = _temporal_length(t, s)
        if spec.edge_importance:
            led.add(pre + "edge_importance", params=k * v * v, macs_batch=k * v * v)
        if i > 0 and not (c_in == c and s == 1):  # the first module has no residual
            led.conv(pre + "residual", c_in, c, elems=t_out * v)
            led.bn(pre + "residual_bn", c, elems=t_out * v)
        led.graph_conv(pre + "gcn", c_in, c, k, v=v, elems=t * v)
        led.bn(pre + "bn1", c, elems=t * v)
        led.conv(pre + "tcn", c, c, kernel=int(spec.temporal_kernel_size), elems=t_out * v)
        led.bn(pre + "bn2", c, elems=t_out * v)
        c_in, t = c, t_out
    _head(led, c_in, "global", spec.num_classes, v=v, t=t)
    return led


def ledger(spec: GCNSpec | STGCNSpec, *, num_joints: int = 19, num_frames: int = 150,
           mode: str = "reference") -> tuple[LedgerEntry, ...]:
    """Every layer of the reference architecture of ``spec`` (see :class:`LedgerEntry`)."""
    if mode not in MODES:
        raise ConfigError(f"mode {mode!r} is unknown; use one of {MODES}")
    if int(num_joints) != num_joints or num_joints < 2:
        raise ConfigError(f"num_joints must be an integer >= 2, got {num_joints!r}")
    if int(num_frames) != num_frames or num_frames < 1:
        raise ConfigError(f"num_frames must be a positive integer, got {num_frames!r}")
    if isinstance(spec, GCNSpec):
        return tuple(_gcn_ledger(spec, num_joints=int(num_joints), num_frames=int(num_frames), mode=mode).entries)
    if isinstance(spec, STGCNSpec):
        return tuple(_stgcn_ledger(spec, num_joints=int(num_joints), num_frames=int(num_frames)).entries)
    raise ConfigError(f"spec must be a GCNSpec or STGCNSpec, got {type(spec).__name__}")


def _count_params(spec: GCNSpec | STGCNSpec, convention: Literal["reference", "live"] = "reference", *,
                  num_joints: int = 19, mode: str = "reference") -> int:
    """Number of trainable parameters (the GCN specs' registered counting conventions: ``count_parameters(spec,
    convention=...)``).

    Arguments:
        spec: the architecture.
        convention: ``"reference"`` counts every layer the reference builds (Table A.4, e.g. 233,362 for
            architecture 1); ``"live"`` counts only the layers that run, which is what the Flax model creates.
        num_joints: skeleton size V (19 for In-Motion).
        mode: ``"reference"`` or ``"corrected"`` model (``convention="reference"`` needs ``mode="reference"``).

    Returns:
        the parameter count (BatchNorm statistics are not parameters).
    """
    entries = _entries(spec, convention, ("reference", "live"), num_joints, 150, mode)
    return sum(e.params for e in entries)


def _reference(spec: GCNSpec | STGCNSpec, *, num_joints: int = 19, mode: str = "reference") -> int:
    """``count_parameters(spec, convention="reference")``: every parameter the reference builds (Table A.4)."""
    return _count_params(spec, "reference", num_joints=num_joints, mode=mode)


def _live(spec: GCNSpec | STGCNSpec, *, num_joints: int = 19, mode: str = "reference") -> int:
    """``count_parameters(spec, convention="live")``: the parameters of the layers that run."""
    return _count_params(spec, "live", num_joints=num_joints, mode=mode)


def count_flops(spec: GCNSpec | STGCNSpec, convention: Literal["reference", "full"] = "reference", *,
                num_joints: int = 19, num_frames: int = 150, mode: str = "reference",
                graph_product: str = "factored") -> int:
    """Floating-point operations per sample of one forward pass, computed analytically.

    Arguments:
        spec: the architecture.
        convention: ``"reference"`` — the paper's rule (gcn_reference B.2; 0.76 GFLOPs for architecture 1, 6.21
            for ST-GCN); ``"full"`` — also the graph aggregation einsum and BatchNorm.
        num_joints: V; num_frames: T of the input window (150 = 5 s at 30 Hz).
        mode: ``"reference"`` or ``"corrected"`` structure.
        graph_product: ``"factored"`` (the 1×1 conv, then the aggregation) or ``"dense"`` (with ``"full"``: the
            graph convolutions as the TPU policy runs them, one product with the combined (V·C, V·F) weight where
            it is that narrow; :class:`~infantjax.nn.graph.GraphConv`).

    Returns:
        FLOPs (= 2 × multiply–accumulates) per sample as an integer.
    """
    if graph_product not in ("factored", "dense"):
        raise ConfigError(f"graph_product must be 'factored' or 'dense', got {graph_product!r}")
    if graph_product == "dense" and convention != "full":
        raise ConfigError("graph_product='dense' counts the program the TPU runs: use convention='full'")
    entries = _entries(spec, convention, ("reference", "full"), num_joints, num_frames, mode, live_only=True)
    per_sample = sum(e.macs for e in entries)
    if convention == "full":
        per_sample += sum(e.einsum + e.bn for e in entries)
        if graph_product == "dense":  # one product replaces the 1×1 conv (the entry before) and the einsum
            names = [e.name for e in entries]
            for e in entries:
                if e.dense:
                    conv = entries[names.index(e.name[: -len(".einsum")] + ".conv")]
                    per_sample += e.dense - e.einsum - conv.macs
    batch = sum(e.macs_batch for e in entries)
    # profile_macs(model, batch of 2) // 2 * 2: the batch-independent A ⊙ M product counts half per sample
    return (2 * per_sample + batch) // 2 * 2


def _entries(spec, convention, allowed, num_joints, num_frames, mode, live_only=False):
    if convention not in allowed:
        raise ConfigError(f"convention {convention!r} is unknown; use one of {allowed}")
    if convention == "reference" and mode != "reference" and not live_only:
        raise ConfigError("convention='reference' counts the reference model; use mode='reference' "
                          "(or convention='live' for the corrected model)")
    entries = ledger(spec, num_joints=num_joints, num_frames=num_frames, mode=mode)
    if live_only or convention == "live":
        entries = tuple(e for e in entries if e.live)
    return entries
