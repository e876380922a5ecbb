"""A Web Push endpoint for the notifier's tests: it plays the browser's
push service and the browser. It makes a subscription (a P-256 key pair and
an auth secret, as a browser does), checks each push request's VAPID
signature against the server's public key (RFC 8292), decrypts the message
with http_ece, the reference implementation of RFC 8188's aes128gcm, using
only the subscription's private key and auth secret (RFC 8291), and appends
what it got to <file> as one JSON line. POSTs to /gone/... answer 410, as
for a browser that unsubscribed.

    python3 push_endpoint.py <port> <file> <vapid public key, base64url>

Prints one JSON line: the subscription ({"endpoint", "keys": {...}}).
"""
import base64
import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import http_ece
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


port, path, vapid_public = int(sys.argv[1]), sys.argv[2], sys.argv[3]
origin = f"http://127.0.0.1:{port}"
browser_key = ec.generate_private_key(ec.SECP256R1())
auth_secret = bytes(range(16, 32))
p256dh = browser_key.public_key().public_bytes(
    serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
)
server_key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64(vapid_public))


def check_vapid(header):
    """The problem with a request's VAPID header, or None."""
    if not header.startswith("vapid "):
        return "no vapid authorization"
    fields = dict(part.strip().split("=", 1) for part in header[len("vapid "):].split(","))
    if fields.get("k") != vapid_public:
        return "k is not the server's public key"
    head, claims, signature = fields["t"].split(".")
    raw = unb64(signature)
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    try:
        server_key.verify(der, f"{head}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return "bad signature"
    if json.loads(unb64(head)).get("alg") != "ES256":
        return "not ES256"
    claims = json.loads(unb64(claims))
    if claims.get("aud") != origin:
        return f"aud {claims.get('aud')!r} is not {origin}"
    if not time.time() < claims.get("exp", 0) <= time.time() + 24 * 3600:
        return "exp out of range"
    if not str(claims.get("sub", "")).startswith(("mailto:", "https:")):
        return "sub is not a contact"
    return None


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path.startswith("/gone/"):
            self.send_response(410)
            self.end_headers()
            return
        record = {"path": self.path, "ttl": self.headers.get("TTL"), "urgency": self.headers.get("Urgency")}
        problem = check_vapid(self.headers.get("Authorization", ""))
        if self.headers.get("Content-Encoding") != "aes128gcm":
            problem = problem or "not aes128gcm"
        if problem is None:
            try:
                plain = http_ece.decrypt(body, private_key=browser_key, auth_secret=auth_secret, version="aes128gcm")
                record["message"] = json.loads(plain)
            except Exception as error:  # what failed is the finding
                problem = f"cannot decrypt: {error!r}"
        record["problem"] = problem
        with open(path, "a", encoding="utf-8") as out:
            out.write(json.dumps(record) + "\n")
        self.send_response(400 if problem else 201)
        self.end_headers()


server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
print(json.dumps({"endpoint": f"{origin}/push/device-1", "keys": {"p256dh": b64(p256dh), "auth": b64(auth_secret)}}), flush=True)
server.serve_forever()
