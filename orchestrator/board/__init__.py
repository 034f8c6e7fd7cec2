"""The job board in the store, chapter leases, workers that join a run from
another process or machine, and the one chapter-attempt protocol both the
coordinator and workers use.
"""
