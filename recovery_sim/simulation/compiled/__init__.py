"""The same model compiled with numba: the fast path, bit-identical to the reference."""
