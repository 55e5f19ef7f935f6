# test/lib/cluster.sh: start and stop a throwaway PostgreSQL 15 cluster.
#
# Sourced by the test and demo scripts.  The cluster runs as the postgres
# user (PostgreSQL refuses root) in a temp directory on a free port, with
# automation preloaded, and is stopped on exit, success or failure.
# Exports PGHOST, PGPORT, PGUSER, PGDATABASE for the caller.

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}

as_postgres() {
	if [ "$(id -un)" = postgres ]; then
		"$@"
	elif [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		sudo -u postgres -- "$@"
	fi
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# cluster_start [extra postgresql.conf lines...]
cluster_start() {
	CLUSTER_DIR=$(mktemp -d /tmp/automation-pg.XXXXXX)
	chmod 755 "$CLUSTER_DIR"
	chown postgres: "$CLUSTER_DIR" 2>/dev/null || sudo chown postgres: "$CLUSTER_DIR"
	PGPORT=$(free_port)
	as_postgres "$PGBIN/initdb" -D "$CLUSTER_DIR/data" -U postgres -A trust --no-sync >"$CLUSTER_DIR/initdb.log" 2>&1 ||
		{ cat "$CLUSTER_DIR/initdb.log"; return 1; }
	{
		echo "port = $PGPORT"
		echo "listen_addresses = '127.0.0.1'"
		echo "unix_socket_directories = '$CLUSTER_DIR'"
		echo "shared_preload_libraries = 'automation'"
		echo "fsync = off"
		echo "max_connections = 60"
		echo "max_prepared_transactions = 10"
		echo "log_min_messages = warning"
		echo "log_line_prefix = '%m [%p] '"
		for line in "$@"; do echo "$line"; done
	} | as_postgres tee -a "$CLUSTER_DIR/data/postgresql.conf" >/dev/null
	trap cluster_stop EXIT
	as_postgres "$PGBIN/pg_ctl" -D "$CLUSTER_DIR/data" -l "$CLUSTER_DIR/server.log" -w -t 60 start >/dev/null ||
		{ cat "$CLUSTER_DIR/server.log"; return 1; }
	export PGHOST=$CLUSTER_DIR PGPORT PGUSER=postgres PGDATABASE=postgres
	export CLUSTER_DIR
}

cluster_restart() {
	as_postgres "$PGBIN/pg_ctl" -D "$CLUSTER_DIR/data" -l "$CLUSTER_DIR/server.log" -w -t 60 -m fast restart >/dev/null
}

cluster_stop() {
	if [ -n "${CLUSTER_DIR:-}" ] && [ -d "$CLUSTER_DIR/data" ]; then
		as_postgres "$PGBIN/pg_ctl" -D "$CLUSTER_DIR/data" -w -t 60 -m immediate stop >/dev/null 2>&1 || true
		if [ "${KEEP_CLUSTER_LOG:-}" = 1 ]; then
			echo "server log kept in $CLUSTER_DIR/server.log"
		else
			rm -rf "$CLUSTER_DIR"
		fi
	fi
}
