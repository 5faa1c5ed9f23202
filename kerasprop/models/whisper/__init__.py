"""Whisper (keras-hub's `WhisperBackbone`): speech recognition and audio classification."""
