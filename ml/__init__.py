"""The three-phase Neyman-Pearson anomaly detector (pure PyTorch / NumPy)."""
