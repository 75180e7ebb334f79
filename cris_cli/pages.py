"""The page a browser gets for ``GET /``: how a user accepts the certificate."""

from __future__ import annotations

import html


def endpoint_page(url: str, fingerprint: str | None, version: str) -> str:
    """A small self-contained page saying the endpoint runs and the certificate is accepted."""
    tls_line = (
        f"<p>The certificate is accepted: CRIS Reporting can now connect to "
        f"<code>{html.escape(url)}</code>. You can close this tab.</p>"
        "<p class=fp>Certificate SHA-256 fingerprint:<br>"
        f"<code>{html.escape(fingerprint)}</code></p>"
        if fingerprint
        else f"<p>CRIS Reporting can connect to <code>{html.escape(url)}</code>. "
        "You can close this tab.</p>"
    )
    host_port = url.split("://", 1)[1].rstrip("/")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>cris-cli PACS endpoint</title>
<style>
body {{ font: 16px/1.5 system-ui, sans-serif; max-width: 40em; margin: 3em auto; color: #222; }}
h1 {{ font-size: 1.4em; }} code {{ background: #f3f3f3; padding: 0 .2em; }}
.fp code {{ font-size: .8em; word-break: break-all; }} .dim {{ color: #777; }}
</style></head>
<body>
<h1>cris-cli PACS endpoint is running</h1>
{tls_line}
<p class=dim>In CRIS Reporting: settings, Integration on, CRIS Connect on, then
<code>{html.escape(host_port)}</code>.</p>
<p class=dim>cris-cli {html.escape(version)}</p>
</body></html>
"""
