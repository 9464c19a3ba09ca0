/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-test"

/* safetensors files: what Graft writes reads back exactly, files written by other tools
 * (hand-built here byte by byte from the format's definition) load with every dtype,
 * and a damaged file is an error that names the file and the tensor, never a crash. */

#include <glib/gstdio.h>
#include <string.h>

#include "graft.h"

typedef struct {
  char *dir;
} Fixture;

static void
fixture_setup (Fixture       *fx,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  (void) data;
  fx->dir = g_dir_make_tmp ("graft-safetensors-XXXXXX", &error);
  g_assert_no_error (error);
}

static void
fixture_teardown (Fixture       *fx,
                  gconstpointer  data)
{
  g_autoptr(GDir) dir = g_dir_open (fx->dir, 0, NULL);
  const char *name;

  (void) data;
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (fx->dir, name, NULL);
      g_unlink (path);
    }
  g_rmdir (fx->dir);
  g_free (fx->dir);
}

/* Writes 8-byte length + @header + @data_len bytes of @data. */
static char *
write_raw (Fixture      *fx,
           const char   *name,
           const char   *header,
           const void   *data,
           gsize         data_len)
{
  g_autoptr(GError) error = NULL;
  char *path = g_build_filename (fx->dir, name, NULL);
  gsize header_len = strlen (header);
  guint64 len_le = GUINT64_TO_LE ((guint64) header_len);
  g_autoptr(GByteArray) bytes = g_byte_array_new ();

  g_byte_array_append (bytes, (const guint8 *) &len_le, 8);
  g_byte_array_append (bytes, (const guint8 *) header, (guint) header_len);
  if (data_len > 0)
    g_byte_array_append (bytes, data, (guint) data_len);
  g_file_set_contents (path, (const char *) bytes->data, bytes->len, &error);
  g_assert_no_error (error);
  return path;
}

static void
test_roundtrip (Fixture       *fx,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GraftSafetensorsWriter) writer = graft_safetensors_writer_new ();
  g_autoptr(GraftSafetensors) file = NULL;
  g_autofree char *path = g_build_filename (fx->dir, "model.safetensors", NULL);
  g_autofree char *contents = NULL;
  const gsize s3[] = { 3 }, s234[] = { 2, 3, 4 };
  const float scalar = 7.0f, bias[3] = { -1.5f, 0.0f, 3.25e-8f };
  float weight[24], back[24];
  const char * const *names;
  const GraftSafetensorsEntry *entry;
  gsize length;
  guint64 header_len;
  g_autoptr(GDir) dir = NULL;

  (void) data;
  for (guint i = 0; i < 24; i++)
    weight[i] = (float) i / 7.0f - 1.0f;

  g_assert_true (graft_safetensors_writer_add_f32 (writer, "fc.weight", 3, s234, weight, &error));
  g_assert_true (graft_safetensors_writer_add_f32 (writer, "fc.bias", 1, s3, bias, &error));
  g_assert_true (graft_safetensors_writer_add_f32 (writer, "bn.num_batches_tracked", 0, NULL, &scalar, &error));
  g_assert_no_error (error);
  g_assert_false (graft_safetensors_writer_add_f32 (writer, "fc.bias", 1, s3, bias, &error));
  g_assert_error (error, GRAFT_IO_ERROR, GRAFT_IO_ERROR_WRITE);
  g_clear_error (&error);
  graft_safetensors_writer_set_metadata (writer, "format", "pt");
  g_assert_true (graft_safetensors_writer_save (writer, path, &error));
  g_assert_no_error (error);

  /* the header is padded so the data is 8-byte aligned */
  g_assert_true (g_file_get_contents (path, &contents, &length, NULL));
  memcpy (&header_len, contents, 8);
  g_assert_cmpuint (GUINT64_FROM_LE (header_len) % 8, ==, 0);
  g_assert_cmpuint (length, ==, 8 + GUINT64_FROM_LE (header_len) + (24 + 3 + 1) * 4);

  /* no temporary file is left beside it */
  dir = g_dir_open (fx->dir, 0, NULL);
  g_assert_cmpstr (g_dir_read_name (dir), ==, "model.safetensors");
  g_assert_null (g_dir_read_name (dir));

  file = graft_safetensors_open (path, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (graft_safetensors_get_n_tensors (file), ==, 3);
  names = graft_safetensors_get_names (file);
  g_assert_cmpstr (names[0], ==, "fc.weight");
  g_assert_cmpstr (names[1], ==, "fc.bias");
  g_assert_cmpstr (names[2], ==, "bn.num_batches_tracked");
  g_assert_null (names[3]);
  g_assert_cmpstr (graft_safetensors_get_metadata (file, "format"), ==, "pt");
  g_assert_null (graft_safetensors_get_metadata (file, "nothing"));

  entry = graft_safetensors_lookup (file, "fc.weight");
  g_assert_nonnull (entry);
  g_assert_cmpint (entry->dtype, ==, GRAFT_DTYPE_F32);
  g_assert_cmpuint (entry->rank, ==, 3);
  g_assert_cmpuint (entry->shape[2], ==, 4);
  g_assert_cmpuint (entry->n_elements, ==, 24);
  g_assert_cmpuint (graft_safetensors_lookup (file, "bn.num_batches_tracked")->rank, ==, 0);

  g_assert_true (graft_safetensors_read_f32 (file, "fc.weight", 3, s234, back, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (back, sizeof weight, weight, sizeof weight);
  g_assert_true (graft_safetensors_read_f32 (file, "fc.bias", 1, s3, back, &error));
  g_assert_cmpmem (back, sizeof bias, bias, sizeof bias);
  g_assert_true (graft_safetensors_read_f32 (file, "bn.num_batches_tracked", 0, NULL, back, &error));
  g_assert_cmpfloat (back[0], ==, 7.0f);

  /* saving again replaces the file as a whole */
  g_clear_pointer (&file, graft_safetensors_free);
  g_assert_true (graft_safetensors_writer_save (writer, path, &error));
  file = graft_safetensors_open (path, &error);
  g_assert_no_error (error);
}

static void
test_dtypes (Fixture       *fx,
             gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GraftSafetensors) file = NULL;
  g_autofree char *path = NULL;
  /* F16: 1.0, -2.0, 65504 (largest), 2^-24 (smallest subnormal)
   * BF16: 1.0, -3.0   F64: 0.1   I64: -5   U8: 200   BOOL: 1, 0 */
  const guint8 bytes[] = {
    0x00, 0x3c, 0x00, 0xc0, 0xff, 0x7b, 0x01, 0x00,
    0x80, 0x3f, 0x40, 0xc0,
    0x9a, 0x99, 0x99, 0x99, 0x99, 0x99, 0xb9, 0x3f,
    0xfb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xc8,
    0x01, 0x00,
  };
  const char *header =
    "{\"h\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[0,8]},"
    "\"b\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[8,12]},"
    "\"d\":{\"dtype\":\"F64\",\"shape\":[],\"data_offsets\":[12,20]},"
    "\"i\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[20,28]},"
    "\"u\":{\"dtype\":\"U8\",\"shape\":[1,1],\"data_offsets\":[28,29]},"
    "\"t\":{\"dtype\":\"BOOL\",\"shape\":[2],\"data_offsets\":[29,31]}}  ";
  const gsize s4[] = { 4 }, s2[] = { 2 }, s1[] = { 1 }, s11[] = { 1, 1 };
  float out[4];

  (void) data;
  path = write_raw (fx, "dtypes.safetensors", header, bytes, sizeof bytes);
  file = graft_safetensors_open (path, &error);
  g_assert_no_error (error);

  g_assert_true (graft_safetensors_read_f32 (file, "h", 1, s4, out, &error));
  g_assert_cmpfloat (out[0], ==, 1.0f);
  g_assert_cmpfloat (out[1], ==, -2.0f);
  g_assert_cmpfloat (out[2], ==, 65504.0f);
  g_assert_cmpfloat (out[3], ==, 1.0f / 16777216.0f);
  g_assert_true (graft_safetensors_read_f32 (file, "b", 1, s2, out, &error));
  g_assert_cmpfloat (out[0], ==, 1.0f);
  g_assert_cmpfloat (out[1], ==, -3.0f);
  g_assert_true (graft_safetensors_read_f32 (file, "d", 0, NULL, out, &error));
  g_assert_cmpfloat (out[0], ==, 0.1f);
  g_assert_true (graft_safetensors_read_f32 (file, "i", 1, s1, out, &error));
  g_assert_cmpfloat (out[0], ==, -5.0f);
  g_assert_true (graft_safetensors_read_f32 (file, "u", 2, s11, out, &error));
  g_assert_cmpfloat (out[0], ==, 200.0f);
  g_assert_true (graft_safetensors_read_f32 (file, "t", 1, s2, out, &error));
  g_assert_cmpfloat (out[0], ==, 1.0f);
  g_assert_cmpfloat (out[1], ==, 0.0f);
  g_assert_no_error (error);
  g_assert_cmpint (graft_safetensors_lookup (file, "b")->dtype, ==, GRAFT_DTYPE_BF16);
}

static char *
write_small_model (Fixture *fx)
{
  g_autoptr(GraftSafetensorsWriter) writer = graft_safetensors_writer_new ();
  g_autoptr(GError) error = NULL;
  char *path = g_build_filename (fx->dir, "small.safetensors", NULL);
  const gsize s23[] = { 2, 3 }, s2[] = { 2 };
  const float w[6] = { 1, 2, 3, 4, 5, 6 }, b[2] = { 0.5f, -0.5f }, count = 3;

  graft_safetensors_writer_add_f32 (writer, "fc.weight", 2, s23, w, &error);
  graft_safetensors_writer_add_f32 (writer, "fc.bias", 1, s2, b, &error);
  graft_safetensors_writer_add_f32 (writer, "bn.num_batches_tracked", 0, NULL, &count, &error);
  graft_safetensors_writer_save (writer, path, &error);
  g_assert_no_error (error);
  return path;
}

static void
test_keys_and_shapes (Fixture       *fx,
                      gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = write_small_model (fx);
  g_autoptr(GraftSafetensors) file = graft_safetensors_open (path, &error);
  g_autoptr(GraftBackend) cpu = graft_backend_open ("cpu", NULL);
  const gsize s23[] = { 2, 3 }, s2[] = { 2 }, s32[] = { 3, 2 }, s5[] = { 5 };
  const char *ignore[] = { "num_batches_tracked", NULL };
  GraftSafetensorsSpec good[] = { { "fc.weight", 2, s23 }, { "fc.bias", 1, s2 } };
  GraftSafetensorsSpec missing[] = { { "fc.weight", 2, s23 }, { "fc.bias", 1, s2 }, { "head.weight", 1, s5 } };
  GraftSafetensorsSpec wrong[] = { { "fc.weight", 2, s32 }, { "fc.bias", 1, s2 } };
  GraftSafetensorsSpec fewer[] = { { "fc.weight", 2, s23 } };
  g_autoptr(GraftTensor) t = graft_tensor_new (cpu, 2, s23, NULL);
  g_autoptr(GraftTensor) t_wrong = graft_tensor_new (cpu, 2, s32, NULL);
  float back[6];

  (void) data;
  g_assert_no_error (error);

  g_assert_true (graft_safetensors_check_keys (file, good, 2, ignore, &error));
  g_assert_no_error (error);

  /* without the suffix rule the extra counter is a key the model does not have */
  g_assert_false (graft_safetensors_check_keys (file, good, 2, NULL, &error));
  g_assert_error (error, GRAFT_IO_ERROR, GRAFT_IO_ERROR_UNEXPECTED_KEY);
  g_assert_nonnull (strstr (error->message, "bn.num_batches_tracked"));
  g_clear_error (&error);

  g_assert_false (graft_safetensors_check_keys (file, missing, 3, ignore, &error));
  g_assert_error (error, GRAFT_IO_ERROR, GRAFT_IO_ERROR_MISSING_KEY);
  g_assert_nonnull (strstr (error->message, "head.weight"));
  g_assert_nonnull (strstr (error->message, "[5]"));
  g_clear_error (&error);

  g_assert_false (graft_safetensors_check_keys (file, wrong, 2, ignore, &error));
  g_assert_error (error, GRAFT_IO_ERROR, GRAFT_IO_ERROR_SHAPE);
  g_assert_nonnull (strstr (error->message, "fc.weight"));
  g_assert_nonnull (strstr (error->message, "[2, 3]"));
  g_assert_nonnull (strstr (error->message, "[3, 2]"));
  g_clear_error (&error);

  g_assert_false (graft_safetensors_check_keys (file, fewer, 1, ignore, &error));
  g_assert_error (error, GRAFT_IO_ERROR, GRAFT_IO_ERROR_UNEXPECTED_KEY);
  g_assert_nonnull (strstr (error->message, "fc.bias"));
  g_clear_error (&error);

  /* straight into a tensor of the backend */
  g_assert_true (graft_safetensors_load (file, "fc.weight", t, &error));
  g_assert_no_error (error);
  g_assert_true (graft_tensor_download (t, back, 6, &error));
  g_assert_cmpfloat (back[5], ==, 6.0f);
  g_assert_false (graft_safetensors_load (file, "fc.weight", t_wrong, &error));
  g_assert_error (error, GRAFT_IO_ERROR, GRAFT_IO_ERROR_SHAPE);
  g_clear_error (&error);
  g_assert_false (graft_safetensors_load (file, "fc.nothing", t, &error));
  g_assert_error (error, GRAFT_IO_ERROR, GRAFT_IO_ERROR_MISSING_KEY);
  g_assert_nonnull (strstr (error->message, path));
}

static void
test_truncated (Fixture       *fx,
                gconstpointer  data)
{
  g_autofree char *path = write_small_model (fx);
  g_autofree char *contents = NULL;
  g_autofree char *cut = g_build_filename (fx->dir, "cut.safetensors", NULL);
  gsize length;

  (void) data;
  g_assert_true (g_file_get_contents (path, &contents, &length, NULL));

  /* every proper prefix of a valid file is refused as corrupt, naming the file */
  for (gsize n = 0; n < length; n++)
    {
      g_autoptr(GError) error = NULL;
      GraftSafetensors *file;

      g_assert_true (g_file_set_contents (cut, contents, (gssize) n, NULL));
      file = graft_safetensors_open (cut, &error);
      g_assert_null (file);
      g_assert_error (error, GRAFT_IO_ERROR, GRAFT_IO_ERROR_CORRUPT);
      g_assert_nonnull (strstr (error->message, cut));
    }
}

typedef struct {
  const char *header;
  gsize       data_len;
  const char *expect;   /* a part of the message */
} BadCase;

static void
test_malformed (Fixture       *fx,
                gconstpointer  data)
{
  const guint8 zeros[64] = { 0 };
  const BadCase cases[] = {
    { "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]", 8, "not valid JSON" },
    { "[1,2,3]", 0, "not a JSON object" },
    { "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}} x", 8, "after the JSON" },
    { "{\"a\":{\"dtype\":\"Q4\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "unknown dtype" },
    { "{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8, "invalid shape" },
    { "{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, "lacks" },
    { "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, "needs 12 bytes" },
    { "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8, "invalid data_offsets" },
    { "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8, "truncated" },
    { "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
      "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, "overlap" },
    { "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
      "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,20]}}", 20, "belong to no tensor" },
    { "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 16, "after the last tensor" },
    { "{\"__metadata__\":{\"k\":3}}", 0, "metadata" },
  };

  (void) data;
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *name = g_strdup_printf ("bad%u.safetensors", i);
      g_autofree char *path = write_raw (fx, name, cases[i].header, zeros, cases[i].data_len);
      GraftSafetensors *file = graft_safetensors_open (path, &error);

      g_assert_null (file);
      g_assert_error (error, GRAFT_IO_ERROR, GRAFT_IO_ERROR_CORRUPT);
      if (strstr (error->message, cases[i].expect) == NULL)
        g_error ("case %u: “%s” does not mention “%s”", i, error->message, cases[i].expect);
    }
}

static void
test_header_length (Fixture       *fx,
                    gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = g_build_filename (fx->dir, "huge.safetensors", NULL);
  g_autofree char *missing = g_build_filename (fx->dir, "absent.safetensors", NULL);
  g_autofree char *nodir = g_build_filename (fx->dir, "no", "such", "dir.safetensors", NULL);
  g_autoptr(GraftSafetensorsWriter) writer = graft_safetensors_writer_new ();
  guint8 bytes[16] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, '{', '}' };

  (void) data;
  g_assert_true (g_file_set_contents (path, (const char *) bytes, sizeof bytes, NULL));
  g_assert_null (graft_safetensors_open (path, &error));
  g_assert_error (error, GRAFT_IO_ERROR, GRAFT_IO_ERROR_CORRUPT);
  g_assert_nonnull (strstr (error->message, "header claims"));
  g_clear_error (&error);

  g_assert_null (graft_safetensors_open (missing, &error));
  g_assert_error (error, GRAFT_IO_ERROR, GRAFT_IO_ERROR_READ);
  g_assert_nonnull (strstr (error->message, missing));
  g_clear_error (&error);

  g_assert_false (graft_safetensors_writer_save (writer, nodir, &error));
  g_assert_error (error, GRAFT_IO_ERROR, GRAFT_IO_ERROR_WRITE);
  g_assert_nonnull (strstr (error->message, nodir));
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) g_test_add (path, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("/safetensors/roundtrip", test_roundtrip);
  ADD ("/safetensors/dtypes", test_dtypes);
  ADD ("/safetensors/keys-and-shapes", test_keys_and_shapes);
  ADD ("/safetensors/truncated", test_truncated);
  ADD ("/safetensors/malformed", test_malformed);
  ADD ("/safetensors/header-length", test_header_length);
#undef ADD

  return g_test_run ();
}
