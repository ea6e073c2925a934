#!/usr/bin/env python3
"""A loopback TCP proxy in front of PostgreSQL's unix socket, for the fault
tests: it forwards bytes both ways until told to go silent, then keeps every
connection open and forwards nothing (a database host that stops answering
without closing anything), until told to resume.

    pg_proxy.py PORT UNIX_SOCKET_PATH
    SIGUSR1: go silent    SIGUSR2: resume
Prints "ready" once it listens.
"""
import asyncio
import signal
import sys

port, target = int(sys.argv[1]), sys.argv[2]
flowing = asyncio.Event()


async def pump(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            await flowing.wait()  # silent: hold the bytes, forward nothing
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        try:
            writer.close()
        except Exception:
            pass


async def handle(client_r, client_w):
    await flowing.wait()  # silent: a new connection is accepted and left hanging
    try:
        server_r, server_w = await asyncio.open_unix_connection(target)
    except OSError:
        client_w.close()  # the server is down: refuse like a closed port would
        return
    await asyncio.gather(pump(client_r, server_w), pump(server_r, client_w))


async def main():
    loop = asyncio.get_running_loop()
    flowing.set()
    loop.add_signal_handler(signal.SIGUSR1, flowing.clear)
    loop.add_signal_handler(signal.SIGUSR2, flowing.set)
    server = await asyncio.start_server(handle, "127.0.0.1", port)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


asyncio.run(main())
