"""Converters for Hugging Face checkpoints that keras-hub cannot read yet."""
