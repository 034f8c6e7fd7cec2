"""The offline model: deterministic, readable prose and valid structured outputs
from the chapter brief, for dry runs, tests and benchmarks. It never pretends
to be a real model.
"""
