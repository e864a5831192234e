/*
 * Shared by the fuzz targets of the input parsers (libFuzzer, or replay.c
 * in the normal test suite): MPI set-up, a per-process scratch directory for
 * the files a parser reads by path, the framing that packs option bits and
 * one or two files into one fuzz input, and the probe + load every data
 * target ends with.
 *
 * A target only ever stops the process on a broken invariant (abort());
 * error returns of the library are expected answers to bad input.
 */
#ifndef SGM_FUZZ_COMMON_H
#define SGM_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "sgm/config.h"

/* libFuzzer's entry points; replay.c calls them too. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts with a message: a broken invariant (a finding) or a harness
 * failure. */
void fuzz_die(const char *fmt, ...) __attribute__((format(printf, 1, 2)))
__attribute__((noreturn));

/* With SGM_FUZZ_VERBOSE set in the environment, prints what a library call
 * answered (err: its status) on stderr: to see what a corpus reaches. */
void fuzz_note(const char *what, int err);

/* The path of `name` in this process's scratch directory (static storage,
 * one of 4 rotating buffers).  The directory is created on first use and
 * removed, with what it holds, at exit. */
const char *fuzz_path(const char *name);

/* fuzz_path(name), created as a directory if it does not exist. */
const char *fuzz_dir(const char *name);

/* Writes size bytes to path, replacing the file; removes it when data is
 * NULL. */
void fuzz_write(const char *path, const uint8_t *data, size_t size);

/* Option bits of byte 0 of a data target's input. */
enum {
  FUZZ_TWO = 1 << 0,     /* two files: a labels file, or two batches */
  FUZZ_CLASSES = 1 << 1, /* [data] classes = 0, 1 */
  FUZZ_SUBSET = 1 << 2,  /* [data] n = 2 */
  FUZZ_SCALE = 3 << 3,   /* [data] scale: default, unit, none, minus1_1 */
  FUZZ_SHARD = 1 << 5,   /* load shard 1 of 2 instead of 0 of 1 */
  FUZZ_LAYOUT = 1 << 6   /* the source's directory layout (fashion-mnist,
                            cifar10 test_batch.bin) */
};

/* A data target's input: byte 0 holds the option bits; with FUZZ_TWO,
 * bytes 1-2 give the length n of the first file (little-endian, clipped to
 * what is there), the next n bytes are the first file and the rest the
 * second; otherwise the rest is the one file. */
struct fuzz_input {
  unsigned flags;
  const uint8_t *first, *second;
  size_t first_len, second_len;
};
void fuzz_split(const uint8_t *data, size_t size, struct fuzz_input *in);

/* The [data] scale line for the option bits ("" for the default). */
const char *fuzz_scale_line(unsigned flags);

/* A configuration parsed from text, cached under key (< 256) for the rest
 * of the process (the text of a key must never change). */
const sgm_config_t *fuzz_config(unsigned key, const char *text);

/* Probes and loads the data set cfg describes on MPI_COMM_SELF (shard 1 of
 * 2 with FUZZ_SHARD, else 0 of 1), checks what comes back and frees it. */
void fuzz_load(const sgm_config_t *cfg, unsigned flags);

#endif /* SGM_FUZZ_COMMON_H */
