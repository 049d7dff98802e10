#version 450
// out = a OP b with b broadcast (OP 1 add, 2 sub, 3 mul, 4 div): element i of a/out uses
// b[(i / inner) % nb]. BACKWARD: da[i] += ∂/∂a (if has_da) and, when b is not broadcast (nb == n),
// db[i] += ∂/∂b (if has_db); a broadcast db is reduced by elem_binary_db.comp.
// Mirrors compute/ops/elem/dn-arith.c and dn_ref_binary_forward/backward (compute/ref/dn-ref-elem.c).
#define DN_PARAMS uint n; uint nb; uint inner; uint has_da; uint has_db;
#include "common.glsl"
layout(local_size_x = 256) in;

DN_BUF_RO(0, a)
DN_BUF_RO(1, b)
#if BACKWARD
DN_BUF_RO(2, dy)
DN_BUF_RW(3, da)
DN_BUF_RW(4, db)
#else
DN_BUF_WO(2, y)
#endif

void main()
{
  uint i = dn_gid();
  if (i >= pc.n)
    return;
  uint j = (i / pc.inner) % pc.nb;
#if BACKWARD
  float g = dy[pc.off[2] + i];
#if OP == 1
  float ga = g, gb = g;
#elif OP == 2
  float ga = g, gb = -g;
#elif OP == 3
  float ga = g * b[pc.off[1] + j], gb = g * a[pc.off[0] + i];
#elif OP == 4
  float bv = b[pc.off[1] + j];
  float ga = g / bv, gb = -g * a[pc.off[0] + i] / (bv * bv);
#endif
  if (pc.has_da != 0)
    da[pc.off[3] + i] += ga;
  if (pc.has_db != 0)
    db[pc.off[4] + i] += gb;
#else
  float x = a[pc.off[0] + i], z = b[pc.off[1] + j];
#if OP == 1
  float r = x + z;
#elif OP == 2
  float r = x - z;
#elif OP == 3
  float r = x * z;
#elif OP == 4
  float r = x / z;
#endif
  y[pc.off[2] + i] = r;
#endif
}
