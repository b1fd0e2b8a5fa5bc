"""A TCP proxy that adds network latency, for benchmarks: PostgreSQL or Redis "on another host".

    python deploy/bench/latency_proxy.py LISTEN_PORT TARGET_HOST:TARGET_PORT RTT_MS

Each byte is delivered half the round-trip time late in each direction, in order. Loopback
only; not for anything but a benchmark.
"""

from __future__ import annotations

import asyncio
import sys
import time


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def deliver() -> None:
        while True:
            due, data = await queue.get()
            if not data:
                break
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            writer.write(data)
            await writer.drain()
        writer.close()

    delivering = asyncio.create_task(deliver())
    try:
        while data := await reader.read(65536):
            queue.put_nowait((time.monotonic() + delay, data))
    except ConnectionError:
        pass
    queue.put_nowait((0.0, b""))
    await delivering


async def main(port: int, target: str, rtt_ms: float) -> None:
    host, target_port = target.rsplit(":", 1)
    delay = rtt_ms / 2000

    async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection(host, int(target_port))
        await asyncio.gather(
            pipe(client_r, server_w, delay), pipe(server_r, client_w, delay), return_exceptions=True
        )

    server = await asyncio.start_server(handle, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), sys.argv[2], float(sys.argv[3])))
