"""A test-only applier: creates a compiled docker Plan on a real engine.

Not a product feature. The end-to-end suite cannot run Pulumi (no CLI, no
registry), so it applies the Plan itself with the semantics of the
Terraform docker provider that pulumi-docker wraps
(kreuzwerker/terraform-provider-docker, `resource_docker_container`,
`docker_network`, `docker_volume`, `docker_image`), plus the `random` and
`tls` resources whose values the containers read.

What it does not implement it refuses, naming the resource and the
property: a property the compiler starts to emit cannot reach a real engine
untested. Values are resolved as `providers/program.py` resolves them:
`${resource.attr}` with `.field`/`[i]` steps (a whole-string reference keeps
its type, an embedded one becomes text), `$${` a literal `${`, and the
single-key objects `$json` and `$secret`.
"""

from __future__ import annotations

import io
import ipaddress
import json
import re
import secrets
import string
import tarfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from topoform.providers.plan import REFERENCE_RE, Plan, Resource

_ATTR_STEP_RE = re.compile(r"\.?([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]")
_DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_DURATION_NS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}
_MIB = 1024 * 1024


class ApplyError(RuntimeError):
    """The Plan could not be applied (the engine refused, or a value is missing)."""


class Unsupported(ApplyError):
    """The Plan uses a resource type or property this applier does not implement."""


def _unsupported(resource: Resource, what: str) -> Unsupported:
    return Unsupported(f"{resource.name} ({resource.type}): {what} is not implemented by the e2e applier; "
                       "implement it (with a test) before the compiler emits it")


def _check_keys(resource: Resource, where: str, value: Any, allowed: set[str]) -> None:
    if not isinstance(value, dict):
        raise ApplyError(f"{resource.name}: {where} must be an object, got {value!r}")
    extra = sorted(set(value) - allowed)
    if extra:
        raise _unsupported(resource, f"property {where}.{extra[0]}")


# ---------------------------------------------------------------- values

def attr_steps(attr: str) -> list[tuple[str, int | None]]:
    """`a.b[0].c` → [("a", None), ("b", None), ("", 0), ("c", None)]."""
    return [(m.group(1), int(m.group(2)) if m.group(2) else None) for m in _ATTR_STEP_RE.finditer(attr)]


class Resolver:
    """Plan values → plain values, from the outputs of the resources made so far."""

    def __init__(self, outputs: dict[str, dict[str, Any]]):
        self.outputs = outputs

    def output(self, name: str, attr: str) -> Any:
        if name not in self.outputs:
            raise ApplyError(f"${{{name}.{attr}}}: {name} has not been created (is it in the plan, before its readers?)")
        value: Any = self.outputs[name]
        walked = name
        for step, index in attr_steps(attr):
            if index is not None:
                if not isinstance(value, list) or index >= len(value):
                    raise ApplyError(f"${{{name}.{attr}}}: {walked} has no element [{index}]")
                value = value[index]
                walked += f"[{index}]"
            else:
                if not isinstance(value, dict) or step not in value:
                    raise ApplyError(f"${{{name}.{attr}}}: {walked} has no attribute {step!r}")
                value = value[step]
                walked += f".{step}"
        return value

    def string(self, text: str) -> Any:
        parts: list[tuple[bool, Any]] = []  # (is a reference, value)
        last = 0
        for match in REFERENCE_RE.finditer(text):
            parts.append((False, text[last:match.start()]))
            if match.group(1) is None:
                parts.append((False, "${"))
            else:
                parts.append((True, self.output(match.group(1), match.group(2))))
            last = match.end()
        parts.append((False, text[last:]))
        parts = [(is_ref, v) for is_ref, v in parts if is_ref or v != ""]
        if len(parts) == 1 and parts[0][0]:
            return parts[0][1]  # a whole-value reference keeps the output's type
        for is_ref, v in parts:
            if not isinstance(v, str):
                # Output.concat joins strings only: the program would fail here too.
                raise ApplyError(f"{text!r}: a reference embedded in text reads a {type(v).__name__}, not a string")
        return "".join(v for _, v in parts)

    def value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.string(value) if "$" in value else value
        if isinstance(value, list):
            return [self.value(v) for v in value]
        if isinstance(value, dict):
            if len(value) == 1:
                key = next(iter(value))
                if key == "$json":
                    return json.dumps(self.value(value[key]))
                if key == "$secret":
                    return self.value(value[key])
                if key.startswith("$"):
                    raise Unsupported(f"special value {key!r} is not implemented by the e2e applier")
            return {k: self.value(v) for k, v in value.items()}
        return value


def duration_ns(text: str) -> int:
    """A Go duration ("10s", "1m30s", "500ms") in nanoseconds, as the provider parses it."""
    if text in ("0", ""):
        return 0
    pos, total = 0, 0.0
    for match in _DURATION_RE.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _DURATION_NS[match.group(2)]
        pos = match.end()
    if pos != len(text):
        raise ApplyError(f"{text!r} is not a duration (Go syntax: 10s, 1m30s, 500ms)")
    return int(total)


# ---------------------------------------------------------------- generated values

_RANDOM_SPECIAL = "!@#$%&*()-_=+[]{}<>:?"
_RANDOM_KEYS = {"length", "special", "upper", "lower", "numeric", "number", "min_upper", "min_lower",
                "min_numeric", "min_special", "override_special", "keepers"}


def random_password(props: dict[str, Any]) -> str:
    """random_password's algorithm: the minimums first, the rest from every allowed class, shuffled."""
    length = int(props["length"])
    classes: list[tuple[str, int]] = []
    if props.get("upper", True):
        classes.append((string.ascii_uppercase, int(props.get("min_upper", 0))))
    if props.get("lower", True):
        classes.append((string.ascii_lowercase, int(props.get("min_lower", 0))))
    if props.get("numeric", props.get("number", True)):
        classes.append((string.digits, int(props.get("min_numeric", 0))))
    if props.get("special", True):
        classes.append((props.get("override_special") or _RANDOM_SPECIAL, int(props.get("min_special", 0))))
    if not classes:
        raise ApplyError("random password with every character class turned off")
    if sum(m for _, m in classes) > length:
        raise ApplyError(f"random password: the minimums add up to more than length {length}")
    chars = [secrets.choice(alphabet) for alphabet, minimum in classes for _ in range(minimum)]
    everything = "".join(alphabet for alphabet, _ in classes)
    chars += [secrets.choice(everything) for _ in range(length - len(chars))]
    secrets.SystemRandom().shuffle(chars)
    return "".join(chars)


def _crypto():
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    return x509, hashes, serialization, rsa, ec, ed25519, ExtendedKeyUsageOID, NameOID


_CURVES = {"P224": "SECP224R1", "P256": "SECP256R1", "P384": "SECP384R1", "P521": "SECP521R1"}


def private_key(props: dict[str, Any]) -> dict[str, str]:
    x509, hashes, serialization, rsa, ec, ed25519, _, _ = _crypto()
    algorithm = props["algorithm"]
    if algorithm == "RSA":
        key = rsa.generate_private_key(public_exponent=65537, key_size=int(props.get("rsa_bits", 2048)))
        pem_format = serialization.PrivateFormat.TraditionalOpenSSL  # "RSA PRIVATE KEY", as tls_private_key
    elif algorithm == "ECDSA":
        key = ec.generate_private_key(getattr(ec, _CURVES[props.get("ecdsa_curve", "P224")])())
        pem_format = serialization.PrivateFormat.TraditionalOpenSSL
    elif algorithm == "ED25519":
        key = ed25519.Ed25519PrivateKey.generate()
        pem_format = serialization.PrivateFormat.PKCS8
    else:
        raise ApplyError(f"tls private key algorithm {algorithm!r} (RSA, ECDSA or ED25519)")
    none = serialization.NoEncryption()
    public = key.public_key()
    return {
        "algorithm": algorithm,
        "private_key_pem": key.private_bytes(serialization.Encoding.PEM, pem_format, none).decode(),
        "private_key_pem_pkcs8": key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, none).decode(),
        "public_key_pem": public.public_bytes(serialization.Encoding.PEM,
                                              serialization.PublicFormat.SubjectPublicKeyInfo).decode(),
        "public_key_openssh": public.public_bytes(serialization.Encoding.OpenSSH,
                                                  serialization.PublicFormat.OpenSSH).decode() + "\n",
    }


_SUBJECT_FIELDS = {"common_name": "COMMON_NAME", "organization": "ORGANIZATION_NAME",
                   "organizational_unit": "ORGANIZATIONAL_UNIT_NAME", "country": "COUNTRY_NAME",
                   "province": "STATE_OR_PROVINCE_NAME", "locality": "LOCALITY_NAME",
                   "street_address": "STREET_ADDRESS", "postal_code": "POSTAL_CODE",
                   "serial_number": "SERIAL_NUMBER"}
_CERT_KEYS = {"private_key_pem", "subject", "dns_names", "ip_addresses", "uris", "validity_period_hours",
              "early_renewal_hours", "allowed_uses", "is_ca_certificate", "set_subject_key_id"}
_KEY_USES = {"digital_signature": "digital_signature", "content_commitment": "content_commitment",
             "key_encipherment": "key_encipherment", "data_encipherment": "data_encipherment",
             "key_agreement": "key_agreement", "cert_signing": "key_cert_sign", "crl_signing": "crl_sign",
             "encipher_only": "encipher_only", "decipher_only": "decipher_only"}
_EXTENDED_USES = {"server_auth": "SERVER_AUTH", "client_auth": "CLIENT_AUTH", "code_signing": "CODE_SIGNING",
                  "email_protection": "EMAIL_PROTECTION", "timestamping": "TIME_STAMPING",
                  "ocsp_signing": "OCSP_SIGNING"}


def self_signed_cert(resource: Resource, props: dict[str, Any]) -> dict[str, Any]:
    x509, hashes, serialization, rsa, ec, ed25519, ExtendedKeyUsageOID, NameOID = _crypto()
    key = serialization.load_pem_private_key(props["private_key_pem"].encode(), password=None)
    subject_props = props.get("subject") or {}
    _check_keys(resource, "subject", subject_props, set(_SUBJECT_FIELDS))
    name = x509.Name([x509.NameAttribute(getattr(NameOID, _SUBJECT_FIELDS[k]), str(v))
                      for k, v in subject_props.items()])
    now = datetime.now(timezone.utc)
    end = now + timedelta(hours=int(props["validity_period_hours"]))
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(end))
    alt: list[Any] = [x509.DNSName(d) for d in props.get("dns_names", [])]
    alt += [x509.IPAddress(ipaddress.ip_address(a)) for a in props.get("ip_addresses", [])]
    alt += [x509.UniformResourceIdentifier(u) for u in props.get("uris", [])]
    if alt:
        builder = builder.add_extension(x509.SubjectAlternativeName(alt), critical=False)
    uses = props.get("allowed_uses", [])
    unknown = [u for u in uses if u not in _KEY_USES and u not in _EXTENDED_USES]
    if unknown:
        raise _unsupported(resource, f"allowed_uses value {unknown[0]!r}")
    flags = {v: False for v in _KEY_USES.values()}
    for use in uses:
        if use in _KEY_USES:
            flags[_KEY_USES[use]] = True
    if any(flags.values()):
        builder = builder.add_extension(x509.KeyUsage(**flags), critical=True)
    extended = [getattr(ExtendedKeyUsageOID, _EXTENDED_USES[u]) for u in uses if u in _EXTENDED_USES]
    if extended:
        builder = builder.add_extension(x509.ExtendedKeyUsage(extended), critical=False)
    is_ca = bool(props.get("is_ca_certificate", False))
    builder = builder.add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
    if props.get("set_subject_key_id"):
        builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    algorithm = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    cert = builder.sign(key, algorithm)
    return {"cert_pem": cert.public_bytes(serialization.Encoding.PEM).decode(), "id": str(cert.serial_number),
            "validity_start_time": now.isoformat(), "validity_end_time": end.isoformat(),
            "ready_for_renewal": False}


# ---------------------------------------------------------------- the applier

@dataclass
class Applied:
    """What an apply made: resolved outputs and handles on the containers."""

    plan: Plan
    outputs: dict[str, Any]                       # the Plan's stack outputs, resolved
    resources: dict[str, dict[str, Any]]          # each resource's outputs, by resource name
    containers: dict[str, Any] = field(default_factory=dict)  # docker-py Container by resource name
    host_ports: dict[str, dict[tuple[int, str], int]] = field(default_factory=dict)  # name → (port, proto) → host port

    def port(self, resource_name: str, internal: int, protocol: str = "tcp") -> int:
        try:
            return self.host_ports[resource_name][(internal, protocol)]
        except KeyError:
            raise KeyError(f"{resource_name} publishes no {internal}/{protocol}; it publishes "
                           f"{sorted(self.host_ports.get(resource_name, {}))}") from None


_CONTAINER_KEYS = {"name", "image", "command", "entrypoints", "envs", "labels", "hostname", "restart",
                   "networks_advanced", "ports", "uploads", "volumes", "healthcheck", "memory", "cpus",
                   "sysctls", "wait", "wait_timeout", "destroy_grace_seconds", "must_run", "start",
                   "stop_signal", "stop_timeout", "user", "working_dir"}
_NETWORK_KEYS = {"name", "driver", "labels", "ipam_configs", "internal", "attachable", "options"}
_VOLUME_KEYS = {"name", "labels", "driver", "driver_opts"}
_IMAGE_KEYS = {"name", "keep_locally"}
_KEY_KEYS = {"algorithm", "rsa_bits", "ecdsa_curve"}


class Applier:
    """Applies one Plan; `destroy()` undoes exactly what `apply()` made, in reverse."""

    def __init__(self, client: Any, plan: Plan, log: Callable[[str], None] | None = None):
        self.client = client
        self.plan = plan
        self.log = log or (lambda message: None)
        self.outputs: dict[str, dict[str, Any]] = {}
        self.created: list[tuple[Resource, Any]] = []   # (resource, engine object id or None)
        self.resolver = Resolver(self.outputs)
        self.resolved: dict[str, dict[str, Any]] = {}  # each resource's properties, references resolved
        self.applied: Applied | None = None

    # -- checks without an engine

    def check(self) -> None:
        """Refuse, before touching the engine, anything not implemented."""
        for resource in self.plan.resources:
            allowed = {
                "docker:index/container:Container": _CONTAINER_KEYS,
                "docker:index/network:Network": _NETWORK_KEYS,
                "docker:index/volume:Volume": _VOLUME_KEYS,
                "docker:index/remoteImage:RemoteImage": _IMAGE_KEYS,
                "random:index/randomPassword:RandomPassword": _RANDOM_KEYS,
                "tls:index/privateKey:PrivateKey": _KEY_KEYS,
                "tls:index/selfSignedCert:SelfSignedCert": _CERT_KEYS,
            }.get(resource.type)
            if allowed is None:
                raise _unsupported(resource, "the resource type")
            _check_keys(resource, "properties", resource.properties, allowed)
            if resource.type == "docker:index/container:Container":
                self._check_container(resource)
            if resource.type == "docker:index/network:Network":
                for i, config in enumerate(resource.properties.get("ipam_configs", [])):
                    _check_keys(resource, f"ipam_configs[{i}]", config, {"subnet", "gateway", "ip_range", "aux_address"})
            self._check_labels(resource)

    def _check_labels(self, resource: Resource) -> None:
        for i, label in enumerate(resource.properties.get("labels", [])):
            _check_keys(resource, f"labels[{i}]", label, {"label", "value"})

    def _check_container(self, resource: Resource) -> None:
        props = resource.properties
        for i, net in enumerate(props.get("networks_advanced", [])):
            _check_keys(resource, f"networks_advanced[{i}]", net, {"name", "aliases", "ipv4_address"})
        for i, port in enumerate(props.get("ports", [])):
            _check_keys(resource, f"ports[{i}]", port, {"internal", "external", "ip", "protocol"})
        for i, upload in enumerate(props.get("uploads", [])):
            _check_keys(resource, f"uploads[{i}]", upload, {"file", "content", "content_base64", "executable", "permissions"})
        for i, volume in enumerate(props.get("volumes", [])):
            _check_keys(resource, f"volumes[{i}]", volume, {"volume_name", "container_path", "host_path", "read_only"})
        if "healthcheck" in props:
            _check_keys(resource, "healthcheck", props["healthcheck"],
                        {"tests", "interval", "timeout", "retries", "start_period"})
        if props.get("restart", "no") not in ("no", "on-failure", "always", "unless-stopped"):
            raise ApplyError(f"{resource.name}: restart {props['restart']!r} is not a docker restart policy")

    # -- apply

    def apply(self) -> Applied:
        self.check()
        for resource in self.plan.ordered():
            props = self.resolver.value(resource.properties)
            self.log(f"create {resource.name} ({resource.type})")
            try:
                made = getattr(self, "_create_" + resource.type.split(":")[-1])(resource, props)
            except ApplyError:
                raise
            except Exception as error:  # the engine's refusal, with the resource that caused it
                raise ApplyError(f"{resource.name} ({resource.type}): {error}") from error
            self.outputs[resource.name] = made
            self.resolved[resource.name] = props
        resolved = {name: self.resolver.value(value) for name, value in self.plan.outputs.items()}
        self.applied = Applied(self.plan, resolved, self.outputs)
        for resource, object_id in self.created:
            if resource.type == "docker:index/container:Container":
                container = self.client.containers.get(object_id)
                self.applied.containers[resource.name] = container
                self.applied.host_ports[resource.name] = _published(container)
        return self.applied

    def _create_RemoteImage(self, resource: Resource, props: dict[str, Any]) -> dict[str, Any]:
        import docker.errors
        try:
            image = self.client.images.get(props["name"])
        except docker.errors.ImageNotFound:
            raise ApplyError(f"{resource.name}: image {props['name']!r} is not on the engine; the e2e suite never "
                             "pulls (no registry): build the stand-ins first (tests/e2e/images)") from None
        self.created.append((resource, image.id))
        digests = image.attrs.get("RepoDigests") or []
        return {"id": f"{image.id}{props['name']}", "image_id": image.id, "name": props["name"],
                "repo_digest": digests[0] if digests else ""}

    def _create_Network(self, resource: Resource, props: dict[str, Any]) -> dict[str, Any]:
        import docker.types
        ipam = None
        if props.get("ipam_configs"):
            pools = [docker.types.IPAMPool(subnet=c.get("subnet"), gateway=c.get("gateway"),
                                           iprange=c.get("ip_range"), aux_addresses=c.get("aux_address"))
                     for c in props["ipam_configs"]]
            ipam = docker.types.IPAMConfig(pool_configs=pools)
        network = self.client.networks.create(
            props["name"], driver=props.get("driver", "bridge"), ipam=ipam, internal=props.get("internal", False),
            attachable=props.get("attachable", False), options=props.get("options"), labels=_labels(props),
            check_duplicate=True)
        self.created.append((resource, network.id))
        return {"id": network.id, "name": props["name"], "driver": props.get("driver", "bridge")}

    def _create_Volume(self, resource: Resource, props: dict[str, Any]) -> dict[str, Any]:
        volume = self.client.volumes.create(name=props["name"], driver=props.get("driver", "local"),
                                            driver_opts=props.get("driver_opts"), labels=_labels(props))
        self.created.append((resource, volume.name))
        return {"id": volume.name, "name": volume.name, "mountpoint": volume.attrs.get("Mountpoint", "")}

    def _create_RandomPassword(self, resource: Resource, props: dict[str, Any]) -> dict[str, Any]:
        self.created.append((resource, None))
        return {"id": "none", "result": random_password(props), **{k: v for k, v in props.items()}}

    def _create_PrivateKey(self, resource: Resource, props: dict[str, Any]) -> dict[str, Any]:
        self.created.append((resource, None))
        return {"id": uuid.uuid4().hex, **private_key(props)}

    def _create_SelfSignedCert(self, resource: Resource, props: dict[str, Any]) -> dict[str, Any]:
        self.created.append((resource, None))
        return self_signed_cert(resource, props)

    def _create_Container(self, resource: Resource, props: dict[str, Any]) -> dict[str, Any]:
        api = self.client.api
        networks = props.get("networks_advanced", [])
        ports = props.get("ports", [])
        exposed = [(int(p["internal"]), p.get("protocol", "tcp")) for p in ports]
        # docker-py: a key must be "port/proto" here (it adds "/tcp" to a bare port), while `ports=`
        # above takes (port, proto) tuples — a "80/tcp" string there would expose "80/tcp/tcp".
        bindings: dict[str, list[tuple[str, int | None]]] = {}
        for p in ports:
            host_ip = p.get("ip") or "0.0.0.0"  # the provider's default, written into the plan or not
            bindings.setdefault(f"{int(p['internal'])}/{p.get('protocol', 'tcp')}", []).append(
                (host_ip, int(p["external"]) if p.get("external") is not None else None))
        binds = []
        for v in props.get("volumes", []):
            source = v.get("volume_name") or v.get("host_path")
            if not source:
                raise _unsupported(resource, "a volume with neither volume_name nor host_path")
            binds.append(f"{source}:{v['container_path']}" + (":ro" if v.get("read_only") else ""))
        host_config = api.create_host_config(
            restart_policy={"Name": props.get("restart", "no")},
            port_bindings={k: (v if len(v) > 1 else v[0]) for k, v in bindings.items()} or None,
            binds=binds or None,
            mem_limit=int(props["memory"]) * _MIB if props.get("memory") else None,
            nano_cpus=int(round(float(props["cpus"]) * 1e9)) if props.get("cpus") else None,
            sysctls={k: str(v) for k, v in props.get("sysctls", {}).items()} or None,
            network_mode=networks[0]["name"] if networks else None,
            init=False,
        )
        networking = None
        if networks:
            networking = api.create_networking_config({networks[0]["name"]: self._endpoint(networks[0])})
        health = None
        if "healthcheck" in props:
            hc = props["healthcheck"]
            health = {"test": hc["tests"], "interval": duration_ns(hc.get("interval", "0s")),
                      "timeout": duration_ns(hc.get("timeout", "0s")), "retries": int(hc.get("retries", 0)),
                      "start_period": duration_ns(hc.get("start_period", "0s"))}
        created = api.create_container(
            image=props["image"], name=props["name"], command=props.get("command"),
            entrypoint=props.get("entrypoints"), environment=props.get("envs"), labels=_labels(props),
            hostname=props.get("hostname"), ports=exposed or None, host_config=host_config,
            networking_config=networking, healthcheck=health, user=props.get("user"),
            working_dir=props.get("working_dir"), stop_signal=props.get("stop_signal"),
            stop_timeout=props.get("stop_timeout"))
        container_id = created["Id"]
        self.created.append((resource, container_id))
        for net in networks[1:]:
            api.connect_container_to_network(container_id, net["name"], aliases=net.get("aliases"),
                                             ipv4_address=net.get("ipv4_address"))
        for upload in props.get("uploads", []):
            api.put_archive(container_id, "/", upload_tar(resource, upload))
        if props.get("start", True):
            api.start(container_id)
            if props.get("wait"):
                self._wait_healthy(resource, container_id, int(props.get("wait_timeout", 60)))
        info = api.inspect_container(container_id)
        return {"id": container_id, "name": props["name"], "network_data": [
            {"network_name": n, "ip_address": d.get("IPAddress", "")}
            for n, d in (info["NetworkSettings"].get("Networks") or {}).items()]}

    @staticmethod
    def _endpoint(net: dict[str, Any]) -> Any:
        import docker.types
        return docker.types.EndpointConfig(version="1.41", aliases=net.get("aliases"),
                                           ipv4_address=net.get("ipv4_address"))

    def _wait_healthy(self, resource: Resource, container_id: str, timeout: int) -> None:
        deadline = time.monotonic() + timeout
        while True:
            state = self.client.api.inspect_container(container_id)["State"]
            health = state.get("Health")
            if health is None:
                raise ApplyError(f"{resource.name}: `wait` is set but the container has no health check")
            if health["Status"] == "healthy":
                return
            if time.monotonic() > deadline:
                raise ApplyError(f"{resource.name}: not healthy within wait_timeout {timeout}s")
            time.sleep(1)

    def replace(self, name: str) -> Any:
        """Replace one container as `pulumi up` does on a changed property: stop (with its grace),
        remove, create again from the same properties. Its volumes stay. Returns the new container."""
        resource = self.plan.get(name)
        if resource.type != "docker:index/container:Container":
            raise ApplyError(f"{name}: only containers are replaced by the e2e applier")
        index = next(i for i, (r, _) in enumerate(self.created) if r.name == name)
        self._remove_container(resource, self.created[index][1])
        del self.created[index]
        self.outputs[name] = self._create_Container(resource, self.resolved[name])
        container = self.client.containers.get(self.outputs[name]["id"])
        if self.applied is not None:
            self.applied.containers[name] = container
            self.applied.host_ports[name] = _published(container)
        return container

    def _remove_container(self, resource: Resource, object_id: str) -> None:
        import docker.errors
        grace = int(resource.properties.get("destroy_grace_seconds") or 0)
        try:
            # As the provider: stop with the grace (0 when unset: SIGTERM then SIGKILL at once).
            self.client.api.stop(object_id, timeout=grace)
            self.client.api.remove_container(object_id, force=True, v=True)
        except docker.errors.NotFound:
            pass

    # -- destroy

    def destroy(self, remove_protected: bool = False) -> list[str]:
        """Undo the apply in reverse order; protected volumes stay unless asked. Returns what was kept."""
        import docker.errors
        kept: list[str] = []
        errors: list[str] = []
        for resource, object_id in reversed(self.created):
            try:
                if resource.type == "docker:index/container:Container":
                    self._remove_container(resource, object_id)
                elif resource.type == "docker:index/network:Network":
                    try:
                        self.client.api.remove_network(object_id)
                    except docker.errors.NotFound:
                        pass
                elif resource.type == "docker:index/volume:Volume":
                    if resource.protect and not remove_protected:
                        kept.append(object_id)
                        continue
                    try:
                        self.client.api.remove_volume(object_id)
                    except docker.errors.NotFound:
                        pass
                elif resource.type == "docker:index/remoteImage:RemoteImage":
                    if not resource.properties.get("keep_locally", False):
                        kept.append(object_id)  # never remove a stand-in image the suite built
            except Exception as error:  # keep going: leave as little behind as possible
                errors.append(f"{resource.name}: {error}")
        self.created = [(r, i) for r, i in self.created if i in kept]
        if errors:
            raise ApplyError("destroy left things behind:\n" + "\n".join(errors))
        return kept


def upload_tar(resource: Resource, upload: dict[str, Any]) -> bytes:
    """One upload as the provider sends it: a tar of one file, root-owned, mode from permissions/executable."""
    import base64
    if "content" in upload and "content_base64" in upload:
        raise ApplyError(f"{resource.name}: upload {upload['file']}: only one of content, content_base64")
    data = (upload["content"].encode() if "content" in upload
            else base64.b64decode(upload["content_base64"]) if "content_base64" in upload else None)
    if data is None:
        raise ApplyError(f"{resource.name}: upload {upload.get('file')}: one of content, content_base64 is needed")
    if upload.get("permissions"):
        mode = int(str(upload["permissions"]), 8)
    else:
        mode = 0o744 if upload.get("executable") else 0o644
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(upload["file"].lstrip("/"))
        info.size, info.mode, info.mtime, info.uid, info.gid = len(data), mode, int(time.time()), 0, 0
        tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _labels(props: dict[str, Any]) -> dict[str, str]:
    return {item["label"]: str(item["value"]) for item in props.get("labels", [])}


def _published(container: Any) -> dict[tuple[int, str], int]:
    container.reload()
    ports: dict[tuple[int, str], int] = {}
    # What is bound now, else (a container restarting has none) what was asked for.
    live = container.attrs["NetworkSettings"].get("Ports") or {}
    asked = {k: v for k, v in (container.attrs["HostConfig"].get("PortBindings") or {}).items()
             if all(b.get("HostPort") for b in v or [])}
    for key, bindings in (live or asked).items():
        port, proto = key.split("/")
        for binding in bindings or []:
            ports.setdefault((int(port), proto), int(binding["HostPort"]))
    return ports
