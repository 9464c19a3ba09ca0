/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-eval"

#include "graft-eval-error.h"

G_DEFINE_QUARK (graft-eval-error-quark, graft_eval_error)
