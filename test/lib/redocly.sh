# test/lib/redocly.sh: the OpenAPI linter, @redocly/cli from npm.
#
# Sourced by test/e2e/api_openapi.sh.  npm (Debian's nodejs and npm, from
# test/lib/deps.sh) installs one pinned version once into a cache directory
# outside the repository; later runs reuse it.  1.34.x is the newest line
# that runs on Debian 12's Node.js 18 (2.x needs Node.js 20.19 or 22).
#
#   REDOCLY_VERSION   the version to use (default below)
#   AUTOMATION_TOOLS  the cache directory (default /tmp/automation-tools)

REDOCLY_VERSION=${REDOCLY_VERSION:-1.34.20}
AUTOMATION_TOOLS=${AUTOMATION_TOOLS:-/tmp/automation-tools}
# no usage data sent, no update banner in the test output
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true

# redocly_bin: installs @redocly/cli if missing; prints the path of its command.
redocly_bin() {
	local dir=$AUTOMATION_TOOLS/redocly-$REDOCLY_VERSION
	local bin=$dir/node_modules/.bin/redocly
	if [ ! -x "$bin" ]; then
		command -v npm >/dev/null || { echo "npm is not installed (test/lib/deps.sh installs nodejs and npm)" >&2; return 1; }
		mkdir -p "$dir" || return 1
		echo "installing @redocly/cli@$REDOCLY_VERSION into $dir" >&2
		# a private npm cache: root's ~/.npm may belong to another user
		npm install --prefix "$dir" --cache "$dir/.npm-cache" --no-audit --no-fund \
			--loglevel=error "@redocly/cli@$REDOCLY_VERSION" >&2 || return 1
	fi
	echo "$bin"
}
