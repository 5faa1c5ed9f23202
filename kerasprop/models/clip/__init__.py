"""CLIP (keras-hub's `CLIPBackbone`): image and text vectors, zero-shot image classification."""
