"""Studies: measurements of the suite itself, each writing a file under ``results/``.

Training and metric speed, time to quality, the FID sanity ladder.
"""
