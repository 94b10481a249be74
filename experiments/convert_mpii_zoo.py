"""Convert the official MPII EfficientPose Keras ``.h5`` files into the package's pickle-free zoo files (run once).

    python experiments/convert_mpii_zoo.py ../shared/data/efficientpose/keras

writes ``infantjax/models/pose/weights/efficientpose_{rt,i,rt_lite,i_lite}_mpii.npz`` (float32, value for value:
``PosePredictor.from_keras_h5(h5).save(npz)``). The heatmaps of the converted files equal the official Keras outputs
on the reference image (tests/test_pose_zoo.py).
"""

from __future__ import annotations

import argparse
import hashlib
import pathlib

from infantjax.models.pose.zoo import available
from infantjax.pipelines.pose import PosePredictor

H5 = {"rt": "EfficientPoseRT.h5", "i": "EfficientPoseI.h5", "rt_lite": "EfficientPoseRT_LITE.h5",
      "i_lite": "EfficientPoseI_LITE.h5"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("keras_dir", help="folder with the official EfficientPose*.h5 files")
    args = parser.parse_args()
    from infantjax import parallel

    parallel.initialize()  # multi-process JAX when INFANTJAX_DISTRIBUTED=1 or $INFANTJAX_COORDINATOR (docs/scale.md)
    out_dir = pathlib.Path(__file__).resolve().parents[1] / "infantjax" / "models" / "pose" / "weights"
    for e in available():
        if not e.name.endswith("-mpii"):
            continue
        h5 = pathlib.Path(args.keras_dir) / H5[e.variant]
        digest = hashlib.sha256(h5.read_bytes()).hexdigest()
        predictor = PosePredictor.from_keras_h5(h5)
        info = {"source": e.source, "licence": e.licence, "converted_from": h5.name, "sha256": digest}
        predictor.save(out_dir / e.file, dtype="float32", info=info, compress=True)
        print(f"{e.name}: {h5.name} -> {out_dir / e.file} ({(out_dir / e.file).stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
