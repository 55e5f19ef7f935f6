-- 95_redteam: fixes of the 0.4.0 red-team pass (doc/redteam-0.4.0.md).

-- R2: a clock operator's interval has no negative part (same function as in
-- src/sql/install/12_operators.sql).
CREATE OR REPLACE FUNCTION automation._check_interval(v text, field text)
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
