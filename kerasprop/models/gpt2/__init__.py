"""GPT-2 (keras-hub's `GPT2CausalLM`) serving text generation."""
