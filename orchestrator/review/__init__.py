"""A run's figures for review: the review document, its exports (JSON, CSV,
Prometheus text) and the self-contained HTML report with its charts.
"""
