/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-cli"

/* graft-cli compare: two runs of a project side by side (GraftRunComparison), and whether
 * transfer helped when one of them trained from scratch. */

#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "graft.h"
#include "graft-cli-output.h"
#include "graft-cli-private.h"

/* Names of images listed per side of the right/wrong comparison before "… and N more". */
#define SHOWN_IMAGES 5

/* When one run started from pre-trained weights and the other from scratch: how much
 * transfer gained, and whether it was negative (graft-transfer.h); else NULL. */
static json_object *
transfer_verdict (GraftRun *a,
                  GraftRun *b)
{
  return graft_transfer_verdict (a, b);
}

/* A metric that is a ratio in [0, 1] (shown in per cent, its delta in points). */
static gboolean
is_ratio (const char *path)
{
  static const char *const ratios[] = { "accuracy", "precision", "recall", "f1", "ece", "mce",
                                        NULL };
  const char *last = strrchr (path, '.');

  return g_strv_contains (ratios, last != NULL ? last + 1 : path);
}

static gboolean
lower_is_better (const char *path)
{
  return g_str_equal (path, "mean_loss") || g_str_equal (path, "calibration.ece") ||
         g_str_equal (path, "calibration.mce");
}

/* What a person looks at first, then every other number in path order. */
static const char *const metric_order[] = {
  "accuracy", "top_k.accuracy", "macro.f1", "macro.precision", "macro.recall", "weighted.f1",
  "weighted.precision", "weighted.recall", "mean_loss", "calibration.ece", "calibration.mce",
};

static int
metric_rank (const char *path)
{
  for (guint i = 0; i < G_N_ELEMENTS (metric_order); i++)
    if (g_str_equal (path, metric_order[i]))
      return (int) i;
  return (int) G_N_ELEMENTS (metric_order);
}

static int
compare_metric_deltas (gconstpointer a,
                       gconstpointer b)
{
  const GraftMetricDelta *da = *(const GraftMetricDelta *const *) a;
  const GraftMetricDelta *db = *(const GraftMetricDelta *const *) b;
  int ra = metric_rank (da->path), rb = metric_rank (db->path);

  return ra != rb ? ra - rb : strcmp (da->path, db->path);
}

static char *
format_value (json_object *value)
{
  if (value == NULL)
    return g_strdup ("null");
  return g_strdup (json_object_to_json_string_ext (value, JSON_C_TO_STRING_PLAIN |
                                                          JSON_C_TO_STRING_NOSLASHESCAPE));
}

static void
print_config_changes (const GraftCliStyle              *style,
                      const GraftRunComparison *comparison)
{
  int key_width = 3;

  printf ("\n");
  if (comparison->config->len == 0)
    {
      _graft_cli_print_heading (style, "Configuration: the same");
      return;
    }
  _graft_cli_print_heading (style, "Configuration differences (%u):", comparison->config->len);
  for (guint i = 0; i < comparison->config->len; i++)
    key_width = MAX (key_width, _graft_cli_text_width (((GraftConfigChange *)
                                             g_ptr_array_index (comparison->config, i))->path));
  key_width = MIN (key_width, 32);
  printf ("  ");
  _graft_cli_print_cell ("Key", key_width, FALSE);
  printf ("  %-24s  %s\n", "A", "B");
  for (guint i = 0; i < comparison->config->len; i++)
    {
      const GraftConfigChange *change = g_ptr_array_index (comparison->config, i);
      g_autofree char *a = change->kind == GRAFT_CONFIG_ONLY_B ? g_strdup ("(absent)")
                                                                : format_value (change->a);
      g_autofree char *b = change->kind == GRAFT_CONFIG_ONLY_A ? g_strdup ("(absent)")
                                                                : format_value (change->b);

      printf ("  ");
      _graft_cli_print_cell (change->path, key_width, FALSE);
      printf ("  ");
      _graft_cli_print_cell (a, 24, FALSE);
      printf ("  ");
      _graft_cli_print_last_cell (b, 48);
      printf ("\n");
    }
}

static void
print_metric_deltas (const GraftCliStyle              *style,
                     const GraftRunComparison *comparison)
{
  /* A view of the comparison's deltas in another order; they stay the comparison's. */
  g_autoptr(GPtrArray) sorted = g_ptr_array_sized_new (comparison->metrics->len);

  if (comparison->metrics->len == 0)
    return;
  for (guint i = 0; i < comparison->metrics->len; i++)
    g_ptr_array_add (sorted, g_ptr_array_index (comparison->metrics, i));
  g_ptr_array_sort (sorted, compare_metric_deltas);
  printf ("\n");
  _graft_cli_print_heading (style, "Metrics (B − A; ratios in per cent, their deltas in points):");
  printf ("  %-20s  %10s  %10s  ", "Metric", "A", "B");
  _graft_cli_print_cell ("B − A", 10, TRUE);
  printf ("\n");
  for (guint i = 0; i < sorted->len; i++)
    {
      const GraftMetricDelta *d = g_ptr_array_index (sorted, i);
      gboolean ratio = is_ratio (d->path);
      double scale = ratio ? 100.0 : 1.0;
      g_autofree char *a = g_strdup_printf (ratio ? "%.2f %%" : "%.4g", scale * d->a);
      g_autofree char *b = g_strdup_printf (ratio ? "%.2f %%" : "%.4g", scale * d->b);
      g_autofree char *delta = g_strdup_printf (ratio ? "%+.2f pt" : "%+.4g", scale * d->delta);
      int sign = d->delta > 0 ? 1 : d->delta < 0 ? -1 : 0;

      if (g_str_has_prefix (d->path, "n_") || g_str_has_suffix (d->path, ".k") ||
          g_str_has_suffix (d->path, ".n_correct"))
        sign = 0;  /* counts, neither better nor worse */
      else if (lower_is_better (d->path))
        sign = -sign;
      printf ("  ");
      _graft_cli_print_cell (d->path, 20, FALSE);
      printf ("  %10s  %10s  ", a, b);
      _graft_cli_print_signed (style, delta, 10, sign);
      printf ("\n");
    }
}

static void
print_class_deltas (const GraftCliStyle              *style,
                    const GraftRunComparison *comparison)
{
  int name_width = 5;

  printf ("\n");
  if (!comparison->classes_compared)
    {
      _graft_cli_print_heading (style, "Per class: not compared: %s", comparison->classes_note);
      return;
    }
  for (guint i = 0; i < comparison->classes->len; i++)
    {
      const GraftClassDelta *d = g_ptr_array_index (comparison->classes, i);

      name_width = MAX (name_width, d->name != NULL ? _graft_cli_text_width (d->name) : 8);
    }
  name_width = MIN (name_width, 24);
  _graft_cli_print_heading (style, "Per class (F1 and recall in per cent, deltas in points):");
  printf ("  ");
  _graft_cli_print_cell ("Class", name_width, FALSE);
  /* _graft_cli_print_cell: "−" takes one column but three bytes. */
  printf ("  %7s  %7s  ", "F1 A", "F1 B");
  _graft_cli_print_cell ("F1 B − A", 9, TRUE);
  printf ("  %9s  %9s  ", "Recall A", "Recall B");
  _graft_cli_print_cell ("Rec B − A", 9, TRUE);
  printf ("\n");
  for (guint i = 0; i < comparison->classes->len; i++)
    {
      const GraftClassDelta *d = g_ptr_array_index (comparison->classes, i);
      g_autofree char *name = d->name != NULL ? g_strdup (d->name)
                                              : g_strdup_printf ("class %u", d->index);
      g_autofree char *f1 = g_strdup_printf ("%+.2f", 100.0 * d->f1[2]);
      g_autofree char *recall = g_strdup_printf ("%+.2f", 100.0 * d->recall[2]);

      printf ("  ");
      _graft_cli_print_cell (name, name_width, FALSE);
      printf ("  %7.2f  %7.2f  ", 100.0 * d->f1[0], 100.0 * d->f1[1]);
      _graft_cli_print_signed (style, f1, 9, d->f1[2] > 0 ? 1 : d->f1[2] < 0 ? -1 : 0);
      printf ("  %9.2f  %9.2f  ", 100.0 * d->recall[0], 100.0 * d->recall[1]);
      _graft_cli_print_signed (style, recall, 9, d->recall[2] > 0 ? 1 : d->recall[2] < 0 ? -1 : 0);
      printf ("\n");
    }
}

static void
print_image_list (const char *title,
                  GPtrArray  *images)
{
  printf ("  %s: %u", title, images->len);
  for (guint i = 0; i < MIN (images->len, SHOWN_IMAGES); i++)
    {
      const GraftImageChange *change = g_ptr_array_index (images, i);

      if (change->name != NULL)
        printf ("%s%s", i == 0 ? " (" : ", ", change->name);
      else
        printf ("%s#%u", i == 0 ? " (" : ", ", change->index);
    }
  if (images->len > SHOWN_IMAGES)
    printf (", … and %u more", images->len - SHOWN_IMAGES);
  printf ("%s\n", images->len > 0 ? ")" : "");
}

static void
print_comparison (const GraftCliStyle              *style,
                  GraftRun                 *a,
                  GraftRun                 *b,
                  const GraftRunComparison *comparison)
{
  _graft_cli_print_heading (style, "A: %s “%s”", graft_run_get_id (a), graft_run_get_name (a));
  _graft_cli_print_heading (style, "B: %s “%s”", graft_run_get_id (b), graft_run_get_name (b));

  print_config_changes (style, comparison);
  print_metric_deltas (style, comparison);
  if (comparison->metrics->len == 0)
    {
      printf ("\n");
      _graft_cli_print_heading (style, "Metrics: not compared: %s", comparison->classes_note);
      return;
    }
  print_class_deltas (style, comparison);

  printf ("\n");
  if (!comparison->images_compared)
    {
      _graft_cli_print_heading (style, "Test images: not compared: %s", comparison->images_note);
      return;
    }
  _graft_cli_print_heading (style, "Test images one run gets right and the other wrong:");
  print_image_list ("A right, B wrong", comparison->only_a_right);
  print_image_list ("B right, A wrong", comparison->only_b_right);
  if (comparison->images_note != NULL)
    printf ("  (%s)\n", comparison->images_note);
}

int
_graft_cli_compare (GraftCliGlobals  *globals,
                    int               argc,
                    char            **argv)
{
  g_autoptr(GraftRun) a = NULL;
  g_autoptr(GraftRun) b = NULL;
  g_autoptr(GraftRunComparison) comparison = NULL;
  json_object *transfer;

  if (!_graft_cli_parse (globals, &argc, &argv, NULL, "compare PROJECT A B",
                         "Two runs of the project PROJECT side by side: what differs in their\n"
                         "configurations, how their final metrics moved overall and per class\n"
                         "(B − A, ratios in points), and how many test images A gets right and\n"
                         "B wrong and the other way round, with the first few names.\n"
                         "\n"
                         "Exit status: 0 compared, 1 a run that cannot be read, 2 usage."))
    return GRAFT_CLI_EXIT_USAGE;
  if (argc != 4)
    {
      _graft_cli_error ("usage: graft-cli compare PROJECT A B [--json]");
      return GRAFT_CLI_EXIT_USAGE;
    }
  if (!_graft_cli_check_project (argv[1]))
    return GRAFT_CLI_EXIT_FAILURE;
  a = _graft_cli_open_run (argv[1], argv[2]);
  if (a == NULL)
    return GRAFT_CLI_EXIT_FAILURE;
  b = _graft_cli_open_run (argv[1], argv[3]);
  if (b == NULL)
    return GRAFT_CLI_EXIT_FAILURE;

  comparison = graft_run_compare (a, b);
  transfer = transfer_verdict (a, b);
  if (globals->json)
    {
      json_object *root = graft_run_comparison_to_json (comparison);

      json_object_object_add (root, "transfer", transfer);
      _graft_cli_print_json (root, FALSE);
      json_object_put (root);
    }
  else
    {
      GraftCliStyle style;

      _graft_cli_style_init (&style);
      print_comparison (&style, a, b, comparison);
      if (transfer != NULL)
        {
          json_object *verdict = NULL, *advice = NULL;

          json_object_object_get_ex (transfer, "verdict", &verdict);
          printf ("\n%s\n", json_object_get_string (verdict));
          if (json_object_object_get_ex (transfer, "advice", &advice))
            printf ("%s\n", json_object_get_string (advice));
        }
      json_object_put (transfer);
    }
  return GRAFT_CLI_EXIT_OK;
}
