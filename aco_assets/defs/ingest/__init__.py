"""The assets of the group ``ingest``."""
