/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-app"

#include "graft-config.h"

#include "graft-step-page.h"

/* The content of a step that has no working page yet: it names the step, says what the
 * step will let the user do, and says plainly that it is not built. It offers no controls. */
struct _GraftStepPage
{
  AdwBin         parent_instance;

  GraftStep      step;

  AdwStatusPage *status_page;
};

G_DEFINE_FINAL_TYPE (GraftStepPage, graft_step_page, ADW_TYPE_BIN)

enum {
  PROP_0,
  PROP_STEP,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
graft_step_page_constructed (GObject *object)
{
  GraftStepPage *self = GRAFT_STEP_PAGE (object);

  G_OBJECT_CLASS (graft_step_page_parent_class)->constructed (object);

  adw_status_page_set_icon_name (self->status_page, graft_step_get_icon_name (self->step));
  adw_status_page_set_title (self->status_page, graft_step_get_title (self->step));
  adw_status_page_set_description (self->status_page, graft_step_get_description (self->step));
}

static void
graft_step_page_get_property (GObject    *object,
                              guint       prop_id,
                              GValue     *value,
                              GParamSpec *pspec)
{
  GraftStepPage *self = GRAFT_STEP_PAGE (object);

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
graft_step_page_set_property (GObject      *object,
                              guint         prop_id,
                              const GValue *value,
                              GParamSpec   *pspec)
{
  GraftStepPage *self = GRAFT_STEP_PAGE (object);

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
graft_step_page_class_init (GraftStepPageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->constructed = graft_step_page_constructed;
  object_class->get_property = graft_step_page_get_property;
  object_class->set_property = graft_step_page_set_property;

  properties[PROP_STEP] =
    g_param_spec_enum ("step", NULL, NULL,
                       GRAFT_TYPE_STEP, GRAFT_STEP_DATA,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                       G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_template_from_resource (widget_class, "/org/graft/Graft/ui/graft-step-page.ui");
  gtk_widget_class_bind_template_child (widget_class, GraftStepPage, status_page);
}

static void
graft_step_page_init (GraftStepPage *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

GtkWidget *
graft_step_page_new (GraftStep step)
{
  return g_object_new (GRAFT_TYPE_STEP_PAGE,
                       "step", step,
                       NULL);
}

GraftStep
graft_step_page_get_step (GraftStepPage *self)
{
  g_return_val_if_fail (GRAFT_IS_STEP_PAGE (self), GRAFT_STEP_DATA);

  return self->step;
}
