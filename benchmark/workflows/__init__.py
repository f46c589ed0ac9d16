"""Workflows: the matrix as a library call, its executors, tuning, reproduction, migrations."""
