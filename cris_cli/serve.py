"""``cris-cli serve``: the headless PACS endpoint."""

from __future__ import annotations

import argparse
import asyncio
import shutil

from . import config
from .endpoint import Endpoint
from .environment import Environment
from .hosting import banner, endpoint_options
from .lifecycle import stop_on_signals
from .sinks import LineSink, output_mode, record_writer


def run(args: argparse.Namespace, env: Environment) -> int:
    settings = config.from_args(args, env.environ)
    options, cert = endpoint_options(settings, env)
    return asyncio.run(_serve(Endpoint(options), cert, settings, args, env))


async def _serve(
    endpoint: Endpoint,
    cert: object,
    settings: config.Settings,
    args: argparse.Namespace,
    env: Environment,
) -> int:
    stop = asyncio.Event()
    sink = LineSink(env.stdout)
    mode = output_mode(args.json, env.stdout_isatty)
    width = shutil.get_terminal_size((120, 24)).columns
    writer = record_writer(mode, sink, width=width, color=env.color, redact=settings.redact)
    await endpoint.start()
    endpoint.add_listener(writer)
    for line in banner(endpoint, cert, settings):  # type: ignore[arg-type]
        env.say(line)
    try:
        with stop_on_signals(stop):
            await stop.wait()
    finally:
        await endpoint.close()
        sink.flush()
    env.say("cris-cli: endpoint stopped")
    return 0
