"""RGB rendering of the synthetic infant: vectorised numpy rasterisation of shaded capsules (no OpenGL).

Every body part is a flattened capsule (a sphere-swept segment between two keypoints, ``body.BODY_PARTS``) whose
projected radius follows the perspective of the camera. Parts are rasterised for a batch of frames at once inside
each part's bounding box, with a height buffer (the surface height above the mattress decides what is on top),
Lambert shading from a per-video light, clothing (onesie, diaper, optional stripes), skin tone, a plain or
patterned sheet with a lighting gradient, and eyes drawn on the face. Keypoints are the exact projections of the
3D joint centres; a keypoint is *visible* when the top-most surface at its pixel is one of its own parts.

Pixel convention: pixel ``(row i, column j)`` has its centre at image coordinates ``(x=j, y=i)``; keypoints are in
the same coordinates, so ``image[round(y), round(x)]`` is the pixel under a keypoint.
"""

from __future__ import annotations

import dataclasses
from typing import Iterator, Sequence

import numpy as np

from infantjax import skeleton as _skeleton
from infantjax.errors import ConfigError
from infantjax.synth.body import BODY_KEYPOINTS, BODY_PARTS, Body, keypoints_for
from infantjax.synth.recording import Camera, RecordingConfig

__all__ = [
    "Appearance",
    "SKIN_TONES",
    "sample_appearance",
    "Rendered",
    "rasterize",
    "render",
    "render_frames",
    "keypoint_owners",
]

_K = {n: i for i, n in enumerate(BODY_KEYPOINTS)}
_PART_NAMES = tuple(p.name for p in BODY_PARTS)

# light to dark skin tones (sRGB)
SKIN_TONES = ((241, 206, 180), (228, 180, 146), (205, 145, 108), (168, 112, 78), (120, 80, 56), (86, 58, 42))
_SHEET_COLOURS = ((236, 236, 232), (210, 224, 240), (240, 220, 226), (222, 236, 214), (245, 238, 210),
                  (200, 200, 205), (170, 190, 215), (120, 140, 170))
_CLOTH_COLOURS = ((250, 250, 250), (150, 190, 230), (240, 170, 190), (180, 220, 170), (250, 225, 140),
                  (120, 120, 160), (230, 120, 100), (90, 150, 140))


@dataclasses.dataclass(frozen=True)
class Appearance:
    """How one video looks. Colours are sRGB 0–255 triples.

    Arguments:
        skin: skin colour.
        onesie: colour of the onesie (``None``: diaper only, the GMA standard of a naked infant in a diaper).
        onesie_stripes: second colour for horizontal stripes on the onesie, or ``None`` for plain.
        sleeves: whether the onesie covers the upper arms and thighs.
        diaper: diaper colour.
        sheet: sheet colour; ``sheet_pattern`` ``"plain" | "stripes" | "checks" | "dots"`` with ``sheet_accent``.
        light: direction towards the light (x, y, z) in the image frame (z towards the camera).
        ambient: share of ambient light (0–1).
        gradient: strength of the brightness gradient across the sheet (0–1).
    """

    skin: tuple[int, int, int] = SKIN_TONES[1]
    onesie: tuple[int, int, int] | None = (150, 190, 230)
    onesie_stripes: tuple[int, int, int] | None = None
    sleeves: bool = True
    diaper: tuple[int, int, int] = (250, 250, 250)
    sheet: tuple[int, int, int] = (236, 236, 232)
    sheet_pattern: str = "plain"
    sheet_accent: tuple[int, int, int] = (200, 200, 205)
    light: tuple[float, float, float] = (0.3, -0.4, 1.0)
    ambient: float = 0.45
    gradient: float = 0.15

    def __post_init__(self):
        if self.sheet_pattern not in ("plain", "stripes", "checks", "dots"):
            raise ConfigError(f"sheet_pattern must be plain, stripes, checks or dots, got {self.sheet_pattern!r}")
        if not 0 <= self.ambient <= 1:
            raise ConfigError(f"ambient must be in [0, 1], got {self.ambient}")

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


def sample_appearance(seed=None) -> Appearance:
    """A random appearance: skin tone, clothing, sheet and lighting."""
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)

    def pick(options):
        c = np.asarray(options[int(rng.integers(len(options)))], dtype=float)
        return tuple(int(v) for v in np.clip(c + rng.normal(0, 8, 3), 0, 255))

    onesie = pick(_CLOTH_COLOURS) if rng.random() < 0.6 else None
    return Appearance(
        skin=pick(SKIN_TONES),
        onesie=onesie,
        onesie_stripes=pick(_CLOTH_COLOURS) if onesie is not None and rng.random() < 0.3 else None,
        sleeves=bool(rng.random() < 0.5),
        diaper=pick(((250, 250, 250), (235, 235, 245), (220, 235, 250))),
        sheet=pick(_SHEET_COLOURS),
        sheet_pattern=("plain", "stripes", "checks", "dots")[int(rng.choice(4, p=(0.55, 0.2, 0.15, 0.1)))],
        sheet_accent=pick(_SHEET_COLOURS),
        light=(float(rng.uniform(-0.6, 0.6)), float(rng.uniform(-0.6, 0.6)), 1.0),
        ambient=float(rng.uniform(0.35, 0.6)),
        gradient=float(rng.uniform(0.0, 0.3)),
    )


def keypoint_owners() -> dict[str, tuple[int, ...]]:
    """For every body keypoint, the indices of the parts (``BODY_PARTS``) it belongs to."""
    owners: dict[str, list[int]] = {k: [] for k in BODY_KEYPOINTS}
    for i, part in enumerate(BODY_PARTS):
        owners[part.a].append(i)
        owners[part.b].append(i)
    head, neck, trunk, pelvis = (_PART_NAMES.index(n) for n in ("head", "neck", "trunk", "pelvis"))
    for k in ("head_top", "nose", "left_eye", "right_eye", "left_ear", "right_ear", "chin"):
        owners[k].append(head)
    owners["chin"].append(neck)
    owners["upper_neck"].append(head)
    owners["neck"] += [neck, trunk]
    for s in ("left", "right"):
        owners[f"{s}_shoulder"].append(trunk)
        owners[f"{s}_hip"].append(trunk)
    owners["pelvis"].append(pelvis)
    return {k: tuple(sorted(set(v))) for k, v in owners.items()}


_OWNERS = keypoint_owners()
_OWNER_TABLE = np.zeros((len(BODY_KEYPOINTS), len(BODY_PARTS) + 1), dtype=bool)  # last column: background
for _k, _parts in _OWNERS.items():
    _OWNER_TABLE[_K[_k], list(_parts)] = True


@dataclasses.dataclass(frozen=True, eq=False)
class Rendered:
    """Rendered frames with their exact annotations.

    ``frames`` (N, H, W, 3) uint8 (None when only geometry was asked for); ``keypoints`` (N, K, 2) pixel positions
    of ``BODY_KEYPOINTS``; ``visibility`` (N, K) bool; ``part`` (N, H, W) int8 index into ``BODY_PARTS`` or −1 for
    the background; ``height`` (N, H, W) float32 surface height above the mattress in cm (0 on the sheet);
    ``depth`` (N, K) distance of each keypoint from the camera in cm.
    """

    frames: np.ndarray | None
    keypoints: np.ndarray
    visibility: np.ndarray
    part: np.ndarray
    height: np.ndarray
    depth: np.ndarray

    def select(self, skeleton: str | _skeleton.Skeleton) -> tuple[np.ndarray, np.ndarray]:
        """Keypoints (N, J, 2) and visibility (N, J) of a keypoint set."""
        kp = keypoints_for(self.keypoints, skeleton)
        vis = keypoints_for(self.visibility[..., None], skeleton)[..., 0]
        return kp, vis


def _background(appearance: Appearance, height: int, width: int, scale: float) -> np.ndarray:
    """The sheet (H, W, 3) uint8 with its pattern and lighting gradient; ``scale`` is pixels per cm."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.asarray(appearance.sheet, np.float32)
    accent = np.asarray(appearance.sheet_accent, np.float32)
    period = max(6.0 * scale, 4.0)  # 6 cm pattern
    if appearance.sheet_pattern == "stripes":
        m = (np.floor(xx / period) % 2).astype(np.float32)
    elif appearance.sheet_pattern == "checks":
        m = ((np.floor(xx / period) + np.floor(yy / period)) % 2).astype(np.float32)
    elif appearance.sheet_pattern == "dots":
        m = ((((xx % period) - period / 2) ** 2 + ((yy % period) - period / 2) ** 2) < (0.18 * period) ** 2)
        m = m.astype(np.float32)
    else:
        m = np.zeros((height, width), np.float32)
    img = base * (1 - m[..., None]) + accent * m[..., None]
    lx, ly, _ = appearance.light
    g = 1.0 + appearance.gradient * ((xx / max(width - 1, 1) - 0.5) * lx + (yy / max(height - 1, 1) - 0.5) * ly)
    return np.clip(img * g[..., None], 0, 255).astype(np.uint8)


def _part_colours(appearance: Appearance) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """Base colour and optional stripe colour (float32 RGB) of every part."""
    out = []
    for p in BODY_PARTS:
        stripes = None
        if p.name == "pelvis":
            c = appearance.diaper
        elif p.cloth == "onesie" and appearance.onesie is not None and (p.name == "trunk" or appearance.sleeves):
            c, stripes = appearance.onesie, appearance.onesie_stripes
        elif p.name == "trunk":
            c = appearance.skin
        else:
            c = appearance.skin
        out.append((np.asarray(c, np.float32), None if stripes is None else np.asarray(stripes, np.float32)))
    return out


def rasterize(points: np.ndarray, body: Body, camera: Camera, appearance: Appearance | None = None, *,
              jitter: np.ndarray | None = None, colour: bool = True, background: np.ndarray | None = None) -> Rendered:
    """Rasterise body keypoints (N, K, 3) (body frame, cm) seen by ``camera``.

    Each part is rasterised inside the union of its bounding boxes over the batch (plain array slices, no
    gathers), so batches of consecutive video frames render fastest.

    Arguments:
        points: 3D positions of ``BODY_KEYPOINTS`` per frame.
        body: the infant (segment radii).
        camera: the view (its width and height are the image size).
        appearance: colours and light (default :class:`Appearance`).
        jitter: optional (N, 3) hand-held camera motion (see ``Camera.world``).
        colour: False skips the RGB image (height and part buffers only, e.g. for depth).
        background: optional (H, W, 3) uint8 sheet to reuse across batches.

    Returns:
        a :class:`Rendered`.
    """
    appearance = appearance or Appearance()
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim != 3 or pts.shape[1:] != (len(BODY_KEYPOINTS), 3):
        raise ConfigError(f"rasterize needs points of shape (N, {len(BODY_KEYPOINTS)}, 3), got {pts.shape}")
    n = pts.shape[0]
    h, w = int(camera.height), int(camera.width)
    uv, dist = camera.project(pts, jitter)
    uv32 = uv.astype(np.float32)
    ppc = (camera.focal / np.maximum(dist, 1e-3)).astype(np.float32)  # px per cm at each keypoint
    zb = np.zeros((n, h, w), np.float32)  # surface height; the sheet is at 0
    part = np.full((n, h, w), -1, np.int8)
    light = np.asarray(appearance.light, np.float32)
    light = light / np.linalg.norm(light)
    if colour:
        if background is None:
            background = _background(appearance, h, w, float(np.median(ppc)))
        frames = np.empty((n, h, w, 3), np.uint8)
        frames[:] = background
        colours = _part_colours(appearance)
        stripe_period = max(float(np.median(ppc)) * 2.5, 3.0)
    else:
        frames = None
    tl = body.trunk_length
    box_lo = np.array([w, h])
    box_hi = np.array([-1, -1])
    for pi, p in enumerate(BODY_PARTS):
        ia, ib = _K[p.a], _K[p.b]
        r_cm = body.head_radius if p.name == "head" else p.radius * tl
        t_cm = body.head_radius if p.name == "head" else p.thickness * tl
        a, b = uv32[:, ia], uv32[:, ib]
        ra, rb = r_cm * ppc[:, ia], r_cm * ppc[:, ib]
        za, zbh = pts[:, ia, 2].astype(np.float32), pts[:, ib, 2].astype(np.float32)
        rmax = np.maximum(ra, rb)[:, None]
        lo = np.floor((np.minimum(a, b) - rmax).min(0)).astype(np.int64)
        hi = np.ceil((np.maximum(a, b) + rmax).max(0)).astype(np.int64)
        x0, y0 = max(int(lo[0]), 0), max(int(lo[1]), 0)
        x1, y1 = min(int(hi[0]), w - 1) + 1, min(int(hi[1]), h - 1) + 1
        if x1 <= x0 or y1 <= y0:
            continue
        box_lo = np.minimum(box_lo, [x0, y0])
        box_hi = np.maximum(box_hi, [x1, y1])
        px = np.arange(x0, x1, dtype=np.float32)[None, None, :] - a[:, 0, None, None]
        py = np.arange(y0, y1, dtype=np.float32)[None, :, None] - a[:, 1, None, None]
        d = b - a
        dx, dy = d[:, 0, None, None], d[:, 1, None, None]
        inv = (1.0 / np.maximum((d ** 2).sum(-1), 1e-6))[:, None, None]
        t = px * (dx * inv) + py * (dy * inv)
        np.clip(t, 0.0, 1.0, out=t)
        ex = px - t * dx
        ey = py - t * dy
        q2 = ex * ex
        q2 += ey * ey
        r = t * (rb - ra)[:, None, None]
        r += ra[:, None, None]
        r2 = r * r
        np.maximum(r2, 1e-6, out=r2)
        q2 /= r2
        np.subtract(1.0, q2, out=q2)  # 1 - (distance / radius)^2: > 0 inside the capsule
        inside = q2 > 0
        q = np.sqrt(np.maximum(q2, 0.0, out=q2), out=q2)
        surf = t * (zbh - za)[:, None, None]
        surf += za[:, None, None]
        surf += t_cm * q
        zv = zb[:, y0:y1, x0:x1]
        win = np.greater(surf, zv)
        win &= inside
        np.copyto(zv, surf, where=win)
        np.copyto(part[:, y0:y1, x0:x1], np.int8(pi), where=win)
        if colour:
            np.maximum(r, 1e-3, out=r)
            lam = ex * light[0]
            lam += ey * light[1]
            lam /= r
            lam += q * light[2]
            np.clip(lam, 0.0, 1.0, out=lam)
            s = lam
            s *= 1 - appearance.ambient
            s += appearance.ambient
            base, stripes = colours[pi]
            rgb = s[..., None] * base
            if stripes is not None:
                band = (np.floor(np.arange(y0, y1, dtype=np.float32) / stripe_period) % 2 == 1)[None, :, None]
                rgb = np.where(band[..., None], s[..., None] * stripes, rgb)
            np.minimum(rgb, 255.0, out=rgb)
            np.copyto(frames[:, y0:y1, x0:x1], rgb.astype(np.uint8), where=win[..., None])
    if colour and box_hi[0] > box_lo[0]:
        _shadow_and_eyes(frames, part, zb, uv32, ppc, pts, body, (box_lo, box_hi))
    vis, kp_ok = _visibility(uv, part, w, h)
    return Rendered(frames, uv, vis & kp_ok, part, zb, dist)


def _visibility(uv: np.ndarray, part: np.ndarray, w: int, h: int):
    n, k = uv.shape[:2]
    col = np.rint(uv[..., 0]).astype(np.int64)
    row = np.rint(uv[..., 1]).astype(np.int64)
    inside = (col >= 0) & (col < w) & (row >= 0) & (row < h)
    pid = part[np.arange(n)[:, None], np.clip(row, 0, h - 1), np.clip(col, 0, w - 1)].astype(np.int64)
    own = _OWNER_TABLE[np.arange(k)[None, :], np.where(pid < 0, len(BODY_PARTS), pid)]
    return own, inside


def _shadow_and_eyes(frames, part, zb, uv, ppc, pts, body, box):
    n, h, w = part.shape
    (x0, y0), (x1, y1) = box
    # soft shadow of raised parts on the sheet: sheet pixels below-right of a surface higher than 2 cm
    shift = 3
    xs0, ys0 = max(x0 - 0, shift), max(y0, shift)
    xs1, ys1 = min(x1 + shift, w), min(y1 + shift, h)
    if xs1 > xs0 and ys1 > ys0:
        raised = zb[:, ys0 - shift:ys1 - shift, xs0 - shift:xs1 - shift] > 2.0
        m = raised & (part[:, ys0:ys1, xs0:xs1] < 0)
        view = frames[:, ys0:ys1, xs0:xs1]
        view[m] = (view[m].astype(np.uint16) * 13 // 16).astype(np.uint8)
    # eyes: dark dots on the face where the eye keypoint faces the camera and the face is on top
    head = _PART_NAMES.index("head")
    r_eye = 0.11 * body.head_radius
    bi = np.arange(n)[:, None, None]
    for eye in ("left_eye", "right_eye"):
        k = _K[eye]
        c = uv[:, k]
        rad = np.maximum(r_eye * ppc[:, k], 0.8)
        box_r = int(np.ceil(rad.max())) + 1
        off = np.arange(-box_r, box_r + 1)
        cols = np.rint(c[:, 0, None]).astype(np.int64) + off[None, :]
        rows = np.rint(c[:, 1, None]).astype(np.int64) + off[None, :]
        ok = (cols[:, None, :] >= 0) & (cols[:, None, :] < w) & (rows[:, :, None] >= 0) & (rows[:, :, None] < h)
        ci, ri = np.clip(cols, 0, w - 1), np.clip(rows, 0, h - 1)
        dx = ci[:, None, :] - c[:, 0, None, None]
        dy = ri[:, :, None] - c[:, 1, None, None]
        facing = pts[:, k, 2] > pts[:, _K["head_center"], 2] + 0.3 * body.head_radius
        m = ok & (dx * dx + dy * dy <= rad[:, None, None] ** 2) & facing[:, None, None]
        m &= part[bi, ri[:, :, None], ci[:, None, :]] == head
        if m.any():
            b_, r_, c_ = np.nonzero(m)
            frames[b_, ri[b_, r_], ci[b_, c_]] = 35


def render(points: np.ndarray, body: Body, camera: Camera, appearance: Appearance | None = None, *,
           jitter: np.ndarray | None = None, batch: int = 8) -> Iterator[Rendered]:
    """Render a long sequence in batches (a generator of :class:`Rendered`, ``batch`` frames each), reusing one
    background, so memory stays bounded whatever the length."""
    appearance = appearance or Appearance()
    if batch < 1:
        raise ConfigError(f"batch must be >= 1, got {batch}")
    pts = np.asarray(points)
    if len(pts) == 0:
        return
    uv, dist = camera.project(pts[:1])
    background = _background(appearance, camera.height, camera.width, float(np.median(camera.focal / dist)))
    for s in range(0, len(pts), batch):
        jit = None if jitter is None else jitter[s:s + batch]
        yield rasterize(pts[s:s + batch], body, camera, appearance, jitter=jit, background=background)


def _sampled_infant(rng: np.random.Generator, config: RecordingConfig, count: int) -> Rendered:
    """``count`` distinct moments, in order, of one infant drawn from ``rng`` (body; spontaneous movement, 15 % of
    infants with a CHOP INTEND score; 20 s at 15 fps), seen by a camera sampled from ``config`` with a sampled
    appearance."""
    from infantjax.synth.body import infant
    from infantjax.synth.movement import generate, movement_profile
    from infantjax.synth.recording import sample_camera

    body = infant(rng)
    kind = rng.random()
    profile = movement_profile(rng, chop_intend=float(rng.uniform(0, 72)) if kind < 0.15 else None)
    motion = generate(body, profile, duration_s=20.0, fps=15.0, seed=int(rng.integers(2 ** 31)))
    idx = np.sort(rng.choice(motion.num_frames, count, replace=False))
    camera = sample_camera(config, body.trunk_length, rng)
    return rasterize(motion.points[idx], body, camera, sample_appearance(rng))


def render_frames(n: int, *, seed: int = 0, height: int = 256, width: int = 256,
                  skeleton: str | _skeleton.Skeleton = "in-motion-19", rotation_deg: Sequence[float] = (-180, 180),
                  trunk_fraction: Sequence[float] = (0.18, 0.3), frames_per_infant: int = 8,
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A batch of rendered frames with exact keypoints, for training pose networks.

    Each group of ``frames_per_infant`` frames shows one sampled infant (body, appearance, camera) at random
    moments of its spontaneous movement.

    Arguments:
        n: number of frames.
        seed: everything is deterministic from it.
        height, width: image size (any resolution).
        skeleton: keypoint set of the returned keypoints (``"in-motion-19"``, ``"mpii-16"``, ``"passmore-18"``,
            ``"babypose-12"``, ...).
        rotation_deg: range of the infant's in-plane rotation.
        trunk_fraction: range of the trunk length as a fraction of the image's short side.
        frames_per_infant: frames drawn from each sampled infant.

    Returns:
        frames (N, H, W, 3) uint8, keypoints (N, J, 2) float32 pixel (x, y), visibility (N, J) bool.
    """
    if n < 0 or height < 8 or width < 8:
        raise ConfigError(f"render_frames needs n >= 0 and an image of at least 8×8, got n={n}, {height}×{width}")
    skel = _skeleton.get(skeleton)
    frames = np.zeros((n, height, width, 3), np.uint8)
    kps = np.zeros((n, skel.num_keypoints, 2), np.float32)
    vis = np.zeros((n, skel.num_keypoints), bool)
    config = RecordingConfig(width=width, height=height, rotation_deg=tuple(rotation_deg),
                             trunk_fraction=tuple(trunk_fraction))
    for g, start in enumerate(range(0, n, frames_per_infant)):
        rng = np.random.default_rng([seed, g])
        stop = min(start + frames_per_infant, n)
        out = _sampled_infant(rng, config, stop - start)
        frames[start:stop] = out.frames
        k, v = out.select(skel)
        kps[start:stop] = k
        vis[start:stop] = v
    return frames, kps, vis
