#!/usr/bin/env python3
"""smtp_receiver.py: a minimal SMTP server for the worker's end-to-end tests.

Usage: smtp_receiver.py PORTFILE LOGFILE
Binds 127.0.0.1 on a free port (written to PORTFILE) and appends one JSON
line per accepted message to LOGFILE: {"mail_from", "rcpt_to", "data"}.
Speaks just enough SMTP (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT);
a recipient whose local part is "reject" gets 550.
"""
import asyncio
import json
import os
import sys

log = open(sys.argv[2], "a", buffering=1)


async def session(reader, writer):
    def send(line):
        writer.write((line + "\r\n").encode())

    mail_from, rcpt = None, []
    send("220 localhost test SMTP")
    await writer.drain()
    while True:
        raw = await reader.readline()
        if not raw:
            break
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        verb = line[:4].upper()
        if verb in ("EHLO", "HELO"):
            send("250-localhost" if verb == "EHLO" else "250 localhost")
            if verb == "EHLO":
                send("250 8BITMIME")
        elif verb == "MAIL":
            mail_from, rcpt = line[10:].strip(), []
            send("250 OK")
        elif verb == "RCPT":
            addr = line[8:].strip()
            if addr.strip("<>").split("@")[0] == "reject":
                send("550 no such user")
            else:
                rcpt.append(addr)
                send("250 OK")
        elif verb == "DATA":
            send("354 end with .")
            await writer.drain()
            lines = []
            while True:
                d = await reader.readline()
                if not d or d in (b".\r\n", b".\n"):
                    break
                if d.startswith(b".."):
                    d = d[1:]
                lines.append(d)
            data = b"".join(lines).decode("utf-8", "replace")
            log.write(json.dumps({"mail_from": mail_from, "rcpt_to": rcpt, "data": data}) + "\n")
            send("250 queued")
        elif verb == "QUIT":
            send("221 bye")
            await writer.drain()
            break
        elif verb in ("RSET", "NOOP"):
            mail_from, rcpt = None, []
            send("250 OK")
        else:
            send("502 not implemented")
        await writer.drain()
    writer.close()


async def main():
    server = await asyncio.start_server(session, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    with open(sys.argv[1] + ".tmp", "w") as f:
        f.write(str(port))
    os.rename(sys.argv[1] + ".tmp", sys.argv[1])
    async with server:
        await server.serve_forever()


asyncio.run(main())
