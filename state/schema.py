"""The version of the stored layout; bump it with a migration step when it changes."""

SCHEMA_VERSION = 1
