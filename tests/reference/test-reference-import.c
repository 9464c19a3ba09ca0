/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-test"

/* graft_zoo_import against torchvision (gen_timm.py): each zoo architecture's random
 * weights saved under torchvision's names and under timm's, with other class counts and
 * input channels than ImageNet's. Both files must be recognised without being told the
 * architecture, import to the same tensors bit for bit, and give the same output bit for
 * bit, which must be torchvision's within the tolerance of test-reference-models (a
 * small multiple of PyTorch's own float32 error, never tighter than BASE; a tensor
 * mapped to the wrong place, a transposed or unsqueezed weight gives errors near 1).
 * Damaged files (a truncated classifier, a missing running variance, an extra tensor, a
 * convolution of another shape, timm variants of another structure) must fail naming
 * every tensor at fault, and metadata that contradicts the tensors must be refused.
 * The CPU backend only: the import is host-side, and test-reference-models holds the
 * backends to each other. */

#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "graft-reference.h"

#define BASE 1e-4
#define FACTOR 4.0

typedef struct {
  gboolean          tried;
  char             *why;     /* why there are no answers */
  GraftSafetensors *ref;
  char             *dir;     /* the files written for the imports */
  GraftBackend     *cpu;
} Fixture;

typedef struct {
  Fixture    *fx;
  const char *arch;
} Case;

static gboolean
ready (Fixture *fx)
{
  if (!fx->tried)
    {
      g_autoptr(GError) error = NULL;

      fx->tried = TRUE;
      fx->ref = graft_reference_generate ("gen_timm.py", &fx->why);
      fx->dir = g_dir_make_tmp ("graft-import-XXXXXX", &error);
      g_assert_no_error (error);
      fx->cpu = graft_backend_open ("cpu", &error);
      g_assert_no_error (error);
    }
  if (fx->ref == NULL)
    graft_reference_unavailable (fx->why);
  return fx->ref != NULL;
}

/* The tensors "@prefix<name>" of the answers as a state dict of <name>s. */
static GraftWeights *
extract (Fixture    *fx,
         const char *prefix)
{
  GraftWeights *w = graft_weights_new ();
  const char *const *names = graft_safetensors_get_names (fx->ref);

  for (guint i = 0; names[i] != NULL; i++)
    {
      gsize shape[GRAFT_TENSOR_MAX_RANK];
      guint rank;
      float *data;

      if (!g_str_has_prefix (names[i], prefix))
        continue;
      data = graft_reference_read (fx->ref, names[i], &rank, shape, NULL);
      graft_weights_take (w, names[i] + strlen (prefix), rank, shape, data);
    }
  g_assert_cmpuint (graft_weights_get_n (w), >, 0);
  return w;
}

static GraftWeights *
extract_arch (Fixture    *fx,
              const char *naming,
              const char *arch)
{
  g_autofree char *prefix = g_strdup_printf ("%s.%s.", naming, arch);

  return extract (fx, prefix);
}

static char *
save (Fixture      *fx,
      GraftWeights *w,
      const char   *name,
      gboolean      half)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *file = g_strconcat (name, ".safetensors", NULL);
  char *path = g_build_filename (fx->dir, file, NULL);

  g_assert_true (graft_weights_save (w, path, half, &error));
  g_assert_no_error (error);
  return path;
}

/* A tensor of @shape, filled with a ramp. */
static void
put (GraftWeights *w,
     const char   *name,
     guint         rank,
     const gsize  *shape)
{
  gsize n = 1;
  float *data;

  for (guint d = 0; d < rank; d++)
    n *= shape[d];
  data = g_new (float, MAX (n, 1));
  for (gsize i = 0; i < n; i++)
    data[i] = (float) (i % 7) * 0.01f;
  graft_weights_take (w, name, rank, shape, data);
}

/* Replaces tensor @name by one of @shape (same rank). */
static void
reshape (GraftWeights *w,
         const char   *name,
         const gsize  *shape)
{
  GraftWeightsEntry *entry = graft_weights_lookup (w, name);

  g_assert_nonnull (entry);
  put (w, name, entry->rank, shape);
}

static void
assert_mentions (const GError *error,
                 const char   *text)
{
  if (strstr (error->message, text) == NULL)
    g_error ("the error does not mention “%s”: %s", text, error->message);
}

/* Imports @w from a file; the error, which must be of @domain and @code. */
static GError *
import_fails (Fixture      *fx,
              GraftWeights *w,
              const char   *arch,
              GQuark        domain,
              int           code)
{
  g_autofree char *path = save (fx, w, "damaged", FALSE);
  g_auto (GraftZooImportInfo) info = { 0 };
  g_autoptr(GraftWeights) got = NULL;
  GError *error = NULL;

  got = graft_zoo_import (path, arch, &info, &error);
  g_assert_null (got);
  g_assert_nonnull (error);
  g_test_message ("%s", error->message);
  g_assert_error (error, domain, code);
  g_assert_null (info.arch);
  g_unlink (path);
  return error;
}

/* Builds @info's model on the CPU, loads @w and runs the answers' input through it in
 * eval mode. */
static float *
run (Fixture                  *fx,
     GraftWeights             *w,
     const GraftZooImportInfo *info,
     gsize                    *n_out)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GraftModel) model = NULL;
  g_autofree char *input_name = g_strconcat ("input.", info->arch, NULL);
  g_autofree float *input = NULL;
  gsize shape[GRAFT_TENSOR_MAX_RANK], n;
  GraftZooOptions options;
  GraftTensor *output;
  float *out;

  graft_zoo_options_init (&options);
  options.n_classes = info->n_classes;
  options.in_channels = info->in_channels;
  if (info->image_size > 0)
    options.image_size = info->image_size;
  model = graft_zoo_build (fx->cpu, info->arch, &options, &error);
  g_assert_no_error (error);
  g_assert_true (graft_model_load_state (model, w, &error));
  g_assert_no_error (error);

  input = graft_reference_read (fx->ref, input_name, NULL, shape, &n);
  g_assert_true (graft_model_prepare (model, shape[0], shape[2], shape[3], &error));
  g_assert_no_error (error);
  g_assert_true (graft_tensor_upload (graft_model_get_input (model), input, n, &error));
  g_assert_true (graft_model_forward (model, FALSE, 0, &error));
  g_assert_no_error (error);

  output = graft_model_get_output (model);
  *n_out = graft_tensor_get_n_elements (output);
  out = g_new (float, *n_out);
  g_assert_true (graft_tensor_download (output, out, *n_out, &error));
  g_assert_no_error (error);
  return out;
}

static guint
count_counters (GraftWeights *w)
{
  guint n = 0;

  for (guint i = 0; i < graft_weights_get_n (w); i++)
    n += g_str_has_suffix (graft_weights_get (w, i)->name, "num_batches_tracked");
  return n;
}

/* Tensors of @a (counters aside) whose names @b does not have. */
static guint
count_foreign (GraftWeights *a,
               GraftWeights *b)
{
  guint n = 0;

  for (guint i = 0; i < graft_weights_get_n (a); i++)
    {
      const char *name = graft_weights_get (a, i)->name;

      n += !g_str_has_suffix (name, "num_batches_tracked") && graft_weights_lookup (b, name) == NULL;
    }
  return n;
}

/* Imports @path with and without naming @arch and checks what the import says. */
static GraftWeights *
import_checked (Fixture            *fx,
                const char         *path,
                const char         *arch,
                const char         *naming,
                GraftWeights       *file,
                GraftWeights       *tv,
                guint               n_reshaped,
                GraftZooImportInfo *info)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *input_name = g_strconcat ("input.", arch, NULL);
  g_autofree char *output_name = g_strconcat ("output.", arch, NULL);
  const GraftSafetensorsEntry *input = graft_safetensors_lookup (fx->ref, input_name);
  const GraftSafetensorsEntry *output = graft_safetensors_lookup (fx->ref, output_name);
  g_auto (GraftZooImportInfo) named = { 0 };
  g_autoptr(GraftWeights) again = NULL;
  g_autoptr(GTimer) timer = g_timer_new ();
  GraftWeights *w;

  g_timer_start (timer);
  w = graft_zoo_import (path, NULL, info, &error);
  g_assert_no_error (error);
  g_assert_nonnull (w);
  g_test_message ("%s (%s): %s, %s names, %u classes, %u channels, image %u, %u tensors, "
                  "%u renamed, %u reshaped, %u counters dropped, in %.2f s", arch, naming,
                  info->arch, info->naming, info->n_classes, info->in_channels, info->image_size,
                  info->n_tensors, info->n_renamed, info->n_reshaped, info->n_dropped,
                  g_timer_elapsed (timer, NULL));
  g_assert_cmpstr (info->arch, ==, arch);
  g_assert_cmpstr (info->naming, ==, g_str_has_prefix (arch, "resnet") ? "torchvision" : naming);
  g_assert_cmpuint (info->n_classes, ==, output->shape[1]);
  g_assert_cmpuint (info->in_channels, ==, input->shape[1]);
  g_assert_cmpuint (info->image_size, ==, g_str_equal (arch, "vit_tiny") ? input->shape[2] : 0);
  g_assert_cmpuint (info->n_dropped, ==, count_counters (file));
  g_assert_cmpuint (info->n_tensors, ==, graft_weights_get_n (file) - count_counters (file));
  g_assert_cmpuint (info->n_tensors, ==, graft_weights_get_n (w));
  g_assert_cmpuint (info->n_renamed, ==, count_foreign (file, tv));
  g_assert_cmpuint (info->n_reshaped, ==, n_reshaped);
  g_assert_null (info->file_arch);
  g_assert_cmpstr (graft_weights_get_metadata (w, "arch"), ==, arch);

  again = graft_zoo_import (path, arch, &named, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (named.arch, ==, arch);
  g_assert_cmpuint (named.n_tensors, ==, info->n_tensors);
  return w;
}

static void
assert_same_weights (GraftWeights *a,
                     GraftWeights *b,
                     const char   *arch)
{
  g_assert_cmpuint (graft_weights_get_n (a), ==, graft_weights_get_n (b));
  for (guint i = 0; i < graft_weights_get_n (a); i++)
    {
      GraftWeightsEntry *x = graft_weights_get (a, i);
      GraftWeightsEntry *y = graft_weights_lookup (b, x->name);

      if (y == NULL)
        g_error ("%s: %s came from one file but not from the other", arch, x->name);
      g_assert_cmpuint (x->n_elements, ==, y->n_elements);
      if (x->rank != y->rank || memcmp (x->shape, y->shape, x->rank * sizeof (gsize)) != 0 ||
          memcmp (x->data, y->data, x->n_elements * sizeof (float)) != 0)
        g_error ("%s: %s differs between the two files' imports", arch, x->name);
    }
}

static void
test_import (gconstpointer data)
{
  const Case *c = data;
  Fixture *fx = c->fx;
  g_autoptr(GraftWeights) tv = NULL;
  g_autoptr(GraftWeights) timm = NULL;
  g_autoptr(GraftWeights) from_tv = NULL;
  g_autoptr(GraftWeights) from_timm = NULL;
  g_autofree char *tv_path = NULL;
  g_autofree char *timm_path = NULL;
  g_autofree char *tv_name = g_strconcat (c->arch, "-torchvision", NULL);
  g_autofree char *timm_name = g_strconcat (c->arch, "-timm", NULL);
  g_autofree char *output_name = g_strconcat ("output.", c->arch, NULL);
  g_autofree char *noise_name = g_strconcat ("noise.", c->arch, NULL);
  g_autofree float *want = NULL;
  g_autofree float *noise = NULL;
  g_autofree float *out_tv = NULL;
  g_autofree float *out_timm = NULL;
  g_auto (GraftZooImportInfo) info = { 0 };
  g_auto (GraftZooImportInfo) timm_info = { 0 };
  gsize n_want, n_tv, n_timm;
  double err, tolerance;

  if (!ready (fx))
    return;

  tv = extract_arch (fx, "tv", c->arch);
  timm = extract_arch (fx, "timm", c->arch);
  tv_path = save (fx, tv, tv_name, FALSE);
  timm_path = save (fx, timm, timm_name, FALSE);

  from_tv = import_checked (fx, tv_path, c->arch, "torchvision", tv, tv, 0, &info);
  /* timm's MobileNetV3 holds its head as a 1×1 convolution */
  from_timm = import_checked (fx, timm_path, c->arch, "timm", timm, tv,
                              g_str_has_prefix (c->arch, "mobilenet_v3") ? 1 : 0, &timm_info);
  assert_same_weights (from_tv, from_timm, c->arch);

  /* every tensor as torchvision saved it */
  for (guint i = 0; i < graft_weights_get_n (from_tv); i++)
    {
      GraftWeightsEntry *got = graft_weights_get (from_tv, i);
      GraftWeightsEntry *saved = graft_weights_lookup (tv, got->name);

      g_assert_nonnull (saved);
      g_assert_true (memcmp (got->data, saved->data, got->n_elements * sizeof (float)) == 0);
    }

  out_tv = run (fx, from_tv, &info, &n_tv);
  out_timm = run (fx, from_timm, &timm_info, &n_timm);
  g_assert_cmpuint (n_tv, ==, n_timm);
  if (memcmp (out_tv, out_timm, n_tv * sizeof (float)) != 0)
    g_test_fail_printf ("%s: the outputs of the torchvision file and the timm file differ",
                        c->arch);

  want = graft_reference_read (fx->ref, output_name, NULL, NULL, &n_want);
  noise = graft_reference_read (fx->ref, noise_name, NULL, NULL, NULL);
  g_assert_cmpuint (n_want, ==, n_tv);
  err = graft_reference_error (out_tv, want, n_want);
  tolerance = MAX (BASE, FACTOR * noise[0]);
  g_test_message ("%s: eval output error %.3g against torchvision (tolerance %.3g)", c->arch,
                  err, tolerance);
  if (!(err <= tolerance))
    g_test_fail_printf ("%s: the imported model's output differs from torchvision's by %.3g "
                        "(tolerance %.3g)", c->arch, err, tolerance);

  g_unlink (tv_path);
  g_unlink (timm_path);
}

/* A truncated classifier, a missing running variance, an extra tensor and a convolution
 * of another shape, in the file's names: one at a time, then all together. */
typedef struct {
  Fixture    *fx;
  const char *naming;
  const char *arch;
  const char *classifier;
  gsize       classifier_shape[2];
  const char *missing;
  const char *extra;
  gsize       extra_shape[4];
  const char *conv;
  gsize       conv_shape[4];
  int         code_all;          /* the first problem's, in the model's order */
} Damage;

static void
damage (GraftWeights *w,
        const Damage *d,
        guint         which)
{
  if (which & 1)
    reshape (w, d->classifier, d->classifier_shape);
  if (which & 2)
    g_assert_true (graft_weights_remove (w, d->missing));
  if (which & 4)
    put (w, d->extra, 4, d->extra_shape);
  if (which & 8)
    reshape (w, d->conv, d->conv_shape);
}

static void
test_damage (gconstpointer data)
{
  const Damage *d = data;
  Fixture *fx = d->fx;
  static const int codes[] = { GRAFT_IO_ERROR_SHAPE, GRAFT_IO_ERROR_MISSING_KEY,
                               GRAFT_IO_ERROR_UNEXPECTED_KEY, GRAFT_IO_ERROR_SHAPE };
  g_autofree char *classifier_shape = g_strdup_printf ("[%" G_GSIZE_FORMAT ", %" G_GSIZE_FORMAT "]",
                                                       d->classifier_shape[0],
                                                       d->classifier_shape[1]);
  g_autofree char *conv_shape = g_strdup_printf ("[%" G_GSIZE_FORMAT ", %" G_GSIZE_FORMAT ", %"
                                                 G_GSIZE_FORMAT ", %" G_GSIZE_FORMAT "]",
                                                 d->conv_shape[0], d->conv_shape[1],
                                                 d->conv_shape[2], d->conv_shape[3]);
  const char *names[] = { d->classifier, d->missing, d->extra, d->conv };

  if (!ready (fx))
    return;

  for (guint i = 0; i < 4; i++)
    {
      g_autoptr(GraftWeights) w = extract_arch (fx, d->naming, d->arch);
      g_autoptr(GError) error = NULL;

      damage (w, d, 1u << i);
      error = import_fails (fx, w, NULL, GRAFT_IO_ERROR, codes[i]);
      assert_mentions (error, names[i]);
      assert_mentions (error, "1 problem:");
      if (i == 0)
        assert_mentions (error, classifier_shape);
      if (i == 3)
        assert_mentions (error, conv_shape);
    }
  {
    g_autoptr(GraftWeights) w = extract_arch (fx, d->naming, d->arch);
    g_autoptr(GError) error = NULL;

    damage (w, d, 15);
    error = import_fails (fx, w, d->arch, GRAFT_IO_ERROR, d->code_all);
    for (guint i = 0; i < 4; i++)
      assert_mentions (error, names[i]);
    assert_mentions (error, "4 problems");
  }
}

static void
test_timm_variants (gconstpointer data)
{
  Fixture *fx = (Fixture *) data;

  if (!ready (fx))
    return;

  /* mobilenetv3_rw: squeeze-and-excitation widths rounded to the nearest integer
   * (18 where torchvision and mobilenetv3_large_100 have 24) and no bias on conv_head */
  {
    g_autoptr(GraftWeights) w = extract_arch (fx, "timm", "mobilenet_v3_large");
    g_autoptr(GError) error = NULL;

    reshape (w, "blocks.2.0.se.conv_reduce.weight", (const gsize[]) { 18, 72, 1, 1 });
    reshape (w, "blocks.2.0.se.conv_reduce.bias", (const gsize[]) { 18 });
    reshape (w, "blocks.2.0.se.conv_expand.weight", (const gsize[]) { 72, 18, 1, 1 });
    g_assert_true (graft_weights_remove (w, "conv_head.bias"));
    error = import_fails (fx, w, NULL, GRAFT_IO_ERROR, GRAFT_IO_ERROR_SHAPE);
    assert_mentions (error, "blocks.2.0.se.conv_reduce.weight) is [18, 72, 1, 1]");
    assert_mentions (error, "blocks.2.0.se.conv_reduce.bias) is [18]");
    assert_mentions (error, "blocks.2.0.se.conv_expand.weight) is [72, 18, 1, 1]");
    assert_mentions (error, "classifier.0.bias (timm's conv_head.bias) is missing");
  }
  /* efficientnet_lite0: EfficientNet-B0's stages without squeeze-and-excitation */
  {
    g_autoptr(GraftWeights) w = extract_arch (fx, "timm", "efficientnet_b0");
    g_autoptr(GPtrArray) se = g_ptr_array_new_with_free_func (g_free);
    g_autoptr(GError) error = NULL;

    for (guint i = 0; i < graft_weights_get_n (w); i++)
      if (strstr (graft_weights_get (w, i)->name, ".se.") != NULL)
        g_ptr_array_add (se, g_strdup (graft_weights_get (w, i)->name));
    g_assert_cmpuint (se->len, ==, 16 * 4);
    for (guint i = 0; i < se->len; i++)
      graft_weights_remove (w, g_ptr_array_index (se, i));
    error = import_fails (fx, w, NULL, GRAFT_IO_ERROR, GRAFT_IO_ERROR_MISSING_KEY);
    assert_mentions (error, "64 problems");
    assert_mentions (error, "features.1.0.block.1.fc1.weight (timm's blocks.0.0.se.conv_reduce.weight) is missing");
    assert_mentions (error, "features.7.0.block.2.fc2.bias (timm's blocks.6.0.se.conv_expand.bias) is missing");
  }
  /* a Vision Transformer whose position embedding is no square grid */
  {
    g_autoptr(GraftWeights) w = extract_arch (fx, "timm", "vit_tiny");
    g_autoptr(GError) error = NULL;

    reshape (w, "pos_embed", (const gsize[]) { 1, 11, 192 });
    error = import_fails (fx, w, NULL, GRAFT_IO_ERROR, GRAFT_IO_ERROR_SHAPE);
    assert_mentions (error, "pos_embed");
    assert_mentions (error, "11 positions");
  }
}

/* Graft's "arch" metadata: a hint that must agree with the tensors. */
static void
test_metadata (gconstpointer data)
{
  Fixture *fx = (Fixture *) data;

  if (!ready (fx))
    return;

  /* agreeing, or naming something outside the zoo: reported, not in the way */
  for (guint i = 0; i < 2; i++)
    {
      const char *arch = i == 0 ? "resnet18" : "resnet18.a1_in1k";
      g_autoptr(GraftWeights) w = extract_arch (fx, "tv", "resnet18");
      g_autoptr(GraftWeights) got = NULL;
      g_autoptr(GError) error = NULL;
      g_auto (GraftZooImportInfo) info = { 0 };
      g_autofree char *path = NULL;

      graft_weights_set_metadata (w, "arch", arch);
      path = save (fx, w, "metadata", FALSE);
      got = graft_zoo_import (path, NULL, &info, &error);
      g_assert_no_error (error);
      g_assert_cmpstr (info.arch, ==, "resnet18");
      g_assert_cmpstr (info.file_arch, ==, arch);
      g_assert_cmpstr (graft_weights_get_metadata (got, "arch"), ==, "resnet18");
      g_unlink (path);
    }
  /* disagreeing with the tensors, in either naming, asked for or not */
  for (guint i = 0; i < 3; i++)
    {
      const char *arch = i == 0 ? "resnet18" : "mobilenet_v3_small";
      const char *claim = i == 0 ? "resnet34" : "mobilenet_v3_large";
      g_autoptr(GraftWeights) w = extract_arch (fx, i == 1 ? "tv" : "timm", arch);
      g_autoptr(GError) error = NULL;
      g_autofree char *says = g_strdup_printf ("says it holds %s, but its tensors are %s's",
                                               claim, arch);

      graft_weights_set_metadata (w, "arch", claim);
      error = import_fails (fx, w, i == 2 ? arch : NULL, GRAFT_MODEL_ERROR,
                            GRAFT_MODEL_ERROR_ARCH);
      assert_mentions (error, says);
    }
  /* standing in for tensors that fit nothing: a ResNet-18 missing a block's first
   * convolution is checked as one and the tensor named */
  {
    g_autoptr(GraftWeights) w = extract_arch (fx, "tv", "resnet18");
    g_autoptr(GError) error = NULL;

    g_assert_true (graft_weights_remove (w, "layer1.1.conv1.weight"));
    error = import_fails (fx, w, NULL, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_ARCH);
    assert_mentions (error, "a ResNet of 1-2-2-2 basic blocks");
    graft_weights_set_metadata (w, "arch", "resnet18");
    g_clear_error (&error);
    error = import_fails (fx, w, NULL, GRAFT_IO_ERROR, GRAFT_IO_ERROR_MISSING_KEY);
    assert_mentions (error, "layer1.1.conv1.weight is missing");
  }
}

/* Files of no architecture Graft knows, and architectures asked for that do not fit. */
static void
test_unknown (gconstpointer data)
{
  Fixture *fx = (Fixture *) data;

  if (!ready (fx))
    return;

  {
    g_autoptr(GraftWeights) w = graft_weights_new ();
    g_autoptr(GError) error = NULL;

    put (w, "encoder.block.0.weight", 2, (const gsize[]) { 8, 4 });
    put (w, "decoder.block.0.weight", 2, (const gsize[]) { 4, 8 });
    error = import_fails (fx, w, NULL, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_ARCH);
    assert_mentions (error, "resnet18");
    assert_mentions (error, "vit_tiny");
    assert_mentions (error, "encoder.block.0.weight [8, 4]");
  }
  /* a ResNet-101's block counts */
  {
    g_autoptr(GraftWeights) w = extract_arch (fx, "tv", "resnet50");
    g_autoptr(GError) error = NULL;

    for (guint b = 6; b < 23; b++)
      {
        g_autofree char *name = g_strdup_printf ("layer3.%u.conv1.weight", b);

        put (w, name, 4, (const gsize[]) { 256, 1024, 1, 1 });
      }
    error = import_fails (fx, w, NULL, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_ARCH);
    assert_mentions (error, "a ResNet of 3-4-23-3 bottleneck blocks");
  }
  /* a wider Vision Transformer */
  {
    g_autoptr(GraftWeights) w = extract_arch (fx, "timm", "vit_tiny");
    g_autoptr(GError) error = NULL;

    reshape (w, "patch_embed.proj.weight", (const gsize[]) { 384, 3, 16, 16 });
    error = import_fails (fx, w, NULL, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_ARCH);
    assert_mentions (error, "12 layers, width 384");
  }
  /* the wrong architecture asked for: every missing tensor named */
  {
    g_autoptr(GraftWeights) w = extract_arch (fx, "tv", "resnet18");
    g_autoptr(GError) error = NULL;

    error = import_fails (fx, w, "resnet34", GRAFT_IO_ERROR, GRAFT_IO_ERROR_MISSING_KEY);
    assert_mentions (error, "the tensors look like resnet18's");
    assert_mentions (error, "layer1.2.conv1.weight is missing");
    assert_mentions (error, "layer3.5.bn2.running_var is missing");
  }
  /* an architecture outside the zoo */
  {
    g_autoptr(GraftWeights) w = extract_arch (fx, "tv", "resnet18");
    g_autoptr(GError) error = NULL;

    error = import_fails (fx, w, "resnet101", GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_ARCH);
    assert_mentions (error, "resnet101");
  }
}

/* Other dtypes than float32 become float32: a float16 file imports to the float16
 * values. */
static void
test_half (gconstpointer data)
{
  Fixture *fx = (Fixture *) data;
  g_autoptr(GraftWeights) w = NULL;
  g_autoptr(GraftWeights) got = NULL;
  g_autoptr(GError) error = NULL;
  g_auto (GraftZooImportInfo) info = { 0 };
  g_autofree char *path = NULL;
  GraftWeightsEntry *a, *b;

  if (!ready (fx))
    return;

  w = extract_arch (fx, "timm", "mobilenet_v3_small");
  path = save (fx, w, "half", TRUE);
  got = graft_zoo_import (path, NULL, &info, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (info.arch, ==, "mobilenet_v3_small");
  a = graft_weights_lookup (w, "blocks.1.0.conv_pw.weight");
  b = graft_weights_lookup (got, "features.2.block.0.0.weight");
  g_assert_nonnull (b);
  for (gsize i = 0; i < a->n_elements; i++)
    g_assert_cmpfloat (fabsf (a->data[i] - b->data[i]), <=, 1e-3f * fabsf (a->data[i]) + 1e-7f);
  g_unlink (path);
}

int
main (int    argc,
      char **argv)
{
  static Fixture fx;
  static Case cases[] = {
    { &fx, "resnet10" },
    { &fx, "resnet18" },
    { &fx, "resnet34" },
    { &fx, "resnet50" },
    { &fx, "mobilenet_v2" },
    { &fx, "mobilenet_v3_small" },
    { &fx, "mobilenet_v3_large" },
    { &fx, "efficientnet_b0" },
    { &fx, "vit_tiny" },
  };
  static Damage damages[] = {
    { &fx, "tv", "resnet18", "fc.weight", { 10, 256 }, "layer2.0.bn1.running_var",
      "layer4.1.se.fc1.weight", { 32, 512, 1, 1 }, "layer3.0.conv2.weight", { 256, 256, 1, 1 },
      GRAFT_IO_ERROR_MISSING_KEY },
    { &fx, "timm", "mobilenet_v3_large", "classifier.weight", { 10, 640 },
      "blocks.3.1.bn2.running_var", "blocks.1.0.se.conv_reduce.weight", { 16, 64, 1, 1 },
      "blocks.4.0.conv_dw.weight", { 480, 1, 5, 5 }, GRAFT_IO_ERROR_MISSING_KEY },
    { &fx, "timm", "vit_tiny", "head.weight", { 10, 96 }, "blocks.3.norm2.bias",
      "blocks.12.attn.qkv.weight", { 576, 192, 1, 1 }, "patch_embed.proj.weight",
      { 192, 3, 16, 8 }, GRAFT_IO_ERROR_SHAPE },
  };
  int status;

  g_test_init (&argc, &argv, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/reference/import/%s", cases[i].arch);

      g_test_add_data_func (path, &cases[i], test_import);
    }
  for (guint i = 0; i < G_N_ELEMENTS (damages); i++)
    {
      g_autofree char *path = g_strdup_printf ("/reference/import/damaged/%s-%s",
                                               damages[i].arch, damages[i].naming);

      g_test_add_data_func (path, &damages[i], test_damage);
    }
  g_test_add_data_func ("/reference/import/timm-variants", &fx, test_timm_variants);
  g_test_add_data_func ("/reference/import/metadata", &fx, test_metadata);
  g_test_add_data_func ("/reference/import/unknown", &fx, test_unknown);
  g_test_add_data_func ("/reference/import/float16", &fx, test_half);

  status = g_test_run ();
  g_clear_pointer (&fx.ref, graft_safetensors_free);
  g_clear_pointer (&fx.cpu, graft_backend_unref);
  if (fx.dir != NULL)
    g_rmdir (fx.dir);
  g_free (fx.dir);
  g_free (fx.why);
  return status;
}
