"""An asyncio HTTP server with three problems planted in its handlers, each of which stops
every other client while it runs: /motd reads a file, /login hashes a password with
hashlib.pbkdf2_hmac, and /status sleeps with time.sleep before it asks a backend again.
fixed.py is the same server with the three fixed; diff the two.

usage: python3 blocking.py [PORT]   (PORT 0 picks a free port; SIGTERM or ^C stops it)
"""
import asyncio
import hashlib
import signal
import sys
import time

MOTD = "/etc/os-release"
SALT = b"stallscope example salt"
ROUNDS = 600_000  # about 0.3 s of one CPU


def read_motd():
    with open(MOTD, "rb") as f:
        return f.read()


def hash_password(password):
    return hashlib.pbkdf2_hmac("sha256", password, SALT, ROUNDS).hex().encode() + b"\n"


def backend_status():
    time.sleep(0.15)  # back off before asking the backend again
    return b"backend: up\n"


async def route(path):
    if path == "/motd":
        return read_motd()
    if path == "/login":
        return hash_password(b"correct horse battery staple")
    if path == "/status":
        return backend_status()
    return b"try /motd, /login or /status\n"


async def handle(reader, writer):
    try:
        request = await reader.readuntil(b"\r\n\r\n")
        path = request.split(b" ", 2)[1].decode("ascii", "replace")
        body = await route(path)
        writer.write(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n" + body)
        await writer.drain()
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, IndexError):
        pass
    finally:
        writer.close()


async def main(port):
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    server = await asyncio.start_server(handle, "127.0.0.1", port)
    print(f"listening on port {server.sockets[0].getsockname()[1]}", flush=True)
    await stop.wait()
    server.close()
    await server.wait_closed()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 8080))
