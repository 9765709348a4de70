"""Remediation stages: plan -> apply -> report."""
