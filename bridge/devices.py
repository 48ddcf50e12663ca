"""What the host can see: serial ports now, BLE devices when a radio exists."""

from __future__ import annotations

import asyncio

from serial.tools import list_ports


def serial_ports() -> list[tuple[str, str]]:
    """(device, description) of every serial port pyserial sees, sorted by name: what ``devices`` lists so a
    field tester can find the wearable's port (USB or Bluetooth RFCOMM)."""
    return [(p.device, p.description or "") for p in sorted(list_ports.comports(), key=lambda p: p.device)]


def ble_scan(timeout_s: float = 5.0) -> tuple[list[tuple[str, str]], str | None]:
    """(devices, None) or ([], reason) when there is no usable Bluetooth adapter."""
    try:
        from bleak import BleakScanner

        found = asyncio.run(BleakScanner.discover(timeout=timeout_s))
    except Exception as e:  # no adapter, no BlueZ/D-Bus, permissions: all "no radio" to the user
        return [], (str(e).splitlines()[0] if str(e) else type(e).__name__)
    return [(d.address, d.name or "") for d in found], None
