/*-------------------------------------------------------------------------
 *
 * mergetoken.h
 *	  Tokenizer for "{{ entity.path }}" merge tokens in action templates.
 *
 * Pure C99, no PostgreSQL dependency, no allocation.  Input is a byte range
 * (s, len) that need not be NUL-terminated; every pointer handed back points
 * into that range.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MERGETOKEN_H
#define MERGETOKEN_H

#include <stddef.h>

#define MERGETOKEN_MAX_PARTS	8	/* identifiers per path */
#define MERGETOKEN_MAX_IDENT	63	/* bytes per identifier */

typedef enum
{
	MT_OK = 0,
	MT_ERR_UNTERMINATED,		/* "{{" without "}}" */
	MT_ERR_EMPTY_TOKEN,			/* "{{ }}" */
	MT_ERR_BRACE_IN_TOKEN,		/* '{' or lone '}' between "{{" and "}}" */
	MT_ERR_BAD_CHAR,			/* path byte not allowed there */
	MT_ERR_EMPTY_NAME,			/* "a..b", ".a", "a." */
	MT_ERR_NAME_TOO_LONG,		/* identifier > MERGETOKEN_MAX_IDENT bytes */
	MT_ERR_TOO_DEEP				/* more than MERGETOKEN_MAX_PARTS parts */
} MergeTokenStatus;

typedef struct
{
	MergeTokenStatus code;
	size_t		offset;			/* byte offset in the input, <= len */
} MergeTokenError;

typedef enum
{
	MT_LITERAL,
	MT_TOKEN
} MergeSegmentKind;

typedef struct
{
	MergeSegmentKind kind;
	const char *text;			/* literal bytes, or the trimmed token path */
	size_t		len;
	size_t		offset;			/* where the segment starts in the input */
	size_t		span;			/* input bytes covered, braces included */
} MergeSegment;

typedef struct
{
	const char *s;
	size_t		len;
	size_t		pos;
	MergeTokenError err;		/* sticky once set */
} MergeIter;

typedef struct
{
	const char *name;
	size_t		len;
} MergePathPart;

/* Start iterating over s[0..len). */
extern void mergetoken_iter_init(MergeIter *it, const char *s, size_t len);

/*
 * Fetch the next segment: 1 = *seg filled, 0 = end of input, -1 = error
 * (*err filled; every later call returns -1 with the same error).  Segments
 * are contiguous: offsets + spans tile the input.  A literal never contains
 * "{{"; a literal may contain lone '{', '}' and "}}".  err may be NULL.
 */
extern int	mergetoken_next(MergeIter *it, MergeSegment *seg,
							MergeTokenError *err);

/*
 * Split "deal.custom.industry" into identifiers.  Returns MT_OK and fills
 * parts[0..*nparts), or an error code with *error_offset (<= len) relative
 * to path.  parts may be NULL to validate only; otherwise it must have room
 * for max_parts entries (clamped to MERGETOKEN_MAX_PARTS).  nparts and
 * error_offset may be NULL.
 */
extern MergeTokenStatus mergetoken_split_path(const char *path, size_t len,
											  MergePathPart *parts,
											  int max_parts, int *nparts,
											  size_t *error_offset);

/* Lower-case English phrase for a status, e.g. "unterminated merge token". */
extern const char *mergetoken_error_message(MergeTokenStatus code);

#endif							/* MERGETOKEN_H */
