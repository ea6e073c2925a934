#!/usr/bin/env python3
"""A loopback TCP proxy in front of PostgreSQL's unix socket, for the fault
tests. It forwards bytes both ways until told otherwise:

    pg_proxy.py PORT UNIX_SOCKET_PATH      (prints "ready" once it listens)

    SIGUSR1   go silent: keep every connection open, forward nothing (a
              database host that stops answering without closing anything)
    SIGUSR2   resume
    SIGHUP    the next COMMIT reaches the server, its answer never comes
              back: the connection is cut once the server answers
    SIGWINCH  the next COMMIT never reaches the server: the connection is
              cut instead of forwarding it
(a COMMIT: the bytes "COMMIT\\0" of a query message)
"""
import asyncio
import signal
import sys

port, target = int(sys.argv[1]), sys.argv[2]
flowing = asyncio.Event()
armed = {"lose_answer": False, "lose_commit": False}


class Conn:
    def __init__(self, client_w):
        self.client_w = client_w
        self.server_w = None
        self.doomed = False  # its next answer is to be lost

    def cut(self):
        for w in (self.client_w, self.server_w):
            try:
                if w:
                    w.close()
            except Exception:
                pass


async def pump(conn, reader, writer, upstream):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            await flowing.wait()  # silent: hold the bytes, forward nothing
            if upstream and b"COMMIT\x00" in data:
                if armed["lose_commit"]:
                    armed["lose_commit"] = False
                    conn.cut()
                    return
                if armed["lose_answer"]:
                    armed["lose_answer"] = False
                    conn.doomed = True
            if not upstream and conn.doomed:
                conn.cut()  # the server has answered the COMMIT: nobody hears it
                return
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        conn.cut()


async def handle(client_r, client_w):
    await flowing.wait()  # silent: a new connection is accepted and left hanging
    conn = Conn(client_w)
    try:
        server_r, conn.server_w = await asyncio.open_unix_connection(target)
    except OSError:
        client_w.close()  # the server is down: refuse like a closed port would
        return
    await asyncio.gather(pump(conn, client_r, conn.server_w, True), pump(conn, server_r, client_w, False))


def arm(what):
    armed[what] = True


async def main():
    loop = asyncio.get_running_loop()
    flowing.set()
    loop.add_signal_handler(signal.SIGUSR1, flowing.clear)
    loop.add_signal_handler(signal.SIGUSR2, flowing.set)
    loop.add_signal_handler(signal.SIGHUP, arm, "lose_answer")
    loop.add_signal_handler(signal.SIGWINCH, arm, "lose_commit")
    server = await asyncio.start_server(handle, "127.0.0.1", port)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


asyncio.run(main())
