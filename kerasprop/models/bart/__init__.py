"""BART (keras-hub's `BartSeq2SeqLM`) serving backprop's generative tasks."""
