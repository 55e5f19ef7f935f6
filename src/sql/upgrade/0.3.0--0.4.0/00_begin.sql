-- Upgrade from 0.3.0 to 0.4.0: the rules language on one engine (condition
-- groups, fire_when, relative dates, backtest, enrollment) and the HTTP
-- API's keys and rate limits.  Each change is one fragment of this
-- directory, in name order; every change is also in src/sql/install/.
\echo Use "ALTER EXTENSION automation UPDATE TO '0.4.0'" to load this file. \quit
