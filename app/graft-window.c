/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-app"

#include "graft-config.h"

#include <glib/gi18n.h>
#include <string.h>

#include "graft-step-page.h"
#include "graft-step-row.h"
#include "graft-window.h"

/* The main window: a sidebar listing the steps of the workflow beside the page of the
 * selected step, and in the header the compute device in use. */
struct _GraftWindow
{
  AdwApplicationWindow  parent_instance;

  GSettings            *settings;
  GraftDeviceManager   *device_manager;
  GraftStep             step;

  AdwToastOverlay      *toast_overlay;
  AdwLeaflet           *leaflet;
  GtkListBox           *step_list;
  GtkWidget            *content_box;
  AdwWindowTitle       *page_title;
  GtkStack             *stack;
  GtkButton            *device_button;
  GtkStack             *device_state;
  GtkLabel             *device_label;

  /* the last device that could not be opened, for the details dialog */
  char                 *fallback_heading;
  char                 *fallback_body;
};

G_DEFINE_FINAL_TYPE (GraftWindow, graft_window, ADW_TYPE_APPLICATION_WINDOW)

enum {
  PROP_0,
  PROP_STEP,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
graft_window_update_device (GraftWindow *self)
{
  const char *label;
  const char *description;
  g_autofree char *tooltip = NULL;

  if (self->device_manager == NULL)
    return;

  label = graft_device_manager_get_label (self->device_manager);
  description = graft_device_manager_get_description (self->device_manager);

  gtk_label_set_label (self->device_label, label);
  gtk_stack_set_visible_child_name (self->device_state,
                                    graft_device_manager_get_busy (self->device_manager) ? "busy" : "ready");

  if (description != NULL && description[0] != '\0')
    tooltip = g_strdup_printf (_("Compute device: %s\nClick to choose another"), description);
  else
    tooltip = g_strdup (_("Choose the compute device"));

  gtk_widget_set_tooltip_text (GTK_WIDGET (self->device_button), tooltip);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->device_button),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, label,
                                  GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, tooltip,
                                  -1);
}

/* The first clause of an engine message, for a toast: remarks in parentheses and the
 * final full stop go, the details dialog has them. */
static char *
shorten_reason (const char *reason)
{
  g_autoptr(GString) text = g_string_new (NULL);
  int depth = 0;

  for (const char *p = reason; *p != '\0'; p++)
    {
      if (*p == '(')
        {
          if (depth == 0)
            while (text->len > 0 && text->str[text->len - 1] == ' ')
              g_string_truncate (text, text->len - 1);
          depth++;
        }
      else if (*p == ')' && depth > 0)
        depth--;
      else if (depth == 0)
        g_string_append_c (text, *p);
    }

  g_strstrip (text->str);
  text->len = strlen (text->str);
  while (text->len > 0 && (text->str[text->len - 1] == '.' || text->str[text->len - 1] == ' '))
    g_string_truncate (text, text->len - 1);

  if (text->len == 0)
    return g_strdup (reason);

  return g_string_free (g_steal_pointer (&text), FALSE);
}

static void
on_device_fallback (GraftWindow        *self,
                    const char         *requested,
                    const char         *reason,
                    const char         *used,
                    GraftDeviceManager *manager G_GNUC_UNUSED)
{
  g_autofree char *short_reason = shorten_reason (reason);
  g_autofree char *title = NULL;
  AdwToast *toast;

  g_free (self->fallback_heading);
  /* Translators: %s is a device id such as "vulkan:1" */
  self->fallback_heading = g_strdup_printf (_("Could Not Open %s"), requested);
  g_free (self->fallback_body);
  /* Translators: the first %s is why a device could not be opened, the second is the device used instead ("CPU · OpenBLAS") */
  self->fallback_body = g_strdup_printf (_("%s\n\nGraft uses %s instead. You can choose another compute device in Preferences."),
                                         reason, used);

  /* Translators: the first %s is a device ("vulkan:1"), the second why it failed, the third the device used instead ("CPU · OpenBLAS") */
  title = g_strdup_printf (_("Could not open %s (%s). Using %s."), requested, short_reason, used);

  toast = adw_toast_new (title);
  adw_toast_set_timeout (toast, 10);
  adw_toast_set_priority (toast, ADW_TOAST_PRIORITY_HIGH);
  adw_toast_set_button_label (toast, _("_Details"));
  adw_toast_set_action_name (toast, "win.device-error-details");
  adw_toast_overlay_add_toast (self->toast_overlay, toast);
}

static void
on_details_response (GraftWindow      *self,
                     const char       *response,
                     AdwMessageDialog *dialog G_GNUC_UNUSED)
{
  if (g_strcmp0 (response, "preferences") == 0)
    gtk_widget_activate_action (GTK_WIDGET (self), "app.preferences", NULL);
}

static void
graft_window_device_error_details_action (GtkWidget  *widget,
                                          const char *action_name G_GNUC_UNUSED,
                                          GVariant   *parameter G_GNUC_UNUSED)
{
  GraftWindow *self = GRAFT_WINDOW (widget);
  GtkWidget *dialog;

  if (self->fallback_heading == NULL)
    return;

  dialog = adw_message_dialog_new (GTK_WINDOW (self), self->fallback_heading, self->fallback_body);
  adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog),
                                    "close", _("_Close"),
                                    "preferences", _("_Preferences"),
                                    NULL);
  adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog), "preferences",
                                              ADW_RESPONSE_SUGGESTED);
  adw_message_dialog_set_default_response (ADW_MESSAGE_DIALOG (dialog), "preferences");
  adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "close");
  g_signal_connect_object (dialog, "response", G_CALLBACK (on_details_response), self, G_CONNECT_SWAPPED);
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
graft_window_select_row (GraftWindow *self)
{
  GtkListBoxRow *row = gtk_list_box_get_row_at_index (self->step_list, self->step);

  if (row != NULL && gtk_list_box_get_selected_row (self->step_list) != row)
    gtk_list_box_select_row (self->step_list, row);
}

void
graft_window_set_step (GraftWindow *self,
                       GraftStep    step)
{
  g_autofree char *subtitle = NULL;

  g_return_if_fail (GRAFT_IS_WINDOW (self));
  g_return_if_fail ((guint) step < GRAFT_N_STEPS);

  gtk_stack_set_visible_child_name (self->stack, graft_step_get_id (step));
  adw_window_title_set_title (self->page_title, graft_step_get_title (step));
  /* Translators: shown under the title of a step: "Step 3 of 7" */
  subtitle = g_strdup_printf (_("Step %u of %u"), (guint) step + 1, (guint) GRAFT_N_STEPS);
  adw_window_title_set_subtitle (self->page_title, subtitle);

  if (self->step != step)
    {
      self->step = step;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STEP]);
    }

  graft_window_select_row (self);
}

GraftStep
graft_window_get_step (GraftWindow *self)
{
  g_return_val_if_fail (GRAFT_IS_WINDOW (self), GRAFT_STEP_DATA);

  return self->step;
}

static void
on_row_selected (GraftWindow   *self,
                 GtkListBoxRow *row,
                 GtkListBox    *list G_GNUC_UNUSED)
{
  if (row != NULL)
    graft_window_set_step (self, graft_step_row_get_step (GRAFT_STEP_ROW (row)));
}

static void
on_row_activated (GraftWindow   *self,
                  GtkListBoxRow *row,
                  GtkListBox    *list G_GNUC_UNUSED)
{
  graft_window_set_step (self, graft_step_row_get_step (GRAFT_STEP_ROW (row)));
  adw_leaflet_set_visible_child (self->leaflet, self->content_box);
}

/* Folded, the header has no room for the device's name: the icon stays, and the
 * tooltip names the device. */
static void
on_folded_changed (GraftWindow *self)
{
  gtk_widget_set_visible (GTK_WIDGET (self->device_label), !adw_leaflet_get_folded (self->leaflet));
}

static void
on_back_clicked (GraftWindow *self,
                 GtkButton   *button G_GNUC_UNUSED)
{
  adw_leaflet_navigate (self->leaflet, ADW_NAVIGATION_DIRECTION_BACK);
}

static void
graft_window_show_step_action (GtkWidget  *widget,
                               const char *action_name G_GNUC_UNUSED,
                               GVariant   *parameter)
{
  GraftWindow *self = GRAFT_WINDOW (widget);
  const char *id = g_variant_get_string (parameter, NULL);
  GraftStep step;

  if (!graft_step_from_id (id, &step))
    {
      g_warning ("win.show-step: there is no step called “%s”", id);
      return;
    }

  graft_window_set_step (self, step);
  adw_leaflet_set_visible_child (self->leaflet, self->content_box);
}

static gboolean
graft_window_close_request (GtkWindow *window)
{
  GraftWindow *self = GRAFT_WINDOW (window);
  gboolean maximized = gtk_window_is_maximized (window);
  int width, height;

  g_settings_delay (self->settings);

  g_settings_set_boolean (self->settings, "window-maximized", maximized);
  if (!maximized)
    {
      gtk_window_get_default_size (window, &width, &height);
      if (width > 0 && height > 0)
        {
          g_settings_set_int (self->settings, "window-width", width);
          g_settings_set_int (self->settings, "window-height", height);
        }
    }

  g_settings_apply (self->settings);

  return GTK_WINDOW_CLASS (graft_window_parent_class)->close_request (window);
}

/* The window follows the device manager of its application, which is known only once
 * GtkWindow:application is set, after construction. */
static void
on_application_changed (GraftWindow *self)
{
  GtkApplication *application = gtk_window_get_application (GTK_WINDOW (self));
  GraftDeviceManager *manager = NULL;

  if (GRAFT_IS_APPLICATION (application))
    manager = graft_application_get_device_manager (GRAFT_APPLICATION (application));

  if (manager == NULL || manager == self->device_manager)
    return;

  if (self->device_manager != NULL)
    g_signal_handlers_disconnect_by_data (self->device_manager, self);
  g_set_object (&self->device_manager, manager);

  g_signal_connect_object (manager, "notify::label",
                           G_CALLBACK (graft_window_update_device), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (manager, "notify::busy",
                           G_CALLBACK (graft_window_update_device), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (manager, "notify::description",
                           G_CALLBACK (graft_window_update_device), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (manager, "fallback",
                           G_CALLBACK (on_device_fallback), self, G_CONNECT_SWAPPED);
  graft_window_update_device (self);
}

static void
graft_window_dispose (GObject *object)
{
  GraftWindow *self = GRAFT_WINDOW (object);

  gtk_widget_dispose_template (GTK_WIDGET (self), GRAFT_TYPE_WINDOW);

  g_clear_object (&self->device_manager);
  g_clear_object (&self->settings);
  g_clear_pointer (&self->fallback_heading, g_free);
  g_clear_pointer (&self->fallback_body, g_free);

  G_OBJECT_CLASS (graft_window_parent_class)->dispose (object);
}

static void
graft_window_get_property (GObject    *object,
                           guint       prop_id,
                           GValue     *value,
                           GParamSpec *pspec)
{
  GraftWindow *self = GRAFT_WINDOW (object);

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
graft_window_set_property (GObject      *object,
                           guint         prop_id,
                           const GValue *value,
                           GParamSpec   *pspec)
{
  GraftWindow *self = GRAFT_WINDOW (object);

  switch (prop_id)
    {
    case PROP_STEP:
      graft_window_set_step (self, g_value_get_enum (value));
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
graft_window_class_init (GraftWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  GtkWindowClass *window_class = GTK_WINDOW_CLASS (klass);

  object_class->dispose = graft_window_dispose;
  object_class->get_property = graft_window_get_property;
  object_class->set_property = graft_window_set_property;

  window_class->close_request = graft_window_close_request;

  properties[PROP_STEP] =
    g_param_spec_enum ("step", NULL, NULL,
                       GRAFT_TYPE_STEP, GRAFT_STEP_DATA,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_template_from_resource (widget_class, "/org/graft/Graft/ui/graft-window.ui");
  gtk_widget_class_bind_template_child (widget_class, GraftWindow, toast_overlay);
  gtk_widget_class_bind_template_child (widget_class, GraftWindow, leaflet);
  gtk_widget_class_bind_template_child (widget_class, GraftWindow, step_list);
  gtk_widget_class_bind_template_child (widget_class, GraftWindow, content_box);
  gtk_widget_class_bind_template_child (widget_class, GraftWindow, page_title);
  gtk_widget_class_bind_template_child (widget_class, GraftWindow, stack);
  gtk_widget_class_bind_template_child (widget_class, GraftWindow, device_button);
  gtk_widget_class_bind_template_child (widget_class, GraftWindow, device_state);
  gtk_widget_class_bind_template_child (widget_class, GraftWindow, device_label);
  gtk_widget_class_bind_template_callback (widget_class, on_row_selected);
  gtk_widget_class_bind_template_callback (widget_class, on_row_activated);
  gtk_widget_class_bind_template_callback (widget_class, on_back_clicked);

  gtk_widget_class_install_action (widget_class, "win.show-step", "s", graft_window_show_step_action);
  gtk_widget_class_install_action (widget_class, "win.device-error-details", NULL,
                                   graft_window_device_error_details_action);

  for (guint i = 0; i < GRAFT_N_STEPS; i++)
    gtk_widget_class_add_binding_action (widget_class, GDK_KEY_1 + i, GDK_ALT_MASK,
                                         "win.show-step", "s", graft_step_get_id ((GraftStep) i));
}

static void
graft_window_init (GraftWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));

  for (guint i = 0; i < GRAFT_N_STEPS; i++)
    {
      GraftStep step = (GraftStep) i;
      GtkStackPage *page;

      gtk_list_box_append (self->step_list, graft_step_row_new (step));
      page = gtk_stack_add_titled (self->stack, graft_step_page_new (step),
                                   graft_step_get_id (step), graft_step_get_title (step));
      gtk_stack_page_set_icon_name (page, graft_step_get_icon_name (step));
    }

  self->settings = g_settings_new (GRAFT_APP_ID);
  gtk_window_set_default_size (GTK_WINDOW (self),
                               g_settings_get_int (self->settings, "window-width"),
                               g_settings_get_int (self->settings, "window-height"));
  if (g_settings_get_boolean (self->settings, "window-maximized"))
    gtk_window_maximize (GTK_WINDOW (self));

  gtk_label_set_label (self->device_label, _("No compute device"));
  g_signal_connect_swapped (self, "notify::application", G_CALLBACK (on_application_changed), self);
  g_signal_connect_object (self->leaflet, "notify::folded", G_CALLBACK (on_folded_changed), self, G_CONNECT_SWAPPED);
  on_folded_changed (self);

  graft_window_set_step (self, GRAFT_STEP_DATA);
}

GraftWindow *
graft_window_new (GraftApplication *application)
{
  g_return_val_if_fail (GRAFT_IS_APPLICATION (application), NULL);

  return g_object_new (GRAFT_TYPE_WINDOW,
                       "application", application,
                       NULL);
}
