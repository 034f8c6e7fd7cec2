"""The store's backends (JSON file, SQLite, Redis) and what they stand on: the
process lock and its ticket queue, the Redis link, scripts, URL and health.
Private to ``state``: nothing outside it imports these.
"""
