/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-data"

#include "graft-data-error.h"

G_DEFINE_QUARK (graft-data-error-quark, graft_data_error)
