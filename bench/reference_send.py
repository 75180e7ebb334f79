"""The reference for the one-shot benchmark: the least a program can do to send
one command through a running cris-cli endpoint over TLS: read the runtime file,
connect to the control path with its token, send, wait for the answer, close."""

import asyncio
import json
import ssl
import sys

from websockets.asyncio.client import connect


async def main(info: dict[str, str], text: str) -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    context.load_verify_locations(cadata=info["cert_pem"])
    async with connect(
        f"wss://127.0.0.1:{info['port']}/cris-cli/control",
        ssl=context,
        additional_headers={"Authorization": f"Bearer {info['token']}"},
        compression=None,
    ) as control:
        await control.send(json.dumps({"op": "send", "text": text}))
        await control.recv()


with open(sys.argv[1], encoding="utf-8") as stream:  # noqa: PTH123 - minimal on purpose
    runtime_info = json.load(stream)
asyncio.run(main(runtime_info, sys.argv[2]))
