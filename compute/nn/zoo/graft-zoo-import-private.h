/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* Inside the importer: the table between timm's tensor names and torchvision's for the
 * zoo's MobileNets, EfficientNet and Vision Transformer (graft-zoo-timm.c). */

#include "nn/graft-model.h"
#include "nn/graft-weights.h"

G_BEGIN_DECLS

/* One module (or tensor) under timm's name and torchvision's; with @squeeze, a 1×1
 * convolution's weight [out, in, 1, 1] that torchvision holds as a linear layer's. */
typedef struct {
  char     *timm;
  char     *tv;
  gboolean  squeeze;
} GraftZooNamePair;

typedef struct {
  GPtrArray  *pairs;
  GHashTable *by_timm;   /* borrowed timm name -> GraftZooNamePair */
  GHashTable *by_tv;
} GraftZooNameMap;

GraftZooNameMap *_graft_zoo_name_map_new          (void);
void             _graft_zoo_name_map_free         (GraftZooNameMap  *map);
/* @name under the other library's name through the pair of its longest prefix ending at
 * a dot (or the whole name), or NULL; @pair_out (may be NULL) receives the pair. */
char            *_graft_zoo_map_name              (GHashTable        *table,
                                                   const char        *name,
                                                   gboolean           to_tv,
                                                   GraftZooNamePair **pair_out);
/* The pairs of @arch, whose torchvision layout @model shows. */
void             _graft_zoo_timm_add_mobile_pairs (GraftZooNameMap   *map,
                                                   const char        *arch,
                                                   GraftModel        *model);
void             _graft_zoo_timm_add_vit_pairs    (GraftZooNameMap   *map,
                                                   GraftModel        *model);
/* Renames @w's timm tensors to torchvision's names in place, reshaping where the layouts
 * differ; a tensor whose new name is taken stays as it is (and is reported as
 * unexpected). */
void             _graft_zoo_timm_apply_names      (GraftWeights      *w,
                                                   GraftZooNameMap   *map,
                                                   GraftModel        *model,
                                                   guint             *n_renamed,
                                                   guint             *n_reshaped);

/* Stages of timm's arch definitions, in blocks; the importer's inference reads them too. */
extern const guint _graft_zoo_timm_mobilenet_v2[7];
extern const guint _graft_zoo_timm_efficientnet_b0[7];
extern const guint _graft_zoo_timm_mobilenet_v3_large[7];
extern const guint _graft_zoo_timm_mobilenet_v3_small[6];

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GraftZooNameMap, _graft_zoo_name_map_free)

G_END_DECLS
