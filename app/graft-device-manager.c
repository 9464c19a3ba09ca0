/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-app"

#include "graft-config.h"

#include <glib/gi18n.h>
#include <string.h>

#include "graft-device-manager.h"

/* GraftDeviceManager owns the compute device the application uses and knows the list of
 * devices of the machine. Listing devices and opening one load drivers and can take
 * seconds, so both run on threads of their own: a job copies its input, calls the engine,
 * and hands its result back to the main context in an idle callback, which checks a weak
 * reference to the manager and the serial of the request before applying it. Releasing a
 * backend waits for the device to finish, so that runs on a thread as well. */

typedef enum {
  GRAFT_DEVICE_JOB_LIST,
  GRAFT_DEVICE_JOB_OPEN,
  GRAFT_DEVICE_JOB_CLOSE,
} GraftDeviceJobKind;

typedef struct {
  GraftDeviceJobKind  kind;
  GWeakRef            manager;
  GMainContext       *context;
  GThread            *thread;
  guint               serial;

  /* input */
  char               *selector;

  /* output */
  GPtrArray          *devices;
  GError             *vulkan_error;
  GraftBackend       *backend;
  GError             *fallback_error;
  GError             *error;
} GraftDeviceJob;

struct _GraftDeviceManager
{
  GObject        parent_instance;

  /* Threads that have not been joined yet; the array holds no reference of its own,
   * the one g_thread_new() returned is given up by g_thread_join(). */
  GPtrArray     *threads;

  char          *selector;
  guint          open_serial;
  gboolean       busy;
  GraftBackend  *backend;
  char          *label;
  char          *description;

  guint          list_serial;
  gboolean       listing;
  GPtrArray     *devices;
  GError        *vulkan_error;
};

G_DEFINE_FINAL_TYPE (GraftDeviceManager, graft_device_manager, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_SELECTOR,
  PROP_BUSY,
  PROP_DEVICE_ID,
  PROP_LABEL,
  PROP_DESCRIPTION,
  PROP_LISTING,
  N_PROPS
};

enum {
  FALLBACK,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

/* The engine is entered by one job at a time: drivers are loaded and unloaded while
 * devices are listed, opened and closed. Only job threads take this lock. */
static GMutex engine_lock;

static void
graft_device_job_free (gpointer data)
{
  GraftDeviceJob *job = data;

  g_weak_ref_clear (&job->manager);
  g_main_context_unref (job->context);
  g_free (job->selector);
  g_clear_pointer (&job->devices, g_ptr_array_unref);
  g_clear_error (&job->vulkan_error);
  /* Only reached with a backend when the manager went away before the job ended,
   * that is while the application shuts down. */
  g_clear_pointer (&job->backend, graft_backend_unref);
  g_clear_error (&job->fallback_error);
  g_clear_error (&job->error);
  g_free (job);
}

static gboolean
graft_device_manager_is_auto (const char *selector)
{
  return selector == NULL || selector[0] == '\0' || g_strcmp0 (selector, "auto") == 0;
}

static void
graft_device_job_open (GraftDeviceJob *job)
{
  g_autoptr(GError) error = NULL;

  job->backend = graft_backend_open (job->selector, &error);
  if (job->backend != NULL)
    return;

  /* The saved device is gone or refuses to open: keep the application usable. */
  job->fallback_error = g_steal_pointer (&error);

  if (!graft_device_manager_is_auto (job->selector))
    job->backend = graft_backend_open ("auto", &error);

  if (job->backend == NULL)
    {
      g_clear_error (&error);
      job->backend = graft_backend_open ("cpu", &error);
    }

  if (job->backend == NULL)
    job->error = g_steal_pointer (&error);
}

static gboolean graft_device_job_done (gpointer data);

static gpointer
graft_device_job_run (gpointer data)
{
  GraftDeviceJob *job = data;
  GSource *source;

  g_mutex_lock (&engine_lock);

  switch (job->kind)
    {
    case GRAFT_DEVICE_JOB_LIST:
      job->devices = graft_device_list (&job->vulkan_error);
      break;

    case GRAFT_DEVICE_JOB_OPEN:
      graft_device_job_open (job);
      break;

    case GRAFT_DEVICE_JOB_CLOSE:
      g_clear_pointer (&job->backend, graft_backend_unref);
      break;

    default:
      g_assert_not_reached ();
    }

  g_mutex_unlock (&engine_lock);

  source = g_idle_source_new ();
  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_callback (source, graft_device_job_done, job, graft_device_job_free);
  g_source_set_static_name (source, "[graft] device job done");
  g_source_attach (source, job->context);
  g_source_unref (source);

  return NULL;
}

static void
graft_device_manager_spawn (GraftDeviceManager *self,
                            GraftDeviceJob     *job)
{
  static const char *names[] = { "graft-device-list", "graft-device-open", "graft-device-close" };

  g_weak_ref_init (&job->manager, self);
  job->context = g_main_context_ref_thread_default ();
  job->thread = g_thread_new (names[job->kind], graft_device_job_run, job);
  g_ptr_array_add (self->threads, job->thread);
}

static GraftDeviceJob *
graft_device_job_new (GraftDeviceJobKind kind)
{
  GraftDeviceJob *job = g_new0 (GraftDeviceJob, 1);

  job->kind = kind;

  return job;
}

static void
graft_device_manager_release_backend (GraftDeviceManager *self,
                                      GraftBackend       *backend)
{
  GraftDeviceJob *job;

  if (backend == NULL)
    return;

  job = graft_device_job_new (GRAFT_DEVICE_JOB_CLOSE);
  job->backend = backend;
  graft_device_manager_spawn (self, job);
}

static char *
graft_device_manager_short_name (const char *name)
{
  const char *paren = strstr (name, " (");

  if (paren != NULL && paren > name)
    return g_strndup (name, paren - name);

  return g_strdup (name);
}

/**
 * graft_device_manager_format_label:
 *
 * Returns: a short name for @info that fits a header bar: "llvmpipe · Vulkan",
 *   "NVIDIA H100 · Vulkan", "CPU · OpenBLAS".
 */
char *
graft_device_manager_format_label (const GraftDeviceInfo *info)
{
  g_return_val_if_fail (info != NULL, NULL);

  if (info->backend == GRAFT_BACKEND_KIND_VULKAN)
    {
      g_autofree char *name = graft_device_manager_short_name (info->name);

      /* Translators: the compute device in use, as in "llvmpipe · Vulkan" */
      return g_strdup_printf (_("%s · Vulkan"), name);
    }
  else
    {
      g_autofree char *library = NULL;

      if (info->driver != NULL && info->driver[0] != '\0')
        library = g_strndup (info->driver, strcspn (info->driver, " "));

      if (library == NULL)
        return g_strdup (_("CPU backend"));

      /* Translators: the CPU backend in use and its maths library, as in "CPU · OpenBLAS" */
      return g_strdup_printf (_("CPU · %s"), library);
    }
}

static void
graft_device_manager_update_label (GraftDeviceManager *self,
                                   const char         *error_message)
{
  g_autofree char *label = NULL;
  g_autofree char *description = NULL;

  if (self->backend != NULL)
    {
      const GraftDeviceInfo *info = graft_backend_get_info (self->backend);

      label = graft_device_manager_format_label (info);
      description = g_strdup_printf ("%s\n%s", info->name, info->driver != NULL ? info->driver : "");
      g_strchomp (description);
    }
  else if (graft_device_manager_get_busy (self))
    {
      label = g_strdup (_("Opening device…"));
      description = g_strdup (_("The compute device is being opened"));
    }
  else
    {
      label = g_strdup (_("No compute device"));
      description = g_strdup (error_message != NULL ? error_message : "");
    }

  if (g_strcmp0 (label, self->label) != 0)
    {
      g_free (self->label);
      self->label = g_steal_pointer (&label);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LABEL]);
    }

  if (g_strcmp0 (description, self->description) != 0)
    {
      g_free (self->description);
      self->description = g_steal_pointer (&description);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_DESCRIPTION]);
    }
}

static void
graft_device_manager_open_done (GraftDeviceManager *self,
                                GraftDeviceJob     *job)
{
  if (job->serial != self->open_serial)
    {
      /* A newer request superseded this one. */
      graft_device_manager_release_backend (self, g_steal_pointer (&job->backend));
      return;
    }

  g_object_freeze_notify (G_OBJECT (self));

  self->busy = FALSE;
  self->backend = g_steal_pointer (&job->backend);

  if (job->error != NULL)
    g_warning ("No compute device could be opened: %s", job->error->message);

  graft_device_manager_update_label (self, job->error != NULL ? job->error->message : NULL);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BUSY]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_DEVICE_ID]);

  g_object_thaw_notify (G_OBJECT (self));

  if (job->fallback_error != NULL && self->backend != NULL)
    {
      g_autofree char *used = graft_device_manager_format_label (graft_backend_get_info (self->backend));

      g_signal_emit (self, signals[FALLBACK], 0,
                     job->selector, job->fallback_error->message, used);
    }
}

static void
graft_device_manager_list_done (GraftDeviceManager *self,
                                GraftDeviceJob     *job)
{
  if (job->serial != self->list_serial)
    return;

  g_clear_pointer (&self->devices, g_ptr_array_unref);
  g_clear_error (&self->vulkan_error);
  self->devices = g_steal_pointer (&job->devices);
  self->vulkan_error = g_steal_pointer (&job->vulkan_error);
  self->listing = FALSE;

  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LISTING]);
}

static gboolean
graft_device_job_done (gpointer data)
{
  GraftDeviceJob *job = data;
  g_autoptr(GraftDeviceManager) self = g_weak_ref_get (&job->manager);

  /* Without a manager, its dispose has joined the thread already. */
  if (self == NULL)
    return G_SOURCE_REMOVE;

  if (g_ptr_array_remove_fast (self->threads, job->thread))
    g_thread_join (job->thread);

  switch (job->kind)
    {
    case GRAFT_DEVICE_JOB_LIST:
      graft_device_manager_list_done (self, job);
      break;

    case GRAFT_DEVICE_JOB_OPEN:
      graft_device_manager_open_done (self, job);
      break;

    case GRAFT_DEVICE_JOB_CLOSE:
    default:
      break;
    }

  return G_SOURCE_REMOVE;
}

static void
graft_device_manager_dispose (GObject *object)
{
  GraftDeviceManager *self = GRAFT_DEVICE_MANAGER (object);

  /* Wait for running jobs: a driver must not be unloaded under a thread that is in it.
   * Their idle callbacks find no manager and only free what the jobs made. */
  while (self->threads->len > 0)
    g_thread_join (g_ptr_array_steal_index_fast (self->threads, self->threads->len - 1));

  /* The application is going away; nothing is left to keep responsive. */
  g_clear_pointer (&self->backend, graft_backend_unref);

  G_OBJECT_CLASS (graft_device_manager_parent_class)->dispose (object);
}

static void
graft_device_manager_finalize (GObject *object)
{
  GraftDeviceManager *self = GRAFT_DEVICE_MANAGER (object);

  g_ptr_array_unref (self->threads);
  g_free (self->selector);
  g_free (self->label);
  g_free (self->description);
  g_clear_pointer (&self->devices, g_ptr_array_unref);
  g_clear_error (&self->vulkan_error);

  G_OBJECT_CLASS (graft_device_manager_parent_class)->finalize (object);
}

static void
graft_device_manager_get_property (GObject    *object,
                                   guint       prop_id,
                                   GValue     *value,
                                   GParamSpec *pspec)
{
  GraftDeviceManager *self = GRAFT_DEVICE_MANAGER (object);

  switch (prop_id)
    {
    case PROP_SELECTOR:
      g_value_set_string (value, graft_device_manager_get_selector (self));
      break;

    case PROP_BUSY:
      g_value_set_boolean (value, graft_device_manager_get_busy (self));
      break;

    case PROP_DEVICE_ID:
      g_value_set_string (value, graft_device_manager_get_device_id (self));
      break;

    case PROP_LABEL:
      g_value_set_string (value, graft_device_manager_get_label (self));
      break;

    case PROP_DESCRIPTION:
      g_value_set_string (value, graft_device_manager_get_description (self));
      break;

    case PROP_LISTING:
      g_value_set_boolean (value, graft_device_manager_get_listing (self));
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
graft_device_manager_class_init (GraftDeviceManagerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = graft_device_manager_dispose;
  object_class->finalize = graft_device_manager_finalize;
  object_class->get_property = graft_device_manager_get_property;

  properties[PROP_SELECTOR] =
    g_param_spec_string ("selector", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  properties[PROP_BUSY] =
    g_param_spec_boolean ("busy", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  properties[PROP_DEVICE_ID] =
    g_param_spec_string ("device-id", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  properties[PROP_LABEL] =
    g_param_spec_string ("label", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  properties[PROP_DESCRIPTION] =
    g_param_spec_string ("description", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  properties[PROP_LISTING] =
    g_param_spec_boolean ("listing", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * GraftDeviceManager::fallback:
   * @requested: the selector that could not be opened
   * @reason: why, from the engine
   * @used: the label of the device opened instead
   */
  signals[FALLBACK] =
    g_signal_new ("fallback",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 3, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING);
}

static void
graft_device_manager_init (GraftDeviceManager *self)
{
  self->threads = g_ptr_array_new ();
  self->label = g_strdup (_("No compute device"));
  self->description = g_strdup ("");
}

GraftDeviceManager *
graft_device_manager_new (void)
{
  return g_object_new (GRAFT_TYPE_DEVICE_MANAGER, NULL);
}

/**
 * graft_device_manager_open:
 * @selector: "auto", "cpu", "vulkan:N", … (see graft_device_select())
 *
 * Releases the device in use and opens the one @selector names on a worker thread.
 * When it cannot be opened, the manager opens "auto" (else the CPU backend) instead
 * and emits #GraftDeviceManager::fallback.
 */
void
graft_device_manager_open (GraftDeviceManager *self,
                           const char         *selector)
{
  GraftDeviceJob *job;

  g_return_if_fail (GRAFT_IS_DEVICE_MANAGER (self));

  if (graft_device_manager_is_auto (selector))
    selector = "auto";

  g_object_freeze_notify (G_OBJECT (self));

  if (g_strcmp0 (self->selector, selector) != 0)
    {
      g_free (self->selector);
      self->selector = g_strdup (selector);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SELECTOR]);
    }

  self->open_serial++;
  self->busy = TRUE;
  graft_device_manager_release_backend (self, g_steal_pointer (&self->backend));

  job = graft_device_job_new (GRAFT_DEVICE_JOB_OPEN);
  job->serial = self->open_serial;
  job->selector = g_strdup (selector);
  graft_device_manager_spawn (self, job);

  graft_device_manager_update_label (self, NULL);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BUSY]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_DEVICE_ID]);

  g_object_thaw_notify (G_OBJECT (self));
}

const char *
graft_device_manager_get_selector (GraftDeviceManager *self)
{
  g_return_val_if_fail (GRAFT_IS_DEVICE_MANAGER (self), NULL);

  return self->selector;
}

/* TRUE from graft_device_manager_open() until its result arrives. */
gboolean
graft_device_manager_get_busy (GraftDeviceManager *self)
{
  g_return_val_if_fail (GRAFT_IS_DEVICE_MANAGER (self), FALSE);

  return self->busy;
}

/* The device in use; NULL while one is being opened. */
GraftBackend *
graft_device_manager_get_backend (GraftDeviceManager *self)
{
  g_return_val_if_fail (GRAFT_IS_DEVICE_MANAGER (self), NULL);

  return self->backend;
}

/* The id ("vulkan:0", "cpu") of the device in use; NULL while one is being opened. */
const char *
graft_device_manager_get_device_id (GraftDeviceManager *self)
{
  g_return_val_if_fail (GRAFT_IS_DEVICE_MANAGER (self), NULL);

  if (self->backend == NULL)
    return NULL;

  return graft_backend_get_info (self->backend)->id;
}

/* What a header bar shows: "llvmpipe · Vulkan", "Opening device…". */
const char *
graft_device_manager_get_label (GraftDeviceManager *self)
{
  g_return_val_if_fail (GRAFT_IS_DEVICE_MANAGER (self), NULL);

  return self->label;
}

/* The full name and driver of the device in use, for a tooltip. */
const char *
graft_device_manager_get_description (GraftDeviceManager *self)
{
  g_return_val_if_fail (GRAFT_IS_DEVICE_MANAGER (self), NULL);

  return self->description;
}

/**
 * graft_device_manager_refresh:
 *
 * Lists the devices of the machine again on a worker thread. #GraftDeviceManager:listing
 * is %TRUE until the list has arrived.
 */
void
graft_device_manager_refresh (GraftDeviceManager *self)
{
  GraftDeviceJob *job;

  g_return_if_fail (GRAFT_IS_DEVICE_MANAGER (self));

  if (self->listing)
    return;

  self->listing = TRUE;
  self->list_serial++;

  job = graft_device_job_new (GRAFT_DEVICE_JOB_LIST);
  job->serial = self->list_serial;
  graft_device_manager_spawn (self, job);

  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LISTING]);
}

gboolean
graft_device_manager_get_listing (GraftDeviceManager *self)
{
  g_return_val_if_fail (GRAFT_IS_DEVICE_MANAGER (self), FALSE);

  return self->listing;
}

/**
 * graft_device_manager_get_devices:
 *
 * Returns: (nullable) (transfer none) (element-type GraftDeviceInfo): the devices found
 *   by the last graft_device_manager_refresh(), or %NULL before the first list arrived.
 */
GPtrArray *
graft_device_manager_get_devices (GraftDeviceManager *self)
{
  g_return_val_if_fail (GRAFT_IS_DEVICE_MANAGER (self), NULL);

  return self->devices;
}

/* Why the last list has no Vulkan device, or NULL. */
const GError *
graft_device_manager_get_vulkan_error (GraftDeviceManager *self)
{
  g_return_val_if_fail (GRAFT_IS_DEVICE_MANAGER (self), NULL);

  return self->vulkan_error;
}
