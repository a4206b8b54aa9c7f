"""Inference: model loading, prompt rendering, scoring and generation, and the grid runner."""
