"""The docker config renderers' speed tricks keep their behaviour: lazy re-exports, cached
renderers, and Jinja's bytecode cache (providers/docker/configs/__init__.py, rendering.py)."""

import importlib
import os
import subprocess
import sys
from pathlib import Path

import jinja2
import pytest

from topoform.providers.docker import configs
from topoform.providers.docker.configs import rendering as R

ROOT = Path(__file__).parent.parent


def test_every_exported_name_is_its_module_object():
    for module, names in configs._EXPORTS.items():
        source = importlib.import_module(f"topoform.providers.docker.configs.{module}")
        for name in names:
            assert getattr(configs, name) is getattr(source, name), name
    assert sorted(configs.__all__) == sorted(configs._MODULE_OF)
    assert set(configs.__all__) <= set(dir(configs))


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'render_nothing'"):
        configs.render_nothing  # noqa: B018
    with pytest.raises(ValueError, match="no renderer 'render_nothing'"):
        configs.cached("render_nothing", maxsize=1)


def test_cached_renders_once_per_context():
    render = configs.cached("render_redis_conf", maxsize=8)
    context = configs.RedisContext(maxmemory="64MiB", maxmemory_policy="allkeys-lru")
    first = render(context)
    assert first == configs.render_redis_conf(context)
    assert render(context) is first and render.cache_info().hits == 1


def test_a_small_blueprint_loads_only_the_config_modules_it_uses():
    code = ("import sys\nfrom click.testing import CliRunner\nfrom topoform.cli.main import cli\n"
            "assert CliRunner().invoke(cli, ['validate', 'blueprints/minimal-web.yaml']).exit_code == 0\n"
            "print(sorted(m.rsplit('.', 1)[1] for m in sys.modules if m.startswith('topoform.providers.docker.configs.')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    loaded = set(eval(done.stdout.strip().splitlines()[-1]))
    assert "haproxy" in loaded and not loaded & {"databases", "caches", "pdns", "rabbitmq"}


def _environment(cache: jinja2.BytecodeCache) -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(R.TEMPLATE_DIR)), bytecode_cache=cache,
                             auto_reload=False, **R._OPTIONS)
    env.filters.update(R.environment().filters)
    return env


def _haproxy_text(env: jinja2.Environment) -> str:
    context = configs.HaproxyContext(name="edge", backends=(
        configs.HaproxyBackend("web", (configs.HaproxyServer("web-0", "web", 80),)),))
    original = R.template
    try:
        R.template = env.get_template  # the module's own lookup, through this environment
        return configs.render_haproxy_cfg(context)
    finally:
        R.template = original


def test_compiled_templates_are_reused_and_render_the_same(tmp_path):
    cache = R._BytecodeCache(str(tmp_path), pattern="t-%s.cache")
    fresh = _haproxy_text(_environment(cache))
    assert len(list(tmp_path.iterdir())) == 1
    assert _haproxy_text(_environment(cache)) == fresh == _haproxy_text(_environment(None))


def test_a_truncated_or_unwritable_cache_only_means_compiling_again(tmp_path):
    cache = R._BytecodeCache(str(tmp_path), pattern="t-%s.cache")
    expected = _haproxy_text(_environment(cache))
    (entry,) = tmp_path.iterdir()
    entry.write_bytes(entry.read_bytes()[:40])
    assert _haproxy_text(_environment(cache)) == expected
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        assert _haproxy_text(_environment(R._BytecodeCache(str(locked)))) == expected


def test_the_cache_file_names_follow_the_environment_options(monkeypatch):
    first = R._bytecode_cache()
    monkeypatch.setitem(R._OPTIONS, "trim_blocks", False)
    second = R._bytecode_cache()
    if first is None or second is None:
        pytest.skip("no private temp directory for Jinja's cache here")
    assert first.pattern != second.pattern and first.directory == second.directory
