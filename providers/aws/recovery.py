"""AWS disaster recovery: AWS Backup, cold and hot DR sites (see compiler.py for the contract)."""

from __future__ import annotations


class RecoveryMixin:
    pass
