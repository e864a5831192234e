/*
 * "Did you mean" for unknown sections and keys: the closest valid name by
 * optimal-string-alignment distance (Damerau-Levenshtein with adjacent
 * transpositions), offered when it is within max(2, len/3) edits; otherwise
 * the error lists every valid name.
 */
#include <stdio.h>
#include <string.h>

#include "config/internal.h"

int sgm__cfg_distance(const char *a, const char *b) {
  /* Names are short; longer inputs are compared on their first 63 chars. */
  enum { N = 64 };
  int la = 0, lb = 0;
  while (la < N - 1 && a[la])
    la++;
  while (lb < N - 1 && b[lb])
    lb++;
  static _Thread_local int d[N][N];
  for (int i = 0; i <= la; i++)
    d[i][0] = i;
  for (int j = 0; j <= lb; j++)
    d[0][j] = j;
  for (int i = 1; i <= la; i++)
    for (int j = 1; j <= lb; j++) {
      int cost = a[i - 1] != b[j - 1];
      int best = d[i - 1][j] + 1;
      if (d[i][j - 1] + 1 < best)
        best = d[i][j - 1] + 1;
      if (d[i - 1][j - 1] + cost < best)
        best = d[i - 1][j - 1] + cost;
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
          d[i - 2][j - 2] + 1 < best)
        best = d[i - 2][j - 2] + 1;
      d[i][j] = best;
    }
  return d[la][lb];
}

/* The closest of names[0..n) to word when close enough, else NULL. */
static const char *closest(const char *word, const char *const *names, int n) {
  int len = (int)strlen(word), limit = len / 3 > 2 ? len / 3 : 2;
  const char *best = NULL;
  int best_d = limit + 1;
  for (int i = 0; i < n; i++) {
    int dist = sgm__cfg_distance(word, names[i]);
    if (dist < best_d) {
      best_d = dist;
      best = names[i];
    }
  }
  return best;
}

int sgm__cfg_unknown_section(const char *prefix, const char *name,
                             bool sweep_target) {
  const char *names[32] = {0};
  int n = 0;
  for (int i = 0; sgm__cfg_sections[i] && n < 32; i++)
    if (!sweep_target || strcmp(sgm__cfg_sections[i], "sweep") != 0)
      names[n++] = sgm__cfg_sections[i];
  const char *best = closest(name, names, n);
  if (best)
    return sgm_error_set(SGM_ERR_CONFIG, __FILE__, __LINE__, __func__,
                         "%s: unknown section [%s]; did you mean [%s]?", prefix,
                         name, best);
  char list[512] = "";
  for (int i = 0; i < n; i++) {
    size_t used = strlen(list);
    snprintf(list + used, sizeof list - used, "%s[%s]", i ? ", " : "",
             names[i]);
  }
  return sgm_error_set(SGM_ERR_CONFIG, __FILE__, __LINE__, __func__,
                       "%s: unknown section [%s]; valid sections: %s", prefix,
                       name, list);
}

int sgm__cfg_unknown_key(const char *prefix, const char *section,
                         const char *name) {
  const char *names[64] = {0};
  int n = 0;
  for (int k = 0; k < sgm__cfg_nkeys && n < 64; k++)
    if (strcmp(sgm__cfg_keys[k].section, section) == 0)
      names[n++] = sgm__cfg_keys[k].name;
  const char *best = closest(name, names, n);
  if (best)
    return sgm_error_set(SGM_ERR_CONFIG, __FILE__, __LINE__, __func__,
                         "%s: unknown key '%s' in [%s]; did you mean '%s'?",
                         prefix, name, section, best);
  char list[1024] = "";
  for (int i = 0; i < n; i++) {
    size_t used = strlen(list);
    snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", names[i]);
  }
  return sgm_error_set(SGM_ERR_CONFIG, __FILE__, __LINE__, __func__,
                       "%s: unknown key '%s' in [%s]; valid keys: %s", prefix,
                       name, section, list);
}
