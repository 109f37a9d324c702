"""The assets of the group ``detect``."""
