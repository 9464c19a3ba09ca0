/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-test"

/* Pre-trained weights adapted to another task (graft_zoo_adapt) against the same
 * adaptation done in PyTorch (gen_adapt.py): a new linear or MLP head, a first
 * convolution for 1, 3 or 4 input channels, the Vision Transformer's position embeddings
 * for 128-pixel images. Graft adapts PyTorch's source weights, takes the same new head
 * weights, and must give PyTorch's adapted state dict and eval output on the CPU backend.
 *
 * Tensors copied as they are must be bitwise equal. The adapted ones are computed in
 * float by both sides in ways that may round differently:
 *   - the first convolution: a sum over the source channels, or a product by
 *     source / target channels. Each value is one product or a sum of at most three
 *     terms; any order of summation and either precision of the scale leave it within
 *     2 roundings, i.e. 2 FLT_EPSILON of the largest sum of magnitudes, so the test
 *     allows CONV_ULPS FLT_EPSILON of (largest source magnitude × source channels).
 *     (They are bitwise equal in practice; the log counts them.) Averaging instead of
 *     summing, a missing scale or a channel taken in the wrong order is off by 30% or more.
 *   - the position embeddings: PyTorch computes the source positions, the cubic weights
 *     and both 4-tap sums in float, Graft the weights and sums in double. Each output is
 *     a combination of 16 inputs whose weights' magnitudes sum to at most 1.375² (about
 *     1.9: Keys' kernel at a half-way point), reached through up to ten float roundings
 *     on PyTorch's side: within POS_TOLERANCE (20 FLT_EPSILON) of the largest input
 *     (the log shows about half of it). Bilinear instead of bicubic, or align_corners
 *     off, moves values by 1e-2 or more of it.
 * The eval output is held to test-reference-models' tolerance: the answer is PyTorch's in
 * float64, and Graft may stray from it FACTOR times as far as PyTorch's own float32 run
 * (noise.eval.output, near 1e-7 here), never needing to be closer than BASE.
 *
 * Without PyTorch those cases skip; the error cases, graft_zoo_check_fit()'s lines and
 * the normalisation helper are checked on Graft's own models. */

#include <float.h>
#include <math.h>
#include <string.h>

#include "graft-reference.h"

#define BASE 1e-4
#define FACTOR 4.0
#define CONV_ULPS 4.0
#define POS_TOLERANCE (20.0 * FLT_EPSILON)
#define BATCH 2

typedef struct {
  const char   *name;           /* gen_adapt.py's case */
  const char   *arch;
  guint         src_channels;
  guint         dst_channels;
  guint         image_size;
  guint         classes;
  GraftZooHead  head;
  guint         hidden;
  float         head_dropout;
  const char   *expect;         /* in the report's channel or resolution line, or NULL */
} Case;

static const Case cases[] = {
  { "resnet18-linear", "resnet18", 3, 3, 64, 5, GRAFT_ZOO_HEAD_LINEAR, 0, 0.0f, NULL },
  { "resnet18-mlp", "resnet18", 3, 3, 64, 5, GRAFT_ZOO_HEAD_MLP, 32, 0.2f, NULL },
  { "resnet18-grey", "resnet18", 3, 1, 64, 5, GRAFT_ZOO_HEAD_LINEAR, 0, 0.0f,
    "The model expects 3 colour channels; your images are greyscale: the first "
    "convolution's weights (conv1.weight) will be summed over the colour channels" },
  { "resnet18-from-grey", "resnet18", 1, 3, 64, 5, GRAFT_ZOO_HEAD_LINEAR, 0, 0.0f,
    "The weights are for greyscale images; yours have 3 channels: the first "
    "convolution's weights (conv1.weight) will be shared among them, 1/3 to each" },
  { "resnet18-four", "resnet18", 3, 4, 64, 5, GRAFT_ZOO_HEAD_LINEAR, 0, 0.0f,
    "repeated over the channels in turn and scaled by 3/4" },
  { "mobilenet_v3_small-grey", "mobilenet_v3_small", 3, 1, 64, 7, GRAFT_ZOO_HEAD_MLP, 48,
    0.1f, "(features.0.0.weight) will be summed over the colour channels" },
  { "mobilenet_v3_small-from-grey", "mobilenet_v3_small", 1, 3, 64, 7, GRAFT_ZOO_HEAD_LINEAR,
    0, 0.0f, "(features.0.0.weight) will be shared among them, 1/3 to each" },
  { "vit_tiny-128", "vit_tiny", 3, 3, 128, 5, GRAFT_ZOO_HEAD_LINEAR, 0, 0.0f,
    "Position embeddings resized from 14×14 to 8×8 patches for 128-pixel images" },
};

static GraftBackend *
open_cpu (void)
{
  g_autoptr(GError) error = NULL;
  GraftBackend *cpu = graft_backend_open ("cpu", &error);

  g_assert_no_error (error);
  return cpu;
}

static void
options_for (const Case      *c,
             GraftZooOptions *options)
{
  graft_zoo_options_init (options);
  options->n_classes = c->classes;
  options->in_channels = c->dst_channels;
  options->image_size = c->image_size;
  options->seed = 11;
  options->head = c->head;
  if (c->head == GRAFT_ZOO_HEAD_MLP)
    {
      options->head_hidden = c->hidden;
      options->head_dropout = c->head_dropout;
    }
}

/* The reference's tensors under @prefix, without it. */
static GraftWeights *
weights_from_ref (GraftSafetensors *ref,
                  const char       *prefix)
{
  GraftWeights *weights = graft_weights_new ();
  const char *const *names = graft_safetensors_get_names (ref);

  for (guint i = 0; names[i] != NULL; i++)
    {
      guint rank;
      gsize shape[GRAFT_TENSOR_MAX_RANK];
      float *data;

      if (!g_str_has_prefix (names[i], prefix))
        continue;
      data = graft_reference_read (ref, names[i], &rank, shape, NULL);
      graft_weights_take (weights, names[i] + strlen (prefix), rank, shape, data);
    }
  return weights;
}

static const GraftZooFitLine *
find_line (const GraftZooAdaptReport *report,
           GraftZooFitTopic           topic,
           const char                *fragment)
{
  for (guint i = 0; i < report->lines->len; i++)
    {
      const GraftZooFitLine *line = g_ptr_array_index (report->lines, i);

      if (line->topic == topic && strstr (line->text, fragment) != NULL)
        return line;
    }
  return NULL;
}

static void
assert_line (const GraftZooAdaptReport *report,
             GraftZooFitKind            kind,
             GraftZooFitTopic           topic,
             const char                *fragment)
{
  const GraftZooFitLine *line = find_line (report, topic, fragment);

  if (line == NULL || line->kind != kind)
    {
      g_autofree char *all = graft_zoo_adapt_report_to_string (report);

      g_error ("no line of kind %d with “%s” in the report:\n%s", kind, fragment, all);
    }
}

static guint
count_topic (const GraftZooAdaptReport *report,
             GraftZooFitTopic           topic)
{
  guint n = 0;

  for (guint i = 0; i < report->lines->len; i++)
    n += ((GraftZooFitLine *) g_ptr_array_index (report->lines, i))->topic == topic;
  return n;
}

static float
largest_magnitude (const GraftWeightsEntry *entry)
{
  float m = 0.0f;

  for (gsize i = 0; i < entry->n_elements; i++)
    m = MAX (m, fabsf (entry->data[i]));
  return m;
}

/* Every tensor of the adapted model against PyTorch's adapted state dict. */
static void
compare_state (const Case       *c,
               GraftModel       *model,
               GraftSafetensors *ref,
               GraftWeights     *source)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GraftWeights) state = graft_model_get_state (model, &error);
  g_autoptr(GraftWeights) want = weights_from_ref (ref, "adapted.");
  g_autofree char *first = g_strconcat (graft_zoo_get_first_conv (c->arch, NULL), ".weight", NULL);
  guint n_bitwise = 0, n_adapted = 0;

  g_assert_no_error (error);
  /* the same names: the new head's included */
  g_assert_cmpuint (graft_weights_get_n (state), ==, graft_weights_get_n (want));
  for (guint i = 0; i < graft_weights_get_n (state); i++)
    {
      GraftWeightsEntry *got = graft_weights_get (state, i);
      GraftWeightsEntry *expected = graft_weights_lookup (want, got->name);
      gboolean conv = g_str_equal (got->name, first) && c->src_channels != c->dst_channels;
      gboolean pos = g_str_equal (got->name, "encoder.pos_embedding");
      double tolerance, worst = 0.0;

      if (expected == NULL)
        g_error ("%s: %s is not in PyTorch's adapted state dict", c->name, got->name);
      g_assert_cmpuint (got->n_elements, ==, expected->n_elements);
      if (!conv && !pos)
        {
          if (memcmp (got->data, expected->data, got->n_elements * sizeof (float)) != 0)
            g_error ("%s: %s differs from PyTorch's, which holds the file's values as they "
                     "are", c->name, got->name);
          continue;
        }

      {
        GraftWeightsEntry *src = graft_weights_lookup (source, got->name);

        g_assert_nonnull (src);
        tolerance = conv ? CONV_ULPS * FLT_EPSILON * largest_magnitude (src) * c->src_channels
                         : POS_TOLERANCE * largest_magnitude (src);
      }
      for (gsize k = 0; k < got->n_elements; k++)
        {
          double d = fabs ((double) got->data[k] - (double) expected->data[k]);

          worst = MAX (worst, d);
          n_bitwise += got->data[k] == expected->data[k];
        }
      n_adapted += got->n_elements;
      g_test_message ("%s: %s adapted, largest difference %.3g (tolerance %.3g)", c->name,
                      got->name, worst, tolerance);
      if (!(worst <= tolerance))
        g_test_fail_printf ("%s: %s differs from PyTorch's by up to %.3g (tolerance %.3g)",
                            c->name, got->name, worst, tolerance);
    }
  if (n_adapted > 0)
    g_test_message ("%s: %u of %u adapted values bitwise equal to PyTorch's", c->name,
                    n_bitwise, n_adapted);
  g_test_message ("%s: every other tensor bitwise equal to PyTorch's", c->name);
}

static void
test_case (gconstpointer data)
{
  const Case *c = data;
  const char *args[] = { c->name, NULL };
  g_autoptr(GraftSafetensors) ref = NULL;
  g_autoptr(GraftBackend) cpu = NULL;
  g_autoptr(GraftWeights) source = NULL;
  g_autoptr(GraftModel) model = NULL;
  g_autoptr(GraftModel) fresh = NULL;
  g_auto(GraftZooAdaptReport) report = { 0 };
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) head = NULL;
  g_autofree char *why = NULL;
  g_autofree char *head_line = NULL;
  g_autofree float *input = NULL;
  g_autofree float *want = NULL;
  g_autofree float *got = NULL;
  g_autofree float *noise = NULL;
  GraftZooOptions options;
  gsize n_head = 0, n_input, n_out;
  double err, tolerance;

  ref = graft_reference_generate_args ("gen_adapt.py", args, &why);
  if (ref == NULL)
    {
      graft_reference_unavailable (why);
      return;
    }
  cpu = open_cpu ();
  source = weights_from_ref (ref, "source.");
  options_for (c, &options);

  graft_zoo_adapt_report_init (&report);
  model = graft_zoo_adapt (cpu, c->arch, source, &options, &report, &error);
  g_assert_no_error (error);
  g_assert_nonnull (model);
  {
    g_autofree char *text = graft_zoo_adapt_report_to_string (&report);

    g_test_message ("%s:\n%s", c->name, text);
  }

  /* the report: the head replaced, what the channels and image size needed, the counts */
  head = graft_zoo_get_head_names (c->arch, &options, &error);
  g_assert_no_error (error);
  for (guint i = 0; head[i] != NULL; i++)
    {
      const GraftParamInfo *info = graft_model_find_param (model, head[i]);

      g_assert_nonnull (info);
      g_assert_cmpstr (info->block, ==, "head");
      n_head += graft_tensor_get_n_elements (info->value);
    }
  g_assert_true (report.head_replaced);
  g_assert_cmpuint (report.n_head_params, ==, n_head);
  g_assert_cmpuint (report.n_params, ==, graft_model_count_parameters (model, NULL, NULL));
  g_assert_cmpuint (report.n_trainable, ==, report.n_params);
  head_line = g_strdup_printf ("New head: 1000 → %u classes", c->classes);
  assert_line (&report, GRAFT_ZOO_FIT_ADAPT, GRAFT_ZOO_FIT_HEAD, head_line);
  if (c->head == GRAFT_ZOO_HEAD_MLP)
    assert_line (&report, GRAFT_ZOO_FIT_ADAPT, GRAFT_ZOO_FIT_HEAD, "an MLP");
  if (c->expect != NULL)
    assert_line (&report, GRAFT_ZOO_FIT_ADAPT,
                 c->src_channels != c->dst_channels ? GRAFT_ZOO_FIT_CHANNELS
                                                    : GRAFT_ZOO_FIT_RESOLUTION, c->expect);
  g_assert_cmpuint (count_topic (&report, GRAFT_ZOO_FIT_CHANNELS), ==,
                    c->src_channels != c->dst_channels);
  g_assert_false (graft_zoo_adapt_report_has (&report, GRAFT_ZOO_FIT_ERROR));

  /* the new head starts as graft_zoo_build initialises it from the target's seed */
  fresh = graft_zoo_build (cpu, c->arch, &options, &error);
  g_assert_no_error (error);
  for (guint i = 0; head[i] != NULL; i++)
    {
      GraftTensor *a = graft_model_find_param (model, head[i])->value;
      GraftTensor *b = graft_model_find_param (fresh, head[i])->value;
      gsize n = graft_tensor_get_n_elements (a);
      g_autofree float *va = g_new (float, n);
      g_autofree float *vb = g_new (float, n);

      g_assert_true (graft_tensor_download (a, va, n, &error));
      g_assert_true (graft_tensor_download (b, vb, n, &error));
      g_assert_no_error (error);
      g_assert_cmpmem (va, n * sizeof (float), vb, n * sizeof (float));
    }

  /* then takes PyTorch's new head, as a user would set their own */
  for (guint i = 0; head[i] != NULL; i++)
    {
      g_autofree char *key = g_strconcat ("head.", head[i], NULL);
      gsize n;
      g_autofree float *values = graft_reference_read (ref, key, NULL, NULL, &n);

      g_assert_true (graft_tensor_upload (graft_model_find_param (model, head[i])->value,
                                          values, n, &error));
      g_assert_no_error (error);
    }
  compare_state (c, model, ref, source);

  g_assert_true (graft_model_prepare (model, BATCH, c->image_size, c->image_size, &error));
  g_assert_no_error (error);
  input = graft_reference_read (ref, "input", NULL, NULL, &n_input);
  g_assert_true (graft_tensor_upload (graft_model_get_input (model), input, n_input, &error));
  g_assert_true (graft_model_forward (model, FALSE, 0, &error));
  g_assert_no_error (error);
  want = graft_reference_read (ref, "eval.output", NULL, NULL, &n_out);
  g_assert_cmpuint (n_out, ==, BATCH * c->classes);
  got = g_new (float, n_out);
  g_assert_true (graft_tensor_download (graft_model_get_output (model), got, n_out, &error));
  g_assert_no_error (error);
  noise = graft_reference_read (ref, "noise.eval.output", NULL, NULL, NULL);
  err = graft_reference_error (got, want, n_out);
  tolerance = MAX (BASE, FACTOR * noise[0]);
  g_test_message ("%s: eval output error %.3g (tolerance %.3g)", c->name, err, tolerance);
  if (!(err <= tolerance))
    g_test_fail_printf ("%s: the adapted model's output differs from PyTorch's by %.3g "
                        "(tolerance %.3g)", c->name, err, tolerance);
}

/* ---- Errors ------------------------------------------------------------------------- */

/* Graft's own model of @arch as a state dict: weights to adapt without PyTorch. */
static GraftWeights *
own_weights (GraftBackend *cpu,
             const char   *arch,
             guint         n_classes,
             GraftZooHead  head)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GraftModel) model = NULL;
  GraftZooOptions options;
  GraftWeights *weights;

  graft_zoo_options_init (&options);
  options.n_classes = n_classes;
  options.head = head;
  options.seed = 3;
  model = graft_zoo_build (cpu, arch, &options, &error);
  g_assert_no_error (error);
  weights = graft_model_get_state (model, &error);
  g_assert_no_error (error);
  return weights;
}

static void
replace_shape (GraftWeights *weights,
               const char   *name,
               guint         rank,
               const gsize  *shape)
{
  gsize n = 1;

  for (guint d = 0; d < rank; d++)
    n *= shape[d];
  graft_weights_take (weights, name, rank, shape, g_new0 (float, n));
}

static void
expect_failure (GraftBackend          *cpu,
                const char            *arch,
                GraftWeights          *weights,
                const GraftZooOptions *options,
                GQuark                 domain,
                int                    code,
                const char *const     *fragments)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GraftModel) model = NULL;
  g_auto(GraftZooAdaptReport) report = { 0 };

  graft_zoo_adapt_report_init (&report);
  model = graft_zoo_adapt (cpu, arch, weights, options, &report, &error);
  g_assert_null (model);
  g_assert_error (error, domain, code);
  for (guint i = 0; fragments[i] != NULL; i++)
    if (strstr (error->message, fragments[i]) == NULL)
      g_error ("“%s” is not in the error “%s”", fragments[i], error->message);
  g_test_message ("%s", error->message);
}

static void
test_errors (void)
{
  g_autoptr(GraftBackend) cpu = open_cpu ();
  GraftZooOptions options;

  graft_zoo_options_init (&options);
  options.n_classes = 5;
  options.image_size = 64;

  /* a backbone tensor of another shape names itself, the file's and the model's shapes */
  {
    g_autoptr(GraftWeights) weights = own_weights (cpu, "resnet18", 1000, GRAFT_ZOO_HEAD_LINEAR);

    replace_shape (weights, "layer1.0.conv1.weight", 4, (gsize[]) { 64, 32, 3, 3 });
    expect_failure (cpu, "resnet18", weights, &options, GRAFT_IO_ERROR, GRAFT_IO_ERROR_SHAPE,
                    (const char *const[]) { "layer1.0.conv1.weight is [64, 32, 3, 3] in the "
                                            "file, the model needs [64, 64, 3, 3]", NULL });
  }
  /* the first convolution adapts its channels, not its kernel */
  {
    g_autoptr(GraftWeights) weights = own_weights (cpu, "resnet18", 1000, GRAFT_ZOO_HEAD_LINEAR);
    GraftZooOptions grey = options;

    grey.in_channels = 1;
    replace_shape (weights, "conv1.weight", 4, (gsize[]) { 64, 3, 5, 5 });
    expect_failure (cpu, "resnet18", weights, &grey, GRAFT_IO_ERROR, GRAFT_IO_ERROR_SHAPE,
                    (const char *const[]) { "conv1.weight is [64, 3, 5, 5] in the file, the "
                                            "model needs [64, 1, 7, 7]", NULL });
  }
  /* missing and unexpected tensors, all named in one message */
  {
    g_autoptr(GraftWeights) weights = own_weights (cpu, "resnet18", 1000, GRAFT_ZOO_HEAD_LINEAR);

    g_assert_true (graft_weights_remove (weights, "layer3.1.bn2.running_var"));
    replace_shape (weights, "layer5.0.conv1.weight", 4, (gsize[]) { 8, 8, 3, 3 });
    expect_failure (cpu, "resnet18", weights, &options, GRAFT_IO_ERROR,
                    GRAFT_IO_ERROR_MISSING_KEY,
                    (const char *const[]) { "layer3.1.bn2.running_var is missing",
                                            "layer5.0.conv1.weight is not part of resnet18",
                                            NULL });
  }
  /* no first convolution at all: weights for something else */
  {
    g_autoptr(GraftWeights) weights = own_weights (cpu, "resnet10", 1000, GRAFT_ZOO_HEAD_LINEAR);

    g_assert_true (graft_weights_remove (weights, "conv1.weight"));
    expect_failure (cpu, "resnet10", weights, &options, GRAFT_IO_ERROR,
                    GRAFT_IO_ERROR_MISSING_KEY,
                    (const char *const[]) { "The weights lack conv1.weight, the first "
                                            "convolution of resnet10", NULL });
  }
  /* ResNet-50's weights into ResNet-18 */
  {
    g_autoptr(GraftWeights) weights = own_weights (cpu, "resnet50", 1000, GRAFT_ZOO_HEAD_LINEAR);

    expect_failure (cpu, "resnet18", weights, &options, GRAFT_IO_ERROR, GRAFT_IO_ERROR_SHAPE,
                    (const char *const[]) { "layer1.0.conv1.weight is [64, 64, 1, 1] in the "
                                            "file, the model needs [64, 64, 3, 3]",
                                            "and ", "more", NULL });
  }
  /* the Vision Transformer at a size that is no multiple of its patches */
  {
    g_autoptr(GraftWeights) weights = own_weights (cpu, "vit_tiny", 1000, GRAFT_ZOO_HEAD_LINEAR);
    GraftZooOptions vit = options;

    vit.image_size = 100;
    expect_failure (cpu, "vit_tiny", weights, &vit, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_SHAPE,
                    (const char *const[]) { "100 pixels is not a multiple of 16; choose 96 or 112",
                                            NULL });

    /* position embeddings that are no square grid, or of another width, name the tensor */
    vit.image_size = 64;
    replace_shape (weights, "encoder.pos_embedding", 3, (gsize[]) { 1, 51, 192 });
    expect_failure (cpu, "vit_tiny", weights, &vit, GRAFT_IO_ERROR, GRAFT_IO_ERROR_SHAPE,
                    (const char *const[]) { "encoder.pos_embedding is [1, 51, 192]", NULL });
    replace_shape (weights, "encoder.pos_embedding", 3, (gsize[]) { 1, 197, 96 });
    expect_failure (cpu, "vit_tiny", weights, &vit, GRAFT_IO_ERROR, GRAFT_IO_ERROR_SHAPE,
                    (const char *const[]) { "encoder.pos_embedding is [1, 197, 96] in the "
                                            "file, the model needs [1, 17, 192]", NULL });
  }
}

/* A classifier that already fits is kept when asked (keep_head); without that, or in
 * another form, it is replaced: the same number of classes need not be the same classes. */
static void
test_head_kept (void)
{
  g_autoptr(GraftBackend) cpu = open_cpu ();
  g_autoptr(GraftWeights) mlp = own_weights (cpu, "resnet10", 5, GRAFT_ZOO_HEAD_MLP);
  g_autoptr(GError) error = NULL;
  GraftZooOptions options;
  GraftZooSource info;

  graft_zoo_options_init (&options);
  options.n_classes = 5;
  options.seed = 9;

  g_assert_true (graft_zoo_source_from_weights ("resnet10", mlp, &info, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (info.n_classes, ==, 5);
  g_assert_cmpint (info.head, ==, GRAFT_ZOO_HEAD_MLP);
  g_assert_cmpuint (info.head_hidden, ==, 256);
  g_assert_cmpuint (info.in_channels, ==, 3);
  g_assert_cmpuint (info.image_size, ==, 224);

  for (guint round = 0; round < 3; round++)
    {
      g_autoptr(GraftModel) model = NULL;
      g_auto(GraftZooAdaptReport) report = { 0 };
      const char *name = round == 1 ? "fc.weight" : "fc.3.weight";
      GraftWeightsEntry *source = graft_weights_lookup (mlp, "fc.3.weight");
      const GraftParamInfo *info_param;
      g_autofree float *values = g_new (float, source->n_elements);

      options.head = round == 1 ? GRAFT_ZOO_HEAD_LINEAR : GRAFT_ZOO_HEAD_MLP;
      options.keep_head = round != 2;
      graft_zoo_adapt_report_init (&report);
      model = graft_zoo_adapt (cpu, "resnet10", mlp, &options, &report, &error);
      g_assert_no_error (error);
      info_param = graft_model_find_param (model, name);
      g_assert_nonnull (info_param);
      if (round == 0)
        {
          /* the same MLP for the same 5 classes: kept, and said so */
          g_assert_false (report.head_replaced);
          assert_line (&report, GRAFT_ZOO_FIT_NOTE, GRAFT_ZOO_FIT_HEAD,
                       "already gives 5 classes and is kept as trained");
          g_assert_true (graft_tensor_download (info_param->value, values, source->n_elements,
                                                &error));
          g_assert_cmpmem (values, source->n_elements * sizeof (float), source->data,
                           source->n_elements * sizeof (float));
        }
      else if (round == 2)
        {
          /* the same MLP, but new classes as far as anyone said: a new head */
          g_assert_true (report.head_replaced);
          assert_line (&report, GRAFT_ZOO_FIT_ADAPT, GRAFT_ZOO_FIT_HEAD, "New head: 5 → 5 classes");
          g_assert_true (graft_tensor_download (info_param->value, values, source->n_elements,
                                                &error));
          g_assert_true (memcmp (values, source->data, source->n_elements * sizeof (float)) != 0);
        }
      else
        {
          /* a linear head for the same classes replaces the MLP */
          g_assert_true (report.head_replaced);
          assert_line (&report, GRAFT_ZOO_FIT_ADAPT, GRAFT_ZOO_FIT_HEAD,
                       "New head: 5 → 5 classes: fc [5, 512] replaces an MLP fc.0 [256, 512]");
          g_assert_cmpuint (report.n_head_params, ==, 512 * 5 + 5);
        }
    }
}

/* ---- The check alone ---------------------------------------------------------------- */

static void
check (const char            *arch,
       const GraftZooSource  *source,
       const GraftZooOptions *target,
       GraftZooAdaptReport   *report,
       gboolean               ok)
{
  g_autoptr(GError) error = NULL;

  g_assert_cmpint (graft_zoo_check_fit (arch, source, target, report, &error), ==, ok);
  if (ok)
    g_assert_no_error (error);
  else
    g_assert_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_SHAPE);
}

static void
test_check_fit (void)
{
  g_auto(GraftZooAdaptReport) report = { 0 };
  g_autoptr(GError) error = NULL;
  GraftZooSource imagenet;
  GraftZooOptions target;

  graft_zoo_adapt_report_init (&report);
  graft_zoo_source_init (&imagenet);

  /* greyscale images of 5 classes at 64 pixels into ImageNet's ResNet-18 */
  graft_zoo_options_init (&target);
  target.n_classes = 5;
  target.in_channels = 1;
  target.image_size = 64;
  check ("resnet18", &imagenet, &target, &report, TRUE);
  g_assert_cmpuint (report.lines->len, ==, 3);
  assert_line (&report, GRAFT_ZOO_FIT_ADAPT, GRAFT_ZOO_FIT_HEAD,
               "New head: 1000 → 5 classes: fc [5, 512] replaces fc [1000, 512]");
  assert_line (&report, GRAFT_ZOO_FIT_ADAPT, GRAFT_ZOO_FIT_CHANNELS,
               "The model expects 3 colour channels; your images are greyscale: the first "
               "convolution's weights (conv1.weight) will be summed over the colour channels");
  assert_line (&report, GRAFT_ZOO_FIT_NOTE, GRAFT_ZOO_FIT_RESOLUTION,
               "ending on a 2×2 feature map instead of 7×7");
  g_assert_true (report.head_replaced);
  g_assert_cmpuint (report.n_head_params, ==, 512 * 5 + 5);
  g_assert_false (graft_zoo_adapt_report_has (&report, GRAFT_ZOO_FIT_WARNING));

  /* an MLP head, and images so small the map collapses before the last stage */
  target.in_channels = 3;
  target.image_size = 24;
  target.head = GRAFT_ZOO_HEAD_MLP;
  target.head_hidden = 64;
  check ("mobilenet_v2", &imagenet, &target, &report, TRUE);
  assert_line (&report, GRAFT_ZOO_FIT_ADAPT, GRAFT_ZOO_FIT_HEAD,
               "an MLP classifier.1.0 [64, 1280] → ReLU → dropout → classifier.1.3 [5, 64]");
  g_assert_cmpuint (report.n_head_params, ==, 1280 * 64 + 64 + 64 * 5 + 5);
  assert_line (&report, GRAFT_ZOO_FIT_WARNING, GRAFT_ZOO_FIT_RESOLUTION,
               "At 24 pixels, far below the 224 the weights were trained at, the feature map "
               "is down to 1×1 after 5 of the network's 5 halvings and the last stage starts "
               "from 2×2");
  g_assert_cmpuint (count_topic (&report, GRAFT_ZOO_FIT_CHANNELS), ==, 0);
  {
    g_autofree char *text = graft_zoo_adapt_report_to_string (&report);

    g_assert_nonnull (strstr (text, "\nWarning: At 24 pixels"));
  }
  target.image_size = 16;
  check ("mobilenet_v2", &imagenet, &target, &report, TRUE);
  assert_line (&report, GRAFT_ZOO_FIT_WARNING, GRAFT_ZOO_FIT_RESOLUTION,
               "the feature map is down to 1×1 after 4 of the network's 5 halvings, so the "
               "layers after that see no spatial layout");
  /* at 32 pixels it reaches 1×1 only at the end: a note, no warning */
  target.image_size = 32;
  check ("efficientnet_b0", &imagenet, &target, &report, TRUE);
  g_assert_false (graft_zoo_adapt_report_has (&report, GRAFT_ZOO_FIT_WARNING));
  /* at the native size nothing is said about it */
  target.image_size = 224;
  check ("efficientnet_b0", &imagenet, &target, &report, TRUE);
  g_assert_cmpuint (count_topic (&report, GRAFT_ZOO_FIT_RESOLUTION), ==, 0);

  /* one-channel weights into RGB images; RGB weights into 4-channel images */
  {
    GraftZooSource grey = imagenet;

    grey.in_channels = 1;
    target.head = GRAFT_ZOO_HEAD_LINEAR;
    check ("resnet34", &grey, &target, &report, TRUE);
    assert_line (&report, GRAFT_ZOO_FIT_ADAPT, GRAFT_ZOO_FIT_CHANNELS,
                 "The weights are for greyscale images; yours have 3 channels");
    target.in_channels = 4;
    check ("vit_tiny", &imagenet, &target, &report, TRUE);
    assert_line (&report, GRAFT_ZOO_FIT_ADAPT, GRAFT_ZOO_FIT_CHANNELS,
                 "The weights expect 3 input channels; your images have 4: the first "
                 "convolution's weights (conv_proj.weight) will be repeated over the channels "
                 "in turn and scaled by 3/4");
    g_assert_cmpuint (count_topic (&report, GRAFT_ZOO_FIT_RESOLUTION), ==, 0);
    target.in_channels = 3;
  }

  /* the Vision Transformer: position embeddings for another grid, or an error */
  target.image_size = 128;
  check ("vit_tiny", &imagenet, &target, &report, TRUE);
  assert_line (&report, GRAFT_ZOO_FIT_ADAPT, GRAFT_ZOO_FIT_RESOLUTION,
               "Position embeddings resized from 14×14 to 8×8 patches for 128-pixel images");
  g_assert_cmpuint (report.n_head_params, ==, 192 * 5 + 5);
  target.image_size = 100;
  check ("vit_tiny", &imagenet, &target, &report, FALSE);
  assert_line (&report, GRAFT_ZOO_FIT_ERROR, GRAFT_ZOO_FIT_RESOLUTION,
               "The Vision Transformer cuts images into 16×16-pixel patches: 100 pixels is "
               "not a multiple of 16; choose 96 or 112");
  /* the other lines are there all the same, for the user to see at once */
  assert_line (&report, GRAFT_ZOO_FIT_ADAPT, GRAFT_ZOO_FIT_HEAD, "New head: 1000 → 5 classes");
  target.image_size = 8;
  check ("vit_tiny", &imagenet, &target, &report, FALSE);
  assert_line (&report, GRAFT_ZOO_FIT_ERROR, GRAFT_ZOO_FIT_RESOLUTION, "choose 16 or more");

  /* a classifier that already fits, kept only when asked; weights without one */
  target.image_size = 224;
  target.n_classes = 1000;
  check ("resnet50", &imagenet, &target, &report, TRUE);
  g_assert_true (report.head_replaced);
  assert_line (&report, GRAFT_ZOO_FIT_ADAPT, GRAFT_ZOO_FIT_HEAD, "New head: 1000 → 1000 classes");
  target.keep_head = TRUE;
  check ("resnet50", &imagenet, &target, &report, TRUE);
  target.keep_head = FALSE;
  g_assert_false (report.head_replaced);
  g_assert_cmpuint (report.lines->len, ==, 1);
  assert_line (&report, GRAFT_ZOO_FIT_NOTE, GRAFT_ZOO_FIT_HEAD,
               "The weights' classifier fc [1000, 2048] already gives 1000 classes");
  {
    GraftZooSource headless = imagenet;

    headless.n_classes = 0;
    target.n_classes = 3;
    check ("mobilenet_v3_large", &headless, &target, &report, TRUE);
    assert_line (&report, GRAFT_ZOO_FIT_ADAPT, GRAFT_ZOO_FIT_HEAD,
                 "New head: 3 classes through classifier.3 [3, 1280], from random weights: "
                 "the weights have no classifier");
  }

  /* an unknown architecture */
  g_assert_false (graft_zoo_check_fit ("resnet9", &imagenet, &target, &report, &error));
  g_assert_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_ARCH);
}

static void
test_head_names (void)
{
  g_autoptr(GraftBackend) cpu = open_cpu ();
  g_autoptr(GError) error = NULL;
  GraftZooOptions options;
  static const struct {
    const char  *arch;
    GraftZooHead head;
    const char  *names;
  } want[] = {
    { "resnet18", GRAFT_ZOO_HEAD_LINEAR, "fc.weight fc.bias" },
    { "resnet18", GRAFT_ZOO_HEAD_MLP, "fc.0.weight fc.0.bias fc.3.weight fc.3.bias" },
    { "mobilenet_v3_small", GRAFT_ZOO_HEAD_MLP,
      "classifier.3.0.weight classifier.3.0.bias classifier.3.3.weight classifier.3.3.bias" },
    { "efficientnet_b0", GRAFT_ZOO_HEAD_MLP,
      "classifier.1.0.weight classifier.1.0.bias classifier.1.3.weight classifier.1.3.bias" },
    { "vit_tiny", GRAFT_ZOO_HEAD_MLP,
      "heads.head.0.weight heads.head.0.bias heads.head.3.weight heads.head.3.bias" },
  };

  graft_zoo_options_init (&options);
  g_assert_cmpint (options.head, ==, GRAFT_ZOO_HEAD_LINEAR);
  options.n_classes = 4;
  options.image_size = 32;
  options.head_hidden = 16;
  for (guint i = 0; i < G_N_ELEMENTS (want); i++)
    {
      g_autoptr(GraftModel) model = NULL;
      g_auto(GStrv) names = NULL;
      g_autofree char *joined = NULL;
      g_autofree char *in_head = NULL;
      GString *head_params = g_string_new (NULL);

      options.head = want[i].head;
      names = graft_zoo_get_head_names (want[i].arch, &options, &error);
      g_assert_no_error (error);
      joined = g_strjoinv (" ", names);
      g_assert_cmpstr (joined, ==, want[i].names);

      /* exactly these tensors make the model's "head" block (MobileNetV3 keeps its
       * classifier.0 there too) */
      model = graft_zoo_build (cpu, want[i].arch, &options, &error);
      g_assert_no_error (error);
      for (guint p = 0; p < graft_model_get_n_params (model); p++)
        {
          const GraftParamInfo *info = graft_model_get_param (model, p);

          if (g_str_equal (info->block, "head") && !g_str_has_prefix (info->name, "classifier.0."))
            g_string_append_printf (head_params, "%s%s", head_params->len > 0 ? " " : "",
                                    info->name);
        }
      in_head = g_string_free (head_params, FALSE);
      g_assert_cmpstr (in_head, ==, want[i].names);
      g_assert_cmpuint (graft_model_get_n_classes (model), ==, 4);
    }
  g_assert_cmpuint (graft_zoo_get_n_features ("resnet50", &error), ==, 2048);
  g_assert_cmpstr (graft_zoo_get_first_conv ("efficientnet_b0", &error), ==, "features.0.0");
  g_assert_no_error (error);
  g_assert_null (graft_zoo_get_head_names ("resnet9", &options, &error));
  g_assert_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_ARCH);
  g_clear_error (&error);

  /* an MLP head without a hidden width is refused, saying what to do */
  options.head = GRAFT_ZOO_HEAD_MLP;
  options.head_hidden = 0;
  g_assert_null (graft_zoo_build (cpu, "resnet10", &options, &error));
  g_assert_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_ARCH);
}

static void
test_normalisation (void)
{
  static const float mean[3] = { 0.485f, 0.456f, 0.406f };
  static const float std[3] = { 0.229f, 0.224f, 0.225f };
  float m[4], s[4];

  /* greyscale from ImageNet's: the means of the three */
  graft_zoo_adapt_normalisation (3, mean, std, 1, m, s);
  g_assert_cmpfloat_with_epsilon (m[0], (0.485 + 0.456 + 0.406) / 3.0, 1e-7);
  g_assert_cmpfloat_with_epsilon (s[0], (0.229 + 0.224 + 0.225) / 3.0, 1e-7);
  /* RGB from greyscale: the one channel's for each */
  graft_zoo_adapt_normalisation (1, (float[]) { 0.5f }, (float[]) { 0.25f }, 3, m, s);
  for (guint c = 0; c < 3; c++)
    {
      g_assert_cmpfloat (m[c], ==, 0.5f);
      g_assert_cmpfloat (s[c], ==, 0.25f);
    }
  /* four channels: the weights' channels in turn */
  graft_zoo_adapt_normalisation (3, mean, std, 4, m, s);
  g_assert_cmpfloat (m[3], ==, mean[0]);
  g_assert_cmpfloat (s[2], ==, std[2]);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/reference/adapt/check-fit", test_check_fit);
  g_test_add_func ("/reference/adapt/head-names", test_head_names);
  g_test_add_func ("/reference/adapt/normalisation", test_normalisation);
  g_test_add_func ("/reference/adapt/errors", test_errors);
  g_test_add_func ("/reference/adapt/head-kept", test_head_kept);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/reference/adapt/%s", cases[i].name);

      g_test_add_data_func (path, &cases[i], test_case);
    }
  return g_test_run ();
}
