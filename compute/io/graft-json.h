/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>
#include <json-c/json.h>

G_BEGIN_DECLS

/* Words for messages about JSON files a person may edit: what @value is ("a number",
 * "a list", …) and what a field of @type must be ("a whole number", "an object", …). */
const char *graft_json_describe      (json_object *value);
const char *graft_json_describe_type (json_type    type);

G_END_DECLS
