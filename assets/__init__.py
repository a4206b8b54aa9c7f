"""Dagster software-defined assets and their checks. Thin: read config, call ``benchtrust``, write Parquet,
attach metadata. Heavy libraries (torch, transformers, great-expectations) are imported inside asset bodies."""
