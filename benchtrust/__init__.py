"""benchtrust: how far can a benchmark number be trusted?

The core library. Pure functions and small classes, no Dagster import: sources, inference engines,
statistics, report rendering and the CLI live here; Dagster assets in ``assets/`` call into it.
"""

__version__ = "0.1.0"
