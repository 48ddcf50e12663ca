"""A fleet of Pis over MQTT: the device side's disk spool, topic names and the central collector."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from ..bridge.errors import UsageError

DEFAULT_PORT = 1883


@dataclass(frozen=True)
class MqttUrl:
    """``mqtt://HOST[:PORT]/PREFIX.../DEVICE[?spool=DIR&max=N]`` (device side) or
    ``mqtt://HOST[:PORT]/PREFIX/#`` (collector side)."""

    host: str
    port: int
    path: str                # the topic part, without a leading slash
    query: dict

    @classmethod
    def parse(cls, url: str) -> "MqttUrl":
        u = urlsplit(url)
        if u.scheme != "mqtt" or not u.hostname:
            raise UsageError(f"{url!r} is not mqtt://HOST[:PORT]/TOPIC")
        try:
            port = u.port or DEFAULT_PORT
        except ValueError:
            raise UsageError(f"{url!r}: the port is not a number") from None
        path = u.path.strip("/")
        if not path:
            raise UsageError(f"{url!r} names no topic (mqtt://HOST/PREFIX/DEVICE)")
        return cls(u.hostname, port, path, {k: v[-1] for k, v in parse_qs(u.query).items()})

    @property
    def device(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    def topic(self, leaf: str) -> str:
        return f"{self.path}/{leaf}"
