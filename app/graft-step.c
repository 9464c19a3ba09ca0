/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-app"

#include "graft-config.h"

#include <glib/gi18n.h>

#include "graft-step.h"

G_DEFINE_ENUM_TYPE (GraftStep, graft_step,
  G_DEFINE_ENUM_VALUE (GRAFT_STEP_DATA, "data"),
  G_DEFINE_ENUM_VALUE (GRAFT_STEP_MODEL, "model"),
  G_DEFINE_ENUM_VALUE (GRAFT_STEP_HEAD, "head"),
  G_DEFINE_ENUM_VALUE (GRAFT_STEP_FREEZE, "freeze"),
  G_DEFINE_ENUM_VALUE (GRAFT_STEP_TRAIN, "train"),
  G_DEFINE_ENUM_VALUE (GRAFT_STEP_EVALUATE, "evaluate"),
  G_DEFINE_ENUM_VALUE (GRAFT_STEP_COMPARE, "compare"))

typedef struct {
  const char *id;
  const char *title;
  const char *summary;
  const char *description;
  const char *icon_name;
} GraftStepInfo;

static const GraftStepInfo steps[GRAFT_N_STEPS] = {
  [GRAFT_STEP_DATA] = {
    "data",
    N_("Data"),
    N_("Import, clean and split images"),
    N_("Choose classification or detection, import a folder of images or a label file, "
       "find corrupt files and duplicates, and split the images into training, "
       "validation and test sets that keep every class represented."),
    "folder-pictures-symbolic",
  },
  [GRAFT_STEP_MODEL] = {
    "model",
    N_("Model"),
    N_("Pick a pre-trained backbone"),
    N_("Compare ResNet, EfficientNet, MobileNet, Vision Transformer and detector "
       "backbones, see what each one was trained on, and check that its input size "
       "and channels fit your images."),
    "graft-model-symbolic",
  },
  [GRAFT_STEP_HEAD] = {
    "head",
    N_("Head"),
    N_("Size the output for your classes"),
    N_("Replace the classification head with one sized for your classes, and adapt "
       "the input when your images are grayscale or of another resolution."),
    "view-list-bullet-symbolic",
  },
  [GRAFT_STEP_FREEZE] = {
    "freeze",
    N_("Freeze"),
    N_("Choose which layers keep learning"),
    N_("Freeze and unfreeze the model block by block, start from a preset, and follow "
       "a recommendation based on the size of your dataset and how far it is from "
       "the images the model was trained on."),
    "weather-snow-symbolic",
  },
  [GRAFT_STEP_TRAIN] = {
    "train",
    N_("Train"),
    N_("Fine-tune and watch the curves"),
    N_("Set augmentation, learning rate, schedule and early stopping, then train on "
       "the compute device while loss and accuracy curves update live. Pause, resume "
       "or stop at any time."),
    "media-playback-start-symbolic",
  },
  [GRAFT_STEP_EVALUATE] = {
    "evaluate",
    N_("Evaluate"),
    N_("Metrics, confusion and mistakes"),
    N_("Read precision, recall and F1 for every class, explore the confusion matrix "
       "and predicted boxes drawn over your images, browse the mistakes, and see "
       "against a baseline trained from scratch what transfer learning bought."),
    "view-grid-symbolic",
  },
  [GRAFT_STEP_COMPARE] = {
    "compare",
    N_("Compare"),
    N_("Put saved runs side by side"),
    N_("Compare saved runs with different backbones, hyperparameters and "
       "regularisation side by side, and keep the one that works best."),
    "view-dual-symbolic",
  },
};

static const GraftStepInfo *
graft_step_get_info (GraftStep step)
{
  g_return_val_if_fail ((guint) step < GRAFT_N_STEPS, &steps[0]);

  return &steps[step];
}

const char *
graft_step_get_id (GraftStep step)
{
  return graft_step_get_info (step)->id;
}

const char *
graft_step_get_title (GraftStep step)
{
  return _(graft_step_get_info (step)->title);
}

const char *
graft_step_get_summary (GraftStep step)
{
  return _(graft_step_get_info (step)->summary);
}

const char *
graft_step_get_description (GraftStep step)
{
  return _(graft_step_get_info (step)->description);
}

const char *
graft_step_get_icon_name (GraftStep step)
{
  return graft_step_get_info (step)->icon_name;
}

gboolean
graft_step_from_id (const char *id,
                    GraftStep  *step)
{
  g_return_val_if_fail (step != NULL, FALSE);

  if (id == NULL)
    return FALSE;

  for (guint i = 0; i < GRAFT_N_STEPS; i++)
    {
      if (g_strcmp0 (steps[i].id, id) == 0)
        {
          *step = (GraftStep) i;
          return TRUE;
        }
    }

  return FALSE;
}
