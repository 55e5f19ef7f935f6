# test/lib/deps.sh: install what building and testing automation needs.
#
# Debian 12 packages only.  Runs apt-get as root (or through sudo); skips it
# when everything is already installed.

AUTOMATION_PACKAGES="postgresql-15 postgresql-server-dev-15 postgresql-contrib
	libjansson-dev libcurl4-openssl-dev libssl-dev libpq-dev pkg-config python3-psycopg2
	libmicrohttpd-dev curl jq
	gcc make clang libclang-rt-14-dev python3
	ca-certificates util-linux libfaketime"

# test/e2e/api_openapi.sh: curl, JSON Schema validation of responses, and npm
# for the OpenAPI linter (@redocly/cli, installed by test/lib/redocly.sh).  A
# Node.js installed from elsewhere brings its own npm, which Debian's npm
# package would conflict with: then it is used as it is.
AUTOMATION_PACKAGES="$AUTOMATION_PACKAGES curl python3-jsonschema"
command -v npm >/dev/null 2>&1 || AUTOMATION_PACKAGES="$AUTOMATION_PACKAGES nodejs npm"

# install_deps [EXTRA_PACKAGE...]: the packages above, and those given
install_deps() {
	local missing=()
	for p in $AUTOMATION_PACKAGES "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	local SUDO=
	[ "$(id -u)" = 0 ] || SUDO=sudo
	echo "installing: ${missing[*]}"
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	# Debian starts a default cluster on install; the tests use their own.
	$SUDO systemctl disable --now postgresql >/dev/null 2>&1 || true
}

build_and_install() {
	local SUDO=
	[ "$(id -u)" = 0 ] || SUDO=sudo
	make -s ${WERROR:+WERROR=1} PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
	$SUDO make -s install PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config >/dev/null
}
