from __future__ import annotations

from starlette.types import Message, Receive


async def buffer_request(receive: Receive) -> tuple[bytes, Receive]:
    """Read the whole request body now and return it with a receive() that replays it.

    Needed where the body must outlive the client: once a client disconnects, uvicorn's receive() only
    yields http.disconnect, so a body not read before a hang would be lost.
    """
    chunks: list[bytes] = []
    more = True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    raw = b"".join(chunks)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": raw, "more_body": False}
        return await receive()

    return raw, replay
