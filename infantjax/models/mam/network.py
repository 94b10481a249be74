"""MAM, the motor assessment model of seed 001 (Gao et al. 2023): a spatio-temporal Transformer clip encoder shared
by three branches.

* **Encoder** (ours in every size; the paper gives none and no code exists, other_seeds_reference §3): a clip of
  ``clip_length`` frames of a motion representation (:mod:`~infantjax.models.mam.representation`) becomes one token
  per joint and temporal patch of ``patch`` frames (the joint's row of the distance matrix, or its coordinates,
  and its first and second temporal differences over the patch → Dense ``width``, plus learned joint and patch position embeddings); ``depth`` blocks of
  divided space-time attention (pre-norm: attention over the joints of a patch, then over the patches of a joint,
  then an MLP, each a residual with dropout; ``flax.linen.MultiHeadDotProductAttention``); a final LayerNorm and
  the mean over tokens give the clip embedding.
* **Ref branch**: the encoder + a Dense classifier (FMs vs non-FMs logit per clip) + two learned prototypes
  (``prototypes[0]`` non-FMs, ``[1]`` FMs) that the triplet loss pulls the clip embeddings to.
* **Main branch**: a recording's clips (the MIL instances) → the same encoder and classifier → gated attention
  MIL pooling (Ilse et al. 2018) of [embedding, FMs logit] over the valid clips → Dense → the main risk logit.
* **Info branch** (``use_info``): the basic characteristics (sex, gestational age, birth weight, corrected age;
  :func:`characteristics`) → a small MLP → an info risk logit, added to the main logit (the fused logit: the
  product of the two branches' odds). ``use_info=False`` is the paper's ``MAM.w/o.info``.

Inputs are channels-last: clips (N, L, F), recordings (B, S, L, F) with a (B, S) mask of valid clips.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from infantjax._jsonconfig import JsonConfig, check_positive_ints
from infantjax.errors import ConfigError, DataError
from infantjax.models._registry import register
from infantjax.models.mam.representation import INPUTS, features_per_joint, num_features, pair_indices
from infantjax.nn.fusion import own_buffer
from infantjax.nn.precision import dtype_name, resolve

__all__ = ["CHARACTERISTICS", "AttentionMIL", "ClipEncoder", "MamNet", "MamSpec", "characteristics",
           "fms_frequency"]

CHARACTERISTICS = ("sex", "gestational_age", "birth_weight", "corrected_age")
# centre and scale of each characteristic (ours: term-born infants at the FMs age; sex is 1 for male)
_INFO_CENTRE = np.array([0.5, 38.0, 3000.0, 14.0], np.float32)
_INFO_SCALE = np.array([0.5, 4.0, 800.0, 3.0], np.float32)


def characteristics(sex, gestational_age, birth_weight, corrected_age) -> np.ndarray:
    """The Info branch's input: the four basic characteristics, standardised (ours: centre/scale above).

    Arguments:
        sex: (N,) ``"M"``/``"F"`` (or 1 = male, 0 = female).
        gestational_age: (N,) weeks. birth_weight: (N,) grams. corrected_age: (N,) weeks.

    Returns:
        (N, 4) float32.

    Raises:
        DataError: a missing (None/NaN) or impossible value: seed 001 excluded infants without them.
    """
    def column(values, name):
        try:
            v = np.asarray(values, np.float64).reshape(-1)
        except (TypeError, ValueError):
            raise DataError(f"characteristics: {name} must be numbers, got {values!r}") from None
        if not np.isfinite(v).all():
            raise DataError(f"characteristics: {name} is missing (None/NaN) for {int((~np.isfinite(v)).sum())} "
                            f"infant(s); seed 001 needs all four basic characteristics "
                            f"({', '.join(CHARACTERISTICS)}), or train with use_info=False")
        return v

    s = np.asarray(sex, dtype=object).reshape(-1)
    male = []
    for value in s:
        if isinstance(value, str) and value.upper() in ("M", "F"):
            male.append(1.0 if value.upper() == "M" else 0.0)
        elif value is not None and not isinstance(value, str) and value in (0, 1):
            male.append(float(value))
        else:
            raise DataError(f"characteristics: sex must be 'M'/'F' or 1/0, got {value!r} (missing characteristics: "
                            "seed 001 needs all four, or train with use_info=False)")
    cols = [np.asarray(male), column(gestational_age, "gestational_age"), column(birth_weight, "birth_weight"),
            column(corrected_age, "corrected_age")]
    if len({len(c) for c in cols}) != 1:
        raise DataError(f"characteristics: lengths differ ({[len(c) for c in cols]})")
    x = np.stack(cols, axis=1)
    if (x[:, 1] <= 0).any() or (x[:, 2] <= 0).any() or (x[:, 3] < 0).any():
        raise DataError("characteristics: gestational age and birth weight must be > 0 and corrected age >= 0 "
                        "(weeks, grams, weeks)")
    return ((x - _INFO_CENTRE) / _INFO_SCALE).astype(np.float32)


@register(build=lambda spec: MamNet(spec),
          sample_input=lambda spec: (1, 2, spec.clip_length, num_features(spec.input, spec.num_joints,
                                                                           spec.channels)))
@dataclasses.dataclass(frozen=True)
class MamSpec(JsonConfig):
    """Configuration of MAM. The paper fixes the clip length (240 frames at 25 fps) and the triplet margin; every
    size here is ours (no code exists; docs/gao2023_mam.md).

    Arguments:
        num_joints: joints per frame (19: in-motion-19; the paper's VideoPose3D gives 17).
        channels: 3 (3D pose, the paper's) or 2.
        input: ``"distance"`` (the paper's), ``"coordinates"``, ``"velocities"``, ``"accelerations"``.
        clip_length: frames per clip (240 = 9.6 s at 25 fps).
        patch: frames per temporal token (``clip_length`` must be a multiple).
        width: token and embedding width. depth: Transformer blocks. heads: attention heads. mlp_ratio: MLP width
            as a multiple of ``width``. dropout: dropout rate of attention, residuals and the Info MLP.
        differences: temporal differences (first, second, ...) of each token's values fed beside them (2; 0 = the
            values alone). difference_gain: their factor (10: a second difference of FMs at 25 fps is ≈ 0.1 of a
            normalised value).
        mil_hidden: width of the gated attention of the MIL fusion.
        use_info: the Info branch (False = ``MAM.w/o.info``).
        info_hidden: width of the Info MLP.
        dtype: compute dtype: ``"auto"`` (default: the backend policy's, float32 on CPU and bfloat16 on accelerators,
            :func:`infantjax.nn.precision.resolve`), ``"float32"``, ``"bfloat16"`` or ``"float16"``; parameters stay float32.
    """

    num_joints: int = 19
    channels: int = 3
    input: str = "distance"
    clip_length: int = 240
    patch: int = 10
    width: int = 64
    depth: int = 4
    heads: int = 4
    mlp_ratio: int = 2
    dropout: float = 0.1
    differences: int = 2
    difference_gain: float = 10.0
    mil_hidden: int = 64
    use_info: bool = True
    info_hidden: int = 16
    dtype: str = "auto"

    def __post_init__(self):
        object.__setattr__(self, "dtype", dtype_name(self.dtype, "MamSpec.dtype"))
        check_positive_ints(self, ("num_joints", "channels", "clip_length", "patch", "width", "depth", "heads",
                                   "mlp_ratio", "mil_hidden", "info_hidden"), "MamSpec")
        if self.num_joints < 2:
            raise ConfigError(f"MamSpec.num_joints must be >= 2 (distances need pairs), got {self.num_joints}")
        if self.channels not in (2, 3):
            raise ConfigError(f"MamSpec.channels must be 3 (3D pose) or 2, got {self.channels!r}")
        if self.input not in INPUTS:
            raise ConfigError(f"MamSpec.input must be one of {INPUTS}, got {self.input!r}")
        if self.clip_length % self.patch:
            raise ConfigError(f"MamSpec.clip_length {self.clip_length} must be a multiple of patch {self.patch}")
        if self.width % self.heads:
            raise ConfigError(f"MamSpec.width {self.width} must be a multiple of heads {self.heads}")
        if isinstance(self.differences, bool) or not isinstance(self.differences, int) or self.differences < 0:
            raise ConfigError(f"MamSpec.differences must be an integer >= 0, got {self.differences!r}")
        if not float(self.difference_gain) > 0:
            raise ConfigError(f"MamSpec.difference_gain must be > 0, got {self.difference_gain!r}")
        if not 0.0 <= float(self.dropout) < 1.0:
            raise ConfigError(f"MamSpec.dropout must be in [0, 1), got {self.dropout!r}")
        if not isinstance(self.use_info, bool):
            raise ConfigError(f"MamSpec.use_info must be true or false, got {self.use_info!r}")

    @property
    def num_features(self) -> int:
        """Values per frame of the input representation."""
        return num_features(self.input, self.num_joints, self.channels)

    def build(self) -> MamNet:
        """The Flax module."""
        return MamNet(self)


class _Block(nn.Module):
    """A pre-norm divided space-time Transformer block over (N, P, J, D) tokens."""

    width: int
    heads: int
    mlp_ratio: int
    dropout: float
    dtype: Any
    attention_dropout: float = 0.0

    @nn.compact
    def __call__(self, x: Float[Array, "N P J D"], train: bool) -> Float[Array, "N P J D"]:
        N, P, J, D = x.shape

        def attend(h, name):
            h = nn.LayerNorm(dtype=self.dtype, name=f"{name}_norm")(h)
            h = nn.MultiHeadDotProductAttention(num_heads=self.heads, qkv_features=self.width,
                                                dropout_rate=self.attention_dropout, deterministic=not train,
                                                dtype=self.dtype, force_fp32_for_softmax=True,  # mixed precision
                                                name=f"{name}_attention")(h, h)
            return nn.Dropout(self.dropout, deterministic=not train)(h)

        # spatial: the joints of one temporal patch attend to each other
        x = x + attend(x.reshape(N * P, J, D), "spatial").reshape(N, P, J, D)
        # temporal: the patches of one joint attend to each other
        t = jnp.swapaxes(x, 1, 2).reshape(N * J, P, D)
        x = x + jnp.swapaxes(attend(t, "temporal").reshape(N, J, P, D), 1, 2)
        h = nn.LayerNorm(dtype=self.dtype, name="mlp_norm")(x)
        h = nn.gelu(nn.Dense(self.width * self.mlp_ratio, dtype=self.dtype, name="mlp_in")(h))
        h = nn.Dropout(self.dropout, deterministic=not train)(h)
        h = nn.Dense(self.width, dtype=self.dtype, name="mlp_out")(h)
        return x + nn.Dropout(self.dropout, deterministic=not train)(h)


class ClipEncoder(nn.Module):
    """The spatio-temporal Transformer: clips (N, L, F) → embeddings (N, width) (module docstring)."""

    spec: MamSpec

    @nn.compact
    def __call__(self, x: Float[Array, "N L F"], train: bool = False) -> Float[Array, "N D"]:
        spec, dtype = self.spec, resolve(self.spec.dtype)
        N, L, _ = x.shape
        J = spec.num_joints
        x = jnp.asarray(x, dtype)
        if spec.input == "distance":
            # the symmetric J × J matrix from its upper triangle (diagonal 0): one token per joint, its row
            i, j = pair_indices(J)
            full = np.zeros((J, J), np.int32)
            full[i, j] = full[j, i] = np.arange(1, len(i) + 1)
            x = jnp.concatenate([jnp.zeros((N, L, 1), dtype), x], axis=-1)[..., full]  # (N, L, J, J)
        else:
            x = x.reshape(N, L, J, spec.channels)
        # temporal differences beside the values (ours): fidgety movements are small but 7× faster than gross
        # movements, so they dominate the second difference; a linear patch embedding sees them directly
        parts, d = [x], x
        for _ in range(spec.differences):
            d = jnp.concatenate([jnp.zeros_like(d[:, :1]), d[:, 1:] - d[:, :-1]], axis=1)
            parts.append(spec.difference_gain * d)
        x = jnp.concatenate(parts, axis=-1)
        f = features_per_joint(spec.input, J, spec.channels) * (1 + spec.differences)
        P = L // spec.patch
        x = x.reshape(N, P, spec.patch, J, f).transpose(0, 1, 3, 2, 4).reshape(N, P, J, spec.patch * f)
        x = nn.Dense(spec.width, dtype=dtype, name="embed")(x)
        init = nn.initializers.normal(0.02)
        x = x + self.param("joint_position", init, (J, spec.width)).astype(dtype)[None, None]
        x = x + self.param("patch_position", init, (P, spec.width)).astype(dtype)[None, :, None]
        x = nn.Dropout(spec.dropout, deterministic=not train)(x)
        for b in range(spec.depth):
            x = _Block(spec.width, spec.heads, spec.mlp_ratio, spec.dropout, dtype, name=f"block{b + 1}")(x, train)
        x = nn.LayerNorm(dtype=dtype, name="norm")(x)
        return jnp.mean(x, axis=(1, 2))


class AttentionMIL(nn.Module):
    """Gated attention MIL pooling (Ilse et al. 2018): a_s ∝ exp(wᵀ(tanh(V h_s) ⊙ σ(U h_s))) over the valid
    instances, z = Σ a_s h_s."""

    hidden: int
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, h: Float[Array, "B S D"], mask: Float[Array, "B S"]
                 ) -> tuple[Float[Array, "B D"], Float[Array, "B S"]]:
        v = jnp.tanh(nn.Dense(self.hidden, dtype=self.dtype, name="V")(h))
        u = jax.nn.sigmoid(nn.Dense(self.hidden, dtype=self.dtype, name="U")(h))
        e = nn.Dense(1, dtype=self.dtype, name="w")(v * u)[..., 0].astype(jnp.float32)
        e = jnp.where(mask > 0, e, -1e9)
        a = jax.nn.softmax(e, axis=-1) * (mask > 0)
        a = a / jnp.maximum(jnp.sum(a, axis=-1, keepdims=True), 1e-9)
        return jnp.einsum("bs,bsd->bd", a, h.astype(jnp.float32)), a


class MamNet(nn.Module):
    """MAM's three branches (module docstring). Built from a :class:`MamSpec`."""

    spec: MamSpec

    def setup(self):
        spec = self.spec
        dtype = resolve(spec.dtype)
        self.encoder = ClipEncoder(spec)
        self.classifier = nn.Dense(1, dtype=dtype)
        # [0] non-FMs, [1] FMs: the centres the triplet loss pulls clip embeddings to (Ref branch)
        self.prototypes = self.param("prototypes", nn.initializers.normal(1.0), (2, spec.width))
        self.fusion = AttentionMIL(spec.mil_hidden, dtype)
        self.main_head = nn.Dense(1, dtype=dtype)
        if spec.use_info:
            self.info_hidden = nn.Dense(spec.info_hidden, dtype=dtype)
            self.info_dropout = nn.Dropout(spec.dropout)
            self.info_head = nn.Dense(1, dtype=dtype)

    def clips(self, x: Float[Array, "N L F"], train: bool = False
              ) -> tuple[Float[Array, "N D"], Float[Array, " N"]]:
        """Ref branch: clip embeddings (N, width) and FMs logits (N,)."""
        e = self.encoder(x, train)
        return e.astype(jnp.float32), self.classifier(e)[..., 0].astype(jnp.float32)

    def __call__(self, x: Float[Array, "B S L F"], mask: Float[Array, "B S"] | None = None,
                 info: Float[Array, "B K"] | None = None, train: bool = False) -> dict[str, jax.Array]:
        """Main (+ Info) branch over recordings.

        Arguments:
            x: (B, S, L, F) the clips of B recordings (padded to S).
            mask: (B, S) 1 for a real clip, 0 for padding (default all real).
            info: (B, 4) :func:`characteristics` (needed with ``use_info``; zeros when omitted, for ``init``).
            train: dropout on (needs the ``"dropout"`` rng).

        Returns:
            ``risk_logit`` (B,) fused, ``main_logit`` and ``info_logit`` (B,), ``clip_logit`` (B, S) FMs logits,
            ``embedding`` (B, S, width), ``attention`` (B, S), ``prototypes`` (2, width).
        """
        B, S, L, F = x.shape
        mask = jnp.ones((B, S), jnp.float32) if mask is None else jnp.asarray(mask, jnp.float32)
        e, logit = self.clips(x.reshape(B * S, L, F), train)
        e, logit = e.reshape(B, S, -1), logit.reshape(B, S)
        # XLA:GPU fuses this concatenation into the attention's weighted sum over the clips as a Triton block-level
        # fusion, whose tile over the feature axis (2 of width + 1) it cannot cut from the 1-wide logit column: the
        # compile fails ("Reshape input and output shapes must be the same, got 1x16 -> 1x1x16x8", jax 0.10.2 and
        # 0.11.2, with or without Triton GEMMs); in the accelerator forms it is a buffer of its own (B x S x (width
        # + 1) values)
        h = own_buffer(jnp.concatenate([e, logit[..., None]], axis=-1))  # (B, S, width + 1)
        z, attention = self.fusion(h, mask)
        main = self.main_head(z)[..., 0].astype(jnp.float32)
        if self.spec.use_info:
            info = jnp.zeros((B, len(CHARACTERISTICS)), jnp.float32) if info is None else info
            h = nn.relu(self.info_hidden(jnp.asarray(info, jnp.float32)))
            h = self.info_dropout(h, deterministic=not train)
            info_logit = self.info_head(h)[..., 0].astype(jnp.float32)
        else:
            info_logit = jnp.zeros_like(main)
        return {"risk_logit": main + info_logit, "main_logit": main, "info_logit": info_logit,
                "clip_logit": logit, "embedding": e, "attention": attention, "prototypes": self.prototypes}


def fms_frequency(clip_probability: np.ndarray, mask: np.ndarray | None = None, threshold: float = 0.5
                  ) -> np.ndarray:
    """Seed 001's quantitative score: the fraction of a recording's clips classified FMs.

    Arguments:
        clip_probability: (B, S) per-clip FMs probabilities.
        mask: (B, S) valid clips (default all).
        threshold: a clip is an FMs clip when its probability exceeds it.

    Returns:
        (B,) float64 in [0, 1].
    """
    p = np.asarray(clip_probability, np.float64)
    m = np.ones_like(p) if mask is None else np.asarray(mask, np.float64)
    if p.shape != m.shape:
        raise DataError(f"fms_frequency: probabilities {p.shape} and mask {m.shape} differ")
    return ((p > threshold) * m).sum(-1) / np.maximum(m.sum(-1), 1.0)
