/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-vulkan"

/* Activation functions, forward (activation.comp) and backward
 * (activation_backward.comp): one pipeline per activation, chosen by specialization
 * constant 1, four elements per invocation. */

#include "graft-vk-private.h"

typedef struct {
  guint32 n;
} ActivationPush;

/* The shaders' ACT values are GraftActivation's. */
G_STATIC_ASSERT (GRAFT_ACTIVATION_RELU == 0 && GRAFT_ACTIVATION_GELU == 6);

gboolean
_graft_vk_activation (GraftBackend     *backend,
                      GraftActivation   act,
                      GraftBuffer      *x,
                      GraftBuffer      *y,
                      guint32           n,
                      GError          **error)
{
  GraftVkBackend *self = GRAFT_VK_BACKEND (backend);
  ActivationPush push = { n };
  GraftVkDispatch d = {
    .shader = "activation",
    .n_bindings = 2,
    .buffers = { x, y },
    .spec = { 0, (guint32) act },
    .n_spec = 2,
    .push = &push,
    .push_size = sizeof push,
  };

  return _graft_vk_dispatch_1d (self, &d, n, 4, error);
}

gboolean
_graft_vk_activation_backward (GraftBackend     *backend,
                               GraftActivation   act,
                               GraftBuffer      *x,
                               GraftBuffer      *dy,
                               GraftBuffer      *dx,
                               guint32           n,
                               GError          **error)
{
  GraftVkBackend *self = GRAFT_VK_BACKEND (backend);
  ActivationPush push = { n };
  GraftVkDispatch d = {
    .shader = "activation_backward",
    .n_bindings = 3,
    .buffers = { x, dy, dx },
    .spec = { 0, (guint32) act },
    .n_spec = 2,
    .push = &push,
    .push_size = sizeof push,
  };

  return _graft_vk_dispatch_1d (self, &d, n, 4, error);
}
