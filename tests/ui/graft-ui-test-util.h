/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

/* Helpers for tests that drive real windows: waiting on the main context, finding
 * widgets the way a user sees them, and screenshots. */

typedef gboolean (*GraftTestCondition) (gpointer data);

gboolean   graft_test_wait_until                (GraftTestCondition  condition,
                                                 gpointer            data,
                                                 double              timeout_s);
void       graft_test_wait_for_draw             (GtkWidget          *widget);
void       graft_test_settle                    (void);
GtkWidget *graft_test_find_widget_by_name       (GtkWidget          *root,
                                                 const char         *name);
GtkWidget *graft_test_find_label_containing     (GtkWidget          *root,
                                                 const char         *text);
GtkWidget *graft_test_find_button_with_label    (GtkWidget          *root,
                                                 const char         *label);
guint      graft_test_count_controls            (GtkWidget          *root);
GtkWindow *graft_test_find_toplevel_of_type     (GType               type);
void       graft_test_save_screenshot           (GtkWidget          *widget,
                                                 const char         *name);

G_END_DECLS
