"""Heads over every token of an encoder: entities, answer spans, fill-mask, and character offsets."""
