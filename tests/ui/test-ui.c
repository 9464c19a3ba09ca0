/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-test-ui"

#include "graft-config.h"

#include <glib/gi18n.h>
#include <locale.h>

#include "graft-application.h"
#include "graft-preferences-window.h"
#include "graft-step-page.h"
#include "graft-step-row.h"
#include "graft-window.h"
#include "graft-ui-test-util.h"

/* The application's real windows under a display (Xvfb in CI), driven through their
 * actions and widgets: the sidebar and its steps, the compute device in the header,
 * the preferences, and a screenshot of each page in light and dark style. */

#define WAIT_TIMEOUT_S 60

static const char *step_ids[] = { "data", "model", "head", "freeze", "train", "evaluate", "compare" };

typedef struct {
  GraftApplication *app;
  GraftWindow      *window;
  GSettings        *settings;
} Ui;

static GraftPreferencesWindow *
find_preferences_window (Ui *ui)
{
  for (GList *l = gtk_application_get_windows (GTK_APPLICATION (ui->app)); l != NULL; l = l->next)
    {
      if (GRAFT_IS_PREFERENCES_WINDOW (l->data))
        return l->data;
    }

  return NULL;
}

static void
test_sidebar_lists_steps (gconstpointer data)
{
  const Ui *ui = data;
  GtkWidget *list = graft_test_find_widget_by_name (GTK_WIDGET (ui->window), "step-list");

  g_assert_nonnull (list);
  g_assert_true (GTK_IS_LIST_BOX (list));
  g_assert_true (gtk_widget_has_css_class (list, "navigation-sidebar"));

  for (guint i = 0; i < G_N_ELEMENTS (step_ids); i++)
    {
      GtkListBoxRow *row = gtk_list_box_get_row_at_index (GTK_LIST_BOX (list), i);
      GraftStep step;

      g_assert_nonnull (row);
      g_assert_true (GRAFT_IS_STEP_ROW (row));
      step = graft_step_row_get_step (GRAFT_STEP_ROW (row));
      g_assert_cmpstr (graft_step_get_id (step), ==, step_ids[i]);
      g_assert_cmpstr (gtk_widget_get_name (GTK_WIDGET (row)), ==, step_ids[i]);

      /* The row shows the step's title and its one-line summary. */
      g_assert_nonnull (graft_test_find_label_containing (GTK_WIDGET (row), graft_step_get_title (step)));
      g_assert_nonnull (graft_test_find_label_containing (GTK_WIDGET (row), graft_step_get_summary (step)));
      g_assert_cmpstr (graft_step_get_summary (step), !=, "");
    }

  g_assert_null (gtk_list_box_get_row_at_index (GTK_LIST_BOX (list), G_N_ELEMENTS (step_ids)));
}

static void
test_show_step_action (gconstpointer data)
{
  const Ui *ui = data;
  GtkWidget *window = GTK_WIDGET (ui->window);
  GtkWidget *list = graft_test_find_widget_by_name (window, "step-list");
  GtkWidget *stack = graft_test_find_widget_by_name (window, "step-stack");
  GtkWidget *title = graft_test_find_widget_by_name (window, "page-title");

  g_assert_nonnull (stack);
  g_assert_nonnull (title);

  /* Backwards, so that every switch changes the page. */
  for (int i = G_N_ELEMENTS (step_ids) - 1; i >= 0; i--)
    {
      GtkWidget *page;
      g_autofree char *subtitle = NULL;

      g_assert_true (gtk_widget_activate_action (window, "win.show-step", "s", step_ids[i]));

      g_assert_cmpstr (gtk_stack_get_visible_child_name (GTK_STACK (stack)), ==, step_ids[i]);
      g_assert_cmpint (graft_window_get_step (ui->window), ==, i);
      g_assert_cmpint (gtk_list_box_row_get_index (gtk_list_box_get_selected_row (GTK_LIST_BOX (list))), ==, i);
      g_assert_cmpstr (adw_window_title_get_title (ADW_WINDOW_TITLE (title)), ==,
                       graft_step_get_title ((GraftStep) i));
      subtitle = g_strdup_printf (_("Step %u of %u"), (guint) i + 1, (guint) G_N_ELEMENTS (step_ids));
      g_assert_cmpstr (adw_window_title_get_subtitle (ADW_WINDOW_TITLE (title)), ==, subtitle);

      /* The page says what the step is for, and plainly that it is not built: no
       * control pretends otherwise. */
      page = gtk_stack_get_visible_child (GTK_STACK (stack));
      g_assert_true (GRAFT_IS_STEP_PAGE (page));
      g_assert_cmpint (graft_step_page_get_step (GRAFT_STEP_PAGE (page)), ==, i);
      g_assert_nonnull (graft_test_find_label_containing (page, _("This step is not built yet.")));
      g_assert_nonnull (graft_test_find_label_containing (page, graft_step_get_description ((GraftStep) i)));
      g_assert_cmpuint (graft_test_count_controls (page), ==, 0);
    }

  /* Choosing a row in the sidebar shows its page too. */
  gtk_list_box_select_row (GTK_LIST_BOX (list), gtk_list_box_get_row_at_index (GTK_LIST_BOX (list), 4));
  g_assert_cmpstr (gtk_stack_get_visible_child_name (GTK_STACK (stack)), ==, "train");
}

static gboolean
named_action_is (GtkShortcutAction *action,
                 const char        *name)
{
  return GTK_IS_NAMED_ACTION (action) &&
         g_strcmp0 (gtk_named_action_get_action_name (GTK_NAMED_ACTION (action)), name) == 0;
}

static void
test_keyboard_shortcuts (gconstpointer data)
{
  const Ui *ui = data;
  GtkWidget *window = GTK_WIDGET (ui->window);
  g_autoptr(GListModel) controllers = gtk_widget_observe_controllers (window);
  g_autoptr(GPtrArray) menu_actions = g_ptr_array_new_with_free_func (g_free);
  GtkWidget *menu_button;
  GMenuModel *menu;
  guint found = 0;
  struct {
    const char *action;
    const char *accel;
  } accels[] = {
    { "app.preferences", "<Control>comma" },
    { "app.quit", "<Control>q" },
    { "window.close", "<Control>w" },
    { "win.show-help-overlay", "<Control>question" },
  };

  /* Alt+1 … Alt+7 go to the steps. */
  for (guint i = 0; i < g_list_model_get_n_items (controllers); i++)
    {
      g_autoptr(GtkEventController) controller = g_list_model_get_item (controllers, i);

      if (!GTK_IS_SHORTCUT_CONTROLLER (controller))
        continue;

      for (guint j = 0; j < g_list_model_get_n_items (G_LIST_MODEL (controller)); j++)
        {
          g_autoptr(GtkShortcut) shortcut = g_list_model_get_item (G_LIST_MODEL (controller), j);
          GtkShortcutTrigger *trigger = gtk_shortcut_get_trigger (shortcut);
          GtkShortcutAction *action = gtk_shortcut_get_action (shortcut);
          GVariant *args = gtk_shortcut_get_arguments (shortcut);
          guint keyval;

          if (!GTK_IS_KEYVAL_TRIGGER (trigger) || !named_action_is (action, "win.show-step"))
            continue;

          keyval = gtk_keyval_trigger_get_keyval (GTK_KEYVAL_TRIGGER (trigger));
          g_assert_cmpint (gtk_keyval_trigger_get_modifiers (GTK_KEYVAL_TRIGGER (trigger)), ==, GDK_ALT_MASK);
          g_assert_cmpuint (keyval, >=, GDK_KEY_1);
          g_assert_cmpuint (keyval, <=, GDK_KEY_7);
          g_assert_nonnull (args);
          g_assert_cmpstr (g_variant_get_string (args, NULL), ==, step_ids[keyval - GDK_KEY_1]);

          g_assert_true (gtk_shortcut_action_activate (action, 0, window, args));
          g_assert_cmpint (graft_window_get_step (ui->window), ==, keyval - GDK_KEY_1);
          found++;
        }
    }

  g_assert_cmpuint (found, ==, G_N_ELEMENTS (step_ids));

  for (guint i = 0; i < G_N_ELEMENTS (accels); i++)
    {
      g_auto(GStrv) set = gtk_application_get_accels_for_action (GTK_APPLICATION (ui->app), accels[i].action);

      g_assert_nonnull (set);
      g_assert_true (g_strv_contains ((const char * const *) set, accels[i].accel));
    }

  /* The primary menu offers them too. */
  menu_button = graft_test_find_widget_by_name (window, "primary-menu-button");
  g_assert_true (GTK_IS_MENU_BUTTON (menu_button));
  menu = gtk_menu_button_get_menu_model (GTK_MENU_BUTTON (menu_button));
  g_assert_nonnull (menu);
  for (int i = 0; i < g_menu_model_get_n_items (menu); i++)
    {
      g_autoptr(GMenuModel) section = g_menu_model_get_item_link (menu, i, G_MENU_LINK_SECTION);

      for (int j = 0; section != NULL && j < g_menu_model_get_n_items (section); j++)
        {
          g_autofree char *action = NULL;

          if (g_menu_model_get_item_attribute (section, j, G_MENU_ATTRIBUTE_ACTION, "s", &action))
            g_ptr_array_add (menu_actions, g_steal_pointer (&action));
        }
    }
  g_assert_cmpuint (menu_actions->len, ==, 3);
  g_assert_cmpstr (g_ptr_array_index (menu_actions, 0), ==, "app.preferences");
  g_assert_cmpstr (g_ptr_array_index (menu_actions, 1), ==, "win.show-help-overlay");
  g_assert_cmpstr (g_ptr_array_index (menu_actions, 2), ==, "app.about");

  /* The shortcuts window comes from resources/gtk/help-overlay.ui. */
  g_assert_nonnull (gtk_application_window_get_help_overlay (GTK_APPLICATION_WINDOW (window)));
}

static gboolean
no_toast (gpointer data)
{
  return graft_test_find_label_containing (GTK_WIDGET (data), "vulkan:99") == NULL;
}

static gboolean
no_message_dialog (gpointer data G_GNUC_UNUSED)
{
  return graft_test_find_toplevel_of_type (ADW_TYPE_MESSAGE_DIALOG) == NULL;
}

typedef struct {
  GraftDeviceManager *manager;
  const char         *id;
} DeviceWait;

static gboolean
device_opened (gpointer data)
{
  DeviceWait *wait = data;

  if (graft_device_manager_get_busy (wait->manager))
    return FALSE;

  return wait->id == NULL ||
         g_strcmp0 (graft_device_manager_get_device_id (wait->manager), wait->id) == 0;
}

static void
on_label_changed (GraftDeviceManager *manager,
                  GParamSpec         *pspec G_GNUC_UNUSED,
                  GPtrArray          *labels)
{
  g_ptr_array_add (labels, g_strdup (graft_device_manager_get_label (manager)));
}

static gboolean
ptr_array_has_string (GPtrArray  *array,
                      const char *string)
{
  for (guint i = 0; i < array->len; i++)
    {
      if (g_strcmp0 (g_ptr_array_index (array, i), string) == 0)
        return TRUE;
    }

  return FALSE;
}

static void
test_device_in_header (gconstpointer data)
{
  const Ui *ui = data;
  GraftDeviceManager *manager = graft_application_get_device_manager (ui->app);
  GtkWidget *label = graft_test_find_widget_by_name (GTK_WIDGET (ui->window), "device-label");
  g_autoptr(GPtrArray) labels = g_ptr_array_new_with_free_func (g_free);
  DeviceWait wait = { manager, NULL };
  GtkWidget *toast_label;
  GtkWidget *details_button;
  GtkWindow *details;
  gulong handler;

  g_assert_nonnull (label);

  /* The device saved in the settings ("auto") opens on its own. */
  g_assert_true (graft_test_wait_until (device_opened, &wait, WAIT_TIMEOUT_S));
  g_assert_nonnull (graft_device_manager_get_backend (manager));
  g_assert_cmpstr (gtk_label_get_text (GTK_LABEL (label)), ==, graft_device_manager_get_label (manager));
  g_assert_cmpstr (gtk_label_get_text (GTK_LABEL (label)), !=, _("Opening device…"));
  g_assert_cmpstr (gtk_label_get_text (GTK_LABEL (label)), !=, _("No compute device"));
  g_test_message ("device in use: %s", gtk_label_get_text (GTK_LABEL (label)));

  /* Changing the setting opens the CPU backend, saying so while it opens. */
  handler = g_signal_connect (manager, "notify::label", G_CALLBACK (on_label_changed), labels);
  g_settings_set_string (ui->settings, "compute-device", "cpu");
  wait.id = "cpu";
  g_assert_true (graft_test_wait_until (device_opened, &wait, WAIT_TIMEOUT_S));
  g_signal_handler_disconnect (manager, handler);
  g_assert_true (ptr_array_has_string (labels, _("Opening device…")));
  g_assert_cmpstr (graft_device_manager_get_device_id (manager), ==, "cpu");
  g_assert_cmpstr (gtk_label_get_text (GTK_LABEL (label)), ==, graft_device_manager_get_label (manager));
  g_assert_true (g_str_has_prefix (gtk_label_get_text (GTK_LABEL (label)), _("CPU")));

  /* A saved device that is not there: the application falls back and tells why. */
  g_settings_set_string (ui->settings, "compute-device", "vulkan:99");
  wait.id = NULL;
  g_assert_true (graft_test_wait_until (device_opened, &wait, WAIT_TIMEOUT_S));
  g_assert_nonnull (graft_device_manager_get_backend (manager));
  g_assert_cmpstr (graft_device_manager_get_device_id (manager), !=, "vulkan:99");
  toast_label = graft_test_find_label_containing (GTK_WIDGET (ui->window), "vulkan:99");
  g_assert_nonnull (toast_label);
  g_assert_nonnull (strstr (gtk_label_get_text (GTK_LABEL (toast_label)),
                            graft_device_manager_get_label (manager)));
  g_test_message ("fallback toast: %s", gtk_label_get_text (GTK_LABEL (toast_label)));
  graft_test_save_screenshot (GTK_WIDGET (ui->window), "window-device-fallback.png");

  /* Its Details button tells the whole reason, and dismisses the toast. */
  details_button = graft_test_find_button_with_label (GTK_WIDGET (ui->window), _("_Details"));
  g_assert_nonnull (details_button);
  gtk_widget_activate (details_button);
  g_assert_true (graft_test_wait_until (no_toast, ui->window, 10));
  details = graft_test_find_toplevel_of_type (ADW_TYPE_MESSAGE_DIALOG);
  g_assert_nonnull (details);
  g_assert_nonnull (strstr (adw_message_dialog_get_heading (ADW_MESSAGE_DIALOG (details)), "vulkan:99"));
  g_assert_nonnull (strstr (adw_message_dialog_get_body (ADW_MESSAGE_DIALOG (details)),
                            graft_device_manager_get_label (manager)));
  graft_test_save_screenshot (GTK_WIDGET (details), "window-device-fallback-details.png");
  gtk_window_close (details);
  g_assert_true (graft_test_wait_until (no_message_dialog, NULL, 10));

  g_settings_set_string (ui->settings, "compute-device", "auto");
  g_assert_true (graft_test_wait_until (device_opened, &wait, WAIT_TIMEOUT_S));
}

static gboolean
devices_listed (gpointer data)
{
  GraftPreferencesWindow *preferences = data;

  return !graft_preferences_window_get_listing (preferences) &&
         graft_preferences_window_get_n_devices (preferences) > 0;
}

static GraftPreferencesWindow *
open_preferences (Ui *ui)
{
  GraftPreferencesWindow *preferences;

  g_action_group_activate_action (G_ACTION_GROUP (ui->app), "preferences", NULL);
  preferences = find_preferences_window (ui);
  g_assert_nonnull (preferences);
  g_assert_true (graft_test_wait_until (devices_listed, preferences, WAIT_TIMEOUT_S));

  return preferences;
}

static void
select_device_row (Ui                     *ui,
                   GraftPreferencesWindow *preferences,
                   const char             *id)
{
  AdwActionRow *row = graft_preferences_window_get_device_row (preferences, id);
  GtkWidget *check;
  g_autofree char *saved = NULL;

  g_assert_nonnull (row);
  check = adw_action_row_get_activatable_widget (row);
  g_assert_true (GTK_IS_CHECK_BUTTON (check));

  adw_action_row_activate (row);
  graft_test_settle ();

  saved = g_settings_get_string (ui->settings, "compute-device");
  g_assert_cmpstr (saved, ==, id);
  g_assert_true (gtk_check_button_get_active (GTK_CHECK_BUTTON (check)));
}

static void
test_preferences_devices (gconstpointer data)
{
  Ui *ui = (Ui *) data;
  GraftDeviceManager *manager = graft_application_get_device_manager (ui->app);
  GraftPreferencesWindow *preferences = open_preferences (ui);
  g_auto(GStrv) ids = graft_preferences_window_dup_device_ids (preferences);
  gboolean require_vulkan = g_strcmp0 (g_getenv ("GRAFT_TEST_REQUIRE_VULKAN"), "1") == 0;
  const char *vulkan_id = NULL;
  gboolean have_cpu = FALSE;
  gboolean have_llvmpipe = FALSE;
  const GraftDeviceInfo *automatic;
  DeviceWait wait = { manager, NULL };

  g_assert_nonnull (ids);
  g_assert_cmpuint (g_strv_length (ids), ==, graft_preferences_window_get_n_devices (preferences));

  for (guint i = 0; ids[i] != NULL; i++)
    {
      AdwActionRow *row = graft_preferences_window_get_device_row (preferences, ids[i]);
      const char *title = adw_preferences_row_get_title (ADW_PREFERENCES_ROW (row));
      const char *subtitle = adw_action_row_get_subtitle (row);

      g_test_message ("device row %s: %s — %s", ids[i], title, subtitle);
      g_assert_nonnull (row);
      g_assert_cmpstr (title, !=, "");
      g_assert_nonnull (subtitle);

      if (g_strcmp0 (ids[i], "cpu") == 0)
        {
          have_cpu = TRUE;
          g_assert_nonnull (strstr (subtitle, _("CPU backend")));
        }
      else if (g_str_has_prefix (ids[i], "vulkan:"))
        {
          if (vulkan_id == NULL)
            vulkan_id = ids[i];
          g_assert_nonnull (strstr (subtitle, "Vulkan"));
          if (strstr (title, "llvmpipe") != NULL)
            have_llvmpipe = TRUE;
        }
    }

  g_assert_true (have_cpu);
  if (require_vulkan)
    {
      g_assert_cmpuint (g_strv_length (ids), >=, 2);
      g_assert_nonnull (vulkan_id);
      g_assert_true (have_llvmpipe);
    }
  else if (vulkan_id == NULL)
    {
      const GError *error = graft_device_manager_get_vulkan_error (manager);

      g_test_message ("no Vulkan device: %s", error != NULL ? error->message : "none found");
      /* When Vulkan cannot be used, the preferences say why. */
      if (error != NULL)
        {
          g_assert_nonnull (graft_test_find_label_containing (GTK_WIDGET (preferences), error->message));
          g_assert_nonnull (graft_test_find_label_containing (GTK_WIDGET (preferences), _("Vulkan is not available")));
          graft_test_save_screenshot (GTK_WIDGET (preferences), "preferences-no-vulkan.png");
        }
    }

  /* The automatic row says which device "auto" picks now. */
  automatic = graft_device_select (graft_device_manager_get_devices (manager), "auto", NULL);
  g_assert_nonnull (automatic);
  g_assert_nonnull (strstr (adw_action_row_get_subtitle (graft_preferences_window_get_device_row (preferences, "auto")),
                            automatic->name));

  /* Choosing a row saves the choice and the application opens that device. */
  select_device_row (ui, preferences, "cpu");
  wait.id = "cpu";
  g_assert_true (graft_test_wait_until (device_opened, &wait, WAIT_TIMEOUT_S));

  if (vulkan_id != NULL)
    {
      select_device_row (ui, preferences, vulkan_id);
      wait.id = vulkan_id;
      g_assert_true (graft_test_wait_until (device_opened, &wait, WAIT_TIMEOUT_S));
      g_assert_nonnull (strstr (graft_device_manager_get_label (manager), "Vulkan"));
    }

  select_device_row (ui, preferences, "auto");
  wait.id = NULL;
  g_assert_true (graft_test_wait_until (device_opened, &wait, WAIT_TIMEOUT_S));

  gtk_window_close (GTK_WINDOW (preferences));
  graft_test_settle ();
}

static void
test_preferences_color_scheme (gconstpointer data)
{
  Ui *ui = (Ui *) data;
  GraftPreferencesWindow *preferences = open_preferences (ui);
  AdwStyleManager *style_manager = adw_style_manager_get_default ();
  struct {
    const char     *widget;
    const char     *value;
    AdwColorScheme  scheme;
  } choices[] = {
    { "scheme-dark", "dark", ADW_COLOR_SCHEME_FORCE_DARK },
    { "scheme-light", "light", ADW_COLOR_SCHEME_FORCE_LIGHT },
    { "scheme-default", "default", ADW_COLOR_SCHEME_DEFAULT },
  };

  for (guint i = 0; i < G_N_ELEMENTS (choices); i++)
    {
      GtkWidget *check = graft_test_find_widget_by_name (GTK_WIDGET (preferences), choices[i].widget);
      g_autofree char *saved = NULL;

      g_assert_nonnull (check);
      gtk_widget_activate (check);
      graft_test_settle ();

      saved = g_settings_get_string (ui->settings, "color-scheme");
      g_assert_cmpstr (saved, ==, choices[i].value);
      g_assert_true (gtk_check_button_get_active (GTK_CHECK_BUTTON (check)));
      g_assert_cmpint (adw_style_manager_get_color_scheme (style_manager), ==, choices[i].scheme);
      if (choices[i].scheme == ADW_COLOR_SCHEME_FORCE_DARK)
        g_assert_true (adw_style_manager_get_dark (style_manager));
      if (choices[i].scheme == ADW_COLOR_SCHEME_FORCE_LIGHT)
        g_assert_false (adw_style_manager_get_dark (style_manager));
    }

  gtk_window_close (GTK_WINDOW (preferences));
  graft_test_settle ();
}

static void
test_screenshots (gconstpointer data)
{
  Ui *ui = (Ui *) data;
  const char *schemes[] = { "light", "dark" };
  GraftDeviceManager *manager = graft_application_get_device_manager (ui->app);
  DeviceWait wait = { manager, NULL };

  g_assert_true (graft_test_wait_until (device_opened, &wait, WAIT_TIMEOUT_S));

  for (guint s = 0; s < G_N_ELEMENTS (schemes); s++)
    {
      GraftPreferencesWindow *preferences;
      GtkWindow *about;
      GtkWindow *help;
      g_autofree char *name = NULL;

      g_settings_set_string (ui->settings, "color-scheme", schemes[s]);
      graft_test_settle ();
      g_assert_cmpint (adw_style_manager_get_dark (adw_style_manager_get_default ()), ==, s == 1);

      for (guint i = 0; i < G_N_ELEMENTS (step_ids); i++)
        {
          g_autofree char *file = g_strdup_printf ("window-%s-%s.png", step_ids[i], schemes[s]);

          g_assert_true (gtk_widget_activate_action (GTK_WIDGET (ui->window), "win.show-step", "s", step_ids[i]));
          graft_test_save_screenshot (GTK_WIDGET (ui->window), file);
        }

      preferences = open_preferences (ui);
      name = g_strdup_printf ("preferences-%s.png", schemes[s]);
      graft_test_save_screenshot (GTK_WIDGET (preferences), name);
      gtk_window_close (GTK_WINDOW (preferences));
      graft_test_settle ();

      g_action_group_activate_action (G_ACTION_GROUP (ui->app), "about", NULL);
      about = graft_test_find_toplevel_of_type (ADW_TYPE_ABOUT_WINDOW);
      g_assert_nonnull (about);
      g_assert_cmpstr (adw_about_window_get_version (ADW_ABOUT_WINDOW (about)), ==, GRAFT_VERSION);
      g_assert_cmpint (adw_about_window_get_license_type (ADW_ABOUT_WINDOW (about)), ==, GTK_LICENSE_GPL_3_0);
      g_assert_cmpstr (adw_about_window_get_application_icon (ADW_ABOUT_WINDOW (about)), ==, GRAFT_APP_ID);
      g_free (name);
      name = g_strdup_printf ("about-%s.png", schemes[s]);
      graft_test_save_screenshot (GTK_WIDGET (about), name);
      gtk_window_destroy (about);
      graft_test_settle ();

      g_assert_true (gtk_widget_activate_action (GTK_WIDGET (ui->window), "win.show-help-overlay", NULL));
      help = graft_test_find_toplevel_of_type (GTK_TYPE_SHORTCUTS_WINDOW);
      g_assert_nonnull (help);
      g_free (name);
      name = g_strdup_printf ("shortcuts-%s.png", schemes[s]);
      graft_test_save_screenshot (GTK_WIDGET (help), name);
      gtk_widget_set_visible (GTK_WIDGET (help), FALSE);
      graft_test_settle ();
    }

  g_settings_set_string (ui->settings, "color-scheme", "default");
  graft_test_settle ();
}

typedef struct {
  GtkWidget *widget;
  int        width;
} WidthWait;

static gboolean
has_width (gpointer data)
{
  WidthWait *wait = data;

  /* The default size counts the client-side decorations, the widget may not. */
  return ABS (gtk_widget_get_width (wait->widget) - wait->width) <= 16;
}

static gboolean
widget_is_mapped (gpointer data)
{
  return gtk_widget_get_mapped (GTK_WIDGET (data));
}

/* Narrow, the sidebar and the page take turns, with a back button. */
static void
test_narrow_window (gconstpointer data)
{
  Ui *ui = (Ui *) data;
  GtkWidget *window = GTK_WIDGET (ui->window);
  GtkWidget *leaflet = gtk_widget_get_ancestor (graft_test_find_widget_by_name (window, "step-list"),
                                                ADW_TYPE_LEAFLET);
  GtkWidget *back;
  WidthWait wait = { window, 360 };
  int width, height;

  g_assert_nonnull (leaflet);
  gtk_window_get_default_size (GTK_WINDOW (window), &width, &height);

  gtk_window_set_default_size (GTK_WINDOW (window), 360, 640);
  g_assert_true (graft_test_wait_until (has_width, &wait, 10));
  graft_test_wait_for_draw (window);
  g_assert_true (adw_leaflet_get_folded (ADW_LEAFLET (leaflet)));
  /* Too narrow for the device's name: the chip icon stays, the name is in its tooltip. */
  g_assert_false (gtk_widget_get_mapped (graft_test_find_widget_by_name (window, "device-label")));

  g_assert_true (gtk_widget_activate_action (window, "win.show-step", "s", "model"));
  graft_test_wait_for_draw (window);
  back = graft_test_find_widget_by_name (window, "back-button");
  g_assert_nonnull (back);
  g_assert_true (gtk_widget_get_mapped (back));
  g_assert_nonnull (graft_test_find_label_containing (window, graft_step_get_description (GRAFT_STEP_MODEL)));
  graft_test_save_screenshot (window, "window-narrow-model.png");

  gtk_widget_activate (back);
  g_assert_true (graft_test_wait_until (widget_is_mapped, graft_test_find_widget_by_name (window, "step-list"), 10));
  graft_test_save_screenshot (window, "window-narrow-sidebar.png");

  gtk_window_set_default_size (GTK_WINDOW (window), width, height);
  wait.width = width;
  g_assert_true (graft_test_wait_until (has_width, &wait, 10));
  g_assert_false (adw_leaflet_get_folded (ADW_LEAFLET (leaflet)));
  graft_test_wait_for_draw (window);
  g_assert_true (gtk_widget_get_mapped (graft_test_find_widget_by_name (window, "device-label")));
}

static void
test_window_state_saved (gconstpointer data)
{
  Ui *ui = (Ui *) data;
  WidthWait wait = { GTK_WIDGET (ui->window), 900 };
  int width, height;

  /* Closing the window stores its size; a new window opens at that size. */
  gtk_window_set_default_size (GTK_WINDOW (ui->window), 900, 640);
  g_assert_true (graft_test_wait_until (has_width, &wait, 10));
  gtk_window_close (GTK_WINDOW (ui->window));
  graft_test_settle ();

  g_assert_cmpint (g_settings_get_int (ui->settings, "window-width"), ==, 900);
  g_assert_cmpint (g_settings_get_int (ui->settings, "window-height"), ==, 640);
  g_assert_false (g_settings_get_boolean (ui->settings, "window-maximized"));

  g_application_activate (G_APPLICATION (ui->app));
  ui->window = GRAFT_WINDOW (gtk_application_get_active_window (GTK_APPLICATION (ui->app)));
  g_assert_true (GRAFT_IS_WINDOW (ui->window));
  gtk_window_get_default_size (GTK_WINDOW (ui->window), &width, &height);
  g_assert_cmpint (width, ==, 900);
  g_assert_cmpint (height, ==, 640);
}

/* Run with GRAFT_TEST_TRANSLATION=1 and LANGUAGE=de: the catalogue of the build folder
 * is used, and the window shows it. */
static void
test_translated (gconstpointer data)
{
  const Ui *ui = data;
  GtkWidget *list = graft_test_find_widget_by_name (GTK_WIDGET (ui->window), "step-list");
  GtkListBoxRow *row = gtk_list_box_get_row_at_index (GTK_LIST_BOX (list), 0);

  g_assert_cmpstr (graft_step_get_title (GRAFT_STEP_DATA), !=, "Data");
  g_assert_cmpstr (_("This step is not built yet."), !=, "This step is not built yet.");
  g_assert_nonnull (graft_test_find_label_containing (GTK_WIDGET (row), graft_step_get_title (GRAFT_STEP_DATA)));
  g_test_message ("Data is “%s”", graft_step_get_title (GRAFT_STEP_DATA));
}

static void
test_no_display (void)
{
  g_test_skip ("no display: run under xvfb-run, or set GRAFT_TEST_REQUIRE_DISPLAY=1 to fail");
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GError) error = NULL;
  Ui ui = { NULL, NULL, NULL };
  int status;

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, GRAFT_BUILD_LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  g_test_init (&argc, &argv, NULL);

  if (!gtk_init_check ())
    {
      if (g_strcmp0 (g_getenv ("GRAFT_TEST_REQUIRE_DISPLAY"), "1") == 0)
        {
          g_printerr ("test-ui: no display, and GRAFT_TEST_REQUIRE_DISPLAY=1\n");
          return 1;
        }

      g_test_add_func ("/ui/no-display", test_no_display);
      g_test_run ();
      /* meson reports 77 as skipped */
      return 77;
    }

  /* Switch pages and styles at once, so that screenshots show finished frames. */
  g_object_set (gtk_settings_get_default (), "gtk-enable-animations", FALSE, NULL);

  ui.app = graft_application_new ();
  g_application_set_flags (G_APPLICATION (ui.app), G_APPLICATION_NON_UNIQUE);
  g_assert_true (g_application_register (G_APPLICATION (ui.app), NULL, &error));
  g_assert_no_error (error);
  g_application_activate (G_APPLICATION (ui.app));

  ui.window = GRAFT_WINDOW (gtk_application_get_active_window (GTK_APPLICATION (ui.app)));
  g_assert_true (GRAFT_IS_WINDOW (ui.window));
  ui.settings = g_settings_new (GRAFT_APP_ID);

  if (g_strcmp0 (g_getenv ("GRAFT_TEST_TRANSLATION"), "1") == 0)
    g_test_add_data_func ("/ui/translated", &ui, test_translated);
  g_test_add_data_func ("/ui/sidebar", &ui, test_sidebar_lists_steps);
  g_test_add_data_func ("/ui/show-step", &ui, test_show_step_action);
  g_test_add_data_func ("/ui/shortcuts", &ui, test_keyboard_shortcuts);
  g_test_add_data_func ("/ui/device", &ui, test_device_in_header);
  g_test_add_data_func ("/ui/preferences-devices", &ui, test_preferences_devices);
  g_test_add_data_func ("/ui/preferences-color-scheme", &ui, test_preferences_color_scheme);
  g_test_add_data_func ("/ui/screenshots", &ui, test_screenshots);
  g_test_add_data_func ("/ui/narrow", &ui, test_narrow_window);
  g_test_add_data_func ("/ui/window-state", &ui, test_window_state_saved);

  status = g_test_run ();

  for (GList *l = gtk_application_get_windows (GTK_APPLICATION (ui.app)); l != NULL;
       l = gtk_application_get_windows (GTK_APPLICATION (ui.app)))
    gtk_window_destroy (l->data);
  graft_test_settle ();

  g_object_unref (ui.settings);
  g_object_unref (ui.app);

  return status;
}
