"""T5 (keras-hub's `T5Backbone`) serving backprop's generative tasks."""
