/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-io"

#include <glib.h>

#include "graft-json.h"

const char *
graft_json_describe (json_object *value)
{
  switch (json_object_get_type (value))
    {
    case json_type_null: return "null";
    case json_type_boolean: return "true or false";
    case json_type_double:
    case json_type_int: return "a number";
    case json_type_object: return "an object";
    case json_type_array: return "a list";
    case json_type_string: return "a string";
    default: return "something else";
    }
}

const char *
graft_json_describe_type (json_type type)
{
  switch (type)
    {
    case json_type_object: return "an object";
    case json_type_array: return "a list";
    case json_type_string: return "a string";
    case json_type_int: return "a whole number";
    case json_type_double: return "a number";
    case json_type_boolean: return "true or false";
    default: return "something else";
    }
}
