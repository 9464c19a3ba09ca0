# SPDX-License-Identifier: GPL-3.0-or-later
"""A loopback HTTP server for test-download: it serves generated files and misbehaves on
request, the way real servers and networks do.

Usage: http_server.py LOG_PATH

Binds 127.0.0.1 on a free port, prints the port on stdout and serves until killed or
until its stdin closes (so that a test that crashes does not leave it behind). Every
request is appended to LOG_PATH as one line "METHOD PATH RANGE" (RANGE is "-" when the
request had no Range header), before the answer is sent.

Content: /files/NAME?size=N is N bytes (default 2 MiB + 12345) of block k = SHA-256 of
"graft-test-" + k as decimal, concatenated and cut to N; the test makes the same bytes.

Query options of /files/...:
  drop=N      send the body up to file offset N, then close the connection
  norange=1   ignore Range and always answer 200 with the whole file
  corrupt=1   flip the bits of one byte in the middle of the file
  slow=1      send 16 KiB every 20 ms
/resolve/NAME?...  answers 302 to /files/NAME?... (the same query) with X-Linked-ETag and
  X-Linked-Size of that file, and an ETag that is a git blob id, as Hugging Face does;
  linked=wrong gives a wrong X-Linked-ETag, linked=none leaves it out.
Anything else is 404.
"""

import hashlib
import http.server
import os
import socket
import sys
import threading
import time
import urllib.parse

DEFAULT_SIZE = 2 * 1024 * 1024 + 12345
_cache = {}
_cache_lock = threading.Lock()


def content(size):
    with _cache_lock:
        data = _cache.get(size)
        if data is None:
            blocks = (size + 31) // 32
            data = b"".join(hashlib.sha256(b"graft-test-%d" % k).digest()
                            for k in range(blocks))[:size]
            _cache[size] = data
        return data


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "graft-test"

    def log_message(self, format, *args):
        pass

    def _log(self):
        rng = self.headers.get("Range") or "-"
        with self.server.log_lock:
            with open(self.server.log_path, "a") as f:
                f.write("%s %s %s\n" % (self.command, self.path, rng))

    def do_HEAD(self):
        self._handle(send_body=False)

    def do_GET(self):
        self._handle(send_body=True)

    def _handle(self, send_body):
        self._log()
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        size = int(query.get("size", DEFAULT_SIZE))

        if url.path.startswith("/resolve/"):
            name = url.path[len("/resolve/"):]
            data = content(size)
            linked = query.get("linked", "right")
            self.send_response(302)
            location = "/files/" + name + ("?" + url.query if url.query else "")
            self.send_header("Location", location)
            # A git blob id: 40 hex digits, and no SHA-256 of the file.
            self.send_header("ETag", '"%s"' % hashlib.sha1(b"blob").hexdigest())
            if linked == "right":
                self.send_header("X-Linked-ETag", '"%s"' % hashlib.sha256(data).hexdigest())
            elif linked == "wrong":
                self.send_header("X-Linked-ETag", 'W/"%s"' % ("0" * 64))
            self.send_header("X-Linked-Size", str(size))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return

        if not url.path.startswith("/files/"):
            self.send_error(404)
            return

        data = content(size)
        if query.get("corrupt") == "1":
            middle = size // 2
            data = data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1:]

        start = 0
        rng = self.headers.get("Range")
        if rng and query.get("norange") != "1":
            unit, _, spec = rng.partition("=")
            first, _, last = spec.partition("-")
            if unit.strip() != "bytes" or not first.isdigit():
                self.send_error(400)
                return
            start = int(first)
            if start >= size:
                self.send_response(416)
                self.send_header("Content-Range", "bytes */%d" % size)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            end = min(int(last), size - 1) if last.isdigit() else size - 1
            self.send_response(206)
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, end, size))
            body = data[start:end + 1]
        else:
            self.send_response(200)
            body = data
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not send_body:
            return

        drop = int(query["drop"]) if "drop" in query else None
        if drop is not None and start < drop:
            self.wfile.write(body[:drop - start])
            self.wfile.flush()
            # Gone mid-file, the way a dropped connection looks to the client.
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return

        if query.get("slow") == "1":
            chunk = 16 * 1024
            try:
                for i in range(0, len(body), chunk):
                    self.wfile.write(body[i:i + chunk])
                    self.wfile.flush()
                    time.sleep(0.02)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True
            return

        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, log_path):
        super().__init__(("127.0.0.1", 0), Handler)
        self.log_path = log_path
        self.log_lock = threading.Lock()


def exit_when_stdin_closes():
    sys.stdin.buffer.read()
    os._exit(0)


def main():
    server = Server(sys.argv[1])
    threading.Thread(target=exit_when_stdin_closes, daemon=True).start()
    content(DEFAULT_SIZE)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
