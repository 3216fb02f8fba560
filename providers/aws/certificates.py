"""TLS certificates: the user's ACM certificate, or ones issued and DNS-validated by Topoform.

ACM certificates are regional: an HTTPS balancer needs one in its own region
(primary and, with a hot DR site, the DR region) and CloudFront needs one in
us-east-1. With `aws.certificate_arn` that certificate is used where its
region allows; otherwise, given `dns.zone`, one certificate per region covers
the zone, `*.zone` and any deeper record names, validated through the Route53
zone. Users of a certificate read the validation's `certificate_arn`, so
nothing serves TLS before the certificate is issued.

`Certificates` holds the zone (the Route53 hosted zone, owned by the `dns`
component, made on first use, or the user's existing one, `dns.zone_id`)
and one issued certificate per region, and knows which record names alias
each CDN or reverse proxy: a distribution must list them, and its viewer
certificate must cover them.

A zone created in this run answers nobody until the parent domain delegates
to its name servers, and ACM validates by public DNS lookup: the
certificate would stay pending and `CertificateValidation` would time out
(75 minutes). So with a new zone the deploy is staged
(`defer_until_delegated`, run once everything is built): the first run
creates the zone, the certificates and their validation records, and
everything else that does not need an issued certificate; what does (the
validations, HTTPS listeners, distributions with the certificate, and what
depends on those) waits until the blueprint says `dns.delegated: true`.
"""

from __future__ import annotations

from topoform.dsl.models import Blueprint
from topoform.providers.base import DNS, BuildContext
from topoform.providers.plan import ref, referenced_names

from .sites import Sites

CLOUDFRONT_REGION = "us-east-1"
ZONE = "dns-zone"
VALIDATION = "aws:acm/certificateValidation:CertificateValidation"
HEALTH_CHECK = "aws:route53/healthCheck:HealthCheck"
LISTENER = "aws:lb/listener:Listener"
RECORD = "aws:route53/record:Record"


def arn_region(arn: str) -> str:
    """`arn:aws:acm:REGION:ACCOUNT:certificate/ID` → REGION."""
    parts = arn.split(":")
    return parts[3] if len(parts) > 4 else ""


class Certificates:
    """`certificate(site)` and `cloudfront_certificate()` → an ARN (literal or reference)."""

    def __init__(self, ctx: BuildContext, sites: Sites):
        self._ctx = ctx
        self._sites = sites
        self.aliases = self._aliases(ctx.bp)

    def _aliases(self, bp: Blueprint) -> dict[str, list[str]]:
        """Record names (FQDNs) that point at each CDN or reverse proxy, by its `kind.name`."""
        aliases: dict[str, list[str]] = {}
        if bp.dns is None:
            return aliases
        for record in bp.dns.records:
            for endpoint in record.endpoints:
                if endpoint.target and endpoint.target.split(".")[0] in ("cdns", "reverse_proxies"):
                    names = aliases.setdefault(endpoint.target, [])
                    fqdn = self.record_fqdn(record.name)
                    if fqdn not in names:
                        names.append(fqdn)
        return aliases

    def zone_name(self) -> str:
        return self._ctx.bp.dns.zone.rstrip(".")

    def record_fqdn(self, name: str) -> str:
        zone = self.zone_name()
        return zone if name == "@" else f"{name}.{zone}"

    def zone(self) -> str:
        """The Route53 hosted zone resource, created once (owned by the `dns` component)."""
        if ZONE not in self._ctx.plan:
            with self._ctx.owning(DNS, ("dns",)):
                self._ctx.add("aws:route53/zone:Zone", ZONE, {
                    "name": self.zone_name(), "comment": f"Topoform {self._ctx.bp.blueprint} ({self._ctx.stack})",
                    "force_destroy": False, "tags": self._ctx.tags(),
                })
        return ZONE

    def zone_id(self) -> str:
        """The hosted zone's id: the user's (`dns.zone_id`), or a reference to the zone made here."""
        return self._ctx.bp.dns.zone_id or ref(self.zone(), "zone_id")

    def creates_zone(self) -> bool:
        return self._ctx.bp.dns is not None and not self._ctx.bp.dns.zone_id

    def defer_until_delegated(self) -> None:
        """Leave out what needs a certificate validated through a new, not yet delegated zone."""
        dns = self._ctx.bp.dns
        plan = self._ctx.plan
        validations = {r.name for r in plan.of_type(VALIDATION)}
        if not (validations and self.creates_zone()):
            return
        if dns.delegated:
            # Said in the Plan: validations wait on this zone because the blueprint declares it
            # delegated (`topoform up` checks public DNS first, cli/engine/preflight.py).
            plan.outputs["dns.delegated"] = (f"{self.zone_name()} is declared delegated to the name servers of "
                                             "output dns.name_servers; certificates validate through it")
            return
        deferred = _deferred(plan, validations)
        plan.remove(deferred)
        for resource in plan.resources:
            # Ordering after a deferred listener only: the first stage runs without it.
            resource.depends_on = [name for name in resource.depends_on if name not in deferred]
        plan.outputs = {k: v for k, v in plan.outputs.items() if not deferred & referenced_names(v)}
        for info in plan.components.values():
            info.outputs = {k: v for k, v in info.outputs.items() if not deferred & referenced_names(v)}
        zone = self.zone_name()
        plan.outputs["dns.delegation"] = (
            f"delegate {zone} to the name servers of output dns.name_servers (NS records for {zone} at its "
            f"registrar or parent zone), then set `dns.delegated: true` and run `topoform up` again")
        self._ctx.warn(
            f"dns: deploying in two stages: {zone} is a new hosted zone, and ACM validates certificates "
            f"through it only once the parent domain delegates to it; {len(deferred)} resources that need a "
            f"validated certificate (HTTPS listeners, distributions and what depends on them) wait",
            f"after this `up`, add NS records for {zone} with the name servers of output dns.name_servers "
            "at its registrar or parent zone, check with `dig NS " + zone + " +short`, then set "
            "`dns.delegated: true` and run `topoform up` again; or set `dns.zone_id` to an existing "
            "hosted zone", "dns", "zone")

    def certificate(self, site: str) -> str:
        return self.certificate_in(self._sites.region(site), f"TLS at the {site} site")

    def cloudfront_certificate(self) -> str:
        return self.certificate_in(CLOUDFRONT_REGION, "CloudFront")

    def certificate_in(self, region: str, why: str) -> str:
        given = self._ctx.bp.aws.certificate_arn
        if given:
            if arn_region(given) == region:
                return given
            if self._ctx.bp.dns is None:
                raise self._ctx.unsupported(
                    f"{why} needs an ACM certificate in {region}, but `aws.certificate_arn` is in "
                    f"{arn_region(given) or 'another region'}",
                    "ACM certificates are regional: add a `dns.zone` so Topoform issues one there, "
                    "or deploy in the certificate's region", "aws", "certificate_arn")
        elif self._ctx.bp.dns is None:
            raise self._ctx.unsupported(f"{why} on aws needs a certificate",
                                        "set `aws.certificate_arn`, or a `dns.zone` so Topoform can issue one through ACM",
                                        "aws")
        return self._issued(region)

    def in_zone(self, name: str) -> bool:
        zone = self.zone_name()
        return name == zone or name.endswith("." + zone)

    def certificate_names(self) -> list[str]:
        """Names one issued certificate covers: the zone, `*.zone`, and the record names and component
        `domain`s (an API gateway's) deeper than that: a wildcard covers one label only."""
        zone = self.zone_name()
        names = {f"*.{zone}"}
        for record in self._ctx.bp.dns.records:
            if record.name.count(".") >= 1 and record.name not in ("@", "*"):
                names.add(self.record_fqdn(record.name))
        for component in self._ctx.bp.components():
            domain = getattr(component, "domain", None)
            if domain and self.in_zone(domain) and domain.count(".") > zone.count(".") + 1:
                names.add(domain)
        return sorted(names)

    def _issued(self, region: str) -> str:
        validation = f"acm-{region}-validation"
        if validation in self._ctx.plan:
            return ref(validation, "certificate_arn")
        zone_id = self.zone_id()
        sans = self.certificate_names()
        with self._ctx.owning(DNS, ("dns",)):
            cert = self._ctx.add("aws:acm/certificate:Certificate", f"acm-{region}", {
                "domain_name": self.zone_name(), "subject_alternative_names": sans,
                "validation_method": "DNS", "key_algorithm": "RSA_2048",
                "options": {"certificate_transparency_logging_preference": "ENABLED"},
                "region": region, "tags": self._ctx.tags(),
            })
            fqdns = []
            # One validation option per name; the zone and `*.zone` share a record, hence allow_overwrite.
            for i in range(1 + len(sans)):
                option = f"domain_validation_options[{i}]"
                record = self._ctx.add("aws:route53/record:Record", f"acm-{region}-validation-{i}", {
                    "zone_id": zone_id,
                    "name": ref(cert, f"{option}.resource_record_name"),
                    "type": ref(cert, f"{option}.resource_record_type"),
                    "records": [ref(cert, f"{option}.resource_record_value")],
                    "ttl": 60, "allow_overwrite": True,
                })
                fqdns.append(ref(record, "fqdn"))
            self._ctx.add(VALIDATION, validation, {
                "certificate_arn": ref(cert, "arn"), "validation_record_fqdns": fqdns, "region": region,
            })
        return ref(validation, "certificate_arn")


def _deferred(plan, validations: set[str]) -> set[str]:
    """The validations and every resource that must wait for one (`_waits`), found from the
    validations outward: each newly deferred resource rechecks only what reads it or is ordered
    after it, plus the few health checks and failover records that wait for resources they do
    not name. `_waits` only grows with `deferred`, so this reaches the same set as rechecking the
    whole Plan until nothing changes, in one visit of each dependency edge."""
    waiting_on: dict[str, list] = {}
    unnamed = []  # resources that can wait for a resource they do not read
    for resource in plan.resources:
        for name in resource.references() | set(resource.depends_on):
            waiting_on.setdefault(name, []).append(resource)
        if resource.type == HEALTH_CHECK or (resource.type == RECORD
                                             and resource.properties.get("failover_routing_policies")):
            unnamed.append(resource)
    deferred = set(validations)
    pending = list(validations)
    while pending:
        while pending:
            for resource in waiting_on.get(pending.pop(), ()):
                if resource.name not in deferred and _waits(plan, resource, deferred):
                    deferred.add(resource.name)
                    pending.append(resource.name)
        for resource in unnamed:
            if resource.name not in deferred and _waits(plan, resource, deferred):
                deferred.add(resource.name)
                pending.append(resource.name)
    return deferred


def _waits(plan, resource, deferred: set[str]) -> bool:
    """Whether `resource` must wait for the `deferred` ones: it reads one, every resource it is
    ordered after is one (an ECS service whose balancer listeners all wait), or it is a Route53
    health check of a port only a deferred listener of its balancer serves, or the other half of
    a deferred failover record pair."""
    if deferred & resource.references() or (resource.depends_on and set(resource.depends_on) <= deferred):
        return True
    if resource.type == RECORD and resource.properties.get("failover_routing_policies"):
        # A failover pair comes whole: a SECONDARY alone would answer every query.
        key = (resource.properties.get("name"), resource.properties.get("type"))
        return any(r.name in deferred and (r.properties.get("name"), r.properties.get("type")) == key
                   for r in plan.of_type(RECORD))
    if resource.type != HEALTH_CHECK:
        return False
    balancers = resource.references()
    return any(listener.name in deferred and listener.properties.get("port") == resource.properties.get("port")
               and balancers & listener.references() for listener in plan.of_type(LISTENER))
