/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-app"

#include "graft-config.h"

#include <glib/gi18n.h>

#include "graft-application.h"
#include "graft-app-resources.h"
#include "graft-preferences-window.h"
#include "graft-window.h"

struct _GraftApplication
{
  AdwApplication      parent_instance;

  GSettings          *settings;
  GraftDeviceManager *device_manager;

  /* weak: presented again rather than opened twice */
  GtkWindow          *preferences_window;
};

G_DEFINE_FINAL_TYPE (GraftApplication, graft_application, ADW_TYPE_APPLICATION)

enum {
  PROP_0,
  PROP_SETTINGS,
  PROP_DEVICE_MANAGER,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
graft_application_apply_color_scheme (GraftApplication *self)
{
  AdwStyleManager *style_manager = adw_style_manager_get_default ();
  g_autofree char *scheme = g_settings_get_string (self->settings, "color-scheme");

  if (g_strcmp0 (scheme, "light") == 0)
    adw_style_manager_set_color_scheme (style_manager, ADW_COLOR_SCHEME_FORCE_LIGHT);
  else if (g_strcmp0 (scheme, "dark") == 0)
    adw_style_manager_set_color_scheme (style_manager, ADW_COLOR_SCHEME_FORCE_DARK);
  else
    adw_style_manager_set_color_scheme (style_manager, ADW_COLOR_SCHEME_DEFAULT);
}

static void
on_color_scheme_changed (GraftApplication *self,
                         const char       *key G_GNUC_UNUSED,
                         GSettings        *settings G_GNUC_UNUSED)
{
  graft_application_apply_color_scheme (self);
}

static void
on_compute_device_changed (GraftApplication *self,
                           const char       *key G_GNUC_UNUSED,
                           GSettings        *settings)
{
  g_autofree char *selector = g_settings_get_string (settings, "compute-device");

  graft_device_manager_open (self->device_manager, selector);
}

static GtkWindow *
graft_application_get_main_window (GraftApplication *self)
{
  for (GList *l = gtk_application_get_windows (GTK_APPLICATION (self)); l != NULL; l = l->next)
    {
      if (GRAFT_IS_WINDOW (l->data))
        return l->data;
    }

  return NULL;
}

static void
graft_application_preferences_action (GSimpleAction *action G_GNUC_UNUSED,
                                      GVariant      *parameter G_GNUC_UNUSED,
                                      gpointer       user_data)
{
  GraftApplication *self = GRAFT_APPLICATION (user_data);

  if (self->preferences_window == NULL)
    {
      self->preferences_window = GTK_WINDOW (graft_preferences_window_new (self->device_manager));
      g_object_add_weak_pointer (G_OBJECT (self->preferences_window),
                                 (gpointer *) &self->preferences_window);
      gtk_window_set_application (self->preferences_window, GTK_APPLICATION (self));
    }

  gtk_window_set_transient_for (self->preferences_window, graft_application_get_main_window (self));
  gtk_window_present (self->preferences_window);
}

static void
graft_application_about_action (GSimpleAction *action G_GNUC_UNUSED,
                                GVariant      *parameter G_GNUC_UNUSED,
                                gpointer       user_data)
{
  GraftApplication *self = GRAFT_APPLICATION (user_data);
  GtkWidget *about;

  about = g_object_new (ADW_TYPE_ABOUT_WINDOW,
                        "transient-for", gtk_application_get_active_window (GTK_APPLICATION (self)),
                        "modal", TRUE,
                        "application-icon", GRAFT_APP_ID,
                        "application-name", _("Graft"),
                        "developer-name", _("The Graft developers"),
                        "version", GRAFT_VERSION,
                        "comments", _("Adapt a pre-trained vision model to your own images: "
                                      "prepare the data, choose a model and its head, "
                                      "decide which layers to freeze, then train on the GPU "
                                      "through Vulkan, evaluate and compare the runs."),
                        "license-type", GTK_LICENSE_GPL_3_0,
                        "copyright", _("© The Graft developers"),
                        /* Translators: put your names here, one per line */
                        "translator-credits", _("translator-credits"),
                        NULL);

  gtk_window_present (GTK_WINDOW (about));
}

static void
graft_application_quit_action (GSimpleAction *action G_GNUC_UNUSED,
                               GVariant      *parameter G_GNUC_UNUSED,
                               gpointer       user_data)
{
  GraftApplication *self = GRAFT_APPLICATION (user_data);

  /* Close the windows first so that each saves its state. */
  for (GList *l = gtk_application_get_windows (GTK_APPLICATION (self)); l != NULL;)
    {
      GtkWindow *window = l->data;

      l = l->next;
      gtk_window_close (window);
    }

  g_application_quit (G_APPLICATION (self));
}

static const GActionEntry app_actions[] = {
  { .name = "preferences", .activate = graft_application_preferences_action },
  { .name = "about", .activate = graft_application_about_action },
  { .name = "quit", .activate = graft_application_quit_action },
};

static void
graft_application_startup (GApplication *application)
{
  GraftApplication *self = GRAFT_APPLICATION (application);
  g_autoptr(GAction) device_action = NULL;
  g_autoptr(GAction) scheme_action = NULL;
  static const char *quit_accels[] = { "<Control>q", NULL };
  static const char *preferences_accels[] = { "<Control>comma", NULL };
  static const char *close_accels[] = { "<Control>w", NULL };

  G_APPLICATION_CLASS (graft_application_parent_class)->startup (application);

  g_action_map_add_action_entries (G_ACTION_MAP (self), app_actions,
                                   G_N_ELEMENTS (app_actions), self);

  /* Stateful actions the preferences' radio rows are bound to. */
  device_action = g_settings_create_action (self->settings, "compute-device");
  g_action_map_add_action (G_ACTION_MAP (self), device_action);
  scheme_action = g_settings_create_action (self->settings, "color-scheme");
  g_action_map_add_action (G_ACTION_MAP (self), scheme_action);

  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "app.quit", quit_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "app.preferences", preferences_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "window.close", close_accels);

  g_signal_connect_object (self->settings, "changed::color-scheme",
                           G_CALLBACK (on_color_scheme_changed), self, G_CONNECT_SWAPPED);
  graft_application_apply_color_scheme (self);

  g_signal_connect_object (self->settings, "changed::compute-device",
                           G_CALLBACK (on_compute_device_changed), self, G_CONNECT_SWAPPED);
  on_compute_device_changed (self, "compute-device", self->settings);
}

static void
graft_application_activate (GApplication *application)
{
  GraftApplication *self = GRAFT_APPLICATION (application);
  GtkWindow *window = graft_application_get_main_window (self);

  if (window == NULL)
    window = GTK_WINDOW (graft_window_new (self));

  gtk_window_present (window);
}

static void
graft_application_dispose (GObject *object)
{
  GraftApplication *self = GRAFT_APPLICATION (object);

  if (self->preferences_window != NULL)
    {
      g_object_remove_weak_pointer (G_OBJECT (self->preferences_window),
                                    (gpointer *) &self->preferences_window);
      self->preferences_window = NULL;
    }

  g_clear_object (&self->device_manager);
  g_clear_object (&self->settings);

  G_OBJECT_CLASS (graft_application_parent_class)->dispose (object);
}

static void
graft_application_get_property (GObject    *object,
                                guint       prop_id,
                                GValue     *value,
                                GParamSpec *pspec)
{
  GraftApplication *self = GRAFT_APPLICATION (object);

  switch (prop_id)
    {
    case PROP_SETTINGS:
      g_value_set_object (value, self->settings);
      break;

    case PROP_DEVICE_MANAGER:
      g_value_set_object (value, self->device_manager);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
graft_application_class_init (GraftApplicationClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GApplicationClass *application_class = G_APPLICATION_CLASS (klass);

  object_class->dispose = graft_application_dispose;
  object_class->get_property = graft_application_get_property;

  application_class->startup = graft_application_startup;
  application_class->activate = graft_application_activate;

  properties[PROP_SETTINGS] =
    g_param_spec_object ("settings", NULL, NULL,
                         G_TYPE_SETTINGS,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  properties[PROP_DEVICE_MANAGER] =
    g_param_spec_object ("device-manager", NULL, NULL,
                         GRAFT_TYPE_DEVICE_MANAGER,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);

  /* The resources live in a static library; registering them here also keeps the
   * linker from dropping them. */
  graft_app_register_resource ();
}

static void
graft_application_init (GraftApplication *self)
{
  self->settings = g_settings_new (GRAFT_APP_ID);
  self->device_manager = graft_device_manager_new ();
}

GraftApplication *
graft_application_new (void)
{
  return g_object_new (GRAFT_TYPE_APPLICATION,
                       "application-id", GRAFT_APP_ID,
                       "flags", G_APPLICATION_DEFAULT_FLAGS,
                       "resource-base-path", "/org/graft/Graft",
                       NULL);
}

GSettings *
graft_application_get_settings (GraftApplication *self)
{
  g_return_val_if_fail (GRAFT_IS_APPLICATION (self), NULL);

  return self->settings;
}

GraftDeviceManager *
graft_application_get_device_manager (GraftApplication *self)
{
  g_return_val_if_fail (GRAFT_IS_APPLICATION (self), NULL);

  return self->device_manager;
}
