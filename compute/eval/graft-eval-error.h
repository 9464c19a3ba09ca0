/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* The error domain of compute/eval: what a trained model got right and wrong. */

#include <glib.h>

G_BEGIN_DECLS

#define GRAFT_EVAL_ERROR (graft_eval_error_quark ())
GQuark graft_eval_error_quark (void);

typedef enum {
  GRAFT_EVAL_ERROR_INVALID,  /* results that cannot be evaluated: no images, a label out of
                              * range, a probability that is not one */
  GRAFT_EVAL_ERROR_PARSE,    /* saved metrics with a field missing, of the wrong kind or
                              * inconsistent with the others */
  GRAFT_EVAL_ERROR_VERSION,  /* saved metrics written by a newer Graft */
} GraftEvalError;

G_END_DECLS
