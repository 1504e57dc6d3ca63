"""The smallest asyncio HTTP/1.1 server with keep-alive, for load tests.

    python3 asyncio_http.py PORT

A protocol rather than streams, and no HTTP parsing beyond finding the end of each request's
header: the loop itself, not the application, should dominate what a request costs.
"""
import asyncio
import sys

RESPONSE = (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
            b"Content-Length: 12\r\n\r\nhello world\n")


class Hello(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
        self.pending = b""

    def data_received(self, data):
        self.pending += data
        # Pipelined requests each get an answer; a partial one waits for the rest.
        complete = self.pending.count(b"\r\n\r\n")
        if complete:
            self.pending = self.pending[self.pending.rfind(b"\r\n\r\n") + 4:]
            self.transport.write(RESPONSE * complete)


async def main(port):
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Hello, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
