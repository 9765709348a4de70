"""Dry-run reports of a remediation plan (HTML and Markdown, from jinja2 templates)."""

from remediation.report.render import plan_view, render_html, render_markdown, write_report

__all__ = ["plan_view", "render_html", "render_markdown", "write_report"]
