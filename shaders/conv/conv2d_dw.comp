#version 450
// conv2d_dw: direct (not GEMM) convolution kernels, mostly for one input channel per group (depthwise,
// e.g. ConvNeXt's 7×7 dwconv; a channel multiplier cog = Cout/G ≥ 1 is allowed). Mirrors the Vulkan
// depthwise and direct paths of dn_conv2d_forward/backward (compute/ops/conv/dn-conv2d.c). Variants:
//   DW_FWD:   8×8 outputs of one (sample, out channel) plane per workgroup (z); the input patch they
//             read is staged in shared memory (when it fits: use_shared), the weights too.
//   DGRAD_DIRECT: one invocation per input element, gathering over the taps that reach it (1-D grid);
//             for ANY groups: also used for dense convs whose GEMM tiles would be mostly empty.
//   DW_WGRAD: one workgroup per weight element (co, kh, kw): a tree sum over samples and outputs.
#define DN_PARAMS uint N; uint z0; uint C; uint H; uint W; uint Cout; uint Ho; uint Wo; uint KH; uint KW; \
  uint sh; uint sw; uint ph; uint pw; uint cig; uint cog; uint has_bias; uint use_shared;
#include "common.glsl"
DN_BUF_RO(0, X)    // FWD, WGRAD: inp (N,C,H,W); DGRAD: dout (N,Cout,Ho,Wo)
DN_BUF_RO(1, Wt)   // FWD, DGRAD: weight (Cout,1,KH,KW); WGRAD: dout
DN_BUF_RW(2, Y)    // FWD: out; DGRAD: dinp; WGRAD: dweight
DN_BUF_RO(3, bias) // FWD with has_bias: (Cout)

#if defined(DW_FWD)
layout(local_size_x = 8, local_size_y = 8) in;
// staged when (8 − 1)·stride + kernel ≤ 40 on both axes and KH·KW ≤ 1024 (10.5 KB of the 16 KB that
// every Vulkan device has)
shared float tile_in[40 * 40];
shared float wsh[1024];

void main()
{
  uint z = pc.z0 + gl_WorkGroupID.z, s = z / pc.Cout, co = z % pc.Cout, ci = co / pc.cog;
  uint kk = pc.KH * pc.KW;
  int h0 = int(gl_WorkGroupID.y * 8u * pc.sh) - int(pc.ph), w0 = int(gl_WorkGroupID.x * 8u * pc.sw) - int(pc.pw);
  uint xbase = pc.off[0] + (s * pc.C + ci) * pc.H * pc.W, wbase = pc.off[1] + co * kk;
  uint ph_ = 7u * pc.sh + pc.KH, pw_ = 7u * pc.sw + pc.KW; // patch size
  uint tid = gl_LocalInvocationIndex;
  if (pc.use_shared != 0u) // uniform
    {
      for (uint i = tid; i < ph_ * pw_; i += 64u)
        {
          int h = h0 + int(i / pw_), w = w0 + int(i % pw_);
          bool in_ = h >= 0 && w >= 0 && h < int(pc.H) && w < int(pc.W);
          tile_in[i] = in_ ? X[xbase + uint(h) * pc.W + uint(w)] : 0.0;
        }
      for (uint i = tid; i < kk; i += 64u)
        wsh[i] = Wt[wbase + i];
      barrier();
    }
  uint wo = gl_GlobalInvocationID.x, ho = gl_GlobalInvocationID.y;
  if (ho >= pc.Ho || wo >= pc.Wo)
    return;
  float acc = 0.0;
  uint lh = gl_LocalInvocationID.y * pc.sh, lw = gl_LocalInvocationID.x * pc.sw;
  if (pc.use_shared != 0u)
    {
      for (uint kh = 0u; kh < pc.KH; kh++)
        for (uint kw = 0u; kw < pc.KW; kw++)
          acc = fma(tile_in[(lh + kh) * pw_ + lw + kw], wsh[kh * pc.KW + kw], acc);
    }
  else
    {
      for (uint kh = 0u; kh < pc.KH; kh++)
        {
          int h = h0 + int(lh + kh);
          if (h < 0 || h >= int(pc.H))
            continue;
          for (uint kw = 0u; kw < pc.KW; kw++)
            {
              int w = w0 + int(lw + kw);
              if (w >= 0 && w < int(pc.W))
                acc = fma(X[xbase + uint(h) * pc.W + uint(w)], Wt[wbase + kh * pc.KW + kw], acc);
            }
        }
    }
  if (pc.has_bias != 0u)
    acc += bias[pc.off[3] + co];
  Y[pc.off[2] + (s * pc.Cout + co) * pc.Ho * pc.Wo + ho * pc.Wo + wo] = acc;
}
#elif defined(DGRAD_DIRECT)
// any groups: dinp[s,ci,h,w] += Σ over the group's output channels and the kernel taps that reach
// (h,w) (only taps kh ≡ h + ph mod sh, so strided convs do no wasted work)
layout(local_size_x = 256) in;
void main()
{
  uint HW = pc.H * pc.W, i = dn_gid();
  if (i >= pc.N * pc.C * HW)
    return;
  uint q = i % HW, sc = i / HW, ci = sc % pc.C, s = sc / pc.C, h = q / pc.W, w = q % pc.W;
  uint g = ci / pc.cig, cil = ci % pc.cig, kk = pc.KH * pc.KW, P = pc.Ho * pc.Wo;
  uint hp = h + pc.ph, wp = w + pc.pw, kh0 = hp % pc.sh, kw0 = wp % pc.sw;
  float acc = 0.0;
  for (uint col = 0u; col < pc.cog; col++)
    {
      uint co = g * pc.cog + col;
      uint dbase = pc.off[0] + (s * pc.Cout + co) * P, wbase = pc.off[1] + (co * pc.cig + cil) * kk;
      uint ho = (hp - kh0) / pc.sh + 1u;
      for (uint kh = kh0; kh < pc.KH && kh <= hp; kh += pc.sh)
        {
          ho--; // (hp − kh) / sh
          if (ho >= pc.Ho)
            continue;
          uint wo = (wp - kw0) / pc.sw + 1u;
          for (uint kw = kw0; kw < pc.KW && kw <= wp; kw += pc.sw)
            {
              wo--;
              if (wo < pc.Wo)
                acc = fma(X[dbase + ho * pc.Wo + wo], Wt[wbase + kh * pc.KW + kw], acc);
            }
        }
    }
  uint o = pc.off[2] + i;
  Y[o] = Y[o] + acc;
}
#elif defined(DW_WGRAD)
layout(local_size_x = 256) in;
shared float red[256];
void main()
{
  uint j = gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x; // (co, kh, kw)
  uint kk = pc.KH * pc.KW;
  if (j >= pc.Cout * kk) // uniform
    return;
  uint co = j / kk, r = j % kk, kh = r / pc.KW, kw = r % pc.KW, ci = co / pc.cog;
  uint P = pc.Ho * pc.Wo, tid = gl_LocalInvocationIndex;
  float acc = 0.0;
  for (uint t = tid; t < pc.N * P; t += 256u)
    {
      uint s = t / P, p = t % P, ho = p / pc.Wo, wo = p % pc.Wo;
      int h = int(ho * pc.sh + kh) - int(pc.ph), w = int(wo * pc.sw + kw) - int(pc.pw);
      if (h >= 0 && w >= 0 && h < int(pc.H) && w < int(pc.W))
        acc = fma(Wt[pc.off[1] + (s * pc.Cout + co) * P + p],
                  X[pc.off[0] + (s * pc.C + ci) * pc.H * pc.W + uint(h) * pc.W + uint(w)], acc);
    }
  red[tid] = acc;
  barrier();
  for (uint w = 128u; w > 0u; w >>= 1)
    {
      if (tid < w)
        red[tid] += red[tid + w];
      barrier();
    }
  if (tid == 0u)
    Y[pc.off[2] + j] = Y[pc.off[2] + j] + red[0];
}
#endif
