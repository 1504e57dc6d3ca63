"""The asyncio HTTP server of blocking.py, fixed: the file read runs in a worker thread
(asyncio.to_thread), the hash in the loop's default executor (run_in_executor), and the
back-off is an asyncio.sleep, which lets the loop serve other clients meanwhile.

usage: python3 fixed.py [PORT]   (PORT 0 picks a free port; SIGTERM or ^C stops it)
"""
import asyncio
import hashlib
import signal
import sys
from concurrent.futures import ThreadPoolExecutor

MOTD = "/etc/os-release"
SALT = b"stallscope example salt"
ROUNDS = 600_000  # about 0.3 s of one CPU


def read_motd():
    with open(MOTD, "rb") as f:
        return f.read()


def hash_password(password):
    return hashlib.pbkdf2_hmac("sha256", password, SALT, ROUNDS).hex().encode() + b"\n"


async def backend_status():
    await asyncio.sleep(0.15)  # back off before asking the backend again
    return b"backend: up\n"


async def route(path):
    if path == "/motd":
        return await asyncio.to_thread(read_motd)
    if path == "/login":
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, hash_password, b"correct horse battery staple")
    if path == "/status":
        return await backend_status()
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
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    # The default executor would import its module on first use, reading files on the loop
    # thread: the import above does that at start-up instead.
    loop.set_default_executor(ThreadPoolExecutor(max_workers=4))
    server = await asyncio.start_server(handle, "127.0.0.1", port)
    print(f"listening on port {server.sockets[0].getsockname()[1]}", flush=True)
    await stop.wait()
    server.close()
    await server.wait_closed()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 8080))
