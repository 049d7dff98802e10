/* dn-image.c: decoding PNG (libpng) and JPEG (libjpeg-turbo, the library PIL links) into 8-bit gray or
 * RGB exactly as PIL's Image.open(...).convert("RGB") does, and writing PNG/JPEG (dn-dataset.h).
 *
 * Both decoders check the image size before allocating, turn every library error (and a JPEG's
 * premature end, which libjpeg only warns about and PIL refuses as "image file is truncated") into
 * DN_ERROR_FORMAT naming the file, and never print.
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
/* after stdio.h (jpeglib.h needs FILE) */
#include <jerror.h>
#include <jpeglib.h>
#include <png.h>

#include "dn-dataset.h"
#include "dn-io-private.h"

void
dn_image_clear (DnImage *img)
{
  if (!img)
    return;
  free (img->pixels);
  memset (img, 0, sizeof *img);
}

DnStatus
dn_image_alloc (DnImage *img, int width, int height, int channels, DnPixelType type)
{
  memset (img, 0, sizeof *img);
  size_t el = type == DN_PIXEL_U8 ? 1 : sizeof (float);
  size_t n = (size_t) width * (size_t) height * (size_t) channels;
  if (width <= 0 || height <= 0 || (channels != 1 && channels != 3))
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "image: bad size %dx%dx%d", width, height, channels);
  if (!(img->pixels = malloc (n * el)))
    return dn_set_error (DN_ERROR_NO_MEMORY, "image: out of memory for %dx%dx%d", width, height, channels);
  img->width = width;
  img->height = height;
  img->channels = channels;
  img->type = type;
  return DN_OK;
}

static DnStatus
check_size (const char *name, uint64_t w, uint64_t h, int64_t max_pixels)
{
  if (w == 0 || h == 0)
    return dn_set_error (DN_ERROR_FORMAT, "%s: image has no pixels (%llux%llu)", name, (unsigned long long) w,
                         (unsigned long long) h);
  if (w * h > (uint64_t) max_pixels || w > 0x7fffffff / 4 || h > 0x7fffffff / 4)
    return dn_set_error (DN_ERROR_FORMAT, "%s: image too large (%llux%llu pixels; the limit is %lld pixels)", name,
                         (unsigned long long) w, (unsigned long long) h, (long long) max_pixels);
  return DN_OK;
}

/* Keeps the colour channels of @src (1..4 interleaved channels: gray, gray+alpha, RGB, RGBA). */
static void
drop_alpha (uint8_t *dst, const uint8_t *src, size_t npix, int src_ch)
{
  int out_ch = src_ch >= 3 ? 3 : 1;
  for (size_t i = 0; i < npix; i++)
    for (int c = 0; c < out_ch; c++)
      dst[i * out_ch + c] = src[i * src_ch + c];
}

/* PNG ----------------------------------------------------------------------------------------------- */

typedef struct
{
  const uint8_t *data;
  size_t size, pos;
  char message[200];
  jmp_buf jmp;
} PngReader;

static void
png_read_cb (png_structp png, png_bytep out, png_size_t n)
{
  PngReader *r = png_get_io_ptr (png);
  if (n > r->size - r->pos)
    png_error (png, "file is truncated");
  memcpy (out, r->data + r->pos, n);
  r->pos += n;
}

static void
png_error_cb (png_structp png, png_const_charp msg)
{
  PngReader *r = png_get_error_ptr (png);
  snprintf (r->message, sizeof r->message, "%s", msg);
  longjmp (r->jmp, 1);
}

static void
png_warning_cb (png_structp png, png_const_charp msg)
{
}

static DnStatus
decode_png (const uint8_t *data, size_t size, const char *name, int64_t max_pixels, DnImage *out)
{
  PngReader r = { .data = data, .size = size };
  png_structp png = png_create_read_struct (PNG_LIBPNG_VER_STRING, &r, png_error_cb, png_warning_cb);
  png_infop info = png ? png_create_info_struct (png) : NULL;
  /* volatile: modified between setjmp and a possible longjmp */
  uint8_t *volatile raw = NULL;
  png_bytep *volatile rows = NULL;
  DnStatus st = DN_OK;
  if (!png || !info)
    {
      png_destroy_read_struct (png ? &png : NULL, NULL, NULL);
      return dn_set_error (DN_ERROR_NO_MEMORY, "%s: out of memory", name);
    }
  if (setjmp (r.jmp))
    {
      st = dn_set_error (DN_ERROR_FORMAT, "%s: corrupt PNG: %s", name, r.message);
      goto out;
    }
  png_set_read_fn (png, &r, png_read_cb);
  /* PIL checks no CRC of ancillary chunks either */
  png_set_crc_action (png, PNG_CRC_DEFAULT, PNG_CRC_QUIET_USE);
  png_set_user_limits (png, 0x7fffffff, 0x7fffffff);
  png_read_info (png, info);
  png_uint_32 w = png_get_image_width (png, info), h = png_get_image_height (png, info);
  if ((st = check_size (name, w, h, max_pixels)) != DN_OK)
    goto out;
  int color = png_get_color_type (png, info), depth = png_get_bit_depth (png, info);
  if (color == PNG_COLOR_TYPE_PALETTE)
    png_set_palette_to_rgb (png);
  if (color == PNG_COLOR_TYPE_GRAY && depth < 8)
    png_set_expand_gray_1_2_4_to_8 (png);
  if (depth == 16)
    png_set_strip_16 (png);
  png_set_interlace_handling (png);
  png_read_update_info (png, info);
  int ch = png_get_channels (png, info);
  size_t rowbytes = png_get_rowbytes (png, info);
  if (ch < 1 || ch > 4 || rowbytes != (size_t) w * (size_t) ch)
    {
      st = dn_set_error (DN_ERROR_FORMAT, "%s: unsupported PNG layout (%d channels, %d bits)", name, ch, depth);
      goto out;
    }
  if (!(raw = malloc (rowbytes * h)) || !(rows = malloc (h * sizeof *rows)))
    {
      st = dn_set_error (DN_ERROR_NO_MEMORY, "%s: out of memory for %ux%u pixels", name, w, h);
      goto out;
    }
  for (png_uint_32 y = 0; y < h; y++)
    rows[y] = raw + (size_t) y * rowbytes;
  png_read_image (png, rows);
  png_read_end (png, NULL);
  int out_ch = ch >= 3 ? 3 : 1;
  if (ch == out_ch)
    {
      out->width = (int) w;
      out->height = (int) h;
      out->channels = ch;
      out->type = DN_PIXEL_U8;
      out->pixels = raw;
      raw = NULL;
    }
  else if ((st = dn_image_alloc (out, (int) w, (int) h, out_ch, DN_PIXEL_U8)) == DN_OK)
    drop_alpha (out->pixels, raw, (size_t) w * h, ch);
out:
  png_destroy_read_struct (&png, &info, NULL);
  free (raw);
  free (rows);
  return st;
}

/* JPEG ---------------------------------------------------------------------------------------------- */

typedef struct
{
  struct jpeg_error_mgr base;
  jmp_buf jmp;
  bool truncated;
  char message[JMSG_LENGTH_MAX];
} JpegErr;

static void
jpeg_error_exit_cb (j_common_ptr cinfo)
{
  JpegErr *e = (JpegErr *) cinfo->err;
  e->base.format_message (cinfo, e->message);
  longjmp (e->jmp, 1);
}

static void
jpeg_emit_cb (j_common_ptr cinfo, int level)
{
  JpegErr *e = (JpegErr *) cinfo->err;
  /* warnings: only the premature end matters (PIL: "image file is truncated") */
  if (level < 0 && e->base.msg_code == JWRN_JPEG_EOF)
    e->truncated = true;
}

/* Installs the error manager that turns libjpeg's errors into a longjmp to e->jmp. */
static struct jpeg_error_mgr *
jpeg_err_init (JpegErr *e)
{
  memset (e, 0, sizeof *e);
  jpeg_std_error (&e->base);
  e->base.error_exit = jpeg_error_exit_cb;
  e->base.emit_message = jpeg_emit_cb;
  return &e->base;
}

/* PIL's cmyk2rgb on Adobe-inverted CMYK ("CMYK;I"): nk = 255 − k, out = nk − c·nk/255 (rounded). */
static void
cmyk_to_rgb (uint8_t *dst, const uint8_t *src, size_t npix)
{
  for (size_t i = 0; i < npix; i++)
    {
      int k = 255 - src[4 * i + 3];
      int nk = 255 - k;
      for (int c = 0; c < 3; c++)
        {
          int cv = 255 - src[4 * i + c];
          int tmp = cv * nk + 128;
          int v = nk - (((tmp >> 8) + tmp) >> 8);
          dst[3 * i + c] = (uint8_t) (v < 0 ? 0 : v > 255 ? 255 : v);
        }
    }
}

static DnStatus
decode_jpeg (const uint8_t *data, size_t size, const char *name, int64_t max_pixels, DnImage *out)
{
  struct jpeg_decompress_struct cinfo;
  JpegErr err;
  memset (&cinfo, 0, sizeof cinfo);
  cinfo.err = jpeg_err_init (&err);
  uint8_t *volatile cmyk = NULL;
  DnStatus st = DN_OK;
  volatile bool created = false;
  if (setjmp (err.jmp))
    {
      dn_image_clear (out);
      st = dn_set_error (DN_ERROR_FORMAT, "%s: corrupt JPEG: %s", name, err.message);
      goto out;
    }
  jpeg_create_decompress (&cinfo);
  created = true;
  jpeg_mem_src (&cinfo, data, (unsigned long) size);
  jpeg_read_header (&cinfo, TRUE);
  if ((st = check_size (name, cinfo.image_width, cinfo.image_height, max_pixels)) != DN_OK)
    goto out;
  int ch;
  switch (cinfo.jpeg_color_space)
    {
    case JCS_GRAYSCALE:
      cinfo.out_color_space = JCS_GRAYSCALE;
      ch = 1;
      break;
    case JCS_CMYK:
    case JCS_YCCK:
      cinfo.out_color_space = JCS_CMYK;
      ch = 4;
      break;
    default:
      cinfo.out_color_space = JCS_RGB;
      ch = 3;
      break;
    }
  jpeg_start_decompress (&cinfo);
  int w = (int) cinfo.output_width, h = (int) cinfo.output_height;
  if ((int) cinfo.output_components != ch)
    {
      st = dn_set_error (DN_ERROR_FORMAT, "%s: unsupported JPEG colour layout", name);
      goto out;
    }
  if (ch == 4)
    {
      if (!(cmyk = malloc ((size_t) w * h * 4)))
        {
          st = dn_set_error (DN_ERROR_NO_MEMORY, "%s: out of memory", name);
          goto out;
        }
    }
  if (ch != 4 && (st = dn_image_alloc (out, w, h, ch, DN_PIXEL_U8)) != DN_OK)
    goto out;
  uint8_t *base = ch == 4 ? cmyk : out->pixels;
  while (cinfo.output_scanline < cinfo.output_height)
    {
      JSAMPROW row = base + (size_t) cinfo.output_scanline * w * ch;
      if (jpeg_read_scanlines (&cinfo, &row, 1) != 1)
        break;
    }
  if (cinfo.output_scanline < cinfo.output_height || err.truncated)
    {
      dn_image_clear (out);
      st = dn_set_error (DN_ERROR_FORMAT, "%s: JPEG data is truncated", name);
      goto out;
    }
  jpeg_finish_decompress (&cinfo);
  if (err.truncated)
    {
      dn_image_clear (out);
      st = dn_set_error (DN_ERROR_FORMAT, "%s: JPEG data is truncated", name);
      goto out;
    }
  if (ch == 4 && (st = dn_image_alloc (out, w, h, 3, DN_PIXEL_U8)) == DN_OK)
    cmyk_to_rgb (out->pixels, cmyk, (size_t) w * h);
out:
  if (created)
    jpeg_destroy_decompress (&cinfo);
  free (cmyk);
  return st;
}

DnStatus
dn_image_decode (const uint8_t *data, size_t size, const char *name, int64_t max_pixels, DnImage *out)
{
  memset (out, 0, sizeof *out);
  if (max_pixels <= 0)
    max_pixels = DN_IMAGE_DEFAULT_MAX_PIXELS;
  if (size == 0)
    return dn_set_error (DN_ERROR_FORMAT, "%s: empty file", name);
  if (size >= 8 && png_sig_cmp (data, 0, 8) == 0)
    return decode_png (data, size, name, max_pixels, out);
  if (size >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF)
    return decode_jpeg (data, size, name, max_pixels, out);
  return dn_set_error (DN_ERROR_FORMAT, "%s: neither a PNG nor a JPEG file", name);
}

DnStatus
dn_image_load (const char *path, int64_t max_pixels, DnImage *out)
{
  DnIoFile f;
  memset (out, 0, sizeof *out);
  DnStatus st = dn_io_file_read (path, &f);
  if (st != DN_OK)
    return st;
  st = dn_image_decode (f.data, f.size, path, max_pixels, out);
  dn_io_file_release (&f);
  return st;
}

/* Writing ------------------------------------------------------------------------------------------- */

static DnStatus
check_u8 (const DnImage *img, const char *path)
{
  if (img->type != DN_PIXEL_U8 || (img->channels != 1 && img->channels != 3) || img->width <= 0 || img->height <= 0)
    return dn_set_error (DN_ERROR_INVALID_ARGUMENT, "%s: only 8-bit gray or RGB images can be written", path);
  return DN_OK;
}

DnStatus
dn_image_save_png (const DnImage *img, const char *path)
{
  DnStatus st = check_u8 (img, path);
  if (st != DN_OK)
    return st;
  FILE *volatile fp = fopen (path, "wb");
  if (!fp)
    return dn_set_error (DN_ERROR_IO, "%s: %s", path, strerror (errno));
  PngReader r = { 0 };
  png_structp png = png_create_write_struct (PNG_LIBPNG_VER_STRING, &r, png_error_cb, png_warning_cb);
  png_infop info = png ? png_create_info_struct (png) : NULL;
  if (!png || !info)
    {
      png_destroy_write_struct (png ? &png : NULL, NULL);
      fclose (fp);
      return dn_set_error (DN_ERROR_NO_MEMORY, "%s: out of memory", path);
    }
  if (setjmp (r.jmp))
    {
      st = dn_set_error (DN_ERROR_IO, "%s: writing PNG: %s", path, r.message);
      goto out;
    }
  png_init_io (png, fp);
  png_set_IHDR (png, info, (png_uint_32) img->width, (png_uint_32) img->height, 8,
                img->channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info (png, info);
  for (int y = 0; y < img->height; y++)
    png_write_row (png, (png_const_bytep) img->pixels + (size_t) y * img->width * img->channels);
  png_write_end (png, NULL);
out:
  png_destroy_write_struct (&png, &info);
  if (fclose (fp) != 0 && st == DN_OK)
    st = dn_set_error (DN_ERROR_IO, "%s: %s", path, strerror (errno));
  return st;
}

DnStatus
dn_image_save_jpeg (const DnImage *img, const char *path, int quality)
{
  DnStatus st = check_u8 (img, path);
  if (st != DN_OK)
    return st;
  FILE *volatile fp = fopen (path, "wb");
  if (!fp)
    return dn_set_error (DN_ERROR_IO, "%s: %s", path, strerror (errno));
  struct jpeg_compress_struct cinfo;
  JpegErr err;
  memset (&cinfo, 0, sizeof cinfo);
  cinfo.err = jpeg_err_init (&err);
  if (setjmp (err.jmp))
    {
      st = dn_set_error (DN_ERROR_IO, "%s: writing JPEG: %s", path, err.message);
      goto out;
    }
  jpeg_create_compress (&cinfo);
  jpeg_stdio_dest (&cinfo, fp);
  cinfo.image_width = (JDIMENSION) img->width;
  cinfo.image_height = (JDIMENSION) img->height;
  cinfo.input_components = img->channels;
  cinfo.in_color_space = img->channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults (&cinfo);
  jpeg_set_quality (&cinfo, quality < 1 ? 1 : quality > 100 ? 100 : quality, TRUE);
  jpeg_start_compress (&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height)
    {
      JSAMPROW row = (JSAMPROW) img->pixels + (size_t) cinfo.next_scanline * img->width * img->channels;
      jpeg_write_scanlines (&cinfo, &row, 1);
    }
  jpeg_finish_compress (&cinfo);
out:
  jpeg_destroy_compress (&cinfo);
  if (fclose (fp) != 0 && st == DN_OK)
    st = dn_set_error (DN_ERROR_IO, "%s: %s", path, strerror (errno));
  return st;
}
