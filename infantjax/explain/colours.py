"""The one sequential colour scale of the explanations: every continuous quantity in [0, 1] drawn in colour —
the CAM of a joint (:func:`infantjax.explain.cam_colour`), the detector's confidence of a joint in the
labelled video (:func:`infantjax.explain.confidence_colour`) — goes from light blue (0) through lavender to
purple (1).

The scale is five of the nine colours of ColorBrewer's *BuPu* (Cynthia Brewer, colorbrewer2.org), classes 4–8,
interpolated linearly. It is sequential (lightness falls monotonically, so it reads in greyscale and in
print), safe for the common colour-vision deficiencies (it varies along the blue–purple axis and in lightness,
not between red and green), and shares no hue with the certainty colours (green, yellow, orange, red; grey for
a withheld result), which name a decision and are always shown with their letter or name: a colour on a joint
is an amount, a colour on a window or a badge is a class. Both ends stay chromatic: the light end is blue, not
white, so that a joint of confidence 0 in the labelled video is told apart from the white bones, and the dark
end is a saturated purple, not near black, so that a small disc of confidence 1 keeps its colour through a
video codec.
"""

from __future__ import annotations

import numpy as np

__all__ = ["SEQUENTIAL_HEX", "sequential_colour", "sequential_hex"]

#: The scale's colours from 0 to 1, evenly spaced (ColorBrewer BuPu, classes 4–8 of 9).
SEQUENTIAL_HEX = ("#9ebcda", "#8c96c6", "#8c6bb1", "#88419d", "#810f7c")
_RGB = np.array([[int(h[i:i + 2], 16) for i in (1, 3, 5)] for h in SEQUENTIAL_HEX], dtype=np.float64) / 255.0


def sequential_colour(value) -> np.ndarray:
    """RGB in [0, 1] (shape ``(..., 3)``) of values on the sequential scale: 0 light blue, 1 purple, linear
    between the scale's five colours; values are clipped to [0, 1] and NaN counts as 0."""
    v = np.clip(np.nan_to_num(np.asarray(value, dtype=np.float64), nan=0.0), 0.0, 1.0)
    x = v * (len(_RGB) - 1)
    lo = np.minimum(np.floor(x).astype(np.int64), len(_RGB) - 2)
    t = (x - lo)[..., None]
    return _RGB[lo] * (1.0 - t) + _RGB[lo + 1] * t


def sequential_hex(value: float) -> str:
    """``#rrggbb`` of one value on the sequential scale."""
    r, g, b = (round(255 * float(c)) for c in sequential_colour(float(value)))
    return f"#{r:02x}{g:02x}{b:02x}"
