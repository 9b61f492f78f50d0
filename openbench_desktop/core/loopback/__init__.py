"""The built-in loopback model server: a simulated model for the demo, self-checks and tests.

Qt-free, like all of ``core``. See :mod:`openbench_desktop.core.loopback.server`.
"""

from openbench_desktop.core.loopback.server import (
    DEFAULT_MODELS,
    GSM8KResponder,
    LookupResponder,
    LoopbackServer,
    ReceivedRequest,
    Responder,
    ServerBehavior,
    count_tokens,
    echo_responder,
    gsm8k_responder,
    last_user_text,
    lookup_responder,
    tokenize,
)

__all__ = [
    "DEFAULT_MODELS",
    "GSM8KResponder",
    "LookupResponder",
    "LoopbackServer",
    "ReceivedRequest",
    "Responder",
    "ServerBehavior",
    "count_tokens",
    "echo_responder",
    "gsm8k_responder",
    "last_user_text",
    "lookup_responder",
    "tokenize",
]
