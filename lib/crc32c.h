/*
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of
 * Kafka's RecordBatch v2 and of sluice's own storage headers.
 *
 * Uses the SSE4.2 crc32 instruction when the CPU has it (checked once at
 * start-up with cpuid) and a slicing-by-8 table otherwise; both give the
 * same results, which the unit tests check against RFC 3720's vectors.
 */
#ifndef SL_CRC32C_H
#define SL_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Extends crc (start with 0) over len bytes: sl_crc32c(sl_crc32c(0, a), b)
 * equals the CRC of a followed by b. */
uint32_t sl_crc32c(uint32_t crc, const void *data, size_t len);

/* The portable implementation, exposed so tests can compare both paths. */
uint32_t sl_crc32c_sw(uint32_t crc, const void *data, size_t len);

/* 1 when the hardware path is in use. */
int sl_crc32c_hw_available(void);

#endif
