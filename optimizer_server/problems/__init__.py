"""Analytic tasks that behave like rendering (hard edges, plateaus) and need no Blender:
used by the tests, the demo and the benchmarks, and by the analytic render worker."""
