/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-data"

/* A CSV file of path,label rows, read as RFC 4180 says (quoted fields may hold commas,
 * doubled quotes and line breaks; lines end in LF or CRLF), with a header row or not.
 * With a header, the path and label columns are found by their names; without one they
 * are the first two. Paths are relative to the CSV's folder. A label is a class name or,
 * when every label is a whole number, a class index. */

#include <string.h>

#include "graft-dataset-private.h"

/* Columns kept per row; more are read and dropped. */
#define MAX_FIELDS 4096

typedef struct {
  const char *data;
  gsize       length;
  gsize       pos;
  guint       line;       /* the line @pos is on, from 1 */
  char        delimiter;
} CsvReader;

typedef struct {
  char  *path;   /* as written in the file */
  char  *label;
  char  *resolved;
  guint  line;
} CsvRow;

static void
csv_row_clear (gpointer data)
{
  CsvRow *row = data;

  g_free (row->path);
  g_free (row->label);
  g_free (row->resolved);
}

/* The next record's fields, the line it starts on and whether a quoted field in it runs
 * to the end of the data; FALSE at the end of the data. */
static gboolean
csv_next_record (CsvReader *reader,
                 GPtrArray *fields,
                 guint     *line,
                 gboolean  *unterminated)
{
  const char *data = reader->data;
  gsize length = reader->length;

  if (reader->pos >= length)
    return FALSE;
  g_ptr_array_set_size (fields, 0);
  *line = reader->line;
  *unterminated = FALSE;

  for (;;)
    {
      GString *field = g_string_new (NULL);
      char c;

      if (reader->pos < length && data[reader->pos] == '"')
        {
          reader->pos++;
          for (;;)
            {
              if (reader->pos >= length)
                {
                  *unterminated = TRUE;
                  break;
                }
              c = data[reader->pos++];
              if (c == '"')
                {
                  if (reader->pos < length && data[reader->pos] == '"')
                    reader->pos++;
                  else
                    break;
                }
              else if (c == '\n'
                       || (c == '\r' && (reader->pos >= length || data[reader->pos] != '\n')))
                reader->line++;
              g_string_append_c (field, c);
            }
        }
      /* an unquoted field, or what follows a closing quote before the delimiter (read
       * as text, as spreadsheets do) */
      while (reader->pos < length)
        {
          c = data[reader->pos];
          if (c == reader->delimiter || c == '\n' || c == '\r')
            break;
          g_string_append_c (field, c);
          reader->pos++;
        }
      if (fields->len < MAX_FIELDS)
        g_ptr_array_add (fields, g_string_free (field, FALSE));
      else
        g_string_free (field, TRUE);

      if (reader->pos >= length)
        return TRUE;
      c = data[reader->pos++];
      if (c == reader->delimiter)
        continue;
      if (c == '\r' && reader->pos < length && data[reader->pos] == '\n')
        reader->pos++;
      reader->line++;
      return TRUE;
    }
}

/* A comma, or else the tab or semicolon the first line uses. */
static char
guess_delimiter (const char *data,
                 gsize       length)
{
  gsize end = 0;
  gboolean tab = FALSE, semicolon = FALSE;

  while (end < length && data[end] != '\n' && data[end] != '\r')
    {
      if (data[end] == ',')
        return ',';
      tab = tab || data[end] == '\t';
      semicolon = semicolon || data[end] == ';';
      end++;
    }
  return tab ? '\t' : semicolon ? ';' : ',';
}

static gboolean
is_word (const char *cell,
         const char *const *words)
{
  g_autoptr(GString) key = g_string_new (NULL);

  for (const char *p = cell; *p != '\0'; p++)
    if (*p != ' ' && *p != '_' && *p != '-' && *p != '.')
      g_string_append_c (key, g_ascii_tolower (*p));
  for (guint i = 0; words[i] != NULL; i++)
    if (g_str_equal (key->str, words[i]))
      return TRUE;
  return FALSE;
}

static const char *const path_words[] = {
  "path", "file", "filename", "filepath", "filenames", "image", "imagepath", "imagefile",
  "imagename", "imagefilename", "img", "imgpath", "relativepath", NULL,
};
static const char *const label_words[] = {
  "label", "labels", "class", "classname", "classlabel", "category", "categoryname",
  "target", "labelname", NULL,
};

/* A cell a header would hold: a short word (letters, digits, spaces, _ and -) that starts
 * with a letter. */
static gboolean
looks_like_word (const char *cell)
{
  gsize n = strlen (cell);

  if (n == 0 || n > 64 || !g_ascii_isalpha (cell[0]))
    return FALSE;
  for (gsize i = 0; i < n; i++)
    if (!g_ascii_isalnum (cell[i]) && cell[i] != '_' && cell[i] != '-' && cell[i] != ' ')
      return FALSE;
  return TRUE;
}

/* @cell as a path: absolute, against @base_dir when relative. */
static char *
resolve (const char *cell,
         const char *base_dir)
{
  return g_canonicalize_filename (cell, base_dir);
}

static gboolean
is_file (const char *cell,
         const char *base_dir)
{
  g_autofree char *path = NULL;

  if (*cell == '\0')
    return FALSE;
  path = resolve (cell, base_dir);
  return g_file_test (path, G_FILE_TEST_IS_REGULAR);
}

static gboolean
parse_integer (const char *text,
               gint64     *value)
{
  return g_ascii_string_to_signed (text, 10, G_MININT64, G_MAXINT64, value, NULL);
}

/* Which columns hold the path and the label, and whether @first is a header row. */
static gboolean
find_columns (GPtrArray  *first,
              const char *base_dir,
              guint      *path_col,
              guint      *label_col)
{
  int pcol = -1, lcol = -1;
  gboolean header = FALSE;

  for (guint i = 0; i < first->len; i++)
    {
      g_autofree char *cell = g_strstrip (g_strdup (g_ptr_array_index (first, i)));

      if (pcol < 0 && is_word (cell, path_words))
        pcol = (int) i;
      else if (lcol < 0 && is_word (cell, label_words))
        lcol = (int) i;
    }
  if (pcol >= 0 || lcol >= 0)
    {
      guint at = pcol >= 0 ? (guint) pcol : (lcol == 0 ? 1 : 0);
      g_autofree char *cell = at < first->len ? g_strstrip (g_strdup (g_ptr_array_index (first, at)))
                                              : g_strdup ("");

      header = !is_file (cell, base_dir);
    }
  else if (first->len >= 2)
    {
      g_autofree char *path = g_strstrip (g_strdup (g_ptr_array_index (first, 0)));
      g_autofree char *label = g_strstrip (g_strdup (g_ptr_array_index (first, 1)));

      header = !is_file (path, base_dir) && !_graft_dataset_has_image_extension (path)
               && looks_like_word (path) && looks_like_word (label);
    }

  if (!header)
    {
      *path_col = 0;
      *label_col = 1;
      return FALSE;
    }
  if (pcol < 0)
    pcol = lcol == 0 ? 1 : 0;
  if (lcol < 0)
    lcol = pcol == 0 ? 1 : 0;
  *path_col = (guint) pcol;
  *label_col = (guint) lcol;
  return TRUE;
}

/* Checks each row's file: rows whose file is missing are problems and are dropped. */
static gboolean
check_files (GArray            *rows,
             const char        *base_dir,
             GraftProblemSink  *sink,
             GraftDatasetJob   *job,
             GError           **error)
{
  for (guint i = 0; i < rows->len; i++)
    {
      CsvRow *row = &g_array_index (rows, CsvRow, i);

      if (job != NULL && g_cancellable_set_error_if_cancelled (job->cancellable, error))
        return FALSE;
      row->resolved = resolve (row->path, base_dir);
      if (!g_file_test (row->resolved, G_FILE_TEST_IS_REGULAR) && strchr (row->path, '\\') != NULL)
        {
          /* written on Windows: images\cat\1.png */
          g_autofree char *slashed = g_strdelimit (g_strdup (row->path), "\\", '/');

          g_free (row->resolved);
          row->resolved = resolve (slashed, base_dir);
        }
      if (!g_file_test (row->resolved, G_FILE_TEST_IS_REGULAR))
        {
          _graft_problem_sink_add (sink, GRAFT_DATA_PROBLEM_MISSING_FILE, row->line,
                                   "%s line %u names %s, which %s (looked for %s); fix the path "
                                   "or remove the row",
                                   sink->file, row->line, row->path,
                                   g_file_test (row->resolved, G_FILE_TEST_IS_DIR)
                                     ? "is a folder, not an image" : "is not there",
                                   row->resolved);
          g_clear_pointer (&row->resolved, g_free);
        }
      _graft_dataset_job_step (job, rows->len);
    }
  return TRUE;
}

static int
compare_strings (gconstpointer a,
                 gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

/* Classes and samples from the rows that name a file. */
static void
add_rows (GraftDataset     *dataset,
          GArray           *rows,
          const char       *root_dir,
          GraftProblemSink *sink)
{
  gboolean integers = FALSE, grow = dataset->classes->len == 0;

  for (guint i = 0; i < rows->len; i++)
    {
      CsvRow *row = &g_array_index (rows, CsvRow, i);
      gint64 value;

      if (row->resolved == NULL)
        continue;
      integers = parse_integer (row->label, &value);
      if (!integers)
        break;
    }

  if (!integers)
    {
      g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
      g_autoptr(GPtrArray) names = g_ptr_array_new ();

      for (guint i = 0; i < rows->len; i++)
        {
          CsvRow *row = &g_array_index (rows, CsvRow, i);

          if (row->resolved != NULL && g_hash_table_add (seen, row->label))
            g_ptr_array_add (names, row->label);
        }
      g_ptr_array_sort (names, compare_strings);
      for (guint i = 0; i < names->len; i++)
        if (dataset->classes->len < _GRAFT_DATASET_MAX_CLASSES
            || graft_dataset_find_class (dataset, g_ptr_array_index (names, i)) >= 0)
          graft_dataset_add_class (dataset, g_ptr_array_index (names, i));
    }

  for (guint i = 0; i < rows->len; i++)
    {
      CsvRow *row = &g_array_index (rows, CsvRow, i);
      char *sample_name;
      int label;

      if (row->resolved == NULL)
        continue;
      if (integers)
        {
          gint64 value = 0;
          gint64 limit = grow ? _GRAFT_DATASET_MAX_CLASSES : (gint64) dataset->classes->len;

          parse_integer (row->label, &value);
          if (value < 0 || value >= limit)
            {
              _graft_problem_sink_add (sink, GRAFT_DATA_PROBLEM_UNKNOWN_LABEL, row->line,
                                       "%s line %u has the class index %s, outside 0 to %"
                                       G_GINT64_FORMAT "; fix the label or remove the row",
                                       sink->file, row->line, row->label, limit - 1);
              continue;
            }
          while (grow && dataset->classes->len <= (guint) value)
            {
              g_autofree char *name = g_strdup_printf ("%u", dataset->classes->len);

              graft_dataset_add_class (dataset, name);
            }
          label = (int) value;
        }
      else
        {
          label = graft_dataset_find_class (dataset, row->label);
          if (label < 0)
            {
              _graft_problem_sink_add (sink, GRAFT_DATA_PROBLEM_UNKNOWN_LABEL, row->line,
                                       "%s line %u has the label %s, beyond the %u classes Graft "
                                       "takes from one file; the row is left out",
                                       sink->file, row->line, row->label,
                                       _GRAFT_DATASET_MAX_CLASSES);
              continue;
            }
        }
      sample_name = _graft_dataset_relative_name (root_dir, row->resolved, row->path);
      graft_dataset_add_sample (dataset, g_steal_pointer (&row->resolved), sample_name, label);
    }
}

gboolean
_graft_dataset_parse_csv (GraftDataset     *dataset,
                          const char       *data,
                          gsize             length,
                          const char       *name,
                          const char       *base_dir,
                          GraftDatasetJob  *job,
                          GError          **error)
{
  g_autoptr(GPtrArray) fields = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GArray) rows = g_array_new (FALSE, TRUE, sizeof (CsvRow));
  g_autofree char *root_dir = NULL;
  GraftProblemSink sink;
  CsvReader reader = { data, length, 0, 1, ',' };
  guint path_col = 0, label_col = 1, need, line, n_records = 0;
  gboolean header = FALSE, unterminated;

  g_array_set_clear_func (rows, csv_row_clear);
  if (length >= 3 && memcmp (data, "\xef\xbb\xbf", 3) == 0)
    reader.pos = 3;  /* a UTF-8 byte order mark, as spreadsheets write */
  if (memchr (data, '\0', length) != NULL)
    {
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_PARSE,
                   "%s is not a CSV file: it holds NUL bytes, so it is binary or text in "
                   "UTF-16; save it as CSV in UTF-8", name);
      return FALSE;
    }
  reader.delimiter = guess_delimiter (data + reader.pos, length - reader.pos);
  _graft_problem_sink_init (&sink, dataset, name);

  while (csv_next_record (&reader, fields, &line, &unterminated))
    {
      g_autofree char *path = NULL;
      g_autofree char *label = NULL;

      /* a blank line */
      if (fields->len == 1 && *(const char *) g_ptr_array_index (fields, 0) == '\0' && !unterminated)
        continue;
      if (job != NULL && g_cancellable_set_error_if_cancelled (job->cancellable, error))
        return FALSE;
      if (n_records++ == 0)
        {
          header = find_columns (fields, base_dir, &path_col, &label_col);
          if (header)
            continue;
        }
      if (unterminated)
        {
          _graft_problem_sink_add (&sink, GRAFT_DATA_PROBLEM_PARSE, line,
                                   "%s line %u opens a quoted field that is never closed, so "
                                   "the rest of the file was read as part of it; add the "
                                   "closing quote", name, line);
          break;
        }
      need = MAX (path_col, label_col) + 1;
      if (fields->len < need)
        {
          _graft_problem_sink_add (&sink, GRAFT_DATA_PROBLEM_PARSE, line,
                                   "%s line %u has %u column%s, and Graft needs %u (the path in "
                                   "column %u, the label in column %u); fix the row or remove it",
                                   name, line, fields->len, fields->len == 1 ? "" : "s", need,
                                   path_col + 1, label_col + 1);
          continue;
        }
      path = g_strstrip (g_strdup (g_ptr_array_index (fields, path_col)));
      label = g_strstrip (g_strdup (g_ptr_array_index (fields, label_col)));
      if (*path == '\0')
        {
          _graft_problem_sink_add (&sink, GRAFT_DATA_PROBLEM_PARSE, line,
                                   "%s line %u has an empty path; fill it in or remove the row",
                                   name, line);
          continue;
        }
      if (*label == '\0')
        {
          _graft_problem_sink_add (&sink, GRAFT_DATA_PROBLEM_PARSE, line,
                                   "%s line %u has an empty label for %s; fill it in or remove "
                                   "the row", name, line, path);
          continue;
        }
      if (!g_utf8_validate (label, -1, NULL))
        {
          _graft_problem_sink_add (&sink, GRAFT_DATA_PROBLEM_PARSE, line,
                                   "%s line %u has a label that is not UTF-8 text; save the file "
                                   "as CSV in UTF-8", name, line);
          continue;
        }
      g_array_append_val (rows, ((CsvRow) { g_steal_pointer (&path), g_steal_pointer (&label),
                                            NULL, line }));
    }

  if (n_records == 0)
    {
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_PARSE,
                   "%s is empty; a CSV dataset holds one path,label row per image", name);
      return FALSE;
    }
  if (n_records == 1 && header)
    _graft_problem_sink_add (&sink, GRAFT_DATA_PROBLEM_PARSE, 1,
                             "%s has a header row and no rows below it; add one path,label "
                             "row per image", name);

  if (!check_files (rows, base_dir, &sink, job, error))
    return FALSE;
  root_dir = _graft_dataset_root_dir (dataset);
  add_rows (dataset, rows, root_dir != NULL ? root_dir : base_dir, &sink);
  _graft_problem_sink_finish (&sink);
  return TRUE;
}

gboolean
graft_dataset_parse_csv (GraftDataset  *dataset,
                         const char    *data,
                         gsize          length,
                         const char    *name,
                         const char    *base_dir,
                         GError       **error)
{
  g_return_val_if_fail (dataset != NULL, FALSE);
  g_return_val_if_fail (data != NULL || length == 0, FALSE);
  g_return_val_if_fail (name != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return _graft_dataset_parse_csv (dataset, data != NULL ? data : "", length, name, base_dir,
                                   NULL, error);
}

GraftDataset *
_graft_dataset_import_csv (const char       *path,
                           GraftDatasetJob  *job,
                           GError          **error)
{
  g_autoptr(GraftDataset) dataset = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autofree char *csv = NULL;
  g_autofree char *base_dir = NULL;
  g_autofree char *name = NULL;
  gsize length;
  const char *data;

  if (g_file_test (path, G_FILE_TEST_IS_DIR))
    {
      g_autoptr(GPtrArray) found = _graft_dataset_find_csv_files (path);

      if (found->len != 1)
        {
          g_set_error (error, GRAFT_DATA_ERROR,
                       found->len == 0 ? GRAFT_DATA_ERROR_NOT_FOUND : GRAFT_DATA_ERROR_UNSUPPORTED,
                       found->len == 0
                         ? "%s holds no CSV file; choose the CSV file that labels the images"
                         : "%s holds several CSV files; choose the one that labels the images",
                       path);
          return NULL;
        }
      csv = g_strdup (g_ptr_array_index (found, 0));
    }
  else
    csv = g_strdup (path);

  bytes = _graft_dataset_load_file (csv, csv, _GRAFT_DATASET_MAX_CSV_BYTES, error);
  if (bytes == NULL)
    return NULL;
  base_dir = g_path_get_dirname (csv);
  name = g_path_get_basename (csv);
  dataset = graft_dataset_new (GRAFT_TASK_CLASSIFICATION, GRAFT_DATASET_FORMAT_CSV, csv);
  data = g_bytes_get_data (bytes, &length);
  if (!_graft_dataset_parse_csv (dataset, data != NULL ? data : "", length, name, base_dir,
                                 job, error))
    return NULL;
  return g_steal_pointer (&dataset);
}
