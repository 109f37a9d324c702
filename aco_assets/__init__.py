"""The ACO domain: the archive codec, the synthetic archive, the front end and the lineage stages."""
