/* SPDX-License-Identifier: GPL-3.0-or-later */

/* The trainer on a small synthetic project (three classes of stripes and checks, 28×28
 * grey, train/val/test folders) starting from the bundled ResNet-10: the configuration's
 * JSON, the schedules against PyTorch's, the feature cache against whole-network
 * training, resuming, early stopping, continuing, pausing, balancing, the image cache and
 * bad input. */

#include <json-c/json.h>
#include <math.h>
#include <string.h>

#include "graft.h"
#include "graft-test-util.h"

#define MODEL "graft-fmnist-resnet10"

typedef struct {
  char         *tmp;
  char         *project;
  GraftBackend *backend;
  const char   *image_cache_dir;  /* NULL: the test environment's XDG_CACHE_HOME */
} Fixture;

static void
write_class (const char *dir,
             const char *split,
             const char *class,
             int         kind,
             guint       n,
             GRand      *rand)
{
  g_autofree char *folder = g_build_filename (dir, split, class, NULL);

  g_assert_cmpint (g_mkdir_with_parents (folder, 0755), ==, 0);
  for (guint i = 0; i < n; i++)
    {
      guint8 pixels[28 * 28];
      g_autofree char *name = g_strdup_printf ("%s-%02u.png", class, i);
      g_autofree char *path = g_build_filename (folder, name, NULL);
      g_autoptr(GError) error = NULL;
      int phase = g_rand_int_range (rand, 0, 4), period = g_rand_int_range (rand, 3, 6);

      for (int y = 0; y < 28; y++)
        for (int x = 0; x < 28; x++)
          {
            int on = kind == 0 ? ((y + phase) / period) % 2
                   : kind == 1 ? ((x + phase) / period) % 2
                               : (((x + phase) / period) + ((y + phase) / period)) % 2;
            int v = (on ? 200 : 40) + g_rand_int_range (rand, -30, 31);
            pixels[y * 28 + x] = (guint8) CLAMP (v, 0, 255);
          }
      g_assert_true (graft_image_write_png (path, 28, 28, 1, 28, pixels, &error));
      g_assert_no_error (error);
    }
}

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GRand) rand = g_rand_new_with_seed (7);
  g_autoptr(GraftProject) project = NULL;
  g_autofree char *images = NULL;
  static const char *const classes[] = { "rows", "columns", "checks" };

  (void) data;
  f->tmp = g_dir_make_tmp ("graft-trainer-XXXXXX", &error);
  g_assert_no_error (error);
  images = g_build_filename (f->tmp, "images", NULL);
  for (int c = 0; c < 3; c++)
    {
      write_class (images, "train", classes[c], c, 10, rand);
      write_class (images, "val", classes[c], c, 4, rand);
      write_class (images, "test", classes[c], c, 6, rand);
    }
  f->project = g_build_filename (f->tmp, "project", NULL);
  project = graft_project_create (f->project, GRAFT_TASK_CLASSIFICATION, &error);
  g_assert_no_error (error);
  graft_project_set_source (project, images, GRAFT_DATASET_FORMAT_FOLDER);
  g_assert_true (graft_project_save (project, &error));
  g_assert_no_error (error);
  f->backend = graft_backend_open ("cpu", &error);
  g_assert_no_error (error);
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  (void) data;
  graft_backend_unref (f->backend);
  graft_test_remove_tree (f->tmp);
  g_free (f->tmp);
  g_free (f->project);
}

static void
config_init (GraftTrainConfig *config)
{
  graft_train_config_init (config);
  config->model = g_strdup (MODEL);
  config->epochs = 4;
  config->batch_size = 10;
  config->lr = 0.05f;
  config->augment = GRAFT_AUGMENT_LEVEL_NONE;
}

static gboolean
train (Fixture                *f,
       const GraftTrainConfig *config,
       const char             *resume,
       const char             *parent,
       GraftTrainProgressFunc  progress,
       gpointer                user_data,
       GraftTrainControl      *control,
       GraftTrainResult       *result,
       GError                **error)
{
  GraftTrainRequest request = { 0 };

  request.project_dir = f->project;
  request.backend = f->backend;
  request.config = config;
  request.resume_id = resume;
  request.parent_id = parent;
  request.image_cache_dir = f->image_cache_dir;
  return graft_train (&request, progress, user_data, control, result, error);
}

static GraftRun *
open_run (Fixture    *f,
          const char *id)
{
  g_autoptr(GError) error = NULL;
  GraftRun *run = graft_run_open (f->project, id, &error);

  g_assert_no_error (error);
  return run;
}

static double
history_number (GraftRun   *run,
                guint       epoch,
                const char *key)
{
  json_object *entry = json_object_array_get_idx (graft_run_get_history (run), epoch);
  json_object *v = NULL;

  g_assert_nonnull (entry);
  if (!json_object_object_get_ex (entry, key, &v))
    return NAN;
  return json_object_get_double (v);
}

static const char *
training_string (GraftRun   *run,
                 const char *key)
{
  json_object *training = graft_run_get_member (run, "training"), *v = NULL;

  g_assert_nonnull (training);
  g_assert_true (json_object_object_get_ex (training, key, &v));
  return json_object_get_string (v);
}

/* ---- Configuration ------------------------------------------------------------------- */

static void
test_config_json (void)
{
  g_auto(GraftTrainConfig) config = { 0 };
  g_auto(GraftTrainConfig) back = { 0 };
  g_autoptr(GError) error = NULL;
  json_object *json, *bad;

  config_init (&config);
  config.unfreeze = 2;
  config.schedule = GRAFT_SCHEDULE_COSINE;
  config.warmup_epochs = 1.5f;
  config.balance = GRAFT_BALANCE_SAMPLER;
  config.patience = 3;
  config.early_metric = (g_free (config.early_metric), g_strdup ("val_loss"));
  graft_train_config_set_block (&config, "layer2", 1, 0.1f);
  json = graft_train_config_to_json (&config);
  g_assert_true (graft_train_config_from_json (json, &back, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (back.model, ==, MODEL);
  g_assert_cmpint (back.unfreeze, ==, 2);
  g_assert_cmpint (back.schedule, ==, GRAFT_SCHEDULE_COSINE);
  g_assert_cmpfloat (back.warmup_epochs, ==, 1.5f);
  g_assert_cmpint (back.balance, ==, GRAFT_BALANCE_SAMPLER);
  g_assert_cmpuint (back.patience, ==, 3);
  g_assert_cmpstr (back.early_metric, ==, "val_loss");
  g_assert_cmpuint (back.blocks->len, ==, 1);
  g_assert_cmpfloat (((GraftBlockOverride *) g_ptr_array_index (back.blocks, 0))->lr_factor, ==, 0.1f);
  g_assert_cmpfloat (back.lr, ==, config.lr);
  json_object_put (json);

  /* an unknown member and a wrong kind are named */
  graft_train_config_clear (&back);
  bad = json_tokener_parse ("{\"model\": \"m\", \"lrr\": 0.1}");
  g_assert_false (graft_train_config_from_json (bad, &back, &error));
  g_assert_error (error, GRAFT_TRAIN_ERROR, GRAFT_TRAIN_ERROR_CONFIG);
  g_assert_nonnull (strstr (error->message, "lrr"));
  json_object_put (bad);
  g_clear_error (&error);
  graft_train_config_clear (&back);
  bad = json_tokener_parse ("{\"model\": \"m\", \"epochs\": \"ten\"}");
  g_assert_false (graft_train_config_from_json (bad, &back, &error));
  g_assert_nonnull (strstr (error->message, "epochs"));
  json_object_put (bad);
  g_clear_error (&error);
  graft_train_config_clear (&back);
  bad = json_tokener_parse ("{\"model\": \"m\", \"lr\": -1}");
  g_assert_false (graft_train_config_from_json (bad, &back, &error));
  g_assert_nonnull (strstr (error->message, "“lr”"));
  json_object_put (bad);
}

static void
test_schedules (void)
{
  g_auto(GraftTrainConfig) c = { 0 };
  /* torch.optim.lr_scheduler.OneCycleLR (SGD lr 0.1, max_lr 0.1, total_steps 60,
   * pct_start 0.3, cos, div 25, final div 1e4), the learning rate of each step as
   * PyTorch 1.13 steps it */
  static const struct { guint step; double lr; } torch_one_cycle[] = {
    { 0, 0.0040000000000000036 }, { 1, 0.004817291215172714 }, { 5, 0.023073537453795687 },
    { 17, 0.1 }, { 18, 0.09986019041829958 }, { 30, 0.07816609023916948 }, { 59, 4e-07 },
  };

  config_init (&c);
  c.lr = 0.1f;
  c.schedule = GRAFT_SCHEDULE_ONE_CYCLE;
  for (guint i = 0; i < G_N_ELEMENTS (torch_one_cycle); i++)
    /* float32 lr (0.1f) against PyTorch's double 0.1: 1.5e-9 relative */
    g_assert_cmpfloat_with_epsilon (graft_train_config_lr_at (&c, torch_one_cycle[i].step, 60, 6),
                                    torch_one_cycle[i].lr, 1e-8);

  c.schedule = GRAFT_SCHEDULE_CONSTANT;
  c.warmup_epochs = 1.0f;
  g_assert_cmpfloat_with_epsilon (graft_train_config_lr_at (&c, 0, 60, 6), 0.1 / 6, 1e-8);
  g_assert_cmpfloat_with_epsilon (graft_train_config_lr_at (&c, 5, 60, 6), 0.1, 1e-8);
  g_assert_cmpfloat_with_epsilon (graft_train_config_lr_at (&c, 40, 60, 6), 0.1, 1e-8);

  c.schedule = GRAFT_SCHEDULE_STEP;
  c.warmup_epochs = 0.0f;
  c.step_epochs = 4;
  c.step_gamma = 0.5f;
  g_assert_cmpfloat_with_epsilon (graft_train_config_lr_at (&c, 23, 60, 6), 0.1, 1e-8);
  g_assert_cmpfloat_with_epsilon (graft_train_config_lr_at (&c, 24, 60, 6), 0.05, 1e-8);
  g_assert_cmpfloat_with_epsilon (graft_train_config_lr_at (&c, 59, 60, 6), 0.025, 1e-8);

  c.schedule = GRAFT_SCHEDULE_COSINE;
  c.warmup_epochs = 2.0f;
  g_assert_cmpfloat_with_epsilon (graft_train_config_lr_at (&c, 11, 60, 6), 0.1, 1e-8);
  /* halfway through the 48 steps after warm-up: lr / 2 */
  g_assert_cmpfloat_with_epsilon (graft_train_config_lr_at (&c, 12 + 24, 60, 6), 0.05, 1e-8);
}

/* ---- Training ------------------------------------------------------------------------ */

static void
test_feature_cache (Fixture       *f,
                    gconstpointer  data)
{
  g_auto(GraftTrainConfig) config = { 0 };
  GraftTrainResult cached = { 0 }, whole = { 0 };
  g_autoptr(GError) error = NULL;
  g_autoptr(GraftRun) a = NULL;
  g_autoptr(GraftRun) b = NULL;

  (void) data;
  config_init (&config);
  g_assert_true (train (f, &config, NULL, NULL, NULL, NULL, NULL, &cached, &error));
  g_assert_no_error (error);
  config.feature_cache = FALSE;
  g_assert_true (train (f, &config, NULL, NULL, NULL, NULL, NULL, &whole, &error));
  g_assert_no_error (error);

  a = open_run (f, cached.run_id);
  b = open_run (f, whole.run_id);
  g_assert_true (g_str_has_prefix (training_string (a, "feature_cache"), "on: the output of layer4"));
  g_assert_true (g_str_has_prefix (training_string (b, "feature_cache"), "off:"));
  g_assert_cmpuint (graft_run_get_n_epochs (a), ==, 4);
  /* The frozen blocks run in evaluation mode either way, on the same batches in the same
   * order, and the head's arithmetic is the same. The features differ only in the last
   * bits (OpenBLAS blocks a GEMM of another shape differently: float32 sums reassociated,
   * about 1e-7 relative), so the losses agree to 1e-5 and the accuracies to within one
   * image whose two best classes are that close. */
  for (guint e = 0; e < 4; e++)
    {
      double la = history_number (a, e, "train_loss"), lb = history_number (b, e, "train_loss");

      g_assert_cmpfloat_with_epsilon (la, lb, 1e-5 * MAX (la, 1.0));
      g_assert_cmpfloat_with_epsilon (history_number (a, e, "val_accuracy"),
                                      history_number (b, e, "val_accuracy"), 1.0 / 12 + 1e-9);
    }
  g_assert_cmpfloat_with_epsilon (cached.accuracy, whole.accuracy, 1.0 / 18 + 1e-9);
  g_assert_cmpstr (cached.evaluated_on, ==, "test");
  g_assert_nonnull (cached.metrics);
  g_assert_cmpuint (cached.metrics->n_images, ==, 18);
  /* three clearly different patterns: the pre-trained features separate them */
  g_assert_cmpfloat (cached.accuracy, >, 0.6);
  /* a pre-trained run measured the domain shift */
  g_assert_nonnull (graft_run_get_member (a, "domain_shift"));
  graft_train_result_clear (&cached);
  graft_train_result_clear (&whole);
}

typedef struct {
  GraftTrainControl *control;
  guint              stop_after;
  guint              epoch_ends;
  gboolean           paused_seen;
  guint              pause_at_step;
} Watch;

static void
on_progress (const GraftTrainProgress *p,
             gpointer                  user_data)
{
  Watch *w = user_data;

  if (p->phase == GRAFT_TRAIN_PHASE_EPOCH_END)
    {
      w->epoch_ends++;
      if (w->stop_after > 0 && p->epoch == w->stop_after)
        graft_train_control_cancel (w->control);
    }
  if (p->phase == GRAFT_TRAIN_PHASE_PAUSED)
    w->paused_seen = TRUE;
}

static void
test_resume (Fixture       *f,
             gconstpointer  data)
{
  g_auto(GraftTrainConfig) config = { 0 };
  GraftTrainResult full = { 0 }, part = { 0 }, rest = { 0 };
  g_autoptr(GError) error = NULL;
  g_autoptr(GraftTrainControl) control = graft_train_control_new ();
  g_autoptr(GraftRun) a = NULL;
  g_autoptr(GraftRun) b = NULL;
  g_autofree char *checkpoint = NULL;
  Watch watch = { control, 2, 0, FALSE, 0 };

  (void) data;
  /* the last block learns, on augmented images: the whole-network path */
  config_init (&config);
  config.unfreeze = 1;
  config.augment = GRAFT_AUGMENT_LEVEL_LIGHT;
  g_assert_true (train (f, &config, NULL, NULL, NULL, NULL, NULL, &full, &error));
  g_assert_no_error (error);

  g_assert_false (train (f, &config, NULL, NULL, on_progress, &watch, control, &part, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_assert_cmpint (part.status, ==, GRAFT_RUN_STATUS_CANCELLED);
  b = open_run (f, part.run_id);
  g_assert_cmpint (graft_run_get_status (b), ==, GRAFT_RUN_STATUS_CANCELLED);
  g_assert_nonnull (strstr (graft_run_get_reason (b), "2 of 4"));
  checkpoint = g_build_filename (graft_run_get_dir (b), "checkpoint.safetensors", NULL);
  g_assert_true (g_file_test (checkpoint, G_FILE_TEST_EXISTS));
  g_clear_pointer (&b, graft_run_free);

  /* resumed: epochs 3 and 4 exactly as the uninterrupted run had them */
  g_assert_true (train (f, NULL, part.run_id, NULL, NULL, NULL, NULL, &rest, &error));
  g_assert_no_error (error);
  a = open_run (f, full.run_id);
  b = open_run (f, part.run_id);
  g_assert_cmpint (graft_run_get_status (b), ==, GRAFT_RUN_STATUS_FINISHED);
  g_assert_cmpuint (graft_run_get_n_epochs (b), ==, 4);
  for (guint e = 0; e < 4; e++)
    g_assert_cmpfloat (history_number (a, e, "train_loss"), ==, history_number (b, e, "train_loss"));
  g_assert_cmpfloat (full.accuracy, ==, rest.accuracy);
  g_assert_false (g_file_test (checkpoint, G_FILE_TEST_EXISTS));

  /* a finished run is not resumed */
  graft_train_result_clear (&rest);
  g_assert_false (train (f, NULL, part.run_id, NULL, NULL, NULL, NULL, &rest, &error));
  g_assert_error (error, GRAFT_TRAIN_ERROR, GRAFT_TRAIN_ERROR_STATE);
  graft_train_result_clear (&full);
  graft_train_result_clear (&part);
  graft_train_result_clear (&rest);
}

static void
test_early_stopping (Fixture       *f,
                     gconstpointer  data)
{
  g_auto(GraftTrainConfig) config = { 0 };
  GraftTrainResult result = { 0 };
  g_autoptr(GError) error = NULL;
  g_autoptr(GraftRun) run = NULL;
  json_object *early, *v = NULL;

  (void) data;
  /* a learning rate too small to move the validation accuracy: the first epoch stays
   * the best, and patience 2 stops the run after the third */
  config_init (&config);
  config.epochs = 10;
  config.lr = 1e-9f;
  config.schedule = GRAFT_SCHEDULE_CONSTANT;
  config.patience = 2;
  g_assert_true (train (f, &config, NULL, NULL, NULL, NULL, NULL, &result, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (result.epochs_done, ==, 3);
  run = open_run (f, result.run_id);
  g_assert_cmpuint (graft_run_get_n_epochs (run), ==, 3);
  early = graft_run_get_member (run, "early_stopping");
  g_assert_nonnull (early);
  g_assert_true (json_object_object_get_ex (early, "stopped_after", &v));
  g_assert_cmpint (json_object_get_int (v), ==, 3);
  graft_train_result_clear (&result);
}

static void
test_continue (Fixture       *f,
               gconstpointer  data)
{
  g_auto(GraftTrainConfig) config = { 0 };
  GraftTrainResult first = { 0 }, second = { 0 };
  g_autoptr(GError) error = NULL;
  g_autoptr(GraftRun) run = NULL;
  g_autofree char *model_json = NULL;

  (void) data;
  config_init (&config);
  config.epochs = 2;
  g_assert_true (train (f, &config, NULL, NULL, NULL, NULL, NULL, &first, &error));
  g_assert_no_error (error);
  /* new images of a class arrive before the run is continued */
  {
    g_autofree char *images = g_build_filename (f->tmp, "images", NULL);

    for (guint i = 0; i < 3; i++)
      {
        guint8 pixels[28 * 28];
        g_autofree char *path = g_strdup_printf ("%s/train/rows/new-%u.png", images, i);

        for (int p = 0; p < 28 * 28; p++)
          pixels[p] = (guint8) (((p / 28 + i) / 3) % 2 ? 210 : 30);
        g_assert_true (graft_image_write_png (path, 28, 28, 1, 28, pixels, &error));
      }
  }
  config.epochs = 2;
  config.lr = 0.01f;
  g_assert_true (train (f, &config, NULL, first.run_id, NULL, NULL, NULL, &second, &error));
  g_assert_no_error (error);
  run = open_run (f, second.run_id);
  g_assert_cmpstr (graft_run_get_parent_id (run), ==, first.run_id);
  g_assert_cmpint (graft_run_get_status (run), ==, GRAFT_RUN_STATUS_FINISHED);
  g_assert_true (g_str_has_suffix (graft_run_get_name (run), "(continued)"));
  model_json = g_build_filename (graft_run_get_dir (run), "model.json", NULL);
  g_assert_true (g_file_test (model_json, G_FILE_TEST_EXISTS));
  /* the continued run trained on the images as they are now */
  {
    json_object *images = NULL, *n = NULL;

    g_assert_true (json_object_object_get_ex (graft_run_get_member (run, "training"), "images", &images));
    g_assert_true (json_object_object_get_ex (images, "train", &n));
    g_assert_cmpint (json_object_get_int (n), ==, 33);
  }
  /* starting from the trained head, the first epoch's loss is already low */
  g_assert_cmpfloat (history_number (run, 0, "train_loss"), <, 1.0);
  graft_train_result_clear (&first);
  graft_train_result_clear (&second);
}

static gpointer
resume_later (gpointer data)
{
  g_usleep (100 * 1000);
  graft_train_control_resume (data);
  return NULL;
}

static void
on_pause_progress (const GraftTrainProgress *p,
                   gpointer                  user_data)
{
  Watch *w = user_data;

  if (p->phase == GRAFT_TRAIN_PHASE_TRAINING && p->epoch == 1 && p->step == 1 &&
      !graft_train_control_is_paused (w->control) && !w->paused_seen)
    {
      graft_train_control_pause (w->control);
      g_thread_unref (g_thread_new ("resume", resume_later, w->control));
    }
  on_progress (p, user_data);
}

static void
test_pause (Fixture       *f,
            gconstpointer  data)
{
  g_auto(GraftTrainConfig) config = { 0 };
  GraftTrainResult result = { 0 };
  g_autoptr(GError) error = NULL;
  g_autoptr(GraftTrainControl) control = graft_train_control_new ();
  Watch watch = { control, 0, 0, FALSE, 1 };

  (void) data;
  config_init (&config);
  config.epochs = 2;
  g_assert_true (train (f, &config, NULL, NULL, on_pause_progress, &watch, control, &result, &error));
  g_assert_no_error (error);
  g_assert_true (watch.paused_seen);
  g_assert_cmpuint (watch.epoch_ends, ==, 2);
  graft_train_result_clear (&result);
}

static void
test_balance (Fixture       *f,
              gconstpointer  data)
{
  g_auto(GraftTrainConfig) config = { 0 };
  GraftTrainResult result = { 0 };
  g_autoptr(GError) error = NULL;
  g_autofree char *extra = g_build_filename (f->tmp, "images", NULL);
  g_autoptr(GraftRun) run = NULL;
  json_object *steps = NULL;

  (void) data;
  /* 20 more "rows" images: 30, 10 and 10 */
  for (guint i = 0; i < 20; i++)
    {
      guint8 pixels[28 * 28];
      g_autofree char *path = g_strdup_printf ("%s/train/rows/extra-%02u.png", extra, i);

      for (int p = 0; p < 28 * 28; p++)
        pixels[p] = (guint8) (((p / 28 + i) / 4) % 2 ? 200 : 40);
      g_assert_true (graft_image_write_png (path, 28, 28, 1, 28, pixels, &error));
    }
  config_init (&config);
  config.epochs = 2;
  config.balance = GRAFT_BALANCE_SAMPLER;
  g_assert_true (train (f, &config, NULL, NULL, NULL, NULL, NULL, &result, &error));
  g_assert_no_error (error);
  run = open_run (f, result.run_id);
  /* every class repeated up to 30 images: 90 a epoch, 9 batches of 10 */
  g_assert_true (json_object_object_get_ex (graft_run_get_member (run, "training"),
                                            "steps_per_epoch", &steps));
  g_assert_cmpint (json_object_get_int (steps), ==, 9);
  graft_train_result_clear (&result);
  g_clear_pointer (&run, graft_run_free);

  config.balance = GRAFT_BALANCE_WEIGHTS;
  config.augment = GRAFT_AUGMENT_LEVEL_STANDARD;
  g_assert_true (train (f, &config, NULL, NULL, NULL, NULL, NULL, &result, &error));
  g_assert_no_error (error);
  run = open_run (f, result.run_id);
  g_assert_true (json_object_object_get_ex (graft_run_get_member (run, "training"),
                                            "steps_per_epoch", &steps));
  g_assert_cmpint (json_object_get_int (steps), ==, 5);
  graft_train_result_clear (&result);
}

/* ---- Image cache ---------------------------------------------------------------------- */

static void
test_image_cache (Fixture       *f,
                  gconstpointer  data)
{
  g_auto(GraftTrainConfig) config = { 0 };
  GraftTrainResult first = { 0 }, again = { 0 }, changed = { 0 }, off = { 0 };
  g_autoptr(GError) error = NULL;
  g_autoptr(GraftRun) a = NULL;
  g_autoptr(GraftRun) b = NULL;
  g_autoptr(GraftRun) c = NULL;
  g_autoptr(GraftRun) d = NULL;
  g_autoptr(GRand) rand = g_rand_new_with_seed (11);
  g_autofree char *cache_dir = g_build_filename (f->tmp, "cache", NULL);
  g_autofree char *blocker = g_build_filename (f->tmp, "not-a-folder", NULL);
  g_autofree char *no_dir = g_build_filename (blocker, "cache", NULL);
  g_autofree char *images = g_build_filename (f->tmp, "images", NULL);
  g_autofree char *expected = NULL;

  (void) data;
  /* every block learns on augmented images: each epoch reads pixels through the loader */
  config_init (&config);
  config.unfreeze = GRAFT_UNFREEZE_ALL;
  config.epochs = 2;
  config.augment = GRAFT_AUGMENT_LEVEL_LIGHT;

  /* the first run decodes the 60 images (30 train, 12 val, 18 test) into the cache */
  f->image_cache_dir = cache_dir;
  g_assert_true (train (f, &config, NULL, NULL, NULL, NULL, NULL, &first, &error));
  g_assert_no_error (error);
  a = open_run (f, first.run_id);
  g_assert_true (g_str_has_prefix (training_string (a, "image_cache"), "on: 60 images decoded into "));
  g_assert_nonnull (strstr (training_string (a, "image_cache"), cache_dir));

  /* the next decodes none, and trains on the same pixels */
  g_assert_true (train (f, &config, NULL, NULL, NULL, NULL, NULL, &again, &error));
  g_assert_no_error (error);
  b = open_run (f, again.run_id);
  g_assert_true (g_str_has_prefix (training_string (b, "image_cache"), "on: 0 images decoded"));
  g_assert_true (g_str_has_suffix (training_string (b, "image_cache"), ", 60 reused"));
  for (guint e = 0; e < 2; e++)
    g_assert_cmpfloat (history_number (a, e, "train_loss"), ==, history_number (b, e, "train_loss"));
  g_assert_cmpfloat (first.accuracy, ==, again.accuracy);

  /* a file rewritten since is decoded again, alone */
  write_class (images, "test", "checks", 2, 1, rand);
  g_assert_true (train (f, &config, NULL, NULL, NULL, NULL, NULL, &changed, &error));
  g_assert_no_error (error);
  c = open_run (f, changed.run_id);
  g_assert_true (g_str_has_prefix (training_string (c, "image_cache"), "on: 1 image decoded"));

  /* a cache that cannot be made costs speed, not the run: the files are read, the same
   * 28×28 pixels (small images are cached as decoded), so the same losses; the note says
   * why, naming the folder */
  g_assert_true (g_file_set_contents (blocker, "", 0, &error));
  f->image_cache_dir = no_dir;
  g_assert_true (train (f, &config, NULL, NULL, NULL, NULL, NULL, &off, &error));
  g_assert_no_error (error);
  d = open_run (f, off.run_id);
  g_assert_true (g_str_has_prefix (training_string (d, "image_cache"), "off: "));
  g_assert_nonnull (strstr (training_string (d, "image_cache"), no_dir));
  for (guint e = 0; e < 2; e++)
    g_assert_cmpfloat (history_number (c, e, "train_loss"), ==, history_number (d, e, "train_loss"));
  g_assert_cmpfloat (changed.accuracy, ==, off.accuracy);

  f->image_cache_dir = NULL;
  graft_train_result_clear (&first);
  graft_train_result_clear (&again);
  graft_train_result_clear (&changed);
  graft_train_result_clear (&off);
}

static void
test_bad_input (Fixture       *f,
                gconstpointer  data)
{
  g_auto(GraftTrainConfig) config = { 0 };
  GraftTrainResult result = { 0 };
  g_autoptr(GError) error = NULL;
  g_autofree char *runs_dir = g_build_filename (f->project, "runs", NULL);

  (void) data;
  config_init (&config);
  g_free (config.model);
  config.model = g_strdup ("no-such-model");
  g_assert_false (train (f, &config, NULL, NULL, NULL, NULL, NULL, &result, &error));
  g_assert_nonnull (strstr (error->message, "no-such-model"));
  g_assert_null (result.run_id);
  g_clear_error (&error);

  g_free (config.model);
  config.model = g_strdup (MODEL);
  graft_train_config_set_block (&config, "layer9", 1, -1.0f);
  g_assert_false (train (f, &config, NULL, NULL, NULL, NULL, NULL, &result, &error));
  g_assert_error (error, GRAFT_TRAIN_ERROR, GRAFT_TRAIN_ERROR_CONFIG);
  g_assert_nonnull (strstr (error->message, "layer9"));
  g_clear_error (&error);

  /* nothing was created by either */
  g_assert_false (g_file_test (runs_dir, G_FILE_TEST_EXISTS));

  /* a damaged checkpoint is named, and the run is left as it was */
  graft_train_config_clear (&config);
  config_init (&config);
  {
    g_autoptr(GraftTrainControl) control = graft_train_control_new ();
    Watch watch = { control, 1, 0, FALSE, 0 };
    g_autoptr(GraftRun) run = NULL;
    g_autofree char *checkpoint = NULL;

    g_assert_false (train (f, &config, NULL, NULL, on_progress, &watch, control, &result, &error));
    g_clear_error (&error);
    run = open_run (f, result.run_id);
    checkpoint = g_build_filename (graft_run_get_dir (run), "checkpoint.safetensors", NULL);
    g_assert_true (g_file_set_contents (checkpoint, "{\"broken", -1, NULL));
    g_assert_false (train (f, NULL, result.run_id, NULL, NULL, NULL, NULL, &result, &error));
    g_assert_nonnull (strstr (error->message, "checkpoint"));
    graft_train_result_clear (&result);
  }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/trainer/config-json", test_config_json);
  g_test_add_func ("/trainer/schedules", test_schedules);
  g_test_add ("/trainer/feature-cache", Fixture, NULL, fixture_set_up, test_feature_cache, fixture_tear_down);
  g_test_add ("/trainer/resume", Fixture, NULL, fixture_set_up, test_resume, fixture_tear_down);
  g_test_add ("/trainer/early-stopping", Fixture, NULL, fixture_set_up, test_early_stopping, fixture_tear_down);
  g_test_add ("/trainer/continue", Fixture, NULL, fixture_set_up, test_continue, fixture_tear_down);
  g_test_add ("/trainer/pause", Fixture, NULL, fixture_set_up, test_pause, fixture_tear_down);
  g_test_add ("/trainer/balance", Fixture, NULL, fixture_set_up, test_balance, fixture_tear_down);
  g_test_add ("/trainer/image-cache", Fixture, NULL, fixture_set_up, test_image_cache, fixture_tear_down);
  g_test_add ("/trainer/bad-input", Fixture, NULL, fixture_set_up, test_bad_input, fixture_tear_down);
  return g_test_run ();
}
