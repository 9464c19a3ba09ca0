/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "io/graft-safetensors.h"
#include "nn/graft-weights.h"
#include "tensor/graft-ops.h"
#include "tensor/graft-ops-pool.h"
#include "tensor/graft-ops-optim.h"

G_BEGIN_DECLS

/* A model: a graph of layers in topological order whose parameters carry exactly the
 * names of torchvision's state_dict ("layer1.0.conv1.weight", "features.3.block.1.0.
 * weight", "encoder.layers.encoder_layer_0.ln_1.bias"). It lives on one backend.
 *
 * Lifecycle: a builder (the zoo, compute/nn/zoo) creates the layers; graft_model_prepare()
 * fixes the batch and image size and allocates every activation and gradient once
 * (the activation-memory plan), so that forward, backward and optimizer steps allocate
 * nothing afterwards; graft_model_forward() and graft_model_backward_*() run on the
 * backend. A model is used from one thread at a time. */

#define GRAFT_MODEL_ERROR (graft_model_error_quark ())
GQuark graft_model_error_quark (void);

typedef enum {
  GRAFT_MODEL_ERROR_ARCH,      /* unknown architecture, or arguments it cannot take */
  GRAFT_MODEL_ERROR_SHAPE,     /* an input or image size the model cannot take */
  GRAFT_MODEL_ERROR_STATE,     /* a call out of order (backward before forward, …) */
} GraftModelError;

typedef struct _GraftModel GraftModel;

/* ---- Building (used by the zoo) ----------------------------------------------------
 * Each call adds one layer reading the output of earlier layers (given by the index
 * these calls return; 0 is the input image [N, in_channels, H, W]) and returns the new
 * layer's index. @name is the torchvision module path that prefixes its parameters
 * ("layer1.0.conv1"); layers without parameters take none. Wrong arguments are
 * programming errors: the call returns -1 and graft_model_finish() fails. */

GraftModel  *graft_model_new                 (GraftBackend       *backend,
                                              const char         *arch,
                                              guint               in_channels,
                                              guint64             seed);
/* Later layers belong to @block ("stem", "layer1", "features.3", …) for freezing. */
void         graft_model_begin_block         (GraftModel         *self,
                                              const char         *block);
int          graft_model_add_conv2d          (GraftModel         *self,
                                              const char         *name,
                                              int                 input,
                                              guint               out_channels,
                                              guint               kernel,
                                              guint               stride,
                                              guint               padding,
                                              guint               dilation,
                                              guint               groups,
                                              gboolean            bias);
int          graft_model_add_batch_norm2d    (GraftModel         *self,
                                              const char         *name,
                                              int                 input,
                                              float               eps,
                                              float               momentum);
int          graft_model_add_activation      (GraftModel         *self,
                                              int                 input,
                                              GraftActivation     act);
int          graft_model_add_max_pool2d      (GraftModel         *self,
                                              int                 input,
                                              const GraftPool2dParams *params);
int          graft_model_add_avg_pool2d      (GraftModel         *self,
                                              int                 input,
                                              const GraftPool2dParams *params);
/* adaptive_avg_pool2d to out_h x out_w; 1 x 1 is global average pooling */
int          graft_model_add_adaptive_avg_pool2d (GraftModel     *self,
                                              int                 input,
                                              guint               out_h,
                                              guint               out_w);
/* a + b of equal shapes (residual connections) */
int          graft_model_add_add             (GraftModel         *self,
                                              int                 a,
                                              int                 b);
/* x [N, C, H, W] * s [N, C, 1, 1] (squeeze-and-excitation) */
int          graft_model_add_scale_channels  (GraftModel         *self,
                                              int                 x,
                                              int                 s);
/* torch.cat along the channels of NCHW inputs */
int          graft_model_add_concat          (GraftModel         *self,
                                              const int          *inputs,
                                              guint               n_inputs);
/* [N, C, H, W] -> [N, C * H * W] */
int          graft_model_add_flatten         (GraftModel         *self,
                                              int                 input);
/* y = x W^T + b over the last dimension of a [N, F] or [N, L, F] input */
int          graft_model_add_linear          (GraftModel         *self,
                                              const char         *name,
                                              int                 input,
                                              guint               out_features,
                                              gboolean            bias);
int          graft_model_add_dropout         (GraftModel         *self,
                                              int                 input,
                                              float               p);
/* torchvision.ops.StochasticDepth (p, "row"): in training each sample's input is zeroed
 * with probability p and the rest scaled by 1 / (1 - p); identity in eval. */
int          graft_model_add_stochastic_depth (GraftModel        *self,
                                              int                 input,
                                              float               p);
int          graft_model_add_layer_norm      (GraftModel         *self,
                                              const char         *name,
                                              int                 input,
                                              float               eps);
/* Vision Transformer pieces: [N, E, h, w] -> tokens [N, h * w, E]; a learned class token
 * (@name, shape [1, 1, E]) put before the tokens; a learned position embedding (@name,
 * [1, L, E]) added; self-attention with torch.nn.MultiheadAttention's parameters
 * (@name.in_proj_weight, .in_proj_bias, .out_proj.weight, .out_proj.bias); the first
 * token [N, L, E] -> [N, E]. */
int          graft_model_add_patch_tokens    (GraftModel         *self,
                                              int                 input);
int          graft_model_add_class_token     (GraftModel         *self,
                                              const char         *name,
                                              int                 input);
int          graft_model_add_position_embedding (GraftModel      *self,
                                              const char         *name,
                                              int                 input,
                                              guint               length);
int          graft_model_add_self_attention  (GraftModel         *self,
                                              const char         *name,
                                              int                 input,
                                              guint               n_heads);
int          graft_model_add_first_token     (GraftModel         *self,
                                              int                 input);
/* Makes @output ([N, classes]) the model's output; fails if any earlier call failed. */
gboolean     graft_model_finish              (GraftModel         *self,
                                              int                 output,
                                              GError            **error);

/* ---- Inspecting --------------------------------------------------------------------- */

GraftModel  *graft_model_ref                 (GraftModel         *self);
void         graft_model_unref               (GraftModel         *self);
const char  *graft_model_get_arch            (GraftModel         *self);
GraftBackend *graft_model_get_backend        (GraftModel         *self);
guint        graft_model_get_in_channels     (GraftModel         *self);
guint        graft_model_get_n_classes       (GraftModel         *self);

/* One named tensor of the state_dict: a parameter (learned) or a buffer (batch norm's
 * running statistics, never trained). */
typedef struct {
  const char  *name;
  const char  *block;
  GraftTensor *value;
  GraftTensor *grad;        /* NULL for buffers and until the model is prepared */
  gboolean     is_buffer;
  gboolean     trainable;   /* FALSE for buffers */
} GraftParamInfo;

guint        graft_model_get_n_params        (GraftModel         *self);
const GraftParamInfo *graft_model_get_param  (GraftModel         *self,
                                              guint               index);
const GraftParamInfo *graft_model_find_param (GraftModel         *self,
                                              const char         *name);
/* Element counts of the learned parameters (buffers excluded). */
gsize        graft_model_count_parameters    (GraftModel         *self,
                                              gsize              *trainable,
                                              gsize              *frozen);
/* The blocks in order; NULL-terminated, owned by the model. */
const char *const *graft_model_get_blocks    (GraftModel         *self);

/* Trainable flags, per block or per layer: every parameter whose block is @name or
 * whose name starts with "@name." (a layer path such as "layer4.1.bn2") is set. Fails
 * naming @name when nothing matches. */
gboolean     graft_model_set_trainable       (GraftModel         *self,
                                              const char         *name,
                                              gboolean            trainable,
                                              GError            **error);
void         graft_model_set_all_trainable   (GraftModel         *self,
                                              gboolean            trainable);

/* Dropout and stochastic depth switched off even in training (for comparisons with
 * another framework whose random draws differ). */
void         graft_model_set_dropout_enabled (GraftModel         *self,
                                              gboolean            enabled);

/* With @freeze TRUE, a batch norm none of whose weight and bias is trainable normalises
 * with its running statistics and leaves them unchanged even in a training forward pass,
 * and its backward uses the matching eval-mode formula: torch's module.eval() on the
 * frozen modules, Keras's frozen BatchNormalization. The frozen part of the network then
 * computes the same function at every step (and the same as in evaluation). FALSE, the
 * default, is PyTorch's model.train(): every batch norm uses the batch's statistics in
 * training and updates its running ones. Each layer's backward follows what its last
 * forward pass did, whatever the flags are by then. Changing it changes the ops of a
 * training step (see graft_model_train_step()). */
void         graft_model_set_freeze_norm     (GraftModel         *self,
                                              gboolean            freeze);

/* ---- Layers ------------------------------------------------------------------------
 * The layers as the builder added them, by index: 0 is the input, the last usually the
 * output. For measures over activations (a batch norm's input against its running
 * statistics, "<name>.running_mean" and "<name>.running_var" in
 * graft_model_find_param()) and for training from cached features. */

typedef struct {
  const char *name;          /* its parameters' module path; NULL for layers without */
  const char *block;
  gboolean    is_batch_norm;
  int         input;         /* the first layer it reads; -1 for the input layer */
} GraftLayerInfo;

guint        graft_model_get_n_layers        (GraftModel         *self);
/* FALSE (and @info untouched) when there is no layer @layer. The strings belong to the
 * model. */
gboolean     graft_model_get_layer_info      (GraftModel         *self,
                                              int                 layer,
                                              GraftLayerInfo     *info);
/* Layer @layer's output tensor after graft_model_prepare(), as the last forward pass
 * left it; NULL before prepare or when there is no layer @layer. */
GraftTensor *graft_model_get_layer_output    (GraftModel         *self,
                                              int                 layer);
/* The index of the last layer of @block when it is a cut of the network: every later
 * layer reads only it or layers after it, so that its output is all the rest of the
 * network sees of the input. -1 when @block is unknown, holds no layer, or is not cut so
 * (a residual connection skips over its end). For ResNet "stem" and "layer1" …
 * "layer4" are cuts. */
int          graft_model_get_block_output    (GraftModel         *self,
                                              const char         *block);
/* Training from cached features: from now on graft_model_forward() (training or not,
 * and so graft_model_backward*() and graft_model_train_step()) runs only the layers
 * after @layer, reading @layer's output tensor (graft_model_get_layer_output()) as it
 * is: upload the features of each batch there before the step, and nothing into the
 * input. The backward pass never visits @layer or the layers before it; their batch
 * norms do not run, so their running statistics stay as they are (as with
 * graft_model_set_freeze_norm(), which makes the features cached with an evaluation
 * pass, graft_model_forward_to(), equal what a full training pass computes where those
 * layers hold no dropout or stochastic depth). 0 restores the normal behaviour, from the
 * input.
 *
 * Fails with GRAFT_MODEL_ERROR_ARCH when @layer is not a cut (see
 * graft_model_get_block_output()) or does not exist, and with GRAFT_MODEL_ERROR_STATE,
 * naming the parameter, when a parameter of layers 1 … @layer is trainable. Making one
 * trainable afterwards is the caller's to avoid: graft_model_forward() then fails with
 * GRAFT_MODEL_ERROR_STATE naming it, until the start layer goes back to 0. A change
 * changes the ops of a training step (see graft_model_train_step()), and the next
 * backward pass needs a forward pass first. */
gboolean     graft_model_set_start_layer     (GraftModel         *self,
                                              int                 layer,
                                              GError            **error);

/* ---- Weights -----------------------------------------------------------------------
 * By name: every tensor of the model must be in @file with its shape (torchvision's
 * num_batches_tracked entries are ignored); a missing, unexpected or misshapen entry is
 * a GRAFT_IO_ERROR (MISSING_KEY, UNEXPECTED_KEY, SHAPE; CORRUPT for a damaged file)
 * naming it, with expected and found shapes. Nothing is changed on error. */
gboolean     graft_model_load_weights        (GraftModel         *self,
                                              GraftSafetensors   *file,
                                              GError            **error);
gboolean     graft_model_load_weights_file   (GraftModel         *self,
                                              const char         *path,
                                              GError            **error);
gboolean     graft_model_save_weights        (GraftModel         *self,
                                              const char         *path,
                                              GError            **error);
/* The same from a state dict in host memory; the error lists every missing, unexpected
 * and misshapen tensor by name (the code is that of the first). Entries whose names
 * start with "optimizer/" (graft_optimizer_save_state() into the same state dict) are
 * left for graft_optimizer_load_state(). */
gboolean     graft_model_load_state          (GraftModel         *self,
                                              GraftWeights       *weights,
                                              GError            **error);
/* Every parameter and buffer, downloaded, in the model's order. */
GraftWeights *graft_model_get_state          (GraftModel         *self,
                                              GError            **error);

/* ---- Running ------------------------------------------------------------------------ */

/* Fixes the batch size and image size and allocates every activation, gradient and
 * scratch tensor. Calling it again with the same sizes does nothing. */
gboolean     graft_model_prepare             (GraftModel         *self,
                                              guint               batch,
                                              guint               height,
                                              guint               width,
                                              GError            **error);
/* Multiply-accumulates of one image's forward pass at the prepared size, counting
 * convolutions, linear layers and attention (the convention of torchvision's GFLOPS
 * figures); 0 before prepare. */
guint64      graft_model_count_macs          (GraftModel         *self);
/* Bytes held by activations, gradients and scratch tensors after prepare. */
guint64      graft_model_get_activation_bytes (GraftModel        *self);
/* The prepared input tensor [N, C, H, W]: upload images into it. */
GraftTensor *graft_model_get_input           (GraftModel         *self);
/* The output of the last forward [N, classes]. */
GraftTensor *graft_model_get_output          (GraftModel         *self);

/* Runs every layer on the prepared input. @training: batch statistics (and their
 * running update), dropout and stochastic depth on (seeded by @seed). */
gboolean     graft_model_forward             (GraftModel         *self,
                                              gboolean            training,
                                              guint64             seed,
                                              GError            **error);
/* An evaluation pass (as graft_model_forward() with @training FALSE) of layers 1 …
 * @layer only, on the prepared input, whatever the start layer: afterwards
 * graft_model_get_layer_output (@layer) holds that layer's output, and the later layers'
 * outputs are stale (a backward pass needs a whole forward pass first). No layer is
 * GRAFT_MODEL_ERROR_ARCH; an unprepared model GRAFT_MODEL_ERROR_STATE. On a backend that
 * records, this runs eagerly and does not disturb a recorded training step. */
gboolean     graft_model_forward_to          (GraftModel         *self,
                                              int                 layer,
                                              GError            **error);
/* Backward from @grad_output (d loss / d output, [N, classes]) through the layers that
 * lead to a trainable parameter, and no further: every trainable parameter's grad is
 * overwritten. */
gboolean     graft_model_backward            (GraftModel         *self,
                                              GraftTensor        *grad_output,
                                              GError            **error);
/* Softmax cross-entropy of the output against @target ([N] class indices as floats;
 * see graft_op_cross_entropy), then graft_model_backward(). @class_weight may be NULL.
 * The loss ([1]) and per-sample losses ([N]) stay in the model. */
gboolean     graft_model_backward_cross_entropy (GraftModel      *self,
                                              GraftTensor        *target,
                                              GraftTensor        *class_weight,
                                              float               label_smoothing,
                                              GError            **error);
GraftTensor *graft_model_get_loss            (GraftModel         *self);
GraftTensor *graft_model_get_losses          (GraftModel         *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GraftModel, graft_model_unref)

/* ---- Optimizers ---------------------------------------------------------------------
 * torch.optim.SGD or AdamW over the model's trainable parameters (as they are at each
 * step), with a learning-rate multiplier per block (parameter groups) and optional
 * gradient-norm clipping over all trainable gradients. State is allocated at the first
 * step for the parameters that are trainable then. */

typedef struct _GraftOptimizer GraftOptimizer;

GraftOptimizer *graft_optimizer_new_sgd      (GraftModel             *model,
                                              const GraftSgdParams   *params);
GraftOptimizer *graft_optimizer_new_adamw    (GraftModel             *model,
                                              const GraftAdamWParams *params);
void            graft_optimizer_free         (GraftOptimizer         *self);
void            graft_optimizer_set_lr       (GraftOptimizer         *self,
                                              float                   lr);
/* Parameters of @block learn at lr * @scale. */
void            graft_optimizer_set_block_lr_scale (GraftOptimizer   *self,
                                              const char             *block,
                                              float                   scale);
/* 0 (the default) for no clipping. */
void            graft_optimizer_set_clip_norm (GraftOptimizer        *self,
                                              float                   max_norm);
guint           graft_optimizer_get_step     (GraftOptimizer         *self);
gboolean        graft_optimizer_step         (GraftOptimizer         *self,
                                              GError                **error);

/* Exact resume. save_state adds to @into, for every parameter that has optimizer state,
 * its buffers as float32 entries "optimizer/<parameter>/momentum" (SGD with momentum) or
 * "optimizer/<parameter>/exp_avg" and ".../exp_avg_sq" (AdamW), and its own step count
 * as metadata "optimizer/<parameter>/step"; then the metadata "optimizer/kind" ("sgd" or
 * "adamw") and "optimizer/step" (graft_optimizer_get_step()). Step counts are decimal.
 * The model's state (graft_model_get_state()) may share the state dict:
 * graft_model_load_state() leaves these entries alone. Nothing is added when a download
 * fails.
 *
 * load_state puts them back into an optimizer of the same kind over a model with the
 * same parameters, replacing whatever state it had, so that with the model's state
 * loaded too, the same learning rate, block scales and clipping, the next step is bit
 * for bit what the uninterrupted optimizer would have done. A missing entry, one of
 * another shape or for a parameter the model lacks, a step that is not a number or
 * another kind is a GRAFT_IO_ERROR (MISSING_KEY, SHAPE, UNEXPECTED_KEY, CORRUPT) naming
 * the entry; nothing is changed on error. The learning rate, block scales and clipping
 * are settings, not state: set them as the run had them. The state tensors are new, so
 * a recorded training step is recorded again. */
gboolean        graft_optimizer_save_state   (GraftOptimizer         *self,
                                              GraftWeights           *into,
                                              GError                **error);
gboolean        graft_optimizer_load_state   (GraftOptimizer         *self,
                                              GraftWeights           *from,
                                              GError                **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GraftOptimizer, graft_optimizer_free)

/* ---- Training steps -----------------------------------------------------------------
 * One whole step: graft_model_forward (training, @seed), then
 * graft_model_backward_cross_entropy (@target, @class_weight, @label_smoothing), then
 * graft_optimizer_step (@optimizer, which belongs to this model), with bit for bit the
 * same results as those three calls.
 *
 * On a backend that records work (graft_backend_can_record(); Vulkan does), the step is
 * recorded once and replayed by later calls: the first call with given settings runs
 * eagerly (it allocates gradients and optimizer state), the second records the step and
 * replays it, later ones only replay it, allocating nothing. What changes between steps
 * is written to the device before each replay: the dropout keys from @seed and the
 * optimizer's learning rates (graft_optimizer_set_lr() and block scales take effect at
 * the next step without recording again), bias corrections and step counts. Whatever
 * changes the ops makes the next step eager and the one after it record again:
 * graft_model_set_trainable() and set_all_trainable() changing a flag,
 * graft_model_set_dropout_enabled(), graft_model_set_freeze_norm() or
 * graft_model_set_start_layer() changing it, graft_model_prepare() with new sizes,
 * graft_optimizer_set_clip_norm() with a new value, graft_optimizer_load_state(),
 * another optimizer, other @target or @class_weight tensors (their contents may change
 * freely) or another @label_smoothing.
 *
 * Upload each batch into graft_model_get_input() (with a start layer, its features into
 * that layer's output; see graft_model_set_start_layer()) and @target before the call;
 * read the loss with graft_model_get_loss() after it. On the CPU backend the ops simply
 * run. */
gboolean        graft_model_train_step       (GraftModel             *self,
                                              GraftOptimizer         *optimizer,
                                              GraftTensor            *target,
                                              GraftTensor            *class_weight,
                                              float                   label_smoothing,
                                              guint64                 seed,
                                              GError                **error);

G_END_DECLS
