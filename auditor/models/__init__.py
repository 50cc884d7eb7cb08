"""Model adapters: one module per format, chosen by `load_model`."""
