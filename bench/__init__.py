"""Load benchmarks for Passeport numérique, always measured beside a trivial baseline endpoint.

``python -m bench.run --help``; how it works and the figures measured are in docs/performance.md.
"""
