"""The propositions report (Markdown and self-contained HTML) and its figures."""

from kctsim.report.build import write_report

__all__ = ["write_report"]
