/*
 * Fuzz target of the NumPy .npy reader (src/data/npy.c): the header (magic,
 * versions 1.0 to 3.0, descr, fortran_order, shape), the size check, an
 * optional labels file; then the class filter, subset, load and scaling of
 * src/data/dataset.c.
 *
 * Input: fuzz_split's framing (fuzz_common.h).  The first file is the
 * data, the second (FUZZ_TWO) the labels; FUZZ_LAYOUT names the data file
 * itself as its labels.
 */
#include <stdio.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct fuzz_input in;
  fuzz_split(data, size, &in);
  unsigned flags = in.flags & 0x7f;
  int two = (flags & FUZZ_TWO) != 0;
  const char *array = fuzz_path("data.npy"), *labels = fuzz_path("labels.npy");
  fuzz_write(array, in.first, in.first_len);
  fuzz_write(labels, two ? in.second : NULL, in.second_len);

  const char *labels_line = flags & FUZZ_LAYOUT ? array : two ? labels : "";
  char text[8192];
  snprintf(text, sizeof text,
           "[data]\nsource = npy\npath = %s\nlabels = %s\n%s%s%s", array,
           labels_line, flags & FUZZ_CLASSES ? "classes = 0, 1\n" : "",
           flags & FUZZ_SUBSET ? "n = 2\n" : "", fuzz_scale_line(flags));
  fuzz_load(fuzz_config(flags & ~(unsigned)FUZZ_SHARD, text), flags);
  return 0;
}
