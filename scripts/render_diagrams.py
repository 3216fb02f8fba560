#!/usr/bin/env python3
"""Regenerate the README's architecture diagram: docs/two-region.png from
blueprints/two-region-hot-dr.yaml, through Graphviz (`dot` must be on PATH).

    python scripts/render_diagrams.py              # writes docs/two-region.png (+ .svg, .mmd)
    python scripts/render_diagrams.py --out DIR    # somewhere else

Run it after changing the example blueprint or the diagram code, and commit
the result; the README embeds the PNG.
"""

from __future__ import annotations

import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DIAGRAMS = {  # output stem → (blueprint, target)
    "two-region": ("blueprints/two-region-hot-dr.yaml", "aws"),
}


def main(argv: list[str] | None = None) -> int:
    from topoform.dsl.validate import validate_file
    from topoform.providers.insight.diagram import GraphvizMissing, architecture, render

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(ROOT, "docs"), help="output directory (default docs/)")
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    for stem, (blueprint, target) in DIAGRAMS.items():
        result = validate_file(os.path.join(ROOT, blueprint), target=target)
        if not result.ok:
            print(f"{blueprint} is not valid for {target}:", file=sys.stderr)
            for diag in result.diagnostics:
                print("  " + diag.render(), file=sys.stderr)
            return 2
        diagram = architecture(result.blueprint, target)
        try:
            for fmt, ext in (("png", "png"), ("svg", "svg"), ("mermaid", "mmd")):
                path = os.path.join(args.out, f"{stem}.{ext}")
                with open(path, "wb") as handle:
                    handle.write(render(diagram, fmt))
                print(f"wrote {os.path.relpath(path, ROOT)}")
        except GraphvizMissing as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
