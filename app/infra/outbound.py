"""Outbound messages behind one interface: `send(message, config) -> Result`.

Two real adapters, chosen by the message's channel:

- "email": SMTP with smtplib (SMTP_HOST, SMTP_PORT, SMTP_FROM, SMTP_USER, SMTP_PASSWORD,
  SMTP_STARTTLS, SMTP_SSL, SMTP_TIMEOUT);
- "sms": Alibaba Cloud SMS (阿里云短信服务, dysmsapi `SendSms`, API version 2017-05-25), an
  RPC-style request signed with HMAC-SHA1, signature version 1.0 (SMS_PROVIDER=aliyun,
  SMS_ENDPOINT, SMS_ACCESS_KEY_ID, SMS_ACCESS_KEY_SECRET, SMS_SIGN_NAME, SMS_TEMPLATE_CODE,
  SMS_TEMPLATE_CODES, SMS_REGION, SMS_TIMEOUT). docs/DELIVERY.md describes the request.

A channel without its settings is not configured: `send` then answers "skipped" and never
fails. The adapters know no domain and touch no database: the caller (app/people/delivery.py)
keeps the records, the retries and the quiet hours.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import smtplib
import ssl
import urllib.error
import urllib.request
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from urllib.parse import quote

SENT = "sent"
FAILED = "failed"
SKIPPED = "skipped"

EMAIL = "email"
SMS = "sms"
CHANNELS = (EMAIL, SMS)

ALIYUN_VERSION = "2017-05-25"
ALIYUN_ENDPOINT = "https://dysmsapi.aliyuncs.com/"
# Aliyun limits each template variable's value (35 characters for most variable kinds).
SMS_PARAM_MAX = 35


@dataclass(frozen=True)
class Message:
    """One message to one address. `reference` identifies it to the provider (our record)."""

    channel: str
    to: str
    subject: str
    body: str
    kind: str = ""
    reference: str = ""
    params: Mapping[str, str] = field(default_factory=dict)  # SMS template variables


@dataclass(frozen=True)
class Result:
    """What became of one attempt. `retry` is False when trying again cannot help."""

    status: str
    detail: str = ""
    retry: bool = True
    provider_ref: str | None = None

    @property
    def sent(self) -> bool:
        """True when the provider accepted the message."""
        return self.status == SENT


def not_configured(channel: str) -> Result:
    """The answer of a channel without settings."""
    return Result(SKIPPED, f"{channel} not configured", retry=False)


# --- email over SMTP ------------------------------------------------------------------------------
class SmtpEmail:
    """E-mail through an SMTP server (STARTTLS or implicit TLS, optional login)."""

    channel = EMAIL

    def __init__(self, config: Mapping):
        self.host = config.get("SMTP_HOST") or ""
        self.port = int(config.get("SMTP_PORT") or (465 if config.get("SMTP_SSL") else 25))
        self.sender = config.get("SMTP_FROM") or ""
        self.user = config.get("SMTP_USER") or ""
        self.password = config.get("SMTP_PASSWORD") or ""
        self.starttls = bool(config.get("SMTP_STARTTLS"))
        self.implicit_tls = bool(config.get("SMTP_SSL"))
        self.timeout = float(config.get("SMTP_TIMEOUT") or 10)

    def configured(self) -> bool:
        """A host and a sender address are the least an e-mail needs."""
        return bool(self.host and self.sender)

    def build(self, message: Message) -> EmailMessage:
        """The MIME message (UTF-8 subject and body)."""
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = message.to
        mail["Subject"] = message.subject
        mail["Date"] = format_datetime(datetime.now(UTC))
        domain = self.sender.rpartition("@")[2] or None
        mail["Message-ID"] = make_msgid(idstring=message.reference or None, domain=domain)
        if message.kind:
            mail["X-Linli-Kind"] = message.kind
        mail.set_content(message.body, charset="utf-8")
        return mail

    def send(self, message: Message) -> Result:
        """Hand the message to the SMTP server; a refused recipient is not retried."""
        if not self.configured():
            return not_configured(EMAIL)
        mail = self.build(message)
        try:
            if self.implicit_tls:
                client = smtplib.SMTP_SSL(
                    self.host, self.port, timeout=self.timeout, context=ssl.create_default_context()
                )
            else:
                client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            with client:
                if self.starttls:
                    client.starttls(context=ssl.create_default_context())
                if self.user:
                    client.login(self.user, self.password)
                refused = client.send_message(mail)
        except smtplib.SMTPRecipientsRefused as error:
            return Result(FAILED, _refused(error.recipients), retry=False)
        except smtplib.SMTPAuthenticationError as error:
            return Result(FAILED, _short(f"SMTP login failed: {error.smtp_code}"))
        except smtplib.SMTPResponseException as error:
            # 5xx is permanent (bad address, policy); 4xx is worth another try.
            return Result(
                FAILED,
                _short(f"SMTP {error.smtp_code}: {error.smtp_error!r}"),
                retry=error.smtp_code < 500,
            )
        except (OSError, smtplib.SMTPException) as error:
            return Result(FAILED, _short(f"SMTP unreachable: {error}"))
        except UnicodeError:
            # smtplib sends the login as ASCII only: a setting to fix, not a moment to wait.
            return Result(FAILED, "SMTP_USER/SMTP_PASSWORD must be ASCII", retry=False)
        if refused:
            return Result(FAILED, _refused(refused), retry=False)
        return Result(SENT, provider_ref=mail["Message-ID"])


def _refused(recipients: dict) -> str:
    # The server's codes only: its answer names the address (kept in the record and logged,
    # where addresses are shown masked).
    codes = sorted({str(code) for code, _message in recipients.values()})
    return _short(f"recipient refused: {', '.join(codes) or '?'}")


# --- SMS: Alibaba Cloud dysmsapi SendSms ---------------------------------------------------------
def percent_encode(value: str) -> str:
    """RFC 3986 encoding as Alibaba Cloud's RPC signature wants it: UTF-8, only A-Z a-z 0-9 - _
    . ~ left as they are, a space as %20 (never +)."""
    return quote(str(value), safe="-_.~")


def aliyun_string_to_sign(method: str, params: Mapping[str, str]) -> str:
    """METHOD&%2F&percentEncode(canonicalized query string); parameters sorted by name, each
    name and value percent-encoded, Signature itself left out."""
    canonical = "&".join(
        f"{percent_encode(k)}={percent_encode(v)}"
        for k, v in sorted(params.items())
        if k != "Signature"
    )
    return f"{method.upper()}&{percent_encode('/')}&{percent_encode(canonical)}"


def aliyun_signature(secret: str, method: str, params: Mapping[str, str]) -> str:
    """Base64(HMAC-SHA1(AccessKeySecret + "&", StringToSign))."""
    digest = hmac.new(
        (secret + "&").encode(), aliyun_string_to_sign(method, params).encode(), hashlib.sha1
    ).digest()
    return base64.b64encode(digest).decode()


# Answers of SendSms that another try will not change (the number, template or sign is wrong).
_ALIYUN_PERMANENT = (
    "isv.MOBILE_NUMBER_ILLEGAL",
    "isv.MOBILE_COUNT_OVER_LIMIT",
    "isv.SMS_TEMPLATE_ILLEGAL",
    "isv.SMS_SIGNATURE_ILLEGAL",
    "isv.TEMPLATE_MISSING_PARAMETERS",
    "isv.INVALID_PARAMETERS",
    "isv.BLACK_KEY_CONTROL_LIMIT",
    "isv.PARAM_LENGTH_LIMIT",
    "isv.PARAM_NOT_SUPPORT_URL",
    "isv.AMOUNT_NOT_ENOUGH",
    "isv.ACCOUNT_NOT_EXISTS",
    "isv.ACCOUNT_ABNORMAL",
    "InvalidAccessKeyId.NotFound",
    "SignatureDoesNotMatch",
)


class AliyunSms:
    """SMS through Alibaba Cloud's SendSms (a POST form to SMS_ENDPOINT, JSON answer)."""

    channel = SMS

    def __init__(self, config: Mapping):
        self.provider = (config.get("SMS_PROVIDER") or "").lower()
        self.endpoint = config.get("SMS_ENDPOINT") or ALIYUN_ENDPOINT
        self.key_id = config.get("SMS_ACCESS_KEY_ID") or ""
        self.secret = config.get("SMS_ACCESS_KEY_SECRET") or ""
        self.sign_name = config.get("SMS_SIGN_NAME") or ""
        self.template = config.get("SMS_TEMPLATE_CODE") or ""
        self.templates = dict(config.get("SMS_TEMPLATE_CODES") or {})
        self.region = config.get("SMS_REGION") or "cn-hangzhou"
        self.timeout = float(config.get("SMS_TIMEOUT") or 10)

    def configured(self) -> bool:
        """Provider aliyun, keys, a sign name and a template."""
        return bool(
            self.provider == "aliyun"
            and self.key_id
            and self.secret
            and self.sign_name
            and (self.template or self.templates)
        )

    def template_for(self, kind: str) -> str:
        """The template approved for this kind of notice, else the default one."""
        return self.templates.get(kind) or self.template

    def params(self, message: Message, *, nonce: str, timestamp: str) -> dict[str, str]:
        """Every request parameter but Signature."""
        variables = dict(message.params) or {"title": message.subject, "detail": message.body}
        variables = {k: str(v)[:SMS_PARAM_MAX] for k, v in variables.items()}
        params = {
            "AccessKeyId": self.key_id,
            "Action": "SendSms",
            "Format": "JSON",
            "PhoneNumbers": message.to,
            "RegionId": self.region,
            "SignName": self.sign_name,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": nonce,
            "SignatureVersion": "1.0",
            "TemplateCode": self.template_for(message.kind),
            "TemplateParam": json.dumps(variables, ensure_ascii=False, separators=(",", ":")),
            "Timestamp": timestamp,
            "Version": ALIYUN_VERSION,
        }
        if message.reference:
            params["OutId"] = message.reference
        return params

    def signed_body(self, message: Message) -> bytes:
        """The form body of one request, Signature included."""
        params = self.params(
            message,
            nonce=uuid.uuid4().hex,
            timestamp=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
        params["Signature"] = aliyun_signature(self.secret, "POST", params)
        return "&".join(
            f"{percent_encode(k)}={percent_encode(v)}" for k, v in params.items()
        ).encode()

    def send(self, message: Message) -> Result:
        """POST the signed request; Code "OK" is sent, a known permanent code is not retried."""
        if not self.configured():
            return not_configured(SMS)
        request = urllib.request.Request(
            self.endpoint,
            data=self.signed_body(message),
            method="POST",
            headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                raw = response.read(64 * 1024)
        except urllib.error.HTTPError as error:
            raw = error.read(64 * 1024)
            if not raw:
                return Result(FAILED, f"SMS HTTP {error.code}", retry=error.code >= 500)
        except OSError as error:
            return Result(FAILED, _short(f"SMS unreachable: {error}"))
        try:
            answer = json.loads(raw)
        except ValueError:
            return Result(FAILED, "SMS answer is not JSON")
        code = str(answer.get("Code") or "")
        if code == "OK":
            return Result(SENT, provider_ref=str(answer.get("BizId") or "") or None)
        detail = _short(f"SMS {code}: {answer.get('Message') or ''}")
        return Result(FAILED, detail, retry=code not in _ALIYUN_PERMANENT)


def _short(text: str) -> str:
    return text[:300]


ADAPTERS = {EMAIL: SmtpEmail, SMS: AliyunSms}


def adapter(channel: str, config: Mapping):
    """The adapter of a channel, built from the settings."""
    return ADAPTERS[channel](config)


def configured(channel: str, config: Mapping) -> bool:
    """True when the channel has what it needs to send."""
    return channel in ADAPTERS and adapter(channel, config).configured()


def send(message: Message, config: Mapping) -> Result:
    """Send one message on its channel; never raises for a delivery problem."""
    if message.channel not in ADAPTERS:
        return Result(FAILED, f"unknown channel {message.channel}", retry=False)
    return adapter(message.channel, config).send(message)
