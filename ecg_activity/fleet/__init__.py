"""A fleet of Pis over MQTT: the device side's disk spool, topic names and the central collector.

Both ends reach the broker through ``connect_options``: plain ``mqtt://`` or
TLS ``mqtts://`` (the system's CAs, or ``?ca=FILE``; a client certificate
with ``?cert=FILE&key=FILE``), and a username and password that never appear
on a command line: ``ECG_ACTIVITY_MQTT_USERNAME`` / ``ECG_ACTIVITY_MQTT_PASSWORD``
in the environment, or ``?auth=FILE`` holding ``username:password`` (a file
only its owner can read).
"""

from __future__ import annotations

import math
import os
import stat
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from ..bridge.errors import UsageError
from .schema import valid_device_id

DEFAULT_PORT = 1883
DEFAULT_TLS_PORT = 8883
USER_ENV, PASSWORD_ENV = "ECG_ACTIVITY_MQTT_USERNAME", "ECG_ACTIVITY_MQTT_PASSWORD"
#: query keys each side understands (anything else is a typo, refused)
DEVICE_KEYS = ("spool", "max", "status", "auth", "ca", "cert", "key")
COLLECTOR_KEYS = ("auth", "ca", "cert", "key")


@dataclass(frozen=True)
class MqttUrl:
    """``mqtt[s]://HOST[:PORT]/PREFIX.../DEVICE[?spool=DIR&max=N&...]`` (device side) or
    ``mqtt[s]://HOST[:PORT]/PREFIX/#`` (collector side)."""

    host: str
    port: int
    path: str                # the topic part, without a leading slash (and without the collector's /#)
    query: dict
    tls: bool = False

    @classmethod
    def parse(cls, url: str, collector: bool = False) -> "MqttUrl":
        """Checked in full: a wildcard, an empty level or an unknown option is refused in one line, never
        silently turned into another topic."""
        base, q, rest = url.partition("?")
        if collector:
            if not base.endswith("#") or not base[:-1].endswith("/"):
                raise UsageError(f"{url!r}: collect takes mqtt://HOST/PREFIX/# (every device under PREFIX)")
            base = base[:-1]
        elif "#" in url:
            raise UsageError(f"{url!r}: '#' cannot be part of a device's topic (it is MQTT's wildcard)")
        u = urlsplit(base + q + rest)
        if u.scheme not in ("mqtt", "mqtts") or not u.hostname:
            raise UsageError(f"{_redacted(url)!r} is not mqtt://HOST[:PORT]/TOPIC (or mqtts:// for TLS)")
        if u.username is not None or u.password is not None:
            raise UsageError(f"{_redacted(url)}: credentials never go in the URL (any user of the machine can "
                             f"read a command line): set {USER_ENV} and {PASSWORD_ENV}, or ?auth=FILE")
        try:
            port = u.port or (DEFAULT_TLS_PORT if u.scheme == "mqtts" else DEFAULT_PORT)
        except ValueError:
            raise UsageError(f"{url!r}: the port is not a number") from None
        path = u.path.strip("/")
        levels = path.split("/") if path else []
        if not collector and not levels:
            raise UsageError(f"{url!r} names no topic (mqtt://HOST/PREFIX/DEVICE)")
        if any(not lv or "+" in lv for lv in levels):
            raise UsageError(f"{url!r}: topic levels must be non-empty and without '+' (MQTT's wildcard)")
        if not collector and not valid_device_id(levels[-1]):
            raise UsageError(f"{url!r}: the device id {levels[-1]!r} must be 1-64 letters, digits, '_', '.' or "
                             "'-', starting with a letter or digit")
        query = {k: v[-1] for k, v in parse_qs(u.query, keep_blank_values=True).items()}
        known = COLLECTOR_KEYS if collector else DEVICE_KEYS
        unknown = sorted(set(query) - set(known))
        if unknown:
            raise UsageError(f"{url!r}: unknown option {unknown[0]!r} (known: {', '.join(known)})")
        return cls(u.hostname, port, path, query, u.scheme == "mqtts")

    @property
    def device(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    def topic(self, leaf: str) -> str:
        return f"{self.path}/{leaf}"

    def number(self, key: str, default: float, lo: float, hi: float) -> float:
        """A numeric option (``max=``, ``status=``), finite and within [lo, hi], or one line."""
        raw = self.query.get(key)
        if raw is None:
            return default
        try:
            v = float(raw)
        except ValueError:
            v = math.nan
        if not math.isfinite(v) or not lo <= v <= hi:
            raise UsageError(f"mqtt option {key}={raw!r}: a number from {lo:g} to {hi:g}")
        return v

    @property
    def where(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


def _redacted(url: str) -> str:
    u = urlsplit(url)
    return url.replace(u.netloc, u.netloc.rsplit("@", 1)[-1]) if "@" in u.netloc else url


def credentials(url: MqttUrl) -> tuple[str, str] | None:
    """Username and password from ``?auth=FILE`` or the environment (None: anonymous)."""
    path = url.query.get("auth")
    if path:
        try:
            st = os.stat(path)
            with open(path, encoding="utf-8") as f:
                first = f.readline().strip()
        except (OSError, UnicodeDecodeError) as e:
            raise UsageError(f"cannot read the MQTT credentials file {path}: {getattr(e, 'strerror', None) or e}") \
                from None
        if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise UsageError(f"{path} holds a password but others may read it: chmod 600 {path}")
        user, sep, password = first.partition(":")
        if not sep or not user:
            raise UsageError(f"{path}: the first line must be username:password")
        return user, password
    user = os.environ.get(USER_ENV)
    if user:
        return user, os.environ.get(PASSWORD_ENV, "")
    return None


def connect_options(client, url: MqttUrl) -> None:
    """TLS and credentials on a paho client, as the URL and the environment ask."""
    if url.tls or any(k in url.query for k in ("ca", "cert", "key")):
        import ssl

        cert, key = url.query.get("cert"), url.query.get("key")
        if bool(cert) != bool(key):
            raise UsageError("a client certificate needs both ?cert=FILE and ?key=FILE")
        try:
            client.tls_set(ca_certs=url.query.get("ca") or None, certfile=cert or None, keyfile=key or None,
                           cert_reqs=ssl.CERT_REQUIRED)
        except (OSError, ssl.SSLError, ValueError) as e:
            raise UsageError(f"TLS set-up for {url.where}: {getattr(e, 'strerror', None) or e}") from None
    creds = credentials(url)
    if creds:
        client.username_pw_set(*creds)


def refusal(reason) -> str | None:
    """The broker's refusal in words when it is final (bad credentials, not authorised), else None."""
    text = str(reason)
    if any(w in text.lower() for w in ("not authori", "bad user", "password", "banned", "identifier")):
        return text
    return None
