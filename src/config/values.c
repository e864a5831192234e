/*
 * Value parsers and formatters of the configuration keys: integers, reals,
 * booleans, choices, lists and vectors.  Parsing is strict (the whole text
 * must be consumed, reals must be finite) and formatting canonical, so that
 * the resolved text parses back to the same values.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/internal.h"

/* Scalars, each parsed from s[0..n) after trimming. */

static bool copy_trimmed(const char *s, size_t n, char *buf, size_t size) {
  while (n > 0 && sgm__cfg_space(*s))
    s++, n--;
  while (n > 0 && sgm__cfg_space(s[n - 1]))
    n--;
  if (n == 0 || n >= size)
    return false;
  memcpy(buf, s, n);
  buf[n] = '\0';
  return true;
}

static bool parse_i64(const char *s, size_t n, int64_t *out) {
  char buf[64], *end;
  if (!copy_trimmed(s, n, buf, sizeof buf))
    return false;
  errno = 0;
  long long v = strtoll(buf, &end, 10);
  if (*end || errno == ERANGE)
    return false;
  *out = v;
  return true;
}

static bool parse_u64(const char *s, size_t n, uint64_t *out) {
  char buf[64], *end;
  if (!copy_trimmed(s, n, buf, sizeof buf) || buf[0] == '-')
    return false;
  errno = 0;
  unsigned long long v = strtoull(buf, &end, 10);
  if (*end || errno == ERANGE)
    return false;
  *out = v;
  return true;
}

static bool parse_real(const char *s, size_t n, double *out) {
  char buf[128], *end;
  if (!copy_trimmed(s, n, buf, sizeof buf))
    return false;
  double v = strtod(buf, &end);
  if (*end || !isfinite(v))
    return false;
  *out = v;
  return true;
}

static bool real_in_bound(const struct sgm__cfg_key *k, double v) {
  return k->bound == SGM__CFG_ANY || (k->bound == SGM__CFG_GE && v >= k->min) ||
         (k->bound == SGM__CFG_GT && v > k->min);
}

/* Splits s at sep into pieces; returns the number of pieces. */
static int count_pieces(const char *s, char sep) {
  int count = 1;
  for (; *s; s++)
    count += *s == sep;
  return count;
}

/* The end of the piece starting at s. */
static const char *piece_end(const char *s, char sep) {
  const char *e = strchr(s, sep);
  return e ? e : s + strlen(s);
}

#define FIELD(cfg, k, type) ((type *)((char *)(cfg) + (k)->offset))
#define CFIELD(cfg, k, type) ((const type *)((const char *)(cfg) + (k)->offset))

static bool string_ok(const char *s) {
  for (size_t i = 0; s[i]; i++) {
    unsigned char c = (unsigned char)s[i];
    if ((c < 0x20 && c != '\t') || c == 0x7f)
      return false;
    /* inih would read ';' here as the start of a comment. */
    if (c == ';' && (i == 0 || sgm__cfg_space(s[i - 1])))
      return false;
  }
  return true;
}

static bool name_ok(const char *s) {
  for (; *s; s++)
    if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
          (*s >= '0' && *s <= '9') || *s == '.' || *s == '_' || *s == '-'))
      return false;
  return true;
}

static int set_string(char **field, const char *text) {
  char *copy = NULL;
  SGM_CALL(sgm__cfg_strdup(&copy, text));
  free(*field);
  *field = copy;
  return 0;
}

static int parse_classes(const char *text, struct sgm_int_list *out) {
  if (strcmp(text, "all") == 0)
    return 0;
  int count = count_pieces(text, ',');
  int64_t *values = malloc((size_t)count * sizeof *values);
  SGM_CHECK(values, SGM_ERR_NOMEM, "out of memory for %d classes", count);
  const char *s = text;
  for (int i = 0; i < count; i++) {
    const char *e = piece_end(s, ',');
    bool ok = parse_i64(s, (size_t)(e - s), &values[i]) && values[i] >= 0;
    for (int j = 0; ok && j < i; j++)
      ok = values[j] != values[i];
    if (!ok) {
      free(values);
      return 1;
    }
    s = e + 1;
  }
  out->count = count;
  out->values = values;
  return 0;
}

static int parse_reals(const struct sgm__cfg_key *k, const char *text,
                       struct sgm_real_list *out) {
  int count = count_pieces(text, ',');
  double *values = malloc((size_t)count * sizeof *values);
  SGM_CHECK(values, SGM_ERR_NOMEM, "out of memory for %d reals", count);
  const char *s = text;
  for (int i = 0; i < count; i++) {
    const char *e = piece_end(s, ',');
    if (!parse_real(s, (size_t)(e - s), &values[i]) ||
        !real_in_bound(k, values[i])) {
      free(values);
      return 1;
    }
    s = e + 1;
  }
  out->count = count;
  out->values = values;
  return 0;
}

static int parse_vectors(const char *text, struct sgm_vector_list *out,
                         char *why, size_t size) {
  int count = count_pieces(text, ','), total = count_pieces(text, ';') + count;
  double *values = malloc((size_t)total * sizeof *values);
  SGM_CHECK(values, SGM_ERR_NOMEM, "out of memory for %d components", total);
  int used = 0, dim = 0;
  const char *s = text;
  for (int i = 0; i < count; i++) {
    const char *e = piece_end(s, ','), *c = s;
    int components = 0;
    for (;;) {
      const char *ce = memchr(c, ';', (size_t)(e - c));
      if (!ce)
        ce = e;
      if (!parse_real(c, (size_t)(ce - c), &values[used++])) {
        free(values);
        return 1;
      }
      components++;
      if (ce == e)
        break;
      c = ce + 1;
    }
    if (i == 0)
      dim = components;
    else if (components != dim) {
      snprintf(why, size,
               "expected vectors of one length, but vector 1 has %d "
               "component%s and vector %d has %d",
               dim, dim == 1 ? "" : "s", i + 1, components);
      free(values);
      return 1;
    }
    s = e + 1;
  }
  out->count = count;
  out->dim = dim;
  out->values = values;
  return 0;
}

static bool parse_grid(const char *text, int *p, int *q) {
  const char *x = strchr(text, 'x');
  int64_t a, b;
  if (!x || !parse_i64(text, (size_t)(x - text), &a) ||
      !parse_i64(x + 1, strlen(x + 1), &b) || a < 1 || b < 1 || a > INT_MAX ||
      b > INT_MAX)
    return false;
  *p = (int)a;
  *q = (int)b;
  return true;
}

static int choice_index(const char *const *choices, const char *text) {
  for (int i = 0; choices[i]; i++)
    if (strcmp(choices[i], text) == 0)
      return i;
  return -1;
}

int sgm__cfg_value_parse(const struct sgm__cfg_key *k, const char *text,
                         sgm_config_t *cfg, char *why, size_t size) {
  sgm__cfg_expected(k, why, size);
  size_t n = strlen(text);
  bool empty = n == 0;
  int64_t i64 = 0;
  switch (k->type) {
  case SGM__CFG_STRING:
    if (!string_ok(text))
      return 1;
    return set_string(FIELD(cfg, k, char *), text);
  case SGM__CFG_NAME:
    if (!name_ok(text))
      return 1;
    return set_string(FIELD(cfg, k, char *), text);
  case SGM__CFG_U64: {
    uint64_t v = 0;
    if (!empty && !parse_u64(text, n, &v))
      return 1;
    *FIELD(cfg, k, uint64_t) = v;
    return 0;
  }
  case SGM__CFG_I64:
  case SGM__CFG_INT:
  case SGM__CFG_AUTO_INT:
    if (!empty &&
        !(k->type == SGM__CFG_AUTO_INT && strcmp(text, "auto") == 0)) {
      if (!parse_i64(text, n, &i64) || i64 < (int64_t)k->min)
        return 1;
      if (k->type != SGM__CFG_I64 && i64 > INT_MAX) {
        snprintf(why, size, "expected an integer from %" PRId64 " to %d",
                 (int64_t)k->min, INT_MAX);
        return 1;
      }
    }
    if (k->type == SGM__CFG_I64)
      *FIELD(cfg, k, int64_t) = i64;
    else
      *FIELD(cfg, k, int) = (int)i64;
    return 0;
  case SGM__CFG_REAL: {
    double v = 0;
    if (!empty && (!parse_real(text, n, &v) || !real_in_bound(k, v)))
      return 1;
    *FIELD(cfg, k, double) = v;
    return 0;
  }
  case SGM__CFG_BOOL: {
    static const char *const yes[] = {"yes", "true", "on", "1", NULL};
    static const char *const no[] = {"no", "false", "off", "0", NULL};
    bool v = choice_index(yes, text) >= 0;
    if (!empty && !v && choice_index(no, text) < 0)
      return 1;
    *FIELD(cfg, k, bool) = v;
    return 0;
  }
  case SGM__CFG_CHOICE: {
    int v = empty ? 0 : choice_index(k->choices, text);
    if (v < 0)
      return 1;
    *FIELD(cfg, k, int) = v;
    return 0;
  }
  case SGM__CFG_CLASSES: {
    struct sgm_int_list list = {0};
    int rc = empty ? 0 : parse_classes(text, &list);
    if (rc == 0) {
      sgm__cfg_value_free(k, cfg);
      *FIELD(cfg, k, struct sgm_int_list) = list;
    }
    return rc;
  }
  case SGM__CFG_REALS: {
    struct sgm_real_list list = {0};
    int rc = empty ? 0 : parse_reals(k, text, &list);
    if (rc == 0) {
      sgm__cfg_value_free(k, cfg);
      *FIELD(cfg, k, struct sgm_real_list) = list;
    }
    return rc;
  }
  case SGM__CFG_VECTORS: {
    struct sgm_vector_list list = {0};
    int rc = empty ? 0 : parse_vectors(text, &list, why, size);
    if (rc == 0) {
      sgm__cfg_value_free(k, cfg);
      *FIELD(cfg, k, struct sgm_vector_list) = list;
    }
    return rc;
  }
  case SGM__CFG_RANGE: {
    double *range = FIELD(cfg, k, double), lo = 0, hi = 0;
    const char *comma = strchr(text, ',');
    if (!empty && (!comma || strchr(comma + 1, ',') ||
                   !parse_real(text, (size_t)(comma - text), &lo) ||
                   !parse_real(comma + 1, strlen(comma + 1), &hi) || lo >= hi))
      return 1;
    range[0] = lo;
    range[1] = hi;
    return 0;
  }
  case SGM__CFG_GRID: {
    int p = 0, q = 0;
    if (!empty && strcmp(text, "auto") != 0 && !parse_grid(text, &p, &q))
      return 1;
    *FIELD(cfg, k, int) = p;
    *(int *)((char *)cfg + k->offset2) = q;
    return 0;
  }
  }
  return sgm_error_set(SGM_ERR_INTERNAL, __FILE__, __LINE__, __func__,
                       "key [%s] %s has no parser", k->section, k->name);
}

static int format_reals(struct sgm__buf *out, const double *v, int count,
                        const char *sep) {
  char buf[40];
  for (int i = 0; i < count; i++) {
    sgm__cfg_format_real(v[i], buf, sizeof buf);
    SGM_CALL(sgm__buf_printf(out, "%s%s", i ? sep : "", buf));
  }
  return 0;
}

int sgm__cfg_value_format(const struct sgm__cfg_key *k, const sgm_config_t *cfg,
                          struct sgm__buf *out) {
  switch (k->type) {
  case SGM__CFG_STRING:
  case SGM__CFG_NAME: {
    const char *s = *CFIELD(cfg, k, char *);
    return sgm__buf_printf(out, "%s", s ? s : "");
  }
  case SGM__CFG_U64:
    return sgm__buf_printf(out, "%" PRIu64, *CFIELD(cfg, k, uint64_t));
  case SGM__CFG_I64: {
    int64_t v = *CFIELD(cfg, k, int64_t);
    return k->optional && v == 0 ? 0 : sgm__buf_printf(out, "%" PRId64, v);
  }
  case SGM__CFG_INT: {
    int v = *CFIELD(cfg, k, int);
    return k->optional && v == 0 ? 0 : sgm__buf_printf(out, "%d", v);
  }
  case SGM__CFG_AUTO_INT: {
    int v = *CFIELD(cfg, k, int);
    return v == 0 ? sgm__buf_printf(out, "auto")
                  : sgm__buf_printf(out, "%d", v);
  }
  case SGM__CFG_REAL: {
    double v = *CFIELD(cfg, k, double);
    return k->optional && v == 0 ? 0 : format_reals(out, &v, 1, "");
  }
  case SGM__CFG_BOOL:
    return sgm__buf_printf(out, "%s", *CFIELD(cfg, k, bool) ? "yes" : "no");
  case SGM__CFG_CHOICE: {
    int v = *CFIELD(cfg, k, int);
    return sgm__buf_printf(out, "%s", k->choices[v]);
  }
  case SGM__CFG_CLASSES: {
    const struct sgm_int_list *l = CFIELD(cfg, k, struct sgm_int_list);
    if (l->count == 0)
      return sgm__buf_printf(out, "all");
    for (int i = 0; i < l->count; i++)
      SGM_CALL(sgm__buf_printf(out, "%s%" PRId64, i ? ", " : "", l->values[i]));
    return 0;
  }
  case SGM__CFG_REALS: {
    const struct sgm_real_list *l = CFIELD(cfg, k, struct sgm_real_list);
    return format_reals(out, l->values, l->count, ", ");
  }
  case SGM__CFG_VECTORS: {
    const struct sgm_vector_list *l = CFIELD(cfg, k, struct sgm_vector_list);
    for (int i = 0; i < l->count; i++) {
      if (i)
        SGM_CALL(sgm__buf_printf(out, ", "));
      SGM_CALL(format_reals(out, l->values + (size_t)i * l->dim, l->dim, ";"));
    }
    return 0;
  }
  case SGM__CFG_RANGE:
    return format_reals(out, CFIELD(cfg, k, double), 2, ", ");
  case SGM__CFG_GRID: {
    int p = *CFIELD(cfg, k, int);
    int q = *(const int *)((const char *)cfg + k->offset2);
    return p == 0 ? sgm__buf_printf(out, "auto")
                  : sgm__buf_printf(out, "%dx%d", p, q);
  }
  }
  return sgm_error_set(SGM_ERR_INTERNAL, __FILE__, __LINE__, __func__,
                       "key [%s] %s has no formatter", k->section, k->name);
}

void sgm__cfg_value_free(const struct sgm__cfg_key *k, sgm_config_t *cfg) {
  switch (k->type) {
  case SGM__CFG_STRING:
  case SGM__CFG_NAME:
    free(*FIELD(cfg, k, char *));
    *FIELD(cfg, k, char *) = NULL;
    break;
  case SGM__CFG_CLASSES:
    free(FIELD(cfg, k, struct sgm_int_list)->values);
    *FIELD(cfg, k, struct sgm_int_list) = (struct sgm_int_list){0};
    break;
  case SGM__CFG_REALS:
    free(FIELD(cfg, k, struct sgm_real_list)->values);
    *FIELD(cfg, k, struct sgm_real_list) = (struct sgm_real_list){0};
    break;
  case SGM__CFG_VECTORS:
    free(FIELD(cfg, k, struct sgm_vector_list)->values);
    *FIELD(cfg, k, struct sgm_vector_list) = (struct sgm_vector_list){0};
    break;
  default:
    break;
  }
}

static const char *bound_text(const struct sgm__cfg_key *k, char *buf,
                              size_t size, bool integer) {
  if (k->bound == SGM__CFG_ANY)
    return "";
  char num[40];
  if (integer)
    snprintf(num, sizeof num, "%" PRId64, (int64_t)k->min);
  else
    sgm__cfg_format_real(k->min, num, sizeof num);
  snprintf(buf, size, " %s %s", k->bound == SGM__CFG_GE ? ">=" : ">", num);
  return buf;
}

void sgm__cfg_expected(const struct sgm__cfg_key *k, char *buf, size_t size) {
  char b[64];
  switch (k->type) {
  case SGM__CFG_STRING:
    snprintf(buf, size,
             "expected text without control characters and without ';' at "
             "the start or after a space (it would start a comment)");
    return;
  case SGM__CFG_NAME:
    snprintf(buf, size,
             "expected a name made of letters, digits, '.', '_' and '-'");
    return;
  case SGM__CFG_U64:
    snprintf(buf, size, "expected an integer from 0 to %" PRIu64, UINT64_MAX);
    return;
  case SGM__CFG_I64:
  case SGM__CFG_INT:
    snprintf(buf, size, "expected an integer%s", bound_text(k, b, sizeof b, 1));
    return;
  case SGM__CFG_AUTO_INT:
    snprintf(buf, size, "expected auto or an integer%s",
             bound_text(k, b, sizeof b, 1));
    return;
  case SGM__CFG_REAL:
    snprintf(buf, size, "expected a real number%s",
             bound_text(k, b, sizeof b, 0));
    return;
  case SGM__CFG_BOOL:
    snprintf(buf, size, "expected yes or no");
    return;
  case SGM__CFG_CHOICE: {
    int used = snprintf(buf, size, "expected one of ");
    for (int i = 0; k->choices[i] && used >= 0 && (size_t)used < size; i++)
      used += snprintf(buf + used, size - (size_t)used, "%s%s", i ? ", " : "",
                       k->choices[i]);
    return;
  }
  case SGM__CFG_CLASSES:
    snprintf(buf, size,
             "expected all or a comma-separated list of distinct integers "
             ">= 0");
    return;
  case SGM__CFG_REALS:
    snprintf(buf, size, "expected a comma-separated list of real numbers%s%s",
             k->bound == SGM__CFG_ANY ? "" : ", each",
             bound_text(k, b, sizeof b, 0));
    return;
  case SGM__CFG_VECTORS:
    snprintf(buf, size,
             "expected a comma-separated list of vectors of one length, "
             "components separated by ';' (e.g. -2;0, 2;0)");
    return;
  case SGM__CFG_RANGE:
    snprintf(buf, size, "expected two real numbers lo, hi with lo < hi");
    return;
  case SGM__CFG_GRID:
    snprintf(buf, size,
             "expected auto or PxQ with integers P, Q >= 1 (e.g. 2x3)");
    return;
  }
  snprintf(buf, size, "expected a valid value");
}

bool sgm__cfg_is_list(const struct sgm__cfg_key *k) {
  return k->type == SGM__CFG_CLASSES || k->type == SGM__CFG_REALS ||
         k->type == SGM__CFG_VECTORS || k->type == SGM__CFG_RANGE;
}
