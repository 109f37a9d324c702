"""The assets of the group ``review``."""
