"""The models' validators cached between processes (dsl/validators.py): a process that loads
them checks every blueprint exactly as one that generated them, and a missing, broken or
unwritable cache only means generating them again."""

from __future__ import annotations

import ast
import glob
import json
import os
import subprocess
import sys
from pathlib import Path

from topoform.dsl import validators

ROOT = Path(__file__).resolve().parent.parent
FILES = sorted(glob.glob(str(ROOT / "blueprints" / "*.yaml")) + glob.glob(str(ROOT / "tests" / "golden" / "*" / "*.yaml")))

# Every blueprint's diagnostics and validated data, and whether the validators came from the cache.
PROBE = """
import json, sys
from topoform.dsl import models
from topoform.dsl.validate import validate_file
out = {"from_cache": models.FROM_CACHE, "files": {}}
for path in json.loads(sys.argv[1]):
    result = validate_file(path)
    data = result.blueprint.model_dump(mode="json") if result.blueprint is not None else None
    out["files"][path] = {"diagnostics": [d.render() for d in result.diagnostics], "data": data}
print(json.dumps(out))
"""


def probe(cache_home: str, files: list[str] = FILES) -> dict:
    env = dict(os.environ, XDG_CACHE_HOME=cache_home)
    done = subprocess.run([sys.executable, "-c", PROBE, json.dumps(files)], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def cached_files(cache_home: Path) -> list[Path]:
    return sorted((cache_home / "topoform").glob("validators-*.pickle"))


def test_a_process_with_the_cache_validates_as_one_without(tmp_path):
    assert len(FILES) > 60  # the examples and every golden blueprint, valid and invalid
    cold = probe(str(tmp_path))
    assert cold["from_cache"] is False and len(cached_files(tmp_path)) == 1
    warm = probe(str(tmp_path))
    assert warm["from_cache"] is True
    assert warm["files"] == cold["files"]
    assert any(entry["diagnostics"] for entry in cold["files"].values())
    assert any(entry["data"] for entry in cold["files"].values())


def test_a_broken_cache_is_generated_again(tmp_path):
    probe(str(tmp_path), FILES[:1])
    (cache,) = cached_files(tmp_path)
    good = cache.read_bytes()
    for broken in (good[: len(good) // 2], b"not a pickle", b""):  # truncated, garbage, empty
        cache.write_bytes(broken)
        again = probe(str(tmp_path), FILES[:3])
        assert again["from_cache"] is False
        assert cache.read_bytes() != broken  # rewritten whole (pydantic's refs carry ids: not byte-equal)
        assert probe(str(tmp_path), FILES[:3]) == {**again, "from_cache": True}


def test_an_unwritable_cache_directory_is_no_error(tmp_path):
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("")
    first, second = probe(str(not_a_directory), FILES[:5]), probe(str(not_a_directory), FILES[:5])
    assert first["from_cache"] is second["from_cache"] is False
    assert first == second


def test_the_cache_name_covers_every_module_the_models_are_made_of(monkeypatch, tmp_path):
    tree = ast.parse((ROOT / "dsl" / "models.py").read_text())
    local = {alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level == 1
             and node.module is None for alias in node.names}
    local |= {node.module.split(".")[0] for node in ast.walk(tree)
              if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module}
    local.discard("validators")  # the cache itself
    assert {f"{name}.py" for name in local} <= set(validators.SOURCES)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    path = validators.cache_path()
    assert path.startswith(str(tmp_path / "topoform") + os.sep)
    monkeypatch.setattr(validators.pydantic, "VERSION", "0.0.0")
    assert validators.cache_path() != path  # another pydantic: another file


def test_only_the_newest_caches_are_kept(tmp_path, monkeypatch):
    folder = tmp_path / "topoform"
    folder.mkdir()
    for i in range(12):
        old = folder / f"validators-old{i:02}.pickle"
        old.write_bytes(b"")
        os.utime(old, (1_000_000 + i, 1_000_000 + i))
    probe(str(tmp_path), FILES[:1])
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    written = Path(validators.cache_path()).name
    kept = {path.name for path in cached_files(tmp_path)}
    assert kept == {written} | {f"validators-old{i:02}.pickle" for i in range(5, 12)}  # it and the 7 newest
