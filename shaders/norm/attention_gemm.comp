#version 450
// attention_gemm: batched C[b] = alpha·opA(A[b])·opB(B[b]) (+ C[b] when accumulating) (+ mask) for the
// attention op: A is (M,K) or, transposed, (K,M); B is (K,N) or, transposed, (N,K); C is (M,N); all
// contiguous with batch strides M·K, K·N, M·N. The optional additive mask (scores only) is indexed
// mask[bb·sB + hh·sH + m·sQ + n] with b = bb·H + hh (stride 0 broadcasts). 64×64 output tiles, K in
// steps of 16 through shared memory, 4×4 outputs per invocation.
// Mirrors dn_attention_forward/backward (compute/ops/norm/dn-attention.c).
#define DN_PARAMS uint M; uint N; uint K; uint H; uint trans_a; uint trans_b; uint flags; float alpha; \
  uint sB; uint sH; uint sQ;
#include "common.glsl"
layout(local_size_x = 256) in;
DN_BUF_RO(0, A)
DN_BUF_RO(1, B)
DN_BUF_RW(2, Cm)
DN_BUF_RO(3, mask)
const uint ACCUMULATE = 1u, HAS_MASK = 2u;
shared float As[16][64 + 1];
shared float Bs[16][64 + 1];
void main()
{
  uint t = gl_LocalInvocationIndex;
  uint b = gl_WorkGroupID.z;
  uint m0 = gl_WorkGroupID.y * 64u, n0 = gl_WorkGroupID.x * 64u;
  uint aoff = pc.off[0] + b * pc.M * pc.K, boff = pc.off[1] + b * pc.K * pc.N;
  uint tm = (t / 16u) * 4u, tn = (t % 16u) * 4u; // this invocation's 4×4 block inside the tile
  float acc[4][4];
  [[unroll]] for (uint i = 0u; i < 4u; i++)
    [[unroll]] for (uint j = 0u; j < 4u; j++)
      acc[i][j] = 0.0;
  for (uint k0 = 0u; k0 < pc.K; k0 += 16u)
    {
      // load a 64×16 tile of opA and a 16×64 tile of opB (4 elements each per invocation)
      [[unroll]] for (uint r = 0u; r < 4u; r++)
        {
          uint e = t + r * 256u;
          // opA element (m, k): as stored, consecutive invocations walk the contiguous dim
          uint am, ak;
          if (pc.trans_a != 0u) { am = e % 64u; ak = e / 64u; }
          else { ak = e % 16u; am = e / 16u; }
          uint gm = m0 + am, gk = k0 + ak;
          float av = 0.0;
          if (gm < pc.M && gk < pc.K)
            av = A[aoff + (pc.trans_a != 0u ? gk * pc.M + gm : gm * pc.K + gk)];
          As[ak][am] = av;
          uint bn, bk;
          if (pc.trans_b != 0u) { bk = e % 16u; bn = e / 16u; }
          else { bn = e % 64u; bk = e / 64u; }
          uint gn = n0 + bn, gk2 = k0 + bk;
          float bv = 0.0;
          if (gn < pc.N && gk2 < pc.K)
            bv = B[boff + (pc.trans_b != 0u ? gn * pc.K + gk2 : gk2 * pc.N + gn)];
          Bs[bk][bn] = bv;
        }
      barrier();
      [[unroll]] for (uint kk = 0u; kk < 16u; kk++)
        {
          float a[4], bb[4];
          [[unroll]] for (uint i = 0u; i < 4u; i++)
            a[i] = As[kk][tm + i];
          [[unroll]] for (uint j = 0u; j < 4u; j++)
            bb[j] = Bs[kk][tn + j];
          [[unroll]] for (uint i = 0u; i < 4u; i++)
            [[unroll]] for (uint j = 0u; j < 4u; j++)
              acc[i][j] += a[i] * bb[j];
        }
      barrier();
    }
  uint coff = pc.off[2] + b * pc.M * pc.N;
  uint moff = pc.off[3] + (b / pc.H) * pc.sB + (b % pc.H) * pc.sH;
  [[unroll]] for (uint i = 0u; i < 4u; i++)
    [[unroll]] for (uint j = 0u; j < 4u; j++)
      {
        uint gm = m0 + tm + i, gn = n0 + tn + j;
        if (gm >= pc.M || gn >= pc.N)
          continue;
        float v = pc.alpha * acc[i][j];
        if ((pc.flags & HAS_MASK) != 0u)
          v += mask[moff + gm * pc.sQ + gn];
        uint ci = coff + gm * pc.N + gn;
        if ((pc.flags & ACCUMULATE) != 0u)
          v += Cm[ci];
        Cm[ci] = v;
      }
}
