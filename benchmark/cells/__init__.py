"""Cells: the producers of a record and the one pipeline they share.

A trained run (`train`), external samples (`external`), the references (`references`) and a
rescore of kept weights (`rescore`) all end in `pipeline.score_cell`.
"""
