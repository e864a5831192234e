/*
 * Small string utilities of the configuration module: a growing buffer,
 * copies that record SGM_ERR_NOMEM, and the shortest round-trip form of a
 * real number.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/internal.h"

/* A growing string. */

int sgm__buf_append(struct sgm__buf *b, const char *s, size_t n) {
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (b->len + n + 1 > cap)
      cap *= 2;
    char *data = realloc(b->data, cap);
    SGM_CHECK(data, SGM_ERR_NOMEM, "out of memory building a %zu-byte string",
              cap);
    b->data = data;
    b->cap = cap;
  }
  memcpy(b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = '\0';
  return 0;
}

int sgm__buf_printf(struct sgm__buf *b, const char *fmt, ...) {
  char small[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(small, sizeof small, fmt, ap);
  va_end(ap);
  SGM_CHECK(n >= 0, SGM_ERR_INTERNAL, "cannot format '%s'", fmt);
  if ((size_t)n < sizeof small)
    return sgm__buf_append(b, small, (size_t)n);
  char *big = malloc((size_t)n + 1);
  SGM_CHECK(big, SGM_ERR_NOMEM, "out of memory formatting %d bytes", n);
  va_start(ap, fmt);
  vsnprintf(big, (size_t)n + 1, fmt, ap);
  va_end(ap);
  int err = sgm__buf_append(b, big, (size_t)n);
  free(big);
  return err;
}

void sgm__buf_free(struct sgm__buf *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

int sgm__cfg_strdup(char **out, const char *s) {
  size_t n = strlen(s) + 1;
  char *copy = malloc(n);
  SGM_CHECK(copy, SGM_ERR_NOMEM, "out of memory copying %zu bytes", n);
  memcpy(copy, s, n);
  *out = copy;
  return 0;
}

int sgm__cfg_strdup_trim(char **out, const char *s, size_t n) {
  while (n > 0 && sgm__cfg_space(*s))
    s++, n--;
  while (n > 0 && sgm__cfg_space(s[n - 1]))
    n--;
  char *copy = malloc(n + 1);
  SGM_CHECK(copy, SGM_ERR_NOMEM, "out of memory copying %zu bytes", n + 1);
  memcpy(copy, s, n);
  copy[n] = '\0';
  *out = copy;
  return 0;
}

void sgm__cfg_format_real(double v, char *buf, size_t size) {
  /* Formatted and read back in a buffer that always holds %.17g (at most 24
   * characters, "-1.2345678901234567e-308"), so the check never reads a
   * truncated number; the caller's buffer gets the result. */
  char text[32];
  for (int digits = 15; digits <= 17; digits++) {
    snprintf(text, sizeof text, "%.*g", digits, v);
    if (strtod(text, NULL) == v)
      break;
  }
  snprintf(buf, size, "%s", text);
}
