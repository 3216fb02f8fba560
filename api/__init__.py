"""Topoform: one YAML blueprint of a system design, validated, compiled to Pulumi, deployed."""

__version__ = "0.1.0"
