"""Registry: versioned task ids, unknown ids, adapter validation, entry-point plugins."""

import importlib
import sys
import textwrap

import pytest

from benchmark import registry
from benchmark.errors import AdapterError, UnknownIdError


def test_bare_name_is_newest_and_versioned_id_resolves():
    assert registry.get_task("avoid").spec.id == "avoid-v0"
    assert registry.get_task("avoid-v0") is registry.get_task("avoid")


def test_unknown_version_fails_loudly_with_the_existing_versions():
    with pytest.raises(UnknownIdError, match="avoid has versions avoid-v0"):
        registry.get_task("avoid-v7")


def test_unknown_task_names_closest_match():
    with pytest.raises(UnknownIdError, match="Did you mean 'avoid'") as err:
        registry.get_task("avoidd")
    assert err.value.exit_code == 2
    assert "kitchen" in str(err.value)


def test_unknown_method_names_closest_match():
    with pytest.raises(UnknownIdError, match="Did you mean 'dppo'"):
        registry.get_method_class("dpp0")


class _Incomplete:
    name = "incomplete"
    version = ""

    def config(self):
        return None

    def pretrain(self):  # wrong signature
        return None


def test_malformed_adapter_is_rejected_naming_every_problem():
    with pytest.raises(AdapterError) as err:
        registry.register_method("incomplete", _Incomplete)
    msg = str(err.value)
    for missing in ("`version: str`", "`description: str`", "finetune(self, policy, ctx)",
                    "save(self, policy, directory)", "load(self, directory, ctx)",
                    "method `pretrain` takes ()", "pretrain_key"):
        assert missing in msg, missing
    assert "incomplete" not in registry.method_ids()


@pytest.fixture
def plugin_dist(tmp_path, monkeypatch):
    """A real installed-distribution layout (dist-info + entry_points.txt) on sys.path."""
    pkg = tmp_path / "thirdparty_method"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(textwrap.dedent('''
        class TheirMethod:
            name = "theirs"
            version = "0.1"
            description = "a researcher's method, plugged in"
            def config(self): return {}
            def pretrain_key(self, ctx): return "k"
            def pretrain(self, dataset, ctx): return None
            def finetune(self, policy, ctx): return policy
            def save(self, policy, directory): pass
            def load(self, directory, ctx): return None

        class Broken:
            name = "broken"
    '''))
    dist = tmp_path / "thirdparty_method-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: thirdparty-method\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        "[modebench.methods]\ntheirs = thirdparty_method:TheirMethod\n"
        "broken = thirdparty_method:Broken\nmissing = thirdparty_method:Nope\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    registry.get_method_class.cache_clear()
    yield
    registry.get_method_class.cache_clear()
    sys.modules.pop("thirdparty_method", None)


def test_entry_point_plugin_is_found_without_touching_the_harness(plugin_dist):
    assert {"theirs", "broken", "missing"} <= set(registry.method_ids())
    cls = registry.get_method_class("theirs")
    assert cls.__name__ == "TheirMethod"
    info = registry.method_info("theirs")
    assert info.source == "thirdparty_method:TheirMethod" and info.version == "0.1"


def test_malformed_plugin_is_rejected_at_registration(plugin_dist):
    with pytest.raises(AdapterError, match="'broken'.*does not implement"):
        registry.get_method_class("broken")
    with pytest.raises(AdapterError, match="'missing'.*failed to load"):
        registry.get_method_class("missing")
