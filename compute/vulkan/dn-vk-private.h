/* dn-vk-private.h: Vulkan handles for the few engine files that record work of their own (the VkFFT
 * wrapper). Op files use dn_vk_dispatch only.
 * SPDX-License-Identifier: MIT
 */
#pragma once
#include <vulkan/vulkan.h>

#include "dn-backend-private.h"

typedef struct
{
  VkInstance instance;
  VkPhysicalDevice physical_device;
  VkDevice device;
  VkQueue queue;
  uint32_t queue_family;
  VkCommandPool command_pool;
  VkFence fence;
} DnVkHandles;

void dn_vk_get_handles (DnDevice *dev, DnVkHandles *h);
VkBuffer dn_vk_buffer_handle (const DnVkBuffer *buf);

/* For work recorded by other code into the device's command buffer: inserts the barriers that the
 * bindings need (as for a dispatch), marks their accesses, and returns the open command buffer (begun
 * if needed). The caller records its commands immediately. */
DnStatus dn_vk_record_external (DnDevice *dev, const DnBinding *bindings, int n_bindings, VkCommandBuffer *cmd);

/* Maps a VkResult to a status, setting the message "<what>: <VkResult name>". */
DnStatus dn_vk_error (DnDevice *dev, VkResult r, const char *what);
const char *dn_vk_result_string (VkResult r);
