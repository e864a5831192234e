/*
 * Private interface of the configuration module: the key table, the value
 * parsers and formatters, and the parse state shared by its files.
 *
 * A parse collects "settings" (the text given for each key, with where it
 * came from) into an sgm__cfg_input; sgm__cfg_build then fills the defaults,
 * parses every value into the public struct, checks the rules between keys
 * and prints the resolved text.
 */
#ifndef SGM_CONFIG_INTERNAL_H
#define SGM_CONFIG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "sgm/config.h"
#include "sgm/error.h"

/** Longest physical line of a configuration file, in characters. */
#define SGM__CFG_MAX_LINE 199

/** Sweeps with at most this many tasks have every task checked at parse. */
#define SGM__CFG_SWEEP_CHECK_MAX 10000

enum sgm__cfg_type {
  SGM__CFG_STRING,   /* char *: free text */
  SGM__CFG_NAME,     /* char *: [A-Za-z0-9._-]+ */
  SGM__CFG_U64,      /* uint64_t */
  SGM__CFG_I64,      /* int64_t, >= min */
  SGM__CFG_INT,      /* int, >= min */
  SGM__CFG_AUTO_INT, /* int, "auto" = 0, else >= min */
  SGM__CFG_REAL,     /* double, bounded by bound/min */
  SGM__CFG_BOOL,     /* bool */
  SGM__CFG_CHOICE,   /* enum, one of choices */
  SGM__CFG_CLASSES,  /* struct sgm_int_list: "all" (empty) or ints >= 0 */
  SGM__CFG_REALS,    /* struct sgm_real_list, each bounded by bound/min */
  SGM__CFG_VECTORS,  /* struct sgm_vector_list */
  SGM__CFG_RANGE,    /* double[2], lo < hi */
  SGM__CFG_GRID      /* two ints at offset and offset2: "auto" or PxQ */
};

enum sgm__cfg_bound { SGM__CFG_ANY, SGM__CFG_GE, SGM__CFG_GT };

struct sgm__cfg_input;

/** Computes a derived default from the keys parsed so far; returns its text
 * (possibly buf, possibly "" for "stays unset"). */
typedef const char *(*sgm__cfg_derive_fn)(const sgm_config_t *cfg,
                                          const struct sgm__cfg_input *in,
                                          char *buf, size_t size);

/** One configuration key: one row of the key table. */
struct sgm__cfg_key {
  const char *section;
  const char *name;
  enum sgm__cfg_type type;
  const char *def;            /* default text, or NULL (derived or unset) */
  sgm__cfg_derive_fn derive;  /* derived default, or NULL */
  enum sgm__cfg_bound bound;  /* numeric lower bound (each list element) */
  double min;                 /* the bound's value */
  bool optional;              /* a zero value means unset, printed empty */
  const char *const *choices; /* CHOICE: names in enum order, NULL-ended */
  size_t offset, offset2;     /* field(s) in sgm_config_t */
  const char *doc;            /* one line: what the key does */
};

extern const struct sgm__cfg_key sgm__cfg_keys[];
extern const int sgm__cfg_nkeys;
/** Section names in canonical order, "sweep" last, NULL-terminated. */
extern const char *const sgm__cfg_sections[];

/** Index of a section in sgm__cfg_sections, or -1. */
int sgm__cfg_find_section(const char *name);
/** Index of a key in sgm__cfg_keys, or -1. */
int sgm__cfg_find_key(const char *section, const char *name);

/** isspace for the C locale, without its int/char pitfalls. */
static inline bool sgm__cfg_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
         c == '\v';
}

/* A growing string. */
struct sgm__buf {
  char *data;
  size_t len, cap;
};
int sgm__buf_append(struct sgm__buf *b, const char *s, size_t n);
int sgm__buf_printf(struct sgm__buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void sgm__buf_free(struct sgm__buf *b);
/** strdup that records SGM_ERR_NOMEM; returns 0 or the error. */
int sgm__cfg_strdup(char **out, const char *s);
/** Copies s without leading and trailing whitespace (caller frees). */
int sgm__cfg_strdup_trim(char **out, const char *s, size_t n);

/** The shortest of %.15g, %.16g, %.17g that reads back as v. */
void sgm__cfg_format_real(double v, char *buf, size_t size);

/**
 * Parses text (trimmed; "" means unset) into the key's field of cfg,
 * replacing and freeing what was there.
 * @return 0; 1 when the text is not a valid value (why then says what is
 *         allowed, starting "expected"); or a negative SGM_ERR_* (no memory).
 */
int sgm__cfg_value_parse(const struct sgm__cfg_key *k, const char *text,
                         sgm_config_t *cfg, char *why, size_t size);
/** Appends the canonical text of the key's value in cfg to out. */
int sgm__cfg_value_format(const struct sgm__cfg_key *k, const sgm_config_t *cfg,
                          struct sgm__buf *out);
/** Frees the heap memory of the key's field (NULL-safe, idempotent). */
void sgm__cfg_value_free(const struct sgm__cfg_key *k, sgm_config_t *cfg);
/** What the key accepts, as "expected ...". */
void sgm__cfg_expected(const struct sgm__cfg_key *k, char *buf, size_t size);
/** True for keys whose value is a list (they cannot be swept). */
bool sgm__cfg_is_list(const struct sgm__cfg_key *k);

/* Errors for unknown names, with a suggestion when one is close (suggest.c).
 * prefix is the whole origin ("x.ini:3" or "x.ini:3: [sweep] a.b"). */
int sgm__cfg_unknown_section(const char *prefix, const char *name,
                             bool sweep_target);
int sgm__cfg_unknown_key(const char *prefix, const char *section,
                         const char *name);
/** Optimal-string-alignment (restricted Damerau-Levenshtein) distance. */
int sgm__cfg_distance(const char *a, const char *b);

/** The text given for one key and where it came from. */
struct sgm__cfg_setting {
  char *text;   /* NULL or "": unset */
  char *prefix; /* the start of an error about this key: "x.ini:12" */
  char *where;  /* how other keys' errors name it: "line 12", "--set" */
};

/** One [sweep] entry: a key and its values (canonical text). */
struct sgm__cfg_sweep_entry {
  int key;
  int count;
  char **values;
  char *prefix;
  int line; /* 0 for --set */
};

/** Everything a parse collected before the configuration is built. */
struct sgm__cfg_input {
  char *origin;                 /* names the input in messages */
  char *source;                 /* becomes cfg->source */
  char *default_name;           /* the derived [run] name */
  struct sgm__cfg_setting *set; /* one per key of the table */
  int nsweep;
  struct sgm__cfg_sweep_entry *sweep;
  bool jacobian_seen; /* a [jacobian] section or jacobian.* override */
};

int sgm__cfg_input_init(struct sgm__cfg_input *in, const char *origin,
                        const char *source, const char *default_name);
void sgm__cfg_input_free(struct sgm__cfg_input *in);
/** Replaces the setting of key k (text may be "" for unset). */
int sgm__cfg_input_set(struct sgm__cfg_input *in, int k, const char *text,
                       const char *prefix, const char *where);
/** Copies the settings of src and (unless skip_sweep) its sweep. */
int sgm__cfg_input_copy(struct sgm__cfg_input *dst,
                        const struct sgm__cfg_input *src, bool skip_sweep);

/** Reads INI text into in (reader.c); errors name origin and line. */
int sgm__cfg_read(struct sgm__cfg_input *in, const char *text,
                  const char *origin);
/** Applies one "section.key=value" override (reader.c). */
int sgm__cfg_apply_override(struct sgm__cfg_input *in, const char *override);

/**
 * Validates one [sweep] entry ("section.key" and its comma-separated values)
 * and stores it in in, replacing an earlier entry of the same key; an empty
 * value removes the key from the sweep (sweep.c).
 */
int sgm__cfg_sweep_add(struct sgm__cfg_input *in, const char *key,
                       const char *values, const char *prefix, int line);
/** Checks the tasks of cfg's sweep (at most SGM__CFG_SWEEP_CHECK_MAX). */
int sgm__cfg_sweep_check(const sgm_config_t *cfg,
                         const struct sgm__cfg_input *in);

enum {
  SGM__CFG_CHECK_TASKS = 1, /* also check every sweep task */
  SGM__CFG_NO_TEXT = 2      /* skip the resolved text (task checks) */
};
/** Resolves defaults, parses and checks everything, prints the text. */
int sgm__cfg_build(const struct sgm__cfg_input *in, int flags,
                   sgm_config_t **out);
/** The rules between keys (rules.c). */
int sgm__cfg_check_rules(const sgm_config_t *cfg,
                         const struct sgm__cfg_input *in);
/** Prints the resolved text of cfg (with cfg's sweep) into out. */
int sgm__cfg_print(const sgm_config_t *cfg, const struct sgm__cfg_input *in,
                   struct sgm__buf *out);

#endif /* SGM_CONFIG_INTERNAL_H */
