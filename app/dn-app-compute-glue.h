/* dn-app-compute-glue.h: g_autoptr support for the compute engine's handles (compute/ stays GLib-free). */
/* SPDX-License-Identifier: MIT */
#pragma once

#include <glib.h>

#include "dn-device.h"
#include "dn-dataset.h"
#include "dn-screen.h"
#include "dn-synth.h"
#include "dn-twin.h"
#include "dn-twin-load.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DnDevice, dn_device_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (DnTwin, dn_twin_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (DnDataset, dn_dataset_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (DnScreenResult, dn_screen_result_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (DnSynthBatch, dn_synth_batch_free)
