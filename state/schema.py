"""The version of the stored layout; bump it with a migration step when it changes."""

SCHEMA_VERSION = 1

# Written into a store once its content has been migrated elsewhere: the store is then a
# read-only backup, and a writer that reaches it is refused with the new location.
MIGRATED_KEY = "meta/migrated_to"
