/*-------------------------------------------------------------------------
 *
 * formkey.h
 *	  Parser for multipart form field names ("conditions[0][value_array][]").
 *
 * Pure C99, no PostgreSQL dependency, no allocation.  Input is a byte range
 * (key, len) that need not be NUL-terminated; every pointer stored in a
 * segment points into that range.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FORMKEY_H
#define FORMKEY_H

#include <stddef.h>

#define FORMKEY_MAX_DEPTH	8	/* segments, the bare name included */
#define FORMKEY_MAX_NAME	63	/* bytes per name segment */
#define FORMKEY_MAX_INDEX	999

typedef enum
{
	FORMKEY_OK = 0,
	FORMKEY_EMPTY,				/* zero-length key */
	FORMKEY_BAD_NAME,			/* leading name not [A-Za-z_][A-Za-z0-9_]{0,62} */
	FORMKEY_UNBALANCED,			/* missing ']', stray ']', nested '[' */
	FORMKEY_INDEX_TOO_LARGE,	/* decimal index > FORMKEY_MAX_INDEX */
	FORMKEY_TOO_DEEP,			/* more than min(max_segs, MAX_DEPTH) segments */
	FORMKEY_BAD_SEGMENT			/* bad bracket content, or junk after ']' */
} FormKeyStatus;

typedef struct
{
	int			is_index;		/* "[12]": index holds 12 */
	int			is_append;		/* "[]": name_len is 0 */
	long		index;			/* -1 unless is_index */
	const char *name;			/* segment text inside the input (digits for
								 * an index, empty for append) */
	size_t		name_len;
} FormKeySegment;

/*
 * Parse key[0..len).  On FORMKEY_OK, segs[0..*nsegs) hold the segments (the
 * first is always the bare name).  On error, *nsegs is 0 and *error_offset is
 * the byte offset of the problem (always < len, 0 for FORMKEY_EMPTY).
 * segs may be NULL to validate only (depth limit FORMKEY_MAX_DEPTH); otherwise
 * it must have room for max_segs entries.  nsegs and error_offset may be NULL.
 */
extern FormKeyStatus formkey_parse(const char *key, size_t len,
								   FormKeySegment *segs, int max_segs,
								   int *nsegs, size_t *error_offset);

/* Lower-case English phrase for a status, e.g. "unbalanced brackets". */
extern const char *formkey_status_message(FormKeyStatus st);

#endif							/* FORMKEY_H */
