/*
 * Reading INI text with inih, and `--set section.key=value` overrides.
 *
 * inih reads through our own line reader, which counts lines (inih calls
 * the handler right after reading a line, so the handler knows its line),
 * rejects lines longer than inih's buffer instead of letting them be split,
 * and spots section headers so that an unknown section is reported on its
 * own line even when it holds no keys.  Values are collected first (an
 * indented line continues the previous value) and validated once the whole
 * file is read, in file order.
 */
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/internal.h"

struct entry {
  int key;    /* index in the key table, or -1 for a [sweep] entry */
  char *name; /* the [sweep] key ("section.key") */
  struct sgm__buf value;
  int line;
};

struct reader {
  struct sgm__cfg_input *in;
  const char *origin;
  const char *text;
  size_t pos;
  int line;       /* the physical line inih is working on */
  bool indented;  /* it starts with whitespace */
  bool have_prev; /* inih holds a previous key (a continuation can follow) */
  struct entry *entries;
  int nentries, capacity;
  int err, err_line;
};

static void fail(struct reader *r, int err) {
  r->err = err;
  r->err_line = r->line;
}

/* A line that opens a section, as inih sees it: '[' then ']' before any
 * inline comment.  Returns the name's length, or -1. */
static int section_header(const char *start, const char **name) {
  if (*start != '[')
    return -1;
  bool was_space = false;
  for (const char *s = start + 1; *s; s++) {
    if (*s == ']') {
      *name = start + 1;
      return (int)(s - start - 1);
    }
    if (was_space && *s == ';')
      return -1;
    was_space = sgm__cfg_space(*s);
  }
  return -1;
}

static void on_section(struct reader *r, const char *name, int len) {
  char section[128];
  snprintf(section, sizeof section, "%.*s", len, name);
  r->have_prev = false;
  if (sgm__cfg_find_section(section) < 0) {
    char prefix[1024];
    snprintf(prefix, sizeof prefix, "%s:%d", r->origin, r->line);
    fail(r, sgm__cfg_unknown_section(prefix, section, false));
  } else if (strcmp(section, "jacobian") == 0) {
    r->in->jacobian_seen = true;
  }
}

static char *read_line(char *str, int num, void *stream) {
  struct reader *r = stream;
  if (r->err || !r->text[r->pos])
    return NULL;
  const char *s = r->text + r->pos, *nl = strchr(s, '\n');
  size_t len = nl ? (size_t)(nl - s) : strlen(s);
  r->pos += len + (nl != NULL);
  r->line++;
  if (len > 0 && s[len - 1] == '\r')
    len--;
  if (len > SGM__CFG_MAX_LINE || len + 1 > (size_t)num) {
    fail(r, sgm_error_set(SGM_ERR_CONFIG, __FILE__, __LINE__, __func__,
                          "%s:%d: line longer than %d characters; continue a "
                          "long list on an indented next line",
                          r->origin, r->line, SGM__CFG_MAX_LINE));
    return NULL;
  }
  memcpy(str, s, len);
  str[len] = '\0';

  const char *start = str;
  if (r->line == 1 && strncmp(start, "\xEF\xBB\xBF", 3) == 0)
    start += 3;
  while (sgm__cfg_space(*start))
    start++;
  r->indented = start > str;
  const char *name;
  int name_len;
  bool comment = *start == ';' || *start == '#';
  bool continuation = r->have_prev && *start && r->indented;
  if (!comment && !continuation &&
      (name_len = section_header(start, &name)) >= 0)
    on_section(r, name, name_len);
  return str;
}

/* The value of a continuation line, without an inline comment (inih keeps
 * it there). */
static size_t continuation_length(const char *value) {
  size_t n = 0;
  for (bool was_space = false; value[n]; n++) {
    if (was_space && value[n] == ';')
      break;
    was_space = sgm__cfg_space(value[n]);
  }
  while (n > 0 && sgm__cfg_space(value[n - 1]))
    n--;
  return n;
}

static int append(struct entry *e, const char *value) {
  size_t n = continuation_length(value);
  if (n == 0)
    return 0;
  if (e->value.len > 0) {
    bool comma = e->value.data[e->value.len - 1] == ',';
    SGM_CALL(sgm__buf_append(&e->value, comma ? " " : ", ", comma ? 1 : 2));
  }
  return sgm__buf_append(&e->value, value, n);
}

static int add_entry(struct reader *r, int key, const char *name,
                     const char *value) {
  if (r->nentries == r->capacity) {
    int capacity = r->capacity ? 2 * r->capacity : 32;
    struct entry *e = realloc(r->entries, (size_t)capacity * sizeof *e);
    SGM_CHECK(e, SGM_ERR_NOMEM, "out of memory reading %s", r->origin);
    r->entries = e;
    r->capacity = capacity;
  }
  struct entry *e = &r->entries[r->nentries];
  *e = (struct entry){.key = key, .line = r->line};
  if (key < 0)
    SGM_CALL(sgm__cfg_strdup(&e->name, name));
  r->nentries++;
  return sgm__buf_append(&e->value, value, strlen(value));
}

static int on_entry(void *user, const char *section, const char *name,
                    const char *value) {
  struct reader *r = user;
  if (r->err)
    return 0;
  bool continuation = r->have_prev && r->indented;
  r->have_prev = name[0] != '\0';
  if (continuation) {
    int err = append(&r->entries[r->nentries - 1], value);
    if (err)
      fail(r, err);
    return err == 0;
  }
  char prefix[1024];
  snprintf(prefix, sizeof prefix, "%s:%d", r->origin, r->line);
  if (!name[0])
    return 0; /* "= value": inih's syntax error */
  if (!section[0]) {
    fail(r, sgm_error_set(SGM_ERR_CONFIG, __FILE__, __LINE__, __func__,
                          "%s: key '%s' is outside any section; put it under "
                          "its [section] header",
                          prefix, name));
    return 0;
  }
  int key = -1;
  bool sweep = strcmp(section, "sweep") == 0;
  if (!sweep && sgm__cfg_find_section(section) < 0) {
    fail(r, sgm__cfg_unknown_section(prefix, section, false));
    return 0;
  }
  if (!sweep && (key = sgm__cfg_find_key(section, name)) < 0) {
    fail(r, sgm__cfg_unknown_key(prefix, section, name));
    return 0;
  }
  for (int i = 0; i < r->nentries; i++) {
    const struct entry *e = &r->entries[i];
    if (sweep ? e->key < 0 && strcmp(e->name, name) == 0 : e->key == key) {
      fail(r, sgm_error_set(SGM_ERR_CONFIG, __FILE__, __LINE__, __func__,
                            "%s: [%s] %s is set twice, on lines %d and %d; "
                            "set each key once",
                            prefix, section, name, e->line, r->line));
      return 0;
    }
  }
  int err = add_entry(r, key, name, value);
  if (err)
    fail(r, err);
  return err == 0;
}

static int value_error(const char *prefix, const struct sgm__cfg_key *k,
                       const char *text, const char *why) {
  return sgm_error_set(SGM_ERR_CONFIG, __FILE__, __LINE__, __func__,
                       "%s: [%s] %s = '%s': %s", prefix, k->section, k->name,
                       text, why);
}

/* Validates one value on its own (rules between keys come later). */
static int check_value(int key, const char *text, const char *prefix) {
  const struct sgm__cfg_key *k = &sgm__cfg_keys[key];
  sgm_config_t *scratch = calloc(1, sizeof *scratch);
  SGM_CHECK(scratch, SGM_ERR_NOMEM, "out of memory checking a value");
  char why[512];
  int rc = sgm__cfg_value_parse(k, text, scratch, why, sizeof why);
  sgm_config_destroy(&scratch);
  if (rc == 1)
    return value_error(prefix, k, text, why);
  return rc;
}

static int store_entries(struct reader *r) {
  for (int i = 0; i < r->nentries; i++) {
    const struct entry *e = &r->entries[i];
    const char *value = e->value.data ? e->value.data : "";
    char prefix[1024], where[64];
    snprintf(prefix, sizeof prefix, "%s:%d", r->origin, e->line);
    snprintf(where, sizeof where, "line %d", e->line);
    if (e->key < 0) {
      SGM_CALL(sgm__cfg_sweep_add(r->in, e->name, value, prefix, e->line));
      continue;
    }
    SGM_CALL(check_value(e->key, value, prefix));
    SGM_CALL(sgm__cfg_input_set(r->in, e->key, value, prefix, where));
  }
  return 0;
}

int sgm__cfg_read(struct sgm__cfg_input *in, const char *text,
                  const char *origin) {
  struct reader r = {.in = in, .origin = origin, .text = text};
  int bad_line = ini_parse_stream(read_line, &r, on_entry, &r);
  int err = r.err;
  if (bad_line > 0 && (!err || bad_line < r.err_line)) {
    /* inih found a line it cannot read before any error of ours. */
    sgm_error_clear();
    err = sgm_error_set(SGM_ERR_CONFIG, __FILE__, __LINE__, __func__,
                        "%s:%d: syntax error: expected 'key = value' or "
                        "'[section]'",
                        origin, bad_line);
  } else if (bad_line < 0 && !err) {
    err = sgm_error_set(SGM_ERR_NOMEM, __FILE__, __LINE__, __func__,
                        "inih failed (%d) reading %s", bad_line, origin);
  }
  if (!err)
    err = store_entries(&r);
  for (int i = 0; i < r.nentries; i++) {
    free(r.entries[i].name);
    sgm__buf_free(&r.entries[i].value);
  }
  free(r.entries);
  return err < 0 ? sgm_error_trace(err, __FILE__, __LINE__, __func__) : 0;
}

int sgm__cfg_apply_override(struct sgm__cfg_input *in, const char *override) {
  const char *eq = strchr(override, '='), *dot = strchr(override, '.');
  SGM_CHECK(eq && dot && dot < eq, SGM_ERR_USAGE,
            "--set '%s': expected section.key=value", override);
  char *key = NULL, *value = NULL, prefix[1024];
  int err = 0;
  SGM_CALL_GOTO(sgm__cfg_strdup_trim(&key, override, (size_t)(eq - override)),
                done);
  SGM_CALL_GOTO(sgm__cfg_strdup_trim(&value, eq + 1, strlen(eq + 1)), done);
  char *name = strchr(key, '.');
  SGM_CHECK_GOTO(name != key && name[1], SGM_ERR_USAGE, done,
                 "--set '%s': expected section.key=value", override);
  *name++ = '\0';
  snprintf(prefix, sizeof prefix, "--set %s", override);
  if (strcmp(key, "sweep") == 0) {
    SGM_CALL_GOTO(sgm__cfg_sweep_add(in, name, value, prefix, 0), done);
    goto done;
  }
  if (sgm__cfg_find_section(key) < 0) {
    err = sgm__cfg_unknown_section(prefix, key, false);
    goto done;
  }
  int k = sgm__cfg_find_key(key, name);
  if (k < 0) {
    err = sgm__cfg_unknown_key(prefix, key, name);
    goto done;
  }
  SGM_CALL_GOTO(check_value(k, value, prefix), done);
  SGM_CALL_GOTO(sgm__cfg_input_set(in, k, value, prefix, "--set"), done);
  if (strcmp(key, "jacobian") == 0)
    in->jacobian_seen = true;
done:
  free(key);
  free(value);
  return err;
}
