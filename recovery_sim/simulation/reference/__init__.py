"""The model in SimPy: the reference path every other path must equal."""
