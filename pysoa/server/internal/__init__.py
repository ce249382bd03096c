"""Names that PySOA 1.x kept under `pysoa.server.internal`, for code that still imports them from there."""
