"""The commands: each command group is defined in its own module and ``main`` only
adds them; the live display, logging set-up, and how errors become exit codes.
Nothing outside ``cli`` imports it.
"""
