/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* Downloads of pre-trained weights into the user's cache, over HTTP(S) with libsoup.
 *
 * The bytes go to "DEST.part" first; the file appears under its real name only once it is
 * complete and its size and SHA-256 (when known) are right, so a model never loads half a
 * download. An interrupted or cancelled download keeps its .part, and the next call for
 * the same destination resumes it with a Range request; a .part whose content turns out to
 * be wrong is deleted, never resumed.
 *
 * Hubs that keep weights in Git LFS (Hugging Face) answer a "resolve" address with a
 * redirect whose X-Linked-ETag header is the file's SHA-256 and X-Linked-Size its size;
 * when the caller knows no SHA-256, that one is checked instead. */

#include <gio/gio.h>

G_BEGIN_DECLS

#define GRAFT_DOWNLOAD_ERROR (graft_download_error_quark ())
GQuark graft_download_error_quark (void);

typedef enum {
  GRAFT_DOWNLOAD_ERROR_UNREACHABLE,  /* no answer: DNS, refused, offline, TLS, timeout */
  GRAFT_DOWNLOAD_ERROR_HTTP,         /* a 4xx/5xx answer, a bad redirect or odd reply */
  GRAFT_DOWNLOAD_ERROR_CHECKSUM,     /* complete, but the SHA-256 is wrong (.part deleted) */
  GRAFT_DOWNLOAD_ERROR_SIZE,         /* complete, but the size is wrong (.part deleted) */
  GRAFT_DOWNLOAD_ERROR_INTERRUPTED,  /* the connection dropped mid-file (.part kept) */
  GRAFT_DOWNLOAD_ERROR_WRITE,        /* the cache folder or file cannot be written */
} GraftDownloadError;

/* @received bytes of @total (0 when the server does not say) are on disk, counting a
 * resumed .part. Called at most about ten times a second, and once more when the last
 * byte has arrived. */
typedef void (*GraftDownloadProgress) (guint64  received,
                                       guint64  total,
                                       gpointer user_data);

/* $XDG_CACHE_HOME/graft/models. Not created here: a download creates the folder of its
 * destination. Free with g_free(). */
char    *graft_download_cache_dir    (void);

/* Downloads @url to @dest_path, blocking: call it from a worker thread.
 *
 * @sha256: the file's SHA-256 as 64 hex digits, or NULL to take it from the hub's
 *   X-Linked-ETag header (and to download unverified where there is none).
 * @size: the file's size in bytes, or 0 if unknown.
 * @verified: (out) (optional): TRUE when the file's SHA-256 was checked; FALSE when
 *   neither the caller nor the server knew it, which the user should be told.
 * @progress: (nullable): called on the calling thread with @user_data.
 *
 * Errors are in GRAFT_DOWNLOAD_ERROR, or G_IO_ERROR_CANCELLED when @cancellable was
 * cancelled (the .part is kept for a later resume). */
gboolean graft_download_file         (const char             *url,
                                      const char             *dest_path,
                                      const char             *sha256,
                                      guint64                 size,
                                      gboolean               *verified,
                                      GraftDownloadProgress   progress,
                                      gpointer                user_data,
                                      GCancellable           *cancellable,
                                      GError                **error);

/* The same on a thread of its own; @callback runs in the thread-default main context of
 * the caller. @progress, if not NULL, is called in that context too, with @progress_data,
 * coalesced (one pending call at most) and never after @callback: @progress_data must
 * live until then. */
void     graft_download_file_async   (const char             *url,
                                      const char             *dest_path,
                                      const char             *sha256,
                                      guint64                 size,
                                      GraftDownloadProgress   progress,
                                      gpointer                progress_data,
                                      GCancellable           *cancellable,
                                      GAsyncReadyCallback     callback,
                                      gpointer                user_data);
gboolean graft_download_file_finish  (GAsyncResult           *result,
                                      gboolean               *verified,
                                      GError                **error);

G_END_DECLS
