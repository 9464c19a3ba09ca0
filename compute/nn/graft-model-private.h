/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "graft-model.h"
#include "tensor/graft-tensor-private.h"
#include "tensor/graft-ops-conv.h"
#include "tensor/graft-ops-norm.h"
#include "tensor/graft-ops-shape.h"

G_BEGIN_DECLS

typedef enum {
  GRAFT_NODE_INPUT,
  GRAFT_NODE_CONV,
  GRAFT_NODE_BATCH_NORM,
  GRAFT_NODE_ACTIVATION,
  GRAFT_NODE_MAX_POOL,
  GRAFT_NODE_AVG_POOL,
  GRAFT_NODE_ADAPTIVE_POOL,
  GRAFT_NODE_ADD,
  GRAFT_NODE_SCALE_CHANNELS,
  GRAFT_NODE_CONCAT,
  GRAFT_NODE_FLATTEN,
  GRAFT_NODE_LINEAR,
  GRAFT_NODE_DROPOUT,
  GRAFT_NODE_STOCHASTIC_DEPTH,
  GRAFT_NODE_LAYER_NORM,
  GRAFT_NODE_PATCH_TOKENS,
  GRAFT_NODE_CLASS_TOKEN,
  GRAFT_NODE_POSITION_EMBEDDING,
  GRAFT_NODE_SELF_ATTENTION,
  GRAFT_NODE_FIRST_TOKEN,
} GraftNodeKind;

/* Parameter slots of a node, by kind: CONV, LINEAR weight + bias; BATCH_NORM weight,
 * bias, running_mean, running_var; LAYER_NORM weight, bias; CLASS_TOKEN and
 * POSITION_EMBEDDING the one tensor; SELF_ATTENTION in_proj_weight, in_proj_bias,
 * out_proj.weight, out_proj.bias. -1 where absent. */
#define GRAFT_NODE_MAX_PARAMS 4
/* Working tensors a node keeps between its forward and backward passes. */
#define GRAFT_NODE_MAX_AUX 8

typedef struct {
  GraftNodeKind     kind;
  char             *name;
  guint             block;
  int              *inputs;
  guint             n_inputs;
  guint             n_consumers;

  /* What the builder knows: the output's channels (NCHW) or features (tokens, flat),
   * whether it is [N, L, E] tokens, [N, F] flat or NCHW, and the spatial size where a
   * layer fixes it (adaptive pooling). */
  guint             channels;
  gboolean          tokens;
  gboolean          flat;
  guint             fixed_h, fixed_w;

  GraftConv2dParams conv;
  GraftPool2dParams pool;
  GraftNormParams   norm;
  GraftActivation   act;
  float             p;
  guint             heads;
  guint             length;

  int               params[GRAFT_NODE_MAX_PARAMS];

  /* From graft_model_prepare(). */
  guint             rank;
  gsize             shape[4];
  GraftTensor      *y;
  GraftTensor      *aux[GRAFT_NODE_MAX_AUX];
  /* From the first backward: the gradient of y, and where a second consumer's
   * contribution lands before it is added (nodes read by more than one layer). */
  GraftTensor      *dy;
  GraftTensor      *scratch;
  GraftTensor      *aux_grad[GRAFT_NODE_MAX_AUX];
  gboolean          needs_grad;   /* a trainable parameter here or upstream */
  gboolean          dy_written;   /* during a backward pass */
} GraftNode;

typedef struct {
  char         *name;
  guint         block;
  guint         rank;
  gsize         shape[4];
  gboolean      is_buffer;
  gboolean      trainable;
  GraftTensor  *value;
  GraftTensor  *grad;
  GraftTensor  *grad_row;  /* grad seen as [1, n], for sums written by GEMM */
  GraftParamInfo info;   /* the public view, kept in step */
} GraftParam;

struct _GraftModel {
  gint           ref_count;
  GraftBackend  *backend;
  char          *arch;
  guint          in_channels;
  guint          n_classes;
  GRand         *rand;
  gboolean       broken;
  gboolean       finished;
  gboolean       dropout_enabled;

  GPtrArray     *blocks;       /* char *, NULL-terminated */
  guint          current_block;
  GArray        *nodes;        /* GraftNode */
  GPtrArray     *params;       /* GraftParam * */
  GHashTable    *param_index;  /* name -> index + 1 */
  int            output;

  /* Prepared sizes (0 until prepared) and the cross-entropy tensors. */
  guint          batch, height, width;
  gboolean       grads_ready;    /* gradients allocated */
  gboolean       backward_done;  /* and written by a backward pass that completed */
  gboolean       forward_done;
  gboolean       last_training;
  guint64        last_seed;
  GraftTensor   *ones_batch;   /* [N] ones, for sums over the batch */
  GraftTensor   *loss;
  GraftTensor   *losses;
  guint64        activation_bytes;
};

static inline GraftNode *
_graft_model_node (GraftModel *self,
                   int         index)
{
  return &g_array_index (self->nodes, GraftNode, index);
}

static inline GraftParam *
_graft_model_param (GraftModel *self,
                    int         index)
{
  return index < 0 ? NULL : g_ptr_array_index (self->params, index);
}

/* graft-model-run.c */
gboolean _graft_model_prepare_node  (GraftModel  *self,
                                     int          index,
                                     GError     **error);
gboolean _graft_model_prepare_grads (GraftModel  *self,
                                     GError     **error);
gboolean _graft_model_forward_node  (GraftModel  *self,
                                     int          index,
                                     gboolean     training,
                                     guint64      seed,
                                     GError     **error);
gboolean _graft_model_backward_node (GraftModel  *self,
                                     int          index,
                                     GError     **error);
GraftTensor *_graft_model_grad_target (GraftModel  *self,
                                       GraftNode   *node,
                                       guint        k,
                                       GraftTensor *dy_view,
                                       GraftTensor *scratch_view);
gboolean _graft_model_grad_done     (GraftModel  *self,
                                     GraftNode   *node,
                                     guint        k,
                                     GError     **error);
GraftTensor *_graft_model_junk      (GraftModel  *self,
                                     int          index,
                                     guint        slot,
                                     GraftTensor *like,
                                     GError     **error);
GraftTensor *_graft_model_new_tensor (GraftModel  *self,
                                      guint        rank,
                                      const gsize *shape,
                                      const char  *what,
                                      int          index,
                                      GError     **error);

/* graft-model-tokens.c: the Vision Transformer's layers */
gboolean _graft_model_prepare_tokens      (GraftModel  *self,
                                           int          index,
                                           GError     **error);
gboolean _graft_model_prepare_token_grads (GraftModel  *self,
                                           int          index,
                                           GError     **error);
gboolean _graft_model_forward_tokens      (GraftModel  *self,
                                           int          index,
                                           GError     **error);
gboolean _graft_model_backward_tokens     (GraftModel  *self,
                                           int          index,
                                           GError     **error);

G_END_DECLS
