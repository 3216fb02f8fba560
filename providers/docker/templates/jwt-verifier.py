"""A JWT verifier for nginx `auth_request` (the API gateway of the Docker target).

nginx OSS has no JWT module, so the gateway asks this server about every
request that needs a token: `GET /verify` with the client's Authorization
header answers 204 (valid) or 401. It checks the signature (HS256 with a
shared key, RS256 with an RSA public key in PEM), `iss`, `aud`, `exp` and
`nbf`. Standard library only: it runs on `python:3.12-slim` as uploaded.

Usage: python jwt-verifier.py CONFIG.json PORT [HOST]
CONFIG: {"algorithm": "HS256"|"RS256", "key": "...", "issuer": "...", "audience": "..."}
"""

import base64
import hashlib
import hmac
import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# DigestInfo of SHA-256 (RFC 8017 section 9.2, note 1): what PKCS#1 v1.5 signs before the digest.
SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")
LEEWAY = 30  # seconds of clock skew tolerated on exp and nbf


def b64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def der_item(data, at):
    """(tag, start of content, end of content) of the DER item at `at`."""
    tag, length = data[at], data[at + 1]
    at += 2
    if length & 0x80:
        count = length & 0x7F
        length = int.from_bytes(data[at:at + count], "big")
        at += count
    return tag, at, at + length


def rsa_public_key(pem):
    """(n, e) of an RSA public key, PEM as SubjectPublicKeyInfo or PKCS#1."""
    lines = [line for line in pem.strip().splitlines() if line and not line.startswith("-----")]
    der = base64.b64decode("".join(lines))
    tag, start, end = der_item(der, 0)
    first_tag, first_start, first_end = der_item(der, start)
    if first_tag == 0x30:  # SubjectPublicKeyInfo: algorithm, then the key in a BIT STRING
        _, bits_start, _ = der_item(der, first_end)
        der = der[bits_start + 1:]  # skip the unused-bits byte
        tag, start, end = der_item(der, 0)
    _, n_start, n_end = der_item(der, start)
    _, e_start, e_end = der_item(der, n_end)
    return int.from_bytes(der[n_start:n_end], "big"), int.from_bytes(der[e_start:e_end], "big")


def rs256_valid(signed, signature, key):
    n, e = key
    size = (n.bit_length() + 7) // 8
    if len(signature) != size:
        return False
    encoded = pow(int.from_bytes(signature, "big"), e, n).to_bytes(size, "big")
    tail = SHA256_DIGEST_INFO + hashlib.sha256(signed).digest()
    expected = b"\x00\x01" + b"\xff" * (size - len(tail) - 3) + b"\x00" + tail
    return hmac.compare_digest(encoded, expected)


def verify(token, config, key, now=None):
    """The reason `token` is refused, or None when it is valid."""
    try:
        head, body, sig = token.split(".")
        header, claims, signature = json.loads(b64url(head)), json.loads(b64url(body)), b64url(sig)
    except (ValueError, TypeError):
        return "malformed token"
    if header.get("alg") != config["algorithm"]:
        return "unexpected algorithm"
    signed = f"{head}.{body}".encode()
    if config["algorithm"] == "HS256":
        good = hmac.compare_digest(hmac.new(key, signed, hashlib.sha256).digest(), signature)
    else:
        good = rs256_valid(signed, signature, key)
    if not good:
        return "bad signature"
    now = time.time() if now is None else now
    if claims.get("iss") != config["issuer"]:
        return "wrong issuer"
    audience = claims.get("aud")
    if config["audience"] not in (audience if isinstance(audience, list) else [audience]):
        return "wrong audience"
    if not isinstance(claims.get("exp"), (int, float)) or claims["exp"] + LEEWAY < now:
        return "expired"
    if isinstance(claims.get("nbf"), (int, float)) and claims["nbf"] - LEEWAY > now:
        return "not yet valid"
    return None


def serve(config_path, port, host="0.0.0.0"):
    with open(config_path) as handle:
        config = json.load(handle)
    key = config["key"].encode() if config["algorithm"] == "HS256" else rsa_public_key(config["key"])

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path == "/health":
                return self.answer(204)
            header = self.headers.get("Authorization", "")
            scheme, _, token = header.partition(" ")
            refused = "no bearer token" if scheme.lower() != "bearer" or not token else verify(token, config, key)
            self.answer(401 if refused else 204, refused)

        def answer(self, status, reason=None):
            self.send_response(status)
            if reason:
                self.send_header("WWW-Authenticate", f'Bearer error="invalid_token", error_description="{reason}"')
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass  # nginx logs every request already

    ThreadingHTTPServer((host, port), Handler).serve_forever()


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]), *(sys.argv[3:4] or ()))
