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

/*
 * Address fields (to, cc, bcc, reply_to of send_email).  A merge token is a
 * value, never syntax: mergetoken_render_mailboxes renders an address-list
 * template so that every token stays inside the one mailbox the template
 * puts it in, and writes each mailbox in a canonical form that a mailbox
 * parser reads back as exactly that one mailbox:
 *
 *	   addr                    no display name
 *	   "display name" <addr>   '"' and '\' escaped with '\', controls as spaces
 *
 * The structure (where mailboxes start and end, which part is the display
 * name and which the address) comes from the template's literal text only,
 * split like the worker splits a list: on commas outside double quotes.
 * Per mailbox of the template:
 *
 *	   {{t}}                   the value must be exactly one mailbox (a bare
 *	                           address, "<addr>", "Name <addr>" or
 *	                           "\"Quoted, Name\" <addr>") with no control
 *	                           character and no ',' ';' ':' '"' '\' '<' '>' in
 *	                           an unquoted name; empty (NULL) gives no mailbox
 *	   ... <...{{t}}...>       the rendered address must be one valid address
 *	                           (blanks around a value are dropped)
 *	   {{t}} <...>, "..{{t}}.." <...>
 *	                           the value is display-name text: controls become
 *	                           spaces, quotes and backslashes are escaped
 *	   ...{{t}}... (no '>')    the whole rendered text must be one address
 *	                           (blanks around a value are dropped)
 *
 * A valid address is local@domain: one '@' with text on both sides, at most
 * MERGETOKEN_MAX_ADDRESS octets of printable ASCII without space or any of
 * < > ( ) [ ] \ , ; : "  -- the same rule as the worker's.
 */
#define MERGETOKEN_MAX_ADDRESS	254	/* octets of an addr-spec */
#define MERGETOKEN_MAX_NAME		200 /* octets of a display name */
#define MERGETOKEN_ERROR_TEXT	100 /* octets of rendered text in an error */

typedef enum
{
	MB_OK = 0,
	MB_ERR_TEMPLATE,			/* merge token syntax, an unbalanced quote, a
								 * '>' without '<', a quote or bracket in an
								 * unquoted display name, a lone '\' */
	MB_ERR_NOT_ONE_MAILBOX,		/* a token standing for a mailbox rendered
								 * something else */
	MB_ERR_BAD_ADDRESS,			/* an address part rendered is not one valid
								 * address */
	MB_ERR_NAME_TOO_LONG		/* a display name over MERGETOKEN_MAX_NAME */
} MailboxStatus;

typedef struct
{
	MailboxStatus code;
	size_t		offset;			/* where the mailbox at fault starts */
	const char *token;			/* path of the token at fault (points into
								 * the template), or NULL */
	size_t		token_len;
	/* what was rendered (the token's value, or the address), cut to
	 * MERGETOKEN_ERROR_TEXT octets before a UTF-8 lead byte, controls as
	 * spaces, NUL-terminated */
	char		text[MERGETOKEN_ERROR_TEXT + 4];
} MailboxError;

/* A token's value (NUL-terminated, any bytes), or NULL to render empty. */
typedef const char *(*MergeValueFn) (void *arg, const char *path, size_t len);

/* Output: append n bytes. */
typedef void (*MergeAppendFn) (void *arg, const char *s, size_t n);

/*
 * Render the address-list template tmpl[0..len): the canonical mailboxes,
 * separated by ", ", go to append.  Returns how many (0 when every mailbox
 * rendered empty), or -1 with *err filled (output already appended is to be
 * discarded).  err may be NULL.
 */
extern int	mergetoken_render_mailboxes(const char *tmpl, size_t len,
										MergeValueFn value, MergeAppendFn append,
										void *arg, MailboxError *err);

/* Is s[0..len) one valid address (see above)? */
extern int	mergetoken_address_is_valid(const char *s, size_t len);

/* Lower-case English phrase for a status. */
extern const char *mergetoken_mailbox_message(MailboxStatus code);

#endif							/* MERGETOKEN_H */
