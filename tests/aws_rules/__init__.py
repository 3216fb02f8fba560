"""AWS rules as checks over every Plan (like cdk-nag or cfn-lint rules).

No AWS account is reachable from the tests, so what AWS would refuse, or
deploy and never make work, is written down here as rules, each with the
documentation page it comes from: `registry` (the table), `catalog` (what
AWS accepts, read from botocore and cfn-lint), `rules_*` (the rules by
area), `matrix` (generated blueprint variants).
"""

from .registry import RULES, Rule, Violation, all_rules

__all__ = ["RULES", "Rule", "Violation", "all_rules"]
