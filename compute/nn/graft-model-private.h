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
  /* Batch norm: whether the last forward pass normalised with the batch's statistics
   * (training, not frozen by graft_model_set_freeze_norm()); its backward follows. */
  gboolean          batch_stats;
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

/* graft_model_train_step()'s state (graft-model-step.c): the recorded step and what
 * shaped it. */
typedef struct {
  GraftRecording *recording;
  gboolean        warm;          /* a step ran eagerly with the settings below */
  guint           generation;    /* the model's, when that step ran */
  GraftOptimizer *optimizer;
  guint           optimizer_generation;
  GraftTensor    *target;        /* held, so that another tensor cannot take its place */
  GraftTensor    *class_weight;
  float           label_smoothing;
  GraftTensor    *keys;          /* [nodes]: each dropout node's key, written each step */
  gboolean        keyed;         /* while a step runs: dropout reads @keys */
} GraftModelStep;

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
  gboolean       freeze_norm;  /* frozen batch norms keep their running statistics */
  int            start_layer;  /* forward runs the layers after it (0: all of them) */

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

  /* Bumped by whatever changes the ops of a training step (trainable flags, dropout,
   * frozen norms, the start layer, prepared sizes): a recorded step is recorded again
   * after it. */
  guint          generation;
  GraftModelStep step;
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

/* graft-model-step.c */
void     _graft_model_step_reset     (GraftModel     *self);
void     _graft_model_forget_optimizer (GraftModel   *self,
                                      GraftOptimizer *optimizer);

/* graft-model.c: TRUE when @entry has @param's shape; else FALSE with both shapes as
 * text ("[64, 3, 7, 7]") in *@got and *@want, for the message naming the tensor. */
gboolean _graft_param_check_shape    (const GraftParam        *param,
                                      const GraftWeightsEntry *entry,
                                      char                   **got,
                                      char                   **want);

/* graft-optimizer.c: a step in three parts, for graft_model_train_step(). write_scalars
 * puts each trainable parameter's values of the coming step into the optimizer's step
 * tensor; run issues the ops (from that tensor when @from_scalars); advance counts the
 * step on the host. */
GraftModel *_graft_optimizer_get_model      (GraftOptimizer  *self);
guint       _graft_optimizer_get_generation (GraftOptimizer  *self);
gboolean    _graft_optimizer_write_scalars  (GraftOptimizer  *self,
                                             GError         **error);
gboolean    _graft_optimizer_run            (GraftOptimizer  *self,
                                             gboolean         from_scalars,
                                             GError         **error);
void        _graft_optimizer_advance        (GraftOptimizer  *self);

/* graft-model.c */
void     _graft_model_param_free    (gpointer     param);

/* graft-model-build.c: @n values drawn from @rand, 0, 1, normal with standard deviation
 * @a, or uniform in [-@a, @a]. */
typedef enum {
  GRAFT_INIT_ZEROS,
  GRAFT_INIT_ONES,
  GRAFT_INIT_NORMAL,
  GRAFT_INIT_UNIFORM,
} GraftInitKind;

void     _graft_model_init_values   (GRand         *rand,
                                     GraftInitKind  kind,
                                     double         a,
                                     float         *out,
                                     gsize          n);

/* graft-model-run.c */
/* Whether batch-norm node @node normalises with the batch's statistics in a forward pass
 * with @training: not when graft_model_set_freeze_norm() holds it to its running ones. */
gboolean _graft_model_norm_uses_batch_stats (GraftModel *self,
                                             GraftNode  *node,
                                             gboolean    training);
/* The seed of node @index's random draws in a pass seeded with @seed. */
guint64  _graft_model_node_seed     (guint64      seed,
                                     int          index);
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
