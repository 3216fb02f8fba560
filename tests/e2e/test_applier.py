"""The e2e applier without an engine: value resolution, refusals, generated values."""

from __future__ import annotations

import io
import json
import tarfile

import pytest

from topoform.providers.plan import Plan, Resource

from .applier import Applier, ApplyError, Resolver, Unsupported, duration_ns, random_password, upload_tar

CONTAINER = "docker:index/container:Container"


def _resource(resource_name: str, type_: str = CONTAINER, **props) -> Resource:
    return Resource(type=type_, name=resource_name, component="test", properties=props)


def _plan(*resources: Resource) -> Plan:
    plan = Plan(blueprint="t", target="docker", stack="unit")
    for r in resources:
        plan.add(r)
    return plan


@pytest.fixture
def resolver() -> Resolver:
    return Resolver({
        "net": {"name": "t-net", "id": "abc"},
        "pw": {"result": "s3cret", "length": 32},
        "box": {"network_data": [{"ip_address": "10.0.0.2"}, {"ip_address": "10.0.1.2"}]},
    })


def test_whole_reference_keeps_the_outputs_type(resolver):
    assert resolver.value("${pw.length}") == 32
    assert resolver.value("${box.network_data}") == [{"ip_address": "10.0.0.2"}, {"ip_address": "10.0.1.2"}]


def test_embedded_references_become_text(resolver):
    assert resolver.value("postgres://app:${pw.result}@db/${net.name}") == "postgres://app:s3cret@db/t-net"


def test_field_and_index_steps(resolver):
    assert resolver.value("${box.network_data[1].ip_address}") == "10.0.1.2"
    assert resolver.value("ip=${box.network_data[0].ip_address}") == "ip=10.0.0.2"


def test_escape_is_a_literal(resolver):
    assert resolver.value("echo $${HOME} and $${net.name}") == "echo ${HOME} and ${net.name}"
    assert resolver.value("$${net.name}") == "${net.name}"
    assert resolver.value("costs $5") == "costs $5"


def test_nested_values_and_specials(resolver):
    value = {"a": ["${net.name}", {"$secret": "${pw.result}"}], "b": {"$json": {"k": "${pw.result}", "n": 1}}}
    resolved = resolver.value(value)
    assert resolved["a"] == ["t-net", "s3cret"]
    assert json.loads(resolved["b"]) == {"k": "s3cret", "n": 1}


def test_unknown_special_value_is_refused(resolver):
    with pytest.raises(Unsupported, match=r"\$asset"):
        resolver.value({"$asset": "./x"})


@pytest.mark.parametrize("text, message", [
    ("${nope.name}", "nope has not been created"),
    ("${net.missing}", "has no attribute 'missing'"),
    ("${box.network_data[5].ip_address}", r"has no element \[5\]"),
    ("port ${pw.length}", "reads a int, not a string"),
])
def test_bad_references_are_loud(resolver, text, message):
    with pytest.raises(ApplyError, match=message):
        resolver.value(text)


def test_durations_as_go_parses_them():
    assert duration_ns("10s") == 10 * 10**9
    assert duration_ns("1m30s") == 90 * 10**9
    assert duration_ns("500ms") == 500 * 10**6
    assert duration_ns("1.5s") == 1_500_000_000
    with pytest.raises(ApplyError):
        duration_ns("10 seconds")


def test_unknown_resource_type_is_refused():
    plan = _plan(_resource("x", "docker:index/service:Service", name="x"))
    with pytest.raises(Unsupported, match=r"x \(docker:index/service:Service\): the resource type"):
        Applier(None, plan).check()


@pytest.mark.parametrize("props, what", [
    ({"name": "c", "image": "i", "privileged": True}, "properties.privileged"),
    ({"name": "c", "image": "i", "ports": [{"internal": 80, "ipv6": True}]}, r"ports\[0\].ipv6"),
    ({"name": "c", "image": "i", "uploads": [{"file": "/a", "content": "x", "source": "/b"}]}, r"uploads\[0\].source"),
    ({"name": "c", "image": "i", "healthcheck": {"tests": ["CMD", "true"], "start_interval": "1s"}},
     "healthcheck.start_interval"),
    ({"name": "c", "image": "i", "networks_advanced": [{"name": "n", "mac_address": "x"}]},
     r"networks_advanced\[0\].mac_address"),
    ({"name": "c", "image": "i", "volumes": [{"volume_name": "v", "container_path": "/d", "from_container": "z"}]},
     r"volumes\[0\].from_container"),
])
def test_unknown_container_property_is_refused(props, what):
    with pytest.raises(Unsupported, match=rf"c1 \({CONTAINER}\): property {what}"):
        Applier(None, _plan(_resource("c1", **props))).check()


def test_unknown_property_of_other_types_is_refused():
    plan = _plan(_resource("n", "docker:index/network:Network", name="n", ipam_configs=[{"subnet": "10.1.0.0/24",
                                                                                         "ipv6": True}]))
    with pytest.raises(Unsupported, match=r"ipam_configs\[0\].ipv6"):
        Applier(None, plan).check()
    plan = _plan(_resource("p", "random:index/randomPassword:RandomPassword", length=8, numbers=False))
    with pytest.raises(Unsupported, match="properties.numbers"):
        Applier(None, plan).check()


def test_every_example_plan_is_implemented():
    from pathlib import Path

    from topoform.dsl import load_blueprint
    from topoform.providers import compile_plan
    root = Path(__file__).resolve().parents[2] / "blueprints"
    for path in sorted(root.glob("*.yaml")):
        Applier(None, compile_plan(load_blueprint(path), "docker", "unit")).check()


def test_random_password_honours_its_options():
    for _ in range(20):
        pw = random_password({"length": 32, "special": False})
        assert len(pw) == 32 and pw.isalnum()
    pw = random_password({"length": 40, "special": True, "override_special": "#", "min_special": 5,
                          "upper": False, "numeric": False})
    assert len(pw) == 40 and pw.count("#") >= 5 and set(pw) <= set("abcdefghijklmnopqrstuvwxyz#")
    pw = random_password({"length": 12, "min_upper": 3, "min_numeric": 3, "special": False})
    assert sum(c.isupper() for c in pw) >= 3 and sum(c.isdigit() for c in pw) >= 3
    with pytest.raises(ApplyError):
        random_password({"length": 4, "min_upper": 3, "min_lower": 3})


def _tar_member(data: bytes) -> tarfile.TarInfo:
    return tarfile.open(fileobj=io.BytesIO(data)).getmembers()[0]


def test_uploads_take_the_providers_modes():
    r = _resource("c")
    plain = _tar_member(upload_tar(r, {"file": "/etc/x.conf", "content": "a"}))
    assert (plain.name, plain.mode, plain.uid, plain.gid) == ("etc/x.conf", 0o644, 0, 0)
    assert _tar_member(upload_tar(r, {"file": "/x.sh", "content": "a", "executable": True})).mode == 0o744
    assert _tar_member(upload_tar(r, {"file": "/x.sh", "content": "a", "executable": True,
                                      "permissions": "0755"})).mode == 0o755


def test_tls_values_make_a_certificate_for_the_names():
    from cryptography import x509

    from .applier import private_key, self_signed_cert
    key = private_key({"algorithm": "RSA", "rsa_bits": 2048})
    assert "BEGIN RSA PRIVATE KEY" in key["private_key_pem"]
    cert_props = {"private_key_pem": key["private_key_pem"], "subject": {"common_name": "app", "organization": "o"},
                  "dns_names": ["app", "localhost"], "ip_addresses": ["127.0.0.1"], "validity_period_hours": 24,
                  "early_renewal_hours": 1, "allowed_uses": ["key_encipherment", "digital_signature", "server_auth"]}
    cert = x509.load_pem_x509_certificate(self_signed_cert(_resource("k"), cert_props)["cert_pem"].encode())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["app", "localhost"]
    assert [str(a) for a in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    with pytest.raises(Unsupported, match="allowed_uses value 'bogus'"):
        self_signed_cert(_resource("k"), {**cert_props, "allowed_uses": ["bogus"]})
