/* dn-pickle.h: a safe, allow-listed Python pickle virtual machine (protocols 0-5 framing, binary opcodes).
 *
 * Owns the values a pickle builds (an arena freed all at once by dn_pickle_free) and nothing else. It
 * never imports or executes anything: GLOBAL/STACK_GLOBAL are resolved by the caller's find_global hook,
 * which allows or refuses each module.name; REDUCE on an allowed global and BINPERSID go to the caller's
 * call and persistent_load hooks, which build plain values. Opcodes outside the set a PyTorch state dict
 * needs (INST, OBJ, NEWOBJ, EXT*, sets, out-of-band buffers, the text forms of ints/floats/strings) are
 * refused. Every read is bounds-checked; the stack, the mark stack, the memo, string lengths and the
 * arena are capped (DnPickleLimits), so hostile bytes yield DN_ERROR_FORMAT, never a crash or a hang.
 * SPDX-License-Identifier: MIT
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dn-status.h"

typedef enum
{
  DN_PK_NONE,
  DN_PK_BOOL,
  DN_PK_INT,    /* fits int64 */
  DN_PK_BIGINT, /* LONG1/LONG4 wider than int64: u.s holds the little-endian two's complement bytes */
  DN_PK_FLOAT,
  DN_PK_STR,    /* u.s, NUL-terminated copy (may contain inner NULs; use len) */
  DN_PK_BYTES,  /* u.s */
  DN_PK_TUPLE,  /* u.seq */
  DN_PK_LIST,   /* u.seq */
  DN_PK_DICT,   /* u.seq holds k0, v0, k1, v1, ... in insertion order (duplicates kept); u.seq.state is
                 * what BUILD set (e.g. an OrderedDict's {'_metadata': ...}), or NULL */
  DN_PK_GLOBAL, /* an allowed global: u.global */
  DN_PK_OBJECT, /* made by a hook: u.obj */
} DnPkType;

typedef struct DnPkValue DnPkValue;
struct DnPkValue
{
  DnPkType type;
  union
  {
    bool b;
    int64_t i;
    double f;
    struct
    {
      const char *ptr;
      size_t len;
    } s;
    struct
    {
      DnPkValue **items;
      size_t n, cap;
      DnPkValue *state;
    } seq;
    struct
    {
      int id;             /* what find_global returned */
      const char *module; /* NUL-terminated */
      const char *name;
    } global;
    struct
    {
      int kind;           /* the hook's tag */
      void *ptr;          /* the hook's data (owned by the hook, or allocated with dn_pickle_alloc) */
    } obj;
  } u;
};

typedef struct DnPickle DnPickle;

typedef struct
{
  /* Resolves module.name (GLOBAL/STACK_GLOBAL) to an id >= 0, or returns -1 to refuse it. */
  int (*find_global) (void *user, const char *module, const char *name);
  /* REDUCE: @callable (a DN_PK_GLOBAL) applied to @args (a DN_PK_TUPLE). Sets *result or returns an
   * error (with dn_set_error). NULL refuses every REDUCE. */
  DnStatus (*call) (void *user, DnPickle *pk, const DnPkValue *callable, const DnPkValue *args,
                    DnPkValue **result);
  /* BINPERSID: resolves the persistent id @pid. NULL refuses persistent ids. */
  DnStatus (*persistent_load) (void *user, DnPickle *pk, const DnPkValue *pid, DnPkValue **result);
  void *user;
} DnPickleHooks;

typedef struct
{
  size_t max_stack;       /* values on the stack (default 1 << 20) */
  size_t max_marks;       /* nesting of MARK (default 4096) */
  size_t max_memo;        /* highest memo index (default 1 << 24) */
  size_t max_arena_bytes; /* memory for all values of a DnPickle (default 1 GiB) */
} DnPickleLimits;

/**
 * dn_pickle_new:
 * @name: the file (or file + entry) named in error messages
 * @hooks: (nullable): how globals, REDUCE and persistent ids are handled; NULL refuses all three
 * @limits: (nullable): NULL for the defaults
 *
 * Returns: (transfer full) (nullable): a VM, or NULL when out of memory (error set).
 */
DnPickle *dn_pickle_new (const char *name, const DnPickleHooks *hooks, const DnPickleLimits *limits);
/* Frees the VM and every value it (or a hook through dn_pickle_alloc) made. NULL is a no-op. */
void dn_pickle_free (DnPickle *pk);

/**
 * dn_pickle_load:
 * @pk: the VM
 * @data: the bytes
 * @size: their number
 * @pos: (inout): where the pickle starts; on success, just past its STOP opcode
 * @out: (out) (transfer none): the unpickled value (lives until dn_pickle_free)
 *
 * Runs one pickle (several may follow each other, as in PyTorch's legacy format). The memo is fresh for
 * each call; values from earlier calls stay valid.
 *
 * Returns: DN_OK, DN_ERROR_FORMAT ("<name>: pickle byte N: ..."), DN_ERROR_NO_MEMORY, or a hook's error.
 */
DnStatus dn_pickle_load (DnPickle *pk, const uint8_t *data, size_t size, size_t *pos, DnPkValue **out);

/* Arena allocation for hooks (zeroed, 16-byte aligned); NULL with an error set when over the limit. */
void *dn_pickle_alloc (DnPickle *pk, size_t bytes);
/* Why the last dn_pickle_alloc()/dn_pickle_value() returned NULL: DN_ERROR_NO_MEMORY, or DN_ERROR_FORMAT
 * when the arena limit was reached. */
DnStatus dn_pickle_alloc_status (const DnPickle *pk);
/* A new value of @type (zeroed payload), or NULL with an error set. */
DnPkValue *dn_pickle_value (DnPickle *pk, DnPkType type);
/* The name given to dn_pickle_new. */
const char *dn_pickle_name (const DnPickle *pk);

/* Looks up string key @key in a DN_PK_DICT (the last value set wins, as in Python); NULL if absent. */
const DnPkValue *dn_pk_dict_get (const DnPkValue *dict, const char *key);
/* True when @v is a DN_PK_STR equal to @s. */
bool dn_pk_str_eq (const DnPkValue *v, const char *s);
/* A short type name for messages ("tuple", "dict", ...). */
const char *dn_pk_type_name (const DnPkValue *v);
