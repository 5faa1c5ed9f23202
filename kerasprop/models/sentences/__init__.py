"""Models on sentence vectors: the sentence embedder, its heads (classifier, summariser), vector finetuning, LiT."""
