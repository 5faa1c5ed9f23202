"""What the generative models share: the `CausalLM` and `Seq2SeqLM` task mixins and long-audio windows."""
