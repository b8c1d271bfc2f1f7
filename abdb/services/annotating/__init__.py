"""Annotating antibodies, by role: ``run`` (the use case), ``worker`` (claim, number, write one batch at a time),
``pool`` (several workers watched by their parent), ``rows`` (numbering into rows), ``report`` (options, results)."""

from abdb.services.annotating.report import AnnotateOptions, AnnotateProgress, AnnotateReport
from abdb.services.annotating.run import annotate, check_options, default_engine

__all__ = ["AnnotateOptions", "AnnotateProgress", "AnnotateReport", "annotate", "check_options", "default_engine"]
