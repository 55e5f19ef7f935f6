/*
 * 12_operators.sql: the checks of a condition that follow from its
 * operator's entry in the vocabulary (src/vocabulary.h, generated into
 * automation._operators() by 05_vocabulary.sql), shared by workflows
 * (30_workflows.sql) and rules (35_rules.sql).
 */

/*
 * _check_operator_field: field f fits the operator's field kind (the
 * vocabulary's "field": any, text, text_array, ordered, date); subject
 * names the operator and target the field in the error, as the caller
 * spells them.
 * A kind this function does not know raises CASE_NOT_FOUND: a new kind in
 * the vocabulary cannot pass unchecked.
 */
CREATE FUNCTION automation._check_operator_field(fits text, op text, f automation._field,
												 subject text, target text)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	js boolean := automation._is_json_field(f);
	ok boolean;
	works_on text;
BEGIN
	CASE fits
		WHEN 'any' THEN
			ok := true;
		WHEN 'text' THEN
			ok := js OR f.category = 'S';
			works_on := 'text fields';
		WHEN 'text_array' THEN
			ok := js OR f.category IN ('S', 'A');
			works_on := 'text and array fields';
		WHEN 'ordered' THEN
			ok := js OR f.category IN ('N', 'D');
			works_on := 'numbers and date/times';
		WHEN 'date' THEN
			ok := NOT js AND f.base_type IN ('date'::regtype, 'timestamp'::regtype, 'timestamptz'::regtype);
			works_on := 'date, timestamp and timestamptz columns';
	END CASE;
	IF NOT ok THEN
		PERFORM automation._err('22023', format('%s does not fit %s', subject, target),
								format('column %s is %s', automation._show(f.column_name),
									   format_type(f.type_oid, f.typmod)),
								format('%s works on %s', op, works_on));
	END IF;
END
$$;

/*
 * _check_interval: the value of a clock operator (within_last, within_next,
 * older_than): a PostgreSQL interval ("3 days", "90 minutes"), a bare whole
 * number meaning days (a rule's value_int), from 0 to 1000 years; field
 * names the value in errors.  The engine parses it the same way
 * (compile_interval in src/cache.c).
 */
CREATE FUNCTION automation._check_interval(v text, field text)
RETURNS interval
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	iv interval;
BEGIN
	IF v IS NULL OR length(v) > 100 THEN
		PERFORM automation._err('22023', format('%s must be an interval of at most 100 characters', field),
								format('got %s', automation._show(v)),
								'write an interval such as "3 days" or "90 minutes"');
	END IF;
	BEGIN
		iv := CASE WHEN v ~ '^ *[0-9]+ *$' THEN (btrim(v) || ' days')::interval ELSE v::interval END;
	EXCEPTION WHEN data_exception THEN
		PERFORM automation._err('22023', format('%s %s is not an interval', field, automation._show(v)),
								SQLERRM,
								'write an interval such as "3 days" or "90 minutes" (a bare whole number means days)');
	END;
	/* every part (months, days, time), not only the sum: a negative part
	   lets another overflow now() +- iv in the trigger (redteam-0.4.0 R2) */
	IF iv < interval '0' OR date_trunc('month', iv) < interval '0'
	   OR date_trunc('day', iv) - date_trunc('month', iv) < interval '0'
	   OR iv - date_trunc('day', iv) < interval '0' THEN
		PERFORM automation._err('22023', format('%s must not be negative', field),
								format('got %s', automation._show(v)),
								'give the length of the window: the operator says whether it looks back or ahead');
	END IF;
	IF iv > interval '1000 years' THEN
		PERFORM automation._err('22023', format('%s must be at most 1000 years', field),
								format('got %s', automation._show(v)));
	END IF;
	RETURN iv;
END
$$;
