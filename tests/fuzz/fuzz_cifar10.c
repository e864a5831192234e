/*
 * Fuzz target of the CIFAR-10 reader (src/data/cifar10.c): batch files of
 * 3073-byte records (a label byte, 3072 pixels), one file, a
 * comma-separated list of two, or the test_batch.bin of a directory; then
 * the class filter, subset, load and scaling of src/data/dataset.c.
 *
 * Input: fuzz_split's framing (fuzz_common.h).  FUZZ_TWO lists both files
 * (path = "a, b"); FUZZ_LAYOUT reads the first as DIR/test_batch.bin with
 * split = test.
 */
#include <stdio.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct fuzz_input in;
  fuzz_split(data, size, &in);
  unsigned flags = in.flags & 0x7f;
  int two = (flags & FUZZ_TWO) != 0, layout = (flags & FUZZ_LAYOUT) != 0;
  char path[8192];
  if (layout) {
    fuzz_dir("cifar");
    fuzz_write(fuzz_path("cifar/test_batch.bin"), in.first, in.first_len);
    snprintf(path, sizeof path, "%s", fuzz_path("cifar"));
  } else {
    const char *a = fuzz_path("a.bin"), *b = fuzz_path("b.bin");
    fuzz_write(a, in.first, in.first_len);
    fuzz_write(b, two ? in.second : NULL, in.second_len);
    if (two)
      snprintf(path, sizeof path, "%s, %s", a, b);
    else
      snprintf(path, sizeof path, "%s", a);
  }

  char text[16384];
  snprintf(text, sizeof text,
           "[data]\nsource = cifar10\npath = %s\nsplit = %s\n%s%s%s", path,
           layout ? "test" : "train",
           flags & FUZZ_CLASSES ? "classes = 0, 1\n" : "",
           flags & FUZZ_SUBSET ? "n = 2\n" : "", fuzz_scale_line(flags));
  fuzz_load(fuzz_config(flags & ~(unsigned)FUZZ_SHARD, text), flags);
  return 0;
}
