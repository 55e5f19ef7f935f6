-- automation--0.2.0--0.3.0.sql: ALTER EXTENSION automation UPDATE from 0.2.0

\echo Use "ALTER EXTENSION automation UPDATE TO '0.3.0'" to load this file. \quit

/*
 * 0.3.0: privilege boundaries (doc/security.md).  Nothing that runs with the
 * extension owner's rights resolves a name through the caller's search_path
 * or runs the caller's code; internal functions check their caller; jobs
 * carry nothing a worker can forge; tenant boundaries hold for breakers,
 * explain, notifications, alerts and idempotency keys.
 */
