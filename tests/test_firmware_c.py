"""The C reference encoder, compiled with the machine's compiler, must produce what Python decodes."""

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from ecg_activity.bridge.protocol_frame import FrameDecoder, encode_frame

FW = Path(__file__).resolve().parent.parent / "bridge" / "firmware"
CC = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")

HARNESS = r"""
#include <stdio.h>
#include <stdlib.h>
#include "ecg_frame.h"
/* usage: harness SEQ FLAGS CHANNELS v0 v1 ... (or: harness id NAME); prints the frame as hex */
int main(int argc, char **argv) {
    if (argc == 3 && argv[1][0] == 'i') {
        uint8_t idf[ECG_FRAME_MAX_LEN];
        size_t k = ecg_frame_encode_identity(idf, sizeof idf, argv[2]);
        if (!k) { puts("ERROR"); return 1; }
        for (size_t i = 0; i < k; i++) printf("%02x", idf[i]);
        puts("");
        return 0;
    }
    int n_values = argc - 4;
    int32_t v[ECG_FRAME_MAX_VALUES + 1];
    uint8_t out[ECG_FRAME_MAX_LEN];
    int ch = atoi(argv[3]);
    for (int i = 0; i < n_values && i <= (int)ECG_FRAME_MAX_VALUES; i++) v[i] = (int32_t)strtol(argv[4 + i], 0, 10);
    size_t len = ecg_frame_encode(out, sizeof out, v, (uint8_t)ch, (uint8_t)(n_values / ch),
                                  (uint16_t)atoi(argv[1]), (uint8_t)atoi(argv[2]));
    if (!len) { puts("ERROR"); return 1; }
    for (size_t i = 0; i < len; i++) printf("%02x", out[i]);
    puts("");
    return 0;
}
"""


@pytest.fixture(scope="module")
def harness(tmp_path_factory):
    if CC is None:
        pytest.skip("no C compiler on this machine")
    d = tmp_path_factory.mktemp("fw")
    (d / "main.c").write_text(HARNESS)
    exe = d / "harness"
    subprocess.run([CC, "-std=c99", "-Wall", "-Wextra", "-Werror", "-O2", f"-I{FW}", str(d / "main.c"),
                    str(FW / "ecg_frame.c"), "-o", str(exe)], check=True)
    return exe


def _c_frame(exe, seq, flags, ch, values):
    p = subprocess.run([str(exe), str(seq), str(flags), str(ch), *map(str, values)], capture_output=True, text=True)
    return p.returncode, p.stdout.strip()


@pytest.mark.parametrize("seq,flags,ch,n", [(0, 0, 1, 1), (7, 1, 1, 77), (65535, 6, 2, 38), (300, 0, 7, 11)])
def test_c_frames_equal_python_frames_and_decode(harness, seq, flags, ch, n):
    values = np.random.default_rng(seq + n).integers(-(1 << 23), 1 << 23, ch * n)
    rc, hexed = _c_frame(harness, seq, flags, ch, values)
    assert rc == 0
    data = bytes.fromhex(hexed)
    assert data == encode_frame(values.reshape(n, ch), seq, flags)
    dec = FrameDecoder()
    blocks = dec.feed(data, 0.0)
    np.testing.assert_array_equal(blocks[0].samples.ravel(), values)
    assert blocks[0].flags == flags and dec.stats.crc_errors == 0


def test_c_encoder_refuses_out_of_range(harness):
    assert _c_frame(harness, 0, 0, 1, [1 << 23])[1] == "ERROR"
    assert _c_frame(harness, 0, 0, 1, list(range(78)))[1] == "ERROR"


@pytest.mark.parametrize("name", ["A", "ecg-strap-0042", "x" * 24])
def test_c_identity_frames_equal_python_ones_and_name_the_device(harness, name):
    from ecg_activity.bridge.protocol_frame import encode_identity

    p = subprocess.run([str(harness), "id", name], capture_output=True, text=True)
    data = bytes.fromhex(p.stdout.strip())
    assert data == encode_identity(name)
    dec = FrameDecoder()
    assert dec.feed(data + encode_frame(np.arange(25), 0), 0.0)[0].n == 25 and dec.device_id == name


def test_c_identity_refuses_what_is_not_a_name(harness):
    for bad in ("", "x" * 25, "tab\there"):
        assert subprocess.run([str(harness), "id", bad], capture_output=True, text=True).stdout.strip() == "ERROR"
