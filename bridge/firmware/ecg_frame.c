/* SPDX-License-Identifier: GPL-3.0-or-later -- see ecg_frame.h and docs/protocol.md */
#include "ecg_frame.h"

uint32_t ecg_crc32(uint32_t crc, const uint8_t *data, size_t len)
{
    /* Bitwise, table-free: a few hundred bytes per frame at most, so flash beats speed here. */
    crc = ~crc;
    while (len--) {
        crc ^= *data++;
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

static size_t finish(uint8_t *out, uint8_t *p)
{
    uint32_t crc = ecg_crc32(0, out + 2, (size_t)(p - (out + 2)));
    p[0] = (uint8_t)(crc & 0xFFu);
    p[1] = (uint8_t)((crc >> 8) & 0xFFu);
    p[2] = (uint8_t)((crc >> 16) & 0xFFu);
    p[3] = (uint8_t)(crc >> 24);
    return (size_t)(p + ECG_FRAME_CRC_LEN - out);
}

static void header(uint8_t *out, uint8_t flags, uint16_t seq, uint8_t channels, uint8_t n)
{
    out[0] = ECG_FRAME_SYNC0;
    out[1] = ECG_FRAME_SYNC1;
    out[2] = ECG_FRAME_VERSION;
    out[3] = flags;
    out[4] = (uint8_t)(seq & 0xFFu);
    out[5] = (uint8_t)(seq >> 8);
    out[6] = channels;
    out[7] = n;
}

size_t ecg_frame_encode_identity(uint8_t *out, size_t out_len, const char *id)
{
    size_t k = 0;
    while (id[k] && k <= ECG_ID_MAX_LEN) {
        if (id[k] < 0x20 || id[k] > 0x7E)
            return 0;
        k++;
    }
    if (k == 0 || k > ECG_ID_MAX_LEN)
        return 0;
    uint8_t n = (uint8_t)((k + 2u) / 3u);
    if (out_len < ECG_FRAME_LEN(1u, n))
        return 0;
    header(out, ECG_FLAG_IDENTITY, 0, 1, n);
    uint8_t *p = out + ECG_FRAME_HEADER_LEN;
    for (size_t i = 0; i < 3u * n; i++)
        *p++ = i < k ? (uint8_t)id[i] : 0u;
    return finish(out, p);
}

size_t ecg_frame_encode(uint8_t *out, size_t out_len, const int32_t *samples, uint8_t channels, uint8_t n,
                        uint16_t seq, uint8_t flags)
{
    size_t values = (size_t)channels * n;
    if (channels == 0 || n == 0 || values > ECG_FRAME_MAX_VALUES)
        return 0;
    size_t len = ECG_FRAME_LEN(channels, n);
    if (out_len < len)
        return 0;
    header(out, flags, seq, channels, n);
    uint8_t *p = out + ECG_FRAME_HEADER_LEN;
    for (size_t i = 0; i < values; i++) {
        int32_t v = samples[i];
        if (v < -8388608 || v > 8388607)
            return 0;
        uint32_t u = (uint32_t)v & 0xFFFFFFu;
        *p++ = (uint8_t)(u & 0xFFu);
        *p++ = (uint8_t)((u >> 8) & 0xFFu);
        *p++ = (uint8_t)((u >> 16) & 0xFFu);
    }
    return finish(out, p) == len ? len : 0;
}
