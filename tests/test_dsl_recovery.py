"""DR objectives: what each strategy achieves, and the validation error naming a better one."""

import pytest

from topoform.dsl.recovery import achievable, all_strategies, meeting
from topoform.dsl.validate import validate_text

BASE = """\
blueprint: dr
databases:
  main: {storage: 40GiB, backup: {interval: 2h, point_in_time: %s}}
dns:
  zone: dr.example
  ttl: 60s
  records:
    - name: www
      routing: failover
      health_check: {interval: 10s, failure_threshold: 3}
      endpoints: [{value: 192.0.2.1, role: primary}, {value: 192.0.2.2, role: secondary}]
"""


def blueprint(pitr: bool = False, extra: str = ""):
    result = validate_text(BASE % ("true" if pitr else "false") + extra)
    assert result.ok, [d.render() for d in result.diagnostics]
    return result.blueprint


def test_objectives_follow_the_blueprint_numbers():
    bp = blueprint()
    got = all_strategies(bp)
    assert (got["backup"].rto, got["backup"].rpo) == (3600 + 40 * 60, 7200)
    assert (got["cold"].rto, got["cold"].rpo) == (1800 + 3600 + 40 * 60, 7200)
    assert (got["hot"].rto, got["hot"].rpo) == (10 * 3 + 60, 1.0)


def test_point_in_time_recovery_sets_a_5_minute_rpo():
    assert achievable(blueprint(pitr=True), "backup").rpo == 300


def test_meeting_picks_the_cheapest_strategy():
    bp = blueprint()
    assert meeting(bp, rto=4 * 3600, rpo=None).strategy == "backup"
    assert meeting(bp, rto=None, rpo=60).strategy == "hot"
    assert meeting(bp, rto=5, rpo=None) is None


@pytest.mark.parametrize("objectives, message", [
    ("rto: 30m", "declared RTO 30m cannot be met by the backup strategy, which achieves 1h 40m "
                 "(restore: 1h + 1m per GiB × 40 GiB)"),
    ("rpo: 1h", "declared RPO 1h cannot be met by the backup strategy, which achieves 2h "
                "(databases.main: backup every 2h)"),
])
def test_a_tighter_objective_is_an_error_naming_the_strategy_that_meets_it(objectives, message):
    text = BASE % "false" + f"disaster_recovery: {{strategy: backup, {objectives}}}\n"
    [diag] = validate_text(text).diagnostics
    assert diag.message == message
    assert diag.hint == "the hot strategy achieves RTO 1m 30s and RPO 1s"


def test_objectives_the_strategy_meets_are_fine():
    blueprint(extra="disaster_recovery: {strategy: hot, region: us-west-2, rto: 2m, rpo: 1s}\n")
