"""'Did you mean' for values outside a fixed set (engines, policies, algorithms).

Keys and section names are matched by spelling alone (`references.did_you_mean`);
choices get two more chances, because people write them from memory of another
tool: the same word in another case or with `_` for `-` (`allkeys_lru`,
`Postgres`), and one part of a compound choice (`lru` for `allkeys-lru`,
`hash` for `source_hash`).
"""

from __future__ import annotations

import difflib
import re
from typing import Iterable

_SEPARATORS = re.compile(r"[-_\s]+")


def _normal(text: str) -> str:
    return _SEPARATORS.sub("-", text.strip().lower())


def close_choices(given: str, choices: Iterable[str]) -> list[str]:
    """The choices `given` most likely meant, best first (at most three), or none."""
    options = list(choices)
    normal = {_normal(choice): choice for choice in options}
    wanted = _normal(given)
    if not wanted:
        return []
    if wanted in normal:
        return [normal[wanted]]
    close = difflib.get_close_matches(wanted, list(normal), n=1, cutoff=0.6)
    if close:
        return [normal[close[0]]]
    # One part of a compound choice, in the order the choices are declared (the common one first).
    parts = [choice for key, choice in normal.items()
             if len(wanted) >= 2 and (wanted in key.split("-") or key.startswith(wanted) or key.endswith(wanted))]
    return parts[:3]


def choice_hint(given: str, choices: Iterable[str]) -> str | None:
    found = close_choices(given, choices)
    if not found:
        return None
    quoted = [f"'{choice}'" for choice in found]
    return "did you mean " + (quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]) + "?"
