/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-test"

/* Recorded and replayed work on the Vulkan backend.
 *  - The backend: ops recorded once run again on new buffer contents; reading, writing
 *    and waiting fail while recording; a scratch buffer freed during recording stays
 *    alive for the replays. Optimizer steps and dropout replayed with their per-step
 *    values in tensors give the bits of the eager ops.
 *  - Training: a small network with batch norm and dropout trained with
 *    graft_model_train_step() (recorded after the first step, then replayed) ends with
 *    bit-identical parameters, running statistics and losses to the same network trained
 *    with graft_model_forward(), graft_model_backward_cross_entropy() and
 *    graft_optimizer_step(), for SGD with momentum and clipping and for AdamW, with a
 *    learning rate changed midway, an evaluation pass in between and (AdamW) another
 *    target tensor and label smoothing from the third step; replayed steps allocate no device memory; freezing a block records
 *    the step again and leaves the frozen parameters untouched. */

#include <string.h>

#include "graft-test-vulkan.h"

#define SIDE    12
#define CLASSES 4
#define BATCH   8
#define STEPS   6

/* ---- the backend ----------------------------------------------------------------- */

static void
upload (GraftTensor  *t,
        const float  *data)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (graft_tensor_upload (t, data, graft_tensor_get_n_elements (t), &error));
  g_assert_no_error (error);
}

static void
test_record_basics (gconstpointer data)
{
  GraftTestBackends *b = (GraftTestBackends *) data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GraftTensor) a = NULL;
  g_autoptr(GraftTensor) out = NULL;
  g_autoptr(GraftTensor) norm = NULL;
  GraftRecording *recording;
  const gsize shape[1] = { 3 };
  float values[3] = { 1, 2, 3 };
  float got[3];

  if (!graft_test_have_vulkan (b))
    return;
  g_assert_true (graft_backend_can_record (b->vk));
  g_assert_false (graft_backend_can_record (b->cpu));
  g_assert_false (graft_backend_record_begin (b->cpu, &error));
  g_assert_error (error, GRAFT_DEVICE_ERROR, GRAFT_DEVICE_ERROR_UNSUPPORTED);
  g_clear_error (&error);

  a = graft_test_tensor (b->vk, 1, shape, values);
  out = graft_tensor_new (b->vk, 1, shape, &error);
  norm = graft_tensor_new (b->vk, 1, (const gsize[]) { 1 }, &error);
  g_assert_no_error (error);

  g_assert_true (graft_backend_record_begin (b->vk, &error));
  g_assert_no_error (error);
  g_assert_true (graft_op_scale (a, 2.0f, out, &error));
  /* grad_norm allocates a scratch tensor and frees it at once. */
  g_assert_true (graft_op_grad_norm (&a, 1, norm, &error));
  g_assert_no_error (error);

  /* No host access while recording: each fails cleanly and changes nothing. */
  g_assert_false (graft_tensor_upload (a, values, 3, &error));
  g_assert_error (error, GRAFT_DEVICE_ERROR, GRAFT_DEVICE_ERROR_UNSUPPORTED);
  g_assert_nonnull (strstr (error->message, "recorded"));
  g_clear_error (&error);
  g_assert_false (graft_tensor_download (out, got, 3, &error));
  g_assert_error (error, GRAFT_DEVICE_ERROR, GRAFT_DEVICE_ERROR_UNSUPPORTED);
  g_clear_error (&error);
  g_assert_false (graft_backend_synchronize (b->vk, &error));
  g_assert_error (error, GRAFT_DEVICE_ERROR, GRAFT_DEVICE_ERROR_UNSUPPORTED);
  g_clear_error (&error);
  g_assert_false (graft_backend_record_begin (b->vk, &error));
  g_assert_error (error, GRAFT_DEVICE_ERROR, GRAFT_DEVICE_ERROR_UNSUPPORTED);
  g_clear_error (&error);

  recording = graft_backend_record_end (b->vk, &error);
  g_assert_no_error (error);
  g_assert_nonnull (recording);
  g_assert_null (graft_backend_record_end (b->vk, &error));
  g_assert_error (error, GRAFT_DEVICE_ERROR, GRAFT_DEVICE_ERROR_UNSUPPORTED);
  g_clear_error (&error);

  /* Nothing ran while recording: out is still unwritten by the scale. */
  for (guint round = 1; round <= 3; round++)
    {
      float in[3] = { 1.0f * round, -2.0f * round, 0.5f * round };
      float n;

      upload (a, in);
      g_assert_true (graft_backend_replay (b->vk, recording, &error));
      g_assert_no_error (error);
      g_assert_true (graft_tensor_download (out, got, 3, &error));
      g_assert_true (graft_tensor_download (norm, &n, 1, &error));
      g_assert_no_error (error);
      for (guint i = 0; i < 3; i++)
        g_assert_cmpfloat (got[i], ==, 2.0f * in[i]);
      g_assert_cmpfloat_with_epsilon (n, sqrtf (in[0] * in[0] + in[1] * in[1] + in[2] * in[2]), 1e-5f);
    }

  /* Replays back to back, then a write ordered after them. */
  g_assert_true (graft_backend_replay (b->vk, recording, &error));
  g_assert_true (graft_backend_replay (b->vk, recording, &error));
  g_assert_no_error (error);
  upload (a, values);
  g_assert_true (graft_backend_replay (b->vk, recording, &error));
  g_assert_true (graft_tensor_download (out, got, 3, &error));
  g_assert_no_error (error);
  g_assert_cmpfloat (got[2], ==, 6.0f);

  /* A tensor freed while a recording holds it stays usable by the replay. */
  g_clear_pointer (&out, graft_tensor_unref);
  g_assert_true (graft_backend_replay (b->vk, recording, &error));
  g_assert_true (graft_backend_synchronize (b->vk, &error));
  g_assert_no_error (error);
  graft_backend_recording_free (b->vk, recording);
}

/* An AdamW or SGD step and dropout, recorded once and replayed with each step's values
 * written to their tensors, give the bits of the same ops run eagerly with those values
 * (push constants). */
static void
test_record_ops (gconstpointer data)
{
  GraftTestBackends *b = (GraftTestBackends *) data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GRand) rand = g_rand_new_with_seed (3);
  const gsize shape[1] = { 1000 };
  g_autofree float *p0 = NULL;
  g_autofree float *g0 = NULL;
  GraftAdamWParams adamw;
  GraftSgdParams sgd;

  if (!graft_test_have_vulkan (b))
    return;

  p0 = graft_test_random (rand, shape[0]);
  g0 = graft_test_random (rand, shape[0]);
  graft_adamw_params_init (&adamw, 0.01f);
  graft_sgd_params_init (&sgd, 0.1f);
  sgd.momentum = 0.9f;
  sgd.dampening = 0.1f;

  for (guint kind = 0; kind < 2; kind++)
    {
      g_autoptr(GraftTensor) p_eager = graft_test_tensor (b->vk, 1, shape, p0);
      g_autoptr(GraftTensor) p_rec = graft_test_tensor (b->vk, 1, shape, p0);
      g_autoptr(GraftTensor) grad = graft_test_tensor (b->vk, 1, shape, g0);
      g_autoptr(GraftTensor) s0_eager = graft_test_tensor (b->vk, 1, shape, NULL);
      g_autoptr(GraftTensor) s1_eager = graft_test_tensor (b->vk, 1, shape, NULL);
      g_autoptr(GraftTensor) s0_rec = graft_test_tensor (b->vk, 1, shape, NULL);
      g_autoptr(GraftTensor) s1_rec = graft_test_tensor (b->vk, 1, shape, NULL);
      g_autoptr(GraftTensor) scalars = NULL;
      GraftRecording *recording = NULL;

      scalars = graft_tensor_new (b->vk, 1, (const gsize[]) { 2 * GRAFT_OPTIM_N_SCALARS }, &error);
      g_assert_no_error (error);
      g_assert_true (graft_op_fill (s0_eager, 0.0f, &error) && graft_op_fill (s1_eager, 0.0f, &error) &&
                     graft_op_fill (s0_rec, 0.0f, &error) && graft_op_fill (s1_rec, 0.0f, &error));

      for (guint step = 1; step <= 5; step++)
        {
          float values[2 * GRAFT_OPTIM_N_SCALARS] = { 0 };

          /* A learning rate that changes every step, in slot 1. */
          adamw.lr = 0.01f / step;
          sgd.lr = 0.1f / step;
          if (kind == 0)
            {
              g_assert_true (graft_op_adamw_step (p_eager, grad, s0_eager, s1_eager, &adamw, step, &error));
              graft_adamw_step_scalars (&adamw, step, values + GRAFT_OPTIM_N_SCALARS);
            }
          else
            {
              g_assert_true (graft_op_sgd_step (p_eager, grad, s0_eager, &sgd, step, &error));
              graft_sgd_step_scalars (&sgd, step, values + GRAFT_OPTIM_N_SCALARS);
            }
          g_assert_no_error (error);
          upload (scalars, values);

          if (recording == NULL)
            {
              g_assert_true (graft_backend_record_begin (b->vk, &error));
              if (kind == 0)
                g_assert_true (graft_op_adamw_step_from (p_rec, grad, s0_rec, s1_rec, &adamw, step,
                                                         scalars, 1, &error));
              else
                g_assert_true (graft_op_sgd_step_from (p_rec, grad, s0_rec, &sgd, step, scalars, 1,
                                                       &error));
              recording = graft_backend_record_end (b->vk, &error);
              g_assert_no_error (error);
            }
          g_assert_true (graft_backend_replay (b->vk, recording, &error));
          g_assert_no_error (error);
        }

      {
        g_autofree float *want = graft_test_download (p_eager);
        g_autofree float *got = graft_test_download (p_rec);

        g_assert_true (memcmp (want, p0, shape[0] * sizeof (float)) != 0);
        g_assert_true (memcmp (got, want, shape[0] * sizeof (float)) == 0);
      }
      graft_backend_recording_free (b->vk, recording);
    }

  /* Dropout forward and backward with a new key each replay. */
  {
    g_autoptr(GraftTensor) x = graft_test_tensor (b->vk, 1, shape, p0);
    g_autoptr(GraftTensor) y_eager = graft_test_tensor (b->vk, 1, shape, NULL);
    g_autoptr(GraftTensor) dx_eager = graft_test_tensor (b->vk, 1, shape, NULL);
    g_autoptr(GraftTensor) y_rec = graft_test_tensor (b->vk, 1, shape, NULL);
    g_autoptr(GraftTensor) dx_rec = graft_test_tensor (b->vk, 1, shape, NULL);
    g_autoptr(GraftTensor) keys = graft_tensor_new (b->vk, 1, (const gsize[]) { 3 }, &error);
    g_autofree float *first = NULL;
    GraftRecording *recording;

    g_assert_no_error (error);
    g_assert_true (graft_backend_record_begin (b->vk, &error));
    g_assert_true (graft_op_dropout_keyed (x, 0.4f, 0, keys, 2, TRUE, y_rec, &error));
    g_assert_true (graft_op_dropout_backward_keyed (x, 0.4f, 0, keys, 2, TRUE, dx_rec, &error));
    recording = graft_backend_record_end (b->vk, &error);
    g_assert_no_error (error);

    for (guint64 seed = 11; seed < 14; seed++)
      {
        const guint64 seeds[3] = { 99, 98, seed };
        g_autofree float *want = NULL;
        g_autofree float *got = NULL;
        g_autofree float *dwant = NULL;
        g_autofree float *dgot = NULL;

        g_assert_true (graft_dropout_write_keys (keys, seeds, 3, &error));
        g_assert_true (graft_backend_replay (b->vk, recording, &error));
        g_assert_true (graft_op_dropout (x, 0.4f, seed, TRUE, y_eager, &error));
        g_assert_true (graft_op_dropout_backward (x, 0.4f, seed, TRUE, dx_eager, &error));
        g_assert_no_error (error);
        want = graft_test_download (y_eager);
        got = graft_test_download (y_rec);
        dwant = graft_test_download (dx_eager);
        dgot = graft_test_download (dx_rec);
        g_assert_true (memcmp (got, want, shape[0] * sizeof (float)) == 0);
        g_assert_true (memcmp (dgot, dwant, shape[0] * sizeof (float)) == 0);
        /* Each seed draws another mask. */
        if (first == NULL)
          first = g_steal_pointer (&got);
        else
          g_assert_true (memcmp (got, first, shape[0] * sizeof (float)) != 0);
      }
    graft_backend_recording_free (b->vk, recording);
  }
}

/* ---- training --------------------------------------------------------------------- */

static void
make_batch (GRand *rand,
            float *images,
            float *labels)
{
  for (guint i = 0; i < BATCH; i++)
    {
      guint c = g_rand_int_range (rand, 0, CLASSES);
      float *img = images + (gsize) i * SIDE * SIDE;

      for (guint p = 0; p < SIDE * SIDE; p++)
        img[p] = (float) g_rand_double_range (rand, -1.0, 1.0);
      for (guint y = (c / 2) * (SIDE / 2); y < (c / 2 + 1) * (SIDE / 2); y++)
        for (guint x = (c % 2) * (SIDE / 2); x < (c % 2 + 1) * (SIDE / 2); x++)
          img[y * SIDE + x] += 1.0f;
      labels[i] = (float) c;
    }
}

static GraftModel *
build (GraftBackend *backend)
{
  g_autoptr(GError) error = NULL;
  GraftModel *model = graft_model_new (backend, "tiny-cnn", 1, 42);
  int x;

  graft_model_begin_block (model, "stem");
  x = graft_model_add_conv2d (model, "conv1", 0, 6, 3, 1, 1, 1, 1, FALSE);
  x = graft_model_add_batch_norm2d (model, "bn1", x, 1e-5f, 0.1f);
  x = graft_model_add_activation (model, x, GRAFT_ACTIVATION_RELU);
  graft_model_begin_block (model, "body");
  x = graft_model_add_conv2d (model, "conv2", x, 8, 3, 2, 1, 1, 1, TRUE);
  x = graft_model_add_batch_norm2d (model, "bn2", x, 1e-5f, 0.1f);
  x = graft_model_add_activation (model, x, GRAFT_ACTIVATION_RELU);
  x = graft_model_add_dropout (model, x, 0.2f);
  graft_model_begin_block (model, "head");
  x = graft_model_add_adaptive_avg_pool2d (model, x, 2, 2);
  x = graft_model_add_flatten (model, x);
  x = graft_model_add_dropout (model, x, 0.3f);
  x = graft_model_add_linear (model, "fc", x, CLASSES, TRUE);
  g_assert_true (graft_model_finish (model, x, &error));
  g_assert_no_error (error);
  g_assert_true (graft_model_prepare (model, BATCH, SIDE, SIDE, &error));
  g_assert_no_error (error);
  return model;
}

typedef enum {
  RUN_EXPLICIT,   /* forward, backward, optimizer step */
  RUN_STEP,       /* graft_model_train_step */
} RunMode;

typedef struct {
  gboolean adamw;
  gboolean clip;        /* clip the gradient norm (scratch tensors while recording) */
  guint    freeze_at;   /* freeze "stem" before this step; 0: never */
  guint    switch_at;   /* another target tensor and label smoothing from this step */
} Plan;

/* Trains @model for STEPS steps on a fixed sequence of batches; fills @losses and
 * returns the device buffers created after each step. */
static void
train (GraftModel    *model,
       RunMode        mode,
       const Plan    *plan,
       float         *losses,
       guint64       *created)
{
  GraftBackend *backend = graft_model_get_backend (model);
  g_autoptr(GError) error = NULL;
  g_autoptr(GraftOptimizer) optimizer = NULL;
  g_autoptr(GraftTensor) first_target = NULL;
  g_autoptr(GraftTensor) other_target = NULL;
  g_autoptr(GRand) rand = g_rand_new_with_seed (7);
  float images[BATCH * SIDE * SIDE], labels[BATCH];

  if (plan->adamw)
    {
      GraftAdamWParams p;

      graft_adamw_params_init (&p, 0.01f);
      optimizer = graft_optimizer_new_adamw (model, &p);
    }
  else
    {
      GraftSgdParams p;

      graft_sgd_params_init (&p, 0.05f);
      p.momentum = 0.9f;
      p.weight_decay = 1e-4f;
      optimizer = graft_optimizer_new_sgd (model, &p);
    }
  graft_optimizer_set_block_lr_scale (optimizer, "stem", 0.5f);
  if (plan->clip)
    graft_optimizer_set_clip_norm (optimizer, 0.5f);
  first_target = graft_tensor_new (backend, 1, (const gsize[]) { BATCH }, &error);
  other_target = graft_tensor_new (backend, 1, (const gsize[]) { BATCH }, &error);
  g_assert_no_error (error);

  for (guint step = 0; step < STEPS; step++)
    {
      gboolean switched = plan->switch_at != 0 && step >= plan->switch_at;
      GraftTensor *target = switched ? other_target : first_target;
      float smoothing = switched ? 0.0f : 0.1f;
      guint64 seed = 1000 + step;

      if (step == 3)
        {
          float logits[BATCH * CLASSES];

          graft_optimizer_set_lr (optimizer, plan->adamw ? 0.003f : 0.02f);
          /* An evaluation pass between steps, as a training loop does now and then. */
          make_batch (rand, images, labels);
          upload (graft_model_get_input (model), images);
          g_assert_true (graft_model_forward (model, FALSE, 0, &error));
          g_assert_true (graft_tensor_download (graft_model_get_output (model), logits,
                                                G_N_ELEMENTS (logits), &error));
          g_assert_no_error (error);
        }
      if (plan->freeze_at != 0 && step == plan->freeze_at)
        {
          g_assert_true (graft_model_set_trainable (model, "stem", FALSE, &error));
          g_assert_no_error (error);
        }

      make_batch (rand, images, labels);
      upload (graft_model_get_input (model), images);
      upload (target, labels);
      if (mode == RUN_STEP)
        g_assert_true (graft_model_train_step (model, optimizer, target, NULL, smoothing, seed, &error));
      else
        g_assert_true (graft_model_forward (model, TRUE, seed, &error) &&
                       graft_model_backward_cross_entropy (model, target, NULL, smoothing, &error) &&
                       graft_optimizer_step (optimizer, &error));
      g_assert_no_error (error);
      g_assert_true (graft_tensor_download (graft_model_get_loss (model), &losses[step], 1, &error));
      g_assert_no_error (error);
      if (created != NULL)
        created[step] = _graft_vk_backend_get_buffers_created (backend);
    }
  g_assert_cmpuint (graft_optimizer_get_step (optimizer), ==, STEPS);
}

static void
assert_same_params (GraftModel *a,
                    GraftModel *b)
{
  for (guint i = 0; i < graft_model_get_n_params (a); i++)
    {
      const GraftParamInfo *pa = graft_model_get_param (a, i);
      const GraftParamInfo *pb = graft_model_get_param (b, i);
      gsize n = graft_tensor_get_n_elements (pa->value);
      g_autofree float *va = graft_test_download (pa->value);
      g_autofree float *vb = graft_test_download (pb->value);

      if (memcmp (va, vb, n * sizeof (float)) != 0)
        g_error ("%s differs between the two ways of training (first value %.9g vs %.9g)",
                 pa->name, va[0], vb[0]);
    }
}

static void
check_training (GraftBackend *backend,
                const Plan   *plan)
{
  g_autoptr(GraftModel) explicit = build (backend);
  g_autoptr(GraftModel) stepped = build (backend);
  gboolean vulkan = graft_backend_can_record (backend);
  float losses_explicit[STEPS], losses_step[STEPS];
  guint64 created[STEPS];

  assert_same_params (explicit, stepped);
  train (explicit, RUN_EXPLICIT, plan, losses_explicit, NULL);
  train (stepped, RUN_STEP, plan, losses_step, vulkan ? created : NULL);

  for (guint s = 0; s < STEPS; s++)
    {
      g_assert_true (isfinite (losses_step[s]));
      if (memcmp (&losses_explicit[s], &losses_step[s], sizeof (float)) != 0)
        g_error ("loss of step %u: %.9g explicitly, %.9g by train_step", s,
                 losses_explicit[s], losses_step[s]);
    }
  assert_same_params (explicit, stepped);

  if (vulkan && plan->switch_at != 0)
    {
      /* Another target: eager, then recorded again, then replays that allocate nothing. */
      g_assert_cmpuint (plan->switch_at + 2, <, STEPS);
      g_assert_cmpuint (created[STEPS - 1], ==, created[plan->switch_at + 1]);
      g_assert_cmpuint (created[plan->switch_at], >, created[plan->switch_at - 1]);
    }
  else if (vulkan && plan->freeze_at == 0)
    {
      /* Step 0 runs eagerly, step 1 records; from then on nothing is allocated, where
       * every eager step creates scratch buffers (convolution and norm backward). */
      g_assert_cmpuint (created[STEPS - 1], ==, created[1]);
    }
  else if (vulkan)
    {
      /* Freezing: an eager step, a new recording, then replays without allocations. */
      g_assert_cmpuint (plan->freeze_at + 2, <, STEPS);
      g_assert_cmpuint (created[STEPS - 1], ==, created[plan->freeze_at + 1]);
      g_assert_cmpuint (created[plan->freeze_at], >, created[plan->freeze_at - 1]);
    }
}

static void
test_train_sgd (gconstpointer data)
{
  GraftTestBackends *b = (GraftTestBackends *) data;
  Plan plan = { .adamw = FALSE, .clip = TRUE };

  if (graft_test_have_vulkan (b))
    check_training (b->vk, &plan);
}

static void
test_train_adamw (gconstpointer data)
{
  GraftTestBackends *b = (GraftTestBackends *) data;
  Plan plan = { .adamw = TRUE, .switch_at = 2 };

  if (graft_test_have_vulkan (b))
    check_training (b->vk, &plan);
}

static void
test_train_freeze (gconstpointer data)
{
  GraftTestBackends *b = (GraftTestBackends *) data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GraftModel) model = NULL;
  g_autoptr(GraftModel) fresh = NULL;
  g_autoptr(GraftOptimizer) optimizer = NULL;
  g_autoptr(GraftTensor) target = NULL;
  g_autofree float *initial = NULL;
  g_autofree float *frozen = NULL;
  g_autofree float *after = NULL;
  const GraftParamInfo *w;
  Plan plan = { .adamw = TRUE, .freeze_at = 2 };
  float losses[STEPS], labels[BATCH] = { 0 };
  GraftSgdParams sgd;
  gsize n;

  if (!graft_test_have_vulkan (b))
    return;
  check_training (b->vk, &plan);

  /* The stem moved before it was frozen, and does not move in later recorded steps,
   * even with another optimizer. */
  model = build (b->vk);
  fresh = build (b->vk);
  w = graft_model_find_param (model, "conv1.weight");
  n = graft_tensor_get_n_elements (w->value);
  initial = graft_test_download (graft_model_find_param (fresh, "conv1.weight")->value);
  train (model, RUN_STEP, &plan, losses, NULL);
  frozen = graft_test_download (w->value);
  g_assert_true (memcmp (frozen, initial, n * sizeof (float)) != 0);

  graft_sgd_params_init (&sgd, 0.1f);
  optimizer = graft_optimizer_new_sgd (model, &sgd);
  target = graft_test_tensor (b->vk, 1, (const gsize[]) { BATCH }, labels);
  for (guint s = 0; s < 3; s++)
    {
      g_assert_true (graft_model_train_step (model, optimizer, target, NULL, 0.0f, s, &error));
      g_assert_no_error (error);
    }
  after = graft_test_download (w->value);
  g_assert_true (memcmp (after, frozen, n * sizeof (float)) == 0);
}

/* The CPU backend does not record: train_step runs the ops, with the same results. */
static void
test_train_cpu (gconstpointer data)
{
  GraftTestBackends *b = (GraftTestBackends *) data;
  Plan plan = { .adamw = FALSE, .freeze_at = 2 };

  check_training (b->cpu, &plan);
}

int
main (int    argc,
      char **argv)
{
  GraftTestBackends backends = { 0 };
  int status;

  g_test_init (&argc, &argv, NULL);

  graft_test_backends_open (&backends);

  g_test_add_data_func ("/vulkan/replay/basics", &backends, test_record_basics);
  g_test_add_data_func ("/vulkan/replay/ops", &backends, test_record_ops);
  g_test_add_data_func ("/vulkan/replay/train-sgd", &backends, test_train_sgd);
  g_test_add_data_func ("/vulkan/replay/train-adamw", &backends, test_train_adamw);
  g_test_add_data_func ("/vulkan/replay/train-freeze", &backends, test_train_freeze);
  g_test_add_data_func ("/vulkan/replay/train-cpu", &backends, test_train_cpu);

  status = g_test_run ();

  graft_test_backends_close (&backends);
  return status;
}
