"""Insight: what a blueprint buys as a system design — availability, disaster
recovery, consistency, lint findings — and a diagram of it.

Pure functions of a validated Blueprint (only `--resources` diagrams read the
Plan), so `topoform report` and `topoform graph` need no Pulumi, no Docker and
no credentials, and run in milliseconds. Modules: topology (who calls whom),
availability, budgets, lint, consistency, report (the JSON form and its
text), diagram (mermaid and dot).
"""
