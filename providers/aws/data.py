"""AWS data stores: RDS, Aurora DSQL, ElastiCache, SQS (see compiler.py for the contract)."""

from __future__ import annotations


class DataMixin:
    pass
