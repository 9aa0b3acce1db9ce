#!/usr/bin/env bash
# One device run: fine-tune the demo model on two-shape scenes on a GPU, then measure AND on it.
#
# The lent GPU machines have torch, transformers and opencv but not diffusers, psygnal or
# importlib_metadata; bring them as wheels (docs/prompt-syntax.md has the download line) in
# .whl/ and name .whl in carry.
# Leaves the tuned model, its training log and the benchmark's JSON and contact sheet in $OUT
# (or build/two_shape_run). Settings come from the environment:
#   STEPS (1376, the shipped model's count), BATCH (256), TWO (share of two-shape scenes, 0.6),
#   LR (4e-4), DEVICE (cuda), INIT (resources/demo_model; empty: train from scratch, VAE too),
#   MINUTES (budget when STEPS is empty), NAMES_ONE (share of two-shape scenes captioned with one
#   shape, 0.5), FREEZE_TE (1: train the UNet only), COMPOSED (share of two-shape scenes trained
#   as the AND of their one-shape captions, 0).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-build/two_shape_run}
mkdir -p "$out"
py=${PYTHON:-python3}
if compgen -G ".whl/*.whl" >/dev/null; then
  "$py" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
args=(--device "${DEVICE:-cuda}" --out "$out/model" --unet-batch "${BATCH:-256}" --unet-lr "${LR:-4e-4}"
      --two-shapes "${TWO:-0.6}" --two-names-one "${NAMES_ONE:-0.5}" --composed-loss "${COMPOSED:-0}"
      --save-every 1e9)
[ "${FREEZE_TE:-0}" = 1 ] && args+=(--freeze-text-encoder)
[ -n "${STEPS-1376}" ] && args+=(--unet-steps "${STEPS:-1376}") || args+=(--minutes "${MINUTES:-8}")
init=${INIT-resources/demo_model}
[ -n "$init" ] && args+=(--init "$init")
"$py" -m editor.engine.demo.train "${args[@]}"
"$py" benchmarks/prompt_composition.py --model "$out/model" --device "${DEVICE:-cuda}" \
  --png "$out/prompt_composition.png" | tee "$out/prompt_composition.json"
