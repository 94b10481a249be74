#!/usr/bin/env bash
# The GPU figures of record and the default test suite on a GPU, as three commands of at most
# 10 minutes each on the lent GPU machine (H100 or H200: jax with CUDA, PyTorch, Python 3.12, no package registry).
# docs/performance.md, "How to produce the GPU figures", says how to run it on a machine with a GPU.
#
#   here, once (a machine with a registry; from the repository root):
#     benchmarks/gpu_suite.sh prepare [EFFICIENTPOSE_CHECKOUT MOVEMENTOUTCOME_CHECKOUT STGCN_CHECKOUT]
#       puts into .gpu/ (ignored by git; carried with the call): the wheels infantjax needs beyond the machine's
#       (../shared/tools/gpu-wheels.sh) and, from checkouts of daniegr/EfficientPose, DeepInMotion/MovementOutcome
#       and yysijie/st-gcn that the user fetched, only the files the PyTorch side runs (never committed)
#   there, three calls in this order, each with carry [".gpu"]:
#     bash benchmarks/gpu_suite.sh tests   # 1: the default test suite with JAX_PLATFORMS=cuda (gpu marker included)
#     bash benchmarks/gpu_suite.sh bench   # 2: infantjax bench --size gpu, pose and GCN in bfloat16 (the GPU's
#                                          #    default), the official PyTorch code beside them (eager, torch.compile)
#     bash benchmarks/gpu_suite.sh more    # 3: pose in float32 (TF32) beside PyTorch, the 7-fold step and the
#                                          #    70-instance ensemble scoring 71,000 windows, depth (asymmetric ÷ full),
#                                          #    MAM, the SMA CNN at Table 1 size, the smartphone model's 25 splits
#     bash benchmarks/gpu_suite.sh goals   # 5: the cost model's goal programs (benchmarks/gpu_forms.py): today's
#                                          #    GPU forms beside them without grouped reductions (GOALS_FORMS="today
#                                          #    ungrouped before" adds the forms before), each beside its prediction;
#                                          #    then the probes of the model's constants (benchmarks/gpu_probes.py)
#     bash benchmarks/gpu_suite.sh record  # with one call's device time: the 70-instance Table A.4 ensemble scoring
#                                          #    one recording and 100 (benchmarks/gpu_score.py, its ten networks'
#                                          #    compile timed; call 3's ensemble step never finished in 190 s), then
#                                          #    pose in bfloat16 at batch 1-256 without the PyTorch rows (~8 min)
#     bash benchmarks/gpu_suite.sh forms   # 4 (when time is left): the GCN steps of call 2 under the tpu policy,
#                                          #    whose graph convolutions are one dense product (docs/backend.md):
#                                          #    beside call 2's rows it says whether GPUs should get that form too
# Each call writes its log, JSON records and a markdown table (figures.md: every row with its fraction of the
# device's peak) under $OUT; every step runs under its own time limit so the call ends inside 10 minutes and the
# files written so far come back. Each infantjax bench step writes its own JSON, and rewrites it after every row
# (a "partial" record until the step ends): a step that crashes or runs out of time keeps the rows it measured, and
# cannot take another step's rows with it. Limits: setup ~20 s, then the steps' limits add up to 540 s (bench),
# 505 s (more) and 500 s (tests), each step ending at most 10 s after its limit (SIGINT, then SIGKILL; 30 s for
# the tests, to write their report).
set -uo pipefail
cd "$(dirname "$0")/.."
GPU=.gpu

prepare() {
  local exclude
  exclude=$(git rev-parse --git-path info/exclude)
  mkdir -p "$(dirname "$exclude")"
  grep -qx '/.gpu/' "$exclude" 2>/dev/null || echo '/.gpu/' >> "$exclude"
  mkdir -p "$GPU/whl" "$GPU/refs"
  bash ../shared/tools/gpu-wheels.sh "$GPU/whl"
  local ep=${1:-} mo=${2:-} st=${3:-}
  if [ -n "$ep" ]; then  # the official PyTorch EfficientPose: generated model files and weights (RT, I)
    mkdir -p "$GPU/refs/EfficientPose/models/pytorch"
    cp "$ep"/models/pytorch/EfficientPose{RT,I}.py "$ep"/models/pytorch/EfficientPose{RT,I} \
      "$GPU/refs/EfficientPose/models/pytorch/"
  fi
  if [ -n "$mo" ]; then  # MovementOutcome's searchable GCN and its graphs
    mkdir -p "$GPU/refs/MovementOutcome"
    (cd "$mo" && cp -r --parents models utils "$OLDPWD/$GPU/refs/MovementOutcome/")
  fi
  if [ -n "$st" ]; then  # st-gcn's model package
    mkdir -p "$GPU/refs/st-gcn"
    cp -r "$st/net" "$GPU/refs/st-gcn/"
  fi
  find "$GPU" -name '__pycache__' -prune -exec rm -rf {} +
  du -sh "$GPU"
  echo "the call carries the working tree (tracked + untracked files) and .gpu: keep both under 64 MiB together"
}

setup() {
  : "${OUT:?run this on the GPU machine with OUT set to the folder for the results}"
  if compgen -G "$GPU/whl/*.whl" > /dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
      "$GPU"/whl/*.whl || exit 1
  fi
  export PYTHONPATH=/tmp/site:$PWD JAX_PLATFORMS=cuda PYTHONUNBUFFERED=1 INFANTJAX_COMPILATION_CACHE=off
  unset INFANTJAX_BACKEND_POLICY INFANTJAX_COMPUTE_DTYPE  # the platform's policy: accelerator forms, bfloat16
  {
    date -u
    nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.max.sm --format=csv
    python3 -c "import jax, flax, torch; print('jax', jax.__version__, 'flax', flax.__version__, 'torch',
      torch.__version__, jax.devices())"
    python3 -m infantjax info
  } 2>&1 | tee "$OUT/$1.log"
}

# step NAME SECONDS COMMAND...: run under a time limit, appending its output to the call's log
# GPU_SUITE_SKIP="WORD ...": steps whose name contains one of the words are left out (a re-run that spends its
# device time on what is not measured yet, e.g. GPU_SUITE_SKIP="float32 smartphone")
step() {
  local name=$1 limit=$2 word
  shift 2
  for word in ${GPU_SUITE_SKIP:-}; do
    if [[ $name == *"$word"* ]]; then
      echo "=== $name: left out (GPU_SUITE_SKIP=$GPU_SUITE_SKIP)" | tee -a "$OUT/$CALL.log"
      return 0
    fi
  done
  echo "=== $name (limit ${limit} s): $*" | tee -a "$OUT/$CALL.log"
  local start=$SECONDS
  timeout -s INT -k "${GRACE:-10}" "$limit" "$@" 2>&1 | tee -a "$OUT/$CALL.log"
  local rc=${PIPESTATUS[0]}
  echo "=== $name: exit $rc after $((SECONDS - start)) s" | tee -a "$OUT/$CALL.log"
}

# figures: the markdown table of every JSON record written so far (none: the header alone)
figures() {
  local records=()
  shopt -s nullglob
  records=("$OUT"/*.json)
  shopt -u nullglob
  python3 benchmarks/gpu_table.py "${records[@]}" --out "$OUT/figures.md"
}

torch_args() {  # --compare-torch with the carried checkouts (none carried: the JAX rows alone)
  local a=()
  [ -d "$GPU/refs/EfficientPose" ] && a+=(--efficientpose-repo "$GPU/refs/EfficientPose")
  [ -d "$GPU/refs/MovementOutcome" ] && a+=(--movementoutcome-repo "$GPU/refs/MovementOutcome")
  [ -d "$GPU/refs/st-gcn" ] && a+=(--stgcn-repo "$GPU/refs/st-gcn")
  if [ ${#a[@]} -gt 0 ]; then echo --compare-torch --torch-python python3 "${a[@]}" "$@"; fi
}

CALL=${1:-}
case "$CALL" in
  prepare)
    shift
    prepare "$@"
    ;;
  tests)  # call 1 (~9 min): the default suite, 8 workers sharing the GPU (no preallocation)
    # tests/conftest.py runs the value tests in float32 with full-precision products here (the tests marked gpu keep
    # the platform's bfloat16 and TF32). Skipped with their reason on this machine, as none of it is here: tests
    # marked needs("av") (no PyAV wheel: too big to carry), needs("jax2onnx", "onnxruntime") and needs("psycopg")
    # (extras not carried), eight_devices (one GPU, not conftest's 8 fake CPU devices), reference (no
    # ../shared/data), browser (no Chromium), the ffmpeg comparisons, decord and the aot extra
    setup tests
    # the second run (8 workers) reached 86 % in 510 s and was killed before its JUnit report: now 12 workers
    # (16 host cores; 12 x 7.5 % of the GPU's memory), -v so that every outcome is in tests.log as it comes (the
    # table reads it when the report is missing), and 30 s after the interrupt for pytest to write its report
    export XLA_PYTHON_CLIENT_PREALLOCATE=false XLA_PYTHON_CLIENT_MEM_FRACTION=0.075
    GRACE=30 step "default test suite, JAX_PLATFORMS=cuda" 500 python3 -m pytest -v -m "not slow" -n 12 \
      --dist loadfile -p no:cacheprovider -ra --junitxml="$OUT/tests.xml"
    python3 benchmarks/gpu_table.py --tests "$OUT/tests.xml" --out "$OUT/figures.md"
    ;;
  bench)  # call 2 (~9.5 min): pose batches 1-256, then the GCN steps at batch 32 and 256, bfloat16, PyTorch beside
    setup bench
    # pose: its own step and JSON, so that the GCN case (whose compile crashed XLA on the first run) cannot lose it.
    # PyTorch eager only: with torch.compile beside it the second run measured 3 of 16 PyTorch rows in 290 s
    # shellcheck disable=SC2046
    step "infantjax bench --size gpu --only pose (bfloat16)" 290 python3 -m infantjax bench --size gpu \
      --only pose --json "$OUT/bench-bf16-pose.json" $(torch_args)
    # GCN: did not finish in 330 s on the first run (XLA aborted) nor in 250 s on the second (ST-GCN and A.4 #1 at
    # batch 32, with PyTorch eager and compiled): each network's JAX and PyTorch rows land in the JSON before the
    # next network compiles (batch 32 first), so the time limit leaves the networks it reached
    # shellcheck disable=SC2046
    step "infantjax bench --size gpu --only gcn (bfloat16)" 250 python3 -m infantjax bench --size gpu \
      --only gcn --json "$OUT/bench-bf16-gcn.json" $(torch_args --torch-compile)
    figures
    ;;
  more)  # call 3 (~9.5 min): the fold/ensemble, MAM and depth cases, then float32 (TF32) pose and the other families
    setup more
    # what the runs so far never finished comes first, so that a time limit cuts the re-measurements: ensemble
    # (first run: out of time at 180 s; second: the vmapped 7-fold row, then killed at 140 s, compiling the ten
    # networks' programs), MAM (first run: an XLA:GPU error at 59 s, fixed; second: killed at 60 s, compiling)
    step "infantjax bench --size gpu --only ensemble (bfloat16)" 190 python3 -m infantjax bench --size gpu \
      --only ensemble --json "$OUT/bench-ensemble.json"
    step "MAM (5 folds)" 100 python3 benchmarks/mam.py --json "$OUT/mam.json"
    step "infantjax bench --size gpu --only depth (bfloat16)" 55 python3 -m infantjax bench --size gpu \
      --only depth --json "$OUT/bench-depth.json"  # 44 s on the second run
    # pose in float32: 121 s on the first run without PyTorch rows (every CUDA forward of the official model failed)
    # shellcheck disable=SC2046
    step "infantjax bench --size gpu --only pose (float32)" 100 python3 -m infantjax --compute-dtype float32 \
      bench --size gpu --only pose --json "$OUT/bench-f32-pose.json" $(torch_args)
    step "SMA CNN, Table 1 size (15 folds, batch 400)" 35 python3 benchmarks/sma.py --json "$OUT/sma.json"  # 31 s
    step "smartphone model, 25 splits" 25 python3 benchmarks/passmore.py --json "$OUT/passmore.json"  # 21 s
    figures
    ;;
  record)  # one call (~8 min): the ensemble of the paper's size over 1,000 recordings, then pose (bfloat16)
    setup record
    step "70-instance Table A.4 ensemble: one recording, calls of 512, 100 recordings (bfloat16)" 330 \
      python3 benchmarks/gpu_score.py --json "$OUT/score.json"
    step "infantjax bench --size gpu --only pose (bfloat16)" 130 python3 -m infantjax bench --size gpu \
      --only pose --json "$OUT/bench-bf16-pose.json"
    figures
    ;;
  forms)  # call 4 (~4.5 min): the TPU policy's dense graph products measured on the GPU, beside call 2's GCN rows
    setup forms
    step "infantjax bench --size gpu --only gcn, tpu policy (dense graph products, bfloat16)" 250 python3 -m \
      infantjax --backend-policy tpu bench --size gpu --only gcn --json "$OUT/bench-bf16-gcn-dense.json"
    figures
    ;;
  goals)  # call 5 (~8 min): the cost model's goal programs under today's forms and without their grouped reductions
    # (GOALS_FORMS; the forms before them were measured on the H200 of 2026-11-26), each beside the model's prediction
    # of the program the GPU compiled (benchmarks/gpu_forms.py); the single-network rows first, then the 7 vmapped
    # folds, then the 70-instance scoring, each step with its own JSON and HLO archive (first run: 126, 68, 80 s);
    # one more call of each program traced, each kernel's time beside the model's (benchmarks/kernel_profile.py)
    setup goals
    # shellcheck disable=SC2086
    step "forms: Table A.4 #1 and ST-GCN, train step and forward, batch 32" 200 python3 benchmarks/gpu_forms.py \
      --forms ${GOALS_FORMS:-today ungrouped} --rows a4-train a4-forward stgcn-train stgcn-forward --profile 1 \
      --json "$OUT/forms-single.json" --hlo "$OUT/hlo-single.tgz"
    # shellcheck disable=SC2086
    step "forms: 7 folds of Table A.4 #1 vmapped, batch 32" 110 python3 benchmarks/gpu_forms.py \
      --forms ${GOALS_FORMS:-today ungrouped} --rows a4-7folds --profile 1 \
      --json "$OUT/forms-folds.json" --hlo "$OUT/hlo-folds.tgz"
    # shellcheck disable=SC2086
    step "forms: 70 x Table A.4 #1 scoring 512 windows a call" 135 python3 benchmarks/gpu_forms.py \
      --forms ${GOALS_FORMS:-today ungrouped} --rows cp-score-70 --repeats 5 --warmup 2 --profile 1 \
      --json "$OUT/forms-score.json" --hlo "$OUT/hlo-score.tgz"
    # the model's constants measured on their own (benchmarks/gpu_probes.py): the launch cost with and without
    # command buffers, and a BatchNorm's statistics and an attention's pooling in each reduction form (~40 s)
    step "probes: launch cost, reduction forms" 60 python3 benchmarks/gpu_probes.py --json "$OUT/probes.json"
    ;;
  *)
    echo "usage: $0 prepare [EFFICIENTPOSE MOVEMENTOUTCOME STGCN] | tests | bench | more | record | forms | goals" >&2
    exit 2
    ;;
esac
