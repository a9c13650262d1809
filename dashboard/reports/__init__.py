"""Reports an analyst can forward as is: HTML (self-contained), Markdown and PDF.

``build_report(db_path, campaign, period, end, formats, out_dir)`` is the one entry point
(the ``hypewatch report`` command and the scheduler call it). See docs/reports.md.
"""

from dashboard.reports.build import FORMATS, build_report
from dashboard.reports.content import ReportError

__all__ = ["FORMATS", "ReportError", "build_report"]
