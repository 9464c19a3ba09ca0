/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* The error domain of compute/data: datasets read from disk and image files written to it. */

#include <glib.h>

G_BEGIN_DECLS

#define GRAFT_DATA_ERROR (graft_data_error_quark ())
GQuark graft_data_error_quark (void);

typedef enum {
  GRAFT_DATA_ERROR_NOT_FOUND,    /* a dataset folder or file is missing */
  GRAFT_DATA_ERROR_READ,         /* a file exists but could not be read */
  GRAFT_DATA_ERROR_CORRUPT,      /* truncated, wrong magic, sizes that disagree */
  GRAFT_DATA_ERROR_WRITE,        /* an image or folder could not be written */
  GRAFT_DATA_ERROR_TOO_MANY,     /* more images were asked for than the source holds */
  GRAFT_DATA_ERROR_NOT_EMPTY,    /* a target folder holds files Graft did not write */
  GRAFT_DATA_ERROR_UNSUPPORTED,  /* an image format or layout Graft does not read */
  GRAFT_DATA_ERROR_TOO_LARGE,    /* an image beyond the pixel limit, refused unread */
  GRAFT_DATA_ERROR_PARSE,        /* a label file (CSV, YOLO, COCO) that does not parse */
  GRAFT_DATA_ERROR_INVALID,      /* a value given by the user that cannot be used (split fractions) */
} GraftDataError;

G_END_DECLS
