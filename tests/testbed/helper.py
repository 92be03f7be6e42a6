#!/usr/bin/env python3
"""The test bed's reset helper: started as root by `testbed.sh up`, it lets the developer who brought the
test bed up with sudo reset it (and pick a release) without root. It listens on a Unix socket only that
developer (and root) may open, takes one request a connection, "reset" or "release NAME", runs testbed.sh
with it as root, and answers with the output followed by the exit code on the last line.

    helper.py SOCKET TESTBED_SH OWNER_UID
"""
import os
import re
import socket
import subprocess
import sys

REQUEST = re.compile(r"^(reset|release [a-z]+)$")


def main():
    path, testbed, owner = sys.argv[1], sys.argv[2], int(sys.argv[3])
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    server.bind(path)
    os.umask(old)
    os.chown(path, owner, -1)
    server.listen(4)
    while True:
        conn, _ = server.accept()
        with conn:
            request = conn.makefile("r").readline().strip()
            if not REQUEST.match(request):
                conn.sendall(f"the helper runs `reset` or `release NAME`, not {request!r}\n2\n".encode())
                continue
            done = subprocess.run([testbed, *request.split()], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            conn.sendall(done.stdout + f"{done.returncode}\n".encode())


if __name__ == "__main__":
    main()
