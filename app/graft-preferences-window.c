/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-app"

#include "graft-config.h"

#include <glib/gi18n.h>

#include "graft-preferences-window.h"

/* Preferences: the compute device (one radio row per device of the machine, listed on a
 * worker thread by the device manager) and the colour scheme. The radio buttons are
 * bound to the application's settings actions "app.compute-device" and
 * "app.color-scheme", so choosing a row writes GSettings directly. */
struct _GraftPreferencesWindow
{
  AdwPreferencesWindow  parent_instance;

  GraftDeviceManager   *device_manager;

  /* device id -> AdwActionRow, "auto" included */
  GHashTable           *rows_by_id;
  /* rows made from the last device list, in order */
  GPtrArray            *device_rows;
  guint                 n_devices;

  AdwPreferencesGroup  *device_group;
  AdwActionRow         *auto_row;
  AdwActionRow         *listing_row;
  GtkButton            *rescan_button;
};

G_DEFINE_FINAL_TYPE (GraftPreferencesWindow, graft_preferences_window, ADW_TYPE_PREFERENCES_WINDOW)

enum {
  PROP_0,
  PROP_DEVICE_MANAGER,
  PROP_LISTING,
  PROP_N_DEVICES,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static const char *
device_type_label (GraftDeviceType type)
{
  switch (type)
    {
    case GRAFT_DEVICE_TYPE_DISCRETE_GPU:
      return _("Discrete GPU");
    case GRAFT_DEVICE_TYPE_INTEGRATED_GPU:
      return _("Integrated GPU");
    case GRAFT_DEVICE_TYPE_VIRTUAL_GPU:
      return _("Virtual GPU");
    case GRAFT_DEVICE_TYPE_CPU:
      return _("Software device on the processor");
    case GRAFT_DEVICE_TYPE_OTHER:
    default:
      return _("Other device");
    }
}

/* Up to three lines: what the device is, its driver, and its limits. */
static char *
format_device_subtitle (const GraftDeviceInfo *info)
{
  g_autofree char *memory = g_format_size_full (info->memory_bytes, G_FORMAT_SIZE_IEC_UNITS);
  g_autoptr(GString) text = g_string_new (NULL);

  if (info->backend == GRAFT_BACKEND_KIND_VULKAN)
    {
      g_autofree char *range = g_format_size_full (info->max_storage_buffer_range, G_FORMAT_SIZE_IEC_UNITS);
      g_autofree char *shared = g_format_size_full (info->max_shared_memory, G_FORMAT_SIZE_IEC_UNITS);

      /* Translators: "Vulkan · Integrated GPU · 7.6 GiB memory" */
      g_string_append_printf (text, _("Vulkan · %s · %s memory"),
                              device_type_label (info->type), memory);
      if (info->driver != NULL && info->driver[0] != '\0')
        g_string_append_printf (text, "\n%s", info->driver);
      g_string_append_c (text, '\n');
      /* Translators: limits of a Vulkan device: "Largest buffer 128 MiB · shared memory 32 KiB · subgroup 8" */
      g_string_append_printf (text, _("Largest buffer %s · shared memory %s · subgroup %u"),
                              range, shared, info->subgroup_size);
      g_string_append (text, " · ");
      g_string_append (text, info->fp16 ? _("fp16") : _("no fp16"));
    }
  else
    {
      /* Translators: "CPU backend · 31.3 GiB memory · 8 threads" */
      g_string_append_printf (text,
                              ngettext ("CPU backend · %s memory · %u thread",
                                        "CPU backend · %s memory · %u threads",
                                        info->n_threads),
                              memory, info->n_threads);
      if (info->driver != NULL && info->driver[0] != '\0')
        g_string_append_printf (text, "\n%s", info->driver);
    }

  return g_string_free (g_steal_pointer (&text), FALSE);
}

static GtkWidget *
radio_button_new (const char *action_name,
                  const char *target)
{
  GtkWidget *check = gtk_check_button_new ();

  gtk_widget_set_valign (check, GTK_ALIGN_CENTER);
  gtk_actionable_set_action_name (GTK_ACTIONABLE (check), action_name);
  gtk_actionable_set_action_target (GTK_ACTIONABLE (check), "s", target);

  return check;
}

static void
graft_preferences_window_update_in_use (GraftPreferencesWindow *self)
{
  const char *in_use = graft_device_manager_get_device_id (self->device_manager);

  for (guint i = 0; i < self->device_rows->len; i++)
    {
      GtkWidget *row = g_ptr_array_index (self->device_rows, i);
      GtkWidget *badge = g_object_get_data (G_OBJECT (row), "graft-in-use");
      const char *id = g_object_get_data (G_OBJECT (row), "graft-device-id");

      if (badge != NULL)
        gtk_widget_set_visible (badge, in_use != NULL && g_strcmp0 (id, in_use) == 0);
    }
}

static void
graft_preferences_window_clear_rows (GraftPreferencesWindow *self)
{
  for (guint i = 0; i < self->device_rows->len; i++)
    adw_preferences_group_remove (self->device_group, g_ptr_array_index (self->device_rows, i));

  g_ptr_array_set_size (self->device_rows, 0);
  g_hash_table_remove_all (self->rows_by_id);
  g_hash_table_insert (self->rows_by_id, g_strdup ("auto"), self->auto_row);
  self->n_devices = 0;
}

static void
graft_preferences_window_add_row (GraftPreferencesWindow *self,
                                  GtkWidget              *row)
{
  adw_preferences_group_add (self->device_group, row);
  g_ptr_array_add (self->device_rows, row);
}

static void
graft_preferences_window_fill_devices (GraftPreferencesWindow *self)
{
  GPtrArray *devices = graft_device_manager_get_devices (self->device_manager);
  const GError *vulkan_error = graft_device_manager_get_vulkan_error (self->device_manager);
  const GraftDeviceInfo *automatic;
  g_autofree char *auto_label = NULL;
  g_autofree char *auto_subtitle = NULL;

  if (devices == NULL)
    return;

  graft_preferences_window_clear_rows (self);

  for (guint i = 0; i < devices->len; i++)
    {
      const GraftDeviceInfo *info = g_ptr_array_index (devices, i);
      g_autofree char *subtitle = format_device_subtitle (info);
      GtkWidget *row;
      GtkWidget *check;
      GtkWidget *badge;

      row = g_object_new (ADW_TYPE_ACTION_ROW,
                          "title", info->name,
                          "subtitle", subtitle,
                          "use-markup", FALSE,
                          "subtitle-lines", 0,
                          NULL);
      gtk_widget_add_css_class (row, "graft-device-row");

      check = radio_button_new ("app.compute-device", info->id);
      adw_action_row_add_prefix (ADW_ACTION_ROW (row), check);
      adw_action_row_set_activatable_widget (ADW_ACTION_ROW (row), check);

      badge = gtk_label_new (_("In Use"));
      gtk_widget_set_valign (badge, GTK_ALIGN_CENTER);
      gtk_widget_add_css_class (badge, "graft-in-use");
      gtk_widget_set_visible (badge, FALSE);
      adw_action_row_add_suffix (ADW_ACTION_ROW (row), badge);

      g_object_set_data_full (G_OBJECT (row), "graft-device-id", g_strdup (info->id), g_free);
      g_object_set_data (G_OBJECT (row), "graft-in-use", badge);

      graft_preferences_window_add_row (self, row);
      g_hash_table_insert (self->rows_by_id, g_strdup (info->id), row);
      self->n_devices++;
    }

  if (vulkan_error != NULL)
    {
      GtkWidget *row;
      GtkWidget *icon;

      row = g_object_new (ADW_TYPE_ACTION_ROW,
                          "title", _("Vulkan is not available"),
                          "subtitle", vulkan_error->message,
                          "use-markup", FALSE,
                          "subtitle-lines", 0,
                          NULL);
      icon = gtk_image_new_from_icon_name ("dialog-warning-symbolic");
      gtk_widget_add_css_class (icon, "warning");
      adw_action_row_add_prefix (ADW_ACTION_ROW (row), icon);
      gtk_widget_add_css_class (row, "graft-vulkan-error");
      graft_preferences_window_add_row (self, row);
    }

  automatic = graft_device_select (devices, "auto", NULL);
  if (automatic != NULL)
    {
      auto_label = g_strdup (automatic->name);
      /* Translators: %s is the device the automatic choice picks now */
      auto_subtitle = g_strdup_printf (_("A GPU when there is one, otherwise the CPU backend. Now: %s"),
                                       auto_label);
    }
  else
    {
      auto_subtitle = g_strdup (_("A GPU when there is one, otherwise the CPU backend"));
    }

  adw_action_row_set_subtitle (self->auto_row, auto_subtitle);

  graft_preferences_window_update_in_use (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_DEVICES]);
}

static void
on_listing_changed (GraftPreferencesWindow *self)
{
  gboolean listing = graft_device_manager_get_listing (self->device_manager);

  gtk_widget_set_visible (GTK_WIDGET (self->listing_row), listing);
  gtk_widget_set_sensitive (GTK_WIDGET (self->rescan_button), !listing);

  if (!listing)
    graft_preferences_window_fill_devices (self);

  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LISTING]);
}

static void
on_rescan_clicked (GraftPreferencesWindow *self,
                   GtkButton              *button G_GNUC_UNUSED)
{
  graft_device_manager_refresh (self->device_manager);
}

static void
graft_preferences_window_constructed (GObject *object)
{
  GraftPreferencesWindow *self = GRAFT_PREFERENCES_WINDOW (object);

  G_OBJECT_CLASS (graft_preferences_window_parent_class)->constructed (object);

  g_return_if_fail (self->device_manager != NULL);

  g_signal_connect_object (self->device_manager, "notify::listing",
                           G_CALLBACK (on_listing_changed), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->device_manager, "notify::device-id",
                           G_CALLBACK (graft_preferences_window_update_in_use), self, G_CONNECT_SWAPPED);

  /* Show what is known at once, and look again: devices come and go. */
  graft_preferences_window_fill_devices (self);
  graft_device_manager_refresh (self->device_manager);
  on_listing_changed (self);
}

static void
graft_preferences_window_dispose (GObject *object)
{
  GraftPreferencesWindow *self = GRAFT_PREFERENCES_WINDOW (object);

  gtk_widget_dispose_template (GTK_WIDGET (self), GRAFT_TYPE_PREFERENCES_WINDOW);

  g_clear_object (&self->device_manager);

  G_OBJECT_CLASS (graft_preferences_window_parent_class)->dispose (object);
}

static void
graft_preferences_window_finalize (GObject *object)
{
  GraftPreferencesWindow *self = GRAFT_PREFERENCES_WINDOW (object);

  g_hash_table_unref (self->rows_by_id);
  g_ptr_array_unref (self->device_rows);

  G_OBJECT_CLASS (graft_preferences_window_parent_class)->finalize (object);
}

static void
graft_preferences_window_get_property (GObject    *object,
                                       guint       prop_id,
                                       GValue     *value,
                                       GParamSpec *pspec)
{
  GraftPreferencesWindow *self = GRAFT_PREFERENCES_WINDOW (object);

  switch (prop_id)
    {
    case PROP_DEVICE_MANAGER:
      g_value_set_object (value, self->device_manager);
      break;

    case PROP_LISTING:
      g_value_set_boolean (value, graft_preferences_window_get_listing (self));
      break;

    case PROP_N_DEVICES:
      g_value_set_uint (value, self->n_devices);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
graft_preferences_window_set_property (GObject      *object,
                                       guint         prop_id,
                                       const GValue *value,
                                       GParamSpec   *pspec)
{
  GraftPreferencesWindow *self = GRAFT_PREFERENCES_WINDOW (object);

  switch (prop_id)
    {
    case PROP_DEVICE_MANAGER:
      self->device_manager = g_value_dup_object (value);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
graft_preferences_window_class_init (GraftPreferencesWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->constructed = graft_preferences_window_constructed;
  object_class->dispose = graft_preferences_window_dispose;
  object_class->finalize = graft_preferences_window_finalize;
  object_class->get_property = graft_preferences_window_get_property;
  object_class->set_property = graft_preferences_window_set_property;

  properties[PROP_DEVICE_MANAGER] =
    g_param_spec_object ("device-manager", NULL, NULL,
                         GRAFT_TYPE_DEVICE_MANAGER,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                         G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  properties[PROP_LISTING] =
    g_param_spec_boolean ("listing", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  properties[PROP_N_DEVICES] =
    g_param_spec_uint ("n-devices", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_template_from_resource (widget_class, "/org/graft/Graft/ui/graft-preferences-window.ui");
  gtk_widget_class_bind_template_child (widget_class, GraftPreferencesWindow, device_group);
  gtk_widget_class_bind_template_child (widget_class, GraftPreferencesWindow, auto_row);
  gtk_widget_class_bind_template_child (widget_class, GraftPreferencesWindow, listing_row);
  gtk_widget_class_bind_template_child (widget_class, GraftPreferencesWindow, rescan_button);
  gtk_widget_class_bind_template_callback (widget_class, on_rescan_clicked);
}

static void
graft_preferences_window_init (GraftPreferencesWindow *self)
{
  self->rows_by_id = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->device_rows = g_ptr_array_new ();

  gtk_widget_init_template (GTK_WIDGET (self));

  g_hash_table_insert (self->rows_by_id, g_strdup ("auto"), self->auto_row);
}

GtkWidget *
graft_preferences_window_new (GraftDeviceManager *device_manager)
{
  g_return_val_if_fail (GRAFT_IS_DEVICE_MANAGER (device_manager), NULL);

  return g_object_new (GRAFT_TYPE_PREFERENCES_WINDOW,
                       "device-manager", device_manager,
                       NULL);
}

/* TRUE while the devices are being listed. */
gboolean
graft_preferences_window_get_listing (GraftPreferencesWindow *self)
{
  g_return_val_if_fail (GRAFT_IS_PREFERENCES_WINDOW (self), FALSE);

  return graft_device_manager_get_listing (self->device_manager);
}

/* The number of device rows, "Automatic" not counted; 0 until the first list arrived. */
guint
graft_preferences_window_get_n_devices (GraftPreferencesWindow *self)
{
  g_return_val_if_fail (GRAFT_IS_PREFERENCES_WINDOW (self), 0);

  return self->n_devices;
}

/**
 * graft_preferences_window_dup_device_ids:
 *
 * Returns: (transfer full): the ids of the device rows in the order shown,
 *   "Automatic" not included. Free with g_strfreev().
 */
char **
graft_preferences_window_dup_device_ids (GraftPreferencesWindow *self)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();

  g_return_val_if_fail (GRAFT_IS_PREFERENCES_WINDOW (self), NULL);

  for (guint i = 0; i < self->device_rows->len; i++)
    {
      const char *id = g_object_get_data (g_ptr_array_index (self->device_rows, i), "graft-device-id");

      if (id != NULL)
        g_strv_builder_add (builder, id);
    }

  return g_strv_builder_end (builder);
}

/**
 * graft_preferences_window_get_device_row:
 * @device_id: a device id ("vulkan:0", "cpu") or "auto"
 *
 * Returns: (transfer none) (nullable): the row that selects @device_id
 */
AdwActionRow *
graft_preferences_window_get_device_row (GraftPreferencesWindow *self,
                                         const char             *device_id)
{
  g_return_val_if_fail (GRAFT_IS_PREFERENCES_WINDOW (self), NULL);
  g_return_val_if_fail (device_id != NULL, NULL);

  return g_hash_table_lookup (self->rows_by_id, device_id);
}
