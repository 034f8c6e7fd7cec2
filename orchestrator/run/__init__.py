"""One run, from project file to summary: the coordinator and its schedule, the
frontier of chapters ready to write, contradictions between chapters, spending,
restoring a resumed run, the store watch, status, and the summary.
"""
