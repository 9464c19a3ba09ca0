/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-cpu"

/* Activation functions on the CPU backend, forward and backward, with PyTorch's
 * definitions and its gradients at the kinks (see GraftActivation in graft-ops.h).
 *
 * Comparisons are written so that a NaN input gives a NaN output (x < 0 ? 0 : x rather
 * than x > 0 ? x : 0), as PyTorch does: a diverging run shows up as NaN, not as zeros.
 * The sigmoid is evaluated from e = exp(-|x|), which never overflows, and 1 - sigmoid(x)
 * as sigmoid(-x), which keeps its relative precision where sigmoid(x) rounds to 1.
 * GELU is evaluated in double: in float the rounding of x / √2 alone costs a relative
 * error of about x²·2^-24 in the negative tail, and this backend is the reference the
 * Vulkan kernels are measured against. */

#include <math.h>

#include "graft-cpu-private.h"

#define INV_SQRT2     0.70710678118654752440
#define INV_SQRT_2PI  0.39894228040143267794

static inline float
relu6f (float x)
{
  return x < 0.0f ? 0.0f : (x > 6.0f ? 6.0f : x);
}

/* sigmoid(x) and sigmoid(-x) = 1 - sigmoid(x), both to full relative precision. */
static inline void
sigmoid2 (float  x,
          float *s,
          float *s_neg)
{
  float e = expf (-fabsf (x));
  float big = 1.0f / (1.0f + e);     /* sigmoid(|x|) */
  float small = e / (1.0f + e);      /* sigmoid(-|x|) */

  *s = x >= 0.0f ? big : small;
  *s_neg = x >= 0.0f ? small : big;
}

static inline float
act_relu (float x)
{
  return x < 0.0f ? 0.0f : x;
}

static inline float
act_relu6 (float x)
{
  return relu6f (x);
}

static inline float
act_silu (float x)
{
  float s, s_neg;

  sigmoid2 (x, &s, &s_neg);
  return x * s;
}

static inline float
act_hardswish (float x)
{
  return x * relu6f (x + 3.0f) / 6.0f;
}

static inline float
act_hardsigmoid (float x)
{
  return relu6f (x + 3.0f) / 6.0f;
}

static inline float
act_sigmoid (float x)
{
  float s, s_neg;

  sigmoid2 (x, &s, &s_neg);
  return s;
}

/* Φ(x) = erfc(-x / √2) / 2, which unlike (1 + erf(x / √2)) / 2 does not cancel for
 * negative x. */
static inline double
normal_cdf (double x)
{
  return 0.5 * erfc (-x * INV_SQRT2);
}

static inline float
act_gelu (float x)
{
  return (float) ((double) x * normal_cdf (x));
}

/* Gradients: dy * act'(x). */

static inline float
grad_relu (float x,
           float dy)
{
  return x > 0.0f ? dy : 0.0f;
}

static inline float
grad_relu6 (float x,
            float dy)
{
  return x > 0.0f && x < 6.0f ? dy : 0.0f;
}

static inline float
grad_silu (float x,
           float dy)
{
  float s, s_neg;

  sigmoid2 (x, &s, &s_neg);
  return dy * (s * (1.0f + x * s_neg));
}

static inline float
grad_hardswish (float x,
                float dy)
{
  if (x < -3.0f)
    return 0.0f;
  if (x <= 3.0f)
    return dy * (x / 3.0f + 0.5f);
  return dy;
}

static inline float
grad_hardsigmoid (float x,
                  float dy)
{
  return x > -3.0f && x < 3.0f ? dy * (1.0f / 6.0f) : 0.0f;
}

static inline float
grad_sigmoid (float x,
              float dy)
{
  float s, s_neg;

  sigmoid2 (x, &s, &s_neg);
  return dy * (s * s_neg);
}

static inline float
grad_gelu (float x,
           float dy)
{
  double xd = x;

  return (float) (dy * (normal_cdf (xd) + xd * INV_SQRT_2PI * exp (-0.5 * xd * xd)));
}

typedef struct {
  GraftActivation  act;
  const float     *x;
  const float     *dy;   /* backward only */
  float           *out;
} ActivationCtx;

#define FORWARD_LOOP(f) \
  for (guint32 i = start; i < end; i++) \
    c->out[i] = f (c->x[i])

#define BACKWARD_LOOP(f) \
  for (guint32 i = start; i < end; i++) \
    c->out[i] = f (c->x[i], c->dy[i])

/* One loop per activation, so that each inner loop is a straight line. */
static void
forward_range (gpointer ctx,
               guint32  start,
               guint32  end)
{
  ActivationCtx *c = ctx;

  switch (c->act)
    {
    case GRAFT_ACTIVATION_RELU:        FORWARD_LOOP (act_relu); break;
    case GRAFT_ACTIVATION_RELU6:       FORWARD_LOOP (act_relu6); break;
    case GRAFT_ACTIVATION_SILU:        FORWARD_LOOP (act_silu); break;
    case GRAFT_ACTIVATION_HARDSWISH:   FORWARD_LOOP (act_hardswish); break;
    case GRAFT_ACTIVATION_HARDSIGMOID: FORWARD_LOOP (act_hardsigmoid); break;
    case GRAFT_ACTIVATION_SIGMOID:     FORWARD_LOOP (act_sigmoid); break;
    case GRAFT_ACTIVATION_GELU:        FORWARD_LOOP (act_gelu); break;
    default:                           g_return_if_reached ();
    }
}

static void
backward_range (gpointer ctx,
                guint32  start,
                guint32  end)
{
  ActivationCtx *c = ctx;

  switch (c->act)
    {
    case GRAFT_ACTIVATION_RELU:        BACKWARD_LOOP (grad_relu); break;
    case GRAFT_ACTIVATION_RELU6:       BACKWARD_LOOP (grad_relu6); break;
    case GRAFT_ACTIVATION_SILU:        BACKWARD_LOOP (grad_silu); break;
    case GRAFT_ACTIVATION_HARDSWISH:   BACKWARD_LOOP (grad_hardswish); break;
    case GRAFT_ACTIVATION_HARDSIGMOID: BACKWARD_LOOP (grad_hardsigmoid); break;
    case GRAFT_ACTIVATION_SIGMOID:     BACKWARD_LOOP (grad_sigmoid); break;
    case GRAFT_ACTIVATION_GELU:        BACKWARD_LOOP (grad_gelu); break;
    default:                           g_return_if_reached ();
    }
}

gboolean
_graft_cpu_activation (GraftBackend     *backend,
                       GraftActivation   act,
                       GraftBuffer      *x,
                       GraftBuffer      *y,
                       guint32           n,
                       GError          **error)
{
  ActivationCtx ctx = { act, x->data, NULL, y->data };

  (void) error;
  _graft_cpu_parallel_for ((GraftCpuBackend *) backend, n, forward_range, &ctx);
  return TRUE;
}

gboolean
_graft_cpu_activation_backward (GraftBackend     *backend,
                                GraftActivation   act,
                                GraftBuffer      *x,
                                GraftBuffer      *dy,
                                GraftBuffer      *dx,
                                guint32           n,
                                GError          **error)
{
  ActivationCtx ctx = { act, x->data, dy->data, dx->data };

  (void) error;
  _graft_cpu_parallel_for ((GraftCpuBackend *) backend, n, backward_range, &ctx);
  return TRUE;
}
