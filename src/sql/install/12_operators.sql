/*
 * 12_operators.sql: the checks of a condition that follow from its
 * operator's entry in the vocabulary (src/vocabulary.h, generated into
 * automation._operators() by 05_vocabulary.sql), shared by workflows
 * (30_workflows.sql) and rules (35_rules.sql).
 */

/*
 * _check_operator_field: field f fits the operator's field kind (the
 * vocabulary's "field": any, text, text_array, ordered); subject names the
 * operator and target the field in the error, as the caller spells them.
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
	END CASE;
	IF NOT ok THEN
		PERFORM automation._err('22023', format('%s does not fit %s', subject, target),
								format('column %s is %s', automation._show(f.column_name),
									   format_type(f.type_oid, f.typmod)),
								format('%s works on %s', op, works_on));
	END IF;
END
$$;
