/*
 * ecg_frame: reference encoder for the ecg-activity open frame format (v1).
 * Spec: docs/protocol.md.  Drop these two files into your firmware; no
 * allocation, no dependencies beyond <stdint.h>/<stddef.h>.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef ECG_FRAME_H
#define ECG_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define ECG_FRAME_SYNC0 0xA5u
#define ECG_FRAME_SYNC1 0x5Au
#define ECG_FRAME_VERSION 1u
#define ECG_FRAME_HEADER_LEN 8u
#define ECG_FRAME_CRC_LEN 4u
#define ECG_FRAME_MAX_LEN 244u /* one BLE notification at ATT MTU 247 */
#define ECG_FRAME_MAX_VALUES ((ECG_FRAME_MAX_LEN - ECG_FRAME_HEADER_LEN - ECG_FRAME_CRC_LEN) / 3u)

#define ECG_FLAG_LEAD_OFF 0x01u
#define ECG_FLAG_BATTERY_LOW 0x02u
#define ECG_FLAG_SATURATED 0x04u
#define ECG_FLAG_IDENTITY 0x80u /* the frame names the device; it carries no samples */

#define ECG_ID_MAX_LEN 24u
#define ECG_IDENTITY_EVERY_FRAMES 10u /* send the identity on connecting and at least this often */

/* Bytes a frame of n samples x channels takes. */
#define ECG_FRAME_LEN(channels, n) (ECG_FRAME_HEADER_LEN + 3u * (channels) * (n) + ECG_FRAME_CRC_LEN)

/* CRC-32 (IEEE 802.3, reflected, as zlib.crc32), continuing from crc (start with 0). */
uint32_t ecg_crc32(uint32_t crc, const uint8_t *data, size_t len);

/*
 * Encodes samples[n * channels] (interleaved: s0c0, s0c1, ..., s1c0, ...),
 * signed 24-bit values in int32_t, into out.  Returns the frame length, or 0
 * if out is too small, a value is outside 24 bits, or channels * n is not in
 * 1..ECG_FRAME_MAX_VALUES.
 */
size_t ecg_frame_encode(uint8_t *out, size_t out_len, const int32_t *samples, uint8_t channels, uint8_t n,
                        uint16_t seq, uint8_t flags);

/*
 * Encodes the identity frame of a device named id (1..ECG_ID_MAX_LEN printable
 * ASCII characters, NUL-terminated: a serial number, a MAC) into out.  Send it
 * when a host connects and at least every ECG_IDENTITY_EVERY_FRAMES data
 * frames: a host that reopens a port takes no data until the device on it
 * has named itself, so another sensor on the same port is never taken for
 * this one.  Returns the frame length, or 0 if out is too small or id is not
 * 1..24 printable characters.
 */
size_t ecg_frame_encode_identity(uint8_t *out, size_t out_len, const char *id);

#endif
