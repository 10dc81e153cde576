/* sbtf_flexbuffers.c - see sbtf_flexbuffers.h. */
#include "sbtf_flexbuffers.h"

#include <string.h>

/* FlexBuffer type codes (upper six bits of a packed type byte). */
enum {
  FLEX_INT = 1,
  FLEX_UINT = 2,
  FLEX_INDIRECT_INT = 6,
  FLEX_INDIRECT_UINT = 7,
  FLEX_MAP = 9,
  FLEX_BOOL = 26,
};

static bool valid_width(size_t width) {
  return width == 1 || width == 2 || width == 4 || width == 8;
}

/* Little-endian unsigned read of `width` bytes at `pos`, bounds-checked. */
static bool read_uint(const uint8_t *buf, size_t size, size_t pos, size_t width, uint64_t *out) {
  if (!valid_width(width) || pos > size || size - pos < width) return false;
  uint64_t v = 0;
  for (size_t i = 0; i < width; i++) v |= (uint64_t)buf[pos + i] << (8 * i);
  *out = v;
  return true;
}

static bool read_int(const uint8_t *buf, size_t size, size_t pos, size_t width, int64_t *out) {
  uint64_t u;
  if (!read_uint(buf, size, pos, width, &u)) return false;
  if (width < 8 && (u >> (8 * width - 1)) & 1) u |= ~(uint64_t)0 << (8 * width); /* sign-extend */
  *out = (int64_t)u;
  return true;
}

/* Follows the offset stored at `pos` (offsets point backwards). */
static bool follow(const uint8_t *buf, size_t size, size_t pos, size_t width, size_t *target) {
  uint64_t off;
  if (!read_uint(buf, size, pos, width, &off) || off > pos) return false;
  *target = pos - (size_t)off;
  return true;
}

sbtf_flex_status sbtf_flex_map_open(sbtf_flex_map *map, const uint8_t *buf, size_t size) {
  if (map == NULL || buf == NULL || size < 3) return SBTF_FLEX_MALFORMED;
  /* The buffer ends with: root value, root packed type, root byte width. */
  const size_t root_width = buf[size - 1];
  const uint8_t root_type = buf[size - 2];
  if (!valid_width(root_width) || size - 2 < root_width) return SBTF_FLEX_MALFORMED;
  if ((root_type >> 2) != FLEX_MAP) return SBTF_FLEX_MALFORMED;
  const size_t width = (size_t)1 << (root_type & 3);
  size_t values;
  if (!follow(buf, size, size - 2 - root_width, root_width, &values)) return SBTF_FLEX_MALFORMED;
  /* Before the values: keys offset, keys byte width, length (each `width` bytes). */
  if (values < 3 * width) return SBTF_FLEX_MALFORMED;
  uint64_t length, key_width;
  size_t keys;
  if (!read_uint(buf, size, values - width, width, &length) ||
      !read_uint(buf, size, values - 2 * width, width, &key_width) ||
      !follow(buf, size, values - 3 * width, width, &keys) || !valid_width((size_t)key_width)) {
    return SBTF_FLEX_MALFORMED;
  }
  /* Values, then one type byte per value, must lie inside the buffer. */
  if (length > size || (size - values) / (width + 1) < length) return SBTF_FLEX_MALFORMED;
  uint64_t key_count;
  if (keys < key_width || !read_uint(buf, size, keys - key_width, key_width, &key_count) ||
      key_count != length || (size - keys) / key_width < length) {
    return SBTF_FLEX_MALFORMED;
  }
  map->buf = buf;
  map->size = size;
  map->values = values;
  map->keys = keys;
  map->length = (size_t)length;
  map->width = (uint8_t)width;
  map->key_width = (uint8_t)key_width;
  return SBTF_FLEX_OK;
}

/* Index of `key` in the map, or a negative status. Keys are NUL-terminated strings. */
static sbtf_flex_status find(const sbtf_flex_map *map, const char *key, size_t *index) {
  if (map == NULL || key == NULL) return SBTF_FLEX_MALFORMED;
  const size_t key_len = strlen(key);
  for (size_t i = 0; i < map->length; i++) {
    size_t at;
    if (!follow(map->buf, map->size, map->keys + i * map->key_width, map->key_width, &at)) {
      return SBTF_FLEX_MALFORMED;
    }
    /* Compare including the terminator, which must lie inside the buffer. */
    if (map->size - at > key_len && memcmp(map->buf + at, key, key_len + 1) == 0) {
      *index = i;
      return SBTF_FLEX_OK;
    }
  }
  return SBTF_FLEX_MISSING;
}

/* Type code of entry `index` and the position of its value slot. */
static void entry(const sbtf_flex_map *map, size_t index, uint8_t *packed, size_t *slot) {
  *packed = map->buf[map->values + map->length * map->width + index];
  *slot = map->values + index * map->width;
}

sbtf_flex_status sbtf_flex_map_get_int(const sbtf_flex_map *map, const char *key, int64_t *value) {
  size_t index, slot;
  uint8_t packed;
  sbtf_flex_status status = find(map, key, &index);
  if (status != SBTF_FLEX_OK) return status;
  if (value == NULL) return SBTF_FLEX_MALFORMED;
  entry(map, index, &packed, &slot);
  const int type = packed >> 2;
  size_t width = map->width;
  if (type == FLEX_INDIRECT_INT || type == FLEX_INDIRECT_UINT) {
    /* The slot holds an offset to the number, whose own width is in the packed type. */
    if (!follow(map->buf, map->size, slot, width, &slot)) return SBTF_FLEX_MALFORMED;
    width = (size_t)1 << (packed & 3);
  }
  if (type == FLEX_INT || type == FLEX_INDIRECT_INT) {
    return read_int(map->buf, map->size, slot, width, value) ? SBTF_FLEX_OK : SBTF_FLEX_MALFORMED;
  }
  if (type == FLEX_UINT || type == FLEX_INDIRECT_UINT) {
    uint64_t u;
    if (!read_uint(map->buf, map->size, slot, width, &u)) return SBTF_FLEX_MALFORMED;
    if (u > (uint64_t)INT64_MAX) return SBTF_FLEX_RANGE;
    *value = (int64_t)u;
    return SBTF_FLEX_OK;
  }
  return SBTF_FLEX_WRONG_TYPE;
}

sbtf_flex_status sbtf_flex_map_get_bool(const sbtf_flex_map *map, const char *key, bool *value) {
  size_t index, slot;
  uint8_t packed;
  sbtf_flex_status status = find(map, key, &index);
  if (status != SBTF_FLEX_OK) return status;
  if (value == NULL) return SBTF_FLEX_MALFORMED;
  entry(map, index, &packed, &slot);
  if ((packed >> 2) != FLEX_BOOL) return SBTF_FLEX_WRONG_TYPE;
  uint64_t u;
  if (!read_uint(map->buf, map->size, slot, map->width, &u)) return SBTF_FLEX_MALFORMED;
  *value = u != 0;
  return SBTF_FLEX_OK;
}
