/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-nn"

/* The model graph: building, parameters and their names, freezing, weights, and the
 * passes over the layers. What each kind of layer does is in graft-model-run.c. */

#include <math.h>
#include <string.h>

#include "graft-model-private.h"
#include "tensor/graft-ops-loss.h"

G_DEFINE_QUARK (graft-model-error-quark, graft_model_error)

static void
node_clear (gpointer data)
{
  GraftNode *node = data;

  g_free (node->name);
  g_free (node->inputs);
  g_clear_pointer (&node->y, graft_tensor_unref);
  g_clear_pointer (&node->dy, graft_tensor_unref);
  g_clear_pointer (&node->scratch, graft_tensor_unref);
  for (guint i = 0; i < GRAFT_NODE_MAX_AUX; i++)
    {
      g_clear_pointer (&node->aux[i], graft_tensor_unref);
      g_clear_pointer (&node->aux_grad[i], graft_tensor_unref);
    }
}

static void
param_free (gpointer data)
{
  GraftParam *param = data;

  g_free (param->name);
  g_clear_pointer (&param->value, graft_tensor_unref);
  g_clear_pointer (&param->grad_row, graft_tensor_unref);
  g_clear_pointer (&param->grad, graft_tensor_unref);
  g_free (param);
}

GraftModel *
graft_model_new (GraftBackend *backend,
                 const char   *arch,
                 guint         in_channels,
                 guint64       seed)
{
  GraftModel *self;
  GraftNode input = { 0 };

  g_return_val_if_fail (backend != NULL, NULL);
  g_return_val_if_fail (arch != NULL, NULL);
  g_return_val_if_fail (in_channels > 0, NULL);

  self = g_new0 (GraftModel, 1);
  self->ref_count = 1;
  self->backend = graft_backend_ref (backend);
  self->arch = g_strdup (arch);
  self->in_channels = in_channels;
  self->rand = g_rand_new_with_seed_array ((const guint32[]) { (guint32) seed, (guint32) (seed >> 32) }, 2);
  self->dropout_enabled = TRUE;
  self->blocks = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (self->blocks, g_strdup ("stem"));
  g_ptr_array_add (self->blocks, NULL);
  self->nodes = g_array_new (FALSE, TRUE, sizeof (GraftNode));
  g_array_set_clear_func (self->nodes, node_clear);
  self->params = g_ptr_array_new_with_free_func (param_free);
  self->param_index = g_hash_table_new (g_str_hash, g_str_equal);
  self->output = -1;

  input.kind = GRAFT_NODE_INPUT;
  input.channels = in_channels;
  for (guint i = 0; i < GRAFT_NODE_MAX_PARAMS; i++)
    input.params[i] = -1;
  g_array_append_val (self->nodes, input);
  return self;
}

GraftModel *
graft_model_ref (GraftModel *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  g_atomic_int_inc (&self->ref_count);
  return self;
}

void
graft_model_unref (GraftModel *self)
{
  if (self == NULL || !g_atomic_int_dec_and_test (&self->ref_count))
    return;

  _graft_model_step_reset (self);
  g_clear_pointer (&self->step.keys, graft_tensor_unref);
  g_array_unref (self->nodes);
  g_hash_table_unref (self->param_index);
  g_ptr_array_unref (self->params);
  g_ptr_array_unref (self->blocks);
  g_clear_pointer (&self->ones_batch, graft_tensor_unref);
  g_clear_pointer (&self->loss, graft_tensor_unref);
  g_clear_pointer (&self->losses, graft_tensor_unref);
  g_rand_free (self->rand);
  g_free (self->arch);
  graft_backend_unref (self->backend);
  g_free (self);
}

void
graft_model_begin_block (GraftModel *self,
                         const char *block)
{
  g_return_if_fail (self != NULL);
  g_return_if_fail (block != NULL);

  for (guint i = 0; i + 1 < self->blocks->len; i++)
    if (g_str_equal (g_ptr_array_index (self->blocks, i), block))
      {
        self->current_block = i;
        return;
      }
  /* A builder that names its first block before adding a layer ("features.0") renames
   * the implicit "stem", which would otherwise be offered for freezing and hold nothing. */
  if (self->nodes->len == 1 && self->params->len == 0 && self->blocks->len == 2)
    {
      g_free (self->blocks->pdata[0]);
      self->blocks->pdata[0] = g_strdup (block);
      self->current_block = 0;
      return;
    }
  /* keep the NULL terminator last */
  self->blocks->pdata[self->blocks->len - 1] = g_strdup (block);
  g_ptr_array_add (self->blocks, NULL);
  self->current_block = self->blocks->len - 2;
}

/* ---- building ---------------------------------------------------------------------- */

static float
rand_normal (GRand *rand)
{
  /* Box-Muller; 1 - u keeps the logarithm finite */
  double u = 1.0 - g_rand_double (rand);
  double v = g_rand_double (rand);

  return (float) (sqrt (-2.0 * log (u)) * cos (2.0 * G_PI * v));
}

typedef enum {
  INIT_ZEROS,
  INIT_ONES,
  INIT_NORMAL,    /* std a */
  INIT_UNIFORM,   /* in [-a, a] */
} InitKind;

static int
add_param (GraftModel  *self,
           const char  *node_name,
           const char  *suffix,
           guint        rank,
           const gsize *shape,
           gboolean     is_buffer,
           InitKind     init,
           double       a)
{
  g_autoptr(GError) error = NULL;
  g_autofree float *data = NULL;
  GraftParam *param;
  gsize n = 1;

  param = g_new0 (GraftParam, 1);
  param->name = node_name != NULL && *node_name != '\0'
                  ? g_strconcat (node_name, ".", suffix, NULL) : g_strdup (suffix);
  param->block = self->current_block;
  param->rank = rank;
  memcpy (param->shape, shape, rank * sizeof (gsize));
  param->is_buffer = is_buffer;
  param->trainable = !is_buffer;

  if (g_hash_table_contains (self->param_index, param->name))
    {
      g_critical ("%s: parameter %s defined twice", self->arch, param->name);
      param_free (param);
      self->broken = TRUE;
      return -1;
    }

  for (guint i = 0; i < rank; i++)
    n *= shape[i];
  data = g_new (float, n);
  for (gsize i = 0; i < n; i++)
    switch (init)
      {
      case INIT_ZEROS:   data[i] = 0.0f; break;
      case INIT_ONES:    data[i] = 1.0f; break;
      case INIT_NORMAL:  data[i] = (float) a * rand_normal (self->rand); break;
      case INIT_UNIFORM: data[i] = (float) g_rand_double_range (self->rand, -a, a); break;
      default:           g_assert_not_reached ();
      }

  param->value = graft_tensor_new (self->backend, rank, shape, &error);
  if (param->value == NULL ||
      !graft_tensor_upload (param->value, data, n, &error))
    {
      g_warning ("%s: cannot create %s: %s", self->arch, param->name, error->message);
      param_free (param);
      self->broken = TRUE;
      return -1;
    }
  graft_tensor_set_name (param->value, param->name);

  g_ptr_array_add (self->params, param);
  g_hash_table_insert (self->param_index, param->name, GUINT_TO_POINTER (self->params->len));
  return self->params->len - 1;
}

static gboolean
input_ok (GraftModel *self,
          int         input)
{
  if (input >= 0 && (guint) input < self->nodes->len && !self->finished)
    return TRUE;
  g_critical ("%s: layer input %d does not exist", self->arch, input);
  self->broken = TRUE;
  return FALSE;
}

/* Appends a node reading @inputs; its shape facts start as those of the first input. */
static int
add_node (GraftModel    *self,
          GraftNodeKind  kind,
          const char    *name,
          const int     *inputs,
          guint          n_inputs,
          GraftNode    **out)
{
  GraftNode node = { 0 };
  const GraftNode *first;

  for (guint i = 0; i < n_inputs; i++)
    if (!input_ok (self, inputs[i]))
      return -1;

  first = _graft_model_node (self, inputs[0]);
  node.kind = kind;
  node.name = g_strdup (name);
  node.block = self->current_block;
  node.inputs = g_memdup2 (inputs, n_inputs * sizeof (int));
  node.n_inputs = n_inputs;
  node.channels = first->channels;
  node.tokens = first->tokens;
  node.flat = first->flat;
  node.fixed_h = first->fixed_h;
  node.fixed_w = first->fixed_w;
  for (guint i = 0; i < GRAFT_NODE_MAX_PARAMS; i++)
    node.params[i] = -1;
  for (guint i = 0; i < n_inputs; i++)
    _graft_model_node (self, inputs[i])->n_consumers++;

  g_array_append_val (self->nodes, node);
  *out = _graft_model_node (self, self->nodes->len - 1);
  return self->nodes->len - 1;
}

static gboolean
needs_nchw (GraftModel *self,
            int         input,
            const char *what)
{
  const GraftNode *node = _graft_model_node (self, input);

  if (!node->tokens && !node->flat)
    return TRUE;
  g_critical ("%s: %s needs an [N, C, H, W] input", self->arch, what);
  self->broken = TRUE;
  return FALSE;
}

int
graft_model_add_conv2d (GraftModel *self,
                        const char *name,
                        int         input,
                        guint       out_channels,
                        guint       kernel,
                        guint       stride,
                        guint       padding,
                        guint       dilation,
                        guint       groups,
                        gboolean    bias)
{
  GraftNode *node;
  guint in_channels;
  int index;

  g_return_val_if_fail (self != NULL && name != NULL, -1);
  if (!input_ok (self, input) || !needs_nchw (self, input, "conv2d"))
    return -1;
  in_channels = _graft_model_node (self, input)->channels;
  if (groups == 0 || in_channels % groups != 0 || out_channels % groups != 0 ||
      kernel == 0 || stride == 0 || dilation == 0)
    {
      g_critical ("%s: %s: bad convolution (%u -> %u channels, %u groups)", self->arch,
                  name, in_channels, out_channels, groups);
      self->broken = TRUE;
      return -1;
    }

  index = add_node (self, GRAFT_NODE_CONV, name, &input, 1, &node);
  graft_conv2d_params_init (&node->conv);
  node->conv.stride_h = node->conv.stride_w = stride;
  node->conv.pad_h = node->conv.pad_w = padding;
  node->conv.dilation_h = node->conv.dilation_w = dilation;
  node->conv.groups = groups;
  node->channels = out_channels;
  node->fixed_h = node->fixed_w = 0;

  {
    gsize shape[4] = { out_channels, in_channels / groups, kernel, kernel };
    /* torchvision's kaiming_normal_ (mode="fan_out", nonlinearity="relu") */
    double std = sqrt (2.0 / ((double) out_channels * kernel * kernel));
    int w = add_param (self, name, "weight", 4, shape, FALSE, INIT_NORMAL, std);
    int b = bias ? add_param (self, name, "bias", 1, shape, FALSE, INIT_ZEROS, 0) : -1;

    node = _graft_model_node (self, index);
    node->params[0] = w;
    node->params[1] = b;
  }
  return index;
}

int
graft_model_add_batch_norm2d (GraftModel *self,
                              const char *name,
                              int         input,
                              float       eps,
                              float       momentum)
{
  GraftNode *node;
  gsize shape[1];
  int index;

  g_return_val_if_fail (self != NULL && name != NULL, -1);
  if (!input_ok (self, input) || !needs_nchw (self, input, "batch_norm2d"))
    return -1;

  index = add_node (self, GRAFT_NODE_BATCH_NORM, name, &input, 1, &node);
  graft_norm_params_init (&node->norm);
  node->norm.eps = eps;
  node->norm.momentum = momentum;
  shape[0] = node->channels;
  {
    int w = add_param (self, name, "weight", 1, shape, FALSE, INIT_ONES, 0);
    int b = add_param (self, name, "bias", 1, shape, FALSE, INIT_ZEROS, 0);
    int rm = add_param (self, name, "running_mean", 1, shape, TRUE, INIT_ZEROS, 0);
    int rv = add_param (self, name, "running_var", 1, shape, TRUE, INIT_ONES, 0);

    node = _graft_model_node (self, index);
    node->params[0] = w;
    node->params[1] = b;
    node->params[2] = rm;
    node->params[3] = rv;
  }
  return index;
}

int
graft_model_add_activation (GraftModel      *self,
                            int              input,
                            GraftActivation  act)
{
  GraftNode *node;
  int index;

  g_return_val_if_fail (self != NULL, -1);
  index = add_node (self, GRAFT_NODE_ACTIVATION, NULL, &input, 1, &node);
  if (index >= 0)
    node->act = act;
  return index;
}

static int
add_pool (GraftModel              *self,
          GraftNodeKind            kind,
          int                      input,
          const GraftPool2dParams *params)
{
  GraftNode *node;
  int index;

  if (!input_ok (self, input) || !needs_nchw (self, input, "pooling"))
    return -1;
  index = add_node (self, kind, NULL, &input, 1, &node);
  node->pool = *params;
  node->fixed_h = node->fixed_w = 0;
  return index;
}

int
graft_model_add_max_pool2d (GraftModel              *self,
                            int                      input,
                            const GraftPool2dParams *params)
{
  g_return_val_if_fail (self != NULL && params != NULL, -1);
  return add_pool (self, GRAFT_NODE_MAX_POOL, input, params);
}

int
graft_model_add_avg_pool2d (GraftModel              *self,
                            int                      input,
                            const GraftPool2dParams *params)
{
  g_return_val_if_fail (self != NULL && params != NULL, -1);
  return add_pool (self, GRAFT_NODE_AVG_POOL, input, params);
}

int
graft_model_add_adaptive_avg_pool2d (GraftModel *self,
                                     int         input,
                                     guint       out_h,
                                     guint       out_w)
{
  GraftNode *node;
  int index;

  g_return_val_if_fail (self != NULL && out_h > 0 && out_w > 0, -1);
  if (!input_ok (self, input) || !needs_nchw (self, input, "adaptive pooling"))
    return -1;
  index = add_node (self, GRAFT_NODE_ADAPTIVE_POOL, NULL, &input, 1, &node);
  node->fixed_h = out_h;
  node->fixed_w = out_w;
  return index;
}

int
graft_model_add_add (GraftModel *self,
                     int         a,
                     int         b)
{
  GraftNode *node;

  g_return_val_if_fail (self != NULL, -1);
  return add_node (self, GRAFT_NODE_ADD, NULL, (const int[]) { a, b }, 2, &node);
}

int
graft_model_add_scale_channels (GraftModel *self,
                                int         x,
                                int         s)
{
  GraftNode *node;

  g_return_val_if_fail (self != NULL, -1);
  if (!input_ok (self, x) || !input_ok (self, s) || !needs_nchw (self, x, "scale_channels"))
    return -1;
  return add_node (self, GRAFT_NODE_SCALE_CHANNELS, NULL, (const int[]) { x, s }, 2, &node);
}

int
graft_model_add_concat (GraftModel *self,
                        const int  *inputs,
                        guint       n_inputs)
{
  GraftNode *node;
  guint channels = 0;
  int index;

  g_return_val_if_fail (self != NULL && inputs != NULL && n_inputs > 0, -1);
  for (guint i = 0; i < n_inputs; i++)
    {
      if (!input_ok (self, inputs[i]) || !needs_nchw (self, inputs[i], "concat"))
        return -1;
      channels += _graft_model_node (self, inputs[i])->channels;
    }
  index = add_node (self, GRAFT_NODE_CONCAT, NULL, inputs, n_inputs, &node);
  node->channels = channels;
  return index;
}

int
graft_model_add_flatten (GraftModel *self,
                         int         input)
{
  const GraftNode *in;
  GraftNode *node;
  int index;

  g_return_val_if_fail (self != NULL, -1);
  if (!input_ok (self, input) || !needs_nchw (self, input, "flatten"))
    return -1;
  in = _graft_model_node (self, input);
  if (in->fixed_h == 0)
    {
      g_critical ("%s: flatten needs an input of fixed size (after adaptive pooling)", self->arch);
      self->broken = TRUE;
      return -1;
    }
  index = add_node (self, GRAFT_NODE_FLATTEN, NULL, &input, 1, &node);
  node->channels = in->channels * in->fixed_h * in->fixed_w;
  node->flat = TRUE;
  return index;
}

int
graft_model_add_linear (GraftModel *self,
                        const char *name,
                        int         input,
                        guint       out_features,
                        gboolean    bias)
{
  GraftNode *node;
  guint in_features;
  int index;

  g_return_val_if_fail (self != NULL && name != NULL && out_features > 0, -1);
  if (!input_ok (self, input))
    return -1;
  if (!_graft_model_node (self, input)->tokens && !_graft_model_node (self, input)->flat)
    {
      g_critical ("%s: %s: linear needs a [N, F] or [N, L, F] input", self->arch, name);
      self->broken = TRUE;
      return -1;
    }
  in_features = _graft_model_node (self, input)->channels;
  index = add_node (self, GRAFT_NODE_LINEAR, name, &input, 1, &node);
  node->channels = out_features;
  {
    gsize shape[2] = { out_features, in_features };
    /* PyTorch's nn.Linear default: kaiming_uniform_ (a = sqrt 5) for the weight, which is
     * uniform within 1 / sqrt (fan_in), and the same bound for the bias */
    double bound = 1.0 / sqrt ((double) in_features);
    int w = add_param (self, name, "weight", 2, shape, FALSE, INIT_UNIFORM, bound);
    int b = bias ? add_param (self, name, "bias", 1, shape, FALSE, INIT_UNIFORM, bound) : -1;

    node = _graft_model_node (self, index);
    node->params[0] = w;
    node->params[1] = b;
  }
  return index;
}

int
graft_model_add_dropout (GraftModel *self,
                         int         input,
                         float       p)
{
  GraftNode *node;
  int index;

  g_return_val_if_fail (self != NULL && p >= 0.0f && p <= 1.0f, -1);
  index = add_node (self, GRAFT_NODE_DROPOUT, NULL, &input, 1, &node);
  if (index >= 0)
    node->p = p;
  return index;
}

int
graft_model_add_stochastic_depth (GraftModel *self,
                                  int         input,
                                  float       p)
{
  GraftNode *node;
  int index;

  g_return_val_if_fail (self != NULL && p >= 0.0f && p <= 1.0f, -1);
  if (!input_ok (self, input) || !needs_nchw (self, input, "stochastic depth"))
    return -1;
  index = add_node (self, GRAFT_NODE_STOCHASTIC_DEPTH, NULL, &input, 1, &node);
  node->p = p;
  return index;
}

int
graft_model_add_layer_norm (GraftModel *self,
                            const char *name,
                            int         input,
                            float       eps)
{
  GraftNode *node;
  gsize shape[1];
  int index;

  g_return_val_if_fail (self != NULL && name != NULL, -1);
  if (!input_ok (self, input))
    return -1;
  if (!_graft_model_node (self, input)->tokens && !_graft_model_node (self, input)->flat)
    {
      g_critical ("%s: %s: layer norm needs a [N, F] or [N, L, F] input", self->arch, name);
      self->broken = TRUE;
      return -1;
    }
  index = add_node (self, GRAFT_NODE_LAYER_NORM, name, &input, 1, &node);
  node->norm.eps = eps;
  shape[0] = node->channels;
  {
    int w = add_param (self, name, "weight", 1, shape, FALSE, INIT_ONES, 0);
    int b = add_param (self, name, "bias", 1, shape, FALSE, INIT_ZEROS, 0);

    node = _graft_model_node (self, index);
    node->params[0] = w;
    node->params[1] = b;
  }
  return index;
}

int
graft_model_add_patch_tokens (GraftModel *self,
                              int         input)
{
  GraftNode *node;
  int index;

  g_return_val_if_fail (self != NULL, -1);
  if (!input_ok (self, input) || !needs_nchw (self, input, "patch tokens"))
    return -1;
  index = add_node (self, GRAFT_NODE_PATCH_TOKENS, NULL, &input, 1, &node);
  node->tokens = TRUE;
  return index;
}

static gboolean
needs_tokens (GraftModel *self,
              int         input,
              const char *what)
{
  if (!input_ok (self, input))
    return FALSE;
  if (_graft_model_node (self, input)->tokens)
    return TRUE;
  g_critical ("%s: %s needs an [N, L, E] input", self->arch, what);
  self->broken = TRUE;
  return FALSE;
}

int
graft_model_add_class_token (GraftModel *self,
                             const char *name,
                             int         input)
{
  GraftNode *node;
  int index, p;

  g_return_val_if_fail (self != NULL && name != NULL, -1);
  if (!needs_tokens (self, input, "class token"))
    return -1;
  index = add_node (self, GRAFT_NODE_CLASS_TOKEN, name, &input, 1, &node);
  p = add_param (self, NULL, name, 3, (const gsize[]) { 1, 1, node->channels }, FALSE,
                 INIT_ZEROS, 0);
  _graft_model_node (self, index)->params[0] = p;
  return index;
}

int
graft_model_add_position_embedding (GraftModel *self,
                                    const char *name,
                                    int         input,
                                    guint       length)
{
  GraftNode *node;
  int index, p;

  g_return_val_if_fail (self != NULL && name != NULL && length > 0, -1);
  if (!needs_tokens (self, input, "position embedding"))
    return -1;
  index = add_node (self, GRAFT_NODE_POSITION_EMBEDDING, name, &input, 1, &node);
  node->length = length;
  /* torchvision: normal with std 0.02 */
  p = add_param (self, NULL, name, 3, (const gsize[]) { 1, length, node->channels }, FALSE,
                 INIT_NORMAL, 0.02);
  _graft_model_node (self, index)->params[0] = p;
  return index;
}

int
graft_model_add_self_attention (GraftModel *self,
                                const char *name,
                                int         input,
                                guint       n_heads)
{
  GraftNode *node;
  guint e;
  int index;

  g_return_val_if_fail (self != NULL && name != NULL && n_heads > 0, -1);
  if (!needs_tokens (self, input, "self-attention"))
    return -1;
  e = _graft_model_node (self, input)->channels;
  if (e % n_heads != 0)
    {
      g_critical ("%s: %s: %u heads do not divide %u features", self->arch, name, n_heads, e);
      self->broken = TRUE;
      return -1;
    }
  index = add_node (self, GRAFT_NODE_SELF_ATTENTION, name, &input, 1, &node);
  node->heads = n_heads;
  {
    /* nn.MultiheadAttention: xavier_uniform_ in-projection, zero biases, and the
     * out-projection a default nn.Linear with its bias zeroed */
    double xavier = sqrt (6.0 / (3.0 * e + e));
    double bound = 1.0 / sqrt ((double) e);
    g_autofree char *out_proj = g_strconcat (name, ".out_proj", NULL);
    int w_in = add_param (self, name, "in_proj_weight", 2, (const gsize[]) { 3 * e, e },
                          FALSE, INIT_UNIFORM, xavier);
    int b_in = add_param (self, name, "in_proj_bias", 1, (const gsize[]) { 3 * e },
                          FALSE, INIT_ZEROS, 0);
    int w_out = add_param (self, out_proj, "weight", 2, (const gsize[]) { e, e },
                           FALSE, INIT_UNIFORM, bound);
    int b_out = add_param (self, out_proj, "bias", 1, (const gsize[]) { e },
                           FALSE, INIT_ZEROS, 0);

    node = _graft_model_node (self, index);
    node->params[0] = w_in;
    node->params[1] = b_in;
    node->params[2] = w_out;
    node->params[3] = b_out;
  }
  return index;
}

int
graft_model_add_first_token (GraftModel *self,
                             int         input)
{
  GraftNode *node;
  int index;

  g_return_val_if_fail (self != NULL, -1);
  if (!needs_tokens (self, input, "first token"))
    return -1;
  index = add_node (self, GRAFT_NODE_FIRST_TOKEN, NULL, &input, 1, &node);
  node->tokens = FALSE;
  node->flat = TRUE;
  return index;
}

gboolean
graft_model_finish (GraftModel  *self,
                    int          output,
                    GError     **error)
{
  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (self->broken || output < 1 || (guint) output >= self->nodes->len)
    {
      g_set_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_ARCH,
                   "Building %s failed: a layer could not be created", self->arch);
      return FALSE;
    }
  if (!_graft_model_node (self, output)->flat)
    {
      g_set_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_ARCH,
                   "Building %s failed: its output is not [N, classes]", self->arch);
      return FALSE;
    }
  self->output = output;
  self->n_classes = _graft_model_node (self, output)->channels;
  self->finished = TRUE;
  return TRUE;
}

/* ---- inspecting ---------------------------------------------------------------------- */

const char *
graft_model_get_arch (GraftModel *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->arch;
}

GraftBackend *
graft_model_get_backend (GraftModel *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->backend;
}

guint
graft_model_get_in_channels (GraftModel *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return self->in_channels;
}

guint
graft_model_get_n_classes (GraftModel *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return self->n_classes;
}

guint
graft_model_get_n_params (GraftModel *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return self->params->len;
}

const GraftParamInfo *
graft_model_get_param (GraftModel *self,
                       guint       index)
{
  GraftParam *param;

  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (index < self->params->len, NULL);

  param = g_ptr_array_index (self->params, index);
  param->info.name = param->name;
  param->info.block = g_ptr_array_index (self->blocks, param->block);
  param->info.value = param->value;
  param->info.grad = param->grad;
  param->info.is_buffer = param->is_buffer;
  param->info.trainable = param->trainable;
  return &param->info;
}

const GraftParamInfo *
graft_model_find_param (GraftModel *self,
                        const char *name)
{
  guint index;

  g_return_val_if_fail (self != NULL && name != NULL, NULL);

  index = GPOINTER_TO_UINT (g_hash_table_lookup (self->param_index, name));
  return index == 0 ? NULL : graft_model_get_param (self, index - 1);
}

gsize
graft_model_count_parameters (GraftModel *self,
                              gsize      *trainable,
                              gsize      *frozen)
{
  gsize on = 0, off = 0;

  g_return_val_if_fail (self != NULL, 0);

  for (guint i = 0; i < self->params->len; i++)
    {
      GraftParam *param = g_ptr_array_index (self->params, i);

      if (param->is_buffer)
        continue;
      if (param->trainable)
        on += graft_tensor_get_n_elements (param->value);
      else
        off += graft_tensor_get_n_elements (param->value);
    }
  if (trainable != NULL)
    *trainable = on;
  if (frozen != NULL)
    *frozen = off;
  return on + off;
}

const char *const *
graft_model_get_blocks (GraftModel *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return (const char *const *) self->blocks->pdata;
}

gboolean
graft_model_set_trainable (GraftModel  *self,
                           const char  *name,
                           gboolean     trainable,
                           GError     **error)
{
  gsize len;
  gboolean found = FALSE;

  g_return_val_if_fail (self != NULL && name != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  len = strlen (name);
  for (guint i = 0; i < self->params->len; i++)
    {
      GraftParam *param = g_ptr_array_index (self->params, i);

      if (g_str_equal (g_ptr_array_index (self->blocks, param->block), name) ||
          (strncmp (param->name, name, len) == 0 && param->name[len] == '.') ||
          g_str_equal (param->name, name))
        {
          found = TRUE;
          if (!param->is_buffer && param->trainable != trainable)
            {
              param->trainable = trainable;
              self->generation++;
            }
        }
    }
  if (!found)
    g_set_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_ARCH,
                 "%s has no block or layer named “%s”", self->arch, name);
  return found;
}

void
graft_model_set_all_trainable (GraftModel *self,
                               gboolean    trainable)
{
  g_return_if_fail (self != NULL);

  for (guint i = 0; i < self->params->len; i++)
    {
      GraftParam *param = g_ptr_array_index (self->params, i);

      if (!param->is_buffer && param->trainable != trainable)
        {
          param->trainable = trainable;
          self->generation++;
        }
    }
}

void
graft_model_set_dropout_enabled (GraftModel *self,
                                 gboolean    enabled)
{
  g_return_if_fail (self != NULL);
  if (self->dropout_enabled != enabled)
    self->generation++;
  self->dropout_enabled = enabled;
}

/* ---- weights --------------------------------------------------------------------------- */

gboolean
graft_model_load_weights (GraftModel        *self,
                          GraftSafetensors  *file,
                          GError           **error)
{
  static const char *const ignore[] = { "num_batches_tracked", NULL };
  g_autofree GraftSafetensorsSpec *specs = NULL;
  g_autoptr(GPtrArray) data = NULL;

  g_return_val_if_fail (self != NULL && file != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  specs = g_new0 (GraftSafetensorsSpec, self->params->len);
  for (guint i = 0; i < self->params->len; i++)
    {
      GraftParam *param = g_ptr_array_index (self->params, i);

      specs[i].name = param->name;
      specs[i].rank = param->rank;
      specs[i].shape = param->shape;
    }
  if (!graft_safetensors_check_keys (file, specs, self->params->len, ignore, error))
    goto fail;

  /* Read everything before changing anything, so a failure leaves the model as it was. */
  data = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < self->params->len; i++)
    {
      GraftParam *param = g_ptr_array_index (self->params, i);
      float *values = g_new (float, graft_tensor_get_n_elements (param->value));

      g_ptr_array_add (data, values);
      if (!graft_safetensors_read_f32 (file, param->name, param->rank, param->shape,
                                       values, error))
        goto fail;
    }
  for (guint i = 0; i < self->params->len; i++)
    {
      GraftParam *param = g_ptr_array_index (self->params, i);

      if (!graft_tensor_upload (param->value, g_ptr_array_index (data, i),
                                graft_tensor_get_n_elements (param->value), error))
        goto fail;
    }
  return TRUE;

fail:
  g_prefix_error (error, "Weights %s do not fit %s: ", graft_safetensors_get_path (file),
                  self->arch);
  return FALSE;
}

gboolean
graft_model_load_weights_file (GraftModel  *self,
                               const char  *path,
                               GError     **error)
{
  g_autoptr(GraftSafetensors) file = NULL;

  g_return_val_if_fail (self != NULL && path != NULL, FALSE);

  file = graft_safetensors_open (path, error);
  return file != NULL && graft_model_load_weights (self, file, error);
}

gboolean
graft_model_save_weights (GraftModel  *self,
                          const char  *path,
                          GError     **error)
{
  g_autoptr(GraftSafetensorsWriter) writer = graft_safetensors_writer_new ();

  g_return_val_if_fail (self != NULL && path != NULL, FALSE);

  graft_safetensors_writer_set_metadata (writer, "arch", self->arch);
  for (guint i = 0; i < self->params->len; i++)
    {
      GraftParam *param = g_ptr_array_index (self->params, i);

      if (!graft_safetensors_writer_add_tensor (writer, param->name, param->value, error))
        return FALSE;
    }
  return graft_safetensors_writer_save (writer, path, error);
}

/* ---- running ---------------------------------------------------------------------------- */

static gboolean
check_finished (GraftModel  *self,
                GError     **error)
{
  if (self->finished)
    return TRUE;
  g_set_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_STATE,
               "%s is not a complete model", self->arch);
  return FALSE;
}

static void
release_activations (GraftModel *self)
{
  /* A recorded step uses these tensors: it goes first, and is recorded anew. */
  _graft_model_step_reset (self);
  self->generation++;
  for (guint i = 0; i < self->nodes->len; i++)
    {
      GraftNode *node = _graft_model_node (self, i);

      g_clear_pointer (&node->y, graft_tensor_unref);
      g_clear_pointer (&node->dy, graft_tensor_unref);
      g_clear_pointer (&node->scratch, graft_tensor_unref);
      for (guint a = 0; a < GRAFT_NODE_MAX_AUX; a++)
        {
          g_clear_pointer (&node->aux[a], graft_tensor_unref);
          g_clear_pointer (&node->aux_grad[a], graft_tensor_unref);
        }
    }
  for (guint i = 0; i < self->params->len; i++)
    {
      GraftParam *param = g_ptr_array_index (self->params, i);

      g_clear_pointer (&param->grad_row, graft_tensor_unref);
      g_clear_pointer (&param->grad, graft_tensor_unref);
    }
  g_clear_pointer (&self->ones_batch, graft_tensor_unref);
  g_clear_pointer (&self->loss, graft_tensor_unref);
  g_clear_pointer (&self->losses, graft_tensor_unref);
  self->batch = self->height = self->width = 0;
  self->grads_ready = FALSE;
  self->backward_done = FALSE;
  self->forward_done = FALSE;
  self->activation_bytes = 0;
}

gboolean
graft_model_prepare (GraftModel  *self,
                     guint        batch,
                     guint        height,
                     guint        width,
                     GError     **error)
{
  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_finished (self, error))
    return FALSE;
  if (batch == self->batch && height == self->height && width == self->width)
    return TRUE;
  if (batch == 0 || height == 0 || width == 0)
    {
      g_set_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_SHAPE,
                   "%s cannot take a batch of %u images of %u×%u", self->arch, batch, width,
                   height);
      return FALSE;
    }

  release_activations (self);
  self->batch = batch;
  self->height = height;
  self->width = width;
  for (guint i = 0; i < self->nodes->len; i++)
    if (!_graft_model_prepare_node (self, i, error))
      {
        g_prefix_error (error, "%s at %u×%u, batch %u: ", self->arch, width, height, batch);
        release_activations (self);
        return FALSE;
      }
  return TRUE;
}

guint64
graft_model_get_activation_bytes (GraftModel *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return self->activation_bytes;
}

GraftTensor *
graft_model_get_input (GraftModel *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return _graft_model_node (self, 0)->y;
}

GraftTensor *
graft_model_get_output (GraftModel *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->output >= 0 ? _graft_model_node (self, self->output)->y : NULL;
}

static gboolean
check_prepared (GraftModel  *self,
                GError     **error)
{
  if (!check_finished (self, error))
    return FALSE;
  if (self->batch != 0)
    return TRUE;
  g_set_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_STATE,
               "%s has not been prepared for a batch size", self->arch);
  return FALSE;
}

gboolean
graft_model_forward (GraftModel  *self,
                     gboolean     training,
                     guint64      seed,
                     GError     **error)
{
  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_prepared (self, error))
    return FALSE;
  self->forward_done = FALSE;
  for (guint i = 1; i < self->nodes->len; i++)
    if (!_graft_model_forward_node (self, i, training, seed, error))
      {
        GraftNode *node = _graft_model_node (self, i);

        g_prefix_error (error, "%s forward, layer %u%s%s: ", self->arch, i,
                        node->name != NULL ? " " : "", node->name != NULL ? node->name : "");
        return FALSE;
      }
  self->forward_done = TRUE;
  self->last_training = training;
  self->last_seed = seed;
  return TRUE;
}

/* Which layers the backward pass visits: those with a trainable parameter, and those
 * between such a layer and the output. */
static void
mark_needs_grad (GraftModel *self)
{
  for (guint i = 0; i < self->nodes->len; i++)
    {
      GraftNode *node = _graft_model_node (self, i);

      node->needs_grad = FALSE;
      for (guint p = 0; p < GRAFT_NODE_MAX_PARAMS; p++)
        {
          GraftParam *param = _graft_model_param (self, node->params[p]);

          if (param != NULL && param->trainable)
            node->needs_grad = TRUE;
        }
      for (guint k = 0; k < node->n_inputs; k++)
        if (_graft_model_node (self, node->inputs[k])->needs_grad)
          node->needs_grad = TRUE;
      node->dy_written = FALSE;
    }
}

gboolean
graft_model_backward (GraftModel   *self,
                      GraftTensor  *grad_output,
                      GError      **error)
{
  GraftNode *out;

  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_prepared (self, error))
    return FALSE;
  if (!self->forward_done)
    {
      g_set_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_STATE,
                   "%s: backward needs a forward pass first", self->arch);
      return FALSE;
    }
  if (!_graft_model_prepare_grads (self, error))
    return FALSE;

  /* from here the gradients are being overwritten: until the pass completes, no
   * optimizer step may use them */
  self->backward_done = FALSE;
  mark_needs_grad (self);
  out = _graft_model_node (self, self->output);
  if (grad_output != out->dy)
    {
      if (graft_tensor_get_n_elements (grad_output) != graft_tensor_get_n_elements (out->dy))
        {
          _graft_ops_shape_error (error, "backward", grad_output, "the output's shape");
          return FALSE;
        }
      if (!graft_op_scale (grad_output, 1.0f, out->dy, error))
        return FALSE;
    }
  out->dy_written = TRUE;

  for (int i = self->output; i >= 1; i--)
    {
      GraftNode *node = _graft_model_node (self, i);

      if (!node->needs_grad || !node->dy_written)
        continue;
      if (!_graft_model_backward_node (self, i, error))
        {
          g_prefix_error (error, "%s backward, layer %d%s%s: ", self->arch, i,
                          node->name != NULL ? " " : "", node->name != NULL ? node->name : "");
          return FALSE;
        }
    }
  self->backward_done = TRUE;
  return TRUE;
}

gboolean
graft_model_backward_cross_entropy (GraftModel   *self,
                                    GraftTensor  *target,
                                    GraftTensor  *class_weight,
                                    float         label_smoothing,
                                    GError      **error)
{
  GraftNode *out;

  g_return_val_if_fail (self != NULL && target != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_prepared (self, error))
    return FALSE;
  /* the loss of an output that no forward pass computed would be meaningless */
  if (!self->forward_done)
    {
      g_set_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_STATE,
                   "%s: backward needs a forward pass first", self->arch);
      return FALSE;
    }
  if (!_graft_model_prepare_grads (self, error))
    return FALSE;
  out = _graft_model_node (self, self->output);
  if (!graft_op_cross_entropy (out->y, target, class_weight, label_smoothing, self->loss,
                               self->losses, out->dy, error))
    return FALSE;
  return graft_model_backward (self, out->dy, error);
}

GraftTensor *
graft_model_get_loss (GraftModel *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->loss;
}

GraftTensor *
graft_model_get_losses (GraftModel *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->losses;
}
