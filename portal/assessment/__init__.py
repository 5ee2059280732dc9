"""The 6R assessment engine: explainable, deterministic strategy recommendations per asset."""
