"""Data generators: a coherent demo, and deterministic bulk data for benchmarks."""
