/*
 * test_op_table.c - the delegate's op table against the spec (sbtf_op_format.h, generated
 * from sbtf/op_format.py): every op of the spec is claimed with the spec's format version, and
 * no other name is. Built and run by tests/test_delegate.py with the delegate's sources.
 */
#include <stdio.h>
#include <string.h>

#include "sbtf_delegate.h"

int main(void) {
  static const char *const spec[] = SBTF_OP_NAMES;
  static const char *const unknown[] = {"SBTF_CONV_2D_V2", "sbtf_conv_2d", "SBTF_CONV_2",
                                        "SBTF_FULLY_CONNECTED ", "CONV_2D", "SBTF", ""};
  int failures = 0;
  for (size_t i = 0; i < sizeof(spec) / sizeof(spec[0]); i++) {
    const sbtf_delegate_op *op = sbtf_delegate_find_op(spec[i]);
    if (op == NULL || strcmp(op->name, spec[i]) != 0 || op->version != SBTF_OP_FORMAT_VERSION ||
        op->data_size == 0 || !op->parse_options || !op->filter_size || !op->prepare ||
        !op->invoke) {
      printf("not claimed properly: %s\n", spec[i]);
      failures++;
    } else {
      printf("claims %s\n", spec[i]);
    }
  }
  for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
    if (sbtf_delegate_find_op(unknown[i]) != NULL) {
      printf("claims unknown op '%s'\n", unknown[i]);
      failures++;
    }
  }
  if (sbtf_delegate_find_op(NULL) != NULL) {
    printf("claims a node without a custom name\n");
    failures++;
  }
  return failures != 0;
}
