-- (b) single-row UPDATE that matches exactly one workflow: flips the status
-- of a random deal between bench_a and bench_b; the workflows "flip 0"
-- (status changed_to bench_a) and "flip 1" (changed_to bench_b) take turns,
-- so every transaction is a real transition that enqueues one job and
-- records one firing.
\set id random(1, 100000)
UPDATE @TABLE@ SET status = CASE WHEN status = 'bench_a' THEN 'bench_b' ELSE 'bench_a' END,
	updated_at = now() WHERE id = :id;
