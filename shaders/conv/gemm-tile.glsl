// gemm-tile.glsl: the shared tiled GEMM body of matmul.comp and conv2d_igemm.comp.
//
// One workgroup of 256 invocations computes a GEMM_BM×GEMM_BN tile of C = op(A)·op(B) for one batch
// entry (gl_WorkGroupID.z): tiles of A (BM×BK) and B (BK×BN) are staged in shared memory, each
// invocation keeps a TM×TN block of accumulators in registers (rows ty + 16·i, columns tx + 16·j, so
// that stores of neighbouring invocations are neighbours in memory), and the next K tile is fetched
// into registers while the current one is multiplied.
//
// The includer defines, before including this file:
//   GEMM_BM, GEMM_BN (64 or 128), GEMM_BK (8 or 16)
//   uint gemm_M(), gemm_N(), gemm_K()            the problem size
//   float gemm_load_a(uint z, uint m, uint k, uint i)   A(m,k); only called for m < M, k < K; i is the
//                                                       index of this load among the invocation's loads
//   float gemm_load_b(uint z, uint k, uint n, uint i)   B(k,n); only called for k < K, n < N
//   void gemm_store(uint z, uint m, uint n, float acc)   only called for m < M, n < N
//   bool gemm_a_kfast(), gemm_b_kfast()          whether consecutive k of A (of B) are neighbours in
//                                                memory (picks the load pattern that coalesces)
// and calls gemm_main() from main(). Optionally also GEMM_PREP_A(z, m, i) / GEMM_PREP_B(z, n, i): run
// once per load slot i before the K loop with that slot's fixed row m (column n), so that the includer
// can cache what depends on it alone (e.g. the decomposition of a column into sample and pixel).
#ifndef GEMM_ROW0 // the first row of this dispatch (grids of more than 65535 row tiles take several)
#define GEMM_ROW0 0u
#endif
#ifndef GEMM_PREP_A
#define GEMM_PREP_A(z, m, i)
#endif
#ifndef GEMM_PREP_B
#define GEMM_PREP_B(z, n, i)
#endif

#define GEMM_TM (GEMM_BM / 16)
#define GEMM_TN (GEMM_BN / 16)
#define GEMM_LA (GEMM_BM * GEMM_BK / 256) // A elements each invocation loads per K tile
#define GEMM_LB (GEMM_BN * GEMM_BK / 256)

shared float gemm_As[GEMM_BK][GEMM_BM + 1];
shared float gemm_Bs[GEMM_BK][GEMM_BN + 1];

void gemm_main()
{
  uint M = gemm_M(), N = gemm_N(), K = gemm_K();
  uint z = gl_WorkGroupID.z;
  uint m0 = GEMM_ROW0 + gl_WorkGroupID.y * GEMM_BM, n0 = gl_WorkGroupID.x * GEMM_BN;
  uint tid = gl_LocalInvocationIndex;
  uint tx = tid % 16u, ty = tid / 16u;
  bool akf = gemm_a_kfast(), bkf = gemm_b_kfast();

  // where this invocation's loads land in the tiles
  uint am[GEMM_LA], ak[GEMM_LA], bk[GEMM_LB], bn[GEMM_LB];
  [[unroll]] for (uint i = 0; i < GEMM_LA; i++)
    {
      uint e = tid + 256u * i;
      am[i] = akf ? e / GEMM_BK : e % GEMM_BM;
      ak[i] = akf ? e % GEMM_BK : e / GEMM_BM;
    }
  [[unroll]] for (uint i = 0; i < GEMM_LB; i++)
    {
      uint e = tid + 256u * i;
      bk[i] = bkf ? e % GEMM_BK : e / GEMM_BN;
      bn[i] = bkf ? e / GEMM_BK : e % GEMM_BN;
    }
  [[unroll]] for (uint i = 0; i < GEMM_LA; i++)
    GEMM_PREP_A(z, m0 + am[i], i);
  [[unroll]] for (uint i = 0; i < GEMM_LB; i++)
    GEMM_PREP_B(z, n0 + bn[i], i);

  float acc[GEMM_TM][GEMM_TN];
  [[unroll]] for (uint i = 0; i < GEMM_TM; i++)
    [[unroll]] for (uint j = 0; j < GEMM_TN; j++)
      acc[i][j] = 0.0;

  float ra[GEMM_LA], rb[GEMM_LB];
  // pass 1: fetch K tile 0
  [[unroll]] for (uint i = 0; i < GEMM_LA; i++)
    {
      uint m = m0 + am[i], k = ak[i];
      ra[i] = (m < M && k < K) ? gemm_load_a(z, m, k, i) : 0.0;
    }
  [[unroll]] for (uint i = 0; i < GEMM_LB; i++)
    {
      uint k = bk[i], n = n0 + bn[i];
      rb[i] = (k < K && n < N) ? gemm_load_b(z, k, n, i) : 0.0;
    }

  // pass 2: for each K tile: store the fetched tile, fetch the next one, multiply the stored one
  for (uint k0 = 0; k0 < K; k0 += GEMM_BK)
    {
      [[unroll]] for (uint i = 0; i < GEMM_LA; i++)
        gemm_As[ak[i]][am[i]] = ra[i];
      [[unroll]] for (uint i = 0; i < GEMM_LB; i++)
        gemm_Bs[bk[i]][bn[i]] = rb[i];
      barrier();
      uint k1 = k0 + GEMM_BK;
      if (k1 < K)
        {
          [[unroll]] for (uint i = 0; i < GEMM_LA; i++)
            {
              uint m = m0 + am[i], k = k1 + ak[i];
              ra[i] = (m < M && k < K) ? gemm_load_a(z, m, k, i) : 0.0;
            }
          [[unroll]] for (uint i = 0; i < GEMM_LB; i++)
            {
              uint k = k1 + bk[i], n = n0 + bn[i];
              rb[i] = (k < K && n < N) ? gemm_load_b(z, k, n, i) : 0.0;
            }
        }
      [[unroll]] for (uint kk = 0; kk < GEMM_BK; kk++)
        {
          float a[GEMM_TM], b[GEMM_TN];
          [[unroll]] for (uint i = 0; i < GEMM_TM; i++)
            a[i] = gemm_As[kk][ty + 16u * i];
          [[unroll]] for (uint j = 0; j < GEMM_TN; j++)
            b[j] = gemm_Bs[kk][tx + 16u * j];
          [[unroll]] for (uint i = 0; i < GEMM_TM; i++)
            [[unroll]] for (uint j = 0; j < GEMM_TN; j++)
              acc[i][j] = fma(a[i], b[j], acc[i][j]);
        }
      barrier();
    }

  // pass 3: write the block
  [[unroll]] for (uint i = 0; i < GEMM_TM; i++)
    {
      uint m = m0 + ty + 16u * i;
      if (m < M)
        [[unroll]] for (uint j = 0; j < GEMM_TN; j++)
          {
            uint n = n0 + tx + 16u * j;
            if (n < N)
              gemm_store(z, m, n, acc[i][j]);
          }
    }
}
