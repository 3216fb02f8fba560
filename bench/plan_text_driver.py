"""`topoform plan`'s default output through the streaming renderer, as a process.

    python bench/plan_text_driver.py BLUEPRINT TARGET

What `plan` does once it writes its text with `topoform.cli.plan_text`
(load, validate, compile, write to stdout, exit), so `run.py` can time the
renderer as a whole process before the command is wired to it. It imports
the library, not `topoform.cli`'s command modules, which are being renamed.
"""

from __future__ import annotations

import sys


def main(path: str, target: str) -> int:
    from topoform.cli.plan_text import write_plan_text
    from topoform.dsl.validate import validate_file
    from topoform.providers import compile_plan

    validated = validate_file(path, {}, target)
    if validated.blueprint is None:
        for diag in validated.diagnostics:
            print(diag.render(), file=sys.stderr)
        return 2
    plan = compile_plan(validated.blueprint, target, "dev")
    write_plan_text(plan, sys.stdout)
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
