"""Lightning data modules, one per source, and the in-memory batching they share."""
