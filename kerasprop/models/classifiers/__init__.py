"""Classifier heads on keras-hub encoders and image backbones: supervised, zero-shot (NLI), image labels."""
