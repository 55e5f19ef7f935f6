-- (a) single-row UPDATE that matches nothing: bumps value and updated_at of
-- a random deal.  engine.sh replaces @TABLE@ by bench.deals / bench.deals_twin.
\set id random(1, 100000)
UPDATE @TABLE@ SET value = value + 1, updated_at = now() WHERE id = :id;
