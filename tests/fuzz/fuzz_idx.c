/*
 * Fuzz target of the IDX reader (src/data/idx.c): the `idx` source, plain
 * or gzip-compressed, with an optional IDX labels file, and the
 * `fashion-mnist` source's directory layout; then the class filter, subset,
 * load and scaling of src/data/dataset.c.
 *
 * Input: fuzz_split's framing (fuzz_common.h).  The first file is the
 * images file, the second (FUZZ_TWO) the labels file; FUZZ_LAYOUT reads
 * them as train-images-idx3-ubyte and train-labels-idx1-ubyte of a
 * fashion-mnist directory instead.
 */
#include <stdio.h>
#include <zlib.h>

#include "fuzz_common.h"

#ifdef SGM_FUZZ_LIBFUZZER
/* The libFuzzer build links with -Wl,--wrap=gzbuffer.  idx.c asks zlib for
 * 256 KiB buffers (768 KiB a file), which AddressSanitizer maps and unmaps
 * afresh on every open: that alone held the target to a few hundred
 * executions a second.  Inputs are at most a few KiB, so 8 KiB buffers
 * read them just the same. */
int __real_gzbuffer(gzFile file, unsigned size);
int __wrap_gzbuffer(gzFile file, unsigned size);
int __wrap_gzbuffer(gzFile file, unsigned size) {
  return __real_gzbuffer(file, size < 8192 ? size : 8192);
}
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct fuzz_input in;
  fuzz_split(data, size, &in);
  unsigned flags = in.flags & 0x7f;
  int two = (flags & FUZZ_TWO) != 0, layout = (flags & FUZZ_LAYOUT) != 0;
  const char *images, *labels;
  if (layout) {
    fuzz_dir("fm");
    images = fuzz_path("fm/train-images-idx3-ubyte");
    labels = fuzz_path("fm/train-labels-idx1-ubyte");
  } else {
    images = fuzz_path("images.idx");
    labels = fuzz_path("labels.idx");
  }
  fuzz_write(images, in.first, in.first_len);
  fuzz_write(labels, two ? in.second : NULL, in.second_len);

  char text[8192];
  snprintf(text, sizeof text,
           "[data]\nsource = %s\npath = %s\nlabels = %s\n%s%s%s",
           layout ? "fashion-mnist" : "idx", layout ? fuzz_path("fm") : images,
           two && !layout ? labels : "",
           flags & FUZZ_CLASSES ? "classes = 0, 1\n" : "",
           flags & FUZZ_SUBSET ? "n = 2\n" : "", fuzz_scale_line(flags));
  fuzz_load(fuzz_config(flags & ~(unsigned)FUZZ_SHARD, text), flags);
  return 0;
}
