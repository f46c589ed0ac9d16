"""Summaries: what is built from the records alone.

The leaderboard tables, the claims, the README's results block and the report.
"""
