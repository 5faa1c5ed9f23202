"""Audio inputs: a WAV file path, WAV bytes, base64 WAV (optionally a data URL), or a numpy array.

Files carry their sampling rate; a bare array takes the call's `sampling_rate`
option (16 kHz when not given), and `{"array": ..., "sampling_rate": ...}`
(the Hugging Face pipelines' form) carries its own. Every input ends as mono
float32 samples at 16 kHz, the rate of Whisper and Moonshine.

WAV is read by the standard library's `wave` module (8/16/24/32-bit PCM), with
`scipy.io.wavfile` for float and extensible WAV; other formats (MP3, FLAC,
OGG) must be converted first, e.g. `ffmpeg -i speech.mp3 -ar 16000 speech.wav`.
"""

import dataclasses
import io
import math
import os
import wave

import numpy as np

from kerasprop.schemas.encoded import read_encoded
from kerasprop.schemas.specs import Integer, Spec, describe

#: The sampling rate models receive.
MODEL_SAMPLING_RATE = 16000
_RATE = Integer(minimum=1)


@dataclasses.dataclass(frozen=True, eq=False)
class Waveform:
    """Mono float32 samples and their rate (`None`: the call's `sampling_rate` option decides)."""

    samples: np.ndarray
    sampling_rate: int = None

    def at(self, sampling_rate=MODEL_SAMPLING_RATE, default_rate=MODEL_SAMPLING_RATE):
        """The samples resampled to `sampling_rate`."""
        return resample(self.samples, self.sampling_rate or default_rate, sampling_rate)


def resample(samples, from_rate, to_rate=MODEL_SAMPLING_RATE):
    """Polyphase resampling (scipy) of a 1-D signal; float32 out.

    Example:
    >>> resample(np.zeros(8000, "float32"), 8000).shape
    (16000,)
    """
    samples = np.asarray(samples, dtype="float32")
    if from_rate == to_rate:
        return samples
    from scipy.signal import resample_poly

    divisor = math.gcd(int(from_rate), int(to_rate))
    return resample_poly(samples, to_rate // divisor, from_rate // divisor).astype("float32")


def load_audio(value, key="audio"):
    """Decodes any supported audio input into a `Waveform`.

    Raises `TypeError` for unsupported kinds of value and `ValueError` for
    values of the right kind that are not audio, naming `key` in both.

    Example:
    >>> load_audio(np.zeros(160, dtype="float32")).samples.shape
    (160,)
    """
    if isinstance(value, Waveform):
        return value
    if isinstance(value, dict):
        return _from_dict(value, key)
    if isinstance(value, np.ndarray):
        return Waveform(_from_array(value, key))
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _from_wav_bytes(bytes(value), key, "bytes")
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if isinstance(value, str):
        return _from_string(value, key)
    raise TypeError(
        f"'{key}' must be audio: a WAV file path, WAV bytes, a base64 string, a numpy array "
        f"or {{'array': ..., 'sampling_rate': ...}}, got {describe(value)}."
    )


def _from_dict(value, key):
    array_key = "array" if "array" in value else "raw"
    unknown = set(value) - {array_key, "sampling_rate"}
    if array_key not in value or unknown or "sampling_rate" not in value:
        raise ValueError(f"'{key}' as a dict needs exactly the keys 'array' and 'sampling_rate', got {sorted(value)}.")
    samples = np.asarray(value[array_key]) if isinstance(value[array_key], (list, tuple)) else value[array_key]
    if not isinstance(samples, np.ndarray):
        raise TypeError(f"'{key}.{array_key}' must be a numpy array or a list of numbers, got {describe(samples)}.")
    return Waveform(_from_array(samples, f"{key}.{array_key}"), _RATE.check(f"{key}.sampling_rate", value["sampling_rate"]))


def _from_string(value, key):
    raw, source = read_encoded(value, key, "audio")
    return _from_wav_bytes(raw, key, source)


def _from_wav_bytes(raw, key, what):
    if raw[:4] != b"RIFF" or raw[8:12] != b"WAVE":
        raise ValueError(
            f"'{key}': {what} is not a WAV file; kerasprop reads WAV (convert other formats first, "
            "e.g. `ffmpeg -i speech.mp3 speech.wav`)."
        )
    try:
        with wave.open(io.BytesIO(raw)) as reader:
            rate, channels, width = reader.getframerate(), reader.getnchannels(), reader.getsampwidth()
            frames = reader.readframes(reader.getnframes())
        samples = _pcm_to_float(frames, width, channels)
    except (wave.Error, EOFError, ValueError):
        samples, rate = _read_with_scipy(raw, key, what)
    if samples.size == 0:
        raise ValueError(f"'{key}': {what} holds no audio samples.")
    return Waveform(_from_array(samples, key), rate)


def _pcm_to_float(frames, width, channels):
    if width == 3:
        padded = np.frombuffer(frames, dtype="uint8").reshape(-1, 3)
        ints = (padded[:, 0].astype("int32") | padded[:, 1].astype("int32") << 8 | padded[:, 2].astype("int32") << 16)
        samples = np.where(ints >= 1 << 23, ints - (1 << 24), ints) / float(1 << 23)
    elif width == 1:
        samples = (np.frombuffer(frames, dtype="uint8").astype("float32") - 128.0) / 128.0
    elif width in (2, 4):
        samples = np.frombuffer(frames, dtype=f"<i{width}") / float(1 << (8 * width - 1))
    else:
        raise ValueError(f"unsupported sample width {width}")
    return samples.reshape(-1, channels).astype("float32")


def _read_with_scipy(raw, key, what):
    from scipy.io import wavfile

    try:
        rate, samples = wavfile.read(io.BytesIO(raw))
    except Exception as error:  # scipy fails on malformed files with several error types
        raise ValueError(f"'{key}': {what} is a broken or unsupported WAV file ({error}).") from None
    return samples, int(rate)


def _from_array(array, key):
    if array.ndim == 2:
        # (samples, channels), or (channels, samples) when the first axis is the short one.
        array = array.mean(axis=1) if array.shape[1] <= array.shape[0] else array.mean(axis=0)
    if array.ndim != 1:
        raise ValueError(f"'{key}' array must have shape (samples,) or (samples, channels), got shape {array.shape}.")
    if array.size == 0:
        raise ValueError(f"'{key}' array holds no samples.")
    if np.issubdtype(array.dtype, np.integer):
        info = np.iinfo(array.dtype)
        middle = (int(info.max) + int(info.min) + 1) / 2
        array = (array.astype("float64") - middle) / (int(info.max) - middle + 1)
    elif not np.issubdtype(array.dtype, np.floating):
        raise TypeError(f"'{key}' array must hold numbers, got dtype {array.dtype}.")
    array = array.astype("float32")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"'{key}' array holds NaN or infinite values.")
    return array


def to_model_rate(waveforms, sampling_rate=None):
    """16 kHz float32 arrays of `Waveform`s; `sampling_rate` is the rate of those without their own."""
    return [w.at(MODEL_SAMPLING_RATE, sampling_rate or MODEL_SAMPLING_RATE) for w in waveforms]


def resample_request(request):
    """Schema check hook of audio tasks: resamples `request.inputs["audio"]` to 16 kHz arrays."""
    request.inputs["audio"] = to_model_rate(request.inputs["audio"], request.options.get("sampling_rate"))


class Audio(Spec):
    """Audio in any supported form, normalised to a mono float32 `Waveform`."""

    expected = "audio (WAV path, WAV bytes, base64 WAV, numpy array or {'array', 'sampling_rate'})"

    def check(self, key, value):
        return load_audio(value, key)

    def json_schema(self):
        return {"type": "string", "contentEncoding": "base64", "description": "WAV file path or base64 WAV data"}
