// SPDX-License-Identifier: GPL-3.0-or-later
// Activation functions on vec4s, shared by activation.comp and activation_backward.comp.
// Specialization constant 1 (ACT) picks the function; its values are GraftActivation's
// (compute/tensor/graft-ops.h), and the definitions and the gradients at the kinks are
// PyTorch's. Selections use mix() with a bvec, which picks a component rather than
// interpolating, so a zero gradient stays zero for an infinite dy and a NaN input
// stays NaN in the forward direction.
//
// Accuracy: the sigmoid is built from e = exp(-|x|), which never overflows, and
// 1 - sigmoid(x) is computed as sigmoid(-x), so neither loses relative precision in the
// tails. Vulkan only promises exp to 3 + 2|x| ulp, which bounds what any kernel here can
// do. GELU needs the normal CDF Φ(x) = erfc(-x / √2) / 2; GLSL has no erf, so erfc of a
// non-negative argument comes from the Chebyshev fit of Numerical Recipes (erfcc,
// 2nd ed. §6.2), whose relative error is below 1.2e-7 for every z >= 0 (checked against
// a double-precision erfc on [0, 20]). Using erfc for the tail rather than 1 + erf(x/√2)
// keeps that relative precision for negative x, where 1 + erf would cancel. Evaluated in
// float32, the rounding of z = |x|/√2 and of z·z adds a relative error of about
// z²·2^-23 (3e-6 at x = -6, where Φ is 1e-9), on top of exp's own.

layout(constant_id = 1) const uint ACT = 0;

#define GRAFT_ACT_RELU        0u
#define GRAFT_ACT_RELU6       1u
#define GRAFT_ACT_SILU        2u
#define GRAFT_ACT_HARDSWISH   3u
#define GRAFT_ACT_HARDSIGMOID 4u
#define GRAFT_ACT_SIGMOID     5u
#define GRAFT_ACT_GELU        6u

const float GRAFT_INV_SQRT2 = 0.70710678118654752;
const float GRAFT_INV_SQRT_2PI = 0.39894228040143268;

vec4 graft_relu6(vec4 x)
{
  vec4 r = mix(x, vec4(6.0), greaterThan(x, vec4(6.0)));
  return mix(r, vec4(0.0), lessThan(x, vec4(0.0)));
}

// sigmoid(x) and sigmoid(-x) = 1 - sigmoid(x), each to full relative precision.
void graft_sigmoid2(vec4 x, out vec4 s, out vec4 s_neg)
{
  vec4 e = exp(-abs(x));
  vec4 big = 1.0 / (1.0 + e);      // sigmoid(|x|)
  vec4 small = e / (1.0 + e);      // sigmoid(-|x|)
  bvec4 pos = greaterThanEqual(x, vec4(0.0));
  s = mix(small, big, pos);
  s_neg = mix(big, small, pos);
}

// erfc(z) for z >= 0 (Numerical Recipes' erfcc).
vec4 graft_erfc_nonneg(vec4 z)
{
  vec4 t = 1.0 / (1.0 + 0.5 * z);
  vec4 poly = -1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
              t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 +
              t * (-0.82215223 + t * 0.17087277))))))));
  return t * exp(poly - z * z);
}

// Φ(x), the standard normal CDF.
vec4 graft_normal_cdf(vec4 x)
{
  vec4 tail = 0.5 * graft_erfc_nonneg(abs(x) * GRAFT_INV_SQRT2);   // Φ(-|x|)
  return mix(1.0 - tail, tail, lessThan(x, vec4(0.0)));
}

vec4 graft_activation(vec4 x)
{
  vec4 s, s_neg;

  if (ACT == GRAFT_ACT_RELU)
    return mix(x, vec4(0.0), lessThan(x, vec4(0.0)));
  if (ACT == GRAFT_ACT_RELU6)
    return graft_relu6(x);
  if (ACT == GRAFT_ACT_SILU)
    {
      graft_sigmoid2(x, s, s_neg);
      return x * s;
    }
  if (ACT == GRAFT_ACT_HARDSWISH)
    return x * graft_relu6(x + 3.0) / 6.0;
  if (ACT == GRAFT_ACT_HARDSIGMOID)
    return graft_relu6(x + 3.0) / 6.0;
  if (ACT == GRAFT_ACT_SIGMOID)
    {
      graft_sigmoid2(x, s, s_neg);
      return s;
    }
  // GRAFT_ACT_GELU
  return x * graft_normal_cdf(x);
}

// dy * act'(x), x the forward input.
vec4 graft_activation_grad(vec4 x, vec4 dy)
{
  const vec4 zero = vec4(0.0);
  vec4 s, s_neg, r;

  if (ACT == GRAFT_ACT_RELU)
    return mix(zero, dy, greaterThan(x, zero));
  if (ACT == GRAFT_ACT_RELU6)
    {
      // 1 only for 0 < x < 6 (PyTorch's hardtanh backward)
      r = mix(zero, dy, greaterThan(x, zero));
      return mix(r, zero, greaterThanEqual(x, vec4(6.0)));
    }
  if (ACT == GRAFT_ACT_SILU)
    {
      graft_sigmoid2(x, s, s_neg);
      return dy * (s * (1.0 + x * s_neg));
    }
  if (ACT == GRAFT_ACT_HARDSWISH)
    {
      // 0 below -3, x / 3 + 1/2 on [-3, 3] (both ends included), 1 above
      r = dy * (x / 3.0 + 0.5);
      r = mix(r, dy, greaterThan(x, vec4(3.0)));
      return mix(r, zero, lessThan(x, vec4(-3.0)));
    }
  if (ACT == GRAFT_ACT_HARDSIGMOID)
    {
      // 1/6 only for -3 < x < 3
      r = dy * (1.0 / 6.0);
      r = mix(r, zero, lessThanEqual(x, vec4(-3.0)));
      return mix(r, zero, greaterThanEqual(x, vec4(3.0)));
    }
  if (ACT == GRAFT_ACT_SIGMOID)
    {
      graft_sigmoid2(x, s, s_neg);
      return dy * (s * s_neg);
    }
  // GRAFT_ACT_GELU: Φ(x) + x φ(x)
  return dy * (graft_normal_cdf(x) + x * (GRAFT_INV_SQRT_2PI * exp(-0.5 * x * x)));
}
