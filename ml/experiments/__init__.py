"""Experiments that prove the detector on data with known labels."""
