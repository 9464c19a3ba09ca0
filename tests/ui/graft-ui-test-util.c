/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-test-ui"

#include <glib/gstdio.h>
#include <string.h>

#include "graft-ui-test-util.h"

static gboolean
wake_up (gpointer data G_GNUC_UNUSED)
{
  return G_SOURCE_CONTINUE;
}

/* Runs the main context until @condition holds; FALSE after @timeout_s seconds. */
gboolean
graft_test_wait_until (GraftTestCondition condition,
                       gpointer           data,
                       double             timeout_s)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) (timeout_s * G_USEC_PER_SEC);
  guint ticker = g_timeout_add (20, wake_up, NULL);
  gboolean met;

  while (!(met = condition (data)) && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);

  g_source_remove (ticker);

  return met;
}

static gboolean
is_true (gpointer data)
{
  return *(gboolean *) data;
}

static gboolean
is_mapped (gpointer data)
{
  return gtk_widget_get_mapped (GTK_WIDGET (data));
}

static void
on_after_paint (GdkFrameClock *clock G_GNUC_UNUSED,
                gboolean      *painted)
{
  *painted = TRUE;
}

/* Waits until @widget's toplevel has been laid out and painted twice since now. */
void
graft_test_wait_for_draw (GtkWidget *widget)
{
  for (guint i = 0; i < 2; i++)
    {
      GdkFrameClock *clock;
      gboolean painted = FALSE;
      gulong handler;

      g_assert_true (graft_test_wait_until (is_mapped, widget, 10));
      clock = gtk_widget_get_frame_clock (widget);
      g_assert_nonnull (clock);
      handler = g_signal_connect (clock, "after-paint", G_CALLBACK (on_after_paint), &painted);
      gtk_widget_queue_draw (widget);
      g_assert_true (graft_test_wait_until (is_true, &painted, 10));
      g_signal_handler_disconnect (clock, handler);
    }
}

/* Lets pending idles and short timers (GSettings notifications, CSS) run. */
void
graft_test_settle (void)
{
  gint64 until = g_get_monotonic_time () + G_USEC_PER_SEC / 10;

  while (g_get_monotonic_time () < until)
    {
      if (!g_main_context_iteration (NULL, FALSE))
        g_usleep (2000);
    }
}

GtkWidget *
graft_test_find_widget_by_name (GtkWidget  *root,
                                const char *name)
{
  if (g_strcmp0 (gtk_widget_get_name (root), name) == 0)
    return root;

  for (GtkWidget *child = gtk_widget_get_first_child (root);
       child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = graft_test_find_widget_by_name (child, name);

      if (found != NULL)
        return found;
    }

  return NULL;
}

/* A visible label under @root whose text contains @text. */
GtkWidget *
graft_test_find_label_containing (GtkWidget  *root,
                                  const char *text)
{
  if (!gtk_widget_get_visible (root))
    return NULL;

  if (GTK_IS_LABEL (root) && strstr (gtk_label_get_text (GTK_LABEL (root)), text) != NULL)
    return root;

  for (GtkWidget *child = gtk_widget_get_first_child (root);
       child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = graft_test_find_label_containing (child, text);

      if (found != NULL)
        return found;
    }

  return NULL;
}

/* Counts widgets under @root a user could operate: buttons, entries, switches… */
guint
graft_test_count_controls (GtkWidget *root)
{
  guint n = 0;

  if (GTK_IS_BUTTON (root) || GTK_IS_EDITABLE (root) || GTK_IS_SWITCH (root) ||
      GTK_IS_CHECK_BUTTON (root) || GTK_IS_SCALE (root) || GTK_IS_DROP_DOWN (root) ||
      GTK_IS_DRAWING_AREA (root))
    n++;

  for (GtkWidget *child = gtk_widget_get_first_child (root);
       child != NULL;
       child = gtk_widget_get_next_sibling (child))
    n += graft_test_count_controls (child);

  return n;
}

void
graft_test_save_screenshot (GtkWidget  *widget,
                            const char *name)
{
  const char *dir = g_getenv ("GRAFT_SCREENSHOT_DIR");
  g_autoptr(GdkPaintable) paintable = NULL;
  g_autoptr(GskRenderNode) node = NULL;
  g_autoptr(GdkTexture) texture = NULL;
  g_autofree char *path = NULL;
  GtkSnapshot *snapshot;
  GskRenderer *renderer;
  int width, height;

  graft_test_wait_for_draw (widget);

  width = gtk_widget_get_width (widget);
  height = gtk_widget_get_height (widget);
  g_assert_cmpint (width, >, 0);
  g_assert_cmpint (height, >, 0);

  paintable = gtk_widget_paintable_new (widget);
  snapshot = gtk_snapshot_new ();
  gdk_paintable_snapshot (paintable, snapshot, width, height);
  node = gtk_snapshot_free_to_node (snapshot);
  g_assert_nonnull (node);

  renderer = gtk_native_get_renderer (gtk_widget_get_native (widget));
  g_assert_nonnull (renderer);
  texture = gsk_renderer_render_texture (renderer, node, &GRAPHENE_RECT_INIT (0, 0, width, height));
  g_assert_nonnull (texture);
  g_assert_cmpint (gdk_texture_get_width (texture), ==, width);

  if (dir == NULL)
    {
      g_test_message ("GRAFT_SCREENSHOT_DIR is not set: %s not saved", name);
      return;
    }

  g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
  path = g_build_filename (dir, name, NULL);
  g_assert_true (gdk_texture_save_to_png (texture, path));
  g_test_message ("screenshot: %s", path);
}

GtkWindow *
graft_test_find_toplevel_of_type (GType type)
{
  GListModel *toplevels = gtk_window_get_toplevels ();

  for (guint i = 0; i < g_list_model_get_n_items (toplevels); i++)
    {
      g_autoptr(GtkWindow) window = g_list_model_get_item (toplevels, i);

      if (G_TYPE_CHECK_INSTANCE_TYPE (window, type) && gtk_widget_get_visible (GTK_WIDGET (window)))
        return window;
    }

  return NULL;
}

GtkWidget *
graft_test_find_button_with_label (GtkWidget  *root,
                                   const char *label)
{
  if (GTK_IS_BUTTON (root) && g_strcmp0 (gtk_button_get_label (GTK_BUTTON (root)), label) == 0)
    return root;

  for (GtkWidget *child = gtk_widget_get_first_child (root);
       child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = graft_test_find_button_with_label (child, label);

      if (found != NULL)
        return found;
    }

  return NULL;
}
