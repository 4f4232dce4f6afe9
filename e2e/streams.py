"""What the page saw, recorded for the tests (Chromium and Firefox): `START` begins a long
stream and keeps what the page saw in `window.streamed`; `kill_model_servers` makes a real
upstream failure by killing the companion's llama.cpp children in the middle of it; `LISTEN`
records window.bodhi's events in `window.heard`."""

from __future__ import annotations

import signal

import psutil

from tests.conftest import Companion

# A script both Playwright (evaluate) and Selenium (execute_script) run as is. The page's
# `for await` either ends (`ended`) or throws: `error` keeps what the BodhiError carried.
START_WITH = """((maxTokens) => {
    window.aborter = new AbortController();
    window.streamed = {chunks: 0, ended: false, error: null};
    (async () => {
        try {
            const stream = await window.bodhi.chat({stream: true, max_tokens: maxTokens,
                temperature: 1.0, messages: [{role: 'user',
                content: 'Tell me a long story about a lighthouse.'}]},
                {signal: window.aborter.signal});
            for await (const chunk of stream) window.streamed.chunks += 1;
            window.streamed.ended = true;
        } catch (e) {
            window.streamed.error = {name: e.name, code: e.code, message: e.message,
                isBodhiError: e instanceof window.BodhiError, status: e.status ?? null,
                server_code: e.body?.error?.code ?? null};
        }
    })();
})(%d)"""
START = START_WITH % 4000           # longer than any test waits for

# Records window.bodhi's events in window.heard, and counts the snapshots the bridge relays
# (window.snapshots >= 1: the frame is subscribed, later changes will fire).
LISTEN = """(() => {
    if (window.heard) { window.heard = []; return; }     // listening already: start afresh
    window.heard = [];
    window.snapshots = 0;
    window.addEventListener('message', (e) => {
        if (e.source === window && e.data?.channel === 'bodhi:content->page'
            && e.data.type === 'snapshot') window.snapshots += 1;
    });
    for (const type of ['statechange', 'grantchange', 'modelschange'])
        window.bodhi.addEventListener(type, (e) => window.heard.push({type: e.type,
                                                                     detail: e.detail}));
})()"""

# How far along the stream is; JSON-able for both drivers.
STREAMED = "window.streamed"


def model_servers(companion: Companion) -> list[psutil.Process]:
    """The llama.cpp servers (children that listen on a --port) the companion runs now."""
    return [child for child in companion.children() if "--port" in child.cmdline()]


def kill_model_servers(companion: Companion) -> int:
    """SIGKILL every model server of the companion, as a crash would; how many."""
    servers = model_servers(companion)
    for server in servers:
        server.send_signal(signal.SIGKILL)
    psutil.wait_procs(servers, timeout=10)
    return len(servers)
