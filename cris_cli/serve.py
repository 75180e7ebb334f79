"""``cris-cli serve``: the headless PACS endpoint.

When a cris-cli endpoint already owns the port, serve shows that endpoint's
records instead of failing with "address in use".
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from . import config
from .environment import Environment
from .hosting import banner
from .lifecycle import stop_on_signals
from .links import attach, host
from .recorder import Recorder
from .sinks import printer
from .watch import follow


def run(args: argparse.Namespace, env: Environment) -> int:
    settings = config.from_args(args, env.environ)
    return asyncio.run(_serve(settings, args, env))


async def _serve(settings: config.Settings, args: argparse.Namespace, env: Environment) -> int:
    recorder = Recorder(Path(args.record)) if args.record else None
    try:
        return await _serve_recording(settings, args, env, recorder)
    finally:
        if recorder is not None:
            recorder.close()


async def _serve_recording(
    settings: config.Settings,
    args: argparse.Namespace,
    env: Environment,
    recorder: Recorder | None,
) -> int:
    attached = await attach(settings.port)
    if attached is not None:
        env.say(
            f"cris-cli: {attached.description} already owns port {settings.port}; "
            "showing its records (Ctrl-C stops this view, not that endpoint)"
        )
        return await follow(
            settings.port,
            env,
            args.json,
            lambda record: True,
            first=attached,
            redact=settings.redact,
            recorder=recorder,
        )
    link = await host(settings, env)
    stop = asyncio.Event()
    sink, writer = printer(env, json_output=args.json, redact=settings.redact)
    try:
        if recorder is not None:
            await link.subscribe(recorder)
        await link.subscribe(writer)
        for line in banner(link.endpoint, link.certificate, settings):
            env.say(line)
        with stop_on_signals(stop):
            await stop.wait()
    finally:
        await link.close()
        sink.flush()
    env.say("cris-cli: endpoint stopped")
    return 0
