#!/usr/bin/env python3
# fetch_httpd.py - the CA's web server for test_fetch.sh: files from a directory, and the ways a server goes wrong.
#
#   fetch_httpd.py ADDR PORT DIR
#
#   /NAME                  DIR/NAME (Last-Modified; If-Modified-Since answered with 304)
#   /trunc/NAME            Content-Length of DIR/NAME, half of it sent, then the connection closed
#   /big-len               Content-Length of 200 MB, then zeros until the client goes away
#   /big-chunked           no Content-Length (ends at close): a DER SEQUENCE header claiming
#                          200 MB, then zeros, 200 MB in all if the client stays
#   /slow                  nothing for 60 s
#   /redirect/N/NAME       302 to /redirect/N-1/NAME, and /redirect/0/NAME to /NAME
#   /redirect-ftp          302 to an ftp:// URL
#   /redirect-host/H/NAME  302 to http://H:PORT/NAME
import http.server
import os
import sys
import time

BIG = 200 * 1024 * 1024
CHUNK = b"\0" * 65536


class Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, fmt, *args):
        sys.stderr.write("fetch_httpd: %s\n" % (fmt % args))

    def stream_zeros(self, n):
        try:
            while n > 0:
                k = min(n, len(CHUNK))
                self.wfile.write(CHUNK[:k])
                n -= k
        except (BrokenPipeError, ConnectionResetError):
            pass

    def redirect(self, loc):
        self.send_response(302)
        self.send_header("Location", loc)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):
        p = self.path
        if p.startswith("/trunc/"):
            with open(os.path.join(self.directory, p[len("/trunc/"):]), "rb") as f:
                body = f.read()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        if p == "/big-len":
            self.send_response(200)
            self.send_header("Content-Length", str(BIG))
            self.end_headers()
            self.stream_zeros(BIG)
            return
        if p == "/big-chunked":
            self.send_response(200)
            self.end_headers()
            self.close_connection = True
            head = b"\x30\x84" + (BIG - 6).to_bytes(4, "big")
            try:
                self.wfile.write(head)
            except (BrokenPipeError, ConnectionResetError):
                return
            self.stream_zeros(BIG - len(head))
            return
        if p == "/slow":
            time.sleep(60)
            return
        if p.startswith("/redirect/"):
            n, name = p[len("/redirect/"):].split("/", 1)
            n = int(n)
            self.redirect("/redirect/%d/%s" % (n - 1, name) if n > 0 else "/" + name)
            return
        if p == "/redirect-ftp":
            self.redirect("ftp://%s/inter.crl" % self.server.server_address[0])
            return
        if p.startswith("/redirect-host/"):
            host, name = p[len("/redirect-host/"):].split("/", 1)
            self.redirect("http://%s:%d/%s" % (host, self.server.server_address[1], name))
            return
        super().do_GET()

    def do_POST(self):
        self.send_error(405)


def main():
    addr, port, root = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    handler = lambda *a, **k: Handler(*a, directory=root, **k)
    srv = http.server.ThreadingHTTPServer((addr, port), handler)
    srv.daemon_threads = True
    srv.serve_forever()


if __name__ == "__main__":
    main()
