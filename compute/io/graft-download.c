/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-download"

/* The download runs in one blocking function so that it reads top to bottom: follow the
 * redirects (reading the hub's X-Linked-* headers on the way), look at the status, append
 * to or restart the .part, hash while writing, then check, fsync and rename. The async
 * wrapper runs exactly that on a thread of its own. */

#include <errno.h>
#include <fcntl.h>
#include <libsoup/soup.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "graft-config.h"
#include "graft-download.h"

G_DEFINE_QUARK (graft-download-error-quark, graft_download_error)

#define MAX_REDIRECTS        10
#define IO_TIMEOUT_S         30       /* a server silent this long is given up on */
#define CHUNK_SIZE           (64 * 1024)
#define PROGRESS_INTERVAL_US (G_USEC_PER_SEC / 10)
#define SHA256_HEX_LEN       64

#define IMPORT_HINT "import a local copy of the weights with “graft-cli models import FILE”"

typedef struct {
  const char            *url;
  const char            *dest_path;
  char                  *part_path;
  char                  *name;             /* the destination's basename, for messages */
  char                  *sha256;           /* lowercase; from the caller or X-Linked-ETag */
  guint64                size;             /* 0: unknown; from the caller or X-Linked-Size */
  gboolean               size_from_caller;
  GraftDownloadProgress  progress;
  gpointer               user_data;
  GCancellable          *cancellable;

  SoupSession           *session;
  char                  *host;             /* of the last request, for messages */
  GChecksum             *checksum;         /* of the .part's bytes 0..received */
  guint64                received;
  guint64                total;            /* 0: unknown */
  gint64                 last_progress_us;
} Download;

static void
download_clear (Download *d)
{
  g_free (d->part_path);
  g_free (d->name);
  g_free (d->sha256);
  g_free (d->host);
  g_clear_object (&d->session);
  g_clear_pointer (&d->checksum, g_checksum_free);
}

char *
graft_download_cache_dir (void)
{
  return g_build_filename (g_get_user_cache_dir (), "graft", "models", NULL);
}

static gboolean
is_sha256_hex (const char *s)
{
  gsize i;

  for (i = 0; s[i] != '\0'; i++)
    if (!g_ascii_isxdigit (s[i]))
      return FALSE;
  return i == SHA256_HEX_LEN;
}

/* X-Linked-ETag: "<sha256>", possibly weak (W/) or unquoted. NULL when it is no SHA-256. */
static char *
parse_linked_etag (const char *value)
{
  g_autofree char *s = NULL;
  gsize len;

  if (value == NULL)
    return NULL;
  while (g_ascii_isspace (*value))
    value++;
  if (g_str_has_prefix (value, "W/") || g_str_has_prefix (value, "w/"))
    value += 2;
  s = g_strstrip (g_strdup (value));
  len = strlen (s);
  if (len >= 2 && s[0] == '"' && s[len - 1] == '"')
    {
      memmove (s, s + 1, len - 2);
      s[len - 2] = '\0';
    }
  if (!is_sha256_hex (s))
    return NULL;
  return g_ascii_strdown (s, -1);
}

static void
read_linked_headers (Download           *d,
                     SoupMessageHeaders *headers)
{
  const char *etag = soup_message_headers_get_one (headers, "X-Linked-ETag");
  const char *size = soup_message_headers_get_one (headers, "X-Linked-Size");

  if (d->sha256 == NULL && etag != NULL)
    {
      d->sha256 = parse_linked_etag (etag);
      if (d->sha256 == NULL)
        g_debug ("%s: X-Linked-ETag “%s” is not a SHA-256, ignored", d->name, etag);
    }
  if (!d->size_from_caller && d->size == 0 && size != NULL)
    {
      guint64 value;

      if (g_ascii_string_to_unsigned (size, 10, 1, G_MAXUINT64, &value, NULL))
        d->size = value;
    }
}

static void
report_progress (Download *d,
                 gboolean  last)
{
  gint64 now = g_get_monotonic_time ();

  if (d->progress == NULL)
    return;
  if (!last && d->last_progress_us != 0 && now - d->last_progress_us < PROGRESS_INTERVAL_US)
    return;
  d->last_progress_us = now;
  d->progress (d->received, d->total, d->user_data);
}

static void
delete_part (Download *d)
{
  if (g_unlink (d->part_path) != 0 && errno != ENOENT)
    g_warning ("Cannot delete the damaged download %s: %s", d->part_path, g_strerror (errno));
}

static gboolean
set_write_error (Download   *d,
                 const char *what,
                 int         saved_errno,
                 GError    **error)
{
  g_set_error (error, GRAFT_DOWNLOAD_ERROR, GRAFT_DOWNLOAD_ERROR_WRITE,
               "Cannot %s %s (%s). Check that the cache folder is writable and the disk "
               "has free space, then download again.",
               what, d->part_path, g_strerror (saved_errno));
  return FALSE;
}

static void
set_unreachable_error (Download *d,
                       GError   *cause,
                       GError  **error)
{
  if (g_error_matches (cause, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_propagate_error (error, g_error_copy (cause));
      return;
    }
  g_set_error (error, GRAFT_DOWNLOAD_ERROR, GRAFT_DOWNLOAD_ERROR_UNREACHABLE,
               "Cannot reach %s to download %s (%s). Check the network connection, or "
               IMPORT_HINT ".",
               d->host != NULL ? d->host : d->url, d->name, cause->message);
}

static void
set_interrupted_error (Download   *d,
                       const char *reason,
                       GError    **error)
{
  g_autofree char *got = g_format_size (d->received);
  g_autofree char *of = d->total != 0 ? g_format_size (d->total) : NULL;

  g_set_error (error, GRAFT_DOWNLOAD_ERROR, GRAFT_DOWNLOAD_ERROR_INTERRUPTED,
               "The download of %s from %s stopped after %s%s%s (%s). The part received "
               "is kept: run the download again to resume it.",
               d->name, d->host, got, of != NULL ? " of " : "", of != NULL ? of : "", reason);
}

static gboolean
set_http_error (Download    *d,
                SoupMessage *msg,
                GError     **error)
{
  guint status = soup_message_get_status (msg);
  const char *reason = soup_message_get_reason_phrase (msg);
  g_autofree char *uri = g_uri_to_string_partial (soup_message_get_uri (msg),
                                                  G_URI_HIDE_PASSWORD | G_URI_HIDE_QUERY);
  const char *advice;

  if (status >= 500)
    advice = "The server has a problem: try again later, or " IMPORT_HINT ".";
  else
    advice = "The model's address may be out of date: " IMPORT_HINT ".";
  g_set_error (error, GRAFT_DOWNLOAD_ERROR, GRAFT_DOWNLOAD_ERROR_HTTP,
               "Cannot download %s: %s answered %u %s for %s. %s",
               d->name, d->host, status,
               reason != NULL && *reason != '\0' ? reason : soup_status_get_phrase (status),
               uri, advice);
  return FALSE;
}

static void
close_stream (GInputStream *stream)
{
  g_input_stream_close (stream, NULL, NULL);
  g_object_unref (stream);
}

/* Sends GET @d->url (with Range: bytes=@offset- when @offset > 0), following redirects
 * itself so that their X-Linked-* headers are seen. Returns the body of the first answer
 * that is no redirect, and that answer in @out_msg. */
static GInputStream *
send_request (Download     *d,
              guint64       offset,
              SoupMessage **out_msg,
              GError      **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GUri) uri = g_uri_parse (d->url, SOUP_HTTP_URI_FLAGS, &local_error);

  if (uri == NULL || g_uri_get_host (uri) == NULL ||
      (g_strcmp0 (g_uri_get_scheme (uri), "http") != 0 &&
       g_strcmp0 (g_uri_get_scheme (uri), "https") != 0))
    {
      g_set_error (error, GRAFT_DOWNLOAD_ERROR, GRAFT_DOWNLOAD_ERROR_HTTP,
                   "Cannot download %s: “%s” is not an http or https address. Check the "
                   "model's address, or " IMPORT_HINT ".", d->name, d->url);
      return NULL;
    }

  for (guint hops = 0;; hops++)
    {
      g_autoptr(SoupMessage) msg = soup_message_new_from_uri (SOUP_METHOD_GET, uri);
      SoupMessageHeaders *request = soup_message_get_request_headers (msg);
      SoupMessageHeaders *response;
      GInputStream *stream;
      const char *location;
      GUri *next;
      guint status;

      g_free (d->host);
      d->host = g_strdup (g_uri_get_host (uri));
      soup_message_add_flags (msg, SOUP_MESSAGE_NO_REDIRECT);
      /* Byte ranges count bytes of the file itself, never of a compressed encoding. */
      soup_message_headers_replace (request, "Accept-Encoding", "identity");
      if (offset > 0)
        soup_message_headers_set_range (request, (goffset) offset, -1);

      stream = soup_session_send (d->session, msg, d->cancellable, &local_error);
      if (stream == NULL)
        {
          set_unreachable_error (d, local_error, error);
          return NULL;
        }

      status = soup_message_get_status (msg);
      response = soup_message_get_response_headers (msg);
      read_linked_headers (d, response);
      if (status != SOUP_STATUS_MOVED_PERMANENTLY && status != SOUP_STATUS_FOUND &&
          status != SOUP_STATUS_SEE_OTHER && status != SOUP_STATUS_TEMPORARY_REDIRECT &&
          status != SOUP_STATUS_PERMANENT_REDIRECT)
        {
          *out_msg = g_steal_pointer (&msg);
          return stream;
        }

      close_stream (stream);
      location = soup_message_headers_get_one (response, "Location");
      if (location == NULL)
        {
          g_set_error (error, GRAFT_DOWNLOAD_ERROR, GRAFT_DOWNLOAD_ERROR_HTTP,
                       "Cannot download %s: %s answered %u (a redirect) without saying "
                       "where to. Try again later, or " IMPORT_HINT ".",
                       d->name, d->host, status);
          return NULL;
        }
      if (hops == MAX_REDIRECTS)
        {
          g_set_error (error, GRAFT_DOWNLOAD_ERROR, GRAFT_DOWNLOAD_ERROR_HTTP,
                       "Cannot download %s: %s redirected more than %u times. Check the "
                       "model's address, or " IMPORT_HINT ".",
                       d->name, d->url, MAX_REDIRECTS);
          return NULL;
        }
      next = g_uri_parse_relative (uri, location, SOUP_HTTP_URI_FLAGS, NULL);
      if (next == NULL || g_uri_get_host (next) == NULL ||
          (g_strcmp0 (g_uri_get_scheme (next), "http") != 0 &&
           g_strcmp0 (g_uri_get_scheme (next), "https") != 0))
        {
          g_set_error (error, GRAFT_DOWNLOAD_ERROR, GRAFT_DOWNLOAD_ERROR_HTTP,
                       "Cannot download %s: %s redirected to “%s”, which is no http or "
                       "https address. Try again later, or " IMPORT_HINT ".",
                       d->name, d->host, location);
          g_clear_pointer (&next, g_uri_unref);
          return NULL;
        }
      g_uri_unref (uri);
      uri = next;
    }
}

/* Size of the .part, 0 if there is none. */
static gboolean
part_size (Download *d,
           guint64  *out,
           GError  **error)
{
  GStatBuf st;

  if (g_stat (d->part_path, &st) != 0)
    {
      if (errno == ENOENT)
        {
          *out = 0;
          return TRUE;
        }
      return set_write_error (d, "read", errno, error);
    }
  *out = (guint64) st.st_size;
  return TRUE;
}

/* Feeds the first @length bytes of the .part to a fresh checksum, to go on from there. */
static gboolean
hash_part (Download *d,
           guint64   length,
           GError  **error)
{
  g_autofree guint8 *buf = g_malloc (CHUNK_SIZE);
  guint64 done = 0;
  int fd = g_open (d->part_path, O_RDONLY | O_CLOEXEC, 0);

  g_checksum_reset (d->checksum);
  d->received = 0;
  if (fd < 0)
    return set_write_error (d, "read", errno, error);
  while (done < length)
    {
      gssize n;

      if (g_cancellable_set_error_if_cancelled (d->cancellable, error))
        {
          close (fd);
          return FALSE;
        }
      n = read (fd, buf, (gsize) MIN ((guint64) CHUNK_SIZE, length - done));
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          int saved_errno = n < 0 ? errno : EIO;

          close (fd);
          return set_write_error (d, "read", saved_errno, error);
        }
      g_checksum_update (d->checksum, buf, n);
      done += (guint64) n;
    }
  close (fd);
  d->received = length;
  return TRUE;
}

static gboolean
write_all (int           fd,
           const guint8 *buf,
           gsize         len)
{
  while (len > 0)
    {
      gssize n = write (fd, buf, len);

      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          return FALSE;
        }
      buf += n;
      len -= (gsize) n;
    }
  return TRUE;
}

/* Every byte is in the .part and in d->checksum: check, then give the file its name. */
static gboolean
finish (Download  *d,
        gboolean  *verified,
        GError   **error)
{
  const char *actual;
  g_autofree char *dir = NULL;
  int dir_fd;

  d->total = d->received;
  report_progress (d, TRUE);

  if (d->size != 0 && d->received != d->size)
    {
      delete_part (d);
      g_set_error (error, GRAFT_DOWNLOAD_ERROR, GRAFT_DOWNLOAD_ERROR_SIZE,
                   "The download of %s from %s has %" G_GUINT64_FORMAT " bytes, but %"
                   G_GUINT64_FORMAT " were expected. The damaged download was deleted: "
                   "download it again, or " IMPORT_HINT ".",
                   d->name, d->host, d->received, d->size);
      return FALSE;
    }

  actual = g_checksum_get_string (d->checksum);
  if (d->sha256 != NULL && g_ascii_strcasecmp (actual, d->sha256) != 0)
    {
      delete_part (d);
      g_set_error (error, GRAFT_DOWNLOAD_ERROR, GRAFT_DOWNLOAD_ERROR_CHECKSUM,
                   "The download of %s from %s is damaged: its SHA-256 is %s, but %s was "
                   "expected. The damaged download was deleted: download it again, or "
                   IMPORT_HINT ".",
                   d->name, d->host, actual, d->sha256);
      return FALSE;
    }

  if (g_rename (d->part_path, d->dest_path) != 0)
    return set_write_error (d, "rename", errno, error);
  /* Make the new name itself survive a crash. */
  dir = g_path_get_dirname (d->dest_path);
  dir_fd = g_open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
  if (dir_fd >= 0)
    {
      fsync (dir_fd);
      close (dir_fd);
    }
  if (verified != NULL)
    *verified = d->sha256 != NULL;
  if (d->sha256 == NULL)
    g_debug ("%s was downloaded from %s without a SHA-256 to check it against",
             d->name, d->host);
  return TRUE;
}

/* The file's length that a 416 answer gives in its Content-Range; 0 if it gives none. */
static guint64
unsatisfiable_length (SoupMessageHeaders *headers)
{
  const char *value = soup_message_headers_get_one (headers, "Content-Range");
  guint64 length;

  if (value == NULL || !g_str_has_prefix (value, "bytes */"))
    return 0;
  if (!g_ascii_string_to_unsigned (value + strlen ("bytes */"), 10, 0, G_MAXUINT64,
                                   &length, NULL))
    return 0;
  return length;
}

/* Copies the body into the .part (appending when @append), hashing it on the way. */
static gboolean
receive (Download     *d,
         GInputStream *stream,
         gboolean      append,
         gboolean     *verified,
         GError      **error)
{
  g_autofree guint8 *buf = g_malloc (CHUNK_SIZE);
  g_autoptr(GError) local_error = NULL;
  int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC);
  int fd = g_open (d->part_path, flags, 0644);

  if (fd < 0)
    return set_write_error (d, "write", errno, error);

  report_progress (d, FALSE);
  for (;;)
    {
      gssize n = g_input_stream_read (stream, buf, CHUNK_SIZE, d->cancellable, &local_error);

      if (n < 0)
        {
          close (fd);
          if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
            g_propagate_error (error, g_steal_pointer (&local_error));
          else
            set_interrupted_error (d, local_error->message, error);
          return FALSE;
        }
      if (n == 0)
        break;
      if (!write_all (fd, buf, (gsize) n))
        {
          int saved_errno = errno;

          close (fd);
          return set_write_error (d, "write", saved_errno, error);
        }
      g_checksum_update (d->checksum, buf, n);
      d->received += (guint64) n;
      report_progress (d, FALSE);
    }

  if (fsync (fd) != 0)
    {
      int saved_errno = errno;

      close (fd);
      return set_write_error (d, "write", saved_errno, error);
    }
  if (close (fd) != 0)
    return set_write_error (d, "write", errno, error);
  if (d->total != 0 && d->received < d->total)
    {
      set_interrupted_error (d, "the server closed the connection", error);
      return FALSE;
    }
  return finish (d, verified, error);
}

static gboolean
download (Download  *d,
          gboolean  *verified,
          GError   **error)
{
  /* A second round only after the server showed the .part does not match its file. */
  for (guint round = 0; round < 2; round++)
    {
      g_autoptr(SoupMessage) msg = NULL;
      SoupMessageHeaders *headers;
      GInputStream *stream;
      guint64 offset;
      gboolean append = FALSE;
      gboolean ok;
      guint status;

      if (!part_size (d, &offset, error))
        return FALSE;
      if (d->size != 0 && offset > d->size)
        {
          delete_part (d);
          offset = 0;
        }
      /* A complete .part of a file whose checksum is known needs no server. */
      if (offset != 0 && offset == d->size && d->sha256 != NULL)
        {
          g_free (d->host);
          d->host = g_strdup ("the cache");
          return hash_part (d, offset, error) && finish (d, verified, error);
        }

      stream = send_request (d, offset, &msg, error);
      if (stream == NULL)
        return FALSE;
      status = soup_message_get_status (msg);
      headers = soup_message_get_response_headers (msg);

      if (status == SOUP_STATUS_REQUESTED_RANGE_NOT_SATISFIABLE && offset != 0)
        {
          /* The .part already holds the whole file, or is longer than the file. */
          guint64 length = unsatisfiable_length (headers);

          close_stream (stream);
          if (length != 0 && length != offset)
            {
              g_debug ("%s: the server's file has %" G_GUINT64_FORMAT " bytes, the .part %"
                       G_GUINT64_FORMAT ": starting over", d->name, length, offset);
              delete_part (d);
              continue;
            }
          return hash_part (d, offset, error) && finish (d, verified, error);
        }

      if (status == SOUP_STATUS_PARTIAL_CONTENT && offset != 0)
        {
          goffset start, end, length;

          if (!soup_message_headers_get_content_range (headers, &start, &end, &length) ||
              start != (goffset) offset)
            {
              g_debug ("%s: asked for bytes from %" G_GUINT64_FORMAT " on, got a range "
                       "that starts elsewhere: starting over", d->name, offset);
              close_stream (stream);
              delete_part (d);
              continue;
            }
          d->total = length > 0 ? (guint64) length : 0;
          append = TRUE;
        }
      else if (status == SOUP_STATUS_OK)
        {
          /* A whole file: also what a server that ignores Range sends. */
          if (soup_message_headers_get_encoding (headers) == SOUP_ENCODING_CONTENT_LENGTH)
            d->total = (guint64) soup_message_headers_get_content_length (headers);
        }
      else
        {
          close_stream (stream);
          return set_http_error (d, msg, error);
        }

      if (d->size != 0 && d->total != 0 && d->total != d->size)
        {
          close_stream (stream);
          delete_part (d);
          g_set_error (error, GRAFT_DOWNLOAD_ERROR, GRAFT_DOWNLOAD_ERROR_SIZE,
                       "Cannot download %s: %s offers a file of %" G_GUINT64_FORMAT
                       " bytes, but one of %" G_GUINT64_FORMAT " was expected. Check the "
                       "model's address, or " IMPORT_HINT ".",
                       d->name, d->host, d->total, d->size);
          return FALSE;
        }
      if (d->total == 0)
        d->total = d->size;

      if (append)
        {
          if (!hash_part (d, offset, error))
            {
              close_stream (stream);
              return FALSE;
            }
        }
      else
        {
          g_checksum_reset (d->checksum);
          d->received = 0;
        }

      ok = receive (d, stream, append, verified, error);
      close_stream (stream);
      return ok;
    }

  g_set_error (error, GRAFT_DOWNLOAD_ERROR, GRAFT_DOWNLOAD_ERROR_HTTP,
               "Cannot download %s: %s answers requests to resume it with another part of "
               "the file. Try again later, or " IMPORT_HINT ".", d->name, d->host);
  return FALSE;
}

gboolean
graft_download_file (const char             *url,
                     const char             *dest_path,
                     const char             *sha256,
                     guint64                 size,
                     gboolean               *verified,
                     GraftDownloadProgress   progress,
                     gpointer                user_data,
                     GCancellable           *cancellable,
                     GError                **error)
{
  Download d = { 0 };
  g_autofree char *dir = NULL;
  gboolean ok;

  g_return_val_if_fail (url != NULL, FALSE);
  g_return_val_if_fail (dest_path != NULL, FALSE);
  g_return_val_if_fail (sha256 == NULL || is_sha256_hex (sha256), FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (verified != NULL)
    *verified = FALSE;

  d.url = url;
  d.dest_path = dest_path;
  d.part_path = g_strconcat (dest_path, ".part", NULL);
  d.name = g_path_get_basename (dest_path);
  d.sha256 = sha256 != NULL ? g_ascii_strdown (sha256, -1) : NULL;
  d.size = size;
  d.size_from_caller = size != 0;
  d.progress = progress;
  d.user_data = user_data;
  d.cancellable = cancellable;
  d.checksum = g_checksum_new (G_CHECKSUM_SHA256);

  dir = g_path_get_dirname (dest_path);
  if (g_mkdir_with_parents (dir, 0755) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, GRAFT_DOWNLOAD_ERROR, GRAFT_DOWNLOAD_ERROR_WRITE,
                   "Cannot create the folder %s for %s (%s). Check that it can be "
                   "written, then download again.", dir, d.name, g_strerror (saved_errno));
      download_clear (&d);
      return FALSE;
    }

  d.session = soup_session_new_with_options ("user-agent", "graft/" GRAFT_VERSION,
                                             "timeout", IO_TIMEOUT_S,
                                             NULL);
  /* The bytes on disk are the bytes sent: no decoding that would shift a resume's offset. */
  soup_session_remove_feature_by_type (d.session, SOUP_TYPE_CONTENT_DECODER);

  ok = download (&d, verified, error);
  download_clear (&d);
  return ok;
}

/* ---- async -------------------------------------------------------------------------- */

typedef struct {
  char                  *url;
  char                  *dest_path;
  char                  *sha256;
  guint64                size;
  GraftDownloadProgress  progress;
  gpointer               progress_data;
  gboolean               verified;

  /* The latest progress, handed from the download thread to the caller's context. */
  GMutex                 lock;
  guint64                received;
  guint64                total;
  gboolean               pending;
} AsyncData;

static void
async_data_free (gpointer data)
{
  AsyncData *ad = data;

  g_free (ad->url);
  g_free (ad->dest_path);
  g_free (ad->sha256);
  g_mutex_clear (&ad->lock);
  g_free (ad);
}

static gboolean
async_progress_idle (gpointer data)
{
  GTask *task = data;
  AsyncData *ad = g_task_get_task_data (task);
  guint64 received, total;

  g_mutex_lock (&ad->lock);
  received = ad->received;
  total = ad->total;
  ad->pending = FALSE;
  g_mutex_unlock (&ad->lock);

  if (!g_task_get_completed (task))
    ad->progress (received, total, ad->progress_data);
  return G_SOURCE_REMOVE;
}

/* On the download thread: keep the latest numbers, and wake the caller's context only if
 * it has no call pending already. */
static void
async_progress (guint64  received,
                guint64  total,
                gpointer data)
{
  GTask *task = data;
  AsyncData *ad = g_task_get_task_data (task);
  gboolean schedule;

  g_mutex_lock (&ad->lock);
  ad->received = received;
  ad->total = total;
  schedule = !ad->pending;
  ad->pending = TRUE;
  g_mutex_unlock (&ad->lock);

  if (schedule)
    {
      GSource *source = g_idle_source_new ();

      /* The task's own priority, so that the last progress comes before the result. */
      g_source_set_priority (source, g_task_get_priority (task));
      g_source_set_callback (source, async_progress_idle, g_object_ref (task), g_object_unref);
      g_source_set_static_name (source, "[graft] download progress");
      g_source_attach (source, g_task_get_context (task));
      g_source_unref (source);
    }
}

static gpointer
async_thread (gpointer data)
{
  GTask *task = data;
  AsyncData *ad = g_task_get_task_data (task);
  GError *error = NULL;

  if (graft_download_file (ad->url, ad->dest_path, ad->sha256, ad->size, &ad->verified,
                           ad->progress != NULL ? async_progress : NULL, task,
                           g_task_get_cancellable (task), &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
  g_object_unref (task);
  return NULL;
}

void
graft_download_file_async (const char             *url,
                           const char             *dest_path,
                           const char             *sha256,
                           guint64                 size,
                           GraftDownloadProgress   progress,
                           gpointer                progress_data,
                           GCancellable           *cancellable,
                           GAsyncReadyCallback     callback,
                           gpointer                user_data)
{
  GTask *task;
  AsyncData *ad;

  g_return_if_fail (url != NULL);
  g_return_if_fail (dest_path != NULL);
  g_return_if_fail (sha256 == NULL || is_sha256_hex (sha256));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  ad = g_new0 (AsyncData, 1);
  ad->url = g_strdup (url);
  ad->dest_path = g_strdup (dest_path);
  ad->sha256 = g_strdup (sha256);
  ad->size = size;
  ad->progress = progress;
  ad->progress_data = progress_data;
  g_mutex_init (&ad->lock);

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, graft_download_file_async);
  g_task_set_name (task, "graft_download_file_async");
  g_task_set_task_data (task, ad, async_data_free);

  /* A thread of its own: a download may take minutes and must not hold a pool thread. */
  g_thread_unref (g_thread_new ("graft-download", async_thread, task));
}

gboolean
graft_download_file_finish (GAsyncResult  *result,
                            gboolean      *verified,
                            GError       **error)
{
  GTask *task = G_TASK (result);
  gboolean ok;

  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (task) == graft_download_file_async, FALSE);

  ok = g_task_propagate_boolean (task, error);
  if (verified != NULL)
    *verified = ok && ((AsyncData *) g_task_get_task_data (task))->verified;
  return ok;
}
