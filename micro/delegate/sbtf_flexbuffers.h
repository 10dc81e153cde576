/*
 * sbtf_flexbuffers.h - a bounds-checked reader for the one FlexBuffer shape sbtf ops carry:
 * a root map from keys to integers and booleans (docs/op_spec.md, "Options").
 *
 * Format: google/flatbuffers docs/source/flexbuffers.md. Every read is checked against the
 * buffer size, so a truncated or hostile options blob yields SBTF_FLEX_MALFORMED, never a
 * read out of bounds.
 */
#ifndef SBTF_FLEXBUFFERS_H
#define SBTF_FLEXBUFFERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
  SBTF_FLEX_OK = 0,
  SBTF_FLEX_MALFORMED = -1,  /**< not a well-formed FlexBuffer map */
  SBTF_FLEX_MISSING = -2,    /**< the key is not in the map */
  SBTF_FLEX_WRONG_TYPE = -3, /**< the key holds another type than asked for */
  SBTF_FLEX_RANGE = -4,      /**< an integer does not fit int64_t */
} sbtf_flex_status;

/** A root map inside a caller-owned buffer. */
typedef struct {
  const uint8_t *buf;
  size_t size;
  size_t values;      /**< offset of the value slots */
  size_t keys;        /**< offset of the key offsets */
  size_t length;      /**< number of entries */
  uint8_t width;      /**< bytes per value slot */
  uint8_t key_width;  /**< bytes per key offset */
} sbtf_flex_map;

/** Opens the root of buf as a map. */
sbtf_flex_status sbtf_flex_map_open(sbtf_flex_map *map, const uint8_t *buf, size_t size);

/** Reads an integer (INT, UINT or their indirect forms; not BOOL or FLOAT). */
sbtf_flex_status sbtf_flex_map_get_int(const sbtf_flex_map *map, const char *key, int64_t *value);

/** Reads a BOOL. */
sbtf_flex_status sbtf_flex_map_get_bool(const sbtf_flex_map *map, const char *key, bool *value);

#endif /* SBTF_FLEXBUFFERS_H */
