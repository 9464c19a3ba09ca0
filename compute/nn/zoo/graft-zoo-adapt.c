/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-zoo"

/* Pre-trained weights fitted to another task: a new head, other input channels, another
 * image size. The check (graft_zoo_check_fit) reasons from shapes alone so that the
 * application and graft-cli can show it before anything loads; graft_zoo_adapt runs the
 * same check on the shapes it finds in the weights, then does what the check said. */

#include <math.h>
#include <string.h>

#include "graft-zoo-adapt.h"

/* The Vision Transformer's patch side; the CNNs halve their input five times. */
#define VIT_PATCH 16
#define CNN_HALVINGS 5
/* PyTorch's bicubic kernel (Keys' cubic convolution with a = -0.75) */
#define CUBIC_A -0.75
/* load_state's limit on problems listed in one message */
#define MAX_PROBLEMS 12

static gboolean
is_vit (const char *arch)
{
  return g_str_has_prefix (arch, "vit");
}

/* ---- Report ------------------------------------------------------------------------- */

static void
fit_line_free (gpointer data)
{
  GraftZooFitLine *line = data;

  g_free (line->text);
  g_free (line);
}

void
graft_zoo_adapt_report_init (GraftZooAdaptReport *report)
{
  g_return_if_fail (report != NULL);

  memset (report, 0, sizeof *report);
  report->lines = g_ptr_array_new_with_free_func (fit_line_free);
}

void
graft_zoo_adapt_report_clear (GraftZooAdaptReport *report)
{
  g_return_if_fail (report != NULL);

  g_clear_pointer (&report->lines, g_ptr_array_unref);
  memset (report, 0, sizeof *report);
}

static void add_line (GraftZooAdaptReport *report, GraftZooFitKind kind, GraftZooFitTopic topic,
                      const char *format, ...) G_GNUC_PRINTF (4, 5);

static void
add_line (GraftZooAdaptReport *report,
          GraftZooFitKind      kind,
          GraftZooFitTopic     topic,
          const char          *format,
          ...)
{
  GraftZooFitLine *line = g_new0 (GraftZooFitLine, 1);
  va_list args;

  va_start (args, format);
  line->text = g_strdup_vprintf (format, args);
  va_end (args);
  line->kind = kind;
  line->topic = topic;
  g_ptr_array_add (report->lines, line);
}

gboolean
graft_zoo_adapt_report_has (const GraftZooAdaptReport *report,
                            GraftZooFitKind            kind)
{
  g_return_val_if_fail (report != NULL && report->lines != NULL, FALSE);

  for (guint i = 0; i < report->lines->len; i++)
    if (((GraftZooFitLine *) g_ptr_array_index (report->lines, i))->kind == kind)
      return TRUE;
  return FALSE;
}

char *
graft_zoo_adapt_report_to_string (const GraftZooAdaptReport *report)
{
  GString *s = g_string_new (NULL);

  g_return_val_if_fail (report != NULL && report->lines != NULL, NULL);

  for (guint i = 0; i < report->lines->len; i++)
    {
      const GraftZooFitLine *line = g_ptr_array_index (report->lines, i);

      g_string_append_printf (s, "%s%s\n",
                              line->kind == GRAFT_ZOO_FIT_WARNING ? "Warning: "
                              : line->kind == GRAFT_ZOO_FIT_ERROR ? "Error: " : "",
                              line->text);
    }
  if (report->n_params > 0)
    g_string_append_printf (s, "%s head: %" G_GSIZE_FORMAT " parameters; the model has %"
                            G_GSIZE_FORMAT ", %" G_GSIZE_FORMAT " of them trainable\n",
                            report->head_replaced ? "New" : "Kept", report->n_head_params,
                            report->n_params, report->n_trainable);
  return g_string_free (s, FALSE);
}

/* ---- What the weights were trained for -------------------------------------------- */

void
graft_zoo_source_init (GraftZooSource *source)
{
  g_return_if_fail (source != NULL);

  source->n_classes = 1000;
  source->head = GRAFT_ZOO_HEAD_LINEAR;
  source->head_hidden = 0;
  source->in_channels = 3;
  source->image_size = 224;
}

static GraftWeightsEntry *
lookup_matrix (GraftWeights *weights,
               const char   *prefix,
               const char   *suffix)
{
  g_autofree char *name = g_strconcat (prefix, suffix, NULL);
  GraftWeightsEntry *entry = graft_weights_lookup (weights, name);

  return entry != NULL && entry->rank == 2 ? entry : NULL;
}

/* The side of the square grid of patches whose embeddings (after the class token's)
 * @entry holds, or 0 when it is no such [1, 1 + side², E] tensor. */
static guint
pos_embedding_side (const GraftWeightsEntry *entry)
{
  guint side;

  if (entry->rank != 3 || entry->shape[0] != 1 || entry->shape[1] < 2)
    return 0;
  side = (guint) floor (sqrt ((double) (entry->shape[1] - 1)) + 0.5);
  return (gsize) side * side == entry->shape[1] - 1 ? side : 0;
}

gboolean
graft_zoo_source_from_weights (const char      *arch,
                               GraftWeights    *weights,
                               GraftZooSource  *source,
                               GError         **error)
{
  g_autofree char *first_name = NULL;
  const char *classifier, *first_conv, *size;
  GraftWeightsEntry *entry, *hidden, *out;

  g_return_val_if_fail (arch != NULL && weights != NULL && source != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  classifier = graft_zoo_get_classifier (arch, error);
  first_conv = classifier != NULL ? graft_zoo_get_first_conv (arch, error) : NULL;
  if (first_conv == NULL)
    return FALSE;
  graft_zoo_source_init (source);

  if ((entry = lookup_matrix (weights, classifier, ".weight")) != NULL)
    source->n_classes = entry->shape[0];
  else if ((hidden = lookup_matrix (weights, classifier, ".0.weight")) != NULL &&
           (out = lookup_matrix (weights, classifier, ".3.weight")) != NULL)
    {
      source->head = GRAFT_ZOO_HEAD_MLP;
      source->head_hidden = hidden->shape[0];
      source->n_classes = out->shape[0];
    }
  else
    source->n_classes = 0;

  first_name = g_strconcat (first_conv, ".weight", NULL);
  entry = graft_weights_lookup (weights, first_name);
  if (entry == NULL)
    {
      g_set_error (error, GRAFT_IO_ERROR, GRAFT_IO_ERROR_MISSING_KEY,
                   "The weights lack %s, the first convolution of %s; are they for another "
                   "architecture?", first_name, arch);
      return FALSE;
    }
  if (entry->rank != 4)
    {
      g_autofree char *shape = graft_weights_entry_shape_string (entry);

      g_set_error (error, GRAFT_IO_ERROR, GRAFT_IO_ERROR_SHAPE,
                   "The weights' %s is %s, but the first convolution of %s is [out, channels, "
                   "k, k]; are they for another architecture?", first_name, shape, arch);
      return FALSE;
    }
  source->in_channels = entry->shape[1];

  if (is_vit (arch))
    {
      guint side;

      entry = graft_weights_lookup (weights, "encoder.pos_embedding");
      side = entry != NULL ? pos_embedding_side (entry) : 0;
      if (entry == NULL)
        {
          g_set_error (error, GRAFT_IO_ERROR, GRAFT_IO_ERROR_MISSING_KEY,
                       "The weights lack encoder.pos_embedding, the position embeddings of %s; "
                       "are they for another architecture?", arch);
          return FALSE;
        }
      if (side == 0)
        {
          g_autofree char *shape = graft_weights_entry_shape_string (entry);

          g_set_error (error, GRAFT_IO_ERROR, GRAFT_IO_ERROR_SHAPE,
                       "The weights' encoder.pos_embedding is %s, but %s needs [1, 1 + side², "
                       "width]: a class token and a square grid of patches", shape, arch);
          return FALSE;
        }
      source->image_size = side * VIT_PATCH;
    }
  else if ((size = graft_weights_get_metadata (weights, "image_size")) != NULL)
    {
      guint64 value = g_ascii_strtoull (size, NULL, 10);

      if (value > 0 && value <= G_MAXUINT)
        source->image_size = (guint) value;
    }
  return TRUE;
}

/* ---- Check -------------------------------------------------------------------------- */

static gsize
head_params (guint                  n_features,
             const GraftZooOptions *target)
{
  if (target->head == GRAFT_ZOO_HEAD_MLP)
    return (gsize) n_features * target->head_hidden + target->head_hidden +
           (gsize) target->head_hidden * target->n_classes + target->n_classes;
  return (gsize) n_features * target->n_classes + target->n_classes;
}

/* The head is kept only when asked to and the weights' one has the same form and
 * classes: the same number of classes is no sign that they are the same classes. */
static gboolean
head_fits (const GraftZooSource  *source,
           const GraftZooOptions *target)
{
  return target->keep_head && source->n_classes == target->n_classes && source->head == target->head &&
         (target->head != GRAFT_ZOO_HEAD_MLP || source->head_hidden == target->head_hidden);
}

static char *
describe_head (const char *classifier,
               guint       n_features,
               GraftZooHead head,
               guint       hidden,
               guint       n_classes)
{
  if (head == GRAFT_ZOO_HEAD_MLP)
    return g_strdup_printf ("an MLP %s.0 [%u, %u] → ReLU → dropout → %s.3 [%u, %u]", classifier,
                            hidden, n_features, classifier, n_classes, hidden);
  return g_strdup_printf ("%s [%u, %u]", classifier, n_classes, n_features);
}

static void
check_head (const char            *arch,
            const GraftZooSource  *source,
            const GraftZooOptions *target,
            GraftZooAdaptReport   *report)
{
  const char *classifier = graft_zoo_get_classifier (arch, NULL);
  guint n_features = graft_zoo_get_n_features (arch, NULL);
  g_autofree char *new_head = describe_head (classifier, n_features, target->head,
                                             target->head_hidden, target->n_classes);

  report->n_head_params = head_params (n_features, target);
  report->head_replaced = !head_fits (source, target);
  if (target->n_classes == 0)
    add_line (report, GRAFT_ZOO_FIT_ERROR, GRAFT_ZOO_FIT_HEAD,
              "The model needs at least one class to tell apart; give the dataset's classes");
  else if (source->n_classes == 0)
    add_line (report, GRAFT_ZOO_FIT_ADAPT, GRAFT_ZOO_FIT_HEAD,
              "New head: %u classes through %s, from random weights: the weights have no "
              "classifier (%" G_GSIZE_FORMAT " parameters to train)", target->n_classes,
              new_head, report->n_head_params);
  else if (!report->head_replaced)
    add_line (report, GRAFT_ZOO_FIT_NOTE, GRAFT_ZOO_FIT_HEAD,
              "The weights' classifier %s already gives %u classes and is kept as trained; "
              "if your classes are not the ones it learned, choose another head to start "
              "it afresh", new_head, target->n_classes);
  else
    {
      g_autofree char *old_head = describe_head (classifier, n_features, source->head,
                                                 source->head_hidden, source->n_classes);

      add_line (report, GRAFT_ZOO_FIT_ADAPT, GRAFT_ZOO_FIT_HEAD,
                "New head: %u → %u classes: %s replaces %s, from random weights "
                "(%" G_GSIZE_FORMAT " parameters to train)", source->n_classes,
                target->n_classes, new_head, old_head, report->n_head_params);
    }
}

static void
check_channels (const char            *arch,
                const GraftZooSource  *source,
                const GraftZooOptions *target,
                GraftZooAdaptReport   *report)
{
  const char *first = graft_zoo_get_first_conv (arch, NULL);
  guint from = source->in_channels, to = target->in_channels;

  if (to == 0)
    add_line (report, GRAFT_ZOO_FIT_ERROR, GRAFT_ZOO_FIT_CHANNELS,
              "Images need at least one channel");
  else if (from == to)
    return;
  else if (to == 1)
    add_line (report, GRAFT_ZOO_FIT_ADAPT, GRAFT_ZOO_FIT_CHANNELS,
              "The model expects %u %s channels; your images are greyscale: the first "
              "convolution's weights (%s.weight) will be summed over the %s channels. "
              "Normalise the images with the mean of the %u channels' means and of their "
              "standard deviations", from, from == 3 ? "colour" : "input", first,
              from == 3 ? "colour" : "input", from);
  else if (from == 1)
    add_line (report, GRAFT_ZOO_FIT_ADAPT, GRAFT_ZOO_FIT_CHANNELS,
              "The weights are for greyscale images; yours have %u channels: the first "
              "convolution's weights (%s.weight) will be shared among them, 1/%u to each, so "
              "that the network sees their mean as the grey image it was trained on", to,
              first, to);
  else
    add_line (report, GRAFT_ZOO_FIT_ADAPT, GRAFT_ZOO_FIT_CHANNELS,
              "The weights expect %u input channels; your images have %u: the first "
              "convolution's weights (%s.weight) will be repeated over the channels in turn "
              "and scaled by %u/%u, so that its output keeps its scale", from, to, first,
              from, to);
}

static guint
halved (guint size,
        guint times)
{
  for (guint i = 0; i < times; i++)
    size = (size + 1) / 2;
  return size;
}

static void
check_resolution (const char            *arch,
                  const GraftZooSource  *source,
                  const GraftZooOptions *target,
                  GraftZooAdaptReport   *report)
{
  guint size = target->image_size;

  if (size == 0)
    {
      add_line (report, GRAFT_ZOO_FIT_ERROR, GRAFT_ZOO_FIT_RESOLUTION, "Images need a size");
      return;
    }
  if (is_vit (arch))
    {
      guint old_side = source->image_size / VIT_PATCH, new_side = size / VIT_PATCH;

      if (size % VIT_PATCH != 0)
        {
          guint below = new_side * VIT_PATCH;

          if (below > 0)
            add_line (report, GRAFT_ZOO_FIT_ERROR, GRAFT_ZOO_FIT_RESOLUTION,
                      "The Vision Transformer cuts images into %u×%u-pixel patches: %u "
                      "pixels is not a multiple of %u; choose %u or %u", VIT_PATCH, VIT_PATCH,
                      size, VIT_PATCH, below, below + VIT_PATCH);
          else
            add_line (report, GRAFT_ZOO_FIT_ERROR, GRAFT_ZOO_FIT_RESOLUTION,
                      "The Vision Transformer cuts images into %u×%u-pixel patches: %u "
                      "pixels is not a multiple of %u; choose %u or more", VIT_PATCH,
                      VIT_PATCH, size, VIT_PATCH, VIT_PATCH);
        }
      else if (new_side != old_side)
        add_line (report, GRAFT_ZOO_FIT_ADAPT, GRAFT_ZOO_FIT_RESOLUTION,
                  "Position embeddings resized from %u×%u to %u×%u patches for %u-pixel "
                  "images (bicubic interpolation of the grid; the class token's kept)",
                  old_side, old_side, new_side, new_side, size);
      return;
    }

  if (size != source->image_size)
    {
      guint map = halved (size, CNN_HALVINGS), native = halved (source->image_size, CNN_HALVINGS);

      add_line (report, GRAFT_ZOO_FIT_NOTE, GRAFT_ZOO_FIT_RESOLUTION,
                "The weights were trained on %u-pixel images; the convolutions take %u-pixel "
                "ones as they are, ending on a %u×%u feature map instead of %u×%u",
                source->image_size, size, map, map, native, native);
    }
  /* below 32 pixels the map collapses to 1×1 early, up to 16 before the last halving */
  if (size < 1u << CNN_HALVINGS)
    {
      guint stage = 1;

      while (halved (size, stage) > 1)
        stage++;
      add_line (report, GRAFT_ZOO_FIT_WARNING, GRAFT_ZOO_FIT_RESOLUTION,
                "At %u pixels, far below the %u the weights were trained at, the feature map "
                "is down to 1×1 after %u of the network's %u halvings%s; %u pixels or more "
                "work better, 64 or more better still", size, source->image_size, stage,
                CNN_HALVINGS, stage < CNN_HALVINGS ? ", so the layers after that see no "
                "spatial layout" : " and the last stage starts from 2×2",
                1u << CNN_HALVINGS);
    }
}

gboolean
graft_zoo_check_fit (const char             *arch,
                     const GraftZooSource   *source,
                     const GraftZooOptions  *target,
                     GraftZooAdaptReport    *report,
                     GError                **error)
{
  GraftZooOptions defaults;

  g_return_val_if_fail (arch != NULL && source != NULL && report != NULL, FALSE);
  g_return_val_if_fail (report->lines != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  g_ptr_array_set_size (report->lines, 0);
  report->head_replaced = FALSE;
  report->n_head_params = report->n_params = report->n_trainable = 0;
  if (graft_zoo_get_classifier (arch, error) == NULL)
    return FALSE;
  if (target == NULL)
    {
      graft_zoo_options_init (&defaults);
      target = &defaults;
    }

  check_head (arch, source, target, report);
  check_channels (arch, source, target, report);
  check_resolution (arch, source, target, report);

  for (guint i = 0; i < report->lines->len; i++)
    {
      const GraftZooFitLine *line = g_ptr_array_index (report->lines, i);

      if (line->kind == GRAFT_ZOO_FIT_ERROR)
        {
          g_set_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_SHAPE, "%s cannot load "
                       "these weights so: %s", arch, line->text);
          return FALSE;
        }
    }
  return TRUE;
}

/* ---- Adapting tensors --------------------------------------------------------------- */

/* timm's adapt_input_conv generalised to any source channel count: [O, from, k, k] into
 * [O, to, k, k]. One channel: the sum over the source's, in channel order. Otherwise the
 * source channels repeated in turn, times from / to (in float, as PyTorch multiplies a
 * float tensor by a Python number). */
static void
adapt_channels (const GraftWeightsEntry *src,
                GraftWeightsEntry       *dst)
{
  gsize out = dst->shape[0], from = src->shape[1], to = dst->shape[1];
  gsize plane = dst->shape[2] * dst->shape[3];
  float scale = (float) ((double) from / (double) to);

  for (gsize o = 0; o < out; o++)
    {
      const float *s = src->data + o * from * plane;
      float *d = dst->data + o * to * plane;

      if (to == 1)
        for (gsize p = 0; p < plane; p++)
          {
            float sum = s[p];

            for (gsize c = 1; c < from; c++)
              sum += s[c * plane + p];
            d[p] = sum;
          }
      else
        for (gsize c = 0; c < to; c++)
          for (gsize p = 0; p < plane; p++)
            d[c * plane + p] = s[(c % from) * plane + p] * scale;
    }
}

static double
cubic_near (double x)
{
  return ((CUBIC_A + 2.0) * x - (CUBIC_A + 3.0)) * x * x + 1.0;
}

static double
cubic_far (double x)
{
  return ((CUBIC_A * x - 5.0 * CUBIC_A) * x + 8.0 * CUBIC_A) * x - 4.0 * CUBIC_A;
}

/* PyTorch's upsample_bicubic2d taps with align_corners: output @i of @out reads inputs
 * @index[0..3] of @in (clamped at the edges) with @weight[0..3]. The source position is
 * computed in float, as PyTorch does for float tensors. */
static void
cubic_taps (guint   in,
            guint   out,
            guint   i,
            guint   index[4],
            double  weight[4])
{
  float scale = out > 1 ? (float) (in - 1) / (float) (out - 1) : 0.0f;
  float real = scale * (float) i;
  int base = MIN ((int) floorf (real), (int) in - 1);
  double t = CLAMP ((double) (real - (float) base), 0.0, 1.0);

  weight[0] = cubic_far (t + 1.0);
  weight[1] = cubic_near (t);
  weight[2] = cubic_near (1.0 - t);
  weight[3] = cubic_far (2.0 - t);
  for (int k = 0; k < 4; k++)
    index[k] = (guint) CLAMP (base - 1 + k, 0, (int) in - 1);
}

/* torchvision's interpolate_embeddings: [1, 1 + old², E] into [1, 1 + new², E], the class
 * token's row copied, each feature's old × old grid resized bicubically to new × new. */
static void
resize_pos_embedding (const GraftWeightsEntry *src,
                      guint                    old_side,
                      GraftWeightsEntry       *dst,
                      guint                    new_side)
{
  gsize width = dst->shape[2];
  const float *grid = src->data + width;
  float *out = dst->data + width;

  memcpy (dst->data, src->data, width * sizeof (float));
  for (guint y = 0; y < new_side; y++)
    {
      guint iy[4];
      double wy[4];

      cubic_taps (old_side, new_side, y, iy, wy);
      for (guint x = 0; x < new_side; x++)
        {
          guint ix[4];
          double wx[4];
          float *row = out + ((gsize) y * new_side + x) * width;

          cubic_taps (old_side, new_side, x, ix, wx);
          for (gsize e = 0; e < width; e++)
            {
              double sum = 0.0;

              for (int j = 0; j < 4; j++)
                {
                  double across = 0.0;

                  for (int i = 0; i < 4; i++)
                    across += wx[i] * grid[((gsize) iy[j] * old_side + ix[i]) * width + e];
                  sum += wy[j] * across;
                }
              row[e] = (float) sum;
            }
        }
    }
}

static gboolean
same_shape (const GraftWeightsEntry *a,
            const GraftWeightsEntry *b)
{
  if (a->rank != b->rank)
    return FALSE;
  for (guint d = 0; d < a->rank; d++)
    if (a->shape[d] != b->shape[d])
      return FALSE;
  return TRUE;
}

typedef struct {
  GString *text;
  guint    n;
  int      first_code;
} Problems;

static void add_problem (Problems *problems, int code, const char *format, ...)
  G_GNUC_PRINTF (3, 4);

static void
add_problem (Problems   *problems,
             int         code,
             const char *format,
             ...)
{
  va_list args;

  if (problems->first_code < 0)
    problems->first_code = code;
  if (problems->n++ >= MAX_PROBLEMS)
    return;
  if (problems->text->len > 0)
    g_string_append (problems->text, "; ");
  va_start (args, format);
  g_string_append_vprintf (problems->text, format, args);
  va_end (args);
}

/* @state (the target model's, its head freshly initialised) receives every tensor of
 * @source that the model keeps, adapted where the check allowed it. */
static gboolean
adapt_state (const char    *arch,
             GraftWeights  *source,
             gboolean       replace_head,
             GraftWeights  *state,
             GError       **error)
{
  const char *classifier = graft_zoo_get_classifier (arch, NULL);
  g_autofree char *first = g_strconcat (graft_zoo_get_first_conv (arch, NULL), ".weight", NULL);
  g_autofree char *old_head = g_strconcat (classifier, ".", NULL);
  Problems problems = { g_string_new (NULL), 0, -1 };
  gboolean ok;

  for (guint i = 0; i < graft_weights_get_n (state); i++)
    {
      GraftWeightsEntry *dst = graft_weights_get (state, i);
      GraftWeightsEntry *src;
      g_autofree char *want = NULL;
      g_autofree char *got = NULL;

      if (replace_head && g_str_has_prefix (dst->name, old_head))
        continue;
      src = graft_weights_lookup (source, dst->name);
      if (src == NULL)
        {
          add_problem (&problems, GRAFT_IO_ERROR_MISSING_KEY, "%s is missing from the file",
                       dst->name);
          continue;
        }
      if (same_shape (src, dst))
        {
          memcpy (dst->data, src->data, dst->n_elements * sizeof (float));
          continue;
        }
      if (g_str_equal (dst->name, first) && src->rank == 4 && dst->rank == 4 &&
          src->shape[0] == dst->shape[0] && src->shape[2] == dst->shape[2] &&
          src->shape[3] == dst->shape[3])
        {
          adapt_channels (src, dst);
          continue;
        }
      if (is_vit (arch) && g_str_equal (dst->name, "encoder.pos_embedding") &&
          pos_embedding_side (src) > 0 && pos_embedding_side (dst) > 0 &&
          src->shape[2] == dst->shape[2])
        {
          resize_pos_embedding (src, pos_embedding_side (src), dst, pos_embedding_side (dst));
          continue;
        }
      got = graft_weights_entry_shape_string (src);
      want = graft_weights_entry_shape_string (dst);
      add_problem (&problems, GRAFT_IO_ERROR_SHAPE, "%s is %s in the file, the model needs %s",
                   dst->name, got, want);
    }

  for (guint i = 0; i < graft_weights_get_n (source); i++)
    {
      GraftWeightsEntry *src = graft_weights_get (source, i);

      if (graft_weights_lookup (state, src->name) == NULL &&
          !g_str_has_suffix (src->name, "num_batches_tracked") &&
          !(replace_head && g_str_has_prefix (src->name, old_head)))
        add_problem (&problems, GRAFT_IO_ERROR_UNEXPECTED_KEY, "%s is not part of %s",
                     src->name, arch);
    }

  ok = problems.n == 0;
  if (!ok)
    {
      if (problems.n > MAX_PROBLEMS)
        g_string_append_printf (problems.text, "; and %u more", problems.n - MAX_PROBLEMS);
      g_set_error (error, GRAFT_IO_ERROR, problems.first_code,
                   "The weights do not fit %s (only its head, its first convolution's input "
                   "channels and its position embeddings can be adapted; are they for "
                   "another architecture?): %s", arch, problems.text->str);
    }
  g_string_free (problems.text, TRUE);
  return ok;
}

GraftModel *
graft_zoo_adapt (GraftBackend           *backend,
                 const char             *arch,
                 GraftWeights           *source,
                 const GraftZooOptions  *target,
                 GraftZooAdaptReport    *report,
                 GError                **error)
{
  g_auto(GraftZooAdaptReport) own_report = { 0 };
  g_autoptr(GraftModel) model = NULL;
  g_autoptr(GraftWeights) state = NULL;
  GraftZooOptions defaults;
  GraftZooSource info;

  g_return_val_if_fail (backend != NULL && arch != NULL && source != NULL, NULL);
  g_return_val_if_fail (report == NULL || report->lines != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (target == NULL)
    {
      graft_zoo_options_init (&defaults);
      target = &defaults;
    }
  if (report == NULL)
    {
      graft_zoo_adapt_report_init (&own_report);
      report = &own_report;
    }

  if (!graft_zoo_source_from_weights (arch, source, &info, error) ||
      !graft_zoo_check_fit (arch, &info, target, report, error))
    return NULL;
  model = graft_zoo_build (backend, arch, target, error);
  if (model == NULL)
    return NULL;
  state = graft_model_get_state (model, error);
  if (state == NULL ||
      !adapt_state (arch, source, report->head_replaced, state, error) ||
      !graft_model_load_state (model, state, error))
    return NULL;

  report->n_params = graft_model_count_parameters (model, &report->n_trainable, NULL);
  return g_steal_pointer (&model);
}

/* ---- Normalisation ------------------------------------------------------------------ */

void
graft_zoo_adapt_normalisation (guint        source_channels,
                               const float *source_mean,
                               const float *source_std,
                               guint        target_channels,
                               float       *target_mean,
                               float       *target_std)
{
  g_return_if_fail (source_channels > 0 && target_channels > 0);
  g_return_if_fail (source_mean != NULL && source_std != NULL);
  g_return_if_fail (target_mean != NULL && target_std != NULL);

  if (target_channels == 1 && source_channels > 1)
    {
      double mean = 0.0, std = 0.0;

      for (guint c = 0; c < source_channels; c++)
        {
          mean += source_mean[c];
          std += source_std[c];
        }
      target_mean[0] = (float) (mean / source_channels);
      target_std[0] = (float) (std / source_channels);
      return;
    }
  for (guint c = 0; c < target_channels; c++)
    {
      target_mean[c] = source_mean[c % source_channels];
      target_std[c] = source_std[c % source_channels];
    }
}
