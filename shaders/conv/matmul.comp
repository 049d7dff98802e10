#version 450
// matmul: C = alpha·op(A)·op(B) + beta·C (+ bias), batched over workgroup z. Mirrors the Vulkan path of
// dn_gemm (compute/ops/conv/dn-gemm.c), used by dn_matmul_* and dn_linear_*. Variants: 64×64 tiles
// (default) and 128×128 tiles with 8×8 register blocks (-DGEMM_BIG, for large products).
#define DN_PARAMS uint M; uint N; uint K; uint lda; uint ldb; uint ldc; uint sa; uint sb; uint sc; \
  uint trans_a; uint trans_b; float alpha; float beta; uint bias_mode; uint z0; uint m0;
#include "common.glsl"
layout(local_size_x = 256) in;
DN_BUF_RO(0, A)
DN_BUF_RO(1, B)
DN_BUF_RW(2, C)
DN_BUF_RO(3, bias) // bias_mode 1: one per column n, 2: one per row m, 0: not read

#ifdef GEMM_BIG
#define GEMM_BM 128
#define GEMM_BN 128
#define GEMM_BK 8
#else
#define GEMM_BM 64
#define GEMM_BN 64
#define GEMM_BK 16
#endif

#define GEMM_ROW0 pc.m0
uint gemm_M() { return pc.M; }
uint gemm_N() { return pc.N; }
uint gemm_K() { return pc.K; }
bool gemm_a_kfast() { return pc.trans_a == 0u; }
bool gemm_b_kfast() { return pc.trans_b != 0u; }

float gemm_load_a(uint z, uint m, uint k, uint i)
{
  uint base = pc.off[0] + (pc.z0 + z) * pc.sa;
  return A[base + (pc.trans_a != 0u ? k * pc.lda + m : m * pc.lda + k)];
}

float gemm_load_b(uint z, uint k, uint n, uint i)
{
  uint base = pc.off[1] + (pc.z0 + z) * pc.sb;
  return B[base + (pc.trans_b != 0u ? n * pc.ldb + k : k * pc.ldb + n)];
}

void gemm_store(uint z, uint m, uint n, float acc)
{
  uint i = pc.off[2] + (pc.z0 + z) * pc.sc + m * pc.ldc + n;
  float v = pc.alpha * acc;
  if (pc.bias_mode == 1u)
    v += bias[pc.off[3] + n];
  else if (pc.bias_mode == 2u)
    v += bias[pc.off[3] + m];
  if (pc.beta != 0.0)
    v += pc.beta * C[i];
  C[i] = v;
}

#include "conv/gemm-tile.glsl"

void main()
{
  gemm_main();
}
