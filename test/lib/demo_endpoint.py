"""A tiny local HTTP endpoint for the demo: prints every request it receives.

Usage: demo_endpoint.py PORTFILE LOGFILE
Binds 127.0.0.1 on a free port, writes the port to PORTFILE, appends one
line per request (method, path, body) to LOGFILE, answers 200.
"""
import http.server
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with open(sys.argv[2], "a") as log:
            log.write(f"{self.command} {self.path} {body.decode('utf-8', 'replace')}\n")
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    do_PUT = do_PATCH = do_POST

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(sys.argv[1], "w") as f:
    f.write(str(server.server_address[1]))
server.serve_forever()
