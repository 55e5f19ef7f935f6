/*
 * 65_backtest.sql: backtest and enrollment (SPEC section 12).
 *
 *   automation.backtest(definition jsonb, sample int DEFAULT 10) -> jsonb
 *   automation.backtest(id text, sample int DEFAULT 10) -> jsonb
 *
 * The C side is src/backtest.c: the definition compiled as the trigger
 * compiles it, evaluated over the table's rows as the caller, read-only; a
 * body is created in a subtransaction that is rolled back (validated exactly
 * as create_workflow / create_rule validate it).  Enrollment
 * ("enroll_existing": true in the bodies of create_workflow, create_rule,
 * update_workflow, update_rule, enable_workflow's body; its enroll_existing
 * argument) fires every row backtest counts as matched through the
 * trigger's firing, operation ENROLL, in the same transaction.
 */

/* _backtest: the C backtest; definition (a body) or id, sample 0..1000. */
CREATE FUNCTION automation._backtest(definition jsonb, id text, sample integer)
RETURNS jsonb
	LANGUAGE c CALLED ON NULL INPUT AS 'MODULE_PATHNAME', 'automation_backtest';

/*
 * _enroll: fire a workflow or rule this transaction has just created,
 * updated or enabled for every row backtest counts as matched.
 */
CREATE FUNCTION automation._enroll(kind text, id text)
RETURNS jsonb
	LANGUAGE c CALLED ON NULL INPUT AS 'MODULE_PATHNAME', 'automation_enroll';

/*
 * _enroll_requested: the "enroll_existing" key of a body or patch: true,
 * false (absent) or 22023.  The key is never stored.
 */
CREATE FUNCTION automation._enroll_requested(body jsonb)
RETURNS boolean
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT coalesce(automation._json_bool(body, 'enroll_existing', 'enroll_existing'), false)
$$;

/* backtest(definition): a create_workflow or create_rule body; nothing is created. */
CREATE FUNCTION automation.backtest(definition jsonb, sample integer DEFAULT 10)
RETURNS jsonb
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT automation._backtest(definition, NULL, sample)
$$;

/*
 * backtest(id): an existing workflow (wf_...) or rule (uuid).  A text that
 * is a JSON object is a body (an untyped literal resolves to this form).
 */
CREATE FUNCTION automation.backtest(id text, sample integer DEFAULT 10)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	body jsonb;
BEGIN
	IF ltrim(id) LIKE '{%' THEN
		BEGIN
			body := id::jsonb;
		EXCEPTION WHEN invalid_text_representation THEN
			PERFORM automation._err('22023', 'definition is not valid JSON',
									format('got %s', automation._show(id)),
									'pass a create_workflow or create_rule body, or the id of a workflow or rule');
		END;
		RETURN automation._backtest(body, NULL, sample);
	END IF;
	RETURN automation._backtest(NULL, id, sample);
END
$$;
