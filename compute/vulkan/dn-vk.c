/* dn-vk.c: the Vulkan backend: instance and device, buffers, transfers, pipelines (one per embedded
 * shader, one shared layout), descriptor pools, the open command buffer with automatic barriers,
 * one submit per dn_device_sync, validation-layer message counting and timestamp profiling.
 *
 * Ownership (reverse order on destruction): the DnVk owns instance, messenger, device, command pool,
 * command buffer, fence, pipeline cache, layouts, pipelines, descriptor pools, staging buffer, query pool.
 * A DnVkBuffer owns its VkBuffer and VkDeviceMemory.
 *
 * Barriers: every dispatch declares how it accesses each bound range. Ranges written or read since the
 * last barrier are remembered; a read-after-write, write-after-write or write-after-read overlap inserts
 * one compute→compute memory barrier and clears the lists.
 * SPDX-License-Identifier: MIT
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dn-vk-private.h"

#define DN_PUSH_BYTES 128
#define DN_SETS_PER_POOL 512
#define DN_MAX_QUERIES 4096

struct DnVkBuffer
{
  VkBuffer buffer;
  VkDeviceMemory memory;
  void *mapped; /* host-visible memory (UMA devices) */
  size_t size;
};

typedef struct
{
  VkBuffer buffer;
  VkDeviceSize lo, hi;
} Range;

typedef struct
{
  Range *v;
  int n, cap;
} RangeList;

struct DnVk
{
  VkInstance instance;
  VkDebugUtilsMessengerEXT messenger;
  VkPhysicalDevice phys;
  VkPhysicalDeviceProperties props;
  VkPhysicalDeviceMemoryProperties memprops;
  VkDevice device;
  VkQueue queue;
  uint32_t queue_family;
  VkCommandPool cmd_pool;
  VkCommandBuffer cmd;
  bool recording;
  bool lost;
  VkFence fence;
  VkPipelineCache pipeline_cache;
  VkDescriptorSetLayout set_layout;
  VkPipelineLayout pipeline_layout;
  VkPipeline pipelines[DN_SHADER_COUNT];
  VkDescriptorPool *pools;
  int n_pools, cur_pool, sets_in_pool;
  uint32_t mem_type;      /* for tensors */
  bool uma;               /* tensor memory is host visible */
  uint32_t staging_type;  /* host visible + coherent */
  DnVkBuffer staging;
  DnVkBuffer dummy;       /* bound to unused slots */
  RangeList written, read;
  int validation_messages;
  /* profiling */
  VkQueryPool queries;
  int n_queries;
  DnShaderId query_shader[DN_MAX_QUERIES / 2];
  double profile_ms[DN_SHADER_COUNT];
  int profile_count[DN_SHADER_COUNT];
};

const char *
dn_vk_result_string (VkResult r)
{
  switch (r)
    {
#define C(x)                                                                                          \
  case x:                                                                                             \
    return #x;
      C (VK_SUCCESS) C (VK_NOT_READY) C (VK_TIMEOUT) C (VK_INCOMPLETE) C (VK_ERROR_OUT_OF_HOST_MEMORY)
      C (VK_ERROR_OUT_OF_DEVICE_MEMORY) C (VK_ERROR_INITIALIZATION_FAILED) C (VK_ERROR_DEVICE_LOST)
      C (VK_ERROR_MEMORY_MAP_FAILED) C (VK_ERROR_LAYER_NOT_PRESENT) C (VK_ERROR_EXTENSION_NOT_PRESENT)
      C (VK_ERROR_FEATURE_NOT_PRESENT) C (VK_ERROR_INCOMPATIBLE_DRIVER) C (VK_ERROR_TOO_MANY_OBJECTS)
      C (VK_ERROR_FORMAT_NOT_SUPPORTED) C (VK_ERROR_FRAGMENTED_POOL) C (VK_ERROR_OUT_OF_POOL_MEMORY)
      C (VK_ERROR_INVALID_SHADER_NV) C (VK_ERROR_UNKNOWN)
#undef C
    default:
      return "VkResult(unknown)";
    }
}

DnStatus
dn_vk_error (DnDevice *dev, VkResult r, const char *what)
{
  DnStatus st = DN_ERROR_VULKAN;
  if (r == VK_ERROR_OUT_OF_HOST_MEMORY || r == VK_ERROR_OUT_OF_DEVICE_MEMORY)
    st = DN_ERROR_NO_MEMORY;
  if (r == VK_ERROR_DEVICE_LOST)
    {
      st = DN_ERROR_DEVICE_LOST;
      if (dev && dev->vk)
        dev->vk->lost = true;
    }
  return dn_set_error (st, "vulkan: %s: %s (%d)", what, dn_vk_result_string (r), (int) r);
}

#define VK_TRY(dev, call, what)                                                                       \
  do                                                                                                  \
    {                                                                                                 \
      VkResult vk_try_r_ = (call);                                                                    \
      if (vk_try_r_ != VK_SUCCESS)                                                                    \
        return dn_vk_error ((dev), vk_try_r_, (what));                                                \
    }                                                                                                 \
  while (0)

/* Instances ---------------------------------------------------------------------------------------- */

static VKAPI_ATTR VkBool32 VKAPI_CALL
debug_cb (VkDebugUtilsMessageSeverityFlagBitsEXT severity, VkDebugUtilsMessageTypeFlagsEXT type,
          const VkDebugUtilsMessengerCallbackDataEXT *data, void *user)
{
  DnVk *vk = user;
  if (severity >= VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT)
    {
      vk->validation_messages++;
      fprintf (stderr, "dualneuron: Vulkan validation: %s\n", data->pMessage);
    }
  return VK_FALSE;
}

static bool
layer_available (const char *name)
{
  uint32_t n = 0;
  if (vkEnumerateInstanceLayerProperties (&n, NULL) != VK_SUCCESS || n == 0)
    return false;
  VkLayerProperties *p = calloc (n, sizeof *p);
  bool found = false;
  if (p && vkEnumerateInstanceLayerProperties (&n, p) == VK_SUCCESS)
    for (uint32_t i = 0; i < n; i++)
      if (strcmp (p[i].layerName, name) == 0)
        found = true;
  free (p);
  return found;
}

static VkResult
create_instance (DnVk *vk, bool validation, VkInstance *out)
{
  VkApplicationInfo app = {
    .sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
    .pApplicationName = "DualNeuron",
    .applicationVersion = 1,
    .pEngineName = "dualneuron",
    .apiVersion = VK_API_VERSION_1_1,
  };
  const char *layers[] = { "VK_LAYER_KHRONOS_validation" };
  const char *exts[] = { VK_EXT_DEBUG_UTILS_EXTENSION_NAME };
  VkDebugUtilsMessengerCreateInfoEXT dbg = {
    .sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT,
    .messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT,
    .messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT
                   | VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT,
    .pfnUserCallback = debug_cb,
    .pUserData = vk,
  };
  VkInstanceCreateInfo ci = {
    .sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
    .pApplicationInfo = &app,
  };
  if (validation)
    {
      ci.enabledLayerCount = 1;
      ci.ppEnabledLayerNames = layers;
      ci.enabledExtensionCount = 1;
      ci.ppEnabledExtensionNames = exts;
      ci.pNext = &dbg;
    }
  return vkCreateInstance (&ci, NULL, out);
}

static bool
is_software (const VkPhysicalDeviceProperties *p)
{
  return p->deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU;
}

static void
fill_info (DnDeviceInfo *info, int index, VkPhysicalDevice pd)
{
  VkPhysicalDeviceProperties p;
  VkPhysicalDeviceMemoryProperties mp;
  vkGetPhysicalDeviceProperties (pd, &p);
  vkGetPhysicalDeviceMemoryProperties (pd, &mp);
  memset (info, 0, sizeof *info);
  info->index = index;
  info->backend = DN_BACKEND_VULKAN;
  snprintf (info->name, sizeof info->name, "%s", p.deviceName);
  info->is_software = is_software (&p);
  info->is_discrete = p.deviceType == VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU;
  for (uint32_t i = 0; i < mp.memoryHeapCount; i++)
    if ((mp.memoryHeaps[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) && mp.memoryHeaps[i].size > info->memory_bytes)
      info->memory_bytes = mp.memoryHeaps[i].size;
}

int
dn_vk_enumerate (DnDeviceInfo *infos, int max)
{
  VkInstance inst;
  if (create_instance (NULL, false, &inst) != VK_SUCCESS)
    return 0;
  uint32_t n = 0;
  vkEnumeratePhysicalDevices (inst, &n, NULL);
  VkPhysicalDevice *pds = n ? calloc (n, sizeof *pds) : NULL;
  if (n && (!pds || vkEnumeratePhysicalDevices (inst, &n, pds) < 0))
    n = 0;
  for (uint32_t i = 0; i < n && (int) i < max; i++)
    fill_info (&infos[i], (int) i, pds[i]);
  free (pds);
  vkDestroyInstance (inst, NULL);
  return (int) n;
}

/* Device ------------------------------------------------------------------------------------------- */

static int
find_memory_type (const VkPhysicalDeviceMemoryProperties *mp, uint32_t type_bits, VkMemoryPropertyFlags want)
{
  for (uint32_t i = 0; i < mp->memoryTypeCount; i++)
    if ((type_bits & (1u << i)) && (mp->memoryTypes[i].propertyFlags & want) == want)
      return (int) i;
  return -1;
}

static DnStatus
raw_buffer_new (DnDevice *dev, size_t size, uint32_t mem_type, bool map, DnVkBuffer *b)
{
  DnVk *vk = dev->vk;
  memset (b, 0, sizeof *b);
  b->size = size;
  VkBufferCreateInfo bi = {
    .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
    .size = size,
    .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT,
    .sharingMode = VK_SHARING_MODE_EXCLUSIVE,
  };
  VK_TRY (dev, vkCreateBuffer (vk->device, &bi, NULL, &b->buffer), "vkCreateBuffer");
  VkMemoryRequirements req;
  vkGetBufferMemoryRequirements (vk->device, b->buffer, &req);
  if (!(req.memoryTypeBits & (1u << mem_type)))
    {
      vkDestroyBuffer (vk->device, b->buffer, NULL);
      return dn_set_error (DN_ERROR_VULKAN, "vulkan: buffer cannot use the chosen memory type");
    }
  VkMemoryAllocateInfo ai = {
    .sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
    .allocationSize = req.size,
    .memoryTypeIndex = mem_type,
  };
  VkResult r = vkAllocateMemory (vk->device, &ai, NULL, &b->memory);
  if (r == VK_SUCCESS)
    r = vkBindBufferMemory (vk->device, b->buffer, b->memory, 0);
  if (r == VK_SUCCESS && map)
    r = vkMapMemory (vk->device, b->memory, 0, VK_WHOLE_SIZE, 0, &b->mapped);
  if (r != VK_SUCCESS)
    {
      if (b->memory)
        vkFreeMemory (vk->device, b->memory, NULL);
      vkDestroyBuffer (vk->device, b->buffer, NULL);
      memset (b, 0, sizeof *b);
      DnStatus st = dn_vk_error (dev, r, "allocating buffer memory");
      if (st == DN_ERROR_NO_MEMORY)
        dn_set_error (st, "vulkan: cannot allocate %zu bytes of device memory (%s)", size, dn_vk_result_string (r));
      return st;
    }
  return DN_OK;
}

static void
raw_buffer_free (DnDevice *dev, DnVkBuffer *b)
{
  if (!b->buffer)
    return;
  if (b->mapped)
    vkUnmapMemory (dev->vk->device, b->memory);
  vkDestroyBuffer (dev->vk->device, b->buffer, NULL);
  vkFreeMemory (dev->vk->device, b->memory, NULL);
  memset (b, 0, sizeof *b);
}

static DnStatus
new_descriptor_pool (DnDevice *dev)
{
  DnVk *vk = dev->vk;
  VkDescriptorPoolSize size = { VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, DN_SETS_PER_POOL * DN_MAX_BINDINGS };
  VkDescriptorPoolCreateInfo pi = {
    .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
    .maxSets = DN_SETS_PER_POOL,
    .poolSizeCount = 1,
    .pPoolSizes = &size,
  };
  VkDescriptorPool *pools = realloc (vk->pools, (size_t) (vk->n_pools + 1) * sizeof *pools);
  if (!pools)
    return dn_set_error (DN_ERROR_NO_MEMORY, "vulkan: out of host memory");
  vk->pools = pools;
  VK_TRY (dev, vkCreateDescriptorPool (vk->device, &pi, NULL, &vk->pools[vk->n_pools]), "vkCreateDescriptorPool");
  vk->n_pools++;
  return DN_OK;
}

static DnStatus
vk_init_device (DnDevice *dev)
{
  DnVk *vk = dev->vk;
  bool validation = dev->opts.validation;
  if (validation && !layer_available ("VK_LAYER_KHRONOS_validation"))
    return dn_set_error (DN_ERROR_UNSUPPORTED,
                         "vulkan: validation requested but VK_LAYER_KHRONOS_validation is not installed "
                         "(Debian: vulkan-validationlayers)");
  VK_TRY (dev, create_instance (vk, validation, &vk->instance), "vkCreateInstance");
  if (validation)
    {
      PFN_vkCreateDebugUtilsMessengerEXT create = (PFN_vkCreateDebugUtilsMessengerEXT) vkGetInstanceProcAddr (
          vk->instance, "vkCreateDebugUtilsMessengerEXT");
      VkDebugUtilsMessengerCreateInfoEXT dbg = {
        .sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT,
        .messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT,
        .messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT
                       | VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT,
        .pfnUserCallback = debug_cb,
        .pUserData = vk,
      };
      if (create)
        VK_TRY (dev, create (vk->instance, &dbg, NULL, &vk->messenger), "vkCreateDebugUtilsMessengerEXT");
    }

  uint32_t n = 0;
  VK_TRY (dev, vkEnumeratePhysicalDevices (vk->instance, &n, NULL), "vkEnumeratePhysicalDevices");
  if (n == 0)
    return dn_set_error (DN_ERROR_NO_DEVICE, "vulkan: no Vulkan device found (install a driver; "
                                             "mesa-vulkan-drivers gives the lavapipe software device)");
  VkPhysicalDevice pds[32];
  if (n > 32)
    n = 32;
  VkResult r = vkEnumeratePhysicalDevices (vk->instance, &n, pds);
  if (r < 0)
    return dn_vk_error (dev, r, "vkEnumeratePhysicalDevices");
  int pick = -1;
  if (dev->opts.device_index >= 0)
    {
      if ((uint32_t) dev->opts.device_index >= n)
        return dn_set_error (DN_ERROR_NO_DEVICE, "vulkan: device %d requested, %u present", dev->opts.device_index, n);
      pick = dev->opts.device_index;
    }
  else
    {
      int best = -1;
      for (uint32_t i = 0; i < n; i++)
        {
          VkPhysicalDeviceProperties p;
          vkGetPhysicalDeviceProperties (pds[i], &p);
          int score = p.deviceType == VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU     ? 4
                      : p.deviceType == VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU ? 3
                      : p.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU            ? 1
                                                                               : 2;
          if (dev->opts.prefer_software && p.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU)
            score = 10;
          if (score > best)
            {
              best = score;
              pick = (int) i;
            }
        }
    }
  vk->phys = pds[pick];
  fill_info (&dev->info, pick, vk->phys);
  vkGetPhysicalDeviceProperties (vk->phys, &vk->props);
  vkGetPhysicalDeviceMemoryProperties (vk->phys, &vk->memprops);

  uint32_t nq = 0;
  vkGetPhysicalDeviceQueueFamilyProperties (vk->phys, &nq, NULL);
  VkQueueFamilyProperties qf[16];
  if (nq > 16)
    nq = 16;
  vkGetPhysicalDeviceQueueFamilyProperties (vk->phys, &nq, qf);
  int family = -1;
  for (uint32_t i = 0; i < nq; i++)
    if (qf[i].queueFlags & VK_QUEUE_COMPUTE_BIT)
      {
        /* prefer a compute family without graphics (dedicated), else the first */
        if (family < 0 || !(qf[i].queueFlags & VK_QUEUE_GRAPHICS_BIT))
          family = (int) i;
        if (!(qf[i].queueFlags & VK_QUEUE_GRAPHICS_BIT))
          break;
      }
  if (family < 0)
    return dn_set_error (DN_ERROR_NO_DEVICE, "vulkan: %s has no compute queue", dev->info.name);
  vk->queue_family = (uint32_t) family;

  float prio = 1.0f;
  VkDeviceQueueCreateInfo qi = {
    .sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
    .queueFamilyIndex = vk->queue_family,
    .queueCount = 1,
    .pQueuePriorities = &prio,
  };
  VkPhysicalDeviceFeatures feats = { 0 };
  VkDeviceCreateInfo di = {
    .sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
    .queueCreateInfoCount = 1,
    .pQueueCreateInfos = &qi,
    .pEnabledFeatures = &feats,
  };
  VK_TRY (dev, vkCreateDevice (vk->phys, &di, NULL, &vk->device), "vkCreateDevice");
  vkGetDeviceQueue (vk->device, vk->queue_family, 0, &vk->queue);

  VkCommandPoolCreateInfo cpi = {
    .sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
    .flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
    .queueFamilyIndex = vk->queue_family,
  };
  VK_TRY (dev, vkCreateCommandPool (vk->device, &cpi, NULL, &vk->cmd_pool), "vkCreateCommandPool");
  VkCommandBufferAllocateInfo cai = {
    .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
    .commandPool = vk->cmd_pool,
    .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
    .commandBufferCount = 1,
  };
  VK_TRY (dev, vkAllocateCommandBuffers (vk->device, &cai, &vk->cmd), "vkAllocateCommandBuffers");
  VkFenceCreateInfo fi = { .sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO };
  VK_TRY (dev, vkCreateFence (vk->device, &fi, NULL, &vk->fence), "vkCreateFence");
  VkPipelineCacheCreateInfo pci = { .sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO };
  VK_TRY (dev, vkCreatePipelineCache (vk->device, &pci, NULL, &vk->pipeline_cache), "vkCreatePipelineCache");

  VkDescriptorSetLayoutBinding binds[DN_MAX_BINDINGS];
  for (int i = 0; i < DN_MAX_BINDINGS; i++)
    binds[i] = (VkDescriptorSetLayoutBinding){ .binding = (uint32_t) i,
                                               .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                                               .descriptorCount = 1,
                                               .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT };
  VkDescriptorSetLayoutCreateInfo li = {
    .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
    .bindingCount = DN_MAX_BINDINGS,
    .pBindings = binds,
  };
  VK_TRY (dev, vkCreateDescriptorSetLayout (vk->device, &li, NULL, &vk->set_layout), "vkCreateDescriptorSetLayout");
  VkPushConstantRange pr = { VK_SHADER_STAGE_COMPUTE_BIT, 0, DN_PUSH_BYTES };
  VkPipelineLayoutCreateInfo pli = {
    .sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
    .setLayoutCount = 1,
    .pSetLayouts = &vk->set_layout,
    .pushConstantRangeCount = 1,
    .pPushConstantRanges = &pr,
  };
  VK_TRY (dev, vkCreatePipelineLayout (vk->device, &pli, NULL, &vk->pipeline_layout), "vkCreatePipelineLayout");
  DN_TRY (new_descriptor_pool (dev));

  /* Memory: device-local for tensors; on unified-memory devices (CPU or integrated) a host-visible,
   * coherent device-local type lets transfers be plain memcpy. */
  VkBufferCreateInfo probe_bi = {
    .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
    .size = 256,
    .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT,
  };
  VkBuffer probe;
  VK_TRY (dev, vkCreateBuffer (vk->device, &probe_bi, NULL, &probe), "vkCreateBuffer");
  VkMemoryRequirements req;
  vkGetBufferMemoryRequirements (vk->device, probe, &req);
  vkDestroyBuffer (vk->device, probe, NULL);
  VkMemoryPropertyFlags hv = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
  int t_uma = find_memory_type (&vk->memprops, req.memoryTypeBits, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT | hv);
  int t_dev = find_memory_type (&vk->memprops, req.memoryTypeBits, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
  int t_host = find_memory_type (&vk->memprops, req.memoryTypeBits, hv);
  if (t_host < 0)
    return dn_set_error (DN_ERROR_UNSUPPORTED, "vulkan: %s has no host-visible memory", dev->info.name);
  bool unified = vk->props.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU
                 || vk->props.deviceType == VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU;
  if (unified && t_uma >= 0)
    {
      vk->uma = true;
      vk->mem_type = (uint32_t) t_uma;
    }
  else
    vk->mem_type = (uint32_t) (t_dev >= 0 ? t_dev : t_host);
  vk->staging_type = (uint32_t) t_host;
  DN_TRY (raw_buffer_new (dev, 256, vk->mem_type, vk->uma, &vk->dummy));

  if (dev->opts.profile && vk->props.limits.timestampComputeAndGraphics)
    {
      VkQueryPoolCreateInfo qpi = {
        .sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO,
        .queryType = VK_QUERY_TYPE_TIMESTAMP,
        .queryCount = DN_MAX_QUERIES,
      };
      VK_TRY (dev, vkCreateQueryPool (vk->device, &qpi, NULL, &vk->queries), "vkCreateQueryPool");
    }
  return DN_OK;
}

DnStatus
dn_vk_init (DnDevice *dev)
{
  dev->vk = calloc (1, sizeof *dev->vk);
  if (!dev->vk)
    return dn_set_error (DN_ERROR_NO_MEMORY, "vulkan: out of host memory");
  DnStatus st = vk_init_device (dev);
  if (st != DN_OK)
    {
      char msg[2048];
      snprintf (msg, sizeof msg, "%s", dn_last_error ());
      dn_vk_fini (dev);
      dn_set_error (st, "%s", msg);
    }
  return st;
}

void
dn_vk_fini (DnDevice *dev)
{
  DnVk *vk = dev->vk;
  if (!vk)
    return;
  if (vk->device)
    {
      if (!vk->lost)
        vkDeviceWaitIdle (vk->device);
      if (vk->queries)
        vkDestroyQueryPool (vk->device, vk->queries, NULL);
      raw_buffer_free (dev, &vk->dummy);
      raw_buffer_free (dev, &vk->staging);
      for (int i = 0; i < vk->n_pools; i++)
        vkDestroyDescriptorPool (vk->device, vk->pools[i], NULL);
      for (int i = 0; i < DN_SHADER_COUNT; i++)
        if (vk->pipelines[i])
          vkDestroyPipeline (vk->device, vk->pipelines[i], NULL);
      if (vk->pipeline_layout)
        vkDestroyPipelineLayout (vk->device, vk->pipeline_layout, NULL);
      if (vk->set_layout)
        vkDestroyDescriptorSetLayout (vk->device, vk->set_layout, NULL);
      if (vk->pipeline_cache)
        vkDestroyPipelineCache (vk->device, vk->pipeline_cache, NULL);
      if (vk->fence)
        vkDestroyFence (vk->device, vk->fence, NULL);
      if (vk->cmd_pool)
        vkDestroyCommandPool (vk->device, vk->cmd_pool, NULL);
      vkDestroyDevice (vk->device, NULL);
    }
  if (vk->messenger)
    {
      PFN_vkDestroyDebugUtilsMessengerEXT destroy = (PFN_vkDestroyDebugUtilsMessengerEXT) vkGetInstanceProcAddr (
          vk->instance, "vkDestroyDebugUtilsMessengerEXT");
      if (destroy)
        destroy (vk->instance, vk->messenger, NULL);
    }
  if (vk->instance)
    vkDestroyInstance (vk->instance, NULL);
  free (vk->pools);
  free (vk->written.v);
  free (vk->read.v);
  free (vk);
  dev->vk = NULL;
}

void
dn_vk_get_handles (DnDevice *dev, DnVkHandles *h)
{
  DnVk *vk = dev->vk;
  h->instance = vk->instance;
  h->physical_device = vk->phys;
  h->device = vk->device;
  h->queue = vk->queue;
  h->queue_family = vk->queue_family;
  h->command_pool = vk->cmd_pool;
  h->fence = vk->fence;
}

int
dn_vk_validation_messages (const DnDevice *dev)
{
  return dev->vk->validation_messages;
}

/* Buffers ------------------------------------------------------------------------------------------ */

DnStatus
dn_vk_buffer_new (DnDevice *dev, size_t size, DnVkBuffer **out)
{
  DnVk *vk = dev->vk;
  *out = NULL;
  if (vk->lost)
    return dn_set_error (DN_ERROR_DEVICE_LOST, "vulkan: the device was lost");
  size = (size + 15) & ~(size_t) 15;
  uint64_t heap = vk->memprops.memoryHeaps[vk->memprops.memoryTypes[vk->mem_type].heapIndex].size;
  if (size > vk->props.limits.maxStorageBufferRange || size > heap)
    return dn_set_error (DN_ERROR_NO_MEMORY,
                         "vulkan: a %zu-byte tensor exceeds %s's limits (storage buffer range %u bytes, heap %" PRIu64
                         " bytes)",
                         size, dev->info.name, vk->props.limits.maxStorageBufferRange, heap);
  DnVkBuffer *b = calloc (1, sizeof *b);
  if (!b)
    return dn_set_error (DN_ERROR_NO_MEMORY, "vulkan: out of host memory");
  DnStatus st = raw_buffer_new (dev, size, vk->mem_type, vk->uma, b);
  if (st != DN_OK)
    {
      free (b);
      return st;
    }
  /* zero-fill so that new tensors are zeros like on the CPU backend */
  if (b->mapped)
    memset (b->mapped, 0, size);
  else
    {
      bool was = vk->recording;
      (void) was;
      DnStatus s2 = dn_vk_sync (dev);
      if (s2 == DN_OK)
        {
          VkCommandBufferBeginInfo bi = { .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
                                          .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT };
          vkBeginCommandBuffer (vk->cmd, &bi);
          vkCmdFillBuffer (vk->cmd, b->buffer, 0, VK_WHOLE_SIZE, 0);
          VkMemoryBarrier mb = { .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                                 .srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT,
                                 .dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT };
          vkCmdPipelineBarrier (vk->cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1, &mb,
                                0, NULL, 0, NULL);
          vk->recording = true;
          s2 = dn_vk_sync (dev);
        }
      if (s2 != DN_OK)
        {
          raw_buffer_free (dev, b);
          free (b);
          return s2;
        }
    }
  *out = b;
  return DN_OK;
}

void
dn_vk_buffer_free (DnDevice *dev, DnVkBuffer *b)
{
  if (!b)
    return;
  /* the buffer may still be referenced by recorded work */
  if (dev->vk->recording)
    dn_vk_sync (dev);
  raw_buffer_free (dev, b);
  free (b);
}

VkBuffer
dn_vk_buffer_handle (const DnVkBuffer *b)
{
  return b->buffer;
}

static DnStatus
ensure_staging (DnDevice *dev, size_t bytes)
{
  DnVk *vk = dev->vk;
  if (vk->staging.buffer && vk->staging.size >= bytes)
    return DN_OK;
  raw_buffer_free (dev, &vk->staging);
  size_t size = 1 << 20;
  while (size < bytes)
    size *= 2;
  return raw_buffer_new (dev, size, vk->staging_type, true, &vk->staging);
}

/* Copies between staging and a buffer, in chunks of the staging size, submitting each. */
static DnStatus
staged_copy (DnDevice *dev, DnVkBuffer *b, size_t offset, void *host, size_t bytes, bool to_device)
{
  DnVk *vk = dev->vk;
  size_t chunk_max = bytes < (64u << 20) ? bytes : (64u << 20);
  DN_TRY (ensure_staging (dev, chunk_max));
  for (size_t done = 0; done < bytes;)
    {
      size_t chunk = bytes - done < vk->staging.size ? bytes - done : vk->staging.size;
      if (to_device)
        memcpy (vk->staging.mapped, (const char *) host + done, chunk);
      VkCommandBufferBeginInfo bi = { .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
                                      .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT };
      VK_TRY (dev, vkBeginCommandBuffer (vk->cmd, &bi), "vkBeginCommandBuffer");
      VkBufferCopy region = to_device ? (VkBufferCopy){ 0, offset + done, chunk } : (VkBufferCopy){ offset + done, 0, chunk };
      if (to_device)
        vkCmdCopyBuffer (vk->cmd, vk->staging.buffer, b->buffer, 1, &region);
      else
        vkCmdCopyBuffer (vk->cmd, b->buffer, vk->staging.buffer, 1, &region);
      VkMemoryBarrier mb = { .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                             .srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT,
                             .dstAccessMask = to_device ? VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT
                                                        : VK_ACCESS_HOST_READ_BIT };
      vkCmdPipelineBarrier (vk->cmd, VK_PIPELINE_STAGE_TRANSFER_BIT,
                            to_device ? VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT : VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &mb, 0,
                            NULL, 0, NULL);
      vk->recording = true;
      DN_TRY (dn_vk_sync (dev));
      if (!to_device)
        memcpy ((char *) host + done, vk->staging.mapped, chunk);
      done += chunk;
    }
  return DN_OK;
}

DnStatus
dn_vk_write (DnDevice *dev, DnVkBuffer *b, size_t offset, const void *src, size_t bytes)
{
  DN_TRY (dn_vk_sync (dev)); /* recorded work may still read the old contents */
  if (b->mapped)
    {
      memcpy ((char *) b->mapped + offset, src, bytes);
      return DN_OK;
    }
  return staged_copy (dev, b, offset, (void *) src, bytes, true);
}

DnStatus
dn_vk_read (DnDevice *dev, DnVkBuffer *b, size_t offset, void *dst, size_t bytes)
{
  DN_TRY (dn_vk_sync (dev));
  if (b->mapped)
    {
      memcpy (dst, (const char *) b->mapped + offset, bytes);
      return DN_OK;
    }
  return staged_copy (dev, b, offset, dst, bytes, false);
}

/* Recording ---------------------------------------------------------------------------------------- */

static DnStatus
begin_if_needed (DnDevice *dev)
{
  DnVk *vk = dev->vk;
  if (vk->lost)
    return dn_set_error (DN_ERROR_DEVICE_LOST, "vulkan: the device was lost; recreate it");
  if (vk->recording)
    return DN_OK;
  VkCommandBufferBeginInfo bi = { .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
                                  .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT };
  VK_TRY (dev, vkBeginCommandBuffer (vk->cmd, &bi), "vkBeginCommandBuffer");
  vk->recording = true;
  if (vk->queries)
    {
      vkCmdResetQueryPool (vk->cmd, vk->queries, 0, DN_MAX_QUERIES);
      vk->n_queries = 0;
    }
  return DN_OK;
}

static void
collect_profile (DnVk *vk)
{
  if (!vk->queries || vk->n_queries == 0)
    return;
  uint64_t ts[DN_MAX_QUERIES];
  if (vkGetQueryPoolResults (vk->device, vk->queries, 0, (uint32_t) vk->n_queries, sizeof ts, ts, sizeof (uint64_t),
                             VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT)
      == VK_SUCCESS)
    for (int i = 0; i + 1 < vk->n_queries; i += 2)
      {
        DnShaderId s = vk->query_shader[i / 2];
        vk->profile_ms[s] += (double) (ts[i + 1] - ts[i]) * vk->props.limits.timestampPeriod * 1e-6;
        vk->profile_count[s]++;
      }
  vk->n_queries = 0;
}

DnStatus
dn_vk_sync (DnDevice *dev)
{
  DnVk *vk = dev->vk;
  if (vk->lost)
    return dn_set_error (DN_ERROR_DEVICE_LOST, "vulkan: the device was lost; recreate it");
  if (!vk->recording)
    return DN_OK;
  vk->recording = false;
  vk->written.n = vk->read.n = 0;
  VK_TRY (dev, vkEndCommandBuffer (vk->cmd), "vkEndCommandBuffer");
  VkSubmitInfo si = { .sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .commandBufferCount = 1, .pCommandBuffers = &vk->cmd };
  VK_TRY (dev, vkQueueSubmit (vk->queue, 1, &si, vk->fence), "vkQueueSubmit");
  VkResult r;
  do
    r = vkWaitForFences (vk->device, 1, &vk->fence, VK_TRUE, 10ull * 1000 * 1000 * 1000);
  while (r == VK_TIMEOUT);
  if (r != VK_SUCCESS)
    return dn_vk_error (dev, r, "vkWaitForFences");
  VK_TRY (dev, vkResetFences (vk->device, 1, &vk->fence), "vkResetFences");
  VK_TRY (dev, vkResetCommandBuffer (vk->cmd, 0), "vkResetCommandBuffer");
  for (int i = 0; i < vk->n_pools; i++)
    vkResetDescriptorPool (vk->device, vk->pools[i], 0);
  vk->cur_pool = 0;
  vk->sets_in_pool = 0;
  collect_profile (vk);
  return DN_OK;
}

static bool
overlaps (const RangeList *l, const Range *r)
{
  for (int i = 0; i < l->n; i++)
    if (l->v[i].buffer == r->buffer && l->v[i].lo < r->hi && r->lo < l->v[i].hi)
      return true;
  return false;
}

static DnStatus
push_range (RangeList *l, const Range *r)
{
  if (l->n == l->cap)
    {
      int cap = l->cap ? 2 * l->cap : 64;
      Range *v = realloc (l->v, (size_t) cap * sizeof *v);
      if (!v)
        return dn_set_error (DN_ERROR_NO_MEMORY, "vulkan: out of host memory");
      l->v = v;
      l->cap = cap;
    }
  l->v[l->n++] = *r;
  return DN_OK;
}

static Range
binding_range (const DnBinding *b)
{
  Range r = { b->t->buf->vk->buffer, (VkDeviceSize) b->t->offset * 4,
              (VkDeviceSize) (b->t->offset + dn_tensor_numel (b->t)) * 4 };
  return r;
}

/* Inserts the barrier the bindings need and records their accesses. */
static DnStatus
track_accesses (DnDevice *dev, const DnBinding *bindings, int n)
{
  DnVk *vk = dev->vk;
  bool need = false;
  for (int i = 0; i < n && !need; i++)
    {
      Range r = binding_range (&bindings[i]);
      if (overlaps (&vk->written, &r))
        need = true;
      else if ((bindings[i].access & DN_ACCESS_WRITE) && overlaps (&vk->read, &r))
        need = true;
    }
  if (need)
    {
      VkMemoryBarrier mb = { .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                             .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_SHADER_READ_BIT,
                             .dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT };
      vkCmdPipelineBarrier (vk->cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1,
                            &mb, 0, NULL, 0, NULL);
      vk->written.n = vk->read.n = 0;
    }
  for (int i = 0; i < n; i++)
    {
      Range r = binding_range (&bindings[i]);
      if (bindings[i].access & DN_ACCESS_WRITE)
        DN_TRY (push_range (&vk->written, &r));
      if (bindings[i].access & DN_ACCESS_READ)
        DN_TRY (push_range (&vk->read, &r));
    }
  return DN_OK;
}

static DnStatus
check_bindings (DnDevice *dev, const char *what, const DnBinding *bindings, int n)
{
  if (n < 0 || n > DN_MAX_BINDINGS)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: %d bindings (at most %d)", what, n, DN_MAX_BINDINGS);
  for (int i = 0; i < n; i++)
    {
      const DnTensor *t = bindings[i].t;
      if (!t || !t->buf || !t->buf->vk || t->dev != dev)
        return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: binding %d is not a tensor of this Vulkan device", what, i);
    }
  return DN_OK;
}

DnStatus
dn_vk_record_external (DnDevice *dev, const DnBinding *bindings, int n_bindings, VkCommandBuffer *cmd)
{
  DN_TRY (check_bindings (dev, "vulkan", bindings, n_bindings));
  DN_TRY (begin_if_needed (dev));
  DN_TRY (track_accesses (dev, bindings, n_bindings));
  /* the external work may contain its own barriers; treat everything it touched as written */
  *cmd = dev->vk->cmd;
  return DN_OK;
}

static DnStatus
get_pipeline (DnDevice *dev, DnShaderId id, VkPipeline *out)
{
  DnVk *vk = dev->vk;
  if (vk->pipelines[id])
    {
      *out = vk->pipelines[id];
      return DN_OK;
    }
  const DnShaderInfo *info = &dn_shader_table[id];
  VkShaderModuleCreateInfo mi = {
    .sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
    .codeSize = info->size_bytes,
    .pCode = info->words,
  };
  VkShaderModule module;
  VkResult r = vkCreateShaderModule (vk->device, &mi, NULL, &module);
  if (r != VK_SUCCESS)
    {
      DnStatus st = dn_vk_error (dev, r, "vkCreateShaderModule");
      return dn_set_error (st, "vulkan: shader %s: vkCreateShaderModule: %s", info->name, dn_vk_result_string (r));
    }
  VkComputePipelineCreateInfo ci = {
    .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
    .stage = { .sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
               .stage = VK_SHADER_STAGE_COMPUTE_BIT,
               .module = module,
               .pName = "main" },
    .layout = vk->pipeline_layout,
  };
  r = vkCreateComputePipelines (vk->device, vk->pipeline_cache, 1, &ci, NULL, &vk->pipelines[id]);
  vkDestroyShaderModule (vk->device, module, NULL);
  if (r != VK_SUCCESS)
    {
      vk->pipelines[id] = VK_NULL_HANDLE;
      DnStatus st = dn_vk_error (dev, r, "vkCreateComputePipelines");
      return dn_set_error (st, "vulkan: shader %s: vkCreateComputePipelines: %s", info->name, dn_vk_result_string (r));
    }
  *out = vk->pipelines[id];
  return DN_OK;
}

static DnStatus
alloc_set (DnDevice *dev, VkDescriptorSet *set)
{
  DnVk *vk = dev->vk;
  if (vk->sets_in_pool == DN_SETS_PER_POOL)
    {
      vk->cur_pool++;
      vk->sets_in_pool = 0;
      if (vk->cur_pool == vk->n_pools)
        DN_TRY (new_descriptor_pool (dev));
    }
  VkDescriptorSetAllocateInfo ai = {
    .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
    .descriptorPool = vk->pools[vk->cur_pool],
    .descriptorSetCount = 1,
    .pSetLayouts = &vk->set_layout,
  };
  VK_TRY (dev, vkAllocateDescriptorSets (vk->device, &ai, set), "vkAllocateDescriptorSets");
  vk->sets_in_pool++;
  return DN_OK;
}

DnStatus
dn_vk_dispatch (DnDevice *dev, DnShaderId shader, const DnBinding *bindings, int n_bindings, const void *params,
                size_t params_size, uint32_t gx, uint32_t gy, uint32_t gz)
{
  DnVk *vk = dev->vk;
  if (!vk)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "dispatch: not a Vulkan device");
  if ((unsigned) shader >= DN_SHADER_COUNT)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "dispatch: bad shader id %d", (int) shader);
  const char *name = dn_shader_table[shader].name;
  if (params_size > DN_MAX_PARAMS_BYTES || params_size % 4)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: %zu bytes of parameters (at most %d, multiple of 4)", name,
                         params_size, DN_MAX_PARAMS_BYTES);
  DN_TRY (check_bindings (dev, name, bindings, n_bindings));
  if (gx == 0 || gy == 0 || gz == 0)
    return DN_OK;
  const uint32_t *maxg = vk->props.limits.maxComputeWorkGroupCount;
  if (gx > maxg[0] || gy > maxg[1] || gz > maxg[2])
    return dn_set_error (DN_ERROR_SHAPE, "%s: %u×%u×%u workgroups exceed the device limit %u×%u×%u", name, gx, gy, gz,
                         maxg[0], maxg[1], maxg[2]);

  VkPipeline pipe = VK_NULL_HANDLE;
  DN_TRY (get_pipeline (dev, shader, &pipe));
  DN_TRY (begin_if_needed (dev));
  VkDescriptorSet set = VK_NULL_HANDLE;
  DN_TRY (alloc_set (dev, &set));

  uint32_t push[DN_PUSH_BYTES / 4] = { 0 };
  VkDescriptorBufferInfo infos[DN_MAX_BINDINGS];
  VkWriteDescriptorSet writes[DN_MAX_BINDINGS];
  VkDeviceSize align = vk->props.limits.minStorageBufferOffsetAlignment;
  if (align < 4)
    align = 4;
  for (int i = 0; i < DN_MAX_BINDINGS; i++)
    {
      if (i < n_bindings)
        {
          const DnTensor *t = bindings[i].t;
          VkDeviceSize off = (VkDeviceSize) t->offset * 4;
          VkDeviceSize base = off / align * align;
          VkDeviceSize end = off + (VkDeviceSize) dn_tensor_numel (t) * 4;
          if (end == base)
            end = base + 4;
          if (end - base > vk->props.limits.maxStorageBufferRange)
            return dn_set_error (DN_ERROR_SHAPE, "%s: binding %d spans %" PRIu64 " bytes, over the device's %u", name,
                                 i, (uint64_t) (end - base), vk->props.limits.maxStorageBufferRange);
          if (end > t->buf->vk->size)
            end = t->buf->vk->size;
          infos[i] = (VkDescriptorBufferInfo){ t->buf->vk->buffer, base, end - base };
          push[i] = (uint32_t) ((off - base) / 4);
        }
      else
        infos[i] = (VkDescriptorBufferInfo){ vk->dummy.buffer, 0, VK_WHOLE_SIZE };
      writes[i] = (VkWriteDescriptorSet){ .sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
                                          .dstSet = set,
                                          .dstBinding = (uint32_t) i,
                                          .descriptorCount = 1,
                                          .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                                          .pBufferInfo = &infos[i] };
    }
  if (params_size)
    memcpy (push + 8, params, params_size);
  vkUpdateDescriptorSets (vk->device, DN_MAX_BINDINGS, writes, 0, NULL);

  DN_TRY (track_accesses (dev, bindings, n_bindings));
  vkCmdBindPipeline (vk->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, pipe);
  vkCmdBindDescriptorSets (vk->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, vk->pipeline_layout, 0, 1, &set, 0, NULL);
  vkCmdPushConstants (vk->cmd, vk->pipeline_layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, DN_PUSH_BYTES, push);
  bool timed = vk->queries && vk->n_queries + 2 <= DN_MAX_QUERIES;
  if (timed)
    vkCmdWriteTimestamp (vk->cmd, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, vk->queries, (uint32_t) vk->n_queries);
  vkCmdDispatch (vk->cmd, gx, gy, gz);
  if (timed)
    {
      vkCmdWriteTimestamp (vk->cmd, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, vk->queries, (uint32_t) vk->n_queries + 1);
      vk->query_shader[vk->n_queries / 2] = shader;
      vk->n_queries += 2;
    }
  return DN_OK;
}

DnStatus
dn_vk_dispatch_1d_local (DnDevice *dev, DnShaderId shader, const DnBinding *bindings, int n_bindings,
                         const void *params, size_t params_size, int64_t n_threads, uint32_t local)
{
  if (n_threads <= 0)
    return DN_OK;
  int64_t groups = (n_threads + local - 1) / local;
  uint32_t gx = groups > 65535 ? 65535 : (uint32_t) groups;
  int64_t gy = (groups + gx - 1) / gx;
  if (gy > 65535)
    return dn_set_error (DN_ERROR_SHAPE, "%s: %" PRId64 " invocations are too many for one dispatch",
                         dn_shader_table[shader].name, n_threads);
  return dn_vk_dispatch (dev, shader, bindings, n_bindings, params, params_size, gx, (uint32_t) gy, 1);
}

DnStatus
dn_vk_dispatch_1d (DnDevice *dev, DnShaderId shader, const DnBinding *bindings, int n_bindings, const void *params,
                   size_t params_size, int64_t n_threads)
{
  return dn_vk_dispatch_1d_local (dev, shader, bindings, n_bindings, params, params_size, n_threads, 256);
}

/* Profiling ---------------------------------------------------------------------------------------- */

void
dn_vk_profile_reset (DnDevice *dev)
{
  memset (dev->vk->profile_ms, 0, sizeof dev->vk->profile_ms);
  memset (dev->vk->profile_count, 0, sizeof dev->vk->profile_count);
}

void
dn_vk_profile_report (DnDevice *dev, char *buf, size_t size)
{
  DnVk *vk = dev->vk;
  size_t k = 0;
  for (int i = 0; i < DN_SHADER_COUNT && k < size; i++)
    if (vk->profile_count[i])
      k += (size_t) snprintf (buf + k, size - k, "%s: %.3f ms (%d)\n", dn_shader_table[i].name, vk->profile_ms[i],
                              vk->profile_count[i]);
}
