// common.glsl: what every DualNeuron compute shader shares.
//
// Binding convention (mirrors dn_vk_dispatch in compute/vulkan/dn-vk.c):
//   set 0, bindings 0..7: storage buffers, bound at an aligned base; the remaining element offset of
//   binding i is pc.off[i] (so tensor views at any element offset work).
//   push constants: uint off[8] (32 bytes), then the op's parameters (at most 96 bytes), declared by
//   the shader as `#define DN_PARAMS <members>` before including this file.
// Dispatch convention: 1-D work is spread over x and y (x ≤ 65535 groups); dn_gid() is the flat index.
#extension GL_EXT_control_flow_attributes : enable

#ifndef DN_LOCAL_SIZE
#define DN_LOCAL_SIZE 256
#endif

#ifndef DN_PARAMS
#define DN_PARAMS uint dn_unused_;
#endif

layout(push_constant) uniform DnPush
{
  uint off[8];
  DN_PARAMS
} pc;

uint dn_gid()
{
  return gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * gl_NumWorkGroups.x * gl_WorkGroupSize.x;
}

#define DN_BUF_RO(idx, name) layout(std430, set = 0, binding = idx) readonly buffer DnB##idx { float name[]; };
#define DN_BUF_WO(idx, name) layout(std430, set = 0, binding = idx) writeonly buffer DnB##idx { float name[]; };
#define DN_BUF_RW(idx, name) layout(std430, set = 0, binding = idx) buffer DnB##idx { float name[]; };
