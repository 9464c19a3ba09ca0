/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

/* The seven steps of the workflow, in the order the sidebar lists them. */
typedef enum {
  GRAFT_STEP_DATA,
  GRAFT_STEP_MODEL,
  GRAFT_STEP_HEAD,
  GRAFT_STEP_FREEZE,
  GRAFT_STEP_TRAIN,
  GRAFT_STEP_EVALUATE,
  GRAFT_STEP_COMPARE,
} GraftStep;

#define GRAFT_N_STEPS (GRAFT_STEP_COMPARE + 1)

#define GRAFT_TYPE_STEP (graft_step_get_type ())
GType graft_step_get_type (void);

/* The id used in action targets and page names: "data", "model", … */
const char *graft_step_get_id          (GraftStep   step);
/* Translated, short: "Data". */
const char *graft_step_get_title       (GraftStep   step);
/* Translated, one line for the sidebar. */
const char *graft_step_get_summary     (GraftStep   step);
/* Translated, what the step lets the user do. */
const char *graft_step_get_description (GraftStep   step);
/* A symbolic icon of the Adwaita theme. */
const char *graft_step_get_icon_name   (GraftStep   step);
gboolean    graft_step_from_id         (const char *id,
                                        GraftStep  *step);

G_END_DECLS
