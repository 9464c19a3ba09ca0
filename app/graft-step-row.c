/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-app"

#include "graft-config.h"

#include "graft-step-row.h"

/* One entry of the window's sidebar: the step's icon, title and a one-line summary. */
struct _GraftStepRow
{
  GtkListBoxRow  parent_instance;

  GraftStep      step;

  GtkImage      *icon;
  GtkLabel      *title_label;
  GtkLabel      *summary_label;
};

G_DEFINE_FINAL_TYPE (GraftStepRow, graft_step_row, GTK_TYPE_LIST_BOX_ROW)

enum {
  PROP_0,
  PROP_STEP,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
graft_step_row_constructed (GObject *object)
{
  GraftStepRow *self = GRAFT_STEP_ROW (object);

  G_OBJECT_CLASS (graft_step_row_parent_class)->constructed (object);

  gtk_image_set_from_icon_name (self->icon, graft_step_get_icon_name (self->step));
  gtk_label_set_label (self->title_label, graft_step_get_title (self->step));
  gtk_label_set_label (self->summary_label, graft_step_get_summary (self->step));
  gtk_widget_set_name (GTK_WIDGET (self), graft_step_get_id (self->step));
  gtk_accessible_update_property (GTK_ACCESSIBLE (self),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, graft_step_get_title (self->step),
                                  GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, graft_step_get_summary (self->step),
                                  -1);
}

static void
graft_step_row_get_property (GObject    *object,
                             guint       prop_id,
                             GValue     *value,
                             GParamSpec *pspec)
{
  GraftStepRow *self = GRAFT_STEP_ROW (object);

  switch (prop_id)
    {
    case PROP_STEP:
      g_value_set_enum (value, self->step);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
graft_step_row_set_property (GObject      *object,
                             guint         prop_id,
                             const GValue *value,
                             GParamSpec   *pspec)
{
  GraftStepRow *self = GRAFT_STEP_ROW (object);

  switch (prop_id)
    {
    case PROP_STEP:
      self->step = g_value_get_enum (value);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
graft_step_row_class_init (GraftStepRowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->constructed = graft_step_row_constructed;
  object_class->get_property = graft_step_row_get_property;
  object_class->set_property = graft_step_row_set_property;

  properties[PROP_STEP] =
    g_param_spec_enum ("step", NULL, NULL,
                       GRAFT_TYPE_STEP, GRAFT_STEP_DATA,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                       G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_template_from_resource (widget_class, "/org/graft/Graft/ui/graft-step-row.ui");
  gtk_widget_class_bind_template_child (widget_class, GraftStepRow, icon);
  gtk_widget_class_bind_template_child (widget_class, GraftStepRow, title_label);
  gtk_widget_class_bind_template_child (widget_class, GraftStepRow, summary_label);
}

static void
graft_step_row_init (GraftStepRow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

GtkWidget *
graft_step_row_new (GraftStep step)
{
  return g_object_new (GRAFT_TYPE_STEP_ROW,
                       "step", step,
                       NULL);
}

GraftStep
graft_step_row_get_step (GraftStepRow *self)
{
  g_return_val_if_fail (GRAFT_IS_STEP_ROW (self), GRAFT_STEP_DATA);

  return self->step;
}
