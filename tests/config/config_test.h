/* Helpers shared by the configuration tests. */
#ifndef SGM_CONFIG_TEST_H
#define SGM_CONFIG_TEST_H

#include "sgm/config.h"
#include "sgm_test.h"

/* Writes text to dir/name and returns the path (static storage). */
static inline const char *write_file(const char *dir, const char *name,
                                     const char *text) {
  static char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *fp = fopen(path, "w");
  if (!fp || fputs(text, fp) < 0)
    SGM_TEST_FAIL("cannot write %s", path);
  if (fp)
    fclose(fp);
  return path;
}

/* Parses text named "t.ini"; NULL (after a reported failure) on error. */
static inline sgm_config_t *parse_ok(const char *text) {
  sgm_config_t *cfg = NULL;
  ASSERT_OK(sgm_config_parse_text(text, "t.ini", &cfg));
  return cfg;
}

/* Parses text, which must fail with code and a message containing what. */
#define PARSE_FAILS(text, code, what)                                          \
  do {                                                                         \
    sgm_config_t *pf__cfg = NULL;                                              \
    ASSERT_FAILS(sgm_config_parse_text((text), "t.ini", &pf__cfg), (code),     \
                 (what));                                                      \
    ASSERT_TRUE(pf__cfg == NULL);                                              \
    sgm_config_destroy(&pf__cfg);                                              \
  } while (0)

/* The error message of parsing text (copied to static storage). */
static inline const char *parse_message(const char *text) {
  static char message[SGM_ERROR_MESSAGE_MAX];
  sgm_config_t *cfg = NULL;
  sgm_error_clear();
  if (sgm_config_parse_text(text, "t.ini", &cfg) == 0)
    SGM_TEST_FAIL("parsing succeeded:\n%s", text);
  snprintf(message, sizeof message, "%s", sgm_error_message());
  sgm_error_clear();
  sgm_config_destroy(&cfg);
  return message;
}

#endif
