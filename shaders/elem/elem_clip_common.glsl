// elem_clip_common.glsl: the CLIP-loss cache layout shared by the elem_clip_*.comp shaders (see
// dn_clip_loss_forward in compute/ops/elem/dn-losses.c). Meson does not track this include (only
// common.glsl): after editing it, touch those .comp files.
//   layout [a (B·D) | n (B·D) | sim (B·B) | lse_row (B) | lse_col (B) | norm_a (B) | norm_n (B) | work (2B)]
// and dS_ij = ∂loss/∂S_ij = g/(2B)·(exp(s·sim_ij − lse_row_i) + exp(s·sim_ij − lse_col_j) − 2δ_ij).
uint clip_a() { return 0u; }
uint clip_n() { return pc.B * pc.D; }
uint clip_sim() { return 2u * pc.B * pc.D; }
uint clip_lr() { return clip_sim() + pc.B * pc.B; }
uint clip_lc() { return clip_lr() + pc.B; }
uint clip_na() { return clip_lr() + 2u * pc.B; }
uint clip_nn() { return clip_lr() + 3u * pc.B; }
uint clip_work() { return clip_lr() + 4u * pc.B; }
