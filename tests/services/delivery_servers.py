"""Real local servers for the delivery tests: an SMTP server (aiosmtpd) and an HTTP stand-in for
Alibaba Cloud's SMS API.

The SMS stand-in exists because the real service (dysmsapi.aliyuncs.com) cannot be reached from
here. It speaks SendSms's request format (a POST form of RPC parameters) and checks each request
as the provider does: the common parameters, a fresh nonce, the timestamp, and the HMAC-SHA1
signature, recomputed here independently of app/infra/outbound.py (with the "special URL
encode" of Alibaba Cloud's own samples: form-encode, then + → %20, * → %2A, %7E → ~).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, quote_plus

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def free_port() -> int:
    """A TCP port nobody listens on (yet)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    """aiosmtpd handler: keeps every message; refuses recipients in `refuse`."""

    def __init__(self, delay: float = 0.0):
        self.messages = []
        self.envelopes = []
        self.refuse: set[str] = set()
        self.delay = delay
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        """Accept a recipient unless told to refuse it (550)."""
        if address in self.refuse:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        """Keep the message as parsed by the standard library."""
        if self.delay:
            time.sleep(self.delay)  # so two senders overlap
        with self.lock:
            self.envelopes.append(envelope)
            self.messages.append(message_from_bytes(envelope.content, policy=default_policy))
        return "250 Message accepted for delivery"


class SmtpServer:
    """A real SMTP server on 127.0.0.1 (aiosmtpd), started and stopped on one port."""

    def __init__(self, port: int | None = None, delay: float = 0.0, users: dict | None = None):
        self.port = port or free_port()
        self.inbox = Inbox(delay)
        self.controller = None
        self.users = users  # login → password: AUTH required (over plain TCP, for the test)
        self.logins: list[str] = []

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login, password = auth_data.login.decode(), auth_data.password.decode()
        ok = self.users.get(login) == password
        if ok:
            self.logins.append(login)
        return AuthResult(success=ok, handled=False)

    def start(self) -> SmtpServer:
        """Listen (again) on the port."""
        extra = {}
        if self.users is not None:
            extra = {
                "authenticator": self._authenticate,
                "auth_require_tls": False,
                "auth_required": True,
            }
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port, **extra)
        self.controller.start()
        return self

    def stop(self) -> None:
        """Stop listening."""
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def messages(self):
        """The messages received so far."""
        return self.inbox.messages


# --- the Alibaba Cloud SMS stand-in ---------------------------------------------------------------
def special_url_encode(value: str) -> str:
    """Alibaba Cloud's samples: URL-encode as a form, then fix +, * and ~ for RFC 3986."""
    return (
        quote_plus(value, encoding="utf-8")
        .replace("+", "%20")
        .replace("*", "%2A")
        .replace("%7E", "~")
    )


def expected_signature(secret: str, method: str, params: dict) -> str:
    """The signature the provider expects for these parameters."""
    query = "&".join(
        f"{special_url_encode(k)}={special_url_encode(params[k])}"
        for k in sorted(params)
        if k != "Signature"
    )
    to_sign = f"{method}&{special_url_encode('/')}&{special_url_encode(query)}"
    mac = hmac.new(f"{secret}&".encode(), to_sign.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(mac).decode()


REQUIRED = (
    "AccessKeyId",
    "Action",
    "Format",
    "PhoneNumbers",
    "RegionId",
    "SignName",
    "Signature",
    "SignatureMethod",
    "SignatureNonce",
    "SignatureVersion",
    "TemplateCode",
    "Timestamp",
    "Version",
)


class SmsStandIn:
    """A threaded HTTP server answering SendSms like dysmsapi (JSON)."""

    def __init__(self, keys: dict[str, str]):
        self.keys = keys  # AccessKeyId → AccessKeySecret
        self.accepted: list[dict] = []
        self.rejected: list[tuple[str, dict]] = []
        self.nonces: set[str] = set()
        self.answer_code: str | None = None  # force an error code (e.g. a rate limit)
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("utf-8")
                params = dict(parse_qsl(body, keep_blank_values=True, strict_parsing=True))
                status, answer = stand_in.check(self.command, self.path, self.headers, params)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json;charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """The endpoint to put in SMS_ENDPOINT."""
        return f"http://127.0.0.1:{self.server.server_address[1]}/"

    def start(self) -> SmsStandIn:
        """Serve in a thread."""
        self.thread.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()

    def _reject(self, code: str, params: dict, status: int = 400):
        self.rejected.append((code, params))
        return status, {"Code": code, "Message": code, "RequestId": "standin"}

    def check(self, method: str, path: str, headers, params: dict):
        """Verify one request as the provider would; (HTTP status, JSON answer)."""
        if path != "/" or not headers.get("Content-Type", "").startswith(
            "application/x-www-form-urlencoded"
        ):
            return self._reject("InvalidRequest", params)
        missing = [name for name in REQUIRED if not params.get(name)]
        if missing:
            return self._reject("MissingParameter", params)
        if (
            params["Action"] != "SendSms"
            or params["Version"] != "2017-05-25"
            or params["SignatureMethod"] != "HMAC-SHA1"
            or params["SignatureVersion"] != "1.0"
            or params["Format"] != "JSON"
        ):
            return self._reject("InvalidParameter", params)
        stamp = datetime.strptime(params["Timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        if abs(datetime.now(UTC) - stamp) > timedelta(minutes=15):
            return self._reject("InvalidTimeStamp.Expired", params)
        if params["AccessKeyId"] not in self.keys:
            return self._reject("InvalidAccessKeyId.NotFound", params, 404)
        signature = expected_signature(self.keys[params["AccessKeyId"]], method, params)
        if not hmac.compare_digest(signature, params["Signature"]):
            return self._reject("SignatureDoesNotMatch", params)
        if params["SignatureNonce"] in self.nonces:
            return self._reject("SignatureNonceUsed", params)
        self.nonces.add(params["SignatureNonce"])
        json.loads(params.get("TemplateParam") or "{}")  # must be JSON
        if self.answer_code:
            return self._reject(self.answer_code, params, 200)
        self.accepted.append(params)
        return 200, {
            "Code": "OK",
            "Message": "OK",
            "BizId": f"{len(self.accepted):06d}^0",
            "RequestId": "standin",
        }
