"""One Streamlit session spoken over its own websocket (`/_stcore/stream`), as the browser does, without a browser.

A script run is one `rerun_script` BackMsg (the page, the query string and the widget values) answered by
ForwardMsgs that end with `script_finished`. That is all a simulated visitor needs: open the Playground, set the
Text box, press Compare, wait for the run to finish, and read the reply for exceptions, error boxes and the
"busy" notice. Streamlit's protobufs are imported inside functions: `import benchmarks` must not import streamlit.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from benchmarks.core.batching import BUSY_MESSAGE

BUSY_MARK = BUSY_MESSAGE.split(":")[0]  # the notice's fixed opening, before any figures


@dataclass(frozen=True)
class Reply:
    """What one script run sent back."""

    seconds: float  # BackMsg sent to `script_finished` received
    finished_ok: bool
    labels: dict[str, str]  # widget label -> widget id, for the next run's widget states
    metrics: dict[str, str]  # metric label -> shown value
    errors: tuple[str, ...]  # exception elements and error boxes, one line each
    busy: bool  # the server said it is busy rather than answering
    texts: tuple[str, ...] = field(default=())  # headings, Markdown, captions and alerts: what the page says
    pages: dict[str, str] = field(default_factory=dict)  # page title -> page_script_hash, for moving between pages

    @property
    def problem(self) -> str | None:
        if self.errors:
            return self.errors[0]
        if not self.finished_ok:
            return "the script run did not finish successfully"
        return None


def read_reply(messages: list, seconds: float) -> Reply:
    """Read one script run's ForwardMsgs (the last is `script_finished`)."""
    from streamlit.proto.Alert_pb2 import Alert
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    labels: dict[str, str] = {}
    metrics: dict[str, str] = {}
    errors: list[str] = []
    texts: list[str] = []
    pages: dict[str, str] = {}
    finished_ok, busy = False, False
    for msg in messages:
        kind = msg.WhichOneof("type")
        if kind == "navigation":
            pages.update({p.page_name: p.page_script_hash for p in msg.navigation.app_pages})
        if kind == "script_finished":
            finished_ok = msg.script_finished == ForwardMsg.FINISHED_SUCCESSFULLY
            continue
        if kind != "delta" or msg.delta.WhichOneof("type") != "new_element":
            continue
        element = msg.delta.new_element
        which = element.WhichOneof("type")
        body = getattr(element, which)
        if which == "exception":
            errors.append(f"exception: {body.type}: {body.message[:200]}")
        elif which == "alert":
            texts.append(body.body)
            if body.body.startswith(BUSY_MARK):
                busy = True
            elif body.format == Alert.ERROR:
                errors.append(f"error box: {body.body[:200]}")
        elif which == "metric":
            metrics[body.label] = body.body
        elif which in ("markdown", "text", "heading"):
            texts.append(body.body)
        if getattr(body, "id", "") and getattr(body, "label", ""):
            labels[body.label] = body.id
    return Reply(seconds, finished_ok, labels, metrics, tuple(errors), busy, tuple(texts), pages)


class Session:
    """One visitor's websocket. Not thread-safe: one script run at a time, as in a browser tab."""

    def __init__(self, url: str, query: str = "", timeout: float = 120):
        import websocket  # websocket-client: blocking, so gevent (Locust) can cooperate on it

        self.query, self.timeout = query, timeout
        ws_url = url.replace("http://", "ws://", 1).rstrip("/") + "/_stcore/stream"
        self._ws = websocket.create_connection(ws_url, subprotocols=["streamlit"], timeout=timeout)
        self.page = ""  # page_script_hash: "" is the default page (the Playground)
        self.labels: dict[str, str] = {}
        self.pages: dict[str, str] = {}

    def run(self, values: dict[str, str | bool] | None = None) -> Reply:
        """One script run with these widget values (by label: str for a text box, True for a pressed button)."""
        from streamlit.proto.BackMsg_pb2 import BackMsg
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
        from streamlit.proto.WidgetStates_pb2 import WidgetState

        msg = BackMsg()
        msg.rerun_script.query_string = self.query
        msg.rerun_script.page_script_hash = self.page
        for label, value in (values or {}).items():
            state = WidgetState(id=self.labels[label])
            if value is True:
                state.trigger_value = True
            else:
                state.string_value = str(value)
            msg.rerun_script.widget_states.widgets.append(state)
        started = time.perf_counter()
        self._ws.send_binary(msg.SerializeToString())
        # A full run opens with `new_session`; anything before it is the tail of a fragment's timed rerun.
        messages: list = []
        while not messages or messages[-1].WhichOneof("type") != "script_finished":
            raw = self._ws.recv()
            if isinstance(raw, bytes):
                msg = ForwardMsg.FromString(raw)
                if messages or msg.WhichOneof("type") == "new_session":
                    messages.append(msg)
        reply = read_reply(messages, time.perf_counter() - started)
        self.labels.update(reply.labels)
        self.pages.update(reply.pages)
        return reply

    def open(self, title: str) -> Reply:
        """Go to another page (by its title in the navigation), as a click in the sidebar does."""
        if not self.pages:
            self.run()
        self.page, self.labels = self.pages[title], {}
        return self.run()

    def close(self) -> None:
        self._ws.close()

