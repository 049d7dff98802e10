/* dn-pickle.c: the safe pickle VM (see dn-pickle.h).
 *
 * The machine follows CPython's Lib/pickle.py _Unpickler: a value stack, a stack of MARK positions
 * (CPython's metastack), and a memo indexed by BINPUT/MEMOIZE. Values live in an arena of chunks; a
 * container grows by copying into a bigger arena block (waste <= 2x, bounded by the arena limit).
 * SPDX-License-Identifier: MIT
 */
#include "dn-pickle.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dn-io-private.h"

enum
{
  OP_MARK = '(', OP_STOP = '.', OP_POP = '0', OP_POP_MARK = '1', OP_DUP = '2', OP_BINFLOAT = 'G',
  OP_BININT = 'J', OP_BININT1 = 'K', OP_BININT2 = 'M', OP_NONE = 'N', OP_BINPERSID = 'Q', OP_REDUCE = 'R',
  OP_BINSTRING = 'T', OP_SHORT_BINSTRING = 'U', OP_BINUNICODE = 'X', OP_APPEND = 'a', OP_BUILD = 'b',
  OP_GLOBAL = 'c', OP_DICT = 'd', OP_EMPTY_DICT = '}', OP_APPENDS = 'e', OP_BINGET = 'h', OP_LONG_BINGET = 'j',
  OP_LIST = 'l', OP_EMPTY_LIST = ']', OP_BINPUT = 'q', OP_LONG_BINPUT = 'r', OP_SETITEM = 's', OP_TUPLE = 't',
  OP_EMPTY_TUPLE = ')', OP_SETITEMS = 'u', OP_BINBYTES = 'B', OP_SHORT_BINBYTES = 'C',
  OP_PROTO = 0x80, OP_NEWOBJ = 0x81, OP_EXT1 = 0x82, OP_EXT2 = 0x83, OP_EXT4 = 0x84, OP_TUPLE1 = 0x85,
  OP_TUPLE2 = 0x86, OP_TUPLE3 = 0x87, OP_NEWTRUE = 0x88, OP_NEWFALSE = 0x89, OP_LONG1 = 0x8a, OP_LONG4 = 0x8b,
  OP_SHORT_BINUNICODE = 0x8c, OP_BINUNICODE8 = 0x8d, OP_BINBYTES8 = 0x8e, OP_EMPTY_SET = 0x8f,
  OP_ADDITEMS = 0x90, OP_FROZENSET = 0x91, OP_NEWOBJ_EX = 0x92, OP_STACK_GLOBAL = 0x93, OP_MEMOIZE = 0x94,
  OP_FRAME = 0x95, OP_BYTEARRAY8 = 0x96, OP_NEXT_BUFFER = 0x97, OP_READONLY_BUFFER = 0x98,
  OP_INST = 'i', OP_OBJ = 'o',
};

#define CHUNK_BYTES ((size_t) 1 << 16)
#define MAX_GLOBAL_LINE 1024

typedef struct Chunk Chunk;
struct Chunk
{
  Chunk *next;
  size_t used, cap;
  _Alignas (16) uint8_t data[];
};

struct DnPickle
{
  char *name;
  DnPickleHooks hooks;
  DnPickleLimits limits;
  Chunk *chunks;
  size_t arena_bytes;
  DnStatus alloc_status; /* why the last failed dn_pickle_alloc failed */
  DnPkValue none, yes, no, empty_tuple; /* immutable singletons */

  /* state of the running load */
  const uint8_t *data;
  size_t size, op_pos;
  DnPkValue **stack;
  size_t sp, stack_cap;
  size_t *marks;
  size_t n_marks, marks_cap;
  DnPkValue **memo;
  size_t memo_cap, memo_count;
};

static const DnPickleLimits default_limits = {
  .max_stack = (size_t) 1 << 20,
  .max_marks = 4096,
  .max_memo = (size_t) 1 << 24,
  .max_arena_bytes = (size_t) 1 << 30,
};

DnPickle *
dn_pickle_new (const char *name, const DnPickleHooks *hooks, const DnPickleLimits *limits)
{
  DnPickle *pk = calloc (1, sizeof *pk);
  if (!pk || !(pk->name = strdup (name ? name : "(memory)")))
    {
      free (pk);
      dn_set_error (DN_ERROR_NO_MEMORY, "%s: out of memory", name ? name : "(memory)");
      return NULL;
    }
  if (hooks)
    pk->hooks = *hooks;
  pk->limits = limits ? *limits : default_limits;
  pk->none.type = DN_PK_NONE;
  pk->yes.type = DN_PK_BOOL;
  pk->yes.u.b = true;
  pk->no.type = DN_PK_BOOL;
  pk->empty_tuple.type = DN_PK_TUPLE;
  return pk;
}

void
dn_pickle_free (DnPickle *pk)
{
  if (!pk)
    return;
  for (Chunk *c = pk->chunks, *next; c; c = next)
    {
      next = c->next;
      free (c);
    }
  free (pk->stack);
  free (pk->marks);
  free (pk->memo);
  free (pk->name);
  free (pk);
}

const char *
dn_pickle_name (const DnPickle *pk)
{
  return pk->name;
}

void *
dn_pickle_alloc (DnPickle *pk, size_t bytes)
{
  bytes = (bytes + 15) & ~(size_t) 15;
  if (bytes == 0)
    bytes = 16;
  Chunk *c = pk->chunks;
  if (!c || c->cap - c->used < bytes)
    {
      size_t cap = bytes > CHUNK_BYTES ? bytes : CHUNK_BYTES;
      if (bytes > pk->limits.max_arena_bytes || pk->arena_bytes > pk->limits.max_arena_bytes - cap)
        {
          pk->alloc_status = dn_set_error (DN_ERROR_FORMAT, "%s: pickle needs more than %zu MiB of objects "
                                           "(hostile or corrupt file?)", pk->name,
                                           pk->limits.max_arena_bytes >> 20);
          return NULL;
        }
      c = malloc (sizeof *c + cap);
      if (!c)
        {
          pk->alloc_status = dn_set_error (DN_ERROR_NO_MEMORY, "%s: out of memory unpickling", pk->name);
          return NULL;
        }
      c->used = 0;
      c->cap = cap;
      c->next = pk->chunks;
      pk->chunks = c;
      pk->arena_bytes += cap;
    }
  void *p = c->data + c->used;
  c->used += bytes;
  memset (p, 0, bytes);
  return p;
}

DnStatus
dn_pickle_alloc_status (const DnPickle *pk)
{
  return pk->alloc_status != DN_OK ? pk->alloc_status : DN_ERROR_FORMAT;
}

DnPkValue *
dn_pickle_value (DnPickle *pk, DnPkType type)
{
  DnPkValue *v = dn_pickle_alloc (pk, sizeof *v);
  if (v)
    v->type = type;
  return v;
}

const char *
dn_pk_type_name (const DnPkValue *v)
{
  if (!v)
    return "nothing";
  switch (v->type)
    {
    case DN_PK_NONE: return "None";
    case DN_PK_BOOL: return "bool";
    case DN_PK_INT:
    case DN_PK_BIGINT: return "int";
    case DN_PK_FLOAT: return "float";
    case DN_PK_STR: return "str";
    case DN_PK_BYTES: return "bytes";
    case DN_PK_TUPLE: return "tuple";
    case DN_PK_LIST: return "list";
    case DN_PK_DICT: return "dict";
    case DN_PK_GLOBAL: return "global";
    case DN_PK_OBJECT: return "object";
    }
  return "?";
}

bool
dn_pk_str_eq (const DnPkValue *v, const char *s)
{
  size_t n = strlen (s);
  return v && v->type == DN_PK_STR && v->u.s.len == n && memcmp (v->u.s.ptr, s, n) == 0;
}

const DnPkValue *
dn_pk_dict_get (const DnPkValue *dict, const char *key)
{
  if (!dict || dict->type != DN_PK_DICT)
    return NULL;
  const DnPkValue *found = NULL;
  for (size_t i = 0; i + 1 < dict->u.seq.n; i += 2)
    if (dn_pk_str_eq (dict->u.seq.items[i], key))
      found = dict->u.seq.items[i + 1];
  return found;
}

/* ---- the machine ---- */

static DnStatus fail (DnPickle *pk, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));

static DnStatus
fail (DnPickle *pk, const char *fmt, ...)
{
  char msg[512];
  va_list ap;
  va_start (ap, fmt);
  vsnprintf (msg, sizeof msg, fmt, ap);
  va_end (ap);
  return dn_set_error (DN_ERROR_FORMAT, "%s: pickle byte %zu: %s", pk->name, pk->op_pos, msg);
}

/* the status of a failed allocation (its message is already set), or of a failed make_* helper */
static DnStatus
oom (const DnPickle *pk)
{
  return pk->alloc_status != DN_OK ? pk->alloc_status : DN_ERROR_FORMAT;
}

/* printable copy of untrusted text for messages */
static void
sanitize (char *dst, size_t cap, const char *src, size_t len)
{
  size_t j = 0;
  for (size_t i = 0; i < len && j + 4 < cap; i++)
    dst[j++] = (src[i] >= 32 && src[i] < 127) ? src[i] : '?';
  if (len > 0 && j + 4 >= cap)
    {
      memcpy (dst + j, "...", 3);
      j += 3;
    }
  dst[j] = '\0';
}

static size_t
mark_base (const DnPickle *pk)
{
  return pk->n_marks ? pk->marks[pk->n_marks - 1] : 0;
}

static DnStatus
push (DnPickle *pk, DnPkValue *v)
{
  if (!v)
    return oom (pk);
  if (pk->sp == pk->stack_cap)
    {
      if (pk->stack_cap >= pk->limits.max_stack)
        return fail (pk, "stack deeper than %zu values", pk->limits.max_stack);
      size_t cap = pk->stack_cap ? pk->stack_cap * 2 : 256;
      if (cap > pk->limits.max_stack)
        cap = pk->limits.max_stack;
      DnPkValue **s = realloc (pk->stack, cap * sizeof *s);
      if (!s)
        return dn_set_error (DN_ERROR_NO_MEMORY, "%s: out of memory unpickling", pk->name);
      pk->stack = s;
      pk->stack_cap = cap;
    }
  pk->stack[pk->sp++] = v;
  return DN_OK;
}

/* pops the top value above the current mark, or NULL (error set) */
static DnPkValue *
pop (DnPickle *pk)
{
  if (pk->sp <= mark_base (pk))
    {
      fail (pk, "stack underflow");
      return NULL;
    }
  return pk->stack[--pk->sp];
}

static DnPkValue *
top (DnPickle *pk)
{
  if (pk->sp <= mark_base (pk))
    {
      fail (pk, "stack underflow");
      return NULL;
    }
  return pk->stack[pk->sp - 1];
}

/* pops the topmost mark; *base = first item above it */
static DnStatus
pop_mark (DnPickle *pk, size_t *base)
{
  if (pk->n_marks == 0)
    return fail (pk, "no MARK on the stack");
  *base = pk->marks[--pk->n_marks];
  return DN_OK;
}

static DnStatus
need (DnPickle *pk, size_t pos, uint64_t n)
{
  if (pos > pk->size || pk->size - pos < n)
    return fail (pk, "truncated (opcode 0x%02x needs %llu more bytes, %zu left)", pk->data[pk->op_pos],
                 (unsigned long long) n, pos > pk->size ? 0 : pk->size - pos);
  return DN_OK;
}

/* makes room for @extra more items in a tuple/list/dict */
static DnStatus
seq_reserve (DnPickle *pk, DnPkValue *c, size_t extra)
{
  size_t n = c->u.seq.n;
  if (extra <= c->u.seq.cap - n)
    return DN_OK;
  if (extra > pk->limits.max_stack * 4 || n > SIZE_MAX / 4)
    return fail (pk, "container too large");
  size_t cap = c->u.seq.cap ? c->u.seq.cap * 2 : 4;
  if (cap < n + extra)
    cap = n + extra;
  DnPkValue **items = dn_pickle_alloc (pk, cap * sizeof *items);
  if (!items)
    return oom (pk);
  if (n)
    memcpy (items, c->u.seq.items, n * sizeof *items);
  c->u.seq.items = items;
  c->u.seq.cap = cap;
  return DN_OK;
}

/* new container of @type holding stack[base..sp) (which are popped) */
static DnStatus
collect (DnPickle *pk, DnPkType type, size_t base)
{
  size_t n = pk->sp - base;
  if (type == DN_PK_TUPLE && n == 0)
    return push (pk, &pk->empty_tuple);
  DnPkValue *c = dn_pickle_value (pk, type);
  if (!c)
    return oom (pk);
  DnStatus st = seq_reserve (pk, c, n);
  if (st != DN_OK)
    return st;
  if (n)
    memcpy (c->u.seq.items, pk->stack + base, n * sizeof *c->u.seq.items);
  c->u.seq.n = n;
  pk->sp = base;
  return push (pk, c);
}

/* appends stack[base..sp) to @c (a list, or a dict with an even count) and pops them */
static DnStatus
extend (DnPickle *pk, DnPkValue *c, size_t base)
{
  size_t n = pk->sp - base;
  DnStatus st = seq_reserve (pk, c, n);
  if (st != DN_OK)
    return st;
  if (n)
    memcpy (c->u.seq.items + c->u.seq.n, pk->stack + base, n * sizeof *c->u.seq.items);
  c->u.seq.n += n;
  pk->sp = base;
  return DN_OK;
}

static DnPkValue *
make_string (DnPickle *pk, DnPkType type, const uint8_t *p, size_t len)
{
  DnPkValue *v = dn_pickle_value (pk, type);
  if (!v)
    return NULL;
  if (len >= SIZE_MAX - 16)
    {
      fail (pk, "string too long");
      return NULL;
    }
  char *s = dn_pickle_alloc (pk, len + 1);
  if (!s)
    return NULL;
  memcpy (s, p, len);
  s[len] = '\0';
  v->u.s.ptr = s;
  v->u.s.len = len;
  return v;
}

static DnPkValue *
make_int (DnPickle *pk, int64_t i)
{
  DnPkValue *v = dn_pickle_value (pk, DN_PK_INT);
  if (v)
    v->u.i = i;
  return v;
}

/* LONG1/LONG4 payload: little-endian two's complement */
static DnPkValue *
make_long (DnPickle *pk, const uint8_t *p, size_t n)
{
  size_t k = n;
  /* drop redundant sign-extension bytes */
  while (k > 1 && ((p[k - 1] == 0 && !(p[k - 2] & 0x80)) || (p[k - 1] == 0xff && (p[k - 2] & 0x80))))
    k--;
  if (k <= 8)
    {
      uint64_t u = 0;
      for (size_t i = 0; i < k; i++)
        u |= (uint64_t) p[i] << (8 * i);
      if (k > 0 && k < 8 && (p[k - 1] & 0x80))
        u |= ~(uint64_t) 0 << (8 * k);
      int64_t i;
      memcpy (&i, &u, sizeof i);
      return make_int (pk, i);
    }
  DnPkValue *v = make_string (pk, DN_PK_BIGINT, p, n);
  return v;
}

static DnStatus
memo_put (DnPickle *pk, uint64_t idx, DnPkValue *v)
{
  if (!v)
    return DN_ERROR_FORMAT; /* error set by top() */
  if (idx >= pk->limits.max_memo || idx > pk->size)
    return fail (pk, "memo index %llu too large", (unsigned long long) idx);
  if (idx >= pk->memo_cap)
    {
      size_t cap = pk->memo_cap ? pk->memo_cap * 2 : 256;
      if (cap <= idx)
        cap = (size_t) idx + 1;
      DnPkValue **m = realloc (pk->memo, cap * sizeof *m);
      if (!m)
        return dn_set_error (DN_ERROR_NO_MEMORY, "%s: out of memory unpickling", pk->name);
      memset (m + pk->memo_cap, 0, (cap - pk->memo_cap) * sizeof *m);
      pk->memo = m;
      pk->memo_cap = cap;
    }
  if (!pk->memo[idx])
    pk->memo_count++;
  pk->memo[idx] = v;
  return DN_OK;
}

static DnStatus
memo_get (DnPickle *pk, uint64_t idx)
{
  if (idx >= pk->memo_cap || !pk->memo[idx])
    return fail (pk, "memo index %llu was never set", (unsigned long long) idx);
  return push (pk, pk->memo[idx]);
}

static DnStatus
do_global (DnPickle *pk, const char *module, size_t mlen, const char *name, size_t nlen)
{
  DnPkValue *m = make_string (pk, DN_PK_STR, (const uint8_t *) module, mlen);
  DnPkValue *n = m ? make_string (pk, DN_PK_STR, (const uint8_t *) name, nlen) : NULL;
  if (!n)
    return oom (pk);
  int id = -1;
  if (pk->hooks.find_global && !memchr (module, 0, mlen) && !memchr (name, 0, nlen))
    id = pk->hooks.find_global (pk->hooks.user, m->u.s.ptr, n->u.s.ptr);
  if (id < 0)
    {
      char sm[128], sn[128];
      sanitize (sm, sizeof sm, module, mlen);
      sanitize (sn, sizeof sn, name, nlen);
      return dn_set_error (DN_ERROR_FORMAT, "%s: pickle byte %zu: refusing global '%s.%s': only the types of a "
                           "PyTorch state dict are allowed (nothing was imported or executed)", pk->name,
                           pk->op_pos, sm, sn);
    }
  DnPkValue *g = dn_pickle_value (pk, DN_PK_GLOBAL);
  if (!g)
    return oom (pk);
  g->u.global.id = id;
  g->u.global.module = m->u.s.ptr;
  g->u.global.name = n->u.s.ptr;
  return push (pk, g);
}

static DnStatus
refuse_op (DnPickle *pk, uint8_t op)
{
  const char *why;
  switch (op)
    {
    case OP_INST: case OP_OBJ: case OP_NEWOBJ: case OP_NEWOBJ_EX:
      why = "object construction is not allowed in a state dict"; break;
    case OP_EXT1: case OP_EXT2: case OP_EXT4:
      why = "extension registry lookups are not allowed"; break;
    case OP_EMPTY_SET: case OP_ADDITEMS: case OP_FROZENSET:
      why = "sets are not used by state dicts"; break;
    case OP_BYTEARRAY8: case OP_NEXT_BUFFER: case OP_READONLY_BUFFER:
      why = "out-of-band buffers are not supported"; break;
    case 'I': case 'L': case 'F': case 'S': case 'V': case 'P': case 'p': case 'g':
      why = "protocol-0 text opcodes are not supported"; break;
    default:
      why = "not a pickle opcode (corrupt file?)"; break;
    }
  return fail (pk, "opcode 0x%02x refused: %s", op, why);
}

DnStatus
dn_pickle_load (DnPickle *pk, const uint8_t *data, size_t size, size_t *pos, DnPkValue **out)
{
  *out = NULL;
  pk->data = data;
  pk->size = size;
  pk->sp = 0;
  pk->n_marks = 0;
  if (pk->memo)
    memset (pk->memo, 0, pk->memo_cap * sizeof *pk->memo);
  pk->memo_count = 0;

  size_t p = *pos;
  DnStatus st = DN_OK;
  for (;;)
    {
      pk->op_pos = p;
      if (p >= size)
        return fail (pk, "truncated: the pickle ends without STOP");
      uint8_t op = data[p++];
      const uint8_t *a = data + p; /* the argument bytes, valid after need() */
      switch (op)
        {
        case OP_PROTO:
          if ((st = need (pk, p, 1)))
            return st;
          if (a[0] > 5)
            return fail (pk, "unsupported pickle protocol %u", a[0]);
          p += 1;
          break;
        case OP_FRAME: /* frames are read in place: the length is only a hint */
          if ((st = need (pk, p, 8)))
            return st;
          p += 8;
          break;
        case OP_STOP:
          {
            DnPkValue *v = pop (pk);
            if (!v)
              return DN_ERROR_FORMAT;
            *out = v;
            *pos = p;
            return DN_OK;
          }
        case OP_MARK:
          if (pk->n_marks == pk->marks_cap)
            {
              if (pk->marks_cap >= pk->limits.max_marks)
                return fail (pk, "MARKs nested deeper than %zu", pk->limits.max_marks);
              size_t cap = pk->marks_cap ? pk->marks_cap * 2 : 64;
              if (cap > pk->limits.max_marks)
                cap = pk->limits.max_marks;
              size_t *m = realloc (pk->marks, cap * sizeof *m);
              if (!m)
                return dn_set_error (DN_ERROR_NO_MEMORY, "%s: out of memory unpickling", pk->name);
              pk->marks = m;
              pk->marks_cap = cap;
            }
          pk->marks[pk->n_marks++] = pk->sp;
          break;
        case OP_POP:
          if (pk->sp > mark_base (pk))
            pk->sp--;
          else
            {
              size_t base = 0;
              if ((st = pop_mark (pk, &base)))
                return st;
            }
          break;
        case OP_POP_MARK:
          {
            size_t base = 0;
            if ((st = pop_mark (pk, &base)))
              return st;
            pk->sp = base;
            break;
          }
        case OP_DUP:
          {
            DnPkValue *v = top (pk);
            if (!v)
              return DN_ERROR_FORMAT;
            if ((st = push (pk, v)))
              return st;
            break;
          }
        case OP_NONE:
          if ((st = push (pk, &pk->none)))
            return st;
          break;
        case OP_NEWTRUE:
        case OP_NEWFALSE:
          if ((st = push (pk, op == OP_NEWTRUE ? &pk->yes : &pk->no)))
            return st;
          break;
        case OP_BININT:
          if ((st = need (pk, p, 4)))
            return st;
          if ((st = push (pk, make_int (pk, (int32_t) dn_io_le32 (a)))))
            return st;
          p += 4;
          break;
        case OP_BININT1:
          if ((st = need (pk, p, 1)))
            return st;
          if ((st = push (pk, make_int (pk, a[0]))))
            return st;
          p += 1;
          break;
        case OP_BININT2:
          if ((st = need (pk, p, 2)))
            return st;
          if ((st = push (pk, make_int (pk, dn_io_le16 (a)))))
            return st;
          p += 2;
          break;
        case OP_LONG1:
        case OP_LONG4:
          {
            size_t hl = op == OP_LONG1 ? 1 : 4;
            if ((st = need (pk, p, hl)))
              return st;
            int64_t n = op == OP_LONG1 ? a[0] : (int32_t) dn_io_le32 (a);
            if (n < 0)
              return fail (pk, "negative LONG4 length");
            p += hl;
            if ((st = need (pk, p, (uint64_t) n)))
              return st;
            if ((st = push (pk, make_long (pk, data + p, (size_t) n))))
              return st;
            p += (size_t) n;
            break;
          }
        case OP_BINFLOAT:
          {
            if ((st = need (pk, p, 8)))
              return st;
            uint64_t u = 0;
            for (int i = 0; i < 8; i++)
              u = u << 8 | a[i]; /* big-endian */
            DnPkValue *v = dn_pickle_value (pk, DN_PK_FLOAT);
            if (v)
              memcpy (&v->u.f, &u, sizeof u);
            if ((st = push (pk, v)))
              return st;
            p += 8;
            break;
          }
        case OP_BINUNICODE:
        case OP_SHORT_BINUNICODE:
        case OP_BINUNICODE8:
        case OP_BINSTRING:
        case OP_SHORT_BINSTRING:
        case OP_BINBYTES:
        case OP_SHORT_BINBYTES:
        case OP_BINBYTES8:
          {
            size_t hl = (op == OP_SHORT_BINUNICODE || op == OP_SHORT_BINSTRING || op == OP_SHORT_BINBYTES) ? 1
                        : (op == OP_BINUNICODE8 || op == OP_BINBYTES8)                                    ? 8
                                                                                                          : 4;
            if ((st = need (pk, p, hl)))
              return st;
            uint64_t n = hl == 1 ? a[0] : hl == 4 ? dn_io_le32 (a) : dn_io_le64 (a);
            if (op == OP_BINSTRING && (int32_t) n < 0)
              return fail (pk, "negative BINSTRING length");
            p += hl;
            if ((st = need (pk, p, n)))
              return st;
            DnPkType t = (op == OP_BINBYTES || op == OP_SHORT_BINBYTES || op == OP_BINBYTES8) ? DN_PK_BYTES
                                                                                              : DN_PK_STR;
            if ((st = push (pk, make_string (pk, t, data + p, (size_t) n))))
              return st;
            p += (size_t) n;
            break;
          }
        case OP_EMPTY_TUPLE:
          if ((st = push (pk, &pk->empty_tuple)))
            return st;
          break;
        case OP_TUPLE:
        case OP_LIST:
        case OP_DICT:
          {
            size_t base = 0;
            if ((st = pop_mark (pk, &base)))
              return st;
            if (op == OP_DICT && (pk->sp - base) % 2)
              return fail (pk, "DICT with an odd number of items");
            if ((st = collect (pk, op == OP_TUPLE ? DN_PK_TUPLE : op == OP_LIST ? DN_PK_LIST : DN_PK_DICT, base)))
              return st;
            break;
          }
        case OP_TUPLE1:
        case OP_TUPLE2:
        case OP_TUPLE3:
          {
            size_t n = (size_t) (op - OP_TUPLE1 + 1);
            if (pk->sp - mark_base (pk) < n)
              return fail (pk, "stack underflow");
            if ((st = collect (pk, DN_PK_TUPLE, pk->sp - n)))
              return st;
            break;
          }
        case OP_EMPTY_LIST:
        case OP_EMPTY_DICT:
          if ((st = push (pk, dn_pickle_value (pk, op == OP_EMPTY_LIST ? DN_PK_LIST : DN_PK_DICT))))
            return st;
          break;
        case OP_APPEND:
        case OP_SETITEM:
          {
            size_t n = op == OP_APPEND ? 1 : 2;
            if (pk->sp - mark_base (pk) < n + 1)
              return fail (pk, "stack underflow");
            DnPkValue *c = pk->stack[pk->sp - n - 1];
            if (c->type != (op == OP_APPEND ? DN_PK_LIST : DN_PK_DICT))
              return fail (pk, "%s on a %s", op == OP_APPEND ? "APPEND" : "SETITEM", dn_pk_type_name (c));
            if ((st = extend (pk, c, pk->sp - n)))
              return st;
            break;
          }
        case OP_APPENDS:
        case OP_SETITEMS:
          {
            size_t base = 0;
            if ((st = pop_mark (pk, &base)))
              return st;
            if (base <= mark_base (pk) || base > pk->sp)
              return fail (pk, "stack underflow");
            DnPkValue *c = pk->stack[base - 1];
            if (c->type != (op == OP_APPENDS ? DN_PK_LIST : DN_PK_DICT))
              return fail (pk, "%s on a %s", op == OP_APPENDS ? "APPENDS" : "SETITEMS", dn_pk_type_name (c));
            if (op == OP_SETITEMS && (pk->sp - base) % 2)
              return fail (pk, "SETITEMS with an odd number of items");
            if ((st = extend (pk, c, base)))
              return st;
            break;
          }
        case OP_GLOBAL:
          {
            const uint8_t *end = data + size;
            size_t lim = (size_t) (end - a) < 2 * MAX_GLOBAL_LINE ? (size_t) (end - a) : 2 * MAX_GLOBAL_LINE;
            const uint8_t *nl1 = memchr (a, '\n', lim);
            const uint8_t *nl2 = nl1 ? memchr (nl1 + 1, '\n', lim - (size_t) (nl1 + 1 - a)) : NULL;
            if (!nl2)
              return fail (pk, "GLOBAL without two text lines (truncated or too long)");
            if ((st = do_global (pk, (const char *) a, (size_t) (nl1 - a), (const char *) nl1 + 1,
                                 (size_t) (nl2 - nl1 - 1))))
              return st;
            p = (size_t) (nl2 + 1 - data);
            break;
          }
        case OP_STACK_GLOBAL:
          {
            DnPkValue *name = pop (pk), *module = name ? pop (pk) : NULL;
            if (!module)
              return DN_ERROR_FORMAT;
            if (name->type != DN_PK_STR || module->type != DN_PK_STR)
              return fail (pk, "STACK_GLOBAL needs two strings");
            if ((st = do_global (pk, module->u.s.ptr, module->u.s.len, name->u.s.ptr, name->u.s.len)))
              return st;
            break;
          }
        case OP_REDUCE:
          {
            DnPkValue *args = pop (pk), *callable = args ? top (pk) : NULL;
            if (!callable)
              return DN_ERROR_FORMAT;
            if (callable->type != DN_PK_GLOBAL)
              return fail (pk, "REDUCE on a %s (only allowed globals may be called)", dn_pk_type_name (callable));
            if (args->type != DN_PK_TUPLE)
              return fail (pk, "REDUCE arguments are a %s, not a tuple", dn_pk_type_name (args));
            if (!pk->hooks.call)
              return fail (pk, "REDUCE is not allowed here");
            DnPkValue *r = NULL;
            if ((st = pk->hooks.call (pk->hooks.user, pk, callable, args, &r)))
              return st;
            if (!r)
              return fail (pk, "%s.%s returned nothing", callable->u.global.module, callable->u.global.name);
            pk->stack[pk->sp - 1] = r;
            break;
          }
        case OP_BUILD:
          {
            DnPkValue *state = pop (pk), *inst = state ? top (pk) : NULL;
            if (!inst)
              return DN_ERROR_FORMAT;
            /* an OrderedDict's __dict__ update ({'_metadata': ...}); (state, slotstate) pairs too */
            if (state->type == DN_PK_TUPLE && state->u.seq.n == 2)
              state = state->u.seq.items[0];
            if (inst->type != DN_PK_DICT || (state->type != DN_PK_DICT && state->type != DN_PK_NONE))
              return fail (pk, "BUILD of a %s with a %s is not supported", dn_pk_type_name (inst),
                           dn_pk_type_name (state));
            inst->u.seq.state = state;
            break;
          }
        case OP_BINPERSID:
          {
            DnPkValue *pid = pop (pk);
            if (!pid)
              return DN_ERROR_FORMAT;
            if (!pk->hooks.persistent_load)
              return fail (pk, "persistent ids are not allowed here");
            DnPkValue *r = NULL;
            if ((st = pk->hooks.persistent_load (pk->hooks.user, pk, pid, &r)))
              return st;
            if ((st = push (pk, r)))
              return st;
            break;
          }
        case OP_BINGET:
        case OP_LONG_BINGET:
          {
            size_t hl = op == OP_BINGET ? 1 : 4;
            if ((st = need (pk, p, hl)))
              return st;
            if ((st = memo_get (pk, hl == 1 ? a[0] : dn_io_le32 (a))))
              return st;
            p += hl;
            break;
          }
        case OP_BINPUT:
        case OP_LONG_BINPUT:
          {
            size_t hl = op == OP_BINPUT ? 1 : 4;
            if ((st = need (pk, p, hl)))
              return st;
            if ((st = memo_put (pk, hl == 1 ? a[0] : dn_io_le32 (a), top (pk))))
              return st;
            p += hl;
            break;
          }
        case OP_MEMOIZE:
          if ((st = memo_put (pk, pk->memo_count, top (pk))))
            return st;
          break;
        default:
          return refuse_op (pk, op);
        }
    }
}
