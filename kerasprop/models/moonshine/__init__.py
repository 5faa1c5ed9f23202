"""Moonshine (keras-hub's `MoonshineAudioToText`): speech recognition."""
