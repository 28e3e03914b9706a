"""Serengeti benchmark harness: ``python benchmarks/run.py`` runs every registered op family."""
