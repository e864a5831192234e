/*
 * Parsing, resolution and printing of the configuration, and its collective
 * load: rank 0 parses the file and overrides into the resolved text, every
 * rank builds its struct from that text.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/internal.h"

/* Settings collected by a parse. */

int sgm__cfg_input_init(struct sgm__cfg_input *in, const char *origin,
                        const char *source, const char *default_name) {
  *in = (struct sgm__cfg_input){0};
  int err = 0;
  SGM_CALL_GOTO(SGM_CALLOC(in->set, (size_t)sgm__cfg_nkeys), fail);
  SGM_CALL_GOTO(sgm__cfg_strdup(&in->origin, origin), fail);
  SGM_CALL_GOTO(sgm__cfg_strdup(&in->source, source), fail);
  SGM_CALL_GOTO(sgm__cfg_strdup(&in->default_name, default_name), fail);
  return 0;
fail:
  sgm__cfg_input_free(in);
  return err;
}

static void free_setting(struct sgm__cfg_setting *s) {
  free(s->text);
  free(s->prefix);
  free(s->where);
  *s = (struct sgm__cfg_setting){0};
}

void sgm__cfg_input_free(struct sgm__cfg_input *in) {
  for (int k = 0; in->set && k < sgm__cfg_nkeys; k++)
    free_setting(&in->set[k]);
  for (int i = 0; i < in->nsweep; i++) {
    for (int j = 0; j < in->sweep[i].count; j++)
      free(in->sweep[i].values[j]);
    free(in->sweep[i].values);
    free(in->sweep[i].prefix);
  }
  free(in->sweep);
  free(in->set);
  free(in->origin);
  free(in->source);
  free(in->default_name);
  *in = (struct sgm__cfg_input){0};
}

static int dup_or_null(char **out, const char *s) {
  *out = NULL;
  return s ? sgm__cfg_strdup(out, s) : 0;
}

int sgm__cfg_input_set(struct sgm__cfg_input *in, int k, const char *text,
                       const char *prefix, const char *where) {
  struct sgm__cfg_setting s = {0};
  int err = 0;
  SGM_CALL_GOTO(dup_or_null(&s.text, text), fail);
  SGM_CALL_GOTO(dup_or_null(&s.prefix, prefix), fail);
  SGM_CALL_GOTO(dup_or_null(&s.where, where), fail);
  free_setting(&in->set[k]);
  in->set[k] = s;
  return 0;
fail:
  free_setting(&s);
  return err;
}

int sgm__cfg_input_copy(struct sgm__cfg_input *dst,
                        const struct sgm__cfg_input *src, bool skip_sweep) {
  SGM_CALL(
      sgm__cfg_input_init(dst, src->origin, src->source, src->default_name));
  dst->jacobian_seen = src->jacobian_seen;
  int err = 0;
  for (int k = 0; k < sgm__cfg_nkeys; k++) {
    const struct sgm__cfg_setting *s = &src->set[k];
    SGM_CALL_GOTO(sgm__cfg_input_set(dst, k, s->text, s->prefix, s->where),
                  fail);
  }
  if (skip_sweep)
    return 0;
  SGM_CALL_GOTO(SGM_CALLOC(dst->sweep, (size_t)src->nsweep), fail);
  for (int i = 0; i < src->nsweep; i++) {
    const struct sgm__cfg_sweep_entry *s = &src->sweep[i];
    struct sgm__cfg_sweep_entry *d = &dst->sweep[i];
    dst->nsweep = i + 1;
    *d = (struct sgm__cfg_sweep_entry){.key = s->key, .line = s->line};
    SGM_CALL_GOTO(sgm__cfg_strdup(&d->prefix, s->prefix), fail);
    SGM_CALL_GOTO(SGM_CALLOC(d->values, (size_t)s->count), fail);
    for (; d->count < s->count; d->count++)
      SGM_CALL_GOTO(sgm__cfg_strdup(&d->values[d->count], s->values[d->count]),
                    fail);
  }
  return 0;
fail:
  sgm__cfg_input_free(dst);
  return err;
}

/* Building the configuration. */

static int parse_key(sgm_config_t *cfg, const struct sgm__cfg_input *in, int k,
                     const char *text, bool is_default) {
  const struct sgm__cfg_key *key = &sgm__cfg_keys[k];
  char why[512];
  int rc = sgm__cfg_value_parse(key, text, cfg, why, sizeof why);
  if (rc == 1) {
    const char *prefix = in->set[k].prefix;
    return sgm_error_set(
        SGM_ERR_CONFIG, __FILE__, __LINE__, __func__,
        "%s: [%s] %s = '%s'%s: %s", !is_default && prefix ? prefix : in->origin,
        key->section, key->name, text, is_default ? " (default)" : "", why);
  }
  return rc;
}

static int copy_sweep(sgm_config_t *cfg, const struct sgm__cfg_input *in) {
  if (in->nsweep == 0)
    return 0;
  SGM_CALL(SGM_CALLOC(cfg->sweep.keys, (size_t)in->nsweep));
  for (int i = 0; i < in->nsweep; i++) {
    const struct sgm__cfg_sweep_entry *e = &in->sweep[i];
    const struct sgm__cfg_key *k = &sgm__cfg_keys[e->key];
    struct sgm_sweep_key *s = &cfg->sweep.keys[i];
    cfg->sweep.count = i + 1;
    struct sgm__buf name = {0};
    SGM_CALL(sgm__buf_printf(&name, "%s.%s", k->section, k->name));
    s->key = name.data;
    SGM_CALL(SGM_CALLOC(s->values, (size_t)e->count));
    for (; s->count < e->count; s->count++)
      SGM_CALL(sgm__cfg_strdup(&s->values[s->count], e->values[s->count]));
  }
  return 0;
}

int sgm__cfg_build(const struct sgm__cfg_input *in, int flags,
                   sgm_config_t **out) {
  *out = NULL;
  sgm_config_t *cfg = calloc(1, sizeof *cfg);
  SGM_CHECK(cfg, SGM_ERR_NOMEM, "out of memory for a configuration");
  int err = 0;
  bool *derived = NULL;
  struct sgm__buf text = {0};
  SGM_CALL_GOTO(SGM_CALLOC(derived, (size_t)sgm__cfg_nkeys), fail);
  SGM_CALL_GOTO(sgm__cfg_strdup(&cfg->source, in->source), fail);
  for (int k = 0; k < sgm__cfg_nkeys; k++) {
    const struct sgm__cfg_key *key = &sgm__cfg_keys[k];
    const char *given = in->set[k].text;
    if (given && given[0])
      SGM_CALL_GOTO(parse_key(cfg, in, k, given, false), fail);
    else if (key->def)
      SGM_CALL_GOTO(parse_key(cfg, in, k, key->def, true), fail);
    else if (key->derive)
      derived[k] = true;
    else
      SGM_CALL_GOTO(parse_key(cfg, in, k, "", true), fail);
  }
  /* Derived defaults, in table order: one may use an earlier one. */
  for (int k = 0; k < sgm__cfg_nkeys; k++) {
    char buf[4096];
    if (derived[k])
      SGM_CALL_GOTO(parse_key(cfg, in, k,
                              sgm__cfg_keys[k].derive(cfg, in, buf, sizeof buf),
                              true),
                    fail);
  }
  SGM_CALL_GOTO(sgm__cfg_check_rules(cfg, in), fail);
  SGM_CALL_GOTO(copy_sweep(cfg, in), fail);
  if (!(flags & SGM__CFG_NO_TEXT)) {
    SGM_CALL_GOTO(sgm__cfg_print(cfg, in, &text), fail);
    cfg->resolved = text.data;
    text = (struct sgm__buf){0};
  }
  if (flags & SGM__CFG_CHECK_TASKS)
    SGM_CALL_GOTO(sgm__cfg_sweep_check(cfg, in), fail);
  free(derived);
  *out = cfg;
  return 0;
fail:
  free(derived);
  sgm__buf_free(&text);
  sgm_config_destroy(&cfg);
  return err;
}

/* Printing the resolved text. */

/* "key = value", continued on indented lines after ", " when too long
 * (reading joins a piece ending in ',' to the next with one space, which
 * gives back the same value).  No line starts with a piece that begins with
 * whitespace (reading trims it) or a comment character. */
static int emit(struct sgm__buf *out, const char *key, const char *value,
                const char *prefix, const char *label) {
  const size_t max = SGM__CFG_MAX_LINE;
  if (!value[0])
    return sgm__buf_printf(out, "%s =\n", key);
  if (strlen(key) + 3 + strlen(value) <= max)
    return sgm__buf_printf(out, "%s = %s\n", key, value);
  SGM_CALL(sgm__buf_printf(out, "%s =", key));
  size_t col = strlen(key) + 2;
  for (const char *s = value; *s;) {
    const char *sep = strstr(s, ", ");
    size_t n = sep ? (size_t)(sep - s) + 1 : strlen(s);
    if (s != value && col + 1 + n > max && !sgm__cfg_space(*s) && *s != ';' &&
        *s != '#') {
      SGM_CALL(sgm__buf_append(out, "\n ", 2));
      col = 1;
    }
    SGM_CHECK(col + 1 + n <= max, SGM_ERR_CONFIG,
              "%s: %s = '%.40s...' is too long for the resolved "
              "configuration, whose lines hold %d characters and break only "
              "after ', '",
              prefix, label, value, SGM__CFG_MAX_LINE);
    SGM_CALL(sgm__buf_append(out, " ", 1));
    SGM_CALL(sgm__buf_append(out, s, n));
    col += 1 + n;
    s = sep ? sep + 2 : s + n;
  }
  return sgm__buf_append(out, "\n", 1);
}

int sgm__cfg_print(const sgm_config_t *cfg, const struct sgm__cfg_input *in,
                   struct sgm__buf *out) {
  int err = 0;
  struct sgm__buf value = {0};
  char label[128];
  for (int s = 0; sgm__cfg_sections[s]; s++) {
    const char *section = sgm__cfg_sections[s];
    if (strcmp(section, "sweep") == 0)
      break;
    SGM_CALL_GOTO(sgm__buf_printf(out, "%s[%s]\n", s ? "\n" : "", section),
                  done);
    for (int k = 0; k < sgm__cfg_nkeys; k++) {
      const struct sgm__cfg_key *key = &sgm__cfg_keys[k];
      if (strcmp(key->section, section) != 0)
        continue;
      value.len = 0;
      SGM_CALL_GOTO(sgm__buf_append(&value, "", 0), done);
      SGM_CALL_GOTO(sgm__cfg_value_format(key, cfg, &value), done);
      snprintf(label, sizeof label, "[%s] %s", section, key->name);
      SGM_CALL_GOTO(emit(out, key->name, value.data,
                         in->set[k].prefix ? in->set[k].prefix : in->origin,
                         label),
                    done);
    }
  }
  if (cfg->sweep.count > 0)
    SGM_CALL_GOTO(sgm__buf_printf(out, "\n[sweep]\n"), done);
  for (int i = 0; i < cfg->sweep.count; i++) {
    const struct sgm_sweep_key *s = &cfg->sweep.keys[i];
    value.len = 0;
    for (int j = 0; j < s->count; j++)
      SGM_CALL_GOTO(
          sgm__buf_printf(&value, "%s%s", j ? ", " : "", s->values[j]), done);
    snprintf(label, sizeof label, "[sweep] %s", s->key);
    SGM_CALL_GOTO(emit(out, s->key, value.data,
                       i < in->nsweep ? in->sweep[i].prefix : in->origin,
                       label),
                  done);
  }
done:
  sgm__buf_free(&value);
  return err;
}

/* The public interface. */

/* The file's name without directory and extension, made a valid name. */
static int name_from_path(const char *path, char **out) {
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  const char *dot = strrchr(base, '.');
  size_t n = dot && dot > base ? (size_t)(dot - base) : strlen(base);
  SGM_CALL(sgm__cfg_strdup_trim(out, base, n));
  for (char *c = *out; *c; c++)
    if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') ||
          (*c >= '0' && *c <= '9') || *c == '.' || *c == '_' || *c == '-'))
      *c = '_';
  if (!(*out)[0]) {
    free(*out);
    return sgm__cfg_strdup(out, "sgmrun");
  }
  return 0;
}

static int read_file(const char *path, char **out) {
  *out = NULL;
  FILE *fp = fopen(path, "rb");
  SGM_CHECK(fp, SGM_ERR_IO, "cannot read configuration '%s': %s", path,
            strerror(errno));
  struct sgm__buf text = {0};
  char chunk[4096];
  size_t n;
  int err = 0;
  while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0) {
    SGM_CHECK_GOTO(!memchr(chunk, '\0', n), SGM_ERR_CONFIG, done,
                   "%s: contains a NUL byte; a configuration is a text file",
                   path);
    SGM_CALL_GOTO(sgm__buf_append(&text, chunk, n), done);
  }
  SGM_CHECK_GOTO(!ferror(fp), SGM_ERR_IO, done,
                 "cannot read configuration '%s': %s", path, strerror(errno));
  SGM_CALL_GOTO(sgm__buf_append(&text, "", 0), done);
  *out = text.data;
  text.data = NULL;
done:
  sgm__buf_free(&text);
  fclose(fp);
  return err;
}

int sgm_config_parse(const char *path, const char *const *overrides,
                     int noverrides, sgm_config_t **out) {
  *out = NULL;
  SGM_CHECK(path && path[0], SGM_ERR_USAGE, "no configuration file given");
  char *text = NULL, *name = NULL;
  struct sgm__cfg_input in = {0};
  int err = 0;
  SGM_CALL_GOTO(read_file(path, &text), done);
  SGM_CALL_GOTO(name_from_path(path, &name), done);
  SGM_CALL_GOTO(sgm__cfg_input_init(&in, path, path, name), done);
  SGM_CALL_GOTO(sgm__cfg_read(&in, text, path), done);
  for (int i = 0; i < noverrides; i++)
    SGM_CALL_GOTO(sgm__cfg_apply_override(&in, overrides[i]), done);
  SGM_CALL_GOTO(sgm__cfg_build(&in, SGM__CFG_CHECK_TASKS, out), done);
done:
  sgm__cfg_input_free(&in);
  free(text);
  free(name);
  return err;
}

int sgm_config_parse_text(const char *text, const char *origin,
                          sgm_config_t **out) {
  *out = NULL;
  SGM_CHECK(text, SGM_ERR_USAGE, "no configuration text given");
  if (!origin || !origin[0])
    origin = "configuration text";
  struct sgm__cfg_input in;
  int err = 0;
  SGM_CALL(sgm__cfg_input_init(&in, origin, "", "sgmrun"));
  SGM_CALL_GOTO(sgm__cfg_read(&in, text, origin), done);
  SGM_CALL_GOTO(sgm__cfg_build(&in, SGM__CFG_CHECK_TASKS, out), done);
done:
  sgm__cfg_input_free(&in);
  return err;
}

/* Rank 0's resolved text to every rank; status agreed before and after. */
static int share_text(MPI_Comm comm, int rank, const char *mine, char **text) {
  long long len = rank == 0 ? (long long)strlen(mine) + 1 : 0;
  int err = 0;
  *text = NULL;
  SGM_MPI(MPI_Bcast(&len, 1, MPI_LONG_LONG, 0, comm));
  if (rank != 0)
    err = SGM_MALLOC(*text, (size_t)len);
  else
    err = sgm__cfg_strdup(text, mine);
  SGM_CALL(sgm_error_agree(comm, err));
  SGM_CHECK(len <= 0x7fffffff, SGM_ERR_CONFIG,
            "the resolved configuration is too long to share (%lld bytes)",
            len);
  SGM_MPI(MPI_Bcast(*text, (int)len, MPI_CHAR, 0, comm));
  return 0;
}

int sgm_config_load(MPI_Comm comm, const char *path,
                    const char *const *overrides, int noverrides,
                    sgm_config_t **out) {
  *out = NULL;
  int rank;
  SGM_MPI(MPI_Comm_rank(comm, &rank));
  sgm_config_t *first = NULL, *cfg = NULL;
  char *text = NULL;
  int err =
      rank == 0 ? sgm_config_parse(path, overrides, noverrides, &first) : 0;
  err = sgm_error_agree(comm, err);
  if (!err)
    err = share_text(comm, rank, first ? first->resolved : NULL, &text);
  sgm_config_destroy(&first);
  if (err) {
    free(text);
    return err;
  }
  /* Every rank, rank 0 included, builds from the same text. */
  err = sgm_config_parse_text(text, path, &cfg);
  if (!err) {
    free(cfg->source);
    err = sgm__cfg_strdup(&cfg->source, path ? path : "");
  }
  free(text);
  err = sgm_error_agree(comm, err);
  if (err) {
    sgm_config_destroy(&cfg);
    return err;
  }
  *out = cfg;
  return 0;
}

void sgm_config_destroy(sgm_config_t **cfg) {
  if (!cfg || !*cfg)
    return;
  sgm_config_t *c = *cfg;
  for (int k = 0; k < sgm__cfg_nkeys; k++)
    sgm__cfg_value_free(&sgm__cfg_keys[k], c);
  for (int i = 0; c->sweep.keys && i < c->sweep.count; i++) {
    for (int j = 0; j < c->sweep.keys[i].count; j++)
      free(c->sweep.keys[i].values[j]);
    free(c->sweep.keys[i].values);
    free(c->sweep.keys[i].key);
  }
  free(c->sweep.keys);
  free(c->source);
  free(c->resolved);
  free(c);
  *cfg = NULL;
}
