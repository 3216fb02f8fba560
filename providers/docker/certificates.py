"""Self-signed TLS certificates for edge components (a laptop has no public CA).

pulumi_tls signs them at deploy time: one key and certificate per component,
shared by all of its copies and sites, valid for its alias, localhost and the
DNS zone.
"""

from __future__ import annotations

from topoform.dsl.models import Component
from topoform.providers.plan import ref

from .context import DockerContext

PRIVATE_KEY = "tls:index/privateKey:PrivateKey"
CERTIFICATE = "tls:index/selfSignedCert:SelfSignedCert"


def certificate(ctx: DockerContext, component: Component) -> tuple[str, str]:
    """(`${cert_pem}`, `${private_key_pem}`) of the component's self-signed certificate."""
    prefix = ctx.prefix(component)
    key, cert = f"{prefix}-tls-key", f"{prefix}-tls-cert"
    if key not in ctx.plan:
        host = ctx.names.host(component)
        names = [host, "localhost"]
        if ctx.bp.dns is not None:
            zone = ctx.bp.dns.zone.rstrip(".")
            names += [zone, f"*.{zone}"]
        ctx.add(PRIVATE_KEY, key, {"algorithm": "RSA", "rsa_bits": 2048}, secret_outputs=["private_key_pem"])
        ctx.add(CERTIFICATE, cert, {
            "private_key_pem": ref(key, "private_key_pem"),
            "subject": {"common_name": host, "organization": f"topoform {ctx.bp.blueprint}"},
            "dns_names": names,
            "ip_addresses": ["127.0.0.1"],
            "validity_period_hours": 24 * 365,
            "early_renewal_hours": 24 * 30,
            "allowed_uses": ["key_encipherment", "digital_signature", "server_auth"],
        })
    return ref(cert, "cert_pem"), ref(key, "private_key_pem")
