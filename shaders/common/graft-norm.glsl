// SPDX-License-Identifier: GPL-3.0-or-later
// Shared by the normalisation kernels (norm_*.comp): GraftNormPlan as push constants.
// Element (o, g, i) of x sits at (o * groups + g) * inner + i; group g (a channel of
// batch norm, a row of layer norm) has outer * inner values.

layout(push_constant) uniform Params {
  uint  outer, groups, inner;
  uint  total;      // invocations with work
  float eps;
  float momentum;
} p;

// The j-th value of group g, j < outer * inner.
uint graft_norm_index(uint g, uint j)
{
  return ((j / p.inner) * p.groups + g) * p.inner + j % p.inner;
}

// The group of element e.
uint graft_norm_group(uint e)
{
  return (e / p.inner) % p.groups;
}

// Workgroup kernels: this workgroup's group, from a grid that may be 2-D.
uint graft_norm_workgroup()
{
  return gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x;
}
