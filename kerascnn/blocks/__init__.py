"""Building blocks: pure functions `(x, ..., name=) -> tensor` with deterministic layer names."""
