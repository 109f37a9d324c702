"""The assets of the group ``model``."""
