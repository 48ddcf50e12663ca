"""``ecg-activity devices``: the serial ports and, with a radio, the BLE wearables nearby."""

from __future__ import annotations

import argparse

from .options import number


def cmd(a: argparse.Namespace) -> int:
    """List serial ports and, unless ``--no-ble``, nearby BLE devices (or why there is no radio)."""
    from ..bridge.devices import ble_scan, serial_ports

    ports = serial_ports()
    print("Serial ports:" if ports else "Serial ports: none found")
    for dev, desc in ports:
        print(f"  {dev}  {desc}")
    if a.no_ble:
        return 0
    found, why = ble_scan(a.scan_time)
    if why is not None:
        print(f"BLE: no usable Bluetooth radio ({why})")
    else:
        print("BLE devices:" if found else "BLE devices: none found")
        for addr, name in found:
            print(f"  {addr}  {name}")
    return 0


def register(sub) -> None:
    """Add ``devices``."""
    s = sub.add_parser("devices", help="list serial ports and BLE devices")
    s.add_argument("--no-ble", action="store_true", help="skip the BLE scan")
    s.add_argument("--scan-time", type=number(float, 0.0, 600.0), default=5.0,
                   help="seconds to scan for BLE devices (default 5)")
    s.set_defaults(func=cmd)
