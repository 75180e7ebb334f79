"""The reference for the ingest benchmark: a bare websockets server that only
decodes each message with json.loads. It prints its port, then serves."""

import asyncio
import json
import sys

from websockets.asyncio.server import ServerConnection, serve


async def receive(connection: ServerConnection) -> None:
    async for message in connection:
        json.loads(message)


async def main() -> None:
    async with serve(receive, "127.0.0.1", 0, compression=None, max_size=65536) as server:
        print(
            f"listening on ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/",
            file=sys.stderr,
            flush=True,
        )
        await asyncio.Event().wait()


asyncio.run(main())
