"""Scene builder scripts (demo, tests, benchmark)."""
