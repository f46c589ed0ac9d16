"""Scoring: the evaluation loops and the feature spaces of the distribution metrics.

`evaluate` is byte-frozen: its digest is part of every record's scoring fingerprint.
"""
