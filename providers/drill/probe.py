"""The probe load: bounded HTTP requests to the stack's entry points on 127.0.0.1, and DNS questions
to its DNS server when it runs one.

A request every `interval` seconds per entry component (10 a second by
default: enough to time an outage to a tenth of a second, too few to load a
laptop), sent on time whether or not earlier ones have answered. Entry copies publish their own host ports (docker runs two
balancers as two containers), so one request tries the copies in turn as a
client given several addresses does, and fails only when none answers below
500. Only 127.0.0.1 is ever contacted.
"""

from __future__ import annotations

import http.client
import secrets
import socket
import ssl
import struct
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from topoform.dsl.models import Blueprint

from .stack import Copy

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Endpoint:
    resource: str  # the entry copy's Plan resource
    port: int  # host port on 127.0.0.1
    tls: bool


@dataclass
class Entry:
    ref: str
    endpoints: list[Endpoint]
    dns_name: str | None = None  # a DNS entry: the name asked for (an A query over UDP), not an HTTP GET

    @property
    def name(self) -> str:
        if self.dns_name:
            return f"{self.ref} ({', '.join(f'{HOST}:{e.port}/udp' for e in self.endpoints)}, A {self.dns_name})"
        return f"{self.ref} ({', '.join(f'{HOST}:{e.port}' for e in self.endpoints)})"


def dns_entry(bp: Blueprint, stack: dict[str, list[Copy]]) -> Entry | None:
    """The stack's DNS server as an entry of the load: a question every turn for a record the blueprint
    declares (a failover record first: the one a site drill watches), so stopping `dns` is measured.
    None when no DNS server publishes UDP 53 or no record is declared."""
    records = list(bp.dns.records) if bp.dns else []
    if not records:
        return None
    endpoints = [Endpoint(c.resource, c.container.ports[(53, "udp")], False) for c in stack.get("dns", [])
                 if c.container.ports.get((53, "udp"))]
    if not endpoints:
        return None
    record = sorted(records, key=lambda r: r.routing != "failover")[0]
    zone = bp.dns.zone.rstrip(".")
    return Entry("dns", endpoints, zone if record.name == "@" else f"{record.name}.{zone}")


@dataclass(frozen=True)
class Sample:
    entry: str
    sent: float  # monotonic seconds
    done: float
    ok: bool
    detail: str  # status code or error


def _tls_ports(bp: Blueprint, ref: str) -> set[int]:
    component = bp.component(ref)
    listeners = getattr(component, "listeners", None) or []
    return {int(l.port) for l in listeners if getattr(l, "tls", False)} | {443}


def entries(bp: Blueprint, stack: dict[str, list[Copy]], refs: list[str]) -> list[Entry]:
    """The entry components' published TCP ports (TLS preferred: a plain listener may only redirect)."""
    found = []
    for ref in refs:
        tls_ports = _tls_ports(bp, ref)
        endpoints = []
        for copy in stack.get(ref, []):
            if copy.site != "primary":
                continue
            tcp = [p for p, proto in copy.internal_ports if proto == "tcp"]
            chosen = sorted(tcp, key=lambda p: (p not in tls_ports, p))[:1]
            for internal in chosen:
                host_port = copy.container.ports.get((internal, "tcp"))
                if host_port:
                    endpoints.append(Endpoint(copy.resource, host_port, internal in tls_ports))
        if endpoints:
            found.append(Entry(ref, endpoints))
    return found


def http_get(endpoint: Endpoint, timeout: float) -> tuple[bool, str]:
    if endpoint.tls:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # the stack's own self-signed certificate
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(HOST, endpoint.port, timeout=timeout,
                                                                       context=context)
    else:
        conn = http.client.HTTPConnection(HOST, endpoint.port, timeout=timeout)
    try:
        conn.request("GET", "/", headers={"Host": f"localhost:{endpoint.port}", "Connection": "close",
                                          "User-Agent": "topoform-drill"})
        response = conn.getresponse()
        response.read()
        return response.status < 500, str(response.status)
    except (OSError, http.client.HTTPException) as error:
        return False, type(error).__name__
    finally:
        conn.close()


def dns_a(port: int, name: str, timeout: float = 2.0) -> list[str]:
    """The A records the DNS server on 127.0.0.1:`port` answers for `name` ([] on no answer)."""
    ident = secrets.randbits(16)
    question = b"".join(bytes([len(p)]) + p.encode() for p in name.rstrip(".").split(".")) + b"\0"
    query = struct.pack(">HHHHHH", ident, 0x0100, 1, 0, 0, 0) + question + struct.pack(">HH", 1, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.sendto(query, ("127.0.0.1", port))
            reply = sock.recv(4096)
        except OSError:
            return []
    if len(reply) < 12 or struct.unpack(">H", reply[:2])[0] != ident:
        return []
    answers = struct.unpack(">H", reply[6:8])[0]
    offset = 12 + len(question) + 4
    found = []
    for _ in range(answers):
        if offset >= len(reply):
            break
        if reply[offset] & 0xC0 == 0xC0:  # a compressed name: two bytes
            offset += 2
        else:
            while offset < len(reply) and reply[offset]:
                offset += reply[offset] + 1
            offset += 1
        rtype, _, _, length = struct.unpack(">HHIH", reply[offset:offset + 10])
        offset += 10
        if rtype == 1 and length == 4:
            found.append(socket.inet_ntoa(reply[offset:offset + 4]))
        offset += length
    return found


Request = Callable[[Endpoint, float], "tuple[bool, str]"]


@dataclass
class Load:
    """Open-loop: a request is sent every `interval` seconds per entry whether or not the last one
    has answered (a waiting request must not hide an outage), at most `in_flight` at once per entry.
    A request not answered within `timeout` seconds of its turn counts as failed."""

    entries: list[Entry]
    interval: float = 0.1
    timeout: float = 2.0
    in_flight: int = 24
    request: Request = http_get
    resolve: Callable[[int, str, float], list[str]] | None = None  # a DNS entry's question; failover.dns_a
    clock: Callable[[], float] = time.monotonic
    samples: list[Sample] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def one(self, entry: Entry, turn: int, sent: float | None = None) -> Sample:
        sent = self.clock() if sent is None else sent
        details = []
        ok = False
        n = len(entry.endpoints)
        for i in range(n):
            endpoint = entry.endpoints[(turn + i) % n]
            left = self.timeout - (self.clock() - sent)
            if left <= 0:
                break
            ok, detail = self._dns(entry.dns_name, endpoint, left) if entry.dns_name else self.request(endpoint, left)
            details.append(f"{endpoint.port}:{detail}")
            if ok:
                break
        done = self.clock()
        if ok and done - sent > self.timeout:
            ok = False
            details.append("slower than the timeout")
        return Sample(entry.ref, sent, done, ok, " ".join(details))

    def _dns(self, name: str, endpoint: Endpoint, timeout: float) -> tuple[bool, str]:
        answers = (self.resolve or dns_a)(endpoint.port, name, timeout)
        return bool(answers), f"{len(answers)} A" if answers else "no answer"

    def _send(self, entry: Entry, turn: int, sent: float, slots: threading.Semaphore) -> None:
        try:
            sample = self.one(entry, turn, sent)
            with self._lock:
                self.samples.append(sample)
        finally:
            slots.release()

    def _run(self, entry: Entry) -> None:
        slots = threading.Semaphore(self.in_flight)
        turn = 0
        next_at = self.clock()
        while not self._stop.is_set():
            sent = self.clock()
            if slots.acquire(blocking=False):
                threading.Thread(target=self._send, args=(entry, turn, sent, slots), daemon=True).start()
            else:  # every slot waits on an answer: this turn fails without adding load
                with self._lock:
                    self.samples.append(Sample(entry.ref, sent, sent, False, f"{self.in_flight} requests in flight"))
            turn += 1
            next_at += self.interval
            self._stop.wait(max(0.0, next_at - self.clock()))

    def start(self) -> None:
        for entry in self.entries:
            thread = threading.Thread(target=self._run, args=(entry,), daemon=True, name=f"drill-probe-{entry.ref}")
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(self.timeout + 1)

    def since(self, moment: float) -> list[Sample]:
        with self._lock:
            return [s for s in self.samples if s.sent >= moment]
