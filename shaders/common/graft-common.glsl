// SPDX-License-Identifier: GPL-3.0-or-later
// Shared declarations for Graft's compute shaders.

#extension GL_EXT_control_flow_attributes : require

// Workgroup size of 1-D kernels, set by the host (specialization constant 0).
layout(local_size_x_id = 0, local_size_y = 1, local_size_z = 1) in;

// Linear index of this invocation over a grid that may be 2-D when a 1-D dispatch
// would exceed maxComputeWorkGroupCount[0].
uint graft_global_index()
{
  return gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * gl_NumWorkGroups.x * gl_WorkGroupSize.x;
}
