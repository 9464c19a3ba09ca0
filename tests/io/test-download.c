/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-test"

/* Weight downloads against a loopback server (http_server.py) that drops connections,
 * ignores Range, sends wrong bytes, redirects like Hugging Face and trickles: a finished
 * download is the right file under its name, an interrupted one resumes where it
 * stopped, a damaged one is never kept, and a missing network says so. */

#include <glib/gstdio.h>
#include <string.h>

#include "graft.h"
#include "graft-test-util.h"

#define FILE_SIZE 2109497   /* 2 MiB + 12345: http_server.py's default size */
#define DROP_AT   700001

typedef struct {
  char        *dir;
  char        *dest;       /* dir/cache/graft/models/resnet18.safetensors, folder absent */
  char        *part;
  char        *log_path;
  GSubprocess *server;
  guint16      port;
} Fixture;

/* ---- the server's content, made the same way as http_server.py makes it --------------- */

static GBytes *
expected_content (gsize size)
{
  guint8 *data = g_malloc (size + 32);
  guint8 digest[32];

  for (gsize k = 0; k * 32 < size; k++)
    {
      g_autoptr(GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
      g_autofree char *text = g_strdup_printf ("graft-test-%" G_GSIZE_FORMAT, k);
      gsize len = sizeof digest;

      g_checksum_update (sum, (const guchar *) text, -1);
      g_checksum_get_digest (sum, digest, &len);
      memcpy (data + k * 32, digest, 32);
    }
  return g_bytes_new_take (data, size);
}

static char *
sha256_of (const guint8 *data,
           gsize         size)
{
  return g_compute_checksum_for_data (G_CHECKSUM_SHA256, data, size);
}

static char *
expected_sha256 (void)
{
  g_autoptr(GBytes) bytes = expected_content (FILE_SIZE);

  return g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, bytes);
}

/* ---- fixture: a temporary folder and a server of its own ----------------------------- */

static void
fixture_setup (Fixture       *fx,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *script = g_test_build_filename (G_TEST_DIST, "http_server.py", NULL);
  g_autoptr(GDataInputStream) out = NULL;
  g_autofree char *line = NULL;
  guint64 port;

  (void) data;
  fx->dir = g_dir_make_tmp ("graft-download-XXXXXX", &error);
  g_assert_no_error (error);
  fx->dest = g_build_filename (fx->dir, "cache", "graft", "models", "resnet18.safetensors",
                               NULL);
  fx->part = g_strconcat (fx->dest, ".part", NULL);
  fx->log_path = g_build_filename (fx->dir, "server.log", NULL);

  /* Debian's interpreter: another python3 may come first on PATH. */
  fx->server = g_subprocess_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE,
                                 &error,
                                 "/usr/bin/python3", script, fx->log_path, NULL);
  g_assert_no_error (error);
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (fx->server));
  line = g_data_input_stream_read_line (out, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (line);
  g_assert_true (g_ascii_string_to_unsigned (line, 10, 1, G_MAXUINT16, &port, NULL));
  fx->port = (guint16) port;
}

static void
fixture_teardown (Fixture       *fx,
                  gconstpointer  data)
{
  (void) data;
  g_subprocess_force_exit (fx->server);
  g_subprocess_wait (fx->server, NULL, NULL);
  g_object_unref (fx->server);
  graft_test_remove_tree (fx->dir);
  g_free (fx->dir);
  g_free (fx->dest);
  g_free (fx->part);
  g_free (fx->log_path);
}

static char *
server_url (Fixture    *fx,
            const char *path)
{
  return g_strdup_printf ("http://127.0.0.1:%u%s", fx->port, path);
}

/* "METHOD PATH RANGE" lines, one per request the server received. */
static char *
server_log (Fixture *fx)
{
  g_autoptr(GError) error = NULL;
  char *text = NULL;

  g_file_get_contents (fx->log_path, &text, NULL, &error);
  g_assert_no_error (error);
  return text;
}

static void
assert_file_is (const char   *path,
                const guint8 *data,
                gsize         size)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *contents = NULL;
  gsize length;

  g_file_get_contents (path, &contents, &length, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (length, ==, size);
  g_assert_true (memcmp (contents, data, size) == 0);
}

static void
assert_downloaded (Fixture *fx)
{
  g_autoptr(GBytes) expected = expected_content (FILE_SIZE);

  assert_file_is (fx->dest, g_bytes_get_data (expected, NULL), FILE_SIZE);
  g_assert_false (g_file_test (fx->part, G_FILE_TEST_EXISTS));
}

static void
write_part (Fixture      *fx,
            const guint8 *data,
            gsize         size)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_path_get_dirname (fx->part);

  g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
  g_file_set_contents (fx->part, (const char *) data, (gssize) size, &error);
  g_assert_no_error (error);
}

/* ---- progress ---------------------------------------------------------------------- */

typedef struct {
  GArray       *received;     /* guint64 per call */
  guint64       last_total;
  GCancellable *cancel_after;  /* cancelled once this many bytes are in, if set */
  guint64       cancel_at;
  GThread      *thread;        /* the thread the calls must come on */
} Progress;

static void
progress_init (Progress *p)
{
  memset (p, 0, sizeof *p);
  p->received = g_array_new (FALSE, FALSE, sizeof (guint64));
  p->thread = g_thread_self ();
}

static void
progress_clear (Progress *p)
{
  g_array_unref (p->received);
}

static void
on_progress (guint64  received,
             guint64  total,
             gpointer user_data)
{
  Progress *p = user_data;

  g_assert_true (g_thread_self () == p->thread);
  g_array_append_val (p->received, received);
  p->last_total = total;
  if (p->cancel_after != NULL && received >= p->cancel_at)
    g_cancellable_cancel (p->cancel_after);
}

/* Never backwards, and the last call says all of @total is in. */
static void
assert_progress_complete (Progress *p,
                          guint64   total)
{
  g_assert_cmpuint (p->received->len, >, 0);
  for (guint i = 1; i < p->received->len; i++)
    g_assert_cmpuint (g_array_index (p->received, guint64, i), >=,
                      g_array_index (p->received, guint64, i - 1));
  g_assert_cmpuint (g_array_index (p->received, guint64, p->received->len - 1), ==, total);
  g_assert_cmpuint (p->last_total, ==, total);
}

/* ---- tests ------------------------------------------------------------------------- */

static void
test_cache_dir (void)
{
  g_autofree char *dir = graft_download_cache_dir ();
  g_autofree char *expected = g_build_filename (g_get_user_cache_dir (), "graft", "models",
                                                NULL);

  g_assert_cmpstr (dir, ==, expected);
}

static void
test_full (Fixture       *fx,
           gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *url = server_url (fx, "/files/resnet18.safetensors");
  g_autofree char *sha = expected_sha256 ();
  g_autofree char *log = NULL;
  gboolean verified = FALSE;
  Progress p;
  gint64 start = g_get_monotonic_time ();
  gint64 elapsed_ms;

  (void) data;
  progress_init (&p);
  g_assert_true (graft_download_file (url, fx->dest, sha, FILE_SIZE, &verified,
                                      on_progress, &p, NULL, &error));
  g_assert_no_error (error);
  elapsed_ms = (g_get_monotonic_time () - start) / 1000;
  g_assert_true (verified);
  assert_downloaded (fx);
  assert_progress_complete (&p, FILE_SIZE);
  /* About ten calls a second and a last one, not one per chunk (the file has 33 of
   * 64 KiB and many more of the 16 KiB a socket tends to return). */
  g_assert_cmpuint (p.received->len, <=, 3 + elapsed_ms / 100);

  log = server_log (fx);
  g_assert_cmpstr (log, ==, "GET /files/resnet18.safetensors -\n");
  progress_clear (&p);
}

static void
test_resume (Fixture       *fx,
             gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *url = server_url (fx, "/files/resnet18.safetensors?drop="
                                     G_STRINGIFY (DROP_AT));
  g_autofree char *sha = expected_sha256 ();
  g_autoptr(GBytes) expected = expected_content (FILE_SIZE);
  g_autofree char *log = NULL;
  gboolean verified = FALSE;
  Progress p;

  (void) data;
  /* The server closes the connection after DROP_AT bytes. */
  g_assert_false (graft_download_file (url, fx->dest, sha, FILE_SIZE, &verified,
                                       NULL, NULL, NULL, &error));
  g_assert_error (error, GRAFT_DOWNLOAD_ERROR, GRAFT_DOWNLOAD_ERROR_INTERRUPTED);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "resnet18.safetensors"));
  g_assert_nonnull (strstr (error->message, "resume"));
  g_assert_false (verified);
  g_assert_false (g_file_test (fx->dest, G_FILE_TEST_EXISTS));
  assert_file_is (fx->part, g_bytes_get_data (expected, NULL), DROP_AT);
  g_clear_error (&error);

  /* The same call again asks only for the rest, and the whole file checks out. */
  progress_init (&p);
  g_assert_true (graft_download_file (url, fx->dest, sha, FILE_SIZE, &verified,
                                      on_progress, &p, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (verified);
  assert_downloaded (fx);
  assert_progress_complete (&p, FILE_SIZE);
  g_assert_cmpuint (g_array_index (p.received, guint64, 0), >=, DROP_AT);

  log = server_log (fx);
  g_assert_nonnull (strstr (log, "GET /files/resnet18.safetensors?drop=" G_STRINGIFY (DROP_AT)
                                 " bytes=" G_STRINGIFY (DROP_AT) "-\n"));
  progress_clear (&p);
}

static void
test_range_ignored (Fixture       *fx,
                    gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *url = server_url (fx, "/files/resnet18.safetensors?norange=1");
  g_autofree char *sha = expected_sha256 ();
  g_autofree char *log = NULL;
  guint8 junk[1000];
  gboolean verified = FALSE;

  (void) data;
  /* Appending the whole file to this would leave junk in front of it. */
  memset (junk, 'x', sizeof junk);
  write_part (fx, junk, sizeof junk);

  g_assert_true (graft_download_file (url, fx->dest, sha, 0, &verified,
                                      NULL, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (verified);
  assert_downloaded (fx);
  log = server_log (fx);
  g_assert_nonnull (strstr (log, " bytes=1000-\n"));
}

static void
test_complete_part (Fixture       *fx,
                    gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *url = server_url (fx, "/files/resnet18.safetensors");
  g_autofree char *sha = expected_sha256 ();
  g_autoptr(GBytes) expected = expected_content (FILE_SIZE);
  g_autofree char *log = NULL;
  gboolean verified = FALSE;

  (void) data;
  /* Everything arrived before the last run stopped: the server answers 416 to the
   * resume, and the .part is checked and used as it is. */
  write_part (fx, g_bytes_get_data (expected, NULL), FILE_SIZE);
  g_assert_true (graft_download_file (url, fx->dest, sha, 0, &verified,
                                      NULL, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (verified);
  assert_downloaded (fx);
  log = server_log (fx);
  g_assert_nonnull (strstr (log, " bytes=" G_STRINGIFY (FILE_SIZE) "-\n"));
}

static void
test_checksum (Fixture       *fx,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *url = server_url (fx, "/files/resnet18.safetensors?corrupt=1");
  g_autofree char *sha = expected_sha256 ();
  g_autoptr(GBytes) expected = expected_content (FILE_SIZE);
  g_autofree guint8 *bad = g_memdup2 (g_bytes_get_data (expected, NULL), FILE_SIZE);
  g_autofree char *bad_sha = NULL;
  gboolean verified = TRUE;

  (void) data;
  bad[FILE_SIZE / 2] ^= 0xFF;
  bad_sha = sha256_of (bad, FILE_SIZE);

  g_assert_false (graft_download_file (url, fx->dest, sha, FILE_SIZE, &verified,
                                       NULL, NULL, NULL, &error));
  g_assert_error (error, GRAFT_DOWNLOAD_ERROR, GRAFT_DOWNLOAD_ERROR_CHECKSUM);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "resnet18.safetensors"));
  g_assert_nonnull (strstr (error->message, sha));
  g_assert_nonnull (strstr (error->message, bad_sha));
  g_assert_false (verified);
  /* Neither kept under its name nor left to be resumed. */
  g_assert_false (g_file_test (fx->dest, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (fx->part, G_FILE_TEST_EXISTS));
}

static void
test_linked_etag (Fixture       *fx,
                  gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *url = server_url (fx, "/resolve/resnet18.safetensors");
  g_autofree char *log = NULL;
  gboolean verified = FALSE;

  (void) data;
  g_assert_true (graft_download_file (url, fx->dest, NULL, 0, &verified,
                                      NULL, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (verified);
  assert_downloaded (fx);
  log = server_log (fx);
  g_assert_cmpstr (log, ==,
                   "GET /resolve/resnet18.safetensors -\n"
                   "GET /files/resnet18.safetensors -\n");
}

static void
test_linked_etag_wrong (Fixture       *fx,
                        gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *url = server_url (fx, "/resolve/resnet18.safetensors?linked=wrong");
  gboolean verified = TRUE;

  (void) data;
  g_assert_false (graft_download_file (url, fx->dest, NULL, 0, &verified,
                                       NULL, NULL, NULL, &error));
  g_assert_error (error, GRAFT_DOWNLOAD_ERROR, GRAFT_DOWNLOAD_ERROR_CHECKSUM);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "0000000000000000000000000000000000000000"));
  g_assert_false (verified);
  g_assert_false (g_file_test (fx->dest, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (fx->part, G_FILE_TEST_EXISTS));
}

static void
test_unverified (Fixture       *fx,
                 gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  /* A redirect with X-Linked-Size and a git ETag, but no X-Linked-ETag. */
  g_autofree char *url = server_url (fx, "/resolve/resnet18.safetensors?linked=none");
  gboolean verified = TRUE;

  (void) data;
  g_assert_true (graft_download_file (url, fx->dest, NULL, 0, &verified,
                                      NULL, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_false (verified);
  assert_downloaded (fx);
}

static void
test_cancel (Fixture       *fx,
             gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autofree char *slow = server_url (fx, "/files/resnet18.safetensors?slow=1");
  g_autofree char *fast = server_url (fx, "/files/resnet18.safetensors");
  g_autofree char *sha = expected_sha256 ();
  g_autoptr(GBytes) expected = expected_content (FILE_SIZE);
  g_autofree char *part = NULL;
  g_autofree char *log = NULL;
  g_autofree char *resumed = NULL;
  gsize part_len = 0;
  Progress p;

  (void) data;
  progress_init (&p);
  p.cancel_after = cancellable;
  p.cancel_at = 100 * 1024;
  g_assert_false (graft_download_file (slow, fx->dest, sha, FILE_SIZE, NULL,
                                       on_progress, &p, cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_test_message ("%s", error->message);
  g_assert_false (g_file_test (fx->dest, G_FILE_TEST_EXISTS));
  /* What arrived is kept, and is the start of the file. */
  g_assert_true (g_file_get_contents (fx->part, &part, &part_len, NULL));
  g_assert_cmpuint (part_len, >=, p.cancel_at);
  g_assert_cmpuint (part_len, <, FILE_SIZE);
  g_assert_true (memcmp (part, g_bytes_get_data (expected, NULL), part_len) == 0);
  g_clear_error (&error);
  progress_clear (&p);

  /* And a later download goes on from there. */
  g_assert_true (graft_download_file (fast, fx->dest, sha, FILE_SIZE, NULL,
                                      NULL, NULL, NULL, &error));
  g_assert_no_error (error);
  assert_downloaded (fx);
  log = server_log (fx);
  resumed = g_strdup_printf ("GET /files/resnet18.safetensors bytes=%" G_GSIZE_FORMAT "-\n",
                             part_len);
  g_assert_nonnull (strstr (log, resumed));
}

static void
test_unreachable (Fixture       *fx,
                  gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autofree char *url = NULL;
  guint16 port;

  (void) data;
  /* A port that was free a moment ago: nothing listens there. */
  socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                         &error);
  g_assert_no_error (error);
  g_assert_true (g_socket_bind (socket, any, FALSE, &error));
  bound = g_socket_get_local_address (socket, &error);
  g_assert_no_error (error);
  port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  g_assert_true (g_socket_close (socket, &error));

  url = g_strdup_printf ("http://127.0.0.1:%u/files/resnet18.safetensors", port);
  g_assert_false (graft_download_file (url, fx->dest, NULL, 0, NULL,
                                       NULL, NULL, NULL, &error));
  g_assert_error (error, GRAFT_DOWNLOAD_ERROR, GRAFT_DOWNLOAD_ERROR_UNREACHABLE);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "Cannot reach 127.0.0.1"));
  g_assert_nonnull (strstr (error->message, "resnet18.safetensors"));
  g_assert_nonnull (strstr (error->message, "import a local copy"));
  g_assert_false (g_file_test (fx->dest, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (fx->part, G_FILE_TEST_EXISTS));
}

static void
test_not_found (Fixture       *fx,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *url = server_url (fx, "/missing/resnet18.safetensors");

  (void) data;
  g_assert_false (graft_download_file (url, fx->dest, NULL, 0, NULL,
                                       NULL, NULL, NULL, &error));
  g_assert_error (error, GRAFT_DOWNLOAD_ERROR, GRAFT_DOWNLOAD_ERROR_HTTP);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "404 Not Found"));
  g_assert_nonnull (strstr (error->message, "resnet18.safetensors"));
  g_assert_false (g_file_test (fx->dest, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (fx->part, G_FILE_TEST_EXISTS));
}

typedef struct {
  GMainLoop    *loop;
  GAsyncResult *result;
} AsyncWait;

static void
on_downloaded (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  AsyncWait *wait = user_data;

  (void) source;
  wait->result = g_object_ref (result);
  g_main_loop_quit (wait->loop);
}

static void
test_async (Fixture       *fx,
            gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *url = server_url (fx, "/resolve/resnet18.safetensors?slow=1");
  AsyncWait wait = { g_main_loop_new (NULL, FALSE), NULL };
  gboolean verified = FALSE;
  Progress p;
  gint64 start = g_get_monotonic_time ();
  gint64 elapsed_ms;

  (void) data;
  /* Progress comes on this thread (on_progress checks), while the loop runs. */
  progress_init (&p);
  graft_download_file_async (url, fx->dest, NULL, 0, on_progress, &p, NULL,
                             on_downloaded, &wait);
  g_main_loop_run (wait.loop);
  elapsed_ms = (g_get_monotonic_time () - start) / 1000;

  g_assert_true (graft_download_file_finish (wait.result, &verified, &error));
  g_assert_no_error (error);
  g_assert_true (verified);
  assert_downloaded (fx);
  assert_progress_complete (&p, FILE_SIZE);
  /* The server trickles 16 KiB every 20 ms: about 130 chunks in 2.6 s, and about ten
   * progress calls a second of them. */
  g_assert_cmpuint (elapsed_ms, >=, 2000);
  g_assert_cmpuint (p.received->len, >=, 2);
  g_assert_cmpuint (p.received->len, <=, 3 + elapsed_ms / 100);

  g_object_unref (wait.result);
  g_main_loop_unref (wait.loop);
  progress_clear (&p);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/download/cache-dir", test_cache_dir);
#define ADD(path, fn) g_test_add ("/download/" path, Fixture, NULL, fixture_setup, fn, \
                                  fixture_teardown)
  ADD ("full", test_full);
  ADD ("resume", test_resume);
  ADD ("range-ignored", test_range_ignored);
  ADD ("complete-part", test_complete_part);
  ADD ("checksum", test_checksum);
  ADD ("linked-etag", test_linked_etag);
  ADD ("linked-etag-wrong", test_linked_etag_wrong);
  ADD ("unverified", test_unverified);
  ADD ("cancel", test_cancel);
  ADD ("unreachable", test_unreachable);
  ADD ("not-found", test_not_found);
  ADD ("async", test_async);
#undef ADD

  return g_test_run ();
}
