"""A small Icecast source client in Python (standard library only), the
kind icedeck test is for: it PUTs an MP3 file to a mount at its bitrate
and, once accepted, sets the title through /admin/metadata.

Usage: python3 pysource.py URL FILE [TITLE]
URL is icecast://user:password@host:port/mount, as icedeck test gives it.
"""
import base64
import socket
import sys
import time
import urllib.parse
import urllib.request


def stream(url, path, title=None, bitrate=128000):
    u = urllib.parse.urlsplit(url)
    user, password = urllib.parse.unquote(u.username), urllib.parse.unquote(u.password)
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    with socket.create_connection((u.hostname, u.port)) as s:
        s.sendall((f"PUT {u.path} HTTP/1.1\r\nHost: {u.hostname}:{u.port}\r\n"
                   f"Authorization: Basic {auth}\r\nContent-Type: audio/mpeg\r\n"
                   "User-Agent: pysource/1.0\r\nIce-Name: Python test\r\n\r\n").encode())
        answer = b""
        while b"\r\n\r\n" not in answer:
            more = s.recv(4096)
            if not more:
                break
            answer += more
        if not answer.startswith((b"HTTP/1.0 200", b"HTTP/1.1 200")):
            raise RuntimeError(f"refused: {answer!r}")
        if title:
            base = f"http://{u.hostname}:{u.port}/admin/metadata?"
            query = urllib.parse.urlencode({"mount": u.path, "mode": "updinfo", "song": title})
            req = urllib.request.Request(base + query, headers={"Authorization": "Basic " + auth})
            urllib.request.urlopen(req, timeout=10).read()
        data = open(path, "rb").read()
        step = bitrate // 8 // 10  # a tenth of a second of audio
        start = time.monotonic()
        for i in range(0, len(data), step):
            s.sendall(data[i:i + step])
            # Paced like a live encoder: never ahead of the clock.
            ahead = start + (i + step) / (bitrate / 8) - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
        s.shutdown(socket.SHUT_WR)
        while s.recv(4096):  # the server closes once it has read everything
            pass


if __name__ == "__main__":
    stream(sys.argv[1], sys.argv[2], *sys.argv[3:4])
