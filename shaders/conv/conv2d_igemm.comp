#version 450
// conv2d_igemm: conv2d as an implicit GEMM (no im2col buffer: the tile loads gather from the tensors),
// one GEMM per group (workgroup z), on the tiled body of gemm-tile.glsl. Mirrors the Vulkan paths of
// dn_conv2d_forward/backward (compute/ops/conv/dn-conv2d.c). Variants:
//   CONV_FWD:   out (+bias)  M = Cout/G, N = batch·Ho·Wo, K = Cin/G·KH·KW   A = weight, B = im2col(inp)
//   CONV_DGRAD: dinp +=      M = Cin/G,  N = batch·H·W,   K = Cout/G·KH·KW  A = weightᵀ, B = dout gathered
//   CONV_WGRAD: dweight +=   M = Cout/G, N = Cin/G·KH·KW, K = batch·Ho·Wo   A = dout, B = im2col(inp)ᵀ
// `nb` samples starting at `n0` per dispatch (the host splits big batches to fit the grid).
#define DN_PARAMS uint nb; uint n0; uint Cin; uint H; uint W; uint Cout; uint Ho; uint Wo; uint KH; uint KW; \
  uint sh; uint sw; uint ph; uint pw; uint cig; uint cog; uint has_bias;
#include "common.glsl"
layout(local_size_x = 256) in;
DN_BUF_RO(0, X)    // FWD, WGRAD: inp (N,Cin,H,W); DGRAD: dout (N,Cout,Ho,Wo)
DN_BUF_RO(1, Wt)   // FWD, DGRAD: weight (Cout,Cin/G,KH,KW); WGRAD: dout (N,Cout,Ho,Wo)
DN_BUF_RW(2, Y)    // FWD: out; DGRAD: dinp; WGRAD: dweight
DN_BUF_RO(3, bias) // FWD with has_bias: (Cout)

#define GEMM_BM 64
#define GEMM_BN 64
#define GEMM_BK 16

#define CONV_L 4 // loads per invocation per K tile (GEMM_BM·GEMM_BK / 256)

// Exact a / b for a < 2^22 from a float reciprocal (integer division is slow on GPUs and very slow on
// lavapipe, which has no vector divide); plain division above.
uint fdiv(uint a, uint b, float inv)
{
  if (a >= 4194304u)
    return a / b;
  uint q = uint(float(a) * inv);
  while (q * b > a)
    q--;
  while (q * b + b <= a)
    q++;
  return q;
}

float inv_KK, inv_KW, inv_P, inv_Wo, inv_HW, inv_W, inv_sh, inv_sw; // set by main()
uint cP, cHW, cKK;

// per load slot: what depends only on the slot's fixed row (A) or column (B)
uint ca[CONV_L];
uint cb[CONV_L];
int cbh[CONV_L], cbw[CONV_L];

#define GEMM_PREP_A(z, m, i) conv_prep_a(z, m, i)
#define GEMM_PREP_B(z, n, i) conv_prep_b(z, n, i)

#if defined(CONV_FWD)
uint gemm_M() { return pc.cog; }
uint gemm_N() { return pc.nb * cP; }
uint gemm_K() { return pc.cig * cKK; }
bool gemm_a_kfast() { return true; }
bool gemm_b_kfast() { return false; }

void conv_prep_a(uint g, uint m, uint i)
{
  ca[i] = pc.off[1] + (g * pc.cog + m) * gemm_K();
}

void conv_prep_b(uint g, uint n, uint i)
{
  uint s = fdiv(n, cP, inv_P), p = n - s * cP, ho = fdiv(p, pc.Wo, inv_Wo), wo = p - ho * pc.Wo;
  cb[i] = pc.off[0] + ((pc.n0 + s) * pc.Cin + g * pc.cig) * cHW;
  cbh[i] = int(ho * pc.sh) - int(pc.ph);
  cbw[i] = int(wo * pc.sw) - int(pc.pw);
}

float gemm_load_a(uint g, uint m, uint k, uint i)
{
  return Wt[ca[i] + k];
}

float gemm_load_b(uint g, uint k, uint n, uint i)
{
  uint ci = fdiv(k, cKK, inv_KK), r = k - ci * cKK, kh = fdiv(r, pc.KW, inv_KW), kw = r - kh * pc.KW;
  int h = cbh[i] + int(kh), w = cbw[i] + int(kw);
  if (h < 0 || w < 0 || h >= int(pc.H) || w >= int(pc.W))
    return 0.0;
  return X[cb[i] + ci * cHW + uint(h) * pc.W + uint(w)];
}

void gemm_store(uint g, uint m, uint n, float acc)
{
  uint s = fdiv(n, cP, inv_P), p = n - s * cP, co = g * pc.cog + m;
  if (pc.has_bias != 0u)
    acc += bias[pc.off[3] + co];
  Y[pc.off[2] + ((pc.n0 + s) * pc.Cout + co) * cP + p] = acc;
}
#elif defined(CONV_DGRAD)
uint gemm_M() { return pc.cig; }
uint gemm_N() { return pc.nb * cHW; }
uint gemm_K() { return pc.cog * cKK; }
bool gemm_a_kfast() { return true; }
bool gemm_b_kfast() { return false; }

void conv_prep_a(uint g, uint m, uint i)
{
  ca[i] = pc.off[1] + g * pc.cog * pc.cig * cKK + m * cKK;
}

void conv_prep_b(uint g, uint n, uint i)
{
  uint s = fdiv(n, cHW, inv_HW), q = n - s * cHW, h = fdiv(q, pc.W, inv_W), w = q - h * pc.W;
  cb[i] = pc.off[0] + ((pc.n0 + s) * pc.Cout + g * pc.cog) * cP;
  cbh[i] = int(h + pc.ph);
  cbw[i] = int(w + pc.pw);
}

float gemm_load_a(uint g, uint m, uint k, uint i)
{
  uint col = fdiv(k, cKK, inv_KK), r = k - col * cKK;
  return Wt[ca[i] + col * pc.cig * cKK + r];
}

// dout at the output whose window puts kernel tap (kh,kw) on this column's input pixel, or 0
float gemm_load_b(uint g, uint k, uint n, uint i)
{
  uint col = fdiv(k, cKK, inv_KK), r = k - col * cKK, kh = fdiv(r, pc.KW, inv_KW), kw = r - kh * pc.KW;
  int th = cbh[i] - int(kh), tw = cbw[i] - int(kw);
  if (th < 0 || tw < 0)
    return 0.0;
  uint ho = pc.sh == 1u ? uint(th) : fdiv(uint(th), pc.sh, inv_sh);
  uint wo = pc.sw == 1u ? uint(tw) : fdiv(uint(tw), pc.sw, inv_sw);
  if (ho * pc.sh != uint(th) || wo * pc.sw != uint(tw) || ho >= pc.Ho || wo >= pc.Wo)
    return 0.0;
  return X[cb[i] + col * cP + ho * pc.Wo + wo];
}

void gemm_store(uint g, uint m, uint n, float acc)
{
  uint s = fdiv(n, cHW, inv_HW), q = n - s * cHW;
  uint i = pc.off[2] + ((pc.n0 + s) * pc.Cin + g * pc.cig + m) * cHW + q;
  Y[i] = Y[i] + acc;
}
#elif defined(CONV_WGRAD)
uint gemm_M() { return pc.cog; }
uint gemm_N() { return pc.cig * cKK; }
uint gemm_K() { return pc.nb * cP; }
bool gemm_a_kfast() { return true; }
bool gemm_b_kfast() { return true; }

void conv_prep_a(uint g, uint m, uint i)
{
  ca[i] = pc.off[1] + (pc.n0 * pc.Cout + g * pc.cog + m) * cP;
}

void conv_prep_b(uint g, uint n, uint i)
{
  uint ci = fdiv(n, cKK, inv_KK), r = n - ci * cKK, kh = fdiv(r, pc.KW, inv_KW), kw = r - kh * pc.KW;
  cb[i] = pc.off[0] + (pc.n0 * pc.Cin + g * pc.cig + ci) * cHW;
  cbh[i] = int(kh) - int(pc.ph);
  cbw[i] = int(kw) - int(pc.pw);
}

float gemm_load_a(uint g, uint m, uint k, uint i)
{
  uint s = fdiv(k, cP, inv_P), p = k - s * cP;
  return Wt[ca[i] + s * pc.Cout * cP + p];
}

float gemm_load_b(uint g, uint k, uint n, uint i)
{
  uint s = fdiv(k, cP, inv_P), p = k - s * cP, ho = fdiv(p, pc.Wo, inv_Wo), wo = p - ho * pc.Wo;
  int h = int(ho * pc.sh) + cbh[i], w = int(wo * pc.sw) + cbw[i];
  if (h < 0 || w < 0 || h >= int(pc.H) || w >= int(pc.W))
    return 0.0;
  return X[cb[i] + s * pc.Cin * cHW + uint(h) * pc.W + uint(w)];
}

void gemm_store(uint g, uint m, uint n, float acc)
{
  uint i = pc.off[2] + (g * pc.cog + m) * gemm_N() + n;
  Y[i] = Y[i] + acc;
}
#endif

#include "conv/gemm-tile.glsl"

void main()
{
  cP = pc.Ho * pc.Wo;
  cHW = pc.H * pc.W;
  cKK = pc.KH * pc.KW;
  inv_KK = 1.0 / float(cKK);
  inv_KW = 1.0 / float(pc.KW);
  inv_P = 1.0 / float(cP);
  inv_Wo = 1.0 / float(pc.Wo);
  inv_HW = 1.0 / float(cHW);
  inv_W = 1.0 / float(pc.W);
  inv_sh = 1.0 / float(pc.sh);
  inv_sw = 1.0 / float(pc.sw);
  gemm_main();
}
