/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-data"

/* COCO instances files, through json-c: "images" (id, file_name, width, height),
 * "annotations" (image_id, category_id, bbox [x, y, w, h] in pixels) and "categories"
 * (id, name). Category ids need not be contiguous: sorted by id, they become class
 * indices in that order. Images are looked for beside the file, in an images/ folder
 * beside it and, for a file in annotations/, beside that folder (COCO's own layout:
 * annotations/instances_train2017.json and train2017/). */

#include <json-c/json.h>
#include <math.h>
#include <string.h>

#include "graft-dataset-private.h"

/* How far (in pixels) a box may pass the image's edge (rounding in the tools that write
 * these files) before it is a problem; such a box is clipped. */
#define EDGE_TOLERANCE 1.0
/* Where the image's size is not given, a box reaching further than this many pixels
 * leaves any image Graft would read. */
#define MAX_SIDE 1e9
/* json-c takes the text this much at a time (its length is an int). */
#define JSON_CHUNK (1u << 24)

/* The line and column of byte @offset of @data. */
static void
position (const char *data,
          gsize       length,
          gsize       offset,
          guint      *line,
          guint      *column)
{
  const char *last = data;

  *line = 1;
  offset = MIN (offset, length);
  for (const char *p = data; p < data + offset; p++)
    if (*p == '\n')
      {
        (*line)++;
        last = p + 1;
      }
  *column = (guint) (data + offset - last) + 1;
}

static json_object *
parse_json (const char  *data,
            gsize        length,
            const char  *name,
            GError     **error)
{
  json_tokener *tokener;
  json_object *root = NULL;
  enum json_tokener_error jerr = json_tokener_continue;
  gsize offset = 0, end;
  guint line, column;

  if (length == 0)
    {
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_PARSE,
                   "%s is empty; a COCO instances file is a JSON object with images, "
                   "annotations and categories", name);
      return NULL;
    }
  tokener = json_tokener_new_ex (JSON_TOKENER_DEFAULT_DEPTH);
  if (tokener == NULL)
    {
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_READ,
                   "Not enough memory to read %s", name);
      return NULL;
    }
  while (offset < length)
    {
      gsize chunk = MIN (length - offset, (gsize) JSON_CHUNK);

      root = json_tokener_parse_ex (tokener, data + offset, (int) chunk);
      jerr = json_tokener_get_error (tokener);
      if (jerr != json_tokener_continue)
        break;
      offset += chunk;
    }
  if (jerr == json_tokener_continue)
    {
      json_tokener_free (tokener);
      position (data, length, length, &line, &column);
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_PARSE,
                   "%s ends (line %u, column %u) before its JSON does: the file is cut "
                   "short; copy it again from where it came from", name, line, column);
      return NULL;
    }
  end = offset + (gsize) MAX (json_tokener_get_parse_end (tokener), 0);
  if (jerr != json_tokener_success)
    {
      /* json-c stops on the character it could not take */
      end = MIN (end, length - 1);
      position (data, length, end, &line, &column);
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_PARSE,
                   "%s is not valid JSON: %s at line %u, column %u (byte offset %" G_GSIZE_FORMAT
                   "); fix the file there or export it again",
                   name, json_tokener_error_desc (jerr), line, column, end);
      json_tokener_free (tokener);
      return NULL;
    }
  json_tokener_free (tokener);
  for (gsize i = end; i < length; i++)
    if (!g_ascii_isspace (data[i]))
      {
        position (data, length, i, &line, &column);
        g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_PARSE,
                     "%s is not valid JSON: more text follows the end of its object, at line "
                     "%u, column %u; fix the file there or export it again", name, line, column);
        json_object_put (root);
        return NULL;
      }
  if (root == NULL)
    /* the one JSON value json-c gives as NULL */
    g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_PARSE,
                 "%s is JSON but not a COCO instances file: it holds null, not an object "
                 "with an \"images\" list; choose the instances file (instances_*.json)", name);
  return root;
}

static gboolean
get_number (json_object *object,
            const char  *key,
            double      *value)
{
  json_object *member;

  if (!json_object_object_get_ex (object, key, &member))
    return FALSE;
  if (!json_object_is_type (member, json_type_int) && !json_object_is_type (member, json_type_double))
    return FALSE;
  *value = json_object_get_double (member);
  return TRUE;
}

/* An id: a whole number (or a float with a whole value). */
static gboolean
get_id (json_object *object,
        const char  *key,
        gint64      *value)
{
  json_object *member;
  double d;

  if (!json_object_object_get_ex (object, key, &member))
    return FALSE;
  if (json_object_is_type (member, json_type_int))
    {
      *value = json_object_get_int64 (member);
      return TRUE;
    }
  if (!json_object_is_type (member, json_type_double))
    return FALSE;
  d = json_object_get_double (member);
  if (!isfinite (d) || d != floor (d) || fabs (d) > 9e15)
    return FALSE;
  *value = (gint64) d;
  return TRUE;
}

/* An image id as a key: a number, or a string (some tools write those). */
static char *
get_image_key (json_object *object,
               const char  *key)
{
  json_object *member;
  gint64 id;

  if (get_id (object, key, &id))
    return g_strdup_printf ("%" G_GINT64_FORMAT, id);
  if (json_object_object_get_ex (object, key, &member) && json_object_is_type (member, json_type_string)
      && json_object_get_string_len (member) > 0)
    return g_utf8_make_valid (json_object_get_string (member), json_object_get_string_len (member));
  return NULL;
}

static json_object *
get_array (json_object *object,
           const char  *key)
{
  json_object *member;

  if (json_object_object_get_ex (object, key, &member) && json_object_is_type (member, json_type_array))
    return member;
  return NULL;
}

typedef struct {
  gint64      id;
  const char *name;
  guint       order;
  guint       klass;
} Category;

static int
compare_categories (gconstpointer a,
                    gconstpointer b)
{
  const Category *ca = a, *cb = b;

  if (ca->id != cb->id)
    return ca->id < cb->id ? -1 : 1;
  return ca->order < cb->order ? -1 : ca->order > cb->order;
}

static int
compare_category_id (gconstpointer key,
                     gconstpointer element)
{
  gint64 id = *(const gint64 *) key;
  const Category *category = element;

  return id < category->id ? -1 : id > category->id;
}

/* The categories, sorted by id, each with its class in @dataset. */
static GArray *
read_categories (GraftDataset     *dataset,
                 json_object      *root,
                 GraftProblemSink *sink)
{
  json_object *list = get_array (root, "categories");
  GArray *categories = g_array_new (FALSE, FALSE, sizeof (Category));
  GArray *unique = g_array_new (FALSE, FALSE, sizeof (Category));
  gsize n = list != NULL ? json_object_array_length (list) : 0;

  if (list == NULL)
    _graft_problem_sink_add (sink, GRAFT_DATA_PROBLEM_PARSE, 0,
                             "%s has no \"categories\" list, so no box has a known class; add "
                             "the categories ({\"id\": 1, \"name\": \"cat\"})", sink->file);
  for (gsize i = 0; i < n; i++)
    {
      json_object *element = json_object_array_get_idx (list, i);
      json_object *member;
      Category category = { 0, NULL, (guint) i, 0 };

      if (!json_object_is_type (element, json_type_object) || !get_id (element, "id", &category.id))
        {
          _graft_problem_sink_add (sink, GRAFT_DATA_PROBLEM_PARSE, 0,
                                   "%s: category #%" G_GSIZE_FORMAT " has no whole-number id; "
                                   "it is left out", sink->file, i + 1);
          continue;
        }
      if (json_object_object_get_ex (element, "name", &member)
          && json_object_is_type (member, json_type_string)
          && json_object_get_string_len (member) > 0)
        category.name = json_object_get_string (member);
      g_array_append_val (categories, category);
    }
  g_array_sort (categories, compare_categories);

  for (guint i = 0; i < categories->len; i++)
    {
      Category *category = &g_array_index (categories, Category, i);
      g_autofree char *name = NULL;

      if (unique->len > 0 && g_array_index (unique, Category, unique->len - 1).id == category->id)
        {
          _graft_problem_sink_add (sink, GRAFT_DATA_PROBLEM_PARSE, 0,
                                   "%s: the category id %" G_GINT64_FORMAT " appears more than "
                                   "once; the first one is kept", sink->file, category->id);
          continue;
        }
      name = category->name != NULL ? g_utf8_make_valid (category->name, -1)
                                    : g_strdup_printf ("category %" G_GINT64_FORMAT, category->id);
      if (dataset->classes->len >= _GRAFT_DATASET_MAX_CLASSES
          && graft_dataset_find_class (dataset, name) < 0)
        {
          _graft_problem_sink_add (sink, GRAFT_DATA_PROBLEM_PARSE, 0,
                                   "%s has more than %u categories; the category %s is left out",
                                   sink->file, _GRAFT_DATASET_MAX_CLASSES, name);
          continue;
        }
      category->klass = graft_dataset_add_class (dataset, name);
      g_array_append_val (unique, *category);
    }
  g_array_unref (categories);
  return unique;
}

/* Where @file_name is, or NULL. */
static char *
find_image (const char         *file_name,
            const char * const *search_dirs)
{
  if (g_path_is_absolute (file_name))
    return g_file_test (file_name, G_FILE_TEST_IS_REGULAR) ? g_canonicalize_filename (file_name, NULL)
                                                           : NULL;
  for (guint i = 0; search_dirs != NULL && search_dirs[i] != NULL; i++)
    {
      g_autofree char *path = g_canonicalize_filename (file_name, search_dirs[i]);

      if (g_file_test (path, G_FILE_TEST_IS_REGULAR))
        return g_steal_pointer (&path);
    }
  return NULL;
}

/* Image keys map to this plus the sample's index; an image whose file is missing maps to
 * MISSING (its annotations are dropped without a problem each). */
#define MISSING 1
#define FIRST_SAMPLE 2

static gboolean
read_images (GraftDataset       *dataset,
             json_object        *list,
             const char * const *search_dirs,
             GraftSplit          split,
             GHashTable         *images,
             GraftProblemSink   *sink,
             GraftDatasetJob    *job,
             GError            **error)
{
  g_autofree char *root_dir = _graft_dataset_root_dir (dataset);
  gsize n = json_object_array_length (list);
  guint total = (job != NULL ? job->done : 0) + (guint) MIN (n, (gsize) G_MAXUINT / 2);

  if (root_dir == NULL && search_dirs != NULL)
    root_dir = g_strdup (search_dirs[0]);
  for (gsize i = 0; i < n; i++)
    {
      json_object *element = json_object_array_get_idx (list, i);
      g_autofree char *key = NULL;
      g_autofree char *file_name = NULL;
      g_autofree char *path = NULL;
      json_object *member;
      GraftSample *sample;
      double width, height;

      if (job != NULL && g_cancellable_set_error_if_cancelled (job->cancellable, error))
        return FALSE;
      _graft_dataset_job_step (job, total);
      if (!json_object_is_type (element, json_type_object) || (key = get_image_key (element, "id")) == NULL)
        {
          _graft_problem_sink_add (sink, GRAFT_DATA_PROBLEM_PARSE, 0,
                                   "%s: image #%" G_GSIZE_FORMAT " of the images list has no id; "
                                   "it is left out", sink->file, i + 1);
          continue;
        }
      if (g_hash_table_contains (images, key))
        {
          _graft_problem_sink_add (sink, GRAFT_DATA_PROBLEM_PARSE, 0,
                                   "%s: the image id %s appears more than once; the first one is "
                                   "kept", sink->file, key);
          continue;
        }
      if (!json_object_object_get_ex (element, "file_name", &member)
          || !json_object_is_type (member, json_type_string)
          || json_object_get_string_len (member) == 0
          || memchr (json_object_get_string (member), '\0', (gsize) json_object_get_string_len (member)) != NULL)
        {
          _graft_problem_sink_add (sink, GRAFT_DATA_PROBLEM_PARSE, 0,
                                   "%s: image %s has no file_name; it is left out", sink->file, key);
          g_hash_table_insert (images, g_steal_pointer (&key), GUINT_TO_POINTER (MISSING));
          continue;
        }
      file_name = g_strdup (json_object_get_string (member));
      path = find_image (file_name, search_dirs);
      if (path == NULL)
        {
          g_autofree char *looked = g_canonicalize_filename (file_name, search_dirs != NULL ? search_dirs[0] : NULL);

          _graft_problem_sink_add (sink, GRAFT_DATA_PROBLEM_MISSING_FILE, 0,
                                   "%s: image %s names the file %s, which is not there (looked "
                                   "for %s and in images/); its boxes are left out: fix the path "
                                   "or add the file", sink->file, key, file_name, looked);
          g_hash_table_insert (images, g_steal_pointer (&key), GUINT_TO_POINTER (MISSING));
          continue;
        }

      sample = graft_dataset_add_sample (dataset, g_strdup (path),
                                         _graft_dataset_relative_name (root_dir, path, file_name), -1);
      if (sample->boxes == NULL)
        sample->boxes = g_array_new (FALSE, FALSE, sizeof (GraftBox));
      sample->split = split;
      sample->split_fixed = split != GRAFT_SPLIT_NONE;
      if (get_number (element, "width", &width) && get_number (element, "height", &height)
          && width >= 1 && height >= 1 && width < G_MAXUINT && height < G_MAXUINT)
        {
          sample->width = (guint) width;
          sample->height = (guint) height;
        }
      g_hash_table_insert (images, g_steal_pointer (&key),
                           GUINT_TO_POINTER (FIRST_SAMPLE + dataset->samples->len - 1));
    }
  return TRUE;
}

static gboolean
read_annotations (GraftDataset      *dataset,
                  json_object       *list,
                  GArray            *categories,
                  GHashTable        *images,
                  GraftProblemSink  *sink,
                  GraftDatasetJob   *job,
                  GError           **error)
{
  gsize n = list != NULL ? json_object_array_length (list) : 0;

  for (gsize i = 0; i < n; i++)
    {
      json_object *element = json_object_array_get_idx (list, i);
      g_autofree char *what = NULL;
      g_autofree char *image_key = NULL;
      json_object *bbox;
      const Category *category;
      GraftSample *sample;
      GraftBox box;
      gint64 id, category_id;
      double v[4];
      guint slot;
      gboolean numbers = TRUE, outside;

      if ((i & 1023) == 0 && job != NULL
          && g_cancellable_set_error_if_cancelled (job->cancellable, error))
        return FALSE;
      if (!json_object_is_type (element, json_type_object))
        {
          _graft_problem_sink_add (sink, GRAFT_DATA_PROBLEM_PARSE, 0,
                                   "%s: annotation #%" G_GSIZE_FORMAT " is not an object; it is "
                                   "left out", sink->file, i + 1);
          continue;
        }
      what = get_id (element, "id", &id)
               ? g_strdup_printf ("annotation %" G_GINT64_FORMAT, id)
               : g_strdup_printf ("annotation #%" G_GSIZE_FORMAT " (it has no id)", i + 1);

      image_key = get_image_key (element, "image_id");
      if (image_key == NULL)
        {
          _graft_problem_sink_add (sink, GRAFT_DATA_PROBLEM_PARSE, 0,
                                   "%s: %s has no image_id; it is left out", sink->file, what);
          continue;
        }
      slot = GPOINTER_TO_UINT (g_hash_table_lookup (images, image_key));
      if (slot == 0)
        {
          _graft_problem_sink_add (sink, GRAFT_DATA_PROBLEM_PARSE, 0,
                                   "%s: %s refers to the image %s, which the images list does not "
                                   "hold; it is left out: fix its image_id or add the image",
                                   sink->file, what, image_key);
          continue;
        }
      if (slot == MISSING)
        continue;  /* the image's problem was reported */
      sample = g_ptr_array_index (dataset->samples, slot - FIRST_SAMPLE);

      if (!get_id (element, "category_id", &category_id))
        {
          _graft_problem_sink_add (sink, GRAFT_DATA_PROBLEM_PARSE, 0,
                                   "%s: %s (image %s) has no whole-number category_id; it is "
                                   "left out", sink->file, what, sample->name);
          continue;
        }
      category = categories->len == 0 ? NULL
                 : bsearch (&category_id, categories->data, categories->len, sizeof (Category),
                            compare_category_id);
      if (category == NULL)
        {
          _graft_problem_sink_add (sink, GRAFT_DATA_PROBLEM_UNKNOWN_LABEL, 0,
                                   "%s: %s (image %s) names the category %" G_GINT64_FORMAT
                                   ", which the categories list does not hold; it is left out: "
                                   "fix its category_id or add the category",
                                   sink->file, what, sample->name, category_id);
          continue;
        }

      bbox = get_array (element, "bbox");
      if (bbox == NULL || json_object_array_length (bbox) != 4)
        numbers = FALSE;
      for (guint k = 0; k < 4 && numbers; k++)
        {
          json_object *value = json_object_array_get_idx (bbox, k);

          if (!json_object_is_type (value, json_type_int) && !json_object_is_type (value, json_type_double))
            numbers = FALSE;
          else
            v[k] = json_object_get_double (value);
        }
      if (!numbers)
        {
          _graft_problem_sink_add (sink, GRAFT_DATA_PROBLEM_PARSE, 0,
                                   "%s: %s (image %s) has no bbox of four numbers [x, y, width, "
                                   "height]; it is left out", sink->file, what, sample->name);
          continue;
        }
      if (!isfinite (v[0]) || !isfinite (v[1]) || !isfinite (v[2]) || !isfinite (v[3])
          || !((float) v[2] > 0) || !((float) v[3] > 0))
        {
          _graft_problem_sink_add (sink, GRAFT_DATA_PROBLEM_BOX_EMPTY, 0,
                                   "%s: %s (image %s) has a box of width %g and height %g, which "
                                   "has no area; it is left out: fix or remove it",
                                   sink->file, what, sample->name, v[2], v[3]);
          continue;
        }
      outside = v[0] < -EDGE_TOLERANCE || v[1] < -EDGE_TOLERANCE
                || v[0] + v[2] > (sample->width > 0 ? sample->width + EDGE_TOLERANCE : MAX_SIDE)
                || v[1] + v[3] > (sample->height > 0 ? sample->height + EDGE_TOLERANCE : MAX_SIDE);
      if (!outside)
        {
          /* clipped to the image, within the tolerance */
          double x0 = MAX (v[0], 0.0), y0 = MAX (v[1], 0.0);
          double x1 = v[0] + v[2], y1 = v[1] + v[3];

          if (sample->width > 0)
            x1 = MIN (x1, (double) sample->width);
          if (sample->height > 0)
            y1 = MIN (y1, (double) sample->height);
          box.label = category->klass;
          box.x = (float) x0;
          box.y = (float) y0;
          box.width = (float) (x1 - x0);
          box.height = (float) (y1 - y0);
          outside = !(box.width > 0) || !(box.height > 0);
        }
      if (outside)
        {
          g_autofree char *size = sample->width > 0 && sample->height > 0
                                    ? g_strdup_printf ("its image of %u×%u pixels",
                                                       sample->width, sample->height)
                                    : g_strdup ("any image");

          _graft_problem_sink_add (sink, GRAFT_DATA_PROBLEM_BOX_OUTSIDE, 0,
                                   "%s: %s (image %s) has the box [%g, %g, %g, %g], which leaves "
                                   "%s; it is left out: fix or remove it",
                                   sink->file, what, sample->name, v[0], v[1], v[2], v[3], size);
          continue;
        }
      g_array_append_val (sample->boxes, box);
    }
  return TRUE;
}

gboolean
_graft_dataset_parse_coco (GraftDataset       *dataset,
                           const char         *data,
                           gsize               length,
                           const char         *name,
                           const char * const *search_dirs,
                           GraftSplit          split,
                           GraftDatasetJob    *job,
                           GError            **error)
{
  g_autoptr(GHashTable) images = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GArray) categories = NULL;
  GraftProblemSink sink;
  json_object *root, *image_list;
  gboolean ok;

  root = parse_json (data, length, name, error);
  if (root == NULL)
    return FALSE;
  if (!json_object_is_type (root, json_type_object)
      || (image_list = get_array (root, "images")) == NULL)
    {
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_PARSE,
                   "%s is JSON but not a COCO instances file: it has no \"images\" list; "
                   "choose the instances file (instances_*.json)", name);
      json_object_put (root);
      return FALSE;
    }

  _graft_problem_sink_init (&sink, dataset, name);
  categories = read_categories (dataset, root, &sink);
  ok = read_images (dataset, image_list, search_dirs, split, images, &sink, job, error)
       && read_annotations (dataset, get_array (root, "annotations"), categories, images,
                            &sink, job, error);
  _graft_problem_sink_finish (&sink);
  json_object_put (root);
  return ok;
}

GStrv
_graft_dataset_coco_search_dirs (const char *json_dir,
                                 const char *subset)
{
  GPtrArray *dirs = g_ptr_array_new ();
  g_autofree char *base = g_path_get_basename (json_dir);
  gboolean has_subset = subset != NULL && *subset != '\0';

  g_ptr_array_add (dirs, g_strdup (json_dir));
  g_ptr_array_add (dirs, g_build_filename (json_dir, "images", NULL));
  if (has_subset)
    {
      g_ptr_array_add (dirs, g_build_filename (json_dir, subset, NULL));
      g_ptr_array_add (dirs, g_build_filename (json_dir, "images", subset, NULL));
    }
  if (g_ascii_strcasecmp (base, "annotations") == 0)
    {
      g_autofree char *parent = g_path_get_dirname (json_dir);

      if (has_subset)
        {
          g_ptr_array_add (dirs, g_build_filename (parent, subset, NULL));
          g_ptr_array_add (dirs, g_build_filename (parent, "images", subset, NULL));
        }
      g_ptr_array_add (dirs, g_build_filename (parent, "images", NULL));
      g_ptr_array_add (dirs, g_steal_pointer (&parent));
    }
  g_ptr_array_add (dirs, NULL);
  return (GStrv) g_ptr_array_free (dirs, FALSE);
}

gboolean
graft_dataset_parse_coco (GraftDataset  *dataset,
                          const char    *data,
                          gsize          length,
                          const char    *name,
                          const char    *base_dir,
                          GError       **error)
{
  g_autofree char *cwd = NULL;
  g_auto(GStrv) dirs = NULL;

  g_return_val_if_fail (dataset != NULL, FALSE);
  g_return_val_if_fail (data != NULL || length == 0, FALSE);
  g_return_val_if_fail (name != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (base_dir == NULL)
    base_dir = cwd = g_get_current_dir ();
  dirs = _graft_dataset_coco_search_dirs (base_dir, NULL);
  return _graft_dataset_parse_coco (dataset, data != NULL ? data : "", length, name,
                                    (const char * const *) dirs, GRAFT_SPLIT_NONE, NULL, error);
}

/* instances_train2017.json: train2017 */
static char *
subset_of (const char *json_path)
{
  g_autofree char *base = g_path_get_basename (json_path);
  const char *start = g_str_has_prefix (base, "instances_") ? base + strlen ("instances_") : base;
  gsize n = strlen (start);

  if (n > 5 && g_ascii_strcasecmp (start + n - 5, ".json") == 0)
    n -= 5;
  return g_strndup (start, n);
}

static GraftSplit
split_of_subset (const char *subset)
{
  g_autofree char *lower = g_ascii_strdown (subset, -1);

  if (strstr (lower, "train") != NULL)
    return GRAFT_SPLIT_TRAIN;
  if (strstr (lower, "val") != NULL)
    return GRAFT_SPLIT_VAL;
  if (strstr (lower, "test") != NULL)
    return GRAFT_SPLIT_TEST;
  return GRAFT_SPLIT_NONE;
}

GraftDataset *
_graft_dataset_import_coco (const char       *path,
                            GraftDatasetJob  *job,
                            GError          **error)
{
  g_autoptr(GraftDataset) dataset = NULL;
  g_autoptr(GPtrArray) files = NULL;
  g_autofree char *root_dir = NULL;

  if (g_file_test (path, G_FILE_TEST_IS_DIR))
    {
      files = _graft_dataset_find_coco_files (path);
      if (files->len == 0)
        {
          g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_NOT_FOUND,
                       "%s holds no COCO instances file (annotations/instances_*.json, or a "
                       "JSON file with images, annotations and categories); choose the file "
                       "itself", path);
          return NULL;
        }
      root_dir = g_strdup (path);
    }
  else
    {
      files = g_ptr_array_new_with_free_func (g_free);
      g_ptr_array_add (files, g_strdup (path));
      root_dir = g_path_get_dirname (path);
    }

  dataset = graft_dataset_new (GRAFT_TASK_DETECTION, GRAFT_DATASET_FORMAT_COCO, path);
  for (guint i = 0; i < files->len; i++)
    {
      const char *file = g_ptr_array_index (files, i);
      g_autofree char *json_dir = g_path_get_dirname (file);
      g_autofree char *subset = subset_of (file);
      g_autofree char *shown = _graft_dataset_relative_name (root_dir, file, NULL);
      g_auto(GStrv) dirs = _graft_dataset_coco_search_dirs (json_dir, subset);
      g_autoptr(GBytes) bytes = NULL;
      g_autoptr(GError) local_error = NULL;
      GraftSplit split = files->len > 1 ? split_of_subset (subset) : GRAFT_SPLIT_NONE;
      const char *data = NULL;
      gsize length = 0;
      gboolean ok;

      bytes = _graft_dataset_load_file (file, file, _GRAFT_DATASET_MAX_COCO_BYTES, &local_error);
      if (bytes != NULL)
        data = g_bytes_get_data (bytes, &length);
      ok = bytes != NULL
           && _graft_dataset_parse_coco (dataset, data != NULL ? data : "", length, shown,
                                         (const char * const *) dirs, split, job, &local_error);
      if (ok)
        continue;
      if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED) || files->len == 1)
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return NULL;
        }
      /* one of several files: the others still import */
      graft_dataset_add_problem (dataset, GRAFT_DATA_PROBLEM_PARSE, shown, 0, NULL,
                                 "%s; the images it lists are left out", local_error->message);
    }
  return g_steal_pointer (&dataset);
}
