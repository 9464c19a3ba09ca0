/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-nn"

/* Adding layers to a model: each builder call checks its input, appends a node and
 * creates the node's parameters under their torchvision names, initialised as PyTorch's
 * layers initialise themselves. */

#include <math.h>
#include <string.h>

#include "graft-model-private.h"

/* ---- building ---------------------------------------------------------------------- */

void
_graft_model_init_values (GRand         *rand,
                          GraftInitKind  kind,
                          double         a,
                          float         *out,
                          gsize          n)
{
  for (gsize i = 0; i < n; i++)
    switch (kind)
      {
      case GRAFT_INIT_ZEROS:
        out[i] = 0.0f;
        break;
      case GRAFT_INIT_ONES:
        out[i] = 1.0f;
        break;
      case GRAFT_INIT_NORMAL:
        {
          /* Box-Muller; 1 - u keeps the logarithm finite */
          double u = 1.0 - g_rand_double (rand);
          double v = g_rand_double (rand);

          out[i] = (float) a * (float) (sqrt (-2.0 * log (u)) * cos (2.0 * G_PI * v));
        }
        break;
      case GRAFT_INIT_UNIFORM:
        out[i] = (float) g_rand_double_range (rand, -a, a);
        break;
      default:
        g_assert_not_reached ();
      }
}

static int
add_param (GraftModel  *self,
           const char  *node_name,
           const char  *suffix,
           guint        rank,
           const gsize *shape,
           gboolean     is_buffer,
           GraftInitKind init,
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
      _graft_model_param_free (param);
      self->broken = TRUE;
      return -1;
    }

  for (guint i = 0; i < rank; i++)
    n *= shape[i];
  data = g_new (float, n);
  _graft_model_init_values (self->rand, init, a, data, n);

  param->value = graft_tensor_new (self->backend, rank, shape, &error);
  if (param->value == NULL ||
      !graft_tensor_upload (param->value, data, n, &error))
    {
      g_warning ("%s: cannot create %s: %s", self->arch, param->name, error->message);
      _graft_model_param_free (param);
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
    int w = add_param (self, name, "weight", 4, shape, FALSE, GRAFT_INIT_NORMAL, std);
    int b = bias ? add_param (self, name, "bias", 1, shape, FALSE, GRAFT_INIT_ZEROS, 0) : -1;

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
    int w = add_param (self, name, "weight", 1, shape, FALSE, GRAFT_INIT_ONES, 0);
    int b = add_param (self, name, "bias", 1, shape, FALSE, GRAFT_INIT_ZEROS, 0);
    int rm = add_param (self, name, "running_mean", 1, shape, TRUE, GRAFT_INIT_ZEROS, 0);
    int rv = add_param (self, name, "running_var", 1, shape, TRUE, GRAFT_INIT_ONES, 0);

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
  guint channels;
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
  /* add_node() may move the nodes: read the input's size first */
  channels = in->channels * in->fixed_h * in->fixed_w;
  index = add_node (self, GRAFT_NODE_FLATTEN, NULL, &input, 1, &node);
  node->channels = channels;
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
    int w = add_param (self, name, "weight", 2, shape, FALSE, GRAFT_INIT_UNIFORM, bound);
    int b = bias ? add_param (self, name, "bias", 1, shape, FALSE, GRAFT_INIT_UNIFORM, bound) : -1;

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
    int w = add_param (self, name, "weight", 1, shape, FALSE, GRAFT_INIT_ONES, 0);
    int b = add_param (self, name, "bias", 1, shape, FALSE, GRAFT_INIT_ZEROS, 0);

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
                 GRAFT_INIT_ZEROS, 0);
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
                 GRAFT_INIT_NORMAL, 0.02);
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
                          FALSE, GRAFT_INIT_UNIFORM, xavier);
    int b_in = add_param (self, name, "in_proj_bias", 1, (const gsize[]) { 3 * e },
                          FALSE, GRAFT_INIT_ZEROS, 0);
    int w_out = add_param (self, out_proj, "weight", 2, (const gsize[]) { e, e },
                           FALSE, GRAFT_INIT_UNIFORM, bound);
    int b_out = add_param (self, out_proj, "bias", 1, (const gsize[]) { e },
                           FALSE, GRAFT_INIT_ZEROS, 0);

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

