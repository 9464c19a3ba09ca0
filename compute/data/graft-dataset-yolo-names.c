/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-data"

/* The class names of a YOLO dataset's data.yaml: a small reader of just the "names:" key
 * (and "nc:"), in the three forms Ultralytics and Roboflow write it: a flow list
 * ("names: [a, b]", over one line or several), a block list ("- a" lines) and a mapping
 * of ids to names ("0: a" lines, or "{0: a, 1: b}"). Comments and quotes are understood;
 * the rest of YAML is not, and need not be. */

#include <string.h>

#include "graft-dataset-private.h"

typedef struct {
  const char *start;
  gsize       length;
} Span;

/* @line without a comment: a # at its start or after white space, outside quotes. */
static gsize
strip_comment (const char *line,
               gsize       length)
{
  char quote = 0;

  for (gsize i = 0; i < length; i++)
    {
      char c = line[i];

      if (quote != 0)
        {
          if (c == quote)
            quote = 0;
          else if (c == '\\' && quote == '"' && i + 1 < length)
            i++;
        }
      else if (c == '"' || c == '\'')
        quote = c;
      else if (c == '#' && (i == 0 || line[i - 1] == ' ' || line[i - 1] == '\t'))
        return i;
    }
  return length;
}

static Span
trim (Span s)
{
  while (s.length > 0 && g_ascii_isspace (s.start[0]))
    {
      s.start++;
      s.length--;
    }
  while (s.length > 0 && g_ascii_isspace (s.start[s.length - 1]))
    s.length--;
  return s;
}

/* A scalar: 'single' ('' for a quote), "double" (\" and \\ escapes) or plain. */
static char *
unquote (Span s)
{
  GString *out;

  s = trim (s);
  if (s.length >= 2 && s.start[0] == '\'' && s.start[s.length - 1] == '\'')
    {
      out = g_string_new (NULL);
      for (gsize i = 1; i + 1 < s.length; i++)
        {
          g_string_append_c (out, s.start[i]);
          if (s.start[i] == '\'' && i + 2 < s.length && s.start[i + 1] == '\'')
            i++;
        }
      return g_string_free (out, FALSE);
    }
  if (s.length >= 2 && s.start[0] == '"' && s.start[s.length - 1] == '"')
    {
      out = g_string_new (NULL);
      for (gsize i = 1; i + 1 < s.length; i++)
        {
          if (s.start[i] == '\\' && i + 2 < s.length)
            i++;
          g_string_append_c (out, s.start[i]);
        }
      return g_string_free (out, FALSE);
    }
  return g_strndup (s.start, s.length);
}

typedef struct {
  GPtrArray *names;    /* char *, NULL for an id the mapping skips */
  gboolean   mapping;
  gboolean   too_many;
} Names;

/* One item of a list (@key NULL) or a mapping. */
static void
names_add (Names      *names,
           const char *key,
           gsize       key_length,
           Span        value)
{
  g_autofree char *text = unquote (value);
  guint64 id;

  if (key == NULL)
    {
      if (names->names->len >= _GRAFT_DATASET_MAX_CLASSES)
        {
          names->too_many = TRUE;
          return;
        }
      g_ptr_array_add (names->names, g_steal_pointer (&text));
      return;
    }

  {
    g_autofree char *key_text = unquote ((Span) { key, key_length });

    names->mapping = TRUE;
    if (!g_ascii_string_to_unsigned (key_text, 10, 0, _GRAFT_DATASET_MAX_CLASSES - 1, &id, NULL))
      {
        names->too_many = TRUE;
        return;
      }
  }
  if (names->names->len <= id)
    g_ptr_array_set_size (names->names, (guint) id + 1);
  g_free (g_ptr_array_index (names->names, id));
  g_ptr_array_index (names->names, id) = g_steal_pointer (&text);
}

/* Splits "a, 'b, c', d" (the inside of [...] or {...}) at commas outside quotes and
 * brackets; for a mapping, each item at its first colon. */
static void
split_flow (Names      *names,
            const char *text,
            gsize       length,
            gboolean    mapping)
{
  gsize start = 0;
  char quote = 0;
  int depth = 0;

  for (gsize i = 0; i <= length; i++)
    {
      char c = i < length ? text[i] : ',';

      if (quote != 0)
        {
          if (c == quote)
            quote = 0;
          continue;
        }
      if (c == '"' || c == '\'')
        quote = c;
      else if (c == '[' || c == '{')
        depth++;
      else if ((c == ']' || c == '}') && depth > 0)
        depth--;
      else if (c == ',' && depth == 0)
        {
          Span item = trim ((Span) { text + start, i - start });

          start = i + 1;
          if (item.length == 0)
            continue;
          if (mapping)
            {
              const char *colon = memchr (item.start, ':', item.length);

              if (colon == NULL)
                names->too_many = TRUE;  /* not "id: name": read as unusable */
              else
                names_add (names, item.start, (gsize) (colon - item.start),
                           (Span) { colon + 1, item.length - (gsize) (colon - item.start) - 1 });
            }
          else
            names_add (names, NULL, 0, item);
        }
    }
}

/* The lines of @data, comments stripped. */
static GArray *
split_lines (const char *data,
             gsize       length)
{
  GArray *lines = g_array_new (FALSE, FALSE, sizeof (Span));
  gsize start = 0;

  if (length >= 3 && memcmp (data, "\xef\xbb\xbf", 3) == 0)
    start = 3;
  while (start <= length)
    {
      const char *nl = memchr (data + start, '\n', length - start);
      gsize end = nl != NULL ? (gsize) (nl - data) : length;
      Span line = { data + start, end - start };

      if (line.length > 0 && line.start[line.length - 1] == '\r')
        line.length--;
      line.length = strip_comment (line.start, line.length);
      g_array_append_val (lines, line);
      if (nl == NULL)
        break;
      start = end + 1;
    }
  return lines;
}

/* Whether top-level line @line is "@key: …"; *value is what follows the colon. */
static gboolean
is_key (Span        line,
        const char *key,
        Span       *value)
{
  gsize n = strlen (key), i;

  if (line.length < n || memcmp (line.start, key, n) != 0)
    return FALSE;
  i = n;
  while (i < line.length && line.start[i] == ' ')
    i++;
  if (i >= line.length || line.start[i] != ':')
    return FALSE;
  *value = trim ((Span) { line.start + i + 1, line.length - i - 1 });
  return TRUE;
}

gboolean
_graft_dataset_parse_yolo_names (const char  *data,
                                 gsize        length,
                                 const char  *name,
                                 GPtrArray   *out,
                                 GError     **error)
{
  g_autoptr(GArray) lines = NULL;
  g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func (g_free);
  Names names = { list, FALSE, FALSE };
  gboolean found = FALSE;
  guint64 nc = 0;
  gboolean have_nc = FALSE;

  if (memchr (data, '\0', length) != NULL)
    {
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_PARSE,
                   "%s is not a text file; data.yaml lists the class names as "
                   "\"names: [a, b]\"", name);
      return FALSE;
    }
  lines = split_lines (data, length);
  for (guint i = 0; i < lines->len; i++)
    {
      Span line = g_array_index (lines, Span, i);
      Span value;

      if (line.length == 0 || line.start[0] == ' ' || line.start[0] == '\t')
        continue;
      if (is_key (line, "nc", &value))
        {
          g_autofree char *text = g_strndup (value.start, value.length);

          have_nc = g_ascii_string_to_unsigned (text, 10, 0, _GRAFT_DATASET_MAX_CLASSES, &nc, NULL);
          continue;
        }
      if (found || !is_key (line, "names", &value))
        continue;
      found = TRUE;

      if (value.length > 0 && (value.start[0] == '[' || value.start[0] == '{'))
        {
          char open = value.start[0], close = open == '[' ? ']' : '}';
          g_autoptr(GString) flow = g_string_new (NULL);
          char quote = 0;
          int depth = 0;
          gboolean closed = FALSE;

          /* the flow collection, over as many lines as it takes */
          for (guint j = i; j < lines->len && !closed; j++)
            {
              Span part = j == i ? value : g_array_index (lines, Span, j);

              for (gsize k = 0; k < part.length && !closed; k++)
                {
                  char c = part.start[k];

                  if (quote != 0)
                    quote = c == quote ? 0 : quote;
                  else if (c == '"' || c == '\'')
                    quote = c;
                  else if (c == '[' || c == '{')
                    depth++;
                  else if (c == ']' || c == '}')
                    closed = --depth == 0;
                  if (!closed && !(depth == 1 && k == 0 && j == i))
                    g_string_append_c (flow, c);
                }
              g_string_append_c (flow, ' ');
              i = j;
            }
          if (!closed)
            {
              g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_PARSE,
                           "%s: the names list opened with '%c' is never closed with '%c'; "
                           "close it", name, open, close);
              return FALSE;
            }
          split_flow (&names, flow->str, flow->len, open == '{');
        }
      else if (value.length == 0)
        {
          /* a block: "- name" items or "id: name" pairs, indented or not */
          for (guint j = i + 1; j < lines->len; j++)
            {
              Span item = trim (g_array_index (lines, Span, j));
              const char *colon;

              if (item.length == 0)
                continue;
              if (item.start[0] == '-' && (item.length == 1 || item.start[1] == ' '))
                {
                  names_add (&names, NULL, 0, (Span) { item.start + 1, item.length - 1 });
                  i = j;
                  continue;
                }
              if (g_array_index (lines, Span, j).start[0] != ' '
                  && g_array_index (lines, Span, j).start[0] != '\t')
                break;
              colon = memchr (item.start, ':', item.length);
              if (colon == NULL)
                break;
              names_add (&names, item.start, (gsize) (colon - item.start),
                         (Span) { colon + 1, item.length - (gsize) (colon - item.start) - 1 });
              i = j;
            }
        }
      else
        {
          g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_PARSE,
                       "%s: names is neither a list nor a mapping of class ids to names; "
                       "write it as \"names: [a, b]\"", name);
          return FALSE;
        }
    }

  if (names.too_many)
    {
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_PARSE,
                   "%s: the names hold an id that is not a whole number from 0 to %u, or "
                   "more than %u names; write them as \"names: [a, b]\" or \"0: a\" lines",
                   name, _GRAFT_DATASET_MAX_CLASSES - 1, _GRAFT_DATASET_MAX_CLASSES);
      return FALSE;
    }
  if (!found && !have_nc)
    {
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_PARSE,
                   "%s has no \"names:\" list of the classes; add one, such as "
                   "\"names: [cat, dog]\"", name);
      return FALSE;
    }
  if (!found || list->len == 0)
    g_ptr_array_set_size (list, (guint) nc);
  for (guint i = 0; i < list->len; i++)
    {
      const char *text = g_ptr_array_index (list, i);

      g_ptr_array_add (out, text != NULL && *text != '\0'
                              ? g_utf8_make_valid (text, -1)
                              : g_strdup_printf ("class %u", i));
    }
  return TRUE;
}
