-- (c) bulk UPDATE of 10,000 rows that matches nothing.  Client c works in
-- ids c*25000+1 .. c*25000+25000, so 4 clients never wait on each other.
\set s random(0, 15000)
UPDATE @TABLE@ SET value = value + 1, updated_at = now()
 WHERE id > :client_id * 25000 + :s AND id <= :client_id * 25000 + :s + 10000;
