"""Compiled inference and generation machinery shared by every model: forward passes, samplers, image batches."""
